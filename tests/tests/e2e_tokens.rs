//! Issue 14 end to end: tokens that stay fresh, against the dev issuer's real token endpoint
//! over loopback (and a raw loopback listener for providers that fail). The `m4-auth`
//! binary for `token`, `login`, `logout` and `verify`; m4-auth-token and the facade's env
//! path in-process where a clock is injected or a session is long-lived.
#![cfg(test)]

mod cli_common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cli_common::{m4_auth, run, stderr, stdout, wait_for_exit};
use m4_auth::{AuthConfig, Authenticator};
use m4_auth_testkit::tokens::{self, Checks};
use m4_auth_token::{
    CredentialsFile, ManualClock, StoredLogin, TokenClient, TokenOptions, TokenSource, finish_login,
};
use m4_dev_issuer::{
    ClientAuthMethod, DEFAULT_CLIENT_SECRET, DEFAULT_CONFIDENTIAL_CLIENT_ID,
    DEFAULT_PUBLIC_CLIENT_ID, DEVICE_CODE_GRANT, DevIssuer, DevIssuerOptions,
};
use serde_json::Value;

const SVC: &str = DEFAULT_CONFIDENTIAL_CLIENT_ID;
const CLI: &str = DEFAULT_PUBLIC_CLIENT_ID;

/// One clock for both sides: the token client's (m4_jwks::Clock, an Instant) and the dev
/// issuer's (Unix milliseconds), so a test advances the time both see at once.
#[derive(Debug, Clone)]
struct SharedClock {
    client: ManualClock,
    start: Instant,
    base_ms: i64,
}

impl SharedClock {
    fn new() -> Self {
        let client = ManualClock::new();
        let start = m4_jwks::Clock::now(&client);
        let base_ms = i64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis(),
        )
        .unwrap();
        SharedClock {
            client,
            start,
            base_ms,
        }
    }

    fn advance(&self, by: Duration) {
        self.client.advance(by);
    }
}

impl m4_dev_issuer::Clock for SharedClock {
    fn now_unix(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        let elapsed = m4_jwks::Clock::now(&self.client).duration_since(self.start);
        self.base_ms + i64::try_from(elapsed.as_millis()).unwrap()
    }
}

fn issuer_with(options: impl FnOnce(&mut DevIssuerOptions)) -> DevIssuer {
    let mut opts = DevIssuerOptions {
        device_interval: Duration::ZERO,
        ..DevIssuerOptions::default()
    };
    options(&mut opts);
    DevIssuer::start(opts).unwrap()
}

/// `m4-auth args` pointed at `issuer`, with the credentials file in `home`.
fn command(issuer_url: &str, home: &Path, args: &[&str]) -> Command {
    let mut command = m4_auth(home, args);
    command
        .env("M4_OAUTH2_ENABLED", "true")
        .env("M4_OAUTH2_ISSUER_URL", issuer_url)
        .env("M4_OAUTH2_AUDIENCE", "m4-api")
        .env("M4_OAUTH2_CREDENTIALS_FILE", credentials(home))
        .env("M4_OAUTH2_HTTP_TIMEOUT", "2");
    command
}

fn credentials(home: &Path) -> PathBuf {
    home.join("m4-credentials.json")
}

/// Checks the token's signature with the issuer's JWKS, its audience, issuer and expiry;
/// returns its claims.
fn claims(issuer: &DevIssuer, token: &str) -> Value {
    let checks = Checks {
        audience: Some("m4-api"),
        issuer: Some(issuer.issuer_url()),
        expiry: true,
    };
    tokens::verified_claims(&issuer.jwks(), token, checks).unwrap()
}

/// stdout holds exactly one line: the token.
#[track_caller]
fn one_line(output: &std::process::Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", stderr(output));
    let text = stdout(output);
    assert!(text.ends_with('\n'), "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text:?}");
    lines[0].to_owned()
}

#[test]
fn client_credentials_with_basic_and_with_post_feed_token_and_verify() {
    for method in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        let issuer = issuer_with(|o| o.auth_methods = vec![method]);
        let home = tempfile::tempdir().unwrap();
        let with_client = |args: &[&str]| {
            let mut c = command(issuer.issuer_url(), home.path(), args);
            c.env("M4_OAUTH2_CLIENT_ID", SVC)
                .env("M4_OAUTH2_CLIENT_SECRET", DEFAULT_CLIENT_SECRET);
            c
        };
        let token = one_line(&run(with_client(&["token"])));
        let claims = claims(&issuer, &token);
        assert_eq!(claims["sub"], SVC, "{method:?}");
        assert_eq!(claims["aud"], "m4-api", "{method:?}");
        assert_eq!(issuer.grants_served("client_credentials"), 1);

        // The env path: no M4_OAUTH2_TOKEN, so verify obtains one and verifies it.
        let output = run(with_client(&["verify", "--json"]));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let answer: Value = serde_json::from_str(stdout(&output).trim()).unwrap();
        assert_eq!(answer["ok"], true, "{answer}");
        assert_eq!(answer["sub"], SVC);
        assert_eq!(issuer.grants_served("client_credentials"), 2);
        // The secret was never printed.
        assert!(!stderr(&output).contains(DEFAULT_CLIENT_SECRET));
    }
}

/// A running `m4-auth login`: its stderr read line by line.
struct Login {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Login {
    fn start(issuer_url: &str, home: &Path) -> Login {
        let mut c = command(issuer_url, home, &["login"]);
        c.env("M4_OAUTH2_CLIENT_ID", CLI)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let err = BufReader::new(child.stderr.take().unwrap());
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in err.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Login { child, lines }
    }

    /// The user code from the prompt.
    fn user_code(&self) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(20))
                .expect("login printed no user code");
            if let Some(code) = line.strip_prefix("and enter the code: ") {
                return code.trim().to_owned();
            }
        }
    }

    /// Exit code and the rest of stderr, waiting at most `within`.
    fn finish(mut self, within: Duration) -> (Option<i32>, String, String) {
        let status = wait_for_exit(&mut self.child, within, "login");
        let mut out = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        // Every line up to the end of stderr: the reader thread may still be on its way to the
        // last one when the process has already exited (taking only what it had sent lost the
        // final error line on a loaded machine).
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rest = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => rest.push(line),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    panic!("login's stderr was still open 10 s after it exited")
                }
            }
        }
        (status.code(), out, rest.join("\n"))
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_approved_by_the_dev_issuer_command_then_token_from_the_stored_login() {
    let issuer = issuer_with(|_| {});
    let home = tempfile::tempdir().unwrap();
    let login = Login::start(issuer.issuer_url(), home.path());
    let code = login.user_code();
    // A person would run this in another terminal.
    let approve = run(m4_auth(
        home.path(),
        &[
            "dev-issuer",
            "approve",
            "--issuer-url",
            issuer.issuer_url(),
            &code,
        ],
    ));
    assert_eq!(approve.status.code(), Some(0), "{}", stderr(&approve));
    assert_eq!(stdout(&approve), format!("device login {code} approved\n"));
    let (status, out, err) = login.finish(Duration::from_secs(20));
    assert_eq!(status, Some(0), "{err}");
    assert_eq!(out, "", "login keeps stdout clean");
    assert!(err.contains("Logged in."), "{err}");
    let path = credentials(home.path());
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    let stored = std::fs::read_to_string(&path).unwrap();

    let token = one_line(&run(command(issuer.issuer_url(), home.path(), &["token"])));
    assert_eq!(claims(&issuer, &token)["sub"], "dev-user");
    assert!(issuer.grants_served(DEVICE_CODE_GRANT) >= 1);
    assert_eq!(issuer.grants_served("refresh_token"), 1);
    // The refresh rotated the refresh token, and the new one was saved at once.
    assert_ne!(std::fs::read_to_string(&path).unwrap(), stored);
    let again = one_line(&run(command(issuer.issuer_url(), home.path(), &["token"])));
    assert_eq!(claims(&issuer, &again)["sub"], "dev-user");
    assert_eq!(issuer.grants_served("refresh_token"), 2);
}

#[test]
fn login_denied_or_expired_fails_clearly_and_stores_nothing() {
    let issuer = issuer_with(|_| {});
    let home = tempfile::tempdir().unwrap();
    let login = Login::start(issuer.issuer_url(), home.path());
    issuer.deny_device(&login.user_code()).unwrap();
    let (status, out, err) = login.finish(Duration::from_secs(20));
    assert_eq!(status, Some(1), "{err}");
    assert_eq!(out, "");
    assert!(err.contains("denied"), "{err}");
    assert!(!credentials(home.path()).exists());

    let short = issuer_with(|o| o.device_code_ttl = Duration::from_secs(2));
    let started = Instant::now();
    let login = Login::start(short.issuer_url(), home.path());
    let _code = login.user_code();
    let (status, _, err) = login.finish(Duration::from_secs(20));
    assert_eq!(status, Some(1), "{err}");
    assert!(err.to_lowercase().contains("expired"), "{err}");
    assert!(err.contains("m4-auth login"), "says to start again: {err}");
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(!credentials(home.path()).exists());
}

/// Token options for the public client of `issuer`, on `clock`, storing in `home`.
fn public_options(issuer: &DevIssuer, home: &Path, clock: &SharedClock) -> TokenOptions {
    TokenOptions::new(issuer.issuer_url(), credentials(home))
        .audience("m4-api")
        .scopes(["read:mimic-data"])
        .client_id(CLI)
        .clock(clock.client.clone())
}

/// A device login through the library, approved at once; returns the stored login.
fn log_in(issuer: &DevIssuer, options: TokenOptions) -> StoredLogin {
    let client = TokenClient::new(options);
    let device = client.start_device_login().unwrap();
    issuer.approve_device(&device.user_code).unwrap();
    finish_login(&client, &device, |_| {}).unwrap()
}

#[test]
fn slow_down_is_honoured_with_five_more_seconds() {
    let clock = SharedClock::new();
    let issuer = issuer_with(|o| {
        o.clock = Arc::new(clock.clone());
        o.device_interval = Duration::from_secs(5);
        o.device_forced_slow_downs = 1;
    });
    let home = tempfile::tempdir().unwrap();
    let client = TokenClient::new(public_options(&issuer, home.path(), &clock));
    let device = client.start_device_login().unwrap();
    assert_eq!(device.interval, Duration::from_secs(5));
    let sleeps = Mutex::new(Vec::new());
    let login = finish_login(&client, &device, |wait| {
        let mut sleeps = sleeps.lock().unwrap();
        sleeps.push(wait);
        clock.advance(wait);
        if sleeps.len() == 2 {
            issuer.approve_device(&device.user_code).unwrap();
        }
    })
    .unwrap();
    // 5 s, then slow_down: 10 s. A client that kept 5 s would have been told to slow down
    // again (the issuer raised its own floor to 10 s) and never been approved in two polls.
    assert_eq!(
        *sleeps.lock().unwrap(),
        [Duration::from_secs(5), Duration::from_secs(10)]
    );
    assert_eq!(issuer.grants_served(DEVICE_CODE_GRANT), 2);
    assert_eq!(
        CredentialsFile::new(credentials(home.path()))
            .load()
            .unwrap()
            .unwrap()
            .refresh_token
            .expose_secret(),
        login.refresh_token.expose_secret()
    );
}

#[test]
fn refresh_happens_before_expiry_and_the_rotated_token_is_saved_at_once() {
    let clock = SharedClock::new();
    let issuer = issuer_with(|o| {
        o.clock = Arc::new(clock.clone());
        o.access_token_ttl = Duration::from_secs(120);
    });
    let home = tempfile::tempdir().unwrap();
    let options = public_options(&issuer, home.path(), &clock);
    let login = log_in(&issuer, options.clone());
    let file = CredentialsFile::new(credentials(home.path()));
    let source = TokenSource::stored_login(options, login.clone()).unwrap();

    let first = source.access_token().unwrap();
    assert_eq!(issuer.grants_served("refresh_token"), 1);
    let rotated = file.load().unwrap().unwrap().refresh_token;
    assert_ne!(rotated.expose_secret(), login.refresh_token.expose_secret());
    // Still fresh: served from memory.
    clock.advance(Duration::from_secs(30));
    assert_eq!(
        source.access_token().unwrap().expose_secret(),
        first.expose_secret()
    );
    assert_eq!(issuer.grants_served("refresh_token"), 1);
    // Past the renewal point, well before `exp` (120 s): a new token, the next rotation saved.
    clock.advance(Duration::from_secs(40));
    let second = source.access_token().unwrap();
    assert_ne!(second.expose_secret(), first.expose_secret());
    assert_eq!(issuer.grants_served("refresh_token"), 2);
    let exp_first = claims_unchecked(&issuer, first.expose_secret())["exp"]
        .as_i64()
        .unwrap();
    assert!(
        exp_first * 1000 > m4_dev_issuer::Clock::now_millis(&clock),
        "renewed before the old token expired"
    );
    let saved = file.load().unwrap().unwrap().refresh_token;
    assert_ne!(saved.expose_secret(), rotated.expose_secret());
}

/// Claims with the signature checked but not the time (the shared clock is not the
/// verifier's).
fn claims_unchecked(issuer: &DevIssuer, token: &str) -> Value {
    let checks = Checks {
        audience: Some("m4-api"),
        ..Checks::default()
    };
    tokens::verified_claims(&issuer.jwks(), token, checks).unwrap()
}

#[test]
fn a_revoked_refresh_token_says_to_log_in_again() {
    let clock = SharedClock::new();
    let issuer = issuer_with(|_| {});
    let home = tempfile::tempdir().unwrap();
    let login = log_in(&issuer, public_options(&issuer, home.path(), &clock));
    assert!(issuer.revoke_refresh_token(login.refresh_token.expose_secret()));
    let output = run(command(issuer.issuer_url(), home.path(), &["token"]));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    assert!(err.contains("m4-auth login"), "{err}");
    assert!(
        err.contains("invalid_grant"),
        "names the provider's error: {err}"
    );
    assert!(!err.contains(login.refresh_token.expose_secret()));
}

#[test]
fn logout_revokes_the_refresh_token_at_the_issuer_and_forgets_it() {
    let clock = SharedClock::new();
    let issuer = issuer_with(|_| {});
    let home = tempfile::tempdir().unwrap();
    let options = public_options(&issuer, home.path(), &clock);
    let login = log_in(&issuer, options.clone());
    let output = run(command(issuer.issuer_url(), home.path(), &["logout"]));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("revoked"), "{}", stderr(&output));
    assert_eq!(issuer.served("/revoke"), 1);
    assert!(!credentials(home.path()).exists());
    // The issuer no longer honours it.
    let refused = TokenClient::new(options)
        .refresh(&login.refresh_token)
        .unwrap_err();
    assert!(refused.to_string().contains("revoked"), "{refused}");
}

#[cfg(unix)]
#[test]
fn a_credentials_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let clock = SharedClock::new();
    let issuer = issuer_with(|_| {});
    let home = tempfile::tempdir().unwrap();
    log_in(&issuer, public_options(&issuer, home.path(), &clock));
    let path = credentials(home.path());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = run(command(issuer.issuer_url(), home.path(), &["token"]));
    assert_ne!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    let err = stderr(&output);
    assert!(err.contains("chmod 600"), "{err}");
    assert_eq!(issuer.grants_served("refresh_token"), 0, "not used");
}

/// How the raw provider answers the token endpoint.
#[derive(Clone, Copy, Debug)]
enum Failing {
    ServerError,
    Garbage,
    Hang,
}

/// A provider on a raw loopback listener: discovery points the token endpoint at itself,
/// which fails as asked. Returns its URL; it serves until the process ends.
fn failing_provider(how: Failing) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let base = url.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let base = base.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap_or_default();
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (status, content) = if request_line.contains("/.well-known/") {
                    (
                        "200 OK",
                        format!(
                            r#"{{"issuer":"{base}","jwks_uri":"{base}/jwks","token_endpoint":"{base}/token"}}"#
                        ),
                    )
                } else {
                    match how {
                        Failing::ServerError => (
                            "500 Internal Server Error",
                            "<html>upstream exploded</html>".to_owned(),
                        ),
                        Failing::Garbage => ("200 OK", "\u{1}\u{2}not json at all".to_owned()),
                        Failing::Hang => {
                            // Hold the connection, answer nothing.
                            std::thread::sleep(Duration::from_secs(60));
                            return;
                        }
                    }
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
                    content.len()
                );
            });
        }
    });
    url
}

#[test]
fn failing_providers_give_clear_errors_within_the_timeout() {
    for (how, says) in [
        (Failing::ServerError, "500"),
        (Failing::Garbage, "JSON"),
        (Failing::Hang, "time"),
    ] {
        let url = failing_provider(how);
        let home = tempfile::tempdir().unwrap();
        let mut c = command(&url, home.path(), &["token"]);
        c.env("M4_OAUTH2_CLIENT_ID", SVC)
            .env("M4_OAUTH2_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
            .env("M4_OAUTH2_HTTP_TIMEOUT", "1");
        let started = Instant::now();
        let output = run(c);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{how:?}: took {:?}",
            started.elapsed()
        );
        assert_eq!(
            output.status.code(),
            Some(1),
            "{how:?}: {}",
            stderr(&output)
        );
        assert_eq!(stdout(&output), "");
        let err = stderr(&output);
        assert!(err.contains(says), "{how:?}: {err}");
        assert!(!err.contains(DEFAULT_CLIENT_SECRET));

        // In-process: the call returns within the timeout, so no thread is left stuck.
        let options = TokenOptions::new(url.as_str(), credentials(home.path()))
            .client_id(SVC)
            .client_secret(m4_auth_config::Secret::new(DEFAULT_CLIENT_SECRET))
            .http_timeout(Duration::from_secs(1));
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = std::thread::spawn(move || {
            let result = TokenSource::client_credentials(options).access_token();
            let _ = tx.send(result.map(|_| ()).map_err(|e| e.to_string()));
        });
        let result = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{how:?}: the token request is stuck"));
        assert!(result.is_err(), "{how:?}");
        worker.join().unwrap();
    }
}

#[test]
fn a_stdio_session_whose_token_expires_keeps_working_through_the_refresh() {
    assert!(
        std::env::var_os("M4_OAUTH2_TOKEN").is_none(),
        "the env path is tested without M4_OAUTH2_TOKEN"
    );
    // Real time here: the facade's token source runs on the system clock. Two-second tokens
    // and no leeway, so an unrenewed token would be rejected within the session.
    let issuer = issuer_with(|o| o.access_token_ttl = Duration::from_secs(2));
    let home = tempfile::tempdir().unwrap();
    let clock = SharedClock::new();
    log_in(&issuer, public_options(&issuer, home.path(), &clock));
    let path = credentials(home.path());
    let config = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", issuer.issuer_url()),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ("M4_OAUTH2_CLIENT_ID", CLI),
        ("M4_OAUTH2_CREDENTIALS_FILE", path.to_str().unwrap()),
        ("M4_OAUTH2_LEEWAY", "0"),
    ])
    .unwrap()
    .config;
    let auth = Authenticator::new(config).unwrap();
    let tool = |caller: &m4_auth::Principal| format!("rows for {}", caller.sub());
    let started = Instant::now();
    let mut calls = 0;
    // Tool calls for 5 seconds, one every 400 ms: the session outlives two token lifetimes.
    while started.elapsed() < Duration::from_secs(5) {
        assert_eq!(
            auth.guard_env(tool),
            Ok("rows for dev-user".to_owned()),
            "call {calls} at {:?}",
            started.elapsed()
        );
        calls += 1;
        std::thread::sleep(Duration::from_millis(400));
    }
    assert!(calls >= 10);
    let refreshes = issuer.grants_served("refresh_token");
    assert!(
        (3..calls).contains(&refreshes),
        "renewed as the tokens aged, not on every call: {refreshes} refreshes for {calls} calls"
    );
}
