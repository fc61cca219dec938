//! Strict URL parsing for the issuer, JWKS and Redis URLs.
//!
//! This is a small hand parser rather than the `url` crate, on purpose:
//! - the issuer must be kept byte for byte as configured, because the `iss` claim is compared
//!   with it exactly, and a WHATWG parser normalizes (adds a trailing `/`, lowercases, decodes);
//! - the accepted language is much smaller than WHATWG's, and everything outside it is refused
//!   with a specific reason instead of being repaired: user information (`127.0.0.1@evil`),
//!   backslashes, numeric shorthands such as `127.1` or `0x7f.0.0.1` that resolvers expand,
//!   fragments, spaces and non-ASCII;
//! - it keeps this crate's dependency list at one (`thiserror`).
//!
//! `http` is accepted only when the host is loopback (127.0.0.0/8, `::1`, `localhost`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::UrlError;

/// A validated absolute `https` URL (or `http` for a loopback host), kept exactly as written.
///
/// Used for the issuer and the JWKS URL; `m4-jwks` also uses it for the `jwks_uri` a discovery
/// document returns, so the same rules hold wherever a key URL comes from.
///
/// ```
/// use m4_auth_config::EndpointUrl;
///
/// let url = EndpointUrl::parse("https://idp.example.com/realms/m4/")?;
/// assert_eq!(url.as_str(), "https://idp.example.com/realms/m4/");
/// assert_eq!(url.host(), "idp.example.com");
/// assert!(url.is_https() && !url.is_loopback());
///
/// assert!(EndpointUrl::parse("http://127.0.0.1:8080/").is_ok());
/// assert!(EndpointUrl::parse("http://idp.example.com/").is_err());
/// assert!(EndpointUrl::parse("http://127.0.0.1@evil.example/").is_err());
/// # Ok::<(), m4_auth_config::UrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointUrl {
    raw: String,
    parts: Parts,
}

/// Where the pieces of a parsed URL sit in its text.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parts {
    https: bool,
    /// Byte range of the host in `raw`, brackets included for IPv6.
    host: (usize, usize),
    port: Option<u16>,
    /// Byte offset where the path (or query) starts; `raw.len()` when there is none.
    path: usize,
    /// Byte offset of the `?`, if there is a query.
    query: Option<usize>,
    /// Byte offset just past the `@` of user information, if any.
    userinfo_end: Option<usize>,
    loopback: bool,
}

impl EndpointUrl {
    /// Parse and validate `input` (no trimming: surrounding spaces are an error here).
    ///
    /// ```
    /// use m4_auth_config::{EndpointUrl, UrlError};
    ///
    /// assert_eq!(EndpointUrl::parse("HTTPS://idp.example.com"), Err(UrlError::UppercaseScheme));
    /// assert_eq!(EndpointUrl::parse("http://localhost.evil.example/"), Err(UrlError::InsecureHttp));
    /// ```
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let parts = parse(input, &["https", "http"], "https", false)?;
        if !parts.https && !parts.loopback {
            return Err(UrlError::InsecureHttp);
        }
        Ok(Self {
            raw: input.to_owned(),
            parts,
        })
    }

    /// The URL exactly as configured.
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("https://a.example").unwrap();
    /// assert_eq!(url.as_str(), "https://a.example");
    /// ```
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Whether the scheme is `https` (otherwise it is `http` with a loopback host).
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("http://[::1]:9000/jwks").unwrap();
    /// assert!(!url.is_https() && url.is_loopback());
    /// ```
    pub fn is_https(&self) -> bool {
        self.parts.https
    }

    /// Whether the host is loopback: an IPv4 address in 127.0.0.0/8, `[::1]` or `localhost`.
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("https://127.8.9.10/").unwrap();
    /// assert!(url.is_loopback());
    /// ```
    pub fn is_loopback(&self) -> bool {
        self.parts.loopback
    }

    /// The host as written (IPv6 literals keep their brackets).
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("http://[::1]/").unwrap();
    /// assert_eq!(url.host(), "[::1]");
    /// ```
    pub fn host(&self) -> &str {
        self.raw
            .get(self.parts.host.0..self.parts.host.1)
            .unwrap_or_default()
    }

    /// The explicit port, if the URL has one.
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("https://a.example:8443/").unwrap();
    /// assert_eq!(url.port(), Some(8443));
    /// ```
    pub fn port(&self) -> Option<u16> {
        self.parts.port
    }

    /// The path, without the query; empty when the URL has none.
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("https://a.example/x/y?z=1").unwrap();
    /// assert_eq!(url.path(), "/x/y");
    /// ```
    pub fn path(&self) -> &str {
        let end = self.parts.query.unwrap_or(self.raw.len());
        self.raw.get(self.parts.path..end).unwrap_or_default()
    }

    /// The query after `?`, if there is one.
    ///
    /// ```
    /// let url = m4_auth_config::EndpointUrl::parse("https://a.example/jwks?v=2").unwrap();
    /// assert_eq!(url.query(), Some("v=2"));
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.parts.query.and_then(|q| self.raw.get(q + 1..))
    }
}

impl fmt::Debug for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EndpointUrl").field(&self.raw).finish()
    }
}

impl fmt::Display for EndpointUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// A validated `redis://` or `rediss://` URL for the rate-limit backend.
///
/// Redis URLs may carry a password (`redis://:password@host/`), so `Debug` and `Display`
/// replace any user information with `[redacted]`; [`RedisUrl::expose_url`] gives the full URL.
///
/// ```
/// use m4_auth_config::RedisUrl;
///
/// let url = RedisUrl::parse("rediss://:hunter2@cache.internal:6380/2")?;
/// assert_eq!(url.to_string(), "rediss://[redacted]@cache.internal:6380/2");
/// assert_eq!(url.expose_url(), "rediss://:hunter2@cache.internal:6380/2");
/// assert!(url.is_tls());
/// # Ok::<(), m4_auth_config::UrlError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    raw: String,
    parts: Parts,
}

impl RedisUrl {
    /// Parse and validate a Redis URL: scheme `redis` or `rediss`, a host, an optional port
    /// and an optional database number path (`/0`).
    ///
    /// ```
    /// use m4_auth_config::{RedisUrl, UrlError};
    ///
    /// assert!(RedisUrl::parse("redis://127.0.0.1:6379").is_ok());
    /// assert_eq!(RedisUrl::parse("redis://cache/x"), Err(UrlError::InvalidRedisDatabase));
    /// assert_eq!(RedisUrl::parse("redis://cache/0?protocol=resp3"), Err(UrlError::Query));
    /// ```
    pub fn parse(input: &str) -> Result<Self, UrlError> {
        let parts = parse(input, &["rediss", "redis"], "redis or rediss", true)?;
        if parts.query.is_some() {
            return Err(UrlError::Query);
        }
        let end = parts.query.unwrap_or(input.len());
        let path = input.get(parts.path..end).unwrap_or_default();
        let db = path.strip_prefix('/').unwrap_or(path);
        if !db.bytes().all(|b| b.is_ascii_digit()) || db.len() > 9 {
            return Err(UrlError::InvalidRedisDatabase);
        }
        Ok(Self {
            raw: input.to_owned(),
            parts,
        })
    }

    /// The full URL, password included: hand it to the Redis client, never print it.
    ///
    /// ```
    /// let url = m4_auth_config::RedisUrl::parse("redis://:pw@localhost/").unwrap();
    /// assert_eq!(url.expose_url(), "redis://:pw@localhost/");
    /// ```
    pub fn expose_url(&self) -> &str {
        &self.raw
    }

    /// Whether the scheme is `rediss` (TLS).
    ///
    /// ```
    /// assert!(!m4_auth_config::RedisUrl::parse("redis://localhost").unwrap().is_tls());
    /// ```
    pub fn is_tls(&self) -> bool {
        self.parts.https
    }

    /// The host as written.
    ///
    /// ```
    /// let url = m4_auth_config::RedisUrl::parse("redis://:pw@cache.internal").unwrap();
    /// assert_eq!(url.host(), "cache.internal");
    /// ```
    pub fn host(&self) -> &str {
        self.raw
            .get(self.parts.host.0..self.parts.host.1)
            .unwrap_or_default()
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.parts.userinfo_end {
            Some(end) => {
                let scheme = if self.parts.https { "rediss" } else { "redis" };
                let rest = self.raw.get(end..).unwrap_or_default();
                write!(f, "{scheme}://[redacted]@{rest}")
            }
            None => f.write_str(&self.raw),
        }
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl(\"{self}\")")
    }
}

/// Replace user information in something that looks like a URL with `[redacted]`, so a
/// password in a rejected value never reaches an error message.
///
/// Deliberately broad: everything between `://` (or the scheme's `:`, or the start, in a
/// malformed value) and the last `@` goes, even an `@` in a path, because a password with an
/// unencoded `/` would otherwise escape the authority.
pub(crate) fn redact_userinfo(value: &str) -> String {
    // After `scheme://`, or after `scheme:` in a malformed value (`redis:/:pw@h`), or from the
    // start: a value that is wrong anyway may lose more than its credentials, never keep them.
    let authority_start = match value.find("://") {
        Some(scheme_end) => scheme_end + 3,
        None => value.find(':').map_or(0, |colon| colon + 1),
    };
    let rest = value.get(authority_start..).unwrap_or_default();
    match rest.rfind('@') {
        Some(at) => format!(
            "{}[redacted]{}",
            value.get(..authority_start).unwrap_or_default(),
            rest.get(at..).unwrap_or_default()
        ),
        None => value.to_owned(),
    }
}

/// Characters allowed anywhere in a URL we accept (RFC 3986 unreserved, reserved and `%`).
fn allowed_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

/// The shared parser. `schemes` lists the accepted lowercase schemes, the first being the
/// secure one; `expected` names them for the error.
fn parse(
    input: &str,
    schemes: &[&'static str; 2],
    expected: &'static str,
    allow_userinfo: bool,
) -> Result<Parts, UrlError> {
    if input.is_empty() {
        return Err(UrlError::NotAbsolute);
    }
    if !input.bytes().all(allowed_char) {
        return Err(UrlError::InvalidCharacter);
    }
    let Some(scheme_end) = input.find("://") else {
        return Err(UrlError::NotAbsolute);
    };
    let scheme = input.get(..scheme_end).unwrap_or_default();
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return Err(UrlError::NotAbsolute);
    }
    let https = if scheme == schemes[0] {
        true
    } else if scheme == schemes[1] {
        false
    } else if schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return Err(UrlError::UppercaseScheme);
    } else {
        return Err(UrlError::UnsupportedScheme { expected });
    };
    if input.contains('#') {
        return Err(UrlError::Fragment);
    }
    let authority_start = scheme_end + 3;
    let rest = input.get(authority_start..).unwrap_or_default();
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_len).unwrap_or_default();
    let path = authority_start + authority_len;

    let (host_offset, hostport, userinfo_end) = match authority.rfind('@') {
        Some(_) if !allow_userinfo => return Err(UrlError::UserInfo),
        Some(at) => (
            at + 1,
            authority.get(at + 1..).unwrap_or_default(),
            Some(authority_start + at + 1),
        ),
        None => (0, authority, None),
    };
    if hostport.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let (host, port_text, loopback) = if let Some(inner) = hostport.strip_prefix('[') {
        let Some(close) = inner.find(']') else {
            return Err(UrlError::InvalidIpv6);
        };
        let addr: Ipv6Addr = inner
            .get(..close)
            .unwrap_or_default()
            .parse()
            .map_err(|_| UrlError::InvalidIpv6)?;
        let host = hostport.get(..close + 2).unwrap_or_default();
        let after = inner.get(close + 1..).unwrap_or_default();
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlError::InvalidPort),
        };
        (host, port, addr.is_loopback())
    } else {
        let (host, port) = match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        (host, port, check_host(host)?)
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port_text {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => return Err(UrlError::InvalidPort),
                Ok(n) => Some(n),
            }
        }
        Some(_) => return Err(UrlError::InvalidPort),
    };
    let tail = input.get(path..).unwrap_or_default();
    if tail.contains(['[', ']', '@']) {
        return Err(UrlError::InvalidCharacter);
    }
    check_percent(tail)?;
    let query = tail.find('?').map(|q| path + q);
    let host_start = authority_start + host_offset;
    Ok(Parts {
        https,
        host: (host_start, host_start + host.len()),
        port,
        path,
        query,
        userinfo_end,
        loopback,
    })
}

/// Validate a registered name or dotted-quad IPv4 host; return whether it is loopback.
fn check_host(host: &str) -> Result<bool, UrlError> {
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    if host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return Err(UrlError::InvalidHost);
    }
    let labels: Vec<&str> = host.split('.').collect();
    // RFC 1123: a label neither starts nor ends with a hyphen (`https://-/`, `xn--idp-.com`).
    if labels
        .iter()
        .any(|l| l.is_empty() || l.len() > 63 || l.starts_with('-') || l.ends_with('-'))
    {
        return Err(UrlError::InvalidHost);
    }
    let last = labels.last().copied().unwrap_or_default();
    let numeric = last.bytes().all(|b| b.is_ascii_digit())
        || last.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("0x"));
    if numeric {
        // Resolvers expand shorthands (127.1, 2130706433, 0x7f.1): accept only four decimal
        // octets without leading zeros, which std's parser enforces.
        let addr: Ipv4Addr = host.parse().map_err(|_| UrlError::InvalidIpv4)?;
        return Ok(addr.is_loopback());
    }
    Ok(host.eq_ignore_ascii_case("localhost"))
}

/// Every `%` must start a two-hex-digit escape.
fn check_percent(text: &str) -> Result<(), UrlError> {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'%' {
            let ok = bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit));
            if !ok {
                return Err(UrlError::InvalidCharacter);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expected: Result<(&str, bool), UrlError>) {
        let got = EndpointUrl::parse(input).map(|u| (u.host().to_owned(), u.is_loopback()));
        let expected = expected.map(|(h, l)| (h.to_owned(), l));
        assert_eq!(got, expected, "parsing {input:?}");
        if let Ok(url) = EndpointUrl::parse(input) {
            assert_eq!(url.as_str(), input, "kept verbatim");
        }
    }

    #[test]
    fn endpoint_urls() {
        use UrlError::*;
        check("https://idp.example.com", Ok(("idp.example.com", false)));
        check("https://idp.example.com/", Ok(("idp.example.com", false)));
        check(
            "https://IDP.Example.COM/realms/m4",
            Ok(("IDP.Example.COM", false)),
        );
        check(
            "https://idp.example.com:8443/x?y=1",
            Ok(("idp.example.com", false)),
        );
        check("https://my_idp:8443/", Ok(("my_idp", false)));
        check("http://127.0.0.1/", Ok(("127.0.0.1", true)));
        check("http://127.255.0.9:8080/jwks", Ok(("127.255.0.9", true)));
        check("http://localhost:3000", Ok(("localhost", true)));
        check("http://LOCALHOST/", Ok(("LOCALHOST", true)));
        check("http://[::1]:8080/", Ok(("[::1]", true)));
        check("https://[2001:db8::1]/", Ok(("[2001:db8::1]", false)));
        check("https://10.0.0.1/", Ok(("10.0.0.1", false)));
        check("https://a.example/%2Fx", Ok(("a.example", false)));
        // http only for loopback
        check("http://idp.example.com/", Err(InsecureHttp));
        check("http://127.0.0.1.evil.example/", Err(InsecureHttp));
        check("http://localhost.evil.example/", Err(InsecureHttp));
        check("http://evil-localhost/", Err(InsecureHttp));
        check("http://foo.localhost/", Err(InsecureHttp));
        check("http://[2001:db8::1]/", Err(InsecureHttp));
        check("http://[::ffff:127.0.0.1]/", Err(InsecureHttp));
        check("http://128.0.0.1/", Err(InsecureHttp));
        // user information is never accepted
        check("http://127.0.0.1@evil.example/", Err(UserInfo));
        check("https://user:pw@idp.example.com/", Err(UserInfo));
        check("http://localhost:80@evil.example", Err(UserInfo));
        // numeric shorthands resolvers would expand
        check("http://127.1/", Err(InvalidIpv4));
        check("http://2130706433/", Err(InvalidIpv4));
        check("http://0x7f.0.0.1/", Err(InvalidIpv4));
        check("http://127.0.0.01/", Err(InvalidIpv4));
        check("http://127.0.0.256/", Err(InvalidIpv4));
        check("https://1.2.3.4.5/", Err(InvalidIpv4));
        // schemes
        check("HTTPS://idp.example.com/", Err(UppercaseScheme));
        check("Http://localhost/", Err(UppercaseScheme));
        check(
            "ftp://idp.example.com/",
            Err(UnsupportedScheme { expected: "https" }),
        );
        check("idp.example.com", Err(NotAbsolute));
        check("https:/idp.example.com", Err(NotAbsolute));
        check("//idp.example.com", Err(NotAbsolute));
        check("", Err(NotAbsolute));
        // hosts and ports
        check("https://", Err(MissingHost));
        check("https:///path", Err(MissingHost));
        check("https://:443/", Err(MissingHost));
        check("https://a..example/", Err(InvalidHost));
        check("https://a.example./", Err(InvalidHost));
        check("https://a%2eexample/", Err(InvalidHost));
        check("https://-/", Err(InvalidHost));
        check("https://xn--idp-.example.com/", Err(InvalidHost));
        check("https://idp.-example.com/", Err(InvalidHost));
        check(
            "https://my-idp.example.com/",
            Ok(("my-idp.example.com", false)),
        );
        check("https://a.example:/", Err(InvalidPort));
        check("https://a.example:0/", Err(InvalidPort));
        check("https://a.example:65536/", Err(InvalidPort));
        check("https://a.example:+80/", Err(InvalidPort));
        check("https://a.example:80:81/", Err(InvalidPort));
        check("http://[::1/", Err(InvalidIpv6));
        check("http://[::1%25eth0]/", Err(InvalidIpv6));
        check("http://[::1]x/", Err(InvalidPort));
        check("http://::1/", Err(MissingHost));
        // characters and fragments
        check("https://idp.example.com/#frag", Err(Fragment));
        check("https://idp.example.com#", Err(Fragment));
        check("https://idp.example.com/a b", Err(InvalidCharacter));
        check(" https://idp.example.com", Err(InvalidCharacter));
        check("https://idp.example.com\\@evil", Err(InvalidCharacter));
        check("https://idp.exämple.com/", Err(InvalidCharacter));
        check("https://idp.example.com/\n", Err(InvalidCharacter));
        check("https://idp.example.com/%zz", Err(InvalidCharacter));
        check("https://idp.example.com/%4", Err(InvalidCharacter));
        check("https://idp.example.com/[x]", Err(InvalidCharacter));
        check("https://idp.example.com/a@b", Err(InvalidCharacter));
    }

    #[test]
    fn endpoint_parts() {
        let url = EndpointUrl::parse("https://a.example:8443/p/q?x=1&y=2").unwrap();
        assert_eq!(
            (url.host(), url.port(), url.path(), url.query()),
            ("a.example", Some(8443), "/p/q", Some("x=1&y=2"))
        );
        let bare = EndpointUrl::parse("https://a.example").unwrap();
        assert_eq!((bare.port(), bare.path(), bare.query()), (None, "", None));
        assert_eq!(format!("{bare:?}"), "EndpointUrl(\"https://a.example\")");
    }

    #[test]
    fn redis_urls() {
        for ok in [
            "redis://127.0.0.1",
            "redis://127.0.0.1:6379/0",
            "rediss://:pw@cache.internal:6380/15",
            "rediss://user:pw@cache.internal/",
            "redis://[::1]:6379",
        ] {
            assert!(RedisUrl::parse(ok).is_ok(), "{ok}");
        }
        let cases = [
            ("REDIS://cache", UrlError::UppercaseScheme),
            // m4-ratelimit takes no options from a query: refused here, at configuration time
            ("redis://cache.internal/?protocol=resp3", UrlError::Query),
            (
                "http://cache",
                UrlError::UnsupportedScheme {
                    expected: "redis or rediss",
                },
            ),
            (
                "redis+unix:///tmp/sock",
                UrlError::UnsupportedScheme {
                    expected: "redis or rediss",
                },
            ),
            ("redis://", UrlError::MissingHost),
            ("redis://:pw@", UrlError::MissingHost),
            ("redis://cache/db", UrlError::InvalidRedisDatabase),
            ("redis://cache/1/2", UrlError::InvalidRedisDatabase),
            ("redis://cache:x", UrlError::InvalidPort),
            ("redis://cache#x", UrlError::Fragment),
        ];
        for (input, err) in cases {
            assert_eq!(RedisUrl::parse(input), Err(err), "{input}");
        }
    }

    #[test]
    fn redis_password_never_shows() {
        let url = RedisUrl::parse("rediss://admin:hunter2@cache.internal:6380/1").unwrap();
        assert_eq!(url.to_string(), "rediss://[redacted]@cache.internal:6380/1");
        assert!(!format!("{url:?}").contains("hunter2"));
        assert_eq!(url.host(), "cache.internal");
        let plain = RedisUrl::parse("redis://cache.internal").unwrap();
        assert_eq!(plain.to_string(), "redis://cache.internal");
    }

    #[test]
    fn redact_userinfo_hides_credentials() {
        assert_eq!(redact_userinfo("redis://:pw@h/0"), "redis://[redacted]@h/0");
        assert_eq!(
            redact_userinfo("https://u:p@x@h/a"),
            "https://[redacted]@h/a"
        );
        assert_eq!(
            redact_userinfo("redis://:p/w@h/0"),
            "redis://[redacted]@h/0"
        );
        assert_eq!(redact_userinfo("https://h/a"), "https://h/a");
        // Malformed values are redacted too, more than needed rather than less.
        assert_eq!(redact_userinfo("redis:/:REDISPW@h"), "redis:[redacted]@h");
        assert_eq!(redact_userinfo("redis:REDISPW@h"), "redis:[redacted]@h");
        assert_eq!(redact_userinfo("pw@host"), "[redacted]@host");
        assert_eq!(redact_userinfo("memory"), "memory");
    }
}
