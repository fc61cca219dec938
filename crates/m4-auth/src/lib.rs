#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod authenticator;
mod backend;
mod cache;
mod clock;
mod error;
mod extract;
mod principal;
mod resource;
#[cfg(test)]
mod snapshot_tests;
mod stats;
mod verified;

pub use m4_auth_config as config;
pub use m4_jwks as jwks;
pub use m4_jwt_verify as jwt;
pub use m4_ratelimit as ratelimit;

pub use authenticator::{Authenticator, AuthenticatorBuilder};
pub use backend::RateLimitBackendInfo;
pub use clock::{Clock, ManualClock};
pub use error::{AuthError, CODES, CONFIGURATION_ERROR};
pub use m4_auth_config::AuthConfig;
pub use principal::{ANONYMOUS_SUB, Principal};
pub use resource::{ProtectedResource, WELL_KNOWN_SUFFIX};
pub use stats::{Stats, TokenCacheStats};
pub use verified::Verified;
