//! `m4-auth verify`: CONTRACT.md's protocol over the m4-auth facade.

use std::io::{self, Write};
use std::process::ExitCode;

use m4_auth::{AuthConfig, AuthError, Authenticator, Principal};

use crate::output::{Style, inert};
use crate::verify_protocol::{Verdict, stream};
use crate::{Failure, VerifyArgs};

/// The configuration could not be loaded: every problem, one per line (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("the M4_OAUTH2_* settings are invalid:\n{0}")]
pub(crate) struct InvalidConfig(pub(crate) m4_auth::config::ConfigError);

/// Loads the configuration from the environment and builds one authenticator, printing the
/// configuration warnings to standard error. Any failure here is exit 2.
pub(crate) fn authenticator_from_env() -> Result<Authenticator, Failure> {
    let loaded = AuthConfig::from_env().map_err(|e| Failure::usage(InvalidConfig(e)))?;
    crate::output::warn(&loaded.warnings);
    Authenticator::new(loaded.config).map_err(Failure::usage)
}

/// The protocol's view of one authentication.
pub(crate) fn verdict(result: &Result<Principal, AuthError>) -> Verdict {
    match result {
        Ok(principal) => Verdict::Accepted {
            sub: principal.sub().to_owned(),
            scopes: principal.scopes().iter().cloned().collect(),
        },
        Err(error) => Verdict::Rejected {
            code: error.code().to_owned(),
            message: error.message(),
        },
    }
}

/// What to do about a rejection, by code (shown by `verify` and `doctor`).
pub(crate) fn fix_for(code: &str) -> &'static str {
    match code {
        "missing_token" => {
            "pass the token with --token, or set M4_OAUTH2_TOKEN (a \"Bearer \" prefix is optional); for tokens that stay fresh, run `m4-auth login` or set M4_OAUTH2_CLIENT_ID and M4_OAUTH2_CLIENT_SECRET (docs/credentials.md)"
        }
        "malformed_token" => {
            "the value is not a signed JWT: copy the whole access token (three base64url parts separated by dots)"
        }
        "invalid_header" => {
            "the token's header is one m4-auth refuses (the message above says which parameter): have the provider issue a plain signed access token (typ at+jwt or JWT, no crit, cty or b64)"
        }
        "token_too_large" => {
            "this is not an access token from a normal provider: check what is being sent"
        }
        "unsupported_algorithm" => {
            "have the provider sign with an algorithm in M4_OAUTH2_ALGORITHMS (default RS256,ES256)"
        }
        "missing_kid" => "the provider must name its signing key (kid) in the token header",
        "unknown_kid" => {
            "the token was signed by a key the JWKS does not publish: check that it comes from the configured issuer (run `m4-auth doctor`)"
        }
        "invalid_signature" => {
            "verify the token is signed by the configured issuer, the JWKS URL is accessible, and its kid matches a key in the JWKS"
        }
        "token_expired" => "request a fresh token from your OAuth2 provider",
        "token_not_yet_valid" => "wait until the token's nbf, or check this machine's clock",
        "invalid_issuer" => {
            "the token's iss must equal M4_OAUTH2_ISSUER_URL exactly (trailing slash included)"
        }
        "invalid_audience" => "request a token for M4_OAUTH2_AUDIENCE, or correct that variable",
        "invalid_claims" => {
            "a claim is missing, of the wrong type or refused (the message above says which): have the provider issue a bearer token (no cnf) with a JSON string sub naming the user and a NumericDate exp"
        }
        "missing_scopes" => {
            "request a new token with all required scopes (space-separated `scope` claim or `scp` array)"
        }
        "rate_limited" => {
            "wait for the rate limit window to reset, or raise M4_OAUTH2_RATE_LIMIT_REQUESTS"
        }
        "jwks_unavailable" => "the signing keys could not be fetched: run `m4-auth doctor`",
        _ => "run `m4-auth doctor` to check the setup",
    }
}

/// One line for a person. The `sub` and scopes are the token's: shown through [`inert`], as
/// doctor shows them, so invisible and bidirectional-text characters are visible escapes.
fn human(verdict: &Verdict, style: Style) -> String {
    match verdict {
        Verdict::Accepted { sub, scopes } => format!(
            "{} accepted: sub {}, scopes {}",
            style.good("✓"),
            inert(sub),
            if scopes.is_empty() {
                "(none)".to_owned()
            } else {
                inert(&scopes.join(" ")).into_owned()
            }
        ),
        Verdict::Rejected { code, message } => format!(
            "{} rejected ({code}): {}\n  {} {}",
            style.bad("✗"),
            inert(message),
            style.bold("fix:"),
            fix_for(code)
        ),
    }
}

pub(crate) fn run(args: &VerifyArgs) -> Result<ExitCode, Failure> {
    let auth = authenticator_from_env()?;
    if !auth.is_enabled() {
        crate::output::warn([
            "OAuth2 is disabled (M4_OAUTH2_ENABLED is not true), so every token is accepted as anonymous",
        ]);
    }
    if args.stdin {
        // One authenticator for the whole stream: one JWKS cache, one rate limiter.
        let answered = stream(io::stdin().lock(), io::stdout().lock(), |line| {
            verdict(&auth.authenticate(line))
        });
        return match answered {
            Ok(_) => Ok(ExitCode::SUCCESS),
            Err(e) => Err(Failure::failed(e)),
        };
    }
    let result = match &args.token {
        Some(token) => auth.authenticate(token.expose_secret()),
        None => auth.authenticate_env(),
    };
    let verdict = verdict(&result);
    let line = if args.json {
        verdict.json()
    } else {
        human(&verdict, Style::stdout())
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(Failure::failed)?;
    Ok(match verdict {
        Verdict::Accepted { .. } => ExitCode::SUCCESS,
        Verdict::Rejected { .. } => ExitCode::from(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_arguments_never_shows_the_token() {
        use clap::Parser;
        let cli = crate::Cli::parse_from(["m4-auth", "verify", "--token", "eyJ.secret-part.sig"]);
        let debug = format!("{cli:?}");
        assert!(!debug.contains("secret-part"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
        let cli = crate::Cli::parse_from([
            "m4-auth",
            "config",
            "claude",
            "--enable-oauth2",
            "--oauth2-issuer",
            "https://i/",
            "--oauth2-audience",
            "a",
            "--oauth2-client-secret",
            "s3cr3t-x",
            "--oauth2-token",
            "tok-secret-part",
        ]);
        let debug = format!("{cli:?}");
        assert!(
            !debug.contains("s3cr3t-x") && !debug.contains("tok-secret-part"),
            "{debug}"
        );
    }

    #[test]
    fn every_contract_code_has_a_specific_fix() {
        let generic = fix_for("no-such-code");
        for code in m4_auth::CODES {
            assert_ne!(fix_for(code), generic, "{code}");
        }
    }

    #[test]
    fn verdicts_carry_the_facade_code_and_message() {
        let missing = verdict(&Err(AuthError::MissingToken));
        assert_eq!(
            missing.json(),
            r#"{"ok":false,"code":"missing_token","message":"Missing OAuth2 access token"}"#
        );
        let anonymous = verdict(&Ok(Principal::anonymous()));
        assert_eq!(
            anonymous.json(),
            r#"{"ok":true,"sub":"anonymous","scopes":[]}"#
        );
        let human = human(&missing, Style::plain());
        assert_eq!(
            human,
            "✗ rejected (missing_token): Missing OAuth2 access token\n  fix: pass the token with --token, or set M4_OAUTH2_TOKEN (a \"Bearer \" prefix is optional); for tokens that stay fresh, run `m4-auth login` or set M4_OAUTH2_CLIENT_ID and M4_OAUTH2_CLIENT_SECRET (docs/credentials.md)"
        );
    }
}
