//! Why not GCRA: on one timeline, governor's GCRA limiter configured for "100 per hour" allows
//! 199 requests within one hour, while ours allows 100. Both run on fake clocks.
#![cfg(test)]

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::FakeRelativeClock;
use governor::{Quota, RateLimiter as Gcra};
use m4_ratelimit::{FakeClock, MemoryLimiter, RateLimiter};

#[test]
fn gcra_allows_almost_twice_the_limit_within_one_window_and_ours_does_not() {
    let hour = Duration::from_secs(3600);
    let gcra_clock = FakeRelativeClock::default();
    let gcra = Gcra::direct_with_clock(
        Quota::per_hour(NonZeroU32::new(100).unwrap()),
        gcra_clock.clone(),
    );
    let clock = FakeClock::new();
    let ours = MemoryLimiter::builder(100, hour)
        .clock(clock.clone())
        .build()
        .unwrap();

    // A burst of 100 at 0:00, then one request every 36 s (the GCRA emission interval) until
    // just before 1:00. Count what each allows in that one-hour interval.
    let (mut gcra_allowed, mut ours_allowed) = (0, 0);
    for _ in 0..100 {
        gcra_allowed += u32::from(gcra.check().is_ok());
        ours_allowed += u32::from(ours.check("u").is_allowed());
    }
    for _ in 1..100 {
        gcra_clock.advance(Duration::from_secs(36));
        clock.advance(Duration::from_secs(36));
        gcra_allowed += u32::from(gcra.check().is_ok());
        ours_allowed += u32::from(ours.check("u").is_allowed());
    }
    assert_eq!(clock.elapsed(), Duration::from_secs(3564));
    assert_eq!(gcra_allowed, 199);
    assert_eq!(ours_allowed, 100);
}
