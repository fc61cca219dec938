//! Getting the token out of what the caller was given: an `Authorization` header value,
//! `M4_OAUTH2_TOKEN`, or a bare JWT.
//!
//! The grammar is RFC 6750 §2.1, `credentials = "Bearer" 1*SP b64token`, with the scheme
//! matched case-insensitively (RFC 7235 §2.1), plus a bare token (no scheme) because
//! `M4_OAUTH2_TOKEN` has always accepted one ("Bearer prefix optional").
//! Surrounding whitespace (a trailing newline in an environment variable) is ignored.
//! Nothing here judges the token itself: the verifier does.

use crate::error::{AuthError, printable};

/// The token in `value`: `Bearer <token>` (scheme in any case, one token) or a bare token.
///
/// Errors: [`AuthError::MissingToken`] for `None`, a blank value or `Bearer` alone;
/// [`AuthError::UnsupportedScheme`] for another scheme (`Basic ...`);
/// [`AuthError::ExtraCredentials`] for more than one item after `Bearer`, or for a value with
/// whitespace that does not start with a scheme name.
pub(crate) fn bearer_token(value: Option<&str>) -> Result<&str, AuthError> {
    let value = value.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let Some((scheme, rest)) = value.split_once(|c: char| c.is_ascii_whitespace()) else {
        // One word: a bare token, or the scheme with nothing after it.
        if value.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::MissingToken);
        }
        return Ok(value);
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Echo the first word only when it is shaped like a scheme name, never when it could
        // be the start of a token pasted with a stray space.
        return Err(if looks_like_scheme(scheme) {
            AuthError::UnsupportedScheme {
                scheme: printable(scheme),
            }
        } else {
            AuthError::ExtraCredentials
        });
    }
    let token = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    if token.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(AuthError::ExtraCredentials);
    }
    Ok(token)
}

/// An authentication scheme name as registered ones look: `Basic`, `DPoP`, `SCRAM-SHA-256`.
fn looks_like_scheme(word: &str) -> bool {
    (1..=20).contains(&word.len())
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
            "Ba\"sic x",
            &format!("{} x", "A".repeat(21)),
        ] {
            let err = bearer_token(Some(value)).unwrap_err();
            assert!(matches!(err, AuthError::ExtraCredentials), "{value}");
        }
    }
}
