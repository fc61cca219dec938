//! Shared helpers for m4-jwks integration tests: the testkit's loopback identity provider and
//! fixture JWKS (m4-auth-testkit), plus the cache options these tests use, which name m4-jwks
//! types and so stay here.
#![allow(dead_code, unused_imports, unreachable_pub)]

use std::time::Duration;

pub use m4_auth_testkit::idp::{Idp, closed_port_url};
pub use m4_auth_testkit::keys::jwks;
use m4_jwks::{JwksOptions, ManualClock};

/// Test timings: TTL 60 s, cooldown 30 s, max stale 600 s, HTTP timeout 1 s.
pub const TTL: Duration = Duration::from_secs(60);
pub const COOLDOWN: Duration = Duration::from_secs(30);
pub const MAX_STALE: Duration = Duration::from_secs(600);
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// Options for `idp` with the JWKS at `{uri}/keys` (no discovery) and the test timings.
pub fn options(idp: &Idp, clock: &ManualClock) -> JwksOptions {
    JwksOptions::new(idp.uri())
        .jwks_url(idp.url("/keys"))
        .ttl(TTL)
        .refresh_cooldown(COOLDOWN)
        .max_stale(MAX_STALE)
        .http_timeout(TIMEOUT)
        .clock(clock.clone())
}
