//! The token client against the project's dev issuer (a real OAuth server on loopback with a
//! token endpoint, device authorization, rotating refresh tokens and revocation).
#![cfg(test)]

use std::time::Duration;

use base64::Engine as _;
use m4_auth_config::{AudienceParameter, Secret};
use m4_auth_token::{
    CredentialsFile, Error, TokenClient, TokenOptions, TokenSource, finish_login, logout,
};
use m4_dev_issuer::{
    ClientAuthMethod, DEFAULT_CLIENT_SECRET, DEFAULT_CONFIDENTIAL_CLIENT_ID,
    DEFAULT_PUBLIC_CLIENT_ID, DevIssuer, DevIssuerOptions,
};
use serde_json::Value;

fn issuer(auth_methods: Vec<ClientAuthMethod>) -> DevIssuer {
    DevIssuer::start(DevIssuerOptions {
        auth_methods,
        device_interval: Duration::ZERO,
        ..DevIssuerOptions::default()
    })
    .unwrap()
}

fn options(issuer: &DevIssuer, dir: &tempfile::TempDir) -> TokenOptions {
    TokenOptions::new(issuer.issuer_url(), dir.path().join("credentials.json"))
        .audience("https://m4.example.org/mcp")
        .scopes(["read:mimic-data"])
        .http_timeout(Duration::from_secs(5))
}

/// The claims of a JWT, unverified (the verifier's job is tested elsewhere; here only which
/// audience the provider put in).
fn claims(token: &Secret) -> Value {
    let payload = token.expose_secret().split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn client_credentials_with_basic_and_with_post() {
    for (methods, name) in [
        (vec![ClientAuthMethod::ClientSecretBasic], "basic"),
        (vec![ClientAuthMethod::ClientSecretPost], "post"),
    ] {
        let issuer = issuer(methods);
        let dir = tempfile::tempdir().unwrap();
        let client = TokenClient::new(
            options(&issuer, &dir)
                .client_id(DEFAULT_CONFIDENTIAL_CLIENT_ID)
                .client_secret(Secret::new(DEFAULT_CLIENT_SECRET)),
        );
        let answer = client.client_credentials().unwrap();
        let claims = claims(&answer.access_token);
        assert_eq!(claims["aud"], "https://m4.example.org/mcp", "{name}");
        assert_eq!(claims["sub"], DEFAULT_CONFIDENTIAL_CLIENT_ID, "{name}");
        assert_eq!(issuer.grants_served("client_credentials"), 1, "{name}");
    }
}

#[test]
fn the_resource_parameter_sets_the_audience_too() {
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let client = TokenClient::new(
        options(&issuer, &dir)
            .audience_parameter(AudienceParameter::Resource)
            .client_id(DEFAULT_CONFIDENTIAL_CLIENT_ID)
            .client_secret(Secret::new(DEFAULT_CLIENT_SECRET)),
    );
    let answer = client.client_credentials().unwrap();
    assert_eq!(
        claims(&answer.access_token)["aud"],
        "https://m4.example.org/mcp"
    );
}

#[test]
fn a_wrong_secret_is_a_rejected_client() {
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let client = TokenClient::new(
        options(&issuer, &dir)
            .client_id(DEFAULT_CONFIDENTIAL_CLIENT_ID)
            .client_secret(Secret::new("wrong")),
    );
    let err = client.client_credentials().unwrap_err();
    assert_eq!(err.code(), "token_client_rejected", "{err}");
}

/// Logs in with the public client, approving (or denying) from the "sleep" between polls.
fn login(issuer: &DevIssuer, dir: &tempfile::TempDir, approve: bool) -> Result<(), Error> {
    let client = TokenClient::new(options(issuer, dir).client_id(DEFAULT_PUBLIC_CLIENT_ID));
    let device = client.start_device_login()?;
    let mut decided = false;
    finish_login(&client, &device, |_| {
        if !decided {
            decided = true;
            if approve {
                issuer.approve_device(&device.user_code).unwrap();
            } else {
                issuer.deny_device(&device.user_code).unwrap();
            }
        }
    })
    .map(|_| ())
}

#[test]
fn login_refresh_rotation_and_logout_against_the_dev_issuer() {
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    login(&issuer, &dir, true).unwrap();
    let file = CredentialsFile::new(dir.path().join("credentials.json"));
    let first = file.load().unwrap().unwrap();

    let source = TokenSource::detect(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID))
        .unwrap()
        .unwrap();
    let token = source.access_token().unwrap();
    assert_eq!(claims(&token)["aud"], "https://m4.example.org/mcp");
    let rotated = file.load().unwrap().unwrap();
    assert_ne!(
        rotated.refresh_token, first.refresh_token,
        "the dev issuer rotates, and the new refresh token is saved at once"
    );

    // Logout revokes at the provider: the stored refresh token no longer works.
    let outcome = logout(&TokenClient::new(
        options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID),
    ))
    .unwrap();
    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    file.save(&rotated).unwrap();
    let fresh = TokenSource::detect(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID))
        .unwrap()
        .unwrap();
    let err = fresh.access_token().unwrap_err();
    assert_eq!(err.code(), "login_expired", "{err}");
    assert!(
        err.to_string().contains("run `m4-auth login` again"),
        "{err}"
    );
}

#[test]
fn two_processes_refreshing_one_stored_login_at_once_both_keep_it() {
    // Each TokenSource stands for a process (M4 and `m4-auth token`, or two servers) sharing
    // the credentials file. Without the file lock both sent the same refresh token and the
    // dev issuer, like Auth0 and Okta, revoked the whole login on the reuse.
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    login(&issuer, &dir, true).unwrap();
    for round in 0..8 {
        let barrier = std::sync::Barrier::new(2);
        let results: Vec<Result<Secret, Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let source = TokenSource::detect(
                        options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID),
                    )
                    .unwrap()
                    .unwrap();
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        source.access_token()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for result in results {
            assert!(result.is_ok(), "round {round}: {:?}", result.err());
        }
    }
    assert!(
        CredentialsFile::new(dir.path().join("credentials.json"))
            .load()
            .unwrap()
            .is_some()
    );
}

#[cfg(unix)]
#[test]
fn logout_of_a_too_open_file_removes_it_and_says_to_revoke_at_the_provider() {
    use std::os::unix::fs::PermissionsExt as _;
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    login(&issuer, &dir, true).unwrap();
    let path = dir.path().join("credentials.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let outcome = logout(&TokenClient::new(
        options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID),
    ))
    .unwrap();
    assert!(outcome.removed && !outcome.revoked, "{outcome:?}");
    let note = outcome.revocation_note.unwrap_or_default();
    assert!(note.contains("revoke it at the provider"), "{note}");
    assert!(note.contains("mode 644"), "the reason: {note}");
    // Not the load error's fix: the file it would `chmod` is gone.
    assert!(!note.contains("chmod"), "{note}");
    assert!(!path.exists());
}

/// A login of this program's that is damaged or of another format version is refused with
/// the advice to run `m4-auth login` alone, and that advice works: the device login starts,
/// and its save replaces the damaged file (no logout needed first).
#[cfg(unix)]
#[test]
fn a_damaged_login_is_replaced_by_login_alone_as_its_message_says() {
    use std::os::unix::fs::PermissionsExt as _;
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let file = CredentialsFile::new(&path);
    for damaged in [
        r#"{"version": 2, "issuer": "https://idp.example.com/"}"#,
        r#"{"version": 1, "issuer": "https://idp.example.com/", "client_id": "m4-dev-cli"}"#,
    ] {
        std::fs::write(&path, damaged).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = file.load().unwrap_err();
        assert!(matches!(err, Error::CredentialsFileCorrupt { .. }), "{err}");
        let message = err.to_string();
        assert!(
            message.ends_with("run `m4-auth login` (it replaces the damaged file)"),
            "{message}"
        );
        assert!(!message.contains("logout"), "{message}");
        login(&issuer, &dir, true).unwrap();
        let stored = file.load().unwrap().unwrap();
        assert_eq!(stored.issuer, issuer.issuer_url(), "{damaged}");
    }
}

#[test]
fn a_denied_login_stores_nothing() {
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let err = login(&issuer, &dir, false).unwrap_err();
    assert!(matches!(err, Error::LoginDenied), "{err}");
    assert!(!dir.path().join("credentials.json").exists());
}

/// A rotated refresh token that cannot be saved (here a directory sits where `save` writes its
/// temporary file, which fails for root too; in production a read-only directory) is used from
/// memory: the next refresh sends it, not the rotated-away one the file still holds, which the
/// dev issuer (like Auth0 and Okta) answers by revoking the whole login. Once saving works
/// again, the token in use is saved.
#[test]
fn a_rotated_token_that_cannot_be_saved_is_used_from_memory_not_the_stale_stored_one() {
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    login(&issuer, &dir, true).unwrap();
    let file = CredentialsFile::new(dir.path().join("credentials.json"));
    let stored = file.load().unwrap().unwrap();
    let blocker = dir
        .path()
        .join(format!(".credentials.json.{}.tmp", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();

    let clock = m4_auth_token::ManualClock::new();
    let source = TokenSource::detect(
        options(&issuer, &dir)
            .client_id(DEFAULT_PUBLIC_CLIENT_ID)
            .clock(clock.clone()),
    )
    .unwrap()
    .unwrap();
    for round in 0..3 {
        if let Err(e) = source.access_token() {
            panic!("refresh {round}: {e}");
        }
        let warnings = source.renewal_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("could not be saved")
                && warnings[0].contains("credentials.json")
                && warnings[0].contains("run `m4-auth login`"),
            "{warnings:?}"
        );
        clock.advance(Duration::from_secs(24 * 3600));
    }
    assert_eq!(
        file.load().unwrap().unwrap().refresh_token,
        stored.refresh_token,
        "nothing could be saved"
    );

    std::fs::remove_dir(&blocker).unwrap();
    source.access_token().unwrap();
    assert_eq!(source.renewal_warnings(), Vec::<String>::new());
    let saved = file.load().unwrap().unwrap();
    assert_ne!(saved.refresh_token, stored.refresh_token, "saved at last");
    // What was saved is the live login: another process can use it.
    let other = TokenSource::detect(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID))
        .unwrap()
        .unwrap();
    other.access_token().unwrap();
}

/// Set in the copy of this test binary that [`run_as_nobody`] starts.
#[cfg(unix)]
const AS_NOBODY: &str = "M4_AUTH_TOKEN_TEST_AS_NOBODY";
/// The user and group that copy runs as (`nobody` on Debian and most Linux systems).
#[cfg(unix)]
const NOBODY: u32 = 65534;

/// Runs the test `name` of this binary again, alone, as uid and gid [`NOBODY`] (std's
/// `CommandExt::uid`/`gid`, which as root also drops the supplementary groups), and fails
/// unless it ran there and passed. For tests of what a user who may not write somewhere
/// sees: root may write anywhere, and CI runs as root.
#[cfg(unix)]
fn run_as_nobody(name: &str) {
    use std::os::unix::process::CommandExt as _;
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(AS_NOBODY, "1")
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .expect("running this test binary as uid 65534");
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && out.contains("test result: ok. 1 passed"),
        "{name} as uid {NOBODY}: {}\n{out}\n{err}",
        output.status
    );
}

/// For a test that must not run as root: as root, runs the test `name` again as uid
/// [`NOBODY`] ([`run_as_nobody`]) and returns `true` (the caller returns; the copy did the
/// work); in that copy, checks it is uid [`NOBODY`]; otherwise `false`.
#[cfg(unix)]
fn ran_as_nobody(name: &str) -> bool {
    if std::env::var_os(AS_NOBODY).is_some() {
        assert_eq!(
            m4_auth_testkit::effective_uid(),
            Some(NOBODY),
            "the copy runs as uid 65534"
        );
        return false;
    }
    if m4_auth_testkit::effective_uid() == Some(0) {
        run_as_nobody(name);
        return true;
    }
    false
}

/// A stored login in a directory this user may read but not write (mode 0500; in production
/// a read-only mount or a root-provisioned service account's file): the lock file cannot be
/// created, and the rotated token cannot be saved, yet the refresh works, again and again, from
/// the token kept in memory; the user is not locked out. Root may write to a 0500 directory,
/// so as root the test runs again as uid 65534 ([`run_as_nobody`]) and must pass there; it
/// never passes without running.
#[cfg(unix)]
#[test]
fn a_login_in_a_directory_this_user_cannot_write_is_refreshed_without_the_lock() {
    use std::os::unix::fs::PermissionsExt as _;
    if ran_as_nobody("a_login_in_a_directory_this_user_cannot_write_is_refreshed_without_the_lock")
    {
        return;
    }
    // (Without /proc the user is unknown: the test runs as it is, and fails as root.)
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let logins = dir.path().join("provisioned");
    std::fs::create_dir(&logins).unwrap();
    let path = logins.join("credentials.json");
    let options = || {
        TokenOptions::new(issuer.issuer_url(), &path)
            .audience("https://m4.example.org/mcp")
            .http_timeout(Duration::from_secs(5))
            .client_id(DEFAULT_PUBLIC_CLIENT_ID)
    };
    let client = TokenClient::new(options());
    let device = client.start_device_login().unwrap();
    finish_login(&client, &device, |_| {
        let _ = issuer.approve_device(&device.user_code);
    })
    .unwrap();
    let file = CredentialsFile::new(&path);
    let stored = file.load().unwrap().unwrap();
    // The login was saved under the lock, which left its lock file; a provisioned login
    // comes without one.
    std::fs::remove_file(logins.join(".credentials.json.lock")).unwrap();
    std::fs::set_permissions(&logins, std::fs::Permissions::from_mode(0o500)).unwrap();

    assert!(!file.lock().unwrap().is_held(), "no lock file can be made");
    let clock = m4_auth_token::ManualClock::new();
    let source = TokenSource::detect(options().clock(clock.clone()))
        .unwrap()
        .unwrap();
    let results: Vec<_> = (0..3)
        .map(|_| {
            let result = source.access_token().map(|_| source.renewal_warnings());
            clock.advance(Duration::from_secs(24 * 3600));
            result
        })
        .collect();
    std::fs::set_permissions(&logins, std::fs::Permissions::from_mode(0o700)).unwrap();
    for (round, result) in results.into_iter().enumerate() {
        match result {
            Err(e) => panic!("refresh {round}: {e}"),
            Ok(warnings) => assert!(
                warnings
                    .iter()
                    .any(|w| w.contains("without the cross-process lock"))
                    && warnings.iter().any(|w| w.contains("could not be saved")),
                "refresh {round}: {warnings:?}"
            ),
        }
    }
    assert_eq!(
        file.load().unwrap().unwrap(),
        stored,
        "the file is unchanged"
    );
    assert!(!logins.join(".credentials.json.lock").exists());
}

/// A lock file that is there but that this user may not open for writing (mode 0400), in a
/// directory this user may write: the refresh goes on without the lock, and the warning names
/// what is wrong, the lock file, with its fix; not the directory, which is fine. As root the
/// test runs again as uid 65534 ([`run_as_nobody`]).
#[cfg(unix)]
#[test]
fn a_lock_file_this_user_may_not_write_is_named_in_the_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    if ran_as_nobody("a_lock_file_this_user_may_not_write_is_named_in_the_warning") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = CredentialsFile::new(dir.path().join("credentials.json"));
    let lock = dir.path().join(".credentials.json.lock");
    std::fs::write(&lock, b"").unwrap();
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o400)).unwrap();

    let guard = file.lock().unwrap();
    assert!(!guard.is_held());
    let warning = guard.warning().unwrap();
    for part in [
        "without the cross-process lock",
        &lock.display().to_string(),
        "cannot be opened for writing",
        "make the lock file writable by this user",
    ] {
        assert!(warning.contains(part), "{part:?} not in: {warning}");
    }
    assert!(!warning.contains("its directory"), "{warning}");
}

/// Login and logout take the refresh lock too; when it cannot be taken (here a lock file this
/// user may not write), their warning names what is being done, not a refresh: "saving the new
/// login ..." for `finish_login`, "logging out of the stored login ..." for `logout`, while a
/// refresh still says "refreshing the stored login ...". Each goes on without the lock. As
/// root the test runs again as uid 65534 ([`run_as_nobody`]).
#[cfg(unix)]
#[test]
fn a_lock_warning_names_the_operation_that_wanted_the_lock() {
    use std::os::unix::fs::PermissionsExt as _;
    if ran_as_nobody("a_lock_warning_names_the_operation_that_wanted_the_lock") {
        return;
    }
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("credentials.json");
    let lock = dir.path().join(".credentials.json.lock");
    std::fs::write(&lock, b"").unwrap();
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o400)).unwrap();
    let client = || TokenClient::new(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID));
    let recorder = m4_auth_testkit::logs::Recorder::default();
    let warned = |what: &str| {
        let events = recorder.take();
        assert_eq!(events.len(), 1, "{what}: {events:?}");
        let text = &events[0].fields;
        let starts = format!(
            "message={what} {} without the cross-process lock",
            path.display()
        );
        assert!(text.contains(&starts), "{starts:?} not in: {text}");
        assert!(text.contains(&lock.display().to_string()), "{text}");
        assert!(text.contains("make the lock file writable"), "{text}");
        text.clone()
    };

    tracing::subscriber::with_default(recorder.clone(), || login(&issuer, &dir, true)).unwrap();
    let text = warned("saving the new login in");
    assert!(text.contains("the previous login"), "{text}");

    let source = TokenSource::detect(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID))
        .unwrap()
        .unwrap();
    tracing::subscriber::with_default(recorder.clone(), || source.access_token()).unwrap();
    warned("refreshing the stored login in");

    let outcome =
        tracing::subscriber::with_default(recorder.clone(), || logout(&client())).unwrap();
    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    let text = warned("logging out of the stored login in");
    assert!(text.contains("after logout removed"), "{text}");
}

/// The lock warnings of a login and a logout reach the caller, not only `tracing` (which the
/// `m4-auth` CLI does not print): the login `finish_login` returns and the outcome of
/// `logout` carry the warning (here a lock file this user may not write), and have none when
/// the lock is held. As root the test runs again as uid 65534 ([`run_as_nobody`]).
#[cfg(unix)]
#[test]
fn login_and_logout_return_their_lock_warning() {
    use std::os::unix::fs::PermissionsExt as _;
    if ran_as_nobody("login_and_logout_return_their_lock_warning") {
        return;
    }
    let issuer = issuer(ClientAuthMethod::ALL.to_vec());
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(".credentials.json.lock");
    let client = || TokenClient::new(options(&issuer, &dir).client_id(DEFAULT_PUBLIC_CLIENT_ID));
    let log_in = || {
        let client = client();
        let device = client.start_device_login().unwrap();
        finish_login(&client, &device, |_| {
            let _ = issuer.approve_device(&device.user_code);
        })
        .unwrap()
    };

    // The lock is held: nothing to say.
    let login = log_in();
    assert_eq!(login.warnings, Vec::<String>::new());
    let outcome = logout(&client()).unwrap();
    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    assert_eq!(outcome.warnings, Vec::<String>::new());

    // A lock file this user may not write: each goes on without the lock, and says so.
    std::fs::set_permissions(&lock, std::fs::Permissions::from_mode(0o400)).unwrap();
    let login = log_in();
    let [warning] = login.warnings.as_slice() else {
        panic!("one warning: {:?}", login.warnings);
    };
    assert!(
        warning.starts_with("saving the new login in")
            && warning.contains(&lock.display().to_string()),
        "{warning}"
    );
    assert!(
        !warning.contains(login.refresh_token.expose_secret()),
        "the refresh token is never in a warning"
    );
    let stored = CredentialsFile::new(dir.path().join("credentials.json"))
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.refresh_token, login.refresh_token,
        "saved all the same"
    );

    let outcome = logout(&client()).unwrap();
    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    let [warning] = outcome.warnings.as_slice() else {
        panic!("one warning: {outcome:?}");
    };
    assert!(
        warning.starts_with("logging out of the stored login in")
            && warning.contains(&lock.display().to_string()),
        "{warning}"
    );
}
