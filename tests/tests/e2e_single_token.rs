//! Acceptance: single-token mode, `m4-auth verify --token T` or `M4_OAUTH2_TOKEN`: exit 0
//! accepted, 1 rejected, 2 configuration or usage error, and the `--json` answer's exact shape.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use e2e_support::tokens::{claims, merged, now, sign, with_signature_of};
use e2e_support::{Run, contract_shape, env_for, run, standard_idp};
use m4_auth_testkit::idp::closed_port_url;
use serde_json::json;

/// The one answer line of a `--json` run, shape-checked.
#[track_caller]
fn answer(out: &Run) -> serde_json::Value {
    assert!(out.stdout.ends_with('\n'), "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {out:?}");
    contract_shape(lines[0])
}

fn with(env: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = env.iter().filter(|(k, _)| k != name).cloned().collect();
    env.push((name.to_owned(), value.to_owned()));
    env
}

#[test]
fn exit_codes_and_json_for_one_token() {
    let (_idp, iss, _jwks) = standard_idp();
    let env = env_for(&iss, &[]);
    let good = sign("rsa-2048", &claims(&iss, "alice"));
    let expired = sign(
        "rsa-2048",
        &merged(&claims(&iss, "alice"), json!({"exp": now() - 3600})),
    );
    let forged = with_signature_of(&sign("rsa-2048", &claims(&iss, "admin")), &good);

    // --token, accepted: exit 0 and exactly the contract's line.
    let out = run(&["verify", "--token", &good, "--json"], &env);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "{\"ok\":true,\"sub\":\"alice\",\"scopes\":[\"read:mimic-data\"]}\n"
    );
    // With a Bearer prefix in any case.
    for value in [format!("Bearer {good}"), format!("bearer   {good}")] {
        let out = run(&["verify", "--token", &value, "--json"], &env);
        assert_eq!(out.code, Some(0), "{out:?}");
        assert_eq!(answer(&out)["sub"], "alice");
    }

    // Rejected: exit 1 and the contract's line.
    let out = run(&["verify", "--token", &expired, "--json"], &env);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stdout,
        "{\"ok\":false,\"code\":\"token_expired\",\"message\":\"Token has expired\"}\n"
    );
    let out = run(&["verify", "--token", &forged, "--json"], &env);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        answer(&out),
        json!({"ok": false, "code": "invalid_signature", "message": "Invalid token signature"})
    );
    let out = run(&["verify", "--token", "not-a-jwt", "--json"], &env);
    assert_eq!(out.code, Some(1));
    assert_eq!(answer(&out)["code"], "malformed_token");

    // M4_OAUTH2_TOKEN when --token is absent, "Bearer " optional, a trailing newline ignored.
    for value in [good.clone(), format!("Bearer {good}"), format!("{good}\n")] {
        let out = run(
            &["verify", "--json"],
            &with(&env, "M4_OAUTH2_TOKEN", &value),
        );
        assert_eq!(out.code, Some(0), "{value:?}: {out:?}");
        assert_eq!(answer(&out)["sub"], "alice");
    }
    let out = run(
        &["verify", "--json"],
        &with(&env, "M4_OAUTH2_TOKEN", &expired),
    );
    assert_eq!(out.code, Some(1));
    assert_eq!(answer(&out)["code"], "token_expired");

    // Neither: missing_token, exit 1.
    let out = run(&["verify", "--json"], &env);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        answer(&out),
        json!({"ok": false, "code": "missing_token", "message": "Missing OAuth2 access token"})
    );
    let out = run(
        &["verify", "--json"],
        &with(&env, "M4_OAUTH2_TOKEN", "Bearer "),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(answer(&out)["code"], "missing_token");

    // --token wins over M4_OAUTH2_TOKEN, both ways.
    let out = run(
        &["verify", "--token", &good, "--json"],
        &with(&env, "M4_OAUTH2_TOKEN", &expired),
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = run(
        &["verify", "--token", &forged, "--json"],
        &with(&env, "M4_OAUTH2_TOKEN", &good),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(answer(&out)["code"], "invalid_signature");

    // Without --json: the same exit codes, one human line (plus a fix when rejected).
    let out = run(&["verify", "--token", &good], &env);
    assert_eq!(out.code, Some(0));
    assert_eq!(
        out.stdout,
        "✓ accepted: sub alice, scopes read:mimic-data\n"
    );
    let out = run(&["verify", "--token", &expired], &env);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stdout
            .starts_with("✗ rejected (token_expired): Token has expired\n  fix: "),
        "{out:?}"
    );
}

#[test]
fn keys_unavailable_is_a_rejection_and_settings_errors_exit_2() {
    let down = closed_port_url();
    let token = sign("rsa-2048", &claims(&down, "alice"));
    let out = run(
        &["verify", "--token", &token, "--json"],
        &env_for(&down, &[]),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(answer(&out)["code"], "jwks_unavailable");

    // Settings errors: exit 2 whichever way the token comes, nothing on stdout.
    let bad = env_for(&down, &[("M4_OAUTH2_LEEWAY", "lots")]);
    for (args, env) in [
        (
            vec!["verify", "--token", token.as_str(), "--json"],
            bad.clone(),
        ),
        (
            vec!["verify", "--json"],
            with(&bad, "M4_OAUTH2_TOKEN", &token),
        ),
        (vec!["verify", "--token", token.as_str()], bad.clone()),
    ] {
        let out = run(&args, &env);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stdout, "");
        assert!(out.stderr.contains("M4_OAUTH2_LEEWAY=\"lots\""), "{out:?}");
    }

    // Usage errors: exit 2, nothing on stdout.
    let env = env_for(&down, &[]);
    for args in [
        vec!["verify", "--stdin"],
        vec!["verify", "--stdin", "--json", "--token", token.as_str()],
        vec!["verify", "--tokn", token.as_str()],
        vec!["verify", "--token"],
    ] {
        let out = run(&args, &env);
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert_eq!(out.stdout, "", "{args:?}");
    }
}

#[test]
fn disabled_accepts_any_single_token_anonymously() {
    for args in [
        vec!["verify", "--token", "anything", "--json"],
        vec!["verify", "--json"],
    ] {
        let out = run(&args, &[]);
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        assert_eq!(
            answer(&out),
            json!({"ok": true, "sub": "anonymous", "scopes": []})
        );
        assert!(out.stderr.contains("OAuth2 is disabled"), "{out:?}");
    }
}
