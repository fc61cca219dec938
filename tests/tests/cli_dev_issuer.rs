//! `m4-auth dev-issuer serve|mint` end to end: the built binary over loopback.
#![cfg(test)]

mod cli_common;

use cli_common::{Running, m4_auth, run, stderr, stdout};
use jsonwebtoken::decode_header;
use m4_auth_testkit::tokens::{self, Checks};
use serde_json::Value;

fn http_get(url: &str) -> Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    serde_json::from_str(
        &agent
            .get(url)
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    )
    .unwrap()
}

/// Starts `m4-auth dev-issuer <args>` and reads its banner up to the exported issuer URL.
fn serve(home: &std::path::Path, args: &[&str]) -> (Running, String, Vec<String>) {
    let mut server = Running::start(m4_auth(home, args));
    let mut banner = Vec::new();
    let issuer = loop {
        let Some(line) = server.line() else {
            panic!("m4-auth exited without printing the issuer URL: {banner:#?}");
        };
        banner.push(line.clone());
        if let Some(url) = line.strip_prefix("export M4_OAUTH2_ISSUER_URL=") {
            break url.to_owned();
        }
    };
    (server, issuer, banner)
}

/// Checks the token's signature against the JWKS the server publishes, its audience, issuer
/// and expiry; returns the claims.
fn verify(issuer: &str, token: &str, audience: &str) -> Value {
    let discovery = http_get(&format!("{issuer}/.well-known/openid-configuration"));
    assert_eq!(discovery["issuer"], issuer);
    let jwks = http_get(discovery["jwks_uri"].as_str().unwrap());
    let checks = Checks {
        audience: Some(audience),
        issuer: Some(issuer),
        expiry: true,
    };
    tokens::verified_claims(&jwks, token, checks).expect("kid in the JWKS, signature, claims")
}

#[test]
fn serve_prints_the_settings_and_mint_gets_a_verifiable_token() {
    let home = tempfile::tempdir().unwrap();
    let (_server, issuer, banner) = serve(
        home.path(),
        &[
            "dev-issuer",
            "serve",
            "--port",
            "0",
            "--audience",
            "m4-test",
        ],
    );
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
    let text = banner.join("\n");
    assert!(text.contains("TEST-ONLY"), "{text}");
    assert!(text.contains("export M4_OAUTH2_ENABLED=true"), "{text}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");

    for alg in ["RS256", "ES256"] {
        let output = run(m4_auth(
            home.path(),
            &[
                "dev-issuer",
                "mint",
                "--issuer-url",
                &issuer,
                "--sub",
                "alice",
                "--scope",
                "read:mimic-data",
                "--scope",
                "write:notes",
                "--ttl",
                "120",
                "--alg",
                alg,
            ],
        ));
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let token = stdout(&output).trim().to_owned();
        let claims = verify(&issuer, &token, "m4-test");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["scope"], "read:mimic-data write:notes");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            120
        );
        assert_eq!(format!("{:?}", decode_header(&token).unwrap().alg), alg);
    }
}

#[test]
fn dev_issuer_without_subcommand_serves_and_mint_reads_the_exported_url() {
    let home = tempfile::tempdir().unwrap();
    let (_server, issuer, _) = serve(home.path(), &["dev-issuer", "--port", "0"]);
    let mut mint = m4_auth(
        home.path(),
        &["dev-issuer", "mint", "--sub", "bob", "--json"],
    );
    mint.env("M4_OAUTH2_ISSUER_URL", &issuer);
    let output = run(mint);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let reply: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(reply["token_type"], "Bearer");
    assert_eq!(reply["expires_in"], 3600);
    let claims = verify(&issuer, reply["access_token"].as_str().unwrap(), "m4-api");
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["scope"], "read:mimic-data");
}

#[test]
fn serve_refuses_non_loopback_addresses() {
    let home = tempfile::tempdir().unwrap();
    for host in ["0.0.0.0", "::", "192.0.2.1"] {
        let output = run(m4_auth(
            home.path(),
            &["dev-issuer", "serve", "--host", host, "--port", "0"],
        ));
        assert_eq!(output.status.code(), Some(2), "{host}");
        let message = stderr(&output);
        assert!(
            message.contains("binds loopback addresses only"),
            "{host}: {message}"
        );
    }
}

#[test]
fn mint_refuses_remote_urls_and_explains_an_absent_issuer() {
    let home = tempfile::tempdir().unwrap();
    let output = run(m4_auth(
        home.path(),
        &[
            "dev-issuer",
            "mint",
            "--sub",
            "a",
            "--issuer-url",
            "https://auth.example.com",
        ],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("refusing to talk to 'https://auth.example.com' as a dev issuer")
    );

    let url = m4_auth_testkit::idp::closed_port_url();
    let output = run(m4_auth(
        home.path(),
        &["dev-issuer", "mint", "--sub", "a", "--issuer-url", &url],
    ));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(&format!(
            "could not reach a dev issuer at {url}: start one with `m4-auth dev-issuer serve`"
        )),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());

    let output = run(m4_auth(
        home.path(),
        &["dev-issuer", "mint", "--sub", "a", "--alg", "HS256"],
    ));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unsupported signing algorithm 'HS256'"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn rotate_replaces_the_keys_of_a_running_issuer() {
    let home = tempfile::tempdir().unwrap();
    let (_server, issuer, _) = serve(home.path(), &["dev-issuer", "serve", "--port", "0"]);
    let kids_served = || -> Vec<String> {
        http_get(&format!("{issuer}/jwks.json"))["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let before = kids_served();
    let output = run(m4_auth(
        home.path(),
        &["dev-issuer", "rotate", "--issuer-url", &issuer],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let new_kids: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(new_kids.len(), 2);
    let mut expected = new_kids;
    expected.extend(before.iter().cloned());
    assert_eq!(kids_served(), expected, "old keys kept by default");

    let output = run(m4_auth(
        home.path(),
        &[
            "dev-issuer",
            "rotate",
            "--remove-old",
            "--issuer-url",
            &issuer,
        ],
    ));
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let newest: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(kids_served(), newest);
}
