//! The tidy pass: source invariants checked by `cargo xtask ci` and by `cargo test` (as the
//! `#[test]` below), so plain `cargo test --workspace` enforces them too.
//!
//! - every `.rs` file starts with a `//!` module doc (or `#![doc = ...]` for a crate root);
//! - no `todo` or `unimplemented` macro calls, no ignored or should-panic test attributes;
//! - every library crate root (`crates/*/src/lib.rs`, `tests/src/lib.rs`) has
//!   `#![forbid(unsafe_code)]`.

use std::path::Path;

/// Patterns that must not appear, spelled in pieces so this file does not match itself.
const FORBIDDEN: [(&str, &str); 4] = [
    (
        concat!("todo", "!("),
        "a todo marker: finish the code or file an issue",
    ),
    (
        concat!("unimplemented", "!("),
        "an unimplemented marker: finish the code",
    ),
    (
        concat!("#[", "ignore"),
        "an ignored test: fix it or delete it",
    ),
    (
        concat!("#[", "should_panic"),
        "a should-panic test: assert on a returned error instead",
    ),
];

/// Every violation found under `root`, one line each (`path: what`).
pub(crate) fn check(root: &Path) -> Result<Vec<String>, String> {
    let mut files = Vec::new();
    crate::visit_files(root, &mut |path, _| {
        if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.to_path_buf());
        }
    })?;
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let shown = file
            .strip_prefix(root)
            .unwrap_or(file)
            .display()
            .to_string();
        let first = text.lines().next().unwrap_or_default();
        if !first.starts_with("//!") && !first.starts_with("#![doc") {
            violations.push(format!(
                "{shown}: does not start with a `//!` module doc line"
            ));
        }
        for (number, line) in text.lines().enumerate() {
            for (pattern, what) in FORBIDDEN {
                if line.contains(pattern) {
                    violations.push(format!("{shown}:{}: {what}", number + 1));
                }
            }
        }
        if is_library_root(root, file) && !text.contains("#![forbid(unsafe_code)]") {
            violations.push(format!(
                "{shown}: library crate root lacks #![forbid(unsafe_code)]"
            ));
        }
    }
    Ok(violations)
}

fn is_library_root(root: &Path, file: &Path) -> bool {
    let Ok(relative) = file.strip_prefix(root) else {
        return false;
    };
    let parts: Vec<_> = relative.iter().filter_map(|p| p.to_str()).collect();
    matches!(
        parts.as_slice(),
        ["crates", _, "src", "lib.rs"] | ["tests", "src", "lib.rs"]
    )
}

/// `cargo xtask tidy`: print violations and fail if there are any.
pub(crate) fn run(root: &Path) -> Result<(), String> {
    let violations = check(root)?;
    if violations.is_empty() {
        eprintln!("xtask tidy: ok");
        return Ok(());
    }
    for v in &violations {
        eprintln!("{v}");
    }
    Err(format!("tidy found {} problem(s)", violations.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_is_tidy() {
        let violations = check(&crate::workspace_root()).unwrap();
        assert!(
            violations.is_empty(),
            "tidy violations:\n{}",
            violations.join("\n")
        );
    }

    #[test]
    fn tidy_catches_each_kind_of_violation() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let lib = dir.join("crates/demo/src");
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::write(lib.join("lib.rs"), "//! Demo.\npub fn f() {}\n").unwrap();
        let body = format!("fn g() {{ {} }}\n", FORBIDDEN[0].0.to_owned() + ")");
        std::fs::write(lib.join("bad.rs"), body).unwrap();
        let violations = check(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(violations.len(), 3, "{violations:#?}");
        assert!(violations[0].contains("bad.rs: does not start"));
        assert!(violations[1].contains("bad.rs:1: a todo marker"));
        assert!(violations[2].contains("lib.rs: library crate root lacks"));
    }
}
