//! [`AuthError`]: every way authentication can fail, with its stable code, its HTTP mapping and
//! its RFC 6750 challenge.
//!
//! Messages never contain a token or any part of one; attacker-chosen strings that are echoed
//! (an authorization scheme, a `kid`) are escaped and truncated first.

use m4_auth_config::ConfigError;

use crate::resource::ProtectedResource;

/// Every stable error code of the m4-auth contract (`CONTRACT.md`, "Stable error codes"), in
/// the contract's order.
///
/// [`AuthError::code`] returns one of these for every failure of a token;
/// [`CONFIGURATION_ERROR`] is the only other code, for an authenticator that could not be built.
///
/// ```
/// assert_eq!(m4_auth::CODES.len(), 16);
/// assert!(m4_auth::CODES.contains(&"missing_token"));
/// ```
pub const CODES: [&str; 16] = [
    "missing_token",
    "malformed_token",
    "token_too_large",
    "invalid_header",
    "unsupported_algorithm",
    "missing_kid",
    "unknown_kid",
    "invalid_signature",
    "token_expired",
    "token_not_yet_valid",
    "invalid_issuer",
    "invalid_audience",
    "invalid_claims",
    "missing_scopes",
    "rate_limited",
    "jwks_unavailable",
];

/// The code of an [`AuthError`] raised while *building* an authenticator (bad `M4_OAUTH2_*`
/// values, an unsupported backend): not a verdict on a token, so it is not in [`CODES`].
/// `authenticate` and its siblings never return it; the CLI exits with status 2 on it.
pub const CONFIGURATION_ERROR: &str = "configuration_error";

/// The longest attacker-supplied string, in characters, echoed in a message.
const ECHO_LIMIT: usize = 32;

/// Why authentication failed, or why an authenticator could not be built.
///
/// [`code`](AuthError::code) is the stable machine-readable code from `CONTRACT.md`;
/// `Display` (and [`message`](AuthError::message)) is the human message, using the seed's words
/// verbatim where it gives them ("Missing OAuth2 access token", "Invalid token signature",
/// "Missing required scopes", "Rate limit exceeded", "Token has expired").
///
/// ```
/// use m4_auth::AuthError;
///
/// let err = AuthError::MissingToken;
/// assert_eq!(err.code(), "missing_token");
/// assert_eq!(err.to_string(), "Missing OAuth2 access token");
/// assert_eq!(err.http_status(), 401);
/// assert_eq!(err.to_tool_reply(), "Error: Missing OAuth2 access token");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented: an absent or blank value, or `Bearer` with nothing after it.
    #[error("Missing OAuth2 access token")]
    MissingToken,
    /// The value names an authorization scheme other than `Bearer` (code `malformed_token`).
    #[error(
        "Authorization scheme \"{scheme}\" is not supported: send the token as \"Bearer <token>\""
    )]
    UnsupportedScheme {
        /// The scheme given, escaped and truncated.
        scheme: String,
    },
    /// The value holds whitespace-separated items other than `Bearer <token>`
    /// (code `malformed_token`); none of them is echoed.
    #[error(
        "Authorization value holds more than one whitespace-separated item: send \"Bearer <token>\" or the token alone"
    )]
    ExtraCredentials,
    /// `M4_OAUTH2_TOKEN` holds bytes that are not UTF-8 (code `malformed_token`).
    #[error("M4_OAUTH2_TOKEN is not valid UTF-8: set it to the access token, a JWT")]
    TokenNotUnicode,
    /// The verifier rejected the token; [`code`](AuthError::code) is the verifier's code.
    #[error(transparent)]
    Token(m4_jwt_verify::Error),
    /// The token is valid but lacks scopes this server requires (code `missing_scopes`,
    /// HTTP 403 with an `insufficient_scope` challenge).
    #[error("Missing required scopes: {}", .missing.join(", "))]
    InsufficientScope {
        /// The required scopes the token does not grant, sorted.
        missing: Vec<String>,
        /// Every scope this server requires, as configured.
        required: Vec<String>,
    },
    /// Signing keys could not be obtained at all, for example because the JWKS endpoint is
    /// down and no cached keys remain (code `jwks_unavailable`, HTTP 503). Returned by
    /// [`Authenticator::prefetch`](crate::Authenticator::prefetch); during `authenticate` the
    /// same condition arrives as [`AuthError::Token`] with the same code.
    #[error("Signing keys are unavailable: {0}")]
    Jwks(#[source] m4_jwks::Error),
    /// The token's subject used up its rate limit (code `rate_limited`, HTTP 429).
    #[error("Rate limit exceeded: retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait, rounded up, never 0: the HTTP `Retry-After` value.
        retry_after_secs: u64,
    },
    /// The `M4_OAUTH2_*` configuration is invalid; the message lists every problem.
    #[error(transparent)]
    Config(ConfigError),
    /// The configuration passed validation but the verifier refused it.
    #[error("Cannot build the token verifier from this configuration: {0}")]
    VerifierSetup(#[source] m4_jwt_verify::OptionsError),
    /// The configuration passed validation but the JWKS cache refused it.
    #[error("Cannot build the JWKS cache from this configuration: {0}")]
    JwksSetup(#[source] m4_jwks::Error),
    /// The configuration passed validation but the rate limiter refused it.
    #[error("Cannot build the rate limiter from this configuration: {0}")]
    RateLimiterSetup(#[source] m4_ratelimit::Error),
    /// An algorithm the configuration accepts but this build's verifier does not know.
    #[error(
        "M4_OAUTH2_ALGORITHMS lists {alg}, which this build's token verifier does not support: remove it"
    )]
    UnsupportedAlgorithm {
        /// The algorithm's JOSE name.
        alg: &'static str,
    },
    /// A rate-limit backend this build cannot use: Redis, in a build without the `redis`
    /// feature (on by default).
    #[error(
        "M4_OAUTH2_RATE_LIMIT_BACKEND={backend} needs Redis support, but this build was compiled \
         without the `redis` feature: enable it (it is on by default) or set \
         M4_OAUTH2_RATE_LIMIT_BACKEND=memory"
    )]
    UnsupportedBackend {
        /// The backend as configured, any password shown as `[redacted]`.
        backend: String,
    },
    /// A protected-resource URL (RFC 9728) that cannot be used.
    #[error("Protected resource URL \"{url}\" is not usable: {reason}")]
    InvalidResourceUrl {
        /// The URL given, escaped and truncated.
        url: String,
        /// Why it was refused.
        reason: m4_auth_config::UrlError,
    },
}

impl AuthError {
    /// The stable machine-readable code: one of [`CODES`] for a rejected token, or
    /// [`CONFIGURATION_ERROR`] for an authenticator that could not be built.
    ///
    /// ```
    /// use m4_auth::AuthError;
    ///
    /// assert_eq!(AuthError::RateLimited { retry_after_secs: 5 }.code(), "rate_limited");
    /// let expired = AuthError::Token(m4_auth::jwt::Error::Expired);
    /// assert_eq!(expired.code(), "token_expired");
    /// assert_eq!(expired.to_string(), "Token has expired");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::UnsupportedScheme { .. } | Self::ExtraCredentials | Self::TokenNotUnicode => {
                "malformed_token"
            }
            Self::Token(inner) => inner.code(),
            Self::InsufficientScope { .. } => "missing_scopes",
            Self::Jwks(inner) => inner.code(),
            Self::RateLimited { .. } => "rate_limited",
            Self::Config(_)
            | Self::VerifierSetup(_)
            | Self::JwksSetup(_)
            | Self::RateLimiterSetup(_)
            | Self::UnsupportedAlgorithm { .. }
            | Self::UnsupportedBackend { .. }
            | Self::InvalidResourceUrl { .. } => CONFIGURATION_ERROR,
        }
    }

    /// The human message, the same text as `Display`.
    ///
    /// ```
    /// let err = m4_auth::AuthError::Token(m4_auth::jwt::Error::InvalidSignature);
    /// assert_eq!(err.message(), "Invalid token signature");
    /// ```
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// Whether this error says the authenticator could not be built (code
    /// [`CONFIGURATION_ERROR`]) rather than that a token was rejected.
    ///
    /// ```
    /// assert!(!m4_auth::AuthError::MissingToken.is_configuration());
    /// ```
    pub fn is_configuration(&self) -> bool {
        self.code() == CONFIGURATION_ERROR
    }

    /// The HTTP status an HTTP transport should answer with: 401 for a missing or invalid token,
    /// 403 when scopes are missing, 429 when rate limited (send [`retry_after`](Self::retry_after)
    /// as `Retry-After`), 503 when signing keys are unavailable, 500 for a configuration error.
    ///
    /// ```
    /// use m4_auth::AuthError;
    ///
    /// assert_eq!(AuthError::MissingToken.http_status(), 401);
    /// assert_eq!(AuthError::RateLimited { retry_after_secs: 9 }.http_status(), 429);
    /// let scopes = AuthError::InsufficientScope {
    ///     missing: vec!["read:mimic-data".into()],
    ///     required: vec!["read:mimic-data".into()],
    /// };
    /// assert_eq!(scopes.http_status(), 403);
    /// ```
    pub fn http_status(&self) -> u16 {
        match self.code() {
            "missing_scopes" => 403,
            "rate_limited" => 429,
            "jwks_unavailable" => 503,
            CONFIGURATION_ERROR => 500,
            _ => 401,
        }
    }

    /// For a rate-limited request, the seconds to send as `Retry-After` (never 0); `None`
    /// otherwise.
    ///
    /// ```
    /// use m4_auth::AuthError;
    /// assert_eq!(AuthError::RateLimited { retry_after_secs: 12 }.retry_after(), Some(12));
    /// assert_eq!(AuthError::MissingToken.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }

    /// The reply an M4 tool gives instead of its result, as M4's `require_oauth2` decorator
    /// does today: `Error: <message>`.
    ///
    /// ```
    /// let err = m4_auth::AuthError::RateLimited { retry_after_secs: 30 };
    /// assert_eq!(err.to_tool_reply(), "Error: Rate limit exceeded: retry after 30 s");
    /// ```
    pub fn to_tool_reply(&self) -> String {
        format!("Error: {self}")
    }

    /// The `WWW-Authenticate` header value for this error (RFC 6750 §3), or `None` when the
    /// status is not 401 or 403 (rate limited, keys unavailable, configuration error).
    ///
    /// - A missing token, or another scheme than Bearer, gets a bare challenge with no error
    ///   code (RFC 6750 §3.1: the client may not know authentication is needed).
    /// - A rejected token gets `error="invalid_token"` and an `error_description`.
    /// - Missing scopes get `error="insufficient_scope"` and `scope="..."`, the scopes the
    ///   server requires, space-separated.
    /// - With a [`ProtectedResource`], `realm` and the RFC 9728 `resource_metadata` URL are
    ///   added, as the MCP authorization specification asks.
    ///
    /// Quoted values escape `"` and `\` with a backslash (an HTTP quoted-pair) and replace
    /// anything outside printable ASCII with `?`, so no value can break the header.
    ///
    /// ```
    /// use m4_auth::{AuthError, jwt};
    ///
    /// assert_eq!(AuthError::MissingToken.www_authenticate(None).as_deref(), Some("Bearer"));
    /// let expired = AuthError::Token(jwt::Error::Expired);
    /// assert_eq!(
    ///     expired.www_authenticate(None).as_deref(),
    ///     Some(r#"Bearer error="invalid_token", error_description="Token has expired""#),
    /// );
    /// assert_eq!(AuthError::RateLimited { retry_after_secs: 1 }.www_authenticate(None), None);
    /// ```
    pub fn www_authenticate(&self, resource: Option<&ProtectedResource>) -> Option<String> {
        self.challenge(resource, None)
    }

    /// [`www_authenticate`](Self::www_authenticate) for an operation that needs `scopes`: a
    /// 401 challenge also carries `scope="..."` (the MCP authorization specification's
    /// guidance to clients on what to request), and the 403 challenge of
    /// [`AuthError::InsufficientScope`] lists its own `required` scopes as before. For
    /// m4-auth-http, which passes every scope the request needs (the configured ones plus a
    /// tool's own).
    ///
    /// ```
    /// use m4_auth::{AuthError, ProtectedResource};
    ///
    /// let resource = ProtectedResource::new("https://mcp.example.com/mcp")?;
    /// assert_eq!(
    ///     AuthError::MissingToken.www_authenticate_for(&resource, &["read:mimic-data"]).as_deref(),
    ///     Some(r#"Bearer scope="read:mimic-data", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp""#),
    /// );
    /// # Ok::<(), AuthError>(())
    /// ```
    pub fn www_authenticate_for<S: AsRef<str>>(
        &self,
        resource: &ProtectedResource,
        scopes: &[S],
    ) -> Option<String> {
        let scope = scopes
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<&str>>()
            .join(" ");
        self.challenge(Some(resource), Some(scope))
    }

    /// The challenge; `scope_401` is the `scope` a 401 challenge carries, if any.
    fn challenge(
        &self,
        resource: Option<&ProtectedResource>,
        scope_401: Option<String>,
    ) -> Option<String> {
        let (error, scope) = match self.http_status() {
            401 => match self {
                Self::MissingToken | Self::UnsupportedScheme { .. } => (None, scope_401),
                _ => (Some("invalid_token"), scope_401),
            },
            403 => {
                let scope = match self {
                    Self::InsufficientScope { required, .. } => required.join(" "),
                    Self::Token(m4_jwt_verify::Error::MissingScopes { missing }) => {
                        missing.join(" ")
                    }
                    _ => String::new(),
                };
                (Some("insufficient_scope"), Some(scope))
            }
            _ => return None,
        };
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(realm) = resource.and_then(ProtectedResource::realm) {
            params.push(("realm", realm.to_owned()));
        }
        if let Some(error) = error {
            params.push(("error", error.to_owned()));
            params.push(("error_description", self.to_string()));
        }
        if let Some(scope) = scope.filter(|s| !s.is_empty()) {
            params.push(("scope", scope));
        }
        if let Some(resource) = resource {
            params.push(("resource_metadata", resource.metadata_url().to_owned()));
        }
        let mut header = String::from("Bearer");
        for (i, (name, value)) in params.iter().enumerate() {
            header.push_str(if i == 0 { " " } else { ", " });
            header.push_str(name);
            header.push_str("=\"");
            push_quoted(&mut header, value);
            header.push('"');
        }
        Some(header)
    }
}

impl From<m4_jwt_verify::Error> for AuthError {
    fn from(err: m4_jwt_verify::Error) -> Self {
        Self::Token(err)
    }
}

impl From<ConfigError> for AuthError {
    fn from(err: ConfigError) -> Self {
        Self::Config(err)
    }
}

/// Appends `value` as the inside of a quoted challenge parameter, in the character set RFC 6750
/// §3 allows for `error_description` and `scope` (`%x20-21 / %x23-5B / %x5D-7E`): `"` becomes
/// `'`, and `\` or anything outside printable ASCII becomes `?`. No escape is needed, so strict
/// clients parse every parameter, and nothing in a message can end or extend the header.
fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' => out.push('\''),
            '\\' => out.push('?'),
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
}

/// An untrusted string as it appears in a message: escaped (`escape_debug`) and cut after
/// [`ECHO_LIMIT`] characters.
pub(crate) fn printable(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    for c in chars.by_ref().take(ECHO_LIMIT) {
        out.extend(c.escape_debug());
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_and_cuts() {
        assert_eq!(printable("Basic"), "Basic");
        assert_eq!(printable("a\"b\n"), "a\\\"b\\n");
        assert_eq!(printable(&"x".repeat(40)), format!("{}…", "x".repeat(32)));
    }

    #[test]
    fn quoted_values_cannot_break_the_header() {
        let mut out = String::new();
        push_quoted(&mut out, "a\"b\\c\r\nd é");
        // RFC 6750 §3: no `"` or `\` at all, escaped or not, in error_description or scope.
        assert_eq!(out, "a'b?c??d ?");
        assert!(!out.contains(['"', '\\']));
    }
}
