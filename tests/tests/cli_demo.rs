//! `m4-auth demo` end to end: the built binary's scripted tour exits 0 with every verdict
//! as expected, in both output forms.
#![cfg(test)]

mod cli_common;

use cli_common::{m4_auth, run, stderr, stdout};
use serde_json::Value;

#[test]
fn the_demo_table_shows_every_verdict_as_expected() {
    let home = tempfile::tempdir().unwrap();
    let output = run(m4_auth(home.path(), &["demo"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
    for line in [
        "M4_OAUTH2_ISSUER_URL=http://127.0.0.1:",
        "valid RS256 token",
        "✓ accepted: alice",
        "obtained with client credentials (token endpoint)",
        "✓ accepted: m4-dev-service",
        "✓ token_expired: Token has expired",
        "✓ invalid_audience: Token audience does not include \"m4-api\"",
        "✓ missing_scopes: Missing required scopes: read:mimic-data",
        "✓ invalid_signature: Invalid token signature",
        "✓ unknown_kid: No signing key with kid \"rogue-key\"",
        "✓ accepted: hank",
        "✓ rate_limited: Rate limit exceeded",
        "15/15 verdicts as expected.",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(!text.contains('✗'), "{text}");
}

#[test]
fn the_demo_json_lists_each_scene_with_its_verdicts() {
    let home = tempfile::tempdir().unwrap();
    let output = run(m4_auth(home.path(), &["demo", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["ok"], true);
    let scenes = report["scenes"].as_array().unwrap();
    assert_eq!(scenes.len(), 15);
    for scene in scenes {
        assert_eq!(scene["pass"], true, "{scene}");
        assert_eq!(scene["actual"]["ok"], scene["expected"]["ok"], "{scene}");
        assert!(scene["millis"].as_f64().unwrap() >= 0.0);
    }
    let codes: Vec<&str> = scenes
        .iter()
        .filter_map(|s| s["actual"]["code"].as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "missing_token",
            "token_expired",
            "invalid_audience",
            "missing_scopes",
            "invalid_signature",
            "unknown_kid",
            "unknown_kid",
            "rate_limited",
        ]
    );
    // Discovery once; the JWKS at start and once more for the rotated key (plus, on a very
    // slow machine, one more for the unknown kid if the 1 s cooldown had already passed).
    assert_eq!(report["discovery_requests"], 1);
    let jwks = report["jwks_requests"].as_u64().unwrap();
    assert!((2..=3).contains(&jwks), "{jwks} JWKS requests");
}
