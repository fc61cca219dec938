//! Tokens that must verify, and what the verified token carries.
#![cfg(test)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use m4_jwt_verify::{
    Algorithm, Error, JwkSet, ManualClock, VerifiedToken, Verifier, VerifierOptions,
};
use serde_json::{Value, json};

fn set(scopes: &[&str]) -> BTreeSet<String> {
    scopes.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn shipped_backend_verifies_a_real_token_from_jsonwebtoken_encode() {
    // jsonwebtoken only fails at run time when no crypto backend is enabled: this token is
    // produced by its public `encode` with the workspace's feature set, and verified by ours.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("rsa-2048".into());
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem("rsa-2048").as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims(), &key).unwrap();
    let verified = accepts(&token);
    assert_eq!(verified.sub(), "user-42");
    assert_eq!(verified.alg(), Algorithm::RS256);
}

#[test]
fn rs256_carries_every_field() {
    let t = accepts(&valid_rs256());
    assert_eq!(t.sub(), "user-42");
    assert_eq!(t.scopes(), &set(&["openid", "read:mimic-data"]));
    assert!(t.has_scope("read:mimic-data"));
    assert!(!t.has_scope("read:mimic"));
    assert_eq!(t.iss(), Some(ISS));
    assert_eq!(t.aud(), [AUD]);
    assert_eq!(t.exp(), Some((NOW + 3600) as i64));
    assert_eq!(t.nbf(), None);
    assert_eq!(t.kid(), "rsa-2048");
    assert_eq!(t.alg(), Algorithm::RS256);
    assert_eq!(t.claims(), &claims());
    assert!(!format!("{t:?}").contains(valid_rs256().split('.').nth(2).unwrap()));
}

#[test]
fn es256() {
    let t = accepts(&mint("ec-p256", "ES256", &claims()));
    assert_eq!((t.kid(), t.alg()), ("ec-p256", Algorithm::ES256));
}

#[test]
fn rsa_4096() {
    let t = accepts(&mint("rsa-4096", "RS256", &claims()));
    assert_eq!(t.kid(), "rsa-4096");
}

#[test]
fn every_algorithm_when_allowed() {
    let v = all_algorithms();
    let cases = [
        ("any-rsa", "rsa-2048-b", "RS256"),
        ("any-rsa", "rsa-2048-b", "RS384"),
        ("any-rsa", "rsa-2048-b", "RS512"),
        ("any-rsa", "rsa-2048-b", "PS256"),
        ("any-rsa", "rsa-2048-b", "PS384"),
        ("any-rsa", "rsa-2048-b", "PS512"),
        ("ps-only", "rsa-2048-b", "PS256"),
        ("ec-p256", "ec-p256", "ES256"),
        ("ec-p384", "ec-p384", "ES384"),
        ("any-p384", "ec-p384", "ES384"),
        ("ed25519", "ed25519", "EdDSA"),
    ];
    for (kid, key, alg) in cases {
        let token = sign_with(&json!({"alg": alg, "kid": kid}), &claims(), key, alg);
        let t = accepts_with(&v, &token);
        assert_eq!(t.alg().as_str(), alg);
        assert_eq!(t.kid(), kid);
    }
}

#[test]
fn audience_forms() {
    for aud in [
        json!(AUD),
        json!([AUD]),
        json!(["other", AUD]),
        json!([AUD, "other", AUD]),
    ] {
        let t = accepts(&mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("aud", aud.clone())]),
        ));
        assert!(t.aud().contains(&AUD.to_owned()), "{aud}");
    }
    let t = accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("aud", json!(["other", AUD]))]),
    ));
    assert_eq!(t.aud(), ["other", AUD]);
}

#[test]
fn scope_forms() {
    type Changes<'a> = &'a [(&'a str, Value)];
    let cases: [(Changes<'_>, &[&str]); 6] = [
        (
            &[
                ("scope", Value::Null),
                ("scp", json!(["read:mimic-data", "write:x"])),
            ],
            &["read:mimic-data", "write:x"],
        ),
        (
            &[
                ("scope", Value::Null),
                ("scp", json!("read:mimic-data write:x")),
            ],
            &["read:mimic-data", "write:x"],
        ),
        (
            &[("scope", json!(["read:mimic-data"]))],
            &["read:mimic-data"],
        ),
        (
            &[("scope", json!("  read:mimic-data   openid "))],
            &["openid", "read:mimic-data"],
        ),
        (
            &[
                ("scope", json!("openid")),
                ("scp", json!(["read:mimic-data"])),
            ],
            &["openid", "read:mimic-data"],
        ),
        (
            &[("scp", json!(["extra", ""]))],
            &["extra", "openid", "read:mimic-data"],
        ),
    ];
    for (changes, expected) in cases {
        let t = accepts(&mint("rsa-2048", "RS256", &claims_with(changes)));
        assert_eq!(t.scopes(), &set(expected), "{changes:?}");
    }
}

#[test]
fn typ_values_and_unknown_non_critical_header_parameters() {
    for typ in [
        json!("at+jwt"),
        json!("JWT"),
        json!("application/at+jwt"),
        Value::Null,
    ] {
        let mut h = json!({"alg": "RS256", "kid": "rsa-2048"});
        if !typ.is_null() {
            h["typ"] = typ;
        }
        accepts(&sign_with(&h, &claims(), "rsa-2048", "RS256"));
    }
    let h = json!({
        "alg": "RS256", "kid": "rsa-2048", "typ": "at+jwt",
        "x-custom": {"nested": [1, 2]}, "x5t": "abc", "b64": true,
    });
    accepts(&sign_with(&h, &claims(), "rsa-2048", "RS256"));
}

#[test]
fn time_boundaries() {
    // nbf in the past, and nbf in the future but within the leeway.
    accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("nbf", json!(NOW - 3600))]),
    ));
    let t = accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("nbf", json!(NOW + 60))]),
    ));
    assert_eq!(t.nbf(), Some((NOW + 60) as i64));
    // exp passed but within the leeway; the last accepted second is exp + leeway - 1.
    accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("exp", json!(NOW - 30))]),
    ));
    accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("exp", json!(NOW - 59))]),
    ));
    rejects(
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("exp", json!(NOW - 60))]),
        ),
        "token_expired",
    );
    // Fractional NumericDates.
    let t = accepts(&mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("exp", json!(NOW as f64 + 0.5))]),
    ));
    assert_eq!(t.exp(), Some(NOW as i64));
}

#[test]
fn zero_leeway_is_exact() {
    let v = options().leeway(0).build().unwrap();
    accepts_with(
        &v,
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("exp", json!(NOW + 1)), ("nbf", json!(NOW))]),
        ),
    );
    rejects_with(
        &v,
        &mint("rsa-2048", "RS256", &claims_with(&[("exp", json!(NOW))])),
        "token_expired",
    );
    rejects_with(
        &v,
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("nbf", json!(NOW + 1))]),
        ),
        "token_not_yet_valid",
    );
}

#[test]
fn the_clock_decides_expiry() {
    let clock = Arc::new(ManualClock::new(NOW));
    let v = VerifierOptions::new(ISS, AUD)
        .clock(clock.clone())
        .build()
        .unwrap();
    let token = valid_rs256(); // exp = NOW + 3600
    let keys = keys();
    assert!(v.verify(&token, &keys).is_ok());
    clock.advance(3600 + 59);
    assert!(v.verify(&token, &keys).is_ok());
    clock.advance(1);
    assert_eq!(v.verify(&token, &keys).unwrap_err().code(), "token_expired");
}

/// Verifies a token with `changes` at `verified_at` on a manual clock, then checks that
/// `recheck` of that verified token answers as a fresh `verify` at each of `times`.
/// Returns the verifier, its clock, the token and its verified form.
#[track_caller]
fn recheck_agrees_at(
    changes: &[(&str, Value)],
    verified_at: u64,
    times: &[u64],
) -> (Verifier, Arc<ManualClock>, String, VerifiedToken) {
    let clock = Arc::new(ManualClock::new(verified_at));
    let v = options().clock(clock.clone()).build().unwrap();
    let keys = keys();
    let token = mint("rsa-2048", "RS256", &claims_with(changes));
    let verified = v.verify(&token, &keys).unwrap();
    for &at in times {
        clock.set(at);
        let fresh = v.verify(&token, &keys).map(|_| ()).map_err(|e| e.code());
        let again = v.recheck(&verified).map_err(|e| e.code());
        assert_eq!(
            again,
            fresh,
            "at NOW {:+}",
            i128::from(at) - i128::from(NOW)
        );
        // Told the instant instead of reading the clock: the same verdict.
        clock.set(verified_at);
        let told = v.recheck_at(&verified, at).map_err(|e| e.code());
        assert_eq!(
            told,
            fresh,
            "recheck_at NOW {:+}",
            i128::from(at) - i128::from(NOW)
        );
    }
    (v, clock, token, verified)
}

/// `recheck` gives a verified token the verdict `verify` would give it now.
#[test]
fn recheck_agrees_with_a_fresh_verification_over_time() {
    // Not valid until NOW + 100 - 60 s of leeway.
    let (v, clock, token, verified) = recheck_agrees_at(
        &[("nbf", json!(NOW + 100))],
        NOW + 40,
        &[
            NOW,
            NOW + 39,
            NOW + 40,
            NOW + 3600 + 59,
            NOW + 3600 + 60,
            NOW + 9999,
        ],
    );
    clock.set(NOW);
    assert_eq!(
        v.recheck(&verified).unwrap_err().code(),
        "token_not_yet_valid"
    );
    clock.set(NOW + 3600 + 60);
    assert_eq!(v.recheck(&verified).unwrap_err().code(), "token_expired");

    // Scopes are this verifier's: another one requiring more refuses the same token.
    let stricter = options()
        .required_scopes(["read:mimic-data", "write:notes"])
        .clock(Arc::new(ManualClock::new(NOW + 50)))
        .build()
        .unwrap();
    clock.set(NOW + 50);
    assert_eq!(
        stricter
            .recheck(&v.verify(&token, &keys()).unwrap())
            .unwrap_err(),
        Error::MissingScopes {
            missing: vec!["write:notes".into()]
        }
    );
}

/// `iat` too: a token issued slightly ahead of this clock stays consistent with `verify` even
/// if the clock is set back after it was verified (and cached).
#[test]
fn recheck_agrees_on_iat_when_the_clock_goes_back() {
    let (v, clock, _, verified) = recheck_agrees_at(
        &[("iat", json!(NOW + 50))],
        NOW,
        &[NOW - 100, NOW - 11, NOW - 10, NOW, NOW + 3000],
    );
    assert_eq!(verified.iat(), Some(NOW as i64 + 50));
    clock.set(NOW - 11);
    assert_eq!(
        v.recheck(&verified).unwrap_err(),
        Error::IssuedInFuture { leeway: 60 }
    );
}

#[test]
fn validation_switches() {
    let no_exp = options().danger_disable_exp_validation().build().unwrap();
    let t = accepts_with(
        &no_exp,
        &mint("rsa-2048", "RS256", &claims_with(&[("exp", Value::Null)])),
    );
    assert_eq!(t.exp(), None);
    accepts_with(
        &no_exp,
        &mint("rsa-2048", "RS256", &claims_with(&[("exp", json!(1))])),
    );
    rejects_with(
        &no_exp,
        &mint("rsa-2048", "RS256", &claims_with(&[("exp", json!("soon"))])),
        "invalid_claims",
    );
    // nbf stays checked.
    rejects_with(
        &no_exp,
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("nbf", json!(NOW + 3600))]),
        ),
        "token_not_yet_valid",
    );

    let no_aud = options().danger_disable_aud_validation().build().unwrap();
    accepts_with(
        &no_aud,
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("aud", json!("someone-else"))]),
        ),
    );
    let t = accepts_with(
        &no_aud,
        &mint("rsa-2048", "RS256", &claims_with(&[("aud", Value::Null)])),
    );
    assert!(t.aud().is_empty());
    rejects_with(
        &no_aud,
        &mint("rsa-2048", "RS256", &claims_with(&[("aud", json!(5))])),
        "invalid_claims",
    );

    let no_iss = options().danger_disable_iss_validation().build().unwrap();
    accepts_with(
        &no_iss,
        &mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("iss", json!("https://other/"))]),
        ),
    );
    let t = accepts_with(
        &no_iss,
        &mint("rsa-2048", "RS256", &claims_with(&[("iss", Value::Null)])),
    );
    assert_eq!(t.iss(), None);
    rejects_with(
        &no_iss,
        &mint("rsa-2048", "RS256", &claims_with(&[("iss", json!(1))])),
        "invalid_claims",
    );

    // Switches never weaken anything else: signature and alg checks are unchanged.
    let lax = options()
        .danger_disable_exp_validation()
        .danger_disable_aud_validation()
        .danger_disable_iss_validation()
        .build()
        .unwrap();
    rejects_with(
        &lax,
        &sign_with(
            &json!({"alg": "RS256", "kid": "rsa-2048"}),
            &claims(),
            "rsa-2048-b",
            "RS256",
        ),
        "invalid_signature",
    );
    rejects_with(
        &lax,
        &format!(
            "{}.{}.",
            b64(r#"{"alg":"none","kid":"rsa-2048"}"#),
            b64(claims().to_string())
        ),
        "unsupported_algorithm",
    );
}

#[test]
fn no_required_scopes_accepts_a_token_without_scopes() {
    let v = VerifierOptions::new(ISS, AUD)
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .unwrap();
    let t = accepts_with(
        &v,
        &mint("rsa-2048", "RS256", &claims_with(&[("scope", Value::Null)])),
    );
    assert!(t.scopes().is_empty());
}

#[test]
fn a_verifier_is_shareable_across_threads() {
    let v = verifier();
    let keys = Arc::new(JwkSet::from_json(jwks_json().as_bytes()).unwrap());
    let token = Arc::new(mint("ec-p256", "ES256", &claims()));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (v, keys, token) = (v.clone(), Arc::clone(&keys), Arc::clone(&token));
            std::thread::spawn(move || v.verify(&token, &*keys).map(|t| t.sub().to_owned()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), "user-42");
    }
}

#[test]
fn debug_names_custom_claims_but_never_shows_their_values() {
    let token = mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("email", json!("patient-contact@example.org"))]),
    );
    let verified = accepts(&token);
    assert_eq!(
        verified.claims()["email"],
        json!("patient-contact@example.org")
    );
    let debug = format!("{verified:?}");
    assert!(debug.contains("\"email\""), "{debug}");
    assert!(!debug.contains("patient-contact"), "{debug}");
    assert!(!debug.contains(&token), "{debug}");
}

/// The `sub` rules (no control character, not only whitespace) refuse no ordinary subject:
/// e-mail addresses, provider-prefixed ids, UUIDs, URLs, non-ASCII letters, inner spaces,
/// surrounding spaces around a real name, and long ids.
#[test]
fn ordinary_subjects_are_accepted() {
    let long = "a".repeat(300);
    for sub in [
        "user-42",
        "alice@example.org",
        "auth0|5f7c8ec7c33c6c004bbafe82",
        "google-oauth2|104857600000000000000",
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "https://idp.example.com/users/42",
        "urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "Jos\u{e9}",
        "\u{5f20}\u{4f1f}",
        "John Smith",
        " padded ",
        "x",
        "0",
        "\u{1f600}",
        long.as_str(),
    ] {
        let token = mint("rsa-2048", "RS256", &claims_with(&[("sub", json!(sub))]));
        assert_eq!(accepts(&token).sub(), sub);
    }
}
