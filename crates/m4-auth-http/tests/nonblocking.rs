//! The gate never blocks an async worker on the network: on a current-thread runtime, while a
//! first request waits on a JWKS endpoint that accepted the connection and never answers,
//! the metadata and a token verified earlier are answered at once.
#![cfg(test)]

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use m4_auth::{Authenticator, ManualClock};
use m4_auth_http::McpAuth;
use support::*;
use tower::ServiceExt;

/// A JWKS endpoint on loopback that answers its first request with the fixture key set, then
/// accepts every later connection and says nothing until told to hang up.
struct HangingJwks {
    url: String,
    /// One message per connection it holds silent.
    held: mpsc::Receiver<()>,
    /// Dropping (or sending) releases the held connections.
    release: mpsc::Sender<()>,
}

fn hanging_jwks() -> HangingJwks {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    let (held_tx, held) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut silent: Vec<TcpStream> = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { return };
            read_request(&mut stream);
            if n == 0 {
                let body = m4_auth_testkit::keys::jwks_json();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).unwrap();
            } else {
                silent.push(stream);
                held_tx.send(()).unwrap();
                // Hold until released, then close everything.
                let _ = release_rx.recv();
                return;
            }
        }
    });
    HangingJwks { url, held, release }
}

fn read_request(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(buf.get(..n).unwrap()),
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_hung_jwks_fetch_does_not_stall_the_runtime() {
    let jwks = hanging_jwks();
    let clock = ManualClock::new(NOW as u64);
    let auth = Authenticator::builder(config(&[
        ("M4_OAUTH2_JWKS_URL", jwks.url.as_str()),
        ("M4_OAUTH2_HTTP_TIMEOUT", "60"),
    ]))
    .clock(clock.clone())
    .build()
    .unwrap();
    let gate = McpAuth::new(Arc::new(auth)).unwrap();

    // A first token: the keys are fetched (on the blocking pool) and it is accepted.
    let alice = token("alice", &[]);
    let answer = send(gated(&gate), post(Some(&alice), &call("whoami"), &[])).await;
    assert_eq!(answer.status, StatusCode::OK);

    // Past the refetch cooldown, a token with a kid the set does not know forces a refetch,
    // which the endpoint accepts and never answers.
    clock.advance(Duration::from_secs(60));
    let stranger = sign("rsa-2048-b", &claims("mallory", SCOPE));
    let service = gated(&gate);
    let waiting =
        tokio::spawn(
            async move { send(service, post(Some(&stranger), &call("whoami"), &[])).await },
        );
    let deadline = Instant::now() + Duration::from_secs(20);
    while jwks.held.try_recv().is_err() {
        assert!(
            Instant::now() < deadline,
            "the refetch never reached the JWKS endpoint"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Meanwhile, on the runtime's only thread: the metadata and the earlier token.
    let started = Instant::now();
    let metadata = tokio::time::timeout(
        Duration::from_secs(5),
        gate.metadata_service().oneshot(
            Request::get(gate.metadata_paths()[0].as_str())
                .body(Full::new(Bytes::new()))
                .unwrap(),
        ),
    )
    .await
    .expect("metadata answered while the fetch hangs")
    .unwrap();
    assert_eq!(metadata.status(), StatusCode::OK);
    let body = metadata.into_body().collect().await.unwrap().to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(doc["resource"], RESOURCE);
    for _ in 0..3 {
        let answer = tokio::time::timeout(
            Duration::from_secs(5),
            send(gated(&gate), post(Some(&alice), &call("whoami"), &[])),
        )
        .await
        .expect("a token verified earlier is answered while the fetch hangs");
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(answer.header("x-sub"), Some("alice"));
    }
    let elapsed = started.elapsed();
    assert!(
        !waiting.is_finished(),
        "the hung request finished early: the test did not hold the fetch"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");

    // Released: the hung request ends with the old key set, which does not know its kid.
    drop(jwks.release);
    let answer = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the hung request ends once the endpoint hangs up")
        .unwrap();
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.json()["code"], "unknown_kid");
}
