//! Tokens as an attacker or a provider writes them: any header (`alg` `none`, `crit`, `jku`,
//! duplicated members...), any payload bytes, and a real signature from a committed fixture
//! key with any algorithm, an HMAC over a chosen secret, or literal signature bytes.
//!
//! Signatures come from jsonwebtoken's `crypto::sign` over the exact `header.payload` text,
//! except for the RSA-1024 fixture, which aws-lc-rs refuses to sign with: that one is signed
//! here by hand (RSASSA-PKCS1-v1_5, `s = EM^d mod n`), so the rejection a test sees is about
//! the key, never about a broken signature.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use m4_auth_tests::keys;
use serde_json::{Map, Value, json};

use super::{AUDIENCE, SCOPE};

/// Unpadded base64url.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url.
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).expect("unpadded base64url")
}

/// Seconds since the Unix epoch, now (the binary uses the system clock too).
pub fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// Good claims for `sub` from `issuer`: our audience, the default scope, ten minutes to live.
pub fn claims(issuer: &str, sub: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": sub,
        "scope": SCOPE,
        "iat": now,
        "exp": now + 600,
    })
}

/// `base` with the members of `changes` set, a `null` change removing the member.
pub fn merged(base: &Value, changes: Value) -> Value {
    let mut out: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    let Value::Object(changes) = changes else {
        panic!("changes must be an object");
    };
    for (name, value) in changes {
        if value.is_null() {
            out.remove(&name);
        } else {
            out.insert(name, value);
        }
    }
    Value::Object(out)
}

/// The algorithm a fixture key signs with by default (its JWK `alg`).
pub fn default_alg(key: &str) -> Algorithm {
    match key {
        k if k.starts_with("rsa-") => Algorithm::RS256,
        "ec-p256" => Algorithm::ES256,
        "ec-p384" => Algorithm::ES384,
        "ed25519" => Algorithm::EdDSA,
        other => panic!("no fixture key {other}"),
    }
}

/// The JOSE name of `alg` (jsonwebtoken serialises it as such).
pub fn alg_name(alg: Algorithm) -> String {
    match serde_json::to_value(alg) {
        Ok(Value::String(name)) => name,
        other => panic!("{alg:?} serialised as {other:?}"),
    }
}

/// How the third segment is made.
pub enum Sig<'a> {
    /// A real signature by fixture `key` with `alg`, whatever the header says.
    Key(&'a str, Algorithm),
    /// HMAC-SHA256 keyed with these bytes.
    Hs256(&'a [u8]),
    /// These literal bytes.
    Bytes(Vec<u8>),
    /// This literal third segment text.
    Text(&'a str),
}

fn encoding_key(key: &str, alg: Algorithm) -> EncodingKey {
    let pem = keys::private_pem(key);
    match alg {
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem.as_bytes()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
        _ => EncodingKey::from_rsa_pem(pem.as_bytes()),
    }
    .unwrap_or_else(|e| panic!("loading fixture {key} for {alg:?}: {e}"))
}

/// The base64url signature of `input` as `how` says.
pub fn signature(input: &[u8], how: &Sig<'_>) -> String {
    match how {
        Sig::Key("rsa-1024", Algorithm::RS256) => b64(&rsa_pkcs1_sha256_by_hand(
            &keys::private_pem("rsa-1024"),
            input,
        )),
        Sig::Key(key, alg) => jsonwebtoken::crypto::sign(input, &encoding_key(key, *alg), *alg)
            .unwrap_or_else(|e| panic!("signing with {key} {alg:?}: {e}")),
        Sig::Hs256(secret) => {
            jsonwebtoken::crypto::sign(input, &EncodingKey::from_secret(secret), Algorithm::HS256)
                .unwrap()
        }
        Sig::Bytes(bytes) => b64(bytes),
        Sig::Text(text) => (*text).to_owned(),
    }
}

/// `b64(header_text).b64(payload).signature`: the header written byte for byte.
pub fn jws_text(header_text: &str, payload: &[u8], how: &Sig<'_>) -> String {
    let input = format!("{}.{}", b64(header_text.as_bytes()), b64(payload));
    let sig = signature(input.as_bytes(), how);
    format!("{input}.{sig}")
}

/// A compact JWS of this header and these claims.
pub fn jws(header: &Value, claims: &Value, how: &Sig<'_>) -> String {
    jws_text(&header.to_string(), claims.to_string().as_bytes(), how)
}

/// The header a provider writes for fixture `key`: its default alg, `typ` JWT, `kid` = name.
pub fn header(key: &str) -> Value {
    json!({ "alg": alg_name(default_alg(key)), "typ": "JWT", "kid": key })
}

/// A token signed by fixture `key` with its default algorithm, `kid` naming it.
pub fn sign(key: &str, claims: &Value) -> String {
    jws(&header(key), claims, &Sig::Key(key, default_alg(key)))
}

/// [`sign`] with header members changed (`null` removes one); still signed by `key` with its
/// default algorithm, whatever the header now claims.
pub fn sign_with_header(key: &str, changes: Value, claims: &Value) -> String {
    jws(
        &merged(&header(key), changes),
        claims,
        &Sig::Key(key, default_alg(key)),
    )
}

/// The three segments of a compact token.
pub fn segments(token: &str) -> [&str; 3] {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS");
    [parts[0], parts[1], parts[2]]
}

/// A raw ECDSA `r || s` signature (64 bytes for P-256) as an ASN.1 DER `Ecdsa-Sig-Value`.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut value = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            Vec::new()
        };
        value.extend(trimmed);
        let mut out = vec![0x02, u8::try_from(value.len()).unwrap()];
        out.extend(value);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).unwrap()];
    out.extend(body);
    out
}

/// One DER TLV: (tag, contents, what follows).
fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let first = input[1];
    let (length, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let length = input[2..2 + count]
            .iter()
            .fold(0_usize, |acc, b| (acc << 8) | usize::from(*b));
        (length, 2 + count)
    };
    (tag, &input[start..start + length], &input[start + length..])
}

/// RSASSA-PKCS1-v1_5 with SHA-256 computed from the PKCS#8 PEM's modulus and private
/// exponent, for the RSA-1024 fixture that aws-lc-rs will not sign with.
pub fn rsa_pkcs1_sha256_by_hand(pem: &str, message: &[u8]) -> Vec<u8> {
    use num_bigint::BigUint;
    // DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1).
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(base64).unwrap();
    // PrivateKeyInfo ::= SEQUENCE { version, algorithm, privateKey OCTET STRING }
    let (_, info, _) = tlv(&der);
    let (_, _, rest) = tlv(info);
    let (_, _, rest) = tlv(rest);
    let (tag, octets, _) = tlv(rest);
    assert_eq!(tag, 0x04, "privateKey is an OCTET STRING");
    // RSAPrivateKey ::= SEQUENCE { version, n, e, d, ... }
    let (_, rsa, _) = tlv(octets);
    let (_, _, rest) = tlv(rsa);
    let (_, n, rest) = tlv(rest);
    let (_, _, rest) = tlv(rest);
    let (_, d, _) = tlv(rest);
    let (n, d) = (BigUint::from_bytes_be(n), BigUint::from_bytes_be(d));
    let k = usize::try_from(n.bits().div_ceil(8)).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, message);
    let t = [&SHA256_PREFIX[..], digest.as_ref()].concat();
    // EM = 0x00 || 0x01 || PS (0xff...) || 0x00 || T
    let mut em = vec![0x00, 0x01];
    em.resize(k - t.len() - 1, 0xff);
    em.push(0x00);
    em.extend_from_slice(&t);
    let s = BigUint::from_bytes_be(&em).modpow(&d, &n).to_bytes_be();
    let mut out = vec![0; k - s.len()];
    out.extend(s);
    out
}

/// `token`'s header and payload with `other`'s signature: a forgery that no key verifies.
pub fn with_signature_of(token: &str, other: &str) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", segments(other)[2])
}
