//! Cache behaviour over real HTTP on loopback: hits, TTL expiry, the unknown-kid flood,
//! single flight, rotation, generation and stats. Time is a `ManualClock`; nothing sleeps.
#![cfg(test)]

mod common;

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::{COOLDOWN, Idp, TTL, options};
use m4_auth_testkit::idp::ResponseTemplate;
use m4_jwks::{Algorithm, JwksCache, KeyKind, KeyLookupError, KeyResolver, ManualClock};

const SET_A: &[&str] = &["rsa-2048", "rsa-4096", "ec-p256"];
const SET_B: &[&str] = &["rsa-2048-b", "ec-p256"];

fn kid_of(key: &m4_jwks::VerifyingKey) -> String {
    key.kid().unwrap().to_owned()
}

#[test]
fn many_lookups_one_fetch() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", SET_A);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    for i in 0..3_000 {
        let (kid, alg) = match i % 3 {
            0 => ("rsa-2048", Algorithm::RS256),
            1 => ("rsa-4096", Algorithm::RS256),
            _ => ("ec-p256", Algorithm::ES256),
        };
        let key = cache.resolve(kid, alg).unwrap();
        assert_eq!(kid_of(&key), kid);
    }
    assert_eq!(idp.hits("/keys"), 1);
    assert_eq!(cache.stats().fetch_count, 1);
}

#[test]
fn hits_from_many_threads_share_one_fetch() {
    let idp = Idp::start();
    // Slow enough that every thread arrives while the first fetch is in flight.
    idp.serve(
        "/keys",
        ResponseTemplate::new(200)
            .set_body_raw(common::jwks(SET_A), "application/json")
            .set_delay(Duration::from_millis(300)),
    );
    let clock = ManualClock::new();
    let cache = Arc::new(JwksCache::new(options(&idp, &clock)).unwrap());
    let barrier = Arc::new(Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let cache = Arc::clone(&cache);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                cache
                    .resolve("ec-p256", Algorithm::ES256)
                    .map(|k| kid_of(&k))
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().unwrap(), "ec-p256");
    }
    assert_eq!(
        idp.hits("/keys"),
        1,
        "cold-start lookups coalesce into one request"
    );
}

#[test]
fn ttl_expiry_causes_exactly_one_refetch() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", SET_A);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    cache.prefetch().unwrap();
    let lookups = |n: usize| {
        for _ in 0..n {
            cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
        }
    };
    lookups(100);
    clock.advance(TTL - Duration::from_secs(1));
    lookups(100);
    assert_eq!(
        idp.hits("/keys"),
        1,
        "still fresh one second before the TTL"
    );
    clock.advance(Duration::from_secs(2));
    lookups(100);
    assert_eq!(idp.hits("/keys"), 2, "one refetch after the TTL");
    clock.advance(TTL - Duration::from_secs(1));
    lookups(100);
    assert_eq!(idp.hits("/keys"), 2, "the refetch restarted the TTL");
    assert!(!cache.stats().serving_stale);
}

#[test]
fn unknown_kid_flood_refetches_at_most_once_per_cooldown() {
    let idp = Idp::start();
    idp.serve(
        "/keys",
        ResponseTemplate::new(200)
            .set_body_raw(common::jwks(SET_A), "application/json")
            .set_delay(Duration::from_millis(200)),
    );
    let clock = ManualClock::new();
    let cache = Arc::new(JwksCache::new(options(&idp, &clock)).unwrap());
    cache.prefetch().unwrap();
    assert_eq!(idp.hits("/keys"), 1);

    // 8 threads x 125 random kids, all released at once.
    let flood = || {
        let barrier = Arc::new(Barrier::new(8));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let cache = Arc::clone(&cache);
                let barrier = Arc::clone(&barrier);
                std::thread::spawn(move || {
                    let random = RandomState::new();
                    barrier.wait();
                    (0..125_u64)
                        .map(|i| {
                            let kid = format!("{:016x}", random.hash_one(i));
                            cache.resolve(&kid, Algorithm::RS256)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let answers: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(answers.len(), 1_000);
        for answer in answers {
            assert_eq!(answer.unwrap_err(), KeyLookupError::UnknownKid);
        }
    };

    // Within the cooldown of the first fetch: no request at all.
    flood();
    assert_eq!(idp.hits("/keys"), 1);
    // Each time the cooldown has passed: exactly one request, however many threads ask.
    for round in 1..=3 {
        clock.advance(COOLDOWN);
        flood();
        assert_eq!(idp.hits("/keys"), 1 + round, "round {round}");
    }
    // Known kids keep working throughout.
    cache.resolve("rsa-4096", Algorithm::RS256).unwrap();
}

#[test]
fn rotation_new_key_found_removed_key_gone_after_one_refetch() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", SET_A);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    assert_eq!(
        kid_of(&cache.resolve("rsa-2048", Algorithm::RS256).unwrap()),
        "rsa-2048"
    );
    assert_eq!(cache.generation(), 1);

    // The provider rotates: rsa-2048 out, rsa-2048-b in.
    idp.reset();
    idp.serve_jwks("/keys", SET_B);

    // Inside the cooldown of the first fetch, the new kid is unknown and nothing is fetched.
    assert_eq!(
        cache.resolve("rsa-2048-b", Algorithm::RS256).unwrap_err(),
        KeyLookupError::UnknownKid
    );
    assert_eq!(idp.hits("/keys"), 0);

    clock.advance(COOLDOWN);
    let key = cache.resolve("rsa-2048-b", Algorithm::RS256).unwrap();
    assert_eq!(kid_of(&key), "rsa-2048-b");
    assert_eq!(idp.hits("/keys"), 1, "found after exactly one refetch");
    assert_eq!(cache.generation(), 2);

    assert_eq!(
        cache.resolve("rsa-2048", Algorithm::RS256).unwrap_err(),
        KeyLookupError::UnknownKid,
        "the removed key is gone"
    );
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(idp.hits("/keys"), 1);
}

#[test]
fn generation_changes_only_with_the_served_set() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", SET_A);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    assert_eq!(cache.generation(), 0);
    cache.prefetch().unwrap();
    assert_eq!(cache.generation(), 1);
    // Same document again after the TTL: same generation.
    clock.advance(TTL);
    cache.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert_eq!(idp.hits("/keys"), 2);
    assert_eq!(cache.generation(), 1);
    // A different document: a new generation.
    idp.reset();
    idp.serve_jwks("/keys", SET_B);
    clock.advance(TTL);
    cache.resolve("ec-p256", Algorithm::ES256).unwrap();
    assert_eq!(cache.generation(), 2);
}

#[test]
fn incompatible_and_skipped_keys_are_unusable_not_refetched() {
    let idp = Idp::start();
    let enc_key = m4_auth_testkit::keys::public_jwk("rsa-2048-b").replace("\"sig\"", "\"enc\"");
    let body = format!(
        "{{\"keys\":[{},{},{{\"kty\":\"oct\",\"kid\":\"hmac\",\"k\":\"c2VjcmV0\"}}]}}",
        m4_auth_testkit::keys::public_jwk("ec-p256"),
        enc_key
    );
    idp.serve(
        "/keys",
        ResponseTemplate::new(200).set_body_raw(body, "application/json"),
    );
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    // The right kid with the wrong algorithm.
    assert!(matches!(
        cache.resolve("ec-p256", Algorithm::RS256),
        Err(KeyLookupError::Unusable { .. })
    ));
    // Kids that name skipped members report why.
    assert!(matches!(
        cache.resolve("rsa-2048-b", Algorithm::RS256),
        Err(KeyLookupError::Unusable { .. })
    ));
    assert!(matches!(
        cache.resolve("hmac", Algorithm::RS256),
        Err(KeyLookupError::Unusable { .. })
    ));
    clock.advance(COOLDOWN);
    cache.resolve("hmac", Algorithm::RS256).unwrap_err();
    assert_eq!(
        idp.hits("/keys"),
        1,
        "a known-but-unusable kid never triggers a refetch"
    );

    let stats = cache.stats();
    assert_eq!(stats.keys.len(), 1);
    assert_eq!(stats.skipped.len(), 2);
    let reasons: Vec<String> = stats.skipped.iter().map(|s| s.reason.to_string()).collect();
    assert!(reasons[0].contains("enc"), "{reasons:?}");
    assert!(reasons[1].contains("oct"), "{reasons:?}");
}

#[test]
fn stats_report_the_served_set() {
    let idp = Idp::start();
    idp.serve_jwks("/keys", SET_A);
    let clock = ManualClock::new();
    let cache = JwksCache::new(options(&idp, &clock)).unwrap();
    let before = cache.stats();
    assert_eq!(before.fetch_count, 0);
    assert!(before.last_success.is_none());
    assert!(before.keys.is_empty());

    cache.prefetch().unwrap();
    clock.advance(Duration::from_secs(5));
    let stats = cache.stats();
    assert_eq!(stats.jwks_url.as_deref(), Some(idp.url("/keys").as_str()));
    assert_eq!(stats.issuer, idp.uri());
    assert_eq!(stats.fetch_count, 1);
    assert_eq!(stats.failure_streak, 0);
    assert!(!stats.fetch_in_progress);
    assert!(stats.last_error.is_none());
    assert_eq!(
        stats.taken_at - stats.last_success.unwrap(),
        Duration::from_secs(5)
    );
    let keys: Vec<(String, KeyKind, Option<Algorithm>, Option<String>)> = stats
        .keys
        .iter()
        .map(|k| {
            (
                kid_of(k),
                k.kind(),
                k.declared_alg(),
                k.key_use().map(str::to_owned),
            )
        })
        .collect();
    let kinds: Vec<String> = keys.iter().map(|k| format!("{} {}", k.0, k.1)).collect();
    assert_eq!(
        kinds,
        ["rsa-2048 RSA 2048", "rsa-4096 RSA 4096", "ec-p256 EC P-256"]
    );
    assert_eq!(keys[0].2, Some(Algorithm::RS256));
    assert_eq!(keys[2].2, Some(Algorithm::ES256));
    assert!(keys.iter().all(|k| k.3.as_deref() == Some("sig")));
    assert!(stats.skipped.is_empty());
    assert!(!stats.serving_stale);
    assert_eq!(stats.generation, 1);
}
