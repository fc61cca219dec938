//! The one error type of this crate, with a stable code per failure.
//!
//! These codes are about *obtaining* a token; the codes of CONTRACT.md are about *verifying*
//! one and are never used here. Every message names what failed and the fix; text that comes
//! from the provider (`error`, `error_description`) is escaped and cut by [`m4_jwks::shown`].
//! No variant holds a token, a refresh token or a client secret, so `Debug` is safe too.

use std::path::PathBuf;
use std::time::Duration;

/// Which provider endpoint a request went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointKind {
    /// The token endpoint (RFC 6749 §3.2).
    Token,
    /// The device authorization endpoint (RFC 8628 §3.1).
    DeviceAuthorization,
    /// The revocation endpoint (RFC 7009).
    Revocation,
}

impl std::fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Token => "token endpoint",
            Self::DeviceAuthorization => "device authorization endpoint",
            Self::Revocation => "revocation endpoint",
        })
    }
}

/// Why a credentials file is refused before (or instead of) being read: each says what is
/// wrong and what to do. The checks follow ssh's for private keys and `authorized_keys`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FileProblem {
    /// The path is a symbolic link: it is refused, never followed.
    #[error(
        "it is a symbolic link (to \"{target}\"), which is never followed; set \
         M4_OAUTH2_CREDENTIALS_FILE to the file itself, or remove the link and run `m4-auth login`"
    )]
    Symlink {
        /// Where the link points, escaped.
        target: String,
    },
    /// The path is a directory, a socket, a FIFO or a device.
    #[error(
        "it is {kind}, not a regular file; set M4_OAUTH2_CREDENTIALS_FILE to a file's path, or \
         remove it and run `m4-auth login`"
    )]
    NotRegular {
        /// `a directory`, `a socket`, `a FIFO`, `a device` or `a special file`.
        kind: &'static str,
    },
    /// The file is larger than a stored login can be.
    #[error(
        "it is {size} bytes, more than the {limit} a stored login may have, so it is not one this \
         program wrote; check that M4_OAUTH2_CREDENTIALS_FILE names the file `m4-auth login` \
         wrote"
    )]
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The file belongs to another user (Linux, where `/proc/self/status` tells this process's
    /// effective user).
    #[error(
        "it belongs to uid {owner}, not to this process's user (uid {uid}), and only a file of \
         your own is trusted; remove it and run `m4-auth login` as this user"
    )]
    NotOwned {
        /// The file's owner.
        owner: u32,
        /// This process's effective user.
        uid: u32,
    },
    /// The directory holding the file may be written by group or others, who could replace the
    /// file with a login of their own.
    #[error(
        "its directory {} may be written by group or others (mode {mode:03o}), who could replace \
         the login with their own; run `chmod go-w {}`",
        dir.display(),
        dir.display()
    )]
    DirectoryWritable {
        /// The directory.
        dir: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The directory holding the file belongs to another user (not root).
    #[error(
        "its directory {} belongs to uid {owner}, not to this process's user (uid {uid}) or \
         root, who could replace the login with their own; keep it in a directory of your own \
         and set M4_OAUTH2_CREDENTIALS_FILE",
        dir.display()
    )]
    DirectoryNotOwned {
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// This process's effective user.
        uid: u32,
    },
    /// The file opened is not the one checked: it was replaced in between.
    #[error(
        "it was replaced between its check and its opening; try again, and find what else \
         writes to its directory"
    )]
    Replaced,
    /// The refresh lock file beside the credentials file is a symbolic link, not a regular
    /// file, or was replaced while being opened: it is never followed nor written through.
    #[error(
        "its lock file {} cannot be used: {what}; remove it (the next refresh creates it again, \
         empty and owner-only) and find what else writes to its directory",
        lock.display()
    )]
    LockFile {
        /// The lock file.
        lock: PathBuf,
        /// What is wrong with it.
        what: String,
    },
}

/// Everything that can go wrong while obtaining, refreshing, storing or revoking a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting needed to obtain tokens is missing.
    #[error("cannot obtain a token: {var} is not set; {fix}")]
    NotConfigured {
        /// The variable to set.
        var: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// Neither a stored login nor client credentials are available.
    #[error(
        "no credentials to obtain a token with: no stored login at {} and no M4_OAUTH2_CLIENT_ID \
         with M4_OAUTH2_CLIENT_SECRET; run `m4-auth login`, set the client credentials, or set \
         M4_OAUTH2_TOKEN",
        path.display()
    )]
    NoCredentials {
        /// Where the stored login was looked for.
        path: PathBuf,
    },
    /// The provider's metadata could not be read.
    #[error("cannot read the provider's metadata: {0}")]
    Discovery(m4_jwks::Error),
    /// The provider does not advertise an endpoint this operation needs.
    #[error(
        "the provider's discovery document ({document}) names no {member}, so {operation} is not \
         possible with this provider; {fix}"
    )]
    EndpointMissing {
        /// The discovery document's URL.
        document: String,
        /// The member looked for (`token_endpoint`, ...).
        member: &'static str,
        /// What could not be done.
        operation: &'static str,
        /// What to do.
        fix: &'static str,
    },
    /// The request did not complete (timeout, connection, TLS, proxy, a bad URL).
    #[error("POST to the {endpoint} {url} failed: {detail}")]
    Unreachable {
        /// Which endpoint.
        endpoint: EndpointKind,
        /// Its URL.
        url: String,
        /// What went wrong, with the fix when there is one.
        detail: String,
    },
    /// The provider answered with an HTTP status and no OAuth error body.
    #[error(
        "the {endpoint} {url} answered HTTP {status} without an OAuth error; the provider is \
         failing or the URL is wrong, try again later or check the issuer URL"
    )]
    ProviderStatus {
        /// Which endpoint.
        endpoint: EndpointKind,
        /// Its URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The provider answered with a redirect (3xx). It is not followed: the request is a POST
    /// carrying the client's credentials and tokens, which must go to the URL configured or
    /// discovered and nowhere else.
    #[error(
        "the {endpoint} {url} answered HTTP {status}, a redirect{}; requests to it carry the \
         client's credentials and tokens, so redirects are never followed: the provider's \
         discovery document must name the final URL, or M4_OAUTH2_ISSUER_URL is not the \
         provider's exact issuer",
        redirect_target(.location)
    )]
    Redirected {
        /// Which endpoint.
        endpoint: EndpointKind,
        /// Its URL.
        url: String,
        /// The HTTP status (3xx).
        status: u16,
        /// The `Location` header, escaped and cut ([`m4_jwks::shown`]), when the answer has one.
        location: Option<String>,
    },
    /// A success answer that is not what OAuth says it must be.
    #[error("the {endpoint} {url} sent an unusable answer: {detail}")]
    BadResponse {
        /// Which endpoint.
        endpoint: EndpointKind,
        /// Its URL.
        url: String,
        /// What is wrong (never the body itself).
        detail: String,
    },
    /// The provider refused the client's authentication (`invalid_client`,
    /// `unauthorized_client`).
    #[error(
        "the provider refused the client: {error}{}; check M4_OAUTH2_CLIENT_ID and \
         M4_OAUTH2_CLIENT_SECRET, and that the client may use this grant",
        described(.description)
    )]
    ClientRejected {
        /// The provider's `error`, escaped.
        error: String,
        /// The provider's `error_description`, escaped and cut.
        description: Option<String>,
    },
    /// The provider refused the request for another reason.
    #[error("the {endpoint} refused the request: {error}{}; {fix}", described(.description))]
    Refused {
        /// Which endpoint.
        endpoint: EndpointKind,
        /// The provider's `error`, escaped.
        error: String,
        /// The provider's `error_description`, escaped and cut.
        description: Option<String>,
        /// What to do, chosen from the error.
        fix: &'static str,
    },
    /// The stored login no longer works (`invalid_grant` on refresh: expired or revoked).
    #[error(
        "the stored login has expired or was revoked (the provider said {error}{}); run \
         `m4-auth login` again",
        described(.description)
    )]
    LoginExpired {
        /// The provider's `error`, escaped.
        error: String,
        /// The provider's `error_description`, escaped and cut.
        description: Option<String>,
    },
    /// The user refused the device login (`access_denied`).
    #[error("the login was denied at the provider; run `m4-auth login` again and approve it")]
    LoginDenied,
    /// The device code expired before the user approved it (`expired_token`).
    #[error(
        "the login code expired before it was approved; run `m4-auth login` again and approve \
         it within {}",
        minutes(*lifetime)
    )]
    LoginExpiredBeforeApproval {
        /// The code's lifetime as the provider gave it.
        lifetime: Duration,
    },
    /// The login succeeded but the provider issued no refresh token, so it cannot be kept.
    #[error(
        "the provider issued no refresh token, so the login cannot be kept; allow refresh tokens \
         (offline access) for this client and API at the provider, then run `m4-auth login` again"
    )]
    NoRefreshToken,
    /// There is no stored login.
    #[error("not logged in: no stored login at {}; run `m4-auth login`", path.display())]
    NotLoggedIn {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The credentials file may be read by other users.
    #[error(
        "the credentials file {} may be read by other users (mode {mode:03o}) and is refused; \
         run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    CredentialsFileInsecure {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The credentials file, or the directory holding it, is not safe to read a login from
    /// or write one to: see [`FileProblem`].
    #[error("the credentials file {} is refused: {problem}", path.display())]
    CredentialsFileUnsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and the fix.
        problem: FileProblem,
    },
    /// The credentials file could not be read, written or removed.
    #[error("cannot {action} the credentials file {}: {detail}", path.display())]
    CredentialsFileIo {
        /// The file.
        path: PathBuf,
        /// `read`, `write`, `remove`, `lock` or `check the directory of`.
        action: &'static str,
        /// What the operating system said.
        detail: String,
    },
    /// The credentials file is a login this program wrote, but damaged (a member missing) or
    /// of another format version. `m4-auth login` alone fixes it: a save replaces a login this
    /// program wrote, damaged ones included ([`CredentialsFile::save`](crate::CredentialsFile::save)).
    #[error(
        "the credentials file {} is unusable ({detail}); run `m4-auth login` (it replaces the damaged file)",
        path.display()
    )]
    CredentialsFileCorrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (never its content).
        detail: String,
    },
    /// The file at the credentials path is not a login this program wrote (not JSON, not a
    /// JSON object, no format `"version"`): it is not used, nor overwritten by `save` (so
    /// `m4-auth login`), nor removed by logout.
    #[error(
        "the credentials file {} is not a login this program wrote ({detail}), so it is not \
         used, overwritten or removed; check that M4_OAUTH2_CREDENTIALS_FILE names the file \
         `m4-auth login` writes, or remove it yourself if it is yours and run `m4-auth login`",
        path.display()
    )]
    CredentialsFileNotALogin {
        /// The file.
        path: PathBuf,
        /// What was found instead (never its content).
        detail: &'static str,
    },
    /// The stored login is for another provider or client than the one configured.
    #[error(
        "the stored login in {} is for issuer \"{stored_issuer}\" and client \"{stored_client}\", \
         but M4_OAUTH2_ISSUER_URL is \"{issuer}\" and M4_OAUTH2_CLIENT_ID is \"{client}\"; run \
         `m4-auth login` again for this configuration",
        path.display()
    )]
    LoginMismatch {
        /// The file.
        path: PathBuf,
        /// The issuer in the file, escaped.
        stored_issuer: String,
        /// The client id in the file, escaped.
        stored_client: String,
        /// The configured issuer.
        issuer: String,
        /// The configured client id.
        client: String,
    },
    /// The HTTP timeout set with [`crate::TokenOptions::http_timeout`] is outside
    /// [`crate::MIN_HTTP_TIMEOUT`] to [`crate::MAX_HTTP_TIMEOUT`]; it is refused at the first
    /// request, before anything is sent, rather than silently made 1 ms or 1 hour.
    #[error(
        "the HTTP timeout {} is out of range: it must be from 1 ms to 1 hour (M4_OAUTH2_HTTP_TIMEOUT \
         takes 1 to 300 seconds); set one in that range",
        duration_text(*got)
    )]
    InvalidHttpTimeout {
        /// The timeout given.
        got: Duration,
    },
    /// No default place for the credentials file could be found.
    #[error(
        "cannot find a configuration directory for the stored login ({detail}); set \
         M4_OAUTH2_CREDENTIALS_FILE"
    )]
    NoCredentialsDirectory {
        /// Which variables were missing.
        detail: &'static str,
    },
}

impl Error {
    /// The stable machine-readable code.
    ///
    /// ```
    /// assert_eq!(m4_auth_token::Error::LoginDenied.code(), "login_denied");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotConfigured { .. } => "token_not_configured",
            Self::NoCredentials { .. } => "no_credentials",
            Self::Discovery(_) | Self::Unreachable { .. } => "token_provider_unreachable",
            Self::EndpointMissing { .. } => "token_endpoint_missing",
            Self::ProviderStatus { .. } | Self::BadResponse { .. } => "token_provider_error",
            Self::Redirected { .. } => "token_endpoint_redirected",
            Self::ClientRejected { .. } => "token_client_rejected",
            Self::Refused { .. } => "token_request_refused",
            Self::LoginExpired { .. } => "login_expired",
            Self::LoginDenied => "login_denied",
            Self::LoginExpiredBeforeApproval { .. } => "login_code_expired",
            Self::NoRefreshToken => "login_no_refresh_token",
            Self::NotLoggedIn { .. } => "not_logged_in",
            Self::CredentialsFileInsecure { .. } => "credentials_file_insecure",
            Self::CredentialsFileUnsafe { .. } => "credentials_file_unsafe",
            Self::CredentialsFileIo { .. }
            | Self::CredentialsFileCorrupt { .. }
            | Self::CredentialsFileNotALogin { .. }
            | Self::NoCredentialsDirectory { .. } => "credentials_file_error",
            Self::LoginMismatch { .. } => "login_mismatch",
            Self::InvalidHttpTimeout { .. } => "token_options_invalid",
        }
    }

    /// Whether this is a configuration or usage problem (CLI exit 2) rather than a failure
    /// to obtain a token from a working setup (exit 1).
    ///
    /// ```
    /// use m4_auth_token::Error;
    /// assert!(Error::NotConfigured { var: "M4_OAUTH2_ISSUER_URL", fix: "set it" }.is_configuration());
    /// assert!(!Error::LoginDenied.is_configuration());
    /// ```
    pub fn is_configuration(&self) -> bool {
        match self {
            Self::NotConfigured { .. }
            | Self::NoCredentialsDirectory { .. }
            | Self::InvalidHttpTimeout { .. } => true,
            Self::Discovery(e) => e.is_configuration(),
            _ => false,
        }
    }
}

/// The errors built in more than one shape: one constructor per shape, so the message
/// snapshot builds each exactly as the code does.
impl Error {
    /// `M4_OAUTH2_ISSUER_URL` is not set.
    pub(crate) fn issuer_not_configured() -> Self {
        Self::NotConfigured {
            var: m4_auth_config::vars::ISSUER_URL,
            fix: "set it to your identity provider's issuer URL",
        }
    }

    /// `M4_OAUTH2_CLIENT_ID` is not set.
    pub(crate) fn client_id_not_configured() -> Self {
        Self::NotConfigured {
            var: m4_auth_config::vars::CLIENT_ID,
            fix: "register a client at the provider and set its id",
        }
    }

    /// `M4_OAUTH2_CLIENT_SECRET` is not set (client credentials grant).
    pub(crate) fn client_secret_not_configured() -> Self {
        Self::NotConfigured {
            var: m4_auth_config::vars::CLIENT_SECRET,
            fix: "the client credentials grant needs the client's secret",
        }
    }

    /// The discovery document `document` names no device authorization endpoint.
    pub(crate) fn device_endpoint_missing(document: String) -> Self {
        Self::EndpointMissing {
            document,
            member: "device_authorization_endpoint",
            operation: "`m4-auth login` (device authorization)",
            fix: "enable the device authorization grant for the client at the provider, or use \
                  client credentials (M4_OAUTH2_CLIENT_ID and M4_OAUTH2_CLIENT_SECRET)",
        }
    }

    /// The discovery document `document` names no token endpoint.
    pub(crate) fn token_endpoint_missing(document: String) -> Self {
        Self::EndpointMissing {
            document,
            member: "token_endpoint",
            operation: "obtaining a token",
            fix: "check M4_OAUTH2_ISSUER_URL",
        }
    }
}

/// `: "<description>"` when the provider gave one.
fn described(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(": \"{d}\""))
        .unwrap_or_default()
}

/// ` to "<location>"` when the redirect's target is known.
fn redirect_target(location: &Option<String>) -> String {
    location
        .as_deref()
        .map(|l| format!(" to \"{l}\""))
        .unwrap_or_default()
}

/// A duration as given, exactly: whole seconds, else whole milliseconds, else nanoseconds.
fn duration_text(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} ns", d.as_nanos())
    }
}

/// A lifetime in minutes for people ("10 minutes"), seconds when short.
fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 120 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{secs} seconds")
    }
}
