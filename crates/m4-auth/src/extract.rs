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
#[derive(Clone, Copy, PartialEq, Eq)]
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
    let value = value.map(str::trim_ascii).unwrap_or_default();
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

/// Never the token: its length only.
impl std::fmt::Debug for Candidate<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Candidate")
            .field("token_len", &self.token.len())
            .field("bearer", &self.bearer)
            .finish()
    }
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
        // Echo the first word only when it is a known scheme name, never when it could be a
        // token or an API key pasted with a stray space (it would reach logs and replies).
        let scheme = self.token.get(..at).unwrap_or_default();
        Err(if is_known_scheme(scheme) {
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

/// Authentication schemes other than `Bearer`: the IANA HTTP Authentication Scheme
/// registry, plus NTLM and `Token`, which clients commonly send. Only these are named back in
/// an error; any other first word could be a secret and is never echoed.
const KNOWN_SCHEMES: [&str; 16] = [
    "Basic",
    "Concealed",
    "Digest",
    "DPoP",
    "GNAP",
    "HOBA",
    "Mutual",
    "Negotiate",
    "NTLM",
    "OAuth",
    "PrivateToken",
    "SCRAM-SHA-1",
    "SCRAM-SHA-256",
    "Token",
    "vapid",
    "AWS4-HMAC-SHA256",
];

/// Whether `word` names a known authentication scheme (case-insensitively, RFC 7235 §2.1).
fn is_known_scheme(word: &str) -> bool {
    KNOWN_SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(word))
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
    fn only_known_scheme_names_are_echoed() {
        let err = bearer_token(Some("Basic dXNlcjpwYXNz")).unwrap_err();
        assert!(matches!(&err, AuthError::UnsupportedScheme { scheme } if scheme == "Basic"));
        assert!(!err.to_string().contains("dXNl"));
        let err = bearer_token(Some("dpop abc")).unwrap_err();
        assert!(matches!(&err, AuthError::UnsupportedScheme { scheme } if scheme == "dpop"));
        // A token split by a stray space is never echoed, nor is an odd first word.
        for value in [
            "eyJhbGciOiJSUzI1NiJ9.e30 .sig",
            "eyJ0eXAiOi JKV1Qi.e30.sig",
            "Ba\"sic x",
            &format!("{} x", "A".repeat(21)),
            // an API key or other secret pasted with trailing text
            "sk_live_AbC123xyz foo",
            "ghp_0123456789abcdef x",
        ] {
            let err = bearer_token(Some(value)).unwrap_err();
            assert!(matches!(err, AuthError::ExtraCredentials), "{value}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let candidate = candidate(Some("Bearer secret.token.text")).unwrap();
        let shown = format!("{candidate:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("token_len: 17"), "{shown}");
    }
}
