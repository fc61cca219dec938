//! Claude Desktop config merge and write tests, on strings and on temporary files.

use super::ordered::Json;
use super::*;
use serde_json::{Value, json};

fn update(env: &[(&str, &str)]) -> EnvUpdate {
    EnvUpdate {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        server_command: None,
    }
}

fn enable() -> EnvUpdate {
    update(&[
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", "https://auth.example.com/"),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
    ])
}

const PATH: &str = "/cfg/claude_desktop_config.json";

fn merged_json(existing: &str, update: &EnvUpdate) -> Value {
    let merged = merge(Some(existing), Path::new(PATH), update).unwrap();
    assert!(merged.text.ends_with("}\n"));
    serde_json::from_str(&merged.text).unwrap()
}

#[test]
fn everything_outside_the_managed_variables_is_kept_in_order() {
    let existing = r#"{
  "zeta": 1,
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "server-fs", "/tmp"]},
    "m4": {"command": "python", "args": ["-m", "m4.mcp_server"], "cwd": "/srv/m4",
           "env": {"M4_BACKEND": "duckdb", "M4_OAUTH2_AUDIENCE": "old", "M4_DATA": "/d"}}
  },
  "alpha": {"nested": [1, 2, {"x": null}]}
}"#;
    let merged = merge(Some(existing), Path::new(PATH), &enable()).unwrap();
    let json: Value = serde_json::from_str(&merged.text).unwrap();
    // The order, read with the order-keeping type (serde_json's Value sorts keys).
    let ordered: Json = serde_json::from_str(&merged.text).unwrap();
    let Json::Object(top) = &ordered else {
        panic!("not an object")
    };
    let names = |members: &[(String, Json)]| -> Vec<String> {
        members.iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(
        names(top),
        ["zeta", "globalShortcut", "mcpServers", "alpha"]
    );
    let Some((_, Json::Object(servers))) = top.iter().find(|(k, _)| k == "mcpServers") else {
        panic!("no mcpServers")
    };
    assert_eq!(names(servers), ["filesystem", "m4"]);
    let Some((_, Json::Object(m4))) = servers.iter().find(|(k, _)| k == "m4") else {
        panic!("no m4")
    };
    assert_eq!(names(m4), ["command", "args", "cwd", "env"]);
    let Some((_, Json::Object(env))) = m4.iter().find(|(k, _)| k == "env") else {
        panic!("no env")
    };
    assert_eq!(
        names(env),
        [
            "M4_BACKEND",
            "M4_OAUTH2_AUDIENCE",
            "M4_DATA",
            "M4_OAUTH2_ENABLED",
            "M4_OAUTH2_ISSUER_URL"
        ]
    );
    // And the values.
    assert_eq!(json["alpha"], json!({"nested": [1, 2, {"x": null}]}));
    assert_eq!(
        json["mcpServers"]["filesystem"],
        json!({"command": "npx", "args": ["-y", "server-fs", "/tmp"]})
    );
    let m4 = &json["mcpServers"]["m4"];
    assert_eq!(m4["command"], "python");
    assert_eq!(m4["args"], json!(["-m", "m4.mcp_server"]));
    assert_eq!(m4["cwd"], "/srv/m4");
    assert_eq!(
        m4["env"],
        json!({
            "M4_BACKEND": "duckdb",
            "M4_OAUTH2_AUDIENCE": "m4-api",
            "M4_DATA": "/d",
            "M4_OAUTH2_ENABLED": "true",
            "M4_OAUTH2_ISSUER_URL": "https://auth.example.com/",
        })
    );
}

#[test]
fn stale_managed_variables_are_removed_and_changes_reported() {
    let existing = r#"{"mcpServers": {"m4": {"command": "m4", "env": {
        "M4_OAUTH2_ENABLED": "true",
        "M4_OAUTH2_JWKS_URL": "https://old.example/jwks",
        "M4_OAUTH2_AUDIENCE": "old-aud",
        "M4_OAUTH2_TOKEN": "old-token",
        "M4_OAUTH2_LEEWAY": 5,
        "OTHER": "kept"}}}}"#;
    let merged = merge(Some(existing), Path::new(PATH), &enable()).unwrap();
    let json: Value = serde_json::from_str(&merged.text).unwrap();
    assert_eq!(
        json["mcpServers"]["m4"]["env"],
        json!({
            "M4_OAUTH2_ENABLED": "true",
            "M4_OAUTH2_AUDIENCE": "m4-api",
            "OTHER": "kept",
            "M4_OAUTH2_ISSUER_URL": "https://auth.example.com/",
        })
    );
    let changes: Vec<(&str, ChangeKind, &str)> = merged
        .changes
        .iter()
        .map(|c| (c.name.as_str(), c.kind, c.shown.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("M4_OAUTH2_ENABLED", ChangeKind::Unchanged, "true"),
            ("M4_OAUTH2_AUDIENCE", ChangeKind::Changed, "m4-api"),
            (
                "M4_OAUTH2_ISSUER_URL",
                ChangeKind::Added,
                "https://auth.example.com/"
            ),
            ("M4_OAUTH2_JWKS_URL", ChangeKind::Removed, ""),
            ("M4_OAUTH2_TOKEN", ChangeKind::Removed, ""),
            ("M4_OAUTH2_LEEWAY", ChangeKind::Removed, ""),
        ]
    );
    assert!(!merged.created_entry);
}

#[test]
fn secrets_are_written_when_given_but_never_shown() {
    let mut with_secrets = enable();
    with_secrets
        .env
        .push(("M4_OAUTH2_CLIENT_SECRET".into(), "s3cr3t-value".into()));
    with_secrets
        .env
        .push(("M4_OAUTH2_TOKEN".into(), "eyJ.token.value".into()));
    let existing = r#"{"mcpServers": {"m4": {"command": "m4"}}}"#;
    let merged = merge(Some(existing), Path::new(PATH), &with_secrets).unwrap();
    let json: Value = serde_json::from_str(&merged.text).unwrap();
    assert_eq!(
        json["mcpServers"]["m4"]["env"]["M4_OAUTH2_CLIENT_SECRET"],
        "s3cr3t-value"
    );
    assert_eq!(
        json["mcpServers"]["m4"]["env"]["M4_OAUTH2_TOKEN"],
        "eyJ.token.value"
    );
    let shown = format!(
        "{:?}{}{:?}",
        merged.changes,
        merged.masked_text(),
        with_secrets
    );
    assert!(
        !shown.contains("s3cr3t-value") && !shown.contains("eyJ.token.value"),
        "{shown}"
    );
    assert!(
        merged
            .masked_text()
            .contains(r#""M4_OAUTH2_TOKEN": "********""#)
    );
    assert!(
        merged
            .masked_text()
            .contains(r#""M4_OAUTH2_AUDIENCE": "m4-api""#)
    );
    // Other servers' environments (and M4's own non-OAuth2 variables) are never printed.
    let others = r#"{"mcpServers": {"github": {"env": {"GITHUB_TOKEN": "ghp_OTHERSECRET"}},
        "m4": {"command": "m4", "env": {"M4_DATA_KEY": "k3y"}}}}"#;
    let merged = merge(Some(others), Path::new(PATH), &with_secrets).unwrap();
    let masked = merged.masked_text();
    assert!(merged.text.contains("ghp_OTHERSECRET"), "kept in the file");
    for secret in ["ghp_OTHERSECRET", "k3y", "s3cr3t-value", "eyJ.token.value"] {
        assert!(!masked.contains(secret), "{masked}");
    }
    assert!(masked.contains(r#""GITHUB_TOKEN": "********""#), "{masked}");
    assert!(
        masked.contains(r#""M4_OAUTH2_AUDIENCE": "m4-api""#),
        "{masked}"
    );
}

#[test]
fn server_command_creates_or_replaces_the_entry() {
    let mut with_command = enable();
    with_command.server_command = Some(vec!["python".into(), "-m".into(), "m4.mcp_server".into()]);
    let merged = merge(None, Path::new(PATH), &with_command).unwrap();
    assert!(merged.created_entry);
    let json: Value = serde_json::from_str(&merged.text).unwrap();
    assert_eq!(json["mcpServers"]["m4"]["command"], "python");
    assert_eq!(
        json["mcpServers"]["m4"]["args"],
        json!(["-m", "m4.mcp_server"])
    );
    assert_eq!(json["mcpServers"]["m4"]["env"]["M4_OAUTH2_ENABLED"], "true");

    let existing = r#"{"mcpServers": {"m4": {"command": "old", "args": ["a"], "cwd": "/x"}}}"#;
    with_command.server_command = Some(vec!["uvx".into()]);
    let json = merged_json(existing, &with_command);
    assert_eq!(json["mcpServers"]["m4"]["command"], "uvx");
    assert_eq!(json["mcpServers"]["m4"]["args"], json!([]));
    assert_eq!(json["mcpServers"]["m4"]["cwd"], "/x");

    with_command.server_command = Some(Vec::new());
    assert!(matches!(
        merge(Some(existing), Path::new(PATH), &with_command),
        Err(Error::EmptyServerCommand)
    ));
}

#[test]
fn a_missing_entry_without_a_command_is_refused() {
    for existing in [None, Some("{}"), Some(r#"{"mcpServers": {"other": {}}}"#)] {
        match merge(existing, Path::new(PATH), &enable()) {
            Err(Error::NoServerEntry { path }) => assert_eq!(path, Path::new(PATH)),
            other => panic!("{existing:?}: {other:?}"),
        }
    }
}

#[track_caller]
fn check_refused(existing: &str, expected: &str) {
    let mut with_command = enable();
    with_command.server_command = Some(vec!["m4".into()]);
    let err = merge(Some(existing), Path::new(PATH), &with_command).unwrap_err();
    assert_eq!(err.to_string(), expected);
}

#[test]
fn invalid_json_and_wrong_shapes_are_refused_with_where_and_what() {
    let p = PATH;
    check_refused(
        "",
        &format!(
            "{p} is not valid JSON (line 1, column 0); it was left untouched: fix it, or move it away to start afresh"
        ),
    );
    check_refused(
        "{\n  \"mcpServers\": {,}\n}",
        &format!(
            "{p} is not valid JSON (line 2, column 18); it was left untouched: fix it, or move it away to start afresh"
        ),
    );
    check_refused(
        "{} trailing",
        &format!(
            "{p} is not valid JSON (line 1, column 4); it was left untouched: fix it, or move it away to start afresh"
        ),
    );
    check_refused(
        "[]",
        &format!(
            "`(top level)` in {p} is an array, not a JSON object; it was left untouched: fix that member by hand"
        ),
    );
    check_refused(
        r#"{"mcpServers": "m4"}"#,
        &format!(
            "`mcpServers` in {p} is a string, not a JSON object; it was left untouched: fix that member by hand"
        ),
    );
    check_refused(
        r#"{"mcpServers": {"m4": null}}"#,
        &format!(
            "`mcpServers.m4` in {p} is null, not a JSON object; it was left untouched: fix that member by hand"
        ),
    );
    check_refused(
        r#"{"mcpServers": {"m4": {"env": ["M4_OAUTH2_ENABLED=true"]}}}"#,
        &format!(
            "`mcpServers.m4.env` in {p} is an array, not a JSON object; it was left untouched: fix that member by hand"
        ),
    );
}

#[test]
fn default_paths_follow_each_operating_system() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| std::ffi::OsString::from(v))
        }
    };
    let home = &[
        ("HOME", "/home/ann"),
        ("APPDATA", "C:\\Users\\ann\\AppData\\Roaming"),
    ];
    assert_eq!(
        default_config_path_for("linux", vars(home)).unwrap(),
        Path::new("/home/ann/.config/Claude/claude_desktop_config.json")
    );
    assert_eq!(
        default_config_path_for("macos", vars(home)).unwrap(),
        Path::new("/home/ann/Library/Application Support/Claude/claude_desktop_config.json")
    );
    assert_eq!(
        default_config_path_for("windows", vars(home)).unwrap(),
        Path::new("C:\\Users\\ann\\AppData\\Roaming")
            .join("Claude")
            .join("claude_desktop_config.json")
    );
    let xdg = &[("HOME", "/home/ann"), ("XDG_CONFIG_HOME", "/xdg")];
    assert_eq!(
        default_config_path_for("freebsd", vars(xdg)).unwrap(),
        Path::new("/xdg/Claude/claude_desktop_config.json")
    );
    let empty_home = &[("HOME", ""), ("XDG_CONFIG_HOME", "")];
    assert!(matches!(
        default_config_path_for("linux", vars(empty_home)),
        Err(Error::NoDefaultConfigPath { var: "HOME" })
    ));
    assert!(matches!(
        default_config_path_for("windows", vars(&[])),
        Err(Error::NoDefaultConfigPath { var: "APPDATA" })
    ));
}

// ---- apply(): real files ----

fn with_command() -> EnvUpdate {
    let mut update = enable();
    update.server_command = Some(vec!["m4-mcp".into()]);
    update
}

#[test]
fn apply_creates_a_new_private_file_and_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Claude").join("claude_desktop_config.json");
    let applied = apply(&path, &with_command(), false).unwrap();
    assert!(applied.written);
    assert_eq!(applied.backup, None);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), applied.merged.text);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // Only the config: no temporary or backup file left behind.
    let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["claude_desktop_config.json"]);
}

#[test]
fn apply_backs_up_never_overwriting_an_older_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude_desktop_config.json");
    let original = "{\"mcpServers\": {\"m4\": {\"command\": \"m4\"}}, \"keep\": true}";
    std::fs::write(&path, original).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }

    let first = apply(&path, &enable(), false).unwrap();
    let bak = dir.path().join("claude_desktop_config.json.bak");
    assert_eq!(first.backup.as_deref(), Some(bak.as_path()));
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), original);
    let after_first = std::fs::read_to_string(&path).unwrap();
    assert!(after_first.contains("\"keep\": true"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o640, "the config keeps its permissions");
        assert_eq!(
            mode(&bak),
            0o640,
            "the backup gets the config's permissions"
        );
    }

    // Same settings again: nothing to write, no new backup.
    let same = apply(&path, &enable(), false).unwrap();
    assert!(!same.written);
    assert_eq!(same.backup, None);
    assert!(!dir.path().join("claude_desktop_config.json.bak.1").exists());

    // New settings: a second backup beside the first, which is untouched.
    let second = apply(&path, &update(&[("M4_OAUTH2_ENABLED", "false")]), false).unwrap();
    let bak1 = dir.path().join("claude_desktop_config.json.bak.1");
    assert_eq!(second.backup.as_deref(), Some(bak1.as_path()));
    assert_eq!(std::fs::read_to_string(&bak1).unwrap(), after_first);
    assert_eq!(std::fs::read_to_string(&bak).unwrap(), original);
}

#[test]
fn apply_never_touches_an_invalid_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude_desktop_config.json");
    let corrupt = "{\"mcpServers\": {\"m4\": {\"command\": \"m4\",}}"; // trailing comma
    std::fs::write(&path, corrupt).unwrap();
    let err = apply(&path, &with_command(), false).unwrap_err();
    assert!(matches!(err, Error::ConfigNotJson { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), corrupt);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no backup, no temp file"
    );
}

#[test]
fn dry_run_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude_desktop_config.json");
    let applied = apply(&path, &with_command(), true).unwrap();
    assert!(!applied.written);
    assert!(applied.merged.text.contains("M4_OAUTH2_ISSUER_URL"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[cfg(unix)]
#[test]
fn a_symlinked_config_stays_a_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("dotfiles-claude.json");
    std::fs::write(&real, r#"{"mcpServers": {"m4": {"command": "m4"}}}"#).unwrap();
    let link = dir.path().join("claude_desktop_config.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let applied = apply(&link, &enable(), false).unwrap();
    assert_eq!(applied.path, std::fs::canonicalize(&real).unwrap());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&link)
            .unwrap()
            .contains("M4_OAUTH2_AUDIENCE")
    );
}

#[test]
fn a_failed_write_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude_desktop_config.json");
    let original = r#"{"mcpServers": {"m4": {"command": "m4"}}}"#;
    std::fs::write(&path, original).unwrap();
    // Occupy the temporary file's name with a directory, so creating it fails
    // (works for root too, unlike permission tricks).
    let temp = dir.path().join(format!(
        "claude_desktop_config.json.m4-auth-{}.tmp",
        std::process::id()
    ));
    std::fs::create_dir(&temp).unwrap();
    let err = apply(&path, &enable(), false).unwrap_err();
    assert!(matches!(err, Error::WriteConfig { .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), original);
    assert!(temp.is_dir(), "what was there is not removed");
}

/// A config readable by others loses those bits once it holds a secret, and so does its backup.
#[cfg(unix)]
#[test]
fn a_file_that_gets_a_secret_becomes_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("claude_desktop_config.json");
    std::fs::write(&path, "{\"mcpServers\": {\"m4\": {\"command\": \"m4\"}}}").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    // No secret: the permissions are the user's choice, kept.
    apply(&path, &enable(), false).unwrap();
    assert_eq!(mode(&path), 0o644);

    let mut with_secret = enable();
    with_secret
        .env
        .push(("M4_OAUTH2_CLIENT_SECRET".into(), "s3cr3t-value".into()));
    let applied = apply(&path, &with_secret, false).unwrap();
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("s3cr3t-value")
    );
    assert_eq!(mode(&path), 0o600, "the config now holds a secret");
    assert_eq!(mode(applied.backup.as_deref().unwrap()), 0o600);
}
