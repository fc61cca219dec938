//! Shared helpers for m4-jwks integration tests: a wiremock identity provider on loopback,
//! run on a tokio runtime while the code under test stays blocking, and JWKS documents built
//! from the committed key fixtures.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::time::Duration;

use m4_jwks::{JwksOptions, ManualClock};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A fake identity provider: a wiremock server on 127.0.0.1 with its own runtime.
pub struct Idp {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Idp {
    pub fn start() -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        Self { rt, server }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// `{uri}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.uri())
    }

    /// Answers GET `path` with `response` (later mounts do not override earlier ones: call
    /// [`Idp::reset`] to change an answer).
    pub fn serve(&self, at: &str, response: ResponseTemplate) {
        self.rt.block_on(
            Mock::given(method("GET"))
                .and(path(at))
                .respond_with(response)
                .mount(&self.server),
        );
    }

    /// Answers POST `at` with `response`.
    pub fn serve_post(&self, at: &str, response: ResponseTemplate) {
        self.rt.block_on(
            Mock::given(method("POST"))
                .and(path(at))
                .respond_with(response)
                .mount(&self.server),
        );
    }

    /// Serves a JWKS document made of the named fixture keys at `at`.
    pub fn serve_jwks(&self, at: &str, names: &[&str]) {
        self.serve(
            at,
            ResponseTemplate::new(200).set_body_raw(jwks(names), "application/json"),
        );
    }

    /// Forgets every mount and every recorded request.
    pub fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }

    /// Paths of every request received so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect()
    }

    /// How many requests hit `path`.
    pub fn hits(&self, at: &str) -> usize {
        self.paths().iter().filter(|p| *p == at).count()
    }
}

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

/// A loopback URL on which nothing listens (connection refused).
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
