//! [`AuthConfig`]: the typed configuration, and how it is loaded from `M4_OAUTH2_*` pairs.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::algorithm::{Algorithm, RateLimitBackend};
use crate::builder::AuthConfigBuilder;
use crate::error::{ConfigError, Problem, UrlError};
use crate::secret::Secret;
use crate::url::{EndpointUrl, RedisUrl, redact_userinfo};
use crate::vars::{self, ONE_YEAR};
use crate::warning::{self, Warning};

/// The validated m4-auth configuration.
///
/// Every value in it has passed validation: build one with [`AuthConfig::from_env`],
/// [`AuthConfig::from_vars`] or [`AuthConfig::builder`].
/// When [`enabled`](AuthConfig::enabled) is true, [`issuer`](AuthConfig::issuer) and
/// [`audience`](AuthConfig::audience) are always `Some`.
/// `Debug` shows the client secret and the token as `[redacted]`, and a Redis password too.
///
/// ```
/// use m4_auth_config::AuthConfig;
///
/// let loaded = AuthConfig::from_vars([
///     ("M4_OAUTH2_ENABLED", "true"),
///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
///     ("M4_OAUTH2_AUDIENCE", "m4-api"),
///     ("PATH", "/usr/bin"), // not M4_OAUTH2_*: ignored
/// ])?;
/// let config = loaded.config;
/// assert!(config.enabled());
/// assert_eq!(config.issuer().map(|u| u.as_str()), Some("https://idp.example.com/"));
/// assert_eq!(config.required_scopes(), ["read:mimic-data"]);
/// assert_eq!(config.rate_limit_window().as_secs(), 3600);
/// assert!(loaded.warnings.is_empty());
/// # Ok::<(), m4_auth_config::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    enabled: bool,
    issuer: Option<EndpointUrl>,
    audience: Option<String>,
    required_scopes: Vec<String>,
    jwks_url: Option<EndpointUrl>,
    jwks_cache_ttl: Duration,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    validate_exp: bool,
    validate_aud: bool,
    validate_iss: bool,
    rate_limit_enabled: bool,
    rate_limit_requests: u32,
    rate_limit_window: Duration,
    token: Option<Secret>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    http_timeout: Duration,
    jwks_refresh_cooldown: Duration,
    jwks_max_stale: Duration,
    rate_limit_max_users: usize,
    rate_limit_backend: RateLimitBackend,
    token_cache_size: usize,
    resource_url: Option<EndpointUrl>,
}

/// A successfully loaded configuration and the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Loaded {
    /// The configuration.
    pub config: AuthConfig,
    /// Warnings to show the operator (unknown variables, disabled checks, ...).
    pub warnings: Vec<Warning>,
}

impl Default for AuthConfig {
    /// The configuration with nothing set: authentication disabled, every default in place.
    fn default() -> Self {
        Self {
            enabled: false,
            issuer: None,
            audience: None,
            required_scopes: vec!["read:mimic-data".to_owned()],
            jwks_url: None,
            jwks_cache_ttl: Duration::from_secs(3600),
            client_id: None,
            client_secret: None,
            validate_exp: true,
            validate_aud: true,
            validate_iss: true,
            rate_limit_enabled: true,
            rate_limit_requests: 100,
            rate_limit_window: Duration::from_secs(3600),
            token: None,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256],
            leeway: Duration::from_secs(60),
            http_timeout: Duration::from_secs(10),
            jwks_refresh_cooldown: Duration::from_secs(30),
            jwks_max_stale: Duration::from_secs(86400),
            rate_limit_max_users: 10_000,
            rate_limit_backend: RateLimitBackend::Memory,
            token_cache_size: 4096,
            resource_url: None,
        }
    }
}

impl AuthConfig {
    /// Load from the process environment (`M4_OAUTH2_*` variables; others are not looked at).
    ///
    /// A value that is not valid UTF-8 is a [`Problem::NotUnicode`], never a panic.
    ///
    /// ```no_run
    /// match m4_auth_config::AuthConfig::from_env() {
    ///     Ok(loaded) => {
    ///         for warning in &loaded.warnings {
    ///             eprintln!("warning: {warning}");
    ///         }
    ///     }
    ///     Err(err) => {
    ///         eprintln!("{err}");
    ///         std::process::exit(2);
    ///     }
    /// }
    /// ```
    pub fn from_env() -> Result<Loaded, ConfigError> {
        load(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.into_string().ok(),
            )
        }))
    }

    /// Load from any `(name, value)` pairs, as if they were the environment.
    ///
    /// Names that do not start with `M4_OAUTH` (in any case) are ignored, so a whole
    /// environment can be passed; unknown `M4_OAUTH*` names become warnings, except a near
    /// miss of `M4_OAUTH2_ENABLED` (in any case), which is a [`Problem::MisspeltEnabled`].
    /// Tests use this instead of mutating the process environment.
    ///
    /// ```
    /// use m4_auth_config::AuthConfig;
    ///
    /// let err = AuthConfig::from_vars([("M4_OAUTH2_ENABLED", "ture")]).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "M4_OAUTH2_ENABLED=\"ture\" is not a boolean: expected true or false (also 1/0, yes/no, on/off, in any case)"
    /// );
    /// ```
    pub fn from_vars<I, K, V>(vars: I) -> Result<Loaded, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        load(
            vars.into_iter()
                .map(|(k, v)| (k.as_ref().to_owned(), Some(v.as_ref().to_owned()))),
        )
    }

    /// A builder for programmatic use; `build()` applies the same validation as
    /// [`AuthConfig::from_vars`].
    ///
    /// ```
    /// use m4_auth_config::AuthConfig;
    ///
    /// let config = AuthConfig::builder()
    ///     .enabled(true)
    ///     .issuer("https://idp.example.com/")
    ///     .audience("m4-api")
    ///     .build()?
    ///     .config;
    /// assert_eq!(config.audience(), Some("m4-api"));
    /// # Ok::<(), m4_auth_config::ConfigError>(())
    /// ```
    pub fn builder() -> AuthConfigBuilder {
        AuthConfigBuilder::new()
    }

    /// The `(name, value)` pairs that reproduce this configuration, in the order of
    /// [`vars::ALL`], to write into an MCP client's configuration.
    ///
    /// Values equal to their default are left out unless `include_defaults` is true.
    /// The token is never included.
    /// The client secret and a Redis URL's password **are** included in clear, because the
    /// consumer needs them: treat the result as secret.
    ///
    /// ```
    /// use m4_auth_config::AuthConfig;
    ///
    /// let config = AuthConfig::builder()
    ///     .enabled(true)
    ///     .issuer("https://idp.example.com/")
    ///     .audience("m4-api")
    ///     .build()?
    ///     .config;
    /// let env = config.to_env(false);
    /// assert_eq!(
    ///     env,
    ///     [
    ///         ("M4_OAUTH2_ENABLED", "true".to_owned()),
    ///         ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/".to_owned()),
    ///         ("M4_OAUTH2_AUDIENCE", "m4-api".to_owned()),
    ///     ]
    /// );
    /// // everything but the token and the three unset options (JWKS URL, client id, secret)
    /// assert_eq!(config.to_env(true).len(), 19);
    /// # Ok::<(), m4_auth_config::ConfigError>(())
    /// ```
    pub fn to_env(&self, include_defaults: bool) -> Vec<(&'static str, String)> {
        let secs = |d: Duration| d.as_secs().to_string();
        let b = |v: bool| if v { "true" } else { "false" }.to_owned();
        let join = |items: &mut dyn Iterator<Item = &str>| items.collect::<Vec<_>>().join(",");
        let values: [(&'static str, Option<String>); 24] = [
            (vars::ENABLED, Some(b(self.enabled))),
            (
                vars::ISSUER_URL,
                self.issuer.as_ref().map(|u| u.as_str().to_owned()),
            ),
            (vars::AUDIENCE, self.audience.clone()),
            (
                vars::REQUIRED_SCOPES,
                Some(join(&mut self.required_scopes.iter().map(|s| s.as_str()))),
            ),
            (
                vars::JWKS_URL,
                self.jwks_url.as_ref().map(|u| u.as_str().to_owned()),
            ),
            (vars::JWKS_CACHE_TTL, Some(secs(self.jwks_cache_ttl))),
            (vars::CLIENT_ID, self.client_id.clone()),
            (
                vars::CLIENT_SECRET,
                self.client_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned()),
            ),
            (vars::VALIDATE_EXP, Some(b(self.validate_exp))),
            (vars::VALIDATE_AUD, Some(b(self.validate_aud))),
            (vars::VALIDATE_ISS, Some(b(self.validate_iss))),
            (vars::RATE_LIMIT_ENABLED, Some(b(self.rate_limit_enabled))),
            (
                vars::RATE_LIMIT_REQUESTS,
                Some(self.rate_limit_requests.to_string()),
            ),
            (vars::RATE_LIMIT_WINDOW, Some(secs(self.rate_limit_window))),
            (vars::TOKEN, None),
            (
                vars::ALGORITHMS,
                Some(join(&mut self.algorithms.iter().map(|a| a.as_str()))),
            ),
            (vars::LEEWAY, Some(secs(self.leeway))),
            (vars::HTTP_TIMEOUT, Some(secs(self.http_timeout))),
            (
                vars::JWKS_REFRESH_COOLDOWN,
                Some(secs(self.jwks_refresh_cooldown)),
            ),
            (vars::JWKS_MAX_STALE, Some(secs(self.jwks_max_stale))),
            (
                vars::RATE_LIMIT_MAX_USERS,
                Some(self.rate_limit_max_users.to_string()),
            ),
            (
                vars::RATE_LIMIT_BACKEND,
                Some(match &self.rate_limit_backend {
                    RateLimitBackend::Memory => "memory".to_owned(),
                    RateLimitBackend::Redis(url) => url.expose_url().to_owned(),
                }),
            ),
            (
                vars::TOKEN_CACHE_SIZE,
                Some(self.token_cache_size.to_string()),
            ),
            (
                vars::RESOURCE_URL,
                self.resource_url.as_ref().map(|u| u.as_str().to_owned()),
            ),
        ];
        values
            .into_iter()
            .filter_map(|(name, value)| {
                let value = value?;
                let is_default = vars::spec(name).default == Some(value.as_str());
                (include_defaults || !is_default).then_some((name, value))
            })
            .collect()
    }

    /// Whether tokens are verified at all (`M4_OAUTH2_ENABLED`, default false).
    ///
    /// ```
    /// assert!(!m4_auth_config::AuthConfig::default().enabled());
    /// ```
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The issuer (`M4_OAUTH2_ISSUER_URL`), exactly as configured; `Some` whenever enabled.
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().issuer().is_none());
    /// ```
    pub fn issuer(&self) -> Option<&EndpointUrl> {
        self.issuer.as_ref()
    }

    /// The required audience (`M4_OAUTH2_AUDIENCE`); `Some` whenever enabled.
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().audience().is_none());
    /// ```
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The scopes every token must hold, trimmed, deduplicated, in first-seen order
    /// (`M4_OAUTH2_REQUIRED_SCOPES`, default `read:mimic-data`); never empty.
    ///
    /// ```
    /// let loaded = m4_auth_config::AuthConfig::from_vars([
    ///     ("M4_OAUTH2_REQUIRED_SCOPES", " b, a,,b "),
    /// ]).unwrap();
    /// assert_eq!(loaded.config.required_scopes(), ["b", "a"]);
    /// ```
    pub fn required_scopes(&self) -> &[String] {
        &self.required_scopes
    }

    /// The JWKS URL (`M4_OAUTH2_JWKS_URL`); `None` means discover it from the issuer.
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().jwks_url().is_none());
    /// ```
    pub fn jwks_url(&self) -> Option<&EndpointUrl> {
        self.jwks_url.as_ref()
    }

    /// How long a fetched JWKS stays fresh (`M4_OAUTH2_JWKS_CACHE_TTL`, default 1 hour).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().jwks_cache_ttl().as_secs(), 3600);
    /// ```
    pub fn jwks_cache_ttl(&self) -> Duration {
        self.jwks_cache_ttl
    }

    /// The OAuth2 client id (`M4_OAUTH2_CLIENT_ID`), if set.
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().client_id().is_none());
    /// ```
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The OAuth2 client secret (`M4_OAUTH2_CLIENT_SECRET`), if set, kept verbatim.
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().client_secret().is_none());
    /// ```
    pub fn client_secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// Whether `exp` is checked (`M4_OAUTH2_VALIDATE_EXP`, default true).
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().validate_exp());
    /// ```
    pub fn validate_exp(&self) -> bool {
        self.validate_exp
    }

    /// Whether `aud` is checked (`M4_OAUTH2_VALIDATE_AUD`, default true).
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().validate_aud());
    /// ```
    pub fn validate_aud(&self) -> bool {
        self.validate_aud
    }

    /// Whether `iss` is checked (`M4_OAUTH2_VALIDATE_ISS`, default true).
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().validate_iss());
    /// ```
    pub fn validate_iss(&self) -> bool {
        self.validate_iss
    }

    /// Whether per-user rate limiting is on (`M4_OAUTH2_RATE_LIMIT_ENABLED`, default true).
    ///
    /// ```
    /// assert!(m4_auth_config::AuthConfig::default().rate_limit_enabled());
    /// ```
    pub fn rate_limit_enabled(&self) -> bool {
        self.rate_limit_enabled
    }

    /// Requests allowed per user per window (`M4_OAUTH2_RATE_LIMIT_REQUESTS`, default 100).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().rate_limit_requests(), 100);
    /// ```
    pub fn rate_limit_requests(&self) -> u32 {
        self.rate_limit_requests
    }

    /// The rate-limit window (`M4_OAUTH2_RATE_LIMIT_WINDOW`, default 1 hour).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().rate_limit_window().as_secs(), 3600);
    /// ```
    pub fn rate_limit_window(&self) -> Duration {
        self.rate_limit_window
    }

    /// The client's access token (`M4_OAUTH2_TOKEN`) without any `Bearer ` prefix; `None`
    /// when unset, empty or only `Bearer`.
    ///
    /// ```
    /// let loaded = m4_auth_config::AuthConfig::from_vars([("M4_OAUTH2_TOKEN", "Bearer abc")]).unwrap();
    /// assert_eq!(loaded.config.token().map(|t| t.expose_secret()), Some("abc"));
    /// ```
    pub fn token(&self) -> Option<&Secret> {
        self.token.as_ref()
    }

    /// The accepted signature algorithms, deduplicated, in configured order
    /// (`M4_OAUTH2_ALGORITHMS`, default RS256, ES256); never empty.
    ///
    /// ```
    /// use m4_auth_config::{Algorithm, AuthConfig};
    /// assert_eq!(AuthConfig::default().algorithms(), [Algorithm::RS256, Algorithm::ES256]);
    /// ```
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.algorithms
    }

    /// Clock skew allowed for `exp` and `nbf` (`M4_OAUTH2_LEEWAY`, default 60 s, at most 300 s).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().leeway().as_secs(), 60);
    /// ```
    pub fn leeway(&self) -> Duration {
        self.leeway
    }

    /// Time allowed per JWKS or discovery request (`M4_OAUTH2_HTTP_TIMEOUT`, default 10 s).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().http_timeout().as_secs(), 10);
    /// ```
    pub fn http_timeout(&self) -> Duration {
        self.http_timeout
    }

    /// Minimum time between JWKS refetches forced by unknown kids
    /// (`M4_OAUTH2_JWKS_REFRESH_COOLDOWN`, default 30 s).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().jwks_refresh_cooldown().as_secs(), 30);
    /// ```
    pub fn jwks_refresh_cooldown(&self) -> Duration {
        self.jwks_refresh_cooldown
    }

    /// How long cached keys keep serving while the JWKS endpoint fails
    /// (`M4_OAUTH2_JWKS_MAX_STALE`, default 1 day).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().jwks_max_stale().as_secs(), 86400);
    /// ```
    pub fn jwks_max_stale(&self) -> Duration {
        self.jwks_max_stale
    }

    /// How many users the rate limiter tracks before evicting the least recently seen
    /// (`M4_OAUTH2_RATE_LIMIT_MAX_USERS`, default 10000).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().rate_limit_max_users(), 10_000);
    /// ```
    pub fn rate_limit_max_users(&self) -> usize {
        self.rate_limit_max_users
    }

    /// Where rate-limit counters live (`M4_OAUTH2_RATE_LIMIT_BACKEND`, default memory).
    ///
    /// ```
    /// use m4_auth_config::{AuthConfig, RateLimitBackend};
    /// assert_eq!(AuthConfig::default().rate_limit_backend(), &RateLimitBackend::Memory);
    /// ```
    pub fn rate_limit_backend(&self) -> &RateLimitBackend {
        &self.rate_limit_backend
    }

    /// Verified-token cache entries (`M4_OAUTH2_TOKEN_CACHE_SIZE`, default 4096; 0 disables).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::AuthConfig::default().token_cache_size(), 4096);
    /// ```
    pub fn token_cache_size(&self) -> usize {
        self.token_cache_size
    }

    /// The public URL of the MCP endpoint as clients reach it (`M4_OAUTH2_RESOURCE_URL`): the
    /// RFC 9728 `resource` an HTTP MCP server publishes (m4-auth-http). `None` when unset.
    ///
    /// ```
    /// use m4_auth_config::AuthConfig;
    ///
    /// assert!(AuthConfig::default().resource_url().is_none());
    /// let c = AuthConfig::from_vars([("M4_OAUTH2_RESOURCE_URL", "https://m4.example.org/mcp")])?
    ///     .config;
    /// assert_eq!(c.resource_url().map(|u| u.path()), Some("/mcp"));
    /// assert!(AuthConfig::from_vars([("M4_OAUTH2_RESOURCE_URL", "http://m4.example.org/mcp")]).is_err());
    /// # Ok::<(), m4_auth_config::ConfigError>(())
    /// ```
    pub fn resource_url(&self) -> Option<&EndpointUrl> {
        self.resource_url.as_ref()
    }
}

/// One raw value: `None` when the environment held non-UTF-8 bytes.
type Raw = Option<String>;

/// What looking a variable up found.
enum Lookup {
    /// Not set: use the default.
    Unset,
    /// Set but unusable; the problem is already recorded.
    Bad,
    /// Set, trimmed, non-empty.
    Value(String),
}

/// Collects values and problems while one configuration is read.
struct Reader {
    values: BTreeMap<&'static str, Raw>,
    duplicates: Vec<&'static str>,
    problems: Vec<Problem>,
}

impl Reader {
    fn is_set(&self, var: &'static str) -> bool {
        self.values.contains_key(var)
    }

    /// The raw (untrimmed) value, recording duplicate and non-UTF-8 problems.
    fn raw(&mut self, var: &'static str) -> Option<Result<String, ()>> {
        if self.duplicates.contains(&var) {
            self.problems.push(Problem::Duplicate { var });
            return Some(Err(()));
        }
        match self.values.get(var)? {
            Some(value) => Some(Ok(value.clone())),
            None => {
                self.problems.push(Problem::NotUnicode { var });
                Some(Err(()))
            }
        }
    }

    /// The value without surrounding ASCII whitespace (a trailing newline from a shell);
    /// blank values are a [`Problem::Empty`]. Other Unicode spaces (U+00A0, U+3000, ...) stay,
    /// so the value is refused with them shown rather than silently cleaned.
    fn get(&mut self, var: &'static str) -> Lookup {
        match self.raw(var) {
            None => Lookup::Unset,
            Some(Err(())) => Lookup::Bad,
            Some(Ok(value)) => {
                let trimmed = value.trim_ascii();
                if trimmed.is_empty() {
                    self.problems.push(Problem::Empty { var });
                    Lookup::Bad
                } else {
                    Lookup::Value(trimmed.to_owned())
                }
            }
        }
    }

    fn bool(&mut self, var: &'static str, default: bool) -> bool {
        let Lookup::Value(value) = self.get(var) else {
            return default;
        };
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => {
                self.problems.push(Problem::InvalidBool { var, value });
                default
            }
        }
    }

    fn int(&mut self, var: &'static str, default: u64, min: u64, max: u64) -> u64 {
        let Lookup::Value(value) = self.get(var) else {
            return default;
        };
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            self.problems.push(Problem::InvalidInteger { var, value });
            return default;
        }
        match value.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            // all digits, so a parse failure is an overflow: out of range too
            _ => {
                self.problems.push(Problem::OutOfRange {
                    var,
                    value,
                    min,
                    max,
                });
                default
            }
        }
    }

    fn secs(&mut self, var: &'static str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_secs(self.int(var, default, min, max))
    }

    /// Comma-separated items: trimmed, empty ones dropped, duplicates collapsed in order.
    fn list(&mut self, var: &'static str) -> Option<Vec<String>> {
        let Lookup::Value(value) = self.get(var) else {
            return None;
        };
        let mut items: Vec<String> = Vec::new();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if !items.iter().any(|i| i == item) {
                items.push(item.to_owned());
            }
        }
        if items.is_empty() {
            self.problems.push(Problem::EmptyList { var, value });
            return None;
        }
        Some(items)
    }

    fn url(&mut self, var: &'static str, issuer: bool) -> Option<EndpointUrl> {
        let Lookup::Value(value) = self.get(var) else {
            return None;
        };
        let parsed = EndpointUrl::parse(&value).and_then(|url| {
            if issuer && url.query().is_some() {
                Err(UrlError::Query)
            } else {
                Ok(url)
            }
        });
        match parsed {
            Ok(url) => Some(url),
            Err(UrlError::InsecureHttp) => {
                self.problems.push(Problem::InsecureUrl {
                    var,
                    value: redact_userinfo(&value),
                });
                None
            }
            Err(reason) => {
                let value = redact_userinfo(&value);
                self.problems
                    .push(Problem::InvalidUrl { var, value, reason });
                None
            }
        }
    }

    fn text(&mut self, var: &'static str) -> Option<String> {
        let Lookup::Value(value) = self.get(var) else {
            return None;
        };
        if value.chars().any(char::is_control) {
            self.problems.push(Problem::ControlCharacter { var, value });
            return None;
        }
        Some(value)
    }
}

/// The heart of every constructor: read `pairs` into a configuration or every problem.
pub(crate) fn load(pairs: impl IntoIterator<Item = (String, Raw)>) -> Result<Loaded, ConfigError> {
    let mut reader = Reader {
        values: BTreeMap::new(),
        duplicates: Vec::new(),
        problems: Vec::new(),
    };
    let mut warnings = Vec::new();
    for (name, value) in pairs {
        if let Some(var) = vars::known(&name) {
            if reader.values.insert(var, value).is_some() && !reader.duplicates.contains(&var) {
                reader.duplicates.push(var);
            }
        } else if name
            .get(..8)
            .is_some_and(|p| p.eq_ignore_ascii_case("M4_OAUTH"))
        {
            match warning::suggest(&name) {
                // Fail closed: a misspelt enable switch would leave OAuth2 off.
                Some(vars::ENABLED) => reader
                    .problems
                    .push(Problem::MisspeltEnabled { name, value }),
                suggestion => warnings.push(Warning::UnknownVariable { name, suggestion }),
            }
        } else if warning::near_enabled(&name) {
            // Outside the M4_OAUTH prefix only the enable switch is looked for (M4_AUTH2_ENABLED).
            reader
                .problems
                .push(Problem::MisspeltEnabled { name, value });
        }
    }
    let r = &mut reader;
    let d = AuthConfig::default();

    let enabled = match r.get(vars::ENABLED) {
        Lookup::Unset => Some(false),
        Lookup::Bad => None,
        Lookup::Value(value) => match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" => Some(false),
            _ => {
                r.problems.push(Problem::InvalidBool {
                    var: vars::ENABLED,
                    value,
                });
                None
            }
        },
    };
    let issuer = r.url(vars::ISSUER_URL, true);
    if enabled == Some(true) && !r.is_set(vars::ISSUER_URL) {
        r.problems.push(Problem::Missing {
            var: vars::ISSUER_URL,
        });
    }
    let audience = r.text(vars::AUDIENCE);
    if enabled == Some(true) && !r.is_set(vars::AUDIENCE) {
        r.problems.push(Problem::Missing {
            var: vars::AUDIENCE,
        });
    }
    let required_scopes = match r.list(vars::REQUIRED_SCOPES) {
        Some(scopes) => {
            let (good, bad): (Vec<_>, Vec<_>) = scopes.into_iter().partition(|s| valid_scope(s));
            for scope in bad {
                r.problems.push(Problem::InvalidScope {
                    var: vars::REQUIRED_SCOPES,
                    scope,
                });
            }
            good
        }
        None => d.required_scopes.clone(),
    };
    let jwks_url = r.url(vars::JWKS_URL, false);
    let jwks_cache_ttl = r.secs(vars::JWKS_CACHE_TTL, 3600, 1, ONE_YEAR);
    let client_id = r.text(vars::CLIENT_ID);
    let client_secret = match r.raw(vars::CLIENT_SECRET) {
        Some(Ok(secret)) if secret.trim().is_empty() => {
            r.problems.push(Problem::Empty {
                var: vars::CLIENT_SECRET,
            });
            None
        }
        Some(Ok(secret)) => Some(Secret::new(secret)),
        _ => None,
    };
    let validate_exp = r.bool(vars::VALIDATE_EXP, true);
    let validate_aud = r.bool(vars::VALIDATE_AUD, true);
    let validate_iss = r.bool(vars::VALIDATE_ISS, true);
    let rate_limit_enabled = r.bool(vars::RATE_LIMIT_ENABLED, true);
    let rate_limit_requests = r.int(vars::RATE_LIMIT_REQUESTS, 100, 1, 1_000_000_000);
    let rate_limit_window = r.secs(vars::RATE_LIMIT_WINDOW, 3600, 1, ONE_YEAR);
    let token = match r.raw(vars::TOKEN) {
        Some(Ok(raw)) => token_from(&raw),
        _ => None,
    };
    let algorithms = match r.list(vars::ALGORITHMS) {
        Some(names) => {
            let mut algorithms = Vec::new();
            for name in names {
                match Algorithm::from_name(&name) {
                    Some(alg) if !algorithms.contains(&alg) => algorithms.push(alg),
                    Some(_) => {}
                    None if is_forbidden(&name) => r.problems.push(Problem::ForbiddenAlgorithm {
                        var: vars::ALGORITHMS,
                        alg: name,
                    }),
                    None => r.problems.push(Problem::UnknownAlgorithm {
                        var: vars::ALGORITHMS,
                        alg: name,
                    }),
                }
            }
            algorithms
        }
        None => d.algorithms,
    };
    let leeway = r.secs(vars::LEEWAY, 60, 0, 300);
    let http_timeout = r.secs(vars::HTTP_TIMEOUT, 10, 1, 300);
    let jwks_refresh_cooldown = r.secs(vars::JWKS_REFRESH_COOLDOWN, 30, 1, ONE_YEAR);
    let jwks_max_stale = r.secs(vars::JWKS_MAX_STALE, 86400, 1, ONE_YEAR);
    let rate_limit_max_users = r.int(vars::RATE_LIMIT_MAX_USERS, 10_000, 1, 10_000_000);
    let rate_limit_backend = match r.get(vars::RATE_LIMIT_BACKEND) {
        Lookup::Value(v) if v.eq_ignore_ascii_case("memory") => RateLimitBackend::Memory,
        Lookup::Value(v) if v.contains("://") => match RedisUrl::parse(&v) {
            Ok(url) => RateLimitBackend::Redis(url),
            Err(reason) => {
                let (var, value) = (vars::RATE_LIMIT_BACKEND, redact_userinfo(&v));
                r.problems.push(Problem::InvalidUrl { var, value, reason });
                RateLimitBackend::Memory
            }
        },
        Lookup::Value(v) => {
            let (var, value) = (vars::RATE_LIMIT_BACKEND, redact_userinfo(&v));
            r.problems.push(Problem::InvalidBackend { var, value });
            RateLimitBackend::Memory
        }
        Lookup::Unset | Lookup::Bad => RateLimitBackend::Memory,
    };
    let token_cache_size = r.int(vars::TOKEN_CACHE_SIZE, 4096, 0, 1_000_000);
    let resource_url = r.url(vars::RESOURCE_URL, false);

    // Warnings that need the whole picture.
    match enabled {
        Some(false) => {
            let set: Vec<&'static str> = [
                vars::ISSUER_URL,
                vars::AUDIENCE,
                vars::REQUIRED_SCOPES,
                vars::JWKS_URL,
            ]
            .into_iter()
            .filter(|v| r.is_set(v))
            .collect();
            if !set.is_empty() {
                warnings.push(Warning::IgnoredWhileDisabled { vars: set });
            }
        }
        Some(true) => {
            for (var, on) in [
                (vars::VALIDATE_EXP, validate_exp),
                (vars::VALIDATE_AUD, validate_aud),
                (vars::VALIDATE_ISS, validate_iss),
            ] {
                if !on {
                    warnings.push(Warning::CheckDisabled { var });
                }
            }
        }
        None => {}
    }

    if !reader.problems.is_empty() {
        // Problems are reported in the order of vars::ALL, whatever order they were found in.
        let mut problems = reader.problems;
        problems.sort_by_key(|p| vars::ALL.iter().position(|v| *v == p.var()));
        return Err(ConfigError::new(problems, warnings));
    }
    let config = AuthConfig {
        enabled: enabled == Some(true),
        issuer,
        audience,
        required_scopes,
        jwks_url,
        jwks_cache_ttl,
        client_id,
        client_secret,
        validate_exp,
        validate_aud,
        validate_iss,
        rate_limit_enabled,
        // bounded above by 1e9 and 1e7 when read, so these conversions cannot fail
        rate_limit_requests: u32::try_from(rate_limit_requests).unwrap_or(u32::MAX),
        rate_limit_window,
        token,
        algorithms,
        leeway,
        http_timeout,
        jwks_refresh_cooldown,
        jwks_max_stale,
        rate_limit_max_users: usize::try_from(rate_limit_max_users).unwrap_or(usize::MAX),
        rate_limit_backend,
        token_cache_size: usize::try_from(token_cache_size).unwrap_or(usize::MAX),
        resource_url,
    };
    Ok(Loaded { config, warnings })
}

/// A scope token (RFC 6749 section 3.3): printable ASCII except space, `"` and `\`.
/// Commas separate items, so an item never holds one.
fn valid_scope(scope: &str) -> bool {
    scope
        .bytes()
        .all(|b| (0x21..=0x7e).contains(&b) && b != b'"' && b != b'\\' && b != b',')
}

/// `none` or anything in the HMAC family, in any case.
fn is_forbidden(name: &str) -> bool {
    name.eq_ignore_ascii_case("none") || name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS"))
}

/// The token without surrounding blanks or a `Bearer ` prefix (any case); `None` if nothing
/// is left, so an empty token is reported as a missing token where it is used.
fn token_from(raw: &str) -> Option<Secret> {
    let trimmed = raw.trim_ascii();
    let without_prefix = match trimmed.get(..6) {
        Some(p) if p.eq_ignore_ascii_case("bearer") => {
            let rest = trimmed.get(6..).unwrap_or_default();
            if rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_whitespace()) {
                rest.trim_ascii_start()
            } else {
                trimmed
            }
        }
        _ => trimmed,
    };
    (!without_prefix.is_empty()).then(|| Secret::new(without_prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_values_are_problems_not_panics() {
        let err = load([
            (vars::AUDIENCE.to_owned(), None),
            (vars::TOKEN.to_owned(), None),
            ("M4_OAUTH2_\u{fffd}".to_owned(), None),
        ])
        .unwrap_err();
        assert_eq!(
            err.problems(),
            [
                Problem::NotUnicode {
                    var: vars::AUDIENCE
                },
                Problem::NotUnicode { var: vars::TOKEN }
            ]
        );
        // the non-UTF-8 name is unknown; the audience is set while disabled
        assert!(matches!(
            err.warnings(),
            [
                Warning::UnknownVariable { .. },
                Warning::IgnoredWhileDisabled { .. }
            ]
        ));
    }

    #[test]
    fn a_misspelt_enable_switch_with_a_non_utf8_value_is_still_refused() {
        let err = load([("M4_OAUTH2_ENABLE".to_owned(), None)]).unwrap_err();
        assert_eq!(
            err.problems(),
            [Problem::MisspeltEnabled {
                name: "M4_OAUTH2_ENABLE".into(),
                value: None
            }]
        );
    }

    #[test]
    fn bearer_prefix_is_optional() {
        let t = |raw: &str| token_from(raw).map(|s| s.expose_secret().to_owned());
        assert_eq!(t("abc.def.ghi"), Some("abc.def.ghi".into()));
        assert_eq!(t("Bearer abc"), Some("abc".into()));
        assert_eq!(t("bearer   abc "), Some("abc".into()));
        assert_eq!(t("BEARER\tabc"), Some("abc".into()));
        assert_eq!(t("Bearerabc"), Some("Bearerabc".into()));
        assert_eq!(t("Bearer"), None);
        assert_eq!(t("Bearer   "), None);
        assert_eq!(t("  "), None);
    }

    #[test]
    fn scopes_and_forbidden_names() {
        assert!(valid_scope("read:mimic-data"));
        assert!(!valid_scope("read data"));
        assert!(!valid_scope("a\"b"));
        assert!(!valid_scope("é"));
        assert!(is_forbidden("none") && is_forbidden("NONE") && is_forbidden("hs256"));
        assert!(!is_forbidden("RS256"));
    }
}
