//! `HttpClient` for other crates (the OAuth token client): provider metadata from discovery,
//! and form POSTs with the same limits, over real loopback HTTP.
#![cfg(test)]

mod common;

use std::time::Duration;

use common::Idp;
use m4_jwks::{Error, HttpClient};
use serde_json::json;
use wiremock::ResponseTemplate;

fn client() -> HttpClient {
    HttpClient::new(Duration::from_secs(5))
}

#[test]
fn provider_metadata_reads_the_oauth_endpoints() {
    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve(
        "/.well-known/openid-configuration",
        ResponseTemplate::new(200).set_body_json(json!({
            "issuer": uri,
            "jwks_uri": format!("{uri}/keys"),
            "token_endpoint": format!("{uri}/token"),
            "device_authorization_endpoint": format!("{uri}/device"),
            "token_endpoint_auth_methods_supported": ["client_secret_post"],
            "grant_types_supported": ["client_credentials", "refresh_token"],
        })),
    );
    let metadata = client().provider_metadata(&uri).unwrap();
    assert_eq!(metadata.token_endpoint, Some(format!("{uri}/token")));
    assert_eq!(
        metadata.device_authorization_endpoint,
        Some(format!("{uri}/device"))
    );
    assert_eq!(metadata.revocation_endpoint, None);
    assert_eq!(
        metadata.token_endpoint_auth_methods_supported,
        Some(vec!["client_secret_post".to_owned()])
    );
    assert_eq!(metadata.grant_types_supported.unwrap().len(), 2);
}

#[test]
fn provider_metadata_refuses_what_discovery_refuses() {
    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve(
        "/.well-known/openid-configuration",
        ResponseTemplate::new(200).set_body_json(json!({
            "issuer": format!("{uri}/other"),
            "token_endpoint": format!("{uri}/token"),
        })),
    );
    assert!(matches!(
        client().provider_metadata(&uri),
        Err(Error::IssuerMismatch { .. })
    ));

    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve(
        "/.well-known/openid-configuration",
        ResponseTemplate::new(200).set_body_json(json!({
            "issuer": uri,
            "token_endpoint": "http://idp.example.com/token",
        })),
    );
    let err = client().provider_metadata(&uri).unwrap_err();
    assert!(err.to_string().contains("OAuth endpoint"), "{err}");

    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve(
        "/.well-known/openid-configuration",
        ResponseTemplate::new(200)
            .set_body_json(json!({"issuer": uri, "grant_types_supported": "client_credentials"})),
    );
    assert!(matches!(
        client().provider_metadata(&uri),
        Err(Error::DiscoveryMissingMember {
            member: "grant_types_supported",
            ..
        })
    ));

    // Neither document exists.
    let idp = Idp::start();
    assert!(matches!(
        client().provider_metadata(&idp.uri()),
        Err(Error::NoMetadata { .. })
    ));
}

#[test]
fn post_form_returns_error_bodies_and_never_follows_redirects() {
    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve_post(
        "/token",
        ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})),
    );
    idp.serve_post(
        "/moved",
        ResponseTemplate::new(307).insert_header("location", format!("{uri}/token")),
    );
    let answer = client()
        .post_form(
            &format!("{uri}/token"),
            &[("grant_type", "x y")],
            Some("Basic abc"),
        )
        .unwrap();
    assert_eq!(answer.status, 400);
    assert!(
        String::from_utf8(answer.body.clone())
            .unwrap()
            .contains("invalid_grant")
    );
    assert!(
        !format!("{answer:?}").contains("invalid_grant"),
        "Debug shows no body"
    );

    let moved = client()
        .post_form(&format!("{uri}/moved"), &[], None)
        .unwrap();
    assert_eq!(moved.status, 307);
    assert_eq!(moved.location, Some(format!("{uri}/token")));
    assert_eq!(answer.location, None, "no Location header, none reported");
    assert_eq!(idp.hits("/token"), 1, "the redirect was not followed");

    let err = client()
        .post_form("http://idp.example.com/token", &[], None)
        .unwrap_err();
    assert!(err.to_string().contains("use https"), "{err}");
}

/// The `Location` is reported as sent, whatever bytes it holds: bytes that are not UTF-8
/// become U+FFFD rather than losing the header (escaping for display is the caller's job).
#[test]
fn post_form_reports_a_location_that_is_not_utf8() {
    let idp = Idp::start();
    let uri = idp.uri();
    idp.serve_post(
        "/moved",
        ResponseTemplate::new(302).insert_header("location", &b"/a\xffb\tc"[..]),
    );
    let moved = client()
        .post_form(&format!("{uri}/moved"), &[], None)
        .unwrap();
    assert_eq!(moved.status, 302);
    assert_eq!(moved.location.as_deref(), Some("/a\u{fffd}b\tc"));
}

#[test]
fn request_failure_drops_the_method_and_url() {
    let down = m4_auth_testkit::closed_addr();
    let err = client()
        .post_form(&format!("http://{down}"), &[], None)
        .unwrap_err();
    let reason = err.request_failure().unwrap();
    assert!(!reason.starts_with("GET "), "{reason}");
    assert!(!reason.contains(&down.ip().to_string()), "{reason}");
}
