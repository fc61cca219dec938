//! Key model tests: JWKS parsing with skip reasons, duplicate kids, compatibility, the static resolver.
#![cfg(test)]

use std::sync::Arc;

use m4_auth_testkit::keys::{self, jwk};
use m4_jwt_verify::{
    Algorithm, EcCurve, JwkSet, JwksDocumentError, KeyKind, KeyLookupError, KeyRejection,
    KeyResolver, VerifyingKey,
};
use serde_json::{Value, json};

fn with(mut jwk: Value, member: &str, value: Value) -> Value {
    jwk.as_object_mut()
        .unwrap()
        .insert(member.to_owned(), value);
    jwk
}

fn without(mut jwk: Value, member: &str) -> Value {
    jwk.as_object_mut().unwrap().remove(member);
    jwk
}

fn set_of(members: &[Value]) -> JwkSet {
    JwkSet::from_json(json!({ "keys": members }).to_string().as_bytes()).unwrap()
}

#[test]
fn every_fixture_parses_with_the_right_kind() {
    let cases = [
        ("rsa-2048", KeyKind::Rsa { bits: 2048 }, Algorithm::RS256),
        ("rsa-2048-b", KeyKind::Rsa { bits: 2048 }, Algorithm::RS256),
        ("rsa-4096", KeyKind::Rsa { bits: 4096 }, Algorithm::RS256),
        (
            "ec-p256",
            KeyKind::Ec {
                curve: EcCurve::P256,
            },
            Algorithm::ES256,
        ),
        (
            "ec-p384",
            KeyKind::Ec {
                curve: EcCurve::P384,
            },
            Algorithm::ES384,
        ),
        ("ed25519", KeyKind::Ed25519, Algorithm::EdDSA),
    ];
    for (name, kind, alg) in cases {
        let key = VerifyingKey::from_jwk(&jwk(name)).unwrap();
        assert_eq!(key.kid(), Some(name));
        assert_eq!(key.kind(), kind, "{name}");
        assert_eq!(key.declared_alg(), Some(alg), "{name}");
        assert_eq!(key.key_use(), Some("sig"));
        assert_eq!(key.check_compatible(alg), Ok(()), "{name}");
    }
}

#[test]
fn rsa_1024_is_too_small() {
    assert_eq!(
        VerifyingKey::from_jwk(&jwk("rsa-1024")).unwrap_err(),
        KeyRejection::RsaKeyTooSmall { bits: 1024 }
    );
}

#[test]
fn debug_shows_only_kid_kind_alg_and_use() {
    let key = VerifyingKey::from_jwk(&jwk("ec-p256")).unwrap();
    let n_or_x = jwk("ec-p256")["x"].as_str().unwrap().to_owned();
    let debug = format!("{key:?}");
    assert_eq!(
        debug,
        r#"VerifyingKey { kid: Some("ec-p256"), kind: Ec { curve: P256 }, alg: Some(ES256), use: Some("sig") }"#
    );
    assert!(!debug.contains(&n_or_x));
}

#[test]
fn keys_and_sets_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VerifyingKey>();
    assert_send_sync::<JwkSet>();
    assert_send_sync::<Arc<dyn KeyResolver>>();
}

#[test]
fn rejections_of_real_keys_with_bad_metadata() {
    let cases = [
        (
            with(jwk("rsa-2048"), "use", json!("enc")),
            KeyRejection::EncryptionKey,
        ),
        (
            with(jwk("ec-p256"), "alg", json!("ES384")),
            KeyRejection::KindMismatch {
                kind: KeyKind::Ec {
                    curve: EcCurve::P256,
                },
                alg: Algorithm::ES384,
            },
        ),
        (
            with(jwk("rsa-2048"), "alg", json!("ES256")),
            KeyRejection::KindMismatch {
                kind: KeyKind::Rsa { bits: 2048 },
                alg: Algorithm::ES256,
            },
        ),
        (
            with(jwk("rsa-2048"), "alg", json!("none")),
            KeyRejection::UnsupportedAlgorithm { alg: "none".into() },
        ),
        (
            with(jwk("ec-p256"), "crv", json!("P-384")),
            KeyRejection::WrongLength {
                member: "x",
                curve: "P-384",
                expected: 48,
                found: 32,
            },
        ),
        (
            with(jwk("ec-p256"), "d", json!("AAAA")),
            KeyRejection::PrivateKeyMaterial { member: "d" },
        ),
        (
            with(jwk("rsa-2048"), "n", json!(42)),
            KeyRejection::MemberType {
                member: "n",
                expected: "a string",
            },
        ),
        (
            with(jwk("rsa-2048"), "n", json!("not base64!")),
            KeyRejection::MalformedMember { member: "n" },
        ),
        (
            without(jwk("ec-p256"), "y"),
            KeyRejection::MissingMember { member: "y" },
        ),
        (
            with(jwk("ed25519"), "kty", json!("oct")),
            KeyRejection::SymmetricKey,
        ),
    ];
    for (jwk, expected) in cases {
        assert_eq!(VerifyingKey::from_jwk(&jwk).err(), Some(expected), "{jwk}");
    }
}

#[test]
fn a_jwk_without_alg_or_use_verifies_every_algorithm_of_its_kind() {
    let rsa = VerifyingKey::from_jwk(&without(without(jwk("rsa-2048"), "alg"), "use")).unwrap();
    assert_eq!(rsa.declared_alg(), None);
    assert_eq!(rsa.key_use(), None);
    for alg in Algorithm::ALL {
        let rsa_family = matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        );
        assert_eq!(rsa.check_compatible(alg).is_ok(), rsa_family, "{alg}");
    }
    let ec = VerifyingKey::from_jwk(&without(jwk("ec-p384"), "alg")).unwrap();
    assert_eq!(ec.check_compatible(Algorithm::ES384), Ok(()));
    assert_eq!(
        ec.check_compatible(Algorithm::ES256),
        Err(KeyRejection::KindMismatch {
            kind: KeyKind::Ec {
                curve: EcCurve::P384
            },
            alg: Algorithm::ES256
        })
    );
}

#[test]
fn declared_alg_restricts_compatibility() {
    let key = VerifyingKey::from_jwk(&jwk("rsa-4096")).unwrap();
    assert_eq!(
        key.check_compatible(Algorithm::RS512),
        Err(KeyRejection::AlgorithmMismatch {
            declared: Algorithm::RS256,
            requested: Algorithm::RS512
        })
    );
    let key = VerifyingKey::from_jwk(&with(jwk("rsa-4096"), "alg", json!("PS512"))).unwrap();
    assert_eq!(key.check_compatible(Algorithm::PS512), Ok(()));
    assert!(key.check_compatible(Algorithm::RS256).is_err());
}

#[test]
fn extra_members_are_ignored_and_key_ops_verify_is_accepted() {
    let key = with(
        with(jwk("ec-p256"), "x5t", json!("abc")),
        "key_ops",
        json!(["verify"]),
    );
    assert!(VerifyingKey::from_jwk(&key).is_ok());
}

#[test]
fn document_errors() {
    let cases: [(&[u8], JwksDocumentError); 6] = [
        (b"", JwksDocumentError::NotJson { line: 1, column: 0 }),
        (
            b"{\"keys\": [",
            JwksDocumentError::NotJson {
                line: 1,
                column: 10,
            },
        ),
        (b"[]", JwksDocumentError::NotAnObject),
        (b"\"keys\"", JwksDocumentError::NotAnObject),
        (b"{}", JwksDocumentError::MissingKeys),
        (b"{\"keys\": {}}", JwksDocumentError::KeysNotArray),
    ];
    for (doc, expected) in cases {
        assert_eq!(
            JwkSet::from_json(doc).unwrap_err(),
            expected,
            "{}",
            String::from_utf8_lossy(doc)
        );
    }
}

#[test]
fn fixture_jwks_loads_three_keys_in_order() {
    let set = JwkSet::from_json(keys::jwks_json().as_bytes()).unwrap();
    assert_eq!(set.len(), 3);
    assert!(!set.is_empty());
    assert!(set.skipped().is_empty());
    let kids: Vec<_> = set.keys().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kids, ["rsa-2048", "rsa-4096", "ec-p256"]);
    assert_eq!(
        set.get("rsa-4096").unwrap().kind(),
        KeyKind::Rsa { bits: 4096 }
    );
    assert!(set.get("RSA-4096").is_none());
    assert!(set.get("").is_none());
}

#[test]
fn bad_members_are_skipped_with_index_kid_and_reason() {
    let set = set_of(&[
        jwk("rsa-2048"),
        json!("not an object"),
        jwk("rsa-1024"),
        json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}),
        with(jwk("rsa-2048-b"), "use", json!("enc")),
        jwk("ec-p256"),
        json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"}),
        json!({"kid": "no-kty"}),
    ]);
    let kids: Vec<_> = set.keys().map(|k| k.kid().unwrap()).collect();
    assert_eq!(kids, ["rsa-2048", "ec-p256"]);
    let skipped: Vec<_> = set
        .skipped()
        .iter()
        .map(|s| (s.index, s.kid.as_deref(), s.reason.clone()))
        .collect();
    assert_eq!(
        skipped,
        vec![
            (1, None, KeyRejection::NotAnObject),
            (
                2,
                Some("rsa-1024"),
                KeyRejection::RsaKeyTooSmall { bits: 1024 }
            ),
            (3, Some("hmac"), KeyRejection::SymmetricKey),
            (4, Some("rsa-2048-b"), KeyRejection::EncryptionKey),
            (
                6,
                Some("p521"),
                KeyRejection::UnsupportedCurve {
                    kty: "EC",
                    crv: "P-521".into(),
                    supported: "P-256 or P-384"
                }
            ),
            (
                7,
                Some("no-kty"),
                KeyRejection::MissingMember { member: "kty" }
            ),
        ]
    );
}

#[test]
fn identical_duplicates_collapse() {
    let set = set_of(&[
        jwk("rsa-2048"),
        jwk("ec-p256"),
        with(jwk("rsa-2048"), "x5t", json!("ignored")),
    ]);
    assert_eq!(set.len(), 2);
    assert!(set.skipped().is_empty());
    assert!(set.resolve("rsa-2048", Algorithm::RS256).is_ok());
}

/// The kinds of what `set` resolves for `kid` under each algorithm (`Err` as the rejection).
fn resolved(set: &JwkSet, kid: &str, alg: Algorithm) -> Result<KeyKind, KeyRejection> {
    match set.resolve(kid, alg) {
        Ok(key) => Ok(key.kind()),
        Err(KeyLookupError::Unusable { reason }) => Err(reason),
        Err(other) => panic!("{kid} {alg}: {other}"),
    }
}

/// Asserts what `set` resolves for `kid` under each algorithm of `cases`.
#[track_caller]
fn check_resolves(set: &JwkSet, kid: &str, cases: &[(Algorithm, Result<KeyKind, KeyRejection>)]) {
    for (alg, expected) in cases {
        assert_eq!(&resolved(set, kid, *alg), expected, "{kid} {alg}");
    }
}

const P256: KeyKind = KeyKind::Ec {
    curve: EcCurve::P256,
};

#[test]
fn distinct_keys_sharing_a_kid_are_decided_per_algorithm() {
    let impostor = with(jwk("rsa-2048-b"), "kid", json!("rsa-2048"));
    let ec_same_kid = with(jwk("ec-p256"), "kid", json!("rsa-2048"));
    let set = set_of(&[jwk("rsa-2048"), jwk("rsa-4096"), impostor, ec_same_kid]);
    // Every key is loaded; the kid names three distinct keys.
    assert_eq!(set.len(), 4);
    assert!(set.skipped().is_empty());
    assert_eq!(set.keys_with_kid("rsa-2048").len(), 3);
    assert!(
        set.get("rsa-2048").is_none(),
        "get names a key only when alone"
    );
    check_resolves(
        &set,
        "rsa-2048",
        &[
            // Two RSA keys could both verify RS256: ambiguous, nothing verifies.
            (
                Algorithm::RS256,
                Err(KeyRejection::AmbiguousKid { count: 2 }),
            ),
            // Only the EC key can verify ES256.
            (Algorithm::ES256, Ok(P256)),
            // None of the three can verify PS256 (the RSA keys declare RS256).
            (
                Algorithm::PS256,
                Err(KeyRejection::NoCompatibleKey { count: 3 }),
            ),
        ],
    );
    check_resolves(
        &set,
        "rsa-4096",
        &[(Algorithm::RS256, Ok(KeyKind::Rsa { bits: 4096 }))],
    );
}

#[test]
fn an_rsa_and_an_ec_key_sharing_a_kid_each_serve_their_algorithm() {
    // RFC 7517 §4.5: keys of different kty under one kid are legitimate alternatives.
    let shared = |name: &str| with(jwk(name), "kid", json!("shared"));
    for members in [
        [shared("rsa-2048"), shared("ec-p256")],
        [shared("ec-p256"), shared("rsa-2048")],
    ] {
        let set = set_of(&members);
        assert_eq!(set.len(), 2);
        assert!(set.skipped().is_empty());
        check_resolves(
            &set,
            "shared",
            &[
                (Algorithm::RS256, Ok(KeyKind::Rsa { bits: 2048 })),
                (Algorithm::ES256, Ok(P256)),
                (
                    Algorithm::ES384,
                    Err(KeyRejection::NoCompatibleKey { count: 2 }),
                ),
            ],
        );
    }
    // Without declared algorithms too: the key type alone decides.
    let set = set_of(&[
        without(shared("rsa-2048"), "alg"),
        without(shared("ec-p384"), "alg"),
        without(shared("ed25519"), "alg"),
    ]);
    check_resolves(
        &set,
        "shared",
        &[
            (Algorithm::PS512, Ok(KeyKind::Rsa { bits: 2048 })),
            (
                Algorithm::ES384,
                Ok(KeyKind::Ec {
                    curve: EcCurve::P384,
                }),
            ),
            (Algorithm::EdDSA, Ok(KeyKind::Ed25519)),
        ],
    );
}

#[test]
fn two_rsa_keys_under_one_kid_serve_no_rsa_algorithm() {
    let b = with(without(jwk("rsa-2048-b"), "alg"), "kid", json!("rsa-2048"));
    let set = set_of(&[without(jwk("rsa-2048"), "alg"), b]);
    for alg in Algorithm::ALL {
        let expected = if (KeyKind::Rsa { bits: 2048 }).supports(alg) {
            KeyRejection::AmbiguousKid { count: 2 }
        } else {
            KeyRejection::NoCompatibleKey { count: 2 }
        };
        assert_eq!(resolved(&set, "rsa-2048", alg), Err(expected), "{alg}");
    }
    // An EC key joining them changes nothing for RSA algorithms.
    let b = with(without(jwk("rsa-2048-b"), "alg"), "kid", json!("rsa-2048"));
    let ec = with(jwk("ec-p256"), "kid", json!("rsa-2048"));
    let set = set_of(&[without(jwk("rsa-2048"), "alg"), b, ec]);
    assert_eq!(
        resolved(&set, "rsa-2048", Algorithm::RS256),
        Err(KeyRejection::AmbiguousKid { count: 2 })
    );
    assert!(set.resolve("rsa-2048", Algorithm::ES256).is_ok());
}

#[test]
fn same_material_with_different_declared_algs_is_decided_per_algorithm() {
    // One RSA key published twice, declared for RS256 and for PS256: each serves its own.
    let ps = with(jwk("rsa-2048"), "alg", json!("PS256"));
    let set = set_of(&[jwk("rsa-2048"), ps.clone()]);
    assert_eq!(set.len(), 2);
    let declared = |alg| set.resolve("rsa-2048", alg).unwrap().declared_alg();
    assert_eq!(declared(Algorithm::RS256), Some(Algorithm::RS256));
    assert_eq!(declared(Algorithm::PS256), Some(Algorithm::PS256));
    // A third copy declaring nothing could verify both: both become ambiguous.
    let set = set_of(&[jwk("rsa-2048"), ps, without(jwk("rsa-2048"), "alg")]);
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        assert_eq!(
            resolved(&set, "rsa-2048", alg),
            Err(KeyRejection::AmbiguousKid { count: 2 })
        );
    }
    assert_eq!(
        set.resolve("rsa-2048", Algorithm::RS512)
            .unwrap()
            .declared_alg(),
        None
    );
}

#[test]
fn an_unusable_duplicate_does_not_make_a_kid_ambiguous() {
    let enc = with(jwk("rsa-2048-b"), "kid", json!("rsa-2048"));
    let enc = with(enc, "use", json!("enc"));
    let set = set_of(&[enc, jwk("rsa-2048")]);
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped()[0].reason, KeyRejection::EncryptionKey);
    assert!(set.resolve("rsa-2048", Algorithm::RS256).is_ok());
}

#[test]
fn keys_without_kid_are_kept_but_not_addressable() {
    let set = set_of(&[
        without(jwk("ec-p256"), "kid"),
        without(jwk("ec-p256"), "kid"),
    ]);
    assert_eq!(set.len(), 1);
    assert_eq!(set.keys().next().unwrap().kid(), None);
    assert_eq!(
        set.resolve("", Algorithm::ES256).unwrap_err(),
        KeyLookupError::UnknownKid
    );
}

#[test]
fn static_resolver() {
    let set = set_of(&[
        jwk("rsa-2048"),
        jwk("ec-p256"),
        jwk("rsa-1024"),
        without(jwk("ec-p384"), "alg"),
    ]);
    let check =
        |kid: &str, alg: Algorithm| set.resolve(kid, alg).map(|k| k.kid().unwrap().to_owned());

    assert_eq!(
        check("rsa-2048", Algorithm::RS256),
        Ok("rsa-2048".to_owned())
    );
    assert_eq!(check("ec-p256", Algorithm::ES256), Ok("ec-p256".to_owned()));
    assert_eq!(check("ec-p384", Algorithm::ES384), Ok("ec-p384".to_owned()));
    assert_eq!(
        check("nope", Algorithm::RS256),
        Err(KeyLookupError::UnknownKid)
    );
    assert_eq!(
        check("../../etc/passwd", Algorithm::RS256),
        Err(KeyLookupError::UnknownKid)
    );
    assert_eq!(
        check("rsa-2048", Algorithm::ES256),
        Err(KeyLookupError::Unusable {
            reason: KeyRejection::AlgorithmMismatch {
                declared: Algorithm::RS256,
                requested: Algorithm::ES256
            }
        })
    );
    assert_eq!(
        check("ec-p384", Algorithm::ES256),
        Err(KeyLookupError::Unusable {
            reason: KeyRejection::KindMismatch {
                kind: KeyKind::Ec {
                    curve: EcCurve::P384
                },
                alg: Algorithm::ES256
            }
        })
    );
    assert_eq!(
        check("rsa-1024", Algorithm::RS256),
        Err(KeyLookupError::Unusable {
            reason: KeyRejection::RsaKeyTooSmall { bits: 1024 }
        })
    );

    // Through the blanket impls, as the facade will hold it.
    let shared: Arc<dyn KeyResolver> = Arc::new(set.clone());
    assert!(shared.resolve("ec-p256", Algorithm::ES256).is_ok());
    let by_ref: &dyn KeyResolver = &set;
    assert!(by_ref.resolve("ec-p256", Algorithm::ES256).is_ok());
}

#[test]
fn resolved_key_is_the_shared_arc_not_a_copy() {
    let set = JwkSet::from_json(keys::jwks_json().as_bytes()).unwrap();
    let resolved = set.resolve("rsa-2048", Algorithm::RS256).unwrap();
    assert!(Arc::ptr_eq(&resolved, set.get("rsa-2048").unwrap()));
}
