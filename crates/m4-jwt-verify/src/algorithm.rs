//! The JWS algorithms this crate can verify, as a closed enum.
//!
//! `none` and the HMAC family (`HS256`, ...) have no variant: a symmetric or unsecured token
//! cannot even be expressed, so no configuration mistake can enable one.

use std::fmt;
use std::str::FromStr;

use crate::error::ParseAlgorithmError;

/// A JWS signature algorithm (RFC 7518 names), asymmetric only.
///
/// ```
/// use m4_jwt_verify::Algorithm;
///
/// let alg: Algorithm = "ES256".parse().unwrap();
/// assert_eq!(alg, Algorithm::ES256);
/// assert_eq!(alg.to_string(), "ES256");
/// assert!("HS256".parse::<Algorithm>().is_err());
/// assert!("none".parse::<Algorithm>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384 and MGF1 with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512 and MGF1 with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256, signature as raw `r || s` (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384, signature as raw `r || s` (96 bytes).
    ES384,
    /// EdDSA; this crate supports the Ed25519 curve only.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in declaration order.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::EdDSA,
    ];

    /// The JOSE name, as it appears in a JWS header `alg` or a JWK `alg`.
    ///
    /// ```
    /// assert_eq!(m4_jwt_verify::Algorithm::PS384.as_str(), "PS384");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::EdDSA => "EdDSA",
        }
    }

    /// Position in [`Algorithm::ALL`]; used to index per-algorithm tables.
    pub(crate) const fn index(self) -> usize {
        self as usize
    }

    /// Parses an exact JOSE name; `None` for anything else (case matters, no trimming).
    pub(crate) fn from_jose(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    /// Exact, case-sensitive JOSE names only; `none` and `HS*` are refused with a
    /// message saying why.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::from_jose(s).ok_or_else(|| ParseAlgorithmError::new(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_matches_all() {
        for (i, alg) in Algorithm::ALL.into_iter().enumerate() {
            assert_eq!(alg.index(), i);
            assert_eq!(alg.as_str().parse::<Algorithm>(), Ok(alg));
            assert_eq!(alg.to_string(), alg.as_str());
        }
    }

    #[test]
    fn refuses_symmetric_unsecured_and_near_misses() {
        for name in [
            "none", "None", "HS256", "HS384", "HS512", "rs256", "RS256 ", " ES256", "ES512", "",
        ] {
            assert!(
                name.parse::<Algorithm>().is_err(),
                "{name:?} must not parse"
            );
        }
    }
}
