//! The in-memory backend: [`MemoryLimiter`], sharded LRU maps of per-key windows.
//!
//! Invariants:
//! - at most `max_users` keys are held in total: a global atomic count of held keys (plus slots
//!   reserved by keys being inserted) never exceeds it, and a new key takes a free slot or
//!   replaces the least recently used key of its own shard; shards have no size of their own, so
//!   nothing is evicted while fewer than `max_users` keys are held;
//! - a request's work is O(1) amortised: one hash, one lock, one map probe (two on a miss),
//!   at most [`SWEEP_BATCH`] entries examined by the sweep, at most one eviction;
//!   nothing scans a whole map except [`MemoryLimiter::remove_expired`], which callers run off the
//!   request path if they want it at all;
//! - per shard, the time used for decisions never decreases, even though threads read the clock
//!   before taking the lock;
//! - a key's hash is computed once and used both to pick its shard and inside the shard's map.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hashlink::linked_hash_map::RawEntryMut;
use hashlink::{DefaultHashBuilder, LinkedHashMap};
use parking_lot::Mutex;

use crate::window::{Params, Window};
use crate::{Clock, Decision, Error, RateLimiter, SystemClock};

/// Default capacity: the seed's 10,000 users.
pub const DEFAULT_MAX_USERS: usize = 10_000;

/// Shortest window accepted.
pub const MIN_WINDOW: Duration = Duration::from_millis(1);

/// Longest window accepted: 100 years of 365 days.
pub const MAX_WINDOW: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Most shards accepted by [`Builder::shards`].
pub const MAX_SHARDS: usize = 1024;

/// Most shards chosen by default.
const DEFAULT_MAX_SHARDS: usize = 64;

/// The default shard count aims at this many keys per shard, so that per-shard LRU stays close
/// to a global one while threads rarely meet on one lock.
const KEYS_PER_SHARD: usize = 512;

/// Entries examined from a shard's LRU end by one sweep.
const SWEEP_BATCH: usize = 2;

/// A hit also sweeps once every this many checks of its shard (a miss always does).
const SWEEP_EVERY: u32 = 8;

/// At most this many table slots are reserved up front per shard (a shard's fair share of the
/// capacity plus an eighth), so that most deployments never grow a table on the request path,
/// while a mistaken huge capacity does not reserve gigabytes at start.
const PREALLOCATE_PER_SHARD: usize = 16_384;

/// A rate limiter that keeps every key's state in this process's memory.
///
/// `N` requests per window `W` per key, never more in any interval of length `W`; at most
/// `max_users` keys, least recently used evicted first.
/// See the crate docs for the algorithm, its bound and its costs.
///
/// ```
/// use m4_ratelimit::{FakeClock, MemoryLimiter, RateLimiter};
/// use std::time::Duration;
///
/// let clock = FakeClock::new();
/// let limiter = MemoryLimiter::builder(2, Duration::from_secs(60))
///     .max_users(1_000)
///     .clock(clock.clone())
///     .build()?;
/// assert!(limiter.check("alice").is_allowed());
/// assert!(limiter.check("alice").is_allowed());
/// assert_eq!(limiter.check("alice").retry_after_secs(), Some(60));
/// assert!(limiter.check("bob").is_allowed());
/// clock.advance(Duration::from_secs(60));
/// assert!(limiter.check("alice").is_allowed());
/// # Ok::<(), m4_ratelimit::Error>(())
/// ```
pub struct MemoryLimiter<C = SystemClock> {
    params: Params,
    clock: C,
    hasher: DefaultHashBuilder,
    /// A power-of-two number of shards.
    shards: Box<[Padded<Mutex<Shard>>]>,
    /// Keys held plus slots reserved by keys being inserted: never above `max_users`.
    held: Padded<AtomicUsize>,
    max_users: usize,
}

/// A value on its own cache lines, so that threads writing two of them share no line.
#[repr(align(128))]
struct Padded<T>(T);

/// One shard: an LRU-ordered map (front = least recently used) of key windows.
struct Shard {
    map: LinkedHashMap<String, Window, DefaultHashBuilder>,
    /// The latest time used in this shard: decisions use `max(clock reading, latest)`.
    latest: u64,
    /// Checks since creation (wrapping), to sweep on every `SWEEP_EVERY`-th hit.
    checks: u32,
}

impl MemoryLimiter<SystemClock> {
    /// Starts building a limiter of `limit` requests per `window`, with the defaults:
    /// [`DEFAULT_MAX_USERS`] keys, a shard count chosen from the capacity, the [`SystemClock`].
    ///
    /// ```
    /// use m4_ratelimit::{MemoryLimiter, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(100, Duration::from_secs(3600)).build()?;
    /// assert_eq!(limiter.max_users(), 10_000);
    /// assert!(limiter.check("user-1").is_allowed());
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn builder(limit: u64, window: Duration) -> Builder<SystemClock> {
        Builder {
            limit,
            window,
            max_users: DEFAULT_MAX_USERS,
            shards: None,
            clock: SystemClock::new(),
        }
    }
}

/// Configures a [`MemoryLimiter`]; made by [`MemoryLimiter::builder`], checked by
/// [`Builder::build`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until built"]
pub struct Builder<C = SystemClock> {
    limit: u64,
    window: Duration,
    max_users: usize,
    shards: Option<usize>,
    clock: C,
}

impl<C: Clock> Builder<C> {
    /// At most this many keys are held (default [`DEFAULT_MAX_USERS`]); a new key beyond it
    /// replaces the least recently used key of its shard.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(100, Duration::from_secs(3600))
    ///     .max_users(50_000)
    ///     .build()?;
    /// assert_eq!(limiter.max_users(), 50_000);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn max_users(mut self, max_users: usize) -> Self {
        self.max_users = max_users;
        self
    }

    /// Uses exactly this many shards (a power of two, at most [`MAX_SHARDS`] and at most
    /// `max_users`) instead of the default chosen from the capacity.
    /// One shard gives an exact global LRU at the price of one lock for all keys.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(100, Duration::from_secs(3600))
    ///     .shards(1)
    ///     .build()?;
    /// assert_eq!(limiter.shard_count(), 1);
    /// assert!(MemoryLimiter::builder(100, Duration::from_secs(3600)).shards(3).build().is_err());
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = Some(shards);
        self
    }

    /// Takes time from `clock` instead of the [`SystemClock`] (tests pass a
    /// [`FakeClock`](crate::FakeClock)).
    ///
    /// ```
    /// use m4_ratelimit::{FakeClock, MemoryLimiter, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let clock = FakeClock::new();
    /// let limiter = MemoryLimiter::builder(1, Duration::from_secs(10))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// assert!(limiter.check("k").is_allowed());
    /// clock.advance(Duration::from_secs(10));
    /// assert!(limiter.check("k").is_allowed());
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn clock<D: Clock>(self, clock: D) -> Builder<D> {
        Builder {
            limit: self.limit,
            window: self.window,
            max_users: self.max_users,
            shards: self.shards,
            clock,
        }
    }

    /// Checks every value and builds the limiter.
    ///
    /// # Errors
    /// [`Error::ZeroLimit`], [`Error::LimitTooLarge`] (above `u32::MAX`),
    /// [`Error::WindowTooShort`] (below [`MIN_WINDOW`]), [`Error::WindowTooLong`] (above
    /// [`MAX_WINDOW`]), [`Error::ZeroMaxUsers`], [`Error::InvalidShards`].
    ///
    /// ```
    /// use m4_ratelimit::{Error, MemoryLimiter};
    /// use std::time::Duration;
    ///
    /// let err = MemoryLimiter::builder(0, Duration::from_secs(3600)).build().err();
    /// assert_eq!(err, Some(Error::ZeroLimit));
    /// ```
    pub fn build(self) -> Result<MemoryLimiter<C>, Error> {
        let limit = match u32::try_from(self.limit) {
            Ok(0) => return Err(Error::ZeroLimit),
            Ok(limit) => limit,
            Err(_) => return Err(Error::LimitTooLarge { limit: self.limit }),
        };
        if self.window < MIN_WINDOW {
            return Err(Error::WindowTooShort {
                window: self.window,
            });
        }
        if self.window > MAX_WINDOW {
            return Err(Error::WindowTooLong {
                window: self.window,
            });
        }
        // MAX_WINDOW is about 3.2e18 ns, so this never saturates.
        let window_nanos = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        let max_users = self.max_users;
        if max_users == 0 {
            return Err(Error::ZeroMaxUsers);
        }
        let shard_count = match self.shards {
            Some(n) if n.is_power_of_two() && n <= MAX_SHARDS && n <= max_users => n,
            Some(shards) => return Err(Error::InvalidShards { shards, max_users }),
            None => default_shards(max_users),
        };
        let hasher = DefaultHashBuilder::default();
        let fair_share = max_users.div_ceil(shard_count);
        let reserve = (fair_share + fair_share / 8).min(PREALLOCATE_PER_SHARD);
        let shards = (0..shard_count)
            .map(|_| {
                Padded(Mutex::new(Shard {
                    map: LinkedHashMap::with_capacity_and_hasher(reserve, hasher),
                    latest: 0,
                    checks: 0,
                }))
            })
            .collect();
        Ok(MemoryLimiter {
            params: Params::new(limit, window_nanos),
            clock: self.clock,
            hasher,
            shards,
            held: Padded(AtomicUsize::new(0)),
            max_users,
        })
    }
}

/// The largest power of two at most `max_users / KEYS_PER_SHARD`, between 1 and 64:
/// 16 shards for the default 10,000 users, 1 below 1,024 users, 64 from 32,768 users.
fn default_shards(max_users: usize) -> usize {
    let wanted = (max_users / KEYS_PER_SHARD).clamp(1, DEFAULT_MAX_SHARDS);
    1 << wanted.ilog2()
}

impl<C: Clock> MemoryLimiter<C> {
    /// The shard number of a key's hash.
    fn shard_index(&self, hash: u64) -> usize {
        // Bits 40.. pick the shard: the map uses the low bits for the slot and the top 7 bits as
        // a tag, so those stay fully random inside a shard. Truncation is fine: only the masked
        // low bits are kept.
        (hash >> 40) as usize & (self.shards.len() - 1)
    }

    /// A shard by number.
    #[expect(
        clippy::indexing_slicing,
        reason = "callers mask the number with len - 1, len a power of two, so it is below len"
    )]
    fn shard(&self, index: usize) -> &Mutex<Shard> {
        &self.shards[index & (self.shards.len() - 1)].0
    }

    /// Takes a free slot for a new key, if the capacity allows one.
    fn reserve(&self) -> bool {
        let max = self.max_users;
        self.held
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    /// The rare miss path where every slot is taken and the key's own shard is empty: evict the
    /// least recently used key of another shard and take its slot (one lock at a time, so no
    /// lock order to get wrong), then insert with the own shard locked again.
    #[cold]
    fn check_with_stolen_slot(
        &self,
        index: usize,
        hash: u64,
        key: &str,
        clock_reading: u64,
    ) -> Decision {
        let stolen = (1..self.shards.len()).any(|i| {
            let mut other = self.shard(index + i).lock();
            other.map.pop_front().is_some()
        });
        let mut shard = self.shard(index).lock();
        let now = shard.now(clock_reading);
        if let Some(decision) = shard.check_held(&self.params, hash, key, now, &self.held.0) {
            // Another thread inserted the key meanwhile.
            if stolen {
                self.held.0.fetch_sub(1, Ordering::AcqRel);
            }
            return decision;
        }
        if stolen {
            return shard.insert(&self.params, hash, key.to_owned(), now);
        }
        // Not one key to evict anywhere: every slot is reserved by a key being inserted at this
        // very moment. Decide as for a new key and keep nothing, exactly as if one of those
        // inserts had evicted this key right away.
        Window::new().check(&self.params, now)
    }

    /// How many keys are held now (locks each shard in turn, so it is a snapshot per shard).
    ///
    /// ```
    /// use m4_ratelimit::{MemoryLimiter, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(5, Duration::from_secs(60)).build()?;
    /// limiter.check("a");
    /// limiter.check("b");
    /// limiter.check("a");
    /// assert_eq!(limiter.len(), 2);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.0.lock().map.len()).sum()
    }

    /// True when no key is held.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// assert!(MemoryLimiter::builder(5, Duration::from_secs(60)).build()?.is_empty());
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shards.iter().all(|s| s.0.lock().map.is_empty())
    }

    /// The capacity: at most this many keys are ever held.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(5, Duration::from_secs(60)).max_users(7).build()?;
    /// assert_eq!(limiter.max_users(), 7);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn max_users(&self) -> usize {
        self.max_users
    }

    /// The number of shards (a power of two).
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(5, Duration::from_secs(60)).build()?;
    /// assert_eq!(limiter.shard_count(), 16);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// `N`: requests allowed per key in any interval of length [`window`](Self::window).
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(5, Duration::from_secs(60)).build()?;
    /// assert_eq!((limiter.limit(), limiter.window()), (5, Duration::from_secs(60)));
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn limit(&self) -> u64 {
        u64::from(self.params.limit())
    }

    /// `W`, the window.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = MemoryLimiter::builder(5, Duration::from_millis(1500)).build()?;
    /// assert_eq!(limiter.window(), Duration::from_millis(1500));
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn window(&self) -> Duration {
        Duration::from_nanos(self.params.window_nanos())
    }

    /// `N' = N − ⌈N/16⌉ + 1`: a request is refused only when at least this many requests of its
    /// key were allowed within the last [`window`](Self::window). It is `N` itself (an exact
    /// sliding log) for `N ≤ 16`, and at least 93.75 % of `N` (94 of 100).
    /// This is the whole price of the algorithm compared with an exact log of timestamps.
    ///
    /// ```
    /// use m4_ratelimit::MemoryLimiter;
    /// use std::time::Duration;
    ///
    /// let hour = Duration::from_secs(3600);
    /// assert_eq!(MemoryLimiter::builder(100, hour).build()?.refusal_floor(), 94);
    /// assert_eq!(MemoryLimiter::builder(16, hour).build()?.refusal_floor(), 16);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn refusal_floor(&self) -> u64 {
        u64::from(self.params.limit() - self.params.group() + 1)
    }

    /// Removes every key whose recorded requests no longer count, and returns how many.
    ///
    /// This scans every shard (one lock at a time): it is for a maintenance thread, never
    /// called on the request path. Requests already remove expired keys lazily and in an
    /// amortised O(1) sweep, so calling it is optional. Removing an expired key changes no
    /// decision.
    ///
    /// ```
    /// use m4_ratelimit::{FakeClock, MemoryLimiter, RateLimiter};
    /// use std::time::Duration;
    ///
    /// let clock = FakeClock::new();
    /// let limiter = MemoryLimiter::builder(5, Duration::from_secs(60))
    ///     .clock(clock.clone())
    ///     .build()?;
    /// limiter.check("a");
    /// clock.advance(Duration::from_secs(3600));
    /// assert_eq!(limiter.remove_expired(), 1);
    /// assert!(limiter.is_empty());
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn remove_expired(&self) -> usize {
        let params = &self.params;
        self.shards
            .iter()
            .map(|shard| {
                let mut shard = shard.0.lock();
                let now = shard.now(self.clock.now_nanos());
                let before = shard.map.len();
                shard
                    .map
                    .retain(|_, window| !window.is_expired(params, now));
                let removed = before - shard.map.len();
                self.held.0.fetch_sub(removed, Ordering::AcqRel);
                removed
            })
            .sum()
    }

    /// An estimate of the bytes one held key costs, for a key of `key_len` bytes, assuming a
    /// 64-bit glibc-like allocator: the map node (key handle, window, LRU links) and the key's
    /// own allocation rounded to allocator chunks, plus one table slot (a pointer and a control
    /// byte) at the table's maximal load of 7/8. A table just grown is half full, which adds
    /// about 10 bytes per key. It does not depend on `N`.
    ///
    /// ```
    /// use m4_ratelimit::{FakeClock, MemoryLimiter};
    ///
    /// let bytes = MemoryLimiter::<FakeClock>::approx_bytes_per_key(36);
    /// assert!((150..300).contains(&bytes));
    /// ```
    pub fn approx_bytes_per_key(key_len: usize) -> usize {
        let node = size_of::<(String, Window)>() + 2 * size_of::<usize>();
        let key = if key_len == 0 { 0 } else { chunk(key_len) };
        let slot = (size_of::<usize>() + 1) * 8 / 7;
        chunk(node) + key + slot
    }
}

/// The size of a glibc malloc chunk holding `n` bytes: `n` plus an 8-byte header, rounded up
/// to 16, at least 32.
fn chunk(n: usize) -> usize {
    (n + 8).next_multiple_of(16).max(32)
}

impl<C: Clock> RateLimiter for MemoryLimiter<C> {
    fn check(&self, key: &str) -> Decision {
        let hash = self.hasher.hash_one(key);
        let index = self.shard_index(hash);
        let clock_reading = self.clock.now_nanos();
        let mut shard = self.shard(index).lock();
        let now = shard.now(clock_reading);
        if let Some(decision) = shard.check_held(&self.params, hash, key, now, &self.held.0) {
            return decision;
        }
        // A key not held (new, evicted, or swept after expiring: all three start afresh).
        shard.sweep(&self.params, now, &self.held.0);
        let owned = if self.reserve() {
            key.to_owned()
        } else if let Some((old_key, _)) = shard.map.pop_front() {
            // Full: replace the least recently used key of this shard, reusing its buffer.
            reuse_or_copy(old_key, key)
        } else {
            drop(shard);
            return self.check_with_stolen_slot(index, hash, key, clock_reading);
        };
        shard.insert(&self.params, hash, owned, now)
    }
}

impl Shard {
    /// The time to decide with: never before the last one used in this shard.
    fn now(&mut self, clock_reading: u64) -> u64 {
        self.latest = self.latest.max(clock_reading);
        self.latest
    }

    /// Checks a held key and makes it the most recently used; `None` if the key is not held.
    /// Every [`SWEEP_EVERY`]-th call also sweeps.
    fn check_held(
        &mut self,
        params: &Params,
        hash: u64,
        key: &str,
        now: u64,
        held: &AtomicUsize,
    ) -> Option<Decision> {
        self.checks = self.checks.wrapping_add(1);
        if self.checks.is_multiple_of(SWEEP_EVERY) {
            self.sweep(params, now, held);
        }
        match self.map.raw_entry_mut().from_key_hashed_nocheck(hash, key) {
            RawEntryMut::Occupied(mut entry) => {
                entry.to_back();
                Some(entry.into_mut().check(params, now))
            }
            RawEntryMut::Vacant(_) => None,
        }
    }

    /// Inserts a key known not to be held, with a slot already secured, and checks it.
    fn insert(&mut self, params: &Params, hash: u64, key: String, now: u64) -> Decision {
        let mut window = Window::new();
        let decision = window.check(params, now);
        // The key is absent, so this lookup always ends on a vacant slot.
        if let RawEntryMut::Vacant(slot) = self.map.raw_entry_mut().from_hash(hash, |_| false) {
            slot.insert_hashed_nocheck(hash, key, window);
        }
        decision
    }

    /// Removes up to [`SWEEP_BATCH`] expired entries from the LRU end; stops at a live one.
    fn sweep(&mut self, params: &Params, now: u64, held: &AtomicUsize) {
        for _ in 0..SWEEP_BATCH {
            match self.map.front() {
                Some((_, window)) if window.is_expired(params, now) => {
                    self.map.pop_front();
                    held.fetch_sub(1, Ordering::AcqRel);
                }
                _ => return,
            }
        }
    }
}

/// The evicted key's buffer refilled with `key` when it fits without much waste, else a copy:
/// the eviction path then usually allocates nothing.
fn reuse_or_copy(mut buffer: String, key: &str) -> String {
    if (key.len()..=key.len() + 64).contains(&buffer.capacity()) {
        buffer.clear();
        buffer.push_str(key);
        buffer
    } else {
        key.to_owned()
    }
}

impl<C> fmt::Debug for MemoryLimiter<C> {
    /// Shows the configuration, never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryLimiter")
            .field("limit", &self.params.limit())
            .field("window_nanos", &self.params.window_nanos())
            .field("max_users", &self.max_users)
            .field("held", &self.held.0.load(Ordering::Acquire))
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::FakeClock;

    fn limiter(max_users: usize, shards: Option<usize>) -> MemoryLimiter<FakeClock> {
        let mut builder = MemoryLimiter::builder(1, Duration::from_secs(60))
            .max_users(max_users)
            .clock(FakeClock::new());
        if let Some(n) = shards {
            builder = builder.shards(n);
        }
        builder.build().unwrap()
    }

    /// The keys of one shard, least recently used first.
    fn keys_of(l: &MemoryLimiter<FakeClock>, shard: usize) -> Vec<String> {
        l.shard(shard).lock().map.keys().cloned().collect()
    }

    /// `count` keys that fall in `shard`.
    fn keys_in(l: &MemoryLimiter<FakeClock>, shard: usize, count: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("k{i}"))
            .filter(|k| l.shard_index(l.hasher.hash_one(k.as_str())) == shard)
            .take(count)
            .collect()
    }

    #[test]
    fn default_shard_counts() {
        for (users, shards) in [
            (1, 1),
            (1_023, 1),
            (1_024, 2),
            (10_000, 16),
            (32_767, 32),
            (32_768, 64),
            (1_000_000, 64),
        ] {
            assert_eq!(default_shards(users), shards, "{users} users");
        }
    }

    /// With 16 shards and 10,001 keys: nothing is evicted until 10,000 are held, then a new key
    /// replaces the least recently used key of its own shard. Checked against a model.
    #[test]
    fn eviction_starts_at_capacity_and_is_per_shard_lru() {
        let l = limiter(10_000, None);
        assert_eq!(l.shard_count(), 16);
        let mut model: Vec<VecDeque<String>> = vec![VecDeque::new(); 16];
        let shard_of = |key: &str| l.shard_index(l.hasher.hash_one(key));
        let mut held = 0;
        for i in 0..10_001 {
            let key = format!("user-{i}");
            let s = shard_of(&key);
            let evicted = (held == 10_000).then(|| model[s].pop_front().unwrap());
            assert!(l.check(&key).is_allowed());
            model[s].push_back(key);
            if let Some(evicted) = evicted {
                assert!(!l.shard(s).lock().map.contains_key(&evicted));
            } else {
                held += 1;
            }
            // Touch an old key now and then, so LRU order differs from insertion order.
            if i % 7 == 0 {
                let old = format!("user-{}", i / 2);
                let so = shard_of(&old);
                if let Some(pos) = model[so].iter().position(|k| *k == old) {
                    let k = model[so].remove(pos).unwrap();
                    assert!(!l.check(&k).is_allowed());
                    model[so].push_back(k);
                }
            }
        }
        assert_eq!(l.len(), 10_000);
        assert_eq!(l.held.0.load(Ordering::Acquire), 10_000);
        for (s, keys) in model.iter().enumerate() {
            assert_eq!(keys_of(&l, s), Vec::from(keys.clone()), "shard {s}");
        }
    }

    /// Full, and the new key's shard is empty: the least recently used key of another shard
    /// gives up its slot.
    #[test]
    fn a_full_limiter_steals_a_slot_for_an_empty_shard() {
        let l = limiter(4, Some(4));
        let in_0 = keys_in(&l, 0, 4);
        let in_1 = keys_in(&l, 1, 1);
        for k in &in_0 {
            assert!(l.check(k).is_allowed());
        }
        assert_eq!(l.len(), 4);
        assert!(l.check(&in_1[0]).is_allowed());
        assert_eq!(l.len(), 4);
        assert_eq!(keys_of(&l, 0), in_0[1..].to_vec());
        assert_eq!(keys_of(&l, 1), in_1);
        assert_eq!(l.held.0.load(Ordering::Acquire), 4);
        // The stolen key starts afresh.
        assert!(l.check(&in_0[0]).is_allowed());
    }

    /// Every slot reserved by inserts in flight and nothing to evict: the decision is that of a
    /// new key, and nothing is kept.
    #[test]
    fn no_slot_anywhere_decides_without_keeping() {
        let l = limiter(2, Some(2));
        l.held.0.store(2, Ordering::Release);
        assert!(l.check("x").is_allowed());
        assert!(l.check("x").is_allowed());
        assert!(l.is_empty());
        assert_eq!(l.held.0.load(Ordering::Acquire), 2);
    }

    #[test]
    fn sweeps_and_removals_free_their_slots() {
        let clock = FakeClock::new();
        let l = MemoryLimiter::builder(1, Duration::from_secs(60))
            .max_users(10)
            .shards(1)
            .clock(clock.clone())
            .build()
            .unwrap();
        for i in 0..10 {
            l.check(&format!("a{i}"));
        }
        clock.advance(Duration::from_secs(60));
        // Each new key sweeps two expired ones, and takes one free slot.
        for i in 0..5 {
            l.check(&format!("b{i}"));
        }
        assert_eq!((l.len(), l.held.0.load(Ordering::Acquire)), (5, 5));
        clock.advance(Duration::from_secs(60));
        assert_eq!(l.remove_expired(), 5);
        assert_eq!(l.held.0.load(Ordering::Acquire), 0);
    }

    #[test]
    fn eviction_reuses_the_key_buffer() {
        assert_eq!(reuse_or_copy(String::with_capacity(10), "abc"), "abc");
        let reused = reuse_or_copy(String::with_capacity(40), "abcdef");
        assert_eq!((reused.as_str(), reused.capacity()), ("abcdef", 40));
        let copied = reuse_or_copy(String::with_capacity(200), "abcdef");
        assert_eq!((copied.as_str(), copied.capacity()), ("abcdef", 6));
        assert_eq!(reuse_or_copy(String::new(), "xyz"), "xyz");
    }

    #[test]
    fn shard_time_never_goes_back() {
        let l = limiter(10, Some(1));
        let mut shard = l.shard(0).lock();
        assert_eq!(shard.now(100), 100);
        assert_eq!(shard.now(40), 100);
        assert_eq!(shard.now(150), 150);
    }
}
