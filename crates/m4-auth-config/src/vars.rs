//! The `M4_OAUTH2_*` variable names, their defaults and the form each accepts.
//!
//! The table here is the single source for names in error messages, defaults in
//! [`AuthConfig::to_env`](crate::AuthConfig::to_env) and the expected forms that every
//! [`Problem`](crate::Problem) message quotes.

/// `M4_OAUTH2_ENABLED`: turn token verification on (default `false`).
pub const ENABLED: &str = "M4_OAUTH2_ENABLED";
/// `M4_OAUTH2_ISSUER_URL`: the identity provider's issuer URL (required when enabled).
pub const ISSUER_URL: &str = "M4_OAUTH2_ISSUER_URL";
/// `M4_OAUTH2_AUDIENCE`: the audience tokens must carry (required when enabled).
pub const AUDIENCE: &str = "M4_OAUTH2_AUDIENCE";
/// `M4_OAUTH2_REQUIRED_SCOPES`: comma-separated scopes every token must hold.
pub const REQUIRED_SCOPES: &str = "M4_OAUTH2_REQUIRED_SCOPES";
/// `M4_OAUTH2_JWKS_URL`: the JWKS endpoint (default: OIDC discovery from the issuer).
pub const JWKS_URL: &str = "M4_OAUTH2_JWKS_URL";
/// `M4_OAUTH2_JWKS_CACHE_TTL`: seconds a fetched JWKS stays fresh.
pub const JWKS_CACHE_TTL: &str = "M4_OAUTH2_JWKS_CACHE_TTL";
/// `M4_OAUTH2_CLIENT_ID`: the OAuth2 client id, if the provider needs one.
pub const CLIENT_ID: &str = "M4_OAUTH2_CLIENT_ID";
/// `M4_OAUTH2_CLIENT_SECRET`: the OAuth2 client secret, if the provider needs one.
pub const CLIENT_SECRET: &str = "M4_OAUTH2_CLIENT_SECRET";
/// `M4_OAUTH2_VALIDATE_EXP`: check the `exp` claim.
pub const VALIDATE_EXP: &str = "M4_OAUTH2_VALIDATE_EXP";
/// `M4_OAUTH2_VALIDATE_AUD`: check the `aud` claim.
pub const VALIDATE_AUD: &str = "M4_OAUTH2_VALIDATE_AUD";
/// `M4_OAUTH2_VALIDATE_ISS`: check the `iss` claim.
pub const VALIDATE_ISS: &str = "M4_OAUTH2_VALIDATE_ISS";
/// `M4_OAUTH2_RATE_LIMIT_ENABLED`: per-user rate limiting on or off.
pub const RATE_LIMIT_ENABLED: &str = "M4_OAUTH2_RATE_LIMIT_ENABLED";
/// `M4_OAUTH2_RATE_LIMIT_REQUESTS`: requests allowed per user per window.
pub const RATE_LIMIT_REQUESTS: &str = "M4_OAUTH2_RATE_LIMIT_REQUESTS";
/// `M4_OAUTH2_RATE_LIMIT_WINDOW`: the rate-limit window in seconds.
pub const RATE_LIMIT_WINDOW: &str = "M4_OAUTH2_RATE_LIMIT_WINDOW";
/// `M4_OAUTH2_TOKEN`: the access token a client presents (`Bearer ` prefix optional).
pub const TOKEN: &str = "M4_OAUTH2_TOKEN";
/// `M4_OAUTH2_ALGORITHMS`: comma-separated signature algorithms accepted.
pub const ALGORITHMS: &str = "M4_OAUTH2_ALGORITHMS";
/// `M4_OAUTH2_LEEWAY`: seconds of clock skew allowed for `exp`, `nbf` and `iat`.
pub const LEEWAY: &str = "M4_OAUTH2_LEEWAY";
/// `M4_OAUTH2_HTTP_TIMEOUT`: seconds allowed per JWKS or discovery request.
pub const HTTP_TIMEOUT: &str = "M4_OAUTH2_HTTP_TIMEOUT";
/// `M4_OAUTH2_JWKS_REFRESH_COOLDOWN`: minimum seconds between refetches forced by unknown kids.
pub const JWKS_REFRESH_COOLDOWN: &str = "M4_OAUTH2_JWKS_REFRESH_COOLDOWN";
/// `M4_OAUTH2_JWKS_MAX_STALE`: seconds cached keys keep serving while the JWKS endpoint fails.
pub const JWKS_MAX_STALE: &str = "M4_OAUTH2_JWKS_MAX_STALE";
/// `M4_OAUTH2_RATE_LIMIT_MAX_USERS`: how many users the rate limiter tracks (LRU capacity).
pub const RATE_LIMIT_MAX_USERS: &str = "M4_OAUTH2_RATE_LIMIT_MAX_USERS";
/// `M4_OAUTH2_RATE_LIMIT_BACKEND`: `memory` or a `redis://` / `rediss://` URL.
pub const RATE_LIMIT_BACKEND: &str = "M4_OAUTH2_RATE_LIMIT_BACKEND";
/// `M4_OAUTH2_TOKEN_CACHE_SIZE`: verified-token cache entries (`0` disables the cache).
pub const TOKEN_CACHE_SIZE: &str = "M4_OAUTH2_TOKEN_CACHE_SIZE";
/// `M4_OAUTH2_RESOURCE_URL`: the public URL of the MCP endpoint as clients reach it (the RFC
/// 9728 `resource`, used by m4-auth-http).
pub const RESOURCE_URL: &str = "M4_OAUTH2_RESOURCE_URL";

/// `M4_OAUTH2_CREDENTIALS_FILE`: where `m4-auth login` keeps the stored login (default: the
/// user's configuration directory, see docs/credentials.md).
pub const CREDENTIALS_FILE: &str = "M4_OAUTH2_CREDENTIALS_FILE";
/// `M4_OAUTH2_AUDIENCE_PARAMETER`: how token requests ask for the audience: `audience`
/// (default), `resource` (RFC 8707), `scope` (Entra ID) or `none`.
pub const AUDIENCE_PARAMETER: &str = "M4_OAUTH2_AUDIENCE_PARAMETER";

/// Every variable this crate reads, in the order of `CONTRACT.md` (also the order of
/// [`AuthConfig::to_env`](crate::AuthConfig::to_env) and of problems in a
/// [`ConfigError`](crate::ConfigError)).
///
/// ```
/// assert_eq!(m4_auth_config::vars::ALL.len(), 26);
/// assert!(m4_auth_config::vars::ALL.iter().all(|v| v.starts_with("M4_OAUTH2_")));
/// ```
pub const ALL: &[&str] = &[
    ENABLED,
    ISSUER_URL,
    AUDIENCE,
    REQUIRED_SCOPES,
    JWKS_URL,
    JWKS_CACHE_TTL,
    CLIENT_ID,
    CLIENT_SECRET,
    VALIDATE_EXP,
    VALIDATE_AUD,
    VALIDATE_ISS,
    RATE_LIMIT_ENABLED,
    RATE_LIMIT_REQUESTS,
    RATE_LIMIT_WINDOW,
    TOKEN,
    ALGORITHMS,
    LEEWAY,
    HTTP_TIMEOUT,
    JWKS_REFRESH_COOLDOWN,
    JWKS_MAX_STALE,
    RATE_LIMIT_MAX_USERS,
    RATE_LIMIT_BACKEND,
    TOKEN_CACHE_SIZE,
    RESOURCE_URL,
    CREDENTIALS_FILE,
    AUDIENCE_PARAMETER,
];

/// The common prefix of every variable.
pub const PREFIX: &str = "M4_OAUTH2_";

/// Seconds in 365 days: the upper bound of every window, TTL, cooldown and max-stale.
pub(crate) const ONE_YEAR: u64 = 365 * 24 * 60 * 60;

/// What one variable accepts, for messages and defaults.
pub(crate) struct Spec {
    /// The variable's name.
    pub(crate) name: &'static str,
    /// The default as it would be written in the environment, if there is one.
    pub(crate) default: Option<&'static str>,
    /// The accepted form, phrased to follow "expected".
    pub(crate) expected: &'static str,
    /// The unit of an integer variable, plural ("seconds").
    pub(crate) unit: &'static str,
}

const BOOL: &str = "true or false (also 1/0, yes/no, on/off, in any case)";
const SECONDS_1Y: &str = "a whole number of seconds from 1 to 31536000 (365 days), without a unit";
const HTTPS: &str =
    "an absolute https URL (http only for loopback hosts: 127.0.0.0/8, ::1, localhost)";

/// The table behind every message; one entry per name in [`ALL`], same order.
pub(crate) const SPECS: &[Spec] = &[
    Spec {
        name: ENABLED,
        default: Some("false"),
        expected: BOOL,
        unit: "",
    },
    Spec {
        name: ISSUER_URL,
        default: None,
        expected: "your identity provider's issuer as an absolute https URL, such as https://idp.example.com/ (http only for loopback hosts: 127.0.0.0/8, ::1, localhost)",
        unit: "",
    },
    Spec {
        name: AUDIENCE,
        default: None,
        expected: "the audience your tokens carry in `aud`, such as m4-api",
        unit: "",
    },
    Spec {
        name: REQUIRED_SCOPES,
        default: Some("read:mimic-data"),
        expected: "one or more comma-separated scopes, such as read:mimic-data",
        unit: "",
    },
    Spec {
        name: JWKS_URL,
        default: None,
        expected: HTTPS,
        unit: "",
    },
    Spec {
        name: JWKS_CACHE_TTL,
        default: Some("3600"),
        expected: SECONDS_1Y,
        unit: "seconds",
    },
    Spec {
        name: CLIENT_ID,
        default: None,
        expected: "your OAuth2 client id, without control characters",
        unit: "",
    },
    Spec {
        name: CLIENT_SECRET,
        default: None,
        expected: "your OAuth2 client secret",
        unit: "",
    },
    Spec {
        name: VALIDATE_EXP,
        default: Some("true"),
        expected: BOOL,
        unit: "",
    },
    Spec {
        name: VALIDATE_AUD,
        default: Some("true"),
        expected: BOOL,
        unit: "",
    },
    Spec {
        name: VALIDATE_ISS,
        default: Some("true"),
        expected: BOOL,
        unit: "",
    },
    Spec {
        name: RATE_LIMIT_ENABLED,
        default: Some("true"),
        expected: BOOL,
        unit: "",
    },
    Spec {
        name: RATE_LIMIT_REQUESTS,
        default: Some("100"),
        expected: "a whole number of requests per window from 1 to 1000000000",
        unit: "requests",
    },
    Spec {
        name: RATE_LIMIT_WINDOW,
        default: Some("3600"),
        expected: SECONDS_1Y,
        unit: "seconds",
    },
    Spec {
        name: TOKEN,
        default: None,
        expected: "a JWT access token, with or without a `Bearer ` prefix",
        unit: "",
    },
    Spec {
        name: ALGORITHMS,
        default: Some("RS256,ES256"),
        expected: "a comma-separated list from RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA",
        unit: "",
    },
    Spec {
        name: LEEWAY,
        default: Some("60"),
        expected: "a whole number of seconds from 0 to 300, without a unit",
        unit: "seconds",
    },
    Spec {
        name: HTTP_TIMEOUT,
        default: Some("10"),
        expected: "a whole number of seconds from 1 to 300, without a unit",
        unit: "seconds",
    },
    Spec {
        name: JWKS_REFRESH_COOLDOWN,
        default: Some("30"),
        expected: SECONDS_1Y,
        unit: "seconds",
    },
    Spec {
        name: JWKS_MAX_STALE,
        default: Some("86400"),
        expected: SECONDS_1Y,
        unit: "seconds",
    },
    Spec {
        name: RATE_LIMIT_MAX_USERS,
        default: Some("10000"),
        expected: "a whole number of users from 1 to 10000000",
        unit: "users",
    },
    Spec {
        name: RATE_LIMIT_BACKEND,
        default: Some("memory"),
        expected: "memory, or a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0",
        unit: "",
    },
    Spec {
        name: TOKEN_CACHE_SIZE,
        default: Some("4096"),
        expected: "a whole number of entries from 0 (cache off) to 1000000",
        unit: "entries",
    },
    Spec {
        name: RESOURCE_URL,
        default: None,
        expected: "the public URL of your MCP endpoint as clients reach it, such as https://m4.example.org/mcp (http only for loopback hosts: 127.0.0.0/8, ::1, localhost)",
        unit: "",
    },
    Spec {
        name: CREDENTIALS_FILE,
        default: None,
        expected: "the path of the file `m4-auth login` stores its login in, such as /home/me/.config/m4-auth/credentials.json",
        unit: "",
    },
    Spec {
        name: AUDIENCE_PARAMETER,
        default: Some("audience"),
        expected: "audience (Auth0 and most providers), resource (RFC 8707), scope (Entra ID: scopes requested as <audience>/<scope>) or none",
        unit: "",
    },
];

/// The spec of `name`; names outside the table get a neutral fallback, never a panic.
pub(crate) fn spec(name: &str) -> &'static Spec {
    const UNKNOWN: Spec = Spec {
        name: "",
        default: None,
        expected: "a valid value",
        unit: "",
    };
    SPECS.iter().find(|s| s.name == name).unwrap_or(&UNKNOWN)
}

/// The variable in [`ALL`] that `name` is exactly, as a `&'static str`.
pub(crate) fn known(name: &str) -> Option<&'static str> {
    ALL.iter().copied().find(|k| *k == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_all_one_to_one() {
        let names: Vec<_> = SPECS.iter().map(|s| s.name).collect();
        assert_eq!(names, ALL);
    }
}
