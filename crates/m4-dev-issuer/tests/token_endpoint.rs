//! The dev issuer's OAuth endpoints over real HTTP on loopback: every grant and every error
//! answer, with a manual clock for lifetimes and polling intervals.
#![cfg(test)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use m4_auth_testkit::tokens::{self, Checks};
use m4_dev_issuer::{
    ClientAuthMethod, Clock, DEFAULT_CLIENT_SECRET, DEFAULT_CONFIDENTIAL_CLIENT_ID,
    DEFAULT_PUBLIC_CLIENT_ID, DEVICE_CODE_GRANT, DevClient, DevIssuer, DevIssuerOptions,
    DeviceDecision, Error, MAX_BODY_BYTES, decide_device_remote,
};
use serde_json::{Value, json};

/// A clock the test moves by hand, in milliseconds.
#[derive(Debug)]
struct ManualClock(AtomicI64);

impl ManualClock {
    fn advance(&self, by: Duration) {
        self.0
            .fetch_add(i64::try_from(by.as_millis()).unwrap(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_unix(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

const NOW_MS: i64 = 1_750_000_000_000;
const SVC: &str = DEFAULT_CONFIDENTIAL_CLIENT_ID;
const CLI: &str = DEFAULT_PUBLIC_CLIENT_ID;

struct Fixture {
    issuer: DevIssuer,
    clock: Arc<ManualClock>,
}

fn start_with(options: impl FnOnce(&mut DevIssuerOptions)) -> Fixture {
    let clock = Arc::new(ManualClock(AtomicI64::new(NOW_MS)));
    let mut opts = DevIssuerOptions {
        clock: clock.clone(),
        device_interval: Duration::from_secs(5),
        ..DevIssuerOptions::default()
    };
    options(&mut opts);
    Fixture {
        issuer: DevIssuer::start(opts).unwrap(),
        clock,
    }
}

fn start() -> Fixture {
    start_with(|_| {})
}

/// One HTTP answer: status, headers we care about, JSON body (Null when empty).
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    www_authenticate: Option<String>,
    cache_control: Option<String>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (www_authenticate, cache_control) = (header("WWW-Authenticate"), header("Cache-Control"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    Answer {
        status,
        body: if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        },
        www_authenticate,
        cache_control,
    }
}

fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs a form to `path`, with an optional Authorization header.
fn post_form(issuer: &DevIssuer, path: &str, auth: Option<&str>, pairs: &[(&str, &str)]) -> Answer {
    let mut request = agent()
        .post(format!("{}{path}", issuer.issuer_url()))
        .header("Content-Type", "application/x-www-form-urlencoded");
    if let Some(auth) = auth {
        request = request.header("Authorization", auth);
    }
    read(request.send(form(pairs)).unwrap())
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn svc_basic() -> String {
    basic(SVC, DEFAULT_CLIENT_SECRET)
}

fn token(issuer: &DevIssuer, auth: Option<&str>, pairs: &[(&str, &str)]) -> Answer {
    post_form(issuer, "/token", auth, pairs)
}

#[track_caller]
fn check_error(answer: &Answer, status: u16, error: &str, description_part: &str) {
    assert_eq!(answer.status, status, "{answer:?}");
    assert_eq!(answer.body["error"], error, "{answer:?}");
    let description = answer.body["error_description"].as_str().unwrap();
    assert!(
        description.contains(description_part),
        "{description:?} lacks {description_part:?}"
    );
    assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
}

/// Verifies the token's signature with the served JWKS (exp not checked: the clock is
/// fixed in the past); returns the claims.
fn claims(issuer: &DevIssuer, token: &str) -> Value {
    tokens::verified_claims(&issuer.jwks(), token, Checks::default()).unwrap()
}

#[test]
fn discovery_advertises_the_oauth_endpoints() {
    let f = start();
    let url = f.issuer.issuer_url();
    let doc = read(
        agent()
            .get(format!("{url}/.well-known/openid-configuration"))
            .call()
            .unwrap(),
    )
    .body;
    assert_eq!(doc["token_endpoint"], f.issuer.token_endpoint());
    assert_eq!(doc["token_endpoint"], format!("{url}/token"));
    assert_eq!(
        doc["device_authorization_endpoint"],
        format!("{url}/device_authorization")
    );
    assert_eq!(doc["revocation_endpoint"], format!("{url}/revoke"));
    assert_eq!(
        doc["grant_types_supported"],
        json!(["client_credentials", DEVICE_CODE_GRANT, "refresh_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        doc["scopes_supported"],
        json!(["read:mimic-data", "offline_access"])
    );

    let only_post = start_with(|o| o.auth_methods = vec![ClientAuthMethod::ClientSecretPost]);
    let doc = read(
        agent()
            .get(format!(
                "{}/.well-known/oauth-authorization-server",
                only_post.issuer.issuer_url()
            ))
            .call()
            .unwrap(),
    )
    .body;
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_post"])
    );
}

#[test]
fn client_credentials_with_basic_and_post() {
    let f = start_with(|o| o.access_token_ttl = Duration::from_secs(90));
    let by_basic = token(
        &f.issuer,
        Some(&svc_basic()),
        &[("grant_type", "client_credentials")],
    );
    let by_post = token(
        &f.issuer,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SVC),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ],
    );
    for answer in [by_basic, by_post] {
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.cache_control.as_deref(), Some("no-store"));
        assert_eq!(answer.body["token_type"], "Bearer");
        assert_eq!(answer.body["expires_in"], 90);
        assert_eq!(answer.body["scope"], "read:mimic-data");
        assert!(answer.body.get("refresh_token").is_none(), "{answer:?}");
        let claims = claims(&f.issuer, answer.body["access_token"].as_str().unwrap());
        assert_eq!(claims["iss"], f.issuer.issuer_url());
        assert_eq!(claims["sub"], SVC);
        assert_eq!(claims["client_id"], SVC);
        assert_eq!(claims["aud"], "m4-api");
        assert_eq!(claims["scope"], "read:mimic-data");
        assert_eq!(claims["exp"], NOW_MS / 1000 + 90);
    }
    assert_eq!(f.issuer.grants_served("client_credentials"), 2);
    assert_eq!(f.issuer.served("/token"), 2);
}

#[track_caller]
fn check_audience(pairs: &[(&str, &str)], expected: &Value) {
    let f = start();
    let mut all = vec![("grant_type", "client_credentials")];
    all.extend_from_slice(pairs);
    let answer = token(&f.issuer, Some(&svc_basic()), &all);
    assert_eq!(answer.status, 200, "{answer:?}");
    let claims = claims(&f.issuer, answer.body["access_token"].as_str().unwrap());
    assert_eq!(&claims["aud"], expected);
}

#[test]
fn the_audience_follows_resource_or_audience() {
    check_audience(&[], &json!("m4-api"));
    check_audience(
        &[("resource", "https://m4.example.org/mcp")],
        &json!("https://m4.example.org/mcp"),
    );
    check_audience(&[("audience", "api://m4")], &json!("api://m4"));
    check_audience(
        &[
            ("resource", "https://a.example"),
            ("resource", "https://b.example"),
        ],
        &json!(["https://a.example", "https://b.example"]),
    );
    let f = start();
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://a.example"),
                ("audience", "api://m4"),
            ],
        ),
        400,
        "invalid_request",
        "send one of them",
    );
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[
                ("grant_type", "client_credentials"),
                ("resource", "https://a.example/#frag"),
            ],
        ),
        400,
        "invalid_target",
        "fragment",
    );
}

#[test]
fn only_offered_scopes_are_granted() {
    let f = start_with(|o| {
        o.scopes = vec!["read:mimic-data".into(), "write:notes".into()];
    });
    let answer = token(
        &f.issuer,
        Some(&svc_basic()),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "write:notes"),
        ],
    );
    assert_eq!(answer.body["scope"], "write:notes", "{answer:?}");
    let claims = claims(&f.issuer, answer.body["access_token"].as_str().unwrap());
    assert_eq!(claims["scope"], "write:notes");
    // No scope asked: every offered one.
    let answer = token(
        &f.issuer,
        Some(&svc_basic()),
        &[("grant_type", "client_credentials")],
    );
    assert_eq!(answer.body["scope"], "read:mimic-data write:notes");
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read:mimic-data admin"),
            ],
        ),
        400,
        "invalid_scope",
        "scope \"admin\" is not offered by this issuer; it offers: read:mimic-data write:notes",
    );
}

#[test]
fn client_authentication_failures_are_invalid_client() {
    let f = start();
    let cc = ("grant_type", "client_credentials");
    let wrong = token(&f.issuer, Some(&basic(SVC, "wrong")), &[cc]);
    check_error(
        &wrong,
        401,
        "invalid_client",
        "wrong client secret for client \"m4-dev-service\"",
    );
    assert_eq!(
        wrong.www_authenticate.as_deref(),
        Some("Basic realm=\"m4-dev-issuer\"")
    );
    assert!(!wrong.body.to_string().contains("wrong\""));

    let wrong_post = token(
        &f.issuer,
        None,
        &[cc, ("client_id", SVC), ("client_secret", "nope-nope")],
    );
    check_error(&wrong_post, 401, "invalid_client", "wrong client secret");
    assert_eq!(wrong_post.www_authenticate, None);
    assert!(!wrong_post.body.to_string().contains("nope-nope"));

    check_error(
        &token(&f.issuer, Some(&basic("ghost", "x")), &[cc]),
        401,
        "invalid_client",
        "unknown client_id \"ghost\"",
    );
    check_error(
        &token(&f.issuer, Some("Bearer abc"), &[cc]),
        401,
        "invalid_client",
        "not `Basic base64(client_id:client_secret)`",
    );
    check_error(
        &token(&f.issuer, None, &[cc]),
        401,
        "invalid_client",
        "no client authentication",
    );
    check_error(
        &token(&f.issuer, None, &[cc, ("client_secret", "x")]),
        401,
        "invalid_client",
        "client_secret without client_id",
    );
    check_error(
        &token(&f.issuer, None, &[cc, ("client_id", SVC)]),
        401,
        "invalid_client",
        "client \"m4-dev-service\" is confidential",
    );
    check_error(
        &token(&f.issuer, Some(&basic(CLI, "x")), &[cc]),
        401,
        "invalid_client",
        "client \"m4-dev-cli\" is public",
    );
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[cc, ("client_secret", DEFAULT_CLIENT_SECRET)],
        ),
        400,
        "invalid_request",
        "authenticated twice",
    );
    check_error(
        &token(&f.issuer, Some(&svc_basic()), &[cc, ("client_id", CLI)]),
        400,
        "invalid_request",
        "client_id in the body differs",
    );
    check_error(
        &token(&f.issuer, None, &[cc, ("client_id", CLI)]),
        400,
        "unauthorized_client",
        "client credentials grant needs a confidential client",
    );
}

#[test]
fn a_method_the_issuer_does_not_allow_is_refused() {
    let only_post = start_with(|o| o.auth_methods = vec![ClientAuthMethod::ClientSecretPost]);
    let refused = token(
        &only_post.issuer,
        Some(&svc_basic()),
        &[("grant_type", "client_credentials")],
    );
    check_error(
        &refused,
        401,
        "invalid_client",
        "client authentication method client_secret_basic is not allowed by this issuer; it accepts: client_secret_post",
    );
    assert!(refused.www_authenticate.is_some());
    let post = token(
        &only_post.issuer,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SVC),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ],
    );
    assert_eq!(post.status, 200, "{post:?}");

    let only_basic = start_with(|o| o.auth_methods = vec![ClientAuthMethod::ClientSecretBasic]);
    let refused = token(
        &only_basic.issuer,
        None,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", SVC),
            ("client_secret", DEFAULT_CLIENT_SECRET),
        ],
    );
    check_error(
        &refused,
        401,
        "invalid_client",
        "client_secret_post is not allowed",
    );
    assert_eq!(refused.www_authenticate, None);
    // A public client needs `none` allowed.
    check_error(
        &post_form(
            &only_basic.issuer,
            "/device_authorization",
            None,
            &[("client_id", CLI)],
        ),
        401,
        "invalid_client",
        "method none is not allowed",
    );
}

#[test]
fn requests_are_parsed_strictly_and_bounded() {
    let f = start();
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "read:mimic-data"),
                ("scope", "offline_access"),
            ],
        ),
        400,
        "invalid_request",
        "parameter \"scope\" is given more than once",
    );
    let json_body = read(
        agent()
            .post(f.issuer.token_endpoint())
            .header("Content-Type", "application/json")
            .send(r#"{"grant_type":"client_credentials"}"#)
            .unwrap(),
    );
    check_error(
        &json_body,
        400,
        "invalid_request",
        "application/x-www-form-urlencoded",
    );
    let huge = format!(
        "grant_type=client_credentials&pad={}",
        "a".repeat(MAX_BODY_BYTES)
    );
    let too_large = read(
        agent()
            .post(f.issuer.token_endpoint())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(huge)
            .unwrap(),
    );
    check_error(
        &too_large,
        413,
        "invalid_request",
        "larger than 65536 bytes",
    );
    check_error(
        &token(&f.issuer, Some(&svc_basic()), &[]),
        400,
        "invalid_request",
        "grant_type is missing",
    );
    check_error(
        &token(&f.issuer, Some(&svc_basic()), &[("grant_type", "password")]),
        400,
        "unsupported_grant_type",
        "grant_type \"password\" is not supported",
    );
    assert_eq!(f.issuer.grants_served("other"), 1);
    let get = read(agent().get(f.issuer.token_endpoint()).call().unwrap());
    assert_eq!(get.status, 405);
}

/// Starts a device login for `client`; returns the answer's JSON.
fn device_start(f: &Fixture, pairs: &[(&str, &str)]) -> Value {
    let answer = post_form(&f.issuer, "/device_authorization", None, pairs);
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body
}

fn poll(f: &Fixture, device_code: &str) -> Answer {
    token(
        &f.issuer,
        None,
        &[
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", CLI),
            ("device_code", device_code),
        ],
    )
}

#[test]
fn device_login_approved_gives_access_and_refresh_tokens() {
    let f = start_with(|o| o.device_code_ttl = Duration::from_millis(90_500));
    let device = device_start(
        &f,
        &[
            ("client_id", CLI),
            ("scope", "read:mimic-data offline_access"),
            ("resource", "https://m4.example.org/mcp"),
        ],
    );
    let url = f.issuer.issuer_url();
    let user_code = device["user_code"].as_str().unwrap();
    assert_eq!(device["verification_uri"], format!("{url}/device"));
    assert_eq!(
        device["verification_uri_complete"],
        format!("{url}/device?user_code={user_code}")
    );
    assert_eq!(device["expires_in"], 91, "rounded up");
    assert_eq!(device["interval"], 5);
    let device_code = device["device_code"].as_str().unwrap();

    f.clock.advance(Duration::from_secs(5));
    check_error(
        &poll(&f, device_code),
        400,
        "authorization_pending",
        "not approved",
    );
    f.issuer.approve_device(&user_code.to_lowercase()).unwrap();
    f.clock.advance(Duration::from_secs(5));
    let answer = poll(&f, device_code);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["scope"], "read:mimic-data offline_access");
    assert!(answer.body["refresh_token"].as_str().unwrap().len() > 32);
    let claims = claims(&f.issuer, answer.body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], "dev-user");
    assert_eq!(claims["client_id"], CLI);
    assert_eq!(claims["aud"], "https://m4.example.org/mcp");

    f.clock.advance(Duration::from_secs(5));
    check_error(
        &poll(&f, device_code),
        400,
        "invalid_grant",
        "already exchanged",
    );
    assert!(matches!(
        f.issuer.approve_device(user_code),
        Err(Error::DeviceLoginNotPending {
            why: "its tokens were already issued",
            ..
        })
    ));
    assert_eq!(f.issuer.grants_served(DEVICE_CODE_GRANT), 3);
}

/// Waits, polls and checks the answer, step after step.
#[track_caller]
fn check_polls(f: &Fixture, code: &str, steps: &[(Duration, &str, &str)]) {
    for (wait, error, description_part) in steps {
        f.clock.advance(*wait);
        check_error(&poll(f, code), 400, error, description_part);
    }
}

#[test]
fn polling_too_fast_gets_slow_down_and_a_longer_interval() {
    let f = start_with(|o| o.device_interval = Duration::from_millis(1500));
    let device = device_start(&f, &[("client_id", CLI)]);
    assert_eq!(device["interval"], 2, "1.5 s is stated as 2 s");
    let ms = Duration::from_millis;
    check_polls(
        &f,
        device["device_code"].as_str().unwrap(),
        &[
            (ms(1499), "slow_down", "wait at least 7 s"),
            // The interval is now 6.5 s, from the last poll.
            (ms(6499), "slow_down", "wait at least 12 s"),
            (ms(11_500), "authorization_pending", "not approved"),
        ],
    );
}

#[test]
fn forced_slow_downs_come_first_and_still_raise_the_interval() {
    let f = start_with(|o| {
        o.device_interval = Duration::from_secs(1);
        o.device_forced_slow_downs = 1;
    });
    let device = device_start(&f, &[("client_id", CLI)]);
    let secs = Duration::from_secs;
    check_polls(
        &f,
        device["device_code"].as_str().unwrap(),
        &[
            // On time, but forced.
            (secs(1), "slow_down", "wait at least 6 s"),
            // A client that did not slow down is now too fast.
            (secs(1), "slow_down", "wait at least 11 s"),
            (secs(11), "authorization_pending", "not approved"),
        ],
    );
}

#[test]
fn a_zero_interval_never_slows_down() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let device = device_start(&f, &[("client_id", CLI)]);
    assert_eq!(device["interval"], 0);
    let code = device["device_code"].as_str().unwrap();
    for _ in 0..3 {
        check_error(
            &poll(&f, code),
            400,
            "authorization_pending",
            "not approved",
        );
    }
}

#[test]
fn device_login_denied_or_expired() {
    let f = start_with(|o| {
        o.device_interval = Duration::ZERO;
        o.device_code_ttl = Duration::from_millis(2500);
    });
    let denied = device_start(&f, &[("client_id", CLI)]);
    f.issuer
        .deny_device(denied["user_code"].as_str().unwrap())
        .unwrap();
    let code = denied["device_code"].as_str().unwrap();
    check_error(
        &poll(&f, code),
        400,
        "access_denied",
        "the user denied the login",
    );
    check_error(&poll(&f, code), 400, "access_denied", "denied");

    let expired = device_start(&f, &[("client_id", CLI)]);
    f.clock.advance(Duration::from_millis(2500));
    check_error(
        &poll(&f, expired["device_code"].as_str().unwrap()),
        400,
        "expired_token",
        "expired before the user approved it",
    );
    let err = f
        .issuer
        .approve_device(expired["user_code"].as_str().unwrap())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::DeviceLoginNotPending {
                why: "it expired",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(matches!(
        f.issuer.deny_device("ZZZZ-ZZZZ"),
        Err(Error::UnknownUserCode { .. })
    ));
}

#[test]
fn device_codes_belong_to_their_client() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let device = device_start(&f, &[("client_id", CLI)]);
    let code = device["device_code"].as_str().unwrap();
    f.issuer
        .approve_device(device["user_code"].as_str().unwrap())
        .unwrap();
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[("grant_type", DEVICE_CODE_GRANT), ("device_code", code)],
        ),
        400,
        "invalid_grant",
        "issued to another client",
    );
    check_error(
        &poll(&f, "m4dev-dc-not-a-code"),
        400,
        "invalid_grant",
        "unknown device_code",
    );
    check_error(
        &token(
            &f.issuer,
            None,
            &[("grant_type", DEVICE_CODE_GRANT), ("client_id", CLI)],
        ),
        400,
        "invalid_request",
        "device_code is missing",
    );
    // The rightful client still gets its tokens.
    assert_eq!(poll(&f, code).status, 200);
}

#[test]
fn approval_over_http_and_the_verification_page() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let url = f.issuer.issuer_url().to_owned();
    let first = device_start(&f, &[("client_id", CLI)]);
    let user_code = first["user_code"].as_str().unwrap();
    let page = read(
        agent()
            .get(first["verification_uri_complete"].as_str().unwrap())
            .call()
            .unwrap(),
    );
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    assert!(html.contains(&format!("value=\"{user_code}\"")), "{html}");
    assert!(html.contains("m4-auth dev-issuer approve"), "{html}");
    let hostile = read(
        agent()
            .get(format!("{url}/device?user_code=%3Cscript%3E"))
            .call()
            .unwrap(),
    );
    assert!(!hostile.body.as_str().unwrap().contains("<script>"));

    decide_device_remote(&url, user_code, DeviceDecision::Approve).unwrap();
    assert_eq!(poll(&f, first["device_code"].as_str().unwrap()).status, 200);
    let second = device_start(&f, &[("client_id", CLI)]);
    let answer = post_form(
        &f.issuer,
        "/device/deny",
        None,
        &[("user_code", second["user_code"].as_str().unwrap())],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["decision"], "denied");
    check_error(
        &poll(&f, second["device_code"].as_str().unwrap()),
        400,
        "access_denied",
        "denied",
    );
    let again = decide_device_remote(&url, user_code, DeviceDecision::Deny).unwrap_err();
    match again {
        Error::IssuerRejected {
            status,
            description,
            ..
        } => {
            assert_eq!(status, 400);
            assert!(
                description.contains("its tokens were already issued"),
                "{description}"
            );
        }
        other => panic!("expected IssuerRejected, got {other:?}"),
    }
}

/// A finished device login for the default scopes: its refresh token.
fn logged_in(f: &Fixture) -> String {
    logged_in_with(f, &[("scope", "read:mimic-data offline_access")])
}

fn refresh(f: &Fixture, refresh_token: &str, extra: &[(&str, &str)]) -> Answer {
    let mut pairs = vec![
        ("grant_type", "refresh_token"),
        ("client_id", CLI),
        ("refresh_token", refresh_token),
    ];
    pairs.extend_from_slice(extra);
    token(&f.issuer, None, &pairs)
}

#[test]
fn refresh_rotates_and_a_reused_token_revokes_the_login() {
    let f = start_with(|o| {
        o.device_interval = Duration::ZERO;
        o.access_token_ttl = Duration::from_secs(2);
    });
    let first = logged_in(&f);
    f.clock.advance(Duration::from_secs(60));
    let answer = refresh(&f, &first, &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["expires_in"], 2);
    let second = answer.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    let claims = claims(&f.issuer, answer.body["access_token"].as_str().unwrap());
    assert_eq!(claims["exp"], NOW_MS / 1000 + 62);
    assert_eq!(claims["sub"], "dev-user");
    assert_eq!(claims["scope"], "read:mimic-data offline_access");

    let third = refresh(&f, &second, &[]).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Presenting a rotated-away token again ends the whole login.
    check_error(
        &refresh(&f, &first, &[]),
        400,
        "invalid_grant",
        "already used",
    );
    check_error(
        &refresh(&f, &third, &[]),
        400,
        "invalid_grant",
        "revoked: log in again",
    );
    assert_eq!(f.issuer.grants_served("refresh_token"), 4);
}

#[test]
fn refresh_can_narrow_but_not_widen_scopes() {
    let f = start_with(|o| {
        o.device_interval = Duration::ZERO;
        o.scopes = vec![
            "read:mimic-data".into(),
            "offline_access".into(),
            "admin".into(),
        ];
    });
    let rt = logged_in(&f);
    let narrowed = refresh(&f, &rt, &[("scope", "read:mimic-data")]);
    assert_eq!(narrowed.body["scope"], "read:mimic-data", "{narrowed:?}");
    let rt = narrowed.body["refresh_token"].as_str().unwrap();
    check_error(
        &refresh(&f, rt, &[("scope", "read:mimic-data admin")]),
        400,
        "invalid_scope",
        "scope \"admin\" was not granted",
    );
}

/// A finished device login for `pairs` (besides `client_id`): its refresh token.
fn logged_in_with(f: &Fixture, pairs: &[(&str, &str)]) -> String {
    let mut all = vec![("client_id", CLI)];
    all.extend_from_slice(pairs);
    let device = device_start(f, &all);
    f.issuer
        .approve_device(device["user_code"].as_str().unwrap())
        .unwrap();
    let answer = poll(f, device["device_code"].as_str().unwrap());
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["refresh_token"].as_str().unwrap().to_owned()
}

/// Refreshes with `extra`; asserts success and returns (the access token's `aud`, the
/// rotated refresh token).
#[track_caller]
fn refreshed_audience(f: &Fixture, rt: &str, extra: &[(&str, &str)]) -> (Value, String) {
    let answer = refresh(f, rt, extra);
    assert_eq!(answer.status, 200, "{extra:?}: {answer:?}");
    let aud = claims(&f.issuer, answer.body["access_token"].as_str().unwrap())["aud"].clone();
    let rotated = answer.body["refresh_token"].as_str().unwrap().to_owned();
    (aud, rotated)
}

#[test]
fn refresh_can_narrow_but_not_widen_or_change_the_audience() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let (a, b, evil) = (
        "https://a.example/mcp",
        "https://b.example/mcp",
        "https://evil.example/mcp",
    );
    let rt = logged_in_with(&f, &[("resource", a), ("resource", b)]);
    // RFC 8707 §2.2: a resource the grant does not cover is invalid_target, whichever
    // parameter names it, alone or beside granted ones; the token is not spent. The exact
    // words are in the snapshot of audience_scope_and_limit_refusals_are_worded.
    for asked in [
        vec![("resource", evil)],
        vec![("audience", evil)],
        vec![("resource", a), ("resource", evil)],
        vec![("audience", "m4-api")],
    ] {
        check_error(
            &refresh(&f, &rt, &asked),
            400,
            "invalid_target",
            "not granted to this login",
        );
    }
    // Narrowing to one of them is allowed, for that access token only.
    let (aud, rt) = refreshed_audience(&f, &rt, &[("resource", a)]);
    assert_eq!(aud, json!(a));
    let (aud, rt) = refreshed_audience(&f, &rt, &[("audience", b)]);
    assert_eq!(aud, json!(b));
    // None named: the whole original audience, still (the rotated token keeps the grant).
    let (aud, rt) = refreshed_audience(&f, &rt, &[]);
    assert_eq!(aud, json!([a, b]));
    let (aud, _) = refreshed_audience(&f, &rt, &[("resource", b), ("resource", a)]);
    assert_eq!(aud, json!([b, a]));

    // A login with the default audience cannot be refreshed into another one.
    let rt = logged_in(&f);
    check_error(
        &refresh(&f, &rt, &[("resource", evil)]),
        400,
        "invalid_target",
        "not granted to this login",
    );
    let (aud, _) = refreshed_audience(&f, &rt, &[("audience", "m4-api")]);
    assert_eq!(aud, json!("m4-api"));
}

#[test]
fn a_narrowed_refresh_keeps_the_login_whole() {
    // RFC 6749 §6: the rotated refresh token's scope is that of the one presented.
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let rt = logged_in(&f);
    let narrowed = refresh(&f, &rt, &[("scope", "read:mimic-data")]);
    assert_eq!(narrowed.body["scope"], "read:mimic-data", "{narrowed:?}");
    let rt = narrowed.body["refresh_token"].as_str().unwrap();
    let whole = refresh(&f, rt, &[]);
    assert_eq!(
        whole.body["scope"], "read:mimic-data offline_access",
        "{whole:?}"
    );
}

#[test]
fn expired_unknown_and_foreign_refresh_tokens_are_invalid_grant() {
    let f = start_with(|o| {
        o.device_interval = Duration::ZERO;
        o.refresh_token_ttl = Duration::from_secs(100);
    });
    let rt = logged_in(&f);
    check_error(
        &token(
            &f.issuer,
            Some(&svc_basic()),
            &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
        ),
        400,
        "invalid_grant",
        "issued to another client",
    );
    check_error(
        &refresh(&f, "m4dev-rt-never-issued", &[]),
        400,
        "invalid_grant",
        "unknown refresh token",
    );
    check_error(
        &token(
            &f.issuer,
            None,
            &[("grant_type", "refresh_token"), ("client_id", CLI)],
        ),
        400,
        "invalid_request",
        "refresh_token is missing",
    );
    f.clock.advance(Duration::from_secs(100));
    let expired = refresh(&f, &rt, &[]);
    check_error(&expired, 400, "invalid_grant", "has expired: log in again");
    assert!(!expired.body.to_string().contains(&rt), "token echoed");
}

#[test]
fn revocation_by_method_and_by_rfc_7009() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let rt = logged_in(&f);
    assert!(f.issuer.revoke_refresh_token(&rt));
    assert!(!f.issuer.revoke_refresh_token("m4dev-rt-unknown"));
    check_error(&refresh(&f, &rt, &[]), 400, "invalid_grant", "revoked");

    let rt = logged_in(&f);
    let rotated = refresh(&f, &rt, &[]).body["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another client may not revoke it.
    check_error(
        &post_form(
            &f.issuer,
            "/revoke",
            Some(&svc_basic()),
            &[("token", &rotated)],
        ),
        400,
        "invalid_request",
        "issued to another client",
    );
    let revoked = post_form(
        &f.issuer,
        "/revoke",
        None,
        &[
            ("client_id", CLI),
            ("token", &rotated),
            ("token_type_hint", "refresh_token"),
        ],
    );
    assert_eq!((revoked.status, &revoked.body), (200, &Value::Null));
    assert_eq!(revoked.cache_control.as_deref(), Some("no-store"));
    check_error(&refresh(&f, &rotated, &[]), 400, "invalid_grant", "revoked");
    // Unknown tokens are not an error (RFC 7009 §2.2); a missing one is.
    let unknown = post_form(
        &f.issuer,
        "/revoke",
        None,
        &[("client_id", CLI), ("token", "whatever")],
    );
    assert_eq!(unknown.status, 200);
    check_error(
        &post_form(&f.issuer, "/revoke", None, &[("client_id", CLI)]),
        400,
        "invalid_request",
        "token is missing",
    );
    check_error(
        &post_form(
            &f.issuer,
            "/revoke",
            Some(&basic(SVC, "bad")),
            &[("token", "x")],
        ),
        401,
        "invalid_client",
        "wrong client secret",
    );
}

#[test]
fn secrets_stay_out_of_debug() {
    let options = DevIssuerOptions {
        clients: vec![DevClient::confidential("svc", "very-secret-value")],
        ..DevIssuerOptions::default()
    };
    let debug = format!("{options:?}");
    assert!(!debug.contains("very-secret-value"), "{debug}");
    assert!(
        debug.contains("DevClient { id: \"svc\", confidential: true }"),
        "{debug}"
    );
}

/// A loop of device authorizations cannot grow the issuer's memory: past
/// `max_device_logins` held at once, new ones are refused (503 `temporarily_unavailable`)
/// until some expire, and the ones held keep working.
#[test]
fn device_logins_are_bounded() {
    let f = start_with(|o| {
        o.max_device_logins = 3;
        o.device_interval = Duration::ZERO;
    });
    let first: Vec<Value> = (0..3)
        .map(|_| device_start(&f, &[("client_id", CLI)]))
        .collect();
    for _ in 0..50 {
        let refused = post_form(
            &f.issuer,
            "/device_authorization",
            None,
            &[("client_id", CLI)],
        );
        check_error(&refused, 503, "temporarily_unavailable", "3 device logins");
        assert_eq!(f.issuer.device_logins_held(), 3);
    }
    // The logins held are untouched: one is still pending, one can be approved and exchanged.
    let code = |i: usize| first[i]["device_code"].as_str().unwrap().to_owned();
    check_error(
        &poll(&f, &code(0)),
        400,
        "authorization_pending",
        "not approved",
    );
    f.issuer
        .approve_device(first[1]["user_code"].as_str().unwrap())
        .unwrap();
    assert_eq!(poll(&f, &code(1)).status, 200);
    // Once they expire, they are forgotten when room is needed, and new logins start again.
    f.clock.advance(Duration::from_secs(600));
    for _ in 0..3 {
        device_start(&f, &[("client_id", CLI)]);
    }
    assert_eq!(f.issuer.device_logins_held(), 3);
    check_error(
        &post_form(
            &f.issuer,
            "/device_authorization",
            None,
            &[("client_id", CLI)],
        ),
        503,
        "temporarily_unavailable",
        "3 device logins",
    );
}

/// Past `max_refresh_tokens` held, the current token of a live login is never forgotten: a
/// grant that would add a login (the device-code exchange) is refused (503
/// `temporarily_unavailable`) and spends nothing, while a refresh, which replaces a token, goes
/// on (the token it rotates away is then the one forgotten). Expired tokens and revoked logins
/// are forgotten to make room.
#[test]
fn refresh_tokens_are_bounded() {
    let f = start_with(|o| {
        o.max_refresh_tokens = 3;
        o.device_interval = Duration::ZERO;
    });
    let first = logged_in(&f);
    let _second = logged_in(&f);
    let mut rt = logged_in(&f);
    assert_eq!(f.issuer.refresh_tokens_held(), 3);
    for _ in 0..5 {
        let answer = refresh(&f, &rt, &[]);
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(f.issuer.refresh_tokens_held(), 3);
        // No older rotated-away token was left to forget: the one just presented went.
        check_error(
            &refresh(&f, &rt, &[]),
            400,
            "invalid_grant",
            "unknown refresh token",
        );
        rt = answer.body["refresh_token"].as_str().unwrap().to_owned();
    }
    // A device login approved meanwhile cannot be exchanged yet, and is not spent by trying.
    let device = device_start(&f, &[("client_id", CLI)]);
    f.issuer
        .approve_device(device["user_code"].as_str().unwrap())
        .unwrap();
    let code = device["device_code"].as_str().unwrap();
    for _ in 0..50 {
        check_error(
            &poll(&f, code),
            503,
            "temporarily_unavailable",
            "3 refresh tokens, its limit (max_refresh_tokens), each the current token of a live login",
        );
        assert_eq!(f.issuer.refresh_tokens_held(), 3);
    }
    // Revoking the first login makes its token forgettable: the exchange now succeeds.
    assert!(f.issuer.revoke_refresh_token(&first));
    let answer = poll(&f, code);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(f.issuer.refresh_tokens_held(), 3);
    check_error(
        &refresh(&f, &first, &[]),
        400,
        "invalid_grant",
        "unknown refresh token",
    );
    // The live logins were never touched.
    let fourth = answer.body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(&f, &fourth, &[]).status, 200);
    let answer = refresh(&f, &rt, &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    let rt = answer.body["refresh_token"].as_str().unwrap().to_owned();
    // Expired tokens are forgotten too (the live ones among them: they have expired as well).
    f.clock.advance(Duration::from_secs(30 * 24 * 3600));
    check_error(&refresh(&f, &rt, &[]), 400, "invalid_grant", "expired");
    let rt = logged_in(&f);
    assert_eq!(f.issuer.refresh_tokens_held(), 1);
    assert_eq!(refresh(&f, &rt, &[]).status, 200);
}

/// One long session (short access tokens, many refreshes) of one live login never reaches
/// `max_refresh_tokens`: at the limit the oldest rotated-away tokens are forgotten, so every
/// refresh keeps working however many there were. A forgotten token presented again is only
/// unknown (`invalid_grant`), it no longer revokes the login; a rotated-away token still held
/// does (reuse detection is kept for the most recent ones).
#[test]
fn a_long_session_forgets_its_oldest_rotated_away_tokens() {
    let f = start_with(|o| {
        o.max_refresh_tokens = 3;
        o.device_interval = Duration::ZERO;
    });
    let first = logged_in(&f);
    let mut rt = first.clone();
    let mut recent = Vec::new();
    for i in 0..50 {
        let answer = refresh(&f, &rt, &[]);
        assert_eq!(answer.status, 200, "refresh {i}: {answer:?}");
        recent.push(rt);
        rt = answer.body["refresh_token"].as_str().unwrap().to_owned();
        assert!(f.issuer.refresh_tokens_held() <= 3, "refresh {i}");
    }
    assert_eq!(f.issuer.refresh_tokens_held(), 3);
    // The first token was forgotten long ago: unknown, and the login lives on.
    check_error(
        &refresh(&f, &first, &[]),
        400,
        "invalid_grant",
        "unknown refresh token",
    );
    let answer = refresh(&f, &rt, &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    recent.push(rt);
    let rt = answer.body["refresh_token"].as_str().unwrap().to_owned();
    // The token rotated away just now is still held: presenting it again is a reuse.
    check_error(
        &refresh(&f, recent.last().unwrap(), &[]),
        400,
        "invalid_grant",
        "already used",
    );
    check_error(
        &refresh(&f, &rt, &[]),
        400,
        "invalid_grant",
        "this refresh token was revoked",
    );
}

/// Limits below the smallest that works are refused when the issuer starts, naming the
/// option, the value and the minimum: `max_device_logins = 0` refuses every device login;
/// `max_refresh_tokens = 0` refuses every device-code exchange, and with 1 the token a refresh
/// rotates away is forgotten at once (its only slot goes to the new one), so presenting it
/// again is never detected as a reuse. At the minimums (1 and 2) a login, a refresh and reuse
/// detection all work.
#[test]
fn limits_below_the_working_minimum_are_refused_at_start() {
    let refused = |options: DevIssuerOptions| match DevIssuer::start(options) {
        Ok(issuer) => panic!("started with limits that cannot work: {issuer:?}"),
        Err(error) => error.to_string(),
    };
    let mut shown = String::new();
    for value in [0, 1] {
        let message = refused(DevIssuerOptions {
            max_refresh_tokens: value,
            ..DevIssuerOptions::default()
        });
        assert!(
            message.contains(&format!("max_refresh_tokens is {value}"))
                && message.contains("at least 2"),
            "{message}"
        );
        shown.push_str(&format!("{message}\n"));
    }
    let message = refused(DevIssuerOptions {
        max_device_logins: 0,
        ..DevIssuerOptions::default()
    });
    assert!(
        message.contains("max_device_logins is 0") && message.contains("at least 1"),
        "{message}"
    );
    shown.push_str(&format!("{message}\n"));
    insta::assert_snapshot!(shown);
    // At the minimums everything a login needs works, reuse detection included.
    let f = start_with(|o| {
        o.max_device_logins = 1;
        o.max_refresh_tokens = 2;
        o.device_interval = Duration::ZERO;
    });
    let mut rt = logged_in(&f);
    let mut used = String::new();
    for _ in 0..3 {
        let answer = refresh(&f, &rt, &[]);
        assert_eq!(answer.status, 200, "{answer:?}");
        used = std::mem::replace(
            &mut rt,
            answer.body["refresh_token"].as_str().unwrap().to_owned(),
        );
        assert_eq!(f.issuer.refresh_tokens_held(), 2);
    }
    check_error(
        &refresh(&f, &used, &[]),
        400,
        "invalid_grant",
        "already used",
    );
    check_error(
        &refresh(&f, &rt, &[]),
        400,
        "invalid_grant",
        "this refresh token was revoked",
    );
}

/// RFC 6749 §3.3: `scope` is a list of non-empty scope tokens. A value of spaces only
/// (`scope=%20`) names none: it is refused as `invalid_scope`, not taken as "no scope" (which
/// would grant a token without any scope, or, on a refresh, narrow the login to nothing).
/// Doubled, leading and trailing spaces between real tokens are tolerated.
#[test]
fn a_scope_of_only_spaces_is_invalid_scope() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    for blank in [" ", "   "] {
        check_error(
            &token(
                &f.issuer,
                Some(&svc_basic()),
                &[("grant_type", "client_credentials"), ("scope", blank)],
            ),
            400,
            "invalid_scope",
            "only spaces",
        );
        check_error(
            &post_form(
                &f.issuer,
                "/device_authorization",
                None,
                &[("client_id", CLI), ("scope", blank)],
            ),
            400,
            "invalid_scope",
            "only spaces",
        );
    }
    let rt = logged_in(&f);
    check_error(
        &refresh(&f, &rt, &[("scope", " ")]),
        400,
        "invalid_scope",
        "only spaces",
    );
    // The token was not spent by the refusal; doubled spaces between real scopes are fine.
    let answer = refresh(&f, &rt, &[("scope", " read:mimic-data  offline_access ")]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body["scope"], "read:mimic-data offline_access");
    let answer = token(
        &f.issuer,
        Some(&svc_basic()),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read:mimic-data  read:mimic-data"),
        ],
    );
    assert_eq!(answer.body["scope"], "read:mimic-data", "{answer:?}");
}

/// RFC 8707 §2: a `resource` is an absolute URI without a fragment. A relative one
/// (`/mcp`, `m4.example.org/mcp`), one with a fragment, or one holding characters no URI
/// holds is `invalid_target` on every grant and at the device authorization endpoint,
/// not a token whose `aud` is that string.
#[test]
fn a_resource_must_be_an_absolute_uri_without_fragment() {
    let f = start_with(|o| o.device_interval = Duration::ZERO);
    let refused = [
        ("/mcp", "not an absolute URI"),
        ("mcp", "not an absolute URI"),
        ("m4.example.org/mcp", "not an absolute URI"),
        ("//m4.example.org/mcp", "not an absolute URI"),
        ("1https://m4.example.org/mcp", "not an absolute URI"),
        (":/mcp", "not an absolute URI"),
        ("https://m4.example.org/#frag", "fragment"),
        ("https://m4.example.org/mcp#", "fragment"),
        ("urn:m4#x", "fragment"),
        ("https://m4.example.org/a b", "not a URI"),
        ("https://m4.example.org/\u{e9}", "not a URI"),
        ("https://m4.example.org/\"x\"", "not a URI"),
    ];
    let rt = logged_in_with(&f, &[("resource", "https://m4.example.org/mcp")]);
    for (resource, why) in refused {
        check_error(
            &token(
                &f.issuer,
                Some(&svc_basic()),
                &[("grant_type", "client_credentials"), ("resource", resource)],
            ),
            400,
            "invalid_target",
            why,
        );
        check_error(
            &post_form(
                &f.issuer,
                "/device_authorization",
                None,
                &[("client_id", CLI), ("resource", resource)],
            ),
            400,
            "invalid_target",
            why,
        );
        check_error(
            &refresh(&f, &rt, &[("resource", resource)]),
            400,
            "invalid_target",
            why,
        );
    }
    // Absolute URIs without a fragment are taken as they are.
    for resource in [
        "https://m4.example.org/mcp",
        "http://127.0.0.1:8080/mcp?tenant=a",
        "urn:m4:api",
        "https://m4.example.org/%7Euser",
    ] {
        check_audience(&[("resource", resource)], &json!(resource));
    }
    // The refresh token survived every refusal.
    assert_eq!(refresh(&f, &rt, &[]).status, 200);
}

/// The exact words of the refusals a client reads from the token and device authorization
/// endpoints for a refresh asking for another audience (RFC 8707 §2.2), a resource that is not
/// an absolute URI without fragment, a scope of spaces only, and a full issuer: one line each,
/// `error: error_description`.
#[test]
fn audience_scope_and_limit_refusals_are_worded() {
    let f = start_with(|o| {
        o.device_interval = Duration::ZERO;
        o.max_device_logins = 3;
        o.max_refresh_tokens = 2;
    });
    let (a, b) = ("https://a.example/mcp", "https://b.example/mcp");
    let two = logged_in_with(&f, &[("resource", a), ("resource", b)]);
    let default = logged_in(&f);
    // A third login, approved: its exchange would hold a third refresh token.
    let third = device_start(&f, &[("client_id", CLI)]);
    f.issuer
        .approve_device(third["user_code"].as_str().unwrap())
        .unwrap();
    let svc = |pairs: &[(&str, &str)]| {
        let mut all = vec![("grant_type", "client_credentials")];
        all.extend_from_slice(pairs);
        token(&f.issuer, Some(&svc_basic()), &all)
    };
    let cases = [
        (
            "refresh, resource not granted",
            refresh(&f, &two, &[("resource", "https://evil.example/mcp")]),
        ),
        (
            "refresh, audience not granted",
            refresh(&f, &default, &[("audience", "other-api")]),
        ),
        (
            "refresh, one of two resources not granted",
            refresh(
                &f,
                &two,
                &[("resource", a), ("resource", "https://c.example/mcp")],
            ),
        ),
        ("relative resource", svc(&[("resource", "/mcp")])),
        (
            "resource with a fragment",
            svc(&[("resource", "https://a.example/mcp#top")]),
        ),
        (
            "resource with a space",
            svc(&[("resource", "https://a.example/a b")]),
        ),
        ("scope of spaces only", svc(&[("scope", "  ")])),
        (
            "too many refresh tokens",
            poll(&f, third["device_code"].as_str().unwrap()),
        ),
        (
            "too many device logins",
            post_form(
                &f.issuer,
                "/device_authorization",
                None,
                &[("client_id", CLI)],
            ),
        ),
    ];
    let mut shown = String::new();
    for (what, answer) in cases {
        let line = format!(
            "{what}: {} {}: {}\n",
            answer.status,
            answer.body["error"].as_str().unwrap_or("?"),
            answer.body["error_description"].as_str().unwrap_or("?")
        );
        shown.push_str(&line);
    }
    insta::assert_snapshot!(shown);
}
