//! `cargo xtask`: workspace automation for m4-auth (keys, snapshots, tidy, ci).
#![forbid(unsafe_code)]

mod bench;
mod ci;
mod keys;
mod snapshots;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <command>
  keys                 regenerate tests/fixtures/keys/ (needs the openssl command)
  snapshots            run every test in insta check mode and list the snapshot files
  snapshots --print    print every committed snapshot, for review (runs nothing)
  tidy                 check source invariants (module docs, no todo!/ignore, forbid(unsafe_code))
  ci                   tidy, fmt --check, deny, clippy -D warnings, tests + snapshot check, doc -D warnings
  bench [--peers]      short criterion run of the m4-auth benches and the ratio table (docs/performance.md)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let result = match args.first().map(String::as_str) {
        Some("keys") if args.len() == 1 => keys::run(&root.join("tests/fixtures/keys")),
        Some("snapshots") => snapshots::run(&root, args.get(1..).unwrap_or_default()),
        Some("tidy") if args.len() == 1 => tidy::run(&root),
        Some("ci") if args.len() == 1 => ci::run(&root),
        Some("bench") => bench::run(&root, args.get(1..).unwrap_or_default()),
        Some("help" | "--help" | "-h") => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(format!("unknown or malformed command `{other}`\n{USAGE}")),
        None => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: the parent of this crate's manifest directory.
fn workspace_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Calls `visit` with every file under `dir` (its path, and its parent folder's name), skipping
/// build output (`target`, `target-*`) and hidden folders (`.git`, ...).
fn visit_files(dir: &Path, visit: &mut dyn FnMut(&Path, &str)) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    let folder = dir
        .file_name()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if kind.is_dir() {
            if name != "target" && !name.starts_with("target-") && !name.starts_with('.') {
                visit_files(&path, visit)?;
            }
        } else if kind.is_file() {
            visit(&path, &folder);
        }
    }
    Ok(())
}

/// Run `cargo <args>` in `root` with extra environment; fail with the command line.
fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).current_dir(root);
    for (key, value) in env {
        command.env(key, value);
    }
    let shown_env: String = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    let shown = format!("{shown_env}cargo {}", args.join(" "));
    eprintln!("$ {shown}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` exited with {status}"))
    }
}
