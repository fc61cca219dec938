//! The RFC 9728 metadata document at both well-known paths, mounted on an axum router with the
//! gate in front of the MCP endpoint: unauthenticated, JSON, CORS open, and what it says.
#![cfg(test)]

mod support;

use axum::Router;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use m4_auth_http::McpAuth;
use serde_json::json;
use support::*;
use tower::ServiceExt;

fn router(gate: &McpAuth) -> Router {
    let [path_inserted, root] = gate.metadata_paths();
    Router::new()
        .route_service("/mcp", gated(gate))
        .route_service(&path_inserted, gate.metadata_service())
        .route_service(&root, gate.metadata_service())
}

async fn get(router: &Router, method: &str, path: &str) -> (StatusCode, http::HeaderMap, String) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("origin", "http://localhost:6274")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn the_metadata_is_served_at_both_paths_without_a_token() {
    let gate = gate(&[(
        "M4_OAUTH2_REQUIRED_SCOPES",
        "read:mimic-data,offline_access",
    )]);
    let router = router(&gate);
    let expected = json!({
        "resource": RESOURCE,
        "authorization_servers": [ISSUER],
        "scopes_supported": ["read:mimic-data", "write:cohorts"],
        "bearer_methods_supported": ["header"],
        "resource_name": "M4 MCP server",
    });
    for path in [
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-protected-resource",
    ] {
        let (status, headers, body) = get(&router, "GET", path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["access-control-allow-origin"], "*");
        let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc, expected, "{path}");

        let (status, headers, body) = get(&router, "OPTIONS", path).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(headers["access-control-allow-origin"], "*");
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET, HEAD, OPTIONS"
        );
        assert!(body.is_empty());

        let (status, headers, _) = get(&router, "POST", path).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers["allow"], "GET, HEAD, OPTIONS");
    }

    // The endpoint itself is gated; its challenge names the path-inserted document.
    let (status, headers, _) = get(&router, "POST", "/mcp").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(headers["www-authenticate"].to_str().unwrap().contains(
        "resource_metadata=\"https://m4.example.org/.well-known/oauth-protected-resource/mcp\""
    ));
}

#[tokio::test]
async fn an_endpoint_at_the_root_has_one_metadata_path() {
    let (auth, _clock) = authenticator(&[]);
    let gate = McpAuth::builder(auth)
        .resource_url("https://m4.example.org")
        .resource_name("M4 test")
        .build()
        .unwrap();
    let [a, b] = gate.metadata_paths();
    assert_eq!(a, b);
    let response = gate
        .metadata_service()
        .oneshot(
            Request::get(a.as_str())
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["resource"], "https://m4.example.org");
    assert_eq!(doc["resource_name"], "M4 test");
}
