//! What the gate costs per request, against the same inner service ungated:
//!
//! - `echo_ungated` / `echo_gated`: a `tools/call` through a trivial tower service, without
//!   and with the layer (a cached token, the in-memory rate limiter charged, the body read and
//!   parsed): the difference is the layer's own cost;
//! - `rmcp_ungated` / `rmcp_gated`: the same `tools/call` through rmcp's
//!   `StreamableHttpService` (stateless, JSON responses), in process with tower's `oneshot`
//!   (no HTTP, no socket): the MCP service's own work with and without the gate;
//! - `http_ungated` / `http_gated`: the same `tools/call` with the headers and body an MCP
//!   client sends, posted by a bare HTTP client (reqwest, the body prebuilt: no client-side MCP
//!   work), a round trip over a kept-alive loopback HTTP/1.1 connection to axum serving rmcp,
//!   on a server thread of its own;
//! - `mcp_ungated` / `mcp_gated`: the same `tools/call whoami` made by a real MCP client,
//!   rmcp's (sessionless 2026-07-28, its reqwest transport, the token in its `Authorization`
//!   header for both servers): the round trip as an MCP host sees it, client work included;
//! - two-thread scaling of `echo_gated` (each thread its own current-thread runtime, its own
//!   service and its own user).
//!
//! `cargo bench -p m4-auth-http --bench gate -- --warm-up-time 1 --measurement-time 2`
//!
//! `-- --paired` skips criterion and measures the goal ratios with the paired harness of
//! `m4_auth_testkit::bench` (batches of the two sides alternate, order flipped every pair; the
//! median of the per-pair ratios), printed as `PAIRED <name> <value>` lines, so load from other
//! jobs hits both sides alike. `cargo xtask bench` runs it and gives the verdicts.
//!
//! `-- --repeat CASE:N` runs one case `N` times after the set-up, for profilers (see
//! docs/performance.md).
#![allow(clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use criterion::Criterion;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use m4_auth::{AuthConfig, Authenticator};
use m4_auth_http::{AuthService, McpAuth};
use m4_auth_testkit::{bench, keys, tokens};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{
    CallToolRequestParams, ClientConfig, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;
use tower::ServiceExt;
use tower_layer::Layer;

const ISSUER: &str = "https://idp.example.com/";
const RESOURCE: &str = "http://127.0.0.1:8765/mcp";

/// An access token for this resource, from the `rsa-2048` fixture key.
fn token(sub: &str) -> String {
    let now = tokens::now();
    tokens::sign(
        "rsa-2048",
        &json!({
            "iss": ISSUER, "aud": RESOURCE, "sub": sub, "scope": "read:mimic-data",
            "iat": now, "exp": now + 86_400,
        }),
    )
}

/// The gate: keys pinned (no network), a rate limit out of reach so every call is charged and
/// none refused.
fn gate() -> McpAuth {
    let config = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", ISSUER),
        ("M4_OAUTH2_AUDIENCE", RESOURCE),
        ("M4_OAUTH2_RESOURCE_URL", RESOURCE),
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1000000000"),
    ])
    .expect("bench configuration")
    .config;
    let keys = m4_auth::jwt::JwkSet::from_json(keys::jwks_json().as_bytes()).expect("fixture JWKS");
    let auth = Authenticator::builder(config)
        .pinned_keys(keys)
        .build()
        .expect("authenticator");
    McpAuth::new(Arc::new(auth)).expect("gate")
}

/// A trivial MCP stand-in: 200 with the body's length.
#[derive(Clone, Copy)]
struct Echo;

impl tower::Service<Request<Full<Bytes>>> for Echo {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Full<Bytes>>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Full<Bytes>>) -> Self::Future {
        let n = http_body::Body::size_hint(req.body()).exact().unwrap_or(0);
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(n.to_string())))))
    }
}

#[derive(Debug, Clone)]
struct Bench {
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl Bench {
    #[tool(description = "Who is calling")]
    fn whoami(&self) -> String {
        "someone".to_owned()
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Bench {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }
}

type Rmcp = StreamableHttpService<Bench, LocalSessionManager>;

/// rmcp's streamable HTTP service, stateless with JSON responses (what a 2026-07-28 client
/// talks to).
fn rmcp_service() -> Rmcp {
    let mut config = StreamableHttpServerConfig::default();
    config.legacy_session_mode = false;
    config.json_response = true;
    config.sse_keep_alive = None;
    StreamableHttpService::new(
        || {
            Ok(Bench {
                tool_router: Bench::tool_router(),
            })
        },
        Arc::default(),
        config,
    )
}

/// The body of a 2026-07-28 `tools/call whoami`.
fn call_body() -> Bytes {
    Bytes::from(
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {
                "name": "whoami", "arguments": {},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                    "io.modelcontextprotocol/clientInfo": {"name": "bench", "version": "1"},
                    "io.modelcontextprotocol/clientCapabilities": {}
                }
            }
        })
        .to_string(),
    )
}

/// The headers a 2026-07-28 client sends with a `tools/call whoami`, and the token.
const HEADERS: [(&str, &str); 5] = [
    ("content-type", "application/json"),
    ("accept", "application/json, text/event-stream"),
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
    ("mcp-name", "whoami"),
];

fn call_request(body: &Bytes, bearer: &str) -> Request<Full<Bytes>> {
    let mut builder = Request::post(RESOURCE)
        .header("host", "127.0.0.1:8765")
        .header("authorization", bearer);
    for (name, value) in HEADERS {
        builder = builder.header(name, value);
    }
    builder
        .body(Full::new(body.clone()))
        .expect("a valid request")
}

/// One request through `svc`, body read to the end; returns the status.
async fn once<S, B>(svc: S, req: Request<Full<Bytes>>) -> u16
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = svc.oneshot(req).await.expect("the service answers");
    let status = response.status().as_u16();
    black_box(response.into_body().collect().await.expect("a body"));
    status
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

#[derive(Clone, Copy, Debug)]
enum Case {
    EchoUngated,
    EchoGated,
    RmcpUngated,
    RmcpGated,
    HttpUngated,
    HttpGated,
    McpUngated,
    McpGated,
}

const CASES: [Case; 8] = [
    Case::EchoUngated,
    Case::EchoGated,
    Case::RmcpUngated,
    Case::RmcpGated,
    Case::HttpUngated,
    Case::HttpGated,
    Case::McpUngated,
    Case::McpGated,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::EchoUngated => "echo_ungated",
            Case::EchoGated => "echo_gated",
            Case::RmcpUngated => "rmcp_ungated",
            Case::RmcpGated => "rmcp_gated",
            Case::HttpUngated => "http_ungated",
            Case::HttpGated => "http_gated",
            Case::McpUngated => "mcp_ungated",
            Case::McpGated => "mcp_gated",
        }
    }
}

/// axum serving rmcp ungated and gated on two loopback ports, on a thread of its own (a
/// current-thread runtime, as a small server would run); the addresses.
fn http_servers(gate: &McpAuth) -> [SocketAddr; 2] {
    let gate = gate.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let ungated = axum::Router::new().route_service("/mcp", rmcp_service());
            // The layer wraps the MCP service itself, as the crate's README and docs/mcp.md
            // mount it: axum's `route_layer` would add a boxed service of its own per request
            // to the gated side only, which is axum's cost, not the gate's.
            let gated =
                axum::Router::new().route_service("/mcp", gate.layer().layer(rmcp_service()));
            let mut addrs = Vec::new();
            for app in [ungated, gated] {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a loopback port");
                addrs.push(listener.local_addr().expect("an address"));
                tokio::spawn(async move { axum::serve(listener, app).await });
            }
            let addrs = <[SocketAddr; 2]>::try_from(addrs).expect("two servers");
            tx.send(addrs).expect("the bench waits");
            std::future::pending::<()>().await;
        });
    });
    rx.recv().expect("the servers start")
}

/// What one thread needs to run every case: its runtime, its services, its token, and its
/// HTTP client (one kept-alive connection per server).
struct Lane {
    rt: tokio::runtime::Runtime,
    echo_gated: AuthService<Echo>,
    rmcp: Rmcp,
    rmcp_gated: AuthService<Rmcp>,
    client: reqwest::Client,
    mcp: [McpClient; 2],
    urls: [String; 2],
    body: Bytes,
    bearer: String,
}

impl Lane {
    fn new(gate: &McpAuth, servers: [SocketAddr; 2], sub: &str) -> Self {
        let rmcp = rmcp_service();
        let rt = runtime();
        let token = token(sub);
        let urls = servers.map(|addr| format!("http://{addr}/mcp"));
        let mcp = urls
            .clone()
            .map(|url| rt.block_on(mcp_client(url, token.clone())));
        let lane = Self {
            rt,
            echo_gated: gate.layer().layer(Echo),
            rmcp_gated: gate.layer().layer(rmcp.clone()),
            rmcp,
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("an HTTP client"),
            mcp,
            urls,
            body: call_body(),
            bearer: format!("Bearer {token}"),
        };
        for case in CASES {
            assert_eq!(
                lane.run(case),
                200,
                "{case:?} must succeed before it is timed"
            );
        }
        lane
    }

    fn run(&self, case: Case) -> u16 {
        let req = || call_request(&self.body, &self.bearer);
        self.rt.block_on(async {
            match case {
                Case::EchoUngated => once(Echo, req()).await,
                Case::EchoGated => once(self.echo_gated.clone(), req()).await,
                Case::RmcpUngated => once(self.rmcp.clone(), req()).await,
                Case::RmcpGated => once(self.rmcp_gated.clone(), req()).await,
                Case::HttpUngated => self.post(0).await,
                Case::HttpGated => self.post(1).await,
                Case::McpUngated => self.call_tool(0).await,
                Case::McpGated => self.call_tool(1).await,
            }
        })
    }

    /// One `tools/call whoami` by the MCP client of server `i` (0 ungated, 1 gated); 200 when the
    /// tool answered.
    async fn call_tool(&self, i: usize) -> u16 {
        let client = self.mcp.get(i).expect("two servers");
        let result = client
            .call_tool(CallToolRequestParams::new("whoami"))
            .await
            .expect("the tool answers");
        black_box(&result);
        if result.is_error == Some(true) {
            500
        } else {
            200
        }
    }

    /// One `tools/call` over HTTP to server `i` (0 ungated, 1 gated), response read.
    async fn post(&self, i: usize) -> u16 {
        let url = self.urls.get(i).expect("two servers");
        let mut request = self
            .client
            .post(url)
            .header("authorization", &self.bearer)
            .body(self.body.clone());
        for (name, value) in HEADERS {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        black_box(response.bytes().await.expect("a body"));
        status
    }
}

type McpClient = RunningService<RoleClient, ClientConfig>;

/// rmcp's streamable HTTP client, sessionless (2026-07-28), on the lane's runtime; every
/// request carries `token`.
async fn mcp_client(url: String, token: String) -> McpClient {
    let config = StreamableHttpClientTransportConfig::with_uri(url).auth_header(token);
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    ClientConfig::default()
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("the MCP client connects")
}

/// Two lanes (thread 0 and thread 1, two users) over one gate and one pair of servers.
fn lanes() -> [Lane; 2] {
    let gate = gate();
    let servers = http_servers(&gate);
    [
        Lane::new(&gate, servers, "user-0"),
        Lane::new(&gate, servers, "user-1"),
    ]
}

fn criterion_benches(c: &mut Criterion) {
    let lanes = lanes();
    let [lane, _] = &lanes;
    let mut group = c.benchmark_group("gate");
    for case in CASES {
        group.bench_function(case.name(), |b| b.iter(|| lane.run(case)));
    }
    group.finish();
    let mut group = c.benchmark_group("gated_threads");
    for threads in [1, 2] {
        group.bench_function(threads.to_string(), |b| {
            b.iter_custom(|n| bench::wall(&|t| run_on(&lanes, t, Case::EchoGated), threads, n));
        });
    }
    group.finish();
}

/// One request of `case` on `thread`'s lane; anything but 200 stops the bench (no error path
/// is ever timed).
fn run_on(lanes: &[Lane; 2], thread: usize, case: Case) {
    let status = lanes.get(thread).expect("two lanes").run(case);
    assert_eq!(status, 200, "{case:?} failed while timed");
}

fn paired() {
    let pairs = bench::pairs();
    let lanes = lanes();
    let ratio = |a: Case, b: Case| {
        bench::paired_ratio(&|t| run_on(&lanes, t, a), &|t| run_on(&lanes, t, b), pairs)
    };
    let echo = ratio(Case::EchoGated, Case::EchoUngated);
    println!("PAIRED gate_added_ns {:.0}", echo.a_ns - echo.b_ns);
    println!("PAIRED echo_gated/ungated {:.3}", echo.ratio);
    let rmcp = ratio(Case::RmcpGated, Case::RmcpUngated);
    println!("PAIRED rmcp_added_ns {:.0}", rmcp.a_ns - rmcp.b_ns);
    println!("PAIRED rmcp_gated/ungated {:.3}", rmcp.ratio);
    let http = ratio(Case::HttpGated, Case::HttpUngated);
    println!("PAIRED http_added_ns {:.0}", http.a_ns - http.b_ns);
    println!("PAIRED http_gated/ungated {:.3}", http.ratio);
    let mcp = ratio(Case::McpGated, Case::McpUngated);
    println!("PAIRED mcp_added_ns {:.0}", mcp.a_ns - mcp.b_ns);
    println!("PAIRED mcp_gated/ungated {:.3}", mcp.ratio);
    println!(
        "PAIRED throughput_2t/1t {:.3}",
        bench::paired_scaling(&|t| run_on(&lanes, t, Case::EchoGated), pairs)
    );
    println!(
        "# per op (median ns): echo {:.0} / {:.0}, rmcp {:.0} / {:.0}, http {:.0} / {:.0}, mcp {:.0} / {:.0} (gated / ungated)",
        echo.a_ns, echo.b_ns, rmcp.a_ns, rmcp.b_ns, http.a_ns, http.b_ns, mcp.a_ns, mcp.b_ns
    );
}

/// `--repeat CASE:N` (for instruction and cache profilers such as callgrind): the lanes set
/// up, then case `CASE` run `N` times on thread 0 and nothing else, so two runs with
/// different `N` give the cost of one request by difference.
fn repeat() -> Option<(Case, usize)> {
    let mut args = std::env::args().skip_while(|a| a != "--repeat");
    let spec = args.nth(1)?;
    let (name, n) = spec.split_once(':').expect("--repeat CASE:N");
    let case = CASES.into_iter().find(|c| c.name() == name);
    Some((case.expect("a case name"), n.parse().expect("a count")))
}

fn main() {
    if let Some((case, n)) = repeat() {
        let lanes = lanes();
        for _ in 0..n {
            run_on(&lanes, 0, case);
        }
        return;
    }
    bench::main(paired, criterion_benches);
}
