//! Snapshots of the command's own user-facing texts: its error messages and the fix shown
//! for every rejection code.

use m4_auth_config::AuthConfig;

use crate::config_claude::InvalidSettings;
use crate::verify::{InvalidConfig, fix_for};

#[test]
fn command_error_messages() {
    let problems = || {
        AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "http://idp.example.com/"),
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
        ])
        .unwrap_err()
    };
    // Every variant, through a match without a wildcard: a new one fails to compile here.
    let settings: String = [
        InvalidSettings::Config(problems()),
        InvalidSettings::EmptyToken,
    ]
    .iter()
    .map(|e| {
        let name = match e {
            InvalidSettings::Config(_) => "Config",
            InvalidSettings::EmptyToken => "EmptyToken",
        };
        format!("InvalidSettings::{name}: {e}\n\n")
    })
    .collect();
    let text = format!("{settings}InvalidConfig: {}\n", InvalidConfig(problems()));
    insta::assert_snapshot!(text);
}

#[test]
fn fixes_for_every_rejection_code() {
    let text: String = m4_auth::CODES
        .iter()
        .map(|code| format!("{code}: {}\n", fix_for(code)))
        .collect();
    insta::assert_snapshot!(text);
}
