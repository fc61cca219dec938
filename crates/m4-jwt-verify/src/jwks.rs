//! A parsed JWKS document: usable keys by kid, and the members that were skipped and why.
//!
//! Duplicate kids: byte-identical duplicates (same key material, declared `alg` and `use`)
//! collapse into one key; distinct usable keys sharing a kid are all loaded, and the decision
//! is made per algorithm when a token is resolved: the kid is ambiguous for an algorithm
//! ([`KeyRejection::AmbiguousKid`], nothing verifies) only when more than one of its keys
//! could verify that algorithm. An RSA and an EC key under one kid (RFC 7517 §4.5) each serve
//! their own algorithms; two RSA keys under one kid serve no RSA algorithm.
//! Keys skipped for another reason (an `enc` key or a 1024-bit key next to a good key with the
//! same kid) never take part. See `docs/security.md` for the reasoning.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::error::{JwksDocumentError, KeyLookupError, KeyRejection};
use crate::key::VerifyingKey;
use crate::resolver::KeyResolver;

/// A JWKS member that was not loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position of the member in the document's `keys` array, from 0.
    pub index: usize,
    /// The member's `kid` when it has a string one, exactly as written (untrusted text:
    /// escape it before logging).
    pub kid: Option<String>,
    /// Why the member was skipped.
    pub reason: KeyRejection,
}

/// The usable keys of a JWKS document (RFC 7517 §5), looked up by kid.
///
/// Also a static [`KeyResolver`], for tests and for deployments that pin their keys.
///
/// ```
/// use m4_jwt_verify::JwkSet;
///
/// let set = JwkSet::from_json(include_bytes!(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/../../tests/fixtures/keys/jwks.json"
/// )))?;
/// assert_eq!(set.len(), 3);
/// assert!(set.skipped().is_empty());
/// assert_eq!(set.get("ec-p256").and_then(|k| k.kid()), Some("ec-p256"));
/// # Ok::<(), m4_jwt_verify::JwksDocumentError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct JwkSet {
    keys: Vec<Arc<VerifyingKey>>,
    /// The distinct keys under each kid, in document order (almost always exactly one).
    by_kid: HashMap<String, Box<[Arc<VerifyingKey>]>>,
    skipped: Vec<SkippedKey>,
}

impl JwkSet {
    /// Parses a JWKS document.
    ///
    /// Fails only when the document is not a JSON object with a `keys` array; each member that
    /// is not a usable signature verification key is recorded in [`JwkSet::skipped`] with the
    /// reason, and the others are loaded.
    ///
    /// ```
    /// use m4_jwt_verify::{JwkSet, JwksDocumentError, KeyRejection};
    ///
    /// let set = JwkSet::from_json(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"}]}"#)?;
    /// assert!(set.is_empty());
    /// assert_eq!(set.skipped()[0].reason, KeyRejection::SymmetricKey);
    /// assert_eq!(JwkSet::from_json(b"[]").unwrap_err(), JwksDocumentError::NotAnObject);
    /// # Ok::<(), JwksDocumentError>(())
    /// ```
    ///
    /// # Errors
    /// A [`JwksDocumentError`] when the document is not JSON, not an object, or has no `keys`
    /// array.
    pub fn from_json(bytes: &[u8]) -> Result<JwkSet, JwksDocumentError> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| JwksDocumentError::NotJson {
            line: e.line(),
            column: e.column(),
        })?;
        let obj = doc.as_object().ok_or(JwksDocumentError::NotAnObject)?;
        let members = obj
            .get("keys")
            .ok_or(JwksDocumentError::MissingKeys)?
            .as_array()
            .ok_or(JwksDocumentError::KeysNotArray)?;

        let mut loaded: Vec<(usize, VerifyingKey)> = Vec::with_capacity(members.len());
        let mut skipped = Vec::new();
        for (index, member) in members.iter().enumerate() {
            match VerifyingKey::from_jwk(member) {
                Ok(key) => loaded.push((index, key)),
                Err(reason) => skipped.push(SkippedKey {
                    index,
                    kid: member.get("kid").and_then(Value::as_str).map(str::to_owned),
                    reason,
                }),
            }
        }

        // Group usable keys by kid, in document order; identical duplicates collapse. Whether
        // several keys under one kid are ambiguous depends on the token's algorithm, so it is
        // decided by `resolve`.
        let mut keys: Vec<Arc<VerifyingKey>> = Vec::with_capacity(loaded.len());
        let mut by_kid: HashMap<String, Vec<Arc<VerifyingKey>>> =
            HashMap::with_capacity(loaded.len());
        for (_, key) in loaded {
            let same_kid: &[Arc<VerifyingKey>] = match key.kid() {
                Some(kid) => by_kid.get(kid).map_or(&[], Vec::as_slice),
                None => &[],
            };
            let duplicate = if key.kid().is_some() {
                same_kid.iter().any(|k| k.same_key_as(&key))
            } else {
                keys.iter()
                    .any(|k| k.kid().is_none() && k.same_key_as(&key))
            };
            if duplicate {
                continue;
            }
            let key = Arc::new(key);
            if let Some(kid) = key.kid() {
                by_kid
                    .entry(kid.to_owned())
                    .or_default()
                    .push(Arc::clone(&key));
            }
            keys.push(key);
        }
        let by_kid = by_kid
            .into_iter()
            .map(|(kid, keys)| (kid, keys.into_boxed_slice()))
            .collect();
        skipped.sort_by_key(|s| s.index);
        Ok(JwkSet {
            keys,
            by_kid,
            skipped,
        })
    }

    /// The key with this kid, if exactly one distinct key was loaded under it (when several
    /// share the kid, [`resolve`](KeyResolver::resolve) picks by algorithm). Does not allocate.
    ///
    /// ```
    /// # let set = m4_jwt_verify::JwkSet::from_json(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"))).unwrap();
    /// assert!(set.get("rsa-4096").is_some());
    /// assert!(set.get("../rsa-4096").is_none());
    /// ```
    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        match self.by_kid.get(kid).map(AsRef::as_ref) {
            Some([only]) => Some(only),
            _ => None,
        }
    }

    /// Every distinct key loaded under this kid, in document order (empty for an unknown kid).
    ///
    /// ```
    /// # let set = m4_jwt_verify::JwkSet::from_json(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"))).unwrap();
    /// assert_eq!(set.keys_with_kid("ec-p256").len(), 1);
    /// assert!(set.keys_with_kid("nope").is_empty());
    /// ```
    pub fn keys_with_kid(&self, kid: &str) -> &[Arc<VerifyingKey>] {
        self.by_kid.get(kid).map_or(&[], AsRef::as_ref)
    }

    /// The loaded keys, in document order (keys without a kid included, though no token can
    /// select them: the verifier requires a kid).
    ///
    /// ```
    /// # let set = m4_jwt_verify::JwkSet::from_json(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"))).unwrap();
    /// let kids: Vec<_> = set.keys().filter_map(|k| k.kid()).collect();
    /// assert_eq!(kids, ["rsa-2048", "rsa-4096", "ec-p256"]);
    /// ```
    pub fn keys(&self) -> impl Iterator<Item = &Arc<VerifyingKey>> {
        self.keys.iter()
    }

    /// The members that were not loaded, in document order, each with its reason.
    ///
    /// ```
    /// let set = m4_jwt_verify::JwkSet::from_json(br#"{"keys":[{"kty":"RSA","use":"enc"}]}"#).unwrap();
    /// assert_eq!(set.skipped()[0].index, 0);
    /// ```
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// How many keys were loaded.
    ///
    /// ```
    /// assert_eq!(m4_jwt_verify::JwkSet::default().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key was loaded.
    ///
    /// ```
    /// assert!(m4_jwt_verify::JwkSet::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

impl KeyResolver for JwkSet {
    /// The one loaded key with this kid that is compatible with `alg`.
    ///
    /// Several distinct keys under one kid are fine as long as at most one of them can verify
    /// `alg` (an RSA and an EC key, RFC 7517 §4.5); when more than one could, the kid is
    /// ambiguous for `alg` ([`KeyRejection::AmbiguousKid`]) and none is used. A single key
    /// that cannot verify `alg` reports why; a kid that only names skipped members reports
    /// the skip reason. Both as [`KeyLookupError::Unusable`].
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        if let Some(candidates) = self.by_kid.get(kid) {
            if let [only] = &**candidates {
                only.check_compatible(alg)
                    .map_err(|reason| KeyLookupError::Unusable { reason })?;
                return Ok(Arc::clone(only));
            }
            let mut compatible = candidates
                .iter()
                .filter(|k| k.check_compatible(alg).is_ok());
            return match (compatible.next(), compatible.count()) {
                (Some(key), 0) => Ok(Arc::clone(key)),
                (Some(_), others) => Err(KeyLookupError::Unusable {
                    reason: KeyRejection::AmbiguousKid { count: others + 1 },
                }),
                (None, _) => Err(KeyLookupError::Unusable {
                    reason: KeyRejection::NoCompatibleKey {
                        count: candidates.len(),
                    },
                }),
            };
        }
        match self.skipped.iter().find(|s| s.kid.as_deref() == Some(kid)) {
            Some(skip) => Err(KeyLookupError::Unusable {
                reason: skip.reason.clone(),
            }),
            None => Err(KeyLookupError::UnknownKid),
        }
    }
}
