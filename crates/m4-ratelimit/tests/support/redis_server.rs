//! A throwaway `redis-server` on a free loopback port, for the Redis tests and bench.
//!
//! Each test process starts its own servers as children and kills them on drop: nothing is
//! saved to disk (`--save ''`, `--appendonly no`) and nothing listens beyond 127.0.0.1.
//! When `redis-server` is not installed, [`RedisServer::start`] fails the test if the `CI`
//! environment variable is set (CI must run these tests), and otherwise prints a loud
//! `SKIPPED` line to stderr and returns `None`.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How to get the server on Debian, said wherever it is missing.
const INSTALL: &str = "apt-get install -y redis-server";

/// A running `redis-server`, killed when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    tls: bool,
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after a loud SKIPPED line) when `redis-server`
    /// is not installed outside CI.
    pub(crate) fn start() -> Option<Self> {
        Self::start_with(free_port(), None)
    }

    /// Starts a server on `port` that requires `password` (when given).
    pub(crate) fn start_with(port: u16, password: Option<&str>) -> Option<Self> {
        Self::spawn(port, password, false)
    }

    /// Starts a server that speaks only TLS, with the certificate in `tests/fixtures/tls`.
    pub(crate) fn start_tls() -> Option<Self> {
        Self::spawn(free_port(), None, true)
    }

    fn spawn(port: u16, password: Option<&str>, tls: bool) -> Option<Self> {
        let mut command = Command::new("redis-server");
        if tls {
            let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
            command
                .args(["--port", "0", "--tls-port", &port.to_string()])
                .args(["--tls-cert-file", &format!("{fixtures}/server.pem")])
                .args(["--tls-key-file", &format!("{fixtures}/server.key")])
                .args(["--tls-ca-cert-file", &format!("{fixtures}/ca.pem")])
                .args(["--tls-auth-clients", "no"]);
        } else {
            command.args(["--port", &port.to_string()]);
        }
        command
            .args(["--bind", "127.0.0.1"])
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
            .stderr(Stdio::null());
        if let Some(password) = password {
            command.args(["--requirepass", password]);
        }
        let child = match command.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                if std::env::var_os("CI").is_some() {
                    panic!(
                        "redis-server is not installed, and CI must run the Redis tests: {INSTALL}"
                    );
                }
                // Straight to the process's stderr, past the test harness's capture, once.
                static SAID: AtomicBool = AtomicBool::new(false);
                if !SAID.swap(true, Ordering::Relaxed) {
                    let _ = writeln!(
                        std::io::stderr(),
                        "\n*** SKIPPED: redis-server not installed, so the Redis backend was \
                         not tested: {INSTALL} ***\n"
                    );
                }
                return None;
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let server = Self {
            child: Some(child),
            port,
            password: password.map(str::to_owned),
            tls,
        };
        server.wait_until_it_answers();
        Some(server)
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, password included.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server now and waits for it to exit.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (such as `STOP` or `CONT`) to the server.
    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// A plain client connection to it, for inspecting keys.
    pub(crate) fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect to the test redis-server")
    }

    /// Polls with an inline PING until the server answers (or 10 s pass).
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        if self.tls {
            // A TLS server cannot be pinged in plain text: it is ready once it accepts.
            while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "redis-server did not listen within 10 s"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        let ping = match &self.password {
            Some(password) => format!("AUTH {password}\r\nPING\r\n"),
            None => "PING\r\n".to_owned(),
        };
        loop {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
                let mut reply = [0u8; 64];
                if stream.write_all(ping.as_bytes()).is_ok() {
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
        self.kill();
    }
}

/// A port nothing listens on right now (the OS picks it; it is free again once we drop it).
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}
