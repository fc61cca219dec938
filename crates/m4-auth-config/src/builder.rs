//! [`AuthConfigBuilder`]: programmatic construction with the same validation as the
//! environment.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::algorithm::{Algorithm, AudienceParameter, RateLimitBackend};
use crate::config::{Loaded, load};
use crate::error::{ConfigError, Problem};
use crate::secret::Secret;
use crate::vars;

/// Builds an [`AuthConfig`](crate::AuthConfig) in code.
///
/// Each setter records the value as the matching `M4_OAUTH2_*` variable would hold it, and
/// [`build`](AuthConfigBuilder::build) runs exactly the validation
/// [`AuthConfig::from_vars`](crate::AuthConfig::from_vars) runs, so both paths accept and
/// refuse the same configurations, with the same messages (which name the variables).
/// Durations must be whole seconds: a fractional one is refused, never rounded.
///
/// ```
/// use std::time::Duration;
/// use m4_auth_config::{Algorithm, AuthConfig};
///
/// let loaded = AuthConfig::builder()
///     .enabled(true)
///     .issuer("https://idp.example.com/")
///     .audience("m4-api")
///     .required_scopes(["read:mimic-data", "write:notes"])
///     .algorithms([Algorithm::ES256])
///     .leeway(Duration::from_secs(30))
///     .build()?;
/// assert_eq!(loaded.config.algorithms(), [Algorithm::ES256]);
///
/// let err = AuthConfig::builder().leeway(Duration::from_millis(1500)).build().unwrap_err();
/// assert_eq!(err.problems()[0].var(), "M4_OAUTH2_LEEWAY");
/// # Ok::<(), m4_auth_config::ConfigError>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct AuthConfigBuilder {
    /// Each variable set, as the environment would hold it: `None` for a value that is not
    /// valid Unicode (a path), which `build` reports exactly as the environment path does.
    values: Vec<(&'static str, Option<String>)>,
    problems: Vec<Problem>,
}

impl fmt::Debug for AuthConfigBuilder {
    /// Lists the variables set, never their values (two of them may be secrets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfigBuilder")
            .field(
                "set",
                &self.values.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident($arg:ty) => $var:ident, $to:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(self, value: $arg) -> Self {
                #[allow(clippy::redundant_closure_call)]
                let text: String = ($to)(value);
                self.set(vars::$var, text)
            }
        )*
    };
}

fn secs(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        d.as_secs().to_string()
    } else {
        format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
            .trim_end_matches('0')
            .to_owned()
    }
}

fn flag(on: bool) -> String {
    if on { "true" } else { "false" }.to_owned()
}

impl AuthConfigBuilder {
    /// An empty builder: every variable unset (the same as [`AuthConfig::builder`](crate::AuthConfig::builder)).
    pub fn new() -> Self {
        Self::default()
    }

    fn set(self, var: &'static str, value: String) -> Self {
        self.set_raw(var, Some(value))
    }

    fn set_raw(mut self, var: &'static str, value: Option<String>) -> Self {
        self.values.retain(|(k, _)| *k != var);
        self.values.push((var, value));
        self
    }

    setters! {
        /// `M4_OAUTH2_ENABLED`.
        enabled(bool) => ENABLED, flag;
        /// `M4_OAUTH2_ISSUER_URL`, kept exactly as given.
        issuer(&str) => ISSUER_URL, str::to_owned;
        /// `M4_OAUTH2_AUDIENCE`.
        audience(&str) => AUDIENCE, str::to_owned;
        /// `M4_OAUTH2_JWKS_URL`.
        jwks_url(&str) => JWKS_URL, str::to_owned;
        /// `M4_OAUTH2_JWKS_CACHE_TTL`, whole seconds.
        jwks_cache_ttl(Duration) => JWKS_CACHE_TTL, secs;
        /// `M4_OAUTH2_CLIENT_ID`.
        client_id(&str) => CLIENT_ID, str::to_owned;
        /// `M4_OAUTH2_CLIENT_SECRET`.
        client_secret(Secret) => CLIENT_SECRET, |s: Secret| s.expose_secret().to_owned();
        /// `M4_OAUTH2_VALIDATE_EXP`.
        validate_exp(bool) => VALIDATE_EXP, flag;
        /// `M4_OAUTH2_VALIDATE_AUD`.
        validate_aud(bool) => VALIDATE_AUD, flag;
        /// `M4_OAUTH2_VALIDATE_ISS`.
        validate_iss(bool) => VALIDATE_ISS, flag;
        /// `M4_OAUTH2_RATE_LIMIT_ENABLED`.
        rate_limit_enabled(bool) => RATE_LIMIT_ENABLED, flag;
        /// `M4_OAUTH2_RATE_LIMIT_REQUESTS`.
        rate_limit_requests(u32) => RATE_LIMIT_REQUESTS, |n: u32| n.to_string();
        /// `M4_OAUTH2_RATE_LIMIT_WINDOW`, whole seconds.
        rate_limit_window(Duration) => RATE_LIMIT_WINDOW, secs;
        /// `M4_OAUTH2_TOKEN` (a `Bearer ` prefix is removed).
        token(Secret) => TOKEN, |s: Secret| s.expose_secret().to_owned();
        /// `M4_OAUTH2_LEEWAY`, whole seconds.
        leeway(Duration) => LEEWAY, secs;
        /// `M4_OAUTH2_HTTP_TIMEOUT`, whole seconds.
        http_timeout(Duration) => HTTP_TIMEOUT, secs;
        /// `M4_OAUTH2_JWKS_REFRESH_COOLDOWN`, whole seconds.
        jwks_refresh_cooldown(Duration) => JWKS_REFRESH_COOLDOWN, secs;
        /// `M4_OAUTH2_JWKS_MAX_STALE`, whole seconds.
        jwks_max_stale(Duration) => JWKS_MAX_STALE, secs;
        /// `M4_OAUTH2_RATE_LIMIT_MAX_USERS`.
        rate_limit_max_users(usize) => RATE_LIMIT_MAX_USERS, |n: usize| n.to_string();
        /// `M4_OAUTH2_TOKEN_CACHE_SIZE` (0 disables the cache).
        token_cache_size(usize) => TOKEN_CACHE_SIZE, |n: usize| n.to_string();
        /// `M4_OAUTH2_RESOURCE_URL`, kept exactly as given.
        resource_url(&str) => RESOURCE_URL, str::to_owned;
    }

    /// `M4_OAUTH2_REQUIRED_SCOPES`: at least one scope; a scope holding a comma is refused
    /// (the variable could not express it).
    ///
    /// ```
    /// let err = m4_auth_config::AuthConfig::builder().required_scopes(["a,b"]).build().unwrap_err();
    /// assert_eq!(err.problems().len(), 1);
    /// ```
    pub fn required_scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        let var = vars::REQUIRED_SCOPES;
        self.problems.retain(|p| p.var() != var);
        for scope in scopes.iter().filter(|s| s.contains(',')) {
            self.problems.push(Problem::InvalidScope {
                var,
                scope: scope.clone(),
            });
        }
        self.set(var, scopes.join(","))
    }

    /// `M4_OAUTH2_ALGORITHMS`: at least one.
    ///
    /// ```
    /// use m4_auth_config::{Algorithm, AuthConfig};
    /// let loaded = AuthConfig::builder().algorithms([Algorithm::EdDSA]).build().unwrap();
    /// assert_eq!(loaded.config.algorithms(), [Algorithm::EdDSA]);
    /// ```
    pub fn algorithms<I: IntoIterator<Item = Algorithm>>(self, algorithms: I) -> Self {
        let names: Vec<&str> = algorithms.into_iter().map(Algorithm::as_str).collect();
        self.set(vars::ALGORITHMS, names.join(","))
    }

    /// `M4_OAUTH2_RATE_LIMIT_BACKEND`.
    ///
    /// ```
    /// use m4_auth_config::{AuthConfig, RateLimitBackend, RedisUrl};
    /// let redis = RateLimitBackend::Redis(RedisUrl::parse("redis://127.0.0.1/0").unwrap());
    /// let loaded = AuthConfig::builder().rate_limit_backend(redis.clone()).build().unwrap();
    /// assert_eq!(loaded.config.rate_limit_backend(), &redis);
    /// ```
    pub fn rate_limit_backend(self, backend: RateLimitBackend) -> Self {
        let text = match backend {
            RateLimitBackend::Memory => "memory".to_owned(),
            RateLimitBackend::Redis(url) => url.expose_url().to_owned(),
        };
        self.set(vars::RATE_LIMIT_BACKEND, text)
    }

    /// `M4_OAUTH2_CREDENTIALS_FILE`: where `m4-auth login` keeps the stored login.
    ///
    /// Checked as the variable is: surrounding ASCII blanks are trimmed, a blank path or one
    /// holding a control character is refused, and a path that is not valid Unicode is
    /// refused too (the environment cannot hand one over either), never converted lossily.
    ///
    /// ```
    /// use std::path::Path;
    /// use m4_auth_config::{AuthConfig, vars};
    ///
    /// let loaded = AuthConfig::builder().credentials_file("/srv/m4/credentials.json").build()?;
    /// assert_eq!(loaded.config.credentials_file(), Some(Path::new("/srv/m4/credentials.json")));
    ///
    /// let err = AuthConfig::builder().credentials_file("/srv/m4/\ncreds").build().unwrap_err();
    /// assert_eq!(err.problems()[0].var(), vars::CREDENTIALS_FILE);
    /// # Ok::<(), m4_auth_config::ConfigError>(())
    /// ```
    pub fn credentials_file(self, path: impl AsRef<Path>) -> Self {
        let text = path.as_ref().to_str().map(str::to_owned);
        self.set_raw(vars::CREDENTIALS_FILE, text)
    }

    /// `M4_OAUTH2_AUDIENCE_PARAMETER`: how token requests ask the provider for the audience.
    /// Typed, so no value can be refused; the configuration is the one the variable's name
    /// for it (`audience`, `resource`, `scope`, `none`) gives.
    ///
    /// ```
    /// use m4_auth_config::{AudienceParameter, AuthConfig};
    ///
    /// let loaded = AuthConfig::builder().audience_parameter(AudienceParameter::Scope).build()?;
    /// assert_eq!(loaded.config.audience_parameter(), AudienceParameter::Scope);
    /// # Ok::<(), m4_auth_config::ConfigError>(())
    /// ```
    pub fn audience_parameter(self, parameter: AudienceParameter) -> Self {
        self.set(vars::AUDIENCE_PARAMETER, parameter.as_str().to_owned())
    }

    /// Validate and build: the configuration and its warnings, or every problem at once.
    ///
    /// ```
    /// let err = m4_auth_config::AuthConfig::builder().enabled(true).build().unwrap_err();
    /// assert_eq!(err.problems().len(), 2); // issuer and audience are required
    /// ```
    pub fn build(self) -> Result<Loaded, ConfigError> {
        let pairs = self.values.into_iter().map(|(k, v)| (k.to_owned(), v));
        match (load(pairs), self.problems.is_empty()) {
            (result, true) => result,
            (Ok(loaded), false) => Err(ConfigError::new(self.problems, loaded.warnings)),
            (Err(err), false) => {
                let mut problems = self.problems;
                problems.extend(err.problems().iter().cloned());
                problems.sort_by_key(|p| vars::ALL.iter().position(|v| *v == p.var()));
                Err(ConfigError::new(problems, err.warnings().to_vec()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::secs;
    use std::time::Duration;

    #[test]
    fn durations_render_exactly() {
        assert_eq!(secs(Duration::from_secs(60)), "60");
        assert_eq!(secs(Duration::from_millis(1500)), "1.5");
        assert_eq!(secs(Duration::from_nanos(1)), "0.000000001");
    }
}
