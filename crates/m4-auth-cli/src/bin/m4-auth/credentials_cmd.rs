//! `m4-auth token`, `m4-auth login`, `m4-auth logout`, and the credentials step of
//! `m4-auth doctor`: obtaining tokens with m4-auth-token (docs/credentials.md).

use std::io::{self, Write};
use std::process::ExitCode;

use m4_auth::Authenticator;
use m4_auth_config::{AuthConfig, vars};
use m4_auth_token::{
    DeviceAuthorization, Error as TokenError, LogoutOutcome, TokenClient, TokenOptions,
    TokenSource, finish_login, logout,
};

use crate::Failure;
use crate::output::warn;
use crate::report::{Check, Status};
use crate::verify::{InvalidConfig, fix_for};

/// The doctor section these checks belong to.
pub(crate) const CREDENTIALS: &str = "credentials";

/// A token-client failure with its exit code: 2 for configuration, 1 otherwise.
fn failure(error: TokenError) -> Failure {
    if error.is_configuration() {
        Failure::usage(error)
    } else {
        Failure::failed(error)
    }
}

/// The configuration and the token options from the environment (exit 2 when invalid).
fn options_from_env() -> Result<(AuthConfig, TokenOptions), Failure> {
    let loaded = AuthConfig::from_env().map_err(|e| Failure::usage(InvalidConfig(e)))?;
    // Obtaining a token uses the issuer whether or not verification is enabled, so "these
    // settings have no effect" would be wrong here.
    warn(
        loaded
            .warnings
            .iter()
            .filter(|w| !matches!(w, m4_auth_config::Warning::IgnoredWhileDisabled { .. })),
    );
    let options = TokenOptions::from_config(&loaded.config).map_err(failure)?;
    Ok((loaded.config, options))
}

/// `m4-auth token`: one fresh access token on stdout and nothing else there.
pub(crate) fn token() -> Result<ExitCode, Failure> {
    let (_, options) = options_from_env()?;
    let path = options.credentials_file().to_path_buf();
    let source = TokenSource::detect(options)
        .map_err(failure)?
        .ok_or_else(|| Failure::failed(TokenError::NoCredentials { path }))?;
    let token = source.access_token().map_err(failure)?;
    // The library logs these with `tracing`, which this program does not print: a refresh
    // token rotated but not saved is lost when this process ends, and the user must know.
    warn(source.renewal_warnings());
    let mut out = io::stdout().lock();
    writeln!(out, "{}", token.expose_secret())
        .and_then(|()| out.flush())
        .map_err(Failure::failed)?;
    Ok(ExitCode::SUCCESS)
}

/// What `m4-auth login` shows the user (on standard error, so stdout stays clean).
pub(crate) fn login_prompt(device: &DeviceAuthorization) -> String {
    let mut text = format!(
        "To log in, open {}\nand enter the code: {}\n",
        device.verification_uri, device.user_code
    );
    if let Some(complete) = &device.verification_uri_complete {
        text.push_str(&format!(
            "(or open {complete}, which has the code filled in)\n"
        ));
    }
    text.push_str(&format!(
        "Waiting for approval (the code is valid for {} min)...\n",
        device.expires_in.as_secs().div_ceil(60)
    ));
    text
}

/// The line `m4-auth login` ends with.
pub(crate) fn logged_in(path: &std::path::Path) -> String {
    format!(
        "Logged in. The login is stored in {} (owner-only); M4 over stdio and `m4-auth token` \
         now obtain fresh tokens from it. `m4-auth logout` forgets it.",
        path.display()
    )
}

/// `m4-auth login`: the device authorization grant, then the refresh token stored.
pub(crate) fn login() -> Result<ExitCode, Failure> {
    let (_, options) = options_from_env()?;
    let path = options.credentials_file().to_path_buf();
    let client = TokenClient::new(options);
    let device = client.start_device_login().map_err(failure)?;
    eprint!("{}", login_prompt(&device));
    let login = finish_login(&client, &device, std::thread::sleep).map_err(failure)?;
    // The library logs these with `tracing`, which this program does not print: a login saved
    // without the refresh lock could be overwritten by a refresh of the previous one.
    warn(&login.warnings);
    eprintln!("{}", logged_in(&path));
    Ok(ExitCode::SUCCESS)
}

/// What `m4-auth logout` reports.
pub(crate) fn logout_message(outcome: &LogoutOutcome, path: &std::path::Path) -> String {
    let mut text = if outcome.removed {
        format!("Logged out: removed {}.", path.display())
    } else {
        format!(
            "Not logged in: there is no stored login at {}.",
            path.display()
        )
    };
    if outcome.revoked {
        text.push_str(" The refresh token was revoked at the provider.");
    }
    if let Some(note) = &outcome.revocation_note {
        text.push_str(&format!(" The refresh token was {note}."));
    }
    text
}

/// `m4-auth logout`: revoke when possible, forget always.
pub(crate) fn logout_cmd() -> Result<ExitCode, Failure> {
    let (_, options) = options_from_env()?;
    let path = options.credentials_file().to_path_buf();
    let outcome = logout(&TokenClient::new(options)).map_err(failure)?;
    // As for login: logged with `tracing` only, which this program does not print.
    warn(&outcome.warnings);
    eprintln!("{}", logout_message(&outcome, &path));
    Ok(ExitCode::SUCCESS)
}

/// The doctor's credentials step: which source the stdio path uses, and whether a token can
/// be obtained from it now (and is accepted).
pub(crate) fn credential_checks(auth: &Authenticator, config: &AuthConfig) -> Vec<Check> {
    if config.token().is_some() {
        return vec![Check::new(
            CREDENTIALS,
            Status::Pass,
            format!(
                "{} is set: the stdio path uses it first (a stored login and client \
                 credentials are not consulted)",
                vars::TOKEN
            ),
        )];
    }
    let options = match TokenOptions::from_config(config) {
        Ok(options) => options,
        Err(error) => {
            return vec![
                Check::new(CREDENTIALS, Status::Fail, error.to_string()).fix(token_fix(&error)),
            ];
        }
    };
    let path = options.credentials_file().to_path_buf();
    let source = match TokenSource::detect(options) {
        Ok(Some(source)) => source,
        Ok(None) => {
            // Not a warning: an HTTP deployment gets its tokens from requests.
            return vec![Check::new(
                CREDENTIALS,
                Status::Skip,
                format!(
                    "none: {} is unset, there is no stored login at {}, and no client \
                     credentials are set; over stdio M4 would answer missing_token (run \
                     `m4-auth login`, or set {} and {}, or {})",
                    vars::TOKEN,
                    path.display(),
                    vars::CLIENT_ID,
                    vars::CLIENT_SECRET,
                    vars::TOKEN
                ),
            )];
        }
        Err(error) => {
            return vec![
                Check::new(CREDENTIALS, Status::Fail, error.to_string()).fix(token_fix(&error)),
            ];
        }
    };
    let what = source.kind().to_string();
    let mut checks = vec![Check::new(
        CREDENTIALS,
        Status::Info,
        format!("the stdio path obtains tokens from {what}"),
    )];
    match source.access_token() {
        Ok(token) => {
            checks.push(Check::new(
                CREDENTIALS,
                Status::Pass,
                format!("obtained a token from {what} now"),
            ));
            checks.push(match auth.authenticate(token.expose_secret()) {
                Ok(principal) => Check::new(
                    CREDENTIALS,
                    Status::Pass,
                    format!("m4-auth accepts it (sub {})", principal.sub()),
                ),
                Err(error) => Check::new(
                    CREDENTIALS,
                    Status::Fail,
                    format!(
                        "m4-auth rejects the obtained token ({}): {}",
                        error.code(),
                        error.message()
                    ),
                )
                .fix(fix_for(error.code())),
            });
        }
        Err(error) => checks.push(
            Check::new(
                CREDENTIALS,
                Status::Fail,
                format!(
                    "cannot obtain a token from {what} now ({}): {error}",
                    error.code()
                ),
            )
            .fix(token_fix(&error)),
        ),
    }
    checks
}

/// The fix for a token-client failure without a specific one: the message carries it.
pub(crate) const OTHER_TOKEN_FIX: &str = "see the message above and docs/credentials.md";

/// The fix for a token-client failure (the message carries the details).
pub(crate) fn token_fix(error: &TokenError) -> &'static str {
    match error.code() {
        "login_expired" | "not_logged_in" | "login_mismatch" | "login_denied"
        | "login_code_expired" => "run `m4-auth login`",
        "credentials_file_insecure" => "run the chmod above, or `m4-auth logout` and log in again",
        "token_client_rejected" => "check M4_OAUTH2_CLIENT_ID and M4_OAUTH2_CLIENT_SECRET",
        "token_provider_unreachable" | "token_provider_error" => {
            "check that the provider is reachable and healthy, then try again"
        }
        // The message names the one problem found; the fix lists what a safe file is, since
        // fixing one problem may reveal the next.
        "credentials_file_unsafe" => {
            "the credentials file must be a regular file (not a symbolic link) owned by you with \
             mode 0600, in a directory owned by you (or root) that group and others cannot \
             write (`chmod go-w` it); fix what the message above names, or set \
             M4_OAUTH2_CREDENTIALS_FILE to such a file and run `m4-auth login`"
        }
        "token_endpoint_redirected" => {
            "credentials are never sent after a redirect, so configure the final URL: \
             M4_OAUTH2_ISSUER_URL must be the provider's exact issuer (https rather than http, \
             no missing or extra path), whose discovery document names the final endpoint URLs"
        }
        _ => OTHER_TOKEN_FIX,
    }
}
