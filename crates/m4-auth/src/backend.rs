//! [`RateLimitBackendInfo`]: which rate limiter an [`Authenticator`](crate::Authenticator)
//! charges requests to, as `m4-auth doctor` and the startup log show it.

use std::fmt;

/// Which rate limiter an [`Authenticator`](crate::Authenticator) uses, from
/// [`Authenticator::rate_limit_backend`](crate::Authenticator::rate_limit_backend).
///
/// Never holds a password: a Redis URL is shown with its user information `[redacted]`.
///
/// ```
/// use m4_auth::RateLimitBackendInfo;
///
/// assert_eq!(RateLimitBackendInfo::Memory.to_string(), "in-memory (per process)");
/// let redis = RateLimitBackendInfo::Redis { url: "redis://[redacted]@cache:6379/0".into() };
/// assert_eq!(redis.to_string(), "Redis at redis://[redacted]@cache:6379/0");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimitBackendInfo {
    /// Nothing is rate limited: authentication is disabled, or
    /// `M4_OAUTH2_RATE_LIMIT_ENABLED=false`.
    Off,
    /// The in-process limiter (`M4_OAUTH2_RATE_LIMIT_BACKEND=memory`): each process allows the
    /// limit on its own.
    Memory,
    /// A Redis server (`M4_OAUTH2_RATE_LIMIT_BACKEND=redis://...`): one limit shared by every
    /// instance using it.
    Redis {
        /// The Redis URL with any user information shown as `[redacted]`.
        url: String,
    },
    /// A limiter given to
    /// [`AuthenticatorBuilder::rate_limiter`](crate::AuthenticatorBuilder::rate_limiter).
    Custom,
}

impl fmt::Display for RateLimitBackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Off => f.write_str("off"),
            Self::Memory => f.write_str("in-memory (per process)"),
            Self::Redis { url } => write!(f, "Redis at {url}"),
            Self::Custom => f.write_str("custom (given to the builder)"),
        }
    }
}
