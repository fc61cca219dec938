//! `m4-auth config claude`: M4's OAuth2 settings into Claude Desktop's config.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgGroup, Args};
use m4_auth_cli::claude_config::{self, ChangeKind, EnvUpdate};
use m4_auth_config::{AuthConfig, Secret, vars};

use crate::Failure;
use crate::output::Style;

/// A command-line value that must never be shown: `Secret`'s `Debug` prints `[redacted]`.
pub(crate) fn secret(value: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::new(value))
}

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("mode").required(true).args(["enable_oauth2", "disable_oauth2"])))]
pub(crate) struct ClaudeArgs {
    /// Turn OAuth2 on (needs --oauth2-issuer and --oauth2-audience)
    #[arg(long, requires_all = ["oauth2_issuer", "oauth2_audience"])]
    enable_oauth2: bool,
    /// Turn OAuth2 off: M4_OAUTH2_ENABLED=false, every other M4_OAUTH2_* variable removed
    #[arg(long)]
    disable_oauth2: bool,
    /// The issuer URL (M4_OAUTH2_ISSUER_URL); https, or http on loopback
    #[arg(long, value_name = "URL", conflicts_with = "disable_oauth2")]
    oauth2_issuer: Option<String>,
    /// The audience tokens must carry (M4_OAUTH2_AUDIENCE)
    #[arg(long, value_name = "AUD", conflicts_with = "disable_oauth2")]
    oauth2_audience: Option<String>,
    /// Required scopes, comma-separated (M4_OAUTH2_REQUIRED_SCOPES; default read:mimic-data)
    #[arg(long, value_name = "SCOPES", conflicts_with = "disable_oauth2")]
    oauth2_scopes: Option<String>,
    /// The JWKS URL (M4_OAUTH2_JWKS_URL; default: OIDC discovery from the issuer)
    #[arg(long, value_name = "URL", conflicts_with = "disable_oauth2")]
    oauth2_jwks_url: Option<String>,
    /// Requests per user per window (M4_OAUTH2_RATE_LIMIT_REQUESTS; default 100)
    #[arg(long, value_name = "N", conflicts_with = "disable_oauth2")]
    rate_limit_requests: Option<u32>,
    /// Client id, if your provider needs one (M4_OAUTH2_CLIENT_ID)
    #[arg(long, value_name = "ID", conflicts_with = "disable_oauth2")]
    oauth2_client_id: Option<String>,
    /// Client secret (M4_OAUTH2_CLIENT_SECRET); written only when given, never printed
    #[arg(long, value_name = "SECRET", conflicts_with = "disable_oauth2", value_parser = secret)]
    oauth2_client_secret: Option<Secret>,
    /// Access token (M4_OAUTH2_TOKEN); written only when given, never printed
    #[arg(long, value_name = "TOKEN", conflicts_with = "disable_oauth2", value_parser = secret)]
    oauth2_token: Option<Secret>,
    /// Instead of a pasted token, have M4 obtain fresh tokens from the login `m4-auth login`
    /// stored: writes M4_OAUTH2_CREDENTIALS_FILE (the file's absolute path) and no token.
    /// Needs --oauth2-client-id (the client the login was made with)
    #[arg(
        long,
        requires_all = ["enable_oauth2", "oauth2_client_id"],
        conflicts_with_all = ["oauth2_token", "use_client_credentials"]
    )]
    use_login: bool,
    /// Where the stored login is (M4_OAUTH2_CREDENTIALS_FILE; default: the user's
    /// configuration directory, see docs/credentials.md)
    #[arg(long, value_name = "PATH", requires = "use_login")]
    credentials_file: Option<PathBuf>,
    /// Instead of a pasted token, have M4 obtain fresh tokens with the client credentials
    /// grant: needs --oauth2-client-id and --oauth2-client-secret, writes no token
    #[arg(
        long,
        requires_all = ["enable_oauth2", "oauth2_client_id", "oauth2_client_secret"],
        conflicts_with = "oauth2_token"
    )]
    use_client_credentials: bool,
    /// The Claude Desktop config file (default: the operating system's location)
    #[arg(long, value_name = "PATH")]
    config_path: Option<PathBuf>,
    /// The command (and arguments) that starts M4's MCP server: replaces the m4 entry's
    /// command and args, and creates the entry when there is none. For arguments that start
    /// with '-', give the whole command after "--" instead: -- python -m m4.mcp_server
    #[arg(long, value_name = "CMD", num_args = 1..)]
    server_command: Option<Vec<String>>,
    /// The server command, as everything after "--" (same meaning as --server-command)
    #[arg(last = true, value_name = "CMD", conflicts_with = "server_command")]
    server_command_after: Vec<String>,
    /// Print the resulting file (secrets masked) instead of writing it
    #[arg(long)]
    dry_run: bool,
}

/// Why the flags do not make a valid configuration.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InvalidSettings {
    /// The settings the flags make, refused by m4-auth-config.
    #[error("these settings would not work; the flags set the variables named below:\n{0}")]
    Config(m4_auth_config::ConfigError),
    /// `--credentials-file` (or the default location) is not a usable path.
    #[error("--use-login cannot name the stored login: {0}")]
    CredentialsFile(String),
    /// `--oauth2-token` was given but holds nothing to write.
    #[error(
        "--oauth2-token holds no token (it is empty or only \"Bearer\"): pass the access token, or leave the flag out"
    )]
    EmptyToken,
}

/// The `M4_OAUTH2_*` variables the arguments ask for: validated as an [`AuthConfig`] first,
/// then [`AuthConfig::to_env`] (values equal to their default left out), `M4_OAUTH2_ENABLED`
/// always first and explicit, the token last and only when given.
fn oauth2_env(args: &ClaudeArgs) -> Result<Vec<(String, String)>, InvalidSettings> {
    let mut builder = AuthConfig::builder().enabled(args.enable_oauth2);
    if let Some(issuer) = &args.oauth2_issuer {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = &args.oauth2_audience {
        builder = builder.audience(audience);
    }
    if let Some(scopes) = &args.oauth2_scopes {
        builder = builder.required_scopes(scopes.split(',').map(str::trim));
    }
    if let Some(jwks_url) = &args.oauth2_jwks_url {
        builder = builder.jwks_url(jwks_url);
    }
    if let Some(requests) = args.rate_limit_requests {
        builder = builder.rate_limit_requests(requests);
    }
    if let Some(client_id) = &args.oauth2_client_id {
        builder = builder.client_id(client_id);
    }
    if let Some(client_secret) = &args.oauth2_client_secret {
        builder = builder.client_secret(client_secret.clone());
    }
    if let Some(token) = &args.oauth2_token {
        builder = builder.token(token.clone());
    }
    let config = builder.build().map_err(InvalidSettings::Config)?.config;
    // The builder reads an empty or "Bearer"-only token as none; a flag the user passed is
    // never dropped without a word.
    if args.oauth2_token.is_some() && config.token().is_none() {
        return Err(InvalidSettings::EmptyToken);
    }
    let enabled = (vars::ENABLED.to_owned(), args.enable_oauth2.to_string());
    let rest = config
        .to_env(false)
        .into_iter()
        .filter(|(name, _)| *name != vars::ENABLED)
        .map(|(name, value)| (name.to_owned(), value));
    let token = config
        .token()
        .map(|t| (vars::TOKEN.to_owned(), t.expose_secret().to_owned()));
    let credentials = if args.use_login {
        Some((
            vars::CREDENTIALS_FILE.to_owned(),
            credentials_file(args, &config)?,
        ))
    } else {
        None
    };
    Ok(std::iter::once(enabled)
        .chain(rest)
        .chain(credentials)
        .chain(token)
        .collect())
}

/// The absolute path of the stored login for `--use-login`: the flag's, or the default
/// location as `m4-auth login` in this environment would use it. Claude Desktop may start
/// M4 with another environment, so the path is always written out.
fn credentials_file(args: &ClaudeArgs, config: &AuthConfig) -> Result<String, InvalidSettings> {
    let path = match &args.credentials_file {
        Some(path) => std::path::absolute(path)
            .map_err(|e| InvalidSettings::CredentialsFile(e.to_string()))?,
        None => m4_auth_token::default_credentials_path()
            .map_err(|e| InvalidSettings::CredentialsFile(e.to_string()))?,
    };
    let text = path.to_str().map(str::to_owned).ok_or_else(|| {
        InvalidSettings::CredentialsFile(format!("{} is not valid UTF-8", path.display()))
    })?;
    // Validated as the variable it becomes (control characters refused).
    AuthConfig::from_vars([(vars::CREDENTIALS_FILE, text.as_str())])
        .map_err(InvalidSettings::Config)?;
    match m4_auth_token::CredentialsFile::new(&path).load() {
        Ok(Some(login))
            if config.issuer().is_some_and(|i| i.as_str() == login.issuer)
                && config.client_id() == Some(login.client_id.as_str()) => {}
        Ok(Some(_)) => crate::output::warn([format!(
            "the stored login in {} is for another issuer or client; run `m4-auth login` with \
             these settings before starting M4",
            path.display()
        )]),
        Ok(None) => crate::output::warn([format!(
            "there is no stored login in {} yet; run `m4-auth login` with these settings \
             before starting M4",
            path.display()
        )]),
        Err(e) => crate::output::warn([e]),
    }
    Ok(text)
}

pub(crate) fn run(args: &ClaudeArgs) -> Result<ExitCode, Failure> {
    let env = oauth2_env(args).map_err(Failure::usage)?;
    let path = match &args.config_path {
        Some(path) => path.clone(),
        None => claude_config::default_config_path().map_err(Failure::usage)?,
    };
    let server_command = match (&args.server_command, args.server_command_after.is_empty()) {
        (Some(command), _) => Some(command.clone()),
        (None, false) => Some(args.server_command_after.clone()),
        (None, true) => None,
    };
    let update = EnvUpdate {
        env,
        server_command,
    };
    let applied = claude_config::apply(&path, &update, args.dry_run).map_err(|e| match e {
        m4_auth_cli::Error::WriteConfig { .. } | m4_auth_cli::Error::Backup { .. } => {
            Failure::failed(e)
        }
        other => Failure::usage(other),
    })?;
    let style = Style::stdout();
    if args.dry_run {
        print!("{}", applied.merged.masked_text());
        eprintln!(
            "dry run: {} was not changed (environment values other than non-secret M4_OAUTH2_* settings are shown masked)",
            applied.path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut report = String::new();
    if applied.written {
        report.push_str(&format!(
            "{} wrote mcpServers.m4.env in {}\n",
            style.good("✓"),
            applied.path.display()
        ));
    } else {
        report.push_str(&format!(
            "{} {} already has these settings; nothing written\n",
            style.good("✓"),
            applied.path.display()
        ));
    }
    if applied.merged.created_entry {
        report.push_str("  created the mcpServers.m4 entry\n");
    }
    for change in &applied.merged.changes {
        let line = match change.kind {
            ChangeKind::Added => format!("  + {}={}", change.name, change.shown),
            ChangeKind::Changed => format!("  ~ {}={}", change.name, change.shown),
            ChangeKind::Unchanged => style.dim(&format!("    {}={}", change.name, change.shown)),
            ChangeKind::Removed => format!("  - {}", change.name),
        };
        report.push_str(&line);
        report.push('\n');
    }
    if let Some(backup) = &applied.backup {
        report.push_str(&format!(
            "  backup of the previous file: {}\n",
            backup.display()
        ));
    }
    if applied.written {
        report.push_str("Restart Claude Desktop to apply the change.\n");
    }
    print!("{report}");
    Ok(ExitCode::SUCCESS)
}
