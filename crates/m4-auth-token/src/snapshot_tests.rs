//! Every error message, snapshotted; `label` is a `match` with no wildcard arm, so a new
//! variant cannot be forgotten here.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::{EndpointKind, Error, FileProblem};

fn label(error: &Error) -> &'static str {
    m4_auth_testkit::variant_name!(error, Error {
        NotConfigured { .. },
        NoCredentials { .. },
        Discovery(_),
        EndpointMissing { .. },
        Unreachable { .. },
        ProviderStatus { .. },
        Redirected { .. },
        BadResponse { .. },
        ClientRejected { .. },
        Refused { .. },
        LoginExpired { .. },
        LoginDenied,
        LoginExpiredBeforeApproval { .. },
        NoRefreshToken,
        NotLoggedIn { .. },
        CredentialsFileInsecure { .. },
        CredentialsFileUnsafe { .. },
        CredentialsFileIo { .. },
        CredentialsFileCorrupt { .. },
        LoginMismatch { .. },
        NoCredentialsDirectory { .. },
    })
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
        Error::Redirected {
            endpoint: EndpointKind::Token,
            url: token_url(),
            status: 301,
            location: Some("https://idp.example.com/oauth2/token".into()),
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
        Error::CredentialsFileUnsafe {
            path: path(),
            problem: FileProblem::Symlink {
                target: "/home/me/dotfiles/credentials.json".into(),
            },
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

/// The label and code, then the message indented on one line of its own.
fn line(error: &Error, label: &str, message: &str) -> String {
    assert!(!message.contains('\n'), "{message}");
    format!("{label} [{}]\n  {message}\n", error.code())
}

#[test]
fn every_message() {
    let text = m4_auth_testkit::messages::lines_with(&every_error(), label, 21, line);
    insta::assert_snapshot!(text);
}

fn file_problem_label(problem: &FileProblem) -> &'static str {
    m4_auth_testkit::variant_name!(problem, FileProblem {
        Symlink { .. },
        NotRegular { .. },
        TooLarge { .. },
        NotOwned { .. },
        DirectoryWritable { .. },
        DirectoryNotOwned { .. },
        Replaced,
    })
}

/// Every reason a credentials file is refused, inside the message the user sees.
#[test]
fn every_file_problem() {
    let dir = || PathBuf::from("/home/me/.config/m4-auth");
    let problems = [
        FileProblem::Symlink {
            target: "/home/me/dotfiles/credentials.json".into(),
        },
        FileProblem::NotRegular {
            kind: "a directory",
        },
        FileProblem::TooLarge {
            size: 1_048_576,
            limit: crate::MAX_FILE_BYTES,
        },
        FileProblem::NotOwned {
            owner: 1001,
            uid: 1000,
        },
        FileProblem::DirectoryWritable {
            dir: dir(),
            mode: 0o775,
        },
        FileProblem::DirectoryNotOwned {
            dir: dir(),
            owner: 1001,
            uid: 1000,
        },
        FileProblem::Replaced,
    ];
    let errors: Vec<Error> = problems
        .into_iter()
        .map(|problem| Error::CredentialsFileUnsafe {
            path: dir().join("credentials.json"),
            problem,
        })
        .collect();
    let name = |e: &Error| match e {
        Error::CredentialsFileUnsafe { problem, .. } => file_problem_label(problem),
        _ => unreachable!(),
    };
    let text = m4_auth_testkit::messages::lines_with(&errors, name, 7, line);
    insta::assert_snapshot!(text);
}
