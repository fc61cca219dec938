//! Counters of what an authenticator decided, and the [`Stats`] snapshot that reads them.
//!
//! Counting must not cost the hot path its scaling: every thread increments its own stripe
//! of counters (padded to its own cache lines), and a snapshot sums the stripes.
//! Counts are exact once the counting threads are done; a snapshot taken while they run may
//! see one counter moved and not yet another.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::CODES;

/// Stripes of counters; threads beyond this share stripes (still correct, a little slower).
const STRIPES: usize = 8;

/// One thread's share of the counters, on cache lines of its own.
#[repr(align(128))]
#[derive(Default)]
struct Stripe {
    accepted: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    rejected: [AtomicU64; CODES.len()],
}

/// The live counters of one authenticator (shared by its clones).
#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Stripe; STRIPES],
}

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: Cell<Option<usize>> = const { Cell::new(None) };
}

fn stripe_index() -> usize {
    STRIPE.with(|cell| match cell.get() {
        Some(i) => i,
        None => {
            let i = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
            cell.set(Some(i));
            i
        }
    })
}

impl Counters {
    fn mine(&self) -> Option<&Stripe> {
        self.stripes.get(stripe_index())
    }

    pub(crate) fn accepted(&self) {
        if let Some(s) = self.mine() {
            s.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn rejected(&self, code: &str) {
        let Some(i) = CODES.iter().position(|c| *c == code) else {
            return;
        };
        if let Some(counter) = self.mine().and_then(|s| s.rejected.get(i)) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn cache_hit(&self) {
        if let Some(s) = self.mine() {
            s.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn cache_miss(&self) {
        if let Some(s) = self.mine() {
            s.cache_misses.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes back a miss this thread just counted (a lookup that stopped because it would have
    /// fetched keys, and will be counted again when it is retried where it may fetch).
    pub(crate) fn cache_miss_retracted(&self) {
        if let Some(s) = self.mine() {
            s.cache_misses.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn sum(&self, read: impl Fn(&Stripe) -> &AtomicU64) -> u64 {
        self.stripes
            .iter()
            .map(|s| read(s).load(Ordering::Relaxed))
            .fold(0, u64::wrapping_add)
    }

    /// `(accepted, rejected by code in CODES order, cache hits, cache misses)`.
    pub(crate) fn read(&self) -> (u64, Vec<(&'static str, u64)>, u64, u64) {
        let rejected = CODES
            .iter()
            .enumerate()
            .map(|(i, code)| {
                let n = self
                    .stripes
                    .iter()
                    .filter_map(|s| s.rejected.get(i))
                    .map(|c| c.load(Ordering::Relaxed))
                    .fold(0, u64::wrapping_add);
                (*code, n)
            })
            .collect();
        (
            self.sum(|s| &s.accepted),
            rejected,
            self.sum(|s| &s.cache_hits),
            self.sum(|s| &s.cache_misses),
        )
    }
}

/// A snapshot of an authenticator's counters, from
/// [`Authenticator::stats`](crate::Authenticator::stats).
///
/// Counts cover every clone of the authenticator since it was built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Tokens accepted (including anonymous principals when authentication is disabled).
    pub accepted: u64,
    /// Rejections by code, one entry per code of [`CODES`](crate::CODES) in that order, zeros
    /// included; `rate_limited` is counted here too.
    pub rejected: Vec<(&'static str, u64)>,
    /// Requests refused by the rate limiter (the same number as `rejected("rate_limited")`).
    pub rate_limited: u64,
    /// The verified-token cache.
    pub token_cache: TokenCacheStats,
}

/// The verified-token cache's part of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TokenCacheStats {
    /// Capacity in entries (`M4_OAUTH2_TOKEN_CACHE_SIZE`); 0 when the cache is off.
    pub capacity: usize,
    /// Entries held now.
    pub entries: usize,
    /// Tokens answered from the cache (they still had `exp`, `nbf`, scopes and the rate limit
    /// checked).
    pub hits: u64,
    /// Tokens that went through full verification while the cache was on.
    pub misses: u64,
}

impl Stats {
    pub(crate) fn new(counters: &Counters, token_cache: TokenCacheStats) -> Self {
        let (accepted, rejected, hits, misses) = counters.read();
        let rate_limited = rejected
            .iter()
            .find(|(c, _)| *c == "rate_limited")
            .map_or(0, |(_, n)| *n);
        Self {
            accepted,
            rejected,
            rate_limited,
            token_cache: TokenCacheStats {
                hits,
                misses,
                ..token_cache
            },
        }
    }

    /// Rejections with `code` (0 for a code that is not in [`CODES`](crate::CODES)).
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert_eq!(auth.stats().rejected("token_expired"), 0);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn rejected(&self, code: &str) -> u64 {
        self.rejected
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(0, |(_, n)| *n)
    }

    /// All rejections together.
    ///
    /// ```
    /// let auth = m4_auth::Authenticator::new(m4_auth::AuthConfig::default())?;
    /// assert_eq!(auth.stats().rejected_total(), 0);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn rejected_total(&self) -> u64 {
        self.rejected
            .iter()
            .map(|(_, n)| *n)
            .fold(0, u64::wrapping_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_from_many_threads_add_up() {
        let counters = Counters::default();
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counters.accepted();
                        counters.rejected("token_expired");
                        counters.cache_hit();
                    }
                    counters.rejected("not_a_code");
                    counters.cache_miss();
                });
            }
        });
        let stats = Stats::new(&counters, TokenCacheStats::default());
        assert_eq!(stats.accepted, 12_000);
        assert_eq!(stats.rejected("token_expired"), 12_000);
        assert_eq!(stats.rejected_total(), 12_000);
        assert_eq!(stats.token_cache.hits, 12_000);
        assert_eq!(stats.token_cache.misses, 12);
        assert_eq!(stats.rejected.len(), CODES.len());
    }
}
