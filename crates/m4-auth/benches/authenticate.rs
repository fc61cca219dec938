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
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use m4_auth::jwks::{JwksCache, JwksOptions, KeyResolver};
use m4_auth::ratelimit::{MemoryLimiter, RateLimiter};
use m4_auth::{AuthConfig, Authenticator};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://idp.example.com/";

fn fixture(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../tests/fixtures/keys/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

/// A token for `sub`, signed by fixture `key` with `alg`, valid for a day from now.
fn token(key: &str, alg: Algorithm, sub: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISSUER, "aud": "m4-api", "sub": sub, "scope": "read:mimic-data openid",
        "iat": now, "exp": now + 86_400,
    });
    let mut header = Header::new(alg);
    header.kid = Some(key.to_owned());
    header.typ = Some("at+jwt".to_owned());
    let pem = fixture(&format!("{key}.pem"));
    let encoding = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        _ => EncodingKey::from_ec_pem(pem.as_bytes()),
    }
    .unwrap();
    jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
}

/// The token's signing input and decoded signature, and the key pre-parsed by aws-lc-rs.
fn raw_parts(token: &str, key: &str, alg: Algorithm) -> RawParts {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let der = pem_der(&fixture(&format!("{key}.pem")));
    let parsed = match alg {
        Algorithm::RS256 => {
            let pair = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
            ParsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
        }
        _ => {
            let pair = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .unwrap();
            ParsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref(),
            )
        }
    }
    .unwrap();
    (input.as_bytes().to_vec(), sig, parsed)
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
    let keys = m4_auth::jwt::JwkSet::from_json(fixture("jwks.json").as_bytes()).unwrap();
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
    group.bench_function("2 threads", |b| b.iter_custom(|iters| wall(&op, 2, iters)));
}

const ALGS: [(&str, &str, Algorithm); 2] = [
    ("RS256", "rsa-2048", Algorithm::RS256),
    ("ES256", "ec-p256", Algorithm::ES256),
];

/// A token's signing input, its decoded signature and the pre-parsed key that verifies it.
type RawParts = (Vec<u8>, Vec<u8>, ParsedPublicKey);

/// Everything the benches exercise, built once.
struct Subjects {
    /// Per algorithm (ALGS order), per thread: signing input, signature, pre-parsed key.
    raw: Vec<Vec<RawParts>>,
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
    _idp: (tokio::runtime::Runtime, MockServer),
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
            raw.push(per_thread.iter().map(|t| raw_parts(t, key, alg)).collect());
            tokens.push(per_thread.iter().map(|t| format!("Bearer {t}")).collect());
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let server = rt.block_on(MockServer::start());
        rt.block_on(
            Mock::given(method("GET"))
                .and(path("/keys"))
                .respond_with(ResponseTemplate::new(200).set_body_string(fixture("jwks.json")))
                .mount(&server),
        );
        let jwks = Arc::new(
            JwksCache::new(
                JwksOptions::new(server.uri()).jwks_url(format!("{}/keys", server.uri())),
            )
            .unwrap(),
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
            keys: m4_auth::jwt::JwkSet::from_json(fixture("jwks.json").as_bytes()).unwrap(),
            _idp: (rt, server),
        }
    }

    fn raw_verify(&self, alg: usize, thread: usize) {
        let (input, sig, parsed) = &self.raw[alg][thread];
        parsed.verify_sig(black_box(input), black_box(sig)).unwrap();
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

/// Runs `op` `n` times on each of `threads` threads released together, and returns the wall
/// time from the first thread's start to the last thread's end. Thread start-up is outside it;
/// a thread that cannot get a core waits inside it, so two threads sharing one core measure
/// as twice the time, not as two separate single-thread runs.
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

/// Time of `n` runs of `op` on this thread, in nanoseconds.
fn run(op: &(dyn Fn(usize) + Sync), n: u64) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op(0);
    }
    start.elapsed().as_nanos() as f64
}

/// Operations per batch so that one batch takes about 2 ms.
fn batch_size(op: &(dyn Fn(usize) + Sync)) -> u64 {
    run(op, 20);
    let per_op = run(op, 50) / 50.0;
    ((2_000_000.0 / per_op) as u64).max(5)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

const PAIRS: usize = 150;

/// Median over alternating pairs of (time per op of `a`) / (time per op of `b`), one thread.
fn paired_ratio(a: &(dyn Fn(usize) + Sync), b: &(dyn Fn(usize) + Sync)) -> f64 {
    let (na, nb) = (batch_size(a), batch_size(b));
    let ratios = (0..PAIRS)
        .map(|i| {
            let (ta, tb) = if i % 2 == 0 {
                let ta = run(a, na) / na as f64;
                (ta, run(b, nb) / nb as f64)
            } else {
                let tb = run(b, nb) / nb as f64;
                (run(a, na) / na as f64, tb)
            };
            ta / tb
        })
        .collect();
    median(ratios)
}

/// Median over alternating pairs of two-thread throughput / one-thread throughput.
///
/// The two worker threads live for the whole measurement and take turns by barrier, so the
/// scheduler has long since put them on separate cores: threads spawned per 2 ms batch start on
/// their parent's core and would mostly run there, measuring the scheduler instead.
fn paired_scaling(op: &(dyn Fn(usize) + Sync)) -> f64 {
    let n = batch_size(op);
    // Phases, in order: for even pairs one thread then two, for odd pairs the reverse.
    let phases: Vec<usize> = (0..PAIRS)
        .flat_map(|i| if i % 2 == 0 { [1, 2] } else { [2, 1] })
        .collect();
    let barrier = Barrier::new(2);
    let spans: Vec<Vec<Option<(Instant, Instant)>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let (barrier, phases) = (&barrier, &phases);
                s.spawn(move || {
                    let mut spans = Vec::with_capacity(phases.len());
                    for threads in phases {
                        barrier.wait();
                        if t < *threads {
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

fn paired() {
    let s = Subjects::new();
    for (a, (name, _, _)) in ALGS.iter().enumerate() {
        let raw = |t: usize| s.raw_verify(a, t);
        let fresh = |t: usize| s.authenticate(&s.fresh, a, t);
        let repeated = |t: usize| s.authenticate(&s.repeated, a, t);
        let verify = |t: usize| s.verify_only(a, t);
        println!(
            "PAIRED fresh_over_raw_{name} {:.4}",
            paired_ratio(&fresh, &raw)
        );
        // Diagnostics: the verifier's share and the facade's share of the overhead.
        println!(
            "PAIRED verifier_over_raw_{name} {:.4}",
            paired_ratio(&verify, &raw)
        );
        println!(
            "PAIRED fresh_over_verifier_{name} {:.4}",
            paired_ratio(&fresh, &verify)
        );
        println!(
            "PAIRED raw_over_repeated_{name} {:.4}",
            paired_ratio(&raw, &repeated)
        );
    }
    for (a, (name, _, _)) in ALGS.iter().enumerate() {
        let fresh = |t: usize| s.authenticate(&s.fresh, a, t);
        let repeated = |t: usize| s.authenticate(&s.repeated, a, t);
        println!(
            "PAIRED scaling_authenticate_fresh_{name} {:.4}",
            paired_scaling(&fresh)
        );
        println!(
            "PAIRED scaling_authenticate_repeated_{name} {:.4}",
            paired_scaling(&repeated)
        );
    }
    println!(
        "PAIRED scaling_limiter_check {:.4}",
        paired_scaling(&|t| s.limiter_check(t))
    );
    println!(
        "PAIRED scaling_jwks_cache_hit {:.4}",
        paired_scaling(&|t| s.jwks_hit(t))
    );
}

fn main() {
    if std::env::args().any(|a| a == "--paired") {
        paired();
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    benches(&mut criterion);
    criterion.final_summary();
}
