//! The reference MCP server (`m4_mcp_server`, an example of m4-auth-http) as a real process,
//! the dev issuer that mints its tokens, rmcp's client, and hand-written JSON-RPC over HTTP.
//!
//! The example is built once per test process by `cli_common::build` (cargo, target directory
//! and profile of the running test), then started per scenario with a clean environment.
//! Readiness is the server's first stdout line, `listening on http://127.0.0.1:PORT/mcp`;
//! nothing sleeps. Every wait is bounded, and the process is killed when the test ends.
#![cfg(test)]
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::Duration;

use m4_auth_cli::dev_issuer::{DevIssuer, DevIssuerOptions, MintRequest};
use rmcp::model::{CallToolRequestParams, CallToolResult, ClientConfig, ProtocolVersion};
use rmcp::service::{ClientInitializeError, RoleClient, RunningService, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::{
    AuthRequiredError, HttpStatusError, InsufficientScopeError,
    StreamableHttpClientTransportConfig, StreamableHttpError,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};

use crate::cli_common;

/// How long a server may take to print its address (a loaded machine, a cold JWKS is not
/// involved: the server fetches nothing at start-up).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one MCP exchange may take; generous, never reached when things work.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The built `m4_mcp_server` example.
pub fn server_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| cli_common::build("m4-auth-http", "--example", "m4_mcp_server"))
}

/// A throw-away HOME, shared by the processes of this test binary.
fn home() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().expect("temporary HOME"))
        .path()
}

/// The example with a clean environment plus `env`, and `args`.
pub fn command(env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = cli_common::clean_command(server_binary(), home(), args);
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// A dev issuer on 127.0.0.1 with the default audience (`m4-api`).
pub fn issuer() -> DevIssuer {
    DevIssuer::start(DevIssuerOptions::default()).expect("dev issuer")
}

/// The issuer's `M4_OAUTH2_*` settings plus `extra`.
pub fn env(issuer: &DevIssuer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    cli_common::with_vars(issuer.env(), extra)
}

/// A valid token for `sub` with `scopes`.
pub fn token(issuer: &DevIssuer, sub: &str, scopes: &[&str]) -> String {
    mint(
        issuer,
        &MintRequest {
            sub: sub.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            ..MintRequest::default()
        },
    )
}

/// A token as `request` says.
pub fn mint(issuer: &DevIssuer, request: &MintRequest) -> String {
    issuer.mint(request).expect("minting a token")
}

/// A running `m4_mcp_server --http 127.0.0.1:0`, killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT/mcp`, from the first stdout line.
    pub url: String,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts the server with `env` (on top of a clean environment) and extra `args`.
    pub fn start(env: &[(String, String)], args: &[&str]) -> Server {
        let mut all = vec!["--http", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = command(env, &all)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting m4_mcp_server");
        let stderr = collect(child.stderr.take().expect("piped stderr"));
        let (lines, first) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = lines.send(line);
        });
        let line = first.recv_timeout(START_TIMEOUT).unwrap_or_else(|_| {
            panic!(
                "m4_mcp_server printed no address within {START_TIMEOUT:?}; stderr:\n{}",
                stderr.lock().unwrap()
            )
        });
        let url = line
            .strip_suffix('\n')
            .and_then(|l| l.strip_prefix("listening on "))
            .unwrap_or_else(|| {
                panic!(
                    "first stdout line {line:?}; stderr:\n{}",
                    stderr.lock().unwrap()
                )
            })
            .to_owned();
        let origin = url
            .strip_suffix("/mcp")
            .expect("the endpoint is /mcp")
            .to_owned();
        let port: u16 = origin
            .strip_prefix("http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{url} is not http://127.0.0.1:PORT/mcp"));
        assert_ne!(port, 0, "the real port, not the requested 0");
        Server {
            child,
            url,
            origin,
            stderr,
        }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `pipe` to its end on a thread, into the returned buffer.
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buffer = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&buffer);
    std::thread::spawn(move || {
        let mut chunk = [0_u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut chunk) {
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buffer
}

/// Runs the example to its exit (bounded); returns the status, stdout and stderr.
pub fn run_to_exit(env: &[(String, String)], args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = command(env, args);
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || done.send(command.output()));
    let output = output
        .recv_timeout(START_TIMEOUT)
        .unwrap_or_else(|_| panic!("m4_mcp_server {args:?} did not exit within {START_TIMEOUT:?}"))
        .expect("running m4_mcp_server");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (output.status, text(output.stdout), text(output.stderr))
}

/// The protocol era a client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-11-25: `initialize`, `notifications/initialized`, a session, a GET stream.
    Sessions,
    /// 2026-07-28: sessionless, a `server/discover` probe, `Mcp-Method`/`Mcp-Name` headers.
    Sessionless,
}

pub const ERAS: [Era; 2] = [Era::Sessions, Era::Sessionless];

/// An rmcp client session.
pub type Client = RunningService<RoleClient, ClientConfig>;

/// rmcp's streamable HTTP client over loopback, with `token` in the `Authorization` header;
/// `Err` when start-up failed.
pub async fn try_connect(
    url: &str,
    token: Option<&str>,
    era: Era,
) -> Result<Client, ClientInitializeError> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    // No proxy: every request stays on loopback whatever the environment says.
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("reqwest client");
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let lifecycle = match era {
        Era::Sessions => ClientLifecycleMode::Initialize,
        Era::Sessionless => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    };
    let client = tokio::time::timeout(
        CALL_TIMEOUT,
        ClientConfig::default().serve_with_lifecycle(transport, lifecycle),
    )
    .await
    .expect("MCP start-up timed out")?;
    let negotiated = client.peer_info().map(|info| info.protocol_version.clone());
    let expected = match era {
        Era::Sessions => ProtocolVersion::V_2025_11_25,
        Era::Sessionless => ProtocolVersion::V_2026_07_28,
    };
    assert_eq!(negotiated, Some(expected), "{era:?}");
    Ok(client)
}

/// [`try_connect`] that must succeed.
pub async fn connect(url: &str, token: Option<&str>, era: Era) -> Client {
    try_connect(url, token, era)
        .await
        .unwrap_or_else(|err| panic!("{era:?} start-up: {err}"))
}

/// Calls `tool` with `arguments`.
pub async fn call(
    client: &Client,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if let Value::Object(arguments) = arguments {
        params = params.with_arguments(arguments);
    }
    tokio::time::timeout(CALL_TIMEOUT, client.call_tool(params))
        .await
        .expect("tools/call timed out")
}

/// The text of a tool result with one text block, and whether it is an error.
pub fn text(result: &CallToolResult) -> (String, bool) {
    let texts: Vec<&str> = result
        .content
        .iter()
        .filter_map(|block| block.as_text().map(|t| t.text.as_str()))
        .collect();
    assert_eq!(texts.len(), 1, "one text block: {result:?}");
    (texts[0].to_owned(), result.is_error.unwrap_or(false))
}

/// `whoami`'s answer, parsed.
pub async fn whoami(client: &Client) -> Value {
    let result = call(client, "whoami", json!({})).await.expect("whoami");
    let (text, is_error) = text(&result);
    assert!(!is_error, "{text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{text}: {err}"))
}

/// What the HTTP layer answered when rmcp's transport refused a response.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 401 with this `WWW-Authenticate`.
    Unauthorized(String),
    /// 403 with this `WWW-Authenticate`.
    Forbidden(String),
    /// Another status (429, 5xx) with its `Retry-After`.
    Status(u16, Option<String>),
}

/// The HTTP refusal behind an rmcp error, found along its `source()` chain.
pub fn refusal(error: &(dyn std::error::Error + 'static)) -> Option<Refusal> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(e) = current.downcast_ref::<AuthRequiredError>() {
            return Some(Refusal::Unauthorized(e.www_authenticate_header.clone()));
        }
        if let Some(e) = current.downcast_ref::<InsufficientScopeError>() {
            return Some(Refusal::Forbidden(e.www_authenticate_header.clone()));
        }
        // `StreamableHttpError::HttpStatus` is `#[error(transparent)]`: its source skips the
        // HttpStatusError, so look inside the transport's own error type too.
        let status =
            current.downcast_ref::<HttpStatusError>().or_else(|| {
                match current.downcast_ref::<StreamableHttpError<reqwest::Error>>() {
                    Some(StreamableHttpError::HttpStatus(e)) => Some(e),
                    _ => None,
                }
            });
        if let Some(e) = status {
            return Some(Refusal::Status(e.status, e.retry_after.clone()));
        }
        source = current.source();
    }
    None
}

/// Starts rmcp's client as [`try_connect`] does; the HTTP refusal that must stop it.
pub async fn refused_startup(url: &str, token: Option<&str>, era: Era) -> Refusal {
    match try_connect(url, token, era).await {
        Ok(_) => panic!("{era:?}: start-up succeeded; expected a refusal"),
        Err(error) => startup_refusal(&error),
    }
}

/// The refusal that made start-up fail.
pub fn startup_refusal(error: &ClientInitializeError) -> Refusal {
    let inner: &(dyn std::error::Error + 'static) = match error {
        ClientInitializeError::TransportError { error, .. } => error.error.as_ref(),
        other => panic!("not a transport refusal: {other}"),
    };
    refusal(inner).unwrap_or_else(|| panic!("no HTTP refusal in {error}"))
}

/// The refusal that made a request fail.
pub fn call_refusal(error: &ServiceError) -> Refusal {
    let ServiceError::TransportSend(error) = error else {
        panic!("not a transport refusal: {error}");
    };
    refusal(error.error.as_ref()).unwrap_or_else(|| panic!("no HTTP refusal in {error}"))
}

/// The value of `name="value"` in a challenge.
pub fn param(challenge: &str, name: &str) -> Option<String> {
    let start = challenge.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = &challenge[start..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// A blocking HTTP client for hand-written requests: loopback, no proxy, statuses as values.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(CALL_TIMEOUT))
        .build()
        .into()
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: ureq::http::HeaderMap,
    pub body: String,
}

impl Answer {
    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    /// The JSON-RPC message in the body, whether sent as JSON or as an SSE stream.
    pub fn message(&self) -> Value {
        if self
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("text/event-stream"))
        {
            let data = self
                .body
                .lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .map(str::trim)
                .find(|data| data.contains("\"jsonrpc\""))
                .unwrap_or_else(|| panic!("no JSON-RPC event in {}", self.body));
            serde_json::from_str(data).unwrap()
        } else {
            self.json()
        }
    }
}

/// `GET url`.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(request.call().unwrap_or_else(|e| panic!("GET {url}: {e}")))
}

/// Opens the 2025-11-25 GET stream and closes it unread: its status and content type.
pub fn open_stream(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let mut request = agent().get(url).header("accept", "text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), content_type)
}

/// `POST url` with a JSON body.
pub fn post(url: &str, headers: &[(&str, &str)], body: &Value) -> Answer {
    let mut request = agent()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    answer(
        request
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {url}: {e}")),
    )
}

fn answer(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// The `_meta` a 2026-07-28 request carries.
pub fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "hand-written", "version": "1.0.0"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}
