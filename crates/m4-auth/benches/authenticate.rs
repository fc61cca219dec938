//! What one authentication costs, beside its floor, all in one run:
//!
//! - `raw_verify_{RS256,ES256}`: aws-lc-rs verifying the token's signature with a pre-parsed
//!   key, nothing else: the floor for a fresh token;
//! - `authenticate_fresh_{RS256,ES256}`: `Authenticator::authenticate` with the token cache off,
//!   so every call verifies in full (rate limiting on, with a limit never reached);
//! - `authenticate_repeated_{RS256,ES256}`: the same with the cache on and a repeated token;
//! - `limiter_check`: the in-memory rate limiter for one hot key;
//! - `jwks_cache_hit`: a key lookup in a `JwksCache` warmed over loopback.
//!
//! Each from one thread (`1 thread`) and from two threads at once (`2 threads`, time per
//! operation per thread; each thread has its own token and subject, as two users would).
//! By hand: `cargo bench -p m4-auth --bench authenticate -- --warm-up-time 1 --measurement-time 2`.
//!
//! `-- --paired` skips criterion and measures the goal ratios of issue 7 *paired*: batches of
//! the two operations of a ratio alternate (order flipped every pair), each pair gives one
//! ratio, and the median of 150 pairs is printed as `PAIRED <name> <ratio>`. Load from other
//! jobs then hits both sides of each ratio alike, which two separate criterion benchmarks,
//! measured seconds apart, cannot promise on a shared machine. `cargo xtask bench` runs both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use m4_auth::jwks::{JwksCache, JwksOptions, KeyResolver};
use m4_auth::ratelimit::{MemoryLimiter, RateLimiter};
use m4_auth::{AuthConfig, Authenticator};
use m4_auth_testkit::bench::{self, PAIRS, RawSignature, paired_ratio, paired_scaling};
use m4_auth_testkit::idp::{self, Idp};
use m4_auth_testkit::keys;
use m4_auth_testkit::tokens::{self, Algorithm, Sig};
use serde_json::json;

const ISSUER: &str = "https://idp.example.com/";

/// A token for `sub`, signed by fixture `key` with `alg`, valid for a day from now.
fn token(key: &str, alg: Algorithm, sub: &str) -> String {
    let now = tokens::now();
    let claims = json!({
        "iss": ISSUER, "aud": "m4-api", "sub": sub, "scope": "read:mimic-data openid",
        "iat": now, "exp": now + 86_400,
    });
    let header = json!({"alg": tokens::alg_name(alg), "typ": "at+jwt", "kid": key});
    tokens::jws(&header, &claims, &Sig::Key(key, alg))
}

/// The authenticator of a deployment: pinned fixture keys, rate limiting on with a limit the
/// bench never reaches, the token cache as given.
fn authenticator(cache_size: &str) -> Authenticator {
    let config = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", ISSUER),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ("M4_OAUTH2_RATE_LIMIT_REQUESTS", "1000000000"),
        ("M4_OAUTH2_TOKEN_CACHE_SIZE", cache_size),
    ])
    .unwrap()
    .config;
    let keys = m4_auth::jwt::JwkSet::from_json(keys::jwks_json().as_bytes()).unwrap();
    Authenticator::builder(config)
        .pinned_keys(keys)
        .build()
        .unwrap()
}

/// Benches `op(thread)` from one thread, then from two threads at once (time per operation per
/// thread: the wall time from the first start to the last end, over the iterations of one thread).
fn one_and_two_threads<F>(group: &mut BenchmarkGroup<'_, WallTime>, op: F)
where
    F: Fn(usize) + Sync,
{
    group.bench_function("1 thread", |b| b.iter(|| op(0)));
    group.bench_function("2 threads", |b| {
        b.iter_custom(|iters| bench::wall(&op, 2, iters));
    });
}

const ALGS: [(&str, &str, Algorithm); 2] = [
    ("RS256", "rsa-2048", Algorithm::RS256),
    ("ES256", "ec-p256", Algorithm::ES256),
];

/// Everything the benches exercise, built once.
struct Subjects {
    /// Per algorithm (ALGS order), per thread: the raw aws-lc-rs signature check.
    raw: Vec<Vec<RawSignature>>,
    /// Per algorithm, per thread: `Bearer <token>`.
    tokens: Vec<Vec<String>>,
    /// Token cache off.
    fresh: Authenticator,
    /// Token cache on.
    repeated: Authenticator,
    limiter: MemoryLimiter,
    jwks: Arc<JwksCache>,
    /// The verifier alone, as the facade configures it, over the pinned keys.
    verifier: m4_auth::jwt::Verifier,
    keys: m4_auth::jwt::JwkSet,
    _idp: Idp,
}

impl Subjects {
    fn new() -> Self {
        let mut raw = Vec::new();
        let mut tokens = Vec::new();
        for (_, key, alg) in ALGS {
            let per_thread: Vec<String> = ["alice", "bob"]
                .iter()
                .map(|sub| token(key, alg, sub))
                .collect();
            raw.push(
                per_thread
                    .iter()
                    .map(|t| RawSignature::of(t, key))
                    .collect(),
            );
            tokens.push(per_thread.iter().map(|t| format!("Bearer {t}")).collect());
        }
        let idp = Idp::start();
        idp.serve("/keys", idp::json_body(keys::jwks_json()));
        let jwks = Arc::new(
            JwksCache::new(JwksOptions::new(idp.uri()).jwks_url(idp.url("/keys"))).unwrap(),
        );
        jwks.prefetch().unwrap();
        Self {
            raw,
            tokens,
            fresh: authenticator("0"),
            repeated: authenticator("4096"),
            limiter: MemoryLimiter::builder(1_000_000_000, Duration::from_secs(3600))
                .build()
                .unwrap(),
            jwks,
            verifier: m4_auth::jwt::VerifierOptions::new(ISSUER, "m4-api")
                .required_scopes(["read:mimic-data"])
                .build()
                .unwrap(),
            keys: m4_auth::jwt::JwkSet::from_json(keys::jwks_json().as_bytes()).unwrap(),
            _idp: idp,
        }
    }

    fn raw_verify(&self, alg: usize, thread: usize) {
        self.raw[alg][thread].verify();
    }

    fn authenticate(&self, auth: &Authenticator, alg: usize, thread: usize) {
        black_box(
            auth.authenticate(black_box(&self.tokens[alg][thread]))
                .unwrap(),
        );
    }

    /// The verifier alone on the token (without `Bearer `): the facade's share is the rest.
    fn verify_only(&self, alg: usize, thread: usize) {
        let token = &self.tokens[alg][thread]["Bearer ".len()..];
        black_box(self.verifier.verify(black_box(token), &self.keys).unwrap());
    }

    fn limiter_check(&self, thread: usize) {
        black_box(self.limiter.check(black_box(["alice", "bob"][thread])));
    }

    fn jwks_hit(&self, thread: usize) {
        let (kid, alg) = [
            ("rsa-2048", m4_auth::jwt::Algorithm::RS256),
            ("ec-p256", m4_auth::jwt::Algorithm::ES256),
        ][thread];
        black_box(self.jwks.resolve(black_box(kid), alg).unwrap());
    }
}

fn benches(c: &mut Criterion) {
    let s = Subjects::new();
    for (a, (name, _, _)) in ALGS.iter().enumerate() {
        let mut group = c.benchmark_group(format!("raw_verify_{name}"));
        one_and_two_threads(&mut group, |t| s.raw_verify(a, t));
        group.finish();
    }
    for (label, auth) in [("fresh", &s.fresh), ("repeated", &s.repeated)] {
        for (a, (name, _, _)) in ALGS.iter().enumerate() {
            let mut group = c.benchmark_group(format!("authenticate_{label}_{name}"));
            one_and_two_threads(&mut group, |t| s.authenticate(auth, a, t));
            group.finish();
        }
    }
    let mut group = c.benchmark_group("limiter_check");
    one_and_two_threads(&mut group, |t| s.limiter_check(t));
    group.finish();
    let mut group = c.benchmark_group("jwks_cache_hit");
    one_and_two_threads(&mut group, |t| s.jwks_hit(t));
    group.finish();
}

fn paired() {
    let s = Subjects::new();
    for (a, (name, _, _)) in ALGS.iter().enumerate() {
        let raw = |t: usize| s.raw_verify(a, t);
        let fresh = |t: usize| s.authenticate(&s.fresh, a, t);
        let repeated = |t: usize| s.authenticate(&s.repeated, a, t);
        let verify = |t: usize| s.verify_only(a, t);
        println!(
            "PAIRED fresh_over_raw_{name} {:.4}",
            paired_ratio(&fresh, &raw, PAIRS).ratio
        );
        // Diagnostics: the verifier's share and the facade's share of the overhead.
        println!(
            "PAIRED verifier_over_raw_{name} {:.4}",
            paired_ratio(&verify, &raw, PAIRS).ratio
        );
        println!(
            "PAIRED fresh_over_verifier_{name} {:.4}",
            paired_ratio(&fresh, &verify, PAIRS).ratio
        );
        println!(
            "PAIRED raw_over_repeated_{name} {:.4}",
            paired_ratio(&raw, &repeated, PAIRS).ratio
        );
    }
    for (a, (name, _, _)) in ALGS.iter().enumerate() {
        let fresh = |t: usize| s.authenticate(&s.fresh, a, t);
        let repeated = |t: usize| s.authenticate(&s.repeated, a, t);
        println!(
            "PAIRED scaling_authenticate_fresh_{name} {:.4}",
            paired_scaling(&fresh, PAIRS)
        );
        println!(
            "PAIRED scaling_authenticate_repeated_{name} {:.4}",
            paired_scaling(&repeated, PAIRS)
        );
    }
    println!(
        "PAIRED scaling_limiter_check {:.4}",
        paired_scaling(&|t| s.limiter_check(t), PAIRS)
    );
    println!(
        "PAIRED scaling_jwks_cache_hit {:.4}",
        paired_scaling(&|t| s.jwks_hit(t), PAIRS)
    );
}

fn main() {
    bench::main(paired, benches);
}
