//! `m4-auth verify` end to end: CONTRACT.md's protocol against the built binary, with keys
//! from a dev issuer running in this test process (real discovery, JWKS and signatures).
#![cfg(test)]

mod cli_common;

use std::path::Path;
use std::process::Command;

use cli_common::{Running, m4_auth, run, stderr, stdout};
use m4_auth_cli::dev_issuer::{DevIssuer, DevIssuerOptions, MintRequest, SigningAlg};
use serde_json::{Value, json};

/// `m4-auth verify args...` configured for `issuer`, plus `extra` variables.
fn verify(home: &Path, issuer: &DevIssuer, extra: &[(&str, &str)], args: &[&str]) -> Command {
    let mut all = vec!["verify"];
    all.extend_from_slice(args);
    let mut command = m4_auth(home, &all);
    command.envs(issuer.env());
    command.envs(extra.iter().copied());
    command
}

fn token(issuer: &DevIssuer, sub: &str) -> String {
    issuer
        .mint(&MintRequest {
            sub: sub.into(),
            ..MintRequest::default()
        })
        .unwrap()
}

fn json_line(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
}

/// `m4-auth verify --token TOKEN --json` against `issuer`.
fn verify_json(home: &Path, issuer: &DevIssuer, token: &str) -> std::process::Output {
    run(verify(home, issuer, &[], &["--token", token, "--json"]))
}

#[test]
fn single_token_exit_codes_and_json() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let good = token(&issuer, "alice");

    let output = verify_json(home.path(), &issuer, &good);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "{\"ok\":true,\"sub\":\"alice\",\"scopes\":[\"read:mimic-data\"]}\n"
    );

    let expired = issuer
        .mint(&MintRequest {
            ttl: -3600,
            ..MintRequest::default()
        })
        .unwrap();
    let output = run(verify(
        home.path(),
        &issuer,
        &[],
        &["--token", &expired, "--json"],
    ));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output),
        "{\"ok\":false,\"code\":\"token_expired\",\"message\":\"Token has expired\"}\n"
    );

    // Human output names the verdict and, for a rejection, the fix.
    let output = run(verify(
        home.path(),
        &issuer,
        &[],
        &["--token", &format!("bearer {good}")],
    ));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "✓ accepted: sub alice, scopes read:mimic-data\n"
    );
    let output = run(verify(home.path(), &issuer, &[], &["--token", &expired]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("✗ rejected (token_expired): Token has expired\n  fix: "));
    // The token is never echoed, in either mode.
    for out in [stdout(&output), stderr(&output)] {
        assert!(!out.contains(&expired));
    }
}

/// A `sub` with invisible or bidirectional-text characters (U+202E RIGHT-TO-LEFT OVERRIDE,
/// U+200B ZERO WIDTH SPACE, U+2066 LEFT-TO-RIGHT ISOLATE) is odd but not forged, so the token
/// verifies; what verify prints can neither reorder nor hide text on a terminal: `--json`
/// writes those characters as `\uXXXX` escapes, which parse back to the same `sub`, and the
/// human line shows them escaped (doctor's rule, one shared function).
#[test]
fn invisible_and_bidi_characters_in_sub_are_escaped_on_output() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let sub = "admin\u{202e}txt.exe\u{200b}\u{2066}x";
    let good = token(&issuer, sub);

    let output = verify_json(home.path(), &issuer, &good);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let line = stdout(&output);
    assert!(
        line.contains(r"admin\u202etxt.exe\u200b\u2066x"),
        "{line:?}"
    );
    assert!(
        !line.contains(['\u{202e}', '\u{200b}', '\u{2066}']),
        "{line:?}"
    );
    assert_eq!(json_line(line.trim_end())["sub"], sub);

    let output = run(verify(home.path(), &issuer, &[], &["--token", &good]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "\u{2713} accepted: sub admin\\u{202e}txt.exe\\u{200b}\\u{2066}x, scopes read:mimic-data\n"
    );
}

#[test]
fn the_token_comes_from_m4_oauth2_token_when_not_given() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let bearer = format!("Bearer {}", token(&issuer, "bob"));
    let output = run(verify(
        home.path(),
        &issuer,
        &[("M4_OAUTH2_TOKEN", &bearer)],
        &["--json"],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(json_line(&stdout(&output))["sub"], "bob");

    let output = run(verify(home.path(), &issuer, &[], &["--json"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        json_line(&stdout(&output)),
        json!({"ok": false, "code": "missing_token", "message": "Missing OAuth2 access token"})
    );
}

#[test]
fn configuration_and_usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let good = token(&issuer, "alice");

    let bad = [
        ("M4_OAUTH2_ENABLED", "ture"),
        ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
    ];
    for args in [
        vec!["--token", good.as_str(), "--json"],
        vec!["--stdin", "--json"],
    ] {
        let output = run(verify(home.path(), &issuer, &bad, &args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(stdout(&output).is_empty());
        let message = stderr(&output);
        assert!(
            message.contains("M4_OAUTH2_ENABLED=\"ture\" is not a boolean"),
            "{message}"
        );
        assert!(message.contains("M4_OAUTH2_RATE_LIMIT_WINDOW"), "{message}");
    }

    for args in [
        vec!["--stdin"],
        vec!["--stdin", "--json", "--token", "x"],
        vec!["--tokn", "x"],
    ] {
        let output = run(verify(home.path(), &issuer, &[], &args));
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty());
    }
}

#[test]
fn disabled_authentication_accepts_anonymously_and_warns() {
    let home = tempfile::tempdir().unwrap();
    let mut command = m4_auth(home.path(), &["verify", "--token", "whatever", "--json"]);
    command.env("M4_OAUTH2_ENABLED", "false");
    let output = run(command);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        json_line(&stdout(&output)),
        json!({"ok": true, "sub": "anonymous", "scopes": []})
    );
    assert!(
        stderr(&output).contains("OAuth2 is disabled"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn streaming_answers_each_line_as_it_arrives_with_one_cache() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mut stream = Running::start(verify(home.path(), &issuer, &[], &["--stdin", "--json"]));

    // Each answer is read before the next line is written: a line is handled as it arrives
    // and its answer flushed at once (otherwise this would block forever).
    let cases = [
        (
            token(&issuer, "alice"),
            json!({"ok": true, "sub": "alice", "scopes": ["read:mimic-data"]}),
        ),
        (
            issuer
                .mint(&MintRequest {
                    alg: SigningAlg::Es256,
                    ..MintRequest::default()
                })
                .unwrap(),
            json!({"ok": true, "sub": "dev-user", "scopes": ["read:mimic-data"]}),
        ),
        (
            String::new(),
            json!({"ok": false, "code": "missing_token", "message": "Missing OAuth2 access token"}),
        ),
        (
            issuer
                .mint(&MintRequest {
                    audience: Some("other".into()),
                    ..MintRequest::default()
                })
                .unwrap(),
            json!({"ok": false, "code": "invalid_audience", "message": "Token audience does not include \"m4-api\""}),
        ),
        (
            issuer
                .mint(&MintRequest {
                    scopes: vec![],
                    ..MintRequest::default()
                })
                .unwrap(),
            json!({"ok": false, "code": "missing_scopes", "message": "Missing required scopes: read:mimic-data"}),
        ),
        ("not.a.jwt".to_owned(), Value::Null),
        (
            format!("Bearer {}", token(&issuer, "carol")),
            json!({"ok": true, "sub": "carol", "scopes": ["read:mimic-data"]}),
        ),
    ];
    for (line, expected) in &cases {
        stream.send(line);
        let answer = json_line(&stream.line().expect("an answer line"));
        if expected.is_null() {
            assert_eq!(answer["ok"], false);
            assert_eq!(answer["code"], "malformed_token", "{answer}");
        } else {
            assert_eq!(&answer, expected, "for line {line:?}");
        }
    }
    // A 3 MiB line: cut at 1 MiB while reading, answered as too large, and the stream goes on.
    stream.send(&"a".repeat(3 * 1024 * 1024));
    let answer = json_line(&stream.line().unwrap());
    assert_eq!(answer["code"], "token_too_large", "{answer}");
    stream.send(&token(&issuer, "dora"));
    assert_eq!(json_line(&stream.line().unwrap())["sub"], "dora");
    stream.close_stdin();
    assert_eq!(stream.line(), None, "nothing after the last answer");
    assert!(stream.child.wait().unwrap().success());
    // One process, one JWKS cache: discovery and the JWKS were fetched once for all lines.
    assert_eq!(issuer.served("/.well-known/openid-configuration"), 1);
    assert_eq!(issuer.served("/jwks.json"), 1);
}

#[test]
fn streaming_shares_one_rate_limiter_across_lines() {
    let home = tempfile::tempdir().unwrap();
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let limit = [("M4_OAUTH2_RATE_LIMIT_REQUESTS", "2")];
    let alice = token(&issuer, "alice");
    let bob = token(&issuer, "bob");
    let input = format!("{alice}\n{alice}\n{bob}\n{alice}\n");
    let mut stream = Running::start(verify(home.path(), &issuer, &limit, &["--stdin", "--json"]));
    for line in input.lines() {
        stream.send(line);
    }
    stream.close_stdin();
    let answers: Vec<Value> = std::iter::from_fn(|| stream.line())
        .map(|l| json_line(&l))
        .collect();
    assert_eq!(answers.len(), 4);
    assert_eq!(answers[0]["sub"], "alice");
    assert_eq!(answers[1]["sub"], "alice");
    assert_eq!(answers[2]["sub"], "bob", "the limit is per user");
    assert_eq!(answers[3]["code"], "rate_limited");
    assert!(
        answers[3]["message"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit exceeded")
    );
    assert!(
        stream.child.wait().unwrap().success(),
        "exit 0: every line was processed"
    );
}
