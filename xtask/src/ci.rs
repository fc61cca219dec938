//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.
//!
//! Steps: tidy, `cargo fmt --check`, the dependency audit (`cargo deny check bans licenses
//! sources`, offline), clippy with `-D warnings`, `cargo test --workspace` in insta check mode
//! (this one run is both the README's test command and the snapshot check, so the suite is not
//! run twice on a 2-core machine), the snapshot inventory, and `cargo doc` with warnings denied.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{cargo, snapshots, tidy};

type Step = (&'static str, fn(&Path) -> Result<(), String>);

const STEPS: [Step; 7] = [
    ("tidy", tidy::run),
    ("fmt --check", |root| {
        cargo(root, &["fmt", "--all", "--", "--check"], &[])
    }),
    ("deny: bans, licenses, sources", deny),
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

/// The cargo-deny version `.ci/run` installs, and the one `deny.toml` was checked with.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// `cargo deny --offline check bans licenses sources` against `deny.toml`.
///
/// Offline, because the RustSec advisory database is fetched from GitHub, which the build
/// machines cannot reach; the other three checks need only `Cargo.lock` and the registry
/// cache. Without cargo-deny installed the step says so loudly and passes, except under `CI`,
/// where it fails: CI must audit what it lands.
fn deny(root: &Path) -> Result<(), String> {
    // Through cargo, as the step runs it: cargo also finds subcommands in $CARGO_HOME/bin.
    let cargo_bin = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let installed = std::process::Command::new(cargo_bin)
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !installed {
        let install = format!("cargo install cargo-deny --locked --version {CARGO_DENY_VERSION}");
        if std::env::var_os("CI").is_some() {
            return Err(format!(
                "cargo-deny is not installed (CI is set, so this is a failure): run `{install}`"
            ));
        }
        eprintln!("SKIPPED: cargo-deny is not installed; `{install}` to run the audit");
        return Ok(());
    }
    cargo(
        root,
        &["deny", "--offline", "check", "bans", "licenses", "sources"],
        &[],
    )
}

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
