//! The one error type of m4-dev-issuer: starting the issuer, signing, and talking to a running one.

use std::net::SocketAddr;

use crate::SigningAlg;

/// Everything the dev issuer can fail with.
///
/// Each message says what went wrong and what to do about it; none contains a token, a client
/// secret or a private key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dev issuer was asked to listen on an address that is not loopback.
    #[error(
        "refusing to listen on {addr}: the dev issuer is test-only and binds loopback addresses only (use 127.0.0.1 or ::1)"
    )]
    NonLoopbackBind {
        /// The refused address.
        addr: SocketAddr,
    },

    /// A limit of [`DevIssuerOptions`](crate::DevIssuerOptions) is below the smallest value
    /// with which the issuer works.
    #[error(
        "DevIssuerOptions::{option} is {value}, but must be at least {minimum}: {why}; raise it (the default is {default})"
    )]
    LimitTooSmall {
        /// The option's name (`max_device_logins`, `max_refresh_tokens`).
        option: &'static str,
        /// The value given.
        value: usize,
        /// The smallest value accepted.
        minimum: usize,
        /// The option's default.
        default: usize,
        /// What would not work below the minimum.
        why: &'static str,
    },

    /// The dev issuer could not listen on its address (port in use, permissions).
    #[error("could not listen on {addr}: pick another port, or 0 for any free one")]
    Bind {
        /// The address it tried.
        addr: SocketAddr,
        /// Why the operating system refused.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The crypto library failed to generate a signing key.
    #[error("could not generate a fresh {alg} signing key")]
    KeyGeneration {
        /// The algorithm of the key.
        alg: SigningAlg,
    },

    /// The system random number generator failed.
    #[error("the system random number generator failed")]
    Random,

    /// Signing a token failed.
    #[error("could not sign the token with the {alg} key")]
    Signing {
        /// The algorithm used.
        alg: SigningAlg,
    },

    /// No current key signs this algorithm (a dev issuer bug).
    #[error("the dev issuer has no current {alg} signing key")]
    NoSigningKey {
        /// The algorithm asked for.
        alg: SigningAlg,
    },

    /// A signing algorithm the dev issuer does not have keys for.
    #[error("unsupported signing algorithm '{alg}': the dev issuer signs with RS256 or ES256")]
    UnsupportedAlgorithm {
        /// The name that was given (escaped, cut to 64 characters).
        alg: String,
    },

    /// `dev-issuer mint`/`rotate` was pointed at something other than a loopback http URL.
    #[error(
        "refusing to talk to '{url}' as a dev issuer: the dev issuer runs on loopback, so give an http://127.0.0.1:PORT or http://localhost:PORT URL"
    )]
    IssuerUrlNotLoopback {
        /// The URL that was given.
        url: String,
    },

    /// The dev issuer did not answer (not running, wrong port).
    #[error(
        "could not reach a dev issuer at {url}: start one with `m4-auth dev-issuer serve`, or pass --issuer-url"
    )]
    IssuerUnreachable {
        /// The issuer URL.
        url: String,
        /// The HTTP client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    /// The dev issuer answered a request with an error.
    #[error("the dev issuer at {url} refused to {action} (HTTP {status}): {description}")]
    IssuerRejected {
        /// The issuer URL.
        url: String,
        /// What was asked ("mint a token", "rotate its keys").
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The issuer's `error_description` (control characters escaped, cut to 512
        /// characters: whatever answers on that port does not write to the terminal).
        description: String,
    },

    /// No device login has this user code.
    #[error(
        "no device login has user code {user_code}: check the code the login command printed (it is case-insensitive), or start the login again"
    )]
    UnknownUserCode {
        /// The code given (escaped, cut to 64 characters).
        user_code: String,
    },

    /// The device login with this user code can no longer be approved or denied.
    #[error("the device login {user_code} cannot be decided: {why}")]
    DeviceLoginNotPending {
        /// The user code.
        user_code: String,
        /// Why: expired, already approved, denied, or its tokens issued.
        why: &'static str,
    },

    /// The answer was not what a dev issuer sends (not a dev issuer at that URL?).
    #[error("unexpected answer from {url}: {what}")]
    IssuerResponse {
        /// The issuer URL.
        url: String,
        /// What was wrong.
        what: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variant's name; no wildcard arm, so a new variant does not compile until it is
    /// named here (and then it must get a sample below for the count to match).
    fn name(error: &Error) -> &'static str {
        m4_auth_testkit::variant_name!(error, Error {
            NonLoopbackBind { .. },
            LimitTooSmall { .. },
            Bind { .. },
            KeyGeneration { .. },
            Random,
            Signing { .. },
            NoSigningKey { .. },
            UnsupportedAlgorithm { .. },
            IssuerUrlNotLoopback { .. },
            IssuerUnreachable { .. },
            IssuerRejected { .. },
            IssuerResponse { .. },
            UnknownUserCode { .. },
            DeviceLoginNotPending { .. },
        })
    }

    const VARIANTS: usize = 14;

    fn samples() -> Vec<Error> {
        let addr: SocketAddr = "127.0.0.1:8414".parse().unwrap();
        let io = || std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        vec![
            Error::NonLoopbackBind {
                addr: "0.0.0.0:8414".parse().unwrap(),
            },
            Error::LimitTooSmall {
                option: "max_refresh_tokens",
                value: 1,
                minimum: 2,
                default: 10_000,
                why: "with 1 the token a refresh rotates away is forgotten at once, so a stolen one presented again is never caught as a reuse",
            },
            Error::Bind {
                addr,
                source: Box::new(io()),
            },
            Error::KeyGeneration {
                alg: SigningAlg::Rs256,
            },
            Error::Random,
            Error::Signing {
                alg: SigningAlg::Es256,
            },
            Error::NoSigningKey {
                alg: SigningAlg::Es256,
            },
            Error::UnsupportedAlgorithm {
                alg: "HS256".into(),
            },
            Error::IssuerUrlNotLoopback {
                url: "https://auth.example.com".into(),
            },
            Error::IssuerUnreachable {
                url: "http://127.0.0.1:8414".into(),
                source: Box::new(io()),
            },
            Error::IssuerRejected {
                url: "http://127.0.0.1:8414".into(),
                action: "mint a token",
                status: 400,
                description: "unknown field `role`".into(),
            },
            Error::IssuerResponse {
                url: "http://127.0.0.1:8414".into(),
                what: "the answer has no access_token".into(),
            },
            Error::UnknownUserCode {
                user_code: "BCDF-GHJK".into(),
            },
            Error::DeviceLoginNotPending {
                user_code: "BCDF-GHJK".into(),
                why: "it expired",
            },
        ]
    }

    #[test]
    fn every_message_is_snapshotted() {
        let text = m4_auth_testkit::messages::lines(&samples(), name, VARIANTS);
        insta::assert_snapshot!(text);
    }
}
