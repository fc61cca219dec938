//! A throwaway `redis-server` on a free loopback port (the approach of m4-ratelimit's
//! `tests/support/redis_server.rs`, without its TLS and client parts).
//!
//! Nothing is saved to disk and nothing listens beyond 127.0.0.1; the server is killed on drop.
//! When `redis-server` is not installed, [`RedisServer::start`] fails the test if the `CI`
//! environment variable is set (CI must run these tests), and otherwise prints a loud `SKIPPED`
//! line to stderr and returns `None`.
//! Also compiled into the `m4-auth-tests` crate's `cli_doctor` test by `#[path]`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    dead_code,
    unreachable_pub
)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How to get the server on Debian, said wherever it is missing.
const INSTALL: &str = "apt-get install -y redis-server";

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after a loud SKIPPED line) when `redis-server`
    /// is not installed outside CI.
    pub fn start() -> Option<Self> {
        let port = free_port();
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "redis-server is not installed, and CI must run the Redis tests: {INSTALL}"
                );
                // Straight to the process's stderr, past the test harness's capture.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: redis-server not installed, so the Redis rate-limit backend \
                     was not tested: {INSTALL} ***\n"
                );
                return None;
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let server = Self { child, port };
        server.wait_until_it_answers();
        Some(server)
    }

    /// Its URL: database 0, no password.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Polls with an inline PING until the server answers (or 10 s pass).
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                if stream.write_all(b"PING\r\n").is_ok() {
                    let mut reply = [0u8; 64];
                    let mut got = Vec::new();
                    while let Ok(n @ 1..) = stream.read(&mut reply) {
                        got.extend_from_slice(&reply[..n]);
                        if got.windows(5).any(|w| w == b"+PONG") {
                            return;
                        }
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer PING within 10 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listens on right now (the OS picks it; free again once dropped).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}
