//! Acceptance: JWKS behaviour as seen from outside, through `m4-auth verify --stdin --json`:
//! the provider's request counts and the answers, one process (one cache) per scenario.
//!
//! Where time must pass (TTL, cooldown), the settings are one second and the test polls for
//! the answer or request count it needs, bounded, instead of sleeping a fixed time.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use std::time::{Duration, Instant};

use e2e_support::tokens::{claims, sign, sign_with_header};
use e2e_support::{Expect, Idp, Session, check, env_for, json_body, standard_idp};
use m4_auth_cli::dev_issuer::{DevIssuer, DevIssuerOptions, MintRequest, OldKeys, SigningAlg};
use m4_auth_testkit::idp::ResponseTemplate;
use m4_auth_testkit::idp::closed_port_url;
use m4_auth_testkit::keys;
use serde_json::{Value, json};

use Expect::{Code, Mentions, Ok};

const DISCOVERY: &str = "/.well-known/openid-configuration";
const RFC8414: &str = "/.well-known/oauth-authorization-server";
const JWKS: &str = "/jwks.json";
/// The longest any polling loop below may take.
const POLL_LIMIT: Duration = Duration::from_secs(15);
/// Pause between two polls (the thing awaited is the passing of a one-second cooldown/TTL).
const POLL_EVERY: Duration = Duration::from_millis(25);

#[test]
fn many_tokens_cost_one_discovery_and_one_jwks_fetch() {
    let (idp, iss, _jwks) = standard_idp();
    let mut session = Session::start(&env_for(&iss, &[]));
    let keys = ["rsa-2048", "rsa-4096", "ec-p256"];
    let tokens: Vec<String> = (0..30)
        .map(|i| sign(keys[i % 3], &claims(&iss, &format!("user-{i}"))))
        .collect();
    for round in 0..2 {
        for (i, token) in tokens.iter().enumerate() {
            let answer = session.ask(token);
            assert!(
                answer["ok"] == true && answer["sub"] == format!("user-{i}"),
                "round {round}, token {i}: {answer}"
            );
        }
    }
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(DISCOVERY), 1);
    assert_eq!(idp.hits(JWKS), 1);
}

/// A token signed by a fixture key whose header names a kid nobody publishes.
fn random_kid_token(iss: &str, i: usize) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    sign_with_header(
        "ec-p256",
        json!({"kid": format!("flood-{i}-{nanos:08x}")}),
        &claims(iss, "flooder"),
    )
}

#[test]
fn an_unknown_kid_flood_refetches_at_most_once_per_cooldown() {
    let (idp, iss, _jwks) = standard_idp();
    // Warm: one good token, then 500 unknown kids within the default 30 s cooldown.
    let mut session = Session::start(&env_for(&iss, &[]));
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "before"))),
        Ok("before"),
        "warm-up",
    );
    let started = Instant::now();
    for i in 0..500 {
        let answer = session.ask(&random_kid_token(&iss, i));
        check(&answer, Code("unknown_kid"), &format!("flood token {i}"));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "the flood outlasted the cooldown ({took:?}): the count below would prove nothing"
    );
    check(
        &session.ask(&sign("ec-p256", &claims(&iss, "after"))),
        Ok("after"),
        "after the flood",
    );
    assert!(session.finish().status.success());
    assert!(
        idp.hits(JWKS) <= 2,
        "{} JWKS fetches for 500 unknown kids",
        idp.hits(JWKS)
    );
    assert_eq!(idp.hits(DISCOVERY), 1);

    // Cold: the very first line is already an unknown kid.
    let (idp, iss, _jwks) = standard_idp();
    let mut session = Session::start(&env_for(&iss, &[]));
    for i in 0..200 {
        check(
            &session.ask(&random_kid_token(&iss, i)),
            Code("unknown_kid"),
            &format!("cold flood token {i}"),
        );
    }
    assert!(session.finish().status.success());
    assert!(idp.hits(JWKS) <= 2, "{} JWKS fetches", idp.hits(JWKS));
    assert_eq!(idp.hits(DISCOVERY), 1);
}

/// Asks `token` until it is accepted (the cooldown must pass first); every earlier answer must
/// be `unknown_kid`. Returns how many times it was asked.
#[track_caller]
fn until_accepted(session: &mut Session, token: &str, sub: &str, label: &str) -> usize {
    let deadline = Instant::now() + POLL_LIMIT;
    let mut asked = 0;
    loop {
        let answer = session.ask(token);
        asked += 1;
        if answer["ok"] == true {
            assert_eq!(answer["sub"], sub, "{label}: {answer}");
            return asked;
        }
        check(&answer, Code("unknown_kid"), label);
        assert!(
            Instant::now() < deadline,
            "{label}: still unknown after {POLL_LIMIT:?}"
        );
        std::thread::sleep(POLL_EVERY);
    }
}

#[test]
fn rotation_is_picked_up_by_one_refetch_and_removed_keys_stop_verifying() {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).unwrap();
    let mint = |sub: &str, alg: SigningAlg| {
        issuer
            .mint(&MintRequest {
                sub: sub.into(),
                alg,
                ..MintRequest::default()
            })
            .unwrap()
    };
    let env: Vec<(String, String)> = issuer
        .env()
        .into_iter()
        .chain([("M4_OAUTH2_JWKS_REFRESH_COOLDOWN".to_owned(), "1".to_owned())])
        .collect();
    let mut session = Session::start(&env);

    let first = mint("first", SigningAlg::Rs256);
    check(&session.ask(&first), Ok("first"), "generation 1");
    assert_eq!(issuer.served("/jwks.json"), 1);

    // An overlapping rotation: the new kid is fetched once, the old key still verifies.
    issuer.rotate(OldKeys::Keep).unwrap();
    let second = mint("second", SigningAlg::Rs256);
    until_accepted(&mut session, &second, "second", "generation 2");
    assert_eq!(
        issuer.served("/jwks.json"),
        2,
        "one refetch for the new kid"
    );
    check(&session.ask(&first), Ok("first"), "generation 1 kept");
    check(&session.ask(&second), Ok("second"), "generation 2, cached");
    assert_eq!(issuer.served("/jwks.json"), 2);

    // An emergency rotation: every earlier key disappears from the JWKS.
    issuer.rotate(OldKeys::Remove).unwrap();
    let third = mint("third", SigningAlg::Es256);
    until_accepted(&mut session, &third, "third", "generation 3");
    assert_eq!(
        issuer.served("/jwks.json"),
        3,
        "one refetch for the new kid"
    );
    // The exact strings accepted before (and held in the verified-token cache) are refused now.
    check(
        &session.ask(&first),
        Code("unknown_kid"),
        "generation 1 removed",
    );
    check(
        &session.ask(&second),
        Code("unknown_kid"),
        "generation 2 removed",
    );
    check(&session.ask(&third), Ok("third"), "generation 3, cached");
    assert!(session.finish().status.success());
    assert!(issuer.served("/jwks.json") <= 4);
    assert_eq!(issuer.served("/.well-known/openid-configuration"), 1);
}

/// Sends fresh tokens (never cached) until the provider has seen `count` JWKS requests; every
/// answer must be accepted. Returns the longest answer time.
#[track_caller]
fn accepted_until_jwks_hits(
    session: &mut Session,
    idp: &Idp,
    iss: &str,
    count: usize,
    label: &str,
) -> Duration {
    let deadline = Instant::now() + POLL_LIMIT;
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    while idp.hits(JWKS) < count {
        assert!(
            Instant::now() < deadline,
            "{label}: {} JWKS requests, waited for {count}",
            idp.hits(JWKS)
        );
        n += 1;
        let sub = format!("{label}-{n}");
        let (answer, took) = session.timed_ask(&sign("rsa-2048", &claims(iss, &sub)));
        slowest = slowest.max(took);
        assert!(
            answer["ok"] == true && answer["sub"] == sub.as_str(),
            "{label}: a cached key must keep serving: {answer}"
        );
        std::thread::sleep(POLL_EVERY);
    }
    slowest
}

#[test]
fn an_outage_after_a_good_fetch_keeps_cached_keys_serving() {
    let (idp, iss, jwks) = standard_idp();
    let started = Instant::now();
    let mut session = Session::start(&env_for(
        &iss,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "1"),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1"),
            ("M4_OAUTH2_HTTP_TIMEOUT", "1"),
        ],
    ));
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "good"))),
        Ok("good"),
        "before the outage",
    );
    assert_eq!(idp.hits(JWKS), 1);

    let outages = [
        ("http-503", ResponseTemplate::new(503)),
        ("garbage", json_body("<html>maintenance</html>")),
        ("empty-set", json_body(r#"{"keys":[]}"#)),
        ("not-a-jwks", json_body(r#"{"keys":{"kty":"RSA"}}"#)),
        ("attacker-keys-only", json_body(&keys::jwks(&["rsa-1024"]))),
        (
            "hanging",
            json_body(keys::jwks_json()).set_delay(Duration::from_secs(30)),
        ),
    ];
    for (n, (label, response)) in outages.into_iter().enumerate() {
        jwks.set(response);
        let slowest = accepted_until_jwks_hits(&mut session, &idp, &iss, n + 2, label);
        // Serving stale keys never waits longer than one HTTP timeout (1 s) plus slack.
        assert!(slowest < Duration::from_secs(6), "{label}: {slowest:?}");
    }
    // Back to normal: the next refresh succeeds and tokens keep being accepted.
    jwks.set(json_body(keys::jwks_json()));
    let before = idp.hits(JWKS);
    accepted_until_jwks_hits(&mut session, &idp, &iss, before + 1, "recovered");
    assert!(session.finish().status.success());

    // At most one refresh per one-second cooldown, and the JWKS URL was never rediscovered.
    let elapsed = started.elapsed().as_secs() as usize;
    assert!(
        idp.hits(JWKS) <= elapsed + 2,
        "{} JWKS requests in {elapsed} s with a 1 s cooldown",
        idp.hits(JWKS)
    );
    assert_eq!(idp.hits(DISCOVERY), 1);
}

#[test]
fn keys_past_ttl_plus_max_stale_are_dropped_then_recovered() {
    let (idp, iss, jwks) = standard_idp();
    let mut session = Session::start(&env_for(
        &iss,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "1"),
            ("M4_OAUTH2_JWKS_MAX_STALE", "1"),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1"),
        ],
    ));
    let cached = sign("rsa-2048", &claims(&iss, "good"));
    check(&session.ask(&cached), Ok("good"), "before the outage");
    jwks.set(ResponseTemplate::new(503));
    // Within TTL + max stale (2 s) tokens pass; after it, keys are gone: jwks_unavailable.
    let deadline = Instant::now() + POLL_LIMIT;
    let mut n = 0;
    loop {
        n += 1;
        let sub = format!("stale-{n}");
        let answer = session.ask(&sign("rsa-2048", &claims(&iss, &sub)));
        if answer["ok"] == false {
            check(&answer, Mentions("jwks_unavailable", "503"), "keys dropped");
            break;
        }
        assert_eq!(answer["sub"], sub.as_str());
        assert!(Instant::now() < deadline, "keys never dropped");
        std::thread::sleep(POLL_EVERY);
    }
    // A token verified (and cached) before the outage is not accepted without keys either.
    check(
        &session.ask(&cached),
        Code("jwks_unavailable"),
        "cached token, keys dropped",
    );
    jwks.set(json_body(keys::jwks_json()));
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        let answer = session.ask(&sign("ec-p256", &claims(&iss, "back")));
        if answer["ok"] == true {
            check(&answer, Ok("back"), "recovered");
            break;
        }
        check(&answer, Code("jwks_unavailable"), "while cooling down");
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(POLL_EVERY);
    }
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(DISCOVERY), 1);
}

#[test]
fn a_cold_start_with_the_endpoint_down_fails_fast_and_recovers() {
    // Nothing listens: refused at once, and again at once while cooling down.
    let down = closed_port_url();
    let mut session = Session::start(&env_for(&down, &[]));
    let token = sign("rsa-2048", &claims(&down, "alice"));
    let (answer, took) = session.timed_ask(&token);
    check(&answer, Code("jwks_unavailable"), "connection refused");
    assert!(took < Duration::from_secs(2 + 3), "{took:?}");
    let (answer, took) = session.timed_ask(&token);
    check(&answer, Code("jwks_unavailable"), "refused, cooling down");
    assert!(took < Duration::from_secs(2), "{took:?}");
    assert!(session.finish().status.success());

    // The provider accepts the connection and never answers: one HTTP timeout (3 s), then
    // every later line is answered well within another timeout while the cooldown runs.
    let idp = Idp::start();
    idp.serve(
        DISCOVERY,
        ResponseTemplate::new(200).set_delay(Duration::from_secs(60)),
    );
    let iss = idp.uri();
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_HTTP_TIMEOUT", "3")]));
    let token = sign("rsa-2048", &claims(&iss, "alice"));
    let (answer, took) = session.timed_ask(&token);
    check(
        &answer,
        Mentions("jwks_unavailable", "timed out"),
        "hanging provider",
    );
    assert!(
        took >= Duration::from_millis(2900) && took < Duration::from_secs(3 + 5),
        "{took:?}"
    );
    let (answer, took) = session.timed_ask(&token);
    check(&answer, Code("jwks_unavailable"), "hanging, cooling down");
    assert!(took < Duration::from_millis(2500), "{took:?}");
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(DISCOVERY), 1);

    // A 503 at start, then the provider comes back: tokens pass after the cooldown.
    let (idp, iss, jwks) = standard_idp();
    jwks.set(ResponseTemplate::new(503));
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1")]));
    let token = sign("rsa-2048", &claims(&iss, "alice"));
    check(
        &session.ask(&token),
        Mentions("jwks_unavailable", "503"),
        "503 at start",
    );
    jwks.set(json_body(keys::jwks_json()));
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        let answer = session.ask(&token);
        if answer["ok"] == true {
            check(&answer, Ok("alice"), "after recovery");
            break;
        }
        check(&answer, Code("jwks_unavailable"), "cooling down");
        assert!(Instant::now() < deadline, "never recovered");
        std::thread::sleep(POLL_EVERY);
    }
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(JWKS), 2);
}

#[test]
fn provider_layouts_okta_auth0_fallback_and_an_explicit_jwks_url() {
    // Okta: the issuer has a path, the keys live at /v1/keys under it.
    let idp = Idp::start();
    let iss = idp.discovery("/oauth2/default", "/oauth2/default/v1/keys");
    idp.serve("/oauth2/default/v1/keys", json_body(keys::jwks_json()));
    let mut session = Session::start(&env_for(&iss, &[]));
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "okta-user"))),
        Ok("okta-user"),
        "okta",
    );
    let without_path = idp.uri();
    check(
        &session.ask(&sign("rsa-2048", &claims(&without_path, "okta-user"))),
        Code("invalid_issuer"),
        "okta, iss without the path",
    );
    assert!(session.finish().status.success());
    assert_eq!(
        idp.hits("/oauth2/default/.well-known/openid-configuration"),
        1
    );
    assert_eq!(idp.hits("/oauth2/default/v1/keys"), 1);
    assert_eq!(
        idp.requests().len(),
        2,
        "nothing but discovery and the keys"
    );

    // Auth0: the issuer ends with a slash, and `iss` must keep it.
    let idp = Idp::start();
    let iss = idp.discovery("/", "/.well-known/jwks.json");
    assert!(iss.ends_with('/'));
    idp.serve("/.well-known/jwks.json", json_body(keys::jwks_json()));
    let mut session = Session::start(&env_for(&iss, &[]));
    check(
        &session.ask(&sign("ec-p256", &claims(&iss, "auth0-user"))),
        Ok("auth0-user"),
        "auth0",
    );
    check(
        &session.ask(&sign(
            "ec-p256",
            &claims(iss.trim_end_matches('/'), "auth0-user"),
        )),
        Code("invalid_issuer"),
        "auth0, iss without the slash",
    );
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(DISCOVERY), 1);

    // No discovery document at all: both well-known documents 404, then /.well-known/jwks.json.
    let idp = Idp::start();
    idp.serve("/.well-known/jwks.json", json_body(keys::jwks_json()));
    let iss = idp.uri();
    let mut session = Session::start(&env_for(&iss, &[]));
    check(
        &session.ask(&sign("rsa-4096", &claims(&iss, "fallback-user"))),
        Ok("fallback-user"),
        "fallback",
    );
    assert!(session.finish().status.success());
    let paths: Vec<String> = idp
        .requests()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, [DISCOVERY, RFC8414, "/.well-known/jwks.json"]);

    // M4_OAUTH2_JWKS_URL set: discovery is served but never asked.
    let idp = Idp::start();
    let iss = idp.discovery("", JWKS);
    idp.serve("/keys", json_body(keys::jwks_json()));
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_JWKS_URL", &idp.url("/keys"))]));
    for i in 0..5 {
        let sub = format!("explicit-{i}");
        let answer = session.ask(&sign("rsa-2048", &claims(&iss, &sub)));
        assert!(
            answer["ok"] == true && answer["sub"] == sub.as_str(),
            "{answer}"
        );
    }
    assert!(session.finish().status.success());
    assert_eq!(idp.hits(DISCOVERY), 0);
    assert_eq!(idp.hits(RFC8414), 0);
    assert_eq!(idp.hits(JWKS), 0);
    assert_eq!(idp.hits("/keys"), 1);
}

#[test]
fn discovery_documents_that_must_not_be_believed() {
    // A document naming another issuer, or a JWKS over plain http on a public host: no keys
    // are fetched from it, and tokens are refused with jwks_unavailable.
    let cases: [(&str, Value); 3] = [
        (
            "issuer mismatch",
            json!({"issuer": "https://evil.example.com", "jwks_uri": "JWKS"}),
        ),
        (
            "http jwks_uri on a public host",
            json!({"issuer": "ISSUER", "jwks_uri": "http://evil.example.com/jwks.json"}),
        ),
        (
            "jwks_uri with credentials",
            json!({"issuer": "ISSUER", "jwks_uri": "http://user:pass@127.0.0.1:1/jwks.json"}),
        ),
    ];
    for (label, template) in cases {
        let idp = Idp::start();
        let iss = idp.uri();
        let document = template
            .to_string()
            .replace("\"ISSUER\"", &format!("\"{iss}\""))
            .replace("\"JWKS\"", &format!("\"{}\"", idp.url(JWKS)));
        idp.serve(DISCOVERY, json_body(&document));
        idp.serve(JWKS, json_body(keys::jwks_json()));
        let mut session = Session::start(&env_for(&iss, &[]));
        check(
            &session.ask(&sign("rsa-2048", &claims(&iss, "alice"))),
            Code("jwks_unavailable"),
            label,
        );
        assert!(session.finish().status.success());
        assert_eq!(idp.hits(JWKS), 0, "{label}: keys fetched anyway");
    }
    // Sanity: the same provider with an honest document works.
    let (_idp, iss, _jwks) = standard_idp();
    let mut session = Session::start(&env_for(&iss, &[]));
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "alice"))),
        Ok("alice"),
        "honest document",
    );
    assert!(session.finish().status.success());
}

#[test]
fn a_key_replaced_under_the_same_kid_stops_verifying_old_tokens() {
    // The provider swaps the key material behind kid "main" (a compromised key replaced).
    let idp = Idp::start();
    let iss = idp.discovery("", JWKS);
    let under_main = |fixture: &str| {
        let mut jwk = keys::jwk(fixture);
        jwk["kid"] = json!("main");
        keys::jwks_of(&[jwk])
    };
    let jwks = e2e_support::Switch::new(json_body(&under_main("rsa-2048")));
    idp.serve(JWKS, jwks.clone());
    let signed_by = |fixture: &str, sub: &str| {
        e2e_support::tokens::jws(
            &json!({"alg": "RS256", "kid": "main"}),
            &claims(&iss, sub),
            &e2e_support::tokens::Sig::Key(fixture, jsonwebtoken::Algorithm::RS256),
        )
    };
    let old = signed_by("rsa-2048", "old");
    let mut session = Session::start(&env_for(
        &iss,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "1"),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1"),
        ],
    ));
    check(&session.ask(&old), Ok("old"), "before the swap");
    jwks.set(json_body(&under_main("rsa-2048-b")));
    // The same token string (a verified-token cache hit) must fail once the set is refreshed.
    let deadline = Instant::now() + POLL_LIMIT;
    loop {
        let answer = session.ask(&old);
        if answer["ok"] == false {
            check(&answer, Code("invalid_signature"), "after the swap");
            break;
        }
        check(&answer, Ok("old"), "before the refresh");
        assert!(Instant::now() < deadline, "the old key kept verifying");
        std::thread::sleep(POLL_EVERY);
    }
    check(
        &session.ask(&signed_by("rsa-2048-b", "new")),
        Ok("new"),
        "the new key",
    );
    check(
        &session.ask(&old),
        Code("invalid_signature"),
        "still refused",
    );
    assert!(session.finish().status.success());
}

#[test]
fn an_unknown_kid_flood_with_a_one_second_cooldown_fetches_at_most_once_a_second() {
    let (idp, iss, _jwks) = standard_idp();
    let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1")]));
    let started = Instant::now();
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "before"))),
        Ok("before"),
        "warm-up",
    );
    // Keep flooding for at least 2.5 s.
    let mut i = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        check(
            &session.ask(&random_kid_token(&iss, i)),
            Code("unknown_kid"),
            &format!("flood token {i}"),
        );
        i += 1;
    }
    assert!(session.finish().status.success());
    let seconds = started.elapsed().as_secs_f64();
    let fetches = idp.hits(JWKS);
    assert!(
        fetches >= 2 && (fetches as f64) <= seconds + 1.0,
        "{fetches} JWKS fetches in {seconds:.1} s for {i} unknown kids"
    );
}

#[test]
fn redirects_are_followed_on_loopback_only_and_documents_are_bounded() {
    let idp = Idp::start();
    let iss = idp.discovery("", JWKS);
    idp.serve(JWKS, json_body(keys::jwks_json()));
    let redirect = |to: &str| ResponseTemplate::new(302).insert_header("location", to);
    idp.serve("/moved", redirect("/jwks.json"));
    idp.serve(
        "/to-public-http",
        redirect("http://evil.example.com/jwks.json"),
    );
    idp.serve("/loop", redirect("/loop"));
    let big = format!(
        "{{\"keys\":[],\"padding\":\"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    idp.serve("/huge", json_body(&big));
    let token = sign("rsa-2048", &claims(&iss, "alice"));
    let cases = [
        ("/moved", Ok("alice")),
        ("/to-public-http", Mentions("jwks_unavailable", "http")),
        ("/loop", Code("jwks_unavailable")),
        ("/huge", Code("jwks_unavailable")),
    ];
    for (at, expected) in cases {
        let mut session = Session::start(&env_for(&iss, &[("M4_OAUTH2_JWKS_URL", &idp.url(at))]));
        check(&session.ask(&token), expected, at);
        assert!(session.finish().status.success());
    }
    assert_eq!(idp.hits("/moved"), 1);
    assert!(
        idp.hits("/loop") <= 4,
        "{} requests in the loop",
        idp.hits("/loop")
    );
    assert_eq!(idp.hits(DISCOVERY), 0);
}

#[test]
fn a_cached_token_stops_being_accepted_at_its_exp() {
    let (_idp, iss, _jwks) = standard_idp();
    let mut session = Session::start(&env_for(
        &iss,
        &[
            ("M4_OAUTH2_LEEWAY", "0"),
            // Polling the same subject must not run into the default 100 per hour.
            ("M4_OAUTH2_RATE_LIMIT_ENABLED", "false"),
        ],
    ));
    let exp = e2e_support::tokens::now() + 2;
    let token = sign(
        "rsa-2048",
        &e2e_support::tokens::merged(&claims(&iss, "brief"), json!({"exp": exp})),
    );
    let deadline = Instant::now() + POLL_LIMIT;
    let mut accepted = 0;
    loop {
        let asked_at = e2e_support::tokens::now();
        let answer = session.ask(&token);
        if answer["ok"] == true {
            assert!(asked_at < exp, "accepted at {asked_at}, exp {exp}");
            accepted += 1;
        } else {
            check(&answer, Code("token_expired"), "at exp");
            break;
        }
        assert!(Instant::now() < deadline, "never expired");
        std::thread::sleep(POLL_EVERY);
    }
    assert!(
        accepted > 0,
        "the token was accepted (and cached) before its exp"
    );
    check(&session.ask(&token), Code("token_expired"), "after exp");
    assert!(session.finish().status.success());
}

#[test]
fn a_jwks_that_moves_is_found_again_by_discovery() {
    // The provider moves its keys: the old URL answers 404, discovery names the new one.
    let idp = Idp::start();
    let iss = idp.uri();
    let document =
        |jwks: &str| json_body(&json!({"issuer": iss, "jwks_uri": idp.url(jwks)}).to_string());
    let discovery = e2e_support::Switch::new(document(JWKS));
    idp.serve(DISCOVERY, discovery.clone());
    let old_keys = e2e_support::Switch::new(json_body(keys::jwks_json()));
    idp.serve(JWKS, old_keys.clone());
    idp.serve("/v2/keys", json_body(keys::jwks_json()));
    let mut session = Session::start(&env_for(
        &iss,
        &[
            ("M4_OAUTH2_JWKS_CACHE_TTL", "1"),
            ("M4_OAUTH2_JWKS_REFRESH_COOLDOWN", "1"),
        ],
    ));
    check(
        &session.ask(&sign("rsa-2048", &claims(&iss, "before"))),
        Ok("before"),
        "before the move",
    );
    discovery.set(document("/v2/keys"));
    old_keys.set(ResponseTemplate::new(404));
    // Tokens keep passing on the cached keys while the old URL fails, then discovery runs
    // again and the new URL serves.
    let deadline = Instant::now() + POLL_LIMIT;
    let mut n = 0;
    while idp.hits("/v2/keys") == 0 {
        assert!(
            Instant::now() < deadline,
            "the new JWKS URL was never found"
        );
        n += 1;
        let sub = format!("moving-{n}");
        let answer = session.ask(&sign("rsa-2048", &claims(&iss, &sub)));
        assert!(
            answer["ok"] == true && answer["sub"] == sub.as_str(),
            "{answer}"
        );
        std::thread::sleep(POLL_EVERY);
    }
    check(
        &session.ask(&sign("ec-p256", &claims(&iss, "after"))),
        Ok("after"),
        "after the move",
    );
    assert!(session.finish().status.success());
    assert_eq!(
        idp.hits(DISCOVERY),
        2,
        "discovered once at start, once after the 404"
    );
}
