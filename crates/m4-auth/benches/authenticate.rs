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
//! `cargo xtask bench` runs this with short settings and prints the ratios.
//! By hand: `cargo bench -p m4-auth --bench authenticate -- --warm-up-time 1 --measurement-time 2`.
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

use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use criterion::{
    BenchmarkGroup, Criterion, criterion_group, criterion_main, measurement::WallTime,
};
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
fn raw_parts(token: &str, key: &str, alg: Algorithm) -> (Vec<u8>, Vec<u8>, ParsedPublicKey) {
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
/// thread: the slower thread's time over its iterations).
fn one_and_two_threads<F>(group: &mut BenchmarkGroup<'_, WallTime>, op: F)
where
    F: Fn(usize) + Sync,
{
    group.bench_function("1 thread", |b| b.iter(|| op(0)));
    group.bench_function("2 threads", |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            let elapsed: Vec<Duration> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..2)
                    .map(|thread| {
                        let (barrier, op) = (&barrier, &op);
                        s.spawn(move || {
                            barrier.wait();
                            let start = Instant::now();
                            for _ in 0..iters {
                                op(thread);
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
}

const ALGS: [(&str, &str, Algorithm); 2] = [
    ("RS256", "rsa-2048", Algorithm::RS256),
    ("ES256", "ec-p256", Algorithm::ES256),
];

fn raw_verify(c: &mut Criterion) {
    for (name, key, alg) in ALGS {
        let parts: Vec<_> = ["alice", "bob"]
            .iter()
            .map(|sub| raw_parts(&token(key, alg, sub), key, alg))
            .collect();
        let mut group = c.benchmark_group(format!("raw_verify_{name}"));
        one_and_two_threads(&mut group, |t| {
            let (input, sig, parsed) = &parts[t];
            parsed.verify_sig(black_box(input), black_box(sig)).unwrap();
        });
        group.finish();
    }
}

fn authenticate(c: &mut Criterion, label: &str, cache_size: &str) {
    for (name, key, alg) in ALGS {
        let auth = authenticator(cache_size);
        let tokens: Vec<String> = ["alice", "bob"]
            .iter()
            .map(|sub| format!("Bearer {}", token(key, alg, sub)))
            .collect();
        let mut group = c.benchmark_group(format!("authenticate_{label}_{name}"));
        one_and_two_threads(&mut group, |t| {
            black_box(auth.authenticate(black_box(&tokens[t])).unwrap());
        });
        group.finish();
    }
}

fn authenticate_fresh(c: &mut Criterion) {
    authenticate(c, "fresh", "0");
}

fn authenticate_repeated(c: &mut Criterion) {
    authenticate(c, "repeated", "4096");
}

fn limiter_check(c: &mut Criterion) {
    let limiter = MemoryLimiter::builder(1_000_000_000, Duration::from_secs(3600))
        .build()
        .unwrap();
    let keys = ["alice", "bob"];
    let mut group = c.benchmark_group("limiter_check");
    one_and_two_threads(&mut group, |t| {
        black_box(limiter.check(black_box(keys[t])));
    });
    group.finish();
}

fn jwks_cache_hit(c: &mut Criterion) {
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
    let cache = Arc::new(
        JwksCache::new(JwksOptions::new(server.uri()).jwks_url(format!("{}/keys", server.uri())))
            .unwrap(),
    );
    cache.prefetch().unwrap();
    let kids = ["rsa-2048", "ec-p256"];
    let algs = [
        m4_auth::jwt::Algorithm::RS256,
        m4_auth::jwt::Algorithm::ES256,
    ];
    let mut group = c.benchmark_group("jwks_cache_hit");
    one_and_two_threads(&mut group, |t| {
        black_box(cache.resolve(black_box(kids[t]), algs[t]).unwrap());
    });
    group.finish();
    drop(server);
}

criterion_group!(
    benches,
    raw_verify,
    authenticate_fresh,
    authenticate_repeated,
    limiter_check,
    jwks_cache_hit
);
criterion_main!(benches);
