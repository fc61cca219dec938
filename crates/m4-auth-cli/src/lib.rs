#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod claude_config;
mod error;

pub use error::Error;

/// The dev issuer, which has its own crate now; this path keeps working for existing code.
pub use m4_dev_issuer as dev_issuer;
