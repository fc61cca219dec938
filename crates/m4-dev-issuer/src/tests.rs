//! Dev issuer tests: real keys, real signatures, real HTTP over loopback.

use super::*;
use jsonwebtoken::decode_header;
use m4_auth_testkit::tokens::{self, Checks};

#[derive(Debug)]
struct FixedClock(i64);

impl Clock for FixedClock {
    fn now_unix(&self) -> i64 {
        self.0
    }
}

const NOW: i64 = 1_750_000_000;

fn start() -> DevIssuer {
    DevIssuer::start(DevIssuerOptions {
        clock: Arc::new(FixedClock(NOW)),
        ..Default::default()
    })
    .unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into()
}

fn get(url: &str) -> (u16, Value) {
    let mut response = agent().get(url).call().unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

fn post(url: &str, body: &str) -> (u16, Value) {
    let mut response = agent().post(url).send(body).unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap(),
    )
}

/// Verifies `token` against the JWKS fetched over HTTP, without checking `exp` or `aud`
/// (the fixed clock is in the past); returns the claims.
fn verify_with_served_jwks(issuer: &DevIssuer, token: &str) -> Result<Value, String> {
    let (_, jwks) = get(&issuer.jwks_url());
    tokens::verified_claims(&jwks, token, Checks::default())
}

/// The `kid`s of a served JWKS, in order.
fn kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn discovery_points_at_the_served_jwks() {
    let issuer = start();
    let (status, doc) = get(&format!(
        "{}/.well-known/openid-configuration",
        issuer.issuer_url()
    ));
    assert_eq!(status, 200);
    assert_eq!(doc["issuer"], issuer.issuer_url());
    assert_eq!(doc["jwks_uri"], issuer.jwks_url());
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256"])
    );
    let (status, rfc8414) = get(&format!(
        "{}/.well-known/oauth-authorization-server",
        issuer.issuer_url()
    ));
    assert_eq!((status, &rfc8414), (200, &doc));
    assert_eq!(issuer.served("/.well-known/openid-configuration"), 1);
    assert_eq!(issuer.served("/.well-known/oauth-authorization-server"), 1);
    assert_eq!(issuer.served("/jwks.json"), 0);
}

#[test]
fn issuer_url_is_loopback_http_without_trailing_slash() {
    let issuer = start();
    let port = issuer.local_addr().port();
    assert_ne!(port, 0);
    assert_eq!(issuer.issuer_url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        issuer.jwks_url(),
        format!("http://127.0.0.1:{port}/jwks.json")
    );
    assert_eq!(
        issuer.env(),
        vec![
            ("M4_OAUTH2_ENABLED".to_owned(), "true".to_owned()),
            (
                "M4_OAUTH2_ISSUER_URL".to_owned(),
                issuer.issuer_url().to_owned()
            ),
            ("M4_OAUTH2_AUDIENCE".to_owned(), "m4-api".to_owned()),
        ]
    );
}

#[test]
fn jwks_serves_public_halves_of_the_current_keys() {
    let issuer = start();
    let (status, jwks) = get(&issuer.jwks_url());
    assert_eq!(status, 200);
    assert_eq!(kids(&jwks), issuer.kids());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["alg"], "ES256");
    for key in keys {
        assert_eq!(key["use"], "sig");
        // No private members: RSA d/p/q/dp/dq/qi, EC d.
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{private} served");
        }
    }
    assert_eq!(jwks, issuer.jwks());
    assert_eq!(issuer.served("/jwks.json"), 1);
    get(&format!("{}?cache-buster=1", issuer.jwks_url()));
    assert_eq!(issuer.served("/jwks.json"), 2);
}

#[test]
fn minted_tokens_carry_the_requested_claims_and_verify() {
    let issuer = start();
    for alg in SigningAlg::ALL {
        let token = issuer
            .mint(&MintRequest {
                sub: "alice".into(),
                scopes: vec!["read:mimic-data".into(), "write:notes".into()],
                ttl: 600,
                alg,
                ..MintRequest::default()
            })
            .unwrap();
        let header = decode_header(&token).unwrap();
        assert_eq!(header.alg, alg.jose());
        assert_eq!(
            header.kid.as_deref(),
            Some(issuer.kid(alg).unwrap().as_str())
        );
        let claims = verify_with_served_jwks(&issuer, &token).unwrap();
        assert_eq!(claims["iss"], issuer.issuer_url());
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["aud"], "m4-api");
        assert_eq!(claims["iat"], NOW);
        assert_eq!(claims["exp"], NOW + 600);
        assert_eq!(claims["scope"], "read:mimic-data write:notes");
        assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
        assert!(claims.get("nbf").is_none());
    }
}

#[test]
fn mint_overrides_audience_issuer_nbf_and_extra_claims() {
    let issuer = start();
    let mut extra = Map::new();
    extra.insert("scp".into(), json!(["a", "b"]));
    extra.insert("jti".into(), Value::Null);
    extra.insert("aud".into(), json!(["m4-api", "other"]));
    let token = issuer
        .mint(&MintRequest {
            audience: Some("ignored-by-extra".into()),
            issuer: Some("https://elsewhere.example".into()),
            not_before: Some(120),
            ttl: -30,
            extra,
            ..MintRequest::default()
        })
        .unwrap();
    let claims = verify_with_served_jwks(&issuer, &token).unwrap();
    assert_eq!(claims["iss"], "https://elsewhere.example");
    assert_eq!(claims["aud"], json!(["m4-api", "other"]));
    assert_eq!(claims["scp"], json!(["a", "b"]));
    assert_eq!(claims["nbf"], NOW + 120);
    assert_eq!(claims["exp"], NOW - 30);
    assert!(claims.get("jti").is_none());
    assert_eq!(claims["sub"], "dev-user");
}

#[test]
fn kid_overrides_name_or_drop_the_kid() {
    let issuer = start();
    let named = issuer
        .mint(&MintRequest {
            kid: KidOverride::Named("ghost".into()),
            ..MintRequest::default()
        })
        .unwrap();
    assert_eq!(decode_header(&named).unwrap().kid.as_deref(), Some("ghost"));
    assert_eq!(
        verify_with_served_jwks(&issuer, &named),
        Err("unknown kid".to_owned())
    );
    let omitted = issuer
        .mint(&MintRequest {
            kid: KidOverride::Omitted,
            ..MintRequest::default()
        })
        .unwrap();
    assert_eq!(decode_header(&omitted).unwrap().kid, None);
}

#[test]
fn rotation_keeps_or_removes_the_old_keys() {
    let issuer = start();
    let first = issuer.kids();
    let old_token = issuer.mint(&MintRequest::default()).unwrap();

    let second = issuer.rotate(OldKeys::Keep).unwrap();
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|kid| !first.contains(kid)));
    assert!(second[0].starts_with("dev-rs256-2-") && second[1].starts_with("dev-es256-2-"));
    let (_, jwks) = get(&issuer.jwks_url());
    assert_eq!(kids(&jwks), [&second[..], &first[..]].concat());
    // Kept: the old token still verifies; new tokens use the new key.
    assert!(verify_with_served_jwks(&issuer, &old_token).is_ok());
    let new_token = issuer.mint(&MintRequest::default()).unwrap();
    assert_eq!(
        decode_header(&new_token).unwrap().kid.as_deref(),
        Some(second[0].as_str())
    );

    let third = issuer.rotate(OldKeys::Remove).unwrap();
    assert_eq!(issuer.kids(), third);
    assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        verify_with_served_jwks(&issuer, &old_token),
        Err("unknown kid".to_owned())
    );
    assert_eq!(
        verify_with_served_jwks(&issuer, &new_token),
        Err("unknown kid".to_owned())
    );
}

#[test]
fn mint_endpoint_signs_what_it_is_asked() {
    let issuer = start();
    let (status, reply) = post(
        &format!("{}/mint", issuer.issuer_url()),
        r#"{"sub":"bob","scopes":["s1"],"ttl":90,"alg":"ES256","aud":"aud-x","kid":null,"claims":{"tenant":"t1"}}"#,
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["token_type"], "Bearer");
    assert_eq!(reply["expires_in"], 90);
    assert_eq!(reply["alg"], "ES256");
    let token = reply["access_token"].as_str().unwrap();
    let header = decode_header(token).unwrap();
    assert_eq!((header.alg, header.kid), (Algorithm::ES256, None));
    // Sign again with the kid so the served JWKS can check the signature.
    let (_, reply) = post(
        &format!("{}/mint", issuer.issuer_url()),
        r#"{"sub":"bob","scopes":["s1"],"ttl":90,"alg":"es256","aud":"aud-x","claims":{"tenant":"t1"}}"#,
    );
    let claims = verify_with_served_jwks(&issuer, reply["access_token"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["aud"], "aud-x");
    assert_eq!(claims["scope"], "s1");
    assert_eq!(claims["tenant"], "t1");
    assert_eq!(claims["exp"], NOW + 90);
    assert_eq!(issuer.served("/mint"), 2);
}

#[track_caller]
fn check_mint_refused(body: &str, status: u16, description_part: &str) {
    let issuer = start();
    let (got, reply) = post(&format!("{}/mint", issuer.issuer_url()), body);
    assert_eq!(got, status, "{reply}");
    let description = reply["error_description"].as_str().unwrap();
    assert!(description.contains(description_part), "{description}");
}

#[test]
fn mint_endpoint_refuses_bad_requests() {
    check_mint_refused("not json", 400, "must be a JSON object with \"sub\"");
    check_mint_refused(r#"{"scopes":["a"]}"#, 400, "missing field `sub`");
    check_mint_refused(r#"{"sub":"a","role":"admin"}"#, 400, "unknown field `role`");
    check_mint_refused(
        r#"{"sub":"a","alg":"HS256"}"#,
        400,
        "unsupported signing algorithm 'HS256'",
    );
    check_mint_refused(r#"{"sub":"a","kid":7}"#, 400, "\"kid\" must be a string");
    let huge = format!(r#"{{"sub":"{}"}}"#, "a".repeat(MAX_BODY_BYTES));
    check_mint_refused(&huge, 413, "larger than 65536 bytes");
}

#[test]
fn wrong_methods_and_paths_are_answered_not_served() {
    let issuer = start();
    let url = issuer.issuer_url();
    assert_eq!(get(&format!("{url}/mint")).0, 405);
    assert_eq!(post(&issuer.jwks_url(), "{}").0, 405);
    assert_eq!(get(&format!("{url}/token")).0, 405);
    let (status, reply) = get(&format!("{url}/authorize"));
    assert_eq!(status, 404);
    assert_eq!(reply["error"], "not_found");
    assert!(
        reply["error_description"]
            .as_str()
            .unwrap()
            .contains("POST /token"),
        "{reply}"
    );
    assert_eq!(issuer.served("/authorize"), 1);
}

#[track_caller]
fn check_refused_host(host: &str) {
    let result = DevIssuer::start(DevIssuerOptions {
        host: host.parse().unwrap(),
        ..DevIssuerOptions::default()
    });
    match result {
        Err(Error::NonLoopbackBind { addr }) => {
            assert_eq!(addr.ip(), host.parse::<IpAddr>().unwrap());
        }
        other => panic!("{host}: expected NonLoopbackBind, got {other:?}"),
    }
}

#[test]
fn refuses_every_non_loopback_address() {
    check_refused_host("0.0.0.0");
    check_refused_host("::");
    check_refused_host("192.168.1.10");
    check_refused_host("10.0.0.1");
    check_refused_host("8.8.8.8");
    check_refused_host("fe80::1");
}

#[test]
fn a_busy_port_is_a_bind_error() {
    let first = start();
    let result = DevIssuer::start(DevIssuerOptions {
        port: first.local_addr().port(),
        ..DevIssuerOptions::default()
    });
    assert!(matches!(result, Err(Error::Bind { .. })), "{result:?}");
}

#[test]
fn shutdown_and_drop_close_the_port() {
    let issuer = start();
    let addr = issuer.local_addr();
    assert!(std::net::TcpStream::connect(addr).is_ok());
    issuer.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());

    let issuer = start();
    let addr = issuer.local_addr();
    drop(issuer);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn debug_shows_no_key_material() {
    let issuer = start();
    let debug = format!("{issuer:?}");
    let kids = issuer.kids();
    assert_eq!(
        debug,
        format!(
            "DevIssuer {{ issuer_url: {:?}, kids: [{:?}, {:?}], .. }}",
            issuer.issuer_url(),
            kids[0],
            kids[1]
        )
    );
}

#[test]
fn algorithm_names_parse_case_insensitively() {
    assert_eq!("RS256".parse::<SigningAlg>().unwrap(), SigningAlg::Rs256);
    assert_eq!("es256".parse::<SigningAlg>().unwrap(), SigningAlg::Es256);
    for bad in ["", "HS256", "RS384", "none", "ES256 "] {
        assert!(
            matches!(
                bad.parse::<SigningAlg>(),
                Err(Error::UnsupportedAlgorithm { .. })
            ),
            "{bad}"
        );
    }
    assert_eq!(SigningAlg::Es256.to_string(), "ES256");
}

#[track_caller]
fn check_loopback_url(url: &str, expected: bool) {
    assert_eq!(is_loopback_http_url(url), expected, "{url}");
}

#[test]
fn only_loopback_http_urls_are_mint_targets() {
    check_loopback_url("http://127.0.0.1:8414", true);
    check_loopback_url("http://127.0.0.1:8414/", true);
    check_loopback_url("http://127.9.9.9", true);
    check_loopback_url("http://localhost:1", true);
    check_loopback_url("http://LOCALHOST:1/x", true);
    check_loopback_url("http://[::1]:8414", true);
    check_loopback_url("http://[::1]", true);
    check_loopback_url("https://127.0.0.1:8414", false);
    check_loopback_url("http://example.com", false);
    check_loopback_url("http://localhost.example.com", false);
    check_loopback_url("http://127.0.0.1.example.com", false);
    check_loopback_url("http://user@127.0.0.1", false);
    check_loopback_url("http://127.0.0.1@evil.example", false);
    check_loopback_url("http://[::2]:1", false);
    check_loopback_url("http://[::1]x", false);
    check_loopback_url("127.0.0.1:8414", false);
    check_loopback_url("", false);
}

#[test]
fn mint_remote_refuses_non_loopback_and_reports_unreachable() {
    assert!(matches!(
        mint_remote("https://auth.example.com", &MintRequest::default()),
        Err(Error::IssuerUrlNotLoopback { .. })
    ));
    // An address nobody listens on (not a freed 127.0.0.1 port: a parallel test's issuer could
    // be handed it).
    let down = m4_auth_testkit::closed_addr();
    let result = mint_remote(&format!("http://{down}"), &MintRequest::default());
    assert!(
        matches!(result, Err(Error::IssuerUnreachable { .. })),
        "{result:?}"
    );
}

#[test]
fn mint_remote_passes_every_field_over_http() {
    let issuer = start();
    let mut extra = Map::new();
    extra.insert("tenant".into(), json!("t9"));
    let request = MintRequest {
        sub: "carol".into(),
        scopes: vec!["x".into(), "y".into()],
        ttl: 77,
        alg: SigningAlg::Es256,
        audience: Some("aud-r".into()),
        issuer: Some("https://iss.example".into()),
        not_before: Some(5),
        kid: KidOverride::Signing,
        extra,
    };
    let minted = mint_remote(&format!("{}/", issuer.issuer_url()), &request).unwrap();
    assert_eq!((minted.expires_in, minted.alg.as_str()), (77, "ES256"));
    assert!(!format!("{minted:?}").contains(&minted.access_token));
    let claims = verify_with_served_jwks(&issuer, &minted.access_token).unwrap();
    assert_eq!(claims["sub"], "carol");
    assert_eq!(claims["scope"], "x y");
    assert_eq!(claims["aud"], "aud-r");
    assert_eq!(claims["iss"], "https://iss.example");
    assert_eq!(claims["nbf"], NOW + 5);
    assert_eq!(claims["exp"], NOW + 77);
    assert_eq!(claims["tenant"], "t9");

    let named = mint_remote(
        issuer.issuer_url(),
        &MintRequest {
            kid: KidOverride::Named("k-x".into()),
            ..MintRequest::default()
        },
    )
    .unwrap();
    assert_eq!(
        decode_header(&named.access_token).unwrap().kid.as_deref(),
        Some("k-x")
    );
    let omitted = mint_remote(
        issuer.issuer_url(),
        &MintRequest {
            kid: KidOverride::Omitted,
            ..MintRequest::default()
        },
    )
    .unwrap();
    assert_eq!(decode_header(&omitted.access_token).unwrap().kid, None);
}

#[test]
fn mint_remote_reports_the_issuers_refusal() {
    let issuer = start();
    let result = mint_remote(
        issuer.issuer_url(),
        &MintRequest {
            extra: Map::new(),
            sub: String::new(),
            ..MintRequest::default()
        },
    );
    // An empty sub is still a valid mint request: the dev issuer signs what it is asked.
    assert!(result.is_ok());
    // A non-issuer answering on the port: a wrong path gives 404 JSON without a token.
    let err = mint_remote(
        &format!("{}/nothing-here", issuer.issuer_url()),
        &MintRequest::default(),
    )
    .unwrap_err();
    match err {
        Error::IssuerRejected {
            status,
            description,
            action,
            ..
        } => {
            assert_eq!((status, action), (404, "mint a token"));
            assert!(description.contains("POST /mint"), "{description}");
        }
        other => panic!("expected IssuerRejected, got {other:?}"),
    }
}

#[test]
fn rotate_endpoint_keeps_or_removes_old_keys() {
    let issuer = start();
    let first = issuer.kids();
    let url = format!("{}/rotate", issuer.issuer_url());
    let (status, reply) = post(&url, "");
    assert_eq!(status, 200, "{reply}");
    let second: Vec<String> = serde_json::from_value(reply["kids"].clone()).unwrap();
    assert_eq!(second, issuer.kids());
    assert_eq!(
        issuer.jwks()["keys"].as_array().unwrap().len(),
        4,
        "kept by default"
    );
    let (status, _) = post(&url, r#"{"old":"remove"}"#);
    assert_eq!(status, 200);
    let served = kids(&issuer.jwks());
    assert_eq!(served, issuer.kids());
    assert!(
        served
            .iter()
            .all(|kid| !first.contains(kid) && !second.contains(kid))
    );
    for bad in [r#"{"old":"maybe"}"#, r#"{"drop":true}"#, "[]"] {
        let (status, reply) = post(&url, bad);
        assert_eq!(status, 400, "{bad}");
        assert!(
            reply["error_description"]
                .as_str()
                .unwrap()
                .contains("\"remove\"")
        );
    }
    assert_eq!(get(&url).0, 405);
}

#[test]
fn rotate_remote_returns_the_new_kids() {
    let issuer = start();
    let kids = rotate_remote(issuer.issuer_url(), OldKeys::Keep).unwrap();
    assert_eq!(kids, issuer.kids());
    assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 4);
    let kids = rotate_remote(issuer.issuer_url(), OldKeys::Remove).unwrap();
    assert_eq!(kids, issuer.kids());
    assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 2);
    assert!(matches!(
        rotate_remote("http://10.0.0.1:8414", OldKeys::Keep),
        Err(Error::IssuerUrlNotLoopback { .. })
    ));
}

#[test]
fn every_answered_request_reaches_the_observer() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let issuer = DevIssuer::start(DevIssuerOptions {
        on_request: Some(Arc::new({
            let seen = Arc::clone(&seen);
            move |log: &RequestLog| seen.lock().unwrap().push(log.clone())
        })),
        ..DevIssuerOptions::default()
    })
    .unwrap();
    get(&issuer.jwks_url());
    get(&format!("{}/nope?x=1", issuer.issuer_url()));
    post(&format!("{}/mint", issuer.issuer_url()), r#"{"sub":"a"}"#);
    issuer.shutdown();
    let log = |method: &str, path: &str, status| RequestLog {
        method: method.into(),
        path: path.into(),
        status,
    };
    assert_eq!(
        *seen.lock().unwrap(),
        [
            log("GET", "/jwks.json", 200),
            log("GET", "/nope", 404),
            log("POST", "/mint", 200)
        ]
    );
}

/// Sends `request` (raw HTTP/1.x text) to `addr` over loopback TCP; returns the status code
/// and the JSON body (`Null` when the body is not JSON).
fn raw(addr: SocketAddr, request: &str) -> (u16, Value) {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8(answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer:?}"));
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A `POST /mint` whose `Host` header is `host` (`None`: no Host header at all).
fn mint_with_host(issuer: &DevIssuer, host: Option<&str>) -> (u16, Value) {
    let body = r#"{"sub":"mallory"}"#;
    let host = host.map_or(String::new(), |h| format!("Host: {h}\r\n"));
    raw(
        issuer.local_addr(),
        &format!(
            "POST /mint HTTP/1.1\r\n{host}Content-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[track_caller]
fn check_host(issuer: &DevIssuer, host: Option<&str>, accepted: bool) {
    let (status, reply) = mint_with_host(issuer, host);
    if accepted {
        assert_eq!(status, 200, "{host:?}: {reply}");
        assert!(reply["access_token"].is_string(), "{host:?}: {reply}");
    } else {
        assert_eq!(status, 421, "{host:?}: {reply}");
        assert_eq!(reply["error"], "invalid_request", "{host:?}: {reply}");
        assert!(reply.get("access_token").is_none(), "{host:?}: {reply}");
        let description = reply["error_description"].as_str().unwrap();
        assert!(
            description.contains(&format!(
                "address the dev issuer as http://127.0.0.1:{}",
                issuer.local_addr().port()
            )),
            "{host:?}: {description}"
        );
    }
}

#[test]
fn dns_rebinding_is_refused_by_the_host_header() {
    let issuer = start();
    let port = issuer.local_addr().port();
    let other = port.wrapping_add(1).max(1);
    let check = |host: &str, accepted: bool| check_host(&issuer, Some(host), accepted);
    // A page on an attacker's domain rebound to 127.0.0.1: the browser names the domain.
    check(&format!("evil.example:{port}"), false);
    check("evil.example", false);
    check(&format!("localhost.evil.example:{port}"), false);
    check(&format!("127.0.0.1.evil.example:{port}"), false);
    check(&format!("127.0.0.1:{other}"), false);
    check(&format!("localhost:{other}"), false);
    check("127.0.0.1", false); // port 80 is not the port it listens on
    check(&format!("[::2]:{port}"), false);
    check(&format!("[::1]x:{port}"), false);
    check(&format!("127.0.0.1:{port}x"), false);
    check(&format!("127.0.0.1:+{port}"), false);
    check(&format!("user@127.0.0.1:{port}"), false);
    check(&format!("0.0.0.0:{port}"), false);
    check(&format!("127.1:{port}"), false);
    check(&format!("localhost.:{port}"), false);
    check("", false);
    check_host(&issuer, None, false);
    // Every loopback spelling with the right port is the issuer itself.
    check(&format!("127.0.0.1:{port}"), true);
    check(&format!("127.8.9.10:{port}"), true);
    check(&format!("localhost:{port}"), true);
    check(&format!("LocalHost:{port}"), true);
    check(&format!("[::1]:{port}"), true);
}

#[test]
fn the_host_check_covers_every_endpoint() {
    let issuer = start();
    let port = issuer.local_addr().port();
    for (method, path) in [
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/jwks.json"),
        ("GET", "/device"),
        ("POST", "/token"),
        ("POST", "/rotate"),
        ("POST", "/device/approve"),
        ("GET", "/nothing-here"),
    ] {
        let (status, reply) = raw(
            issuer.local_addr(),
            &format!(
                "{method} {path} HTTP/1.1\r\nHost: evil.example:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
        );
        assert_eq!(status, 421, "{method} {path}: {reply}");
        assert_eq!(reply["error"], "invalid_request", "{method} {path}");
    }
    assert_eq!(issuer.kids().len(), 2);
    assert_eq!(issuer.jwks()["keys"].as_array().map(Vec::len), Some(2));
}

#[test]
fn clients_naming_127_0_0_1_or_localhost_still_work() {
    let issuer = start();
    let port = issuer.local_addr().port();
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (status, discovery) = get(&format!("{base}/.well-known/openid-configuration"));
        assert_eq!(status, 200, "{base}: {discovery}");
        assert_eq!(discovery["issuer"], issuer.issuer_url());
        let minted = mint_remote(&base, &MintRequest::default()).unwrap();
        assert!(verify_with_served_jwks(&issuer, &minted.access_token).is_ok());
        assert_eq!(rotate_remote(&base, OldKeys::Keep).unwrap(), issuer.kids());
    }
}

#[track_caller]
fn check_host_name(host: &str, port: u16, expected: bool) {
    assert_eq!(
        server::is_loopback_host(host, port),
        expected,
        "{host} {port}"
    );
}

#[test]
fn loopback_host_names_with_the_listening_port() {
    check_host_name("127.0.0.1:8414", 8414, true);
    check_host_name("127.255.0.1:8414", 8414, true);
    check_host_name("localhost:8414", 8414, true);
    check_host_name("[::1]:8414", 8414, true);
    // No port is http's default, 80.
    check_host_name("localhost", 80, true);
    check_host_name("[::1]", 80, true);
    check_host_name("127.0.0.1:80", 80, true);
    check_host_name("localhost", 8414, false);
    check_host_name("[::1]", 8414, false);
    check_host_name("127.0.0.1:", 80, false);
    check_host_name("[::1]:", 80, false);
    check_host_name("[::1]8414", 8414, false);
    check_host_name("[::1:8414", 8414, false);
    check_host_name("[::ffff:127.0.0.1]:8414", 8414, false);
    check_host_name("[0:0:0:0:0:0:0:1]:8414", 8414, true);
    check_host_name("::1:8414", 8414, false);
    check_host_name("127.0.0.1:8414:8414", 8414, false);
    check_host_name("127.0.0.1:99999", 8414, false);
    check_host_name("127.0.0.1: 8414", 8414, false);
    check_host_name("128.0.0.1:8414", 8414, false);
    check_host_name("10.0.0.1:8414", 8414, false);
    check_host_name("evil.example:8414", 8414, false);
}

#[test]
fn a_refused_host_is_quoted_escaped() {
    let issuer = start();
    let (status, reply) = mint_with_host(&issuer, Some("evil\"\x01.example"));
    assert_eq!(status, 421, "{reply}");
    let description = reply["error_description"].as_str().unwrap();
    assert!(
        description.contains(r#"Host "evil\"\u{1}.example""#),
        "{description}"
    );
}

/// No control character (newline, ESC, BEL...) from the request reaches a message.
#[track_caller]
fn assert_printable(text: &str) {
    assert!(!text.chars().any(char::is_control), "{text:?}");
}

#[test]
fn request_values_in_mint_errors_are_escaped_and_cut() {
    let issuer = start();
    let url = format!("{}/mint", issuer.issuer_url());
    // An algorithm name with a newline, a terminal escape and a quote.
    let (status, reply) = post(
        &url,
        r#"{"sub":"a","alg":"HS256\n\u001b[31mforged: \"ok\""}"#,
    );
    assert_eq!(status, 400, "{reply}");
    let description = reply["error_description"].as_str().unwrap();
    assert_printable(description);
    assert!(
        description.contains(r#"unsupported signing algorithm 'HS256\n\u{1b}[31mforged: \"ok\"'"#),
        "{description}"
    );
    // An unknown member, named with control characters, and a huge one.
    let (status, reply) = post(&url, r#"{"sub":"a","ro\u0007le\r\n":1}"#);
    assert_eq!(status, 400, "{reply}");
    let description = reply["error_description"].as_str().unwrap();
    assert_printable(description);
    assert!(
        description.contains(r"unknown field `ro\u{7}le\r\n`"),
        "{description}"
    );
    let long = "x".repeat(10_000);
    let (status, reply) = post(&url, &format!(r#"{{"sub":"a","{long}":1}}"#));
    assert_eq!(status, 400, "{reply}");
    let description = reply["error_description"].as_str().unwrap();
    assert!(description.contains("unknown field `xxx"), "{description}");
    assert!(description.chars().count() < 1000, "{description}");
}

#[test]
fn an_unsupported_algorithm_is_shown_escaped() {
    let Err(e) = "ES256\u{1b}]0;title\u{7}".parse::<SigningAlg>() else {
        panic!("accepted");
    };
    let message = e.to_string();
    assert_printable(&message);
    assert!(message.contains(r"'ES256\u{1b}]0;title\u{7}'"), "{message}");
    let Err(e) = "A".repeat(500).parse::<SigningAlg>() else {
        panic!("accepted");
    };
    assert!(
        e.to_string().contains(&format!("'{}…'", "A".repeat(64))),
        "{e}"
    );
}

/// Serves one HTTP answer with `status` and `body` on a loopback port, to stand in for
/// something that is not a dev issuer; returns its URL.
fn one_answer(status: u16, body: &'static str) -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body_in = vec![0; length];
        reader.read_exact(&mut body_in).unwrap();
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    url
}

#[test]
fn a_refusal_from_the_issuer_reaches_the_terminal_escaped() {
    let url = one_answer(
        400,
        r#"{"error":"invalid_request","error_description":"bad\n\u001b]0;owned\u0007 request"}"#,
    );
    let err = mint_remote(&url, &MintRequest::default()).unwrap_err();
    let message = err.to_string();
    assert_printable(&message);
    assert!(
        message.ends_with(r"bad\n\u{1b}]0;owned\u{7} request"),
        "{message}"
    );
}

/// A `POST /rotate` `{"old":"remove"}` as a browser sends it from a page whose origin is
/// `origin`, to the issuer named by its loopback address.
fn rotate_from_origin(issuer: &DevIssuer, origin: &str) -> (u16, Value) {
    let body = r#"{"old":"remove"}"#;
    let addr = issuer.local_addr();
    raw(
        addr,
        &format!(
            "POST /rotate HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
    )
}

#[test]
fn cross_site_pages_are_refused_by_the_origin_header() {
    let issuer = start();
    let port = issuer.local_addr().port();
    let kids = issuer.kids();
    // A page on another site posting to http://127.0.0.1:PORT (no rebinding needed: the
    // browser sends a text/plain POST without asking, it just cannot read the answer).
    for origin in [
        "https://evil.example".to_owned(),
        format!("http://evil.example:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1).max(1)),
        format!("https://127.0.0.1:{port}"),
        "null".to_owned(),
        String::new(),
    ] {
        let (status, reply) = rotate_from_origin(&issuer, &origin);
        assert_eq!(status, 403, "{origin}: {reply}");
        assert_eq!(reply["error"], "access_denied", "{origin}");
        let description = reply["error_description"].as_str().unwrap();
        assert!(description.contains("Origin"), "{origin}: {description}");
    }
    assert_eq!(issuer.kids(), kids, "a refused request rotated the keys");
    // The issuer's own pages (the device page's form posts) are same-origin.
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (status, reply) = rotate_from_origin(&issuer, &origin);
        assert_eq!(status, 200, "{origin}: {reply}");
    }
}

/// Every refusal of the Host and Origin checks, as a client reads it (the port written
/// `PORT`): each branch of `check_host` and `check_origin` once.
#[test]
fn host_and_origin_refusals_are_worded() {
    let issuer = start();
    let addr = issuer.local_addr();
    let port = addr.port();
    let request = |headers: &str| {
        format!(
            "GET /jwks.json HTTP/1.1\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
    };
    let cases = [
        ("a foreign Host", request("Host: evil.example\r\n")),
        ("no Host", request("")),
        (
            "two Hosts",
            request(&format!(
                "Host: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}\r\n"
            )),
        ),
        (
            "a foreign Origin",
            request(&format!(
                "Host: 127.0.0.1:{port}\r\nOrigin: https://evil.example\r\n"
            )),
        ),
        (
            "two Origins",
            request(&format!(
                "Host: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\n"
            )),
        ),
    ];
    let mut shown = String::new();
    for (what, request) in cases {
        let (status, reply) = raw(addr, &request);
        assert!(status == 421 || status == 403, "{what}: {status} {reply}");
        let line = format!(
            "{what}: {status} {}: {}\n",
            reply["error"].as_str().unwrap_or("?"),
            reply["error_description"].as_str().unwrap_or("?")
        );
        shown.push_str(&line.replace(&port.to_string(), "PORT"));
    }
    insta::assert_snapshot!(shown);
}

/// Requests for ever new unknown paths cannot grow the per-path counts without bound: at most
/// `MAX_COUNTED_PATHS` paths are counted one by one, any further ones together.
#[test]
fn counted_paths_are_bounded() {
    let issuer = start();
    let url = issuer.issuer_url().to_owned();
    for i in 0..300 {
        assert_eq!(get(&format!("{url}/nowhere/{i}")).0, 404);
    }
    assert_eq!(get(&issuer.jwks_url()).0, 200);
    let held = issuer
        .shared
        .served
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .len();
    // 64 unknown paths one by one, the other 236 together, and /jwks.json.
    assert_eq!(held, MAX_COUNTED_PATHS + 2, "paths counted");
    assert_eq!(issuer.served("/nowhere/0"), 1);
    assert_eq!(issuer.served("/nowhere/63"), 1);
    assert_eq!(issuer.served("/nowhere/64"), 0);
    assert_eq!(issuer.served(OTHER_PATHS), 236);
    // Every known path is counted whatever came before.
    assert_eq!(issuer.served("/jwks.json"), 1);
}
