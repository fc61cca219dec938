//! [`Error`] (building an [`McpAuth`](crate::McpAuth)) and [`Rejection`] (a request the gate
//! refuses before or besides the token check: `400` and `413` answers).

use m4_auth::AuthError;

/// Why an [`McpAuth`](crate::McpAuth) could not be built.
///
/// ```
/// use std::sync::Arc;
/// use m4_auth::{AuthConfig, Authenticator};
///
/// let auth = Arc::new(Authenticator::new(AuthConfig::default())?);
/// let err = m4_auth_http::McpAuth::new(auth).unwrap_err();
/// assert!(err.to_string().contains("M4_OAUTH2_RESOURCE_URL"));
/// # Ok::<(), m4_auth::AuthError>(())
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No resource URL: neither `M4_OAUTH2_RESOURCE_URL` nor
    /// [`McpAuthBuilder::resource_url`](crate::McpAuthBuilder::resource_url).
    #[error(
        "M4_OAUTH2_RESOURCE_URL is not set: set it to the public URL of the MCP endpoint as clients reach it, such as https://m4.example.org/mcp"
    )]
    MissingResourceUrl,
    /// The resource URL was refused (not https, or http on a non-loopback host, user
    /// information, a fragment...).
    #[error("{0}")]
    ResourceUrl(AuthError),
    /// A per-tool scope that is not a valid OAuth scope token (RFC 6749 §3.3: printable ASCII
    /// without space, `"` or `\`), or an empty tool name.
    #[error(
        "per-tool scope {scope:?} for tool {tool:?} is not a valid OAuth scope: use printable ASCII without spaces, '\"' or '\\\\' (such as write:cohorts)"
    )]
    InvalidToolScope {
        /// The tool name, escaped.
        tool: String,
        /// The scope, escaped.
        scope: String,
    },
    /// A tool name that is empty.
    #[error(
        "a per-tool scope was given for an empty tool name: name the tool, such as execute_query"
    )]
    EmptyToolName,
    /// A body limit of 0.
    #[error(
        "the request body limit must be at least 1 byte (got 0); the default is {default} bytes"
    )]
    ZeroBodyLimit {
        /// The default limit.
        default: usize,
    },
}

/// A request the gate refuses on its own account (before or besides the token check), with
/// its status: `400 Bad Request` (`invalid_request`) or `413 Content Too Large`.
///
/// The body of the answer is `{"error": <code>, "error_description": <message>}`, except
/// [`Rejection::HeaderMismatch`], which the MCP transport specification wants as a JSON-RPC
/// error with code `-32020`.
///
/// ```
/// let r = m4_auth_http::Rejection::TokenInQuery;
/// assert_eq!(r.status(), 400);
/// assert_eq!(r.code(), "invalid_request");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// `access_token` in the query string (RFC 6750 §2.3, forbidden by the MCP specification).
    #[error(
        "access_token in the query string is not accepted: send the token in the Authorization header (\"Authorization: Bearer <token>\")"
    )]
    TokenInQuery,
    /// A form-encoded body: MCP messages are JSON, and RFC 6750 §2.2 form tokens are refused.
    #[error(
        "a form-encoded body (application/x-www-form-urlencoded) is not accepted: MCP messages are JSON, and the access token goes in the Authorization header only"
    )]
    FormBody,
    /// More than one `Authorization` header.
    #[error(
        "more than one Authorization header: send exactly one, \"Authorization: Bearer <token>\""
    )]
    RepeatedAuthorization,
    /// An `Authorization` header with bytes outside visible ASCII.
    #[error(
        "the Authorization header is not visible ASCII: send \"Authorization: Bearer <token>\""
    )]
    AuthorizationNotAscii,
    /// A `Content-Length` or a body larger than the limit.
    #[error(
        "request body larger than {limit} bytes: MCP requests this server accepts are at most {limit} bytes"
    )]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read (the connection failed mid-body).
    #[error("the request body could not be read: {reason}")]
    BodyUnreadable {
        /// What the transport reported.
        reason: String,
    },
    /// A body that is not one JSON-RPC message (`reason` is the parser's complaint, escaped and
    /// cut; it may quote a value from the body).
    #[error("the request body is not a JSON-RPC message: {reason}")]
    NotJsonRpc {
        /// What was wrong, from the JSON parser: escaped, cut at 200 characters, and it may quote
        /// a value from the body.
        reason: String,
    },
    /// A JSON array (a JSON-RPC batch): no MCP protocol version since 2025-06-18 allows one.
    #[error("JSON-RPC batches are not accepted: send one JSON-RPC message per HTTP request")]
    Batch,
    /// A `tools/call` whose `params.name` is missing or not a string.
    #[error("tools/call without a tool name: params.name must be a string")]
    MissingToolName,
    /// An `Mcp-Method` / `Mcp-Name` header that contradicts the body, or is malformed.
    #[error(
        "Header mismatch: {header} header value '{header_value}' does not match body value '{body_value}'"
    )]
    HeaderMismatch {
        /// `Mcp-Method` or `Mcp-Name`.
        header: &'static str,
        /// The header's value (decoded, escaped, cut).
        header_value: String,
        /// The body's value (escaped, cut), or `(none)`.
        body_value: String,
    },
}

impl Rejection {
    /// The HTTP status: 413 for [`Rejection::BodyTooLarge`], else 400.
    ///
    /// ```
    /// assert_eq!(m4_auth_http::Rejection::BodyTooLarge { limit: 10 }.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Self::BodyTooLarge { .. } => 413,
            Self::TokenInQuery
            | Self::FormBody
            | Self::RepeatedAuthorization
            | Self::AuthorizationNotAscii
            | Self::BodyUnreadable { .. }
            | Self::NotJsonRpc { .. }
            | Self::Batch
            | Self::MissingToolName
            | Self::HeaderMismatch { .. } => 400,
        }
    }

    /// The OAuth-style error code of the JSON body: `invalid_request` for every 400 about
    /// credentials or the request's form, `request_too_large` for 413, `header_mismatch`
    /// for a header/body contradiction.
    ///
    /// ```
    /// assert_eq!(m4_auth_http::Rejection::Batch.code(), "invalid_request");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::BodyTooLarge { .. } => "request_too_large",
            Self::HeaderMismatch { .. } => "header_mismatch",
            Self::TokenInQuery
            | Self::FormBody
            | Self::RepeatedAuthorization
            | Self::AuthorizationNotAscii
            | Self::BodyUnreadable { .. }
            | Self::NotJsonRpc { .. }
            | Self::Batch
            | Self::MissingToolName => "invalid_request",
        }
    }

    /// Whether the answer carries an RFC 6750 `invalid_request` challenge
    /// (`WWW-Authenticate: Bearer error="invalid_request", ...`): for the rejections about how
    /// the credentials were sent.
    pub(crate) fn is_credential_problem(&self) -> bool {
        matches!(
            self,
            Self::TokenInQuery
                | Self::FormBody
                | Self::RepeatedAuthorization
                | Self::AuthorizationNotAscii
        )
    }
}
