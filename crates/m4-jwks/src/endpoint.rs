//! URL handling: the https-or-loopback rule, discovery URLs built from the issuer, and
//! redirect targets.
//!
//! Every URL this crate requests passes [`Endpoint::parse`] first: the configured issuer and
//! JWKS URL, the `jwks_uri` a discovery document names, and every redirect target.
//! Configuration validates the first two before us; checking again here is defence in depth,
//! and the only check at all for the last two.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ureq::http::Uri;

use crate::error::{Error, shown};

/// Which URL an [`Error::InvalidUrl`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlRole {
    /// The configured issuer (`M4_OAUTH2_ISSUER_URL`).
    Issuer,
    /// The configured JWKS URL (`M4_OAUTH2_JWKS_URL`).
    JwksUrl,
    /// The `jwks_uri` member of a discovery document.
    DiscoveredJwksUri,
    /// The `Location` of an HTTP redirect.
    Redirect,
    /// An OAuth endpoint (token, device authorization or revocation), configured or named
    /// by a discovery document.
    OAuthEndpoint,
}

impl fmt::Display for UrlRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Issuer => "issuer URL (M4_OAUTH2_ISSUER_URL)",
            Self::JwksUrl => "JWKS URL (M4_OAUTH2_JWKS_URL)",
            Self::DiscoveredJwksUri => "jwks_uri of the discovery document",
            Self::Redirect => "redirect target",
            Self::OAuthEndpoint => "OAuth endpoint",
        })
    }
}

/// What is wrong with a URL, for [`Error::InvalidUrl`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlProblem {
    /// Not an absolute URL with a scheme and a host.
    NotAbsolute,
    /// The URL parser refused it (bad characters, bad authority).
    Unparsable,
    /// A scheme other than `https` (or `http` for loopback).
    UnsupportedScheme(String),
    /// `http://` for a host that is not loopback.
    PlainHttp,
    /// Credentials (`user:password@`) in the authority.
    Credentials,
    /// A port that is not a number from 1 to 65535.
    BadPort,
    /// A `#fragment`.
    Fragment,
    /// A `?query` on the issuer, which OIDC forbids.
    IssuerQuery,
    /// Plain `http` reached from `https`: a redirect, or a discovered `jwks_uri`, that would
    /// leave TLS (even for a loopback host, whose port any local user may hold).
    Downgrade,
}

impl fmt::Display for UrlProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAbsolute => {
                f.write_str("is not an absolute URL; write it as https://host/path")
            }
            Self::Unparsable => f.write_str(
                "is not a valid URL (check for spaces, backslashes or a malformed host)",
            ),
            Self::UnsupportedScheme(scheme) => write!(
                f,
                "uses the scheme \"{scheme}\"; only https is allowed (http only for loopback hosts)"
            ),
            Self::PlainHttp => f.write_str(
                "uses http for a host that is not loopback; use https (http is allowed only for \
                 127.0.0.0/8, ::1 and localhost)",
            ),
            Self::Credentials => f.write_str(
                "contains credentials (user:password@); remove them, keys are fetched anonymously",
            ),
            Self::BadPort => f.write_str("has a port that is not a number from 1 to 65535"),
            Self::Fragment => f.write_str("has a #fragment; remove it"),
            Self::IssuerQuery => {
                f.write_str("has a ?query; an OIDC issuer is scheme, host and optional path only")
            }
            Self::Downgrade => f.write_str(
                "would move from https to plain http; keys found over https must stay on https \
                 (serve them over https, or set M4_OAUTH2_JWKS_URL explicitly)",
            ),
        }
    }
}

/// A URL that passed the https-or-loopback rule, ready to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// The text as configured or received (credentials never get this far).
    text: String,
    uri: Uri,
}

impl Endpoint {
    /// Parses and checks `text` for the given role.
    pub(crate) fn parse(text: &str, role: UrlRole) -> Result<Self, Error> {
        let invalid = |problem: UrlProblem| Error::InvalidUrl {
            role,
            // The text may come from a provider (a discovered jwks_uri, a Location header).
            url: shown(&redact_credentials(text)),
            problem,
        };
        let text = text.trim();
        if let Some((scheme, rest)) = text.split_once(':')
            && has_scheme(text)
            && !scheme.eq_ignore_ascii_case("https")
            && !scheme.eq_ignore_ascii_case("http")
        {
            return Err(invalid(if rest.starts_with("//") {
                UrlProblem::UnsupportedScheme(scheme.to_owned())
            } else {
                // `localhost:8080/keys`, `mailto:...`: no scheme://authority at all
                UrlProblem::NotAbsolute
            }));
        }
        let uri: Uri = text.parse().map_err(|_| invalid(UrlProblem::Unparsable))?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err(invalid(UrlProblem::NotAbsolute));
        };
        if authority.as_str().contains('@') {
            return Err(invalid(UrlProblem::Credentials));
        }
        let host = authority.host();
        if host.is_empty() {
            return Err(invalid(UrlProblem::NotAbsolute));
        }
        let port_text = authority
            .as_str()
            .get(host.len()..)
            .and_then(|rest| rest.strip_prefix(':'));
        if let Some(port_text) = port_text {
            match port_text.parse::<u16>() {
                Ok(port) if port > 0 => {}
                _ => return Err(invalid(UrlProblem::BadPort)),
            }
        }
        if text.contains('#') {
            return Err(invalid(UrlProblem::Fragment));
        }
        if scheme.eq_ignore_ascii_case("https") {
            // always fine
        } else if scheme.eq_ignore_ascii_case("http") {
            if !is_loopback_host(host) {
                return Err(invalid(UrlProblem::PlainHttp));
            }
        } else {
            return Err(invalid(UrlProblem::UnsupportedScheme(scheme.to_owned())));
        }
        if role == UrlRole::Issuer && uri.query().is_some() {
            return Err(invalid(UrlProblem::IssuerQuery));
        }
        Ok(Self {
            text: text.to_owned(),
            uri,
        })
    }

    /// The URL as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the scheme is `https` (otherwise it is loopback `http`).
    pub(crate) fn is_https(&self) -> bool {
        self.uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("https"))
    }

    /// `Err(Downgrade)` when `next`, reached from this URL in `role`, leaves https.
    pub(crate) fn keep_tls(&self, next: Self, role: UrlRole) -> Result<Self, Error> {
        if self.is_https() && !next.is_https() {
            return Err(Error::InvalidUrl {
                role,
                url: shown(next.as_str()),
                problem: UrlProblem::Downgrade,
            });
        }
        Ok(next)
    }

    /// The parsed URI, for the HTTP client.
    pub(crate) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// `scheme://authority`, without a trailing slash.
    fn origin(&self) -> String {
        let scheme = self.uri.scheme_str().unwrap_or("https");
        let authority = self.uri.authority().map_or("", |a| a.as_str());
        format!("{scheme}://{authority}")
    }

    /// Resolves a redirect's `Location` against this URL (RFC 3986 §5.2, without dot-segment
    /// removal, which the server does), then checks it like any other URL.
    pub(crate) fn join_redirect(&self, location: &str) -> Result<Self, Error> {
        let location = location.trim();
        let absolute = if has_scheme(location) {
            location.to_owned()
        } else if location.starts_with("//") {
            format!("{}:{location}", self.uri.scheme_str().unwrap_or("https"))
        } else if location.starts_with('/') {
            format!("{}{location}", self.origin())
        } else if location.starts_with('?') {
            format!("{}{}{location}", self.origin(), self.uri.path())
        } else {
            let path = self.uri.path();
            let dir = path.rfind('/').and_then(|i| path.get(..=i)).unwrap_or("/");
            format!("{}{dir}{location}", self.origin())
        };
        self.keep_tls(
            Self::parse(&absolute, UrlRole::Redirect)?,
            UrlRole::Redirect,
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The configured issuer, checked, with the URLs discovery derives from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Issuer {
    endpoint: Endpoint,
}

impl Issuer {
    /// Checks the issuer URL (https or loopback http, no query, no fragment, no credentials).
    pub(crate) fn parse(text: &str) -> Result<Self, Error> {
        Ok(Self {
            endpoint: Endpoint::parse(text, UrlRole::Issuer)?,
        })
    }

    /// The issuer exactly as configured: discovery documents must name this string.
    pub(crate) fn as_str(&self) -> &str {
        self.endpoint.as_str()
    }

    /// The issuer as an endpoint.
    pub(crate) fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The issuer's path without its terminating slash ("" for a root issuer).
    fn trimmed_path(&self) -> &str {
        self.endpoint.uri.path().trim_end_matches('/')
    }

    /// OIDC Discovery 1.0 §4: `{issuer}/.well-known/openid-configuration`, the issuer's path kept.
    pub(crate) fn openid_configuration_url(&self) -> String {
        format!(
            "{}{}/.well-known/openid-configuration",
            self.endpoint.origin(),
            self.trimmed_path()
        )
    }

    /// RFC 8414 §3.1: `{origin}/.well-known/oauth-authorization-server{path}`.
    pub(crate) fn oauth_authorization_server_url(&self) -> String {
        format!(
            "{}/.well-known/oauth-authorization-server{}",
            self.endpoint.origin(),
            self.trimmed_path()
        )
    }

    /// The compatibility fallback: `{issuer}/.well-known/jwks.json`.
    pub(crate) fn jwks_json_url(&self) -> String {
        format!(
            "{}{}/.well-known/jwks.json",
            self.endpoint.origin(),
            self.trimmed_path()
        )
    }
}

/// Whether `host` (as `http::Uri` gives it: IPv6 in brackets) is loopback per CONTRACT.md:
/// 127.0.0.0/8, ::1 or `localhost`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .is_ok_and(|ip| ip == Ipv6Addr::LOCALHOST);
    }
    host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a URI reference starts with `scheme:` (RFC 3986 §3.1).
fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else {
        return false;
    };
    let scheme = reference.get(..colon).unwrap_or("");
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Removes `user:password@` from a URL before it is shown anywhere.
pub(crate) fn redact_credentials(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_owned();
    };
    let after_scheme = scheme_end + 3;
    let rest = text.get(after_scheme..).unwrap_or("");
    // Up to the last `@` anywhere: a password may hold `/`, `?` or `#` (the URL is then
    // refused, and its message must not show them). An `@` in a path is redacted too, which
    // hides more than needed but never a secret.
    match rest.rfind('@') {
        Some(at) => format!(
            "{}[redacted]@{}",
            text.get(..after_scheme).unwrap_or(""),
            rest.get(at + 1..).unwrap_or("")
        ),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    #[allow(clippy::needless_pass_by_value)]
    fn check(role: UrlRole, input: &str, expected: Result<(), UrlProblem>) {
        let got = Endpoint::parse(input, role)
            .map(|_| ())
            .map_err(|e| match e {
                Error::InvalidUrl { problem, .. } => problem,
                other => panic!("unexpected error {other}"),
            });
        assert_eq!(got, expected, "{input}");
    }

    #[test]
    fn https_or_loopback_http() {
        use UrlProblem::*;
        let j = UrlRole::JwksUrl;
        check(j, "https://idp.example.com/keys", Ok(()));
        check(j, "HTTPS://IDP.example.com/keys", Ok(()));
        check(j, "https://idp.example.com:8443/keys?tenant=a", Ok(()));
        check(j, "http://127.0.0.1:8080/keys", Ok(()));
        check(j, "http://127.200.3.4/keys", Ok(()));
        check(j, "http://[::1]:9000/keys", Ok(()));
        check(j, "http://localhost/keys", Ok(()));
        check(j, "http://LocalHost:1/keys", Ok(()));
        check(j, "http://idp.example.com/keys", Err(PlainHttp));
        check(j, "http://10.0.0.1/keys", Err(PlainHttp));
        check(j, "http://128.0.0.1/keys", Err(PlainHttp));
        check(j, "http://127.1/keys", Err(PlainHttp));
        check(j, "http://localhost.evil.com/keys", Err(PlainHttp));
        check(j, "http://[::2]/keys", Err(PlainHttp));
        check(j, "http://[::ffff:127.0.0.1]/keys", Err(PlainHttp));
        check(
            j,
            "ftp://idp.example.com/keys",
            Err(UnsupportedScheme("ftp".into())),
        );
        check(
            j,
            "file:///etc/passwd",
            Err(UnsupportedScheme("file".into())),
        );
        check(j, "https:///keys", Err(Unparsable));
        check(j, "javascript:alert(1)", Err(NotAbsolute));
        check(j, "localhost:8080/keys", Err(NotAbsolute));
        check(j, "/keys", Err(NotAbsolute));
        check(j, "idp.example.com/keys", Err(Unparsable));
        check(j, "https://idp.example.com/a b", Err(Unparsable));
        check(j, "https://user:pw@idp.example.com/keys", Err(Credentials));
        check(j, "https://idp.example.com:99999/keys", Err(BadPort));
        check(j, "https://idp.example.com:0/keys", Err(BadPort));
        check(j, "https://idp.example.com/keys#x", Err(Fragment));
        check(j, "", Err(Unparsable));
        check(
            UrlRole::Issuer,
            "https://idp.example.com/?tenant=a",
            Err(IssuerQuery),
        );
        check(
            UrlRole::Issuer,
            "https://idp.example.com/oauth2/default",
            Ok(()),
        );
    }

    #[test]
    fn credentials_are_never_echoed() {
        let err = Endpoint::parse(
            "https://alice:s3cret@idp.example.com/keys",
            UrlRole::JwksUrl,
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(!err.contains("alice"), "{err}");
        assert!(
            err.contains("https://[redacted]@idp.example.com/keys"),
            "{err}"
        );
    }

    #[test]
    fn discovery_urls() {
        #[track_caller]
        fn urls(issuer: &str) -> [String; 3] {
            let issuer = Issuer::parse(issuer).unwrap();
            [
                issuer.openid_configuration_url(),
                issuer.oauth_authorization_server_url(),
                issuer.jwks_json_url(),
            ]
        }
        assert_eq!(
            urls("https://tenant.auth0.com/"),
            [
                "https://tenant.auth0.com/.well-known/openid-configuration",
                "https://tenant.auth0.com/.well-known/oauth-authorization-server",
                "https://tenant.auth0.com/.well-known/jwks.json",
            ]
        );
        assert_eq!(
            urls("https://tenant.auth0.com"),
            [
                "https://tenant.auth0.com/.well-known/openid-configuration",
                "https://tenant.auth0.com/.well-known/oauth-authorization-server",
                "https://tenant.auth0.com/.well-known/jwks.json",
            ]
        );
        assert_eq!(
            urls("https://x.okta.com/oauth2/default"),
            [
                "https://x.okta.com/oauth2/default/.well-known/openid-configuration",
                "https://x.okta.com/.well-known/oauth-authorization-server/oauth2/default",
                "https://x.okta.com/oauth2/default/.well-known/jwks.json",
            ]
        );
        assert_eq!(
            urls("http://127.0.0.1:8080/realms/m4/"),
            [
                "http://127.0.0.1:8080/realms/m4/.well-known/openid-configuration",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/m4",
                "http://127.0.0.1:8080/realms/m4/.well-known/jwks.json",
            ]
        );
    }

    #[test]
    fn redirects_resolve_and_are_checked() {
        let base =
            Endpoint::parse("https://idp.example.com/a/b/keys?x=1", UrlRole::JwksUrl).unwrap();
        let join = |loc: &str| base.join_redirect(loc).map(|e| e.as_str().to_owned());
        assert_eq!(
            join("https://cdn.example.net/k").unwrap(),
            "https://cdn.example.net/k"
        );
        assert_eq!(
            join("//cdn.example.net/k").unwrap(),
            "https://cdn.example.net/k"
        );
        assert_eq!(join("/v1/keys").unwrap(), "https://idp.example.com/v1/keys");
        assert_eq!(
            join("?y=2").unwrap(),
            "https://idp.example.com/a/b/keys?y=2"
        );
        assert_eq!(join("other").unwrap(), "https://idp.example.com/a/b/other");
        let downgrade = join("http://idp.example.com/keys").unwrap_err();
        assert!(matches!(
            downgrade,
            Error::InvalidUrl {
                role: UrlRole::Redirect,
                problem: UrlProblem::PlainHttp,
                ..
            }
        ));
        // Loopback http is allowed as configured, never reached from https.
        for location in ["http://127.0.0.1:8080/keys", "http://localhost/keys"] {
            assert!(matches!(
                join(location).unwrap_err(),
                Error::InvalidUrl {
                    role: UrlRole::Redirect,
                    problem: UrlProblem::Downgrade,
                    ..
                }
            ));
        }
        // From loopback http, anything the rules allow.
        let local = Endpoint::parse("http://127.0.0.1:9/keys", UrlRole::JwksUrl).unwrap();
        assert_eq!(
            local.join_redirect("/v2").unwrap().as_str(),
            "http://127.0.0.1:9/v2"
        );
        assert!(local.join_redirect("https://idp.example.com/k").is_ok());
    }

    #[test]
    fn credentials_never_shown_whatever_the_password_holds() {
        for url in [
            "https://alice:pa/ss@idp.example.com/keys",
            "https://alice:p?ss@idp.example.com/keys",
            "https://alice:p#ss@idp.example.com/keys",
            "https://alice:secret@idp.example.com/keys",
        ] {
            let message = Endpoint::parse(url, UrlRole::JwksUrl)
                .unwrap_err()
                .to_string();
            assert!(!message.contains("ss@"), "{message}");
            assert!(!message.contains("secret"), "{message}");
            assert!(message.contains("[redacted]@idp.example.com"), "{message}");
        }
    }

    #[test]
    fn provider_text_in_url_errors_is_escaped_and_cut() {
        let hostile = format!("ftp://x/\u{1b}[2J\n{}", "y".repeat(5_000));
        let message = Endpoint::parse(&hostile, UrlRole::DiscoveredJwksUri)
            .unwrap_err()
            .to_string();
        assert!(
            !message.contains('\u{1b}') && !message.contains('\n'),
            "{message}"
        );
        assert!(message.len() < 600, "{}", message.len());
    }
}
