#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod cache;
mod clock;
mod discovery;
mod endpoint;
mod error;
mod http;
mod options;
mod transport;

pub use cache::{JwksCache, Stats};
pub use clock::{Clock, ManualClock, SystemClock};
pub use endpoint::{UrlProblem, UrlRole};
pub use error::{Error, shown};
pub use http::{HttpClient, HttpResponse, ProviderMetadata};
pub use options::{
    DEFAULT_HTTP_TIMEOUT, DEFAULT_MAX_STALE, DEFAULT_REFRESH_COOLDOWN, DEFAULT_TTL, JwksOptions,
};
pub use transport::{MAX_BODY_BYTES, MAX_REDIRECTS};

// The key model is m4-jwt-verify's; re-exported so users of this crate name one set of types.
pub use m4_jwt_verify::{
    Algorithm, JwkSet, JwksDocumentError, KeyKind, KeyLookupError, KeyResolver, SkippedKey,
    VerifyingKey,
};
