//! The grants over real HTTP on loopback: client credentials (basic and post, each audience
//! parameter), device login (every answer), refresh, revocation, and a failing provider.
#![cfg(test)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Provider, ResponseTemplate, field, oauth_error, token_answer};
use m4_auth_config::{AudienceParameter, Secret};
use m4_auth_token::{
    CredentialsFile, Error, StoredLogin, TokenClient, TokenSource, finish_login, logout,
};
use serde_json::json;

#[test]
fn client_credentials_use_basic_by_default_with_the_id_and_secret_form_encoded() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", token_answer("at-1", 3600, None));
    let client = TokenClient::new(idp.confidential());
    let answer = client.client_credentials().unwrap();
    assert_eq!(answer.access_token.expose_secret(), "at-1");
    assert_eq!(answer.expires_in, Some(Duration::from_secs(3600)));

    let posts = idp.posts("/token");
    assert_eq!(posts.len(), 1);
    let header = posts[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(header.strip_prefix("Basic ").unwrap())
        .unwrap();
    assert_eq!(
        String::from_utf8(decoded).unwrap(),
        "m4+service%3A1:s3cr%2Ft%2B%C3%A9"
    );
    assert_eq!(
        field(&posts[0], "grant_type").as_deref(),
        Some("client_credentials")
    );
    assert_eq!(
        field(&posts[0], "scope").as_deref(),
        Some("read:mimic-data")
    );
    assert_eq!(field(&posts[0], "audience").as_deref(), Some("m4-api"));
    assert_eq!(field(&posts[0], "client_secret"), None);
    assert_eq!(field(&posts[0], "resource"), None);
}

#[test]
fn client_credentials_use_post_when_only_post_is_advertised() {
    let idp =
        Provider::start(json!({"token_endpoint_auth_methods_supported": ["client_secret_post"]}));
    idp.on_post("/token", token_answer("at-2", 600, None));
    let client = TokenClient::new(idp.confidential());
    client.client_credentials().unwrap();
    let post = &idp.posts("/token")[0];
    assert!(post.headers.get("authorization").is_none());
    assert_eq!(field(post, "client_id").as_deref(), Some("m4 service:1"));
    assert_eq!(field(post, "client_secret").as_deref(), Some("s3cr/t+é"));
}

#[test]
fn the_audience_parameter_setting_shapes_the_request() {
    #[track_caller]
    fn check(parameter: AudienceParameter, expected: &[(&str, Option<&str>)]) {
        let idp = Provider::start(json!({}));
        idp.on_post("/token", token_answer("at", 60, None));
        let client = TokenClient::new(idp.confidential().audience_parameter(parameter));
        client.client_credentials().unwrap();
        let post = &idp.posts("/token")[0];
        for (name, value) in expected {
            assert_eq!(field(post, name).as_deref(), *value, "{parameter:?} {name}");
        }
    }
    check(
        AudienceParameter::Audience,
        &[
            ("audience", Some("m4-api")),
            ("resource", None),
            ("scope", Some("read:mimic-data")),
        ],
    );
    check(
        AudienceParameter::Resource,
        &[
            ("audience", None),
            ("resource", Some("m4-api")),
            ("scope", Some("read:mimic-data")),
        ],
    );
    check(
        AudienceParameter::Scope,
        &[
            ("audience", None),
            ("resource", None),
            ("scope", Some("m4-api/.default")),
        ],
    );
    check(
        AudienceParameter::None,
        &[
            ("audience", None),
            ("resource", None),
            ("scope", Some("read:mimic-data")),
        ],
    );
}

#[test]
fn device_login_honours_pending_and_slow_down_then_stores_the_refresh_token() {
    let idp = Provider::start(json!({}));
    idp.on_post(
        "/device",
        ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dc-secret", "user_code": "ABCD-EFGH",
            "verification_uri": "https://idp.example.com/activate",
            "verification_uri_complete": "https://idp.example.com/activate?user_code=ABCD-EFGH",
            "expires_in": 600, "interval": 5
        })),
    );
    idp.on_post_times("/token", 1, oauth_error(400, "authorization_pending", None));
    idp.on_post_times("/token", 1, oauth_error(400, "slow_down", None));
    idp.on_post("/token", token_answer("at-login", 3600, Some("rt-1")));

    // A public client: no secret.
    let client = TokenClient::new(idp.options());
    let device = client.start_device_login().unwrap();
    assert_eq!(device.user_code, "ABCD-EFGH");
    assert_eq!(device.verification_uri, "https://idp.example.com/activate");
    assert!(device.verification_uri_complete.is_some());
    assert!(!format!("{device:?}").contains("dc-secret"));

    let device_post = &idp.posts("/device")[0];
    assert_eq!(field(device_post, "client_id").as_deref(), Some("m4-cli"));
    assert_eq!(
        field(device_post, "scope").as_deref(),
        Some("read:mimic-data offline_access")
    );
    assert_eq!(field(device_post, "audience").as_deref(), Some("m4-api"));

    let mut waits = Vec::new();
    let login = finish_login(&client, &device, |d| {
        waits.push(d);
        idp.clock.advance(d);
    })
    .unwrap();
    assert_eq!(
        waits,
        [5, 5, 10].map(Duration::from_secs),
        "slow_down adds 5 s to the interval"
    );
    assert_eq!(login.refresh_token.expose_secret(), "rt-1");
    for post in idp.posts("/token") {
        assert_eq!(
            field(&post, "grant_type").as_deref(),
            Some("urn:ietf:params:oauth:grant-type:device_code")
        );
        assert_eq!(field(&post, "device_code").as_deref(), Some("dc-secret"));
        assert!(post.headers.get("authorization").is_none());
    }

    let stored = CredentialsFile::new(idp.credentials_path())
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(stored, login);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(idp.credentials_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir = std::fs::metadata(idp.credentials_path().parent().unwrap()).unwrap();
        assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    }
}

fn device_answer(expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "device_code": "dc", "user_code": "WXYZ",
        "verification_uri": "https://idp.example.com/activate",
        "expires_in": expires_in, "interval": 5
    }))
}

#[test]
fn device_login_denied_expired_and_out_of_time() {
    #[track_caller]
    fn run(token_answer: Option<ResponseTemplate>, expires_in: u64) -> Error {
        let idp = Provider::start(json!({}));
        idp.on_post("/device", device_answer(expires_in));
        idp.on_post(
            "/token",
            token_answer.unwrap_or_else(|| oauth_error(400, "authorization_pending", None)),
        );
        let client = TokenClient::new(idp.options());
        let device = client.start_device_login().unwrap();
        let err = finish_login(&client, &device, |d| idp.clock.advance(d)).unwrap_err();
        assert!(
            !idp.credentials_path().exists(),
            "nothing stored on failure"
        );
        err
    }
    let denied = run(Some(oauth_error(400, "access_denied", None)), 600);
    assert!(matches!(denied, Error::LoginDenied), "{denied}");
    let expired = run(Some(oauth_error(400, "expired_token", None)), 600);
    assert!(
        matches!(expired, Error::LoginExpiredBeforeApproval { .. }),
        "{expired}"
    );
    assert!(
        expired.to_string().contains("within 10 minutes"),
        "{expired}"
    );
    // Never approved: the client stops at the code's lifetime by its own clock.
    let timed_out = run(None, 20);
    assert!(
        matches!(timed_out, Error::LoginExpiredBeforeApproval { .. }),
        "{timed_out}"
    );
    let no_refresh = run(Some(token_answer("at", 60, None)), 600);
    assert!(matches!(no_refresh, Error::NoRefreshToken), "{no_refresh}");
}

/// RFC 8628 §3.2 answers with nonsense lifetimes or intervals: an error naming the field and
/// its value, or a documented clamp; never a login that cannot succeed or a busy loop.
#[test]
fn device_answers_with_nonsense_lifetime_or_interval() {
    #[track_caller]
    fn start(answer: serde_json::Value) -> Result<m4_auth_token::DeviceAuthorization, Error> {
        let idp = Provider::start(json!({}));
        let mut body = json!({
            "device_code": "dc", "user_code": "WXYZ",
            "verification_uri": "https://idp.example.com/activate"
        });
        let serde_json::Value::Object(members) = answer else {
            panic!("an object")
        };
        body.as_object_mut().unwrap().extend(members);
        idp.on_post("/device", ResponseTemplate::new(200).set_body_json(body));
        TokenClient::new(idp.options()).start_device_login()
    }
    #[track_caller]
    fn refused(answer: serde_json::Value, expected: &[&str]) {
        let err = start(answer).unwrap_err();
        assert_eq!(err.code(), "token_provider_error", "{err}");
        let message = err.to_string();
        assert!(
            message.contains("device authorization endpoint"),
            "{message}"
        );
        for part in expected {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
    }
    #[track_caller]
    fn accepted(answer: serde_json::Value, expires_in: u64, interval: u64) {
        let device = start(answer).unwrap();
        assert_eq!(device.expires_in, Duration::from_secs(expires_in));
        assert_eq!(device.interval, Duration::from_secs(interval));
    }

    refused(
        json!({"expires_in": 0, "interval": 5}),
        &["\"expires_in\" is 0"],
    );
    refused(
        json!({"expires_in": 300, "interval": 600}),
        &["\"interval\" is 600 s", "\"expires_in\" is 300 s"],
    );
    // Without "interval" the default 5 s applies, and must fit in the lifetime too.
    refused(
        json!({"expires_in": 3}),
        &["\"expires_in\" is 3 s", "5 s", "default"],
    );
    refused(json!({"expires_in": -1}), &["\"expires_in\""]);
    refused(
        json!({"expires_in": 600, "interval": "soon"}),
        &["\"interval\""],
    );

    accepted(json!({"expires_in": 600}), 600, 5);
    accepted(json!({"expires_in": 600, "interval": 2}), 600, 2);
    accepted(json!({"expires_in": 5, "interval": 5}), 5, 5);
    // 0 would mean polling back to back: one poll a second at most (the dev issuer answers
    // 0 when told not to make tests wait).
    accepted(json!({"expires_in": 600, "interval": 0}), 600, 1);
    // A lifetime over an hour is cut to an hour: `m4-auth login` never waits longer.
    accepted(json!({"expires_in": 86_400, "interval": 5}), 3600, 5);
}

#[test]
fn a_zero_interval_never_polls_back_to_back() {
    let idp = Provider::start(json!({}));
    idp.on_post("/device", device_answer(600));
    idp.on_post_times("/token", 3, oauth_error(400, "authorization_pending", None));
    idp.on_post("/token", token_answer("at", 60, Some("rt")));
    let client = TokenClient::new(idp.options());
    let mut device = client.start_device_login().unwrap();
    // A caller may set the public field to anything.
    device.interval = Duration::ZERO;
    let mut waits = Vec::new();
    finish_login(&client, &device, |d| {
        assert!(waits.len() < 10, "polling without end: {waits:?}");
        waits.push(d);
        idp.clock.advance(d);
    })
    .unwrap();
    assert_eq!(waits, [Duration::from_secs(1); 4]);
}

#[test]
fn huge_lifetime_and_interval_set_by_a_caller_do_not_panic() {
    let idp = Provider::start(json!({}));
    idp.on_post("/device", device_answer(600));
    idp.on_post("/token", oauth_error(400, "authorization_pending", None));
    let client = TokenClient::new(idp.options());
    let mut device = client.start_device_login().unwrap();
    // The public fields set to the largest durations: the wait is bounded by the longest
    // lifetime a login code may have, and the login ends as expired instead of overflowing.
    device.expires_in = Duration::MAX;
    device.interval = Duration::MAX;
    let err = finish_login(&client, &device, |d| idp.clock.advance(d)).unwrap_err();
    assert_eq!(err.code(), "login_code_expired");
}

#[test]
fn a_provider_without_device_endpoint_says_so() {
    let idp = Provider::start(json!({"device_authorization_endpoint": null}));
    let err = TokenClient::new(idp.options())
        .start_device_login()
        .unwrap_err();
    assert_eq!(err.code(), "token_endpoint_missing");
    assert!(
        err.to_string().contains("device_authorization_endpoint"),
        "{err}"
    );
}

fn logged_in(idp: &Provider, refresh: &str) -> TokenSource {
    let login = StoredLogin::new(idp.issuer(), "m4-cli", Secret::new(refresh));
    CredentialsFile::new(idp.credentials_path())
        .save(&login)
        .unwrap();
    let source = TokenSource::detect(idp.options()).unwrap().unwrap();
    assert_eq!(source.kind(), &m4_auth_token::CredentialKind::StoredLogin);
    source
}

#[test]
fn refresh_happens_before_expiry_and_a_rotated_token_is_saved_at_once() {
    let idp = Provider::start(json!({}));
    idp.on_post_times("/token", 1, token_answer("at-1", 3600, Some("rt-2")));
    idp.on_post_times("/token", 1, token_answer("at-2", 3600, None));
    let source = logged_in(&idp, "rt-1");

    assert_eq!(source.access_token().unwrap().expose_secret(), "at-1");
    assert_eq!(
        field(&idp.posts("/token")[0], "refresh_token").as_deref(),
        Some("rt-1")
    );
    let stored = CredentialsFile::new(idp.credentials_path())
        .load()
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.refresh_token.expose_secret(),
        "rt-2",
        "rotation saved at once"
    );

    // 3/4 of 3600 s is 2700 s: before that, the token in memory serves.
    idp.clock.advance(Duration::from_secs(2699));
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-1");
    assert_eq!(idp.posts("/token").len(), 1);
    idp.clock.advance(Duration::from_secs(1));
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-2");
    let posts = idp.posts("/token");
    assert_eq!(posts.len(), 2);
    assert_eq!(field(&posts[1], "refresh_token").as_deref(), Some("rt-2"));
    assert_eq!(
        field(&posts[1], "grant_type").as_deref(),
        Some("refresh_token")
    );
}

#[test]
fn a_rotation_by_another_process_is_picked_up() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", token_answer("at", 100, None));
    let source = logged_in(&idp, "rt-1");
    // `m4-auth token` elsewhere rotated the refresh token in the file.
    let login = StoredLogin::new(idp.issuer(), "m4-cli", Secret::new("rt-other"));
    CredentialsFile::new(idp.credentials_path())
        .save(&login)
        .unwrap();
    source.access_token().unwrap();
    assert_eq!(
        field(&idp.posts("/token")[0], "refresh_token").as_deref(),
        Some("rt-other")
    );
}

#[test]
fn one_refresh_at_a_time_across_threads() {
    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        token_answer("at-shared", 3600, None).set_delay(Duration::from_millis(300)),
    );
    let source = Arc::new(logged_in(&idp, "rt-1"));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let source = Arc::clone(&source);
            std::thread::spawn(move || source.access_token().map(|t| t.expose_secret().to_owned()))
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().unwrap(), "at-shared");
    }
    assert_eq!(
        idp.posts("/token").len(),
        1,
        "one request for eight threads"
    );
}

#[test]
fn an_expired_or_revoked_login_says_to_log_in_again() {
    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        oauth_error(
            400,
            "invalid_grant",
            Some("Unknown or invalid refresh token."),
        ),
    );
    let source = logged_in(&idp, "rt-revoked");
    let err = source.access_token().unwrap_err();
    assert_eq!(err.code(), "login_expired");
    let message = err.to_string();
    assert!(message.contains("run `m4-auth login` again"), "{message}");
    assert!(
        message.contains("Unknown or invalid refresh token."),
        "{message}"
    );
    assert!(!message.contains("rt-revoked"), "{message}");
}

#[test]
fn failures_back_off_and_the_current_token_keeps_serving() {
    let idp = Provider::start(json!({}));
    idp.on_post_times("/token", 1, token_answer("at-1", 100, None));
    idp.on_post_times("/token", 2, ResponseTemplate::new(500));
    idp.on_post("/token", token_answer("at-2", 100, None));
    let source = TokenSource::detect(idp.confidential()).unwrap().unwrap();
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-1");

    // Renewal due at 75 s; the provider fails: the still-valid token serves.
    idp.clock.advance(Duration::from_secs(75));
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-1");
    assert_eq!(idp.posts("/token").len(), 2);
    // Within the 1 s back-off: no request.
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-1");
    assert_eq!(idp.posts("/token").len(), 2);
    // After it: one more attempt (fails again, back-off now 2 s).
    idp.clock.advance(Duration::from_secs(1));
    source.access_token().unwrap();
    assert_eq!(idp.posts("/token").len(), 3);
    idp.clock.advance(Duration::from_secs(1));
    source.access_token().unwrap();
    assert_eq!(
        idp.posts("/token").len(),
        3,
        "2 s back-off after the second failure"
    );
    idp.clock.advance(Duration::from_secs(1));
    assert_eq!(source.access_token().unwrap().expose_secret(), "at-2");
    assert_eq!(idp.posts("/token").len(), 4);
}

#[test]
fn with_no_usable_token_a_failure_is_reported() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", ResponseTemplate::new(500).set_body_string("oops"));
    let source = TokenSource::detect(idp.confidential()).unwrap().unwrap();
    let err = source.access_token().unwrap_err();
    assert_eq!(err.code(), "token_provider_error");
    assert!(err.to_string().contains("answered HTTP 500"), "{err}");
    // During the back-off the same error comes back without a request.
    assert_eq!(
        source.access_token().unwrap_err().code(),
        "token_provider_error"
    );
    assert_eq!(idp.posts("/token").len(), 1);
}

#[test]
fn garbage_and_hanging_providers_give_clear_errors_within_the_timeout() {
    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        ResponseTemplate::new(200).set_body_string("<html>hi</html>"),
    );
    let err = TokenClient::new(idp.confidential())
        .client_credentials()
        .unwrap_err();
    assert_eq!(err.code(), "token_provider_error");
    assert!(err.to_string().contains("not a JSON object"), "{err}");

    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        ResponseTemplate::new(200).set_body_json(json!({"token_type": "Bearer"})),
    );
    let err = TokenClient::new(idp.confidential())
        .client_credentials()
        .unwrap_err();
    assert!(
        err.to_string().contains("no \"access_token\" string"),
        "{err}"
    );

    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        token_answer("at", 60, None).set_delay(Duration::from_secs(30)),
    );
    let client = TokenClient::new(idp.confidential().http_timeout(Duration::from_secs(1)));
    client.endpoints().unwrap();
    let started = Instant::now();
    let err = client.client_credentials().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the timeout"
    );
    assert_eq!(err.code(), "token_provider_unreachable");
    assert!(err.to_string().contains("timed out after 1 s"), "{err}");
}

/// A 3xx from the token, device or revocation endpoint: reported as a redirect with the fix,
/// and not followed (the POST carries the client's credentials and tokens).
#[test]
fn a_redirecting_endpoint_is_reported_and_not_followed() {
    #[track_caller]
    fn check(err: &Error, endpoint: &str, location: &str) {
        assert_eq!(err.code(), "token_endpoint_redirected", "{err}");
        let message = err.to_string();
        let target = format!("answered HTTP 302, a redirect to \"{location}\";");
        for part in [endpoint, &target, "never followed", "final URL"] {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
        assert!(!message.contains("the provider is failing"), "{message}");
        assert!(!message.contains("s3cr"), "{message}");
    }
    let idp = Provider::start(json!({}));
    let elsewhere = format!("{}/moved", idp.issuer());
    idp.on_post("/token", common::redirect(&elsewhere));
    idp.on_post("/device", common::redirect(&elsewhere));
    idp.on_post("/revoke", common::redirect(&elsewhere));
    idp.on_post("/moved", token_answer("at-stolen", 60, None));

    let err = TokenClient::new(idp.confidential())
        .client_credentials()
        .unwrap_err();
    check(
        &err,
        &format!("token endpoint {}/token", idp.issuer()),
        &elsewhere,
    );
    let err = TokenClient::new(idp.options())
        .start_device_login()
        .unwrap_err();
    check(&err, "device authorization endpoint", &elsewhere);

    let _source = logged_in(&idp, "rt");
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed && !outcome.revoked, "{outcome:?}");
    let note = outcome.revocation_note.unwrap();
    assert!(note.contains("revocation endpoint"), "{note}");
    assert!(
        note.contains(&format!("a redirect to \"{elsewhere}\"")),
        "{note}"
    );
    assert!(idp.posts("/moved").is_empty(), "no redirect was followed");
}

/// The `Location` of a redirect is the provider's text: shown escaped and cut, whatever it
/// holds. A tab and a C1 control (U+0085, sent as the obs-text bytes C2 85) are all the
/// control characters HTTP lets through a header value; the rest is length.
#[test]
fn a_redirect_location_is_escaped_and_cut() {
    let idp = Provider::start(json!({}));
    let hostile = format!("/x\t\u{85}\"{}", "y".repeat(5000));
    idp.on_post("/token", common::redirect(&hostile));
    let err = TokenClient::new(idp.confidential())
        .client_credentials()
        .unwrap_err();
    assert_eq!(err.code(), "token_endpoint_redirected", "{err}");
    let message = err.to_string();
    assert!(
        message.contains(r#"a redirect to "/x\t\u{85}\"yyy"#),
        "{message}"
    );
    assert!(message.contains("yyy...\"; requests to it"), "{message}");
    assert!(!message.chars().any(char::is_control), "{message}");
    assert!(message.len() < 800, "{}", message.len());
    let Error::Redirected { location, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        location.as_ref().is_some_and(|l| l.len() < 300),
        "{location:?}"
    );
}

#[test]
fn provider_error_text_is_escaped_and_cut() {
    let idp = Provider::start(json!({}));
    let hostile = format!("bad\n\u{1b}[2J{}", "x".repeat(5000));
    idp.on_post("/token", oauth_error(401, "invalid_client", Some(&hostile)));
    let err = TokenClient::new(idp.confidential())
        .client_credentials()
        .unwrap_err();
    assert_eq!(err.code(), "token_client_rejected");
    let message = err.to_string();
    assert!(
        !message.contains('\n') && !message.contains('\u{1b}'),
        "{message}"
    );
    assert!(message.len() < 600, "{}", message.len());
    assert!(message.contains("check M4_OAUTH2_CLIENT_ID"), "{message}");
    assert!(!message.contains("s3cr/t"), "{message}");
}

#[test]
fn logout_revokes_the_refresh_token_and_forgets_it() {
    let idp = Provider::start(json!({}));
    idp.on_post("/revoke", ResponseTemplate::new(200));
    let _source = logged_in(&idp, "rt-to-revoke");
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed && outcome.revoked, "{outcome:?}");
    let post = &idp.posts("/revoke")[0];
    assert_eq!(field(post, "token").as_deref(), Some("rt-to-revoke"));
    assert_eq!(
        field(post, "token_type_hint").as_deref(),
        Some("refresh_token")
    );
    assert!(!idp.credentials_path().exists());

    // Nothing stored: nothing to do, nothing sent.
    let again = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(!again.removed && !again.revoked);
    assert_eq!(idp.posts("/revoke").len(), 1);
}

#[test]
fn logout_without_a_revocation_endpoint_still_forgets() {
    let idp = Provider::start(json!({"revocation_endpoint": null}));
    let _source = logged_in(&idp, "rt");
    let outcome = logout(&TokenClient::new(idp.options())).unwrap();
    assert!(outcome.removed && !outcome.revoked);
    assert!(
        outcome
            .revocation_note
            .unwrap()
            .contains("no revocation endpoint")
    );
}

#[cfg(unix)]
#[test]
fn a_credentials_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let idp = Provider::start(json!({}));
    let _source = logged_in(&idp, "rt");
    let path = idp.credentials_path();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = TokenSource::detect(idp.options()).unwrap_err();
    assert_eq!(err.code(), "credentials_file_insecure");
    assert!(
        err.to_string()
            .contains(&format!("chmod 600 {}", path.display())),
        "{err}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(TokenSource::detect(idp.options()).unwrap().is_some());
}

#[test]
fn a_login_for_another_issuer_is_not_used() {
    let idp = Provider::start(json!({}));
    let login = StoredLogin::new("https://other.example.com/", "m4-cli", Secret::new("rt"));
    CredentialsFile::new(idp.credentials_path())
        .save(&login)
        .unwrap();
    let err = TokenSource::detect(idp.options()).unwrap_err();
    assert_eq!(err.code(), "login_mismatch");
}

#[test]
fn nothing_secret_in_debug() {
    let idp = Provider::start(json!({}));
    idp.on_post(
        "/token",
        token_answer("at-visible?", 3600, Some("rt-visible?")),
    );
    let options = idp.confidential();
    let client = TokenClient::new(options.clone());
    let answer = client.client_credentials().unwrap();
    let source = TokenSource::detect(options.clone()).unwrap().unwrap();
    let login = StoredLogin::new(idp.issuer(), "m4-cli", Secret::new("rt-visible?"));
    let seen = Arc::new(Mutex::new(String::new()));
    for text in [
        format!("{options:?}"),
        format!("{client:?}"),
        format!("{answer:?}"),
        format!("{source:?}"),
        format!("{login:?}"),
    ] {
        assert!(!text.contains("s3cr"), "{text}");
        assert!(!text.contains("visible"), "{text}");
        seen.lock().unwrap().push_str(&text);
    }
    assert!(seen.lock().unwrap().contains("[redacted]"));
}

/// An HTTP timeout outside 1 ms to 1 hour set by a caller is refused at the first request,
/// naming the value and the range, before anything is sent; it used to become 1 ms or 1 hour
/// without a word. The bounds themselves are accepted.
#[test]
fn an_http_timeout_out_of_range_is_refused_not_clamped() {
    let idp = Provider::start(json!({}));
    idp.on_post("/token", token_answer("at", 3600, None));
    for (timeout, shown) in [
        (Duration::ZERO, "0 s"),
        (Duration::from_micros(999), "999000 ns"),
        (Duration::from_secs(3601), "3601 s"),
        (Duration::MAX, "18446744073709551615999999999 ns"),
    ] {
        let client = TokenClient::new(idp.confidential().http_timeout(timeout));
        let err = client.client_credentials().unwrap_err();
        assert_eq!(err.code(), "token_options_invalid", "{err}");
        let message = err.to_string();
        for part in [shown, "1 ms", "1 hour"] {
            assert!(message.contains(part), "{part:?} not in: {message}");
        }
        assert!(err.is_configuration(), "{err}");
    }
    assert!(idp.posts("/token").is_empty(), "nothing was sent");
    for timeout in [Duration::from_millis(1), Duration::from_secs(3600)] {
        let client = TokenClient::new(idp.confidential().http_timeout(timeout));
        if let Err(err) = client.client_credentials() {
            assert_ne!(err.code(), "token_options_invalid", "{err}");
        }
    }
}
