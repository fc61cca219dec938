//! `m4-auth doctor` end to end: the built binary against a wiremock identity provider,
//! once healthy and once per failure, with tokens signed by the committed test keys.
#![cfg(test)]

mod cli_common;

use std::process::Output;

use cli_common::{m4_auth, run, stderr, stdout};
use m4_auth_testkit::idp::{Idp, ResponseTemplate, json_body, oauth_error, token_answer};
use m4_auth_testkit::keys;
use m4_auth_testkit::redis::RedisServer;
use m4_auth_testkit::tokens::{Algorithm, Sig, jws, merged, now};
use serde_json::{Value, json};

/// The testkit's loopback provider, healthy: discovery at the root naming the committed JWKS
/// (rsa-2048, rsa-4096, ec-p256) at `/jwks.json`.
fn healthy() -> Idp {
    let idp = Idp::start();
    idp.discovery("", "/jwks.json");
    idp.serve("/jwks.json", json_body(keys::jwks_json()));
    idp
}

/// A token signed with the fixture key `key` (RS256), named `kid`, with `overrides` applied.
fn token(idp: &Idp, key: &str, kid: &str, overrides: &Value) -> String {
    let claims = json!({
        "iss": idp.uri(), "aud": "m4-api", "sub": "alice",
        "scope": "read:mimic-data", "iat": now(), "exp": now() + 3600,
    });
    jws(
        &json!({"alg": "RS256", "typ": "JWT", "kid": kid}),
        &merged(&claims, overrides.clone()),
        &Sig::Key(key, Algorithm::RS256),
    )
}

/// Runs `m4-auth doctor args...` with the given settings (issuer and audience by default).
fn doctor(idp: &Idp, settings: &[(&str, &str)], args: &[&str]) -> (Output, String) {
    let home = tempfile::tempdir().unwrap();
    let mut all = vec!["doctor"];
    all.extend_from_slice(args);
    let mut command = m4_auth(home.path(), &all);
    command
        .env("M4_OAUTH2_ENABLED", "true")
        .env("M4_OAUTH2_ISSUER_URL", idp.uri())
        .env("M4_OAUTH2_AUDIENCE", "m4-api")
        .envs(settings.iter().copied());
    let output = run(command);
    let text = stdout(&output);
    (output, text)
}

#[track_caller]
fn assert_lines(text: &str, expected: &[&str]) {
    for line in expected {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn a_healthy_setup_passes_every_check() {
    let idp = healthy();
    let good = token(&idp, "rsa-2048", "rsa-2048", &json!({}));
    let (output, text) = doctor(&idp, &[("M4_OAUTH2_TOKEN", &good)], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    let uri = idp.uri();
    assert_lines(
        &text,
        &[
            "✓ settings are valid; OAuth2 is enabled",
            &format!(
                "✓ the discovery document names the issuer {uri} and the JWKS {uri}/jwks.json"
            ),
            &format!("✓ fetched {uri}/jwks.json: 3 key(s)"),
            "kid rsa-2048  RSA 2048  alg RS256  use sig",
            "kid rsa-4096  RSA 4096  alg RS256  use sig",
            "kid ec-p256  EC P-256  alg ES256  use sig",
            "· header  {",
            "✓ kid rsa-2048 is in the JWKS",
            "✓ expires in ",
            "✓ aud includes m4-api",
            "✓ scopes include read:mimic-data",
            "Rate-limit backend (M4_OAUTH2_RATE_LIMIT_BACKEND)",
            "✓ in-memory (per process)",
            "✓ m4-auth accepts this token (sub alice)",
            "All checks passed (0 warning(s)).",
        ],
    );
    assert!(!text.contains('✗'));
    // The signature is never shown.
    let signature = good.rsplit('.').next().unwrap();
    assert!(!text.contains(signature));
}

#[test]
fn no_token_is_not_a_failure() {
    let idp = healthy();
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_lines(&text, &["- M4_OAUTH2_TOKEN is not set: no token to check"]);
}

#[test]
fn missing_discovery_fails_with_the_urls_tried() {
    let idp = Idp::start(); // answers 404 to everything
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            &format!(
                "✗ found no OpenID configuration at {}/.well-known/openid-configuration",
                idp.uri()
            ),
            "fix: check M4_OAUTH2_ISSUER_URL",
            "- not fetched: discovery failed",
        ],
    );
}

#[test]
fn an_issuer_mismatch_names_both_and_the_fix() {
    let idp = Idp::start();
    let theirs = format!("{}/", idp.uri());
    idp.discovery("/", "/jwks.json");
    idp.serve("/jwks.json", json_body(keys::jwks_json()));
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            &format!("names the issuer \"{theirs}\""),
            &format!("fix: set M4_OAUTH2_ISSUER_URL={theirs} exactly"),
        ],
    );
}

#[test]
fn a_failing_jwks_endpoint_is_reported() {
    let idp = Idp::start();
    idp.discovery("", "/jwks.json");
    idp.serve("/jwks.json", ResponseTemplate::new(500));
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            "✓ the discovery document names the issuer",
            &format!("✗ GET {}/jwks.json answered HTTP 500", idp.uri()),
            "fix: check the URL",
        ],
    );
}

#[test]
fn a_jwks_without_usable_keys_lists_why() {
    let idp = Idp::start();
    idp.discovery("", "/jwks.json");
    idp.serve(
        "/jwks.json",
        json_body(&format!("{{\"keys\":[{}]}}", keys::public_jwk("rsa-1024"))),
    );
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            "holds no usable signature key",
            "rsa-1024",
            "fix: the provider publishes no key m4-auth can use",
        ],
    );
}

#[test]
fn an_unreachable_issuer_is_reported() {
    let down = m4_auth_testkit::closed_addr();
    let home = tempfile::tempdir().unwrap();
    let mut command = m4_auth(home.path(), &["doctor"]);
    command
        .env("M4_OAUTH2_ENABLED", "true")
        .env("M4_OAUTH2_ISSUER_URL", format!("http://{down}"))
        .env("M4_OAUTH2_AUDIENCE", "m4-api");
    let output = run(command);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            &format!("✗ GET http://{down}/.well-known/openid-configuration failed"),
            "fix: check the host name",
        ],
    );
}

#[track_caller]
fn check_token_failure(overrides: &Value, key: &str, kid: &str, expected: &[&str]) {
    let idp = healthy();
    let bad = token(&idp, key, kid, overrides);
    let (output, text) = doctor(&idp, &[("M4_OAUTH2_TOKEN", &bad)], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(&text, expected);
    assert!(text.contains("✓ fetched"), "the keys are fine: {text}");
}

#[test]
fn each_token_problem_is_explained() {
    check_token_failure(
        &json!({"exp": now() - 600}),
        "rsa-2048",
        "rsa-2048",
        &[
            "✗ expired 10m ago (leeway 60s)",
            "✗ m4-auth rejects this token (token_expired): Token has expired",
            "fix: request a fresh token",
        ],
    );
    check_token_failure(
        &json!({}),
        "rsa-2048-b",
        "rsa-2048-b",
        &[
            "✗ kid rsa-2048-b is not in the JWKS (it has: rsa-2048, rsa-4096, ec-p256)",
            "(unknown_kid)",
        ],
    );
    check_token_failure(
        &json!({"aud": "billing"}),
        "rsa-2048",
        "rsa-2048",
        &[
            "✗ aud billing does not include m4-api",
            "(invalid_audience): Token audience does not include \"m4-api\"",
        ],
    );
    check_token_failure(
        &json!({"scope": "write:notes"}),
        "rsa-2048",
        "rsa-2048",
        &[
            "✗ Missing required scopes: read:mimic-data (token has: write:notes)",
            "(missing_scopes)",
        ],
    );
    // Signed by another key under a published kid: the claims look fine, the signature not.
    check_token_failure(
        &json!({}),
        "rsa-2048-b",
        "rsa-2048",
        &[
            "✓ kid rsa-2048 is in the JWKS",
            "✗ m4-auth rejects this token (invalid_signature): Invalid token signature",
        ],
    );
}

/// A `sub` the verifier refuses (blank, a control character) and a token bound to a key
/// (`cnf`): doctor's own check fails with the verifier's message, as `m4-auth verify` does,
/// and neither the text nor the JSON report prints a control character of the sub.
#[test]
fn subjects_and_bound_tokens_the_verifier_refuses_fail_doctors_checks_too() {
    use m4_auth::jwt::Error as VerifyError;

    let idp = healthy();
    for (label, overrides, refusal) in [
        (
            "blank sub",
            json!({"sub": " \u{3000} "}),
            VerifyError::BlankSubject,
        ),
        (
            "sub with an ESC sequence",
            json!({"sub": "eve\u{1b}[31m"}),
            VerifyError::SubjectControlCharacter { found: '\u{1b}' },
        ),
        (
            "sub with a C1 CSI",
            json!({"sub": "eve\u{9b}31m"}),
            VerifyError::SubjectControlCharacter { found: '\u{9b}' },
        ),
        (
            "cnf.jkt",
            json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
            VerifyError::SenderConstrained,
        ),
    ] {
        let message = refusal.to_string();
        let bad = token(&idp, "rsa-2048", "rsa-2048", &overrides);
        let home = tempfile::tempdir().unwrap();
        let mut verify = m4_auth(home.path(), &["verify", "--token", &bad, "--json"]);
        verify
            .env("M4_OAUTH2_ENABLED", "true")
            .env("M4_OAUTH2_ISSUER_URL", idp.uri())
            .env("M4_OAUTH2_AUDIENCE", "m4-api");
        let verdict = run(verify);
        let answer: Value = serde_json::from_str(stdout(&verdict).trim())
            .unwrap_or_else(|e| panic!("{label}: {e}: {verdict:?}"));
        assert_eq!(answer["code"], "invalid_claims", "{label}: {answer}");
        assert_eq!(answer["message"], message.as_str(), "{label}: {answer}");

        let (output, text) = doctor(&idp, &[("M4_OAUTH2_TOKEN", &bad)], &[]);
        assert_eq!(output.status.code(), Some(1), "{label}: {text}");
        assert_lines(
            &text,
            &[
                &format!("✗ {message}\n      fix: m4-auth rejects it (invalid_claims): "),
                &format!("✗ m4-auth rejects this token (invalid_claims): {message}"),
            ],
        );
        let sub_passes = if refusal == VerifyError::SenderConstrained {
            "✓ sub alice"
        } else {
            "✓ sub "
        };
        assert_eq!(
            text.contains(sub_passes),
            refusal == VerifyError::SenderConstrained,
            "{label}: {text}"
        );
        let controls = |t: &str| t.chars().any(|c| c.is_control() && c != '\n');
        assert!(!controls(&text), "{label}: {text:?}");

        let (output, json) = doctor(&idp, &[("M4_OAUTH2_TOKEN", &bad)], &["--json"]);
        assert_eq!(output.status.code(), Some(1), "{label}: {json}");
        assert!(!controls(&json), "{label}: {json:?}");
        let report: Value = serde_json::from_str(&json).unwrap();
        let failed: Vec<&Value> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["status"] == "fail")
            .collect();
        assert_eq!(failed.len(), 2, "{label}: {json}");
        assert_eq!(failed[0]["title"], message.as_str(), "{label}: {json}");
    }
}

#[test]
fn an_invalid_configuration_lists_every_problem_and_skips_the_rest() {
    let idp = healthy();
    let (output, text) = doctor(
        &idp,
        &[
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
            ("M4_OAUTH2_LEEWAY", "-5"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            "✗ the M4_OAUTH2_* settings have 2 problem(s)",
            "M4_OAUTH2_RATE_LIMIT_WINDOW",
            "M4_OAUTH2_LEEWAY",
            "- skipped: the configuration is invalid",
        ],
    );
    assert_eq!(idp.requests().len(), 0);
}

#[test]
fn json_output_for_scripts() {
    let idp = healthy();
    let (output, text) = doctor(&idp, &[], &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["ok"], true);
    let sections: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["section"].as_str().unwrap())
        .collect();
    assert_eq!(
        sections,
        [
            "configuration",
            "discovery",
            "jwks",
            "rate-limit",
            "token",
            "credentials"
        ]
    );

    let broken = Idp::start();
    let (output, text) = doctor(&broken, &[], &["--json"]);
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["checks"][1]["status"], "fail");
    assert!(
        report["checks"][1]["fix"]
            .as_str()
            .unwrap()
            .contains("M4_OAUTH2_JWKS_URL")
    );
}

#[test]
fn disabled_authentication_is_a_warning_not_a_failure() {
    let home = tempfile::tempdir().unwrap();
    let output = run(m4_auth(home.path(), &["doctor"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_lines(
        &text,
        &[
            "! OAuth2 is disabled: every MCP tool is accessible without authentication",
            "- skipped: OAuth2 is disabled",
            "All checks passed (1 warning(s)).",
        ],
    );
}

#[test]
fn an_explicit_jwks_url_skips_discovery() {
    let idp = Idp::start(); // no discovery document at all
    idp.serve("/jwks.json", json_body(keys::jwks_json()));
    let jwks_url = format!("{}/jwks.json", idp.uri());
    let (output, text) = doctor(&idp, &[("M4_OAUTH2_JWKS_URL", &jwks_url)], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_lines(
        &text,
        &[
            &format!("jwks        {jwks_url}"),
            "- not used: M4_OAUTH2_JWKS_URL is set",
            &format!("✓ fetched {jwks_url}: 3 key(s)"),
        ],
    );
}

#[test]
fn the_jwks_json_fallback_is_a_warning() {
    let idp = Idp::start();
    idp.serve(
        "/.well-known/jwks.json",
        ResponseTemplate::new(200).set_body_string(keys::jwks_json()),
    );
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let fallback = format!("{}/.well-known/jwks.json", idp.uri());
    assert_lines(
        &text,
        &[
            &format!(
                "! {} publishes no discovery document; using the fallback {fallback}",
                idp.uri()
            ),
            &format!("fix: set M4_OAUTH2_JWKS_URL={fallback} to say so explicitly"),
            "All checks passed (1 warning(s)).",
        ],
    );
}

#[test]
fn keys_that_cannot_verify_the_configured_algorithms_fail() {
    let idp = Idp::start();
    idp.discovery("", "/jwks.json");
    idp.serve(
        "/jwks.json",
        json_body(&format!("{{\"keys\":[{}]}}", keys::public_jwk("ec-p384"))),
    );
    let (output, text) = doctor(&idp, &[], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            "kid ec-p384  EC P-384  alg ES384  use sig",
            "✗ no key can verify RS256 or ES256",
            "fix: set M4_OAUTH2_ALGORITHMS to the algorithms the provider signs with",
        ],
    );
    // With ES384 allowed, the same key set passes.
    let (output, text) = doctor(&idp, &[("M4_OAUTH2_ALGORITHMS", "ES384")], &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
}

#[test]
fn a_redis_backend_that_answers_passes_with_its_ping() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let idp = healthy();
    let good = token(&idp, "rsa-2048", "rsa-2048", &json!({}));
    let url = redis.url();
    let (output, text) = doctor(
        &idp,
        &[
            ("M4_OAUTH2_RATE_LIMIT_BACKEND", &url),
            ("M4_OAUTH2_TOKEN", &good),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    assert_lines(
        &text,
        &[
            &format!("✓ Redis at {url} answers (ping "),
            " ms)",
            "✓ m4-auth accepts this token (sub alice)",
            "All checks passed (0 warning(s)).",
        ],
    );
}

#[test]
fn a_redis_backend_nobody_listens_on_fails_with_a_fix_and_no_password() {
    let idp = healthy();
    let down = m4_auth_testkit::closed_addr(); // nothing listens there
    let url = format!("redis://:hunter2@{down}/0");
    let (output, text) = doctor(&idp, &[("M4_OAUTH2_RATE_LIMIT_BACKEND", &url)], &[]);
    assert_eq!(output.status.code(), Some(1), "{text}{}", stderr(&output));
    assert_lines(
        &text,
        &[
            &format!("✗ Redis at redis://[redacted]@{down}/0 is unavailable: "),
            "fix: start Redis, or check M4_OAUTH2_RATE_LIMIT_BACKEND",
            "checks fall back to the in-process limiter meanwhile",
            "1 check(s) failed",
        ],
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!stderr(&output).contains("hunter2"));

    // Rate limiting off: nothing to ask, nothing fails.
    let (output, text) = doctor(
        &idp,
        &[
            ("M4_OAUTH2_RATE_LIMIT_BACKEND", &url),
            ("M4_OAUTH2_RATE_LIMIT_ENABLED", "false"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_lines(&text, &["- off: M4_OAUTH2_RATE_LIMIT_ENABLED=false"]);
}

/// A provider whose discovery document also names a token endpoint.
fn with_token_endpoint(answer: ResponseTemplate) -> Idp {
    let idp = Idp::start();
    mount_token_endpoint(&idp, answer);
    idp
}

/// Discovery naming a token endpoint, the keys, and the token endpoint answering `answer`.
fn mount_token_endpoint(idp: &Idp, answer: ResponseTemplate) {
    idp.oauth_discovery(json!({
        "jwks_uri": idp.url("/jwks.json"),
        "device_authorization_endpoint": null,
        "revocation_endpoint": null,
    }));
    idp.serve("/jwks.json", json_body(keys::jwks_json()));
    idp.serve_post("/token", answer);
}

#[test]
fn the_credentials_step_obtains_a_token_and_verifies_it() {
    // The token names the provider's own URL as issuer, so the server must exist first.
    let idp = Idp::start();
    let good = token(&idp, "rsa-2048", "rsa-2048", &json!({"sub": "svc"}));
    mount_token_endpoint(&idp, token_answer(&good, 3600, None));
    let creds = [
        ("M4_OAUTH2_CLIENT_ID", "m4-service"),
        ("M4_OAUTH2_CLIENT_SECRET", "s3cret-value"),
    ];
    let (output, text) = doctor(&idp, &creds, &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_lines(
        &text,
        &[
            "Credentials for the stdio path",
            "· the stdio path obtains tokens from the client credentials",
            "✓ obtained a token from the client credentials now",
            "✓ m4-auth accepts it (sub svc)",
        ],
    );
    assert!(
        !text.contains("s3cret-value") && !text.contains(&good),
        "{text}"
    );
}

#[test]
fn the_credentials_step_fails_with_the_fix_when_no_token_can_be_obtained() {
    let idp = with_token_endpoint(oauth_error(401, "invalid_client", Some("bad secret")));
    let creds = [
        ("M4_OAUTH2_CLIENT_ID", "m4-service"),
        ("M4_OAUTH2_CLIENT_SECRET", "wrong"),
    ];
    let (output, text) = doctor(&idp, &creds, &[]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_lines(
        &text,
        &[
            "✗ cannot obtain a token from the client credentials now (token_client_rejected): the provider refused the client: invalid_client: \"bad secret\"",
            "fix: check M4_OAUTH2_CLIENT_ID and M4_OAUTH2_CLIENT_SECRET",
        ],
    );
}
