//! Threads sharing one limiter: no update is lost on one key, keys on different shards do not
//! interfere. Time is a frozen fake clock, so the expected counts are exact.
#![cfg(test)]

use std::sync::Barrier;
use std::time::Duration;

use m4_ratelimit::{Decision, FakeClock, MemoryLimiter, RateLimiter};

const HOUR: Duration = Duration::from_secs(3600);
const PER_THREAD: u64 = 100_000;

/// Runs `threads` threads of `per_thread` checks of `key_of(thread)` each, started together,
/// and returns how many each had allowed.
fn hammer(
    l: &MemoryLimiter<FakeClock>,
    threads: usize,
    per_thread: u64,
    key_of: impl Fn(usize) -> String + Sync,
) -> Vec<u64> {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, key_of) = (&barrier, &key_of);
                s.spawn(move || {
                    let key = key_of(t);
                    barrier.wait();
                    (0..per_thread)
                        .filter(|_| l.check(&key).is_allowed())
                        .count() as u64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn limiter(limit: u64) -> MemoryLimiter<FakeClock> {
    MemoryLimiter::builder(limit, HOUR)
        .clock(FakeClock::new())
        .build()
        .unwrap()
}

/// The test: 2 to 8 threads × 100,000 checks of one key with N = 1,000,000: all
/// allowed, and the key's count is exactly the sum (the remaining budget proves it).
#[test]
fn one_key_n_1000000_no_lost_update() {
    for threads in 2..=8 {
        let l = limiter(1_000_000);
        let allowed = hammer(&l, threads, PER_THREAD, |_| "hot".to_owned());
        let total = threads as u64 * PER_THREAD;
        assert_eq!(allowed.iter().sum::<u64>(), total, "{threads} threads");
        assert!(
            matches!(l.check("hot"), Decision::Allowed { remaining, .. } if remaining == 1_000_000 - total - 1),
            "{threads} threads: the key counted a different number of requests"
        );
    }
}

/// The same with a limit the threads exceed: exactly N allowed in total, whoever gets them.
#[test]
fn one_key_over_the_limit_allows_exactly_n() {
    for threads in [2, 5, 8] {
        let limit = 150_000;
        let l = limiter(limit);
        let allowed = hammer(&l, threads, PER_THREAD, |_| "hot".to_owned());
        assert_eq!(allowed.iter().sum::<u64>(), limit, "{threads} threads");
        assert!(!l.check("hot").is_allowed());
    }
}

/// Threads on distinct keys each get exactly their own budget.
#[test]
fn distinct_keys_each_get_their_own_budget() {
    let l = limiter(30_000);
    let allowed = hammer(&l, 8, 50_000, |t| format!("user-{t}"));
    assert_eq!(allowed, vec![30_000; 8]);
}

/// Threads inserting distinct keys into a small limiter: never above capacity, and once all
/// are done it is exactly full (no slot lost or leaked by racing inserts and evictions).
#[test]
fn racing_inserts_keep_the_capacity_exact() {
    for shards in [1, 16] {
        let l = MemoryLimiter::builder(1, HOUR)
            .max_users(1_000)
            .shards(shards)
            .clock(FakeClock::new())
            .build()
            .unwrap();
        let allowed = hammer(&l, 4, 1, |_| String::new());
        assert_eq!(allowed.iter().sum::<u64>(), 1, "one key, N = 1");
        std::thread::scope(|s| {
            for t in 0..4 {
                let l = &l;
                s.spawn(move || {
                    for i in 0..50_000 {
                        assert!(l.check(&format!("{t}-{i}")).is_allowed());
                        if i % 5_000 == 0 {
                            assert!(l.len() <= 1_000);
                        }
                    }
                });
            }
        });
        assert_eq!(l.len(), 1_000, "{shards} shards");
    }
}
