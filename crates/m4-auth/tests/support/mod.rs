//! Shared helpers for the m4-auth integration tests: real tokens signed with the committed
//! fixture keys (jsonwebtoken, an independent producer), pinned keys and a manual clock.
//! The fixture keys, the loopback identity provider and the `redis-server` launcher come from
//! m4-auth-testkit.
#![allow(dead_code, unused_imports, unreachable_pub)]

use m4_auth::{AuthConfig, Authenticator, ManualClock};
use m4_auth_testkit::keys;
pub use m4_auth_testkit::keys::jwks;
use serde_json::{Value, json};

pub const ISSUER: &str = "https://idp.example.com/";
pub const AUDIENCE: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";
/// The manual clock's start, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;

/// The JWKS of rsa-2048, rsa-4096 and ec-p256, parsed.
pub fn pinned() -> m4_auth::jwt::JwkSet {
    m4_auth::jwt::JwkSet::from_json(keys::jwks_json().as_bytes()).unwrap()
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
pub use m4_auth_testkit::tokens::sign;

/// A token signed by fixture `key` whose header names `kid`.
pub fn sign_with_kid(key: &str, kid: &str, claims: &Value) -> String {
    m4_auth_testkit::tokens::sign_with_header(key, json!({ "kid": kid }), claims)
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
