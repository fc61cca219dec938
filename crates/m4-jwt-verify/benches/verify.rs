//! Full token verification against the raw aws-lc-rs signature check on the same input.
//!
//! For RS256 (2048-bit key) and ES256 (P-256), with keys warmed (parsed once), three timings:
//! `verify` (this crate, everything: size, base64url, header, key lookup, signature, claims),
//! `raw_signature` (aws-lc-rs `ParsedPublicKey::verify_sig` alone on the same signing input and
//! signature, key parsed independently from the PEM), and `jsonwebtoken_decode` (jsonwebtoken's
//! `decode` with a prepared `DecodingKey`, for comparison).
//! After the criterion groups, an interleaved measurement prints the verify/raw ratio
//! (the target is at most 1.15).
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
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use criterion::{Criterion, criterion_group};
use m4_jwt_verify::{JwkSet, ManualClock, Verifier, VerifierOptions};
use serde_json::json;

const NOW: u64 = 1_750_000_000;
const ISS: &str = "https://idp.example.com/";
const AUD: &str = "m4-api";

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/",
            $file
        ))
    };
}

struct Case {
    name: &'static str,
    token: String,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
    raw_key: ParsedPublicKey,
    jwt_key: jsonwebtoken::DecodingKey,
    jwt_alg: jsonwebtoken::Algorithm,
}

fn pkcs8_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn case(name: &'static str, kid: &str, pem: &str, jwk: &str) -> Case {
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
    let dot = token.rfind('.').unwrap();
    let signing_input = token.as_bytes()[..dot].to_vec();
    let signature = URL_SAFE_NO_PAD.decode(&token[dot + 1..]).unwrap();

    let der = pkcs8_der(pem);
    let raw_key = match name {
        "ES256" => {
            let pair = signature::EcdsaKeyPair::from_pkcs8(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .unwrap();
            ParsedPublicKey::new(
                &signature::ECDSA_P256_SHA256_FIXED,
                pair.public_key().as_ref(),
            )
            .unwrap()
        }
        _ => {
            let pair = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
            ParsedPublicKey::new(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                pair.public_key().as_ref(),
            )
            .unwrap()
        }
    };
    raw_key.verify_sig(&signing_input, &signature).unwrap();

    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(jwk).unwrap();
    let jwt_key = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
    Case {
        name,
        token,
        signing_input,
        signature,
        raw_key,
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
    let keys = JwkSet::from_json(fixture!("jwks.json").as_bytes()).unwrap();
    let cases = vec![
        case(
            "RS256",
            "rsa-2048",
            fixture!("rsa-2048.pem"),
            fixture!("rsa-2048.pub.jwk.json"),
        ),
        case(
            "ES256",
            "ec-p256",
            fixture!("ec-p256.pem"),
            fixture!("ec-p256.pub.jwk.json"),
        ),
    ];
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
            b.iter(|| {
                c.raw_key
                    .verify_sig(black_box(&c.signing_input), black_box(&c.signature))
                    .unwrap();
            });
        });
        group.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| jsonwebtoken_decode(black_box(c)));
        });
        group.finish();
    }
}

/// Interleaved batches of full verification and raw signature checks; the median batch time
/// of each gives a ratio less sensitive to the noise of a shared machine.
fn print_ratios(budget: Duration) {
    let s = setup();
    for c in &s.cases {
        const BATCH: u32 = 50;
        let mut full = Vec::new();
        let mut raw = Vec::new();
        let start = Instant::now();
        while start.elapsed() < budget || full.len() < 5 {
            let t = Instant::now();
            for _ in 0..BATCH {
                black_box(s.verifier.verify(black_box(&c.token), &s.keys).unwrap());
            }
            full.push(t.elapsed());
            let t = Instant::now();
            for _ in 0..BATCH {
                c.raw_key
                    .verify_sig(black_box(&c.signing_input), black_box(&c.signature))
                    .unwrap();
            }
            raw.push(t.elapsed());
        }
        full.sort();
        raw.sort();
        let (f, r) = (full[full.len() / 2] / BATCH, raw[raw.len() / 2] / BATCH);
        println!(
            "{}: verify {:.2} µs, raw signature {:.2} µs, ratio {:.3} (target <= 1.15)",
            c.name,
            f.as_secs_f64() * 1e6,
            r.as_secs_f64() * 1e6,
            f.as_secs_f64() / r.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test --benches` runs the bench binary in test mode: keep that quick.
    let quick = std::env::args().any(|a| a == "--test");
    print_ratios(if quick {
        Duration::from_millis(50)
    } else {
        Duration::from_secs(2)
    });
}
