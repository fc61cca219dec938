#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod algorithm;
mod clock;
mod error;
mod json;
mod jwks;
mod key;
mod resolver;
#[cfg(test)]
mod snapshot_tests;
mod verifier;
#[cfg(test)]
mod wycheproof_tests;

pub use algorithm::Algorithm;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{
    Error, JwksDocumentError, KeyLookupError, KeyRejection, OptionsError, ParseAlgorithmError,
    Segment,
};
pub use jwks::{JwkSet, SkippedKey};
pub use key::{EcCurve, KeyKind, MAX_RSA_BITS, MIN_RSA_BITS, VerifyingKey};
pub use resolver::KeyResolver;
pub use verifier::{
    DEFAULT_ALGORITHMS, DEFAULT_LEEWAY_SECS, DEFAULT_MAX_TOKEN_SIZE, MAX_LEEWAY_SECS,
    MAX_MAX_TOKEN_SIZE, MIN_MAX_TOKEN_SIZE, VerifiedToken, Verifier, VerifierOptions,
    check_subject, check_unbound,
};
