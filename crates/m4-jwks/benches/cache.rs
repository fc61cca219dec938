//! Cache-hit lookups from one and from two threads: the path every token verification takes.
//!
//! Run briefly: `cargo bench -p m4-jwks --bench cache -- --warm-up-time 1 --measurement-time 2`.
//! The key set is fetched once over loopback from a wiremock server before measuring.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates an undocumented pub fn
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyResolver};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

fn cache_hit(c: &mut Criterion) {
    let (_rt, _server, cache) = warmed_cache();
    let mut group = c.benchmark_group("jwks_cache_hit");
    group.bench_function("1 thread", |b| {
        b.iter(|| black_box(cache.resolve(black_box("ec-p256"), Algorithm::ES256)).unwrap());
    });
    // Each iteration is one lookup on each of two threads at once: with no contention the
    // time per iteration equals the one-thread time.
    group.bench_function("2 threads (time per lookup per thread)", |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            let elapsed: Vec<Duration> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..2)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..iters {
                                black_box(cache.resolve(black_box("ec-p256"), Algorithm::ES256))
                                    .unwrap();
                            }
                            start.elapsed()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            elapsed.into_iter().max().unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
