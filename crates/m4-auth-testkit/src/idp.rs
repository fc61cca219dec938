//! A fake identity provider on loopback: a wiremock server on 127.0.0.1 with its own tokio
//! runtime, so the code under test stays blocking on the test thread (or runs as a child
//! process), plus the answers tests need from it: documents, outages, hangs, garbage,
//! oversized bodies, redirects, and a [`Switch`] to change an answer mid-scenario without
//! losing the request counts.
//!
//! ```
//! use m4_auth_testkit::idp::{self, Idp};
//!
//! let idp = Idp::start();
//! let issuer = idp.discovery("/realms/m4", "/certs");
//! idp.serve_jwks("/certs", &["ec-p256"]);
//! assert_eq!(issuer, idp.url("/realms/m4"));
//! assert_eq!(idp.hits("/certs"), 0);
//! assert!(idp::closed_port_url().starts_with("http://127.0.0."));
//! ```

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::MockServer;
use wiremock::matchers::{body_string_contains, method, path};

pub use wiremock::{Mock, Request, Respond, ResponseTemplate, matchers};

/// A wiremock server on 127.0.0.1 and the runtime that drives it; both stop on drop.
pub struct Idp {
    rt: tokio::runtime::Runtime,
    server: MockServer,
}

impl Idp {
    /// An empty provider: nothing mounted, so every path answers 404.
    pub fn start() -> Idp {
        // Two workers: a hung or slow answer is a timer, never a blocked worker, but a test
        // that fires concurrent requests should not queue them behind one thread.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("start the identity provider's tokio runtime");
        let server = rt.block_on(MockServer::start());
        Idp { rt, server }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// `http://127.0.0.1:PORT{at}`.
    pub fn url(&self, at: &str) -> String {
        format!("{}{at}", self.server.uri())
    }

    /// Answers `GET at` with `responder` (a [`ResponseTemplate`], a [`Switch`], any
    /// [`Respond`]). A later mount for the same path does not override an earlier one: use a
    /// [`Switch`], or [`reset`](Self::reset) and mount again.
    pub fn serve(&self, at: &str, responder: impl Respond + 'static) {
        self.serve_method("GET", at, responder);
    }

    /// Answers `POST at` with `responder` (a token or revocation endpoint), as
    /// [`serve`](Self::serve) does for `GET`.
    pub fn serve_post(&self, at: &str, responder: impl Respond + 'static) {
        self.serve_method("POST", at, responder);
    }

    /// Answers `POST at` with `responder` only when the request body contains `contains` (a
    /// token endpoint answering one grant: `grant_type=refresh_token`, `refresh_token=rt-1`);
    /// any other POST there falls through to a later mount, or 404.
    pub fn serve_post_containing(
        &self,
        at: &str,
        contains: &str,
        responder: impl Respond + 'static,
    ) {
        self.mount(
            Mock::given(method("POST"))
                .and(path(at))
                .and(body_string_contains(contains))
                .respond_with(responder),
        );
    }

    /// Mounts any wiremock `mock` (a matcher or an answer limit the helpers above do not
    /// offer), in the provider's runtime.
    pub fn mount(&self, mock: Mock) {
        self.rt.block_on(mock.mount(&self.server));
    }

    fn serve_method(&self, verb: &str, at: &str, responder: impl Respond + 'static) {
        self.mount(
            Mock::given(method(verb))
                .and(path(at))
                .respond_with(responder),
        );
    }

    /// Serves `{"keys":[...]}` of the named fixture keys at `at` ([`crate::keys::jwks`]).
    pub fn serve_jwks(&self, at: &str, names: &[&str]) {
        self.serve(at, json_body(&crate::keys::jwks(names)));
    }

    /// Serves the OIDC discovery document of the issuer `uri + issuer_path` at
    /// `{issuer_path without trailing slash}/.well-known/openid-configuration`, naming
    /// `uri + jwks_path` as its `jwks_uri`. Returns the issuer.
    pub fn discovery(&self, issuer_path: &str, jwks_path: &str) -> String {
        let issuer = self.url(issuer_path);
        self.serve(
            &format!(
                "{}/.well-known/openid-configuration",
                issuer_path.trim_end_matches('/')
            ),
            discovery_document(&issuer, &self.url(jwks_path)),
        );
        issuer
    }

    /// Serves the discovery document of an OAuth provider whose issuer is [`uri`](Self::uri),
    /// at `/.well-known/openid-configuration`: `jwks_uri` at `/jwks`, `token_endpoint` at
    /// `/token`, `device_authorization_endpoint` at `/device` and `revocation_endpoint` at
    /// `/revoke`, with the members of `changes` set (a `null` change removes the member, as in
    /// [`crate::tokens::merged`]). Mounts no endpoint. Returns the issuer.
    ///
    /// ```
    /// use m4_auth_testkit::idp::{self, Idp};
    /// use serde_json::json;
    ///
    /// let idp = Idp::start();
    /// let issuer = idp.oauth_discovery(json!({"revocation_endpoint": null}));
    /// idp.serve_post_containing("/token", "grant_type=client_credentials", idp::token_answer("at-1", 3600, None));
    /// assert_eq!(issuer, idp.uri());
    /// assert!(idp.posts("/token").is_empty());
    /// ```
    pub fn oauth_discovery(&self, changes: Value) -> String {
        let issuer = self.uri();
        let document = json!({
            "issuer": issuer,
            "jwks_uri": self.url("/jwks"),
            "token_endpoint": self.url("/token"),
            "device_authorization_endpoint": self.url("/device"),
            "revocation_endpoint": self.url("/revoke"),
        });
        self.serve(
            "/.well-known/openid-configuration",
            ResponseTemplate::new(200).set_body_json(crate::tokens::merged(&document, changes)),
        );
        issuer
    }

    /// Forgets every mount and every recorded request.
    pub fn reset(&self) {
        self.rt.block_on(self.server.reset());
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.rt
            .block_on(self.server.received_requests())
            .expect("wiremock records requests by default")
    }

    /// The paths of every request received so far, in order.
    pub fn paths(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect()
    }

    /// Every `POST` request to `at` so far, in order (a token endpoint's form bodies are in
    /// `body`).
    pub fn posts(&self, at: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path() == at)
            .collect()
    }

    /// How many requests (any method) reached `at` so far.
    pub fn hits(&self, at: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.url.path() == at)
            .count()
    }

    /// Waits until `at` has seen at least `count` requests; fails the test after `limit`.
    #[track_caller]
    pub fn await_hits(&self, at: &str, count: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.hits(at) < count {
            assert!(
                Instant::now() < deadline,
                "{at} saw {} requests, expected {count} within {limit:?}",
                self.hits(at)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A response the test can change while the provider runs (an outage, a rotation), without
/// resetting the provider's request counts.
///
/// ```
/// use m4_auth_testkit::idp::{Switch, ResponseTemplate};
/// let keys = Switch::new(m4_auth_testkit::idp::json_body("{}"));
/// keys.set(ResponseTemplate::new(503));
/// ```
#[derive(Clone)]
pub struct Switch(Arc<Mutex<ResponseTemplate>>);

impl Switch {
    /// A switch answering `initial` until [`set`](Self::set) is called.
    pub fn new(initial: ResponseTemplate) -> Switch {
        Switch(Arc::new(Mutex::new(initial)))
    }

    /// From now on, answer with `response`.
    pub fn set(&self, response: ResponseTemplate) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = response;
    }
}

impl Respond for Switch {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A `200 application/json` response with exactly `body`.
pub fn json_body(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// A `200` discovery document naming `issuer` and `jwks_uri` (and the algorithms a provider
/// typically lists).
pub fn discovery_document(issuer: &str, jwks_uri: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

/// A token endpoint's `200` answer: `access_token`, `token_type` `Bearer`, `expires_in` and,
/// when given, `refresh_token`.
///
/// ```
/// let answer = m4_auth_testkit::idp::token_answer("at-1", 3600, Some("rt-2"));
/// # let _ = answer;
/// ```
pub fn token_answer(
    access_token: &str,
    expires_in: u64,
    refresh_token: Option<&str>,
) -> ResponseTemplate {
    let body =
        json!({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in});
    // A `null` (no refresh token) leaves the member out.
    let body = crate::tokens::merged(&body, json!({ "refresh_token": refresh_token }));
    ResponseTemplate::new(200).set_body_json(body)
}

/// An OAuth error answer (RFC 6749 section 5.2) with this status: `error` and, when given,
/// `error_description`.
pub fn oauth_error(status: u16, error: &str, description: Option<&str>) -> ResponseTemplate {
    let body = crate::tokens::merged(
        &json!({ "error": error }),
        json!({ "error_description": description }),
    );
    ResponseTemplate::new(status).set_body_json(body)
}

/// An answer with this status and no body (an outage when 5xx).
pub fn status(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code)
}

/// A `302` redirect to `location` (relative or absolute).
pub fn redirect(location: &str) -> ResponseTemplate {
    ResponseTemplate::new(302).insert_header("location", location)
}

/// `200 application/json` whose body is not JSON: a maintenance page.
pub fn garbage() -> ResponseTemplate {
    json_body("<html>maintenance</html>")
}

/// `200 application/json` of `body` padded with spaces to exactly `len` bytes (still the same
/// JSON), to probe a body-size limit from either side.
#[track_caller]
pub fn padded_json(body: &str, len: usize) -> ResponseTemplate {
    assert!(body.len() <= len, "the body is already over {len} bytes");
    let mut bytes = body.as_bytes().to_vec();
    bytes.resize(len, b' ');
    ResponseTemplate::new(200).set_body_raw(bytes, "application/json")
}

/// `response`, sent only after `delay` (slow when under the client's timeout, hung when over).
pub fn delayed(response: ResponseTemplate, delay: Duration) -> ResponseTemplate {
    response.set_delay(delay)
}

/// A loopback URL on which nothing listens (connection refused): [`closed_addr`](crate::closed_addr).
pub fn closed_port_url() -> String {
    format!("http://{}", crate::closed_addr())
}
