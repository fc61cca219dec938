//! Acceptance: `m4-auth doctor` as an operator runs it on a token they were handed.
//! The token (and the provider's JWKS) are untrusted text: the human report must not let
//! them write terminal control sequences, and each claim check must agree with the verifier's
//! verdict on the same token.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use e2e_support::tokens::{claims, merged, sign, sign_with_header};
use e2e_support::{Idp, env_for, json_body, run, standard_idp};
use m4_auth_testkit::keys;
use serde_json::json;

fn with_token(env: &[(String, String)], token: &str) -> Vec<(String, String)> {
    let mut env = env.to_vec();
    env.push(("M4_OAUTH2_TOKEN".to_owned(), token.to_owned()));
    env
}

/// Every control character in `text` except the line feeds that separate report lines.
fn controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|c| c.is_control() && *c != '\n')
        .collect()
}

#[test]
fn the_human_report_never_prints_control_characters_from_a_token_or_a_jwks() {
    // A provider whose JWKS names a key with an escape sequence in its kid.
    let idp = Idp::start();
    let iss = idp.discovery("", "/jwks.json");
    let mut hostile = keys::jwk("rsa-2048-b");
    hostile["kid"] = json!("b\u{1b}]0;owned\u{7}");
    idp.serve(
        "/jwks.json",
        json_body(&keys::jwks_of(&[keys::jwk("rsa-2048"), hostile])),
    );
    // A token whose kid, iss and sub carry escape sequences, a carriage return and a newline:
    // shown raw, "sub eve\r...root" would display as "sub root".
    let token = sign_with_header(
        "rsa-2048",
        json!({"kid": "rsa-2048\u{1b}[2J"}),
        &merged(
            &claims(&iss, "eve\u{1b}[1K\rroot"),
            json!({"iss": format!("{iss}\u{1b}[31m\n  ✓ m4-auth accepts this token")}),
        ),
    );
    let env = with_token(&env_for(&iss, &[]), &token);
    let out = run(&["doctor"], &env);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout.contains("eve"),
        "the sub is still shown: {}",
        out.stdout
    );
    assert_eq!(
        controls(&out.stdout),
        Vec::<char>::new(),
        "control characters reach the terminal:\n{}",
        out.stdout
    );
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("✓ m4-auth accepts")),
        "a claim forged a report line:\n{}",
        out.stdout
    );
    // The JSON report is JSON-escaped already: it must stay parseable and faithful.
    let out = run(&["doctor", "--json"], &env);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
}

#[test]
fn each_claim_check_agrees_with_the_verdict() {
    let (_idp, iss, _jwks) = standard_idp();
    let env = env_for(&iss, &[]);
    // Scopes separated by a tab are one (unknown) scope for the verifier, which splits on
    // spaces as RFC 6749 says; doctor must not report the scope as present.
    let token = sign(
        "rsa-2048",
        &merged(
            &claims(&iss, "alice"),
            json!({"scope": "read:mimic-data\tadmin"}),
        ),
    );
    let out = run(&["doctor"], &with_token(&env, &token));
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stdout
            .contains("m4-auth rejects this token (missing_scopes)"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("✓ scopes include"),
        "doctor passes the scope check of a token the verifier refuses for its scopes:\n{}",
        out.stdout
    );
    // Claim shapes the verifier accepts pass doctor's checks too (exit 0): `scope` as an
    // array, `scp` alone.
    for (label, changes) in [
        (
            "scope array",
            json!({"scope": ["openid", "read:mimic-data"]}),
        ),
        (
            "scp array",
            json!({"scope": null, "scp": ["read:mimic-data"]}),
        ),
        (
            "scp string",
            json!({"scope": null, "scp": "read:mimic-data openid"}),
        ),
    ] {
        let token = sign("rsa-2048", &merged(&claims(&iss, "alice"), changes));
        let verdict = run(&["verify", "--token", &token, "--json"], &env);
        assert_eq!(verdict.code, Some(0), "{label}: {verdict:?}");
        let out = run(&["doctor"], &with_token(&env, &token));
        assert_eq!(
            out.code,
            Some(0),
            "{label}: doctor fails a token the verifier accepts:\n{}",
            out.stdout
        );
    }
    // Claims of a type the verifier refuses (invalid_claims): doctor's check for that claim
    // fails with the verifier's own message, never ✓ and never "no exp claim".
    for (label, changes, verdict_message, passed_instead) in [
        (
            "aud with a non-string member",
            json!({"aud": ["m4-api", 5]}),
            "Token claim \"aud\" must be a string or an array of strings",
            "✓ aud includes",
        ),
        (
            "exp as a string",
            json!({"exp": "1795000000"}),
            "Token claim \"exp\" must be a number of seconds since the epoch",
            "the token has no exp claim",
        ),
    ] {
        let token = sign("rsa-2048", &merged(&claims(&iss, "alice"), changes));
        let verdict = run(&["verify", "--token", &token, "--json"], &env);
        assert_eq!(verdict.code, Some(1), "{label}: {verdict:?}");
        let answer: serde_json::Value = serde_json::from_str(verdict.stdout.trim()).unwrap();
        assert_eq!(answer["code"], "invalid_claims", "{label}: {answer}");
        assert_eq!(answer["message"], verdict_message, "{label}: {answer}");
        let out = run(&["doctor"], &with_token(&env, &token));
        assert_eq!(out.code, Some(1), "{label}: {out:?}");
        assert!(
            out.stdout
                .contains(&format!("✗ {verdict_message} (this token has ")),
            "{label}: doctor's claim check does not fail with the verifier's reason:\n{}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!(
                "m4-auth rejects this token (invalid_claims): {verdict_message}"
            )),
            "{label}:\n{}",
            out.stdout
        );
        assert!(
            !out.stdout.contains(passed_instead),
            "{label}: doctor says {passed_instead:?}:\n{}",
            out.stdout
        );
    }
    // And for a good token, every token check passes.
    let good = sign("rsa-2048", &claims(&iss, "alice"));
    let out = run(&["doctor"], &with_token(&env, &good));
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("✓ scopes include read:mimic-data"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("✓ m4-auth accepts this token (sub alice)"),
        "{}",
        out.stdout
    );
}
