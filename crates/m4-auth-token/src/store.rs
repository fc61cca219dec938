//! The credentials file: where `m4-auth login` keeps its refresh token.
//!
//! - Default location: `$XDG_CONFIG_HOME/m4-auth/credentials.json` (or
//!   `~/.config/m4-auth/credentials.json`) on Linux and other Unix,
//!   `~/Library/Application Support/m4-auth/credentials.json` on macOS,
//!   `%APPDATA%\m4-auth\credentials.json` on Windows; `M4_OAUTH2_CREDENTIALS_FILE` overrides.
//! - Owner-only: on Unix a file whose mode gives group or others any access is refused, as
//!   ssh refuses such keys, with the `chmod` to run. The directory is created `0700`.
//! - Written atomically: a temporary file created `0600` in the same directory, synced, then
//!   renamed over the old one, so a reader sees the old login or the new one, never half.
//! - The content: `{"version":1,"issuer":…,"client_id":…,"refresh_token":…}`; only the
//!   refresh token is secret, and it is never shown.

use std::fmt;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use m4_auth_config::Secret;
use m4_jwks::shown;
use serde_json::{Value, json};

use crate::error::Error;

const FILE_NAME: &str = "credentials.json";
const DIR_NAME: &str = "m4-auth";
const FORMAT_VERSION: u64 = 1;

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
        absolute("APPDATA").ok_or(Error::NoCredentialsDirectory {
            detail: "%APPDATA% is not set",
        })?
    } else if cfg!(target_os = "macos") {
        absolute("HOME")
            .ok_or(Error::NoCredentialsDirectory {
                detail: "$HOME is not set",
            })?
            .join("Library/Application Support")
    } else {
        match absolute("XDG_CONFIG_HOME") {
            Some(dir) => dir,
            None => absolute("HOME")
                .ok_or(Error::NoCredentialsDirectory {
                    detail: "neither $XDG_CONFIG_HOME nor $HOME is set",
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
}

impl StoredLogin {
    /// A login record.
    pub fn new(issuer: impl Into<String>, client_id: impl Into<String>, token: Secret) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            refresh_token: token,
        }
    }
}

impl fmt::Debug for StoredLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredLogin")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("refresh_token", &self.refresh_token)
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
    /// # Errors
    /// [`Error::CredentialsFileInsecure`] when group or others may access it (Unix);
    /// [`Error::CredentialsFileIo`] when it cannot be read;
    /// [`Error::CredentialsFileCorrupt`] when it is not a login this program wrote.
    pub fn load(&self) -> Result<Option<StoredLogin>, Error> {
        let text = match fs::read(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("read", &e)),
        };
        self.check_permissions()?;
        let corrupt = |detail: &str| Error::CredentialsFileCorrupt {
            path: self.path.clone(),
            detail: detail.to_owned(),
        };
        let value: Value = serde_json::from_slice(&text).map_err(|_| corrupt("it is not JSON"))?;
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
            Some(other) => {
                return Err(corrupt(&format!(
                    "it is format version {other}, this program reads version {FORMAT_VERSION}"
                )));
            }
            None => return Err(corrupt("it has no \"version\" number")),
        }
        Ok(Some(StoredLogin {
            issuer: string("issuer")?,
            client_id: string("client_id")?,
            refresh_token: Secret::new(string("refresh_token")?),
        }))
    }

    /// Writes `login` atomically, owner-only (see the module docs).
    ///
    /// # Errors
    /// [`Error::CredentialsFileIo`] when the directory or file cannot be written.
    pub fn save(&self, login: &StoredLogin) -> Result<(), Error> {
        let dir = self.dir();
        create_private_dir(&dir).map_err(|e| self.io("write", &e))?;
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

    /// Holds the login for one refresh across processes: an exclusive lock on a sibling file
    /// (`.<name>.lock`, owner-only), released when the guard is dropped. Two processes that
    /// refreshed the same stored login at once would both send one refresh token; a provider
    /// that detects reuse (Auth0, Okta, the dev issuer) then revokes the whole login. Under
    /// the lock the second one reads the token the first one saved and uses that instead.
    ///
    /// # Errors
    /// [`Error::CredentialsFileIo`] when the lock file cannot be created or locked.
    pub fn lock(&self) -> Result<LoginLock, Error> {
        let dir = self.dir();
        create_private_dir(&dir).map_err(|e| self.io("lock", &e))?;
        let mut options = fs::OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let file = options
            .open(dir.join(format!(".{}.lock", self.file_name())))
            .map_err(|e| self.io("lock", &e))?;
        file.lock().map_err(|e| self.io("lock", &e))?;
        Ok(LoginLock { _file: file })
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

    /// Refuses a file group or others may access (Unix); Windows files inherit the
    /// per-user ACL of `%APPDATA%`, which is not checked.
    fn check_permissions(&self) -> Result<(), Error> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&self.path)
                .map_err(|e| self.io("read", &e))?
                .permissions()
                .mode()
                & 0o777;
            if mode & 0o077 != 0 {
                return Err(Error::CredentialsFileInsecure {
                    path: self.path.clone(),
                    mode,
                });
            }
        }
        Ok(())
    }

    fn io(&self, action: &'static str, error: &io::Error) -> Error {
        Error::CredentialsFileIo {
            path: self.path.clone(),
            action,
            detail: shown(&error.to_string()),
        }
    }
}

/// The cross-process lock of a stored login, from [`CredentialsFile::lock`]; released on drop.
#[derive(Debug)]
pub struct LoginLock {
    _file: fs::File,
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
