//! The facade behind a real HTTP transport on loopback (tiny_http), the way an HTTP MCP server
//! uses it: `authenticate_header` on each request, the status, `WWW-Authenticate` and
//! `Retry-After` from the error, and the RFC 9728 metadata document at its well-known URL.
//! Every exchange is snapshotted.
#![cfg(test)]

mod facade_support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use facade_support::*;
use m4_auth::{Authenticator, ManualClock, ProtectedResource};
use m4_auth_testkit::idp::closed_port_url;
use m4_auth_testkit::keys::jwks;
use serde_json::json;

const ISSUER: &str = "https://idp.example.com/";

/// An MCP-style HTTP server: `/mcp` needs a token, the metadata is public.
struct Server {
    addr: SocketAddr,
    server: std::sync::Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(auth: Authenticator, resource_path: &str) -> Self {
        let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let resource = auth
            .protected_resource(&format!("http://{addr}{resource_path}"))
            .unwrap()
            .with_realm("m4")
            .with_resource_name("M4 MIMIC-IV");
        let handle = server.clone();
        let thread = std::thread::spawn(move || {
            for request in handle.incoming_requests() {
                respond(&auth, &resource, request);
            }
        });
        Self {
            addr,
            server,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap()
}

/// The transport's whole authentication code.
fn respond(auth: &Authenticator, resource: &ProtectedResource, request: tiny_http::Request) {
    if request.url() == resource.metadata_path() {
        let body = resource.metadata().to_string();
        let response = tiny_http::Response::from_string(body)
            .with_header(header("Content-Type", "application/json"));
        request.respond(response).unwrap();
        return;
    }
    let authorization = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let response = match auth.authenticate_header(authorization.as_deref()) {
        Ok(principal) => tiny_http::Response::from_string(format!("hello {}", principal.sub())),
        Err(err) => {
            let mut response = tiny_http::Response::from_string(
                json!({"error": err.code(), "message": err.message()}).to_string(),
            )
            .with_status_code(err.http_status())
            .with_header(header("Content-Type", "application/json"));
            if let Some(challenge) = err.www_authenticate(Some(resource)) {
                response = response.with_header(header("WWW-Authenticate", &challenge));
            }
            if let Some(secs) = err.retry_after() {
                response = response.with_header(header("Retry-After", &secs.to_string()));
            }
            response
        }
    };
    request.respond(response).unwrap();
}

/// Sends one request over a fresh connection; returns the status line, the headers that matter
/// here, and the body, as text for a snapshot.
fn exchange(addr: SocketAddr, method: &str, path: &str, authorization: Option<&str>) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("Content-Length: 0\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let mut out = lines.next().unwrap().to_owned();
    for line in lines {
        let (name, value) = line.split_once(':').unwrap();
        let name = name.to_ascii_lowercase();
        if ["www-authenticate", "retry-after", "content-type"].contains(&name.as_str()) {
            out.push_str(&format!("\n{name}: {}", value.trim()));
        }
    }
    // JSON bodies with their keys sorted, whatever serde_json's `preserve_order` feature says.
    let body = match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(body) {
        Ok(map) => serde_json::to_string(&map).unwrap(),
        Err(_) => body.to_owned(),
    };
    let addr = addr.to_string();
    format!("{out}\n\n{body}").replace(&addr, "127.0.0.1:PORT")
}

fn pinned_authenticator(extra: &[(&str, &str)]) -> (Authenticator, ManualClock) {
    let clock = ManualClock::new(NOW as u64);
    let keys = m4_auth::jwt::JwkSet::from_json(jwks(&["rsa-2048", "ec-p256"]).as_bytes()).unwrap();
    let auth = Authenticator::builder(config(ISSUER, extra))
        .clock(clock.clone())
        .pinned_keys(keys)
        .build()
        .unwrap();
    (auth, clock)
}

#[test]
fn http_mapping_and_challenges() {
    let (auth, _clock) = pinned_authenticator(&[
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2"),
        ("M4_OAUTH2_RATE_LIMIT_WINDOW", "600"),
        ("M4_OAUTH2_REQUIRED_SCOPES", "read:mimic-data"),
    ]);
    let server = Server::start(auth, "/mcp");
    let good = sign("rsa-2048", &claims(ISSUER, "alice"));
    let mut expired = claims(ISSUER, "alice");
    expired["exp"] = json!(NOW - 3600);
    let mut no_scope = claims(ISSUER, "alice");
    no_scope["scope"] = json!("openid profile");
    let mut other_aud = claims(ISSUER, "alice");
    other_aud["aud"] = json!("someone-else");

    let cases: Vec<(&str, &str, String)> = vec![
        (
            "metadata document",
            "/.well-known/oauth-protected-resource/mcp",
            String::new(),
        ),
        ("no Authorization header", "/mcp", String::new()),
        ("Bearer with nothing", "/mcp", "Bearer".to_owned()),
        ("another scheme", "/mcp", "Basic dXNlcjpwYXNz".to_owned()),
        ("not a JWT", "/mcp", "Bearer not-a-jwt".to_owned()),
        (
            "expired",
            "/mcp",
            format!("Bearer {}", sign("rsa-2048", &expired)),
        ),
        (
            "wrong audience",
            "/mcp",
            format!("Bearer {}", sign("ec-p256", &other_aud)),
        ),
        (
            "unknown kid",
            "/mcp",
            format!("Bearer {}", sign("rsa-2048-b", &claims(ISSUER, "alice"))),
        ),
        (
            "missing scope",
            "/mcp",
            format!("Bearer {}", sign("ec-p256", &no_scope)),
        ),
        (
            "valid, scheme in lower case",
            "/mcp",
            format!("bearer {good}"),
        ),
        ("valid again (cache hit)", "/mcp", format!("Bearer {good}")),
        ("rate limited", "/mcp", format!("Bearer {good}")),
    ];
    let mut transcript = String::new();
    for (name, path, authorization) in &cases {
        let authorization = (!authorization.is_empty()).then_some(authorization.as_str());
        let method = if path.starts_with("/.well-known") {
            "GET"
        } else {
            "POST"
        };
        transcript.push_str(&format!(
            "=== {name}\n{}\n\n",
            exchange(server.addr, method, path, authorization)
        ));
    }
    insta::assert_snapshot!(transcript);
}

#[test]
fn jwks_unavailable_is_503_without_a_challenge() {
    let dead = closed_port_url();
    let auth = Authenticator::new(config(
        ISSUER,
        &[("M4_OAUTH2_JWKS_URL", &format!("{dead}/certs"))],
    ))
    .unwrap();
    let server = Server::start(auth, "/mcp");
    let token = sign("rsa-2048", &claims(ISSUER, "alice"));
    let response = exchange(
        server.addr,
        "POST",
        "/mcp",
        Some(&format!("Bearer {token}")),
    );
    let response = response.replace(&dead, "http://127.0.0.1:DEAD");
    insta::assert_snapshot!(response);
}
