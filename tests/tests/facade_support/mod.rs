//! Helpers for the facade end-to-end tests: a wiremock identity provider on loopback (OIDC
//! discovery and a JWKS built from the committed fixture keys), tokens signed with the fixture
//! private keys by jsonwebtoken, and authenticators configured the way an operator would.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use m4_auth::{AuthConfig, Authenticator, ManualClock};
use m4_auth_tests::keys;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const AUDIENCE: &str = "m4-api";
pub const SCOPE: &str = "read:mimic-data";
/// Where the manual clocks start, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;
/// The issuer's path on the wiremock server (Keycloak-style, so discovery keeps a path).
pub const REALM: &str = "/realms/m4";
/// The JWKS path the discovery document names.
pub const CERTS: &str = "/realms/m4/protocol/openid-connect/certs";

/// A fake identity provider: wiremock on 127.0.0.1 with its own runtime, while the code under
/// test stays blocking on the test thread.
pub struct Idp {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Idp {
    /// A provider serving discovery and a JWKS of `keys` (fixture names).
    pub fn start(keys: &[&str]) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let idp = Self { rt, server };
        idp.serve_discovery();
        idp.serve_jwks(keys);
        idp
    }

    /// `http://127.0.0.1:PORT/realms/m4`, the issuer.
    pub fn issuer(&self) -> String {
        format!("{}{REALM}", self.server.uri())
    }

    pub fn url(&self, at: &str) -> String {
        format!("{}{at}", self.server.uri())
    }

    fn serve(&self, at: &str, response: ResponseTemplate) {
        self.rt.block_on(
            Mock::given(method("GET"))
                .and(path(at))
                .respond_with(response)
                .mount(&self.server),
        );
    }

    pub fn serve_discovery(&self) {
        let doc = json!({
            "issuer": self.issuer(),
            "jwks_uri": self.url(CERTS),
            "authorization_endpoint": self.url("/realms/m4/protocol/openid-connect/auth"),
        });
        self.serve(
            &format!("{REALM}/.well-known/openid-configuration"),
            ResponseTemplate::new(200).set_body_json(doc),
        );
    }

    /// Serves a JWKS made of the named fixture keys at [`CERTS`].
    pub fn serve_jwks(&self, names: &[&str]) {
        self.serve(
            CERTS,
            ResponseTemplate::new(200).set_body_raw(jwks(names), "application/json"),
        );
    }

    /// Answers the JWKS path with `status` (an outage).
    pub fn fail_jwks(&self, status: u16) {
        self.serve(CERTS, ResponseTemplate::new(status));
    }

    /// Forgets every mount and recorded request.
    pub fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }

    /// Requests received at `at` so far.
    pub fn hits(&self, at: &str) -> usize {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == at)
            .count()
    }
}

/// `{"keys":[...]}` with the public JWKs of the named fixtures.
pub fn jwks(names: &[&str]) -> String {
    let keys: Vec<String> = names.iter().map(|n| keys::public_jwk(n)).collect();
    format!("{{\"keys\":[{}]}}", keys.join(","))
}

fn alg_of(key: &str) -> Algorithm {
    match key {
        k if k.starts_with("rsa") => Algorithm::RS256,
        "ec-p256" => Algorithm::ES256,
        other => panic!("no algorithm for fixture {other}"),
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

/// A token signed by fixture `key`, its `kid` naming that key.
pub fn sign(key: &str, claims: &Value) -> String {
    let mut header = Header::new(alg_of(key));
    header.kid = Some(key.to_owned());
    let pem = keys::private_pem(key);
    let encoding = match alg_of(key) {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        _ => EncodingKey::from_ec_pem(pem.as_bytes()),
    }
    .unwrap();
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
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

/// A loopback URL on which nothing listens (connection refused).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
