//! Cache-hit lookups from one and from two threads: the path every fresh token verification takes.
//!
//! Run briefly: `cargo bench -p m4-jwks --bench cache -- --warm-up-time 1 --measurement-time 2`.
//! The key set is fetched once over loopback from a wiremock server before measuring.
//!
//! The two-thread benchmarks report wall time from the first thread's start to the last
//! thread's end, divided by the lookups each thread made: a thread that cannot get a core
//! waits inside the measurement, so two threads squeezed onto one core measure as such.
//!
//! `-- --paired` skips criterion and prints the two-thread / one-thread throughput ratio,
//! paired: two worker threads live through the whole run and alternate, at a spinning
//! barrier, between a batch on one thread and a batch on both (order flipped every pair);
//! each pair gives one ratio, and the median of the pairs is printed as `PAIRED <name> <ratio>`.
//! Load from other jobs then hits both sides of each ratio alike.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::Criterion;
use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyResolver};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Pairs measured by `--paired`.
const PAIRS: usize = 150;

fn warmed_cache() -> (tokio::runtime::Runtime, MockServer, Arc<JwksCache>) {
    let jwks = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/keys/jwks.json"
    ))
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/keys"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(jwks))
            .mount(&server),
    );
    let cache =
        JwksCache::new(JwksOptions::new(server.uri()).jwks_url(format!("{}/keys", server.uri())))
            .unwrap();
    cache.prefetch().unwrap();
    (rt, server, Arc::new(cache))
}

/// One lookup: of the same kid on every thread, or of a kid of its own per thread.
fn lookup(cache: &JwksCache, same_kid: bool, thread: usize) {
    let (kid, alg) = if same_kid || thread == 0 {
        ("ec-p256", Algorithm::ES256)
    } else {
        ("rsa-2048", Algorithm::RS256)
    };
    black_box(cache.resolve(black_box(kid), alg)).unwrap();
}

/// Wall time of `n` lookups on each of `threads` threads released together: from the first
/// thread's start to the last thread's end (thread start-up excluded).
fn wall(op: &(dyn Fn(usize) + Sync), threads: usize, n: u64) -> Duration {
    let barrier = Barrier::new(threads);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..n {
                        op(t);
                    }
                    (start, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let first = spans.iter().map(|(s, _)| *s).min().unwrap();
    let last = spans.iter().map(|(_, e)| *e).max().unwrap();
    last - first
}

fn cache_hit(c: &mut Criterion, cache: &JwksCache) {
    let mut group = c.benchmark_group("jwks_cache_hit");
    group.bench_function("1 thread", |b| b.iter(|| lookup(cache, true, 0)));
    for (name, same_kid) in [
        ("2 threads, same kid (time per lookup per thread)", true),
        ("2 threads, own kid (time per lookup per thread)", false),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| wall(&|t| lookup(cache, same_kid, t), 2, iters));
        });
    }
    group.finish();
}

/// A two-thread barrier that spins (yielding now and then) instead of blocking, so the
/// scheduler does not wake both workers on one core.
struct SpinBarrier {
    arrived: AtomicUsize,
    round: AtomicUsize,
}

impl SpinBarrier {
    fn wait(&self) {
        let round = self.round.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) == 1 {
            self.arrived.store(0, Ordering::Relaxed);
            self.round.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.round.load(Ordering::Acquire) == round {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Median over alternating pairs of two-thread throughput / one-thread throughput.
fn paired_scaling(op: &(dyn Fn(usize) + Sync)) -> f64 {
    // About 2 ms per batch.
    let probe = Instant::now();
    for _ in 0..1000 {
        op(0);
    }
    let per_op = probe.elapsed().as_nanos().max(1) as f64 / 1000.0;
    let n = ((2_000_000.0 / per_op) as u64).max(5);
    // Phases: for even pairs one thread then two, for odd pairs the reverse.
    let phases: Vec<usize> = (0..PAIRS)
        .flat_map(|i| if i % 2 == 0 { [1, 2] } else { [2, 1] })
        .collect();
    let barrier = SpinBarrier {
        arrived: AtomicUsize::new(0),
        round: AtomicUsize::new(0),
    };
    let spans: Vec<Vec<Option<(Instant, Instant)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (barrier, phases) = (&barrier, &phases);
                s.spawn(move || {
                    let mut spans = Vec::with_capacity(phases.len());
                    for &threads in phases {
                        barrier.wait();
                        if t < threads {
                            let start = Instant::now();
                            for _ in 0..n {
                                op(t);
                            }
                            spans.push(Some((start, Instant::now())));
                        } else {
                            spans.push(None);
                        }
                        barrier.wait();
                    }
                    spans
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let wall = |phase: usize| {
        let ran: Vec<(Instant, Instant)> = spans.iter().filter_map(|s| s[phase]).collect();
        let first = ran.iter().map(|(s, _)| *s).min().unwrap();
        let last = ran.iter().map(|(_, e)| *e).max().unwrap();
        (last - first).as_nanos() as f64
    };
    let ratios = (0..PAIRS)
        .map(|i| {
            let (a, b) = (wall(2 * i), wall(2 * i + 1));
            let (one, two) = if i % 2 == 0 { (a, b) } else { (b, a) };
            2.0 * one / two
        })
        .collect();
    median(ratios)
}

fn main() {
    let (_rt, _server, cache) = warmed_cache();
    if std::env::args().any(|a| a == "--paired") {
        for (name, same_kid) in [("same_kid", true), ("own_kid", false)] {
            let ratio = paired_scaling(&|t| lookup(&cache, same_kid, t));
            println!("PAIRED scaling_jwks_cache_hit_{name} {ratio:.4}");
        }
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    cache_hit(&mut criterion, &cache);
    criterion.final_summary();
}
