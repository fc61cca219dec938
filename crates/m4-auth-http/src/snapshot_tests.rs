//! Every answer this crate writes, snapshotted: each [`Rejection`] as served (status, headers,
//! body), each [`Error`] message, and the facade's errors as the gate serves them, one per
//! HTTP status.
//!
//! `rejection_name` and `error_name` match with no wildcard arm, so a new variant does not
//! compile until it is named here, and the `every_*_is_sampled` checks fail until it has a
//! sample.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use m4_auth::{AuthConfig, AuthError, Authenticator};

use crate::config::{DEFAULT_MAX_BODY_BYTES, McpAuth};
use crate::error::{Error, Rejection};
use crate::reply;

fn rejection_name(r: &Rejection) -> &'static str {
    m4_auth_testkit::variant_name!(r, Rejection {
        TokenInQuery,
        FormBody,
        RepeatedAuthorization,
        AuthorizationNotAscii,
        BodyTooLarge { .. },
        BodyUnreadable { .. },
        NotJsonRpc { .. },
        Batch,
        MissingToolName,
        HeaderMismatch { .. },
    })
}

const ALL_REJECTIONS: [&str; 10] = [
    "TokenInQuery",
    "FormBody",
    "RepeatedAuthorization",
    "AuthorizationNotAscii",
    "BodyTooLarge",
    "BodyUnreadable",
    "NotJsonRpc",
    "Batch",
    "MissingToolName",
    "HeaderMismatch",
];

fn rejections() -> Vec<Rejection> {
    vec![
        Rejection::TokenInQuery,
        Rejection::FormBody,
        Rejection::RepeatedAuthorization,
        Rejection::AuthorizationNotAscii,
        Rejection::BodyTooLarge {
            limit: DEFAULT_MAX_BODY_BYTES,
        },
        Rejection::BodyUnreadable {
            reason: "connection reset".to_owned(),
        },
        Rejection::NotJsonRpc {
            reason: "the body ends where a JSON object was expected (byte 1)".to_owned(),
        },
        Rejection::Batch,
        Rejection::MissingToolName,
        Rejection::HeaderMismatch {
            header: "Mcp-Name",
            header_value: "whoami".to_owned(),
            body_value: "execute_query".to_owned(),
        },
    ]
}

fn error_name(e: &Error) -> &'static str {
    m4_auth_testkit::variant_name!(e, Error {
        MissingResourceUrl,
        ResourceUrl(_),
        InvalidToolScope { .. },
        EmptyToolName,
        ZeroBodyLimit { .. },
    })
}

fn disabled() -> Arc<Authenticator> {
    Arc::new(Authenticator::new(AuthConfig::default()).unwrap_or_else(|e| panic!("{e}")))
}

/// Every builder error, produced by the builder itself.
fn errors() -> Vec<Error> {
    let build = |f: fn(crate::McpAuthBuilder) -> crate::McpAuthBuilder| {
        f(McpAuth::builder(disabled()))
            .build()
            .err()
            .unwrap_or_else(|| panic!("built"))
    };
    vec![
        build(|b| b),
        build(|b| b.resource_url("http://m4.example.org/mcp")),
        build(|b| {
            b.resource_url("https://m4.example.org/mcp")
                .tool_scopes("execute_query", ["write cohorts"])
        }),
        build(|b| {
            b.resource_url("https://m4.example.org/mcp")
                .tool_scopes("", ["write:cohorts"])
        }),
        build(|b| {
            b.resource_url("https://m4.example.org/mcp")
                .max_body_bytes(0)
        }),
    ]
}

fn gate() -> McpAuth {
    McpAuth::builder(disabled())
        .resource_url("https://m4.example.org/mcp")
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn show(response: &Response<Full<Bytes>>) -> String {
    let mut out = format!("{}\n", response.status());
    for (name, value) in response.headers() {
        let _ = writeln!(out, "{name}: {}", value.to_str().unwrap_or("(binary)"));
    }
    let body = http_body_util::BodyExt::collect(response.body().clone());
    let body = futures_ready(body);
    let _ = writeln!(out, "\n{body}");
    out
}

/// The bytes of a `Full` body, whose collect future is ready at once.
fn futures_ready(fut: http_body_util::combinators::Collect<Full<Bytes>>) -> String {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut fut = std::pin::pin!(fut);
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(collected)) => {
            String::from_utf8_lossy(&collected.to_bytes()).into_owned()
        }
        _ => "(not ready)".to_owned(),
    }
}

use std::future::Future as _;

#[test]
fn every_rejection_is_sampled_and_served() {
    let samples = rejections();
    let names: BTreeSet<&str> = samples.iter().map(rejection_name).collect();
    assert_eq!(names, ALL_REJECTIONS.into_iter().collect());
    let gate = gate();
    let mut out = String::new();
    for r in &samples {
        let id = serde_json::json!(1);
        let response = reply::rejection(&gate.shared, r, Some(&id));
        assert_eq!(response.status().as_u16(), r.status());
        let _ = writeln!(
            out,
            "--- {} ({})\n{}",
            rejection_name(r),
            r.code(),
            show(&response)
        );
    }
    insta::assert_snapshot!(out);
}

#[test]
fn every_builder_error_is_sampled() {
    let out = m4_auth_testkit::messages::lines(&errors(), error_name, 5);
    insta::assert_snapshot!(out);
}

#[test]
fn facade_errors_as_served_one_per_status() {
    let gate = gate();
    let scopes = vec!["read:mimic-data".to_owned(), "write:cohorts".to_owned()];
    let samples = [
        AuthError::MissingToken,
        AuthError::UnsupportedScheme {
            scheme: "Basic".to_owned(),
        },
        AuthError::Token(m4_auth::jwt::Error::Expired),
        AuthError::InsufficientScope {
            missing: vec!["write:cohorts".to_owned()],
            required: scopes.clone(),
        },
        AuthError::RateLimited {
            retry_after_secs: 42,
        },
        AuthError::Jwks(m4_auth::jwks::Error::FetchInProgress {
            source_url: "https://idp.example.com/jwks".to_owned(),
            waited: std::time::Duration::from_secs(10),
        }),
        AuthError::UnsupportedBackend {
            backend: "memcached".to_owned(),
        },
    ];
    let statuses: BTreeSet<u16> = samples.iter().map(AuthError::http_status).collect();
    assert_eq!(statuses, [401, 403, 429, 500, 503].into_iter().collect());
    let mut out = String::new();
    for err in &samples {
        let response = reply::auth_error(&gate.shared, err, &scopes);
        let _ = writeln!(out, "--- {}\n{}", err.code(), show(&response));
    }
    let _ = writeln!(out, "--- internal\n{}", show(&reply::internal("test")));
    insta::assert_snapshot!(out);
}

#[test]
fn a_503_retry_after_is_the_cooldown_from_one_second_to_one_minute() {
    let jwks = AuthError::Jwks(m4_auth::jwks::Error::FetchInProgress {
        source_url: "https://idp.example.com/jwks".to_owned(),
        waited: std::time::Duration::from_secs(10),
    });
    let mut seen = Vec::new();
    for cooldown in ["1", "30", "59", "61", "31536000"] {
        let config = AuthConfig::from_vars([("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", cooldown)])
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        let auth = Arc::new(Authenticator::new(config).unwrap_or_else(|e| panic!("{e}")));
        let gate = McpAuth::builder(auth)
            .resource_url("https://m4.example.org/mcp")
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let response = reply::auth_error(&gate.shared, &jwks, &[]);
        assert_eq!(response.status().as_u16(), 503);
        let retry_after = response.headers().get(http::header::RETRY_AFTER);
        seen.push(retry_after.and_then(|v| v.to_str().ok()).map(str::to_owned));
        // Only a 503 gets one of these: a 401 does not.
        let expired = AuthError::Token(m4_auth::jwt::Error::Expired);
        let response = reply::auth_error(&gate.shared, &expired, &[]);
        assert!(response.headers().get(http::header::RETRY_AFTER).is_none());
    }
    let expected = ["1", "30", "59", "60", "60"].map(|s| Some(s.to_owned()));
    assert_eq!(seen, expected);
}
