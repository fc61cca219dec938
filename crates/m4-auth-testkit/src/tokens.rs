//! Tokens as a provider or an attacker writes them: any header (`alg` `none`, `crit`, `jku`,
//! duplicated members...), any payload bytes, and a real signature from a committed fixture
//! key with any algorithm, an HMAC over a chosen secret, or literal signature bytes.
//!
//! Signatures come from jsonwebtoken's `crypto::sign` (an implementation independent of the
//! verifier under test) over the exact `header.payload` text, except for the RSA-1024 fixture,
//! which aws-lc-rs refuses to sign with: that one is signed here by hand (RSASSA-PKCS1-v1_5,
//! `s = EM^d mod n`), so the rejection a test sees is about the key, never about a broken
//! signature.
//!
//! ```
//! use m4_auth_testkit::tokens::{self, Algorithm, Sig};
//! use serde_json::json;
//!
//! let claims = json!({"sub": "alice", "exp": tokens::now() + 600});
//! let token = tokens::sign("ec-p256", &claims);
//! let [header, payload, _] = tokens::segments(&token);
//! let header: serde_json::Value = serde_json::from_slice(&tokens::unb64(header)).unwrap();
//! assert_eq!(header, json!({"alg": "ES256", "typ": "JWT", "kid": "ec-p256"}));
//! assert_eq!(tokens::unb64(payload), claims.to_string().as_bytes());
//!
//! // Header and signing key chosen independently: an RS256 header signed with HS256.
//! let forged = tokens::jws(&tokens::header("rsa-2048"), &claims, &Sig::Hmac(Algorithm::HS256, b"k"));
//! assert_eq!(forged.split('.').count(), 3);
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, EncodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value, json};

pub use jsonwebtoken::Algorithm;

use crate::keys;

/// Unpadded base64url.
///
/// ```
/// assert_eq!(m4_auth_testkit::tokens::b64(b"\xfb\xff"), "-_8");
/// ```
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url; fails the test on anything else.
///
/// ```
/// assert_eq!(m4_auth_testkit::tokens::unb64("-_8"), b"\xfb\xff");
/// ```
#[track_caller]
pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_else(|e| panic!("not unpadded base64url ({e}): {text}"))
}

/// Seconds since the Unix epoch, now (for tokens checked by a process on the system clock).
///
/// ```
/// assert!(m4_auth_testkit::tokens::now() > 1_700_000_000);
/// ```
pub fn now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the system clock is after 1970")
        .as_secs();
    i64::try_from(seconds).expect("seconds fit in i64")
}

/// `base` with the members of `changes` set, a `null` change removing the member.
///
/// ```
/// use serde_json::json;
/// let out = m4_auth_testkit::tokens::merged(&json!({"a": 1, "b": 2}), json!({"a": null, "c": 3}));
/// assert_eq!(out, json!({"b": 2, "c": 3}));
/// ```
#[track_caller]
pub fn merged(base: &Value, changes: Value) -> Value {
    let mut out: Map<String, Value> = base.as_object().cloned().unwrap_or_default();
    let Value::Object(changes) = changes else {
        panic!("changes must be a JSON object, got {changes}");
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

/// The algorithm a fixture key signs with by default (the `alg` of its JWK).
///
/// ```
/// use m4_auth_testkit::tokens::{Algorithm, default_alg};
/// assert_eq!(default_alg("rsa-2048-b"), Algorithm::RS256);
/// assert_eq!(default_alg("ed25519"), Algorithm::EdDSA);
/// ```
#[track_caller]
pub fn default_alg(key: &str) -> Algorithm {
    match key {
        "rsa-2048" | "rsa-4096" | "rsa-2048-b" | "rsa-1024" => Algorithm::RS256,
        "ec-p256" => Algorithm::ES256,
        "ec-p384" => Algorithm::ES384,
        "ed25519" => Algorithm::EdDSA,
        other => panic!("no key fixture {other:?}: the fixtures are {:?}", keys::ALL),
    }
}

/// The JOSE name of `alg` (`"RS256"`, `"EdDSA"`, ...).
///
/// ```
/// use m4_auth_testkit::tokens::{Algorithm, alg_name};
/// assert_eq!(alg_name(Algorithm::PS256), "PS256");
/// ```
pub fn alg_name(alg: Algorithm) -> String {
    match serde_json::to_value(alg) {
        Ok(Value::String(name)) => name,
        other => panic!("{alg:?} serialised as {other:?}"),
    }
}

/// The private key of fixture `key` for signing with `alg`; for the HMAC algorithms, the
/// key's name itself is the secret.
///
/// ```
/// use m4_auth_testkit::tokens::{Algorithm, encoding_key};
/// let _ = encoding_key("ec-p384", Algorithm::ES384);
/// let _ = encoding_key("any secret text", Algorithm::HS256);
/// ```
#[track_caller]
pub fn encoding_key(key: &str, alg: Algorithm) -> EncodingKey {
    // An HMAC "key" is any text (not necessarily a fixture name): read no PEM for it.
    let pem = || keys::private_pem(key).as_bytes();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            return EncodingKey::from_secret(key.as_bytes());
        }
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(pem()),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(pem()),
        _ => EncodingKey::from_rsa_pem(pem()),
    }
    .unwrap_or_else(|e| panic!("loading fixture {key} for {alg:?}: {e}"))
}

/// How the third segment of a token is made.
#[derive(Debug, Clone)]
pub enum Sig<'a> {
    /// A real signature by fixture `key` with this algorithm, whatever the header says
    /// (an HMAC algorithm uses the key's name as the secret, as [`encoding_key`] does).
    Key(&'a str, Algorithm),
    /// An HMAC with this algorithm keyed with these bytes.
    Hmac(Algorithm, &'a [u8]),
    /// These literal bytes (base64url-encoded).
    Bytes(Vec<u8>),
    /// This literal third-segment text.
    Text(&'a str),
}

/// The base64url third segment over `signing_input` as `how` says.
///
/// ```
/// use m4_auth_testkit::tokens::{Sig, signature};
/// assert_eq!(signature(b"h.p", &Sig::Bytes(vec![0xff])), "_w");
/// ```
#[track_caller]
pub fn signature(signing_input: &[u8], how: &Sig<'_>) -> String {
    match how {
        Sig::Key("rsa-1024", Algorithm::RS256) => b64(rsa_pkcs1_sha256_by_hand(
            keys::private_pem("rsa-1024"),
            signing_input,
        )),
        Sig::Key(key, alg) => {
            jsonwebtoken::crypto::sign(signing_input, &encoding_key(key, *alg), *alg)
                .unwrap_or_else(|e| panic!("signing with {key} {alg:?}: {e}"))
        }
        Sig::Hmac(alg, secret) => {
            jsonwebtoken::crypto::sign(signing_input, &EncodingKey::from_secret(secret), *alg)
                .unwrap_or_else(|e| panic!("signing with {alg:?}: {e}"))
        }
        Sig::Bytes(bytes) => b64(bytes),
        Sig::Text(text) => (*text).to_owned(),
    }
}

/// `b64(header_text).b64(payload).signature`: the header and payload written byte for byte.
///
/// ```
/// use m4_auth_testkit::tokens::{Sig, jws_text};
/// assert_eq!(jws_text("{}", b"{}", &Sig::Text("")), "e30.e30.");
/// ```
pub fn jws_text(header_text: &str, payload: &[u8], how: &Sig<'_>) -> String {
    let input = format!("{}.{}", b64(header_text), b64(payload));
    let sig = signature(input.as_bytes(), how);
    format!("{input}.{sig}")
}

/// A compact JWS of this header and these claims (each serialised compactly).
pub fn jws(header: &Value, claims: &Value, how: &Sig<'_>) -> String {
    jws_text(&header.to_string(), claims.to_string().as_bytes(), how)
}

/// The header a provider writes for fixture `key`: its default alg, `typ` JWT, `kid` = name.
///
/// ```
/// let header = m4_auth_testkit::tokens::header("ec-p256");
/// assert_eq!(header, serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": "ec-p256"}));
/// ```
pub fn header(key: &str) -> Value {
    json!({ "alg": alg_name(default_alg(key)), "typ": "JWT", "kid": key })
}

/// A token signed by fixture `key` with its default algorithm, `kid` naming it.
pub fn sign(key: &str, claims: &Value) -> String {
    jws(&header(key), claims, &Sig::Key(key, default_alg(key)))
}

/// [`sign`] with header members changed (`null` removes one); still signed by `key` with its
/// default algorithm, whatever the header now claims.
///
/// ```
/// use serde_json::json;
/// let token = m4_auth_testkit::tokens::sign_with_header("rsa-2048", json!({"kid": "other"}), &json!({}));
/// let [header, ..] = m4_auth_testkit::tokens::segments(&token);
/// assert!(String::from_utf8(m4_auth_testkit::tokens::unb64(header)).unwrap().contains("\"kid\":\"other\""));
/// ```
pub fn sign_with_header(key: &str, changes: Value, claims: &Value) -> String {
    jws(
        &merged(&header(key), changes),
        claims,
        &Sig::Key(key, default_alg(key)),
    )
}

/// The three segments of a compact token; fails the test on any other count.
#[track_caller]
pub fn segments(token: &str) -> [&str; 3] {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => [h, p, s],
        _ => panic!("not a compact JWS of three segments: {token}"),
    }
}

/// `token`'s header and payload with `other`'s signature: a forgery that no key verifies.
pub fn with_signature_of(token: &str, other: &str) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", segments(other)[2])
}

/// What [`verified_claims`] checks besides the signature; [`Checks::default`] checks nothing
/// else (no `aud`, no `iss`, no time: a fixed clock in the past may have minted the token).
#[derive(Clone, Copy, Debug, Default)]
pub struct Checks<'a> {
    /// `aud` must name this audience.
    pub audience: Option<&'a str>,
    /// `iss` must be exactly this.
    pub issuer: Option<&'a str>,
    /// `exp` must be present and not past by the system clock (jsonwebtoken's 60 s leeway).
    pub expiry: bool,
}

/// The claims of `token` once its signature checks out, by jsonwebtoken (independent of the
/// verifier under test), against the key its `kid` names in `jwks` (a `{"keys":[...]}`
/// document as served), with the algorithm of its header, and what `checks` asks. A token
/// without a `kid` is `Err("no kid")`, a `kid` the set lacks `Err("unknown kid")`, any other
/// failure jsonwebtoken's message.
///
/// ```
/// use m4_auth_testkit::{keys, tokens::{self, Checks}};
/// use serde_json::json;
///
/// let jwks: serde_json::Value = serde_json::from_str(&keys::jwks(&["ec-p256"])).unwrap();
/// let token = tokens::sign("ec-p256", &json!({"sub": "alice", "aud": "m4-api"}));
/// let checks = Checks { audience: Some("m4-api"), ..Checks::default() };
/// assert_eq!(tokens::verified_claims(&jwks, &token, checks).unwrap()["sub"], "alice");
/// let stranger = tokens::sign("rsa-2048", &json!({"sub": "alice"}));
/// assert_eq!(tokens::verified_claims(&jwks, &stranger, Checks::default()), Err("unknown kid".to_owned()));
/// ```
///
/// # Panics
/// When `jwks` is not a JWK set jsonwebtoken reads (or the `kid`'s key is not one it can use),
/// or `token` has no readable header.
#[track_caller]
pub fn verified_claims(jwks: &Value, token: &str, checks: Checks<'_>) -> Result<Value, String> {
    let jwks: JwkSet = serde_json::from_value(jwks.clone())
        .unwrap_or_else(|e| panic!("not a JWK set jsonwebtoken reads ({e}): {jwks}"));
    let header =
        decode_header(token).unwrap_or_else(|e| panic!("no readable token header ({e}): {token}"));
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("unknown kid")?;
    let key = DecodingKey::from_jwk(jwk)
        .unwrap_or_else(|e| panic!("a JWK jsonwebtoken cannot use ({e}): {kid}"));
    let mut validation = Validation::new(header.alg);
    match checks.audience {
        Some(audience) => validation.set_audience(&[audience]),
        None => validation.validate_aud = false,
    }
    if let Some(issuer) = checks.issuer {
        validation.set_issuer(&[issuer]);
    }
    if !checks.expiry {
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
    }
    decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// A raw ECDSA `r || s` signature (64 bytes for P-256) as an ASN.1 DER `Ecdsa-Sig-Value`.
///
/// ```
/// let der = m4_auth_testkit::tokens::ecdsa_raw_to_der(&[0x80, 0x01]);
/// assert_eq!(der, [0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01]);
/// ```
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut value = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            Vec::new()
        };
        value.extend(trimmed);
        let mut out = vec![0x02, u8::try_from(value.len()).expect("short integer")];
        out.extend(value);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [integer(r), integer(s)].concat();
    let mut out = vec![0x30, u8::try_from(body.len()).expect("short sequence")];
    out.extend(body);
    out
}

/// One DER TLV of `input`: (tag, contents, what follows).
#[track_caller]
fn tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let byte = |i: usize| *input.get(i).expect("truncated DER");
    let first = byte(1);
    let (length, start) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let count = usize::from(first & 0x7f);
        let length = (0..count).fold(0_usize, |acc, i| (acc << 8) | usize::from(byte(2 + i)));
        (length, 2 + count)
    };
    let contents = input.get(start..start + length).expect("truncated DER");
    (
        byte(0),
        contents,
        input.get(start + length..).unwrap_or_default(),
    )
}

/// RSASSA-PKCS1-v1_5 with SHA-256, computed from the PKCS#8 PEM's modulus and private
/// exponent (`s = EM^d mod n`): for the RSA-1024 fixture, which aws-lc-rs will not sign with.
///
/// ```
/// use m4_auth_testkit::{keys, tokens};
/// assert_eq!(tokens::rsa_pkcs1_sha256_by_hand(keys::private_pem("rsa-1024"), b"m").len(), 128);
/// ```
#[track_caller]
pub fn rsa_pkcs1_sha256_by_hand(pem: &str, message: &[u8]) -> Vec<u8> {
    use num_bigint::BigUint;
    // DigestInfo prefix for SHA-256 (RFC 8017 section 9.2, note 1).
    const SHA256_PREFIX: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    let base64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = STANDARD.decode(base64).expect("PEM body is base64");
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
    let k = usize::try_from(n.bits().div_ceil(8)).expect("modulus size fits usize");
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
