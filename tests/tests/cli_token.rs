//! `m4-auth token` and `m4-auth logout` end to end: the built binary against a wiremock
//! provider on loopback. stdout holds exactly the token line; exit codes 0 / 1 / 2.
#![cfg(test)]

mod cli_common;

use std::path::{Path, PathBuf};

use cli_common::{m4_auth, run, stderr, stdout};
use m4_auth_testkit::idp::{Idp, Request, ResponseTemplate, oauth_error, token_answer};
use serde_json::json;

struct Provider {
    idp: Idp,
    home: tempfile::TempDir,
}

impl Provider {
    fn start() -> Provider {
        let idp = Idp::start();
        idp.oauth_discovery(json!({"device_authorization_endpoint": null}));
        Provider {
            idp,
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn on_post(&self, at: &str, contains: &str, answer: ResponseTemplate) {
        self.idp.serve_post_containing(at, contains, answer);
    }

    fn posts(&self, at: &str) -> Vec<Request> {
        self.idp.posts(at)
    }

    /// The default location under the throw-away HOME (XDG_CONFIG_HOME is cleared).
    fn credentials(&self) -> PathBuf {
        self.home.path().join(".config/m4-auth/credentials.json")
    }

    /// Writes a stored login as `m4-auth login` does (format version 1, mode 0600, in a
    /// directory of mode 0700: set explicitly, since m4-auth refuses a credentials directory
    /// group or others may write and the umask could make it 0775).
    fn store_login(&self, refresh_token: &str) {
        let file = self.credentials();
        let dir = file.parent().unwrap();
        std::fs::create_dir_all(dir).unwrap();
        set_mode(dir, 0o700);
        let body = json!({"version": 1, "issuer": self.idp.uri(),
                          "client_id": "m4-cli", "refresh_token": refresh_token});
        std::fs::write(&file, body.to_string()).unwrap();
        set_mode(&file, 0o600);
    }

    fn m4_auth(&self, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
        let mut command = m4_auth(self.home.path(), args);
        command
            .env("M4_OAUTH2_ISSUER_URL", self.idp.uri())
            .env("M4_OAUTH2_AUDIENCE", "m4-api")
            .envs(extra.iter().copied());
        run(command)
    }
}

/// The user tests that need a user who may not write somewhere run `m4-auth` as, under root
/// (root may write anywhere, and CI runs as root): `nobody` on Debian and most Linux systems.
#[cfg(unix)]
const NOBODY: u32 = 65534;

#[cfg(unix)]
impl Provider {
    /// Runs `m4-auth` as [`NOBODY`] when this process is root (std's `CommandExt::uid`/`gid`,
    /// which also drop root's supplementary groups), having given it everything under the
    /// throw-away HOME (the credentials file must be the user's own, and HOME theirs to
    /// enter); otherwise as this user. Without /proc the user is unknown: it runs as it is,
    /// and a test that needs a user who may not write fails as root.
    fn m4_auth_as_nobody_when_root(
        &self,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> std::process::Output {
        use std::os::unix::process::CommandExt as _;
        let as_root = m4_auth_testkit::effective_uid() == Some(0);
        if as_root {
            chown_all(self.home.path());
        }
        let mut command = m4_auth(self.home.path(), args);
        command
            .env("M4_OAUTH2_ISSUER_URL", self.idp.uri())
            .env("M4_OAUTH2_AUDIENCE", "m4-api")
            .envs(extra.iter().copied());
        if as_root {
            command.uid(NOBODY).gid(NOBODY);
        }
        run(command)
    }
}

/// Gives `path` and everything under it to [`NOBODY`] (links are not followed).
#[cfg(unix)]
fn chown_all(path: &Path) {
    std::os::unix::fs::lchown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_all(&entry.unwrap().path());
        }
    }
}

/// Puts a refresh lock file beside the credentials file that its user may read but not
/// write (mode 0400): login, logout and refresh go on without the lock, with a warning.
#[cfg(unix)]
fn unwritable_lock_file(idp: &Provider) -> PathBuf {
    let dir = idp.credentials().parent().unwrap().to_path_buf();
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&dir, 0o700);
    let lock = dir.join(".credentials.json.lock");
    std::fs::write(&lock, b"").unwrap();
    set_mode(&lock, 0o400);
    lock
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) {}

#[test]
fn token_prints_exactly_one_line_from_the_client_credentials() {
    let idp = Provider::start();
    idp.on_post(
        "/token",
        "grant_type=client_credentials",
        token_answer("eyJ.cc.sig", 3600, None),
    );
    let output = idp.m4_auth(
        &["token"],
        &[
            ("M4_OAUTH2_CLIENT_ID", "m4-service"),
            ("M4_OAUTH2_CLIENT_SECRET", "s3cret-value"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "eyJ.cc.sig\n");
    assert!(!stderr(&output).contains("s3cret-value"));
}

/// A provider with a stored login `rt-1` whose refresh answers `eyJ.login.sig` and rotates
/// the refresh token to `rt-2`.
fn rotating_login() -> Provider {
    let idp = Provider::start();
    idp.store_login("rt-1");
    idp.on_post(
        "/token",
        "refresh_token=rt-1",
        token_answer("eyJ.login.sig", 3600, Some("rt-2")),
    );
    idp
}

#[test]
fn token_uses_the_stored_login_and_saves_a_rotated_refresh_token() {
    let idp = rotating_login();
    let output = idp.m4_auth(&["token"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "eyJ.login.sig\n");
    let stored = std::fs::read_to_string(idp.credentials()).unwrap();
    assert!(
        stored.contains("rt-2") && !stored.contains("rt-1"),
        "{stored}"
    );
}

/// A stored login in a directory the user may read but not write (a read-only mount, a
/// root-provisioned service account): `m4-auth token` still prints a token, and says on stderr
/// that it refreshed without the lock and that the rotated refresh token could not be saved
/// (lost when the process ends), with the fix. Root may write to a 0500 directory, so as root
/// (CI) the home is given to uid 65534 and `m4-auth` runs as that user (std's
/// `CommandExt::uid`/`gid`, which also drop root's supplementary groups); the test never
/// passes without running.
#[cfg(unix)]
#[test]
fn token_in_a_directory_it_cannot_write_still_works_and_warns_of_the_unsaved_rotation() {
    let idp = rotating_login();
    let dir = idp.credentials().parent().unwrap().to_path_buf();
    set_mode(&dir, 0o500);
    let output = idp.m4_auth_as_nobody_when_root(&["token"], &[]);
    set_mode(&dir, 0o700);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "eyJ.login.sig\n");
    let err = stderr(&output);
    for part in [
        "m4-auth: warning: refreshing the stored login",
        "without the cross-process lock",
        "m4-auth: warning: the provider rotated the refresh token but it could not be saved",
        &idp.credentials().display().to_string(),
        "run `m4-auth login`",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert!(!err.contains("rt-2") && !err.contains("rt-1"), "{err}");
}

#[test]
fn token_exit_codes_say_what_went_wrong() {
    let idp = Provider::start();
    // No credentials at all: exit 1, nothing on stdout.
    let output = idp.m4_auth(&["token"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("run `m4-auth login`"),
        "{}",
        stderr(&output)
    );

    // A revoked login: exit 1, "log in again".
    idp.store_login("rt-revoked");
    idp.on_post(
        "/token",
        "grant_type=refresh_token",
        oauth_error(400, "invalid_grant", None),
    );
    let output = idp.m4_auth(&["token"], &[]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output), "");
    assert!(
        stderr(&output).contains("run `m4-auth login` again"),
        "{}",
        stderr(&output)
    );
    assert!(!stderr(&output).contains("rt-revoked"));

    // A credentials file others may read: refused with the chmod to run.
    #[cfg(unix)]
    {
        set_mode(&idp.credentials(), 0o644);
        let output = idp.m4_auth(&["token"], &[]);
        assert_eq!(output.status.code(), Some(1));
        assert!(stderr(&output).contains("chmod 600"), "{}", stderr(&output));
    }

    // No issuer: a configuration error, exit 2.
    let mut command = m4_auth(idp.home.path(), &["token"]);
    command.env("M4_OAUTH2_CLIENT_ID", "x");
    let output = run(command);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}

#[test]
fn logout_revokes_and_forgets() {
    let idp = Provider::start();
    idp.store_login("rt-to-revoke");
    idp.on_post("/revoke", "token=rt-to-revoke", ResponseTemplate::new(200));
    let output = idp.m4_auth(&["logout"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("revoked at the provider"),
        "{}",
        stderr(&output)
    );
    assert_eq!(idp.posts("/revoke").len(), 1);
    assert!(!idp.credentials().exists());
}

/// `m4-auth logout` with a refresh lock file the user may not write: it logs out all the
/// same, and the library's warning that it did so without the lock reaches the user on
/// stderr (`m4-auth: warning: logging out of the stored login ...`), not only `tracing`,
/// which the CLI does not print; stdout stays empty and the refresh token is never shown.
/// As root, `m4-auth` runs as uid 65534 (root may write the 0400 lock file).
#[cfg(unix)]
#[test]
fn logout_without_the_lock_warns_on_stderr() {
    let idp = Provider::start();
    idp.store_login("rt-to-revoke");
    let lock = unwritable_lock_file(&idp);
    idp.on_post("/revoke", "token=rt-to-revoke", ResponseTemplate::new(200));
    let output = idp.m4_auth_as_nobody_when_root(&["logout"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    for part in [
        &format!(
            "m4-auth: warning: logging out of the stored login in {} without the \
             cross-process lock",
            idp.credentials().display()
        ),
        &lock.display().to_string(),
        "make the lock file writable by this user or remove it",
        "revoked at the provider",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert!(!err.contains("rt-to-revoke"), "{err}");
    assert_eq!(idp.posts("/revoke").len(), 1);
    assert!(!idp.credentials().exists());
}

/// `m4-auth login` with a refresh lock file the user may not write: the device flow (a
/// provider that approves at the first poll) ends in the stored login all the same, and the
/// warning that it was saved without the lock reaches the user on stderr (`m4-auth: warning:
/// saving the new login ...`); stdout stays empty and the refresh token is never shown. As
/// root, `m4-auth` runs as uid 65534.
#[cfg(unix)]
#[test]
fn login_without_the_lock_warns_on_stderr() {
    let idp = Provider {
        idp: Idp::start(),
        home: tempfile::tempdir().unwrap(),
    };
    idp.idp.oauth_discovery(json!({}));
    idp.on_post(
        "/device",
        "client_id=m4-cli",
        m4_auth_testkit::idp::json_body(
            &json!({
                "device_code": "dc-secret-1",
                "user_code": "WDJB-MJHT",
                "verification_uri": idp.idp.url("/activate"),
                "expires_in": 600,
                "interval": 1,
            })
            .to_string(),
        ),
    );
    idp.on_post(
        "/token",
        "device_code=dc-secret-1",
        token_answer("eyJ.login.sig", 3600, Some("rt-new-login")),
    );
    let lock = unwritable_lock_file(&idp);
    let output = idp.m4_auth_as_nobody_when_root(&["login"], &[("M4_OAUTH2_CLIENT_ID", "m4-cli")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    for part in [
        "WDJB-MJHT",
        &format!(
            "m4-auth: warning: saving the new login in {} without the cross-process lock",
            idp.credentials().display()
        ),
        &lock.display().to_string(),
        "Logged in.",
    ] {
        assert!(err.contains(part), "{part:?} not in: {err}");
    }
    assert!(
        !err.contains("rt-new-login") && !err.contains("eyJ.login.sig"),
        "{err}"
    );
    let stored = std::fs::read_to_string(idp.credentials()).unwrap();
    assert!(stored.contains("rt-new-login"), "saved all the same");
}
