//! [`JwksOptions`]: the plain values a [`JwksCache`](crate::JwksCache) is built from.
//!
//! This crate does not read the environment: the facade maps its `AuthConfig` to these
//! options, so m4-jwks stays usable without m4-auth-config.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};
use crate::endpoint::redact_credentials;

/// Default cache TTL (`M4_OAUTH2_JWKS_CACHE_TTL`): 1 hour.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Default minimum time between fetches (`M4_OAUTH2_JWKS_REFRESH_COOLDOWN`): 30 s.
pub const DEFAULT_REFRESH_COOLDOWN: Duration = Duration::from_secs(30);
/// Default time keys keep serving past their TTL while refreshes fail
/// (`M4_OAUTH2_JWKS_MAX_STALE`): 24 hours.
pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(86_400);
/// Default timeout of one HTTP request, connect and read together (`M4_OAUTH2_HTTP_TIMEOUT`):
/// 10 s.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// How to build a [`JwksCache`](crate::JwksCache): the issuer, an optional explicit JWKS URL,
/// and the timing knobs, each defaulting to the value in CONTRACT.md.
///
/// ```
/// use std::time::Duration;
/// use m4_jwks::JwksOptions;
///
/// let options = JwksOptions::new("https://tenant.example.com/")
///     .jwks_url("https://tenant.example.com/.well-known/jwks.json")
///     .ttl(Duration::from_secs(600))
///     .refresh_cooldown(Duration::from_secs(10))
///     .max_stale(Duration::from_secs(3600))
///     .http_timeout(Duration::from_secs(5));
/// assert_eq!(options.issuer(), "https://tenant.example.com/");
/// ```
#[derive(Clone)]
pub struct JwksOptions {
    pub(crate) issuer: String,
    pub(crate) jwks_url: Option<String>,
    pub(crate) ttl: Duration,
    pub(crate) refresh_cooldown: Duration,
    pub(crate) max_stale: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
}

impl JwksOptions {
    /// Options for `issuer` (`M4_OAUTH2_ISSUER_URL`, exactly as configured: discovery documents
    /// must name the same string), every other value at its default, keys found by discovery.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            jwks_url: None,
            ttl: DEFAULT_TTL,
            refresh_cooldown: DEFAULT_REFRESH_COOLDOWN,
            max_stale: DEFAULT_MAX_STALE,
            http_timeout: DEFAULT_HTTP_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// Fetches keys from this URL (`M4_OAUTH2_JWKS_URL`) instead of discovering it; no
    /// discovery request is ever made.
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self
    }

    /// How long fetched keys count as fresh (`M4_OAUTH2_JWKS_CACHE_TTL`); at least 1 ms.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Minimum time between two fetches of any kind, however many unknown kids or expired
    /// lookups ask for one (`M4_OAUTH2_JWKS_REFRESH_COOLDOWN`); at least 1 ms.
    pub fn refresh_cooldown(mut self, cooldown: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self
    }

    /// How long past the TTL the last good keys keep serving while refreshes fail
    /// (`M4_OAUTH2_JWKS_MAX_STALE`); zero means never serve expired keys.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Timeout of one HTTP request, connect, redirects and body read together
    /// (`M4_OAUTH2_HTTP_TIMEOUT`); also bounds how long a lookup waits for a fetch another
    /// thread started. At least 1 ms.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The clock behind every TTL, cooldown and max-stale decision (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The issuer, as given.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

impl fmt::Debug for JwksOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksOptions")
            // As given, so possibly with `user:password@` (refused when the cache is built).
            .field("issuer", &redact_credentials(&self.issuer))
            .field(
                "jwks_url",
                &self.jwks_url.as_deref().map(redact_credentials),
            )
            .field("ttl", &self.ttl)
            .field("refresh_cooldown", &self.refresh_cooldown)
            .field("max_stale", &self.max_stale)
            .field("http_timeout", &self.http_timeout)
            .finish_non_exhaustive()
    }
}
