//! The reference MCP server (`m4_mcp_server --http`) end to end: a real process, the dev issuer,
//! rmcp's client in both protocol eras, and hand-written JSON-RPC over loopback HTTP.
//!
//! rmcp's client speaks both eras: `ClientLifecycleMode::Initialize` is 2025-11-25 (initialize,
//! notification, session, GET stream) and `ClientLifecycleMode::Discover` is 2026-07-28
//! (sessionless, `server/discover`, `Mcp-Method`/`Mcp-Name`); the hand-written requests pin
//! down what rmcp hides: exact statuses and headers, the GET stream, lying headers.
#![cfg(test)]

mod cli_common;
mod mcp_support;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m4_auth_cli::dev_issuer::MintRequest;
use mcp_support::{
    ERAS, Refusal, Server, call, call_refusal, connect, env, get, issuer, mint, modern_meta, param,
    post, refused_startup, run_to_exit, text, token, whoami,
};
use serde_json::{Value, json};

const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";
const ROOT_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// A hand-written `tools/list` POST with `headers`.
fn tools_list(url: &str, headers: &[(&str, &str)]) -> mcp_support::Answer {
    post(
        url,
        headers,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
}

#[tokio::test]
async fn no_token_gets_a_challenge_that_leads_to_the_metadata_and_the_issuer() {
    let issuer = issuer();
    let server = Server::start(&env(&issuer, &[]), &[]);
    for era in ERAS {
        let refusal = refused_startup(&server.url, None, era).await;
        let Refusal::Unauthorized(challenge) = refusal else {
            panic!("{era:?}: expected 401, got {refusal:?}");
        };
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert_eq!(param(&challenge, "error"), None, "no token, no error code");
        assert_eq!(
            param(&challenge, "scope").as_deref(),
            Some("read:mimic-data")
        );

        // Follow the challenge as an MCP client does: metadata, then the issuer's metadata.
        let metadata_url = param(&challenge, "resource_metadata").unwrap();
        assert_eq!(metadata_url, format!("{}{METADATA_PATH}", server.origin));
        let metadata = get(&metadata_url, &[]);
        assert_eq!(metadata.status, 200);
        assert!(
            metadata
                .header("content-type")
                .is_some_and(|ct| ct.starts_with("application/json"))
        );
        let document = metadata.json();
        let resource = document["resource"].as_str().unwrap();
        assert_eq!(resource, server.url);
        assert!(server.url.starts_with(resource), "resource is a prefix");
        assert_eq!(
            document["authorization_servers"],
            json!([issuer.issuer_url()])
        );
        assert_eq!(document["scopes_supported"], json!(["read:mimic-data"]));
        assert_eq!(document["bearer_methods_supported"], json!(["header"]));
        let root = get(&format!("{}{ROOT_METADATA_PATH}", server.origin), &[]);
        assert_eq!(root.status, 200);
        assert_eq!(
            root.json(),
            document,
            "both well-known URLs serve one document"
        );

        let authorization_server = document["authorization_servers"][0].as_str().unwrap();
        let as_metadata = get(
            &format!("{authorization_server}/.well-known/oauth-authorization-server"),
            &[],
        );
        assert_eq!(as_metadata.status, 200);
        let as_document = as_metadata.json();
        assert_eq!(as_document["issuer"], authorization_server);
        let jwks = get(as_document["jwks_uri"].as_str().unwrap(), &[]).json();
        assert!(!jwks["keys"].as_array().unwrap().is_empty());
    }

    // The same 401 by hand: status, challenge, an OAuth-style JSON body.
    let answer = tools_list(&server.url, &[]);
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .header("www-authenticate")
            .unwrap()
            .contains("resource_metadata=")
    );
    assert!(answer.json()["error"].is_string(), "{}", answer.body);
}

#[tokio::test]
async fn a_valid_token_lists_and_calls_tools_in_both_eras() {
    let issuer = issuer();
    let server = Server::start(&env(&issuer, &[]), &[]);
    let token = token(&issuer, "alice", &["read:mimic-data", "profile"]);
    for era in ERAS {
        let client = connect(&server.url, Some(&token), era).await;
        let mut tools: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect();
        tools.sort();
        assert_eq!(
            tools,
            ["execute_query", "list_datasets", "whoami"],
            "{era:?}"
        );

        let me = whoami(&client).await;
        assert_eq!(me["sub"], "alice", "{era:?}");
        assert_eq!(me["scopes"], json!(["profile", "read:mimic-data"]));
        assert_eq!(me["anonymous"], false);

        let result = call(&client, "execute_query", json!({"sql_query": "SELECT 1"}))
            .await
            .unwrap();
        let (reply, is_error) = text(&result);
        assert!(!is_error, "{reply}");
        let reply: Value = serde_json::from_str(&reply).unwrap();
        assert_eq!(reply["query"], "SELECT 1");
        assert_eq!(reply["caller"], "alice");

        let datasets = call(&client, "list_datasets", json!({})).await.unwrap();
        assert!(text(&datasets).0.contains("mimic-iv"));
        client.cancel().await.unwrap();
    }
}

/// `token` with one character of its payload changed (the signature no longer matches).
fn tampered(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("mallory");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    parts.join(".")
}

#[tokio::test]
async fn wrong_audience_expired_and_tampered_tokens_get_401() {
    let issuer = issuer();
    let server = Server::start(&env(&issuer, &[]), &[]);
    let wrong_audience = mint(
        &issuer,
        &MintRequest {
            audience: Some("another-api".into()),
            ..MintRequest::default()
        },
    );
    let expired = mint(
        &issuer,
        &MintRequest {
            ttl: -600,
            ..MintRequest::default()
        },
    );
    let tampered = tampered(&token(&issuer, "alice", &["read:mimic-data"]));
    for (name, bad) in [
        ("wrong audience", wrong_audience),
        ("expired", expired),
        ("tampered", tampered),
    ] {
        for era in ERAS {
            let refusal = refused_startup(&server.url, Some(&bad), era).await;
            let Refusal::Unauthorized(challenge) = refusal else {
                panic!("{name} {era:?}: expected 401, got {refusal:?}");
            };
            assert_eq!(
                param(&challenge, "error").as_deref(),
                Some("invalid_token"),
                "{name}"
            );
            assert!(
                param(&challenge, "error_description").is_some(),
                "{challenge}"
            );
            assert!(
                param(&challenge, "resource_metadata").is_some(),
                "{challenge}"
            );
            assert!(
                !challenge.contains(&bad),
                "{name}: the token is never echoed"
            );
        }
        let answer = tools_list(&server.url, &[("authorization", &format!("Bearer {bad}"))]);
        assert_eq!(answer.status, 401, "{name}");
        assert_eq!(answer.json()["error"], "invalid_token", "{name}");
        assert!(
            !answer.body.contains(&bad),
            "{name}: the token is never echoed"
        );
    }
}

#[tokio::test]
async fn a_token_without_the_required_scope_gets_403_naming_it() {
    let issuer = issuer();
    let server = Server::start(&env(&issuer, &[]), &[]);
    let token = token(&issuer, "alice", &["profile"]);
    for era in ERAS {
        let refusal = refused_startup(&server.url, Some(&token), era).await;
        let Refusal::Forbidden(challenge) = refusal else {
            panic!("{era:?}: expected 403, got {refusal:?}");
        };
        assert_eq!(
            param(&challenge, "error").as_deref(),
            Some("insufficient_scope")
        );
        assert_eq!(
            param(&challenge, "scope").as_deref(),
            Some("read:mimic-data")
        );
        assert!(
            param(&challenge, "resource_metadata").is_some(),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn a_per_tool_scope_gets_403_naming_every_scope_then_succeeds_with_it() {
    let issuer = issuer();
    let server = Server::start(
        &env(&issuer, &[]),
        &["--tool-scope", "execute_query=write:cohorts"],
    );
    let reader = token(&issuer, "alice", &["read:mimic-data"]);
    let writer = token(&issuer, "alice", &["read:mimic-data", "write:cohorts"]);
    let query = json!({"sql_query": "SELECT 1"});
    for era in ERAS {
        let client = connect(&server.url, Some(&reader), era).await;
        assert_eq!(
            whoami(&client).await["sub"],
            "alice",
            "other tools stay open"
        );
        let err = call(&client, "execute_query", query.clone())
            .await
            .unwrap_err();
        let Refusal::Forbidden(challenge) = call_refusal(&err) else {
            panic!("{era:?}: expected 403, got {err}");
        };
        assert_eq!(
            param(&challenge, "error").as_deref(),
            Some("insufficient_scope")
        );
        let mut scopes: Vec<String> = param(&challenge, "scope")
            .unwrap()
            .split(' ')
            .map(str::to_owned)
            .collect();
        scopes.sort();
        assert_eq!(
            scopes,
            ["read:mimic-data", "write:cohorts"],
            "every scope, in one challenge"
        );
        assert_eq!(
            whoami(&client).await["sub"],
            "alice",
            "the session survives a 403"
        );
        client.cancel().await.unwrap();

        // Step-up: a token with the union of the scopes.
        let client = connect(&server.url, Some(&writer), era).await;
        let result = call(&client, "execute_query", query.clone()).await.unwrap();
        assert!(!text(&result).1, "{result:?}");
        client.cancel().await.unwrap();
    }

    // A 2026-07-28 header naming another tool cannot smuggle the call past its scope.
    let lying = post(
        &server.url,
        &[
            ("authorization", &format!("Bearer {reader}")),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "whoami"),
        ],
        &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "execute_query", "arguments": query, "_meta": modern_meta()}}),
    );
    assert_eq!(lying.status, 400, "{}", lying.body);
}

/// A server whose limit is `n` tool calls per window.
fn limited_server(issuer: &m4_auth_cli::dev_issuer::DevIssuer, n: u32) -> Server {
    let n = n.to_string();
    Server::start(&env(issuer, &[("M4_OAUTH2_RATE_LIMIT_REQUESTS", &n)]), &[])
}

#[tokio::test]
async fn the_rate_limit_counts_tool_calls_only_then_answers_429_with_retry_after() {
    let issuer = issuer();
    let server = limited_server(&issuer, 3);
    for era in ERAS {
        // One subject per era: each has its own quota.
        let token = token(&issuer, &format!("user-{era:?}"), &["read:mimic-data"]);
        let client = connect(&server.url, Some(&token), era).await;
        for _ in 0..5 {
            client
                .list_all_tools()
                .await
                .expect("protocol messages are not charged");
        }
        for call_number in 1..=3 {
            let result = call(&client, "whoami", json!({})).await;
            assert!(result.is_ok(), "{era:?} call {call_number}: {result:?}");
        }
        let err = call(&client, "execute_query", json!({"sql_query": "SELECT 1"}))
            .await
            .unwrap_err();
        let Refusal::Status(429, Some(retry_after)) = call_refusal(&err) else {
            panic!("{era:?}: expected 429 with Retry-After, got {err}");
        };
        let seconds: u64 = retry_after.parse().unwrap();
        assert!((1..=3600).contains(&seconds), "{retry_after}");
        client.list_all_tools().await.expect("still not charged");
        client.cancel().await.unwrap();
    }
}

#[tokio::test]
async fn oauth2_disabled_lets_everyone_in_as_anonymous() {
    let server = Server::start(&[], &[]);
    for era in ERAS {
        let client = connect(&server.url, None, era).await;
        let me = whoami(&client).await;
        assert_eq!(
            me,
            json!({"sub": "anonymous", "scopes": [], "anonymous": true}),
            "{era:?}"
        );
        client.cancel().await.unwrap();
    }
}

#[test]
fn origin_is_validated_after_authentication() {
    let issuer = issuer();
    let server = Server::start(&env(&issuer, &[]), &[]);
    let auth = format!("Bearer {}", token(&issuer, "alice", &["read:mimic-data"]));
    let discover = json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                          "params": {"_meta": modern_meta()}});
    let send = |origin: Option<&str>| {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "server/discover"),
        ];
        headers.extend(origin.map(|origin| ("origin", origin)));
        post(&server.url, &headers, &discover)
    };
    let evil = send(Some("http://evil.example"));
    assert_eq!(evil.status, 403, "{}", evil.body);
    assert!(evil.body.contains("Origin"), "{}", evil.body);
    let own = send(Some(&server.origin));
    assert_eq!(own.status, 200, "{}", own.body);
    let none = send(None);
    assert_eq!(none.status, 200, "no Origin (not a browser): {}", none.body);
}

/// RFC 8707 style, what MCP clients request: the audience is the resource URL itself.
#[tokio::test]
async fn an_explicit_resource_url_names_the_metadata_and_the_challenge_and_binds_the_audience() {
    let issuer = issuer();
    let public = "http://localhost:9/m4/mcp";
    let server = Server::start(
        &env(
            &issuer,
            &[
                ("M4_OAUTH2_RESOURCE_URL", public),
                ("M4_OAUTH2_AUDIENCE", public),
            ],
        ),
        &[],
    );
    let answer = tools_list(&server.url, &[]);
    assert_eq!(answer.status, 401);
    assert_eq!(
        param(
            answer.header("www-authenticate").unwrap(),
            "resource_metadata"
        )
        .as_deref(),
        Some("http://localhost:9/.well-known/oauth-protected-resource/m4/mcp")
    );
    let metadata = get(
        &format!(
            "{}/.well-known/oauth-protected-resource/m4/mcp",
            server.origin
        ),
        &[],
    );
    assert_eq!(metadata.status, 200);
    assert_eq!(metadata.json()["resource"], public);

    let for_this_resource = mint(
        &issuer,
        &MintRequest {
            sub: "erin".into(),
            audience: Some(public.into()),
            ..MintRequest::default()
        },
    );
    let for_another_api = token(&issuer, "erin", &["read:mimic-data"]); // aud m4-api
    for era in ERAS {
        let client = connect(&server.url, Some(&for_this_resource), era).await;
        assert_eq!(whoami(&client).await["sub"], "erin");
        client.cancel().await.unwrap();
        let refusal = refused_startup(&server.url, Some(&for_another_api), era).await;
        assert!(
            matches!(&refusal, Refusal::Unauthorized(c) if c.contains("invalid_token")),
            "{era:?}: {refusal:?}"
        );
    }
}

/// Hand-written 2026-07-28 requests: sessionless, `server/discover`, standard headers.
#[test]
fn sessionless_era_by_hand() {
    let issuer = issuer();
    let server = limited_server(&issuer, 2);
    let auth = format!("Bearer {}", token(&issuer, "carol", &["read:mimic-data"]));
    let headers = |method: &'static str, name: Option<&'static str>| {
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        headers.extend(name.map(|name| ("mcp-name", name)));
        headers
    };
    let request = |id: u32, method: &str, params: Value| {
        let mut params = params;
        params["_meta"] = modern_meta();
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    };

    for id in 1..=3 {
        let discover = post(
            &server.url,
            &headers("server/discover", None),
            &request(id, "server/discover", json!({})),
        );
        assert_eq!(discover.status, 200, "{}", discover.body);
        assert!(discover.header("mcp-session-id").is_none(), "sessionless");
        let versions = discover.message()["result"]["supportedVersions"].clone();
        assert!(
            versions.as_array().unwrap().contains(&json!("2026-07-28")),
            "{versions}"
        );
    }
    let list = post(
        &server.url,
        &headers("tools/list", None),
        &request(4, "tools/list", json!({})),
    );
    assert_eq!(list.status, 200, "{}", list.body);
    assert_eq!(
        list.message()["result"]["tools"].as_array().unwrap().len(),
        3
    );

    let whoami = request(5, "tools/call", json!({"name": "whoami", "arguments": {}}));
    let mismatch = post(
        &server.url,
        &headers("tools/call", Some("execute_query")),
        &whoami,
    );
    assert_eq!(
        mismatch.status, 400,
        "Mcp-Name contradicts the body: {}",
        mismatch.body
    );
    let method_mismatch = post(&server.url, &headers("tools/list", Some("whoami")), &whoami);
    assert_eq!(
        method_mismatch.status, 400,
        "Mcp-Method contradicts the body"
    );

    for id in [6, 7] {
        let call = post(
            &server.url,
            &headers("tools/call", Some("whoami")),
            &request(id, "tools/call", json!({"name": "whoami", "arguments": {}})),
        );
        assert_eq!(call.status, 200, "{}", call.body);
        let text = call.message()["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap()["sub"],
            "carol"
        );
    }
    let third = post(&server.url, &headers("tools/call", Some("whoami")), &whoami);
    assert_eq!(third.status, 429, "the third tool call: {}", third.body);
    assert!(third.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    let discover = post(
        &server.url,
        &headers("server/discover", None),
        &request(8, "server/discover", json!({})),
    );
    assert_eq!(discover.status, 200, "discovery is never charged");
}

/// Hand-written 2025-11-25 requests: initialize, the notification, a session, the GET stream.
#[test]
fn session_era_by_hand() {
    let issuer = issuer();
    let server = limited_server(&issuer, 1);
    let auth = format!("Bearer {}", token(&issuer, "dave", &["read:mimic-data"]));
    let initialize = post(
        &server.url,
        &[("authorization", &auth)],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "hand-written", "version": "1.0.0"}}}),
    );
    assert_eq!(initialize.status, 200, "{}", initialize.body);
    assert_eq!(
        initialize.message()["result"]["protocolVersion"],
        "2025-11-25"
    );
    let session = initialize
        .header("mcp-session-id")
        .expect("a session")
        .to_owned();
    let headers = [
        ("authorization", auth.as_str()),
        ("mcp-session-id", session.as_str()),
        ("mcp-protocol-version", "2025-11-25"),
    ];

    let initialized = post(
        &server.url,
        &headers,
        &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    );
    assert_eq!(initialized.status, 202, "{}", initialized.body);
    let (status, content_type) = mcp_support::open_stream(&server.url, &headers);
    assert_eq!(
        (status, content_type.as_deref()),
        (200, Some("text/event-stream"))
    );
    let (status, _) = mcp_support::open_stream(&server.url, &headers[1..]);
    assert_eq!(status, 401, "the GET stream is gated too");
    let list = post(
        &server.url,
        &headers,
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
    );
    assert_eq!(list.status, 200, "{}", list.body);

    let whoami = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                        "params": {"name": "whoami", "arguments": {}}});
    let call = post(&server.url, &headers, &whoami);
    assert_eq!(call.status, 200, "the one allowed tool call: {}", call.body);
    let text = call.message()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap()["sub"], "dave");
    let second = post(&server.url, &headers, &whoami);
    assert_eq!(second.status, 429, "{}", second.body);
    assert!(second.header("retry-after").is_some());
}

#[test]
fn bad_configuration_and_usage_exit_2_with_a_clear_message() {
    let issuer = issuer();
    // (environment, arguments, what stderr must mention)
    type Case = (Vec<(String, String)>, &'static [&'static str], &'static str);
    let cases: [Case; 6] = [
        (
            vec![("M4_OAUTH2_ENABLED".into(), "maybe".into())],
            &["--http", "127.0.0.1:0"],
            "M4_OAUTH2_ENABLED",
        ),
        (
            env(
                &issuer,
                &[("M4_OAUTH2_RESOURCE_URL", "http://mcp.example.org/mcp")],
            ),
            &["--http", "127.0.0.1:0"],
            "M4_OAUTH2_RESOURCE_URL",
        ),
        (
            env(&issuer, &[("M4_OAUTH2_ENABLED", "maybe")]),
            &["--stdio"],
            "M4_OAUTH2_ENABLED",
        ),
        (
            vec![],
            &["--http", "127.0.0.1:0", "--tool-scope", "exec_query=x"],
            "unknown tool `exec_query`",
        ),
        (
            vec![],
            &["--stdio", "--tool-scope", "whoami=x"],
            "cannot be used with",
        ),
        (vec![], &[], "--http"),
    ];
    for (env, args, mentions) in cases {
        let (status, stdout, stderr) = run_to_exit(&env, args);
        assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: nothing on stdout: {stdout}");
        assert!(stderr.contains(mentions), "{args:?}: {stderr}");
    }
}
