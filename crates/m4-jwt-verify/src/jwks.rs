//! A parsed JWKS document: usable keys by kid, and the members that were skipped and why.
//!
//! Duplicate kids: byte-identical duplicates (same key material, declared `alg` and `use`)
//! collapse into one key; distinct usable keys sharing a kid are an ambiguity, so all of them
//! are skipped with [`KeyRejection::AmbiguousKid`] and nothing verifies under that kid.
//! Keys skipped for another reason (an `enc` key or a 1024-bit key next to a good key with the
//! same kid) do not make the kid ambiguous. See `docs/security.md` for the reasoning.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
    by_kid: HashMap<String, Arc<VerifyingKey>>,
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

        // Group usable keys by kid: identical duplicates collapse, distinct keys sharing a kid
        // make the kid ambiguous.
        let mut distinct_per_kid: HashMap<&str, Vec<&VerifyingKey>> = HashMap::new();
        for (_, key) in &loaded {
            if let Some(kid) = key.kid() {
                let distinct = distinct_per_kid.entry(kid).or_default();
                if !distinct.iter().any(|seen| seen.same_key_as(key)) {
                    distinct.push(key);
                }
            }
        }
        let ambiguous: HashMap<String, usize> = distinct_per_kid
            .into_iter()
            .filter(|(_, keys)| keys.len() > 1)
            .map(|(kid, keys)| (kid.to_owned(), keys.len()))
            .collect();

        let mut keys: Vec<Arc<VerifyingKey>> = Vec::with_capacity(loaded.len());
        let mut by_kid = HashMap::with_capacity(loaded.len());
        for (index, key) in loaded {
            match key.kid().map(str::to_owned) {
                Some(kid) => {
                    if let Some(count) = ambiguous.get(&kid) {
                        skipped.push(SkippedKey {
                            index,
                            kid: Some(kid),
                            reason: KeyRejection::AmbiguousKid { count: *count },
                        });
                    } else if let Entry::Vacant(slot) = by_kid.entry(kid) {
                        let key = Arc::new(key);
                        slot.insert(Arc::clone(&key));
                        keys.push(key);
                    }
                    // else: an identical duplicate of a key already loaded; collapse it.
                }
                None => {
                    if !keys
                        .iter()
                        .any(|k| k.kid().is_none() && k.same_key_as(&key))
                    {
                        keys.push(Arc::new(key));
                    }
                }
            }
        }
        skipped.sort_by_key(|s| s.index);
        Ok(JwkSet {
            keys,
            by_kid,
            skipped,
        })
    }

    /// The key with this kid, if one was loaded. Does not allocate.
    ///
    /// ```
    /// # let set = m4_jwt_verify::JwkSet::from_json(include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"))).unwrap();
    /// assert!(set.get("rsa-4096").is_some());
    /// assert!(set.get("../rsa-4096").is_none());
    /// ```
    pub fn get(&self, kid: &str) -> Option<&Arc<VerifyingKey>> {
        self.by_kid.get(kid)
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
    /// The loaded key with this kid, if compatible with `alg`; a kid that only names skipped
    /// members reports the skip reason as [`KeyLookupError::Unusable`].
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        if let Some(key) = self.by_kid.get(kid) {
            key.check_compatible(alg)
                .map_err(|reason| KeyLookupError::Unusable { reason })?;
            return Ok(Arc::clone(key));
        }
        match self.skipped.iter().find(|s| s.kid.as_deref() == Some(kid)) {
            Some(skip) => Err(KeyLookupError::Unusable {
                reason: skip.reason.clone(),
            }),
            None => Err(KeyLookupError::UnknownKid),
        }
    }
}
