//! Shared helpers for the acceptance suite (`tests/tests/e2e_*.rs`): the built `m4-auth`
//! binary driven over `verify --stdin --json` (one process per scenario, one line in, one JSON
//! answer out, each awaited with a timeout), the testkit's loopback identity provider (answers
//! switched mid-scenario, requests counted) set up the way most scenarios need it, and
//! hand-built tokens ([`tokens`]).
//!
//! The binary is built and run by `cli_common` (clean environment, throw-away HOME); each
//! `e2e_*.rs` file declares `mod cli_common; mod e2e_support;`.
#![allow(dead_code, unreachable_pub)]

pub mod tokens;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use m4_auth_testkit::idp::{Idp, Switch, json_body};
use m4_auth_testkit::keys;
use serde_json::Value;

use crate::cli_common::{m4_auth, wait_for_exit};

/// The audience every scenario configures and good tokens carry.
pub const AUDIENCE: &str = "m4-api";
/// The default required scope (M4_OAUTH2_REQUIRED_SCOPES unset).
pub const SCOPE: &str = "read:mimic-data";
/// How long one answer may take before the test fails: far above any verification, so a
/// timeout means the answer was never written or never flushed.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(20);

/// The settings an operator writes for `issuer` (HTTP timeout 2 s so failures are quick),
/// then `extra` (which may repeat a name to override it: the later value wins).
pub fn env_for(issuer: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = [
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", issuer),
        ("M4_OAUTH2_AUDIENCE", AUDIENCE),
        ("M4_OAUTH2_HTTP_TIMEOUT", "2"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (name, value) in extra {
        vars.retain(|(k, _)| k != name);
        vars.push(((*name).to_owned(), (*value).to_owned()));
    }
    vars
}

/// `m4-auth args...` with exactly `env` (on top of cli_common's clean environment) and a
/// throw-away HOME, which the caller keeps alive.
pub fn command(home: &tempfile::TempDir, args: &[&str], env: &[(String, String)]) -> Command {
    let mut command = m4_auth(home.path(), args);
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

/// A finished one-shot run: exit code, standard output, standard error.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `m4-auth args...` with `env` to completion.
pub fn run(args: &[&str], env: &[(String, String)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let output = command(&home, args, env).output().expect("running m4-auth");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8(output.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("utf-8 stderr"),
    }
}

/// One `m4-auth verify --stdin --json` process: one JWKS cache and one rate limiter for every
/// line sent to it. Killed and reaped on drop.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    stderr_reader: Option<JoinHandle<()>>,
    _home: tempfile::TempDir,
}

/// How a session ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Session {
    /// Starts `m4-auth verify --stdin --json` with `env`.
    pub fn start(env: &[(String, String)]) -> Session {
        let home = tempfile::tempdir().unwrap();
        let mut child = command(&home, &["verify", "--stdin", "--json"], env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting m4-auth verify --stdin --json");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, answers) = channel();
        // Drains standard output continuously, so the child never blocks on a full pipe and
        // the test can wait for each answer with a timeout.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut buffer = [0_u8; 4096];
            while let Ok(n) = pipe.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        Session {
            child,
            stdin,
            answers,
            stderr,
            stderr_reader: Some(stderr_reader),
            _home: home,
        }
    }

    /// Writes one line (a newline is added) and flushes it.
    pub fn send(&mut self, line: &str) {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        self.send_bytes(&bytes);
    }

    /// Writes raw bytes (include the newline) and flushes them.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin
            .write_all(bytes)
            .and_then(|()| stdin.flush())
            .expect("writing to m4-auth verify");
    }

    /// The next answer line, parsed and checked against the contract's shape.
    /// Fails the test if none arrives within [`ANSWER_TIMEOUT`].
    #[track_caller]
    pub fn answer(&mut self) -> Value {
        contract_shape(&self.answer_line())
    }

    /// The next answer line exactly as written (without its `\n`), unparsed.
    /// Fails the test if none arrives within [`ANSWER_TIMEOUT`].
    #[track_caller]
    pub fn answer_line(&mut self) -> String {
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => panic!(
                "no answer within {ANSWER_TIMEOUT:?}: the line was not answered or not flushed; stderr: {}",
                self.stderr()
            ),
            Err(RecvTimeoutError::Disconnected) => panic!(
                "m4-auth verify closed its output early; stderr: {}",
                self.stderr()
            ),
        }
    }

    /// Sends one line and waits for its answer before anything else is written: proves the
    /// answer was flushed as soon as the line was handled.
    #[track_caller]
    pub fn ask(&mut self, line: &str) -> Value {
        self.send(line);
        self.answer()
    }

    /// [`ask`](Self::ask), also returning how long the answer took.
    #[track_caller]
    pub fn timed_ask(&mut self, line: &str) -> (Value, Duration) {
        let started = Instant::now();
        let answer = self.ask(line);
        (answer, started.elapsed())
    }

    /// Everything written to standard error so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Closes standard input, checks that no answer is left, and waits for the exit.
    #[track_caller]
    pub fn finish(mut self) -> Finished {
        self.stdin = None;
        match self.answers.recv_timeout(ANSWER_TIMEOUT) {
            Err(RecvTimeoutError::Disconnected) => {}
            Ok(extra) => panic!("an answer nobody asked for: {extra}"),
            Err(RecvTimeoutError::Timeout) => panic!("m4-auth verify did not end at end of input"),
        }
        let status = wait_for_exit(
            &mut self.child,
            ANSWER_TIMEOUT,
            "m4-auth verify, its input closed,",
        );
        if let Some(reader) = self.stderr_reader.take() {
            reader.join().unwrap();
        }
        Finished {
            status,
            stderr: self.stderr(),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Parses one answer line and checks the contract's exact shape:
/// `{"ok":true,"sub":"...","scopes":["..."]}` or `{"ok":false,"code":"<code>","message":"..."}`,
/// with `code` one of the stable codes.
#[track_caller]
pub fn contract_shape(line: &str) -> Value {
    let value: Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {line}"));
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("answer is not a JSON object: {line}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    match object.get("ok") {
        Some(Value::Bool(true)) => {
            assert_eq!(
                keys,
                ["ok", "scopes", "sub"],
                "accepted answer shape: {line}"
            );
            assert!(value["sub"].is_string(), "{line}");
            assert!(
                value["scopes"]
                    .as_array()
                    .is_some_and(|s| s.iter().all(Value::is_string)),
                "{line}"
            );
        }
        Some(Value::Bool(false)) => {
            assert_eq!(
                keys,
                ["code", "message", "ok"],
                "rejected answer shape: {line}"
            );
            let code = value["code"].as_str().unwrap_or_default();
            assert!(m4_auth::CODES.contains(&code), "unknown code in {line}");
            let message = value["message"].as_str().unwrap_or_default();
            assert!(!message.is_empty(), "{line}");
            // Wherever the seed fixes a message, every answer with that code uses its words.
            let seed_ok = match code {
                "missing_token" => message == "Missing OAuth2 access token",
                "token_expired" => message == "Token has expired",
                "invalid_signature" => message.starts_with("Invalid token signature"),
                "missing_scopes" => message.starts_with("Missing required scopes"),
                "rate_limited" => message.starts_with("Rate limit exceeded"),
                _ => true,
            };
            assert!(seed_ok, "the seed's message for {code}: {line}");
        }
        _ => panic!("answer has no boolean ok: {line}"),
    }
    assert!(line.starts_with("{\"ok\":"), "ok comes first: {line}");
    value
}

/// What an answer must be.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Accepted with this `sub`.
    Ok(&'static str),
    /// Rejected with this code (the message is not fixed by the contract).
    Code(&'static str),
    /// Rejected with this code and exactly this message.
    Message(&'static str, &'static str),
    /// Rejected with this code and a message that starts with this text.
    Prefix(&'static str, &'static str),
    /// Rejected with this code and a message that contains this text.
    Mentions(&'static str, &'static str),
}

/// Checks `answer` against `expected`; `label` names the case in the failure message.
#[track_caller]
pub fn check(answer: &Value, expected: Expect, label: &str) {
    let (ok, code, message) = (
        answer["ok"].as_bool(),
        answer["code"].as_str().unwrap_or_default(),
        answer["message"].as_str().unwrap_or_default(),
    );
    let good = match expected {
        Expect::Ok(sub) => ok == Some(true) && answer["sub"] == sub,
        Expect::Code(want) => ok == Some(false) && code == want,
        Expect::Message(want, text) => ok == Some(false) && code == want && message == text,
        Expect::Prefix(want, text) => {
            ok == Some(false) && code == want && message.starts_with(text)
        }
        Expect::Mentions(want, text) => ok == Some(false) && code == want && message.contains(text),
    };
    assert!(good, "{label}: expected {expected:?}, got {answer}");
}

/// A provider with discovery at the root (issuer `http://127.0.0.1:PORT`) and the committed
/// `jwks.json` (rsa-2048, rsa-4096, ec-p256) at `/jwks.json` behind a [`Switch`].
pub fn standard_idp() -> (Idp, String, Switch) {
    let idp = Idp::start();
    let issuer = idp.discovery("", "/jwks.json");
    let jwks = Switch::new(json_body(keys::jwks_json()));
    idp.serve("/jwks.json", jwks.clone());
    (idp, issuer, jwks)
}
