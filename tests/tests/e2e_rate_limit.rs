//! Acceptance: the per-user rate limit through `m4-auth verify --stdin --json`, one process
//! (one limiter) per scenario, tokens minted by the in-process dev issuer.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use std::time::{Duration, Instant};

use e2e_support::tokens::{b64, segments};
use e2e_support::{Expect, Session, check};
use m4_auth_cli::dev_issuer::{DevIssuer, DevIssuerOptions, MintRequest};
use serde_json::json;

use Expect::{Code, Ok, Prefix};

fn env(issuer: &DevIssuer, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    cli_common::with_vars(issuer.env(), extra)
}

fn mint(issuer: &DevIssuer, sub: &str) -> String {
    issuer
        .mint(&MintRequest {
            sub: sub.into(),
            ..MintRequest::default()
        })
        .unwrap()
}

/// The retry delay in a rate_limited message, "Rate limit exceeded: retry after N s".
fn retry_after(message: &str) -> u64 {
    message
        .strip_prefix("Rate limit exceeded: retry after ")
        .and_then(|rest| rest.strip_suffix(" s"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected rate-limit message {message:?}"))
}

#[test]
fn five_per_window_then_rate_limited_per_sub() {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mut session = Session::start(&env(&issuer, &[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "5")]));
    // The same token three times (verified-token cache hits count too) and two fresh ones.
    let alice = mint(&issuer, "alice");
    for i in 0..3 {
        check(
            &session.ask(&alice),
            Ok("alice"),
            &format!("alice, same token, {i}"),
        );
    }
    for i in 0..2 {
        check(
            &session.ask(&mint(&issuer, "alice")),
            Ok("alice"),
            &format!("alice, fresh token, {i}"),
        );
    }
    for (label, token) in [("fresh", mint(&issuer, "alice")), ("cached", alice.clone())] {
        let answer = session.ask(&token);
        check(
            &answer,
            Prefix("rate_limited", "Rate limit exceeded"),
            label,
        );
        let wait = retry_after(answer["message"].as_str().unwrap());
        assert!((1..=3600).contains(&wait), "retry after {wait} s");
    }
    // Another user is not affected, and gets their own five.
    for i in 0..5 {
        check(
            &session.ask(&mint(&issuer, "bob")),
            Ok("bob"),
            &format!("bob {i}"),
        );
    }
    check(
        &session.ask(&mint(&issuer, "bob")),
        Code("rate_limited"),
        "bob's sixth",
    );
    // A rejected token is judged before the limiter: a limited user's bad token says why it is
    // bad, not that the user is limited.
    let expired = issuer
        .mint(&MintRequest {
            sub: "alice".into(),
            ttl: -3600,
            ..MintRequest::default()
        })
        .unwrap();
    check(
        &session.ask(&expired),
        Code("token_expired"),
        "alice, expired token",
    );
    assert!(session.finish().status.success());
}

#[test]
fn forged_tokens_cannot_spend_another_users_quota() {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mut session = Session::start(&env(&issuer, &[("M4_OAUTH2_RATE_LIMIT_REQUESTS", "3")]));
    // Forty tokens claiming sub "carol": carol's real token with the payload swapped
    // (invalid signature) or expired ones. None may be charged to carol.
    let real = mint(&issuer, "carol");
    let [h, p, s] = segments(&real);
    let mut claims: serde_json::Value =
        serde_json::from_slice(&e2e_support::tokens::unb64(p)).unwrap();
    claims["scope"] = json!("read:mimic-data admin");
    let forged = format!("{h}.{}.{s}", b64(claims.to_string().as_bytes()));
    for i in 0..20 {
        check(
            &session.ask(&forged),
            Code("invalid_signature"),
            &format!("forged {i}"),
        );
        let expired = issuer
            .mint(&MintRequest {
                sub: "carol".into(),
                ttl: -3600,
                ..MintRequest::default()
            })
            .unwrap();
        check(
            &session.ask(&expired),
            Code("token_expired"),
            &format!("expired {i}"),
        );
    }
    for i in 0..3 {
        check(&session.ask(&real), Ok("carol"), &format!("carol {i}"));
    }
    check(&session.ask(&real), Code("rate_limited"), "carol's fourth");
    assert!(session.finish().status.success());
}

#[test]
fn the_window_reopens_after_it_passes() {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mut session = Session::start(&env(
        &issuer,
        &[
            ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2"),
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1"),
        ],
    ));
    let dave = mint(&issuer, "dave");
    check(&session.ask(&dave), Ok("dave"), "first");
    check(&session.ask(&dave), Ok("dave"), "second");
    let answer = session.ask(&dave);
    check(&answer, Code("rate_limited"), "third");
    assert_eq!(retry_after(answer["message"].as_str().unwrap()), 1);
    // Poll until the one-second window has passed (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = session.ask(&dave);
        if answer["ok"] == true {
            break;
        }
        check(&answer, Code("rate_limited"), "while the window runs");
        assert!(Instant::now() < deadline, "the window never reopened");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(session.finish().status.success());
}

#[test]
fn disabling_the_rate_limit_means_unlimited() {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mut session = Session::start(&env(
        &issuer,
        &[
            ("M4_OAUTH2_RATE_LIMIT_ENABLED", "false"),
            // Ignored while disabled.
            ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "5"),
        ],
    ));
    let erin = mint(&issuer, "erin");
    for i in 0..150 {
        check(&session.ask(&erin), Ok("erin"), &format!("request {i}"));
    }
    for i in 0..10 {
        check(
            &session.ask(&mint(&issuer, "erin")),
            Ok("erin"),
            &format!("fresh {i}"),
        );
    }
    assert!(session.finish().status.success());

    // And the default (100 per hour) is on when nothing is set.
    let mut session = Session::start(&issuer.env());
    for i in 0..100 {
        check(&session.ask(&erin), Ok("erin"), &format!("default {i}"));
    }
    check(&session.ask(&erin), Code("rate_limited"), "default, 101st");
    assert!(session.finish().status.success());
}
