//! `M4_OAUTH2_RATE_LIMIT_BACKEND=redis://...` through the facade, against a real `redis-server`
//! on loopback: one limit shared by every Authenticator, health and redaction, and what a build
//! without the `redis` feature answers.
#![cfg(test)]

mod support;

use m4_auth::{Authenticator, RateLimitBackendInfo};
#[cfg(feature = "redis")]
use m4_auth_testkit::redis::RedisServer;
use support::*;

/// An authenticator over the pinned fixture keys whose rate limit lives at `backend`.
fn with_backend(backend: &str, requests: &str) -> Authenticator {
    authenticator(&[
        ("M4_OAUTH2_RATE_LIMIT_BACKEND", backend),
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", requests),
    ])
    .0
}

#[cfg(feature = "redis")]
#[test]
fn two_authenticators_sharing_one_redis_allow_the_limit_once_in_total() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let first = with_backend(&url, "5");
    let second = with_backend(&url, "5");
    assert_eq!(
        first.rate_limit_backend(),
        RateLimitBackendInfo::Redis { url: url.clone() }
    );
    assert!(matches!(first.rate_limit_health(), Some(Ok(_))));

    let alice = sign("rsa-2048", &claims("alice"));
    // Alternate between the two "instances": 5 pass in total, not 5 each.
    let verdicts: Vec<String> = (0..8)
        .map(|i| {
            let auth = if i % 2 == 0 { &first } else { &second };
            verdict(auth, &alice)
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            "ok alice",
            "ok alice",
            "ok alice",
            "ok alice",
            "ok alice",
            "rate_limited",
            "rate_limited",
            "rate_limited",
        ]
    );
    // Either instance keeps refusing alice, and a fresh Authenticator (a restart) too.
    let third = with_backend(&url, "5");
    assert_eq!(verdict(&third, &alice), "rate_limited");
    let err = second.authenticate(&alice).unwrap_err();
    assert!(err.retry_after().is_some_and(|s| s > 0 && s <= 3600));
    // Another subject has its own budget.
    let bob = sign("ec-p256", &claims("bob"));
    assert_eq!(verdict(&second, &bob), "ok bob");
    assert_eq!(first.stats().rate_limited + second.stats().rate_limited, 4);
}

#[cfg(feature = "redis")]
#[test]
fn without_redis_checks_still_answer_in_process_and_health_says_why() {
    let down = m4_auth_testkit::closed_addr(); // nothing listens there
    let auth = with_backend(&format!("redis://:hunter2@{down}/0"), "2");
    let shown = format!("redis://[redacted]@{down}/0");
    assert_eq!(
        auth.rate_limit_backend(),
        RateLimitBackendInfo::Redis { url: shown.clone() }
    );
    // Never a lockout: the in-process fallback answers, with the same limit.
    let alice = sign("rsa-2048", &claims("alice"));
    assert_eq!(verdict(&auth, &alice), "ok alice");
    assert_eq!(verdict(&auth, &alice), "ok alice");
    assert_eq!(verdict(&auth, &alice), "rate_limited");

    let err = auth.rate_limit_health().unwrap().unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("Redis at {shown} is unavailable: ")),
        "{message}"
    );
    let everything = format!("{message}{auth:?}{}", auth.rate_limit_backend());
    assert!(!everything.contains("hunter2"), "{everything}");
}

#[cfg(feature = "redis")]
#[test]
fn a_disabled_rate_limit_builds_no_redis_client() {
    let config = config(&[
        ("M4_OAUTH2_RATE_LIMIT_BACKEND", "redis://127.0.0.1:1/0"),
        ("M4_OAUTH2_RATE_LIMIT_ENABLED", "false"),
    ]);
    let auth = Authenticator::builder(config)
        .pinned_keys(pinned())
        .build()
        .unwrap();
    assert_eq!(auth.rate_limit_backend(), RateLimitBackendInfo::Off);
    assert!(auth.rate_limit_health().is_none());
}
/// A build without the `redis` feature refuses a Redis URL when the authenticator is built,
/// rather than silently limiting per process (`cargo test -p m4-auth --no-default-features`).
#[cfg(not(feature = "redis"))]
#[test]
fn without_the_feature_a_redis_backend_is_refused_with_the_fix() {
    let config = config(&[(
        "M4_OAUTH2_RATE_LIMIT_BACKEND",
        "redis://:hunter2@cache:6379/0",
    )]);
    let err = Authenticator::new(config).unwrap_err();
    assert_eq!(err.code(), m4_auth::CONFIGURATION_ERROR);
    assert_eq!(
        err.to_string(),
        "M4_OAUTH2_RATE_LIMIT_BACKEND=redis://[redacted]@cache:6379/0 needs Redis support, but \
         this build was compiled without the `redis` feature: enable it (it is on by default) or \
         set M4_OAUTH2_RATE_LIMIT_BACKEND=memory"
    );
}

#[test]
fn the_memory_backend_needs_no_server_and_has_no_health_to_ask() {
    let auth = with_backend("memory", "1");
    assert_eq!(auth.rate_limit_backend(), RateLimitBackendInfo::Memory);
    assert!(auth.rate_limit_health().is_none());
}
