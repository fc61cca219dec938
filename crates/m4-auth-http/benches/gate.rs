//! What the gate costs per request, against the same inner service ungated, in one run:
//!
//! - `echo_ungated` / `echo_gated`: a `tools/call` through a trivial tower service, without
//!   and with the layer (a cached token, the in-memory rate limiter charged, the body read and
//!   parsed): the difference is the layer's own cost;
//! - `rmcp_ungated` / `rmcp_gated`: the same `tools/call` through rmcp's
//!   `StreamableHttpService` (stateless, JSON responses), in process with tower's `oneshot`: the
//!   round trip an MCP tool call costs with and without the gate;
//! - `gated_threads/1` / `gated_threads/2`: gated echo requests from one thread, and from two
//!   threads at once (each its own current-thread runtime and its own user), time per request
//!   per thread: throughput 2t/1t = 2 x t1 / t2.
//!
//! `cargo bench -p m4-auth-http --bench gate -- --warm-up-time 1 --measurement-time 2`
//!
//! `-- --ratios` skips criterion and measures the goal ratios *paired*: batches of the two
//! sides alternate (order flipped every pair), one ratio per pair, and the median of the pairs
//! is printed as `PAIRED <name> <value>`, so load from other jobs hits both sides alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::convert::Infallible;
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::Criterion;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use m4_auth::{AuthConfig, Authenticator};
use m4_auth_http::McpAuth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde_json::json;
use tower::ServiceExt;
use tower_layer::Layer;

const ISSUER: &str = "https://idp.example.com/";
const RESOURCE: &str = "http://127.0.0.1:8765/mcp";

fn fixture(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../tests/fixtures/keys/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(sub: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-2048".to_owned());
    let claims = json!({
        "iss": ISSUER, "aud": RESOURCE, "sub": sub, "scope": "read:mimic-data",
        "iat": now(), "exp": now() + 86_400,
    });
    let key = EncodingKey::from_rsa_pem(fixture("rsa-2048.pem").as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn gate() -> McpAuth {
    let config = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", ISSUER),
        ("M4_OAUTH2_AUDIENCE", RESOURCE),
        ("M4_OAUTH2_RESOURCE_URL", RESOURCE),
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1000000000"),
    ])
    .unwrap()
    .config;
    let keys = m4_auth::jwt::JwkSet::from_json(fixture("jwks.json").as_bytes()).unwrap();
    let auth = Authenticator::builder(config)
        .pinned_keys(keys)
        .build()
        .unwrap();
    McpAuth::new(Arc::new(auth)).unwrap()
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

fn rmcp_service() -> StreamableHttpService<Bench, LocalSessionManager> {
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

/// The body and headers of a 2026-07-28 `tools/call whoami`.
fn call_request(token: Option<&str>) -> Request<Full<Bytes>> {
    let body = json!({
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
    .to_string();
    let mut builder = Request::post("http://127.0.0.1:8765/mcp")
        .header("host", "127.0.0.1:8765")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "whoami");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(Full::new(Bytes::from(body))).unwrap()
}

/// One request through `svc`, body read to the end; returns the status.
async fn once<S, B>(svc: S, req: Request<Full<Bytes>>) -> u16
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = svc.oneshot(req).await.unwrap();
    let status = response.status().as_u16();
    black_box(response.into_body().collect().await.unwrap());
    status
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The four single-thread cases, checked to succeed before anything is timed.
struct Cases {
    rt: tokio::runtime::Runtime,
    gate: McpAuth,
    token: String,
    rmcp: StreamableHttpService<Bench, LocalSessionManager>,
}

impl Cases {
    fn new() -> Self {
        let cases = Self {
            rt: runtime(),
            gate: gate(),
            token: token("bench"),
            rmcp: rmcp_service(),
        };
        for (name, status) in [
            ("echo_ungated", cases.run("echo_ungated")),
            ("echo_gated", cases.run("echo_gated")),
            ("rmcp_ungated", cases.run("rmcp_ungated")),
            ("rmcp_gated", cases.run("rmcp_gated")),
        ] {
            assert_eq!(status, 200, "{name} must succeed before it is timed");
        }
        cases
    }

    fn run(&self, case: &str) -> u16 {
        let req = call_request(Some(&self.token));
        self.rt.block_on(async {
            match case {
                "echo_ungated" => once(Echo, req).await,
                "echo_gated" => once(self.gate.layer().layer(Echo), req).await,
                "rmcp_ungated" => once(self.rmcp.clone(), req).await,
                "rmcp_gated" => once(self.gate.layer().layer(self.rmcp.clone()), req).await,
                other => panic!("{other}"),
            }
        })
    }
}

/// `iters` gated echo requests on each of `threads` threads at once; the slowest thread's time.
fn threaded(threads: usize, iters: u64) -> Duration {
    let gate = gate();
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let gate = gate.clone();
            let barrier = barrier.clone();
            let token = token(&format!("user-{i}"));
            std::thread::spawn(move || {
                let rt = runtime();
                let svc = gate.layer().layer(Echo);
                rt.block_on(once(svc.clone(), call_request(Some(&token))));
                barrier.wait();
                let start = Instant::now();
                rt.block_on(async {
                    for _ in 0..iters {
                        once(svc.clone(), call_request(Some(&token))).await;
                    }
                });
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn criterion_benches(c: &mut Criterion) {
    let cases = Cases::new();
    let mut group = c.benchmark_group("gate");
    for case in ["echo_ungated", "echo_gated", "rmcp_ungated", "rmcp_gated"] {
        group.bench_function(case, |b| b.iter(|| cases.run(case)));
    }
    group.finish();
    let mut group = c.benchmark_group("gated_threads");
    for threads in [1, 2] {
        group.bench_function(threads.to_string(), |b| {
            b.iter_custom(|iters| threaded(threads, iters));
        });
    }
    group.finish();
}

/// Mean ns per run of `case` over a batch of `n`.
fn batch(cases: &Cases, case: &str, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(cases.run(case));
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn paired() {
    let cases = Cases::new();
    let pairs = 100;
    let (mut added, mut echo_ratio, mut rmcp_ratio) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let (a, b, c, d) = if i % 2 == 0 {
            let a = batch(&cases, "echo_ungated", 200);
            let b = batch(&cases, "echo_gated", 200);
            let c = batch(&cases, "rmcp_ungated", 50);
            let d = batch(&cases, "rmcp_gated", 50);
            (a, b, c, d)
        } else {
            let b = batch(&cases, "echo_gated", 200);
            let a = batch(&cases, "echo_ungated", 200);
            let d = batch(&cases, "rmcp_gated", 50);
            let c = batch(&cases, "rmcp_ungated", 50);
            (a, b, c, d)
        };
        added.push(b - a);
        echo_ratio.push(b / a);
        rmcp_ratio.push(d / c);
    }
    println!("PAIRED gate_added_ns {:.0}", median(added));
    println!("PAIRED echo_gated/ungated {:.2}", median(echo_ratio));
    println!("PAIRED rmcp_gated/ungated {:.3}", median(rmcp_ratio));
    let mut scaling = Vec::new();
    for i in 0..20 {
        let (t1, t2) = if i % 2 == 0 {
            let t1 = threaded(1, 2000);
            (t1, threaded(2, 2000))
        } else {
            let t2 = threaded(2, 2000);
            (threaded(1, 2000), t2)
        };
        scaling.push(2.0 * t1.as_secs_f64() / t2.as_secs_f64());
    }
    println!("PAIRED throughput_2t/1t {:.2}", median(scaling));
}

fn main() {
    if std::env::args().any(|a| a == "--ratios") {
        paired();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c);
    c.final_summary();
}
