//! One injected time for the whole authenticator.
//!
//! The verifier reads Unix seconds (`exp`, `nbf`), the rate limiter monotonic nanoseconds and
//! the JWKS cache `Instant`s (as does the env path's token source, for renewal and back-off);
//! each crate has its own clock trait. [`Clock`] is all three at once, and [`ManualClock`]
//! implements it for tests, so one `advance` moves every part.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A clock for every part of an [`Authenticator`](crate::Authenticator): the verifier's, the
/// rate limiter's and the JWKS cache's clock traits together (implemented for every type that
/// implements the three).
pub trait Clock: m4_jwt_verify::Clock + m4_ratelimit::Clock + m4_jwks::Clock {}

impl<C: m4_jwt_verify::Clock + m4_ratelimit::Clock + m4_jwks::Clock> Clock for C {}

/// A clock that moves only when told to, for tests: one [`advance`](ManualClock::advance)
/// moves token expiry, rate-limit windows and JWKS TTLs together.
///
/// Clones share one time, so a test keeps a clone and hands another to the builder.
///
/// ```
/// use std::time::Duration;
/// use m4_auth::ManualClock;
/// use m4_auth::jwt::Clock as _;
///
/// let clock = ManualClock::new(1_700_000_000);
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(90));
/// assert_eq!(clock.now_unix(), 1_700_000_090);
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    start_unix: u64,
    start_instant: Instant,
    elapsed_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock reading `unix_secs` seconds since the epoch, frozen until advanced.
    ///
    /// ```
    /// use m4_auth::jwt::Clock as _;
    /// assert_eq!(m4_auth::ManualClock::new(42).now_unix(), 42);
    /// ```
    pub fn new(unix_secs: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                start_unix: unix_secs,
                start_instant: Instant::now(),
                elapsed_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// A clock starting at the real current time, frozen until advanced.
    ///
    /// ```
    /// use m4_auth::jwt::Clock as _;
    /// assert!(m4_auth::ManualClock::starting_now().now_unix() > 1_700_000_000);
    /// ```
    pub fn starting_now() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self::new(now)
    }

    /// Moves every reading forward by `by` (saturating).
    ///
    /// ```
    /// use std::time::Duration;
    /// use m4_auth::ratelimit::Clock as _;
    /// let clock = m4_auth::ManualClock::new(0);
    /// clock.advance(Duration::from_millis(1500));
    /// assert_eq!(clock.now_nanos(), 1_500_000_000);
    /// ```
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .elapsed_nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.inner.elapsed_nanos.load(Ordering::SeqCst))
    }
}

impl m4_jwt_verify::Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.inner
            .start_unix
            .saturating_add(self.elapsed().as_secs())
    }
}

impl m4_ratelimit::Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.inner.elapsed_nanos.load(Ordering::SeqCst)
    }
}

impl m4_jwks::Clock for ManualClock {
    fn now(&self) -> Instant {
        let elapsed = self.elapsed();
        self.inner
            .start_instant
            .checked_add(elapsed)
            .unwrap_or(self.inner.start_instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_advance_moves_all_three() {
        let clock = ManualClock::new(1000);
        let i0 = m4_jwks::Clock::now(&clock);
        clock.advance(Duration::from_millis(2500));
        assert_eq!(m4_jwt_verify::Clock::now_unix(&clock), 1002);
        assert_eq!(m4_ratelimit::Clock::now_nanos(&clock), 2_500_000_000);
        assert_eq!(
            m4_jwks::Clock::now(&clock) - i0,
            Duration::from_millis(2500)
        );
    }
}
