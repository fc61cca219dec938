//! `m4-auth dev-issuer serve|mint|rotate|approve`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use m4_dev_issuer::{
    DEFAULT_AUDIENCE, DEFAULT_CLIENT_SECRET, DEFAULT_CONFIDENTIAL_CLIENT_ID, DEFAULT_PORT,
    DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_SCOPE, DevIssuer, DevIssuerOptions, DeviceDecision,
    MintRequest, OldKeys, RequestLog, SigningAlg, decide_device_remote, mint_remote, rotate_remote,
};
use serde_json::json;

use crate::Failure;
use crate::output::Style;

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Loopback address to listen on (127.0.0.1 or ::1; anything else is refused)
    #[arg(long, value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on (0: any free port)
    #[arg(long, short, value_name = "PORT", default_value_t = DEFAULT_PORT)]
    port: u16,
    /// The audience (aud) of minted tokens
    #[arg(long, value_name = "AUD", default_value = DEFAULT_AUDIENCE)]
    audience: String,
    /// Lifetime of access tokens from the token endpoint, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    access_token_ttl: u64,
    /// Minimum seconds between polls of a device login (RFC 8628 interval)
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    device_interval: u64,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// The user code `m4-auth login` printed (case-insensitive, dash optional)
    #[arg(value_name = "USER_CODE")]
    user_code: String,
    /// Deny the login instead of approving it
    #[arg(long)]
    deny: bool,
    #[command(flatten)]
    at: RunningIssuer,
}

/// Where the running dev issuer is, for `mint`, `rotate` and `approve`.
#[derive(Debug, Args)]
pub(crate) struct RunningIssuer {
    /// The running dev issuer (loopback http only)
    #[arg(
        long,
        value_name = "URL",
        env = "M4_OAUTH2_ISSUER_URL",
        default_value_t = format!("http://127.0.0.1:{DEFAULT_PORT}")
    )]
    issuer_url: String,
}

#[derive(Debug, Args)]
pub(crate) struct MintArgs {
    /// The subject (sub) of the token
    #[arg(long, value_name = "SUB")]
    sub: String,
    /// A scope to grant; repeat, or separate with spaces or commas
    #[arg(long = "scope", value_name = "SCOPE", default_value = DEFAULT_SCOPE)]
    scopes: Vec<String>,
    /// Seconds until the token expires (zero or negative: already expired)
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 3600,
        allow_negative_numbers = true
    )]
    ttl: i64,
    /// Signing algorithm: RS256 or ES256
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    alg: SigningAlg,
    /// The audience (aud); defaults to the issuer's
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    #[command(flatten)]
    at: RunningIssuer,
    /// Print {"access_token":..,"token_type":"Bearer","expires_in":..} instead of the bare token
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// Remove the old keys from the JWKS at once (default: keep publishing them)
    #[arg(long)]
    remove_old: bool,
    #[command(flatten)]
    at: RunningIssuer,
}

fn issuer_failure(e: m4_dev_issuer::Error) -> Failure {
    match e {
        m4_dev_issuer::Error::IssuerUrlNotLoopback { .. } => Failure::usage(e),
        other => Failure::failed(other),
    }
}

pub(crate) fn rotate(args: &RotateArgs) -> Result<ExitCode, Failure> {
    let old = if args.remove_old {
        OldKeys::Remove
    } else {
        OldKeys::Keep
    };
    let kids = rotate_remote(&args.at.issuer_url, old).map_err(issuer_failure)?;
    println!("{}", kids.join("\n"));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn approve(args: &ApproveArgs) -> Result<ExitCode, Failure> {
    let decision = if args.deny {
        DeviceDecision::Deny
    } else {
        DeviceDecision::Approve
    };
    decide_device_remote(&args.at.issuer_url, &args.user_code, decision).map_err(issuer_failure)?;
    let done = if args.deny { "denied" } else { "approved" };
    println!("device login {} {done}", args.user_code.trim());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn serve(args: &ServeArgs) -> Result<ExitCode, Failure> {
    let issuer = DevIssuer::start(DevIssuerOptions {
        host: args.host,
        port: args.port,
        audience: args.audience.clone(),
        // The request log names method, path and status only: never a token or secret.
        on_request: Some(Arc::new(|log: &RequestLog| {
            eprintln!("{} {} -> {}", log.method, log.path, log.status);
        })),
        // The default clients: DEFAULT_CONFIDENTIAL_CLIENT_ID with DEFAULT_CLIENT_SECRET and
        // the public DEFAULT_PUBLIC_CLIENT_ID, as the banner says.
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        device_interval: Duration::from_secs(args.device_interval),
        ..DevIssuerOptions::default()
    })
    .map_err(Failure::usage)?;
    let style = Style::stdout();
    let url = issuer.issuer_url();
    let kids: Vec<String> = SigningAlg::ALL
        .into_iter()
        .filter_map(|alg| issuer.kid(alg).ok().map(|kid| format!("{kid} ({alg})")))
        .collect();
    let mut out = std::io::stdout().lock();
    let banner = format!(
        "m4-auth dev issuer listening on {url}\n\
         {}\n\
         \x20 discovery  {url}/.well-known/openid-configuration\n\
         \x20 jwks       {}\n\
         \x20 keys       {}\n\
         \x20 token      {} (client_credentials, device_code, refresh_token)\n\
         \x20 device     {}\n\
         \x20 revoke     {}\n\
         \x20 clients    {DEFAULT_CONFIDENTIAL_CLIENT_ID} (confidential), {DEFAULT_PUBLIC_CLIENT_ID} (public)\n\
         \n\
         Point M4 at it:\n",
        style.warn("TEST-ONLY: anyone on this machine can mint tokens here; never expose it."),
        issuer.jwks_url(),
        kids.join(", "),
        issuer.token_endpoint(),
        issuer.device_authorization_endpoint(),
        issuer.revocation_endpoint(),
    );
    let mut text = banner;
    for (name, value) in issuer.env() {
        text.push_str(&format!("export {name}={value}\n"));
    }
    text.push_str(&format!(
        "\nMint a token:\n\
         export M4_OAUTH2_TOKEN=\"$(m4-auth dev-issuer mint --issuer-url {url} --sub alice --scope {DEFAULT_SCOPE})\"\n\
         \n\
         Or get tokens that stay fresh, as a service (client credentials; this secret is a\n\
         published test-only constant: the dev issuer protects nothing):\n\
         export M4_OAUTH2_CLIENT_ID={DEFAULT_CONFIDENTIAL_CLIENT_ID}\n\
         export M4_OAUTH2_CLIENT_SECRET={DEFAULT_CLIENT_SECRET}\n\
         m4-auth token\n\
         \n\
         Or as a person (device login with the public client; approve the code it prints):\n\
         M4_OAUTH2_CLIENT_ID={DEFAULT_PUBLIC_CLIENT_ID} m4-auth login\n\
         m4-auth dev-issuer approve --issuer-url {url} USER_CODE\n\
         \n\
         {}\n",
        style.dim("Press Ctrl-C to stop."),
    ));
    // Flush now: whoever reads our output (a script, a test) needs the URL before we block.
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::failed)?;
    drop(out);
    issuer.wait();
    Ok(ExitCode::SUCCESS)
}

/// `--scope a --scope "b c,d"` becomes `[a, b, c, d]`.
fn split_scopes(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn mint(args: &MintArgs) -> Result<ExitCode, Failure> {
    let request = MintRequest {
        sub: args.sub.clone(),
        scopes: split_scopes(&args.scopes),
        ttl: args.ttl,
        alg: args.alg,
        audience: args.audience.clone(),
        ..MintRequest::default()
    };
    let minted = mint_remote(&args.at.issuer_url, &request).map_err(issuer_failure)?;
    // Printing the token is this command's purpose: it is a dev issuer token.
    let line = if args.json {
        json!({
            "access_token": minted.access_token,
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
        })
        .to_string()
    } else {
        minted.access_token
    };
    println!("{line}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::split_scopes;

    #[track_caller]
    fn check(values: &[&str], expected: &[&str]) {
        let values: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(split_scopes(&values), expected);
    }

    #[test]
    fn scopes_split_on_spaces_and_commas() {
        check(&["read:mimic-data"], &["read:mimic-data"]);
        check(&["a", "b"], &["a", "b"]);
        check(&["a b,c", " d "], &["a", "b", "c", "d"]);
        check(&[""], &[]);
    }
}
