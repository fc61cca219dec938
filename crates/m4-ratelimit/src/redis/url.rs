//! Checking a Redis URL before the client sees it, and showing it without its password.
//!
//! The `redis` crate accepts more than the m4-auth contract promises (unix sockets, query
//! parameters it may ignore, a `#insecure` fragment that turns certificate checks off), and its
//! parse errors do not say what to fix. So the URL is checked here first, with a specific reason
//! for each refusal, and only `redis://` and `rediss://` URLs of the form
//! `scheme://[user[:password]@]host[:port][/db]` get through.

use crate::Error;

/// The URL with its user information (which may hold a password) replaced by `[redacted]`.
///
/// Deliberately broad, for text that may not even parse: everything between `://` (or the start)
/// and the last `@` goes.
pub(crate) fn redact(url: &str) -> String {
    let Some(at) = url.rfind('@') else {
        return url.to_owned();
    };
    let start = match url.find("://") {
        Some(i) if i < at => i + 3,
        _ => 0,
    };
    let (head, rest) = url.split_at(start);
    let tail = rest.get(at - start..).unwrap_or_default();
    format!("{head}[redacted]{tail}")
}

/// Whether `url` asks for TLS (`rediss://`), once [`check`]ed.
pub(crate) fn is_tls(url: &str) -> bool {
    url.starts_with("rediss://")
}

/// Checks that `url` is a `redis://` or `rediss://` URL this crate supports.
pub(crate) fn check(url: &str) -> Result<(), Error> {
    let refuse = |reason: &str| {
        Err(Error::InvalidRedisUrl {
            url: redact(url),
            reason: reason.to_owned(),
        })
    };
    if url.is_empty() {
        return refuse("it is empty");
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return refuse("it contains spaces, control characters or non-ASCII characters");
    }
    let rest = if let Some(rest) = url.strip_prefix("redis://") {
        rest
    } else if let Some(rest) = url.strip_prefix("rediss://") {
        rest
    } else {
        return refuse("the scheme must be redis:// or rediss:// (unix sockets are not supported)");
    };
    if url.contains('#') {
        return refuse("fragments (#...) are not supported");
    }
    if url.contains('?') {
        return refuse(
            "query parameters are not supported: put the user and password before the host, \
             as in redis://user:password@host",
        );
    }
    if url.contains('\\') {
        return refuse("backslashes are not allowed");
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host_port = match authority.rfind('@') {
        Some(i) => authority.get(i + 1..).unwrap_or_default(),
        None => authority,
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return refuse("the IPv6 address in brackets is not valid");
                }
                match after {
                    "" => (v6, None),
                    _ => match after.strip_prefix(':') {
                        Some(port) => (v6, Some(port)),
                        None => return refuse("only :port may follow an IPv6 address"),
                    },
                }
            }
            None => return refuse("the IPv6 address has no closing ]"),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return refuse("it has no host");
    }
    if !host_port.starts_with('[') && host.contains(['@', '[', ']']) {
        return refuse("the host is not valid");
    }
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return refuse("the port must be a number from 1 to 65535"),
        }
    }
    let db = path.strip_prefix('/').unwrap_or(path);
    if !db.is_empty() && (!db.bytes().all(|b| b.is_ascii_digit()) || db.len() > 9) {
        return refuse("the path must be a database number, as in /0");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn reason(url: &str) -> Option<String> {
        match check(url) {
            Ok(()) => None,
            Err(Error::InvalidRedisUrl { reason, url: shown }) => {
                assert!(!shown.contains("hunter2"), "{shown}");
                Some(reason)
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn accepted() {
        for url in [
            "redis://127.0.0.1",
            "redis://127.0.0.1:6379",
            "redis://127.0.0.1:6379/",
            "redis://localhost:6379/15",
            "rediss://cache.internal:6380/0",
            "redis://:hunter2@cache.internal/2",
            "redis://m4:hunter2@cache.internal:6379/2",
            "redis://[::1]:6379/0",
            "redis://[::1]",
        ] {
            assert_eq!(reason(url), None, "{url}");
        }
    }

    #[test]
    fn refused() {
        for (url, why) in [
            ("", "it is empty"),
            ("memory", "the scheme must be"),
            ("http://cache:6379", "the scheme must be"),
            ("REDIS://cache", "the scheme must be"),
            ("unix:///run/redis.sock", "the scheme must be"),
            ("redis+unix:///run/redis.sock", "the scheme must be"),
            ("redis:// cache", "contains spaces"),
            ("redis://cäche", "non-ASCII"),
            ("rediss://cache#insecure", "fragments"),
            ("redis://cache/0?protocol=resp3", "query parameters"),
            ("redis://:hunter2@cache/0?x", "query parameters"),
            ("redis://", "no host"),
            ("redis://:hunter2@", "no host"),
            ("redis://:6379", "no host"),
            ("redis://cache:0", "the port"),
            ("redis://cache:65536", "the port"),
            ("redis://cache:+80", "the port"),
            ("redis://cache:", "the port"),
            ("redis://cache/x", "database number"),
            ("redis://cache/1/2", "database number"),
            ("redis://cache/1234567890", "database number"),
            ("redis://[::1", "closing ]"),
            ("redis://[zz]:1", "IPv6"),
            ("redis://[::1]x", "only :port"),
            ("redis://a:b:c", "the port"),
            ("redis://a\\b", "backslashes"),
        ] {
            let got = reason(url).unwrap_or_else(|| panic!("{url} accepted"));
            assert!(got.contains(why), "{url}: {got}");
        }
    }

    #[test]
    fn redaction() {
        for (url, shown) in [
            ("redis://cache:6379/0", "redis://cache:6379/0"),
            ("redis://:hunter2@cache/0", "redis://[redacted]@cache/0"),
            ("rediss://u:hunter2@cache", "rediss://[redacted]@cache"),
            ("redis://:pw@with@at@cache", "redis://[redacted]@cache"),
            ("hunter2@cache", "[redacted]@cache"),
            ("x@y://z", "[redacted]@y://z"),
        ] {
            assert_eq!(redact(url), shown, "{url}");
        }
    }
}
