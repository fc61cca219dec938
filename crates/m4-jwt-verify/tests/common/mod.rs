//! Shared helpers for the integration tests: fixture keys (from m4-auth-testkit), a fixed clock,
//! token minting with jsonwebtoken (an independent implementation) and hand-built tokens for
//! attacks.
#![allow(dead_code, unused_imports, unreachable_pub)]

use std::sync::Arc;

use m4_auth_testkit::tokens::{self, Sig};
pub use m4_auth_testkit::tokens::{
    b64, rsa_pkcs1_sha256_by_hand as rsa_pkcs1_sha256_sign_unchecked, unb64,
};
use m4_jwt_verify::{
    Algorithm, Error, JwkSet, ManualClock, VerifiedToken, Verifier, VerifierOptions,
};
use serde_json::{Value, json};

/// The fixed "now" of every test.
pub const NOW: u64 = 1_750_000_000;
pub const ISS: &str = "https://idp.example.com/";
pub const AUD: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";

pub use m4_auth_testkit::keys::{jwk, jwk_with, jwks_json, private_pem as pem};

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

/// The testkit's signer for fixture `key` under `alg` (a name such as "RS256"; HS* use `key`
/// as the secret text; rsa-1024 is signed by hand, as aws-lc-rs will not).
fn by<'a>(key: &'a str, alg: &str) -> Sig<'a> {
    let alg = alg
        .parse()
        .unwrap_or_else(|e| panic!("no algorithm {alg}: {e}"));
    Sig::Key(key, alg)
}

/// Signs `header_b64.payload_b64` with fixture `key` under `alg`; returns the base64url signature.
pub fn signature(signing_input: &str, key: &str, alg: &str) -> String {
    tokens::signature(signing_input.as_bytes(), &by(key, alg))
}

/// A compact JWS over the exact header and payload texts, signed by fixture `key` with `alg`.
pub fn sign_raw(header: &str, payload: &str, key: &str, alg: &str) -> String {
    tokens::jws_text(header, payload.as_bytes(), &by(key, alg))
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
