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
        InvalidSettings::CredentialsFile("neither $XDG_CONFIG_HOME nor $HOME is set".into()),
    ]
    .iter()
    .map(|e| {
        let name = match e {
            InvalidSettings::Config(_) => "Config",
            InvalidSettings::EmptyToken => "EmptyToken",
            InvalidSettings::CredentialsFile(_) => "CredentialsFile",
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

#[test]
fn login_and_logout_texts() {
    use std::path::Path;
    use std::time::Duration;

    use crate::credentials_cmd::{
        OTHER_TOKEN_FIX, logged_in, login_prompt, logout_message, token_fix,
    };

    let path = Path::new("/home/me/.config/m4-auth/credentials.json");
    let device = m4_auth_token::testing_device_authorization(
        "WDJB-MJHT",
        "https://idp.example.com/activate",
        Some("https://idp.example.com/activate?user_code=WDJB-MJHT"),
        Duration::from_secs(900),
    );
    let mut text = login_prompt(&device);
    text.push_str(&logged_in(path));
    text.push('\n');
    for (removed, revoked, note) in [
        (true, true, None),
        (
            true,
            false,
            Some("not revoked: the provider advertises no revocation endpoint"),
        ),
        (false, false, None),
    ] {
        let outcome = m4_auth_token::LogoutOutcome::new(removed, revoked, note.map(str::to_owned));
        text.push_str(&logout_message(&outcome, path));
        text.push('\n');
    }
    for code_error in [
        m4_auth_token::Error::LoginDenied,
        m4_auth_token::Error::NoRefreshToken,
        m4_auth_token::Error::NotLoggedIn {
            path: path.to_path_buf(),
        },
        m4_auth_token::Error::CredentialsFileUnsafe {
            path: path.to_path_buf(),
            problem: m4_auth_token::FileProblem::DirectoryWritable {
                dir: path.parent().unwrap().to_path_buf(),
                mode: 0o775,
            },
        },
        m4_auth_token::Error::Redirected {
            endpoint: m4_auth_token::EndpointKind::Token,
            url: "http://idp.example.com/oauth/token".into(),
            status: 301,
            location: Some("https://idp.example.com/oauth/token".into()),
        },
    ] {
        let fix = token_fix(&code_error);
        if code_error.code() != "login_no_refresh_token" {
            assert_ne!(fix, OTHER_TOKEN_FIX, "{}", code_error.code());
        }
        text.push_str(&format!("{}: {fix}\n", code_error.code()));
    }
    insta::assert_snapshot!(text);
}
