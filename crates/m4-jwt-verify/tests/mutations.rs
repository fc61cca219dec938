//! Property tests: mutated valid tokens never verify, and no input makes the verifier panic.
#![cfg(test)]

mod common;

use std::sync::LazyLock;

use common::*;
use m4_jwt_verify::{JwkSet, Verifier};
use proptest::prelude::*;

struct Fixture {
    verifier: Verifier,
    keys: JwkSet,
    tokens: Vec<String>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let fixture = Fixture {
        verifier: all_algorithms(),
        keys: keys(),
        tokens: vec![
            valid_rs256(),
            mint("ec-p256", "ES256", &claims()),
            mint("rsa-4096", "RS256", &claims()),
            sign_with(
                &serde_json::json!({"alg": "PS256", "kid": "ps-only"}),
                &claims(),
                "rsa-2048-b",
                "PS256",
            ),
            mint("ed25519", "EdDSA", &claims()),
        ],
    };
    for token in &fixture.tokens {
        assert!(
            fixture.verifier.verify(token, &fixture.keys).is_ok(),
            "base token must verify"
        );
    }
    fixture
});

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the character at `at` (modulo the length).
    Replace { at: usize, with: char },
    /// Insert a character at `at`.
    Insert { at: usize, with: char },
    /// Remove `len` characters from `at`.
    Remove { at: usize, len: usize },
    /// Keep only the first `keep` characters.
    Truncate { keep: usize },
    /// Flip one bit of a decoded segment and re-encode it (valid base64url, altered content).
    FlipBit { segment: usize, bit: usize },
    /// Replace a segment with the base64url encoding of arbitrary bytes.
    RandomSegment { segment: usize, bytes: Vec<u8> },
    /// Take a segment from another valid token.
    Splice { segment: usize, donor: usize },
}

fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::sample::select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".chars().collect::<Vec<_>>()
        ),
        2 => proptest::sample::select(vec!['.', '=', '+', '/', ' ', '\n', '\0', 'é', '"', '{']),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), token_char()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        (any::<usize>(), token_char()).prop_map(|(at, with)| Mutation::Insert { at, with }),
        (any::<usize>(), 1..64usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        any::<usize>().prop_map(|keep| Mutation::Truncate { keep }),
        (0..3usize, any::<usize>()).prop_map(|(segment, bit)| Mutation::FlipBit { segment, bit }),
        (0..3usize, proptest::collection::vec(any::<u8>(), 0..600))
            .prop_map(|(segment, bytes)| Mutation::RandomSegment { segment, bytes }),
        (0..3usize, any::<usize>())
            .prop_map(|(segment, donor)| Mutation::Splice { segment, donor }),
    ]
}

fn apply(token: &str, mutation: &Mutation, tokens: &[String]) -> String {
    let chars: Vec<char> = token.chars().collect();
    let n = chars.len();
    let mut segments: Vec<String> = token.split('.').map(str::to_owned).collect();
    match mutation {
        Mutation::Replace { at, with } => {
            let mut c = chars;
            c[at % n] = *with;
            c.into_iter().collect()
        }
        Mutation::Insert { at, with } => {
            let mut c = chars;
            c.insert(at % (n + 1), *with);
            c.into_iter().collect()
        }
        Mutation::Remove { at, len } => {
            let start = at % n;
            let end = (start + len).min(n);
            chars[..start].iter().chain(&chars[end..]).collect()
        }
        Mutation::Truncate { keep } => chars[..keep % n].iter().collect(),
        Mutation::FlipBit { segment, bit } => {
            let mut bytes = unb64(&segments[*segment]);
            if bytes.is_empty() {
                bytes.push(1);
            } else {
                let bit = bit % (bytes.len() * 8);
                bytes[bit / 8] ^= 1 << (bit % 8);
            }
            segments[*segment] = b64(&bytes);
            segments.join(".")
        }
        Mutation::RandomSegment { segment, bytes } => {
            segments[*segment] = b64(bytes);
            segments.join(".")
        }
        Mutation::Splice { segment, donor } => {
            let donor = &tokens[donor % tokens.len()];
            segments[*segment] = donor.split('.').nth(*segment).unwrap().to_owned();
            segments.join(".")
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_tokens_never_verify(base in 0..5usize, mutation in mutation()) {
        let f = &*FIXTURE;
        let original = &f.tokens[base];
        let mutated = apply(original, &mutation, &f.tokens);
        let result = f.verifier.verify(&mutated, &f.keys);
        if mutated == *original {
            prop_assert!(result.is_ok());
        } else {
            prop_assert!(result.is_err(), "accepted a mutated token: {mutation:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(token in "\\PC{0,300}") {
        let f = &*FIXTURE;
        prop_assert!(f.verifier.verify(&token, &f.keys).is_err());
    }

    #[test]
    fn arbitrary_segments_never_panic(
        header in proptest::collection::vec(any::<u8>(), 0..200),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        sig in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let f = &*FIXTURE;
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&sig));
        prop_assert!(f.verifier.verify(&token, &f.keys).is_err());
    }

    #[test]
    fn arbitrary_jwks_documents_never_panic(doc in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = JwkSet::from_json(&doc);
    }

    #[test]
    fn arbitrary_json_jwks_members_never_panic(
        kty in proptest::sample::select(vec!["RSA", "EC", "OKP", "oct", "x"]),
        crv in proptest::sample::select(vec!["P-256", "P-384", "P-521", "Ed25519", "X25519", ""]),
        n in proptest::collection::vec(any::<u8>(), 0..300),
        x in proptest::collection::vec(any::<u8>(), 0..70),
        y in proptest::collection::vec(any::<u8>(), 0..70),
    ) {
        let doc = serde_json::json!({"keys": [{
            "kty": kty, "crv": crv, "kid": "k", "n": b64(&n), "e": "AQAB", "x": b64(&x), "y": b64(&y),
        }]});
        let set = JwkSet::from_json(doc.to_string().as_bytes()).unwrap();
        prop_assert_eq!(set.len() + set.skipped().len(), 1);
    }
}
