//! Every error message, snapshotted: every variant, and within a variant every text the code
//! can choose (each fix of an OAuth error, each unset variable, each endpoint, with and without
//! the provider's description, ...). `label` is a `match` with no wildcard arm, so a new
//! variant cannot be forgotten here; the shapes the code builds in several ways are built here
//! by the same constructors, tables and constants, so a new branch there is a new line here.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{FIXES, OTHER_FIX, fix_for};
use crate::error::{EndpointKind, Error, FileProblem};
use crate::store::{
    KIND_DEVICE, KIND_DIRECTORY, KIND_FIFO, KIND_SOCKET, KIND_SPECIAL, LOCK_REPLACED, LockBlocked,
    LockPurpose, NO_APPDATA, NO_HOME, NO_VERSION, NO_XDG_CONFIG_HOME_OR_HOME, NOT_AN_OBJECT,
    NOT_JSON, OTHER_MEMBERS, lock_is_symlink, lock_not_regular, login_too_large,
};

/// How many variants [`Error`] has (checked against the labels the samples carry).
const VARIANTS: usize = 23;
/// How many variants [`FileProblem`] has.
const FILE_PROBLEMS: usize = 8;

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
        CredentialsFileNotALogin { .. },
        LoginMismatch { .. },
        NoCredentialsDirectory { .. },
        InvalidHttpTimeout { .. },
    })
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
        LockFile { .. },
    })
}

fn path() -> PathBuf {
    PathBuf::from("/home/me/.config/m4-auth/credentials.json")
}

fn token_url() -> String {
    "https://idp.example.com/oauth/token".to_owned()
}

const DOCUMENT: &str = "https://idp.example.com/.well-known/openid-configuration";

/// Every variant, each text a variant can carry.
fn every_error() -> Vec<Error> {
    let mut errors = vec![
        Error::issuer_not_configured(),
        Error::client_id_not_configured(),
        Error::client_secret_not_configured(),
        Error::NoCredentials { path: path() },
        Error::Discovery(m4_jwks::Error::HttpStatus {
            url: DOCUMENT.into(),
            status: 503,
        }),
        Error::device_endpoint_missing(DOCUMENT.into()),
        Error::token_endpoint_missing(DOCUMENT.into()),
        Error::Unreachable {
            endpoint: EndpointKind::Token,
            url: token_url(),
            detail: "timed out after 10 s (connect and read together; raise \
                     M4_OAUTH2_HTTP_TIMEOUT if the provider is slow)"
                .into(),
        },
    ];
    // Each endpoint's name, once.
    for (endpoint, url) in [
        (EndpointKind::Token, token_url()),
        (
            EndpointKind::DeviceAuthorization,
            "https://idp.example.com/oauth/device/code".to_owned(),
        ),
        (
            EndpointKind::Revocation,
            "https://idp.example.com/oauth/revoke".to_owned(),
        ),
    ] {
        errors.push(Error::ProviderStatus {
            endpoint,
            url,
            status: 500,
        });
    }
    // A redirect with and without a known target.
    for location in [
        Some("https://idp.example.com/oauth2/token".to_owned()),
        None,
    ] {
        errors.push(Error::Redirected {
            endpoint: EndpointKind::Token,
            url: token_url(),
            status: 301,
            location,
        });
    }
    errors.push(Error::BadResponse {
        endpoint: EndpointKind::DeviceAuthorization,
        url: "https://idp.example.com/oauth/device/code".into(),
        detail: "HTTP 200 with a body that is not a JSON object (12 bytes)".into(),
    });
    // The device answer checks (RFC 8628 §3.2), as start_device_login reports them.
    for (expires_in, interval) in [(0, Some(5)), (300, Some(600)), (3, None)] {
        let detail = crate::client::device_timing(
            Duration::from_secs(expires_in),
            interval.map(Duration::from_secs),
        )
        .unwrap_err();
        errors.push(Error::BadResponse {
            endpoint: EndpointKind::DeviceAuthorization,
            url: "https://idp.example.com/oauth/device/code".into(),
            detail,
        });
    }
    // With and without the provider's description.
    for description in [Some("Client authentication failed".to_owned()), None] {
        errors.push(Error::ClientRejected {
            error: "invalid_client".into(),
            description,
        });
    }
    // Every fix an OAuth error code gets, and the one for any other code.
    let codes = FIXES
        .iter()
        .map(|(code, _)| *code)
        .chain(["temporarily_unavailable"]);
    for (i, code) in codes.enumerate() {
        errors.push(Error::Refused {
            endpoint: EndpointKind::Token,
            error: code.into(),
            description: (i == 0).then(|| "Scope not allowed".to_owned()),
            fix: fix_for(code),
        });
    }
    for description in [Some("Unknown or invalid refresh token.".to_owned()), None] {
        errors.push(Error::LoginExpired {
            error: "invalid_grant".into(),
            description,
        });
    }
    errors.push(Error::LoginDenied);
    // Minutes from two minutes on, seconds below.
    for secs in [900, 119] {
        errors.push(Error::LoginExpiredBeforeApproval {
            lifetime: Duration::from_secs(secs),
        });
    }
    errors.extend([
        Error::NoRefreshToken,
        Error::NotLoggedIn { path: path() },
        Error::CredentialsFileInsecure {
            path: path(),
            mode: 0o644,
        },
        Error::CredentialsFileUnsafe {
            path: path(),
            problem: FileProblem::Replaced,
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "write",
            detail: "Permission denied (os error 13)".into(),
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "read",
            detail: "Permission denied (os error 13)".into(),
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "remove",
            detail: "Permission denied (os error 13)".into(),
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "lock",
            detail: "Read-only file system (os error 30)".into(),
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "check the directory of",
            detail: "Permission denied (os error 13)".into(),
        },
        Error::CredentialsFileIo {
            path: path(),
            action: "write",
            detail: login_too_large(70_000),
        },
        Error::CredentialsFileCorrupt {
            path: path(),
            detail: "it is format version 2, this program reads version 1".into(),
        },
        Error::CredentialsFileNotALogin {
            path: path(),
            detail: NOT_JSON,
        },
        Error::CredentialsFileNotALogin {
            path: path(),
            detail: NOT_AN_OBJECT,
        },
        Error::CredentialsFileNotALogin {
            path: path(),
            detail: NO_VERSION,
        },
        Error::CredentialsFileNotALogin {
            path: path(),
            detail: OTHER_MEMBERS,
        },
        Error::LoginMismatch {
            path: path(),
            stored_issuer: "https://old.example.com/".into(),
            stored_client: "m4-cli".into(),
            issuer: "https://idp.example.com/".into(),
            client: "m4-cli".into(),
        },
    ]);
    for detail in [NO_APPDATA, NO_HOME, NO_XDG_CONFIG_HOME_OR_HOME] {
        errors.push(Error::NoCredentialsDirectory { detail });
    }
    // Each unit the timeout given is shown in.
    for got in [
        Duration::ZERO,
        Duration::from_micros(999),
        Duration::from_millis(3_600_500),
    ] {
        errors.push(Error::InvalidHttpTimeout { got });
    }
    errors
}

/// `label [code]` then the message indented, for every sample, after checking that the labels
/// name `variants` distinct variants, that no message is there twice (a branch sampled twice
/// hides one sampled never), and that each is one line without a trailing period.
fn branches(errors: &[Error], name: impl Fn(&Error) -> &'static str, variants: usize) -> String {
    let names: BTreeSet<&str> = errors.iter().map(&name).collect();
    assert_eq!(names.len(), variants, "every variant sampled: {names:?}");
    let mut seen = BTreeSet::new();
    let mut text = String::new();
    for error in errors {
        let message = error.to_string();
        assert!(!message.contains('\n'), "{message}");
        assert!(!message.ends_with('.'), "trailing period: {message}");
        assert!(seen.insert(message.clone()), "sampled twice: {message}");
        text.push_str(&format!(
            "{} [{}]\n  {message}\n",
            name(error),
            error.code()
        ));
    }
    text
}

#[test]
fn every_message() {
    let text = branches(&every_error(), label, VARIANTS);
    insta::assert_snapshot!(text);
}

#[test]
fn the_fix_table_has_one_entry_per_code() {
    let codes: BTreeSet<&str> = FIXES.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes.len(), FIXES.len());
    assert!(FIXES.iter().all(|(_, fix)| *fix != OTHER_FIX));
    assert_eq!(fix_for("invalid_scope"), FIXES[0].1);
    assert_eq!(fix_for("no_such_code"), OTHER_FIX);
}

/// Every reason a credentials file is refused, inside the message the user sees.
#[test]
fn every_file_problem() {
    let dir = || PathBuf::from("/home/me/.config/m4-auth");
    let mut problems = vec![FileProblem::Symlink {
        target: "/home/me/dotfiles/credentials.json".into(),
    }];
    for kind in [
        KIND_DIRECTORY,
        KIND_SOCKET,
        KIND_FIFO,
        KIND_DEVICE,
        KIND_SPECIAL,
    ] {
        problems.push(FileProblem::NotRegular { kind });
    }
    problems.extend([
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
    ]);
    // Each thing the refresh lock file can be instead of a regular file.
    for what in [
        lock_is_symlink("/tmp/elsewhere"),
        lock_not_regular(KIND_DIRECTORY),
        LOCK_REPLACED.to_owned(),
    ] {
        problems.push(FileProblem::LockFile {
            lock: dir().join(".credentials.json.lock"),
            what,
        });
    }
    let errors: Vec<Error> = problems
        .into_iter()
        .map(|problem| Error::CredentialsFileUnsafe {
            path: dir().join("credentials.json"),
            problem,
        })
        .collect();
    let name = |e: &Error| match e {
        Error::CredentialsFileUnsafe { problem, .. } => file_problem_label(problem),
        other => label(other),
    };
    let text = branches(&errors, name, FILE_PROBLEMS);
    insta::assert_snapshot!(text);
}

/// Every warning logged (never an error: the operation goes on): a refresh, login or logout
/// without the cross-process lock, for each reason, and a rotated refresh token that could not
/// be saved.
#[test]
fn every_warning() {
    let dir = PathBuf::from("/etc/m4-auth");
    let unsaved = Error::CredentialsFileIo {
        path: dir.join("credentials.json"),
        action: "write",
        detail: "Permission denied (os error 13)".into(),
    };
    let unlocked = |detail, cause, purpose| {
        crate::store::lock_unavailable(
            &dir.join("credentials.json"),
            &dir.join(".credentials.json.lock"),
            detail,
            cause,
            purpose,
        )
    };
    let denied = "Permission denied (os error 13)";
    // Every purpose and cause, by matches without a wildcard arm: a new one cannot be
    // forgotten here.
    let purposes = [
        LockPurpose::Refresh,
        LockPurpose::Login,
        LockPurpose::Logout,
    ];
    let causes = [
        LockBlocked::Directory,
        LockBlocked::LockFile,
        LockBlocked::ReadOnly,
        LockBlocked::Failed,
    ];
    let mut warnings = Vec::new();
    for purpose in purposes {
        match purpose {
            LockPurpose::Refresh | LockPurpose::Login | LockPurpose::Logout => {}
        }
        for cause in causes {
            // A refresh stops on such a failure (`CredentialsFile::unheld`): no warning.
            if cause == LockBlocked::Failed && purpose == LockPurpose::Refresh {
                continue;
            }
            warnings.push(match cause {
                LockBlocked::Directory | LockBlocked::LockFile => unlocked(denied, cause, purpose),
                LockBlocked::ReadOnly => {
                    unlocked("Read-only file system (os error 30)", cause, purpose)
                }
                LockBlocked::Failed => unlocked("No locks available (os error 37)", cause, purpose),
            });
        }
    }
    warnings.push(crate::source::rotated_not_saved(&unsaved));
    let link = Error::CredentialsFileUnsafe {
        path: dir.join("credentials.json"),
        problem: crate::error::FileProblem::LockFile {
            lock: dir.join(".credentials.json.lock"),
            what: "it is a symbolic link (to \"/tmp/x\")".to_owned(),
        },
    };
    // A refresh stops there (`CredentialsFile::lock_or_warn` serves login and logout only).
    for purpose in [LockPurpose::Login, LockPurpose::Logout] {
        warnings.push(crate::store::went_on_past(purpose, &link));
    }
    let mut text = String::new();
    for warning in warnings {
        assert!(
            !warning.contains('\n') && !warning.ends_with('.'),
            "{warning}"
        );
        text.push_str(&format!("{warning}\n"));
    }
    insta::assert_snapshot!(text);
}

/// Every note `logout` gives for a file it removed without reading a login from it, one per
/// error [`removable`](crate::store::removable) accepts: none tells the user to run
/// `m4-auth logout` (they just did) or to `chmod` the removed file, and only the file others
/// could read says the login may have been exposed.
#[test]
fn every_logout_note_for_an_unread_file() {
    let dir = PathBuf::from("/home/me/.config/m4-auth");
    let path = || dir.join("credentials.json");
    let unsafe_file = |problem| Error::CredentialsFileUnsafe {
        path: path(),
        problem,
    };
    let errors = [
        Error::CredentialsFileInsecure {
            path: path(),
            mode: 0o644,
        },
        Error::CredentialsFileCorrupt {
            path: path(),
            detail: "it has no \"refresh_token\" string".into(),
        },
        Error::CredentialsFileCorrupt {
            path: path(),
            detail: "it is format version 2, this program reads version 1".into(),
        },
        unsafe_file(FileProblem::Symlink {
            target: "/home/me/shared/credentials.json".into(),
        }),
        unsafe_file(FileProblem::DirectoryWritable {
            dir: dir.clone(),
            mode: 0o777,
        }),
        unsafe_file(FileProblem::DirectoryNotOwned {
            dir: dir.clone(),
            owner: 1001,
            uid: 1000,
        }),
    ];
    let mut text = String::new();
    for error in &errors {
        assert!(crate::store::removable(error), "{error}");
        let Some(note) = crate::login::unread_note(error) else {
            panic!("no note for a file logout removes: {error}");
        };
        assert!(
            !note.contains("m4-auth logout") && !note.contains("chmod 600"),
            "{note}"
        );
        assert_eq!(
            note.contains("exposed"),
            matches!(error, Error::CredentialsFileInsecure { .. }),
            "{note}"
        );
        assert!(!note.contains('\n') && !note.ends_with('.'), "{note}");
        let name = match error {
            Error::CredentialsFileUnsafe { problem, .. } => file_problem_label(problem),
            other => label(other),
        };
        text.push_str(&format!("{name}\n  {note}\n"));
    }
    insta::assert_snapshot!(text);
}
