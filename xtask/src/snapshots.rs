//! `cargo xtask snapshots`: every insta snapshot test in check mode, and where the snapshots are.
//!
//! Check mode means `INSTA_UPDATE=no`, `INSTA_FORCE_PASS=0` and `CI=true`: a snapshot that is
//! new or differs from the committed `.snap` file fails its test, and nothing is written or
//! accepted. `--print` shows every committed snapshot's text, for a reviewer.

use std::path::{Path, PathBuf};

use crate::cargo;

/// The environment that puts insta in check mode.
pub(crate) const CHECK_ENV: [(&str, &str); 3] = [
    ("INSTA_UPDATE", "no"),
    ("INSTA_FORCE_PASS", "0"),
    ("CI", "true"),
];

/// Run the workspace tests in check mode.
pub(crate) fn check(root: &Path) -> Result<(), String> {
    cargo(root, &["test", "--workspace", "--no-fail-fast"], &CHECK_ENV)
}

/// After a check: list the committed snapshots and refuse leftovers awaiting review.
pub(crate) fn inventory(root: &Path) -> Result<(), String> {
    let (snaps, pending) = find(root)?;
    eprintln!(
        "xtask snapshots: {} committed snapshot file(s):",
        snaps.len()
    );
    for s in &snaps {
        eprintln!("  {}", relative(root, s));
    }
    if !pending.is_empty() {
        for p in &pending {
            eprintln!("  pending: {}", relative(root, p));
        }
        return Err(format!(
            "{} pending snapshot file(s) (.snap.new / .pending-snap) await review: \
             accept with `cargo insta review` after reading them, or delete them",
            pending.len()
        ));
    }
    Ok(())
}

/// `cargo xtask snapshots [--print]`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<(), String> {
    match args {
        [] => {
            check(root)?;
            inventory(root)
        }
        [flag] if flag == "--print" => print(root),
        _ => Err("usage: cargo xtask snapshots [--print]".to_owned()),
    }
}

/// Print every committed snapshot's body under its path, without insta's header.
fn print(root: &Path) -> Result<(), String> {
    let (snaps, _) = find(root)?;
    for s in &snaps {
        let text =
            std::fs::read_to_string(s).map_err(|e| format!("cannot read {}: {e}", s.display()))?;
        println!("==> {}", relative(root, s));
        println!("{}", body(&text).trim_end());
        println!();
    }
    eprintln!("xtask snapshots: printed {} snapshot file(s)", snaps.len());
    Ok(())
}

/// The snapshot text after insta's `---`-delimited metadata header.
fn body(text: &str) -> &str {
    text.strip_prefix("---\n")
        .and_then(|rest| rest.split_once("\n---\n"))
        .map_or(text, |(_, body)| body)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Committed `.snap` files inside `snapshots/` folders, and pending ones anywhere.
fn find(root: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), String> {
    let mut snaps = Vec::new();
    let mut pending = Vec::new();
    crate::visit_files(root, &mut |path, folder| {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name.ends_with(".snap.new") || name.ends_with(".pending-snap") {
            pending.push(path.to_path_buf());
        } else if name.ends_with(".snap") && folder == "snapshots" {
            snaps.push(path.to_path_buf());
        }
    })?;
    snaps.sort();
    pending.sort();
    Ok((snaps, pending))
}

#[cfg(test)]
mod tests {
    use super::body;

    #[test]
    fn body_drops_the_insta_header() {
        let snap = "---\nsource: x.rs\nexpression: e\n---\nline one\nline two\n";
        assert_eq!(body(snap), "line one\nline two\n");
        assert_eq!(body("no header"), "no header");
    }
}
