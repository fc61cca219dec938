//! Acceptance: secrets never leave the process. With a token and a client secret set, nothing
//! `verify` (accepted, rejected, streamed, misconfigured) or `doctor` (human or JSON) prints
//! contains the raw token, its signature segment or its signing input, or the client secret.
//! `doctor` may show the decoded header and claims: that is its job.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use e2e_support::tokens::{claims, merged, now, segments, sign, sign_with_header};
use e2e_support::{Run, Session, env_for, run, standard_idp};
use serde_json::json;

const CLIENT_SECRET: &str = "cs-7Hq2vX9pL4mZ8wR1-do-not-print";
const REDIS_PASSWORD: &str = "rp-Zy83kQe0-do-not-print";

/// The strings that must never appear for `token`: the token itself, and when it has three
/// segments, its signature and its signing input.
fn secrets_of(token: &str) -> Vec<String> {
    let mut secrets = vec![token.to_owned(), CLIENT_SECRET.to_owned()];
    if token.split('.').count() == 3 {
        let [h, p, s] = segments(token);
        if s.len() >= 16 {
            secrets.push(s.to_owned());
        }
        secrets.push(format!("{h}.{p}"));
    }
    secrets
}

#[track_caller]
fn assert_clean(what: &str, out: &str, token: &str) {
    for secret in secrets_of(token) {
        assert!(
            !out.contains(&secret),
            "{what} shows a secret ({}...): {out}",
            &secret[..secret.len().min(12)]
        );
    }
}

#[track_caller]
fn assert_run_clean(what: &str, out: &Run, token: &str) {
    assert_clean(&format!("{what} stdout"), &out.stdout, token);
    assert_clean(&format!("{what} stderr"), &out.stderr, token);
}

#[test]
fn no_output_of_verify_or_doctor_shows_a_token_or_the_client_secret() {
    let (_idp, iss, _jwks) = standard_idp();
    let good = |sub: &str| claims(&iss, sub);
    let tokens = [
        ("accepted", sign("rsa-2048", &good("alice"))),
        (
            "expired",
            sign(
                "rsa-2048",
                &merged(&good("alice"), json!({"exp": now() - 3600})),
            ),
        ),
        (
            "wrong audience",
            sign("ec-p256", &merged(&good("alice"), json!({"aud": "other"}))),
        ),
        (
            "unknown kid",
            sign_with_header("rsa-2048", json!({"kid": "nope"}), &good("alice")),
        ),
        (
            "missing scope",
            sign(
                "rsa-4096",
                &merged(&good("alice"), json!({"scope": "openid"})),
            ),
        ),
        (
            "not a JWT",
            "s3cr3t-looking-opaque-token-value-0123456789".to_owned(),
        ),
        (
            "whitespace inside",
            format!(
                "{} trailing-part-of-a-secret",
                sign("rsa-2048", &good("bob"))
            ),
        ),
    ];
    let env = env_for(
        &iss,
        &[
            ("M4_OAUTH2_CLIENT_ID", "m4-client"),
            ("M4_OAUTH2_CLIENT_SECRET", CLIENT_SECRET),
        ],
    );
    let with_token = |token: &str| {
        let mut env = env.clone();
        env.push(("M4_OAUTH2_TOKEN".to_owned(), token.to_owned()));
        env
    };
    for (label, token) in &tokens {
        for args in [
            vec!["verify", "--token", token.as_str(), "--json"],
            vec!["verify", "--token", token.as_str()],
        ] {
            let out = run(&args, &env);
            assert!(matches!(out.code, Some(0 | 1)), "{label}: {out:?}");
            assert_run_clean(&format!("{label}, {}", args.len()), &out, token);
        }
        let out = run(&["verify", "--json"], &with_token(token));
        assert_run_clean(&format!("{label}, M4_OAUTH2_TOKEN"), &out, token);

        for args in [vec!["doctor"], vec!["doctor", "--json"]] {
            let out = run(&args, &with_token(token));
            assert!(matches!(out.code, Some(0 | 1)), "{label}: {out:?}");
            assert_run_clean(&format!("{label}, {args:?}"), &out, token);
        }
    }
    // Doctor does show what a token says (decoded), so the checks above are not vacuous.
    let out = run(&["doctor"], &with_token(&tokens[0].1));
    assert!(out.stdout.contains("alice"), "{out:?}");

    // The stream, every token in one process.
    let mut session = Session::start(&env);
    for (_, token) in &tokens {
        let answer = session.ask(token);
        assert_clean("stream answer", &answer.to_string(), token);
    }
    let finished = session.finish();
    for (_, token) in &tokens {
        assert_clean("stream stderr", &finished.stderr, token);
    }
}

#[test]
fn misconfigured_runs_do_not_show_secrets_either() {
    let (_idp, iss, _jwks) = standard_idp();
    let token = sign("rsa-2048", &claims(&iss, "alice"));
    let redis = format!("redis://default:{REDIS_PASSWORD}@127.0.0.1:1/0");
    let cases = [
        // A bad value next to the secrets: exit 2 with the problem, no secret.
        vec![
            ("M4_OAUTH2_ENABLED", "ture"),
            ("M4_OAUTH2_CLIENT_SECRET", CLIENT_SECRET),
            ("M4_OAUTH2_TOKEN", token.as_str()),
        ],
        // The secret in a misspelt variable: the name is warned about, never the value.
        vec![
            ("M4_OAUTH2_CLIENT_SECRT", CLIENT_SECRET),
            ("M4_OAUTH2_TOKN", token.as_str()),
            ("M4_OAUTH2_LEEWAY", "x"),
        ],
        // A Redis URL with a password, as the rate-limit backend.
        vec![("M4_OAUTH2_RATE_LIMIT_BACKEND", redis.as_str())],
        // The same URL where an https URL is expected.
        vec![("M4_OAUTH2_JWKS_URL", redis.as_str())],
    ];
    for extra in cases {
        let env = env_for(&iss, &extra);
        for args in [
            vec!["verify", "--json"],
            vec!["verify", "--token", token.as_str(), "--json"],
            vec!["doctor"],
            vec!["doctor", "--json"],
        ] {
            let out = run(&args, &env);
            assert_run_clean(&format!("{extra:?} {args:?}"), &out, &token);
            for text in [&out.stdout, &out.stderr] {
                assert!(!text.contains(REDIS_PASSWORD), "{args:?}: {text}");
            }
        }
    }
    // The misspelt secret is named in the warning (so the test above saw real output).
    let out = run(
        &["verify", "--json"],
        &env_for(&iss, &[("M4_OAUTH2_CLIENT_SECRT", CLIENT_SECRET)]),
    );
    assert!(
        out.stderr.contains("M4_OAUTH2_CLIENT_SECRT"),
        "{}",
        out.stderr
    );
}
