#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod config;
mod error;
mod inspect;
mod layer;
mod metadata;
mod reply;
mod scan;
#[cfg(test)]
mod snapshot_tests;

pub use config::{DEFAULT_MAX_BODY_BYTES, McpAuth, McpAuthBuilder};
pub use error::{Error, Rejection};
pub use layer::{AuthLayer, AuthService, GateBody, ResponseFuture};
pub use metadata::MetadataService;
