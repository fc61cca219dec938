//! The committed key fixtures of `tests/fixtures/keys/` (test-only; regenerate with
//! `cargo xtask keys`, see the README in that folder).
//!
//! The files are compiled in, so reading one never fails at run time and a regenerated
//! fixture rebuilds every test that uses it.
//!
//! ```
//! use m4_auth_testkit::keys;
//! assert!(keys::private_pem("rsa-2048").starts_with("-----BEGIN PRIVATE KEY-----"));
//! assert_eq!(keys::jwk("ec-p256")["kid"], "ec-p256");
//! ```

use serde_json::{Value, json};

/// Every fixture name (also the `kid` of its JWK), in generation order.
pub const ALL: &[&str] = &[
    "rsa-2048",
    "rsa-4096",
    "ec-p256",
    "rsa-2048-b",
    "rsa-1024",
    "ec-p384",
    "ed25519",
];

/// The kids listed in `jwks.json`, in order.
pub const JWKS_MEMBERS: &[&str] = &["rsa-2048", "rsa-4096", "ec-p256"];

macro_rules! fixture {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/keys/",
            $file
        ))
    };
}

/// The fixture directory, `tests/fixtures/keys/` in the workspace.
///
/// ```
/// assert!(m4_auth_testkit::keys::dir().join("jwks.json").is_file());
/// ```
pub fn dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/keys")
}

#[track_caller]
fn unknown(name: &str) -> ! {
    panic!("no key fixture {name:?}: the fixtures are {ALL:?} (tests/fixtures/keys/README.md)")
}

/// The PKCS#8 PEM private key `NAME.pem`, for `jsonwebtoken::EncodingKey::from_*_pem`.
///
/// ```
/// let pem = m4_auth_testkit::keys::private_pem("ec-p256");
/// assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
/// ```
#[track_caller]
pub fn private_pem(name: &str) -> &'static str {
    match name {
        "rsa-2048" => fixture!("rsa-2048.pem"),
        "rsa-4096" => fixture!("rsa-4096.pem"),
        "ec-p256" => fixture!("ec-p256.pem"),
        "rsa-2048-b" => fixture!("rsa-2048-b.pem"),
        "rsa-1024" => fixture!("rsa-1024.pem"),
        "ec-p384" => fixture!("ec-p384.pem"),
        "ed25519" => fixture!("ed25519.pem"),
        other => unknown(other),
    }
}

/// The public JWK `NAME.pub.jwk.json` as the committed text (one object, `kid` = `name`).
///
/// ```
/// assert!(m4_auth_testkit::keys::public_jwk("ed25519").contains("\"crv\": \"Ed25519\""));
/// ```
#[track_caller]
pub fn public_jwk(name: &str) -> &'static str {
    match name {
        "rsa-2048" => fixture!("rsa-2048.pub.jwk.json"),
        "rsa-4096" => fixture!("rsa-4096.pub.jwk.json"),
        "ec-p256" => fixture!("ec-p256.pub.jwk.json"),
        "rsa-2048-b" => fixture!("rsa-2048-b.pub.jwk.json"),
        "rsa-1024" => fixture!("rsa-1024.pub.jwk.json"),
        "ec-p384" => fixture!("ec-p384.pub.jwk.json"),
        "ed25519" => fixture!("ed25519.pub.jwk.json"),
        other => unknown(other),
    }
}

/// `jwks.json`: the public JWKs of rsa-2048, rsa-4096 and ec-p256, in that order.
///
/// ```
/// assert!(m4_auth_testkit::keys::jwks_json().starts_with('{'));
/// ```
pub fn jwks_json() -> &'static str {
    fixture!("jwks.json")
}

/// The public JWK of fixture `name`, parsed.
///
/// ```
/// assert_eq!(m4_auth_testkit::keys::jwk("rsa-4096")["kty"], "RSA");
/// ```
#[track_caller]
pub fn jwk(name: &str) -> Value {
    serde_json::from_str(public_jwk(name))
        .unwrap_or_else(|e| panic!("fixture {name}.pub.jwk.json is not JSON: {e}"))
}

/// [`jwk`] with members replaced; a `null` value removes the member.
///
/// ```
/// use serde_json::{Value, json};
/// let enc = m4_auth_testkit::keys::jwk_with("rsa-2048", &[("use", json!("enc")), ("alg", Value::Null)]);
/// assert_eq!(enc["use"], "enc");
/// assert!(enc.get("alg").is_none());
/// ```
#[track_caller]
pub fn jwk_with(name: &str, changes: &[(&str, Value)]) -> Value {
    let mut jwk = jwk(name);
    if let Some(members) = jwk.as_object_mut() {
        for (member, value) in changes {
            if value.is_null() {
                members.remove(*member);
            } else {
                members.insert((*member).to_owned(), value.clone());
            }
        }
    }
    jwk
}

/// `{"keys":[...]}` of these JWKs, compact.
///
/// ```
/// let set = m4_auth_testkit::keys::jwks_of(&[serde_json::json!({"kty": "oct"})]);
/// assert_eq!(set, r#"{"keys":[{"kty":"oct"}]}"#);
/// ```
pub fn jwks_of(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// `{"keys":[...]}` of the public JWKs of these fixtures, in this order.
///
/// ```
/// let set: serde_json::Value = serde_json::from_str(&m4_auth_testkit::keys::jwks(&["ec-p256", "rsa-2048"])).unwrap();
/// assert_eq!(set["keys"][1]["kid"], "rsa-2048");
/// ```
#[track_caller]
pub fn jwks(names: &[&str]) -> String {
    jwks_of(&names.iter().map(|name| jwk(name)).collect::<Vec<_>>())
}

/// The PKCS#8 DER of fixture `name`'s private key (the base64 body of [`private_pem`]), for
/// aws-lc-rs's `*KeyPair::from_pkcs8`.
///
/// ```
/// let der = m4_auth_testkit::keys::private_der("rsa-2048");
/// assert_eq!(der.first(), Some(&0x30)); // a DER SEQUENCE
/// ```
#[track_caller]
pub fn private_der(name: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = private_pem(name)
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap_or_else(|e| panic!("fixture {name}.pem is not base64 PEM: {e}"))
}
