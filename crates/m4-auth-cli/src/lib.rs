#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod claude_config;
pub mod dev_issuer;
mod error;

pub use error::Error;
