//! Shared helpers for the m4-auth-http tests: real tokens signed with the committed fixture
//! keys (the testkit's `tokens`: jsonwebtoken, an independent producer), an echo service
//! standing for the MCP service, and request/answer plumbing.
#![cfg(test)]
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use m4_auth::{AuthConfig, Authenticator, ManualClock, Principal};
use m4_auth_http::McpAuth;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const ISSUER: &str = "https://idp.example.com/";
pub const RESOURCE: &str = "https://m4.example.org/mcp";
pub const AUDIENCE: &str = RESOURCE;
pub const SCOPE: &str = "read:mimic-data";
/// The manual clock's start, in Unix seconds.
pub const NOW: i64 = 1_700_000_000;

/// Good claims for `sub` with `scope`: our issuer and audience, an hour to live.
pub fn claims(sub: &str, scope: &str) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": scope,
        "iat": NOW,
        "exp": NOW + 3600,
    })
}

/// A token signed by the RSA fixture `key` (`rsa-2048`, `rsa-2048-b`) with `kid` = `key`.
pub use m4_auth_testkit::tokens::sign;

/// A good token for `sub` with the required scope plus `extra` scopes.
pub fn token(sub: &str, extra: &[&str]) -> String {
    let mut scope = SCOPE.to_owned();
    for s in extra {
        scope.push(' ');
        scope.push_str(s);
    }
    sign("rsa-2048", &claims(sub, &scope))
}

/// An enabled configuration plus `extra` variables.
pub fn config(extra: &[(&str, &str)]) -> AuthConfig {
    let mut vars = vec![
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", ISSUER),
        ("M4_OAUTH2_AUDIENCE", AUDIENCE),
        ("M4_OAUTH2_RESOURCE_URL", RESOURCE),
    ];
    vars.extend_from_slice(extra);
    AuthConfig::from_vars(vars).unwrap().config
}

/// An authenticator over the pinned fixture keys, with a manual clock at [`NOW`].
pub fn authenticator(extra: &[(&str, &str)]) -> (Arc<Authenticator>, ManualClock) {
    let clock = ManualClock::new(NOW as u64);
    let keys =
        m4_auth::jwt::JwkSet::from_json(m4_auth_testkit::keys::jwks_json().as_bytes()).unwrap();
    let auth = Authenticator::builder(config(extra))
        .clock(clock.clone())
        .pinned_keys(keys)
        .build()
        .unwrap();
    (Arc::new(auth), clock)
}

/// The gate over [`authenticator`], with `execute_query` needing `write:cohorts`.
pub fn gate(extra: &[(&str, &str)]) -> McpAuth {
    let (auth, _clock) = authenticator(extra);
    McpAuth::builder(auth)
        .tool_scopes("execute_query", ["write:cohorts"])
        .build()
        .unwrap()
}

/// The stand-in MCP service: answers 200 with the request body unchanged, the caller's `sub`
/// in `x-sub` and scopes in `x-scopes`.
#[derive(Clone, Copy, Debug)]
pub struct Echo;

impl tower::Service<Request<Full<Bytes>>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Full<Bytes>>) -> Self::Future {
        Box::pin(async move {
            let principal = req.extensions().get::<Principal>().cloned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let mut response = Response::new(Full::new(body));
            if let Some(p) = principal {
                let scopes: Vec<&str> = p.scopes().iter().map(String::as_str).collect();
                let headers = response.headers_mut();
                headers.insert("x-sub", p.sub().parse().unwrap());
                headers.insert("x-scopes", scopes.join(" ").parse().unwrap());
            }
            Ok(response)
        })
    }
}

/// The gate in front of [`Echo`].
pub fn gated(gate: &McpAuth) -> m4_auth_http::AuthService<Echo> {
    tower_layer::Layer::layer(&gate.layer(), Echo)
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// Status, the headers that matter and the body, for snapshots.
    pub fn show(&self) -> String {
        let mut out = format!("{}\n", self.status);
        let mut names: Vec<&str> = self.headers.keys().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            for value in self.headers.get_all(name) {
                out.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
            }
        }
        out.push('\n');
        out.push_str(&self.body);
        out
    }
}

/// Sends `req` through `svc` once.
pub async fn send<S, B>(svc: S, req: Request<B>) -> Answer
where
    S: tower::Service<Request<B>, Response = Response<m4_auth_http::GateBody<Full<Bytes>>>>,
    S::Error: std::fmt::Debug,
{
    let response = svc.oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

/// A JSON-RPC request body.
pub fn rpc(method: &str, params: &Value) -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string()
}

/// A `tools/call` body for `tool`.
pub fn call(tool: &str) -> String {
    rpc("tools/call", &json!({"name": tool, "arguments": {}}))
}

/// A POST to `/mcp` with `body`, the token (when given) and extra headers.
pub fn post(token: Option<&str>, body: &str, headers: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let mut builder = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::from(body.to_owned())))
        .unwrap()
}

/// A request body that yields `chunks` one frame at a time, with no size hint: a client
/// streaming without `Content-Length`.
pub struct Chunks(pub std::collections::VecDeque<Bytes>);

impl http_body::Body for Chunks {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|c| Ok(http_body::Frame::data(c))))
    }
}

/// A request body the gate must not finish reading.
pub enum Unread {
    /// Fails the test if anything reads it (a `Content-Length` over the limit).
    Untouchable,
    /// Never yields a frame: a client that sent its headers and stalls.
    Stalled,
}

impl http_body::Body for Unread {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        match *self {
            Unread::Untouchable => {
                panic!("the body was read although Content-Length was over the limit")
            }
            Unread::Stalled => std::task::Poll::Pending,
        }
    }
}
