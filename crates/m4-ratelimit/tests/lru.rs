//! Capacity and LRU eviction of the in-memory limiter, on a fake clock.
#![cfg(test)]

use std::time::Duration;

use m4_ratelimit::{FakeClock, MemoryLimiter, RateLimiter};

const HOUR: Duration = Duration::from_secs(3600);

fn key(i: usize) -> String {
    format!("user-{i}")
}

/// One shard: an exact global LRU. N = 1, so a held key is refused and an evicted one (which
/// starts afresh) is allowed: eviction is observed through behaviour.
#[test]
fn with_10001_keys_the_least_recently_used_is_evicted() {
    let clock = FakeClock::new();
    let l = MemoryLimiter::builder(1, HOUR)
        .max_users(10_000)
        .shards(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    for i in 0..10_000 {
        assert!(l.check(&key(i)).is_allowed());
        clock.advance(Duration::from_millis(1));
    }
    assert_eq!(l.len(), 10_000);
    // Use key 0 again: key 1 becomes the least recently used.
    assert!(!l.check(&key(0)).is_allowed());
    assert!(l.check(&key(10_000)).is_allowed());
    assert_eq!(l.len(), 10_000);
    // Held keys are still refused (checking them evicts nothing)...
    assert!(!l.check(&key(0)).is_allowed());
    assert!(!l.check(&key(2)).is_allowed());
    assert!(!l.check(&key(10_000)).is_allowed());
    // ...and key 1 was forgotten: it starts afresh (evicting key 3, now the least recent).
    assert!(l.check(&key(1)).is_allowed());
    assert!(l.check(&key(3)).is_allowed());
    assert_eq!(l.len(), 10_000);
}

/// The default shard count for 10,000 users (16): nothing is evicted before 10,000 keys are
/// held, although shards fill unevenly, and the map never holds more.
#[test]
fn sharded_with_10001_keys_only_one_is_evicted() {
    let l = MemoryLimiter::builder(1, HOUR)
        .max_users(10_000)
        .clock(FakeClock::new())
        .build()
        .unwrap();
    assert_eq!(l.shard_count(), 16);
    for i in 0..10_000 {
        assert!(l.check(&key(i)).is_allowed());
    }
    assert_eq!(l.len(), 10_000);
    // All held: each is refused, and checking a held key evicts nothing.
    for i in 0..10_000 {
        assert!(!l.check(&key(i)).is_allowed(), "key {i} was evicted early");
    }
    assert!(l.check(&key(10_000)).is_allowed());
    assert_eq!(l.len(), 10_000);
    // Exactly one of the first 10,000 is gone; the one used first in its shard. Count without
    // re-inserting: refused keys are held, and the first allowed one is the evicted key.
    let mut gone = None;
    for i in 0..10_000 {
        if l.check(&key(i)).is_allowed() {
            gone = Some(i);
            break;
        }
    }
    assert!(
        gone.is_some(),
        "the key used least recently in its shard was evicted"
    );
}

/// A million distinct keys through the default limiter: never above capacity, and every
/// decision is O(1) (the test would take minutes otherwise).
#[test]
fn with_1000000_distinct_keys_the_map_never_exceeds_its_capacity() {
    let clock = FakeClock::new();
    let l = MemoryLimiter::builder(100, HOUR)
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut name = String::with_capacity(32);
    for i in 0..1_000_000u32 {
        name.clear();
        name.push_str("subject-");
        name.push_str(&i.to_string());
        assert!(l.check(&name).is_allowed());
        if i % 1_000 == 0 {
            clock.advance(Duration::from_millis(1));
            assert!(l.len() <= 10_000, "{} keys held after {i}", l.len());
        }
    }
    assert_eq!(l.len(), 10_000, "full, and not one slot lost");
    // The last key is held (refused after 100 more), the first long gone (allowed afresh).
    for _ in 0..99 {
        assert!(l.check("subject-999999").is_allowed());
    }
    assert!(!l.check("subject-999999").is_allowed());
    assert!(matches!(
        l.check("subject-0"),
        m4_ratelimit::Decision::Allowed { remaining: 99, .. }
    ));
}

/// Capacity 1 is a valid, if harsh, configuration.
#[test]
fn capacity_one_holds_one_key() {
    let l = MemoryLimiter::builder(1, HOUR)
        .max_users(1)
        .clock(FakeClock::new())
        .build()
        .unwrap();
    assert!(l.check("a").is_allowed());
    assert!(!l.check("a").is_allowed());
    assert!(l.check("b").is_allowed());
    assert_eq!(l.len(), 1);
    assert!(l.check("a").is_allowed(), "a was evicted by b");
}
