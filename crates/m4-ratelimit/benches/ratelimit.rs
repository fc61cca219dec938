//! `check` throughput of `MemoryLimiter` next to governor's keyed GCRA limiter, from one and two
//! threads: one hot key (allowed and limited), 10,000 keys round-robin, 1,000,000 distinct keys
//! (the eviction path for ours, which holds 10,000). Prints the memory per key first.
//!
//! Run briefly: `cargo bench -p m4-ratelimit --bench ratelimit -- --warm-up-time 1 --measurement-time 2`.
//! With two threads, the time shown is per check *per thread* (wall time / checks of one
//! thread): the same number as with one thread means perfect scaling.
//! `hot_key_allowed` also shows ours on a clock costing one atomic load (`ours_without_clock`)
//! and the cost of the clock ours reads, alone (`clock_only`): governor reads a TSC clock
//! (quanta), ours `std::time::Instant`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
use governor::{DefaultKeyedRateLimiter, Quota};
use m4_ratelimit::{Clock, FakeClock, MemoryLimiter, RateLimiter, SystemClock};

const HOUR: Duration = Duration::from_secs(3600);
const UNLIMITED: u32 = u32::MAX;

/// Keys shaped like OIDC `sub` claims (36 bytes, like a UUID).
fn keys(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("{i:0>8}-0000-4000-8000-000000000000"))
        .collect()
}

fn ours(limit: u32, max_users: usize) -> MemoryLimiter<SystemClock> {
    MemoryLimiter::builder(u64::from(limit), HOUR)
        .max_users(max_users)
        .build()
        .unwrap()
}

fn governor(limit: u32) -> DefaultKeyedRateLimiter<String> {
    governor::RateLimiter::keyed(Quota::per_hour(NonZeroU32::new(limit).unwrap()))
}

/// The two limiters behind one call shape. `&String` because governor's keyed limiter looks
/// keys up by `&K`.
#[allow(clippy::ptr_arg)]
trait Check: Sync {
    fn allow(&self, key: &String) -> bool;
}

impl Check for MemoryLimiter<SystemClock> {
    fn allow(&self, key: &String) -> bool {
        RateLimiter::check(self, key).is_allowed()
    }
}

/// Ours on a clock that costs one atomic load: the limiter's own cost, without the clock's.
impl Check for MemoryLimiter<FakeClock> {
    fn allow(&self, key: &String) -> bool {
        RateLimiter::check(self, key).is_allowed()
    }
}

/// No limiter, only the clock ours reads once per check ([`Instant`] since an origin).
struct ClockOnly(SystemClock);

impl Check for ClockOnly {
    fn allow(&self, _: &String) -> bool {
        self.0.now_nanos() > 0
    }
}

impl Check for DefaultKeyedRateLimiter<String> {
    fn allow(&self, key: &String) -> bool {
        self.check_key(key).is_ok()
    }
}

/// Benchmarks `limiter` over `keys` in order (thread `t` of `threads` starting at offset
/// `t · len / threads`, so threads touch different keys unless there is only one).
fn bench(
    group: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    threads: usize,
    limiter: &impl Check,
    keys: &[String],
) {
    group.bench_function(format!("{name}/{threads}t"), |b| {
        if threads == 1 {
            let mut i = 0;
            b.iter(|| {
                let key = &keys[i];
                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                black_box(limiter.allow(black_box(key)))
            });
        } else {
            b.iter_custom(|iters| {
                let barrier = Barrier::new(threads + 1);
                std::thread::scope(|s| {
                    for t in 0..threads {
                        let barrier = &barrier;
                        s.spawn(move || {
                            let mut i = t * keys.len() / threads;
                            barrier.wait();
                            for _ in 0..iters {
                                let key = &keys[i];
                                i = if i + 1 == keys.len() { 0 } else { i + 1 };
                                black_box(limiter.allow(black_box(key)));
                            }
                            barrier.wait();
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    start.elapsed()
                })
            });
        }
    });
}

fn hot_key(c: &mut Criterion) {
    let key = keys(1);
    let mut group = c.benchmark_group("hot_key_allowed");
    for threads in [1, 2] {
        bench(&mut group, "ours", threads, &ours(UNLIMITED, 10_000), &key);
        let fake = MemoryLimiter::builder(u64::from(UNLIMITED), HOUR)
            .clock(FakeClock::new())
            .build()
            .unwrap();
        bench(&mut group, "ours_without_clock", threads, &fake, &key);
        bench(
            &mut group,
            "clock_only",
            threads,
            &ClockOnly(SystemClock::new()),
            &key,
        );
        bench(&mut group, "governor", threads, &governor(UNLIMITED), &key);
    }
    group.finish();
    let mut group = c.benchmark_group("hot_key_limited");
    for threads in [1, 2] {
        bench(&mut group, "ours", threads, &ours(100, 10_000), &key);
        bench(&mut group, "governor", threads, &governor(100), &key);
    }
    group.finish();
}

fn round_robin(c: &mut Criterion) {
    let keys = keys(10_000);
    let mut group = c.benchmark_group("round_robin_10k");
    for threads in [1, 2] {
        let l = ours(UNLIMITED, 10_000);
        let g = governor(UNLIMITED);
        for k in &keys {
            l.allow(k);
            g.allow(k);
        }
        bench(&mut group, "ours", threads, &l, &keys);
        bench(&mut group, "governor", threads, &g, &keys);
    }
    group.finish();
}

fn distinct(c: &mut Criterion) {
    let keys = keys(1_000_000);
    let mut group = c.benchmark_group("distinct_1m");
    for threads in [1, 2] {
        // Ours holds 10,000 of them: every check evicts. Governor holds all it sees (it never
        // evicts on its own), so after the first million checks its path is a hit.
        let l = ours(UNLIMITED, 10_000);
        bench(&mut group, "ours", threads, &l, &keys);
        assert!(l.len() <= 10_000);
        bench(&mut group, "governor", threads, &governor(UNLIMITED), &keys);
    }
    group.finish();
}

/// Resident memory of this process in bytes (Linux), or `None`.
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Environment variable telling a child process of this bench to measure one limiter's memory.
const PROBE: &str = "M4_RATELIMIT_MEMORY_PROBE";

/// In a child process (so neither limiter reuses the other's freed heap): resident-memory
/// growth while 1,000,000 keys go into one limiter, per key.
fn probe(which: &str) -> ! {
    let count = 1_000_000;
    let keys = keys(count);
    let before = resident_bytes().unwrap_or(0);
    let kept: Box<dyn Check> = if which == "ours" {
        Box::new(ours(100, count))
    } else {
        Box::new(governor(100))
    };
    for k in &keys {
        kept.allow(k);
    }
    let after = resident_bytes().unwrap_or(0);
    println!("{}", after.saturating_sub(before) / count);
    std::process::exit(0)
}

/// Prints the memory per key: the estimate from sizes, and what two child processes measure.
fn memory_per_key() {
    let estimate = MemoryLimiter::<SystemClock>::approx_bytes_per_key(36);
    println!("memory per key (36-byte keys):");
    println!("  ours, estimate from sizes: {estimate} B");
    for which in ["ours", "governor"] {
        let measured = std::env::current_exe()
            .and_then(|exe| std::process::Command::new(exe).env(PROBE, which).output())
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.lines().last().map(str::to_owned));
        match measured {
            Some(bytes) => println!("  {which}, resident memory over 1,000,000 keys: {bytes} B"),
            None => println!("  {which}: could not measure resident memory here"),
        }
    }
}

fn all(c: &mut Criterion) {
    if let Ok(which) = std::env::var(PROBE) {
        probe(&which);
    }
    memory_per_key();
    hot_key(c);
    round_robin(c);
    distinct(c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = all
}
criterion_main!(benches);
