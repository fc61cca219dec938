//! [`Warning`]: things a load accepts but that the operator should hear about.

use crate::error::Shown;
use crate::vars;

/// A warning from a successful (or failed) load: data to show, not a log line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// A variable starting with `M4_OAUTH` (any case) that this crate does not read.
    #[error("{} is not a variable m4-auth reads, so it is ignored{}", Shown(name), DidYouMean(*suggestion))]
    UnknownVariable {
        /// The name as found.
        name: String,
        /// The known variable it most resembles, if one is close.
        suggestion: Option<&'static str>,
    },
    /// Authentication is disabled, yet settings that only matter when it is enabled are set.
    #[error("M4_OAUTH2_ENABLED is false, so these settings have no effect: {}; every tool is reachable without a token (set M4_OAUTH2_ENABLED=true to enforce authentication)", vars.join(", "))]
    IgnoredWhileDisabled {
        /// The variables set to no effect.
        vars: Vec<&'static str>,
    },
    /// One of the `M4_OAUTH2_VALIDATE_*` checks is turned off while authentication is enabled.
    #[error("{var}=false: {}; use this only for debugging", Consequence(var))]
    CheckDisabled {
        /// The `M4_OAUTH2_VALIDATE_*` variable.
        var: &'static str,
    },
}

struct DidYouMean(Option<&'static str>);

impl std::fmt::Display for DidYouMean {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(name) => write!(f, " (did you mean {name}?)"),
            None => Ok(()),
        }
    }
}

struct Consequence<'a>(&'a str);

impl std::fmt::Display for Consequence<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            vars::VALIDATE_EXP => "expired tokens are accepted",
            vars::VALIDATE_AUD => "tokens issued for any audience are accepted",
            vars::VALIDATE_ISS => "tokens from any issuer are accepted if a JWKS key verifies them",
            _ => "a token check is turned off",
        })
    }
}

/// The known variable closest to `name` (compared in upper case), if it is close enough to be
/// a typo: at most 3 edits away, or a truncation of it (`M4_OAUTH2_ISSUER`).
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    let truncation =
        |known: &str| upper.len() > vars::PREFIX.len() + 2 && known.starts_with(&upper);
    vars::ALL
        .iter()
        .map(|known| (edit_distance(&upper, known), *known))
        .filter(|(d, known)| *d <= 3 || truncation(known))
        .min_by_key(|(d, _)| *d)
        .map(|(_, known)| known)
}

/// Whether `name`, which does not start with `M4_OAUTH`, is still within 2 edits of
/// `M4_OAUTH2_ENABLED` (compared in upper case), as `M4_AUTH2_ENABLED` or `M4_0AUTH2_ENABLED` are.
pub(crate) fn near_enabled(name: &str) -> bool {
    // A name more than 2 characters longer or shorter cannot be within 2 edits.
    name.len().abs_diff(vars::ENABLED.len()) <= 2
        && edit_distance(&name.to_ascii_uppercase(), vars::ENABLED) <= 2
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        if let Some(first) = cur.first_mut() {
            *first = i + 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev.get(j).copied().unwrap_or(usize::MAX) + usize::from(ca != *cb);
            let delete = prev
                .get(j + 1)
                .copied()
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            let insert = cur.get(j).copied().unwrap_or(usize::MAX).saturating_add(1);
            if let Some(slot) = cur.get_mut(j + 1) {
                *slot = substitute.min(delete).min(insert);
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[track_caller]
    fn check(name: &str, expected: Option<&str>) {
        assert_eq!(suggest(name), expected, "{name}");
    }

    #[test]
    fn suggestions() {
        check("M4_OAUTH2_ISUER_URL", Some(vars::ISSUER_URL));
        check("M4_OAUTH2_ISSUER", Some(vars::ISSUER_URL));
        check("m4_oauth2_enabled", Some(vars::ENABLED));
        check("M4_OAUTH_ENABLED", Some(vars::ENABLED));
        check("M4_OAUTH2_SCOPES", None);
        check("M4_OAUTH2_REQUIRED_SCOPE", Some(vars::REQUIRED_SCOPES));
        check("M4_OAUTH2_TOKENS", Some(vars::TOKEN));
        check("M4_OAUTH2_SOMETHING_ELSE", None);
        check("M4_OAUTH2_ENABLE", Some(vars::ENABLED));
        check("M4_OAUTH2_ENABLES", Some(vars::ENABLED));
        check("M4_OAUTH2_DISABLED", Some(vars::ENABLED));
    }

    #[test]
    fn near_misses_of_enabled_outside_the_prefix() {
        for name in [
            "M4_AUTH2_ENABLED",
            "m4_0auth2_enabled",
            "M4-OAUTH2-ENABLED",
            "M4OAUTH2_ENABLED",
        ] {
            assert!(near_enabled(name), "{name}");
        }
        for name in [
            "OAUTH2_ENABLED",
            "M4_OTHER",
            "PATH",
            "M4_FEATURE_ENABLED",
            "",
        ] {
            assert!(!near_enabled(name), "{name}");
        }
    }
}
