//! Shared test helpers and fixtures for the m4-auth workspace.
//!
//! The committed test keys live in `tests/fixtures/keys/` (regenerate with `cargo xtask keys`;
//! see the README in that folder).
//! These helpers only read files; they never generate keys at run time.
//!
//! ```
//! let pem = m4_auth_tests::keys::private_pem("rsa-2048");
//! assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
//! let jwk = m4_auth_tests::keys::public_jwk("rsa-2048");
//! assert!(jwk.contains("\"kid\": \"rsa-2048\""));
//! ```
#![forbid(unsafe_code)]

pub mod keys {
    //! Paths to and contents of the committed key fixtures.
    //!
    //! Test helpers fail loudly: a missing fixture panics with the path and the command that
    //! regenerates it, which is the right behaviour inside a test.
    #![allow(clippy::panic)]

    use std::path::{Path, PathBuf};

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

    /// The fixture directory, `tests/fixtures/keys/` in the workspace.
    ///
    /// ```
    /// assert!(m4_auth_tests::keys::dir().join("jwks.json").is_file());
    /// ```
    pub fn dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join("keys")
    }

    fn read(file: &str) -> String {
        let path = dir().join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => panic!(
                "cannot read key fixture {}: {e} (regenerate with `cargo xtask keys`)",
                path.display()
            ),
        }
    }

    /// The PKCS#8 PEM private key `NAME.pem`, for `jsonwebtoken::EncodingKey::from_*_pem`.
    ///
    /// ```
    /// let pem = m4_auth_tests::keys::private_pem("ec-p256");
    /// assert!(pem.ends_with("-----END PRIVATE KEY-----\n"));
    /// ```
    pub fn private_pem(name: &str) -> String {
        read(&format!("{name}.pem"))
    }

    /// The public JWK `NAME.pub.jwk.json` as JSON text (one object, `kid` = `name`).
    ///
    /// ```
    /// assert!(m4_auth_tests::keys::public_jwk("ed25519").contains("\"crv\": \"Ed25519\""));
    /// ```
    pub fn public_jwk(name: &str) -> String {
        read(&format!("{name}.pub.jwk.json"))
    }

    /// `jwks.json`: the public JWKs of rsa-2048, rsa-4096 and ec-p256, in that order.
    ///
    /// ```
    /// assert!(m4_auth_tests::keys::jwks_json().starts_with("{"));
    /// ```
    pub fn jwks_json() -> String {
        read("jwks.json")
    }
}
