//! Acceptance: what an operator sees from `m4-auth verify` for their configuration: every
//! problem listed with exit 2 and nothing on standard output, warnings for typos and disabled
//! checks, OAuth2 off by default (everyone anonymous, as the seed says), and the settings that
//! change verdicts (scopes, algorithms, leeway, validation toggles) honoured end to end.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use e2e_support::tokens::{Sig, claims, jws, merged, now, sign, with_signature_of};
use e2e_support::{Expect, Idp, Session, check, env_for, json_body, run, standard_idp};
use jsonwebtoken::Algorithm;
use m4_auth_testkit::keys;
use serde_json::{Value, json};

use Expect::{Code, Message, Ok};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Runs `verify` both ways (one token, and the stream) with `env`; both must exit 2 with
/// nothing on standard output and every `expected` line on standard error.
#[track_caller]
fn refused(env: &[(String, String)], expected: &[&str]) -> String {
    let mut last = String::new();
    for args in [
        &[
            "verify",
            "--token",
            "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
            "--json",
        ][..],
        &["verify", "--stdin", "--json"][..],
    ] {
        let out = run(args, env);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}: nothing on stdout");
        assert!(
            out.stderr
                .starts_with("m4-auth: error: the M4_OAUTH2_* settings are invalid:\n"),
            "{}",
            out.stderr
        );
        for line in expected {
            assert!(
                out.stderr.lines().any(|l| l.contains(line)),
                "{args:?}: missing {line:?} in:\n{}",
                out.stderr
            );
        }
        last = out.stderr;
    }
    last
}

#[test]
fn configuration_errors_exit_2_listing_every_problem() {
    // The brief's example: a bad boolean, a unit on a number, a misspelt variable.
    let stderr = refused(
        &vars(&[
            ("M4_OAUTH2_ENABLED", "ture"),
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
            ("M4_OAUTH2_ISUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ]),
        &[
            "M4_OAUTH2_ENABLED=\"ture\" is not a boolean",
            "M4_OAUTH2_RATE_LIMIT_WINDOW=\"1h\" is not a whole number",
            "warning: \"M4_OAUTH2_ISUER_URL\" is not a variable m4-auth reads, so it is ignored (did you mean M4_OAUTH2_ISSUER_URL?)",
        ],
    );
    assert_eq!(
        stderr.lines().count(),
        4,
        "header, two problems, one warning:\n{stderr}"
    );

    // Enabled with the issuer misspelt: the real variable is missing, and the typo is named.
    refused(
        &vars(&[
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ]),
        &[
            "M4_OAUTH2_ISSUER_URL is required when M4_OAUTH2_ENABLED is true",
            "(did you mean M4_OAUTH2_ISSUER_URL?)",
        ],
    );

    // Many problems at once: every one is listed, in one run.
    let bad = [
        ("M4_OAUTH2_ENABLED", "true", "M4_OAUTH2_ISSUER_URL="),
        (
            "M4_OAUTH2_ISSUER_URL",
            "http://idp.example.com/",
            "M4_OAUTH2_ISSUER_URL=",
        ),
        ("M4_OAUTH2_JWKS_CACHE_TTL", "0", "M4_OAUTH2_JWKS_CACHE_TTL="),
        (
            "M4_OAUTH2_RATE_LIMIT_REQUESTS",
            "-5",
            "M4_OAUTH2_RATE_LIMIT_REQUESTS=",
        ),
        (
            "M4_OAUTH2_ALGORITHMS",
            "RS256,HS256",
            "M4_OAUTH2_ALGORITHMS",
        ),
        ("M4_OAUTH2_LEEWAY", "1m", "M4_OAUTH2_LEEWAY="),
        ("M4_OAUTH2_HTTP_TIMEOUT", "10s", "M4_OAUTH2_HTTP_TIMEOUT="),
        ("M4_OAUTH2_VALIDATE_AUD", "maybe", "M4_OAUTH2_VALIDATE_AUD="),
        (
            "M4_OAUTH2_RATE_LIMIT_BACKEND",
            "postgres",
            "M4_OAUTH2_RATE_LIMIT_BACKEND",
        ),
    ];
    let env: Vec<(String, String)> = bad
        .iter()
        .map(|(k, v, _)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let names: Vec<&str> = bad[1..].iter().map(|(_, _, line)| *line).collect();
    let mut expected = names.clone();
    expected.push("M4_OAUTH2_AUDIENCE is required when M4_OAUTH2_ENABLED is true");
    let stderr = refused(&env, &expected);
    assert_eq!(
        stderr.lines().count(),
        1 + expected.len(),
        "one line per problem:\n{stderr}"
    );
}

#[test]
fn oauth2_off_by_default_accepts_everyone_anonymously() {
    let iss = "https://idp.example.com/";
    let valid = sign("rsa-2048", &claims(iss, "alice"));
    let lines = [
        String::new(),
        "garbage".to_owned(),
        valid.clone(),
        format!("Bearer {valid}"),
        sign(
            "rsa-2048",
            &merged(&claims(iss, "alice"), json!({"exp": now() - 3600})),
        ),
    ];
    for env in [
        vars(&[]),
        vars(&[("M4_OAUTH2_ENABLED", "false")]),
        vars(&[("M4_OAUTH2_ENABLED", "off")]),
        vars(&[("M4_OAUTH2_ENABLED", "0")]),
        vars(&[
            ("M4_OAUTH2_ENABLED", "FALSE"),
            ("M4_OAUTH2_ISSUER_URL", iss),
        ]),
    ] {
        let mut session = Session::start(&env);
        for line in &lines {
            let answer = session.ask(line);
            assert_eq!(
                answer,
                json!({"ok": true, "sub": "anonymous", "scopes": []}),
                "{env:?}, {line:?}"
            );
        }
        let finished = session.finish();
        assert!(finished.status.success());
        assert!(
            finished.stderr.contains("OAuth2 is disabled"),
            "{env:?}: {}",
            finished.stderr
        );
        if env.iter().any(|(k, _)| k == "M4_OAUTH2_ISSUER_URL") {
            assert!(
                finished
                    .stderr
                    .contains("these settings have no effect: M4_OAUTH2_ISSUER_URL"),
                "{}",
                finished.stderr
            );
        }
    }
    // Enabling through a misspelt name would leave OAuth2 off and every tool open: refused
    // (exit 2), naming the misspelling, the right variable and the fix; an error, not a warning.
    for name in [
        "M4_OAUTH2_ENABLE",
        "M4_OAUTH2_ENABLES",
        "m4_oauth2_enabled",
        "M4_OAUTH_ENABLED",
        "M4_AUTH2_ENABLED",
    ] {
        let expected = format!(
            "\"{name}\" (set to \"true\") looks like a misspelling of M4_OAUTH2_ENABLED: OAuth2 stays OFF unless M4_OAUTH2_ENABLED is spelt exactly so"
        );
        let stderr = refused(
            &vars(&[
                (name, "true"),
                ("M4_OAUTH2_ISSUER_URL", iss),
                ("M4_OAUTH2_AUDIENCE", "m4-api"),
            ]),
            &[&expected, "rename it to M4_OAUTH2_ENABLED"],
        );
        assert!(
            !stderr.contains("is not a variable m4-auth reads"),
            "{stderr}"
        );
    }
    // Disabled does not excuse a malformed value.
    refused(
        &vars(&[
            ("M4_OAUTH2_ENABLED", "false"),
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
        ]),
        &["M4_OAUTH2_RATE_LIMIT_WINDOW=\"1h\" is not a whole number"],
    );
}

#[test]
fn enabled_spellings_all_enable() {
    let (_idp, iss, _jwks) = standard_idp();
    for spelling in ["true", "TRUE", "True", "1", "yes", "on"] {
        let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_ENABLED", spelling)]));
        check(&session.ask(""), Code("missing_token"), spelling);
        check(
            &session.ask(&sign("ec-p256", &claims(&iss, "alice"))),
            Ok("alice"),
            spelling,
        );
        assert!(session.finish().status.success());
    }
}

#[test]
fn verdict_settings_are_honoured_end_to_end() {
    // A provider that also publishes P-384 and Ed25519 keys.
    let idp = Idp::start();
    let iss = idp.discovery("", "/jwks.json");
    let members: Vec<Value> = ["rsa-2048", "ec-p256", "ec-p384", "ed25519"]
        .iter()
        .map(|n| keys::jwk(n))
        .collect();
    idp.serve("/jwks.json", json_body(&keys::jwks_of(&members)));
    let good = |sub: &str| claims(&iss, sub);
    let change = |sub: &str, changes: Value| merged(&claims(&iss, sub), changes);

    // Two required scopes.
    let mut session = Session::start(&env_for(
        &iss,
        &[("M4_OAUTH2_REQUIRED_SCOPES", "read:mimic-data,write:notes")],
    ));
    check(
        &session.ask(&sign("rsa-2048", &good("reader"))),
        Message("missing_scopes", "Missing required scopes: write:notes"),
        "one of two scopes",
    );
    let both = session.ask(&sign(
        "rsa-2048",
        &change(
            "writer",
            json!({"scope": "write:notes openid read:mimic-data"}),
        ),
    ));
    assert_eq!(
        both,
        json!({"ok": true, "sub": "writer", "scopes": ["openid", "read:mimic-data", "write:notes"]})
    );
    assert!(session.finish().status.success());

    // Only ES256 allowed: RS256 is refused before any key is looked at.
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_ALGORITHMS", "ES256")]));
    check(
        &session.ask(&sign("rsa-2048", &good("rsa"))),
        Code("unsupported_algorithm"),
        "RS256 with ES256 only",
    );
    check(
        &session.ask(&sign("ec-p256", &good("ec"))),
        Ok("ec"),
        "ES256",
    );
    assert!(session.finish().status.success());

    // A wider allowlist: ES384 and EdDSA verify; PS256 does not, because the RSA key's JWK
    // declares RS256.
    let mut session = Session::start(&env_for(
        &iss,
        &[("M4_OAUTH2_ALGORITHMS", "RS256,ES256,ES384,EdDSA,PS256")],
    ));
    check(
        &session.ask(&sign("ec-p384", &good("p384"))),
        Ok("p384"),
        "ES384",
    );
    check(
        &session.ask(&sign("ed25519", &good("ed"))),
        Ok("ed"),
        "EdDSA",
    );
    check(
        &session.ask(&jws(
            &json!({"alg": "PS256", "kid": "rsa-2048"}),
            &good("pss"),
            &Sig::Key("rsa-2048", Algorithm::PS256),
        )),
        Code("invalid_signature"),
        "PS256 under a key declared RS256",
    );
    assert!(session.finish().status.success());

    // No leeway: a token that expired a few seconds ago is refused.
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_LEEWAY", "0")]));
    check(
        &session.ask(&sign(
            "rsa-2048",
            &change("late", json!({"exp": now() - 5})),
        )),
        Message("token_expired", "Token has expired"),
        "leeway 0",
    );
    check(
        &session.ask(&sign(
            "rsa-2048",
            &change("early", json!({"nbf": now() + 30})),
        )),
        Code("token_not_yet_valid"),
        "leeway 0, nbf",
    );
    assert!(session.finish().status.success());
}

#[test]
fn validation_toggles_relax_only_their_own_check_and_warn() {
    let (_idp, iss, _jwks) = standard_idp();
    let expired = sign(
        "rsa-2048",
        &merged(&claims(&iss, "old"), json!({"exp": now() - 3600})),
    );
    let no_exp = sign(
        "rsa-2048",
        &merged(&claims(&iss, "forever"), json!({"exp": null})),
    );
    let other_aud = sign(
        "rsa-2048",
        &merged(&claims(&iss, "elsewhere"), json!({"aud": "other"})),
    );
    let other_iss = sign(
        "rsa-2048",
        &merged(
            &claims(&iss, "stranger"),
            json!({"iss": "https://other.example.com"}),
        ),
    );
    let forged = with_signature_of(&sign("rsa-2048", &claims(&iss, "x")), &other_aud);

    let cases = [
        (
            "M4_OAUTH2_VALIDATE_EXP",
            "expired tokens are accepted",
            [
                Ok("old"),
                Ok("forever"),
                Code("invalid_audience"),
                Code("invalid_issuer"),
            ],
        ),
        (
            "M4_OAUTH2_VALIDATE_AUD",
            "tokens issued for any audience are accepted",
            [
                Code("token_expired"),
                Code("invalid_claims"),
                Ok("elsewhere"),
                Code("invalid_issuer"),
            ],
        ),
        (
            "M4_OAUTH2_VALIDATE_ISS",
            "tokens from any issuer are accepted if a JWKS key verifies them",
            [
                Code("token_expired"),
                Code("invalid_claims"),
                Code("invalid_audience"),
                Ok("stranger"),
            ],
        ),
    ];
    for (var, consequence, expected) in cases {
        let mut session = Session::start(&env_for(&iss, &[(var, "false")]));
        for (token, want) in [&expired, &no_exp, &other_aud, &other_iss]
            .into_iter()
            .zip(expected)
        {
            check(&session.ask(token), want, var);
        }
        // The signature is still required whatever is relaxed.
        check(&session.ask(&forged), Code("invalid_signature"), var);
        let finished = session.finish();
        assert!(finished.status.success());
        assert!(
            finished.stderr.contains(&format!(
                "warning: {var}=false: {consequence}; use this only for debugging"
            )),
            "{var}: {}",
            finished.stderr
        );
    }
}
