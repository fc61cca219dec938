//! Discovery and transport over real HTTP on loopback: OIDC (root and path issuers), the
//! RFC 8414 fallback, the jwks.json fallback, issuer mismatch, an explicit JWKS URL, and the
//! redirect and https rules of the transport.
#![cfg(test)]

mod common;

use std::sync::Arc;

use common::{Idp, TIMEOUT, options};
use m4_auth_testkit::idp::ResponseTemplate;
use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyLookupError, KeyResolver, ManualClock};
use serde_json::json;

const OIDC: &str = "/.well-known/openid-configuration";

fn discovering(issuer: &str) -> JwksCache {
    JwksCache::new(
        JwksOptions::new(issuer)
            .http_timeout(TIMEOUT)
            .clock(ManualClock::new()),
    )
    .unwrap()
}

fn document(issuer: &str, jwks_uri: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

fn unavailable_reason(answer: Result<Arc<m4_jwks::VerifyingKey>, KeyLookupError>) -> String {
    match answer {
        Err(KeyLookupError::Unavailable { reason }) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[test]
fn root_issuer_with_trailing_slash() {
    let idp = Idp::start();
    let issuer = idp.url("/");
    idp.serve(OIDC, document(&issuer, &idp.url("/jwks")));
    idp.serve_jwks("/jwks", &["rsa-2048"]);
    let cache = discovering(&issuer);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(idp.paths(), [OIDC, "/jwks"]);
    assert_eq!(
        cache.stats().jwks_url.as_deref(),
        Some(idp.url("/jwks").as_str())
    );
}

#[test]
fn issuer_with_a_path_okta_style() {
    let idp = Idp::start();
    let issuer = idp.url("/oauth2/default");
    idp.serve(
        "/oauth2/default/.well-known/openid-configuration",
        document(&issuer, &idp.url("/oauth2/default/v1/keys")),
    );
    idp.serve_jwks("/oauth2/default/v1/keys", &["rsa-2048", "ec-p256"]);
    let cache = discovering(&issuer);
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(
        idp.paths(),
        [
            "/oauth2/default/.well-known/openid-configuration",
            "/oauth2/default/v1/keys"
        ]
    );
}

#[test]
fn discovery_runs_once_then_the_jwks_url_is_remembered() {
    let idp = Idp::start();
    let issuer = idp.url("/oauth2/default");
    idp.serve(
        "/oauth2/default/.well-known/openid-configuration",
        document(&issuer, &idp.url("/oauth2/default/v1/keys")),
    );
    idp.serve_jwks("/oauth2/default/v1/keys", &["rsa-2048", "ec-p256"]);
    let clock = ManualClock::new();
    let cache = JwksCache::new(JwksOptions::new(&issuer).clock(clock.clone())).unwrap();
    cache.prefetch().unwrap();
    clock.advance(m4_jwks::DEFAULT_TTL);
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(
        idp.hits("/oauth2/default/.well-known/openid-configuration"),
        1
    );
    assert_eq!(idp.hits("/oauth2/default/v1/keys"), 2);
}

#[test]
fn rfc8414_metadata_when_there_is_no_openid_configuration() {
    let idp = Idp::start();
    let issuer = idp.url("/oauth2/default");
    // No OIDC document: wiremock answers 404 for anything not mounted.
    idp.serve(
        "/.well-known/oauth-authorization-server/oauth2/default",
        document(&issuer, &idp.url("/oauth2/default/v1/keys")),
    );
    idp.serve_jwks("/oauth2/default/v1/keys", &["rsa-2048"]);
    let cache = discovering(&issuer);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(
        idp.paths(),
        [
            "/oauth2/default/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/oauth2/default",
            "/oauth2/default/v1/keys"
        ]
    );
}

#[test]
fn jwks_json_fallback_only_when_both_documents_are_404() {
    let idp = Idp::start();
    let issuer = idp.url("/tenant");
    idp.serve_jwks("/tenant/.well-known/jwks.json", &["ec-p256"]);
    let cache = discovering(&issuer);
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(
        idp.paths(),
        [
            "/tenant/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server/tenant",
            "/tenant/.well-known/jwks.json"
        ]
    );
}

#[test]
fn no_fallback_when_discovery_fails_otherwise() {
    let idp = Idp::start();
    let issuer = idp.url("/");
    idp.serve(OIDC, ResponseTemplate::new(500));
    idp.serve_jwks("/.well-known/jwks.json", &["ec-p256"]);
    let cache = discovering(&issuer);
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    assert!(reason.contains("HTTP 500"), "{reason}");
    assert!(reason.contains(&idp.url(OIDC)), "{reason}");
    assert_eq!(
        idp.paths(),
        [OIDC],
        "a 500 is not a 404: nothing else is tried"
    );
}

#[test]
fn nothing_found_names_every_url_tried() {
    let idp = Idp::start();
    let issuer = idp.url("/realms/m4");
    let cache = discovering(&issuer);
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    for url in [
        idp.url("/realms/m4/.well-known/openid-configuration"),
        idp.url("/.well-known/oauth-authorization-server/realms/m4"),
        idp.url("/realms/m4/.well-known/jwks.json"),
    ] {
        assert!(reason.contains(&url), "{reason}");
    }
    assert!(reason.contains("M4_OAUTH2_JWKS_URL"), "{reason}");
    assert_eq!(idp.paths().len(), 3);
}

#[test]
fn issuer_mismatch_shows_both_values() {
    let idp = Idp::start();
    // The classic mistake: configured without the trailing slash the provider uses.
    let configured = idp.uri();
    let published = idp.url("/");
    idp.serve(OIDC, document(&published, &idp.url("/jwks")));
    idp.serve_jwks("/jwks", &["rsa-2048"]);
    let cache = discovering(&configured);
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(reason.contains(&format!("\"{published}\"")), "{reason}");
    assert!(reason.contains(&format!("\"{configured}\"")), "{reason}");
    assert!(reason.contains("trailing slash"), "{reason}");
    assert_eq!(
        idp.hits("/jwks"),
        0,
        "keys are never fetched for a mismatched issuer"
    );
}

#[test]
fn discovered_jwks_uri_must_be_https_or_loopback() {
    let idp = Idp::start();
    let issuer = idp.url("/");
    idp.serve(OIDC, document(&issuer, "http://keys.example.com/jwks"));
    let cache = discovering(&issuer);
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(
        reason.contains("jwks_uri of the discovery document"),
        "{reason}"
    );
    assert!(reason.contains("use https"), "{reason}");
    assert_eq!(idp.paths(), [OIDC]);
}

#[test]
fn explicit_jwks_url_skips_discovery() {
    let idp = Idp::start();
    idp.serve(OIDC, document(&idp.uri(), &idp.url("/elsewhere")));
    idp.serve_jwks("/keys", &["rsa-2048"]);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    clock.advance(common::TTL);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    let paths = idp.paths();
    assert_eq!(paths, ["/keys", "/keys"]);
    assert!(!paths.iter().any(|p| p.contains(".well-known")));
}

#[test]
fn a_moved_jwks_is_rediscovered() {
    let idp = Idp::start();
    let issuer = idp.url("/");
    idp.serve(OIDC, document(&issuer, &idp.url("/keys-v1")));
    idp.serve_jwks("/keys-v1", &["rsa-2048"]);
    let clock = ManualClock::new();
    let cache = JwksCache::new(JwksOptions::new(&issuer).clock(clock.clone())).unwrap();
    cache.prefetch().unwrap();

    // The provider moves its keys; the old URL now answers 404.
    idp.reset();
    idp.serve(OIDC, document(&issuer, &idp.url("/keys-v2")));
    idp.serve_jwks("/keys-v2", &["rsa-2048-b"]);
    clock.advance(m4_jwks::DEFAULT_REFRESH_COOLDOWN);
    assert_eq!(
        cache.resolve("rsa-2048-b", Algorithm::RS256).unwrap_err(),
        KeyLookupError::UnknownKid
    );
    clock.advance(m4_jwks::DEFAULT_REFRESH_COOLDOWN);
    cache.resolve("rsa-2048-b", Algorithm::RS256).unwrap();
    assert_eq!(idp.paths(), ["/keys-v1", OIDC, "/keys-v2"]);
}

#[test]
fn redirects_are_followed_up_to_three() {
    let idp = Idp::start();
    idp.serve(
        "/keys",
        ResponseTemplate::new(302).insert_header("location", "/a"),
    );
    idp.serve(
        "/a",
        ResponseTemplate::new(301).insert_header("location", "b"),
    );
    idp.serve(
        "/b",
        ResponseTemplate::new(307).insert_header("location", idp.url("/final").as_str()),
    );
    idp.serve_jwks("/final", &["ec-p256"]);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(idp.paths(), ["/keys", "/a", "/b", "/final"]);
}

#[test]
fn a_fourth_redirect_is_refused() {
    let idp = Idp::start();
    for (from, to) in [
        ("/keys", "/r1"),
        ("/r1", "/r2"),
        ("/r2", "/r3"),
        ("/r3", "/r4"),
    ] {
        idp.serve(
            from,
            ResponseTemplate::new(302).insert_header("location", to),
        );
    }
    idp.serve_jwks("/r4", &["ec-p256"]);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    assert!(reason.contains("redirected more than 3 times"), "{reason}");
    assert_eq!(idp.hits("/r4"), 0);
}

#[test]
fn a_redirect_to_plain_http_is_refused_before_connecting() {
    let idp = Idp::start();
    idp.serve(
        "/keys",
        ResponseTemplate::new(302).insert_header("location", "http://keys.example.com/jwks"),
    );
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    assert!(reason.contains("redirect target"), "{reason}");
    assert!(reason.contains("http://keys.example.com/jwks"), "{reason}");
    assert!(reason.contains("use https"), "{reason}");
}

#[test]
fn a_body_of_exactly_the_limit_is_read() {
    let idp = Idp::start();
    let mut body = common::jwks(&["ec-p256"]).into_bytes();
    body.resize(usize::try_from(m4_jwks::MAX_BODY_BYTES).unwrap(), b' ');
    idp.serve(
        "/keys",
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    );
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
}

#[test]
fn a_body_one_byte_over_the_limit_is_refused() {
    let idp = Idp::start();
    let mut body = common::jwks(&["ec-p256"]).into_bytes();
    body.resize(usize::try_from(m4_jwks::MAX_BODY_BYTES).unwrap() + 1, b' ');
    idp.serve(
        "/keys",
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    );
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    assert!(reason.contains("larger than 1048576 bytes"), "{reason}");
}

#[test]
fn plain_http_is_refused_for_non_loopback_configuration() {
    for (issuer, jwks_url) in [
        ("http://idp.example.com/", None),
        (
            "https://idp.example.com/",
            Some("http://idp.example.com/keys"),
        ),
    ] {
        let mut options = JwksOptions::new(issuer);
        if let Some(url) = jwks_url {
            options = options.jwks_url(url);
        }
        let err = JwksCache::new(options).unwrap_err();
        assert!(err.is_configuration());
        assert!(err.to_string().contains("use https"), "{err}");
    }
    for loopback in [
        "http://127.0.0.1:1/",
        "http://127.9.9.9/",
        "http://[::1]:8080/",
        "http://localhost:3000/realms/m4",
    ] {
        JwksCache::new(JwksOptions::new(loopback)).unwrap();
    }
}

/// https goes through rustls on the aws-lc-rs provider with the platform verifier: against a
/// plain-HTTP server the handshake fails cleanly (no panic for a missing crypto provider).
#[test]
fn https_runs_through_rustls() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", &["ec-p256"]);
    let https_url = idp.url("/keys").replacen("http://", "https://", 1);
    let cache = JwksCache::new(
        JwksOptions::new(idp.uri())
            .jwks_url(&https_url)
            .http_timeout(TIMEOUT)
            .clock(ManualClock::new()),
    )
    .unwrap();
    let reason = unavailable_reason(cache.resolve("ec-p256", Algorithm::ES256));
    assert!(reason.contains(&https_url), "{reason}");
    assert!(reason.contains("failed in TLS"), "{reason}");
}
