//! Outage tolerance over real HTTP on loopback: after a good fetch, a 503, a hang past the
//! timeout, garbage JSON, a 50 MB body and a set without usable keys each leave the cached
//! keys serving until TTL + max stale; a cold start with the endpoint down fails with
//! `jwks_unavailable` within the timeout; one warning per failure streak.
//! The fake clock drives TTL, cooldown and max stale; only the HTTP timeouts take real time.
#![cfg(test)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{COOLDOWN, Idp, MAX_STALE, TIMEOUT, TTL, options};
use m4_auth_testkit::idp::ResponseTemplate;
use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyLookupError, KeyResolver, ManualClock};

const GOOD: &[&str] = &["rsa-2048", "ec-p256"];

fn unavailable_reason(answer: Result<Arc<m4_jwks::VerifyingKey>, KeyLookupError>) -> String {
    match answer {
        Err(KeyLookupError::Unavailable { reason }) => reason,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

/// After a good fetch the endpoint starts answering `bad`: keys keep serving through TTL
/// expiry and retries (one per cooldown), until TTL + max stale.
#[track_caller]
fn rides_out(bad: ResponseTemplate, cause: &str) {
    let idp = Idp::start();
    idp.serve_jwks("/keys", GOOD);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.prefetch().unwrap();
    assert_eq!(cache.generation(), 1);

    idp.reset();
    idp.serve("/keys", bad);
    clock.advance(TTL);

    // Expired: this lookup tries a refresh, which fails, and is still answered.
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(idp.hits("/keys"), 1);
    let stats = cache.stats();
    assert!(stats.serving_stale);
    assert_eq!(stats.failure_streak, 1);
    let last_error = stats.last_error.unwrap();
    assert!(last_error.contains(&idp.url("/keys")), "{last_error}");
    assert!(last_error.contains(cause), "{last_error}");

    // Within the cooldown: served from cache, no new request.
    for _ in 0..50 {
        cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    }
    assert_eq!(idp.hits("/keys"), 1);

    // One retry per cooldown, still failing, still serving.
    clock.advance(COOLDOWN);
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(idp.hits("/keys"), 2);
    assert_eq!(cache.generation(), 1, "the served set did not change");

    // Past TTL + max stale: jwks_unavailable, naming the URL and the cause.
    clock.advance(MAX_STALE);
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(reason.contains(&idp.url("/keys")), "{reason}");
    assert!(reason.contains(cause), "{reason}");
    assert!(reason.contains("M4_OAUTH2_JWKS_MAX_STALE"), "{reason}");
    assert_eq!(idp.hits("/keys"), 3);
    assert_eq!(
        cache.generation(),
        2,
        "dropping the keys changes the generation"
    );
    assert!(cache.stats().keys.is_empty());

    // Later lookups within the cooldown fail fast with the same cause.
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(reason.contains(cause), "{reason}");
    assert!(reason.contains("next attempt in"), "{reason}");
    assert_eq!(idp.hits("/keys"), 3);
}

#[test]
fn outage_503() {
    rides_out(ResponseTemplate::new(503), "answered HTTP 503");
}

#[test]
fn outage_hang_past_the_timeout() {
    let started = Instant::now();
    rides_out(
        ResponseTemplate::new(200)
            .set_body_raw(common::jwks(GOOD), "application/json")
            .set_delay(Duration::from_secs(3)),
        "timed out after 1 s",
    );
    // Three fetches, each cut at the 1 s timeout rather than the 3 s delay.
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn outage_garbage_json() {
    rides_out(
        ResponseTemplate::new(200).set_body_raw("<html>Service Unavailable</html>", "text/html"),
        "not valid JSON",
    );
}

#[test]
fn outage_50_mb_body() {
    let mut body = b"{\"keys\":[".to_vec();
    body.resize(50 * 1024 * 1024, b' ');
    rides_out(
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
        "larger than 1048576 bytes",
    );
}

#[test]
fn outage_set_without_usable_keys() {
    rides_out(
        ResponseTemplate::new(200).set_body_raw(
            r#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#,
            "application/json",
        ),
        "no usable signature key",
    );
}

#[test]
fn outage_empty_set() {
    rides_out(
        ResponseTemplate::new(200).set_body_raw(r#"{"keys":[]}"#, "application/json"),
        "no usable signature key",
    );
}

#[test]
fn unknown_kid_during_an_outage_is_unknown_and_retried_per_cooldown() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", GOOD);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.prefetch().unwrap();
    idp.reset();
    idp.serve("/keys", ResponseTemplate::new(500));
    clock.advance(COOLDOWN);
    for _ in 0..100 {
        assert_eq!(
            cache.resolve("new-kid", Algorithm::RS256).unwrap_err(),
            KeyLookupError::UnknownKid
        );
    }
    assert_eq!(idp.hits("/keys"), 1);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
}

#[test]
fn recovery_after_an_outage() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", GOOD);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.prefetch().unwrap();
    idp.reset();
    idp.serve("/keys", ResponseTemplate::new(502));
    clock.advance(TTL);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(cache.stats().failure_streak, 1);

    idp.reset();
    idp.serve_jwks("/keys", &["rsa-2048-b"]);
    clock.advance(COOLDOWN);
    // The kid of the new set: the expired set lacks it, so this lookup refetches and waits.
    cache.resolve("rsa-2048-b", Algorithm::RS256).unwrap();
    let stats = cache.stats();
    assert_eq!(stats.failure_streak, 0);
    assert!(!stats.serving_stale);
    assert_eq!(stats.generation, 2);
    assert!(
        stats.last_error.unwrap().contains("HTTP 502"),
        "the last error stays visible"
    );
    assert!(stats.last_error_at.unwrap() < stats.last_success.unwrap());
}

#[test]
fn one_warning_per_failure_streak() {
    let recorder = m4_auth_testkit::logs::Recorder::default();
    let warnings = || recorder.count(tracing::Level::WARN);
    tracing::subscriber::with_default(recorder.clone(), || {
        let idp = Idp::start();
        idp.serve_jwks("/keys", GOOD);
        let clock = ManualClock::new();
        let cache = JwksCache::new(options(&idp, &clock)).unwrap();
        cache.prefetch().unwrap();
        assert_eq!(warnings(), 0);

        // A streak of five failures: one warning.
        idp.reset();
        idp.serve("/keys", ResponseTemplate::new(503));
        clock.advance(TTL);
        for _ in 0..5 {
            cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
            clock.advance(COOLDOWN);
        }
        assert_eq!(idp.hits("/keys"), 5);
        assert_eq!(warnings(), 1);

        // Recovery, then a new streak: a second warning.
        idp.reset();
        idp.serve_jwks("/keys", GOOD);
        cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
        assert_eq!(cache.stats().failure_streak, 0);
        idp.reset();
        idp.serve("/keys", ResponseTemplate::new(503));
        clock.advance(TTL);
        cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
        clock.advance(COOLDOWN);
        cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
        assert_eq!(warnings(), 2);
    });
}

#[test]
fn cold_start_connection_refused_fails_fast_then_cools_down() {
    let url = format!("{}/keys", common::closed_port_url());
    let clock = ManualClock::new();
    let cache = JwksCache::new(
        JwksOptions::new("https://issuer.example.com/")
            .jwks_url(&url)
            .http_timeout(TIMEOUT)
            .clock(clock.clone()),
    )
    .unwrap();
    let started = Instant::now();
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    assert!(reason.contains(&url), "{reason}");
    assert!(reason.contains("connection refused"), "{reason}");
    assert_eq!(cache.prefetch().unwrap_err().code(), "jwks_unavailable");

    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(reason.contains("next attempt in 30 s"), "{reason}");
    assert_eq!(cache.stats().fetch_count, 1, "no retry inside the cooldown");
    clock.advance(common::COOLDOWN);
    unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert_eq!(cache.stats().fetch_count, 2);
}

#[test]
fn cold_start_hanging_endpoint_fails_within_the_timeout() {
    let idp = Idp::start();
    idp.serve(
        "/keys",
        ResponseTemplate::new(200)
            .set_body_raw(common::jwks(GOOD), "application/json")
            .set_delay(Duration::from_secs(10)),
    );
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    let started = Instant::now();
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    let elapsed = started.elapsed();
    assert!(elapsed >= TIMEOUT && elapsed < TIMEOUT * 3, "{elapsed:?}");
    assert!(reason.contains(&idp.url("/keys")), "{reason}");
    assert!(reason.contains("timed out after 1 s"), "{reason}");
}

#[test]
fn cold_start_503_is_retried_once_per_cooldown() {
    let idp = Idp::start();
    idp.serve("/keys", ResponseTemplate::new(503));
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    for _ in 0..20 {
        let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
        assert!(reason.contains("HTTP 503"), "{reason}");
    }
    assert_eq!(idp.hits("/keys"), 1);
    clock.advance(COOLDOWN);
    idp.reset();
    idp.serve_jwks("/keys", GOOD);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(idp.hits("/keys"), 1);
}

/// A thread that needs a fetch already in flight waits at most the HTTP timeout.
/// Real time: discovery and the JWKS each take 2.2 s (under the 3 s timeout), so the first
/// fetch takes about 4.4 s; a second thread arriving 0.2 s in gives up at about 3.2 s (wide
/// margins: this machine's cores are shared).
#[test]
fn waiting_for_a_fetch_in_flight_is_bounded_by_the_timeout() {
    let idp = Idp::start();
    let issuer = idp.url("/");
    let delay = Duration::from_millis(2200);
    idp.serve(
        "/.well-known/openid-configuration",
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({
                "issuer": issuer,
                "jwks_uri": idp.url("/keys"),
            }))
            .set_delay(delay),
    );
    idp.serve(
        "/keys",
        ResponseTemplate::new(200)
            .set_body_raw(common::jwks(GOOD), "application/json")
            .set_delay(delay),
    );
    let cache = Arc::new(
        JwksCache::new(
            JwksOptions::new(&issuer)
                .http_timeout(Duration::from_secs(3))
                .clock(ManualClock::new()),
        )
        .unwrap(),
    );
    let first = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || cache.resolve("rsa-2048", Algorithm::RS256))
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    let waited = started.elapsed();
    assert!(
        reason.contains("the first fetch is still running"),
        "{reason}"
    );
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    first.join().unwrap().unwrap();
    assert_eq!(idp.hits("/keys"), 1);
    assert_eq!(idp.hits("/.well-known/openid-configuration"), 1);
}

#[test]
fn zero_max_stale_never_serves_expired_keys() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", GOOD);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock).max_stale(Duration::ZERO)).unwrap();
    cache.prefetch().unwrap();
    idp.reset();
    idp.serve("/keys", ResponseTemplate::new(503));
    clock.advance(TTL - Duration::from_secs(1));
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    clock.advance(Duration::from_secs(1));
    let reason = unavailable_reason(cache.resolve("rsa-2048", Algorithm::RS256));
    assert!(reason.contains("HTTP 503"), "{reason}");
    assert!(reason.contains("M4_OAUTH2_JWKS_MAX_STALE"), "{reason}");
}
