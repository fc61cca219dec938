//! The credentials file: where `m4-auth login` keeps its refresh token.
//!
//! - Default location: `$XDG_CONFIG_HOME/m4-auth/credentials.json` (or
//!   `~/.config/m4-auth/credentials.json`) on Linux and other Unix,
//!   `~/Library/Application Support/m4-auth/credentials.json` on macOS,
//!   `%APPDATA%\m4-auth\credentials.json` on Windows; `M4_OAUTH2_CREDENTIALS_FILE` overrides.
//! - Owner-only: on Unix a file whose mode gives group or others any access is refused, as
//!   ssh refuses such keys, with the `chmod` to run. The directory is created `0700`.
//! - Checked before it is opened, as ssh checks `authorized_keys`: a symbolic link is refused,
//!   never followed; so is anything but a regular file (a FIFO would block the open), a file
//!   over [`MAX_FILE_BYTES`], a directory group or others may write to or that belongs to
//!   another user than this one or root, and (Linux, where `/proc/self/status` names this
//!   process's effective user) a file of another user. After the open, the file must be the one checked (same
//!   device and inode), so a swap in between is refused too.
//! - Written atomically: a temporary file created `0600` in the same directory, synced, then
//!   renamed over the old one, so a reader sees the old login or the new one, never half.
//! - The content: `{"version":1,"issuer":…,"client_id":…,"refresh_token":…}`; only the
//!   refresh token is secret, and it is never shown.

use std::fmt;
use std::fs;
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use m4_auth_config::Secret;
use m4_jwks::shown;
use serde_json::{Value, json};

use crate::error::{Error, FileProblem};

const FILE_NAME: &str = "credentials.json";
const DIR_NAME: &str = "m4-auth";
const FORMAT_VERSION: u64 = 1;

/// The largest credentials file read or written: 64 KiB. A login is an issuer URL, a client id
/// and one refresh token, a few hundred bytes to a few KiB (opaque tokens are under 100
/// bytes; JWT refresh tokens from Keycloak or Entra ID 1 to 4 KiB), so this leaves ten times
/// the largest seen while a path that names something else (a log, a dump) is refused before
/// it is read into memory.
pub const MAX_FILE_BYTES: u64 = 64 * 1024;

/// What a path that is not a regular file is, in [`FileProblem::NotRegular`].
pub(crate) const KIND_DIRECTORY: &str = "a directory";
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) const KIND_SOCKET: &str = "a socket";
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) const KIND_FIFO: &str = "a FIFO";
#[cfg_attr(not(unix), allow(dead_code))]
pub(crate) const KIND_DEVICE: &str = "a device";
pub(crate) const KIND_SPECIAL: &str = "a special file";

/// Why a file is not a login this program wrote, in [`Error::CredentialsFileNotALogin`].
pub(crate) const NOT_JSON: &str = "it is not JSON";
pub(crate) const NOT_AN_OBJECT: &str = "it is not a JSON object";
pub(crate) const NO_VERSION: &str = "it has no \"version\" number";
pub(crate) const OTHER_MEMBERS: &str =
    "it has members other than \"version\", \"issuer\", \"client_id\" and \"refresh_token\"";

/// The members of a login this program writes (format version 1); a JSON object with any
/// other member is not one of its logins, of any version.
const LOGIN_MEMBERS: [&str; 4] = ["version", "issuer", "client_id", "refresh_token"];

/// Why there is no default credentials path: Windows, macOS, other Unix.
pub(crate) const NO_APPDATA: &str = "%APPDATA% is not set";
pub(crate) const NO_HOME: &str = "$HOME is not set";
pub(crate) const NO_XDG_CONFIG_HOME_OR_HOME: &str = "neither $XDG_CONFIG_HOME nor $HOME is set";

/// The default credentials path for this platform (see the module docs).
///
/// ```
/// # #[cfg(all(unix, not(target_os = "macos")))] {
/// let path = m4_auth_token::default_credentials_path()?;
/// assert!(path.ends_with("m4-auth/credentials.json"));
/// # }
/// # Ok::<(), m4_auth_token::Error>(())
/// ```
///
/// # Errors
/// [`Error::NoCredentialsDirectory`] when the variables that locate it are unset.
pub fn default_credentials_path() -> Result<PathBuf, Error> {
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = if cfg!(windows) {
        absolute("APPDATA").ok_or(Error::NoCredentialsDirectory { detail: NO_APPDATA })?
    } else if cfg!(target_os = "macos") {
        absolute("HOME")
            .ok_or(Error::NoCredentialsDirectory { detail: NO_HOME })?
            .join("Library/Application Support")
    } else {
        match absolute("XDG_CONFIG_HOME") {
            Some(dir) => dir,
            None => absolute("HOME")
                .ok_or(Error::NoCredentialsDirectory {
                    detail: NO_XDG_CONFIG_HOME_OR_HOME,
                })?
                .join(".config"),
        }
    };
    Ok(base.join(DIR_NAME).join(FILE_NAME))
}

/// A stored login: which provider and client it belongs to, and its refresh token.
/// `Debug` hides the token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredLogin {
    /// The issuer it was obtained from.
    pub issuer: String,
    /// The client id it was obtained with.
    pub client_id: String,
    /// The refresh token.
    pub refresh_token: Secret,
    /// What went wrong, without stopping it, while [`finish_login`](crate::finish_login)
    /// saved this login: the refresh lock could not be taken ([`LoginLock::warning`]). Each
    /// is also logged with `tracing`; a program without a subscriber (the `m4-auth` CLI)
    /// shows them itself. Empty for a login that was saved under the lock, loaded
    /// ([`CredentialsFile::load`]) or built ([`StoredLogin::new`]); never written to the
    /// file, and never holding a token. Compared by `==` like the other fields.
    pub warnings: Vec<String>,
}

impl StoredLogin {
    /// A login record.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, token: Secret) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            refresh_token: token,
            warnings: Vec::new(),
        }
    }
}

impl fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredLogin")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("refresh_token", &self.refresh_token)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// The credentials file at one path.
///
/// ```
/// use m4_auth_token::{CredentialsFile, StoredLogin};
/// use m4_auth_config::Secret;
///
/// let dir = std::env::temp_dir().join(format!("m4-doc-{}", std::process::id()));
/// let file = CredentialsFile::new(dir.join("credentials.json"));
/// assert_eq!(file.load()?, None);
/// file.save(&StoredLogin::new("https://idp.example.com/", "m4-cli", Secret::new("rt-1")))?;
/// assert_eq!(file.load()?.unwrap().refresh_token.expose_secret(), "rt-1");
/// assert!(file.remove()?);
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), m4_auth_token::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsFile {
    path: PathBuf,
}

impl CredentialsFile {
    /// The file at `path` (nothing is read yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the stored login; `None` when there is no file.
    ///
    /// Before it is opened, the path must not be a symbolic link and must be a regular file;
    /// on Unix its directory must not be writable by group or others (nor belong to another
    /// user), and on Linux the file must belong to this process's user. The file opened must be
    /// the one checked (same device and inode), and it is read up to [`MAX_FILE_BYTES`].
    ///
    /// # Errors
    /// [`Error::CredentialsFileUnsafe`] for each of those refusals;
    /// [`Error::CredentialsFileInsecure`] when group or others may access it (Unix);
    /// [`Error::CredentialsFileIo`] when it cannot be read;
    /// [`Error::CredentialsFileNotALogin`] when it is not a login this program wrote (not a
    /// JSON object with a numeric `"version"` and no members but `"version"`, `"issuer"`,
    /// `"client_id"` and `"refresh_token"`), which is decided before its mode is: a file of
    /// the user's named by mistake is reported as that, not as a login to `chmod`;
    /// [`Error::CredentialsFileCorrupt`] when it is one, but damaged or of another format
    /// version.
    pub fn load(&self) -> Result<Option<StoredLogin>, Error> {
        self.load_checked(|| {})
    }

    /// [`CredentialsFile::load`] with `between` called after the checks and before each open
    /// (tests replace the file there).
    ///
    /// A file replaced between its check and its opening is checked and opened once more:
    /// another process saving a rotated refresh token renames a new file over it, a legitimate
    /// race for a load that does not hold the lock (`TokenSource::detect`, logout,
    /// `m4-auth config claude`). The second try runs every check again, so a replacement by
    /// something unsafe (a link, another user's file) is refused for what it is; replaced
    /// twice in a row, it is reported.
    fn load_checked(&self, between: impl FnMut()) -> Result<Option<StoredLogin>, Error> {
        self.load_with(between, true)
    }

    /// [`CredentialsFile::load_checked`], with or without the directory checks (see
    /// [`CredentialsFile::removable`], the only caller that skips them).
    fn load_with(
        &self,
        mut between: impl FnMut(),
        directory: bool,
    ) -> Result<Option<StoredLogin>, Error> {
        match self.load_once(&mut between, directory) {
            Err(Error::CredentialsFileUnsafe {
                problem: FileProblem::Replaced,
                ..
            }) => self.load_once(&mut between, directory),
            other => other,
        }
    }

    /// One check, open and read of the file: what it is, its owner and size (and, with
    /// `directory`, its directory) before the open and again on what was opened; then its
    /// content, whether it is a login at all; then its mode; then the login's members.
    fn load_once(
        &self,
        between: &mut impl FnMut(),
        directory: bool,
    ) -> Result<Option<StoredLogin>, Error> {
        let checked = match fs::symlink_metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read", &e)),
        };
        self.check_file(&checked, directory)?;
        between();
        let file = match fs::File::open(&self.path) {
            Ok(file) => file,
            // Removed since the check (a logout elsewhere): there is no login.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read", &e)),
        };
        let opened = file.metadata().map_err(|e| self.io("read", &e))?;
        if !same_file(&checked, &opened) {
            return Err(self.unsafe_file(FileProblem::Replaced));
        }
        // The checks again on what was opened: its owner or size may have changed since.
        self.check_file(&opened, directory)?;
        let mut text = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut text)
            .map_err(|e| self.io("read", &e))?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(self.unsafe_file(FileProblem::TooLarge {
                size: text.len() as u64,
                limit: MAX_FILE_BYTES,
            }));
        }
        let corrupt = |detail: &str| Error::CredentialsFileCorrupt {
            path: self.path.clone(),
            detail: detail.to_owned(),
        };
        let not_a_login = |detail| Error::CredentialsFileNotALogin {
            path: self.path.clone(),
            detail,
        };
        let value = login_shaped(&text).map_err(not_a_login)?;
        // Only a login's mode matters: the user's notes (mode 0644, named by mistake) are
        // "not a login", not a login to `chmod`, and logout and save leave them alone.
        self.check_mode(&opened)?;
        let string = |name: &str| {
            value
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| corrupt(&format!("it has no \"{name}\" string")))
        };
        match value.get("version").and_then(Value::as_u64) {
            Some(FORMAT_VERSION) => {}
            // `login_shaped` saw a number there.
            other => {
                return Err(corrupt(&format!(
                    "it is format version {}, this program reads version {FORMAT_VERSION}",
                    other.map_or_else(|| "?".to_owned(), |v| v.to_string())
                )));
            }
        }
        Ok(Some(StoredLogin {
            issuer: string("issuer")?,
            client_id: string("client_id")?,
            refresh_token: Secret::new(string("refresh_token")?),
            warnings: Vec::new(),
        }))
    }

    /// Writes `login` atomically, owner-only (see the module docs).
    ///
    /// A file already at the path is replaced only when it is a login this program wrote
    /// (damaged, of another format version or readable by others included; its content is
    /// read to tell): anything else may be a file of the user's that
    /// `M4_OAUTH2_CREDENTIALS_FILE` names by mistake, and is left as it is. A device login
    /// checks the same before it starts.
    ///
    /// # Errors
    /// [`Error::CredentialsFileIo`] when the directory or file cannot be written (or the file
    /// there cannot be read); [`Error::CredentialsFileUnsafe`] for a directory others may
    /// write to, a symbolic link or anything but a regular file, and for a file there that is
    /// too large to be a login or belongs to another user; [`Error::CredentialsFileNotALogin`]
    /// when the file there is not a login this program wrote.
    pub fn save(&self, login: &StoredLogin) -> Result<(), Error> {
        let dir = self.dir();
        create_private_dir(&dir).map_err(|e| self.io("write", &e))?;
        self.check_saveable()?;
        let body = json!({
            "version": FORMAT_VERSION,
            "issuer": login.issuer,
            "client_id": login.client_id,
            "refresh_token": login.refresh_token.expose_secret(),
        });
        let text = serde_json::to_vec_pretty(&body).map_err(|e| Error::CredentialsFileIo {
            path: self.path.clone(),
            action: "write",
            detail: e.to_string(),
        })?;
        if text.len() as u64 > MAX_FILE_BYTES {
            // `load` would refuse it: better to say so now than on the next start.
            return Err(Error::CredentialsFileIo {
                path: self.path.clone(),
                action: "write",
                detail: login_too_large(text.len()),
            });
        }
        let temp = dir.join(format!(".{}.{}.tmp", self.file_name(), std::process::id()));
        // A leftover from a crashed run with the same process id would block create_new.
        let _ = fs::remove_file(&temp);
        let written = write_private(&temp, &text).and_then(|()| fs::rename(&temp, &self.path));
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(self.io("write", &e));
        }
        Ok(())
    }

    /// Whether [`CredentialsFile::save`] may write a login here, checked by `save` itself and
    /// by a device login before it starts (so the user is not asked to approve a login that
    /// cannot be stored), in `save`'s order: the directory (when it exists; `save` creates a
    /// missing one `0700`) must not be writable by group or others nor belong to another
    /// user; a file at the path must be a regular file, never a symbolic link; and it must be
    /// a login this program wrote (damaged, of another format version or readable by others
    /// included), read to tell. Anything else is refused with the error
    /// [`CredentialsFile::load`] gives for it.
    pub(crate) fn check_saveable(&self) -> Result<(), Error> {
        let dir = self.dir();
        match fs::metadata(&dir) {
            // Nothing can be there yet.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            _ => self.check_directory(&dir)?,
        }
        match fs::symlink_metadata(&self.path) {
            Ok(existing) => self.check_kind(&existing)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(self.io("write", &e)),
        }
        match self.load() {
            Ok(_)
            | Err(Error::CredentialsFileInsecure { .. } | Error::CredentialsFileCorrupt { .. }) => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// What [`logout`](crate::logout) does with a file [`CredentialsFile::load`] refused with
    /// `error`: `Ok(error)` when it removes the file without using a login from it (see
    /// [`removable`]), `Err` with the refusal when it leaves it in place. For a directory
    /// others may write to or that belongs to another user, `load` stops before opening the
    /// file; it is then opened and read anyway (with every other check, the same-file one
    /// included) to tell whether it is a login at all: the user's own file there is never
    /// removed, and a login others could read is reported as that (it may have been exposed).
    pub(crate) fn removable(&self, error: Error) -> Result<Error, Error> {
        if !removable(&error) {
            return Err(error);
        }
        if !matches!(
            error,
            Error::CredentialsFileUnsafe {
                problem: FileProblem::DirectoryWritable { .. }
                    | FileProblem::DirectoryNotOwned { .. },
                ..
            }
        ) {
            return Ok(error);
        }
        match self.load_with(|| {}, false) {
            Ok(_) => Ok(error),
            // Readable by others: that it may have been exposed is what the user must hear
            // (revoke it), more than the directory's mode.
            Err(e @ Error::CredentialsFileInsecure { .. }) => Ok(e),
            Err(e) if removable(&e) => Ok(error),
            Err(e) => Err(e),
        }
    }

    /// Holds the login for one refresh across processes: an exclusive lock on a sibling file
    /// (`.<name>.lock`, owner-only), released when the guard is dropped. Two processes that
    /// refreshed the same stored login at once would both send one refresh token; a provider
    /// that detects reuse (Auth0, Okta, the dev issuer) then revokes the whole login. Under
    /// the lock the second one reads the token the first one saved and uses that instead.
    ///
    /// A lock file that is a symbolic link or not a regular file is refused, never followed
    /// (see [`FileProblem::LockFile`]). Where the lock file cannot be created or opened
    /// because this user may not write to the directory or to the lock file that is there, or
    /// the file system is read-only (a root-provisioned login of a service account, a
    /// read-only mount), the refresh goes ahead without the lock, with a warning worded by
    /// the case, rather than locking the user out: the returned guard then says
    /// [`LoginLock::is_held`] `false`.
    ///
    /// The warning says the lock was wanted for a refresh; a login or a logout, which take the
    /// same lock, use [`CredentialsFile::lock_for`] so that it names them instead.
    ///
    /// # Errors
    /// [`Error::CredentialsFileUnsafe`] for the lock file or directory refusals;
    /// [`Error::CredentialsFileIo`] when the lock file cannot be created or locked for another
    /// reason (its directory's path names a regular file, ...).
    pub fn lock(&self) -> Result<LoginLock, Error> {
        self.lock_for(LockPurpose::Refresh)
    }

    /// [`CredentialsFile::lock`], taken for `purpose`: the same lock, but not the same
    /// refusals, so take it for the operation you are doing.
    ///
    /// - [`LockPurpose::Refresh`] goes on without the lock only where writing is refused (a
    ///   directory or lock file this user may not write, a read-only file system) and is an
    ///   error on any other failure, as [`CredentialsFile::lock`] says: two unlocked refreshes
    ///   could present one refresh token twice.
    /// - [`LockPurpose::Login`] and [`LockPurpose::Logout`] go on without it on any failure to
    ///   create, open or take it: stopping would lose a login the user has just approved, or
    ///   keep one they asked to remove.
    ///
    /// Going on without the lock, the guard is not held and carries a warning that names the
    /// operation and what could then go wrong ("saving the new login in ...", "logging out of
    /// the stored login in ...").
    ///
    /// ```
    /// use m4_auth_token::{CredentialsFile, LockPurpose};
    ///
    /// let dir = std::env::temp_dir().join(format!("m4-doc-lock-for-{}", std::process::id()));
    /// let file = CredentialsFile::new(dir.join("credentials.json"));
    /// let lock = file.lock_for(LockPurpose::Logout)?;
    /// assert!(lock.is_held());
    /// # drop(lock);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), m4_auth_token::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`CredentialsFile::lock`].
    pub fn lock_for(&self, purpose: LockPurpose) -> Result<LoginLock, Error> {
        let dir = self.dir();
        let lock = self.lock_path();
        if let Err(e) = create_private_dir(&dir) {
            return self.unheld(&lock, &e, LockStep::Create, purpose);
        }
        self.check_directory(&dir)?;
        let file = match self.open_lock(&lock)? {
            Ok(file) => file,
            Err((step, e)) => return self.unheld(&lock, &e, step, purpose),
        };
        if let Err(e) = file.lock() {
            return self.unheld(&lock, &e, LockStep::Lock, purpose);
        }
        Ok(LoginLock {
            file: Some(file),
            warning: None,
        })
    }

    /// [`lock_for`](Self::lock_for) for a login or a logout, which a lock file that is not a
    /// plain file ([`FileProblem::LockFile`]) does not stop: every refresh is refused that
    /// lock, so none can race them, and stopping would lose a login the user just approved or
    /// keep one they asked to remove. The lock (if held) and the warnings to show.
    pub(crate) fn lock_or_warn(
        &self,
        purpose: LockPurpose,
    ) -> Result<(Option<LoginLock>, Vec<String>), Error> {
        match self.lock_for(purpose) {
            Ok(lock) => {
                let warnings = lock.warning().map(str::to_owned).into_iter().collect();
                Ok((Some(lock), warnings))
            }
            Err(
                e @ Error::CredentialsFileUnsafe {
                    problem: FileProblem::LockFile { .. },
                    ..
                },
            ) => {
                let warning = went_on_past(purpose, &e);
                tracing::warn!(code = e.code(), "{warning}");
                Ok((None, vec![warning]))
            }
            Err(e) => Err(e),
        }
    }

    /// The lock could not be created, opened or taken (at `step`): go on without it when the
    /// reason is that this user may not write there ([`cannot_lock_here`]); otherwise a
    /// refresh gets the error (two unlocked refreshes can present one refresh token twice,
    /// which a provider that detects reuse answers by revoking the login), while a login or a
    /// logout goes on without it too: stopping would lose a login the user just approved, or
    /// keep one they asked to remove.
    fn unheld(
        &self,
        lock: &Path,
        error: &io::Error,
        step: LockStep,
        purpose: LockPurpose,
    ) -> Result<LoginLock, Error> {
        let cause = if !cannot_lock_here(error) {
            match purpose {
                LockPurpose::Refresh => return Err(self.io("lock", error)),
                LockPurpose::Login | LockPurpose::Logout => LockBlocked::Failed,
            }
        } else if error.kind() == io::ErrorKind::ReadOnlyFilesystem {
            LockBlocked::ReadOnly
        } else {
            match step {
                LockStep::Create => LockBlocked::Directory,
                LockStep::Open | LockStep::Lock => LockBlocked::LockFile,
            }
        };
        let warning =
            lock_unavailable(&self.path, lock, &shown(&error.to_string()), cause, purpose);
        tracing::warn!(code = "credentials_file_error", "{warning}");
        Ok(LoginLock {
            file: None,
            warning: Some(warning),
        })
    }

    /// The lock file: `.<name>.lock` beside the credentials file.
    fn lock_path(&self) -> PathBuf {
        self.dir().join(format!(".{}.lock", self.file_name()))
    }

    /// Opens the lock file without following a symbolic link, and without truncating it. std
    /// has no `O_NOFOLLOW`, so: a lock file that is there must be a regular file (checked with
    /// `symlink_metadata`) and the one opened must be the one checked (device and inode); it
    /// is opened for reading and writing (no create, no truncate) and never written. Writing
    /// is needed: on NFS, Linux emulates `flock` with a byte-range lock, and an exclusive one
    /// needs a descriptor open for writing (NFSv4 answers `EBADF` to a read-only one). One
    /// that is not there is created with `create_new` (`O_CREAT | O_EXCL`), which fails on a
    /// link planted since the look instead of following it. Another process creating or
    /// removing it in between makes a second try. The outer error is a refusal; the
    /// inner one what the system said when creating or opening it, and which of the two.
    fn open_lock(&self, lock: &Path) -> Result<Result<fs::File, (LockStep, io::Error)>, Error> {
        for _ in 0..2 {
            match fs::symlink_metadata(lock) {
                Ok(checked) => {
                    self.check_lock_kind(lock, &checked)?;
                    let opened = fs::OpenOptions::new().read(true).write(true).open(lock);
                    let file = match opened {
                        Ok(file) => file,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Ok(Err((LockStep::Open, e))),
                    };
                    let opened = file.metadata().map_err(|e| self.io("lock", &e))?;
                    if !same_file(&checked, &opened) {
                        return Err(self.lock_unsafe(lock, LOCK_REPLACED.to_owned()));
                    }
                    return Ok(Ok(file));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let mut options = fs::OpenOptions::new();
                    options.read(true).write(true).create_new(true);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::OpenOptionsExt as _;
                        options.mode(0o600);
                    }
                    match options.open(lock) {
                        Ok(file) => return Ok(Ok(file)),
                        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                        Err(e) => return Ok(Err((LockStep::Create, e))),
                    }
                }
                Err(e) => return Ok(Err((LockStep::Create, e))),
            }
        }
        Err(self.lock_unsafe(lock, LOCK_REPLACED.to_owned()))
    }

    /// Refuses a lock file that is a symbolic link or not a regular file.
    fn check_lock_kind(&self, lock: &Path, metadata: &fs::Metadata) -> Result<(), Error> {
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(lock)
                .map(|t| shown(&t.display().to_string()))
                .unwrap_or_else(|_| "?".to_owned());
            return Err(self.lock_unsafe(lock, lock_is_symlink(&target)));
        }
        if kind.is_file() {
            return Ok(());
        }
        Err(self.lock_unsafe(lock, lock_not_regular(kind_name(kind))))
    }

    fn lock_unsafe(&self, lock: &Path, what: String) -> Error {
        self.unsafe_file(FileProblem::LockFile {
            lock: lock.to_path_buf(),
            what,
        })
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| FILE_NAME.to_owned())
    }

    /// Deletes the file; `Ok(false)` when there was none.
    ///
    /// # Errors
    /// [`Error::CredentialsFileIo`] when it exists and cannot be removed.
    pub fn remove(&self) -> Result<bool, Error> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io("remove", &e)),
        }
    }

    /// The checks on the file's own metadata (from `symlink_metadata` before opening, from
    /// the open file after): what it is, its owner, its size, then (with `directory`) its
    /// directory. The file's own problems come first: logout removes a file refused only for
    /// its directory or mode once its content shows it is a login (one others may have
    /// replaced or read), and must never remove one that is not a login it could have written
    /// (another user's, or too big). The mode is checked after the content
    /// ([`CredentialsFile::check_mode`]).
    fn check_file(&self, metadata: &fs::Metadata, directory: bool) -> Result<(), Error> {
        self.check_kind(metadata)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            if let Some(uid) = effective_uid()
                && metadata.uid() != uid
            {
                return Err(self.unsafe_file(FileProblem::NotOwned {
                    owner: metadata.uid(),
                    uid,
                }));
            }
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(self.unsafe_file(FileProblem::TooLarge {
                size: metadata.len(),
                limit: MAX_FILE_BYTES,
            }));
        }
        if directory {
            self.check_directory(&self.dir())?;
        }
        Ok(())
    }

    /// Refuses a file group or others may access (Unix); Windows files inherit the per-user
    /// ACL of `%APPDATA%`, which is not checked.
    #[cfg_attr(not(unix), allow(clippy::unused_self, clippy::unnecessary_wraps))]
    fn check_mode(&self, metadata: &fs::Metadata) -> Result<(), Error> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::CredentialsFileInsecure {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = metadata;
        Ok(())
    }

    /// Refuses a symbolic link and anything but a regular file (a FIFO would block the open,
    /// a device would be read forever).
    fn check_kind(&self, metadata: &fs::Metadata) -> Result<(), Error> {
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&self.path)
                .map(|t| shown(&t.display().to_string()))
                .unwrap_or_else(|_| "?".to_owned());
            return Err(self.unsafe_file(FileProblem::Symlink { target }));
        }
        if kind.is_file() {
            return Ok(());
        }
        let what = kind_name(kind);
        Err(self.unsafe_file(FileProblem::NotRegular { kind: what }))
    }

    /// Refuses a directory group or others may write to, or that belongs to another user
    /// than this process's or root (Unix; the owner only where [`effective_uid`] knows it), as
    /// ssh does for the directories above `authorized_keys`: whoever may write to it may
    /// replace the file with a login of their own. The sticky bit does not make it acceptable.
    #[cfg_attr(not(unix), allow(clippy::unused_self, clippy::unnecessary_wraps))]
    fn check_directory(&self, dir: &Path) -> Result<(), Error> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
            let metadata = fs::metadata(dir).map_err(|e| Error::CredentialsFileIo {
                path: self.path.clone(),
                action: "check the directory of",
                detail: shown(&e.to_string()),
            })?;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                return Err(self.unsafe_file(FileProblem::DirectoryWritable {
                    dir: dir.to_path_buf(),
                    mode,
                }));
            }
            if let Some(uid) = effective_uid()
                && metadata.uid() != uid
                && metadata.uid() != 0
            {
                return Err(self.unsafe_file(FileProblem::DirectoryNotOwned {
                    dir: dir.to_path_buf(),
                    owner: metadata.uid(),
                    uid,
                }));
            }
        }
        #[cfg(not(unix))]
        let _ = dir;
        Ok(())
    }

    fn unsafe_file(&self, problem: FileProblem) -> Error {
        Error::CredentialsFileUnsafe {
            path: self.path.clone(),
            problem,
        }
    }

    fn io(&self, action: &'static str, error: &io::Error) -> Error {
        Error::CredentialsFileIo {
            path: self.path.clone(),
            action,
            detail: shown(&error.to_string()),
        }
    }
}

/// What the cross-process lock of a stored login is taken for ([`CredentialsFile::lock_for`]).
///
/// A refresh, a login and a logout take the same lock; the purpose decides which failures to
/// take it stop the operation (a refresh stops on more of them) and words the warning given
/// when it goes on without the lock (see [`CredentialsFile::lock_for`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LockPurpose {
    /// Refreshing the stored login (what [`CredentialsFile::lock`] takes it for): "refreshing
    /// the stored login in ...".
    Refresh,
    /// Saving a new login ([`finish_login`](crate::finish_login)): "saving the new login in ...".
    Login,
    /// Removing the stored login ([`logout`](crate::logout)): "logging out of the stored login
    /// in ...".
    Logout,
}

/// The cross-process lock of a stored login, from [`CredentialsFile::lock`]; released on drop.
#[derive(Debug)]
pub struct LoginLock {
    file: Option<fs::File>,
    warning: Option<String>,
}

impl LoginLock {
    /// Whether the lock is held: `false` when this user may not create or open the lock file
    /// (see [`CredentialsFile::lock`]), and the refresh goes on without it.
    ///
    /// ```
    /// use m4_auth_token::CredentialsFile;
    ///
    /// let dir = std::env::temp_dir().join(format!("m4-doc-held-{}", std::process::id()));
    /// let file = CredentialsFile::new(dir.join("credentials.json"));
    /// let lock = file.lock()?; // a directory of this user's: the lock is taken
    /// assert!(lock.is_held());
    /// drop(lock); // released
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), m4_auth_token::Error>(())
    /// ```
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }

    /// Why it is not held, with the fix (also logged as a warning); `None` when it is.
    ///
    /// ```
    /// use m4_auth_token::CredentialsFile;
    ///
    /// let dir = std::env::temp_dir().join(format!("m4-doc-warning-{}", std::process::id()));
    /// let file = CredentialsFile::new(dir.join("credentials.json"));
    /// let lock = file.lock()?;
    /// if let Some(warning) = lock.warning() {
    ///     eprintln!("warning: {warning}"); // what a program without `tracing` shows
    /// }
    /// assert_eq!(lock.warning(), None, "held, so nothing to say");
    /// # drop(lock);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok::<(), m4_auth_token::Error>(())
    /// ```
    pub fn warning(&self) -> Option<&str> {
        self.warning.as_deref()
    }
}

/// Whether `error`, from [`CredentialsFile::load`], is one for which `logout` removes the file
/// without using a login from it: a login this program wrote that is readable by others or
/// damaged (a member missing, another format version); a symbolic link, which is removed and
/// never its target; a file in a directory others may write to or that belongs to another
/// user, once [`CredentialsFile::removable`] has read it and found a login. `load` decides
/// the content before the mode, so a file refused for its mode is a login. Everything else is
/// not a login this program wrote, or cannot be told to be one, and is left in place: not a
/// regular file, larger than a login can be, another user's, replaced while it was checked
/// (twice), unreadable, or content that is not a login (not JSON, not a JSON object, no
/// `"version"` number, members a login does not have).
///
/// `save` replaces less: never a link, nor anything in such a directory
/// ([`CredentialsFile::check_saveable`]).
pub(crate) fn removable(error: &Error) -> bool {
    crate::login::unread_note(error).is_some()
}

/// Whether `text` is shaped like a login this program wrote, of any format version: a JSON
/// object with a numeric `"version"` and no member but [`LOGIN_MEMBERS`]. The error says what
/// it is instead, never its content.
fn login_shaped(text: &[u8]) -> Result<Value, &'static str> {
    let value: Value = serde_json::from_slice(text).map_err(|_| NOT_JSON)?;
    let Some(members) = value.as_object() else {
        return Err(NOT_AN_OBJECT);
    };
    if members.get("version").and_then(Value::as_u64).is_none() {
        return Err(NO_VERSION);
    }
    if members
        .keys()
        .any(|name| !LOGIN_MEMBERS.contains(&name.as_str()))
    {
        return Err(OTHER_MEMBERS);
    }
    Ok(value)
}

/// Whether an error creating or opening the lock file (or its directory) means "this user
/// may not write here": permission denied (`EACCES`, `EPERM`) or a read-only file system
/// (`EROFS`). Anything else (a path through a regular file, a full disk, ...) is an error.
pub(crate) fn cannot_lock_here(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// Which step of taking the lock failed: creating the directory or the lock file, or opening
/// the lock file that is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockStep {
    Create,
    Open,
    /// The `flock` call on the opened lock file.
    Lock,
}

/// Why the lock cannot be taken, for [`lock_unavailable`]'s words and fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockBlocked {
    /// The lock file (or the directory) cannot be created: the directory is not writable.
    Directory,
    /// The lock file is there but this user may not open it for writing.
    LockFile,
    /// The file system is read-only (`EROFS`), whichever step it was.
    ReadOnly,
    /// Any other failure (no space, no locks on this file system), for a login or a logout.
    Failed,
}

/// The warning of a login or a logout that went on past a lock file it refused (`error`, a
/// [`FileProblem::LockFile`]): the error names the lock file and the fix.
pub(crate) fn went_on_past(purpose: LockPurpose, error: &Error) -> String {
    let done = match purpose {
        LockPurpose::Refresh => "refreshed the stored login",
        LockPurpose::Login => "saved the new login",
        LockPurpose::Logout => "logged out",
    };
    format!("{done} without the cross-process lock: {error}")
}

/// The warning when a refresh, login or logout (`purpose`) goes ahead without the
/// cross-process lock, worded by `cause`.
pub(crate) fn lock_unavailable(
    path: &Path,
    lock: &Path,
    detail: &str,
    cause: LockBlocked,
    purpose: LockPurpose,
) -> String {
    const ELSEWHERE: &str = "set M4_OAUTH2_CREDENTIALS_FILE to a file in a directory of your \
                             own and run `m4-auth login`";
    let (doing, risk, recreated) = match purpose {
        LockPurpose::Refresh => (
            "refreshing the stored login in",
            "two processes refreshing it at once could present the same refresh token, which a \
             provider that detects reuse answers by revoking the login",
            "the next refresh creates it again",
        ),
        LockPurpose::Login => (
            "saving the new login in",
            "a process refreshing the previous login at the same time could save that login's \
             rotated refresh token over the new one, so M4 would go on as the previous login",
            "the next refresh of the new login creates it again",
        ),
        LockPurpose::Logout => (
            "logging out of the stored login in",
            "a process refreshing it at the same time could save a rotated refresh token after \
             logout removed the file, and so keep the login",
            "the next `m4-auth login` creates it again",
        ),
    };
    let lock = lock.display();
    let (why, fix) = match cause {
        LockBlocked::Directory => (
            format!(
                "its lock file {lock} cannot be created ({detail}), as this user may not write \
                 to its directory"
            ),
            format!("make the directory writable by this user, or {ELSEWHERE}"),
        ),
        LockBlocked::LockFile => (
            format!(
                "its lock file {lock} is there but cannot be opened for writing ({detail}), as \
                 this user may not write to it"
            ),
            format!(
                "make the lock file writable by this user or remove it ({recreated}), or \
                 {ELSEWHERE}"
            ),
        ),
        LockBlocked::ReadOnly => (
            format!(
                "its lock file {lock} cannot be created or opened for writing ({detail}), as \
                 the file system is read-only"
            ),
            format!("remount the file system writable, or {ELSEWHERE}"),
        ),
        LockBlocked::Failed => (
            format!("its lock file {lock} could not be used ({detail})"),
            format!("fix what that names ({recreated} if it is removed), or {ELSEWHERE}"),
        ),
    };
    format!(
        "{doing} {} without the cross-process lock: {why}; {risk}: {fix}",
        path.display()
    )
}

/// Creates `dir` (and parents) with mode 0700 where it does not exist yet.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` fresh with mode 0600, writes `bytes` and syncs them to disk.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Why a login is not written: larger than [`MAX_FILE_BYTES`] (its refresh token, since the
/// rest is configuration).
pub(crate) fn login_too_large(size: usize) -> String {
    format!(
        "the login is {size} bytes, more than the {MAX_FILE_BYTES} a credentials file may hold \
         (the provider's refresh token is that large); ask the provider's administrators why"
    )
}

/// What is wrong with a lock file, in [`FileProblem::LockFile`].
pub(crate) const LOCK_REPLACED: &str = "it was replaced between its check and its opening";

pub(crate) fn lock_is_symlink(target: &str) -> String {
    format!("it is a symbolic link (to \"{target}\"), which is never followed")
}

pub(crate) fn lock_not_regular(kind: &str) -> String {
    format!("it is {kind}, not a regular file")
}

/// What a path that is not a regular file is, for [`FileProblem::NotRegular`].
fn kind_name(kind: fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if kind.is_socket() {
            return KIND_SOCKET;
        }
        if kind.is_fifo() {
            return KIND_FIFO;
        }
        if kind.is_block_device() || kind.is_char_device() {
            return KIND_DEVICE;
        }
    }
    if kind.is_dir() {
        KIND_DIRECTORY
    } else {
        KIND_SPECIAL
    }
}

/// Whether two metadata describe the same file: the same device and inode on Unix. Elsewhere
/// std exposes no file identity, and the check is skipped.
fn same_file(checked: &fs::Metadata, opened: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        checked.dev() == opened.dev() && checked.ino() == opened.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (checked, opened);
        true
    }
}

/// This process's effective user id, where std can tell it: on Linux the second field of the
/// `Uid:` line of `/proc/self/status` (proc(5)). Not the owner of `/proc/self`, which reads as
/// root for a process that is not dumpable (setuid, or a binary given file capabilities).
/// `None` without `/proc` (macOS, the BSDs, a container without it), where the owner checks
/// are skipped and the mode checks remain.
#[cfg(unix)]
fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let ids = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    ids.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    /// The effective user id read from `/proc/self/status` is the owner of a file this
    /// process creates (where there is a `/proc`).
    #[test]
    fn the_effective_uid_owns_what_this_process_creates() {
        use std::os::unix::fs::MetadataExt as _;
        let Some(uid) = effective_uid() else {
            assert!(fs::metadata("/proc/self/status").is_err(), "/proc is there");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine");
        fs::write(&file, b"x").unwrap();
        assert_eq!(fs::metadata(&file).unwrap().uid(), uid);
    }

    /// Which errors creating the lock file mean "this user may not write here" (the refresh
    /// goes on without the lock) and which stay errors, without depending on the permissions
    /// the tests run with (as root a 0500 directory is writable).
    #[test]
    fn only_a_directory_this_user_may_not_write_is_refreshed_unlocked() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path().join("m4").join("credentials.json"));
        let lock = file.lock_path();
        let unlocked = [
            io::Error::from(io::ErrorKind::PermissionDenied),
            io::Error::from(io::ErrorKind::ReadOnlyFilesystem),
            io::Error::from_raw_os_error(13), // EACCES
            io::Error::from_raw_os_error(1),  // EPERM
            io::Error::from_raw_os_error(30), // EROFS
        ];
        for error in &unlocked {
            assert!(cannot_lock_here(error), "{error}");
            for step in [LockStep::Create, LockStep::Open] {
                let guard = file
                    .unheld(&lock, error, step, LockPurpose::Refresh)
                    .unwrap();
                assert!(!guard.is_held(), "{error}");
                // Worded by the case: a read-only file system, else the step that failed.
                let warning = guard.warning().unwrap();
                let expected = match (error.kind(), step) {
                    (io::ErrorKind::ReadOnlyFilesystem, _) => "the file system is read-only",
                    (_, LockStep::Create) => "may not write to its directory",
                    (_, LockStep::Open | LockStep::Lock) => "may not write to it;",
                };
                assert!(warning.contains(expected), "{step:?}: {warning}");
            }
        }
        let refused = [
            io::Error::from_raw_os_error(20), // ENOTDIR: a path through a regular file
            io::Error::from_raw_os_error(21), // EISDIR
            io::Error::from_raw_os_error(28), // ENOSPC
            io::Error::from(io::ErrorKind::NotFound),
            io::Error::other("anything else"),
        ];
        for error in &refused {
            assert!(!cannot_lock_here(error), "{error}");
            let err = file
                .unheld(&lock, error, LockStep::Open, LockPurpose::Refresh)
                .unwrap_err();
            assert!(
                matches!(err, Error::CredentialsFileIo { action: "lock", .. }),
                "{err}"
            );
        }

        // A login or a logout is not stopped by any of them: the lock only keeps a refresh
        // elsewhere from racing it, and stopping would lose a login the user just approved
        // or leave a login they asked to remove. They go on without it, and say why; and
        // so for a failure of the lock call itself (ENOLCK on an NFS mount without locking).
        for purpose in [LockPurpose::Login, LockPurpose::Logout] {
            let enolck = io::Error::from_raw_os_error(37);
            let errors = refused.iter().chain([&enolck]);
            for (error, step) in errors.zip(
                [LockStep::Create, LockStep::Open, LockStep::Lock]
                    .iter()
                    .cycle(),
            ) {
                let guard = file.unheld(&lock, error, *step, purpose).unwrap();
                assert!(!guard.is_held(), "{purpose:?} {error}");
                let warning = guard.warning().unwrap();
                assert!(
                    warning.contains("could not be used")
                        && warning.contains(&shown(&error.to_string())),
                    "{purpose:?}: {warning}"
                );
            }
        }
        // The lock call failing stops a refresh, as before (ENOLCK).
        let enolck = io::Error::from_raw_os_error(37);
        let err = file
            .unheld(&lock, &enolck, LockStep::Lock, LockPurpose::Refresh)
            .unwrap_err();
        assert!(
            matches!(err, Error::CredentialsFileIo { action: "lock", .. }),
            "{err}"
        );

        // For real: a directory path through a regular file is an error, not an unlocked
        // refresh (whoever runs the tests).
        fs::write(dir.path().join("plain"), b"x").unwrap();
        let through = CredentialsFile::new(dir.path().join("plain").join("credentials.json"));
        let err = through.lock().unwrap_err();
        assert!(
            matches!(err, Error::CredentialsFileIo { action: "lock", .. }),
            "{err}"
        );
        // And a writable directory is locked.
        assert!(file.lock().unwrap().is_held());
    }

    /// A lock file that is already there is opened for writing, as one that is created is: on
    /// NFS, Linux emulates `flock` with a byte-range lock, and an exclusive one needs a
    /// descriptor open for writing (NFSv4 answers `EBADF` otherwise), so a read-only open
    /// locked out every refresh and logout after the first. It is still never truncated.
    #[test]
    fn an_existing_lock_file_is_opened_for_writing_and_never_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path().join("m4").join("credentials.json"));
        let writable = |guard: &LoginLock| {
            // A zero-byte write still asks the kernel, which refuses (`EBADF`) a descriptor
            // not open for writing, and changes nothing.
            let handle = guard.file.as_ref().expect("the lock is held");
            (&*handle).write(&[]).map(|_| ())
        };
        let created = file.lock().unwrap();
        writable(&created).unwrap();
        drop(created);

        fs::write(file.lock_path(), b"left by an older version").unwrap();
        for _ in 0..2 {
            let existing = file.lock().unwrap();
            assert!(existing.is_held());
            if let Err(e) = writable(&existing) {
                panic!("the existing lock file is not open for writing: {e}");
            }
        }
        assert_eq!(
            fs::read(file.lock_path()).unwrap(),
            b"left by an older version"
        );
    }

    /// The file checked is swapped for a link to another owner-only file before the open:
    /// the open follows the link, the device and inode comparison notices, and the second try
    /// (a replacement may be another process's rotation) checks the path again and refuses
    /// the link. The planted login is never returned.
    #[test]
    fn a_file_replaced_between_check_and_open_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path().join("m4").join("credentials.json"));
        let login = StoredLogin::new("https://idp.example.com/", "m4-cli", Secret::new("rt-1"));
        file.save(&login).unwrap();
        let planted = CredentialsFile::new(dir.path().join("m4").join("planted.json"));
        let other = StoredLogin::new("https://idp.example.com/", "m4-cli", Secret::new("rt-x"));
        planted.save(&other).unwrap();

        let mut swaps = 0;
        let err = file
            .load_checked(|| {
                swaps += 1;
                if swaps == 1 {
                    fs::remove_file(file.path()).unwrap();
                    std::os::unix::fs::symlink(planted.path(), file.path()).unwrap();
                }
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::CredentialsFileUnsafe {
                    problem: FileProblem::Symlink { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(swaps, 1, "refused at the second check, before the open");

        // Swapped for a link again at the second try too: still refused.
        fs::remove_file(file.path()).unwrap();
        file.save(&login).unwrap();
        let err = file
            .load_checked(|| {
                let _ = fs::remove_file(file.path());
                std::os::unix::fs::symlink(planted.path(), file.path()).unwrap();
            })
            .unwrap_err();
        assert!(matches!(err, Error::CredentialsFileUnsafe { .. }), "{err}");

        // Replaced (renamed over) by another user's login: refused at the second check.
        if effective_uid() == Some(0) {
            fs::remove_file(file.path()).unwrap();
            file.save(&login).unwrap();
            std::os::unix::fs::chown(planted.path(), Some(65534), None).unwrap();
            let mut swaps = 0;
            let err = file
                .load_checked(|| {
                    swaps += 1;
                    if swaps == 1 {
                        fs::rename(planted.path(), file.path()).unwrap();
                    }
                })
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    Error::CredentialsFileUnsafe {
                        problem: FileProblem::NotOwned { owner: 65534, .. },
                        ..
                    }
                ),
                "{err}"
            );
        }

        // Without a swap the same call reads the login.
        let _ = fs::remove_file(file.path());
        file.save(&login).unwrap();
        let read = file.load_checked(|| {}).unwrap().unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "rt-1");
    }

    /// Another process saving a rotated login (an atomic rename) between the check and the
    /// open is a legitimate race: the load tries once more and reads the new login. Replaced
    /// twice in a row, it reports the replacement.
    #[test]
    fn a_login_rotated_by_another_process_between_check_and_open_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = CredentialsFile::new(dir.path().join("m4").join("credentials.json"));
        let login =
            |rt: &str| StoredLogin::new("https://idp.example.com/", "m4-cli", Secret::new(rt));
        file.save(&login("rt-1")).unwrap();

        let mut rotations = 0;
        let read = file
            .load_checked(|| {
                rotations += 1;
                if rotations == 1 {
                    file.save(&login("rt-2")).unwrap();
                }
            })
            .unwrap()
            .unwrap();
        assert_eq!(read.refresh_token.expose_secret(), "rt-2");
        assert_eq!(rotations, 2);

        let mut rotations = 0;
        let err = file
            .load_checked(|| {
                rotations += 1;
                file.save(&login(&format!("rt-{}", rotations + 2))).unwrap();
            })
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::CredentialsFileUnsafe {
                    problem: FileProblem::Replaced,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(rotations, 2, "one retry, no more");
    }
}
