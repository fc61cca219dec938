//! Every error message, snapshotted; the `match` has no wildcard arm, so a new variant
//! cannot be forgotten here.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{EndpointKind, Error};

fn label(error: &Error) -> &'static str {
    match error {
        Error::NotConfigured { .. } => "NotConfigured",
        Error::NoCredentials { .. } => "NoCredentials",
        Error::Discovery(_) => "Discovery",
        Error::EndpointMissing { .. } => "EndpointMissing",
        Error::Unreachable { .. } => "Unreachable",
        Error::ProviderStatus { .. } => "ProviderStatus",
        Error::BadResponse { .. } => "BadResponse",
        Error::ClientRejected { .. } => "ClientRejected",
        Error::Refused { .. } => "Refused",
        Error::LoginExpired { .. } => "LoginExpired",
        Error::LoginDenied => "LoginDenied",
        Error::LoginExpiredBeforeApproval { .. } => "LoginExpiredBeforeApproval",
        Error::NoRefreshToken => "NoRefreshToken",
        Error::NotLoggedIn { .. } => "NotLoggedIn",
        Error::CredentialsFileInsecure { .. } => "CredentialsFileInsecure",
        Error::CredentialsFileIo { .. } => "CredentialsFileIo",
        Error::CredentialsFileCorrupt { .. } => "CredentialsFileCorrupt",
        Error::LoginMismatch { .. } => "LoginMismatch",
        Error::NoCredentialsDirectory { .. } => "NoCredentialsDirectory",
    }
}

fn every_error() -> Vec<Error> {
    let path = || PathBuf::from("/home/me/.config/m4-auth/credentials.json");
    let token_url = || "https://idp.example.com/oauth/token".to_owned();
    vec![
        Error::NotConfigured {
            var: "M4_OAUTH2_CLIENT_ID",
            fix: "register a client at the provider and set its id",
        },
        Error::NoCredentials { path: path() },
        Error::Discovery(m4_jwks::Error::HttpStatus {
            url: "https://idp.example.com/.well-known/openid-configuration".into(),
            status: 503,
        }),
        Error::EndpointMissing {
            document: "https://idp.example.com/.well-known/openid-configuration".into(),
            member: "device_authorization_endpoint",
            operation: "`m4-auth login` (device authorization)",
            fix: "enable the device authorization grant for the client at the provider",
        },
        Error::Unreachable {
            endpoint: EndpointKind::Token,
            url: token_url(),
            detail: "timed out after 10 s (connect and read together; raise \
                     M4_OAUTH2_HTTP_TIMEOUT if the provider is slow)"
                .into(),
        },
        Error::ProviderStatus {
            endpoint: EndpointKind::Revocation,
            url: "https://idp.example.com/oauth/revoke".into(),
            status: 500,
        },
        Error::BadResponse {
            endpoint: EndpointKind::DeviceAuthorization,
            url: "https://idp.example.com/oauth/device/code".into(),
            detail: "HTTP 200 with a body that is not a JSON object (12 bytes)".into(),
        },
        Error::ClientRejected {
            error: "invalid_client".into(),
            description: Some("Client authentication failed".into()),
        },
        Error::Refused {
            endpoint: EndpointKind::Token,
            error: "invalid_scope".into(),
            description: None,
            fix: "check M4_OAUTH2_REQUIRED_SCOPES against the scopes the provider grants",
        },
        Error::LoginExpired {
            error: "invalid_grant".into(),
            description: Some("Unknown or invalid refresh token.".into()),
        },
        Error::LoginDenied,
        Error::LoginExpiredBeforeApproval {
            lifetime: Duration::from_secs(900),
        },
        Error::NoRefreshToken,
        Error::NotLoggedIn { path: path() },
        Error::CredentialsFileInsecure {
            path: path(),
            mode: 0o644,
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "write",
            detail: "Permission denied (os error 13)".into(),
        },
        Error::CredentialsFileCorrupt {
            path: path(),
            detail: "it is not JSON".into(),
        },
        Error::LoginMismatch {
            path: path(),
            stored_issuer: "https://old.example.com/".into(),
            stored_client: "m4-cli".into(),
            issuer: "https://idp.example.com/".into(),
            client: "m4-cli".into(),
        },
        Error::NoCredentialsDirectory {
            detail: "neither $XDG_CONFIG_HOME nor $HOME is set",
        },
    ]
}

#[test]
fn every_message() {
    let all = every_error();
    let mut labels: Vec<_> = all.iter().map(label).collect();
    labels.dedup();
    assert_eq!(labels.len(), 19, "one example per variant");
    let mut text = String::new();
    for error in &all {
        let message = error.to_string();
        assert!(
            !message.ends_with('.') && !message.contains('\n'),
            "{message}"
        );
        text.push_str(&format!(
            "{} [{}]\n  {message}\n",
            label(error),
            error.code()
        ));
    }
    insta::assert_snapshot!(text);
}
