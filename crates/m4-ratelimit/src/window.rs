//! The per-key algorithm: a conservative sliding window of `K` sub-windows.
//!
//! This module is pure arithmetic on one key's state: no locks, no map, no clock.
//! Times are nanoseconds since the limiter's clock origin.
//!
//! # Algorithm
//!
//! The window `W` is cut into `K` =  [`SUB_WINDOWS`] sub-windows ("buckets") of width
//! `g = ceil(W / K)`, so `K·g ≥ W`.
//! Bucket `j` covers the times `[j·g, (j+1)·g)`.
//! Per key we keep a ring of the `K + 1` most recent buckets: for each, the number of requests
//! allowed in it and an upper bound of the latest time one was allowed in it (`last`, rounded up
//! to a resolution of `2^shift` ns so it fits 16 bits).
//! We also keep `total`, the sum of the ring's counts, so a check is O(1).
//!
//! A request at time `τ` falls in bucket `b = ⌊τ/g⌋` (never less than the newest bucket already
//! seen, see *Time* below).
//! It counts every request allowed in buckets `b-K ..= b`, except that the oldest bucket `b-K`
//! is left out when its `last + W ≤ τ` (all of its requests are then at least `W` old).
//! The request is allowed, and recorded in bucket `b`, when that count is below `N`.
//!
//! # Guarantee (never too many)
//!
//! Claim: in any half-open interval `[a, a+W)`, at most `N` requests of a key are allowed.
//! Let `X` be the last request allowed (in processing order) whose time `τ_X` is in the interval,
//! and `Y` any earlier one with `τ_Y` in it.
//! Then `τ_Y ≥ a > τ_X − W ≥ b·g − K·g`, so `Y`'s bucket `j_Y` satisfies `(j_Y+1)·g > (b−K)·g`,
//! i.e. `j_Y ≥ b − K`; and `j_Y ≤ b` because bucket numbers never decrease per key.
//! So `Y` sits in the ring. If `j_Y = b − K` and that bucket was left out, then
//! `τ_Y ≤ last ≤ τ_X − W < τ_Y`: impossible. So every such `Y` was counted, there were at most
//! `N − 1` of them when `X` was allowed, and the interval holds at most `N`.
//!
//! # What it gives up (never too strict beyond a bound)
//!
//! Everything counted lies in buckets `b-K ..= b`, i.e. at times `> τ − (K+1)·g`.
//! So a request is denied only if at least `N` requests of the key were allowed in
//! `(τ − (K+1)·g, τ]`: the limiter is at least as permissive as an exact sliding log over the
//! longer window `W' = (K+1)·g ≈ W·(1 + 1/K)`.
//! Consequences: a steady stream with period `P` is never denied when `⌈W'/P⌉ ≤ N` (any rate up
//! to about `N/W · K/(K+1)`, so certainly `N/(2W)`); under a backlog of demand it allows at least
//! `N` per `W'`, i.e. a fraction `K/(K+1)` (94 % for `K = 16`) of the exact model's `N` per `W`.
//! The `last` refinement makes the common cases exact: `N = 1`, and bursts repeating every `W`.
//!
//! # Time
//!
//! Threads read the clock before taking the shard lock, so two requests on one key may be
//! processed in the opposite order of their clock readings.
//! A request whose bucket is older than the newest bucket seen is moved forward to the start of
//! that bucket: its time `τ = max(now, head·g)` lies between its clock reading and the moment it
//! was processed, which keeps bucket numbers non-decreasing per key (the proof needs only that).

use std::time::Duration;

use crate::Decision;

/// `K`: sub-windows per window. The ring holds `K + 1` buckets.
pub(crate) const SUB_WINDOWS: u64 = 16;

/// `K + 1`: buckets in the ring.
const SLOTS: usize = 17;

/// Bits of a bucket's `last` offset.
const LAST_BITS: u32 = 15;

/// Limit parameters shared by every key of one limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// `N`: requests allowed in any interval of length `window`.
    limit: u32,
    /// `W` in nanoseconds.
    window: u64,
    /// `g = ceil(W / K)` in nanoseconds, at least 1.
    bucket: u64,
    /// `last` offsets are stored in units of `2^shift` ns, rounded up, so that `g ≤ 2^(15+shift)`.
    shift: u32,
}

impl Params {
    /// Parameters for `limit` requests per `window_nanos` (both already validated non-zero).
    pub(crate) fn new(limit: u32, window_nanos: u64) -> Self {
        let bucket = window_nanos.div_ceil(SUB_WINDOWS).max(1);
        let bits = u64::BITS - (bucket - 1).leading_zeros();
        Self {
            limit,
            window: window_nanos,
            bucket,
            shift: bits.saturating_sub(LAST_BITS),
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

    /// `W' = (K+1)·g`: the limiter denies only when `N` requests were allowed in the last `W'`.
    pub(crate) fn slack_window_nanos(&self) -> u64 {
        self.bucket.saturating_mul(SUB_WINDOWS + 1)
    }

    /// Bucket number of a time.
    fn bucket_of(&self, nanos: u64) -> u64 {
        nanos / self.bucket
    }

    /// Start time of a bucket.
    fn start_of(&self, bucket: u64) -> u64 {
        bucket.saturating_mul(self.bucket)
    }
}

/// One key's state: a ring of `K + 1` buckets.
#[derive(Clone, Debug)]
pub(crate) struct Window {
    /// Number of the newest bucket seen; the ring holds buckets `head-K ..= head`.
    head: u64,
    /// Sum of `counts`.
    total: u32,
    /// Requests allowed per bucket, indexed by `bucket % SLOTS`.
    counts: [u32; SLOTS],
    /// Per bucket, latest allowed time minus the bucket's start, in `2^shift` ns, rounded up.
    lasts: [u16; SLOTS],
}

/// Ring slot of a bucket number.
fn slot(bucket: u64) -> usize {
    // The remainder is below SLOTS = 17, so the cast keeps it whole.
    (bucket % SLOTS as u64) as usize
}

#[expect(
    clippy::indexing_slicing,
    reason = "every index comes from slot(), which is below SLOTS, the arrays' length"
)]
impl Window {
    /// An empty window whose newest bucket is the one holding `now`.
    pub(crate) fn new(params: &Params, now: u64) -> Self {
        Self {
            head: params.bucket_of(now),
            total: 0,
            counts: [0; SLOTS],
            lasts: [0; SLOTS],
        }
    }

    /// True when nothing recorded here can count any more at `now` (nor later): dropping the
    /// window then changes no decision, because a new one behaves exactly the same.
    pub(crate) fn is_expired(&self, params: &Params, now: u64) -> bool {
        self.total == 0 || params.bucket_of(now) > self.head.saturating_add(SUB_WINDOWS)
    }

    /// Moves the ring forward so that `bucket` is the newest, emptying the buckets it drops.
    fn advance(&mut self, bucket: u64) {
        let steps = bucket - self.head;
        if steps >= SLOTS as u64 {
            self.counts = [0; SLOTS];
            self.lasts = [0; SLOTS];
            self.total = 0;
        } else {
            for j in self.head + 1..=bucket {
                let s = slot(j);
                self.total -= self.counts[s];
                self.counts[s] = 0;
                self.lasts[s] = 0;
            }
        }
        self.head = bucket;
    }

    /// The time from which bucket `j` (in the ring, non-empty) no longer counts:
    /// once it is the oldest bucket and its latest request is `W` old, or once it leaves the ring.
    fn expiry(&self, params: &Params, j: u64) -> u64 {
        let as_oldest = params.start_of(j.saturating_add(SUB_WINDOWS));
        let last = params
            .start_of(j)
            .saturating_add(u64::from(self.lasts[slot(j)]) << params.shift)
            .saturating_add(params.window);
        as_oldest.max(last)
    }

    /// Check-and-record one request at clock reading `now`.
    pub(crate) fn check(&mut self, params: &Params, now: u64) -> Decision {
        // Bucket numbers never go back (see the module docs, *Time*).
        let bucket = params.bucket_of(now).max(self.head);
        let tau = now.max(params.start_of(bucket));
        self.advance(bucket);

        let mut used = self.total;
        if let Some(oldest) = bucket.checked_sub(SUB_WINDOWS) {
            let s = slot(oldest);
            if self.counts[s] > 0 && self.expiry(params, oldest) <= tau {
                used -= self.counts[s];
            }
        }

        if used < params.limit {
            let s = slot(bucket);
            self.counts[s] += 1;
            self.total += 1;
            let offset = tau - params.start_of(bucket);
            let units = offset.div_ceil(1 << params.shift);
            // offset < g ≤ 2^(15+shift), so units ≤ 2^15 and always fits.
            let units = u16::try_from(units).unwrap_or(u16::MAX);
            self.lasts[s] = self.lasts[s].max(units);
            Decision::Allowed {
                remaining: u64::from(params.limit - used - 1),
                // Our request is the newest: when its bucket stops counting, all have.
                reset_after: Duration::from_nanos(self.expiry(params, bucket) - tau),
            }
        } else {
            Decision::Limited {
                retry_after: Duration::from_nanos(self.retry_at(params, bucket, tau, used) - tau),
            }
        }
    }

    /// The first time at which a request would be allowed again if none came in between:
    /// buckets stop counting oldest first, so walk them until enough of the `used` count is freed.
    fn retry_at(&self, params: &Params, bucket: u64, tau: u64, used: u32) -> u64 {
        // A request is allowed once the count drops to `limit - 1`.
        let to_free = used - (params.limit - 1);
        let mut freed = 0u32;
        let first = bucket.saturating_sub(SUB_WINDOWS);
        for j in first..=bucket {
            let count = self.counts[slot(j)];
            if count == 0 {
                continue;
            }
            let expiry = self.expiry(params, j);
            if expiry <= tau {
                // The oldest bucket, already left out of `used`.
                continue;
            }
            freed += count;
            if freed >= to_free {
                return expiry;
            }
        }
        // Unreachable: the ring's counts add up to at least `used`. Answer the latest possible
        // time rather than panic.
        self.expiry(params, bucket)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    #[test]
    fn params_bucket_and_shift() {
        let p = Params::new(100, 3600 * SEC);
        assert_eq!(p.bucket, 225 * SEC);
        // 225 s needs 38 bits: 15 bits of `last` at 2^23 ns (about 8 ms) resolution.
        assert_eq!(p.shift, 23);
        assert!(p.bucket <= 1 << (LAST_BITS + p.shift));
        assert!(p.bucket > 1 << (LAST_BITS + p.shift - 1));
        let tiny = Params::new(1, 1);
        assert_eq!((tiny.bucket, tiny.shift), (1, 0));
        let exact = Params::new(1, 16 << 15);
        assert_eq!((exact.bucket, exact.shift), (1 << 15, 0));
        assert_eq!(exact.slack_window_nanos(), 17 << 15);
    }

    #[test]
    fn window_stays_small() {
        // head + total + 17 counts + 17 lasts, padded: independent of N.
        assert_eq!(std::mem::size_of::<Window>(), 120);
    }

    #[test]
    fn last_offset_rounds_up_and_fits() {
        let p = Params::new(2, 3600 * SEC);
        let mut w = Window::new(&p, 0);
        // The last nanosecond of bucket 0: rounded up, never down.
        assert!(w.check(&p, p.bucket - 1).is_allowed());
        assert_eq!(u64::from(w.lasts[0]), (p.bucket - 1).div_ceil(1 << p.shift));
        assert!(u64::from(w.lasts[0]) << p.shift >= p.bucket - 1);
        // The largest value ever stored, 2^15, still fits: g = 2^16 ns, so shift = 1.
        let p = Params::new(2, 16 << 16);
        assert_eq!((p.bucket, p.shift), (1 << 16, 1));
        let mut w = Window::new(&p, 0);
        assert!(w.check(&p, p.bucket - 1).is_allowed());
        assert_eq!(w.lasts[0], 1 << LAST_BITS);
    }

    #[test]
    fn expired_only_when_nothing_counts() {
        let p = Params::new(1, 16 * SEC);
        let mut w = Window::new(&p, 5 * SEC);
        assert!(w.is_expired(&p, 5 * SEC));
        assert!(w.check(&p, 5 * SEC).is_allowed());
        // Bucket 5 is in the ring up to bucket 21 included.
        assert!(!w.is_expired(&p, 21 * SEC + SEC / 2));
        assert!(w.is_expired(&p, 22 * SEC));
    }
}
