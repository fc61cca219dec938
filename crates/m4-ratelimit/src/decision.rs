//! The answer to one check: [`Decision`].

use std::time::Duration;

use crate::Error;

/// The outcome of [`RateLimiter::check`](crate::RateLimiter::check) for one request.
///
/// ```
/// use m4_ratelimit::Decision;
/// use std::time::Duration;
///
/// let limited = Decision::Limited { retry_after: Duration::from_millis(41_200) };
/// assert!(!limited.is_allowed());
/// assert_eq!(limited.retry_after_secs(), Some(42));
/// assert_eq!(
///     limited.error().map(|e| e.to_string()).as_deref(),
///     Some("Rate limit exceeded: retry after 42 s"),
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The request is allowed and has been recorded.
    Allowed {
        /// How many more requests would be allowed right now, before any time passes.
        remaining: u64,
        /// How long until the oldest requests still counted stop counting: from then on, if
        /// nothing else comes in, more requests are available than `remaining` (with
        /// `remaining: 0`, it is when the next request will be allowed).
        reset_after: Duration,
    },
    /// The request is refused and has not been recorded.
    Limited {
        /// How long until a request would be allowed, if none comes in between: waiting this long
        /// is enough, and any earlier request would be refused too.
        retry_after: Duration,
    },
}

impl Decision {
    /// True for [`Decision::Allowed`].
    ///
    /// ```
    /// use m4_ratelimit::Decision;
    /// use std::time::Duration;
    ///
    /// let allowed = Decision::Allowed { remaining: 3, reset_after: Duration::from_secs(60) };
    /// assert!(allowed.is_allowed());
    /// ```
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// For [`Decision::Limited`], the retry-after in whole seconds, rounded up (never 0), as an
    /// HTTP `Retry-After` header wants it; `None` when allowed.
    ///
    /// ```
    /// use m4_ratelimit::Decision;
    /// use std::time::Duration;
    ///
    /// let d = |ms| Decision::Limited { retry_after: Duration::from_millis(ms) };
    /// assert_eq!(d(1).retry_after_secs(), Some(1));
    /// assert_eq!(d(2_000).retry_after_secs(), Some(2));
    /// assert_eq!(d(2_001).retry_after_secs(), Some(3));
    /// ```
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Allowed { .. } => None,
            Self::Limited { retry_after } => Some(ceil_secs(*retry_after).max(1)),
        }
    }

    /// For [`Decision::Limited`], the user-facing error
    /// (`Rate limit exceeded: retry after N s`, code `rate_limited`); `None` when allowed.
    ///
    /// ```
    /// use m4_ratelimit::Decision;
    /// use std::time::Duration;
    ///
    /// let err = Decision::Limited { retry_after: Duration::from_secs(7) }.error();
    /// assert_eq!(err.and_then(|e| e.code()), Some("rate_limited"));
    /// ```
    pub fn error(self) -> Option<Error> {
        self.retry_after_secs()
            .map(|retry_after_secs| Error::RateLimited { retry_after_secs })
    }
}

/// Whole seconds, rounded up.
fn ceil_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}
