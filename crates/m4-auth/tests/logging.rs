//! What the Authenticator logs through `tracing`: one event per failure with its code and what
//! is known of `sub`, `kid` and `alg`, an info event when it is configured, and never the token.
#![cfg(test)]

mod support;

use std::time::Duration;

use m4_auth_testkit::logs::{Recorded, Recorder};
use serde_json::json;
use support::*;
use tracing::Level;

#[test]
fn one_warning_per_failure_with_code_kid_alg_and_never_the_token() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let (auth, clock) = authenticator(&[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1")]);
        let configured = recorder.take();
        assert_eq!(configured.len(), 1, "{configured:?}");
        assert_eq!(configured[0].level, Level::INFO);
        assert!(
            configured[0]
                .fields
                .contains("OAuth2 authentication configured")
                && configured[0]
                    .fields
                    .contains("issuer=https://idp.example.com/")
                && configured[0]
                    .fields
                    .contains("rate_limit_backend=in-memory (per process)"),
            "{configured:?}"
        );

        let mut c = claims("alice");
        c["exp"] = json!(NOW + 10);
        let token = sign("ec-p256", &c);
        let signature = token.rsplit('.').next().unwrap().to_owned();

        // Accepted: nothing logged.
        auth.authenticate(&token).unwrap();
        assert!(recorder.take().is_empty());

        // Rate limited: the subject, kid and algorithm are known.
        auth.authenticate(&token).unwrap_err();
        let events = recorder.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].level, Level::WARN);
        for expected in ["code=rate_limited", "sub=alice", "kid=ec-p256", "alg=ES256"] {
            assert!(
                events[0].fields.contains(expected),
                "{expected}: {events:?}"
            );
        }

        // Expired (from the cache): the kid and alg the header claims.
        clock.advance(Duration::from_secs(80));
        let err = auth.authenticate(&format!("Bearer {token}")).unwrap_err();
        assert_eq!(err.code(), "token_expired");
        let events = recorder.take();
        assert_eq!(events.len(), 1, "{events:?}");
        for expected in [
            "code=token_expired",
            "kid=ec-p256",
            "alg=ES256",
            "Token has expired",
        ] {
            assert!(
                events[0].fields.contains(expected),
                "{expected}: {events:?}"
            );
        }
        assert!(!events[0].fields.contains("sub=alice"), "{events:?}");

        // Garbage and a missing token: one event each, code only.
        auth.authenticate("not.a.jwt").unwrap_err();
        auth.authenticate("").unwrap_err();
        let events = recorder.take();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].fields.contains("code=malformed_token"));
        assert!(events[1].fields.contains("code=missing_token"));

        // A JWKS generation never changes with pinned keys: no refresh events either.
        let all = format!("{events:?}{configured:?}");
        assert!(!all.contains(&signature));
    });
}

#[test]
fn a_disabled_authenticator_says_so_once() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default()).unwrap();
        auth.authenticate("anything").unwrap();
        let events = recorder.take();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].level, Level::INFO);
        assert!(events[0].fields.contains("disabled"), "{events:?}");
    });
}

#[test]
fn a_jwks_key_set_change_is_logged_once_by_the_facade() {
    use m4_auth_testkit::idp::Idp;

    let idp = Idp::start();
    let serve = |keys: &[&str]| {
        idp.reset();
        idp.serve_jwks("/keys", keys);
    };
    serve(&["rsa-2048"]);

    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), || {
        let clock = m4_auth::ManualClock::new(NOW as u64);
        let auth = m4_auth::Authenticator::builder(config(&[
            ("M4_OAUTH2_JWKS_URL", &idp.url("/keys")),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "30"),
        ]))
        .clock(clock.clone())
        .build()
        .unwrap();
        auth.authenticate(&sign("rsa-2048", &claims("alice")))
            .unwrap();
        serve(&["rsa-2048", "ec-p256"]);
        clock.advance(Duration::from_secs(31));
        auth.authenticate(&sign("ec-p256", &claims("bob"))).unwrap();
        auth.authenticate(&sign("ec-p256", &claims("carol")))
            .unwrap();
    });
    let changes: Vec<Recorded> = recorder
        .take()
        .into_iter()
        .filter(|e| e.fields.contains("JWKS key set changed"))
        .collect();
    // Two changes: the first fetch (generation 0 to 1) and the rotation (1 to 2).
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert!(changes.iter().all(|e| e.level == Level::INFO));
    assert!(changes[1].fields.contains("generation=2") && changes[1].fields.contains("previous=1"));
}
