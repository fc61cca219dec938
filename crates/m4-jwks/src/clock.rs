//! Injected time: every TTL, cooldown and max-stale decision reads a [`Clock`].
//!
//! The cache never calls `Instant::now()` itself, so tests move time with a [`ManualClock`]
//! instead of sleeping.
//! Only two things use real time regardless of the clock: the HTTP timeout (enforced by the
//! socket layer) and the bound on how long a thread waits for a fetch already in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A source of monotonic time.
///
/// Implement it to drive the cache from your own notion of time; [`SystemClock`] is the
/// production choice and [`ManualClock`] the test one.
///
/// ```
/// use m4_jwks::{Clock, SystemClock};
///
/// let clock = SystemClock;
/// let a = clock.now();
/// assert!(clock.now() >= a);
/// ```
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The operating system's monotonic clock (`Instant::now()`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to, for tests.
///
/// Clones share the same time, so a test keeps one handle and gives another to the cache.
///
/// ```
/// use std::time::Duration;
/// use m4_jwks::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now() - start, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<Instant>>,
}

impl ManualClock {
    /// A clock frozen at the real current instant.
    pub fn new() -> Self {
        Self {
            now: Arc::new(Mutex::new(Instant::now())),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock();
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.now.lock()
    }
}
