//! [`Secret`]: a string that never shows itself in `Debug` or `Display`.

use std::fmt;

/// A secret string (the client secret, an access token).
///
/// `Debug` and `Display` print `[redacted]`, so a secret cannot leak through logs, panics or
/// error messages by accident.
/// The value is reachable only through [`Secret::expose_secret`], whose name makes each use
/// visible in review.
/// `Secret` deliberately implements no serialization.
///
/// ```
/// use m4_auth_config::Secret;
///
/// let secret = Secret::new("s3cr3t");
/// assert_eq!(format!("{secret}"), "[redacted]");
/// assert_eq!(format!("{secret:?}"), "[redacted]");
/// assert_eq!(secret.expose_secret(), "s3cr3t");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    ///
    /// ```
    /// let token = m4_auth_config::Secret::new(String::from("eyJ..."));
    /// assert!(!format!("{token:?}").contains("eyJ"));
    /// ```
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself: pass it on, never print it.
    ///
    /// ```
    /// assert_eq!(m4_auth_config::Secret::new("x").expose_secret(), "x");
    /// ```
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
