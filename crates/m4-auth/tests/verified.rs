//! The split entry points for async transports: `verify_header` / `try_verify_header` verify
//! without charging; `Verified::charge` charges, `uncharged` does not; `require_scopes` builds
//! the complete 403; `try_verify_header` never fetches and leaves no trace when it would have.
#![cfg(test)]

mod support;

use m4_auth::{AuthError, Authenticator, ManualClock};
use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn only_charge_spends_the_rate_limit() {
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2")]);
    let token = format!("Bearer {}", sign("rsa-2048", &claims("alice")));
    for _ in 0..10 {
        let principal = auth.verify_header(Some(&token)).unwrap().uncharged();
        assert_eq!(principal.sub(), "alice");
    }
    for _ in 0..2 {
        auth.verify_header(Some(&token)).unwrap().charge().unwrap();
    }
    let err = auth
        .verify_header(Some(&token))
        .unwrap()
        .charge()
        .unwrap_err();
    assert_eq!(err.code(), "rate_limited");
    // Verification itself never reports the rate limit.
    assert!(auth.verify_header(Some(&token)).is_ok());
    let stats = auth.stats();
    assert_eq!(stats.accepted, 12);
    assert_eq!(stats.rejected("rate_limited"), 1);
}

#[test]
fn require_scopes_lists_every_scope_the_operation_needs() {
    let (auth, _clock) = authenticator(&[]);
    let token = format!("Bearer {}", sign("rsa-2048", &claims("alice")));
    let caller = auth.verify_header(Some(&token)).unwrap();
    assert_eq!(
        caller.scopes().iter().collect::<Vec<_>>(),
        ["read:mimic-data"]
    );
    let err = caller
        .require_scopes(&["write:cohorts", "read:mimic-data"])
        .unwrap_err();
    let AuthError::InsufficientScope { missing, required } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(missing, &["write:cohorts"]);
    assert_eq!(required, &["read:mimic-data", "write:cohorts"]);
    assert_eq!(err.http_status(), 403);
    assert_eq!(auth.stats().rejected("missing_scopes"), 1);

    let mut with = claims("alice");
    with["scope"] = serde_json::json!("read:mimic-data write:cohorts");
    let token = format!("Bearer {}", sign("rsa-2048", &with));
    let principal = auth
        .verify_header(Some(&token))
        .unwrap()
        .require_scopes(&["write:cohorts"])
        .unwrap()
        .charge()
        .unwrap();
    assert!(principal.has_scope("write:cohorts"));
}

#[test]
fn pinned_keys_are_always_answered_without_the_network() {
    let (auth, _clock) = authenticator(&[]);
    let token = format!("Bearer {}", sign("rsa-2048", &claims("alice")));
    let verified = auth
        .try_verify_header(Some(&token))
        .expect("no fetch with pinned keys");
    assert_eq!(verified.unwrap().uncharged().sub(), "alice");
    let err = auth
        .try_verify_header(Some("Bearer x.y.z"))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), "malformed_token");
}

#[tokio::test(flavor = "multi_thread")]
async fn try_verify_header_answers_from_fetched_keys_and_otherwise_leaves_no_trace() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/jwks.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(m4_auth_testkit::keys::jwks_json()),
        )
        .mount(&server)
        .await;
    let jwks = format!("{}/jwks.json", server.uri());
    let clock = ManualClock::new(NOW as u64);
    let auth = Authenticator::builder(config(&[("M4_OAUTH2_JWKS_URL", jwks.as_str())]))
        .clock(clock.clone())
        .build()
        .unwrap();
    let token = format!("Bearer {}", sign("rsa-2048", &claims("alice")));

    tokio::task::spawn_blocking(move || {
        // Nothing fetched yet: the non-blocking entry point declines, counting nothing.
        assert!(auth.try_verify_header(Some(&token)).is_none());
        let stats = auth.stats();
        assert_eq!((stats.accepted, stats.rejected_total()), (0, 0));
        assert_eq!((stats.token_cache.hits, stats.token_cache.misses), (0, 0));
        assert_eq!(
            auth.jwks_stats().unwrap().fetch_count,
            0,
            "it fetched nothing"
        );

        // The blocking entry point fetches; then the same token, and a new one signed by a
        // fetched key, are answered without the network.
        assert_eq!(
            auth.verify_header(Some(&token)).unwrap().uncharged().sub(),
            "alice"
        );
        // (The entry cached during the first fetch carries the generation before it, so this
        // lookup verifies once more against the fetched keys, still without the network.)
        let again = auth.try_verify_header(Some(&token)).unwrap().unwrap();
        assert_eq!(again.uncharged().sub(), "alice");
        let hit = auth.try_verify_header(Some(&token)).unwrap().unwrap();
        assert_eq!(hit.uncharged().sub(), "alice");
        let bob = format!("Bearer {}", sign("rsa-2048", &claims("bob")));
        assert_eq!(
            auth.try_verify_header(Some(&bob))
                .unwrap()
                .unwrap()
                .uncharged()
                .sub(),
            "bob"
        );

        // An unknown kid would need a refetch: declined again.
        let stranger = format!("Bearer {}", sign("rsa-2048-b", &claims("eve")));
        assert!(auth.try_verify_header(Some(&stranger)).is_none());
        let stats = auth.stats();
        assert_eq!(stats.accepted, 4);
        assert_eq!(stats.rejected_total(), 0);
        assert_eq!((stats.token_cache.hits, stats.token_cache.misses), (1, 3));
        assert_eq!(auth.jwks_stats().unwrap().fetch_count, 1);

        // Keys past their TTL: declined (the refresh is the blocking path's job), then the
        // blocking path refreshes and the cached token is answered inline again.
        clock.advance(std::time::Duration::from_secs(3601));
        assert!(auth.try_verify_header(Some(&token)).is_none());
        assert_eq!(
            auth.verify_header(Some(&token)).unwrap().uncharged().sub(),
            "alice"
        );
        assert_eq!(auth.jwks_stats().unwrap().fetch_count, 2);
        assert!(auth.try_verify_header(Some(&token)).unwrap().is_ok());
    })
    .await
    .unwrap();
}
