//! Fuzz target: arbitrary bytes as a token and as a JWKS document.
//!
//! - As a token (lossy UTF-8) against the fixture keys with every algorithm allowed: it must
//!   never panic, and it may only verify if it is one of the tokens genuinely signed at start-up.
//! - As a JWKS document: parsing must never panic; a parsed set is then used to verify the
//!   genuine tokens, which must verify only through a key with the right kid.
#![no_main]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use m4_jwt_verify::{Algorithm, JwkSet, ManualClock, Verifier, VerifierOptions};

const NOW: u64 = 1_750_000_000;

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/keys/", $file))
    };
}

struct Fixture {
    verifier: Verifier,
    keys: JwkSet,
    genuine: Vec<String>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let verifier = VerifierOptions::new("https://idp.example.com/", "m4-api")
        .algorithms(Algorithm::ALL)
        .required_scopes(["read:mimic-data"])
        .clock(Arc::new(ManualClock::new(NOW)))
        .build()
        .unwrap();
    let keys = JwkSet::from_json(fixture!("jwks.json").as_bytes()).unwrap();
    let claims = serde_json::json!({
        "iss": "https://idp.example.com/", "aud": "m4-api", "sub": "fuzz",
        "scope": "read:mimic-data", "exp": NOW + 3600,
    });
    let mint = |kid: &str, alg: jsonwebtoken::Algorithm, key: jsonwebtoken::EncodingKey| {
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, &claims, &key).unwrap()
    };
    let genuine = vec![
        mint("rsa-2048", jsonwebtoken::Algorithm::RS256, jsonwebtoken::EncodingKey::from_rsa_pem(fixture!("rsa-2048.pem").as_bytes()).unwrap()),
        mint("ec-p256", jsonwebtoken::Algorithm::ES256, jsonwebtoken::EncodingKey::from_ec_pem(fixture!("ec-p256.pem").as_bytes()).unwrap()),
    ];
    for token in &genuine {
        verifier.verify(token, &keys).unwrap();
    }
    Fixture { verifier, keys, genuine }
});

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;

    let token = String::from_utf8_lossy(data);
    if let Ok(verified) = f.verifier.verify(&token, &f.keys) {
        assert!(f.genuine.iter().any(|g| **g == *token), "accepted a token nobody signed: {verified:?}");
    }

    if let Ok(set) = JwkSet::from_json(data) {
        for (token, kid) in f.genuine.iter().zip(["rsa-2048", "ec-p256"]) {
            if let Ok(verified) = f.verifier.verify(token, &set) {
                // Exactly one key under the kid could verify the token's algorithm.
                let compatible = set
                    .keys_with_kid(kid)
                    .iter()
                    .filter(|k| k.check_compatible(verified.alg()).is_ok())
                    .count();
                assert_eq!(compatible, 1);
            }
        }
    }
});
