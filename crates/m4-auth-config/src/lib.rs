#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod algorithm;
mod builder;
mod config;
mod error;
mod secret;
#[cfg(test)]
mod snapshot_tests;
mod url;
pub mod vars;
mod warning;

pub use algorithm::{Algorithm, AudienceParameter, RateLimitBackend};
pub use builder::AuthConfigBuilder;
pub use config::{AuthConfig, Loaded};
pub use error::{ConfigError, Problem, UrlError};
pub use secret::Secret;
pub use url::{EndpointUrl, RedisUrl};
pub use warning::Warning;
