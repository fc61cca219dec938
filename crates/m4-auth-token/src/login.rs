//! `m4-auth login` and `m4-auth logout`: the device authorization grant (RFC 8628) ending in
//! a stored refresh token, and forgetting it with revocation (RFC 7009).

use std::time::Duration;

use crate::client::{
    DeviceAuthorization, MAX_DEVICE_LIFETIME, MIN_POLL_INTERVAL, Poll, TokenClient,
};
use crate::error::{Error, FileProblem};
use crate::store::{CredentialsFile, LockPurpose, StoredLogin};

/// RFC 8628 §3.5: each `slow_down` adds 5 seconds to the polling interval.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Waits for the user to approve `device` (shown to them by the caller), polling the token
/// endpoint at the given interval (at least 1 s), and stores the refresh token.
///
/// `sleep` is called with each wait before a poll; production passes `std::thread::sleep`,
/// tests a function that advances their clock. The code's lifetime is measured on the
/// client's clock.
///
/// The login is saved under the refresh lock ([`CredentialsFile::lock`]), taken only once the
/// provider has answered, so a refresh of the previous login in another process cannot
/// overwrite it. Where this user may not write the lock file, the login is saved without the
/// lock, and the returned login's [`StoredLogin::warnings`] says so (as `tracing` does).
///
/// # Errors
/// [`Error::LoginDenied`] (`access_denied`), [`Error::LoginExpiredBeforeApproval`]
/// (`expired_token`, or the lifetime passed), [`Error::NoRefreshToken`], the request's and
/// the credentials file's errors.
pub fn finish_login(
    client: &TokenClient,
    device: &DeviceAuthorization,
    mut sleep: impl FnMut(Duration),
) -> Result<StoredLogin, Error> {
    let clock = &client.options.clock;
    // The fields are public: whatever a caller put there, never poll back to back, and never
    // wait past the longest lifetime a login code may have (nor overflow the clock).
    let deadline = clock.now() + device.expires_in.min(MAX_DEVICE_LIFETIME);
    let mut interval = device
        .interval
        .clamp(MIN_POLL_INTERVAL, MAX_DEVICE_LIFETIME);
    loop {
        if clock.now() + interval > deadline {
            return Err(Error::LoginExpiredBeforeApproval {
                lifetime: device.expires_in,
            });
        }
        sleep(interval);
        match client.poll_device(device)? {
            Poll::Pending => {}
            Poll::SlowDown => interval = (interval + SLOW_DOWN_STEP).min(MAX_DEVICE_LIFETIME),
            Poll::Done(response) => {
                let Some(refresh_token) = response.refresh_token else {
                    return Err(Error::NoRefreshToken);
                };
                let options = &client.options;
                let mut login = StoredLogin::new(
                    options.issuer.clone(),
                    options.client_id.clone().unwrap_or_default(),
                    refresh_token,
                );
                let file = CredentialsFile::new(options.credentials_file.clone());
                // The refresh lock around the save, as a refresh and logout take it: a refresh
                // of the previous login in another process finishes first, and cannot save
                // that login's rotated token over this one afterwards (the user switched
                // accounts; M4 would go on acting as the old one). Not held (this user may not
                // write the lock file), the save goes on, as a refresh does.
                // The warning is logged with `tracing` too; it is returned for a program
                // without a subscriber (the `m4-auth` CLI) to show.
                let (_lock, warnings) = file.lock_or_warn(LockPurpose::Login)?;
                file.save(&login)?;
                login.warnings.extend(warnings);
                return Ok(login);
            }
        }
    }
}

/// What [`logout`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogoutOutcome {
    /// Whether a stored login existed (and was removed).
    pub removed: bool,
    /// Whether the refresh token was revoked at the provider.
    pub revoked: bool,
    /// Why revocation did not happen or failed, when it did not (the file is removed anyway).
    pub revocation_note: Option<String>,
    /// What went wrong without stopping the logout: the refresh lock could not be taken
    /// ([`LoginLock::warning`](crate::LoginLock::warning)), so a refresh running in another
    /// process at the same time could have saved the login again. Each is also logged with
    /// `tracing`; a program without a subscriber (the `m4-auth` CLI) shows them itself.
    /// Never holds a token. Empty from [`LogoutOutcome::new`].
    pub warnings: Vec<String>,
}

impl LogoutOutcome {
    /// An outcome (for callers that report one they did not get from [`logout`], and tests).
    pub fn new(removed: bool, revoked: bool, revocation_note: Option<String>) -> Self {
        Self {
            removed,
            revoked,
            revocation_note,
            warnings: Vec::new(),
        }
    }
}

/// Forgets the stored login: revokes its refresh token when the provider has a revocation
/// endpoint, then deletes the file (also when revocation fails: the note says so).
///
/// Holds the refresh lock ([`CredentialsFile::lock`]) from reading the login to removing it,
/// so a refresh in another process cannot save it again afterwards. Where this user may not
/// write the lock file, it goes on without the lock, and [`LogoutOutcome::warnings`] says so.
///
/// # Errors
/// The credentials file's errors (locking, reading, removing); a path that is not a regular
/// file, is larger than a login can be, belongs to another user or holds something that is
/// not a login this program wrote ([`Error::CredentialsFileNotALogin`]) is refused and left
/// in place.
pub fn logout(client: &TokenClient) -> Result<LogoutOutcome, Error> {
    let file = CredentialsFile::new(client.options.credentials_file.clone());
    if std::fs::symlink_metadata(file.path()).is_err() {
        // Nothing there (or nothing this user can see): no lock file or directory is created
        // for nothing; removing reports what there is.
        return Ok(LogoutOutcome::new(file.remove()?, false, None));
    }
    // The refresh lock, from reading the login to removing it: a refresh in another process
    // finishes first (its rotated token is the one read and revoked), and cannot save the
    // login again after it is removed. Where the lock is refused (a directory others may
    // write to, a lock file that is a link), every refresh is refused it too, so none can be
    // running: logout goes on and reports on the file itself.
    let (_lock, warnings) = match file.lock_or_warn(LockPurpose::Logout) {
        Ok(locked) => locked,
        // The directory: `load` below reports it, for what it is.
        Err(Error::CredentialsFileUnsafe { .. }) => (None, Vec::new()),
        Err(e) => return Err(e),
    };
    let (login, unread) = match file.load() {
        Ok(login) => (login, None),
        // A login this program wrote, unusable as it is (too open, damaged), or in the wrong
        // place (a link, a directory others may write to): forgotten without its token being
        // used, the note says what is left to do. Anything else is not something this program
        // wrote (not a regular file, too large, another user's, content that is not a login,
        // read even in such a directory to tell): left alone, and the error says what to do.
        Err(e) => (None, Some(file.removable(e)?)),
    };
    let (revoked, revocation_note) = match &login {
        None => (false, unread.as_ref().and_then(unread_note)),
        Some(login) if login.issuer != client.options.issuer => (
            false,
            Some(format!(
                "not revoked: the login belongs to issuer \"{}\", not the configured one",
                m4_jwks::shown(&login.issuer)
            )),
        ),
        Some(login) => {
            let mut options = client.options.clone();
            options.client_id = Some(login.client_id.clone());
            match TokenClient::new(options).revoke(&login.refresh_token) {
                Ok(true) => (true, None),
                Ok(false) => (
                    false,
                    Some("not revoked: the provider advertises no revocation endpoint".to_owned()),
                ),
                Err(e) => (false, Some(format!("not revoked: {e}"))),
            }
        }
    };
    let removed = file.remove()?;
    Ok(LogoutOutcome {
        removed,
        revoked,
        revocation_note,
        // Logged with `tracing` too; returned for a program without a subscriber to show.
        warnings,
    })
}

/// What a login left unrevoked stays, unless the user ends it at the provider.
const STILL_VALID: &str = "a login it held stays valid at the provider until it expires or you \
                           sign out of the application's sessions there";

/// [`logout`]'s note for a file it removes without using a login from it (`error`, from
/// [`CredentialsFile::load`]): what it was and what is left to do; `None` for every other
/// refusal, which logout returns instead of removing the file. This match is the one list of
/// what logout removes ([`removable`](crate::store::removable) asks it). Not the error's own
/// text, whose fix is wrong once logout has removed the file ("run `m4-auth login` (it
/// replaces the damaged file)", "run `chmod 600`"); and only a file others could read "may
/// have been exposed".
pub(crate) fn unread_note(error: &Error) -> Option<String> {
    let note = match error {
        Error::CredentialsFileInsecure { mode, .. } => format!(
            "not revoked: the credentials file could be read by other users (mode {mode:03o}), \
             so it was removed without its refresh token being used; the login it held may have \
             been exposed, so \
             revoke it at the provider (sign out of the application's sessions there)"
        ),
        Error::CredentialsFileCorrupt { detail, .. } => format!(
            "not revoked: the credentials file was unusable ({detail}), so it was removed without \
             a refresh token being read from it; {STILL_VALID}"
        ),
        Error::CredentialsFileUnsafe {
            problem: FileProblem::Symlink { target },
            ..
        } => format!(
            "not revoked: the credentials path was a symbolic link (to \"{target}\"), which is \
             never followed, so the link was removed and its target left as it is, unread; if \
             the target holds a login, delete it yourself: {STILL_VALID}"
        ),
        Error::CredentialsFileUnsafe {
            problem: FileProblem::DirectoryWritable { dir, mode },
            ..
        } => format!(
            "not revoked: its directory {} may be written by group or others (mode {mode:03o}), \
             so the file, which they could have replaced, was removed without its refresh token \
             being used; {STILL_VALID}; \
             run `chmod go-w {}` before the next `m4-auth login`",
            dir.display(),
            dir.display()
        ),
        Error::CredentialsFileUnsafe {
            problem: FileProblem::DirectoryNotOwned { dir, owner, uid },
            ..
        } => format!(
            "not revoked: its directory {} belongs to uid {owner}, not to this user (uid {uid}) \
             or root, so the file, which they could have replaced, was removed without its \
             refresh token being used; {STILL_VALID}; keep the next login in a directory of your own (set \
             M4_OAUTH2_CREDENTIALS_FILE)",
            dir.display()
        ),
        // Not a file logout removes: it is left in place and the error returned.
        _ => return None,
    };
    Some(note)
}
