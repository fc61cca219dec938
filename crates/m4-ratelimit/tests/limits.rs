//! Deterministic behaviour of the in-memory limiter on a fake clock: bursts, window edges,
//! answers, key independence and configuration errors.
#![cfg(test)]

use std::time::Duration;

use m4_ratelimit::{Decision, Error, FakeClock, MAX_WINDOW, MemoryLimiter, RateLimiter};

fn limiter(limit: u64, window: Duration) -> (FakeClock, MemoryLimiter<FakeClock>) {
    let clock = FakeClock::new();
    let limiter = MemoryLimiter::builder(limit, window)
        .clock(clock.clone())
        .build()
        .unwrap();
    (clock, limiter)
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn burst_of_exactly_n_then_limited_then_allowed_after_the_window() {
    for limit in [1, 2, 16, 17, 100, 1_000] {
        let (clock, l) = limiter(limit, HOUR);
        // Start off any round number, so nothing lines up by luck.
        clock.advance(Duration::from_nanos(123_456_789));
        for i in 0..limit {
            assert_eq!(
                l.check("u"),
                Decision::Allowed {
                    remaining: limit - 1 - i,
                    reset_after: HOUR
                },
                "request {i} of {limit}"
            );
        }
        assert_eq!(l.check("u"), Decision::Limited { retry_after: HOUR });
        clock.advance(HOUR - Duration::from_nanos(1));
        assert_eq!(
            l.check("u"),
            Decision::Limited {
                retry_after: Duration::from_nanos(1)
            }
        );
        clock.advance(Duration::from_nanos(1));
        for i in 0..limit {
            assert!(
                l.check("u").is_allowed(),
                "request {i} of the second window"
            );
        }
        assert!(!l.check("u").is_allowed());
    }
}

#[test]
fn no_doubled_burst_at_a_window_edge() {
    // A fixed window would allow 100 at 59:59 and 100 more at 60:00.
    let (clock, l) = limiter(100, HOUR);
    clock.advance(HOUR - Duration::from_secs(1));
    for _ in 0..100 {
        assert!(l.check("u").is_allowed());
    }
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        l.check("u").retry_after_secs(),
        Some(3598),
        "the 101st request within one hour must wait for the first to be an hour old"
    );
}

#[test]
fn requests_spread_over_the_window_come_back_one_group_at_a_time() {
    // N = 32: groups of 2. One request per minute for 32 minutes.
    let (clock, l) = limiter(32, HOUR);
    for _ in 0..32 {
        assert!(l.check("u").is_allowed());
        clock.advance(Duration::from_secs(60));
    }
    // Now at 32:00; the first group (00:00 and 01:00) stops counting at 61:00.
    let refused = l.check("u");
    assert_eq!(refused.retry_after_secs(), Some(29 * 60));
    clock.advance(Duration::from_secs(29 * 60));
    assert!(matches!(
        l.check("u"),
        Decision::Allowed { remaining: 1, .. }
    ));
    assert!(l.check("u").is_allowed());
    assert!(!l.check("u").is_allowed());
}

#[test]
fn keys_are_independent() {
    let (_, l) = limiter(1, HOUR);
    assert!(l.check("alice").is_allowed());
    assert!(!l.check("alice").is_allowed());
    assert!(l.check("bob").is_allowed());
    assert!(
        l.check("").is_allowed(),
        "the empty key is a key like any other"
    );
    assert!(l.check("ALICE").is_allowed(), "keys are compared exactly");
    assert!(!l.check("alice").is_allowed());
}

#[test]
fn idle_keys_start_afresh_and_can_be_removed() {
    let (clock, l) = limiter(3, Duration::from_secs(60));
    l.check("a");
    l.check("b");
    clock.advance(Duration::from_secs(59));
    l.check("b");
    assert_eq!(l.remove_expired(), 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(l.remove_expired(), 1, "only a is a full window old");
    assert_eq!(l.len(), 1);
    assert!(matches!(
        l.check("a"),
        Decision::Allowed { remaining: 2, .. }
    ));
    assert!(matches!(
        l.check("b"),
        Decision::Allowed { remaining: 1, .. }
    ));
}

#[test]
fn the_request_path_sweeps_expired_keys() {
    let clock = FakeClock::new();
    let l1 = MemoryLimiter::builder(1, Duration::from_secs(60))
        .max_users(100)
        .shards(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..100 {
        l1.check(&format!("old-{i}"));
    }
    clock.advance(Duration::from_secs(60));
    // Each new key examines up to two entries from the LRU end and drops the expired ones.
    for i in 0..50 {
        assert!(l1.check(&format!("new-{i}")).is_allowed());
    }
    assert_eq!(l1.len(), 50, "100 old keys swept by 50 new ones, two each");
}

#[test]
fn retry_after_rounds_up_to_whole_seconds() {
    let (clock, l) = limiter(1, Duration::from_millis(2500));
    l.check("u");
    clock.advance(Duration::from_millis(1));
    let refused = l.check("u");
    assert_eq!(
        refused,
        Decision::Limited {
            retry_after: Duration::from_millis(2499)
        }
    );
    assert_eq!(refused.retry_after_secs(), Some(3));
    assert_eq!(
        refused.error().unwrap().to_string(),
        "Rate limit exceeded: retry after 3 s"
    );
    clock.advance(Duration::from_millis(2498));
    assert_eq!(l.check("u").retry_after_secs(), Some(1), "never 0");
    assert_eq!(l.check("u").error().unwrap().code(), Some("rate_limited"));
}

#[test]
fn configuration_errors() {
    #[track_caller]
    fn check(limit: u64, window: Duration, max_users: usize, shards: Option<usize>, want: Error) {
        let mut b = MemoryLimiter::builder(limit, window).max_users(max_users);
        if let Some(n) = shards {
            b = b.shards(n);
        }
        assert_eq!(b.build().err(), Some(want));
    }
    let ms = Duration::from_millis(1);
    check(0, HOUR, 10, None, Error::ZeroLimit);
    check(
        1 << 32,
        HOUR,
        10,
        None,
        Error::LimitTooLarge { limit: 1 << 32 },
    );
    check(
        1,
        ms - Duration::from_nanos(1),
        10,
        None,
        Error::WindowTooShort {
            window: ms - Duration::from_nanos(1),
        },
    );
    check(
        1,
        Duration::ZERO,
        10,
        None,
        Error::WindowTooShort {
            window: Duration::ZERO,
        },
    );
    let too_long = MAX_WINDOW + Duration::from_secs(1);
    check(
        1,
        too_long,
        10,
        None,
        Error::WindowTooLong { window: too_long },
    );
    check(1, HOUR, 0, None, Error::ZeroMaxUsers);
    for shards in [0, 3, 2048] {
        check(
            1,
            HOUR,
            10_000,
            Some(shards),
            Error::InvalidShards {
                shards,
                max_users: 10_000,
            },
        );
    }
    check(
        1,
        HOUR,
        4,
        Some(8),
        Error::InvalidShards {
            shards: 8,
            max_users: 4,
        },
    );
    // The edges that are accepted.
    for (limit, window) in [(1, ms), (u64::from(u32::MAX), MAX_WINDOW)] {
        let l = MemoryLimiter::builder(limit, window).build().unwrap();
        assert_eq!((l.limit(), l.window()), (limit, window));
        assert!(l.check("k").is_allowed());
    }
    assert_eq!(
        MemoryLimiter::builder(1, HOUR)
            .max_users(1)
            .shards(1)
            .build()
            .unwrap()
            .max_users(),
        1
    );
}

#[test]
fn debug_shows_configuration_not_keys() {
    let (_, l) = limiter(5, HOUR);
    l.check("secret-subject");
    let shown = format!("{l:?}");
    assert!(shown.contains("limit: 5"), "{shown}");
    assert!(!shown.contains("secret-subject"), "{shown}");
}

/// The sizes below are those of a 64-bit target.
#[cfg(target_pointer_width = "64")]
#[test]
fn memory_per_key_estimate() {
    let bytes = MemoryLimiter::<FakeClock>::approx_bytes_per_key(36);
    // node: 24 (String) + 144 (window) + 16 (links) = 184 → 192-byte chunk; key 48; slot 10.
    assert_eq!(bytes, 192 + 48 + 10);
}
