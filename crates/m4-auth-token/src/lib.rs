#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod error;
mod login;
mod options;
#[cfg(test)]
mod snapshot_tests;
mod source;
mod store;

pub use client::{
    ClientAuthMethod, DeviceAuthorization, Endpoints, TokenClient, TokenResponse,
    testing_device_authorization,
};
pub use error::{EndpointKind, Error, FileProblem};
pub use login::{LogoutOutcome, SLOW_DOWN_STEP, finish_login, logout};
pub use options::{MAX_HTTP_TIMEOUT, MIN_HTTP_TIMEOUT, OFFLINE_ACCESS, TokenOptions};
pub use source::{CredentialKind, TokenSource, renew_after};
pub use store::{
    CredentialsFile, LockPurpose, LoginLock, MAX_FILE_BYTES, StoredLogin, default_credentials_path,
};

// Time is injected the way m4-jwks does it: one Clock trait in the tree.
pub use m4_jwks::{Clock, ManualClock, SystemClock};
