//! The per-key algorithm: a sliding log of groups of consecutive requests.
//!
//! This module is pure arithmetic on one key's state: no locks, no map, no clock.
//! Times are nanoseconds since the limiter's clock origin.
//!
//! # Algorithm
//!
//! An exact sliding log keeps the time of each of the last `N` allowed requests: memory grows
//! with `N`. We keep the log in groups instead: the allowed requests of a key, in order, are cut
//! into groups of `G = ⌈N/K⌉` consecutive requests (`K` = [`GROUPS`] = 16), and of each group we
//! keep only the time of its latest request (`last`). Every group but the newest is full, so the
//! count of a run of groups is known from the number of groups and the newest group's count.
//!
//! A group stops counting once its `last` is `W` old: all of its requests are then at least `W`
//! old. A check at time `τ` drops the groups that stopped counting (oldest first, they are in
//! time order), counts `used` = the requests of the remaining groups, and allows the request
//! when `used < N`, adding it to the newest group or opening a new one.
//! At most `K` groups are ever live: when a request is allowed, `used ≤ N − 1`, so there are at
//! most `⌊(N−1)/G⌋ ≤ K − 1` full groups and one partial one, which it may close and replace.
//!
//! # Guarantee (never too many)
//!
//! Claim: in any half-open interval `[a, a+W)`, at most `N` requests of a key are allowed.
//! Let `X` be the last request allowed with its time `τ_X` in the interval, and `Y` any earlier
//! one in it: `τ_Y ≥ a > τ_X − W`. `Y`'s group has `last ≥ τ_Y` (the latest time of the group), so
//! `last + W > τ_X`: the group still counted when `X` was checked, and with all its requests.
//! So at most `N − 1` such `Y` existed when `X` was allowed.
//!
//! # What it gives up (never too strict beyond a bound)
//!
//! Requests that no longer count are still counted only inside the oldest live group (a later
//! group with an old request would make the oldest one entirely old, and it would have been
//! dropped), so at most `G − 1` of them. Hence a request is refused only when at least
//! `N' = N − G + 1` requests of the key were allowed in `(τ − W, τ]`: the limiter is at least as
//! permissive as an exact sliding log allowing `N'` per `W` (93.75 % of `N` or more, 94 of 100).
//! For `N ≤ K`, `G = 1` and the limiter *is* an exact sliding log.
//!
//! Over a whole timeline, it allows at least `N'/N` of what the exact log of `N` allows, minus
//! `N'`, on every prefix of every timeline (`docs/rate-limiting.md` has the proof).
//!
//! # Time
//!
//! A request's time is `τ = max(clock reading, time of the key's newest allowed request)`, so
//! times never decrease per key even if threads are processed in another order than they read
//! the clock; `τ` lies between the request's clock reading and the moment it is processed.
//! Times are stored exactly, in nanoseconds.

use std::time::Duration;

use crate::Decision;

/// `K`: the most groups a key holds.
pub(crate) const GROUPS: usize = 16;

/// Limit parameters shared by every key of one limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// `N`: requests allowed in any interval of length `window`.
    limit: u32,
    /// `G = ⌈N/K⌉`: requests per full group.
    group: u32,
    /// `W` in nanoseconds.
    window: u64,
}

impl Params {
    /// Parameters for `limit` requests per `window_nanos` (both already validated non-zero).
    pub(crate) fn new(limit: u32, window_nanos: u64) -> Self {
        Self {
            limit,
            group: limit.div_ceil(GROUPS as u32),
            window: window_nanos,
        }
    }

    /// `N`.
    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    /// `W` in nanoseconds.
    pub(crate) fn window_nanos(&self) -> u64 {
        self.window
    }

    /// `G`: a request is refused only when at least `N − G + 1` were allowed in the last `W`.
    pub(crate) fn group(&self) -> u32 {
        self.group
    }
}

/// One key's state: a ring of up to `K` groups.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    /// Time of the newest allowed request (exact); the newest group's `last`.
    newest: u64,
    /// Per live group, the time of its latest request.
    lasts: [u64; GROUPS],
    /// Ring index of the oldest live group.
    oldest: u8,
    /// Live groups, `0 ..= K`.
    groups: u8,
    /// Requests in the newest group, `1 ..= G` (0 when there is no group).
    newest_count: u32,
}

#[expect(
    clippy::indexing_slicing,
    reason = "every index is reduced modulo GROUPS, the ring's length"
)]
impl Window {
    /// An empty window.
    pub(crate) fn new() -> Self {
        Self {
            newest: 0,
            lasts: [0; GROUPS],
            oldest: 0,
            groups: 0,
            newest_count: 0,
        }
    }

    /// True when nothing recorded here counts any more at `now` (nor later): dropping the
    /// window then changes no decision, because a new one behaves exactly the same.
    pub(crate) fn is_expired(&self, params: &Params, now: u64) -> bool {
        self.groups == 0 || now >= self.newest.saturating_add(params.window)
    }

    /// Ring index of the `i`-th oldest live group.
    fn index(&self, i: usize) -> usize {
        (usize::from(self.oldest) + i) % GROUPS
    }

    /// The time from which the `i`-th oldest live group stops counting.
    fn expiry(&self, params: &Params, i: usize) -> u64 {
        self.lasts[self.index(i)].saturating_add(params.window)
    }

    /// Requests counted by the live groups.
    fn used(&self, params: &Params) -> u32 {
        match self.groups {
            0 => 0,
            n => u32::from(n - 1) * params.group + self.newest_count,
        }
    }

    /// Check-and-record one request at clock reading `now`.
    pub(crate) fn check(&mut self, params: &Params, now: u64) -> Decision {
        let tau = now.max(self.newest);
        if self.is_expired(params, tau) {
            self.groups = 0;
            self.newest_count = 0;
        }
        // Drop the groups that stopped counting, oldest first. The newest one is still live,
        // or the whole window would have been reset just above.
        while self.groups > 1 && self.expiry(params, 0) <= tau {
            self.oldest = ((usize::from(self.oldest) + 1) % GROUPS) as u8;
            self.groups -= 1;
        }

        let used = self.used(params);
        if used >= params.limit {
            // Nothing is recorded while `used ≥ N`, so here `used = N`: a request is allowed
            // again as soon as one is freed, i.e. when the oldest group stops counting. Before
            // then, no group stops counting, as they stop in order.
            return Decision::Limited {
                retry_after: Duration::from_nanos(self.expiry(params, 0) - tau),
            };
        }
        if self.groups == 0 || self.newest_count == params.group {
            // At most K − 1 full groups are live here (module docs), so the ring has room.
            self.groups += 1;
            self.newest_count = 0;
        }
        self.newest_count += 1;
        self.newest = tau;
        self.lasts[self.index(usize::from(self.groups) - 1)] = tau;
        Decision::Allowed {
            remaining: u64::from(params.limit - used - 1),
            reset_after: Duration::from_nanos(self.expiry(params, 0) - tau),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn group_size() {
        for (limit, group) in [(1, 1), (16, 1), (17, 2), (100, 7), (u32::MAX, 268_435_456)] {
            assert_eq!(Params::new(limit, SEC).group(), group, "limit {limit}");
        }
    }

    #[test]
    fn window_stays_small() {
        // newest + 16 lasts + ring position + newest count, whatever N.
        assert_eq!(std::mem::size_of::<Window>(), 144);
    }

    #[test]
    fn at_most_k_groups_even_at_the_limit() {
        for limit in [1, 15, 16, 17, 31, 32, 33, 100, 1_000, 99_999] {
            let p = Params::new(limit, 60 * SEC);
            let mut w = Window::new();
            for i in 0..limit {
                // Distinct times, so every group is a real one.
                assert!(w.check(&p, u64::from(i)).is_allowed(), "limit {limit}");
                assert!(usize::from(w.groups) <= GROUPS);
            }
            assert_eq!(w.used(&p), limit);
            assert!(!w.check(&p, u64::from(limit)).is_allowed());
        }
    }

    #[test]
    fn expired_exactly_one_window_after_the_newest() {
        let p = Params::new(1, 16 * SEC);
        let mut w = Window::new();
        assert!(w.is_expired(&p, 5 * SEC));
        assert!(w.check(&p, 5 * SEC).is_allowed());
        assert!(!w.is_expired(&p, 21 * SEC - 1));
        assert!(w.is_expired(&p, 21 * SEC));
    }

    #[test]
    fn a_late_clock_reading_is_moved_to_the_newest_time() {
        let p = Params::new(2, 10 * SEC);
        let mut w = Window::new();
        assert!(w.check(&p, 5 * SEC).is_allowed());
        // A reading from before the newest request: it counts as happening at 5 s.
        assert!(w.check(&p, SEC).is_allowed());
        assert_eq!(w.lasts[0], 5 * SEC);
        assert_eq!(
            w.check(&p, 2 * SEC),
            Decision::Limited {
                retry_after: Duration::from_secs(10)
            }
        );
    }
}
