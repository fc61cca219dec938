//! The facade end to end against a wiremock identity provider on loopback: OIDC discovery, the
//! JWKS fetched once, key rotation ending cached verifications, outages ridden out on cached
//! keys, and `jwks_unavailable` when there are none.
#![cfg(test)]

mod facade_support;

use std::time::Duration;

use facade_support::*;
use m4_auth::{AuthError, Authenticator};
use m4_auth_testkit::idp::closed_port_url;

#[test]
fn discovery_then_one_fetch_for_many_tokens() {
    let idp = Idp::start(&["rsa-2048", "rsa-4096", "ec-p256"]);
    let (auth, _clock) = authenticator(&idp, &[]);
    assert_eq!(idp.hits(CERTS), 0, "building does no I/O");

    for (key, sub) in [
        ("rsa-2048", "alice"),
        ("ec-p256", "bob"),
        ("rsa-4096", "carol"),
    ] {
        let token = sign(key, &claims(&idp.issuer(), sub));
        assert_eq!(verdict(&auth, &token), format!("ok {sub}"));
        assert_eq!(
            verdict(&auth, &format!("Bearer {token}")),
            format!("ok {sub}")
        );
    }
    assert_eq!(
        idp.hits(&format!("{REALM}/.well-known/openid-configuration")),
        1
    );
    assert_eq!(idp.hits(CERTS), 1);

    let jwks = auth.jwks_stats().unwrap();
    assert_eq!(jwks.jwks_url.as_deref(), Some(idp.url(CERTS).as_str()));
    assert_eq!(jwks.fetch_count, 1);
    assert_eq!(jwks.keys.len(), 3);
    // The very first token was verified while the key set was still empty (generation 0);
    // its entry is tagged with that generation, so its repeat is verified once more. The
    // other two were verified under the fetched set and hit.
    let stats = auth.stats();
    assert_eq!(
        (
            stats.accepted,
            stats.token_cache.hits,
            stats.token_cache.misses
        ),
        (6, 2, 4)
    );
}

#[test]
fn rotation_ends_cached_verifications_and_admits_the_new_key() {
    let idp = Idp::start(&["rsa-2048", "ec-p256"]);
    let (auth, clock) = authenticator(
        &idp,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "60"),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "30"),
        ],
    );
    let old = sign("rsa-2048", &claims(&idp.issuer(), "alice"));
    let es = sign("ec-p256", &claims(&idp.issuer(), "bob"));
    let new = sign("rsa-2048-b", &claims(&idp.issuer(), "carol"));
    for token in [&old, &old, &old, &es, &es] {
        assert!(verdict(&auth, token).starts_with("ok"));
    }
    // The first token's repeat re-verifies (tagged before the first fetch), then hits.
    assert_eq!(auth.stats().token_cache.hits, 2);

    // The provider rotates: rsa-2048 is revoked, rsa-2048-b published.
    idp.reset();
    idp.serve_keys(&["rsa-2048-b", "ec-p256"]);

    // Within the TTL, nothing is refetched: the cached verification still stands.
    assert_eq!(verdict(&auth, &old), "ok alice");
    // The new key's first token triggers one refetch (unknown kid), which changes the key
    // set: from then on the revoked key's cached verification is dead.
    clock.advance(Duration::from_secs(31));
    assert_eq!(verdict(&auth, &new), "ok carol");
    assert_eq!(idp.hits(CERTS), 1);
    assert_eq!(verdict(&auth, &old), "unknown_kid");
    assert_eq!(auth.stats().token_cache.entries, 2, "es and new remain");
    // The ES256 key survived the rotation: its token is verified again, and accepted.
    let misses = auth.stats().token_cache.misses;
    assert_eq!(verdict(&auth, &es), "ok bob");
    assert_eq!(auth.stats().token_cache.misses, misses + 1);
    assert_eq!(verdict(&auth, &es), "ok bob");
    assert_eq!(auth.stats().token_cache.misses, misses + 1);
}

#[test]
fn a_revoked_key_is_noticed_at_the_ttl_even_if_only_cached_tokens_arrive() {
    let idp = Idp::start(&["rsa-2048", "ec-p256"]);
    let (auth, clock) = authenticator(&idp, &[("M4_OAUTH2_JWKS_CACHE_TTL", "60")]);
    let token = sign("rsa-2048", &claims(&idp.issuer(), "alice"));
    assert_eq!(verdict(&auth, &token), "ok alice");
    assert_eq!(verdict(&auth, &token), "ok alice");

    idp.reset();
    idp.serve_keys(&["ec-p256"]);
    clock.advance(Duration::from_secs(61));
    // Only this (cached) token keeps arriving; the hit path still asks the key set, which
    // refreshes at its TTL and no longer has the key.
    assert_eq!(verdict(&auth, &token), "unknown_kid");
    assert_eq!(idp.hits(CERTS), 1);
}

#[test]
fn an_outage_is_ridden_out_on_cached_keys() {
    let idp = Idp::start(&["rsa-2048", "ec-p256"]);
    let (auth, clock) = authenticator(
        &idp,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "60"),
            ("M4_OAUTH2_JWKS_MAX_STALE", "600"),
        ],
    );
    let cached = sign("rsa-2048", &claims(&idp.issuer(), "alice"));
    assert_eq!(verdict(&auth, &cached), "ok alice");

    idp.reset();
    idp.fail_jwks(503);
    clock.advance(Duration::from_secs(120));
    let fresh = sign("ec-p256", &claims(&idp.issuer(), "bob"));
    assert_eq!(verdict(&auth, &fresh), "ok bob");
    assert_eq!(verdict(&auth, &cached), "ok alice");
    let jwks = auth.jwks_stats().unwrap();
    assert!(jwks.serving_stale);
    assert!(jwks.last_error.unwrap().contains("503"));

    // Past max stale the keys are dropped: no token passes, cached or not.
    clock.advance(Duration::from_secs(600));
    let err = auth.authenticate(&cached).unwrap_err();
    assert_eq!(err.code(), "jwks_unavailable");
    assert_eq!(err.http_status(), 503);
}

#[test]
fn cold_start_with_the_provider_down_is_jwks_unavailable() {
    let dead = closed_port_url();
    let auth = Authenticator::new(config(
        &format!("{dead}/realms/m4"),
        &[("M4_OAUTH2_JWKS_URL", &format!("{dead}/certs"))],
    ))
    .unwrap();
    let token = sign("rsa-2048", &claims(&format!("{dead}/realms/m4"), "alice"));
    let err = auth.authenticate(&token).unwrap_err();
    assert_eq!(err.code(), "jwks_unavailable");
    assert_eq!(err.http_status(), 503);
    assert_eq!(err.www_authenticate(None), None);
    let message = err.to_string();
    assert!(
        message.starts_with("Signing keys are unavailable: "),
        "{message}"
    );
    assert!(message.contains(&format!("{dead}/certs")), "{message}");
    assert_eq!(auth.stats().rejected("jwks_unavailable"), 1);

    let err = auth.prefetch().unwrap_err();
    assert!(matches!(err, AuthError::Jwks(_)));
    assert_eq!(err.code(), "jwks_unavailable");
}

#[test]
fn prefetch_warms_the_cache() {
    let idp = Idp::start(&["rsa-2048"]);
    let (auth, _clock) = authenticator(&idp, &[]);
    auth.prefetch().unwrap();
    assert_eq!(idp.hits(CERTS), 1);
    let token = sign("rsa-2048", &claims(&idp.issuer(), "alice"));
    assert_eq!(verdict(&auth, &token), "ok alice");
    assert_eq!(idp.hits(CERTS), 1);
}

#[test]
fn an_issuer_mismatch_in_discovery_is_explained() {
    let idp = Idp::start(&["rsa-2048"]);
    // The operator added a trailing slash the provider does not use.
    let issuer = format!("{}/", idp.issuer());
    let auth = Authenticator::new(config(&issuer, &[])).unwrap();
    let token = sign("rsa-2048", &claims(&issuer, "alice"));
    let err = auth.authenticate(&token).unwrap_err();
    assert_eq!(err.code(), "jwks_unavailable");
    let message = err.to_string();
    assert!(message.contains("trailing slash"), "{message}");
}
