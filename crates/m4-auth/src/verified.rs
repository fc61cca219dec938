//! [`Verified`]: a token checked but not yet charged, for transports that decide per request
//! whether a message costs a rate-limit unit (m4-auth-http charges MCP `tools/call` only), and
//! [`Authenticator::try_verify_header`], the entry point that never does network I/O, for
//! async servers.
//!
//! The split is a type-state, so that the rate limit cannot be forgotten: a [`Verified`] does
//! not hand out its [`Principal`] until it is consumed by [`Verified::charge`] (one request
//! charged to the caller) or by [`Verified::uncharged`] (an explicit "this message is free"),
//! and it is `#[must_use]`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use m4_jwks::JwksCache;
use m4_jwt_verify::{Algorithm, KeyLookupError, KeyResolver, VerifyingKey};

use crate::authenticator::{Authenticator, Backend, Keys, Mode};
use crate::error::AuthError;
use crate::extract::candidate;
use crate::principal::Principal;

/// A caller whose token was verified (or anyone, when authentication is disabled), not yet
/// charged to the rate limiter.
///
/// From [`Authenticator::verify_header`] or [`Authenticator::try_verify_header`]. Consume it
/// with [`charge`](Self::charge) for a billable operation (an MCP tool call) or
/// [`uncharged`](Self::uncharged) for a free one (a protocol message); both count the call as
/// accepted in [`Stats`](crate::Stats). Only they give the [`Principal`] out.
///
/// ```
/// use m4_auth::{AuthConfig, Authenticator};
///
/// let auth = Authenticator::new(AuthConfig::default())?; // disabled: anyone is anonymous
/// let caller = auth.verify_header(None)?;
/// assert_eq!(caller.sub(), "anonymous");
/// let principal = caller.require_scopes(&["write:cohorts"])?.charge()?;
/// assert!(principal.is_anonymous());
/// # Ok::<(), m4_auth::AuthError>(())
/// ```
#[must_use = "a Verified caller is not authenticated yet: call charge() for a tool call or uncharged() for a free message"]
pub struct Verified {
    auth: Authenticator,
    principal: Principal,
}

impl fmt::Debug for Verified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verified")
            .field("sub", &self.principal.sub())
            .field("scopes", self.principal.scopes())
            .finish_non_exhaustive()
    }
}

impl Verified {
    /// The caller's `sub` (`anonymous` when authentication is disabled).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert_eq!(auth.verify_header(None)?.sub(), "anonymous");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn sub(&self) -> &str {
        self.principal.sub()
    }

    /// The scopes the token grants (empty when authentication is disabled).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(auth.verify_header(None)?.scopes().is_empty());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn scopes(&self) -> &BTreeSet<String> {
        self.principal.scopes()
    }

    /// Checks that the token also holds `extra` scopes (a tool's own scopes, on top of
    /// `M4_OAUTH2_REQUIRED_SCOPES`, which every accepted token already holds).
    ///
    /// Always passes when authentication is disabled. On failure the error is
    /// [`AuthError::InsufficientScope`] whose `required` lists every scope the operation needs
    /// (the configured ones, then `extra`), as the single 403 challenge must; it is counted and
    /// logged like any rejection.
    ///
    /// ```
    /// # let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// let caller = auth.verify_header(None)?.require_scopes(&["write:cohorts"])?;
    /// # let _ = caller.uncharged();
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InsufficientScope`] (HTTP 403, code `missing_scopes`).
    pub fn require_scopes<S: AsRef<str>>(self, extra: &[S]) -> Result<Self, AuthError> {
        let Mode::Enabled(enabled) = &self.auth.inner.mode else {
            return Ok(self);
        };
        let held = self.principal.scopes();
        if extra.iter().all(|s| held.contains(s.as_ref())) {
            return Ok(self);
        }
        let mut required = enabled.required_scopes.clone();
        for scope in extra {
            if !required.iter().any(|r| r == scope.as_ref()) {
                required.push(scope.as_ref().to_owned());
            }
        }
        let missing = required
            .iter()
            .filter(|s| !held.contains(s.as_str()))
            .cloned()
            .collect();
        let err = AuthError::InsufficientScope { missing, required };
        Err(self.auth.reject(err, None, Some(&self.principal)))
    }

    /// Charges one request to the caller in the rate limiter and hands out the principal.
    ///
    /// With a Redis backend (or a custom limiter) this is a network round trip: see
    /// [`charge_may_block`](Self::charge_may_block).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// let principal = auth.verify_header(None)?.charge()?;
    /// assert_eq!(auth.stats().accepted, 1);
    /// # let _ = principal;
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::RateLimited`] (HTTP 429) with the seconds to wait.
    pub fn charge(self) -> Result<Principal, AuthError> {
        let inner = &*self.auth.inner;
        if let Mode::Enabled(enabled) = &inner.mode
            && let Err(err) = enabled.rate_limit(&self.principal)
        {
            return Err(self.auth.reject(err, None, Some(&self.principal)));
        }
        inner.counters.accepted();
        Ok(self.principal)
    }

    /// Hands out the principal without charging the rate limiter: for messages that are not
    /// billable operations (MCP discovery, `initialize`, notifications, event streams). The
    /// token was verified all the same.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(auth.verify_header(None)?.uncharged().is_anonymous());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn uncharged(self) -> Principal {
        self.auth.inner.counters.accepted();
        self.principal
    }

    /// Whether [`charge`](Self::charge) may wait on the network: true for the Redis backend
    /// and for a custom limiter (unknown), false for the in-memory one or none. An async
    /// caller charges on a blocking thread when it is true.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert!(!auth.verify_header(None)?.charge_may_block());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn charge_may_block(&self) -> bool {
        match &self.auth.inner.mode {
            Mode::Enabled(enabled) => match enabled.backend {
                Backend::Off | Backend::Memory => false,
                Backend::Custom => true,
                #[cfg(feature = "redis")]
                Backend::Redis(_) => true,
            },
            Mode::Disabled => false,
        }
    }
}

impl Authenticator {
    /// Verifies the token in an `Authorization` header value (`None` when absent) without
    /// charging the rate limiter: the first half of
    /// [`authenticate_header`](Self::authenticate_header), for transports that charge only
    /// some messages. May block on the network (discovery, JWKS) like `authenticate_header`;
    /// async servers call [`try_verify_header`](Self::try_verify_header) first.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// let principal = auth.verify_header(Some("Bearer anything"))?.uncharged();
    /// assert!(principal.is_anonymous()); // disabled
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// As [`authenticate_header`](Self::authenticate_header), except `rate_limited`, which
    /// only [`Verified::charge`] returns.
    pub fn verify_header(&self, value: Option<&str>) -> Result<Verified, AuthError> {
        let inner = &*self.inner;
        let Mode::Enabled(enabled) = &inner.mode else {
            return Ok(self.verified(inner.anonymous.clone()));
        };
        let candidate = candidate(value).map_err(|err| self.reject(err, None, None))?;
        match enabled.verify(candidate, &inner.counters) {
            Ok(principal) => Ok(self.verified(principal)),
            Err(err) => Err(self.reject(err, Some(candidate.token), None)),
        }
    }

    /// [`verify_header`](Self::verify_header) that never does network I/O: `None` when the
    /// answer needs discovery or a JWKS fetch (first use, keys past their TTL, an unknown
    /// `kid`), in which case nothing was counted or logged and the caller runs
    /// `verify_header` where blocking is allowed (tokio's `spawn_blocking`). A token found in
    /// the verified-token cache, or verified with fresh cached keys, is answered here in
    /// microseconds.
    ///
    /// ```
    /// use m4_auth::{AuthConfig, Authenticator};
    ///
    /// let config = AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ENABLED", "true"),
    ///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
    ///     ("M4_OAUTH2_AUDIENCE", "m4-api"),
    /// ])?
    /// .config;
    /// let auth = Authenticator::new(config)?;
    /// // A well-formed token whose key was never fetched: answering needs the network.
    /// let token = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhIn0.c2ln";
    /// assert!(auth.try_verify_header(Some(&format!("Bearer {token}"))).is_none());
    /// // No token at all: answered at once.
    /// let err = auth.try_verify_header(None).map(|r| r.unwrap_err().code());
    /// assert_eq!(err, Some("missing_token"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Inside the `Some`: as [`verify_header`](Self::verify_header).
    pub fn try_verify_header(&self, value: Option<&str>) -> Option<Result<Verified, AuthError>> {
        let inner = &*self.inner;
        let Mode::Enabled(enabled) = &inner.mode else {
            return Some(Ok(self.verified(inner.anonymous.clone())));
        };
        let candidate = match candidate(value) {
            Ok(candidate) => candidate,
            Err(err) => return Some(Err(self.reject(err, None, None))),
        };
        let result = match &enabled.keys {
            Keys::Pinned(_) => enabled.verify(candidate, &inner.counters),
            Keys::Remote(cache) => {
                let resolver = NoFetch {
                    cache,
                    wanted: AtomicBool::new(false),
                };
                let result = enabled.verify_with(candidate, &inner.counters, &resolver);
                if resolver.wanted.load(Ordering::Relaxed) {
                    // Undo what this attempt recorded, so the blocking retry starts afresh:
                    // the miss it will count again, and the once-a-second key-set check it
                    // must make itself (that check is what refreshes an expired set).
                    if enabled.cache.is_some() {
                        inner.counters.cache_miss_retracted();
                    }
                    enabled.keys_asked_at.store(u64::MAX, Ordering::Relaxed);
                    return None;
                }
                result
            }
        };
        Some(match result {
            Ok(principal) => Ok(self.verified(principal)),
            Err(err) => Err(self.reject(err, Some(candidate.token), None)),
        })
    }

    fn verified(&self, principal: Principal) -> Verified {
        Verified {
            auth: self.clone(),
            principal,
        }
    }
}

/// A key resolver over the JWKS cache that answers only from fresh cached keys and notes that
/// a fetch was wanted instead of making one.
struct NoFetch<'a> {
    cache: &'a Arc<JwksCache>,
    wanted: AtomicBool,
}

impl KeyResolver for NoFetch<'_> {
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        match self.cache.resolve_cached(kid, alg) {
            Some(answer) => answer,
            None => {
                self.wanted.store(true, Ordering::Relaxed);
                Err(KeyLookupError::Unavailable {
                    reason: "keys must be fetched first".to_owned(),
                })
            }
        }
    }
}
