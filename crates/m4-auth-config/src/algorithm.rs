//! [`Algorithm`] (the accepted JWS algorithms) and [`RateLimitBackend`].

use std::fmt;

use crate::url::RedisUrl;

/// A JWS signature algorithm m4-auth may accept.
///
/// Only asymmetric algorithms exist here: `none` and the HMAC family (`HS*`) cannot be
/// represented, so no configuration can enable them.
///
/// ```
/// use m4_auth_config::Algorithm;
///
/// assert_eq!(Algorithm::from_name("es256"), Some(Algorithm::ES256));
/// assert_eq!(Algorithm::from_name("HS256"), None);
/// assert_eq!(Algorithm::EdDSA.as_str(), "EdDSA");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(clippy::upper_case_acronyms)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA with P-256 and SHA-256.
    ES256,
    /// ECDSA with P-384 and SHA-384.
    ES384,
    /// Ed25519 signatures.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm, in the order messages list them.
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JWS `alg` name (RFC 7518), such as `RS256`.
    ///
    /// ```
    /// assert_eq!(m4_auth_config::Algorithm::PS384.as_str(), "PS384");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm called `name`, compared without regard to case (configuration is
    /// forgiving here; tokens' `alg` headers are compared exactly by the verifier).
    ///
    /// ```
    /// assert_eq!(m4_auth_config::Algorithm::from_name("eddsa"), Some(m4_auth_config::Algorithm::EdDSA));
    /// assert_eq!(m4_auth_config::Algorithm::from_name("none"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the rate limiter keeps its counters.
///
/// ```
/// use m4_auth_config::{RateLimitBackend, RedisUrl};
///
/// assert_eq!(RateLimitBackend::default(), RateLimitBackend::Memory);
/// let redis = RateLimitBackend::Redis(RedisUrl::parse("redis://127.0.0.1:6379/0")?);
/// assert_eq!(redis.to_string(), "redis://127.0.0.1:6379/0");
/// # Ok::<(), m4_auth_config::UrlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RateLimitBackend {
    /// In-process memory (the default): limits are per process.
    #[default]
    Memory,
    /// A Redis server shared by several processes.
    Redis(RedisUrl),
}

impl fmt::Display for RateLimitBackend {
    /// `memory`, or the Redis URL with any password shown as `[redacted]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("memory"),
            Self::Redis(url) => write!(f, "{url}"),
        }
    }
}

/// How a token request asks the provider for the audience (`M4_OAUTH2_AUDIENCE_PARAMETER`).
///
/// ```
/// use m4_auth_config::AudienceParameter;
/// assert_eq!(AudienceParameter::from_name("RESOURCE"), Some(AudienceParameter::Resource));
/// assert_eq!(AudienceParameter::Scope.as_str(), "scope");
/// assert_eq!(AudienceParameter::from_name("aud"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AudienceParameter {
    /// `audience=<M4_OAUTH2_AUDIENCE>` (Auth0 requires it; Okta, Keycloak and Entra ID ignore
    /// it). The default.
    Audience,
    /// `resource=<M4_OAUTH2_AUDIENCE>` (RFC 8707 resource indicators).
    Resource,
    /// No audience parameter; each requested scope becomes `<M4_OAUTH2_AUDIENCE>/<scope>`,
    /// and client credentials ask for `<M4_OAUTH2_AUDIENCE>/.default` (Entra ID v2).
    Scope,
    /// No audience parameter at all (the server fixes the audience).
    None,
}

impl AudienceParameter {
    /// Parses the variable's value (any case).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Audience, Self::Resource, Self::Scope, Self::None]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
    }

    /// The value as written in the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audience => "audience",
            Self::Resource => "resource",
            Self::Scope => "scope",
            Self::None => "none",
        }
    }
}
