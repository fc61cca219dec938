//! Getting the token out of what the caller was given: an `Authorization` header value,
//! `M4_OAUTH2_TOKEN`, or a bare JWT.
//!
//! The grammar is RFC 6750 §2.1, `credentials = "Bearer" 1*SP b64token`, with the scheme
//! matched case-insensitively (RFC 7235 §2.1), plus a bare token (no scheme) because
//! `M4_OAUTH2_TOKEN` has always accepted one ("Bearer prefix optional").
//! Surrounding whitespace (a trailing newline in an environment variable) is ignored.
//! Nothing here judges the token itself: the verifier does.

use crate::error::{AuthError, printable};

/// What follows the scheme, before the costlier checks: see [`Candidate::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Candidate<'a> {
    /// The token text to verify (or to look up in the token cache).
    pub(crate) token: &'a str,
    /// Whether it followed a `Bearer` scheme (otherwise the whole value is the token).
    bearer: bool,
}

/// The candidate token in `value`, after only the cheap checks: `Bearer <token>` (scheme in any
/// case) or a bare token.
///
/// Errors: [`AuthError::MissingToken`] for `None`, a blank value or `Bearer` alone.
/// Whitespace inside the candidate is checked by [`Candidate::check`], which the caller runs
/// before a full verification: a token found in the verified-token cache was verified as this
/// exact text, so it cannot hold whitespace, and the hit path skips scanning it.
pub(crate) fn candidate(value: Option<&str>) -> Result<Candidate<'_>, AuthError> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let bytes = value.as_bytes();
    if let (Some(scheme), Some(separator)) = (bytes.get(..6), bytes.get(6))
        && scheme.eq_ignore_ascii_case(b"bearer")
        && separator.is_ascii_whitespace()
    {
        let token = value
            .get(7..)
            .unwrap_or_default()
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        // `value` is trimmed, so something non-blank follows the separator.
        return Ok(Candidate {
            token,
            bearer: true,
        });
    }
    if value.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    Ok(Candidate {
        token: value,
        bearer: false,
    })
}

impl Candidate<'_> {
    /// The checks that need a scan of the whole token: exactly one item after `Bearer`; for a
    /// value without that scheme, no whitespace at all.
    ///
    /// Errors: [`AuthError::UnsupportedScheme`] for another scheme (`Basic ...`);
    /// [`AuthError::ExtraCredentials`] for more than one item after `Bearer`, or for a value
    /// with whitespace that does not start with a scheme name.
    pub(crate) fn check(&self) -> Result<(), AuthError> {
        let Some(at) = self.token.bytes().position(|b| b.is_ascii_whitespace()) else {
            return Ok(());
        };
        if self.bearer {
            return Err(AuthError::ExtraCredentials);
        }
        // Echo the first word only when it is shaped like a scheme name, never when it could
        // be the start of a token pasted with a stray space.
        let scheme = self.token.get(..at).unwrap_or_default();
        Err(if looks_like_scheme(scheme) {
            AuthError::UnsupportedScheme {
                scheme: printable(scheme),
            }
        } else {
            AuthError::ExtraCredentials
        })
    }
}

/// The token in `value` with every check of this module: [`candidate`] then
/// [`Candidate::check`].
#[cfg(test)]
fn bearer_token(value: Option<&str>) -> Result<&str, AuthError> {
    let candidate = candidate(value)?;
    candidate.check()?;
    Ok(candidate.token)
}

/// An authentication scheme name as registered ones look: `Basic`, `DPoP`, `SCRAM-SHA-256`.
/// A word starting with `ey` is never one: it is how every JWT starts (base64url of `{"`), so
/// a token split by a stray space is not echoed.
fn looks_like_scheme(word: &str) -> bool {
    !word.starts_with("ey")
        && (1..=20).contains(&word.len())
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: Option<&str>, expected: Result<&str, &str>) {
        let got = bearer_token(input).map_err(|e| e.code());
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn accepted_forms() {
        check(Some("a.b.c"), Ok("a.b.c"));
        check(Some("Bearer a.b.c"), Ok("a.b.c"));
        check(Some("bearer a.b.c"), Ok("a.b.c"));
        check(Some("BEARER a.b.c"), Ok("a.b.c"));
        check(Some("BeArEr a.b.c"), Ok("a.b.c"));
        check(Some("Bearer   a.b.c"), Ok("a.b.c"));
        check(Some("  Bearer a.b.c \n"), Ok("a.b.c"));
        check(Some("a.b.c\n"), Ok("a.b.c"));
        // No space after the scheme: a bare token the verifier will judge (and reject).
        check(Some("Bearera.b.c"), Ok("Bearera.b.c"));
    }

    #[test]
    fn missing() {
        check(None, Err("missing_token"));
        check(Some(""), Err("missing_token"));
        check(Some("   \t\n"), Err("missing_token"));
        check(Some("Bearer"), Err("missing_token"));
        check(Some("bearer "), Err("missing_token"));
        check(Some(" BEARER \t "), Err("missing_token"));
    }

    #[test]
    fn malformed() {
        check(Some("Basic dXNlcjpwYXNz"), Err("malformed_token"));
        check(Some("Token a.b.c"), Err("malformed_token"));
        check(Some("Bearer a.b.c d.e.f"), Err("malformed_token"));
        check(Some("Bearer a.b.c\tx"), Err("malformed_token"));
        check(Some("Bearer Bearer a.b.c"), Err("malformed_token"));
        check(
            Some("eyJhbGciOiJSUzI1NiJ9.e30 .sig"),
            Err("malformed_token"),
        );
    }

    #[test]
    fn only_scheme_shaped_words_are_echoed() {
        let err = bearer_token(Some("Basic dXNlcjpwYXNz")).unwrap_err();
        assert!(matches!(&err, AuthError::UnsupportedScheme { scheme } if scheme == "Basic"));
        assert!(!err.to_string().contains("dXNl"));
        // A token split by a stray space is never echoed, nor is an odd first word.
        for value in [
            "eyJhbGciOiJSUzI1NiJ9.e30 .sig",
            "eyJ0eXAiOi JKV1Qi.e30.sig",
            "Ba\"sic x",
            &format!("{} x", "A".repeat(21)),
        ] {
            let err = bearer_token(Some(value)).unwrap_err();
            assert!(matches!(err, AuthError::ExtraCredentials), "{value}");
        }
    }
}
