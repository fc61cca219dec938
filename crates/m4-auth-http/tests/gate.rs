//! The layer in front of a stand-in MCP service: every status and challenge, tokens only from
//! the Authorization header, per-tool scopes and step-up, header/body agreement, the body
//! limit, and what the rate limit charges.
#![cfg(test)]

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Full;
use m4_auth_http::McpAuth;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_good_token_reaches_the_service_with_its_principal_and_the_body_unchanged() {
    let gate = gate(&[]);
    let body = call("list_datasets");
    let answer = send(gated(&gate), post(Some(&token("alice", &[])), &body, &[])).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-sub"), Some("alice"));
    assert_eq!(answer.header("x-scopes"), Some("read:mimic-data"));
    assert_eq!(
        answer.body, body,
        "the body reaches the service byte for byte"
    );
}

#[tokio::test]
async fn no_token_is_401_with_a_bare_challenge_pointing_at_the_metadata() {
    let gate = gate(&[]);
    let answer = send(gated(&gate), post(None, &call("whoami"), &[])).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.header("www-authenticate"),
        Some(
            "Bearer scope=\"read:mimic-data\", resource_metadata=\"https://m4.example.org/.well-known/oauth-protected-resource/mcp\""
        )
    );
    assert_eq!(
        answer.header("access-control-expose-headers"),
        Some("WWW-Authenticate")
    );
    insta::assert_snapshot!(answer.show());
}

#[tokio::test]
async fn rejected_tokens_are_401_invalid_token_and_never_echoed() {
    let gate = gate(&[]);
    let good = token("alice", &[]);
    let mut wrong_aud = claims("alice", SCOPE);
    wrong_aud["aud"] = json!("https://other.example.org/mcp");
    let mut expired = claims("alice", SCOPE);
    expired["exp"] = json!(NOW - 3600);
    // A signature from another key under our kid.
    let forged = {
        let other = sign("rsa-2048-b", &claims("alice", SCOPE));
        let sig = other.rsplit('.').next().unwrap().to_owned();
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[2] = &sig;
        parts.join(".")
    };
    let cases = [
        (
            "wrong audience",
            sign("rsa-2048", &wrong_aud),
            "invalid_audience",
        ),
        ("expired", sign("rsa-2048", &expired), "token_expired"),
        ("tampered", forged, "invalid_signature"),
        ("not a JWT", "not-a-jwt".to_owned(), "malformed_token"),
    ];
    let mut shown = String::new();
    for (what, token, code) in cases {
        let answer = send(gated(&gate), post(Some(&token), &call("whoami"), &[])).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{what}");
        let challenge = answer.header("www-authenticate").unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description="),
            "{what}: {challenge}"
        );
        assert!(challenge.ends_with(
            "resource_metadata=\"https://m4.example.org/.well-known/oauth-protected-resource/mcp\""
        ));
        assert_eq!(answer.json()["code"], code, "{what}");
        assert!(!answer.show().contains(&token), "{what}: token echoed");
        shown.push_str(&format!("--- {what}\n{}\n", answer.show()));
    }
    insta::assert_snapshot!(shown);
}

#[tokio::test]
async fn missing_required_scope_is_403_listing_the_required_scopes() {
    let gate = gate(&[]);
    let token = sign("rsa-2048", &claims("alice", "profile"));
    let answer = send(
        gated(&gate),
        post(Some(&token), &rpc("tools/list", &json!({})), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"read:mimic-data\""),
        "{challenge}"
    );
    insta::assert_snapshot!(answer.show());
}

#[tokio::test]
async fn a_tool_scope_missing_is_one_403_with_every_scope_then_step_up_succeeds() {
    let gate = gate(&[]);
    let basic = token("alice", &[]);
    // Other tools and other methods need only the configured scope.
    for body in [call("whoami"), rpc("tools/list", &json!({}))] {
        let answer = send(gated(&gate), post(Some(&basic), &body, &[])).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}");
    }
    let answer = send(
        gated(&gate),
        post(Some(&basic), &call("execute_query"), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("scope=\"read:mimic-data write:cohorts\""),
        "the complete scope list, in one challenge: {challenge}"
    );
    insta::assert_snapshot!(answer.show());

    // Step-up: a token with the union of scopes gets through.
    let stepped = token("alice", &["write:cohorts"]);
    let answer = send(
        gated(&gate),
        post(Some(&stepped), &call("execute_query"), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("x-scopes"),
        Some("read:mimic-data write:cohorts")
    );
}

#[tokio::test]
async fn json_escapes_do_not_hide_a_tool_call_from_the_gate() {
    // The gate reads the body as rmcp's JSON parser will: escaped spellings of `method`,
    // `tools/call`, `name` and the tool name are the same members and values, so a call written
    // with them still needs the tool's scope, and a duplicate spelled differently is still one.
    let gate = gate(&[]);
    let basic = token("alice", &[]);
    let hidden = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools\/call","params":{"name":"execute_query"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"\u006dethod":"tools/call","params":{"name":"execute_query"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"n\u0061me":"execute_query"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"execute\u005fquery"}}"#,
    ];
    for body in hidden {
        let answer = send(gated(&gate), post(Some(&basic), body, &[])).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(answer.json()["code"], "missing_scopes", "{body}");
    }
    let duplicates = [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","\u006dethod":"tools/call","params":{"name":"execute_query"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami","n\u0061me":"execute_query"}}"#,
    ];
    for body in duplicates {
        let answer = send(gated(&gate), post(Some(&basic), body, &[])).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.json()["error"], "invalid_request", "{body}");
    }
    // The control: the same escapes with the scope held get through, body unchanged.
    let stepped = token("alice", &["write:cohorts"]);
    for body in hidden {
        let answer = send(gated(&gate), post(Some(&stepped), body, &[])).await;
        assert_eq!(answer.status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn a_tool_call_sent_with_another_http_method_is_still_scoped_and_charged() {
    // Not MCP (the transport POSTs every message), but a tower service behind the gate may act
    // on any method's body: a tools/call must not get past the tool's scope or the limit
    // because it came as PUT, GET or a lowercase `post`.
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1")]);
    let gate = McpAuth::builder(auth)
        .tool_scopes("execute_query", ["write:cohorts"])
        .build()
        .unwrap();
    let basic = token("alice", &[]);
    let methods = ["PUT", "PATCH", "DELETE", "GET", "post"];
    let with_method = |method: &str, token: &str, body: String| {
        Request::builder()
            .method(http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/mcp")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {token}"))
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    for method in methods {
        let answer = send(
            gated(&gate),
            with_method(method, &basic, call("execute_query")),
        )
        .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method}");
    }
    // Charged: alice's one call goes, the next is 429, whatever the method.
    let answer = send(gated(&gate), with_method("PUT", &basic, call("whoami"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    for method in methods {
        let answer = send(gated(&gate), with_method(method, &basic, call("whoami"))).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{method}");
    }
    // A body that is not JSON-RPC is refused whatever the method; no body passes uncharged.
    let answer = send(gated(&gate), with_method("PUT", &basic, "x".to_owned())).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let answer = send(gated(&gate), with_method("GET", &basic, String::new())).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn a_parse_error_quoting_multibyte_text_is_a_400_not_a_panic() {
    let gate = gate(&[]);
    let good = token("alice", &[]);
    for body in [
        format!("\"a{}\"", "é".repeat(150)),
        format!(
            "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":\"a{}\"}}",
            "é".repeat(150)
        ),
    ] {
        let answer = send(gated(&gate), post(Some(&good), &body, &[])).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        let description = answer.json()["error_description"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(description.chars().count() <= 260, "{description}");
    }
}

#[tokio::test]
async fn mcp_name_is_read_from_the_member_each_method_names() {
    // SEP-2243, as rmcp sends it: params.uri for resources/*, params.taskId for tasks/*.
    let gate = gate(&[]);
    let good = token("alice", &[]);
    let cases = [
        ("resources/read", json!({"uri": "file:///a"}), "file:///a"),
        (
            "resources/subscribe",
            json!({"uri": "file:///b"}),
            "file:///b",
        ),
        ("tasks/get", json!({"taskId": "t-1"}), "t-1"),
        ("prompts/get", json!({"name": "summary"}), "summary"),
    ];
    for (method, params, name) in &cases {
        let headers = [("mcp-method", *method), ("mcp-name", *name)];
        let answer = send(
            gated(&gate),
            post(Some(&good), &rpc(method, params), &headers),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{method}");
        let headers = [("mcp-method", *method), ("mcp-name", "other")];
        let answer = send(
            gated(&gate),
            post(Some(&good), &rpc(method, params), &headers),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{method}");
    }
    // A duplicate of the member a method names is refused like a duplicate name.
    let body =
        r#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"a","uri":"b"}}"#;
    let answer = send(gated(&gate), post(Some(&good), body, &[])).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tokens_in_the_query_string_or_a_form_body_are_refused_and_never_used() {
    let gate = gate(&[]);
    let good = token("alice", &[]);
    let mut shown = String::new();
    for query in [
        format!("access_token={good}"),
        format!("x=1&access%5Ftoken={good}"),
        format!("access_token={good}&x=1"),
    ] {
        // Even with a good header: a token in the URL is refused outright.
        let mut req = post(Some(&good), &call("whoami"), &[]);
        *req.uri_mut() = format!("/mcp?{query}").parse().unwrap();
        let answer = send(gated(&gate), req).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(answer.json()["error"], "invalid_request");
        assert!(!answer.show().contains(&good));
        shown = answer.show();
    }
    insta::assert_snapshot!("query", shown);

    let form = Request::post("/mcp")
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Full::new(Bytes::from(format!("access_token={good}"))))
        .unwrap();
    let answer = send(gated(&gate), form).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(!answer.show().contains(&good));
    insta::assert_snapshot!("form", answer.show());

    // An unrelated query parameter is fine.
    let mut req = post(Some(&good), &call("whoami"), &[]);
    *req.uri_mut() = "/mcp?access_tokens=no".parse().unwrap();
    assert_eq!(send(gated(&gate), req).await.status, StatusCode::OK);
}

#[tokio::test]
async fn mcp_method_and_name_headers_must_match_the_body() {
    let gate = gate(&[]);
    let good = token("alice", &[]);
    let ok_cases: [&[(&str, &str)]; 4] = [
        &[],
        &[("mcp-method", "tools/call")],
        &[("mcp-method", "tools/call"), ("mcp-name", "whoami")],
        // "whoami" in the base64 sentinel form
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?d2hvYW1p?="),
        ],
    ];
    for headers in ok_cases {
        let answer = send(gated(&gate), post(Some(&good), &call("whoami"), headers)).await;
        assert_eq!(answer.status, StatusCode::OK, "{headers:?}");
    }
    let mut shown = String::new();
    let bad_cases: [&[(&str, &str)]; 4] = [
        &[("mcp-method", "tools/list")],
        // the header names a free tool, the body calls a scoped one
        &[("mcp-method", "tools/call"), ("mcp-name", "whoami")],
        &[("mcp-name", "=?base64?bm90IGJhc2U2NA?=")],
        &[("mcp-name", "=?base64?!!!?=")],
    ];
    for headers in bad_cases {
        let answer = send(
            gated(&gate),
            post(Some(&good), &call("execute_query"), headers),
        )
        .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{headers:?}");
        assert_eq!(answer.json()["error"]["code"], -32020);
        assert_eq!(answer.json()["id"], 1);
        shown.push_str(&format!("--- {headers:?}\n{}\n", answer.show()));
    }
    insta::assert_snapshot!(shown);
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_before_buffering() {
    let (auth, _clock) = authenticator(&[]);
    let gate = McpAuth::builder(auth).max_body_bytes(64).build().unwrap();
    let good = token("alice", &[]);

    // Declared too large: refused without reading a byte.
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {good}"))
        .header("content-type", "application/json")
        .header("content-length", "65")
        .body(Unread::Untouchable)
        .unwrap();
    let answer = send(gated(&gate), req).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    insta::assert_snapshot!(answer.show());

    // No Content-Length, the stream goes past the limit: refused while reading.
    let chunks = (0..10).map(|_| Bytes::from_static(b"0123456789")).collect();
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {good}"))
        .body(Chunks(chunks))
        .unwrap();
    let answer = send(gated(&gate), req).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);

    // At the limit exactly, streamed: accepted, and passed on whole.
    let body = format!(
        "{{\"jsonrpc\":\"2.0\",\"method\":\"ping\",\"id\":1,\"x\":\"{}\"}}",
        "a".repeat(64 - 47)
    );
    assert_eq!(body.len(), 64);
    let chunks = body
        .as_bytes()
        .chunks(10)
        .map(Bytes::copy_from_slice)
        .collect();
    let req = Request::post("/mcp")
        .header("authorization", format!("Bearer {good}"))
        .body(Chunks(chunks))
        .unwrap();
    let answer = send(gated(&gate), req).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, body);
}

#[tokio::test]
async fn the_rate_limit_charges_tool_calls_only() {
    let gate = gate(&[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2")]);
    let good = token("alice", &[]);
    let free = [
        rpc("server/discover", &json!({})),
        rpc(
            "initialize",
            &json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}),
        ),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string(),
        rpc("tools/list", &json!({})),
        rpc("ping", &json!({})),
        // a response to a server request carries no method
        json!({"jsonrpc": "2.0", "id": 7, "result": {}}).to_string(),
    ];
    // Many free messages, then exactly two tool calls, then the third is refused.
    for round in 0..3 {
        for body in &free {
            let answer = send(gated(&gate), post(Some(&good), body, &[])).await;
            assert_eq!(answer.status, StatusCode::OK, "round {round}: {body}");
        }
        let get = Request::get("/mcp")
            .header("authorization", format!("Bearer {good}"))
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(
            send(gated(&gate), get).await.status,
            StatusCode::OK,
            "GET stream"
        );
    }
    for n in 1..=2 {
        let answer = send(gated(&gate), post(Some(&good), &call("whoami"), &[])).await;
        assert_eq!(answer.status, StatusCode::OK, "tool call {n}");
    }
    let answer = send(gated(&gate), post(Some(&good), &call("whoami"), &[])).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = answer.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry), "{retry}");
    assert_eq!(answer.header("www-authenticate"), None);
    insta::assert_snapshot!(answer.show());

    // Free messages still pass (still authenticated: a bad token is still refused).
    let answer = send(
        gated(&gate),
        post(Some(&good), &rpc("tools/list", &json!({})), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(
        gated(&gate),
        post(Some("junk"), &rpc("tools/list", &json!({})), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    // Another user has their own budget.
    let bob = token("bob", &[]);
    let answer = send(gated(&gate), post(Some(&bob), &call("whoami"), &[])).await;
    assert_eq!(answer.status, StatusCode::OK);

    let stats = gate.authenticator().stats();
    assert_eq!(stats.rejected("rate_limited"), 1);
}

#[tokio::test]
async fn requests_the_gate_cannot_read_safely_are_400() {
    let gate = gate(&[]);
    let good = token("alice", &[]);
    let mut shown = String::new();
    let cases = [
        ("batch", format!("[{}]", call("whoami"))),
        ("not JSON", "{\"jsonrpc\": \"2.0\", ".to_owned()),
        ("duplicate method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"method\":\"tools/call\",\"params\":{\"name\":\"execute_query\"}}".to_owned()),
        ("duplicate tool name", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"whoami\",\"name\":\"execute_query\"}}".to_owned()),
        ("tools/call without a name", rpc("tools/call", &json!({"arguments": {}}))),
        ("tools/call with a numeric name", rpc("tools/call", &json!({"name": 5}))),
        ("a method that is not a string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":5}".to_owned()),
    ];
    for (what, body) in cases {
        let answer = send(gated(&gate), post(Some(&good), &body, &[])).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{what}");
        shown.push_str(&format!("--- {what}\n{}\n", answer.show()));
    }
    // Two Authorization headers, or one that is not ASCII.
    let mut req = post(Some(&good), &call("whoami"), &[]);
    req.headers_mut()
        .append("authorization", format!("Bearer {good}").parse().unwrap());
    let answer = send(gated(&gate), req).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(!answer.show().contains(&good));
    shown.push_str(&format!(
        "--- two Authorization headers\n{}\n",
        answer.show()
    ));
    let mut req = post(None, &call("whoami"), &[]);
    req.headers_mut().insert(
        "authorization",
        http::HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
    );
    let answer = send(gated(&gate), req).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    shown.push_str(&format!("--- non-ASCII Authorization\n{}\n", answer.show()));
    insta::assert_snapshot!(shown);
}

#[tokio::test]
async fn when_disabled_everyone_is_anonymous_and_nothing_is_charged() {
    let auth =
        std::sync::Arc::new(m4_auth::Authenticator::new(m4_auth::AuthConfig::default()).unwrap());
    let gate = McpAuth::builder(auth)
        .resource_url("http://127.0.0.1:8765/mcp")
        .build()
        .unwrap();
    for _ in 0..3 {
        let answer = send(gated(&gate), post(None, &call("execute_query"), &[])).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-sub"), Some("anonymous"));
    }
}

#[tokio::test]
async fn unreachable_keys_are_503_without_a_challenge() {
    // Keys fetched from a loopback address nobody listens on.
    let jwks = format!("{}/jwks.json", m4_auth_testkit::idp::closed_port_url());
    let auth = m4_auth::Authenticator::new(config(&[
        ("M4_OAUTH2_JWKS_URL", jwks.as_str()),
        ("M4_OAUTH2_HTTP_TIMEOUT", "2"),
    ]))
    .unwrap();
    let gate = McpAuth::new(std::sync::Arc::new(auth)).unwrap();
    let answer = send(
        gated(&gate),
        post(Some(&token("alice", &[])), &call("whoami"), &[]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.header("www-authenticate"), None);
    assert_eq!(answer.json()["code"], "jwks_unavailable");
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    let _ = Duration::ZERO;
}

/// The gated service's future is `Send` for the bodies servers hand it (axum's, a buffered
/// one), as multi-threaded servers need; checked when this test compiles.
#[test]
fn the_gated_future_is_send() {
    fn send<T: Send>() -> &'static str {
        std::any::type_name::<T>()
    }
    type Gated = m4_auth_http::AuthService<Echo>;
    type FutureOf<B> = <Gated as tower::Service<http::Request<B>>>::Future;
    let names = [
        send::<FutureOf<axum::body::Body>>(),
        send::<FutureOf<http_body_util::Full<bytes::Bytes>>>(),
    ];
    assert!(
        names.iter().all(|n| n.contains("ResponseFuture")),
        "{names:?}"
    );
}

/// A request still in the gate (its token good, its body not yet sent) holds none of the
/// inner service's capacity: with an inner service that takes one request at a time, another
/// client's request gets through while the first one stalls. Otherwise a few slow uploads
/// would lock every legitimate user out.
#[tokio::test]
async fn a_request_still_in_the_gate_holds_no_inner_capacity() {
    use tower::ServiceExt;
    let gate = gate(&[]);
    let service =
        tower_layer::Layer::layer(&gate.layer(), tower::limit::ConcurrencyLimit::new(Echo, 1));
    let stalled = Request::post("/mcp")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", token("alice", &[])))
        .body(Unread::Stalled)
        .unwrap();
    let first = tokio::spawn(service.clone().oneshot(stalled));
    // Let the first request run until it waits for its body.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    assert!(
        !first.is_finished(),
        "the stalled request cannot have been answered"
    );

    let second = post(Some(&token("bob", &[])), &call("whoami"), &[]);
    let answer = tokio::time::timeout(Duration::from_secs(5), send(service, second))
        .await
        .expect("the second request waited for the stalled one's share of the inner service");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-sub"), Some("bob"));
    first.abort();
}
