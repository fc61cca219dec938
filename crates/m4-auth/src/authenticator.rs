//! [`Authenticator`]: configuration in, one call per tool invocation.
//!
//! The path of one call (see `docs/architecture.md`): extract the token from the value given;
//! look it up in the verified-token cache, by the SHA-256 digest of its signature and its
//! signing input (a hit still re-checks the key set, `exp`, `nbf` and the scopes); otherwise
//! verify it in full (m4-jwt-verify, with keys from m4-jwks) and cache the result; then charge
//! one request to the token's `sub` in the rate limiter (m4-ratelimit). Every outcome is
//! counted, and every failure is logged once.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m4_auth_config::{AuthConfig, RateLimitBackend};
use m4_jwks::{JwksCache, JwksOptions};
use m4_jwt_verify::{JwkSet, KeyResolver, Verifier, VerifierOptions};
use m4_ratelimit::{MemoryLimiter, RateLimiter};

use crate::backend::RateLimitBackendInfo;
use crate::cache::{Entry, Lookup, TokenCache};
use crate::clock::Clock;
use crate::error::{AuthError, printable};
use crate::extract::{Candidate, candidate};
use crate::principal::Principal;
use crate::resource::ProtectedResource;
use crate::stats::{Counters, Stats, TokenCacheStats};

/// The environment variable [`Authenticator::authenticate_env`] reads.
const TOKEN_VAR: &str = m4_auth_config::vars::TOKEN;

/// Authenticates M4 tool calls: verifies OAuth2 JWT access tokens and applies the per-user
/// rate limit, as configured by the `M4_OAUTH2_*` variables.
///
/// Build it once ([`from_env`](Self::from_env), [`new`](Self::new) or
/// [`builder`](Self::builder)) and share it: it is `Send + Sync` and cheap to clone (one
/// `Arc`); clones share the JWKS cache, the token cache, the rate limiter and the counters.
/// Building does no network I/O: the JWKS is fetched by the first call that needs a key (or by
/// [`prefetch`](Self::prefetch)).
///
/// When `M4_OAUTH2_ENABLED` is false (the default), every call succeeds with
/// [`Principal::anonymous`], whatever token it carries, and nothing is rate limited.
///
/// ```
/// use m4_auth::{AuthConfig, Authenticator};
///
/// // Disabled (nothing set): every call is accepted as anonymous.
/// let auth = Authenticator::new(AuthConfig::default())?;
/// assert!(auth.authenticate("").is_ok_and(|p| p.is_anonymous()));
///
/// // Enabled: a token is required.
/// let config = AuthConfig::from_vars([
///     ("M4_OAUTH2_ENABLED", "true"),
///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
///     ("M4_OAUTH2_AUDIENCE", "m4-api"),
/// ])?
/// .config;
/// let auth = Authenticator::new(config)?;
/// let err = auth.authenticate("Bearer ").unwrap_err();
/// assert_eq!(err.code(), "missing_token");
/// assert_eq!(err.to_tool_reply(), "Error: Missing OAuth2 access token");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: AuthConfig,
    pub(crate) mode: Mode,
    pub(crate) counters: Counters,
    pub(crate) anonymous: Principal,
    /// Where the env path obtains a token when `M4_OAUTH2_TOKEN` is unset (found on first
    /// use, then kept: it holds the token in memory and renews it).
    #[cfg(feature = "token-client")]
    token_source: parking_lot::Mutex<Option<Arc<m4_auth_token::TokenSource>>>,
    /// The injected clock, for that token source's lifetimes, renewals and back-off; `None`
    /// means the system clock, as everywhere else.
    #[cfg(feature = "token-client")]
    token_clock: Option<Arc<dyn m4_jwks::Clock>>,
}

pub(crate) enum Mode {
    Disabled,
    Enabled(Box<Enabled>),
}

/// Where keys come from.
pub(crate) enum Keys {
    /// Fetched and cached from the identity provider.
    Remote(Arc<JwksCache>),
    /// Pinned at build time; never changes, so its generation is always 0.
    Pinned(Arc<JwkSet>),
}

impl Keys {
    fn resolver(&self) -> &dyn KeyResolver {
        match self {
            Self::Remote(cache) => &**cache,
            Self::Pinned(set) => &**set,
        }
    }

    fn generation(&self) -> u64 {
        match self {
            Self::Remote(cache) => cache.generation(),
            Self::Pinned(_) => 0,
        }
    }
}

/// The rate limiter's clock when it must be one type whatever was injected (Redis).
#[cfg(feature = "redis")]
type LimiterClock = Arc<dyn m4_ratelimit::Clock>;

/// Which rate limiter `Enabled::limiter` is, kept for [`Authenticator::rate_limit_backend`]
/// and [`Authenticator::rate_limit_health`].
pub(crate) enum Backend {
    Off,
    Memory,
    Custom,
    #[cfg(feature = "redis")]
    Redis(Arc<m4_ratelimit::RedisLimiter<LimiterClock>>),
}

impl Backend {
    fn info(&self) -> RateLimitBackendInfo {
        match self {
            Self::Off => RateLimitBackendInfo::Off,
            Self::Memory => RateLimitBackendInfo::Memory,
            Self::Custom => RateLimitBackendInfo::Custom,
            #[cfg(feature = "redis")]
            Self::Redis(redis) => RateLimitBackendInfo::Redis {
                url: redis.redacted_url().to_owned(),
            },
        }
    }
}

pub(crate) struct Enabled {
    verifier: Verifier,
    pub(crate) keys: Keys,
    limiter: Option<Arc<dyn RateLimiter>>,
    pub(crate) backend: Backend,
    pub(crate) cache: Option<TokenCache>,
    pub(crate) required_scopes: Vec<String>,
    clock: Arc<dyn m4_jwt_verify::Clock>,
    /// The JWKS generation last seen, to log each change once.
    seen_generation: AtomicU64,
    /// The second (verifier clock) in which a cache hit last asked the key set for its key.
    pub(crate) keys_asked_at: AtomicU64,
}

/// A failed check of a cached entry.
enum Stale {
    /// The entry no longer stands (key set changed, key gone): verify the token afresh.
    Reverify,
    /// The token itself is now unacceptable (expired): the answer, without verifying again.
    Reject(AuthError),
}

impl Enabled {
    /// Cached or full verification of the candidate token.
    pub(crate) fn verify(
        &self,
        candidate: Candidate<'_>,
        counters: &Counters,
    ) -> Result<Principal, AuthError> {
        self.verify_with(candidate, counters, self.keys.resolver())
    }

    /// [`verify`](Self::verify) with the key lookups going to `resolver` (the keys' own
    /// resolver, or one that refuses to fetch: see `Authenticator::try_verify_header`).
    pub(crate) fn verify_with(
        &self,
        candidate: Candidate<'_>,
        counters: &Counters,
        resolver: &dyn KeyResolver,
    ) -> Result<Principal, AuthError> {
        let token = candidate.token;
        let Some(cache) = &self.cache else {
            return self.verify_fresh(candidate, resolver);
        };
        // An oversized token cannot be in the cache, and the verifier refuses it before reading
        // it: do not spend a hash of up to whatever the transport let through on it.
        if token.len() > self.verifier.max_token_size() {
            return self.verify_fresh(candidate, resolver);
        }
        let Some(key) = Lookup::of(token) else {
            return self.verify_fresh(candidate, resolver);
        };
        if let Some(entry) = cache.get(&key) {
            match self.check_cached(&entry, resolver) {
                Ok(()) => {
                    counters.cache_hit();
                    return Ok(entry.principal);
                }
                Err(Stale::Reject(err)) => {
                    cache.remove(&key, &entry);
                    counters.cache_hit();
                    return Err(err);
                }
                Err(Stale::Reverify) => cache.remove(&key, &entry),
            }
        }
        counters.cache_miss();
        // Read before the key lookup, as m4-jwks requires: an entry verified by a key that is
        // then removed can never carry the generation that follows the removal.
        let generation = self.keys.generation();
        let principal = self.verify_fresh(candidate, resolver)?;
        cache.insert(
            &key,
            Entry {
                principal: principal.clone(),
                generation,
            },
        );
        Ok(principal)
    }

    /// Full verification.
    ///
    /// The scan for whitespace that tells `Bearer a b` or `Basic …` apart runs only when the
    /// verifier has already refused the token as malformed or too large: base64url has no
    /// whitespace, and the verifier decodes all three segments strictly before it looks at
    /// anything else, so a token holding whitespace always fails there first. The scan then
    /// only makes the message more specific, and accepted tokens never pay for it.
    fn verify_fresh(
        &self,
        candidate: Candidate<'_>,
        resolver: &dyn KeyResolver,
    ) -> Result<Principal, AuthError> {
        let result = self.verifier.verify(candidate.token, resolver);
        self.note_generation();
        match result {
            Ok(verified) => Ok(Principal::verified(verified)),
            Err(err @ m4_jwt_verify::Error::MissingScopes { .. }) => Err(self.token_error(err)),
            Err(err) => {
                if matches!(err.code(), "malformed_token" | "token_too_large") {
                    candidate.check()?;
                }
                Err(AuthError::Token(err))
            }
        }
    }

    /// Whether a cached entry may answer now: the same checks a fresh verification would make
    /// that can change over time.
    fn check_cached(&self, entry: &Entry, resolver: &dyn KeyResolver) -> Result<(), Stale> {
        let Some(token) = entry.principal.token() else {
            return Err(Stale::Reverify);
        };
        // Ask the key set for the key, at most once per second per authenticator: asking is
        // what drives the JWKS cache's TTL refresh and max-stale expiry when only cached tokens
        // arrive, and once a second keeps the JWKS lock's cache line out of the hot path.
        let mut now_secs = self.clock.now_unix();
        if self.keys_asked_at.load(Ordering::Relaxed) != now_secs {
            self.keys_asked_at.store(now_secs, Ordering::Relaxed);
            if resolver.resolve(token.kid(), token.alg()).is_err() {
                return Err(Stale::Reverify);
            }
            // Asking may have fetched the key set (on the blocking path, up to the HTTP
            // timeout): the time checks below are as of now, as a fresh verification's are.
            now_secs = self.clock.now_unix();
        }
        // Any change of the served key set changes the generation (m4-jwks's contract).
        if self.keys.generation() != entry.generation {
            self.note_generation();
            return Err(Stale::Reverify);
        }
        // The time and scope checks are the verifier's own, so a hit answers as a fresh
        // verification would now. The verifier's clock is this one (`enabled_parts`), read
        // once per hit, twice in the hit of a second that asks the key set.
        self.verifier
            .recheck_at(token, now_secs)
            .map_err(|err| Stale::Reject(self.token_error(err)))
    }

    /// A verifier error as the facade reports it: missing scopes carry the required list,
    /// for the 403 challenge.
    fn token_error(&self, err: m4_jwt_verify::Error) -> AuthError {
        match err {
            m4_jwt_verify::Error::MissingScopes { missing } => AuthError::InsufficientScope {
                missing,
                required: self.required_scopes.clone(),
            },
            err => AuthError::Token(err),
        }
    }

    /// Logs a change of the JWKS generation once. Only reads the shared word unless the
    /// generation changed, so threads do not fight over its cache line.
    fn note_generation(&self) {
        let now = self.keys.generation();
        if self.seen_generation.load(Ordering::Relaxed) == now {
            return;
        }
        let before = self.seen_generation.swap(now, Ordering::Relaxed);
        if before != now {
            tracing::info!(
                generation = now,
                previous = before,
                "JWKS key set changed: cached verifications from the previous set are dropped"
            );
        }
    }

    pub(crate) fn rate_limit(&self, principal: &Principal) -> Result<(), AuthError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        match limiter.check(principal.sub()).retry_after_secs() {
            None => Ok(()),
            Some(retry_after_secs) => Err(AuthError::RateLimited { retry_after_secs }),
        }
    }
}

impl Authenticator {
    /// Builds an authenticator from the process environment (`M4_OAUTH2_*`).
    ///
    /// Configuration warnings (unknown variables, disabled checks) are logged with `tracing`
    /// at warn level; load the configuration yourself with
    /// [`AuthConfig::from_env`](m4_auth_config::AuthConfig::from_env) to show them otherwise.
    ///
    /// ```no_run
    /// let auth = match m4_auth::Authenticator::from_env() {
    ///     Ok(auth) => auth,
    ///     Err(err) => {
    ///         eprintln!("{err}"); // every bad variable, one per line
    ///         std::process::exit(2);
    ///     }
    /// };
    /// # let _ = auth;
    /// ```
    ///
    /// # Errors
    /// [`AuthError::Config`] listing every invalid variable, or another configuration error
    /// (code [`CONFIGURATION_ERROR`](crate::CONFIGURATION_ERROR)).
    pub fn from_env() -> Result<Self, AuthError> {
        let loaded = AuthConfig::from_env()?;
        for warning in &loaded.warnings {
            tracing::warn!("{warning}");
        }
        Self::new(loaded.config)
    }

    /// Builds an authenticator from a configuration, with the system clock, keys fetched from
    /// the issuer, and the in-memory rate limiter.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(!auth.is_enabled());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// A configuration error (code [`CONFIGURATION_ERROR`](crate::CONFIGURATION_ERROR)), such
    /// as a Redis rate-limit backend in a build without the `redis` feature.
    pub fn new(config: AuthConfig) -> Result<Self, AuthError> {
        Self::builder(config).build()
    }

    /// A builder, to inject a clock, pin keys or plug in another rate limiter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use m4_auth::{AuthConfig, Authenticator, ManualClock};
    ///
    /// let config = AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ENABLED", "true"),
    ///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
    ///     ("M4_OAUTH2_AUDIENCE", "m4-api"),
    /// ])?
    /// .config;
    /// let keys = m4_auth::jwt::JwkSet::from_json(include_bytes!(concat!(
    ///     env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/keys/jwks.json"
    /// )))?;
    /// let clock = ManualClock::new(1_700_000_000);
    /// let auth = Authenticator::builder(config)
    ///     .clock(clock.clone())
    ///     .pinned_keys(keys)
    ///     .build()?;
    /// clock.advance(Duration::from_secs(60));
    /// assert!(auth.jwks_stats().is_none()); // pinned keys: nothing is fetched
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(config: AuthConfig) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            config,
            clock: None,
            pinned_keys: None,
            limiter: None,
        }
    }

    /// Authenticates one call: `token` is `Bearer <jwt>` (scheme in any case, exactly one
    /// token after it, as RFC 6750 says) or a bare JWT.
    ///
    /// On success, one request is charged to the token's `sub` in the rate limiter.
    /// An empty value, or `Bearer` alone, is [`AuthError::MissingToken`]
    /// ("Missing OAuth2 access token").
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// let principal = auth.authenticate("Bearer anything")?; // disabled: anonymous
    /// assert!(principal.is_anonymous());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// An [`AuthError`] whose [`code`](AuthError::code) is one of [`CODES`](crate::CODES).
    pub fn authenticate(&self, token: &str) -> Result<Principal, AuthError> {
        self.authenticate_header(Some(token))
    }

    /// Authenticates an HTTP request from its `Authorization` header value (`None` when the
    /// header is absent).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(auth.authenticate_header(None)?.is_anonymous());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate).
    pub fn authenticate_header(&self, value: Option<&str>) -> Result<Principal, AuthError> {
        let inner = &*self.inner;
        let Mode::Enabled(enabled) = &inner.mode else {
            inner.counters.accepted();
            return Ok(inner.anonymous.clone());
        };
        let candidate = match candidate(value) {
            Ok(candidate) => candidate,
            Err(err) => return Err(self.reject(err, None, None)),
        };
        let principal = match enabled.verify(candidate, &inner.counters) {
            Ok(principal) => principal,
            Err(err) => return Err(self.reject(err, Some(candidate.token), None)),
        };
        if let Err(err) = enabled.rate_limit(&principal) {
            return Err(self.reject(err, None, Some(&principal)));
        }
        inner.counters.accepted();
        Ok(principal)
    }

    /// Authenticates the stdio MCP case, with credentials from the environment in the order
    /// of CONTRACT.md: `M4_OAUTH2_TOKEN` ("Bearer " prefix optional, read now) when set;
    /// otherwise the login `m4-auth login` stored; otherwise the client credentials
    /// (`M4_OAUTH2_CLIENT_ID` and `M4_OAUTH2_CLIENT_SECRET`); otherwise
    /// [`AuthError::MissingToken`]. A token obtained from the last two is kept in memory and
    /// renewed before it expires, and is verified exactly like any other.
    /// The last two need the `token-client` feature (on by default).
    ///
    /// ```no_run
    /// let auth = m4_auth::Authenticator::from_env()?;
    /// let principal = auth.authenticate_env()?;
    /// println!("called by {}", principal.sub());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// As [`authenticate`](Self::authenticate); [`AuthError::MissingToken`] when no source
    /// has credentials, [`AuthError::TokenUnavailable`] (code `missing_token`) when a source
    /// has them but no token could be obtained, [`AuthError::TokenNotUnicode`] when the
    /// variable is not UTF-8.
    pub fn authenticate_env(&self) -> Result<Principal, AuthError> {
        if !self.is_enabled() {
            return self.authenticate_header(None);
        }
        match std::env::var_os(TOKEN_VAR).map(std::ffi::OsString::into_string) {
            Some(Ok(value)) if !value.trim().is_empty() => self.authenticate_header(Some(&value)),
            Some(Err(_)) => Err(self.reject(AuthError::TokenNotUnicode, None, None)),
            None | Some(Ok(_)) => match self.obtained_token() {
                Ok(Some(token)) => self.authenticate(token.expose_secret()),
                Ok(None) => self.authenticate_header(None),
                Err(err) => Err(self.reject(err, None, None)),
            },
        }
    }

    /// A token from the stored login or the client credentials; `None` when neither exists.
    #[cfg(feature = "token-client")]
    fn obtained_token(&self) -> Result<Option<m4_auth_config::Secret>, AuthError> {
        use m4_auth_token::{TokenOptions, TokenSource};
        let unavailable =
            |credentials: &str, e: m4_auth_token::Error| AuthError::TokenUnavailable {
                credentials: credentials.to_owned(),
                reason: e.to_string(),
                reason_code: e.code(),
            };
        let source = {
            let mut slot = self.inner.token_source.lock();
            match slot.as_ref() {
                Some(source) => Arc::clone(source),
                None => {
                    let both = "the stored login or the client credentials";
                    let mut options = TokenOptions::from_config(&self.inner.config)
                        .map_err(|e| unavailable(both, e))?;
                    // The clock that drives expiry, rate limits and JWKS TTLs drives renewal.
                    if let Some(clock) = &self.inner.token_clock {
                        options = options.clock(JwksClock(Arc::clone(clock)));
                    }
                    match TokenSource::detect(options).map_err(|e| unavailable(both, e))? {
                        Some(found) => {
                            let found = Arc::new(found);
                            *slot = Some(Arc::clone(&found));
                            found
                        }
                        None => return Ok(None),
                    }
                }
            }
        };
        source
            .access_token()
            .map(Some)
            .map_err(|e| unavailable(&source.kind().to_string(), e))
    }

    /// Without the `token-client` feature only `M4_OAUTH2_TOKEN` is read.
    #[cfg(not(feature = "token-client"))]
    fn obtained_token(&self) -> Result<Option<m4_auth_config::Secret>, AuthError> {
        Ok(None)
    }

    /// Runs `tool` for an authenticated caller, the counterpart of M4's `require_oauth2`
    /// decorator: `Ok(tool(&principal))`, or `Err("Error: <message>")`, the reply M4's tools
    /// give when authentication fails.
    ///
    /// `authorization` is what [`authenticate_header`](Self::authenticate_header) takes.
    ///
    /// ```
    /// use m4_auth::{AuthConfig, Authenticator, Principal};
    ///
    /// fn list_tables(caller: &Principal) -> String {
    ///     format!("tables for {}", caller.sub())
    /// }
    ///
    /// let auth = Authenticator::new(AuthConfig::default())?; // disabled
    /// let reply = auth.guard(None, list_tables).unwrap_or_else(|error| error);
    /// assert_eq!(reply, "tables for anonymous");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// The tool reply for the [`AuthError`]: `Error: <message>`.
    pub fn guard<T>(
        &self,
        authorization: Option<&str>,
        tool: impl FnOnce(&Principal) -> T,
    ) -> Result<T, String> {
        match self.authenticate_header(authorization) {
            Ok(principal) => Ok(tool(&principal)),
            Err(err) => Err(err.to_tool_reply()),
        }
    }

    /// [`guard`](Self::guard) with the credentials of [`authenticate_env`](Self::authenticate_env)
    /// (`M4_OAUTH2_TOKEN`, else the stored login, else the client credentials), for stdio MCP
    /// servers.
    ///
    /// ```no_run
    /// let auth = m4_auth::Authenticator::from_env()?;
    /// let reply: String = auth
    ///     .guard_env(|caller| format!("hello {}", caller.sub()))
    ///     .unwrap_or_else(|error| error);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// The tool reply for the [`AuthError`]: `Error: <message>`.
    pub fn guard_env<T>(&self, tool: impl FnOnce(&Principal) -> T) -> Result<T, String> {
        match self.authenticate_env() {
            Ok(principal) => Ok(tool(&principal)),
            Err(err) => Err(err.to_tool_reply()),
        }
    }

    /// Whether tokens are verified (`M4_OAUTH2_ENABLED`).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(!auth.is_enabled());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn is_enabled(&self) -> bool {
        matches!(self.inner.mode, Mode::Enabled(_))
    }

    /// The configuration this authenticator was built from.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert_eq!(auth.config().rate_limit_requests(), 100);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// Fetches the signing keys now (discovery first if needed), unless fresh keys are cached:
    /// a warm-up at startup, so the first call does not wait for the network. Does nothing
    /// when disabled or with pinned keys.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// auth.prefetch()?; // disabled: nothing to fetch
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::Jwks`] (code `jwks_unavailable`) naming the URL and the cause.
    pub fn prefetch(&self) -> Result<(), AuthError> {
        match &self.inner.mode {
            Mode::Enabled(enabled) => match &enabled.keys {
                Keys::Remote(cache) => {
                    let result = cache.prefetch().map_err(AuthError::Jwks);
                    enabled.note_generation();
                    result
                }
                Keys::Pinned(_) => Ok(()),
            },
            Mode::Disabled => Ok(()),
        }
    }

    /// The counters: accepted, rejected per code, rate limited, and the token cache.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// auth.authenticate("")?;
    /// assert_eq!(auth.stats().accepted, 1);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let cache = match &self.inner.mode {
            Mode::Enabled(enabled) => enabled.cache.as_ref(),
            Mode::Disabled => None,
        };
        let cache = cache.map_or(TokenCacheStats::default(), |c| TokenCacheStats {
            capacity: c.capacity(),
            entries: c.len(),
            ..TokenCacheStats::default()
        });
        Stats::new(&self.inner.counters, cache)
    }

    /// The JWKS cache's health snapshot (URL, fetches, last error, keys, skipped keys), when
    /// keys are fetched; `None` when disabled or with pinned keys.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(auth.jwks_stats().is_none());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn jwks_stats(&self) -> Option<m4_jwks::Stats> {
        match &self.inner.mode {
            Mode::Enabled(enabled) => match &enabled.keys {
                Keys::Remote(cache) => Some(cache.stats()),
                Keys::Pinned(_) => None,
            },
            Mode::Disabled => None,
        }
    }

    /// Which rate limiter requests are charged to: off, in-memory, Redis (its URL with the
    /// password `[redacted]`) or a custom one. Logged at info level when built.
    ///
    /// ```
    /// use m4_auth::{AuthConfig, Authenticator, RateLimitBackendInfo};
    ///
    /// let auth = Authenticator::new(AuthConfig::default())?;
    /// assert_eq!(auth.rate_limit_backend(), RateLimitBackendInfo::Off); // disabled
    ///
    /// let config = AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ENABLED", "true"),
    ///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
    ///     ("M4_OAUTH2_AUDIENCE", "m4-api"),
    /// ])?
    /// .config;
    /// let auth = Authenticator::new(config)?;
    /// assert_eq!(auth.rate_limit_backend().to_string(), "in-memory (per process)");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_limit_backend(&self) -> RateLimitBackendInfo {
        match &self.inner.mode {
            Mode::Enabled(enabled) => enabled.backend.info(),
            Mode::Disabled => RateLimitBackendInfo::Off,
        }
    }

    /// Pings the rate-limit backend now and returns the round-trip time, when it is a remote
    /// one (Redis); `None` when it is in-process, custom or off. For `m4-auth doctor` and
    /// readiness probes: a failure does not stop authentication, whose checks are answered by
    /// the in-process fallback meanwhile.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(auth.rate_limit_health().is_none()); // nothing remote to ask
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// Inside the `Some`: [`m4_ratelimit::Error::RedisUnavailable`], naming the URL (password
    /// `[redacted]`) and why Redis did not answer.
    pub fn rate_limit_health(&self) -> Option<Result<Duration, m4_ratelimit::Error>> {
        match &self.inner.mode {
            Mode::Enabled(enabled) => match &enabled.backend {
                #[cfg(feature = "redis")]
                Backend::Redis(redis) => Some(redis.ping()),
                Backend::Off | Backend::Memory | Backend::Custom => None,
            },
            Mode::Disabled => None,
        }
    }

    /// The RFC 9728 description of the resource this authenticator protects, identified by
    /// `resource_url`: the configured issuer as authorization server, the required scopes as
    /// supported scopes. See [`ProtectedResource`].
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// let resource = auth.protected_resource("https://mcp.example.com/mcp")?;
    /// assert_eq!(resource.metadata()["scopes_supported"][0], "read:mimic-data");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidResourceUrl`] when `resource_url` is not usable.
    pub fn protected_resource(&self, resource_url: &str) -> Result<ProtectedResource, AuthError> {
        ProtectedResource::from_config(&self.inner.config, resource_url)
    }

    /// Counts and logs a failure once, then hands the error back.
    pub(crate) fn reject(
        &self,
        err: AuthError,
        token: Option<&str>,
        principal: Option<&Principal>,
    ) -> AuthError {
        let code = err.code();
        self.inner.counters.rejected(code);
        if tracing::enabled!(tracing::Level::WARN) {
            let (kid, alg) = match principal {
                Some(p) => (
                    p.kid().map(printable),
                    p.alg().map(|a| a.as_str().to_owned()),
                ),
                None => token.map(peek_header).unwrap_or_default(),
            };
            let sub = principal.map(|p| printable(p.sub()));
            tracing::warn!(
                code,
                sub = sub.as_deref(),
                kid = kid.as_deref(),
                alg = alg.as_deref(),
                "OAuth2 authentication failed: {err}"
            );
        }
        err
    }
}

/// The `kid` and `alg` a rejected token *claims* in its header, escaped, for the log line
/// (untrusted: they may be what made it fail). Never the token itself.
fn peek_header(token: &str) -> (Option<String>, Option<String>) {
    const MAX_HEADER: usize = 4096;
    let Some(header) = token.split('.').next().filter(|h| h.len() <= MAX_HEADER) else {
        return (None, None);
    };
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(header) else {
        return (None, None);
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(&bytes) else {
        return (None, None);
    };
    let field = |name: &str| map.get(name).and_then(|v| v.as_str()).map(printable);
    (field("kid"), field("alg"))
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = match &self.inner.mode {
            Mode::Disabled => "none (disabled)",
            Mode::Enabled(e) => match e.keys {
                Keys::Remote(_) => "fetched from the issuer",
                Keys::Pinned(_) => "pinned",
            },
        };
        f.debug_struct("Authenticator")
            .field("enabled", &self.is_enabled())
            .field("keys", &keys)
            .field("rate_limit", &self.rate_limit_backend().to_string())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds an [`Authenticator`] with injected parts; from [`Authenticator::builder`].
#[must_use]
pub struct AuthenticatorBuilder {
    config: AuthConfig,
    clock: Option<Clocks>,
    pinned_keys: Option<JwkSet>,
    limiter: Option<Arc<dyn RateLimiter>>,
}

/// One clock, seen through each crate's clock trait.
struct Clocks {
    jwt: Arc<dyn m4_jwt_verify::Clock>,
    limiter: Arc<dyn m4_ratelimit::Clock>,
    jwks: Arc<dyn m4_jwks::Clock>,
}

/// Hands a shared clock to `JwksOptions::clock`, which wants an owned `Clock`.
struct JwksClock(Arc<dyn m4_jwks::Clock>);

impl m4_jwks::Clock for JwksClock {
    fn now(&self) -> Instant {
        self.0.now()
    }
}

impl fmt::Debug for AuthenticatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticatorBuilder")
            .field("config", &self.config)
            .field("clock_injected", &self.clock.is_some())
            .field("pinned_keys", &self.pinned_keys.as_ref().map(JwkSet::len))
            .field("limiter_injected", &self.limiter.is_some())
            .finish()
    }
}

impl AuthenticatorBuilder {
    /// The clock for token expiry, rate-limit windows, JWKS TTLs and the renewal of a token
    /// the env path obtains (default: the system clocks). Tests pass a
    /// [`ManualClock`](crate::ManualClock) and advance it.
    ///
    /// ```
    /// let clock = m4_auth::ManualClock::new(1_700_000_000);
    /// let auth = m4_auth::Authenticator::builder(m4_auth::AuthConfig::default())
    ///     .clock(clock.clone())
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn clock<C: Clock>(mut self, clock: C) -> Self {
        let clock = Arc::new(clock);
        self.clock = Some(Clocks {
            jwt: clock.clone(),
            limiter: clock.clone(),
            jwks: clock,
        });
        self
    }

    /// Verifies with these keys only, instead of fetching the issuer's JWKS: for tests, and
    /// for deployments that pin their keys. `M4_OAUTH2_JWKS_URL` and the JWKS timing settings
    /// are then unused.
    ///
    /// ```
    /// let keys = m4_auth::jwt::JwkSet::from_json(br#"{"keys":[]}"#)?;
    /// let auth = m4_auth::Authenticator::builder(m4_auth::AuthConfig::default())
    ///     .pinned_keys(keys)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pinned_keys(mut self, keys: JwkSet) -> Self {
        self.pinned_keys = Some(keys);
        self
    }

    /// Uses this rate limiter instead of the one the configuration describes (it is used even
    /// when `M4_OAUTH2_RATE_LIMIT_ENABLED` is false).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let limiter = m4_auth::ratelimit::MemoryLimiter::builder(5, Duration::from_secs(60)).build()?;
    /// let auth = m4_auth::Authenticator::builder(m4_auth::AuthConfig::default())
    ///     .rate_limiter(Arc::new(limiter))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_limiter(mut self, limiter: Arc<dyn RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// Checks the configuration against every part and builds the authenticator. No network
    /// I/O happens here.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::builder(m4_auth::AuthConfig::default()).build()?;
    /// assert!(!auth.is_enabled());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// A configuration error (code [`CONFIGURATION_ERROR`](crate::CONFIGURATION_ERROR)).
    pub fn build(self) -> Result<Authenticator, AuthError> {
        let config = self.config;
        let pinned = self.pinned_keys.is_some();
        let mode = if config.enabled() {
            Mode::Enabled(Box::new(enabled_parts(
                &config,
                self.clock.as_ref(),
                self.pinned_keys,
                self.limiter,
            )?))
        } else {
            Mode::Disabled
        };
        if let Mode::Enabled(enabled) = &mode {
            log_configuration(&config, pinned, &enabled.backend.info());
        } else {
            log_configuration(&config, pinned, &RateLimitBackendInfo::Off);
        }
        Ok(Authenticator {
            inner: Arc::new(Inner {
                config,
                mode,
                counters: Counters::default(),
                anonymous: Principal::anonymous(),
                #[cfg(feature = "token-client")]
                token_source: parking_lot::Mutex::new(None),
                #[cfg(feature = "token-client")]
                token_clock: self.clock.as_ref().map(|c| Arc::clone(&c.jwks)),
            }),
        })
    }
}

fn enabled_parts(
    config: &AuthConfig,
    clock: Option<&Clocks>,
    pinned_keys: Option<JwkSet>,
    limiter: Option<Arc<dyn RateLimiter>>,
) -> Result<Enabled, AuthError> {
    let issuer = config.issuer().map(|u| u.as_str()).unwrap_or_default();
    let jwt_clock: Arc<dyn m4_jwt_verify::Clock> = match clock {
        Some(c) => c.jwt.clone(),
        None => Arc::new(m4_jwt_verify::SystemClock),
    };

    let algorithms = config
        .algorithms()
        .iter()
        .map(|a| jwt_algorithm(*a))
        .collect::<Result<Vec<_>, _>>()?;
    let mut options = VerifierOptions::new(issuer, config.audience().unwrap_or_default())
        .algorithms(algorithms)
        .required_scopes(config.required_scopes().iter().cloned())
        .leeway(config.leeway().as_secs())
        .clock(jwt_clock.clone());
    if !config.validate_exp() {
        options = options.danger_disable_exp_validation();
    }
    if !config.validate_aud() {
        options = options.danger_disable_aud_validation();
    }
    if !config.validate_iss() {
        options = options.danger_disable_iss_validation();
    }
    let verifier = options.build().map_err(AuthError::VerifierSetup)?;

    let keys = match pinned_keys {
        Some(set) => Keys::Pinned(Arc::new(set)),
        None => {
            let mut options = JwksOptions::new(issuer)
                .ttl(config.jwks_cache_ttl())
                .refresh_cooldown(config.jwks_refresh_cooldown())
                .max_stale(config.jwks_max_stale())
                .http_timeout(config.http_timeout());
            if let Some(url) = config.jwks_url() {
                options = options.jwks_url(url.as_str());
            }
            if let Some(c) = clock {
                options = options.clock(JwksClock(c.jwks.clone()));
            }
            Keys::Remote(Arc::new(
                JwksCache::new(options).map_err(AuthError::JwksSetup)?,
            ))
        }
    };

    let (limiter, backend) = rate_limiter(config, clock, limiter)?;

    let generation = keys.generation();
    Ok(Enabled {
        verifier,
        keys,
        limiter,
        backend,
        cache: TokenCache::new(config.token_cache_size()),
        required_scopes: config.required_scopes().to_vec(),
        clock: jwt_clock,
        seen_generation: AtomicU64::new(generation),
        keys_asked_at: AtomicU64::new(u64::MAX),
    })
}

/// The rate limiter: the injected one, none when rate limiting is off, else the configured
/// backend (`M4_OAUTH2_RATE_LIMIT_BACKEND`), on the injected clock when there is one.
fn rate_limiter(
    config: &AuthConfig,
    clock: Option<&Clocks>,
    injected: Option<Arc<dyn RateLimiter>>,
) -> Result<(Option<Arc<dyn RateLimiter>>, Backend), AuthError> {
    if let Some(limiter) = injected {
        return Ok((Some(limiter), Backend::Custom));
    }
    if !config.rate_limit_enabled() {
        return Ok((None, Backend::Off));
    }
    let requests = u64::from(config.rate_limit_requests());
    let window = config.rate_limit_window();
    match config.rate_limit_backend() {
        RateLimitBackend::Memory => {
            let builder =
                MemoryLimiter::builder(requests, window).max_users(config.rate_limit_max_users());
            let limiter: Arc<dyn RateLimiter> = match clock {
                Some(c) => Arc::new(
                    builder
                        .clock(c.limiter.clone())
                        .build()
                        .map_err(AuthError::RateLimiterSetup)?,
                ),
                None => Arc::new(builder.build().map_err(AuthError::RateLimiterSetup)?),
            };
            Ok((Some(limiter), Backend::Memory))
        }
        #[cfg(feature = "redis")]
        RateLimitBackend::Redis(url) => {
            let clock: LimiterClock = match clock {
                Some(c) => c.limiter.clone(),
                None => Arc::new(m4_ratelimit::SystemClock::new()),
            };
            let redis = Arc::new(
                m4_ratelimit::RedisLimiter::builder(url.expose_url(), requests, window)
                    .max_users(config.rate_limit_max_users())
                    .clock(clock)
                    .build()
                    .map_err(AuthError::RateLimiterSetup)?,
            );
            Ok((Some(redis.clone()), Backend::Redis(redis)))
        }
        other => Err(AuthError::UnsupportedBackend {
            backend: other.to_string(),
        }),
    }
}

/// The verifier's algorithm for a configured one, by its JOSE name (both crates name the same
/// nine algorithms; a test checks every one maps).
fn jwt_algorithm(alg: m4_auth_config::Algorithm) -> Result<m4_jwt_verify::Algorithm, AuthError> {
    alg.as_str()
        .parse()
        .map_err(|_| AuthError::UnsupportedAlgorithm { alg: alg.as_str() })
}

/// Logs the effective settings once, at info level, when an authenticator is built: the
/// rate-limit backend included (a Redis URL with its password `[redacted]`).
fn log_configuration(config: &AuthConfig, pinned: bool, backend: &RateLimitBackendInfo) {
    if !config.enabled() {
        tracing::info!(
            "OAuth2 authentication is disabled (M4_OAUTH2_ENABLED is not true): every tool call is accepted as anonymous"
        );
        return;
    }
    let algorithms: Vec<&str> = config.algorithms().iter().map(|a| a.as_str()).collect();
    tracing::info!(
        issuer = config.issuer().map(|u| u.as_str()),
        audience = config.audience(),
        jwks = if pinned {
            "pinned"
        } else {
            config.jwks_url().map_or("discovered", |u| u.as_str())
        },
        algorithms = algorithms.join(","),
        required_scopes = config.required_scopes().join(","),
        rate_limit = if config.rate_limit_enabled() {
            format!(
                "{} per {} s",
                config.rate_limit_requests(),
                config.rate_limit_window().as_secs()
            )
        } else {
            "off".to_owned()
        },
        rate_limit_backend = %backend,
        token_cache = config.token_cache_size(),
        "OAuth2 authentication configured"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_algorithm_maps_to_the_same_name() {
        for alg in m4_auth_config::Algorithm::ALL {
            assert_eq!(
                jwt_algorithm(alg).map(|a| a.as_str()).ok(),
                Some(alg.as_str())
            );
        }
    }

    #[test]
    fn peek_header_reads_kid_and_alg_only() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k\"1"}"#);
        let token = format!("{header}.payload.sig");
        assert_eq!(
            peek_header(&token),
            (Some("k\\\"1".to_owned()), Some("RS256".to_owned()))
        );
        assert_eq!(peek_header("garbage"), (None, None));
        assert_eq!(peek_header(""), (None, None));
    }

    /// A hit that asks the key set for its key (on the blocking path that may fetch the set,
    /// which can take seconds) checks the token's times as of after asking, as a fresh
    /// verification, which reads its clock after the key lookup, would.
    #[test]
    fn a_hit_checks_the_time_after_asking_for_the_key() {
        use std::sync::atomic::AtomicBool;

        use m4_jwt_verify::{Algorithm, KeyLookupError, VerifyingKey};

        /// The fixture keys, asked slowly once armed: each lookup moves the clock an hour.
        struct Slow {
            keys: JwkSet,
            clock: crate::ManualClock,
            armed: AtomicBool,
        }
        impl KeyResolver for Slow {
            fn resolve(
                &self,
                kid: &str,
                alg: Algorithm,
            ) -> Result<Arc<VerifyingKey>, KeyLookupError> {
                if self.armed.load(Ordering::Relaxed) {
                    self.clock.advance(Duration::from_secs(3600));
                }
                self.keys.resolve(kid, alg)
            }
        }

        let now: u64 = 1_700_000_000;
        let clock = crate::ManualClock::new(now);
        let config = AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ])
        .map(|loaded| loaded.config)
        .map_err(|e| e.to_string());
        let keys = JwkSet::from_json(m4_auth_testkit::keys::jwks_json().as_bytes())
            .map_err(|e| e.to_string());
        let (Ok(config), Ok(keys)) = (config, keys) else {
            panic!("fixture configuration and keys");
        };
        let Ok(auth) = Authenticator::builder(config)
            .clock(clock.clone())
            .pinned_keys(keys.clone())
            .build()
        else {
            panic!("an authenticator");
        };
        let Mode::Enabled(enabled) = &auth.inner.mode else {
            panic!("enabled");
        };
        let exp = now + 600;
        let token = m4_auth_testkit::tokens::sign(
            "rsa-2048",
            &serde_json::json!({
                "iss": "https://idp.example.com/", "aud": "m4-api", "sub": "alice",
                "scope": "read:mimic-data",
                "iat": now, "exp": exp,
            }),
        );
        let resolver = Slow {
            keys,
            clock: clock.clone(),
            armed: AtomicBool::new(false),
        };
        let header = format!("Bearer {token}");
        let verify = || {
            let Ok(candidate) = candidate(Some(&header)) else {
                panic!("a bearer token");
            };
            enabled
                .verify_with(candidate, &auth.inner.counters, &resolver)
                .map(|p| p.sub().to_owned())
                .map_err(|e| e.code())
        };
        assert_eq!(verify(), Ok("alice".to_owned()));
        // A second later the token is fresh; the lookup a hit makes then ends an hour later,
        // past `exp` and any leeway.
        clock.advance(Duration::from_secs(1));
        resolver.armed.store(true, Ordering::Relaxed);
        assert_eq!(verify(), Err("token_expired"));
        assert!(m4_jwt_verify::Clock::now_unix(&clock) > exp + 3000);
    }

    #[test]
    fn authenticator_is_send_sync_and_cheap_to_clone() {
        fn assert_send_sync<T: Send + Sync + Clone>() {}
        assert_send_sync::<Authenticator>();
        assert_send_sync::<Principal>();
    }
}
