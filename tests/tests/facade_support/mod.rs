//! Helpers for the facade end-to-end tests: the testkit's loopback identity provider as a
//! Keycloak realm (OIDC discovery and a JWKS built from the committed fixture keys), tokens
//! signed with the fixture private keys by jsonwebtoken, and authenticators configured the way
//! an operator would.
#![allow(dead_code, unreachable_pub)]

use std::ops::Deref;

use m4_auth::{AuthConfig, Authenticator, ManualClock};
use m4_auth_testkit::idp::{self, discovery_document};
pub use m4_auth_testkit::tokens::sign;
use serde_json::{Value, json};

pub const AUDIENCE: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";
/// Where the manual clocks start, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;
/// The issuer's path on the provider (Keycloak-style, so discovery keeps a path).
pub const REALM: &str = "/realms/m4";
/// The JWKS path the discovery document names.
pub const CERTS: &str = "/realms/m4/protocol/openid-connect/certs";

/// The testkit's loopback provider as a Keycloak realm: discovery at [`REALM`], keys at
/// [`CERTS`]; everything else (`url`, `hits`, `reset`) is the testkit's.
pub struct Idp(idp::Idp);

impl Deref for Idp {
    type Target = idp::Idp;
    fn deref(&self) -> &idp::Idp {
        &self.0
    }
}

impl Idp {
    /// A provider serving discovery and a JWKS of `keys` (fixture names).
    pub fn start(keys: &[&str]) -> Self {
        let idp = Self(idp::Idp::start());
        idp.serve_discovery();
        idp.serve_keys(keys);
        idp
    }

    /// `http://127.0.0.1:PORT/realms/m4`, the issuer.
    pub fn issuer(&self) -> String {
        self.url(REALM)
    }

    pub fn serve_discovery(&self) {
        self.serve(
            &format!("{REALM}/.well-known/openid-configuration"),
            discovery_document(&self.issuer(), &self.url(CERTS)),
        );
    }

    /// Serves a JWKS made of the named fixture keys at [`CERTS`].
    pub fn serve_keys(&self, names: &[&str]) {
        self.serve_jwks(CERTS, names);
    }

    /// Answers the JWKS path with `status` (an outage).
    pub fn fail_jwks(&self, status: u16) {
        self.serve(CERTS, idp::status(status));
    }
}

/// Good claims for `sub` from `issuer`: our audience, the required scope, an hour to live.
pub fn claims(issuer: &str, sub: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": SCOPE,
        "iat": NOW,
        "exp": NOW + 3600,
    })
}

/// The configuration an operator writes for `issuer`, plus `extra` variables.
pub fn config(issuer: &str, extra: &[(&str, &str)]) -> AuthConfig {
    let mut vars = vec![
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", issuer),
        ("M4_OAUTH2_AUDIENCE", AUDIENCE),
        ("M4_OAUTH2_HTTP_TIMEOUT", "2"),
    ];
    vars.extend_from_slice(extra);
    AuthConfig::from_vars(vars).unwrap().config
}

/// An authenticator for `idp` (keys by discovery), with a manual clock at [`NOW`].
pub fn authenticator(idp: &Idp, extra: &[(&str, &str)]) -> (Authenticator, ManualClock) {
    let clock = ManualClock::new(NOW as u64);
    let auth = Authenticator::builder(config(&idp.issuer(), extra))
        .clock(clock.clone())
        .build()
        .unwrap();
    (auth, clock)
}

/// `ok <sub>` or the error code.
pub fn verdict(auth: &Authenticator, token: &str) -> String {
    match auth.authenticate(token) {
        Ok(p) => format!("ok {}", p.sub()),
        Err(e) => e.code().to_owned(),
    }
}
