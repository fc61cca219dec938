//! Full token verification against the raw aws-lc-rs signature check on the same input.
//!
//! For RS256 (2048-bit key) and ES256 (P-256), with keys warmed (parsed once), three timings:
//! `verify` (this crate, everything: size, base64url, header, key lookup, signature, claims),
//! `raw_signature` (aws-lc-rs `ParsedPublicKey::verify_sig` alone on the same signing input and
//! signature, key parsed independently from the PEM), and `jsonwebtoken_decode` (jsonwebtoken's
//! `decode` with a prepared `DecodingKey`, for comparison).
//! After the criterion groups, the paired harness of m4-auth-testkit (batches of both sides
//! alternating, median of the per-pair ratios) prints the verify/raw ratio (the target is at
//! most 1.15).
//!
//! Short run: `cargo bench -p m4-jwt-verify --bench verify -- --warm-up-time 1 --measurement-time 2`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group};
use m4_auth_testkit::bench::{self, RawSignature};
use m4_auth_testkit::keys as fixtures;
use m4_jwt_verify::{JwkSet, ManualClock, Verifier, VerifierOptions};
use serde_json::json;

const NOW: u64 = 1_750_000_000;
const ISS: &str = "https://idp.example.com/";
const AUD: &str = "m4-api";

struct Case {
    name: &'static str,
    token: String,
    raw: RawSignature,
    jwt_key: jsonwebtoken::DecodingKey,
    jwt_alg: jsonwebtoken::Algorithm,
}

fn case(name: &'static str, kid: &str) -> Case {
    let pem = fixtures::private_pem(kid);
    let alg: jsonwebtoken::Algorithm = name.parse().unwrap();
    let mut header = jsonwebtoken::Header::new(alg);
    header.kid = Some(kid.to_owned());
    header.typ = Some("at+jwt".to_owned());
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-42", "scope": "openid read:mimic-data",
        "iat": NOW - 10, "exp": NOW + 3600,
    });
    let encoding_key = match name {
        "ES256" => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    };
    let token = jsonwebtoken::encode(&header, &claims, &encoding_key).unwrap();
    let raw = RawSignature::of(&token, kid);

    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(fixtures::jwk(kid)).unwrap();
    let jwt_key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    Case {
        name,
        token,
        raw,
        jwt_key,
        jwt_alg: alg,
    }
}

struct Setup {
    verifier: Verifier,
    keys: JwkSet,
    cases: Vec<Case>,
}

fn setup() -> Setup {
    let verifier = VerifierOptions::new(ISS, AUD)
        .required_scopes(["read:mimic-data"])
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .unwrap();
    let keys = JwkSet::from_json(fixtures::jwks_json().as_bytes()).unwrap();
    let cases = vec![case("RS256", "rsa-2048"), case("ES256", "ec-p256")];
    for c in &cases {
        verifier.verify(&c.token, &keys).unwrap();
    }
    Setup {
        verifier,
        keys,
        cases,
    }
}

fn jsonwebtoken_decode(c: &Case) -> serde_json::Value {
    let mut validation = jsonwebtoken::Validation::new(c.jwt_alg);
    validation.set_issuer(&[ISS]);
    validation.set_audience(&[AUD]);
    // jsonwebtoken reads the system clock: the fixed-time claims are far in the past, so its
    // expiry check is switched off here to time the same work on a valid token.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(&c.token, &c.jwt_key, &validation)
        .unwrap()
        .claims
}

fn bench(criterion: &mut Criterion) {
    let s = setup();
    for c in &s.cases {
        let mut group = criterion.benchmark_group(c.name);
        group.bench_function("verify", |b| {
            b.iter(|| s.verifier.verify(black_box(&c.token), &s.keys).unwrap());
        });
        group.bench_function("raw_signature", |b| {
            b.iter(|| c.raw.verify());
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken_decode(black_box(c)));
        });
        group.finish();
    }
}

/// The paired verify / raw ratio per case (batches of both alternating, median of the per-pair
/// ratios), less sensitive to the noise of a shared machine than two separate benchmarks.
fn print_ratios(pairs: usize) {
    let s = setup();
    for c in &s.cases {
        let verify = |_: usize| {
            black_box(s.verifier.verify(black_box(&c.token), &s.keys).unwrap());
        };
        let raw = |_: usize| c.raw.verify();
        let paired = bench::paired_ratio(&verify, &raw, pairs);
        println!(
            "{}: verify {:.2} µs, raw signature {:.2} µs, ratio {:.3} (target <= 1.15)",
            c.name,
            paired.a_ns / 1e3,
            paired.b_ns / 1e3,
            paired.ratio
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    print_ratios(bench::pairs());
}
