//! Errors: [`ConfigError`] (every problem of one load), [`Problem`] (one variable's problem)
//! and [`UrlError`] (why a URL was refused).
//!
//! Every message names the variable, shows the bad value (never a secret's, and with any URL
//! password replaced by `[redacted]`) and says what was expected.

use std::fmt;

use crate::vars;
use crate::warning::Warning;

/// Why a URL was refused by [`EndpointUrl::parse`](crate::EndpointUrl::parse) or
/// [`RedisUrl::parse`](crate::RedisUrl::parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` at the start.
    #[error("it is not an absolute URL: write it as scheme://host/path")]
    NotAbsolute,
    /// The scheme is not one of those accepted here.
    #[error("the scheme must be {expected}")]
    UnsupportedScheme {
        /// The accepted schemes, as words ("https", "redis or rediss").
        expected: &'static str,
    },
    /// The scheme is written with capitals; it is refused rather than lowercased, because the
    /// issuer is compared with the token's `iss` exactly.
    #[error("write the scheme in lowercase")]
    UppercaseScheme,
    /// The URL carries user information (`user@host`), which hides the real host.
    #[error(
        "it contains user information before `@`: the host would be what follows the `@`, so this is refused"
    )]
    UserInfo,
    /// There is nothing between `://` and the path.
    #[error("it has no host")]
    MissingHost,
    /// The host is not a DNS name (letters, digits, `-`, `_`, dot-separated non-empty labels).
    #[error("the host is not a valid DNS name or IP address")]
    InvalidHost,
    /// The host ends in a numeric label but is not four decimal octets.
    #[error(
        "the host looks like an IPv4 address but is not four decimal numbers from 0 to 255 without leading zeros, such as 127.0.0.1"
    )]
    InvalidIpv4,
    /// A bracketed host is not a valid IPv6 address (zone ids are refused).
    #[error("the bracketed host is not a valid IPv6 address, such as [::1]")]
    InvalidIpv6,
    /// The port is empty, not a number, or outside 1..=65535.
    #[error("the port must be a number from 1 to 65535")]
    InvalidPort,
    /// The URL has a `#fragment`.
    #[error("it has a fragment (`#...`), which this URL must not have")]
    Fragment,
    /// The issuer or Redis URL has a `?query` (OpenID Connect issuers never do, and the Redis
    /// backend takes no options from the query).
    #[error(
        "it has a query (`?...`), which this URL must not have (an issuer never does; a Redis URL carries only user, password, host, port and database)"
    )]
    Query,
    /// A character outside the URL alphabet: space, control, non-ASCII, backslash, a bad
    /// `%` escape, brackets or `@` outside the host.
    #[error(
        "it contains a character not allowed here (space, control or non-ASCII character, backslash, bracket or `@` in the path, or a `%` not followed by two hex digits): percent-encode it"
    )]
    InvalidCharacter,
    /// `http` with a host that is not loopback.
    #[error("http is accepted only for loopback hosts (127.0.0.0/8, ::1, localhost): use https")]
    InsecureHttp,
    /// A Redis URL path that is not empty or `/` followed by a database number.
    #[error("the path must be empty or a database number, such as /0")]
    InvalidRedisDatabase,
}

/// One variable's problem; a [`ConfigError`] lists every problem of a load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Problem {
    /// The same variable was given more than once (only possible through
    /// [`AuthConfig::from_vars`](crate::AuthConfig::from_vars)).
    #[error("{var} is given more than once: keep one value")]
    Duplicate {
        /// The variable.
        var: &'static str,
    },
    /// The environment holds a value that is not valid UTF-8.
    #[error("{var} is not valid UTF-8: expected {}", vars::spec(var).expected)]
    NotUnicode {
        /// The variable.
        var: &'static str,
    },
    /// The variable is set to an empty or blank value.
    #[error("{var} is set but empty: expected {}{}", vars::spec(var).expected, UnsetHint(var))]
    Empty {
        /// The variable.
        var: &'static str,
    },
    /// A variable required when authentication is enabled is not set.
    #[error("{var} is required when M4_OAUTH2_ENABLED is true: expected {}", vars::spec(var).expected)]
    Missing {
        /// The variable.
        var: &'static str,
    },
    /// Not one of true/false/1/0/yes/no/on/off.
    #[error("{var}={} is not a boolean: expected {}", Shown(value), vars::spec(var).expected)]
    InvalidBool {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
    },
    /// Not a whole decimal number (a unit such as `1h`, a sign, a fraction).
    #[error("{var}={} is not a whole number: expected {}", Shown(value), vars::spec(var).expected)]
    InvalidInteger {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
    },
    /// A whole number outside the accepted bounds.
    #[error("{var}={} is out of range: expected {min} to {max} {}", Shown(value), vars::spec(var).unit)]
    OutOfRange {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
        /// The smallest value accepted.
        min: u64,
        /// The largest value accepted.
        max: u64,
    },
    /// A URL that cannot be used, with the reason.
    #[error("{var}={} is not a usable URL: {reason}", Shown(value))]
    InvalidUrl {
        /// The variable.
        var: &'static str,
        /// The value given, user information replaced by `[redacted]`.
        value: String,
        /// Why it was refused.
        reason: UrlError,
    },
    /// An `http` URL whose host is not loopback.
    #[error(
        "{var}={} uses http with a host that is not loopback: use https (http is accepted only for 127.0.0.0/8, ::1 and localhost)",
        Shown(value)
    )]
    InsecureUrl {
        /// The variable.
        var: &'static str,
        /// The value given, user information replaced by `[redacted]`.
        value: String,
    },
    /// `none` or an HMAC (`HS*`) algorithm, which can never be accepted.
    #[error(
        "{var} lists {}, which is forbidden: {}",
        Shown(alg),
        ForbiddenWhy(alg)
    )]
    ForbiddenAlgorithm {
        /// The variable.
        var: &'static str,
        /// The algorithm named.
        alg: String,
    },
    /// An algorithm name this crate does not know.
    #[error("{var} lists {}, which is not a supported algorithm: expected {}", Shown(alg), vars::spec(var).expected)]
    UnknownAlgorithm {
        /// The variable.
        var: &'static str,
        /// The algorithm named.
        alg: String,
    },
    /// A list variable with no items once empty items are dropped.
    #[error("{var}={} lists nothing: expected {}", Shown(value), vars::spec(var).expected)]
    EmptyList {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
    },
    /// A scope with characters a scope cannot hold (RFC 6749 section 3.3).
    #[error(
        "{var} lists {}, which is not a valid scope: a scope cannot contain spaces, commas, quotes, backslashes or control characters",
        Shown(scope)
    )]
    InvalidScope {
        /// The variable.
        var: &'static str,
        /// The scope given.
        scope: String,
    },
    /// Neither `memory` nor a `redis://` or `rediss://` URL.
    #[error("{var}={} is not a rate-limit backend: expected {}", Shown(value), vars::spec(var).expected)]
    InvalidBackend {
        /// The variable.
        var: &'static str,
        /// The value given, user information replaced by `[redacted]`.
        value: String,
    },
    /// A variable that is not `M4_OAUTH2_ENABLED` but is a near miss of it (`M4_OAUTH2_ENABLE`,
    /// `m4_oauth2_enabled`, `M4_OAUTH_ENABLED`, ...).
    ///
    /// Other misspellings are [`Warning::UnknownVariable`]s; this one is refused, because
    /// ignoring it would leave OAuth2 off and every tool reachable without a token.
    #[error(
        "{} (set to {}) looks like a misspelling of M4_OAUTH2_ENABLED: OAuth2 stays OFF unless M4_OAUTH2_ENABLED is spelt exactly so, in capitals, and ignoring this name would leave every tool reachable without a token, so it is refused; rename it to M4_OAUTH2_ENABLED, or remove it to run without authentication",
        Shown(name),
        ShownValue(value.as_deref())
    )]
    MisspeltEnabled {
        /// The name as found.
        name: String,
        /// The value given; `None` when it is not valid UTF-8.
        value: Option<String>,
    },
    /// A value that must be one of a few words (`M4_OAUTH2_AUDIENCE_PARAMETER`).
    #[error("{var}={} is not a known choice: expected {}", Shown(value), vars::spec(var).expected)]
    InvalidChoice {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
    },
    /// A text value (audience, client id) holding control characters.
    #[error("{var}={} contains a control character: expected {}", Shown(value), vars::spec(var).expected)]
    ControlCharacter {
        /// The variable.
        var: &'static str,
        /// The value given.
        value: String,
    },
}

impl Problem {
    /// The variable this problem is about ([`vars::ENABLED`] for
    /// [`Problem::MisspeltEnabled`], whose misspelt name is in the variant).
    ///
    /// ```
    /// let err = m4_auth_config::AuthConfig::from_vars([("M4_OAUTH2_LEEWAY", "soon")]).unwrap_err();
    /// assert_eq!(err.problems()[0].var(), "M4_OAUTH2_LEEWAY");
    /// ```
    pub fn var(&self) -> &'static str {
        match self {
            Self::Duplicate { var }
            | Self::NotUnicode { var }
            | Self::Empty { var }
            | Self::Missing { var }
            | Self::InvalidBool { var, .. }
            | Self::InvalidInteger { var, .. }
            | Self::OutOfRange { var, .. }
            | Self::InvalidUrl { var, .. }
            | Self::InsecureUrl { var, .. }
            | Self::ForbiddenAlgorithm { var, .. }
            | Self::UnknownAlgorithm { var, .. }
            | Self::EmptyList { var, .. }
            | Self::InvalidScope { var, .. }
            | Self::InvalidBackend { var, .. }
            | Self::InvalidChoice { var, .. }
            | Self::ControlCharacter { var, .. } => var,
            Self::MisspeltEnabled { .. } => vars::ENABLED,
        }
    }
}

/// Every problem found while loading a configuration, reported together.
///
/// `Display` prints one line per problem, in the order of [`vars::ALL`], followed by one
/// `warning: ` line per [`Warning`] (an unknown variable often explains a missing one).
///
/// ```
/// use m4_auth_config::AuthConfig;
///
/// let err = AuthConfig::from_vars([
///     ("M4_OAUTH2_ENABLED", "true"),
///     ("M4_OAUTH2_ISUER_URL", "https://idp.example.com/"),
///     ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
/// ])
/// .unwrap_err();
/// assert_eq!(err.problems().len(), 3); // issuer and audience missing, window invalid
/// assert_eq!(err.to_string().lines().count(), 4); // plus one warning: did you mean
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<Problem>,
    warnings: Vec<Warning>,
}

impl ConfigError {
    pub(crate) fn new(problems: Vec<Problem>, warnings: Vec<Warning>) -> Self {
        Self { problems, warnings }
    }

    /// The problems, at least one, in the order of [`vars::ALL`].
    ///
    /// ```
    /// let err = m4_auth_config::AuthConfig::from_vars([("M4_OAUTH2_ENABLED", "ture")]).unwrap_err();
    /// assert_eq!(err.problems().len(), 1);
    /// ```
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// The warnings found in the same load (unknown variables and so on).
    ///
    /// ```
    /// let err = m4_auth_config::AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ENABLED", "ture"),
    ///     ("M4_OAUTH2_AUDIENC", "m4-api"),
    /// ])
    /// .unwrap_err();
    /// assert_eq!(err.warnings().len(), 1);
    /// ```
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for problem in &self.problems {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "{problem}")?;
        }
        for warning in &self.warnings {
            if !first {
                f.write_str("\n")?;
            }
            first = false;
            write!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// "; unset it to use the default, X" or ", or unset it".
struct UnsetHint(&'static str);

impl fmt::Display for UnsetHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match vars::spec(self.0).default {
            Some(default) => write!(f, "; or unset it to use the default, {default}"),
            None => f.write_str("; or unset it"),
        }
    }
}

/// A value as [`Shown`], or a note that it is not valid UTF-8.
struct ShownValue<'a>(Option<&'a str>);

impl fmt::Display for ShownValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "{}", Shown(value)),
            None => f.write_str("a value that is not valid UTF-8"),
        }
    }
}

/// Why a forbidden algorithm is forbidden.
struct ForbiddenWhy<'a>(&'a str);

impl fmt::Display for ForbiddenWhy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.eq_ignore_ascii_case("none") {
            f.write_str("`none` means unsigned tokens, which anyone can forge")
        } else {
            f.write_str(
                "HMAC algorithms (HS256, HS384, HS512) verify with a shared secret, which a JWKS \
                 cannot publish safely and which lets anyone holding it mint tokens; use an \
                 asymmetric algorithm such as RS256 or ES256",
            )
        }
    }
}

/// A user-supplied value as it appears in a message: quoted, with quotes, backslashes and
/// anything outside printable ASCII escaped (so no value can forge a second line or hide
/// behind Unicode controls), and cut after 80 characters.
pub(crate) struct Shown<'a>(pub(crate) &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIMIT: usize = 80;
        f.write_str("\"")?;
        for c in self.0.chars().take(LIMIT) {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                ' '..='~' => write!(f, "{c}")?,
                _ => write!(f, "{}", c.escape_unicode())?,
            }
        }
        f.write_str("\"")?;
        let total = self.0.chars().count();
        if total > LIMIT {
            write!(f, " (cut, {total} characters in all)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Shown;

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(Shown("1h").to_string(), "\"1h\"");
        assert_eq!(Shown("a\"b\\c").to_string(), "\"a\\\"b\\\\c\"");
        assert_eq!(Shown("x\ny").to_string(), "\"x\\u{a}y\"");
        assert_eq!(Shown("é\u{202e}").to_string(), "\"\\u{e9}\\u{202e}\"");
        let long = "a".repeat(100);
        assert_eq!(
            Shown(&long).to_string(),
            format!("\"{}\" (cut, 100 characters in all)", "a".repeat(80))
        );
    }
}
