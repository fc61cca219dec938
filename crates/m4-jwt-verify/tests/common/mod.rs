//! Shared helpers for the integration tests: fixture keys, a fixed clock, token minting with
//! jsonwebtoken (an independent implementation) and hand-built tokens for attacks.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use m4_jwt_verify::{
    Algorithm, Error, JwkSet, ManualClock, VerifiedToken, Verifier, VerifierOptions,
};
use serde_json::{Value, json};

/// The fixed "now" of every test.
pub const NOW: u64 = 1_750_000_000;
pub const ISS: &str = "https://idp.example.com/";
pub const AUD: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/",
            $file
        ))
    };
}

pub fn pem(name: &str) -> &'static str {
    match name {
        "rsa-2048" => fixture!("rsa-2048.pem"),
        "rsa-2048-b" => fixture!("rsa-2048-b.pem"),
        "rsa-4096" => fixture!("rsa-4096.pem"),
        "rsa-1024" => fixture!("rsa-1024.pem"),
        "ec-p256" => fixture!("ec-p256.pem"),
        "ec-p384" => fixture!("ec-p384.pem"),
        "ed25519" => fixture!("ed25519.pem"),
        other => panic!("no fixture {other}"),
    }
}

pub fn jwk(name: &str) -> Value {
    let text = match name {
        "rsa-2048" => fixture!("rsa-2048.pub.jwk.json"),
        "rsa-2048-b" => fixture!("rsa-2048-b.pub.jwk.json"),
        "rsa-4096" => fixture!("rsa-4096.pub.jwk.json"),
        "rsa-1024" => fixture!("rsa-1024.pub.jwk.json"),
        "ec-p256" => fixture!("ec-p256.pub.jwk.json"),
        "ec-p384" => fixture!("ec-p384.pub.jwk.json"),
        "ed25519" => fixture!("ed25519.pub.jwk.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).unwrap()
}

pub fn jwks_json() -> &'static str {
    fixture!("jwks.json")
}

/// `jwk(name)` with members replaced (`Value::Null` removes a member).
pub fn jwk_with(name: &str, changes: &[(&str, Value)]) -> Value {
    let mut jwk = jwk(name);
    let obj = jwk.as_object_mut().unwrap();
    for (member, value) in changes {
        if value.is_null() {
            obj.remove(*member);
        } else {
            obj.insert((*member).to_owned(), value.clone());
        }
    }
    jwk
}

/// The corpus key set: jwks.json (rsa-2048, rsa-4096, ec-p256) plus
/// - `ec-p384`, `ed25519` (declaring ES384 / EdDSA),
/// - `rsa-1024` (skipped: too small),
/// - `enc-key`: rsa-2048-b with `"use":"enc"` (skipped),
/// - `ps-only`: rsa-2048-b declaring `"alg":"PS256"`,
/// - `any-rsa`: rsa-2048-b with no `alg` (any RSA algorithm), `any-p384` likewise for ec-p384.
pub fn keys() -> JwkSet {
    let mut members: Vec<Value> = serde_json::from_str::<Value>(jwks_json()).unwrap()["keys"]
        .as_array()
        .unwrap()
        .clone();
    members.push(jwk("ec-p384"));
    members.push(jwk("ed25519"));
    members.push(jwk("rsa-1024"));
    members.push(jwk_with(
        "rsa-2048-b",
        &[("kid", json!("enc-key")), ("use", json!("enc"))],
    ));
    members.push(jwk_with(
        "rsa-2048-b",
        &[("kid", json!("ps-only")), ("alg", json!("PS256"))],
    ));
    members.push(jwk_with(
        "rsa-2048-b",
        &[("kid", json!("any-rsa")), ("alg", Value::Null)],
    ));
    members.push(jwk_with(
        "ec-p384",
        &[("kid", json!("any-p384")), ("alg", Value::Null)],
    ));
    JwkSet::from_json(json!({ "keys": members }).to_string().as_bytes()).unwrap()
}

pub fn options() -> VerifierOptions {
    VerifierOptions::new(ISS, AUD)
        .required_scopes([SCOPE])
        .clock(Arc::new(ManualClock::new(NOW)))
}

/// The default verifier: RS256 + ES256, leeway 60 s, `read:mimic-data` required, clock at NOW.
pub fn verifier() -> Verifier {
    options().build().unwrap()
}

/// Valid claims for the default verifier.
pub fn claims() -> Value {
    json!({
        "iss": ISS,
        "aud": AUD,
        "sub": "user-42",
        "scope": "openid read:mimic-data",
        "iat": NOW - 10,
        "exp": NOW + 3600,
    })
}

/// `claims()` with members replaced (`Value::Null` removes a member).
pub fn claims_with(changes: &[(&str, Value)]) -> Value {
    let mut c = claims();
    let obj = c.as_object_mut().unwrap();
    for (member, value) in changes {
        if value.is_null() {
            obj.remove(*member);
        } else {
            obj.insert((*member).to_owned(), value.clone());
        }
    }
    c
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

fn jwt_alg(alg: &str) -> jsonwebtoken::Algorithm {
    alg.parse().unwrap()
}

/// The private key of fixture `key` for signing with `alg` (HS* use `key` as the secret text).
pub fn encoding_key(key: &str, alg: &str) -> EncodingKey {
    if alg.starts_with("HS") {
        return EncodingKey::from_secret(key.as_bytes());
    }
    let pem = pem(key).as_bytes();
    match alg {
        "ES256" | "ES384" => EncodingKey::from_ec_pem(pem).unwrap(),
        "EdDSA" => EncodingKey::from_ed_pem(pem).unwrap(),
        _ => EncodingKey::from_rsa_pem(pem).unwrap(),
    }
}

/// Signs `header_b64.payload_b64` with fixture `key` under `alg`; returns the base64url signature.
pub fn signature(signing_input: &str, key: &str, alg: &str) -> String {
    jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &encoding_key(key, alg),
        jwt_alg(alg),
    )
    .unwrap()
}

/// A compact JWS over the exact header and payload texts, signed by fixture `key` with `alg`.
pub fn sign_raw(header: &str, payload: &str, key: &str, alg: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = signature(&input, key, alg);
    format!("{input}.{sig}")
}

/// A compact JWS of `header` and `claims`, signed by fixture `key` with the algorithm `sign_alg`.
pub fn sign_with(header: &Value, claims: &Value, key: &str, sign_alg: &str) -> String {
    sign_raw(&header.to_string(), &claims.to_string(), key, sign_alg)
}

/// A token signed by fixture `key` with `alg`, header `{"alg", "kid": key}`, and `claims`.
pub fn mint(key: &str, alg: &str, claims: &Value) -> String {
    sign_with(
        &json!({"alg": alg, "typ": "JWT", "kid": key}),
        claims,
        key,
        alg,
    )
}

/// A valid RS256 token from rsa-2048.
pub fn valid_rs256() -> String {
    mint("rsa-2048", "RS256", &claims())
}

pub fn verify(verifier: &Verifier, token: &str) -> Result<VerifiedToken, Error> {
    verifier.verify(token, &keys())
}

/// Asserts the default verifier rejects `token` with `code`; returns the error.
#[track_caller]
pub fn rejects(token: &str, code: &str) -> Error {
    rejects_with(&verifier(), token, code)
}

#[track_caller]
pub fn rejects_with(verifier: &Verifier, token: &str, code: &str) -> Error {
    match verifier.verify(token, &keys()) {
        Ok(t) => panic!("accepted, expected {code}: {t:?}"),
        Err(e) => {
            assert_eq!(e.code(), code, "wrong code; message: {e}");
            e
        }
    }
}

#[track_caller]
pub fn accepts(token: &str) -> VerifiedToken {
    accepts_with(&verifier(), token)
}

#[track_caller]
pub fn accepts_with(verifier: &Verifier, token: &str) -> VerifiedToken {
    match verifier.verify(token, &keys()) {
        Ok(t) => t,
        Err(e) => panic!("rejected ({}): {e}", e.code()),
    }
}

/// A verifier allowing every algorithm (to reach the checks after the allowlist).
pub fn all_algorithms() -> Verifier {
    options().algorithms(Algorithm::ALL).build().unwrap()
}

/// Reads one DER TLV from `input`: returns (tag, contents, rest).
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        n if n < 0x80 => (usize::from(n), 2),
        n => {
            let count = usize::from(n & 0x7f);
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, 2 + count)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// RSASSA-PKCS1-v1_5 with SHA-256 by hand (for the 1024-bit key aws-lc-rs will not sign with):
/// `s = EM^d mod n` with the modulus and private exponent from the PKCS#8 PEM.
pub fn rsa_pkcs1_sha256_sign_unchecked(pem: &str, message: &[u8]) -> Vec<u8> {
    use base64::engine::general_purpose::STANDARD;
    use num_bigint::BigUint;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let pkcs8 = STANDARD.decode(body).unwrap();
    let (_, private_key_info, _) = der(&pkcs8);
    let (_, _version, rest) = der(private_key_info);
    let (_, _algorithm, rest) = der(rest);
    let (tag, octets, _) = der(rest);
    assert_eq!(tag, 0x04);
    let (_, rsa_private_key, _) = der(octets);
    let (_, _version, rest) = der(rsa_private_key);
    let (_, n, rest) = der(rest);
    let (_, _e, rest) = der(rest);
    let (_, d, _) = der(rest);
    let n = BigUint::from_bytes_be(n);
    let d = BigUint::from_bytes_be(d);
    let k = n.bits().div_ceil(8) as usize;

    const SHA256_DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let t = [&SHA256_DIGEST_INFO[..], hash.as_ref()].concat();
    let mut em = vec![0x00, 0x01];
    em.resize(k - t.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&t);
    let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
    let mut out = vec![0; k - s.len()];
    out.extend(s);
    out
}
