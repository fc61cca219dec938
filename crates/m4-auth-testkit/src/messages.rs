//! The text of an exhaustive message snapshot: one sample of every error variant, one line
//! each, checked for completeness and style before the caller snapshots it with insta.
//!
//! The caller names every variant with [`variant_name!`](crate::variant_name), a `match` with
//! no wildcard arm, so a new variant fails to compile until it has a name and a sample; this
//! checks that the samples cover every name exactly once and that no message ends with a
//! period.

use std::collections::BTreeSet;
use std::fmt::Display;

/// `"<name>: <message>\n"` for every sample, after checking that there are exactly `variants`
/// samples with `variants` distinct names and that no message ends with `.`.
///
/// ```
/// let samples = ["disk full", "no such user"];
/// let name = |s: &&str| if s.starts_with("disk") { "Disk" } else { "User" };
/// let text = m4_auth_testkit::messages::lines(&samples, name, 2);
/// assert_eq!(text, "Disk: disk full\nUser: no such user\n");
/// ```
///
/// # Panics
/// When a variant is missing or sampled twice, or a message ends with a period: the test
/// that called it fails, naming what is wrong.
pub fn lines<E: Display>(
    samples: &[E],
    name: impl Fn(&E) -> &'static str,
    variants: usize,
) -> String {
    lines_with(samples, name, variants, |_, name, message| {
        format!("{name}: {message}\n")
    })
}

/// [`lines`] with each sample's text written by `line(sample, name, message)` (a crate that
/// also shows a code or indents the message), after the same checks.
///
/// ```
/// let samples = ["disk full", "no such user"];
/// let name = |s: &&str| if s.starts_with("disk") { "Disk" } else { "User" };
/// let text = m4_auth_testkit::messages::lines_with(&samples, name, 2, |_, name, message| {
///     format!("{name}\n  {message}\n")
/// });
/// assert_eq!(text, "Disk\n  disk full\nUser\n  no such user\n");
/// ```
///
/// # Panics
/// As [`lines`].
pub fn lines_with<E: Display>(
    samples: &[E],
    name: impl Fn(&E) -> &'static str,
    variants: usize,
    line: impl Fn(&E, &str, &str) -> String,
) -> String {
    let names: BTreeSet<&str> = samples.iter().map(&name).collect();
    assert_eq!(names.len(), variants, "one sample per variant");
    assert_eq!(samples.len(), variants);
    samples
        .iter()
        .map(|e| {
            let message = e.to_string();
            assert!(!message.ends_with('.'), "trailing period: {message}");
            line(e, name(e), &message)
        })
        .collect()
}

/// The name of the variant `value` holds, by a `match` with no wildcard arm: a new variant of
/// the enum does not compile until it is listed, so an exhaustive snapshot cannot miss it.
/// Each variant is listed with the pattern its fields need (`{ .. }`, `(_)` or nothing); the
/// name is the variant's own, so it cannot drift from it.
///
/// ```
/// enum Error {
///     Disk { free: u64 },
///     Io(std::io::ErrorKind),
///     Denied,
/// }
///
/// fn name(error: &Error) -> &'static str {
///     m4_auth_testkit::variant_name!(error, Error { Disk { .. }, Io(_), Denied })
/// }
///
/// assert_eq!(name(&Error::Disk { free: 0 }), "Disk");
/// assert_eq!(name(&Error::Io(std::io::ErrorKind::Other)), "Io");
/// assert_eq!(name(&Error::Denied), "Denied");
/// ```
#[macro_export]
macro_rules! variant_name {
    ($value:expr, $enum:ident {
        $($variant:ident $({ $($named:tt)* })? $(( $($unnamed:tt)* ))?),* $(,)?
    }) => {
        match $value {
            $($enum::$variant $({ $($named)* })? $(( $($unnamed)* ))? => ::core::stringify!($variant),)*
        }
    };
}
