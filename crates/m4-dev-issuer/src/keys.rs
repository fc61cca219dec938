//! Signing keys of the dev issuer: generation with aws-lc-rs, public JWKs, and the key form
//! jsonwebtoken signs with.
//!
//! jsonwebtoken 11 (aws-lc-rs backend) expects different DER forms per family:
//! `EncodingKey::from_ec_der` takes PKCS#8 (it calls `EcdsaKeyPair::from_pkcs8`), while
//! `EncodingKey::from_rsa_der` takes the PKCS#1 `RSAPrivateKey` (it calls
//! `RsaKeyPair::from_der`, RFC 8017). aws-lc-rs serialises both as PKCS#8, so for RSA the inner
//! `RSAPrivateKey` is taken out of the PKCS#8 `PrivateKeyInfo` by [`pkcs1_from_pkcs8`].

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

use super::SigningAlg;
use crate::Error;

/// One signing key: its kid, algorithm, public JWK and the private half for jsonwebtoken.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) alg: SigningAlg,
    pub(crate) jwk: Value,
    pub(crate) encoding: EncodingKey,
}

impl fmt::Debug for SigningKey {
    // Never show the private half.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key for `alg` named `kid`.
    pub(crate) fn generate(alg: SigningAlg, kid: String) -> Result<Self, Error> {
        match alg {
            SigningAlg::Rs256 => generate_rsa(kid),
            SigningAlg::Es256 => generate_p256(kid),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn generate_rsa(kid: String) -> Result<SigningKey, Error> {
    let alg = SigningAlg::Rs256;
    let failed = || Error::KeyGeneration { alg };
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| failed())?;
    let pkcs8 = pair.as_der().map_err(|_| failed())?;
    let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref()).ok_or_else(failed)?;
    let public = pair.public_key();
    let jwk = json!({
        "kty": "RSA",
        "kid": kid,
        "use": "sig",
        "alg": alg.as_str(),
        "n": b64(public.modulus().big_endian_without_leading_zero()),
        "e": b64(public.exponent().big_endian_without_leading_zero()),
    });
    Ok(SigningKey {
        kid,
        alg,
        jwk,
        encoding: EncodingKey::from_rsa_der(pkcs1),
    })
}

fn generate_p256(kid: String) -> Result<SigningKey, Error> {
    let alg = SigningAlg::Es256;
    let failed = || Error::KeyGeneration { alg };
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|_| failed())?;
    let pkcs8 = pair.to_pkcs8v1().map_err(|_| failed())?;
    // The public key is the uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
    let point = pair.public_key().as_ref();
    let (x, y) = match point {
        [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
        _ => return Err(failed()),
    };
    let jwk = json!({
        "kty": "EC",
        "kid": kid,
        "use": "sig",
        "alg": alg.as_str(),
        "crv": "P-256",
        "x": b64(x),
        "y": b64(y),
    });
    Ok(SigningKey {
        kid,
        alg,
        jwk,
        encoding: EncodingKey::from_ec_der(pkcs8.as_ref()),
    })
}

/// `n` random bytes from the system generator.
pub(crate) fn random_bytes(n: usize) -> Result<Vec<u8>, Error> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| Error::Random)?;
    Ok(bytes)
}

/// `n` random bytes as lowercase hex (kids, `jti`s, refresh tokens, device codes).
pub(crate) fn random_hex(n: usize) -> Result<String, Error> {
    Ok(random_bytes(n)?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// One DER element: its tag, its contents, and what follows it.
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        // Long form: the low bits count the length octets (at most 4 here: keys are small).
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 {
            return None;
        }
        let (octets, rest) = rest.split_at_checked(count)?;
        let len = octets
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`:
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING privateKey, ... }`.
pub(crate) fn pkcs1_from_pkcs8(pkcs8: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const OCTET_STRING: u8 = 0x04;
    let (tag, info, _) = der_element(pkcs8)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, _version, rest) = der_element(info)?;
    if tag != INTEGER {
        return None;
    }
    let (tag, _algorithm, rest) = der_element(rest)?;
    if tag != SEQUENCE {
        return None;
    }
    let (tag, private_key, _) = der_element(rest)?;
    (tag == OCTET_STRING).then_some(private_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation, decode, encode};

    fn roundtrip(key: &SigningKey) {
        let mut header = Header::new(match key.alg {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Es256 => Algorithm::ES256,
        });
        header.kid = Some(key.kid.clone());
        let claims = json!({"sub": "alice", "exp": 4_000_000_000u64});
        let token = encode(&header, &claims, &key.encoding).unwrap();
        // Verify with the public JWK only, as any verifier would.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.jwk.clone()).unwrap();
        let decoding = DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = Validation::new(header.alg);
        validation.validate_aud = false;
        let data = decode::<Value>(&token, &decoding, &validation).unwrap();
        assert_eq!(data.claims["sub"], "alice");
        // A token signed by another key of the same kind does not verify with this JWK.
        let other = SigningKey::generate(key.alg, "other".into()).unwrap();
        let forged = encode(&header, &claims, &other.encoding).unwrap();
        assert!(decode::<Value>(&forged, &decoding, &validation).is_err());
    }

    #[test]
    fn rsa_key_signs_and_its_jwk_verifies() {
        let key = SigningKey::generate(SigningAlg::Rs256, "r1".into()).unwrap();
        assert_eq!(key.jwk["kty"], "RSA");
        assert_eq!(key.jwk["e"], "AQAB");
        // 2048-bit modulus: 256 bytes, 342 base64url characters without padding.
        assert_eq!(key.jwk["n"].as_str().unwrap().len(), 342);
        roundtrip(&key);
    }

    #[test]
    fn p256_key_signs_and_its_jwk_verifies() {
        let key = SigningKey::generate(SigningAlg::Es256, "e1".into()).unwrap();
        assert_eq!(key.jwk["crv"], "P-256");
        assert_eq!(key.jwk["x"].as_str().unwrap().len(), 43);
        assert_eq!(key.jwk["y"].as_str().unwrap().len(), 43);
        roundtrip(&key);
    }

    #[test]
    fn debug_hides_the_private_key() {
        let key = SigningKey::generate(SigningAlg::Es256, "e1".into()).unwrap();
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { kid: "e1", alg: Es256, .. }"#
        );
    }

    #[track_caller]
    fn check_pkcs1(input: &[u8], expected: Option<&[u8]>) {
        assert_eq!(pkcs1_from_pkcs8(input), expected);
    }

    #[test]
    fn pkcs1_extraction_accepts_only_private_key_info() {
        // version 0, algorithm {}, privateKey "AB"
        check_pkcs1(
            &[
                0x30, 0x09, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x02, 0xAB, 0xCD,
            ],
            Some(&[0xAB, 0xCD]),
        );
        // long-form length on the outer sequence
        check_pkcs1(
            &[
                0x30, 0x81, 0x08, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x01, 0xEE,
            ],
            Some(&[0xEE]),
        );
        check_pkcs1(&[], None);
        check_pkcs1(&[0x30], None);
        // outer element is not a SEQUENCE
        check_pkcs1(&[0x31, 0x03, 0x02, 0x01, 0x00], None);
        // length runs past the end
        check_pkcs1(&[0x30, 0x7f, 0x02, 0x01, 0x00], None);
        // privateKey is not an OCTET STRING
        check_pkcs1(
            &[0x30, 0x08, 0x02, 0x01, 0x00, 0x30, 0x00, 0x05, 0x01, 0xEE],
            None,
        );
        // missing version INTEGER
        check_pkcs1(&[0x30, 0x05, 0x30, 0x00, 0x04, 0x01, 0xEE], None);
        // indefinite / oversized long-form lengths
        check_pkcs1(&[0x30, 0x80, 0x00], None);
        check_pkcs1(&[0x30, 0x85, 0x01, 0x01, 0x01, 0x01, 0x01], None);
    }
}
