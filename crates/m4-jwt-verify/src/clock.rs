//! Time, injected: the verifier asks a [`Clock`] for "now" instead of reading the system time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of the current time in whole seconds since the Unix epoch.
///
/// ```
/// use m4_jwt_verify::{Clock, SystemClock};
/// assert!(SystemClock.now_unix() > 1_700_000_000);
/// ```
pub trait Clock: Send + Sync {
    /// Seconds since 1970-01-01T00:00:00Z.
    fn now_unix(&self) -> u64;
}

/// The system clock (the default).
///
/// A system time before the epoch reads as 0, which makes every token with an `nbf` look
/// not yet valid rather than making expired tokens look valid.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

/// A clock that only moves when told to, for tests.
///
/// ```
/// use m4_jwt_verify::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(60);
/// assert_eq!(clock.now_unix(), 1_060);
/// clock.set(5);
/// assert_eq!(clock.now_unix(), 5);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now_unix`.
    pub fn new(now_unix: u64) -> Self {
        ManualClock {
            now: AtomicU64::new(now_unix),
        }
    }

    /// Sets the time.
    pub fn set(&self, now_unix: u64) {
        self.now.store(now_unix, Ordering::SeqCst);
    }

    /// Moves the time forward by `secs` (saturating).
    pub fn advance(&self, secs: u64) {
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_add(secs))
            });
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}
