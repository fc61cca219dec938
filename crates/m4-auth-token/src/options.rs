//! [`TokenOptions`]: what the client needs to know, from [`AuthConfig`] or set by hand.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use m4_auth_config::{AudienceParameter, AuthConfig, Secret};
use m4_jwks::{Clock, SystemClock};

use crate::error::Error;
use crate::store::default_credentials_path;

/// The scope that asks the provider for a refresh token at login (Auth0, Okta, Entra ID
/// need it; Keycloak accepts it).
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The shortest HTTP timeout [`TokenOptions::http_timeout`] accepts: 1 ms (the same bound
/// as m4-jwks' `JwksCache`). Shorter is refused at the first request, before anything is
/// sent, never made 1 ms silently.
///
/// ```
/// use std::time::Duration;
/// use m4_auth_token::{MIN_HTTP_TIMEOUT, TokenClient, TokenOptions};
///
/// assert_eq!(MIN_HTTP_TIMEOUT, Duration::from_millis(1));
/// let options = TokenOptions::new("https://idp.example.com/", "/nowhere/credentials.json")
///     .http_timeout(MIN_HTTP_TIMEOUT / 2);
/// let err = TokenClient::new(options).endpoints().unwrap_err();
/// assert_eq!(err.code(), "token_options_invalid");
/// ```
pub const MIN_HTTP_TIMEOUT: Duration = Duration::from_millis(1);
/// The longest HTTP timeout [`TokenOptions::http_timeout`] accepts: 1 hour (the same bound
/// as m4-jwks' `JwksCache`). Longer is refused at the first request, before anything is
/// sent, never made 1 hour silently.
///
/// ```
/// use std::time::Duration;
/// use m4_auth_token::{MAX_HTTP_TIMEOUT, TokenClient, TokenOptions};
///
/// assert_eq!(MAX_HTTP_TIMEOUT, Duration::from_secs(3600));
/// let options = TokenOptions::new("https://idp.example.com/", "/nowhere/credentials.json")
///     .http_timeout(MAX_HTTP_TIMEOUT + Duration::from_millis(1));
/// let err = TokenClient::new(options).endpoints().unwrap_err();
/// assert_eq!(err.code(), "token_options_invalid");
/// ```
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(3600);

/// How to reach the provider and what to ask it for.
///
/// ```
/// use m4_auth_token::TokenOptions;
///
/// let options = TokenOptions::new("https://tenant.example.com/", "/tmp/m4-credentials.json")
///     .audience("m4-api")
///     .scopes(["read:mimic-data"])
///     .client_id("m4-cli")
///     .client_secret(m4_auth_config::Secret::new("s3cr3t"));
/// assert_eq!(options.issuer(), "https://tenant.example.com/");
/// assert!(options.has_client_credentials());
/// assert!(!format!("{options:?}").contains("s3cr3t"));
/// ```
#[derive(Clone)]
pub struct TokenOptions {
    pub(crate) issuer: String,
    pub(crate) audience: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) audience_parameter: AudienceParameter,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) credentials_file: PathBuf,
    pub(crate) http_timeout: Duration,
    pub(crate) token_endpoint: Option<String>,
    pub(crate) device_authorization_endpoint: Option<String>,
    pub(crate) revocation_endpoint: Option<String>,
    pub(crate) clock: Arc<dyn Clock>,
}

impl TokenOptions {
    /// Options for `issuer` with the stored login at `credentials_file`; no audience, no
    /// scopes, no client, endpoints from discovery, a 10 s timeout.
    pub fn new(issuer: impl Into<String>, credentials_file: impl Into<PathBuf>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: None,
            scopes: Vec::new(),
            audience_parameter: AudienceParameter::Audience,
            client_id: None,
            client_secret: None,
            credentials_file: credentials_file.into(),
            http_timeout: m4_jwks::DEFAULT_HTTP_TIMEOUT,
            token_endpoint: None,
            device_authorization_endpoint: None,
            revocation_endpoint: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Options from the `M4_OAUTH2_*` configuration: issuer, audience, required scopes,
    /// audience parameter, client id and secret, credentials file, HTTP timeout.
    ///
    /// ```
    /// let config = m4_auth_config::AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
    ///     ("M4_OAUTH2_CREDENTIALS_FILE", "/tmp/creds.json"),
    /// ])?.config;
    /// let options = m4_auth_token::TokenOptions::from_config(&config)?;
    /// assert_eq!(options.credentials_file(), std::path::Path::new("/tmp/creds.json"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without an issuer; [`Error::NoCredentialsDirectory`] when
    /// no credentials file is set and no default location can be found.
    pub fn from_config(config: &AuthConfig) -> Result<Self, Error> {
        let Some(issuer) = config.issuer() else {
            return Err(Error::issuer_not_configured());
        };
        let credentials_file = match config.credentials_file() {
            Some(path) => path.to_path_buf(),
            None => default_credentials_path()?,
        };
        let mut options = Self::new(issuer.as_str(), credentials_file)
            .scopes(config.required_scopes().iter().cloned())
            .audience_parameter(config.audience_parameter())
            .http_timeout(config.http_timeout());
        options.audience = config.audience().map(str::to_owned);
        options.client_id = config.client_id().map(str::to_owned);
        options.client_secret = config.client_secret().cloned();
        Ok(options)
    }

    /// The audience to ask for (`M4_OAUTH2_AUDIENCE`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The scopes to ask for (`M4_OAUTH2_REQUIRED_SCOPES`).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// How the audience is asked for (`M4_OAUTH2_AUDIENCE_PARAMETER`).
    pub fn audience_parameter(mut self, parameter: AudienceParameter) -> Self {
        self.audience_parameter = parameter;
        self
    }

    /// The client id (`M4_OAUTH2_CLIENT_ID`).
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client secret (`M4_OAUTH2_CLIENT_SECRET`); without it the client is public.
    pub fn client_secret(mut self, secret: Secret) -> Self {
        self.client_secret = Some(secret);
        self
    }

    /// The timeout of each request (`M4_OAUTH2_HTTP_TIMEOUT`): from [`MIN_HTTP_TIMEOUT`] to
    /// [`MAX_HTTP_TIMEOUT`]. A value outside that range is refused by the client's first
    /// request ([`Error::InvalidHttpTimeout`]), before anything is sent.
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// Uses this token endpoint instead of the discovered one.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// Uses this device authorization endpoint instead of the discovered one.
    pub fn device_authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.device_authorization_endpoint = Some(url.into());
        self
    }

    /// Uses this revocation endpoint instead of the discovered one.
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.revocation_endpoint = Some(url.into());
        self
    }

    /// The clock behind token lifetimes, refresh times, back-off and device-code expiry.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Where the stored login lives.
    pub fn credentials_file(&self) -> &Path {
        &self.credentials_file
    }

    /// [`Error::InvalidHttpTimeout`] when the HTTP timeout is out of range.
    pub(crate) fn check_http_timeout(&self) -> Result<(), Error> {
        if (MIN_HTTP_TIMEOUT..=MAX_HTTP_TIMEOUT).contains(&self.http_timeout) {
            Ok(())
        } else {
            Err(Error::InvalidHttpTimeout {
                got: self.http_timeout,
            })
        }
    }

    /// Whether client credentials (an id and a secret) are configured.
    pub fn has_client_credentials(&self) -> bool {
        self.client_id.is_some() && self.client_secret.is_some()
    }
}

impl fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenOptions")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("scopes", &self.scopes)
            .field("audience_parameter", &self.audience_parameter)
            .field("client_id", &self.client_id)
            .field("has_client_secret", &self.client_secret.is_some())
            .field("credentials_file", &self.credentials_file)
            .field("http_timeout", &self.http_timeout)
            .finish_non_exhaustive()
    }
}
