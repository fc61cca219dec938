//! The Authenticator with real tokens: accepted forms, rejections and their codes, the
//! verified-token cache, rate limiting, the disabled mode, the guard and the counters.
#![cfg(test)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use m4_auth::{AuthConfig, AuthError, Authenticator, ProtectedResource};
use serde_json::json;
use support::*;

#[test]
fn accepts_rs256_es256_and_rsa4096_tokens_in_every_form() {
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_TOKEN_CACHE_SIZE", "0")]);
    for key in ["rsa-2048", "rsa-4096", "ec-p256"] {
        let token = sign(key, &claims("alice"));
        for value in [
            token.clone(),
            format!("Bearer {token}"),
            format!("bearer {token}"),
            format!("BEARER   {token}"),
            format!("  Bearer {token}\n"),
            format!("{token}\n"),
        ] {
            let principal = auth
                .authenticate(&value)
                .unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(principal.sub(), "alice");
            assert!(!principal.is_anonymous());
            assert!(principal.has_scope(SCOPE));
            assert_eq!(principal.kid(), Some(key));
            assert_eq!(principal.issuer(), Some(ISSUER));
            assert_eq!(principal.expires_at(), Some(NOW + 3600));
            assert_eq!(principal.claims().unwrap()["aud"], AUDIENCE);
        }
        let alg = auth.authenticate(&token).unwrap().alg().unwrap();
        assert_eq!(
            alg.as_str(),
            if key == "ec-p256" { "ES256" } else { "RS256" }
        );
    }
    assert_eq!(auth.stats().accepted, 3 * 6 + 3);
}

#[track_caller]
fn check(auth: &Authenticator, token: &str, code: &str, message: &str) {
    let err = auth.authenticate(token).unwrap_err();
    assert_eq!((err.code(), err.to_string().as_str()), (code, message));
}

#[test]
fn rejections_carry_the_contract_code_and_message() {
    let (auth, _clock) = authenticator(&[]);
    let good = sign("rsa-2048", &claims("alice"));
    let mut tampered = good.clone();
    let payload_start = tampered.find('.').unwrap() + 1;
    tampered.replace_range(
        payload_start..payload_start + 1,
        if &good[payload_start..=payload_start] == "e" {
            "f"
        } else {
            "e"
        },
    );
    let with = |patch: serde_json::Value| {
        let mut c = claims("alice");
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        sign("rsa-2048", &c)
    };

    check(&auth, "", "missing_token", "Missing OAuth2 access token");
    check(
        &auth,
        "Bearer",
        "missing_token",
        "Missing OAuth2 access token",
    );
    check(
        &auth,
        "Bearer   ",
        "missing_token",
        "Missing OAuth2 access token",
    );
    check(
        &auth,
        "Basic dXNlcjpwYXNz",
        "malformed_token",
        "Authorization scheme \"Basic\" is not supported: send the token as \"Bearer <token>\"",
    );
    check(
        &auth,
        &format!("Bearer {good} {good}"),
        "malformed_token",
        "Authorization value holds more than one whitespace-separated item: send \"Bearer <token>\" or the token alone",
    );
    // Whitespace inside a token: the same specific message wherever it is.
    for at in [10, good.find('.').unwrap() + 5, good.len() - 3] {
        for ws in [" ", "\t", "\n"] {
            let mut split = good.clone();
            split.insert_str(at, ws);
            let err = auth.authenticate(&format!("Bearer {split}")).unwrap_err();
            assert!(
                matches!(err, AuthError::ExtraCredentials),
                "{at} {ws:?}: {err}"
            );
            let err = auth.authenticate(&split).unwrap_err();
            assert!(
                matches!(err, AuthError::ExtraCredentials),
                "bare {at} {ws:?}: {err}"
            );
        }
    }
    let huge = format!("Basic {}", "A".repeat(20_000));
    assert!(matches!(
        auth.authenticate(&huge).unwrap_err(),
        AuthError::UnsupportedScheme { .. }
    ));
    check(
        &auth,
        "not-a-jwt",
        "malformed_token",
        "Token has 1 dot-separated segments; a signed JWT has exactly 3",
    );
    check(
        &auth,
        &tampered,
        "invalid_signature",
        "Invalid token signature",
    );
    check(
        &auth,
        &sign_with_kid("rsa-2048-b", "rsa-2048", &claims("alice")),
        "invalid_signature",
        "Invalid token signature",
    );
    check(
        &auth,
        &sign("rsa-2048-b", &claims("alice")),
        "unknown_kid",
        "No signing key with kid \"rsa-2048-b\"",
    );
    check(
        &auth,
        &with(json!({"exp": NOW - 61})),
        "token_expired",
        "Token has expired",
    );
    check(
        &auth,
        &with(json!({"nbf": NOW + 3000})),
        "token_not_yet_valid",
        "Token is not valid yet: its \"nbf\" is in the future",
    );
    check(
        &auth,
        &with(json!({"iss": "https://evil.example/"})),
        "invalid_issuer",
        "Token issuer \"https://evil.example/\" is not the expected \"https://idp.example.com/\"",
    );
    check(
        &auth,
        &with(json!({"aud": "other-api"})),
        "invalid_audience",
        "Token audience does not include \"m4-api\"",
    );
    check(
        &auth,
        &with(json!({"sub": null})),
        "invalid_claims",
        "Token has no \"sub\" claim",
    );
    check(
        &auth,
        &with(json!({"scope": "read:mimic-data-extra"})),
        "missing_scopes",
        "Missing required scopes: read:mimic-data",
    );
    let none = format!(
        "eyJhbGciOiJub25lIiwia2lkIjoicnNhLTIwNDgifQ.{}.",
        &good.split('.').nth(1).unwrap()
    );
    check(
        &auth,
        &none,
        "unsupported_algorithm",
        "Token algorithm \"none\" is not allowed",
    );

    let stats = auth.stats();
    assert_eq!(stats.accepted, 0);
    assert_eq!(stats.rejected("missing_token"), 3);
    assert_eq!(stats.rejected("malformed_token"), 3 + 18 + 1);
    assert_eq!(stats.rejected("invalid_signature"), 2);
    assert_eq!(stats.rejected_total(), 16 + 18 + 1);
    // Rejected tokens are never cached.
    assert_eq!(stats.token_cache.entries, 0);
}

#[test]
fn missing_scopes_map_to_403_with_the_required_scopes_in_the_challenge() {
    let (auth, _clock) =
        authenticator(&[("M4_OAUTH2_REQUIRED_SCOPES", "read:mimic-data,write:notes")]);
    let err = auth
        .authenticate(&sign("ec-p256", &claims("alice")))
        .unwrap_err();
    assert!(matches!(
        &err,
        AuthError::InsufficientScope { missing, required }
            if missing == &["write:notes"] && required == &["read:mimic-data", "write:notes"]
    ));
    assert_eq!(err.http_status(), 403);
    let resource = ProtectedResource::new("https://mcp.example.com/mcp").unwrap();
    assert_eq!(
        err.www_authenticate(Some(&resource)).unwrap(),
        "Bearer error=\"insufficient_scope\", error_description=\"Missing required scopes: write:notes\", \
         scope=\"read:mimic-data write:notes\", \
         resource_metadata=\"https://mcp.example.com/.well-known/oauth-protected-resource/mcp\""
    );
}

#[test]
fn a_cached_token_skips_verification_but_expires_on_time() {
    let (auth, clock) = authenticator(&[]);
    let mut c = claims("alice");
    c["exp"] = json!(NOW + 100);
    let token = sign("rsa-2048", &c);

    assert_eq!(verdict(&auth, &token), "ok alice");
    assert_eq!(verdict(&auth, &format!("Bearer {token}")), "ok alice");
    let stats = auth.stats().token_cache;
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 1, 1));
    assert_eq!(stats.capacity, 4096);

    // Still inside exp + leeway (60 s): served from the cache.
    clock.advance(Duration::from_secs(159));
    assert_eq!(verdict(&auth, &token), "ok alice");
    // At exp + leeway the cached entry answers "expired", exactly as verification would.
    clock.advance(Duration::from_secs(1));
    assert_eq!(verdict(&auth, &token), "token_expired");
    let stats = auth.stats().token_cache;
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 3, 0));
    // The entry is gone: the next call verifies again, and says the same.
    assert_eq!(verdict(&auth, &token), "token_expired");
    assert_eq!(auth.stats().token_cache.misses, 2);
}

#[test]
fn a_cached_token_does_not_vouch_for_a_tampered_copy() {
    let (auth, _clock) = authenticator(&[]);
    let token = sign("ec-p256", &claims("alice"));
    assert_eq!(verdict(&auth, &token), "ok alice");
    let (head, sig) = token.rsplit_once('.').unwrap();
    // Change a character in the middle: all its bits count (the last one carries padding bits
    // that a strict decoder checks, which would make this a malformed token instead).
    let mut forged_sig = sig.to_owned();
    let at = forged_sig.len() / 2;
    let flipped = if &forged_sig[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    forged_sig.replace_range(at..=at, flipped);
    assert_eq!(
        verdict(&auth, &format!("{head}.{forged_sig}")),
        "invalid_signature"
    );
    // And a payload change with the original signature.
    let mut other = claims("mallory");
    other["exp"] = json!(NOW + 3600);
    let (h, _, s) = {
        let mut parts = token.split('.');
        (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        )
    };
    let forged_payload = sign("ec-p256", &other);
    let p = forged_payload.split('.').nth(1).unwrap();
    assert_eq!(verdict(&auth, &format!("{h}.{p}.{s}")), "invalid_signature");
    // The cache is keyed by the signature's digest: the same signature under another header,
    // or with a segment added, must not be served from the entry either.
    // (A header of other bytes: 22 base64url characters in front of the original one.)
    let other_header = format!("eyJ0eXAiOiJhdCtqd3QifQ{h}");
    assert_ne!(
        verdict(&auth, &format!("{other_header}.{p}.{s}")),
        "ok alice"
    );
    assert_ne!(verdict(&auth, &format!("{h}.{p}.{p}.{s}")), "ok alice");
    let hits = auth.stats().token_cache.hits;
    assert_eq!(verdict(&auth, &token), "ok alice");
    // The entry was neither replaced nor dropped by the forgeries: the genuine token hits.
    assert_eq!(auth.stats().token_cache.hits, hits + 1);
}

#[test]
fn an_oversized_token_is_refused_without_touching_the_cache() {
    let (auth, _clock) = authenticator(&[]);
    let huge = format!("eyJ{}.e30.sig", "A".repeat(1 << 20));
    let err = auth.authenticate(&huge).unwrap_err();
    assert_eq!(err.code(), "token_too_large");
    assert_eq!(
        err.to_string(),
        format!("Token is {} bytes, over the 16384-byte limit", huge.len())
    );
    let stats = auth.stats().token_cache;
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 0, 0));
}

#[test]
fn cache_size_zero_turns_the_cache_off() {
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_TOKEN_CACHE_SIZE", "0")]);
    let token = sign("rsa-2048", &claims("alice"));
    for _ in 0..3 {
        assert_eq!(verdict(&auth, &token), "ok alice");
    }
    let stats = auth.stats().token_cache;
    assert_eq!(
        (stats.capacity, stats.entries, stats.hits, stats.misses),
        (0, 0, 0, 0)
    );
}

#[test]
fn the_cache_is_bounded_by_its_capacity() {
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_TOKEN_CACHE_SIZE", "3")]);
    let tokens: Vec<String> = (0..5)
        .map(|i| sign("ec-p256", &claims(&format!("user-{i}"))))
        .collect();
    for token in &tokens {
        auth.authenticate(token).unwrap();
    }
    assert_eq!(auth.stats().token_cache.entries, 3);
    // The two oldest were evicted (least recently used): they miss, the newest hits.
    auth.authenticate(&tokens[4]).unwrap();
    assert_eq!(auth.stats().token_cache.hits, 1);
    auth.authenticate(&tokens[0]).unwrap();
    assert_eq!(auth.stats().token_cache.misses, 6);
}

#[test]
fn rate_limit_applies_after_verification_keyed_by_sub_cache_hits_included() {
    let (auth, clock) = authenticator(&[
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2"),
        ("M4_OAUTH2_RATE_LIMIT_WINDOW", "60"),
    ]);
    let alice = sign("rsa-2048", &claims("alice"));
    let alice_es = sign("ec-p256", &claims("alice"));
    let bob = sign("rsa-2048", &claims("bob"));

    // A rejected token never charges its subject.
    let mut expired = claims("alice");
    expired["exp"] = json!(NOW - 3600);
    assert_eq!(verdict(&auth, &sign("rsa-2048", &expired)), "token_expired");

    assert_eq!(verdict(&auth, &alice), "ok alice");
    assert_eq!(verdict(&auth, &alice), "ok alice"); // a cache hit, still charged
    let err = auth.authenticate(&alice_es).unwrap_err(); // another token, same sub
    assert_eq!(err.code(), "rate_limited");
    assert_eq!(err.http_status(), 429);
    assert_eq!(err.retry_after(), Some(60));
    assert_eq!(err.www_authenticate(None), None);
    assert_eq!(err.to_string(), "Rate limit exceeded: retry after 60 s");
    assert_eq!(verdict(&auth, &bob), "ok bob");

    clock.advance(Duration::from_secs(61));
    assert_eq!(verdict(&auth, &alice), "ok alice");

    let stats = auth.stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.rejected("rate_limited"), 1);
    assert_eq!(stats.accepted, 4);
}

#[test]
fn rate_limit_off_and_injected_limiters() {
    let (auth, _clock) = authenticator(&[
        ("M4_OAUTH2_RATE_LIMIT_ENABLED", "false"),
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1"),
    ]);
    let token = sign("rsa-2048", &claims("alice"));
    for _ in 0..5 {
        assert_eq!(verdict(&auth, &token), "ok alice");
    }

    let limiter = m4_auth::ratelimit::MemoryLimiter::builder(1, Duration::from_secs(10))
        .build()
        .unwrap();
    let auth = Authenticator::builder(config(&[("M4_OAUTH2_RATE_LIMIT_ENABLED", "false")]))
        .pinned_keys(pinned())
        .clock(m4_auth::ManualClock::new(NOW as u64))
        .rate_limiter(Arc::new(limiter))
        .build()
        .unwrap();
    assert_eq!(verdict(&auth, &token), "ok alice");
    assert_eq!(verdict(&auth, &token), "rate_limited");
}

#[test]
fn disabled_accepts_everyone_as_anonymous() {
    let auth = Authenticator::new(AuthConfig::default()).unwrap();
    assert!(!auth.is_enabled());
    for value in ["", "Bearer", "garbage", "Basic x"] {
        let p = auth.authenticate(value).unwrap();
        assert!(p.is_anonymous());
        assert_eq!(p.sub(), "anonymous");
    }
    assert!(auth.authenticate_header(None).unwrap().is_anonymous());
    assert_eq!(auth.stats().accepted, 5);
    assert_eq!(auth.stats().rejected_total(), 0);
}

#[test]
fn guard_runs_the_tool_or_replies_like_m4() {
    let (auth, clock) = authenticator(&[]);
    let token = sign("rsa-2048", &claims("alice"));
    let header = format!("Bearer {token}");
    let tool = |caller: &m4_auth::Principal| format!("42 rows for {}", caller.sub());
    assert_eq!(
        auth.guard(Some(&header), tool),
        Ok("42 rows for alice".to_owned())
    );
    assert_eq!(
        auth.guard(None, tool),
        Err("Error: Missing OAuth2 access token".to_owned())
    );
    clock.advance(Duration::from_secs(3600 + 60));
    assert_eq!(
        auth.guard(Some(&header), tool),
        Err("Error: Token has expired".to_owned())
    );
}

#[test]
fn clones_share_everything_across_threads() {
    let (auth, _clock) = authenticator(&[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1000")]);
    let token = sign("ec-p256", &claims("alice"));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let auth = auth.clone();
            let token = token.clone();
            s.spawn(move || {
                for _ in 0..300 {
                    match auth.authenticate(&token) {
                        Ok(p) => assert_eq!(p.sub(), "alice"),
                        Err(e) => assert_eq!(e.code(), "rate_limited"),
                    }
                }
            });
        }
    });
    // 1,200 requests for one sub with a limit of 1,000: exactly 200 refused.
    let stats = auth.stats();
    assert_eq!(stats.accepted, 1000);
    assert_eq!(stats.rate_limited, 200);
    assert_eq!(stats.token_cache.hits + stats.token_cache.misses, 1200);
    assert!(stats.token_cache.misses >= 1 && stats.token_cache.misses <= 4);
}

#[test]
fn pinned_keys_make_a_fully_offline_authenticator() {
    let (auth, _clock) = authenticator(&[]);
    assert!(auth.jwks_stats().is_none());
    auth.prefetch().unwrap();
    let debug = format!("{auth:?}");
    assert!(debug.contains("pinned"), "{debug}");
}

#[test]
fn nothing_shows_the_token() {
    let (auth, _clock) = authenticator(&[]);
    let token = sign("rsa-2048", &claims("alice"));
    let principal = auth.authenticate(&token).unwrap();
    let signature = token.rsplit('.').next().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    for shown in [
        format!("{principal:?}"),
        format!("{auth:?}"),
        format!("{:?}", auth.stats()),
    ] {
        assert!(
            !shown.contains(signature) && !shown.contains(payload),
            "{shown}"
        );
    }
    let mut c = claims("alice");
    c["exp"] = json!(NOW - 3600);
    let expired = sign("rsa-2048", &c);
    let err = auth.authenticate(&expired).unwrap_err();
    for shown in [format!("{err:?}"), err.to_string(), err.to_tool_reply()] {
        assert!(
            !shown.contains(expired.rsplit('.').next().unwrap()),
            "{shown}"
        );
    }
}
