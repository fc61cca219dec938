//! A provider on loopback for the token client's tests: the testkit's identity provider
//! (wiremock with its own runtime, so the code under test stays blocking), serving an OAuth
//! discovery document and whatever token endpoint answers a test mounts, plus the clock and
//! credentials file the options point at.
#![cfg(test)]
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::path::PathBuf;

use m4_auth_config::Secret;
use m4_auth_testkit::idp::matchers::{method, path};
use m4_auth_testkit::idp::{Idp, Mock, Respond};
pub use m4_auth_testkit::idp::{Request, ResponseTemplate, oauth_error, redirect, token_answer};
use m4_auth_token::{ManualClock, TokenOptions};
use serde_json::Value;

pub struct Provider {
    idp: Idp,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
}

impl Provider {
    /// A provider whose discovery document names the token, device and revocation
    /// endpoints, plus `extra` members (a `null` member removes one).
    pub fn start(extra: Value) -> Self {
        let idp = Idp::start();
        idp.oauth_discovery(extra);
        Self {
            idp,
            dir: tempfile::tempdir().unwrap(),
            clock: ManualClock::new(),
        }
    }

    pub fn issuer(&self) -> String {
        self.idp.uri()
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.dir.path().join("m4").join("credentials.json")
    }

    /// Options for this provider: audience m4-api, scope read:mimic-data, public client
    /// `m4-cli`, the test's clock and credentials file, a 2 s timeout.
    pub fn options(&self) -> TokenOptions {
        TokenOptions::new(self.issuer(), self.credentials_path())
            .audience("m4-api")
            .scopes(["read:mimic-data"])
            .client_id("m4-cli")
            .http_timeout(std::time::Duration::from_secs(2))
            .clock(self.clock.clone())
    }

    /// The options with a client secret.
    pub fn confidential(&self) -> TokenOptions {
        self.options()
            .client_id("m4 service:1")
            .client_secret(Secret::new("s3cr/t+é"))
    }

    /// POST `at` answered by `responder`.
    pub fn on_post(&self, at: &str, responder: impl Respond + 'static) {
        self.idp.serve_post(at, responder);
    }

    /// POST `at` answered by `responder` `times` times, before later mounts.
    pub fn on_post_times(&self, at: &str, times: u64, responder: impl Respond + 'static) {
        self.idp.mount(
            Mock::given(method("POST"))
                .and(path(at))
                .respond_with(responder)
                .up_to_n_times(times),
        );
    }

    /// Every POST received at `at`, in order.
    pub fn posts(&self, at: &str) -> Vec<Request> {
        self.idp.posts(at)
    }
}

/// A form body as pairs (decoded).
pub fn form(request: &Request) -> Vec<(String, String)> {
    let text = String::from_utf8(request.body.clone()).unwrap();
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The value of `name` in the form, if any.
pub fn field(request: &Request, name: &str) -> Option<String> {
    form(request)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}
