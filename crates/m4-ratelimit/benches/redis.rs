//! `check` round trip against a local `redis-server` (started by the bench on a free loopback
//! port), from one and two threads, beside the in-memory limiter.
//!
//! Run briefly: `cargo bench -p m4-ratelimit --features redis --bench redis --
//! --warm-up-time 1 --measurement-time 2`. Two-thread figures are the wall time per check with
//! two threads checking at once (half the one-thread figure means perfect scaling).
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/support/redis_server.rs"]
#[allow(dead_code, reason = "shared with the tests, which use other parts")]
mod redis_server;

use std::hint::black_box;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use m4_ratelimit::{MemoryLimiter, RateLimiter, RedisLimiter};
use redis_server::RedisServer;

/// Large enough that no benchmarked key is ever refused: every check does the full write.
const LIMIT: u64 = 1_000_000_000;
const WINDOW: Duration = Duration::from_secs(3_600);
const KEYS: usize = 10_000;

/// Wall time for `iters` checks spread over `threads` threads, each on its own keys.
fn run(limiter: &dyn RateLimiter, keys: &[String], threads: usize, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(threads as u64);
    let barrier = Barrier::new(threads + 1);
    thread::scope(|s| {
        for t in 0..threads {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for i in 0..per_thread {
                    // Thread t uses the keys t, t + threads, ...: no two threads share a key.
                    let index = (i as usize * threads + t) % keys.len();
                    black_box(limiter.check(&keys[index]));
                }
                barrier.wait();
            });
        }
        barrier.wait();
        let start = Instant::now();
        barrier.wait();
        start.elapsed()
    })
}

fn bench(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let memory = MemoryLimiter::builder(LIMIT, WINDOW).build().unwrap();
    let redis = RedisLimiter::builder(&server.url(), LIMIT, WINDOW)
        .build()
        .unwrap();
    redis.ping().expect("the bench's redis-server answers");
    let limiters: [(&str, &dyn RateLimiter); 2] = [("memory", &memory), ("redis", &redis)];
    let hot = vec!["hot-user".to_owned(); 2];
    let many: Vec<String> = (0..KEYS).map(|i| format!("user-{i:05}")).collect();

    for (keys_name, keys) in [("one hot key", &hot), ("10,000 keys round-robin", &many)] {
        let mut group = c.benchmark_group(format!("check, {keys_name}"));
        for threads in [1, 2] {
            for (name, limiter) in limiters {
                group.bench_function(
                    BenchmarkId::new(name, format!("{threads} thread(s)")),
                    |b| {
                        b.iter_custom(|iters| run(limiter, keys, threads, iters));
                    },
                );
            }
        }
        group.finish();
    }
    // The floor: a bare PING round trip through the same pooled connection.
    c.bench_function("redis PING round trip (floor), 1 thread", |b| {
        b.iter(|| black_box(redis.ping().unwrap()));
    });
    let status = redis.status();
    assert_eq!(
        status.fallback_checks, 0,
        "Redis failed during the bench: {status:?}"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
