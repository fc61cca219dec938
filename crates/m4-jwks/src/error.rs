//! The one error type of this crate.
//!
//! Every variant reaches users as the reason of a `jwks_unavailable` rejection, in
//! `m4-auth doctor`, or in [`Stats::last_error`](crate::Stats::last_error), so each message
//! names the URL involved and what to do about it.
//!
//! Messages are self-contained: a wrapped cause is part of the text, because the text is what
//! travels (as `KeyLookupError::Unavailable { reason }`), so `source()` is not used for it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use m4_jwt_verify::JwksDocumentError;

use crate::endpoint::{UrlProblem, UrlRole};

/// Everything that can go wrong while building a [`JwksCache`](crate::JwksCache), discovering
/// the JWKS URL, fetching it, or serving keys from it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configured URL, a discovered `jwks_uri` or a redirect target breaks the
    /// https-or-loopback rule or is not a usable URL.
    #[error("the {role} \"{url}\" {problem}")]
    InvalidUrl {
        /// Which URL.
        role: UrlRole,
        /// The URL, credentials redacted.
        url: String,
        /// What is wrong with it.
        problem: UrlProblem,
    },
    /// A duration option is out of range.
    #[error("{option} must be {expected}, got {}", Human(*got))]
    InvalidOption {
        /// The option, named as its environment variable.
        option: &'static str,
        /// The accepted range.
        expected: &'static str,
        /// The value given.
        got: Duration,
    },
    /// The request (connect, redirects and body read together) took longer than the timeout.
    #[error(
        "GET {url} timed out after {} (connect and read together; raise M4_OAUTH2_HTTP_TIMEOUT \
         if the provider is slow)",
        Human(*timeout)
    )]
    Timeout {
        /// The URL requested.
        url: String,
        /// The timeout in force.
        timeout: Duration,
    },
    /// No connection could be made, or it broke before a response arrived.
    #[error("GET {url} failed: {detail}")]
    Connect {
        /// The URL requested.
        url: String,
        /// What the network layer said.
        detail: String,
    },
    /// The TLS handshake failed for a reason other than the certificate.
    #[error("GET {url} failed in TLS: {detail}")]
    Tls {
        /// The URL requested.
        url: String,
        /// What rustls said.
        detail: String,
    },
    /// The server's certificate was not accepted.
    #[error(
        "GET {url} failed in TLS: the server certificate was rejected ({detail}); certificates \
         are checked against the operating system's trust store, so install a corporate CA \
         there"
    )]
    Certificate {
        /// The URL requested.
        url: String,
        /// What rustls or the platform verifier said.
        detail: String,
    },
    /// The proxy from `HTTPS_PROXY`/`ALL_PROXY`/`HTTP_PROXY` is unusable or refused the request.
    #[error("GET {url} failed at the proxy: {detail} (check HTTPS_PROXY and NO_PROXY)")]
    Proxy {
        /// The URL requested.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// The server answered with a status other than 2xx or a redirect.
    #[error("GET {url} answered HTTP {status}")]
    HttpStatus {
        /// The URL that answered.
        url: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body exceeded the size limit; reading stopped there.
    #[error("GET {url} sent a body larger than {} bytes; stopped reading", .limit)]
    BodyTooLarge {
        /// The URL that answered.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// More redirects than allowed.
    #[error("GET {url} was redirected more than {max} times")]
    TooManyRedirects {
        /// The URL first requested.
        url: String,
        /// The redirect limit.
        max: u32,
    },
    /// A redirect status without a usable `Location` header.
    #[error("GET {url} answered HTTP {status} without a usable Location header")]
    BadRedirect {
        /// The URL that answered.
        url: String,
        /// The redirect status.
        status: u16,
    },
    /// The discovery document is not a JSON object.
    #[error("the discovery document at {url} is not a JSON object: {detail}")]
    DiscoveryNotJson {
        /// The document's URL.
        url: String,
        /// The parser's complaint (position only, never document content).
        detail: String,
    },
    /// The discovery document lacks a required string member.
    #[error("the discovery document at {url} has no \"{member}\" string")]
    DiscoveryMissingMember {
        /// The document's URL.
        url: String,
        /// `issuer` or `jwks_uri`.
        member: &'static str,
    },
    /// The discovery document names another issuer than the configured one.
    #[error(
        "the discovery document at {url} names the issuer \"{found}\" but the configured \
         issuer (M4_OAUTH2_ISSUER_URL) is \"{expected}\"; they must match exactly, trailing \
         slash included"
    )]
    IssuerMismatch {
        /// The document's URL.
        url: String,
        /// The configured issuer.
        expected: String,
        /// The document's `issuer`.
        found: String,
    },
    /// Neither discovery document nor the `jwks.json` fallback exists.
    #[error(
        "found no OpenID configuration at {oidc}, no OAuth server metadata at {oauth}, and no \
         JWKS at {fallback} (each answered 404); check the issuer URL or set M4_OAUTH2_JWKS_URL"
    )]
    NothingDiscovered {
        /// The OIDC discovery URL tried.
        oidc: String,
        /// The RFC 8414 metadata URL tried.
        oauth: String,
        /// The `jwks.json` fallback tried.
        fallback: String,
    },
    /// Neither discovery document exists, and provider metadata (token endpoints) was asked
    /// for.
    #[error(
        "found no OpenID configuration at {oidc} and no OAuth server metadata at {oauth} (each \
         answered 404); check the issuer URL (M4_OAUTH2_ISSUER_URL)"
    )]
    NoMetadata {
        /// The OIDC discovery URL tried.
        oidc: String,
        /// The RFC 8414 metadata URL tried.
        oauth: String,
    },
    /// The JWKS document as a whole is unusable.
    #[error("the JWKS at {url} is unusable: {problem}")]
    JwksDocument {
        /// The JWKS URL.
        url: String,
        /// What is wrong with the document.
        problem: JwksDocumentError,
    },
    /// The JWKS parsed but holds no key that can verify a signature.
    #[error("the JWKS at {url} holds no usable signature key{}", SkipSummary(.skipped))]
    NoUsableKeys {
        /// The JWKS URL.
        url: String,
        /// Why each key was skipped, as `(kid, reason)`; at most a few are shown.
        skipped: Vec<(Option<String>, String)>,
    },
    /// The cached keys are past TTL + max stale and the last refresh failed.
    #[error(
        "the keys from {url} were fetched {} ago, past the cache TTL plus \
         M4_OAUTH2_JWKS_MAX_STALE ({}), and refreshing them failed: {cause}",
        Human(*age),
        Human(*limit)
    )]
    TooStale {
        /// The JWKS URL.
        url: String,
        /// Time since the last successful fetch.
        age: Duration,
        /// TTL plus max stale.
        limit: Duration,
        /// The last refresh failure.
        cause: Arc<Error>,
    },
    /// No keys yet, the last attempt failed, and the cooldown holds off the next one.
    #[error("{cause} (next attempt in {})", Human(*retry_in))]
    CoolingDown {
        /// The last failure.
        cause: Arc<Error>,
        /// Time until the cooldown allows another fetch.
        retry_in: Duration,
    },
    /// No keys yet, and the first fetch is still running after the waiting bound.
    #[error(
        "no keys loaded yet from {source_url}: the first fetch is still running after waiting {}",
        Human(*waited)
    )]
    FetchInProgress {
        /// The JWKS URL, or the issuer when discovery has not finished.
        source_url: String,
        /// How long this caller waited.
        waited: Duration,
    },
}

impl Error {
    /// The stable error code (CONTRACT.md): every failure to obtain keys is `jwks_unavailable`.
    ///
    /// Construction errors ([`Error::is_configuration`]) carry the same code; callers that
    /// build the cache at startup report those as configuration errors instead.
    ///
    /// ```
    /// let err = m4_jwks::JwksCache::new(m4_jwks::JwksOptions::new("http://idp.example.com"))
    ///     .unwrap_err();
    /// assert_eq!(err.code(), "jwks_unavailable");
    /// assert!(err.is_configuration());
    /// ```
    pub fn code(&self) -> &'static str {
        "jwks_unavailable"
    }

    /// Whether this error comes from the options (a bad issuer URL, JWKS URL or duration)
    /// rather than from the network or the provider.
    pub fn is_configuration(&self) -> bool {
        match self {
            Self::InvalidUrl { role, .. } => matches!(role, UrlRole::Issuer | UrlRole::JwksUrl),
            Self::InvalidOption { .. } => true,
            _ => false,
        }
    }

    /// For a failed request (timeout, connection, TLS, proxy, status, body size, redirects),
    /// what went wrong without the leading `GET <url>`: callers that POST through
    /// [`HttpClient`](crate::HttpClient) name the request themselves. `None` for other errors.
    ///
    /// ```
    /// let err = m4_jwks::Error::HttpStatus { url: "https://idp.example.com/x".into(), status: 503 };
    /// assert_eq!(err.request_failure().as_deref(), Some("answered HTTP 503"));
    /// ```
    pub fn request_failure(&self) -> Option<String> {
        let url = match self {
            Self::Timeout { url, .. }
            | Self::Connect { url, .. }
            | Self::Tls { url, .. }
            | Self::Certificate { url, .. }
            | Self::Proxy { url, .. }
            | Self::HttpStatus { url, .. }
            | Self::BodyTooLarge { url, .. }
            | Self::TooManyRedirects { url, .. }
            | Self::BadRedirect { url, .. } => url,
            _ => return None,
        };
        let text = self.to_string();
        Some(
            text.strip_prefix(&format!("GET {url} "))
                .unwrap_or(&text)
                .to_owned(),
        )
    }

    /// Whether the server said the resource does not exist (404 or 410).
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::HttpStatus {
                status: 404 | 410,
                ..
            }
        )
    }
}

/// Formats a duration for people: `10 s`, `1.5 s`, `250 ms`, `30 min`, `24 h`.
struct Human(Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let secs = d.as_secs();
        let nanos = d.subsec_nanos();
        if nanos == 0 {
            if secs != 0 && secs.is_multiple_of(3600) {
                write!(f, "{} h", secs / 3600)
            } else if secs >= 600 && secs.is_multiple_of(60) {
                write!(f, "{} min", secs / 60)
            } else {
                write!(f, "{secs} s")
            }
        } else if secs == 0 {
            let ms = d.as_secs_f64() * 1000.0;
            if ms >= 1.0 {
                write!(f, "{} ms", ms.round())
            } else {
                f.write_str("under 1 ms")
            }
        } else {
            let s = (d.as_secs_f64() * 10.0).round() / 10.0;
            write!(f, "{s} s")
        }
    }
}

/// Longest untrusted string (an issuer or a kid from a document) echoed in a message.
const SHOWN_MAX: usize = 200;

/// An untrusted string (from a provider's document or answer) made safe to show in a
/// message: control and invisible characters (U+202E right-to-left override, U+2028, zero-width
/// ones), both quotes (`"` and `'`, so a value cannot close the quotes a message puts around
/// it) and `\` escaped, cut after 200 characters with `...`.
///
/// ```
/// assert_eq!(m4_jwks::shown("bad\n\u{1b}[2J"), "bad\\n\\u{1b}[2J");
/// assert_eq!(m4_jwks::shown(&"x".repeat(500)).len(), 203);
/// ```
pub fn shown(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == SHOWN_MAX {
            out.push_str("...");
            break;
        }
        // Control characters, the quotes and `\`, and the invisible characters that can
        // reorder or hide text on a terminal (U+202E, U+2028, zero-width ones), which is what
        // `escape_debug` escapes beyond the quotes.
        if c.is_control() || matches!(c, '"' | '\'' | '\\') || c.escape_debug().len() > 1 {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// How many skipped keys a [`Error::NoUsableKeys`] message lists.
const SKIPS_SHOWN: usize = 3;

struct SkipSummary<'a>(&'a Vec<(Option<String>, String)>);

impl fmt::Display for SkipSummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let skipped = self.0;
        if skipped.is_empty() {
            return f.write_str(" (its \"keys\" array is empty)");
        }
        write!(f, " ({} skipped: ", skipped.len())?;
        for (i, (kid, reason)) in skipped.iter().take(SKIPS_SHOWN).enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match kid {
                Some(kid) => write!(f, "[kid \"{kid}\": {reason}]")?,
                None => write!(f, "[key without kid: {reason}]")?,
            }
        }
        if skipped.len() > SKIPS_SHOWN {
            write!(f, ", and {} more", skipped.len() - SKIPS_SHOWN)?;
        }
        f.write_str(")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One example of every variant, each named by a `match` without a wildcard arm: a new
    /// variant does not compile until it is named here, and then it needs an example.
    fn every_variant() -> Vec<Error> {
        let cause = Arc::new(Error::HttpStatus {
            url: "https://idp.example.com/keys".into(),
            status: 503,
        });
        vec![
            Error::InvalidUrl {
                role: UrlRole::Issuer,
                url: "http://idp.example.com/".into(),
                problem: UrlProblem::PlainHttp,
            },
            Error::InvalidOption {
                option: "M4_OAUTH2_HTTP_TIMEOUT",
                expected: "at least 1 ms",
                got: Duration::ZERO,
            },
            Error::Timeout {
                url: "https://idp.example.com/keys".into(),
                timeout: Duration::from_secs(10),
            },
            Error::Connect {
                url: "https://idp.example.com/keys".into(),
                detail: "connection refused".into(),
            },
            Error::Tls {
                url: "https://idp.example.com/keys".into(),
                detail: "received corrupt message of type InvalidContentType".into(),
            },
            Error::Certificate {
                url: "https://idp.example.com/keys".into(),
                detail: "invalid peer certificate: UnknownIssuer".into(),
            },
            Error::Proxy {
                url: "https://idp.example.com/keys".into(),
                detail: "proxy answered 407".into(),
            },
            Error::HttpStatus {
                url: "https://idp.example.com/keys".into(),
                status: 503,
            },
            Error::BodyTooLarge {
                url: "https://idp.example.com/keys".into(),
                limit: crate::MAX_BODY_BYTES,
            },
            Error::TooManyRedirects {
                url: "https://idp.example.com/keys".into(),
                max: crate::MAX_REDIRECTS,
            },
            Error::BadRedirect {
                url: "https://idp.example.com/keys".into(),
                status: 302,
            },
            Error::DiscoveryNotJson {
                url: "https://idp.example.com/.well-known/openid-configuration".into(),
                detail: "invalid JSON at line 1, column 1".into(),
            },
            Error::DiscoveryMissingMember {
                url: "https://idp.example.com/.well-known/openid-configuration".into(),
                member: "jwks_uri",
            },
            Error::IssuerMismatch {
                url: "https://idp.example.com/.well-known/openid-configuration".into(),
                expected: "https://idp.example.com".into(),
                found: "https://idp.example.com/".into(),
            },
            Error::NothingDiscovered {
                oidc: "https://idp.example.com/t/.well-known/openid-configuration".into(),
                oauth: "https://idp.example.com/.well-known/oauth-authorization-server/t".into(),
                fallback: "https://idp.example.com/t/.well-known/jwks.json".into(),
            },
            Error::NoMetadata {
                oidc: "https://idp.example.com/t/.well-known/openid-configuration".into(),
                oauth: "https://idp.example.com/.well-known/oauth-authorization-server/t".into(),
            },
            Error::JwksDocument {
                url: "https://idp.example.com/keys".into(),
                problem: JwksDocumentError::MissingKeys,
            },
            Error::NoUsableKeys {
                url: "https://idp.example.com/keys".into(),
                skipped: vec![
                    (
                        Some("a".into()),
                        "JWK has kty \"oct\": symmetric keys never verify tokens".into(),
                    ),
                    (
                        None,
                        "JWK has \"use\":\"enc\": encryption keys never verify signatures".into(),
                    ),
                    (
                        Some("c".into()),
                        "RSA key has 1024 bits; at least 2048 are required".into(),
                    ),
                    (Some("d".into()), "JWK has no \"n\" member".into()),
                ],
            },
            Error::TooStale {
                url: "https://idp.example.com/keys".into(),
                age: Duration::from_secs(90_000),
                limit: Duration::from_secs(3600 + 86_400),
                cause: Arc::clone(&cause),
            },
            Error::CoolingDown {
                cause,
                retry_in: Duration::from_millis(12_500),
            },
            Error::FetchInProgress {
                source_url: "https://idp.example.com/".into(),
                waited: Duration::from_secs(10),
            },
        ]
    }

    fn name(error: &Error) -> &'static str {
        m4_auth_testkit::variant_name!(error, Error {
            InvalidUrl { .. },
            InvalidOption { .. },
            Timeout { .. },
            Connect { .. },
            Tls { .. },
            Certificate { .. },
            Proxy { .. },
            HttpStatus { .. },
            BodyTooLarge { .. },
            TooManyRedirects { .. },
            BadRedirect { .. },
            DiscoveryNotJson { .. },
            DiscoveryMissingMember { .. },
            IssuerMismatch { .. },
            NothingDiscovered { .. },
            NoMetadata { .. },
            JwksDocument { .. },
            NoUsableKeys { .. },
            TooStale { .. },
            CoolingDown { .. },
            FetchInProgress { .. },
        })
    }

    /// The name and code (every variant is `jwks_unavailable`), the message, a blank line.
    fn entry(error: &Error, name: &str, message: &str) -> String {
        assert_eq!(error.code(), "jwks_unavailable");
        format!("{name} [{}]\n{message}\n\n", error.code())
    }

    #[test]
    fn every_message() {
        let text = m4_auth_testkit::messages::lines_with(&every_variant(), name, 21, entry);
        insta::assert_snapshot!(text);
    }

    /// Every way a URL can be refused, in its role.
    #[test]
    fn every_url_problem() {
        let problems = [
            UrlProblem::NotAbsolute,
            UrlProblem::Unparsable,
            UrlProblem::UnsupportedScheme("ftp".into()),
            UrlProblem::PlainHttp,
            UrlProblem::Credentials,
            UrlProblem::BadPort,
            UrlProblem::Fragment,
            UrlProblem::IssuerQuery,
            UrlProblem::Downgrade,
        ];
        let mut text = String::new();
        for problem in problems {
            let label = match &problem {
                UrlProblem::NotAbsolute => "NotAbsolute",
                UrlProblem::Unparsable => "Unparsable",
                UrlProblem::UnsupportedScheme(_) => "UnsupportedScheme",
                UrlProblem::PlainHttp => "PlainHttp",
                UrlProblem::Credentials => "Credentials",
                UrlProblem::BadPort => "BadPort",
                UrlProblem::Fragment => "Fragment",
                UrlProblem::IssuerQuery => "IssuerQuery",
                UrlProblem::Downgrade => "Downgrade",
            };
            text.push_str(&format!("{label}: {problem}\n"));
        }
        for role in [
            UrlRole::Issuer,
            UrlRole::JwksUrl,
            UrlRole::DiscoveredJwksUri,
            UrlRole::Redirect,
            UrlRole::OAuthEndpoint,
        ] {
            let label = match role {
                UrlRole::Issuer => "Issuer",
                UrlRole::JwksUrl => "JwksUrl",
                UrlRole::DiscoveredJwksUri => "DiscoveredJwksUri",
                UrlRole::Redirect => "Redirect",
                UrlRole::OAuthEndpoint => "OAuthEndpoint",
            };
            text.push_str(&format!("{label}: {role}\n"));
        }
        insta::assert_snapshot!(text);
    }

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("https://a/\n\u{1b}[31m"), "https://a/\\n\\u{1b}[31m");
        assert_eq!(shown(r#"a'b"c\d"#), r#"a\'b\"c\\d"#);
        assert_eq!(
            shown("a\u{202e}b\u{2028}c\u{200b}é"),
            "a\\u{202e}b\\u{2028}c\\u{200b}é"
        );
        let long = "x".repeat(500);
        assert_eq!(shown(&long).len(), SHOWN_MAX + 3);
    }

    #[test]
    fn durations_read_naturally() {
        let cases = [
            (Duration::ZERO, "0 s"),
            (Duration::from_micros(10), "under 1 ms"),
            (Duration::from_millis(250), "250 ms"),
            (Duration::from_secs(1), "1 s"),
            (Duration::from_millis(1500), "1.5 s"),
            (Duration::from_secs(30), "30 s"),
            (Duration::from_secs(120), "120 s"),
            (Duration::from_secs(1800), "30 min"),
            (Duration::from_secs(86_400), "24 h"),
            (Duration::from_secs(90_061), "90061 s"),
        ];
        for (d, expected) in cases {
            assert_eq!(Human(d).to_string(), expected, "{d:?}");
        }
    }

    #[test]
    fn configuration_errors_are_told_apart() {
        let url = |role| Error::InvalidUrl {
            role,
            url: "http://x/".into(),
            problem: UrlProblem::PlainHttp,
        };
        assert!(url(UrlRole::Issuer).is_configuration());
        assert!(url(UrlRole::JwksUrl).is_configuration());
        assert!(!url(UrlRole::DiscoveredJwksUri).is_configuration());
        assert!(!url(UrlRole::Redirect).is_configuration());
        assert!(
            !Error::HttpStatus {
                url: "https://x/".into(),
                status: 404
            }
            .is_configuration()
        );
    }
}
