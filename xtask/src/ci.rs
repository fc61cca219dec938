//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.
//!
//! Steps: tidy, `cargo fmt --check`, clippy with `-D warnings`, `cargo test --workspace` in
//! insta check mode (this one run is both the README's test command and the snapshot check,
//! so the suite is not run twice on a 2-core machine), the snapshot inventory, and
//! `cargo doc` with warnings denied.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{cargo, snapshots, tidy};

type Step = (&'static str, fn(&Path) -> Result<(), String>);

const STEPS: [Step; 6] = [
    ("tidy", tidy::run),
    ("fmt --check", |root| {
        cargo(root, &["fmt", "--all", "--", "--check"], &[])
    }),
    ("clippy -D warnings", |root| {
        cargo(
            root,
            &[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            &[],
        )
    }),
    ("test --workspace (insta check mode)", snapshots::check),
    ("snapshot inventory", snapshots::inventory),
    ("doc -D warnings", |root| {
        // The CLI's binary is called `m4-auth`, like the facade library: documenting both in
        // one invocation collides on `target/doc/m4_auth`, so the binary gets its own run.
        let env = [("RUSTDOCFLAGS", "-D warnings")];
        cargo(
            root,
            &[
                "doc",
                "--workspace",
                "--no-deps",
                "--exclude",
                "m4-auth-cli",
            ],
            &env,
        )?;
        cargo(
            root,
            &["doc", "--package", "m4-auth-cli", "--no-deps"],
            &env,
        )
    }),
];

/// Run every step; print a summary; fail with the first failing step.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let mut results: Vec<(&str, Option<Result<Duration, String>>)> =
        STEPS.iter().map(|(name, _)| (*name, None)).collect();
    let mut failure = None;
    for ((name, step), slot) in STEPS.iter().zip(results.iter_mut()) {
        eprintln!("\n=== xtask ci: {name}");
        let started = Instant::now();
        match step(root) {
            Ok(()) => slot.1 = Some(Ok(started.elapsed())),
            Err(message) => {
                slot.1 = Some(Err(message.clone()));
                failure = Some(format!("step `{name}` failed: {message}"));
                break;
            }
        }
    }
    eprintln!("\n=== xtask ci summary");
    for (name, result) in &results {
        match result {
            Some(Ok(took)) => eprintln!("  ok       {name:<38} {:>6.1}s", took.as_secs_f64()),
            Some(Err(message)) => eprintln!("  FAILED   {name:<38} {message}"),
            None => eprintln!("  skipped  {name}"),
        }
    }
    match failure {
        None => {
            eprintln!("xtask ci: all {} steps passed", STEPS.len());
            Ok(())
        }
        Some(message) => Err(message),
    }
}
