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
use std::sync::Arc;

use criterion::Criterion;
use m4_auth_testkit::bench;
use m4_auth_testkit::idp::{self, Idp};
use m4_auth_testkit::keys;
use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyResolver};

fn warmed_cache() -> (Idp, Arc<JwksCache>) {
    let idp = Idp::start();
    idp.serve("/keys", idp::json_body(keys::jwks_json()));
    let cache = JwksCache::new(JwksOptions::new(idp.uri()).jwks_url(idp.url("/keys"))).unwrap();
    cache.prefetch().unwrap();
    (idp, Arc::new(cache))
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

fn cache_hit(c: &mut Criterion, cache: &JwksCache) {
    let mut group = c.benchmark_group("jwks_cache_hit");
    group.bench_function("1 thread", |b| b.iter(|| lookup(cache, true, 0)));
    for (name, same_kid) in [
        ("2 threads, same kid (time per lookup per thread)", true),
        ("2 threads, own kid (time per lookup per thread)", false),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| bench::wall(&|t| lookup(cache, same_kid, t), 2, iters));
        });
    }
    group.finish();
}

fn main() {
    let (_idp, cache) = warmed_cache();
    let paired = || {
        for (name, same_kid) in [("same_kid", true), ("own_kid", false)] {
            let ratio = bench::paired_scaling(&|t| lookup(&cache, same_kid, t), bench::PAIRS);
            println!("PAIRED scaling_jwks_cache_hit_{name} {ratio:.4}");
        }
    };
    bench::main(paired, |criterion| cache_hit(criterion, &cache));
}
