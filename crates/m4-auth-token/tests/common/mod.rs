//! A provider on loopback for the token client's tests: a wiremock server with its own tokio
//! runtime (the code under test stays blocking), serving a discovery document and whatever
//! token endpoint answers a test mounts.
#![cfg(test)]
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

use m4_auth_config::Secret;
use m4_auth_token::{ManualClock, TokenOptions};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub struct Provider {
    rt: tokio::runtime::Runtime,
    server: MockServer,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
}

impl Provider {
    /// A provider whose discovery document names the token, device and revocation
    /// endpoints, plus `extra` members.
    pub fn start(extra: Value) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        let provider = Self {
            rt,
            server,
            dir: tempfile::tempdir().unwrap(),
            clock: ManualClock::new(),
        };
        let uri = provider.issuer();
        let mut doc = json!({
            "issuer": uri,
            "jwks_uri": format!("{uri}/jwks"),
            "token_endpoint": format!("{uri}/token"),
            "device_authorization_endpoint": format!("{uri}/device"),
            "revocation_endpoint": format!("{uri}/revoke"),
        });
        if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
            for (k, v) in extra {
                if v.is_null() {
                    doc.remove(&k);
                } else {
                    doc.insert(k, v);
                }
            }
        }
        provider.mount(
            Mock::given(method("GET"))
                .and(path("/.well-known/openid-configuration"))
                .respond_with(ResponseTemplate::new(200).set_body_json(doc)),
        );
        provider
    }

    pub fn issuer(&self) -> String {
        self.server.uri()
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

    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    /// POST `at` answered by `responder`.
    pub fn on_post(&self, at: &str, responder: impl Respond + 'static) {
        self.mount(
            Mock::given(method("POST"))
                .and(path(at))
                .respond_with(responder),
        );
    }

    /// POST `at` answered by `responder` `times` times, before later mounts.
    pub fn on_post_times(&self, at: &str, times: u64, responder: impl Respond + 'static) {
        self.mount(
            Mock::given(method("POST"))
                .and(path(at))
                .respond_with(responder)
                .up_to_n_times(times),
        );
    }

    /// Every POST received at `at`, in order.
    pub fn posts(&self, at: &str) -> Vec<Request> {
        self.rt
            .block_on(self.server.received_requests())
            .unwrap()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == at)
            .collect()
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

/// A token answer.
pub fn token_json(access: &str, expires_in: u64, refresh: Option<&str>) -> ResponseTemplate {
    let mut body =
        json!({"access_token": access, "token_type": "Bearer", "expires_in": expires_in});
    if let Some(refresh) = refresh {
        body["refresh_token"] = json!(refresh);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// An OAuth error answer.
pub fn oauth_error(status: u16, error: &str, description: Option<&str>) -> ResponseTemplate {
    let mut body = json!({"error": error});
    if let Some(d) = description {
        body["error_description"] = json!(d);
    }
    ResponseTemplate::new(status).set_body_json(body)
}
