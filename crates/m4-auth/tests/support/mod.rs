//! Shared helpers for the m4-auth integration tests: real tokens signed with the committed
//! fixture keys (jsonwebtoken, an independent producer), pinned keys and a manual clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

pub mod redis_server;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use m4_auth::{AuthConfig, Authenticator, ManualClock};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.example.com/";
pub const AUDIENCE: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";
/// The manual clock's start, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;

/// The text of `tests/fixtures/keys/{file}`.
pub fn fixture(file: &str) -> String {
    let path = format!(
        "{}/../../tests/fixtures/keys/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `cargo xtask keys`)"))
}

/// `{"keys":[...]}` with the public JWKs of the named fixtures.
pub fn jwks(names: &[&str]) -> String {
    let keys: Vec<String> = names
        .iter()
        .map(|name| fixture(&format!("{name}.pub.jwk.json")))
        .collect();
    format!("{{\"keys\":[{}]}}", keys.join(","))
}

/// The JWKS of rsa-2048, rsa-4096 and ec-p256, parsed.
pub fn pinned() -> m4_auth::jwt::JwkSet {
    m4_auth::jwt::JwkSet::from_json(fixture("jwks.json").as_bytes()).unwrap()
}

fn alg_of(key: &str) -> Algorithm {
    match key {
        k if k.starts_with("rsa") => Algorithm::RS256,
        "ec-p256" => Algorithm::ES256,
        "ec-p384" => Algorithm::ES384,
        "ed25519" => Algorithm::EdDSA,
        other => panic!("no algorithm for fixture {other}"),
    }
}

fn encoding_key(key: &str) -> EncodingKey {
    let pem = fixture(&format!("{key}.pem"));
    match alg_of(key) {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        other => panic!("unexpected {other:?}"),
    }
    .unwrap()
}

/// Good claims for `sub`: our issuer and audience, the required scope, an hour to live.
pub fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": SCOPE,
        "iat": NOW,
        "exp": NOW + 3600,
    })
}

/// A token signed by fixture `key` with `kid` = `key` and the key's algorithm.
pub fn sign(key: &str, claims: &Value) -> String {
    sign_with_kid(key, key, claims)
}

/// A token signed by fixture `key` whose header names `kid`.
pub fn sign_with_kid(key: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg_of(key));
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &encoding_key(key)).unwrap()
}

/// An enabled configuration for [`ISSUER`] and [`AUDIENCE`], plus `extra` variables.
pub fn config(extra: &[(&str, &str)]) -> AuthConfig {
    let mut vars = vec![
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", ISSUER),
        ("M4_OAUTH2_AUDIENCE", AUDIENCE),
    ];
    vars.extend_from_slice(extra);
    AuthConfig::from_vars(vars).unwrap().config
}

/// An authenticator over the pinned fixture keys, with a manual clock at [`NOW`].
pub fn authenticator(extra: &[(&str, &str)]) -> (Authenticator, ManualClock) {
    let clock = ManualClock::new(NOW as u64);
    let auth = Authenticator::builder(config(extra))
        .clock(clock.clone())
        .pinned_keys(pinned())
        .build()
        .unwrap();
    (auth, clock)
}

/// The code of the error `authenticate(token)` returns, or "ok".
#[track_caller]
pub fn verdict(auth: &Authenticator, token: &str) -> String {
    match auth.authenticate(token) {
        Ok(p) => format!("ok {}", p.sub()),
        Err(e) => e.code().to_owned(),
    }
}
