//! Writing M4's OAuth2 settings into Claude Desktop's `claude_desktop_config.json`.
//!
//! Guarantees:
//! - only `mcpServers.m4.env` (and, when asked, `mcpServers.m4.command`/`args`) changes;
//!   every other member of the file is kept, in its order;
//! - inside that `env`, every `M4_OAUTH2_*` variable is replaced by the set being written
//!   (stale settings do not linger) and every other variable is kept;
//! - a file that is not valid JSON, or whose `mcpServers`, `m4` or `env` is not an object, is
//!   refused with an error and never overwritten;
//! - the write is atomic: a temporary file in the same directory, flushed, then renamed over the
//!   config (symbolic links are followed, so the link stays a link);
//! - before an existing file is replaced it is copied to a backup next to it
//!   (`<file>.bak`, or `<file>.bak.1`, `.bak.2`, ... when that exists: never overwritten);
//! - the file's permissions are kept; a new file is created readable by its owner only (Unix).
//!
//! It does not decide which variables to write (the caller passes them) and it does not
//! check that Claude Desktop is installed.
//!
//! ```
//! use m4_auth_cli::claude_config::{EnvUpdate, merge};
//!
//! let before = r#"{"theme": "dark", "mcpServers": {"m4": {"command": "m4-mcp",
//!     "env": {"M4_BACKEND": "duckdb", "M4_OAUTH2_JWKS_URL": "https://old.example/jwks"}}}}"#;
//! let update = EnvUpdate {
//!     env: vec![("M4_OAUTH2_ENABLED".into(), "true".into())],
//!     server_command: None,
//! };
//! let merged = merge(Some(before), "claude_desktop_config.json".as_ref(), &update)?;
//! let json: serde_json::Value = serde_json::from_str(&merged.text).unwrap();
//! assert_eq!(json["theme"], "dark");
//! assert_eq!(json["mcpServers"]["m4"]["env"]["M4_BACKEND"], "duckdb");
//! assert_eq!(json["mcpServers"]["m4"]["env"]["M4_OAUTH2_ENABLED"], "true");
//! assert!(json["mcpServers"]["m4"]["env"].get("M4_OAUTH2_JWKS_URL").is_none());
//! # Ok::<(), m4_auth_cli::Error>(())
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use ordered::Json;

mod ordered;

/// The prefix of every variable this module owns inside `mcpServers.m4.env`.
pub const MANAGED_PREFIX: &str = "M4_OAUTH2_";

/// The name of the server entry M4 uses in `mcpServers`.
pub const SERVER_NAME: &str = "m4";

/// Variables whose values are secrets: never printed, only reported as set.
pub const SECRET_VARS: [&str; 2] = ["M4_OAUTH2_TOKEN", "M4_OAUTH2_CLIENT_SECRET"];

/// What to write into the `m4` server entry.
#[derive(Clone, PartialEq, Eq)]
pub struct EnvUpdate {
    /// The complete set of `M4_OAUTH2_*` variables to leave in `env`, in order.
    /// Names outside that prefix are written too, but never removed by a later update.
    pub env: Vec<(String, String)>,
    /// The server's command and arguments: replaces `command` and `args` when given, and is
    /// required to create the entry when the config has none.
    pub server_command: Option<Vec<String>>,
}

impl std::fmt::Debug for EnvUpdate {
    // Secrets are masked.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), display_value(k, v)))
            .collect();
        f.debug_struct("EnvUpdate")
            .field("env", &env)
            .field("server_command", &self.server_command)
            .finish()
    }
}

/// How one variable changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// It was not there.
    Added,
    /// It had another value.
    Changed,
    /// It already had this value.
    Unchanged,
    /// It was there and is not in the new set.
    Removed,
}

/// One variable of `mcpServers.m4.env` and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The variable name.
    pub name: String,
    /// What happened.
    pub kind: ChangeKind,
    /// The new value for display: secrets are replaced by `********`; empty when removed.
    pub shown: String,
}

/// The result of [`merge`]: the new file text and what changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The complete new file: pretty-printed JSON with a final newline.
    pub text: String,
    /// The managed variables, in file order, then the removed ones.
    pub changes: Vec<Change>,
    /// Whether the `m4` server entry was created.
    pub created_entry: bool,
}

impl Merged {
    /// The new file for showing (`--dry-run`): every `env` value of every server is masked,
    /// except the `M4_OAUTH2_*` settings that are not secrets. Other servers' environments
    /// commonly hold their own tokens (`GITHUB_TOKEN`, API keys), which are not ours to print.
    pub fn masked_text(&self) -> String {
        let Ok(mut json) = serde_json::from_str::<Json>(&self.text) else {
            return String::new();
        };
        if let Json::Object(root) = &mut json
            && let Some(Json::Object(servers)) = ordered::get_mut(root, "mcpServers")
        {
            for (_, entry) in servers.iter_mut() {
                if let Json::Object(entry) = entry
                    && let Some(Json::Object(env)) = ordered::get_mut(entry, "env")
                {
                    for (name, value) in env.iter_mut() {
                        let shown =
                            name.starts_with("M4_OAUTH2_") && !SECRET_VARS.contains(&name.as_str());
                        if !shown {
                            *value = Json::string(MASK);
                        }
                    }
                }
            }
        }
        pretty(&json)
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The file written (symbolic links resolved).
    pub path: PathBuf,
    /// The backup of the previous file, when there was one and it changed.
    pub backup: Option<PathBuf>,
    /// Whether the file was written (false when nothing changed).
    pub written: bool,
    /// The merge result.
    pub merged: Merged,
}

const MASK: &str = "********";

fn display_value<'a>(name: &str, value: &'a str) -> &'a str {
    if SECRET_VARS.contains(&name) {
        MASK
    } else {
        value
    }
}

fn pretty(json: &Json) -> String {
    // Serialising cannot fail: string keys only, no non-finite numbers (the parser has none).
    let mut text = serde_json::to_string_pretty(json).unwrap_or_default();
    text.push('\n');
    text
}

/// `parent[key]` as an object, created empty when absent; an error naming `member` when it
/// is anything else.
fn object_member<'a>(
    parent: &'a mut Vec<(String, Json)>,
    key: &str,
    member: &'static str,
    path: &Path,
) -> Result<&'a mut Vec<(String, Json)>, Error> {
    if ordered::get_mut(parent, key).is_none() {
        parent.push((key.to_owned(), Json::Object(Vec::new())));
    }
    match ordered::get_mut(parent, key) {
        Some(Json::Object(members)) => Ok(members),
        other => Err(Error::ConfigShape {
            path: path.to_owned(),
            member,
            found: other.map_or("absent", |v| v.kind()),
        }),
    }
}

/// Merges `update` into the config text `existing` (`None`: no file yet).
/// `path` only names the file in errors. Performs no I/O.
pub fn merge(existing: Option<&str>, path: &Path, update: &EnvUpdate) -> Result<Merged, Error> {
    let mut root = match existing {
        None => Json::Object(Vec::new()),
        Some(text) => {
            let json =
                serde_json::from_str::<Json>(text).map_err(|source| Error::ConfigNotJson {
                    path: path.to_owned(),
                    line: source.line(),
                    column: source.column(),
                    source,
                })?;
            // Never change a value the user wrote elsewhere in the file.
            if let Some(number) = ordered::inexact_number(text) {
                return Err(Error::InexactNumber {
                    path: path.to_owned(),
                    number: number.chars().take(40).collect(),
                });
            }
            json
        }
    };
    let found = root.kind();
    let Json::Object(root_members) = &mut root else {
        return Err(Error::ConfigShape {
            path: path.to_owned(),
            member: "(top level)",
            found,
        });
    };
    let servers = object_member(root_members, "mcpServers", "mcpServers", path)?;
    let created_entry = ordered::get_mut(servers, SERVER_NAME).is_none();
    if created_entry && update.server_command.is_none() {
        return Err(Error::NoServerEntry {
            path: path.to_owned(),
        });
    }
    let entry = object_member(servers, SERVER_NAME, "mcpServers.m4", path)?;
    if let Some(command) = &update.server_command {
        let (program, args) = command.split_first().ok_or(Error::EmptyServerCommand)?;
        ordered::set(entry, "command", Json::string(program.clone()));
        ordered::set(
            entry,
            "args",
            Json::Array(args.iter().cloned().map(Json::string).collect()),
        );
    }
    let env = object_member(entry, "env", "mcpServers.m4.env", path)?;

    let wanted: Vec<(&str, &str)> = update
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let lookup = |name: &str| wanted.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let mut changes = Vec::new();
    let mut removed = Vec::new();
    let mut rebuilt: Vec<(String, Json)> = Vec::new();
    // Keep the file's order: existing variables stay where they were.
    for (name, old) in std::mem::take(env) {
        if let Some(new) = lookup(&name) {
            let kind = if old.as_str() == Some(new) {
                ChangeKind::Unchanged
            } else {
                ChangeKind::Changed
            };
            changes.push(Change {
                kind,
                shown: display_value(&name, new).to_owned(),
                name: name.clone(),
            });
            rebuilt.push((name, Json::string(new)));
        } else if name.starts_with(MANAGED_PREFIX) {
            removed.push(Change {
                name,
                kind: ChangeKind::Removed,
                shown: String::new(),
            });
        } else {
            rebuilt.push((name, old));
        }
    }
    for (name, value) in &wanted {
        if !rebuilt.iter().any(|(k, _)| k == name) {
            changes.push(Change {
                name: (*name).to_owned(),
                kind: ChangeKind::Added,
                shown: display_value(name, value).to_owned(),
            });
            rebuilt.push(((*name).to_owned(), Json::string(*value)));
        }
    }
    *env = rebuilt;
    changes.extend(removed);
    Ok(Merged {
        text: pretty(&root),
        changes,
        created_entry,
    })
}

/// Where Claude Desktop keeps its config on this operating system:
/// `~/Library/Application Support/Claude/` (macOS), `%APPDATA%\Claude\` (Windows),
/// `~/.config/Claude/` (Linux and others), each with `claude_desktop_config.json`.
///
/// ```
/// let path = m4_auth_cli::claude_config::default_config_path();
/// if let Ok(path) = path {
///     assert!(path.ends_with("Claude/claude_desktop_config.json")
///         || path.ends_with(r"Claude\claude_desktop_config.json"));
/// }
/// ```
pub fn default_config_path() -> Result<PathBuf, Error> {
    default_config_path_for(std::env::consts::OS, |var| std::env::var_os(var))
}

/// [`default_config_path`] for operating system `os` (as in `std::env::consts::OS`), reading
/// environment variables through `var`.
///
/// ```
/// use std::path::PathBuf;
/// use m4_auth_cli::claude_config::default_config_path_for;
///
/// let home = |var: &str| (var == "HOME").then(|| "/home/alice".into());
/// assert_eq!(
///     default_config_path_for("linux", home)?,
///     PathBuf::from("/home/alice/.config/Claude/claude_desktop_config.json")
/// );
/// # Ok::<(), m4_auth_cli::Error>(())
/// ```
pub fn default_config_path_for(
    os: &str,
    var: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, Error> {
    let non_empty = |name: &'static str| {
        var(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or(Error::NoDefaultConfigPath { var: name })
    };
    let dir = match os {
        "windows" => non_empty("APPDATA")?.join("Claude"),
        "macos" => non_empty("HOME")?
            .join("Library")
            .join("Application Support")
            .join("Claude"),
        _ => match var("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(config) => PathBuf::from(config).join("Claude"),
            None => non_empty("HOME")?.join(".config").join("Claude"),
        },
    };
    Ok(dir.join("claude_desktop_config.json"))
}

/// Reads the config at `path` (a missing file is fine), merges `update`, and, unless
/// `dry_run`, backs the old file up and writes the new one atomically.
///
/// ```
/// use m4_auth_cli::claude_config::{EnvUpdate, apply};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("claude_desktop_config.json");
/// let update = EnvUpdate {
///     env: vec![("M4_OAUTH2_ENABLED".into(), "true".into())],
///     server_command: Some(vec!["m4-mcp".into()]),
/// };
/// let applied = apply(&path, &update, false)?;
/// assert!(applied.written && applied.backup.is_none());
/// assert!(std::fs::read_to_string(&path).unwrap().contains("M4_OAUTH2_ENABLED"));
/// # Ok::<(), m4_auth_cli::Error>(())
/// ```
pub fn apply(path: &Path, update: &EnvUpdate, dry_run: bool) -> Result<Applied, Error> {
    // Follow a symbolic link so that the rename replaces its target, not the link.
    let path = match fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == io::ErrorKind::NotFound => path.to_owned(),
        Err(source) => {
            return Err(Error::ReadConfig {
                path: path.to_owned(),
                source,
            });
        }
    };
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(source) => return Err(Error::ReadConfig { path, source }),
    };
    let merged = merge(existing.as_deref(), &path, update)?;
    let unchanged = existing.as_deref() == Some(merged.text.as_str());
    if dry_run || unchanged {
        return Ok(Applied {
            path,
            backup: None,
            written: false,
            merged,
        });
    }
    // A file that holds (or held) a secret is kept readable by its owner only, whatever its
    // permissions were: group and others lose their bits, on the file and on its backup.
    let holds_secret = [Some(merged.text.as_str()), existing.as_deref()]
        .into_iter()
        .flatten()
        .any(|text| {
            SECRET_VARS
                .iter()
                .any(|v| text.contains(&format!("\"{v}\"")))
        });
    let permissions = match &existing {
        Some(_) => Some(owner_only_if(
            fs::metadata(&path)
                .map_err(|source| Error::ReadConfig {
                    path: path.clone(),
                    source,
                })?
                .permissions(),
            holds_secret,
        )),
        None => None,
    };
    let backup = match &existing {
        Some(text) => Some(write_backup(&path, text, permissions.as_ref())?),
        None => None,
    };
    write_atomically(&path, &merged.text, permissions).map_err(|source| Error::WriteConfig {
        path: path.clone(),
        source,
    })?;
    Ok(Applied {
        path,
        backup,
        written: true,
        merged,
    })
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    name.push(suffix);
    path.with_file_name(name)
}

/// Copies `text` to the first free `<file>.bak`, `<file>.bak.1`, ... (never overwriting one).
fn write_backup(
    path: &Path,
    text: &str,
    permissions: Option<&fs::Permissions>,
) -> Result<PathBuf, Error> {
    for n in 0u32.. {
        let suffix = if n == 0 {
            ".bak".to_owned()
        } else {
            format!(".bak.{n}")
        };
        let backup = sibling(path, &suffix);
        let mut file = match new_private_file(&backup) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(Error::Backup {
                    path: backup,
                    source,
                });
            }
        };
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| permissions.map_or(Ok(()), |p| fs::set_permissions(&backup, p.clone())));
        return match written {
            Ok(()) => Ok(backup),
            Err(source) => {
                let _ = fs::remove_file(&backup);
                Err(Error::Backup {
                    path: backup,
                    source,
                })
            }
        };
    }
    // 2^32 backups: give up rather than loop forever.
    Err(Error::Backup {
        path: sibling(path, ".bak"),
        source: io::ErrorKind::AlreadyExists.into(),
    })
}

/// `permissions` without the group and other bits when `secret` (on Unix; elsewhere unchanged).
#[cfg_attr(not(unix), allow(unused_mut, unused_variables))]
fn owner_only_if(mut permissions: fs::Permissions, secret: bool) -> fs::Permissions {
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        permissions.set_mode(permissions.mode() & 0o700);
    }
    permissions
}

/// Creates `path`, failing if it exists; readable by the owner only on Unix.
fn new_private_file(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Writes `text` to a temporary file beside `path`, flushes it, and renames it over `path`.
fn write_atomically(
    path: &Path,
    text: &str,
    permissions: Option<fs::Permissions>,
) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let temp = sibling(path, &format!(".m4-auth-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = new_private_file(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        if let Some(permissions) = permissions {
            fs::set_permissions(&temp, permissions)?;
        }
        fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    // Make the rename itself durable where the platform allows syncing a directory.
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

#[cfg(test)]
mod tests;
