//! The text of an exhaustive message snapshot: one sample of every error variant, one line
//! each, checked for completeness and style before the caller snapshots it with insta.
//!
//! The caller keeps the `match` that names every variant (no wildcard arm), so a new variant
//! fails to compile until it has a name and a sample; this checks that the samples cover every
//! name exactly once and that no message ends with a period.

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
    let names: BTreeSet<&str> = samples.iter().map(&name).collect();
    assert_eq!(names.len(), variants, "one sample per variant");
    assert_eq!(samples.len(), variants);
    samples
        .iter()
        .map(|e| {
            let message = e.to_string();
            assert!(!message.ends_with('.'), "trailing period: {message}");
            format!("{}: {message}\n", name(e))
        })
        .collect()
}
