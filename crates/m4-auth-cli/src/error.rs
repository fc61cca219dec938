//! The one error type of m4-auth-cli's library: Claude Desktop config failures, and the dev
//! issuer's errors wrapped.

use std::path::PathBuf;

/// Everything the Claude Desktop config writer can fail with, and the dev issuer's errors.
///
/// Each message says what went wrong and what to do about it; none contains a token, a client
/// secret or a private key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dev issuer failed (start, mint, rotate, or talking to a running one).
    ///
    /// Transparent: its message and causes are the dev issuer's own, snapshotted in
    /// m4-dev-issuer.
    #[error(transparent)]
    DevIssuer(#[from] m4_dev_issuer::Error),

    /// No `--config-path` and the operating system's default location is unknown.
    #[error(
        "cannot tell where Claude Desktop keeps its config: {var} is not set; pass --config-path"
    )]
    NoDefaultConfigPath {
        /// The environment variable the default path is built from.
        var: &'static str,
    },

    /// The Claude Desktop config file could not be read.
    #[error("could not read {}: check the path and its permissions", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The Claude Desktop config file is not valid JSON; it is left untouched.
    #[error(
        "{} is not valid JSON (line {line}, column {column}); it was left untouched: fix it, or move it away to start afresh",
        path.display()
    )]
    ConfigNotJson {
        /// The file.
        path: PathBuf,
        /// Where parsing failed (1-based).
        line: usize,
        /// Where parsing failed (1-based).
        column: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// The config holds a number that a rewrite could not keep exactly; it is left untouched.
    #[error(
        "{} holds the number {number}, which this tool cannot rewrite exactly (it keeps numbers as 64-bit integers or doubles); it was left untouched: set the M4_OAUTH2_* variables by hand, or write that number as a string if its program allows",
        path.display()
    )]
    InexactNumber {
        /// The file.
        path: PathBuf,
        /// The number as written in the file (cut to 40 characters).
        number: String,
    },

    /// A part of the Claude Desktop config that must be a JSON object is something else.
    #[error(
        "`{member}` in {} is {found}, not a JSON object; it was left untouched: fix that member by hand",
        path.display()
    )]
    ConfigShape {
        /// The file.
        path: PathBuf,
        /// The member, as a dotted path (`mcpServers.m4.env`).
        member: &'static str,
        /// What kind of JSON value was found there.
        found: &'static str,
    },

    /// The config has no `mcpServers.m4` entry and no command to create it with.
    #[error(
        "{} has no `mcpServers.m4` entry to add the OAuth2 settings to: run `m4 config claude` first, or pass --server-command with the command that starts M4's MCP server",
        path.display()
    )]
    NoServerEntry {
        /// The file.
        path: PathBuf,
    },

    /// `--server-command` was given without a program.
    #[error("--server-command needs at least the program to run")]
    EmptyServerCommand,

    /// Writing the new config (temporary file, then rename) failed; the old file is intact.
    #[error("could not write {}: the previous file is unchanged; check the directory's permissions", path.display())]
    WriteConfig {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The backup copy of the config could not be made, so nothing was written.
    #[error("could not back up the current config to {}; nothing was written", path.display())]
    Backup {
        /// The backup file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant's name; no wildcard arm, so a new variant does not compile until it is
    /// named here (and then it must get a sample below for the count to match).
    fn name(error: &Error) -> &'static str {
        m4_auth_testkit::variant_name!(error, Error {
            DevIssuer(_),
            NoDefaultConfigPath { .. },
            ReadConfig { .. },
            ConfigNotJson { .. },
            InexactNumber { .. },
            ConfigShape { .. },
            NoServerEntry { .. },
            EmptyServerCommand,
            WriteConfig { .. },
            Backup { .. },
        })
    }

    const VARIANTS: usize = 10;

    fn samples() -> Vec<Error> {
        let path = PathBuf::from("/home/ann/.config/Claude/claude_desktop_config.json");
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let json_error = serde_json::from_str::<serde_json::Value>("{\n  \"a\": ,\n}").unwrap_err();
        vec![
            Error::DevIssuer(m4_dev_issuer::Error::IssuerUrlNotLoopback {
                url: "https://auth.example.com".into(),
            }),
            Error::NoDefaultConfigPath { var: "HOME" },
            Error::ReadConfig {
                path: path.clone(),
                source: io(),
            },
            Error::ConfigNotJson {
                path: path.clone(),
                line: 2,
                column: 8,
                source: json_error,
            },
            Error::InexactNumber {
                path: path.clone(),
                number: "123456789012345678901234567890".into(),
            },
            Error::ConfigShape {
                path: path.clone(),
                member: "mcpServers.m4.env",
                found: "an array",
            },
            Error::NoServerEntry { path: path.clone() },
            Error::EmptyServerCommand,
            Error::WriteConfig {
                path: path.clone(),
                source: io(),
            },
            Error::Backup {
                path: path.with_extension("json.bak"),
                source: io(),
            },
        ]
    }

    #[test]
    fn every_message_is_snapshotted() {
        let text = m4_auth_testkit::messages::lines(&samples(), name, VARIANTS);
        insta::assert_snapshot!(text);
    }
}
