//! Public verification keys: one JWK parsed once into a ready-to-use aws-lc-rs key.
//!
//! A [`VerifyingKey`] is immutable after [`VerifyingKey::from_jwk`]: the key material is
//! decoded, size-checked and parsed by aws-lc-rs exactly once, for every algorithm the key may
//! verify, so verifying a token never re-parses a key.

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, VerificationAlgorithm};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::error::{KeyRejection, printable};

/// Smallest accepted RSA modulus, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest accepted RSA modulus, in bits.
pub const MAX_RSA_BITS: u32 = 8192;

/// An elliptic curve for ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1), for ES256.
    P256,
    /// NIST P-384 (secp384r1), for ES384.
    P384,
}

impl EcCurve {
    /// The JWK `crv` name.
    ///
    /// ```
    /// assert_eq!(m4_jwt_verify::EcCurve::P256.as_str(), "P-256");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
        }
    }

    const fn coordinate_len(self) -> usize {
        match self {
            EcCurve::P256 => 32,
            EcCurve::P384 => 48,
        }
    }
}

impl fmt::Display for EcCurve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of public key a [`VerifyingKey`] holds.
///
/// ```
/// use m4_jwt_verify::{EcCurve, KeyKind};
/// assert_eq!(KeyKind::Rsa { bits: 2048 }.to_string(), "RSA 2048");
/// assert_eq!(KeyKind::Ec { curve: EcCurve::P256 }.to_string(), "EC P-256");
/// assert_eq!(KeyKind::Ed25519.to_string(), "Ed25519");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyKind {
    /// An RSA key (`kty` `RSA`) with a modulus of `bits` bits.
    Rsa {
        /// Modulus size in bits.
        bits: u32,
    },
    /// An ECDSA key (`kty` `EC`).
    Ec {
        /// The curve.
        curve: EcCurve,
    },
    /// An Ed25519 key (`kty` `OKP`, `crv` `Ed25519`).
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind can produce signatures of `alg`.
    ///
    /// ```
    /// use m4_jwt_verify::{Algorithm, EcCurve, KeyKind};
    /// assert!(KeyKind::Rsa { bits: 2048 }.supports(Algorithm::PS256));
    /// assert!(!KeyKind::Ec { curve: EcCurve::P384 }.supports(Algorithm::ES256));
    /// ```
    pub const fn supports(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                KeyKind::Rsa { .. },
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512,
            ) | (
                KeyKind::Ec {
                    curve: EcCurve::P256
                },
                Algorithm::ES256
            ) | (
                KeyKind::Ec {
                    curve: EcCurve::P384
                },
                Algorithm::ES384
            ) | (KeyKind::Ed25519, Algorithm::EdDSA)
        )
    }
}

impl fmt::Display for KeyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyKind::Rsa { bits } => write!(f, "RSA {bits}"),
            KeyKind::Ec { curve } => write!(f, "EC {curve}"),
            KeyKind::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// The aws-lc-rs verification algorithm for a JOSE algorithm.
///
/// ES256/ES384 use the `FIXED` (raw `r || s`) signature encoding JOSE requires; a DER-encoded
/// ECDSA signature therefore never verifies. RSA algorithms accept 2048..=8192-bit moduli.
pub(crate) fn aws_algorithm(alg: Algorithm) -> &'static dyn VerificationAlgorithm {
    match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
        Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
        Algorithm::EdDSA => &signature::ED25519,
    }
}

/// A public key from one JWK, pre-parsed for every algorithm it may verify.
///
/// Cheap to share behind an `Arc` (it is `Send + Sync` and immutable).
/// `Debug` shows the kid, kind, declared algorithm and use only.
///
/// ```
/// use m4_jwt_verify::{Algorithm, KeyKind, VerifyingKey};
///
/// let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(
///     env!("CARGO_MANIFEST_DIR"),
///     "/../../tests/fixtures/keys/rsa-2048.pub.jwk.json"
/// )))?;
/// let key = VerifyingKey::from_jwk(&jwk)?;
/// assert_eq!(key.kid(), Some("rsa-2048"));
/// assert_eq!(key.kind(), KeyKind::Rsa { bits: 2048 });
/// assert_eq!(key.declared_alg(), Some(Algorithm::RS256));
/// assert_eq!(key.key_use(), Some("sig"));
/// assert!(key.check_compatible(Algorithm::RS256).is_ok());
/// assert!(key.check_compatible(Algorithm::ES256).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct VerifyingKey {
    kid: Option<String>,
    kind: KeyKind,
    declared_alg: Option<Algorithm>,
    key_use: Option<String>,
    /// Canonical public key bytes (RSAPublicKey DER, SEC1 uncompressed point, raw Ed25519),
    /// used to tell identical duplicate JWKs from distinct keys.
    material: Box<[u8]>,
    /// One parsed key per algorithm, indexed by [`Algorithm::index`]; `None` where the key
    /// may not verify that algorithm.
    parsed: [Option<ParsedPublicKey>; 9],
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.declared_alg)
            .field("use", &self.key_use)
            .finish()
    }
}

fn optional_str<'a>(
    obj: &'a Map<String, Value>,
    member: &'static str,
) -> Result<Option<&'a str>, KeyRejection> {
    match obj.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyRejection::MemberType {
            member,
            expected: "a string",
        }),
    }
}

fn required_str<'a>(
    obj: &'a Map<String, Value>,
    member: &'static str,
) -> Result<&'a str, KeyRejection> {
    optional_str(obj, member)?.ok_or(KeyRejection::MissingMember { member })
}

/// Decodes a required unpadded-base64url member; empty values are malformed.
fn required_bytes(obj: &Map<String, Value>, member: &'static str) -> Result<Vec<u8>, KeyRejection> {
    let text = required_str(obj, member)?;
    match URL_SAFE_NO_PAD.decode(text) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        _ => Err(KeyRejection::MalformedMember { member }),
    }
}

fn reject_private_members(
    obj: &Map<String, Value>,
    members: &[&'static str],
) -> Result<(), KeyRejection> {
    match members.iter().find(|m| obj.contains_key(**m)) {
        Some(member) => Err(KeyRejection::PrivateKeyMaterial { member }),
        None => Ok(()),
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

/// Size of a big-endian unsigned integer without leading zero bytes, in bits.
fn bit_len(be: &[u8]) -> u32 {
    match be.first() {
        None => 0,
        Some(first) => {
            let whole = u32::try_from(be.len().saturating_sub(1)).unwrap_or(u32::MAX / 16);
            whole
                .saturating_mul(8)
                .saturating_add(8 - first.leading_zeros())
        }
    }
}

fn der_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let significant = strip_leading_zeros(&bytes);
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// DER INTEGER for a non-negative big-endian value without leading zeros.
fn der_unsigned(value: &[u8], out: &mut Vec<u8>) {
    let pad = value.first().is_none_or(|b| b & 0x80 != 0);
    out.push(0x02);
    der_length(value.len() + usize::from(pad), out);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(value);
}

/// `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }` (RFC 8017 A.1.1).
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_unsigned(n, &mut body);
    der_unsigned(e, &mut body);
    let mut out = Vec::with_capacity(body.len() + 4);
    out.push(0x30);
    der_length(body.len(), &mut out);
    out.extend_from_slice(&body);
    out
}

fn parse_rsa(obj: &Map<String, Value>) -> Result<(KeyKind, Vec<u8>), KeyRejection> {
    reject_private_members(obj, &["d", "p", "q", "dp", "dq", "qi", "oth"])?;
    let n = required_bytes(obj, "n")?;
    let e = required_bytes(obj, "e")?;
    // RFC 7518 §6.3.1.1 asks for minimal encodings; tolerate stray leading zero bytes (some
    // libraries emit them) since they do not change the key.
    let n = strip_leading_zeros(&n);
    let e = strip_leading_zeros(&e);
    if e.is_empty() {
        return Err(KeyRejection::MalformedMember { member: "e" });
    }
    let bits = bit_len(n);
    if bits < MIN_RSA_BITS {
        return Err(KeyRejection::RsaKeyTooSmall { bits });
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyRejection::RsaKeyTooLarge { bits });
    }
    Ok((KeyKind::Rsa { bits }, rsa_public_key_der(n, e)))
}

fn parse_ec(obj: &Map<String, Value>) -> Result<(KeyKind, Vec<u8>), KeyRejection> {
    let crv = required_str(obj, "crv")?;
    let curve = match crv {
        "P-256" => EcCurve::P256,
        "P-384" => EcCurve::P384,
        other => {
            return Err(KeyRejection::UnsupportedCurve {
                kty: "EC",
                crv: printable(other),
                supported: "P-256 or P-384",
            });
        }
    };
    reject_private_members(obj, &["d"])?;
    let expected = curve.coordinate_len();
    let mut point = Vec::with_capacity(1 + 2 * expected);
    point.push(0x04);
    for member in ["x", "y"] {
        let coordinate = required_bytes(obj, member)?;
        if coordinate.len() != expected {
            return Err(KeyRejection::WrongLength {
                member,
                curve: curve.as_str(),
                expected,
                found: coordinate.len(),
            });
        }
        point.extend_from_slice(&coordinate);
    }
    Ok((KeyKind::Ec { curve }, point))
}

fn parse_okp(obj: &Map<String, Value>) -> Result<(KeyKind, Vec<u8>), KeyRejection> {
    let crv = required_str(obj, "crv")?;
    if crv != "Ed25519" {
        return Err(KeyRejection::UnsupportedCurve {
            kty: "OKP",
            crv: printable(crv),
            supported: "Ed25519",
        });
    }
    reject_private_members(obj, &["d"])?;
    let x = required_bytes(obj, "x")?;
    if x.len() != 32 {
        return Err(KeyRejection::WrongLength {
            member: "x",
            curve: "Ed25519",
            expected: 32,
            found: x.len(),
        });
    }
    Ok((KeyKind::Ed25519, x))
}

impl VerifyingKey {
    /// Parses one JWK object (RFC 7517) into a verification key.
    ///
    /// Accepted: `kty` `RSA` (2048..=8192 bits), `EC` (`P-256`, `P-384`), `OKP` (`Ed25519`),
    /// with `use` absent or `sig`, `key_ops` absent or containing `verify`, and `alg` absent or
    /// a supported algorithm matching the key type.
    /// Rejected with a [`KeyRejection`] saying why: `oct` keys, `use` `enc`, unknown `kty` or
    /// `crv`, RSA keys outside the size range, private members, malformed or mistyped members,
    /// and key material the crypto library refuses (for example an EC point not on the curve).
    /// Unknown extra members (`x5c`, `x5t`, ...) are ignored.
    ///
    /// ```
    /// use m4_jwt_verify::{KeyRejection, VerifyingKey};
    /// use serde_json::json;
    ///
    /// let oct = json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"});
    /// assert_eq!(VerifyingKey::from_jwk(&oct).unwrap_err(), KeyRejection::SymmetricKey);
    /// ```
    ///
    /// # Errors
    /// A [`KeyRejection`] naming the first problem found.
    pub fn from_jwk(jwk: &Value) -> Result<VerifyingKey, KeyRejection> {
        let obj = jwk.as_object().ok_or(KeyRejection::NotAnObject)?;
        let kty = required_str(obj, "kty")?;
        let kid = optional_str(obj, "kid")?.map(str::to_owned);
        let key_use = optional_str(obj, "use")?;
        match key_use {
            None | Some("sig") => {}
            Some("enc") => return Err(KeyRejection::EncryptionKey),
            Some(other) => {
                return Err(KeyRejection::UnsupportedUse {
                    value: printable(other),
                });
            }
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops.as_array().ok_or(KeyRejection::MemberType {
                member: "key_ops",
                expected: "an array of strings",
            })?;
            if !ops.iter().any(|op| op.as_str() == Some("verify")) {
                return Err(KeyRejection::NoVerifyOperation);
            }
        }
        let declared_alg = match optional_str(obj, "alg")? {
            None => None,
            Some(name) => Some(Algorithm::from_jose(name).ok_or_else(|| {
                KeyRejection::UnsupportedAlgorithm {
                    alg: printable(name),
                }
            })?),
        };
        let (kind, material) = match kty {
            "RSA" => parse_rsa(obj)?,
            "EC" => parse_ec(obj)?,
            "OKP" => parse_okp(obj)?,
            "oct" => return Err(KeyRejection::SymmetricKey),
            other => {
                return Err(KeyRejection::UnsupportedKeyType {
                    kty: printable(other),
                });
            }
        };
        if let Some(alg) = declared_alg
            && !kind.supports(alg)
        {
            return Err(KeyRejection::KindMismatch { kind, alg });
        }
        let mut parsed: [Option<ParsedPublicKey>; 9] = Default::default();
        for alg in Algorithm::ALL {
            if !kind.supports(alg) || declared_alg.is_some_and(|d| d != alg) {
                continue;
            }
            let key = ParsedPublicKey::new(aws_algorithm(alg), &material)
                .map_err(|_| KeyRejection::InvalidKey { kind })?;
            if let Some(slot) = parsed.get_mut(alg.index()) {
                *slot = Some(key);
            }
        }
        Ok(VerifyingKey {
            kid,
            kind,
            declared_alg,
            key_use: key_use.map(str::to_owned),
            material: material.into_boxed_slice(),
            parsed,
        })
    }

    /// The JWK's `kid`, if it has one.
    ///
    /// ```
    /// # let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/ec-p256.pub.jwk.json"))).unwrap();
    /// let key = m4_jwt_verify::VerifyingKey::from_jwk(&jwk).unwrap();
    /// assert_eq!(key.kid(), Some("ec-p256"));
    /// ```
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The key type and size or curve.
    ///
    /// ```
    /// # let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/ec-p256.pub.jwk.json"))).unwrap();
    /// let key = m4_jwt_verify::VerifyingKey::from_jwk(&jwk).unwrap();
    /// assert_eq!(key.kind().to_string(), "EC P-256");
    /// ```
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The JWK's own `alg`, if it declares one; the key then verifies that algorithm only.
    ///
    /// ```
    /// # let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/ec-p256.pub.jwk.json"))).unwrap();
    /// let key = m4_jwt_verify::VerifyingKey::from_jwk(&jwk).unwrap();
    /// assert_eq!(key.declared_alg(), Some(m4_jwt_verify::Algorithm::ES256));
    /// ```
    pub fn declared_alg(&self) -> Option<Algorithm> {
        self.declared_alg
    }

    /// The JWK's `use`, if present (always `sig`: other values are rejected at parse time).
    ///
    /// ```
    /// # let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/ec-p256.pub.jwk.json"))).unwrap();
    /// let key = m4_jwt_verify::VerifyingKey::from_jwk(&jwk).unwrap();
    /// assert_eq!(key.key_use(), Some("sig"));
    /// ```
    pub fn key_use(&self) -> Option<&str> {
        self.key_use.as_deref()
    }

    /// Whether this key may verify a token signed with `alg`: the key type and curve must
    /// produce `alg` signatures, and a declared `alg` must equal it.
    ///
    /// ```
    /// use m4_jwt_verify::{Algorithm, KeyRejection};
    /// # let jwk: serde_json::Value = serde_json::from_str(include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/rsa-2048.pub.jwk.json"))).unwrap();
    /// let key = m4_jwt_verify::VerifyingKey::from_jwk(&jwk).unwrap(); // declares RS256
    /// assert_eq!(
    ///     key.check_compatible(Algorithm::PS256),
    ///     Err(KeyRejection::AlgorithmMismatch { declared: Algorithm::RS256, requested: Algorithm::PS256 })
    /// );
    /// ```
    ///
    /// # Errors
    /// [`KeyRejection::AlgorithmMismatch`] or [`KeyRejection::KindMismatch`].
    pub fn check_compatible(&self, alg: Algorithm) -> Result<(), KeyRejection> {
        if let Some(declared) = self.declared_alg
            && declared != alg
        {
            return Err(KeyRejection::AlgorithmMismatch {
                declared,
                requested: alg,
            });
        }
        if !self.kind.supports(alg) {
            return Err(KeyRejection::KindMismatch {
                kind: self.kind,
                alg,
            });
        }
        Ok(())
    }

    /// Whether `other` is the same key with the same declared algorithm and use.
    pub(crate) fn same_key_as(&self, other: &VerifyingKey) -> bool {
        self.kind == other.kind
            && self.declared_alg == other.declared_alg
            && self.key_use == other.key_use
            && self.material == other.material
    }

    /// Verifies `signature` over `message` with `alg`. `false` when the key is not compatible
    /// with `alg` or the signature is invalid.
    pub(crate) fn verify_signature(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        match self.parsed.get(alg.index()) {
            Some(Some(key)) => key.verify_sig(message, signature).is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn der_encoding_of_small_and_long_integers() {
        // SEQUENCE { INTEGER 0x00 0x80, INTEGER 0x01 0x00 0x01 }
        assert_eq!(
            rsa_public_key_der(&[0x80], &[1, 0, 1]),
            vec![0x30, 0x09, 0x02, 0x02, 0x00, 0x80, 0x02, 0x03, 1, 0, 1]
        );
        let n = vec![0x7f; 300];
        let der = rsa_public_key_der(&n, &[3]);
        // body = 4 (INTEGER header with 2-byte length) + 300 + 3 = 307 = 0x0133
        assert_eq!(der.get(..4), Some(&[0x30, 0x82, 0x01, 0x33][..]));
        assert_eq!(der.get(4..8), Some(&[0x02, 0x82, 0x01, 0x2c][..]));
    }

    #[test]
    fn bit_length() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0x7f; 256]), 2047);
    }

    #[test]
    fn structural_rejections() {
        let cases = [
            (json!([1]), KeyRejection::NotAnObject),
            (json!({}), KeyRejection::MissingMember { member: "kty" }),
            (
                json!({"kty": 1}),
                KeyRejection::MemberType {
                    member: "kty",
                    expected: "a string",
                },
            ),
            (
                json!({"kty": "RSA", "kid": 7}),
                KeyRejection::MemberType {
                    member: "kid",
                    expected: "a string",
                },
            ),
            (
                json!({"kty": "RSA", "use": "enc"}),
                KeyRejection::EncryptionKey,
            ),
            (
                json!({"kty": "RSA", "use": "tls"}),
                KeyRejection::UnsupportedUse {
                    value: "tls".into(),
                },
            ),
            (
                json!({"kty": "RSA", "key_ops": ["encrypt"]}),
                KeyRejection::NoVerifyOperation,
            ),
            (
                json!({"kty": "RSA", "key_ops": "verify"}),
                KeyRejection::MemberType {
                    member: "key_ops",
                    expected: "an array of strings",
                },
            ),
            (
                json!({"kty": "RSA", "alg": "RSA-OAEP"}),
                KeyRejection::UnsupportedAlgorithm {
                    alg: "RSA-OAEP".into(),
                },
            ),
            (
                json!({"kty": "RSA", "alg": "HS256"}),
                KeyRejection::UnsupportedAlgorithm {
                    alg: "HS256".into(),
                },
            ),
            (
                json!({"kty": "oct", "k": "AAAA"}),
                KeyRejection::SymmetricKey,
            ),
            (
                json!({"kty": "DSA"}),
                KeyRejection::UnsupportedKeyType { kty: "DSA".into() },
            ),
            (
                json!({"kty": "RSA", "e": "AQAB"}),
                KeyRejection::MissingMember { member: "n" },
            ),
            (
                json!({"kty": "RSA", "n": "", "e": "AQAB"}),
                KeyRejection::MalformedMember { member: "n" },
            ),
            (
                json!({"kty": "RSA", "n": "AQ==", "e": "AQAB"}),
                KeyRejection::MalformedMember { member: "n" },
            ),
            (
                json!({"kty": "RSA", "n": "AQAB", "e": "AA"}),
                KeyRejection::MalformedMember { member: "e" },
            ),
            (
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "d": "AQAB"}),
                KeyRejection::PrivateKeyMaterial { member: "d" },
            ),
            (
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
                KeyRejection::RsaKeyTooSmall { bits: 17 },
            ),
            (
                json!({"kty": "EC", "crv": "P-521"}),
                KeyRejection::UnsupportedCurve {
                    kty: "EC",
                    crv: "P-521".into(),
                    supported: "P-256 or P-384",
                },
            ),
            (
                json!({"kty": "EC", "crv": "secp256k1"}),
                KeyRejection::UnsupportedCurve {
                    kty: "EC",
                    crv: "secp256k1".into(),
                    supported: "P-256 or P-384",
                },
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
                KeyRejection::WrongLength {
                    member: "x",
                    curve: "P-256",
                    expected: 32,
                    found: 3,
                },
            ),
            (
                json!({"kty": "OKP", "crv": "X25519", "x": "AAAA"}),
                KeyRejection::UnsupportedCurve {
                    kty: "OKP",
                    crv: "X25519".into(),
                    supported: "Ed25519",
                },
            ),
            (
                json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
                KeyRejection::WrongLength {
                    member: "x",
                    curve: "Ed25519",
                    expected: 32,
                    found: 3,
                },
            ),
        ];
        for (jwk, expected) in cases {
            assert_eq!(VerifyingKey::from_jwk(&jwk).err(), Some(expected), "{jwk}");
        }
    }

    #[test]
    fn rsa_size_bounds_use_significant_bits() {
        let n_2047 = URL_SAFE_NO_PAD.encode([0x7f; 256]);
        let jwk = json!({"kty": "RSA", "n": n_2047, "e": "AQAB"});
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).err(),
            Some(KeyRejection::RsaKeyTooSmall { bits: 2047 })
        );
        let n_8200 = URL_SAFE_NO_PAD.encode([0xff; 1025]);
        let jwk = json!({"kty": "RSA", "n": n_8200, "e": "AQAB"});
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).err(),
            Some(KeyRejection::RsaKeyTooLarge { bits: 8200 })
        );
    }

    #[test]
    fn verify_signature_uses_the_parsed_key_for_the_right_algorithm_only() {
        let jwk: Value = serde_json::from_str(include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/ec-p256.pub.jwk.json"
        )))
        .unwrap();
        let key = VerifyingKey::from_jwk(&jwk).unwrap();
        let signer = jsonwebtoken::EncodingKey::from_ec_pem(include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/ec-p256.pem"
        )))
        .unwrap();
        let sig = jsonwebtoken::crypto::sign(b"message", &signer, jsonwebtoken::Algorithm::ES256)
            .unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert!(key.verify_signature(Algorithm::ES256, b"message", &sig));
        assert!(!key.verify_signature(Algorithm::ES256, b"messagf", &sig));
        assert!(!key.verify_signature(Algorithm::ES384, b"message", &sig));
        assert!(!key.verify_signature(Algorithm::ES256, b"message", &[0; 64]));
    }

    #[test]
    fn ec_point_not_on_curve_is_invalid() {
        let coord = URL_SAFE_NO_PAD.encode([1u8; 32]);
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": coord, "y": coord});
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).err(),
            Some(KeyRejection::InvalidKey {
                kind: KeyKind::Ec {
                    curve: EcCurve::P256
                }
            })
        );
    }
}
