//! The credentials file on a real file system: what `load`, `save` and `logout` refuse
//! (a symbolic link, something that is not a regular file, a file too large to be a login, a
//! directory others may write to, a file of another user) and what each says to do. Unix only:
//! on Windows only the link, kind and size checks apply, and these tests build such files with
//! Unix calls.
#![cfg(test)]
#![cfg(unix)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{Provider, token_answer};
use m4_auth_config::Secret;
use m4_auth_token::{
    CredentialsFile, Error, StoredLogin, TokenClient, finish_login, logout,
    testing_device_authorization,
};
use serde_json::json;

fn login(refresh: &str) -> StoredLogin {
    StoredLogin::new("https://idp.example.com/", "m4-cli", Secret::new(refresh))
}

/// A directory of its own (0700) holding a saved login at `credentials.json`.
fn saved(dir: &Path) -> PathBuf {
    let path = dir.join("m4").join("credentials.json");
    CredentialsFile::new(&path).save(&login("rt-1")).unwrap();
    path
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, Error>, expected: &[&str]) -> Error {
    let err = result.unwrap_err();
    let message = err.to_string();
    for part in expected {
        assert!(message.contains(part), "{part:?} not in: {message}");
    }
    assert!(!message.contains("rt-1"), "{message}");
    err
}

/// The refresh token of the login stored at `path`.
fn stored_refresh_token(path: &Path) -> String {
    let login = CredentialsFile::new(path).load().unwrap().unwrap();
    login.refresh_token.expose_secret().to_owned()
}

/// A provider, its credentials path, and the file there holding the login `rt-1`.
fn provider_with_login() -> (Provider, PathBuf, CredentialsFile) {
    let idp = Provider::start(json!({}));
    let path = idp.credentials_path();
    let file = CredentialsFile::new(&path);
    file.save(&login("rt-1")).unwrap();
    (idp, path, file)
}

/// `result` is the refusal of a symbolic link at `link` (to `target`), naming both.
fn link_refused(result: Result<impl std::fmt::Debug, Error>, link: &Path, target: &Path) {
    let (link, target) = (link.display().to_string(), target.display().to_string());
    let err = refused(result, &[&link, "symbolic link", &target]);
    assert_eq!(err.code(), "credentials_file_unsafe");
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_is_refused_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path());
    // The login really lives next to it; the configured path is a link to it.
    let real = path.with_file_name("real.json");
    fs::rename(&path, &real).unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();

    let file = CredentialsFile::new(&path);
    link_refused(file.load(), &path, &real);
    // Saving over the link is refused too: it would silently replace the link.
    let err = refused(file.save(&login("rt-2")), &["symbolic link"]);
    assert_eq!(err.code(), "credentials_file_unsafe");
    assert!(fs::symlink_metadata(&path).unwrap().is_symlink());
    assert_eq!(
        stored_refresh_token(&real),
        "rt-1",
        "the target is untouched"
    );
}

#[cfg(unix)]
#[test]
fn something_other_than_a_regular_file_is_refused_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path());

    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    let err = refused(
        CredentialsFile::new(&path).load(),
        &[
            &path.display().to_string(),
            "a directory, not a regular file",
        ],
    );
    assert_eq!(err.code(), "credentials_file_unsafe");
    fs::remove_dir(&path).unwrap();

    // A socket (a FIFO would be the same: opening one would block).
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = refused(
        CredentialsFile::new(&path).load(),
        &["a socket, not a regular file"],
    );
    assert_eq!(err.code(), "credentials_file_unsafe");
}

#[cfg(unix)]
#[test]
fn a_file_larger_than_a_login_can_be_is_refused_and_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path());

    // Just at the limit (the login padded with whitespace, still the same JSON): read.
    let mut text = fs::read(&path).unwrap();
    text.resize(64 * 1024, b' ');
    fs::write(&path, &text).unwrap();
    assert_eq!(
        CredentialsFile::new(&path)
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        "rt-1"
    );
    // One byte more: refused before it is read.
    text.push(b' ');
    fs::write(&path, &text).unwrap();
    let err = refused(
        CredentialsFile::new(&path).load(),
        &[&path.display().to_string(), "65537 bytes", "65536"],
    );
    assert_eq!(err.code(), "credentials_file_unsafe");

    // A login that big is not written, so the next load cannot refuse it.
    let other = dir.path().join("other").join("credentials.json");
    let huge = login(&"r".repeat(64 * 1024));
    let err = refused(
        CredentialsFile::new(&other).save(&huge),
        &["cannot write", "more than the 65536"],
    );
    assert_eq!(err.code(), "credentials_file_error");
    assert!(!other.exists());
}

#[cfg(unix)]
#[test]
fn a_directory_others_may_write_to_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path());
    let parent = path.parent().unwrap().to_path_buf();
    for mode in [0o770, 0o707, 0o1777] {
        fs::set_permissions(&parent, fs::Permissions::from_mode(mode)).unwrap();
        let file = CredentialsFile::new(&path);
        let err = refused(
            file.load(),
            &[
                &format!("chmod go-w {}", parent.display()),
                &format!("mode {:03o}", mode & 0o777),
            ],
        );
        assert_eq!(err.code(), "credentials_file_unsafe");
        let err = refused(file.save(&login("rt-2")), &["chmod go-w"]);
        assert_eq!(err.code(), "credentials_file_unsafe");
    }
    // Group or others may read and enter it, as long as they cannot write: accepted.
    fs::set_permissions(&parent, fs::Permissions::from_mode(0o755)).unwrap();
    assert!(CredentialsFile::new(&path).load().unwrap().is_some());
}

/// A file (or directory) owned by another user: made with `chown` when the tests run as root,
/// otherwise found (a root-owned file in a root-owned directory).
#[cfg(target_os = "linux")]
#[test]
fn a_file_or_directory_of_another_user_is_refused() {
    use std::os::unix::fs::MetadataExt as _;
    let uid = fs::metadata("/proc/self").unwrap().uid();
    if uid == 0 {
        let dir = tempfile::tempdir().unwrap();
        let path = saved(dir.path());
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let err = refused(
            CredentialsFile::new(&path).load(),
            &[&path.display().to_string(), "uid 65534", "uid 0"],
        );
        assert_eq!(err.code(), "credentials_file_unsafe");

        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        let parent = path.parent().unwrap();
        std::os::unix::fs::chown(parent, Some(65534), None).unwrap();
        let err = refused(
            CredentialsFile::new(&path).load(),
            &[&parent.display().to_string(), "uid 65534"],
        );
        assert_eq!(err.code(), "credentials_file_unsafe");
    } else {
        // /etc/hostname: root's file in root's directory, readable by everyone.
        let err = refused(
            CredentialsFile::new("/etc/hostname").load(),
            &["/etc/hostname", "uid 0", &format!("uid {uid}")],
        );
        assert_eq!(err.code(), "credentials_file_unsafe");
    }
}

#[cfg(unix)]
#[test]
fn logout_removes_a_link_but_not_its_target_and_leaves_what_is_not_a_login() {
    let idp = Provider::start(json!({}));
    let path = idp.credentials_path();
    CredentialsFile::new(&path).save(&login("rt-1")).unwrap();
    let real = path.with_file_name("real.json");
    fs::rename(&path, &real).unwrap();
    std::os::unix::fs::symlink(&real, &path).unwrap();

    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed && !outcome.revoked, "{outcome:?}");
    let note = outcome.revocation_note.unwrap();
    assert!(note.contains("symbolic link"), "{note}");
    assert!(fs::symlink_metadata(&path).is_err(), "the link is gone");
    assert!(real.exists(), "its target is not touched");
    assert!(
        idp.posts("/revoke").is_empty(),
        "nothing read, nothing sent"
    );

    // A big file is not a login this program wrote: logout leaves it alone.
    fs::write(&path, vec![b' '; 70_000]).unwrap();
    let err = logout(&TokenClient::new(idp.options())).unwrap_err();
    assert_eq!(err.code(), "credentials_file_unsafe");
    assert!(path.exists());

    // Not even in a directory others may write to, where logout removes what a login file
    // was: the file's own problem is reported, and the file stays.
    let dir = path.parent().unwrap();
    let before = fs::metadata(dir).unwrap().permissions();
    fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let err = logout(&TokenClient::new(idp.options())).unwrap_err();
    fs::set_permissions(dir, before).unwrap();
    assert_eq!(err.code(), "credentials_file_unsafe");
    assert!(
        err.to_string().contains("70000 bytes"),
        "the size is named: {err}"
    );
    assert!(path.exists(), "a file that is too big is never removed");
}

/// The refresh lock (`.credentials.json.lock`) is never opened through a symbolic link: one
/// planted there could make the lock create or open a file elsewhere. A link, or anything but
/// a regular file, is refused naming the lock file; a lock file that is there is locked as it
/// is, never truncated.
#[cfg(unix)]
#[test]
fn the_lock_file_is_never_followed_through_a_link_nor_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved(dir.path());
    let file = CredentialsFile::new(&path);
    let lock = path.with_file_name(".credentials.json.lock");
    let elsewhere = dir.path().join("elsewhere");

    // A dangling link: following it would create `elsewhere`.
    std::os::unix::fs::symlink(&elsewhere, &lock).unwrap();
    link_refused(file.lock(), &lock, &elsewhere);
    assert!(fs::symlink_metadata(&elsewhere).is_err(), "nothing created");

    // A link to an existing file: refused, and that file is not touched.
    fs::write(&elsewhere, b"precious").unwrap();
    let err = refused(file.lock(), &["symbolic link"]);
    assert_eq!(err.code(), "credentials_file_unsafe");
    assert_eq!(fs::read(&elsewhere).unwrap(), b"precious");
    fs::remove_file(&lock).unwrap();

    // Not a regular file: refused without opening it.
    fs::create_dir(&lock).unwrap();
    let err = refused(file.lock(), &[&lock.display().to_string(), "a directory"]);
    assert_eq!(err.code(), "credentials_file_unsafe");
    fs::remove_dir(&lock).unwrap();

    // A regular lock file with something in it: locked as it is, never truncated.
    fs::write(&lock, b"left by an older version").unwrap();
    let held = file.lock().unwrap();
    assert!(held.is_held());
    drop(held);
    assert_eq!(fs::read(&lock).unwrap(), b"left by an older version");

    // None there: created empty and owner-only.
    fs::remove_file(&lock).unwrap();
    drop(file.lock().unwrap());
    let created = fs::symlink_metadata(&lock).unwrap();
    assert!(created.is_file() && created.len() == 0);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(created.permissions().mode() & 0o777, 0o600);
}

/// A file at the credentials path that is not a login this program wrote (not JSON, not a
/// JSON object, an object without the format's `"version"`) is neither used nor removed by
/// logout, even with the right owner and mode: it may be the user's own file that
/// M4_OAUTH2_CREDENTIALS_FILE names by mistake. A login this program wrote that is damaged
/// (no refresh token) is still forgotten.
#[cfg(unix)]
#[test]
fn logout_leaves_a_file_that_is_not_a_login_and_says_so() {
    let idp = Provider::start(json!({}));
    let path = idp.credentials_path();
    CredentialsFile::new(&path).save(&login("rt-1")).unwrap();
    let dir = path.parent().unwrap().to_path_buf();
    use std::os::unix::fs::PermissionsExt as _;
    for (content, mode, dir_mode, found) in [
        ("my notes, not JSON", 0o600, 0o700, "it is not JSON"),
        ("[1, 2]", 0o600, 0o700, "it is not a JSON object"),
        (
            r#"{"name": "my-project"}"#,
            0o600,
            0o700,
            "it has no \"version\" number",
        ),
        // Readable by others (a notes file's usual mode), or in a directory others may write
        // to: still read to tell what it is, and left alone.
        ("my notes, not JSON", 0o644, 0o700, "it is not JSON"),
        (r#"{"name": "my-project"}"#, 0o644, 0o700, "no \"version\""),
        ("my notes, not JSON", 0o600, 0o777, "it is not JSON"),
        ("my notes, not JSON", 0o644, 0o777, "it is not JSON"),
        // A "version" number is not enough: a login has no other members.
        (
            r#"{"version": 2, "other": "my settings"}"#,
            0o600,
            0o700,
            "it has members other than \"version\"",
        ),
        (
            r#"{"version": 1, "issuer": "https://idp.example.com/", "client_id": "m4-cli", "refresh_token": "x", "notes": "mine"}"#,
            0o644,
            0o700,
            "it has members other than \"version\"",
        ),
    ] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(dir_mode)).unwrap();
        let result = logout(&TokenClient::new(idp.options()));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        let err = refused(
            result,
            &[
                &path.display().to_string(),
                found,
                "not a login this program wrote",
                "remove it yourself if it is yours",
            ],
        );
        assert_eq!(
            err.code(),
            "credentials_file_error",
            "{content} {mode:o} {dir_mode:o}"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), content, "left in place");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        // Nor used to obtain a token.
        let err = refused(
            m4_auth_token::TokenSource::detect(idp.options()),
            &["not a login this program wrote"],
        );
        assert_eq!(err.code(), "credentials_file_error");
    }

    fs::write(
        &path,
        r#"{"version": 1, "issuer": "https://idp.example.com/", "client_id": "m4-cli"}"#,
    )
    .unwrap();
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed, "{outcome:?}");
    assert!(!path.exists());
    // The note, shown by logout itself: a damaged owner-only file was not exposed, and
    // "run `m4-auth logout`" is what the user just did.
    let note = outcome.revocation_note.unwrap();
    assert!(note.starts_with("not revoked: "), "{note}");
    assert!(
        note.contains("it has no \"refresh_token\" string"),
        "{note}"
    );
    assert!(!note.contains("exposed"), "{note}");
    assert!(!note.contains("m4-auth logout"), "{note}");

    // A login others could read: removed, and the note says it may have been exposed and
    // to revoke it; not to `chmod` a file that is gone.
    CredentialsFile::new(&path).save(&login("rt-1")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed && !outcome.revoked, "{outcome:?}");
    assert!(!path.exists());
    let note = outcome.revocation_note.unwrap();
    assert!(note.contains("mode 644"), "{note}");
    assert!(note.contains("may have been exposed"), "{note}");
    assert!(!note.contains("chmod"), "{note}");

    // The same login in a directory others may write to: reading it stops at the directory,
    // but the file was readable by others all the same, and the note must say so.
    CredentialsFile::new(&path).save(&login("rt-2")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(outcome.removed && !outcome.revoked, "{outcome:?}");
    assert!(!path.exists());
    let note = outcome.revocation_note.unwrap();
    assert!(note.contains("may have been exposed"), "{note}");
}

/// Logout holds the refresh lock from reading the login to removing it: a refresh running in
/// another process (here: the lock held, then the rotated login saved) finishes first, and its
/// save cannot bring the login back after logout removed it.
#[cfg(unix)]
#[test]
fn logout_waits_for_a_refresh_holding_the_lock() {
    let (idp, path, file) = provider_with_login();
    let refreshing = file.lock().unwrap();
    std::thread::scope(|s| {
        let out = s.spawn(|| logout(&TokenClient::new(idp.options())));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let waited = !out.is_finished() && path.exists();
        // The refresh saves its rotated token, then lets go.
        file.save(&login("rt-2")).unwrap();
        drop(refreshing);
        let outcome = out.join().unwrap().unwrap();
        assert!(waited, "logout did not wait for the lock");
        assert!(outcome.removed, "{outcome:?}");
    });
    assert!(!path.exists(), "the login the refresh saved is removed too");
}

/// `finish_login` saves the new login under the refresh lock, as a refresh and logout do: a
/// refresh of the previous login running in another process (here: the lock held, then the
/// old login's rotated token saved) finishes first, and its save cannot overwrite the login
/// just approved (the user switched accounts; M4 would go on acting as the old one).
#[cfg(unix)]
#[test]
fn a_login_waits_for_a_refresh_holding_the_lock() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", token_answer("eyJ.new.sig", 3600, Some("rt-new")));
    let path = idp.credentials_path();
    let file = CredentialsFile::new(&path);
    file.save(&login("rt-old")).unwrap();
    let client = TokenClient::new(idp.options());
    let device = testing_device_authorization(
        "ABCD-EFGH",
        "https://idp.example.com/activate",
        None,
        std::time::Duration::from_secs(600),
    );
    let refreshing = file.lock().unwrap();
    std::thread::scope(|s| {
        let out = s.spawn(|| finish_login(&client, &device, |_| {}));
        std::thread::sleep(std::time::Duration::from_millis(300));
        let waited = !out.is_finished();
        // The refresh of the old login saves its rotated token, then lets go.
        file.save(&login("rt-old-rotated")).unwrap();
        drop(refreshing);
        let stored = out.join().unwrap().unwrap();
        assert!(waited, "finish_login did not wait for the lock");
        assert_eq!(stored.refresh_token.expose_secret(), "rt-new");
    });
    assert_eq!(idp.posts("/token").len(), 1);
    let kept = file.load().unwrap().unwrap();
    assert_eq!(
        kept.refresh_token.expose_secret(),
        "rt-new",
        "the login just approved is the one kept"
    );
}

/// A symbolic link planted as the lock file is found only after the user approved the login
/// at the provider: the login is saved all the same (every refresh is refused that lock, so
/// none can race the save), and says what is wrong; it is not lost.
#[cfg(unix)]
#[test]
fn a_login_past_a_lock_file_link_is_saved_and_says_so() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", token_answer("eyJ.new.sig", 3600, Some("rt-new")));
    let path = idp.credentials_path();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let lock = path.with_file_name(".credentials.json.lock");
    let elsewhere = path.with_file_name("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &lock).unwrap();
    let device = testing_device_authorization(
        "ABCD-EFGH",
        "https://idp.example.com/activate",
        None,
        std::time::Duration::from_secs(600),
    );
    let stored = finish_login(&TokenClient::new(idp.options()), &device, |_| {}).unwrap();
    assert_eq!(stored_refresh_token(&path), "rt-new");
    let [warning] = stored.warnings.as_slice() else {
        panic!("one warning: {stored:?}");
    };
    for part in [
        "saved the new login",
        &lock.display().to_string(),
        "symbolic link",
    ] {
        assert!(warning.contains(part), "{part:?} not in: {warning}");
    }
    assert!(!warning.contains("rt-new"), "{warning}");
    assert!(
        fs::symlink_metadata(&elsewhere).is_err(),
        "nothing created through the link"
    );
}

/// Logout with no stored login creates nothing (no directory, no lock file).
#[cfg(unix)]
#[test]
fn logout_without_a_login_creates_nothing() {
    let idp = Provider::start(json!({}));
    let path = idp.credentials_path();
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(!outcome.removed, "{outcome:?}");
    assert!(!path.parent().unwrap().exists());
}

/// A symbolic link planted as the lock file does not stop a logout (every refresh is refused
/// that lock, so none can be running), but the logout says so: every later refresh and login
/// will be refused until it is removed, and nothing else would tell the user.
#[cfg(unix)]
#[test]
fn logout_past_a_lock_file_link_says_so() {
    let (idp, path, _file) = provider_with_login();
    let lock = path.with_file_name(".credentials.json.lock");
    let elsewhere = path.with_file_name("elsewhere");
    std::os::unix::fs::symlink(&elsewhere, &lock).unwrap();
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed, "{outcome:?}");
    let [warning] = outcome.warnings.as_slice() else {
        panic!("one warning: {outcome:?}");
    };
    for part in [&lock.display().to_string(), "symbolic link", "remove it"] {
        assert!(warning.contains(part), "{part:?} not in: {warning}");
    }
    assert!(!warning.contains("rt-1"), "{warning}");
    assert!(
        fs::symlink_metadata(&elsewhere).is_err(),
        "nothing created through the link"
    );
}

/// `save` (so `m4-auth login`) never writes over a file at the credentials path that is not a
/// login this program wrote: not JSON, not a JSON object, an object without `"version"`, or
/// larger than a login can be. It refuses with the very error logout gives for that file and
/// leaves it as it was; and a device login is refused before any request, so the user is not
/// asked to approve a login that could not be kept. A login of its own that is damaged, of
/// another format version or readable by others is replaced.
#[cfg(unix)]
#[test]
fn save_never_overwrites_a_file_that_is_not_a_login() {
    use std::os::unix::fs::PermissionsExt as _;

    let (idp, path, file) = provider_with_login();
    let big = " ".repeat(70_000);
    for (content, mode, found) in [
        ("my notes, not JSON", 0o600, "it is not JSON"),
        ("[1, 2]", 0o600, "it is not a JSON object"),
        (
            r#"{"name": "my-project"}"#,
            0o600,
            "it has no \"version\" number",
        ),
        (big.as_str(), 0o600, "70000 bytes"),
        // Readable by others (a notes file's usual mode): still read to tell what it is.
        ("my notes, not JSON", 0o644, "it is not JSON"),
        ("[1, 2]", 0o644, "it is not a JSON object"),
        (r#"{"name": "my-project"}"#, 0o640, "no \"version\""),
        // A "version" number is not enough: a login has no other members.
        (
            r#"{"version": 2, "other": "my settings"}"#,
            0o600,
            "it has members other than \"version\"",
        ),
        (
            r#"{"version": 2, "other": "my settings"}"#,
            0o644,
            "it has members other than \"version\"",
        ),
    ] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let by_logout = logout(&TokenClient::new(idp.options())).unwrap_err();
        let err = refused(
            file.save(&login("rt-2")),
            &[&path.display().to_string(), found],
        );
        assert_eq!(
            (err.code(), err.to_string()),
            (by_logout.code(), by_logout.to_string()),
            "save and logout refuse alike"
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), content, "left in place");
        let err = TokenClient::new(idp.options())
            .start_device_login()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            by_logout.to_string(),
            "a login that could not be kept is not started"
        );
        assert!(idp.posts("/device").is_empty(), "no request was sent");
        assert_eq!(fs::read_to_string(&path).unwrap(), content, "left in place");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            mode,
            "not even its mode changed"
        );
    }

    // Its own login, damaged, of another version or too open: replaced by the new one.
    for (content, mode) in [
        (
            r#"{"version": 1, "issuer": "https://idp.example.com/"}"#,
            0o600,
        ),
        (
            r#"{"version": 2, "issuer": "https://idp.example.com/"}"#,
            0o600,
        ),
        (r#"{"version": 1, "refresh_token": "rt-old"}"#, 0o644),
        (
            r#"{"version": 1, "issuer": "https://idp.example.com/", "client_id": "m4-cli", "refresh_token": "rt-old"}"#,
            0o644,
        ),
    ] {
        fs::write(&path, content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        file.save(&login("rt-3")).unwrap();
        let read = file.load().unwrap().unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "rt-3", "{content}");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

/// A device login checks what `save` will check before any request, so the user is never
/// asked to approve a login that cannot be stored: a symbolic link at the credentials path, a
/// directory others may write to and (as root, who can make one) a directory of another user
/// are refused at `start_device_login`, with the error `save` gives, and no device
/// authorization request is sent.
#[cfg(unix)]
#[test]
fn a_device_login_that_save_would_refuse_is_not_started() {
    use std::os::unix::fs::PermissionsExt as _;
    let (idp, path, file) = provider_with_login();
    let dir = path.parent().unwrap().to_path_buf();
    let real = dir.join("real.json");
    fs::rename(&path, &real).unwrap();

    let root = m4_auth_testkit::effective_uid() == Some(0);
    // What is refused, named by a part of the refusal; another user's directory only where
    // the tests can make one (as root, which is how CI runs them).
    let mut cases = vec!["symbolic link", "chmod go-w"];
    if root {
        cases.push("uid 65534");
    }
    let mode = |mode| fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
    for found in cases {
        match found {
            "symbolic link" => std::os::unix::fs::symlink(&real, &path).unwrap(),
            "chmod go-w" => mode(0o777),
            _ => std::os::unix::fs::chown(&dir, Some(65534), None).unwrap(),
        }
        let started = TokenClient::new(idp.options()).start_device_login();
        let saved = file.save(&login("rt-2"));
        match found {
            "symbolic link" => fs::remove_file(&path).unwrap(),
            "chmod go-w" => mode(0o700),
            _ => std::os::unix::fs::chown(&dir, Some(0), None).unwrap(),
        }
        let err = refused(started, &[found]);
        assert_eq!(err.code(), "credentials_file_unsafe", "{err}");
        let by_save = saved.unwrap_err();
        assert_eq!(err.to_string(), by_save.to_string(), "save refuses alike");
        assert!(
            idp.posts("/device").is_empty(),
            "{found}: no device authorization request was sent"
        );
    }
    assert_eq!(
        stored_refresh_token(&real),
        "rt-1",
        "the link's target is untouched"
    );
    // With none of that, the login starts (the provider here has no device answer mounted:
    // the request is sent, which is what is checked).
    let _ = TokenClient::new(idp.options()).start_device_login();
    assert_eq!(idp.posts("/device").len(), 1);
}
