//! The proxy from the environment is used, and loopback hosts bypass it.
//!
//! Changing the environment of a running test process is unsafe (and forbidden here), so this
//! test binary (`harness = false`) runs itself again as a child with `HTTPS_PROXY` pointing at
//! a fake proxy on loopback that records the first request it receives and refuses it.
//! The child fetches a JWKS from a loopback wiremock server (which must not go through the
//! proxy) and then from `https://idp.example.com/keys` (which must: the fake proxy sees a
//! `CONNECT`, refuses it, and nothing leaves the machine; HTTP proxies resolve names
//! themselves, so not even a DNS query is made).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyLookupError, KeyResolver};

const CHILD: &str = "M4_JWKS_PROXY_TEST_CHILD";
const LOOPBACK_JWKS: &str = "M4_JWKS_PROXY_TEST_LOOPBACK_JWKS";

fn main() {
    match std::env::var(LOOPBACK_JWKS) {
        Ok(url) if std::env::var_os(CHILD).is_some() => child(&url),
        _ => parent(),
    }
}

fn parent() {
    print!("test proxy_from_environment_and_loopback_bypass ... ");
    let idp = common::Idp::start();
    idp.serve_jwks("/keys", &["ec-p256"]);

    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let (first_line_tx, first_line) = mpsc::channel();
    std::thread::spawn(move || {
        let (stream, _) = proxy.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let mut header = String::new();
        while reader.read_line(&mut header).unwrap() > 2 {
            header.clear();
        }
        let mut stream = reader.into_inner();
        stream
            .write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        first_line_tx.send(line.trim_end().to_owned()).unwrap();
    });

    let output = Command::new(std::env::current_exe().unwrap())
        .env(CHILD, "1")
        .env(LOOPBACK_JWKS, idp.url("/keys"))
        .env("HTTPS_PROXY", &proxy_url)
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let child_output = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child failed:\n{child_output}");
    assert_eq!(
        idp.hits("/keys"),
        1,
        "the loopback JWKS was fetched directly"
    );
    let first = first_line.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(first, "CONNECT idp.example.com:443 HTTP/1.1");
    println!("ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

fn child(loopback_jwks: &str) {
    // Loopback: bypasses the proxy (which would answer 403 to anything).
    let direct = JwksCache::new(
        JwksOptions::new("http://127.0.0.1/")
            .jwks_url(loopback_jwks)
            .http_timeout(common::TIMEOUT),
    )
    .unwrap();
    direct.resolve("ec-p256", Algorithm::ES256).unwrap();

    // Anything else goes through the proxy, which refuses it.
    let proxied = JwksCache::new(
        JwksOptions::new("https://idp.example.com/")
            .jwks_url("https://idp.example.com/keys")
            .http_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    match proxied.resolve("ec-p256", Algorithm::ES256) {
        Err(KeyLookupError::Unavailable { reason }) => {
            assert!(reason.contains("https://idp.example.com/keys"), "{reason}");
            assert!(reason.contains("proxy"), "{reason}");
            println!("{reason}");
        }
        other => panic!("expected the proxy to refuse, got {other:?}"),
    }
}
