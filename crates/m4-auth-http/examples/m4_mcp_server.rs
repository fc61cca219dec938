//! The reference M4 MCP server: three tools behind m4-auth, over streamable HTTP or stdio.
//!
//! ```text
//! cargo run -p m4-auth-http --example m4_mcp_server -- --http 127.0.0.1:8765 [--tool-scope TOOL=SCOPE[,SCOPE...]]...
//! cargo run -p m4-auth-http --example m4_mcp_server -- --stdio
//! ```
//!
//! Configuration comes only from the `M4_OAUTH2_*` variables (see `docs/configuration.md`);
//! a bad value is reported on stderr and the process exits with status 2.
//!
//! - `--http ADDR` serves MCP at `http://ADDR/mcp` and the protected-resource metadata at both
//!   well-known paths. The first line on stdout is `listening on http://ADDR/mcp` (with the real
//!   port when ADDR has port 0). `M4_OAUTH2_RESOURCE_URL` defaults to that URL. Every request to
//!   `/mcp` passes the m4-auth gate, which puts the caller's [`Principal`] in the request's
//!   extensions; rmcp hands the request's `http::request::Parts` to the tools.
//! - `--stdio` speaks MCP on stdin/stdout. The credentials come from the environment
//!   (`M4_OAUTH2_TOKEN`, else the stored login, else the client credentials) and are checked on every call of a guarded tool, which answers
//!   `Error: <message>` when they fail, as M4's tools do. `list_datasets` is public there.
//!
//! Copy it: the parts an M4 component needs are `main`, `serve_http` and `M4Server::caller`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axum::http::{Uri, request::Parts};
use clap::Parser;
use m4_auth::{AuthConfig, Authenticator, Principal};
use m4_auth_http::McpAuth;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{Extensions, Implementation, ServerCapabilities, ServerConfig};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde_json::json;

/// The tools, for `--tool-scope` to check names against.
const TOOLS: [&str; 3] = ["whoami", "list_datasets", "execute_query"];

#[derive(Parser)]
#[command(about = "The reference M4 MCP server, gated by m4-auth (configured by M4_OAUTH2_*)")]
struct Args {
    /// Serve streamable HTTP at http://ADDR/mcp (for example 127.0.0.1:8765)
    #[arg(long, value_name = "ADDR", required_unless_present = "stdio")]
    http: Option<SocketAddr>,
    /// Serve MCP on stdin/stdout; credentials from M4_OAUTH2_TOKEN, else the stored login, else the client credentials
    #[arg(long, conflicts_with = "http")]
    stdio: bool,
    /// Require these scopes, besides M4_OAUTH2_REQUIRED_SCOPES, to call TOOL (repeatable)
    #[arg(long, value_name = "TOOL=SCOPE[,SCOPE...]", value_parser = parse_tool_scope, conflicts_with = "stdio")]
    tool_scope: Vec<ToolScope>,
}

#[derive(Clone)]
struct ToolScope {
    tool: String,
    scopes: Vec<String>,
}

/// `TOOL=SCOPE[,SCOPE...]`; the gate checks the scopes themselves when it is built.
fn parse_tool_scope(value: &str) -> Result<ToolScope, String> {
    let (tool, scopes) = value
        .split_once('=')
        .ok_or("expected TOOL=SCOPE[,SCOPE...], for example execute_query=write:cohorts")?;
    if !TOOLS.contains(&tool) {
        let tools = TOOLS.join(", ");
        return Err(format!("unknown tool `{tool}`; the tools are {tools}"));
    }
    Ok(ToolScope {
        tool: tool.to_owned(),
        scopes: scopes.split(',').map(String::from).collect(),
    })
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Query {
    /// The SQL to run against MIMIC-IV
    sql_query: String,
}

/// The MCP server: its tools and where the caller comes from.
#[derive(Clone)]
struct M4Server {
    auth: Arc<Authenticator>,
    stdio: bool,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl M4Server {
    fn new(auth: Arc<Authenticator>, stdio: bool) -> Self {
        Self {
            auth,
            stdio,
            tool_router: Self::tool_router(),
        }
    }

    /// The authenticated caller, or the tool reply `Error: <message>`.
    async fn caller(&self, extensions: &Extensions) -> Result<Principal, String> {
        if self.stdio {
            // Token from M4_OAUTH2_TOKEN, verified and rate limited on every call; verifying may
            // fetch the JWKS, so it runs on the blocking pool.
            let auth = Arc::clone(&self.auth);
            return tokio::task::spawn_blocking(move || auth.guard_env(Principal::clone))
                .await
                .map_err(|err| format!("Error: {err}"))?;
        }
        // HTTP: the m4-auth layer in front of /mcp authenticated the request and rate limited
        // the tool call; rmcp passes the request's parts to the tool.
        extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<Principal>())
            .cloned()
            .ok_or_else(|| "Error: no authenticated caller (is the m4-auth layer mounted?)".into())
    }

    #[tool(description = "Who is calling: the token's subject and scopes, as JSON")]
    async fn whoami(&self, extensions: Extensions) -> Result<String, String> {
        let caller = self.caller(&extensions).await?;
        Ok(json!({
            "sub": caller.sub(),
            "scopes": caller.scopes(),
            "anonymous": caller.is_anonymous(),
        })
        .to_string())
    }

    #[tool(description = "The MIMIC-IV datasets this server can query")]
    async fn list_datasets(&self) -> String {
        // Public in stdio mode, as M4's own list_datasets is; over HTTP the gate still applies.
        json!(["mimic-iv-demo", "mimic-iv", "mimic-iv-note"]).to_string()
    }

    #[tool(
        description = "Run a read-only SQL query on MIMIC-IV (this example answers a canned result)"
    )]
    async fn execute_query(
        &self,
        Parameters(Query { sql_query }): Parameters<Query>,
        extensions: Extensions,
    ) -> Result<String, String> {
        let caller = self.caller(&extensions).await?;
        Ok(json!({
            "query": sql_query,
            "caller": caller.sub(),
            "columns": ["subject_id", "gender"],
            "rows": [[10000032, "F"]],
            "note": "canned result: this example touches no data",
        })
        .to_string())
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for M4Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(
            Implementation::new("m4-mcp-server", env!("CARGO_PKG_VERSION")),
        )
    }
}

/// Serves `/mcp` behind the m4-auth gate, and the metadata document, on `addr`.
async fn serve_http(
    addr: SocketAddr,
    auth: Arc<Authenticator>,
    tool_scopes: Vec<ToolScope>,
) -> Result<(), ExitCode> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|err| fail(1, &format!("cannot listen on {addr}: {err}")))?;
    let local = listener
        .local_addr()
        .map_err(|err| fail(1, &format!("cannot read the listening address: {err}")))?;
    let endpoint = format!("http://{local}/mcp");

    // The public URL of the endpoint: M4_OAUTH2_RESOURCE_URL, or where we listen.
    let resource_url = auth
        .config()
        .resource_url()
        .map_or(endpoint.clone(), |url| url.as_str().to_owned());
    let mut gate = McpAuth::builder(Arc::clone(&auth)).resource_url(&resource_url);
    for ToolScope { tool, scopes } in tool_scopes {
        gate = gate.tool_scopes(&tool, scopes);
    }
    let gate = gate.build().map_err(|err| fail(2, &err.to_string()))?;

    // Host and Origin validation (DNS rebinding): the listening address and the public URL,
    // which the gate has already checked to be absolute (https, or http on loopback).
    let public: Uri = resource_url
        .parse()
        .map_err(|err| fail(2, &format!("M4_OAUTH2_RESOURCE_URL: {err}")))?;
    let (scheme, host) = (
        public.scheme_str().unwrap_or("http"),
        public.host().unwrap_or(""),
    );
    let port = public
        .port_u16()
        .unwrap_or(if scheme == "https" { 443 } else { 80 });
    let authority = public.authority().map_or(host, |a| a.as_str());
    let transport = StreamableHttpServerConfig::default()
        .with_allowed_hosts([local.to_string(), authority.to_owned()])
        .with_allowed_origins([
            format!("http://{local}"),
            format!("{scheme}://{host}:{port}"),
        ])
        .enforce_origin_validation();

    let server = M4Server::new(auth, false);
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        transport,
    );
    let [inserted, root] = gate.metadata_paths();
    // The gate wraps the MCP service itself (axum's `route_layer` would add a boxed service of
    // its own per request); the metadata stays ungated.
    let app = axum::Router::new()
        .route_service("/mcp", tower_layer::Layer::layer(&gate.layer(), mcp))
        .route_service(&inserted, gate.metadata_service())
        .route_service(&root, gate.metadata_service());

    println!("listening on {endpoint}");
    axum::serve(listener, app)
        .await
        .map_err(|err| fail(1, &format!("server error: {err}")))
}

/// Serves MCP on stdin/stdout until the client closes it.
async fn serve_stdio(auth: Arc<Authenticator>) -> Result<(), ExitCode> {
    let running = M4Server::new(auth, true)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|err| fail(1, &format!("MCP start-up on stdio failed: {err}")))?;
    running
        .waiting()
        .await
        .map(drop)
        .map_err(|err| fail(1, &format!("MCP on stdio stopped: {err}")))
}

/// Prints `error: <message>` on stderr and gives the exit code.
fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(code)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse(); // usage errors exit with status 2
    let loaded = match AuthConfig::from_env() {
        Ok(loaded) => loaded,
        Err(err) => return fail(2, &err.to_string()),
    };
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let auth = match Authenticator::new(loaded.config) {
        Ok(auth) => Arc::new(auth),
        Err(err) => return fail(2, &err.to_string()),
    };
    let served = match args.http {
        Some(addr) => serve_http(addr, auth, args.tool_scope).await,
        None => serve_stdio(auth).await,
    };
    served.err().unwrap_or(ExitCode::SUCCESS)
}
