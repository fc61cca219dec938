//! `m4-auth`: the operator command for M4's OAuth2 authentication.
//!
//! Exit codes (CONTRACT.md): 0 success or token accepted, 1 token rejected or a check failed,
//! 2 configuration or usage error (clap's own usage errors exit 2 as well).
#![forbid(unsafe_code)]

mod config_claude;
mod credentials_cmd;
mod demo;
mod dev_issuer_cmd;
mod doctor;
mod output;
mod report;
#[cfg(test)]
mod snapshot_tests;
mod token_view;
mod verify;
mod verify_protocol;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Set up, check, explain and demonstrate M4's OAuth2 authentication.
///
/// Settings come from the M4_OAUTH2_* environment variables (see docs/cli.md).
/// Exit codes: 0 success, 1 rejected or a check failed, 2 configuration or usage error.
#[derive(Debug, Parser)]
#[command(
    name = "m4-auth",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify an access token with the M4_OAUTH2_* settings
    ///
    /// One token from --token (or M4_OAUTH2_TOKEN): exit 0 accepted, 1 rejected,
    /// 2 configuration or usage error. With --stdin --json: one token per line, one JSON
    /// answer per line, flushed as each line is handled, one JWKS cache and rate limiter
    /// for the whole stream.
    Verify(VerifyArgs),
    /// Check the OAuth2 setup step by step, with a fix for every failure
    ///
    /// Checks the configuration, OIDC discovery, the JWKS, M4_OAUTH2_TOKEN when set (its
    /// header and claims, never its signature), and which credentials the stdio path uses
    /// and whether a token can be obtained from them now. Exits 1 when any check fails.
    Doctor(DoctorArgs),
    /// Print one fresh access token on stdout, from the stored login or the client credentials
    ///
    /// Nothing else goes to stdout, so `curl -H "Authorization: Bearer $(m4-auth token)"`
    /// works. Exit 0 printed, 1 no token could be obtained (reason on stderr), 2
    /// configuration or usage error.
    Token,
    /// Log in with the device authorization grant and store the login (refresh token)
    ///
    /// Shows a URL and a code to enter there; after approval, the refresh token is stored
    /// owner-only in M4_OAUTH2_CREDENTIALS_FILE (default under the user's config directory).
    /// Needs M4_OAUTH2_ISSUER_URL and M4_OAUTH2_CLIENT_ID.
    Login,
    /// Forget the stored login, revoking its refresh token when the provider can
    Logout,
    /// Write settings into other programs' configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run a local identity provider for development (TEST-ONLY, loopback only)
    ///
    /// Without a subcommand, the same as `serve`.
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    DevIssuer(DevIssuerArgs),
    /// Run a scripted tour against an in-process dev issuer; no identity provider needed
    ///
    /// Valid RS256 and ES256 tokens and one from the client credentials grant accepted;
    /// expired, wrong-audience, missing-scope, tampered and unknown-kid tokens rejected with
    /// their messages; a key rotation picked up; a rate limit reached. Exits 0 only if every
    /// verdict matches.
    Demo(DemoArgs),
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The token, with or without "Bearer "; defaults to M4_OAUTH2_TOKEN
    #[arg(long, value_name = "TOKEN", conflicts_with = "stdin", value_parser = config_claude::secret)]
    token: Option<m4_auth_config::Secret>,
    /// Read one token per line from standard input (requires --json)
    #[arg(long, requires = "json")]
    stdin: bool,
    /// Answer in JSON: {"ok":true,"sub":..,"scopes":[..]} or {"ok":false,"code":..,"message":..}
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct DoctorArgs {
    /// Print the checks as one JSON document
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Add M4's OAuth2 settings to Claude Desktop's config (mcpServers.m4.env)
    ///
    /// Keeps everything else in the file, refuses a file that is not valid JSON, writes
    /// atomically and leaves a backup (FILE.bak, FILE.bak.1, ...). Every M4_OAUTH2_* variable
    /// of the m4 entry is replaced by the ones given here. The token and the client secret
    /// are written only when passed explicitly.
    Claude(config_claude::ClaudeArgs),
}

#[derive(Debug, Args)]
struct DevIssuerArgs {
    #[command(subcommand)]
    command: Option<DevIssuerCommand>,
    #[command(flatten)]
    serve: dev_issuer_cmd::ServeArgs,
}

#[derive(Debug, Subcommand)]
enum DevIssuerCommand {
    /// Serve discovery, a JWKS, POST /mint and a token endpoint on loopback until Ctrl-C (TEST-ONLY)
    ///
    /// Fresh RS256 (RSA-2048) and ES256 (P-256) keys are generated at start and never
    /// leave the process. Anyone on this machine can mint tokens: never expose it.
    Serve(dev_issuer_cmd::ServeArgs),
    /// Ask a running dev issuer for a token and print it
    Mint(dev_issuer_cmd::MintArgs),
    /// Make a running dev issuer replace its keys (new kids); prints the new kids
    Rotate(dev_issuer_cmd::RotateArgs),
    /// Approve (or --deny) a pending device login at a running dev issuer (TEST-ONLY)
    ///
    /// Stands in for the user signing in at a real identity provider: after
    /// `m4-auth login` prints a user code, this lets its next poll get tokens.
    Approve(dev_issuer_cmd::ApproveArgs),
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Print the results as JSON instead of a table
    #[arg(long)]
    json: bool,
}

/// A failure with the exit code it maps to.
#[derive(Debug)]
struct Failure {
    code: u8,
    error: Box<dyn std::error::Error>,
}

impl Failure {
    /// A configuration or usage error: exit 2.
    fn usage(error: impl Into<Box<dyn std::error::Error>>) -> Failure {
        Failure {
            code: 2,
            error: error.into(),
        }
    }

    /// A failed operation or check: exit 1.
    fn failed(error: impl Into<Box<dyn std::error::Error>>) -> Failure {
        Failure {
            code: 1,
            error: error.into(),
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    match cli.command {
        Command::Config(ConfigCommand::Claude(args)) => config_claude::run(&args),
        Command::DevIssuer(DevIssuerArgs { command, serve }) => match command {
            None => dev_issuer_cmd::serve(&serve),
            Some(DevIssuerCommand::Serve(serve)) => dev_issuer_cmd::serve(&serve),
            Some(DevIssuerCommand::Mint(mint)) => dev_issuer_cmd::mint(&mint),
            Some(DevIssuerCommand::Rotate(rotate)) => dev_issuer_cmd::rotate(&rotate),
            Some(DevIssuerCommand::Approve(approve)) => dev_issuer_cmd::approve(&approve),
        },
        Command::Verify(args) => verify::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Token => credentials_cmd::token(),
        Command::Login => credentials_cmd::login(),
        Command::Logout => credentials_cmd::logout_cmd(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(failure) => {
            output::print_error(failure.error.as_ref());
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
