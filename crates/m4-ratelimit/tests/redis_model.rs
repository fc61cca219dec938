//! The Redis script against the in-memory limiter on exact random timelines: one algorithm in
//! two homes, so both backends must give the same answer to every request.
//!
//! The script takes its time from Redis's clock in production; here each call passes the time
//! (its optional fourth argument), so that the two can be compared request by request on a real
//! `redis-server`. Without `redis-server` this prints `SKIPPED` (and fails when `CI` is set).
//!
//! Redis still expires the key in its own real time (`SET ... PX`, one window after the newest
//! request). So that no key can expire between two requests of a timeline however slowly the
//! machine runs, the timelines are scaled by [`SCALE`] on both sides: the shortest window is
//! 10 s of real time. (A 3 ms window once expired mid-timeline on a loaded CI machine.) Expiry
//! itself is tested against Redis's real clock in `expiry_follows_the_newest_request`.
#![cfg(feature = "redis")]
#![cfg(test)]

#[path = "support/redis_server.rs"]
#[allow(dead_code, reason = "shared with the other Redis tests and the bench")]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use m4_ratelimit::{Decision, FakeClock, MemoryLimiter, RateLimiter};
use proptest::prelude::*;
use redis_server::{Client, RedisServer};

/// The script exactly as the crate ships it.
const SCRIPT: &str = include_str!("../src/redis/check.lua");

/// An arbitrary origin for the script's clock, in microseconds.
const ORIGIN_MICROS: u64 = 1_764_000_000_000_000;

/// Every generated duration is multiplied by this on both sides (see the module docs). The
/// largest time passed stays far below 2^53 µs, where the script's Lua numbers stop being exact.
const SCALE: u64 = 10_000;

/// One check through the script, at `micros` past the origin.
fn script_check(
    connection: &mut redis::Connection,
    script: &redis::Script,
    key: &str,
    limit: u64,
    window_micros: u64,
    micros: u64,
) -> Decision {
    let reply: Vec<i64> = script
        .key(key)
        .arg(limit)
        .arg(limit.div_ceil(16))
        .arg(window_micros)
        .arg(ORIGIN_MICROS + micros)
        .invoke(connection)
        .unwrap();
    let us = |v: i64| Duration::from_micros(u64::try_from(v).unwrap());
    match reply.as_slice() {
        [1, remaining, reset] => Decision::Allowed {
            remaining: u64::try_from(*remaining).unwrap(),
            reset_after: us(*reset),
        },
        [0, retry] => Decision::Limited {
            retry_after: us(*retry),
        },
        other => panic!("unexpected reply {other:?}"),
    }
}

/// A timeline: gaps in microseconds before each request, bursts (gap 0) included.
fn timeline() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(
        prop_oneof![
            3 => Just(0_u64),
            // Whole milliseconds, as the windows are: requests land exactly on expiries.
            4 => (0_u64..40).prop_map(|ms| ms * 1_000),
            4 => 0_u64..2_000,
            2 => 0_u64..60_000,
            1 => 0_u64..300_000,
        ],
        1..250,
    )
}

#[test]
fn the_script_answers_every_request_as_the_memory_limiter_does() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // The proptest body is a `Fn`: the connection sits behind a lock.
    let connection = std::sync::Mutex::new(server.client());
    let script = redis::Script::new(SCRIPT);
    let case = AtomicU64::new(0);
    let config = ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(
        limit in prop_oneof![1_u64..=20, 15_u64..=40, 90_u64..=110],
        window_ms in 1_u64..=100,
        gaps in timeline(),
    )| {
        let window = Duration::from_millis(window_ms * SCALE);
        let clock = FakeClock::new();
        let memory = MemoryLimiter::builder(limit, window)
            .clock(clock.clone())
            .build()
            .unwrap();
        let key = format!("model:{}", case.fetch_add(1, Ordering::Relaxed));
        let mut connection = connection.lock().unwrap();
        let mut micros = 0;
        for (i, gap) in gaps.iter().enumerate() {
            let gap = gap * SCALE;
            micros += gap;
            clock.advance(Duration::from_micros(gap));
            let expected = memory.check(&key);
            let got = script_check(
                &mut connection,
                &script,
                &key,
                limit,
                window_ms * 1_000 * SCALE,
                micros,
            );
            prop_assert_eq!(got, expected, "request {} at {} µs", i, micros);
        }
    });
}

/// Keys written with the script's own time expire one window after their newest request, in
/// Redis's time: checked here with the real `TIME`, the key's PTTL never exceeds the window.
#[test]
fn expiry_follows_the_newest_request() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut connection = server.client();
    let script = redis::Script::new(SCRIPT);
    for _ in 0..5 {
        let reply: Vec<i64> = script
            .key("ttl")
            .arg(3)
            .arg(1)
            .arg(250_000)
            .invoke(&mut connection)
            .unwrap();
        let pttl: i64 = redis::cmd("PTTL")
            .arg("ttl")
            .query(&mut connection)
            .unwrap();
        if reply[0] == 1 {
            assert!((200..=250).contains(&pttl), "PTTL {pttl}");
        } else {
            assert!((1..=250).contains(&pttl), "PTTL {pttl}");
        }
    }
}
