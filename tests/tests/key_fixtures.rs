//! The committed key fixtures have the shapes promised in their README, and every private key
//! signs a token that its own public JWK (and no other key's) verifies with jsonwebtoken.
#![cfg(test)]

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use m4_auth_testkit::keys;
use m4_auth_testkit::tokens::default_alg;
use serde_json::Value;

fn encoding_key(name: &str) -> jsonwebtoken::errors::Result<EncodingKey> {
    let pem = keys::private_pem(name);
    match default_alg(name) {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem.as_bytes()),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        _ => EncodingKey::from_ed_pem(pem.as_bytes()),
    }
}

fn jwk(name: &str) -> Jwk {
    serde_json::from_str(keys::public_jwk(name)).unwrap()
}

fn sign(name: &str) -> String {
    let mut header = Header::new(default_alg(name));
    header.kid = Some(name.to_owned());
    let claims = serde_json::json!({ "sub": "fixture-test", "exp": 4_102_444_800u64 });
    jsonwebtoken::encode(&header, &claims, &encoding_key(name).unwrap()).unwrap()
}

fn verifies(token: &str, name: &str, key_name: &str) -> bool {
    let key = DecodingKey::from_jwk(&jwk(key_name)).unwrap();
    let mut validation = Validation::new(default_alg(name));
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation).is_ok()
}

#[test]
fn every_private_key_is_pkcs8_pem() {
    for name in keys::ALL {
        let pem = keys::private_pem(name);
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{name}");
        assert!(pem.ends_with("-----END PRIVATE KEY-----\n"), "{name}");
    }
}

#[test]
fn every_public_jwk_has_its_kid_use_alg_and_members() {
    for name in keys::ALL {
        let v: Value = serde_json::from_str(keys::public_jwk(name)).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj["kid"], *name);
        assert_eq!(obj["use"], "sig");
        let (alg, kty, members): (&str, &str, &[&str]) = match default_alg(name) {
            Algorithm::RS256 => ("RS256", "RSA", &["n", "e"]),
            Algorithm::ES256 => ("ES256", "EC", &["crv", "x", "y"]),
            Algorithm::ES384 => ("ES384", "EC", &["crv", "x", "y"]),
            _ => ("EdDSA", "OKP", &["crv", "x"]),
        };
        assert_eq!(obj["alg"], alg, "{name}");
        assert_eq!(obj["kty"], kty, "{name}");
        for m in members {
            let s = obj[*m]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {m} missing"));
            assert!(
                !s.contains('=') && !s.contains('+') && !s.contains('/'),
                "{name}.{m}"
            );
        }
        assert!(
            !obj.contains_key("d"),
            "{name}: public JWK must not hold the private exponent"
        );
    }
}

#[test]
fn rsa_moduli_have_the_sizes_their_names_say() {
    // Unpadded base64url: every 4 characters carry 3 bytes.
    let len = |s: &str| s.len() * 6 / 8;
    for (name, bytes) in [
        ("rsa-1024", 128),
        ("rsa-2048", 256),
        ("rsa-2048-b", 256),
        ("rsa-4096", 512),
    ] {
        let v: Value = serde_json::from_str(keys::public_jwk(name)).unwrap();
        assert_eq!(len(v["n"].as_str().unwrap()), bytes, "{name}");
    }
}

#[test]
fn jwks_lists_the_required_set_in_order() {
    let set: JwkSet = serde_json::from_str(keys::jwks_json()).unwrap();
    let kids: Vec<_> = set
        .keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect();
    assert_eq!(kids, keys::JWKS_MEMBERS);
    for (member, name) in set.keys.iter().zip(keys::JWKS_MEMBERS) {
        assert_eq!(
            member,
            &jwk(name),
            "jwks.json member {name} differs from its .pub.jwk.json"
        );
    }
}

#[test]
fn each_key_verifies_its_own_signature_and_only_that() {
    for name in keys::ALL.iter().filter(|n| **n != "rsa-1024") {
        let token = sign(name);
        assert!(
            verifies(&token, name, name),
            "{name} must verify with its own JWK"
        );
        let other = if default_alg(name) == Algorithm::RS256 && *name != "rsa-2048-b" {
            "rsa-2048-b"
        } else if default_alg(name) == Algorithm::RS256 {
            "rsa-2048"
        } else {
            continue;
        };
        assert!(
            !verifies(&token, name, other),
            "{name} token must not verify with {other}"
        );
    }
}

#[test]
fn rsa_1024_is_a_real_rsa_key_that_the_backend_refuses_to_sign_with() {
    let v: Value = serde_json::from_str(keys::public_jwk("rsa-1024")).unwrap();
    assert_eq!(v["kty"], "RSA");
    // The key parses as PEM; aws-lc-rs then refuses a 1024-bit modulus, which is why the
    // fixture exists: rejection tests need a key that is too small.
    let key = encoding_key("rsa-1024").expect("rsa-1024.pem must parse as an RSA PEM key");
    let signed = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &v, &key);
    assert!(
        signed.is_err(),
        "aws-lc-rs unexpectedly signed with a 1024-bit RSA key"
    );
}
