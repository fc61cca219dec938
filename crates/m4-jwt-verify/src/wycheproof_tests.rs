//! Wycheproof vectors through the exact key import and signature check the verifier uses.
//!
//! A Wycheproof vector signs an arbitrary message, which can never be a JWS signing input
//! (`base64url(header) "." base64url(payload)`), so the vectors cannot be wrapped into complete
//! tokens. Instead each group's public key goes through [`VerifyingKey::from_jwk`] (as a JWKS
//! member would) and each vector through [`VerifyingKey::verify_signature`] with the JOSE
//! algorithm: the same two functions `Verifier::verify` calls, with nothing in between but
//! base64url decoding of the signature segment.
//!
//! Verdicts: `valid` must verify, `invalid` must not. `acceptable` vectors (legacy encodings a
//! library may tolerate) must be rejected too: a verifier of bearer tokens gains nothing from
//! leniency, so our policy is strict.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use wycheproof::TestResult;

use crate::algorithm::Algorithm;
use crate::key::VerifyingKey;

#[derive(Debug, Default)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, tc_id: usize, expected: TestResult, accepted: bool) {
        let ok = match expected {
            TestResult::Valid => {
                self.valid += 1;
                accepted
            }
            TestResult::Invalid => {
                self.invalid += 1;
                !accepted
            }
            TestResult::Acceptable => {
                self.acceptable += 1;
                !accepted
            }
        };
        if !ok {
            self.failures.push(format!(
                "{name} tcId {tc_id}: expected {expected:?}, accepted={accepted}"
            ));
        }
    }

    #[track_caller]
    fn assert_clean(&self, min_vectors: usize) {
        assert!(self.failures.is_empty(), "{:#?}", self.failures);
        assert!(self.valid > 0 && self.invalid > 0, "{self:?}");
        assert!(
            self.valid + self.invalid + self.acceptable >= min_vectors,
            "{self:?}"
        );
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Left-pads or strips a big-endian integer to exactly `len` bytes (Wycheproof writes `wx`/`wy`
/// with a leading zero when the high bit is set).
fn fixed(bytes: &[u8], len: usize) -> Vec<u8> {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    let significant = &bytes[start..];
    let mut out = vec![0; len.saturating_sub(significant.len())];
    out.extend_from_slice(significant);
    out
}

fn ec_jwk(crv: &str, len: usize, x: &[u8], y: &[u8]) -> Value {
    json!({"kty": "EC", "crv": crv, "x": b64(&fixed(x, len)), "y": b64(&fixed(y, len))})
}

fn rsa_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
}

fn verdict(jwk: &Value, alg: Algorithm, msg: &[u8], sig: &[u8]) -> bool {
    match VerifyingKey::from_jwk(jwk) {
        Ok(key) => key.verify_signature(alg, msg, sig),
        Err(_) => false,
    }
}

fn ecdsa(name: wycheproof::ecdsa::TestName, alg: Algorithm, crv: &str, len: usize) -> Tally {
    let set = wycheproof::ecdsa::TestSet::load(name).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let jwk = ec_jwk(crv, len, &group.key.affine_x, &group.key.affine_y);
        for t in &group.tests {
            tally.record(
                &format!("{name:?}"),
                t.tc_id,
                t.result,
                verdict(&jwk, alg, &t.msg, &t.sig),
            );
        }
    }
    tally
}

#[test]
fn ecdsa_p256_sha256_p1363_as_es256() {
    let tally = ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256P1363,
        Algorithm::ES256,
        "P-256",
        32,
    );
    tally.assert_clean(250);
}

#[test]
fn ecdsa_p384_sha384_p1363_as_es384() {
    let tally = ecdsa(
        wycheproof::ecdsa::TestName::EcdsaSecp384r1Sha384P1363,
        Algorithm::ES384,
        "P-384",
        48,
    );
    tally.assert_clean(250);
}

#[test]
fn ecdsa_p256_der_signatures_never_verify_as_es256() {
    // JOSE ES256 signatures are raw r || s; the DER (ASN.1) form of even a valid signature
    // must be rejected.
    let set = wycheproof::ecdsa::TestSet::load(wycheproof::ecdsa::TestName::EcdsaSecp256r1Sha256)
        .unwrap();
    let mut checked = 0;
    for group in &set.test_groups {
        let jwk = ec_jwk("P-256", 32, &group.key.affine_x, &group.key.affine_y);
        for t in &group.tests {
            assert!(
                !verdict(&jwk, Algorithm::ES256, &t.msg, &t.sig),
                "tcId {}",
                t.tc_id
            );
            checked += 1;
        }
    }
    assert!(checked > 400, "{checked}");
}

fn rsa_pkcs1(names: &[wycheproof::rsa_pkcs1_verify::TestName], alg: Algorithm) -> Tally {
    let mut tally = Tally::default();
    for name in names {
        let set = wycheproof::rsa_pkcs1_verify::TestSet::load(*name).unwrap();
        for group in &set.test_groups {
            let jwk = rsa_jwk(&group.key.n, &group.key.e);
            for t in &group.tests {
                tally.record(
                    &format!("{name:?}"),
                    t.tc_id,
                    t.result,
                    verdict(&jwk, alg, &t.msg, &t.sig),
                );
            }
        }
    }
    tally
}

#[test]
fn rsa_pkcs1_sha256_as_rs256() {
    use wycheproof::rsa_pkcs1_verify::TestName::*;
    let tally = rsa_pkcs1(
        &[Rsa2048Sha256, Rsa3072Sha256, Rsa4096Sha256, Rsa8192Sha256],
        Algorithm::RS256,
    );
    tally.assert_clean(900);
    assert!(
        tally.acceptable > 0,
        "the MissingNull vectors are expected to be present"
    );
}

#[test]
fn rsa_pkcs1_sha384_and_sha512_as_rs384_and_rs512() {
    use wycheproof::rsa_pkcs1_verify::TestName::*;
    rsa_pkcs1(
        &[Rsa2048Sha384, Rsa3072Sha384, Rsa4096Sha384],
        Algorithm::RS384,
    )
    .assert_clean(500);
    rsa_pkcs1(
        &[Rsa2048Sha512, Rsa3072Sha512, Rsa4096Sha512],
        Algorithm::RS512,
    )
    .assert_clean(500);
}

#[test]
fn rsa_pss_sha256_mgf1_salt32_as_ps256() {
    use wycheproof::rsa_pss_verify::TestName::*;
    // JOSE PS256 is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt.
    let mut tally = Tally::default();
    for name in [
        RsaPss2048Sha256Mgf1SaltLen32,
        RsaPss3072Sha256Mgf1SaltLen32,
        RsaPss4096Sha256Mgf1SaltLen32,
    ] {
        let set = wycheproof::rsa_pss_verify::TestSet::load(name).unwrap();
        for group in &set.test_groups {
            assert_eq!(group.salt_size, 32);
            let jwk = rsa_jwk(&group.key.n, &group.key.e);
            for t in &group.tests {
                tally.record(
                    &format!("{name:?}"),
                    t.tc_id,
                    t.result,
                    verdict(&jwk, Algorithm::PS256, &t.msg, &t.sig),
                );
            }
        }
    }
    tally.assert_clean(200);
}

#[test]
fn ed25519_as_eddsa() {
    let set = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519).unwrap();
    let mut tally = Tally::default();
    for group in &set.test_groups {
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)});
        for t in &group.tests {
            tally.record(
                "Ed25519",
                t.tc_id,
                t.result,
                verdict(&jwk, Algorithm::EdDSA, &t.msg, &t.sig),
            );
        }
    }
    tally.assert_clean(140);
}
