//! Certificates are checked against the operating system's trust store, so a corporate CA
//! installed there works.
//!
//! A rustls server on loopback serves a JWKS with a certificate for `localhost` signed by a
//! test "corporate" CA (`tests/fixtures/tls/`). This binary (`harness = false`) runs itself
//! twice as a child, since the environment cannot be changed safely in-process:
//! - with the system trust store: the certificate is rejected, with a message pointing at the
//!   trust store;
//! - with `SSL_CERT_FILE` naming the test CA (how the store is extended on Linux): the JWKS
//!   is fetched and the key resolves.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout
)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyLookupError, KeyResolver};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

const MODE: &str = "M4_JWKS_TLS_TEST_CHILD";
const URL: &str = "M4_JWKS_TLS_TEST_URL";

fn tls_fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(file)
}

fn main() {
    match (std::env::var(MODE), std::env::var(URL)) {
        (Ok(mode), Ok(url)) => child(&mode, &url),
        _ => parent(),
    }
}

/// Serves `body` over TLS to every connection; counts complete responses.
fn serve_tls(body: String) -> (u16, Arc<AtomicUsize>) {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_file_iter(tls_fixture("server.pem"))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let mut head = Vec::new();
            let mut byte = [0_u8; 1];
            let complete = loop {
                match tls.read(&mut byte) {
                    Ok(1) => {
                        head.push(byte[0]);
                        if head.ends_with(b"\r\n\r\n") {
                            break true;
                        }
                    }
                    // handshake refused by the client, or connection closed
                    _ => break false,
                }
            };
            if !complete {
                continue;
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            if tls.write_all(response.as_bytes()).is_ok() && tls.flush().is_ok() {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, served)
}

fn run_child(mode: &str, url: &str, ssl_cert_file: Option<PathBuf>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .env(MODE, mode)
        .env(URL, url)
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy");
    if let Some(file) = ssl_cert_file {
        command.env("SSL_CERT_FILE", file);
    }
    let output = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "child {mode} failed:\n{text}");
    text
}

fn parent() {
    print!("test os_trust_store_rejects_then_accepts_a_corporate_ca ... ");
    let (port, served) = serve_tls(common::jwks(&["ec-p256"]));
    let url = format!("https://localhost:{port}/keys");

    run_child("reject", &url, None);
    assert_eq!(
        served.load(Ordering::SeqCst),
        0,
        "nothing served over an untrusted handshake"
    );

    run_child("accept", &url, Some(tls_fixture("ca.pem")));
    assert_eq!(served.load(Ordering::SeqCst), 1);
    println!("ok\n\ntest result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n");
}

fn child(mode: &str, url: &str) {
    let cache = JwksCache::new(
        JwksOptions::new("https://localhost/")
            .jwks_url(url)
            .http_timeout(Duration::from_secs(5)),
    )
    .unwrap();
    let answer = cache.resolve("ec-p256", Algorithm::ES256);
    match mode {
        "reject" => match answer {
            Err(KeyLookupError::Unavailable { reason }) => {
                assert!(reason.contains(url), "{reason}");
                assert!(
                    reason.contains("server certificate was rejected"),
                    "{reason}"
                );
                assert!(reason.contains("trust store"), "{reason}");
            }
            other => panic!("expected the certificate to be rejected, got {other:?}"),
        },
        "accept" => {
            let key = answer.unwrap();
            assert_eq!(key.kid(), Some("ec-p256"));
        }
        other => panic!("unknown child mode {other}"),
    }
}
