#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod algorithm;
mod error;
mod jwks;
mod key;
mod resolver;

pub use algorithm::Algorithm;
pub use error::{
    Error, JwksDocumentError, KeyLookupError, KeyRejection, OptionsError, ParseAlgorithmError,
    Segment,
};
pub use jwks::{JwkSet, SkippedKey};
pub use key::{EcCurve, KeyKind, MAX_RSA_BITS, MIN_RSA_BITS, VerifyingKey};
pub use resolver::KeyResolver;
