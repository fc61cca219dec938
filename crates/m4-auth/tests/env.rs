//! `authenticate_env` and `guard_env` read `M4_OAUTH2_TOKEN`. The environment cannot be changed
//! safely inside a multi-threaded test process, so each case re-runs this test binary as a child
//! with the variable set, and the child prints its verdict.
#![cfg(test)]

mod support;

use std::ffi::OsString;
use std::process::Command;

use support::*;

/// Marks the child process; its value is never a token.
const CHILD: &str = "M4_AUTH_ENV_TEST_CHILD";

/// The child's side: authenticate from the environment and print the verdict. In the parent
/// (no marker) there is nothing to do: the parent's cases are in `env_cases`.
#[test]
fn child_prints_its_verdict() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let (auth, _clock) = authenticator(&[]);
    let verdict = match auth.authenticate_env() {
        Ok(p) => format!("ok {}", p.sub()),
        Err(e) => e.code().to_owned(),
    };
    let reply = auth
        .guard_env(|p| format!("tool ran for {}", p.sub()))
        .unwrap_or_else(|e| e);
    println!("VERDICT={verdict}");
    println!("REPLY={reply}");
}

/// Runs the child with `M4_OAUTH2_TOKEN` set to `token` (unset for `None`) and returns its
/// `VERDICT=` and `REPLY=` lines.
fn run_child(token: Option<OsString>) -> (String, String) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "child_prints_its_verdict",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, "1")
    .env_remove("M4_OAUTH2_TOKEN");
    if let Some(token) = token {
        cmd.env("M4_OAUTH2_TOKEN", token);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.find(prefix).and_then(|at| l.get(at + prefix.len()..)))
            .unwrap_or_else(|| panic!("no {prefix} in {stdout}"))
            .to_owned()
    };
    (line("VERDICT="), line("REPLY="))
}

#[test]
fn env_cases() {
    let token = sign("rsa-2048", &claims("alice"));
    assert_eq!(
        run_child(Some(token.clone().into())),
        ("ok alice".to_owned(), "tool ran for alice".to_owned())
    );
    assert_eq!(
        run_child(Some(format!("Bearer {token}\n").into())),
        ("ok alice".to_owned(), "tool ran for alice".to_owned())
    );
    assert_eq!(
        run_child(None),
        (
            "missing_token".to_owned(),
            "Error: Missing OAuth2 access token".to_owned()
        )
    );
    assert_eq!(
        run_child(Some("  ".into())),
        (
            "missing_token".to_owned(),
            "Error: Missing OAuth2 access token".to_owned()
        )
    );
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        assert_eq!(
            run_child(Some(OsString::from_vec(vec![0x65, 0xff, 0x2e]))),
            (
                "malformed_token".to_owned(),
                "Error: M4_OAUTH2_TOKEN is not valid UTF-8: set it to the access token, a JWT"
                    .to_owned()
            )
        );
    }
}
