//! Running the built `m4-auth` binary (and the `m4_mcp_server` example) from the end-to-end
//! tests.
//!
//! Cargo only hands `CARGO_BIN_EXE_*` to tests of the binary's own package, and nothing to
//! tests of another package's examples, so [`build`] builds the program once per test process
//! with the same cargo, target directory and profile (an up-to-date build is a no-op) and
//! returns its path.
//! Every run gets a clean environment: no inherited `M4_OAUTH2_*`, no proxy variables, and a
//! throw-away HOME, so a test can never read the developer's settings or write their files.
#![cfg(test)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The `m4-auth` binary, built on first use.
pub(crate) fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| build("m4-auth-cli", "--bin", "m4-auth"))
}

/// Builds `package`'s `kind` (`--bin` or `--example`) `name` with the cargo, target directory
/// and profile of this test binary (an up-to-date build is a no-op); returns its path.
pub(crate) fn build(package: &str, kind: &str, name: &str) -> PathBuf {
    // <target>/<profile dir>/deps/<this test binary>
    let exe = std::env::current_exe().expect("current test executable");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("<target>/<profile>/deps");
    let target_dir = profile_dir.parent().expect("<target>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("unexpected test binary location {}", exe.display()),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            package,
            kind,
            name,
            "--profile",
            profile,
        ])
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("running cargo build");
    assert!(
        status.success(),
        "cargo build -p {package} {kind} {name} failed"
    );
    let dir = match kind {
        "--example" => profile_dir.join("examples"),
        _ => profile_dir.to_owned(),
    };
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.is_file(), "{} was not built", binary.display());
    binary
}

/// A command for `m4-auth args...` with a clean environment and a throw-away HOME.
pub(crate) fn m4_auth(home: &Path, args: &[&str]) -> Command {
    clean_command(binary(), home, args)
}

/// A command for `program args...` with a clean environment and a throw-away HOME.
pub(crate) fn clean_command(program: &Path, home: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for keep in ["PATH", "SYSTEMROOT", "TMPDIR"] {
        if let Some(value) = std::env::var_os(keep) {
            command.env(keep, value);
        }
    }
    command
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("APPDATA", home.join("AppData"))
        .env("NO_COLOR", "1")
        .args(args)
        .stdin(Stdio::null());
    command
}

/// `vars` (for example a dev issuer's `env()`) plus `extra`, as owned pairs for `Command::envs`.
pub(crate) fn with_vars(
    mut vars: Vec<(String, String)>,
    extra: &[(&str, &str)],
) -> Vec<(String, String)> {
    vars.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    vars
}

/// Runs the command and returns its output (status, stdout, stderr).
pub(crate) fn run(mut command: Command) -> Output {
    command.output().expect("running m4-auth")
}

/// Standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8 stdout")
}

/// Standard error as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("utf-8 stderr")
}

/// Waits for `child` to exit, polling every 5 ms; fails the test, naming `what` is running,
/// after `within`.
#[track_caller]
pub(crate) fn wait_for_exit(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("polling the child") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} still running after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A child process that is killed (and reaped) when dropped, so no test leaves one behind.
pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) stdin: Option<ChildStdin>,
    pub(crate) stdout: BufReader<ChildStdout>,
}

impl Running {
    /// Starts `command` with piped stdin and stdout.
    pub(crate) fn start(mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting m4-auth");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Running {
            child,
            stdin,
            stdout,
        }
    }

    /// The next line of standard output without its newline; `None` at the end of output.
    pub(crate) fn line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .expect("reading m4-auth stdout");
        (read > 0).then(|| line.trim_end_matches(['\r', '\n']).to_owned())
    }

    /// Writes one line to standard input and flushes it.
    pub(crate) fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .expect("writing m4-auth stdin");
    }

    /// Closes standard input (end of the stream).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
