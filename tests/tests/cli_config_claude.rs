//! `m4-auth config claude` end to end: the built binary on temporary Claude Desktop configs.
#![cfg(test)]

mod cli_common;

use std::fs;
use std::path::Path;

use cli_common::{m4_auth, run, stderr, stdout};
use serde_json::{Value, json};

const ISSUER: &str = "https://auth.example.com/";

fn config_claude<'a>(path: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "config",
        "claude",
        "--enable-oauth2",
        "--oauth2-issuer",
        ISSUER,
        "--oauth2-audience",
        "m4-api",
        "--config-path",
        path,
    ];
    args.extend_from_slice(extra);
    args
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

const EXISTING: &str = r#"{
  "globalShortcut": "Alt+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/data"]},
    "m4": {
      "command": "/opt/m4/bin/python",
      "args": ["-m", "m4.mcp_server"],
      "env": {"M4_BACKEND": "duckdb", "M4_OAUTH2_JWKS_URL": "https://stale.example/jwks.json"}
    }
  }
}"#;

#[test]
fn merges_into_the_m4_entry_keeps_the_rest_and_backs_up() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, EXISTING).unwrap();
    let path_arg = path.to_str().unwrap();
    let output = run(m4_auth(
        home.path(),
        &config_claude(
            path_arg,
            &[
                "--oauth2-scopes",
                "read:mimic-data,write:notes",
                "--rate-limit-requests",
                "500",
            ],
        ),
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let json = read_json(&path);
    assert_eq!(json["globalShortcut"], "Alt+Space");
    assert_eq!(
        json["mcpServers"]["filesystem"],
        json!({"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/data"]})
    );
    assert_eq!(json["mcpServers"]["m4"]["command"], "/opt/m4/bin/python");
    assert_eq!(
        json["mcpServers"]["m4"]["args"],
        json!(["-m", "m4.mcp_server"])
    );
    assert_eq!(
        json["mcpServers"]["m4"]["env"],
        json!({
            "M4_BACKEND": "duckdb",
            "M4_OAUTH2_ENABLED": "true",
            "M4_OAUTH2_ISSUER_URL": ISSUER,
            "M4_OAUTH2_AUDIENCE": "m4-api",
            "M4_OAUTH2_REQUIRED_SCOPES": "read:mimic-data,write:notes",
            "M4_OAUTH2_RATE_LIMIT_REQUESTS": "500",
        })
    );
    // The backup is the file as it was, byte for byte; nothing else is left behind.
    let backup = home.path().join("claude_desktop_config.json.bak");
    assert_eq!(fs::read_to_string(&backup).unwrap(), EXISTING);
    assert_eq!(
        file_names(home.path()),
        [
            "claude_desktop_config.json",
            "claude_desktop_config.json.bak"
        ]
    );
    let report = stdout(&output);
    assert!(
        report.contains("+ M4_OAUTH2_ISSUER_URL=https://auth.example.com/"),
        "{report}"
    );
    assert!(report.contains("- M4_OAUTH2_JWKS_URL"), "{report}");
    assert!(
        report.contains(&format!(
            "backup of the previous file: {}",
            backup.display()
        )),
        "{report}"
    );
}

/// `config claude` on a file holding `content`: exit 2, a message containing `expected(path)`,
/// and the file exactly as it was, with no backup or temporary file beside it.
#[track_caller]
fn refused_and_left_alone(content: &str, expected: impl Fn(&Path) -> String) {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, content).unwrap();
    let output = run(m4_auth(
        home.path(),
        &config_claude(path.to_str().unwrap(), &[]),
    ));
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains(&expected(&path)), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), content);
    assert_eq!(file_names(home.path()), ["claude_desktop_config.json"]);
}

#[test]
fn a_number_that_would_change_is_refused_and_left_alone() {
    refused_and_left_alone(
        "{\"mcpServers\": {\"m4\": {\"command\": \"m4\"}}, \"big\": 123456789012345678901234567890}\n",
        |_| {
            "holds the number 123456789012345678901234567890, which this tool cannot rewrite exactly".into()
        },
    );
}

#[test]
fn a_corrupt_file_is_refused_and_left_alone() {
    refused_and_left_alone(
        "{\n  \"mcpServers\": {\n    \"m4\": {\"command\": \"m4\",}\n  }\n}\n",
        |path| {
            format!(
                "{} is not valid JSON (line 3, column 28); it was left untouched",
                path.display()
            )
        },
    );
}

#[test]
fn the_default_path_is_under_home() {
    let home = tempfile::tempdir().unwrap();
    let mut args = vec![
        "config",
        "claude",
        "--enable-oauth2",
        "--oauth2-issuer",
        ISSUER,
        "--oauth2-audience",
        "m4-api",
        "--",
        "python",
        "-m",
        "m4.mcp_server",
    ];
    let output = run(m4_auth(home.path(), &args));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let expected = if cfg!(target_os = "macos") {
        home.path()
            .join("Library/Application Support/Claude/claude_desktop_config.json")
    } else if cfg!(windows) {
        home.path()
            .join("AppData")
            .join("Claude")
            .join("claude_desktop_config.json")
    } else {
        home.path()
            .join(".config/Claude/claude_desktop_config.json")
    };
    let json = read_json(&expected);
    assert_eq!(json["mcpServers"]["m4"]["command"], "python");
    assert_eq!(
        json["mcpServers"]["m4"]["args"],
        json!(["-m", "m4.mcp_server"])
    );
    assert_eq!(
        json["mcpServers"]["m4"]["env"]["M4_OAUTH2_AUDIENCE"],
        "m4-api"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&expected).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Running it again changes nothing and says so.
    args.truncate(7);
    let again = run(m4_auth(home.path(), &args));
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stdout(&again).contains("already has these settings; nothing written"));
    assert_eq!(
        file_names(expected.parent().unwrap()),
        ["claude_desktop_config.json"]
    );
}

#[test]
fn no_m4_entry_and_no_command_is_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, r#"{"mcpServers": {}}"#).unwrap();
    let output = run(m4_auth(
        home.path(),
        &config_claude(path.to_str().unwrap(), &[]),
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("has no `mcpServers.m4` entry"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"mcpServers": {}}"#);
}

#[test]
fn secrets_are_written_only_when_passed_and_never_printed() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, EXISTING).unwrap();
    let path_arg = path.to_str().unwrap();

    // Without the flags: no token, no secret in the file.
    let output = run(m4_auth(home.path(), &config_claude(path_arg, &[])));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let env = &read_json(&path)["mcpServers"]["m4"]["env"];
    assert!(env.get("M4_OAUTH2_TOKEN").is_none() && env.get("M4_OAUTH2_CLIENT_SECRET").is_none());

    let secret = "client-secret-value-7f3a";
    let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    let bearer = format!("Bearer {token}");
    for dry_run in [true, false] {
        let mut extra = vec![
            "--oauth2-client-id",
            "m4-client",
            "--oauth2-client-secret",
            secret,
            "--oauth2-token",
            &bearer,
        ];
        if dry_run {
            extra.push("--dry-run");
        }
        let output = run(m4_auth(home.path(), &config_claude(path_arg, &extra)));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let shown = format!("{}{}", stdout(&output), stderr(&output));
        assert!(
            !shown.contains(secret) && !shown.contains(token),
            "secret shown: {shown}"
        );
        assert!(shown.contains("M4_OAUTH2_CLIENT_SECRET"), "{shown}");
    }
    let env = &read_json(&path)["mcpServers"]["m4"]["env"];
    assert_eq!(env["M4_OAUTH2_CLIENT_ID"], "m4-client");
    assert_eq!(env["M4_OAUTH2_CLIENT_SECRET"], secret);
    assert_eq!(
        env["M4_OAUTH2_TOKEN"], token,
        "the Bearer prefix is dropped"
    );
}

#[test]
fn dry_run_prints_the_result_and_writes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, EXISTING).unwrap();
    let output = run(m4_auth(
        home.path(),
        &config_claude(path.to_str().unwrap(), &["--dry-run"]),
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        printed["mcpServers"]["m4"]["env"]["M4_OAUTH2_ISSUER_URL"],
        ISSUER
    );
    assert_eq!(printed["globalShortcut"], "Alt+Space");
    assert!(stderr(&output).contains("dry run"));
    assert_eq!(fs::read_to_string(&path).unwrap(), EXISTING);
    assert_eq!(file_names(home.path()), ["claude_desktop_config.json"]);
}

#[test]
fn invalid_settings_list_every_problem_and_write_nothing() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, EXISTING).unwrap();
    let output = run(m4_auth(
        home.path(),
        &[
            "config",
            "claude",
            "--enable-oauth2",
            "--oauth2-issuer",
            "http://auth.example.com",
            "--oauth2-audience",
            "m4-api",
            "--oauth2-jwks-url",
            "ftp://auth.example.com/jwks",
            "--config-path",
            path.to_str().unwrap(),
        ],
    ));
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("M4_OAUTH2_ISSUER_URL"), "{message}");
    assert!(message.contains("M4_OAUTH2_JWKS_URL"), "{message}");
    assert_eq!(fs::read_to_string(&path).unwrap(), EXISTING);
}

#[track_caller]
fn check_usage_error(args: &[&str], expected: &str) {
    let home = tempfile::tempdir().unwrap();
    let output = run(m4_auth(home.path(), args));
    assert_eq!(output.status.code(), Some(2), "{args:?}");
    assert!(
        stderr(&output).contains(expected),
        "{args:?}: {}",
        stderr(&output)
    );
    assert!(
        file_names(home.path()).is_empty(),
        "{args:?} wrote something"
    );
}

#[test]
fn usage_errors_exit_2_and_write_nothing() {
    check_usage_error(
        &["config", "claude", "--oauth2-issuer", ISSUER],
        "--enable-oauth2|--disable-oauth2",
    );
    check_usage_error(
        &[
            "config",
            "claude",
            "--enable-oauth2",
            "--oauth2-issuer",
            ISSUER,
        ],
        "--oauth2-audience <AUD>",
    );
    check_usage_error(
        &[
            "config",
            "claude",
            "--disable-oauth2",
            "--oauth2-issuer",
            ISSUER,
        ],
        "cannot be used with",
    );
    // Valid settings, then one bad flag.
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        let base = [
            "config",
            "claude",
            "--enable-oauth2",
            "--oauth2-issuer",
            ISSUER,
            "--oauth2-audience",
            "a",
        ];
        base.iter().chain(extra).copied().collect()
    };
    check_usage_error(
        &with(&["--server-command", "python", "-m", "x"]),
        "unexpected argument '-m'",
    );
    check_usage_error(
        &with(&["--rate-limit-requests", "many"]),
        "invalid value 'many'",
    );
    // A token flag holding nothing is an error, never silently dropped.
    for token in ["Bearer", "  ", ""] {
        check_usage_error(
            &with(&["--server-command", "m4", "--oauth2-token", token]),
            "--oauth2-token holds no token",
        );
    }
}

#[test]
fn disable_turns_oauth2_off_and_removes_its_settings() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("claude_desktop_config.json");
    fs::write(&path, EXISTING).unwrap();
    let path_arg = path.to_str().unwrap();
    assert_eq!(
        run(m4_auth(home.path(), &config_claude(path_arg, &[])))
            .status
            .code(),
        Some(0)
    );
    let output = run(m4_auth(
        home.path(),
        &[
            "config",
            "claude",
            "--disable-oauth2",
            "--config-path",
            path_arg,
        ],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        read_json(&path)["mcpServers"]["m4"]["env"],
        json!({"M4_BACKEND": "duckdb", "M4_OAUTH2_ENABLED": "false"})
    );
    // Two runs, two backups: the original and the enabled version.
    assert_eq!(
        fs::read_to_string(home.path().join("claude_desktop_config.json.bak")).unwrap(),
        EXISTING
    );
    let enabled = read_json(&home.path().join("claude_desktop_config.json.bak.1"));
    assert_eq!(
        enabled["mcpServers"]["m4"]["env"]["M4_OAUTH2_ENABLED"],
        "true"
    );
}
