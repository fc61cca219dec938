#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod clock;
mod decision;
mod error;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod window;

#[cfg(feature = "redis")]
pub use crate::redis::{
    DEFAULT_CALL_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_POOL_SIZE, DEFAULT_PREFIX,
    DEFAULT_RETRY_BACKOFF, MAX_POOL_SIZE, RedisBuilder, RedisLimiter, RedisStatus,
};
pub use clock::{Clock, FakeClock, SystemClock};
pub use decision::Decision;
pub use error::Error;
pub use memory::{Builder, DEFAULT_MAX_USERS, MAX_SHARDS, MAX_WINDOW, MIN_WINDOW, MemoryLimiter};

/// A per-key rate limiter: each call checks a request against its key's limit and, when it is
/// allowed, records it.
///
/// Checks are synchronous and infallible on purpose. A backend that can fail (the planned Redis
/// one) must still answer: it degrades inside itself, for instance to a [`MemoryLimiter`] of the
/// same limits in this process, and reports the outage through its own logs or metrics. Callers
/// thus never choose between refusing everyone while a store is down and not limiting at all.
///
/// ```
/// use m4_ratelimit::{Decision, MemoryLimiter, RateLimiter};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let limiter: Arc<dyn RateLimiter> =
///     Arc::new(MemoryLimiter::builder(1, Duration::from_secs(3600)).build()?);
/// assert!(matches!(limiter.check("user-1"), Decision::Allowed { remaining: 0, .. }));
/// assert!(matches!(limiter.check("user-1"), Decision::Limited { .. }));
/// # Ok::<(), m4_ratelimit::Error>(())
/// ```
pub trait RateLimiter: Send + Sync {
    /// Checks one request of `key` and records it if it is allowed.
    fn check(&self, key: &str) -> Decision;
}

impl<L: RateLimiter + ?Sized> RateLimiter for std::sync::Arc<L> {
    fn check(&self, key: &str) -> Decision {
        (**self).check(key)
    }
}

impl<L: RateLimiter + ?Sized> RateLimiter for Box<L> {
    fn check(&self, key: &str) -> Decision {
        (**self).check(key)
    }
}

impl<L: RateLimiter + ?Sized> RateLimiter for &L {
    fn check(&self, key: &str) -> Decision {
        (**self).check(key)
    }
}
