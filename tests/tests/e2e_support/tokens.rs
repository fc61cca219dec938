//! Tokens for the acceptance suite: the testkit's token builders (any header, any payload
//! bytes, real signatures from the fixture keys, HMACs, literal signature bytes; see
//! `m4_auth_testkit::tokens`), plus the claims a good token of these scenarios carries.

use serde_json::{Value, json};

pub use m4_auth_testkit::tokens::*;

use super::{AUDIENCE, SCOPE};

/// Good claims for `sub` from `issuer`: our audience, the default scope, ten minutes to live.
pub fn claims(issuer: &str, sub: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": SCOPE,
        "iat": now,
        "exp": now + 600,
    })
}
