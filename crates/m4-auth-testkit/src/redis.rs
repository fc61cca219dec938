//! A throwaway `redis-server` on a free loopback port, for the Redis tests and benches.
//!
//! Each test starts its own servers as child processes and kills them on drop: nothing is
//! saved to disk (`--save ''`, `--appendonly no`) and nothing listens beyond 127.0.0.1.
//!
//! The one rule for a machine without `redis-server`: when the `CI` environment variable is
//! set (`.ci/run` sets `CI=true`), starting a server fails the test, because CI must run the
//! Redis tests; otherwise it prints `SKIPPED: redis-server not installed` once per test
//! process, straight to the process's stderr (past the harness's capture), and returns `None`,
//! so the test returns early and passes.
//!
//! ```
//! use m4_auth_testkit::redis::RedisServer;
//!
//! // `None` only outside CI on a machine without redis-server (after the SKIPPED line).
//! if let Some(server) = RedisServer::start() {
//!     assert_eq!(server.url(), format!("redis://127.0.0.1:{}/0", server.port()));
//! }
//! ```

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How to get the server on Debian, said wherever it is missing.
const INSTALL: &str = "apt-get install -y redis-server";

/// How long a started server may take to answer before the test fails: far above the few
/// milliseconds it needs, so only a broken server (not a busy machine) trips it.
const READY_WITHIN: Duration = Duration::from_secs(10);

/// How many fresh ports to try when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 5;

/// The TLS material of a server that speaks only TLS (`rediss://`).
#[derive(Debug, Clone)]
pub struct Tls {
    /// The server's certificate chain (PEM).
    pub cert: PathBuf,
    /// The server's private key (PEM).
    pub key: PathBuf,
    /// The CA that signed it (PEM).
    pub ca: PathBuf,
}

impl Tls {
    /// `server.pem`, `server.key` and `ca.pem` in `dir`.
    pub fn in_dir(dir: &Path) -> Tls {
        Tls {
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
            ca: dir.join("ca.pem"),
        }
    }
}

/// A running `redis-server`, killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    password: Option<String>,
    tls: bool,
}

/// Why a spawned server did not come up.
enum NotReady {
    /// It exited at once: most often another process took the port first.
    Exited(String),
}

impl RedisServer {
    /// Starts a server on a free port; `None` (after a loud SKIPPED line) when `redis-server`
    /// is not installed outside CI.
    pub fn start() -> Option<Self> {
        Self::on_fresh_port(None, None)
    }

    /// Starts a server on `port` that requires `password` (when given), for a test that stops
    /// a server and starts another on the same port.
    pub fn start_with(port: u16, password: Option<&str>) -> Option<Self> {
        match Self::spawn(port, password, None)? {
            Ok(server) => Some(server),
            Err(NotReady::Exited(why)) => panic!("redis-server on port {port} {why}"),
        }
    }

    /// Starts a server on a free port that speaks only TLS, with this certificate.
    pub fn start_tls(tls: &Tls) -> Option<Self> {
        Self::on_fresh_port(None, Some(tls))
    }

    fn on_fresh_port(password: Option<&str>, tls: Option<&Tls>) -> Option<Self> {
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = crate::free_port();
            match Self::spawn(port, password, tls)? {
                Ok(server) => return Some(server),
                Err(NotReady::Exited(why)) => failures.push(format!("port {port}: {why}")),
            }
        }
        panic!("redis-server did not start on {PORT_ATTEMPTS} fresh ports: {failures:?}")
    }

    /// `None`: not installed outside CI. `Some(Err)`: it exited before answering.
    fn spawn(
        port: u16,
        password: Option<&str>,
        tls: Option<&Tls>,
    ) -> Option<Result<Self, NotReady>> {
        let mut command = Command::new("redis-server");
        match tls {
            Some(tls) => {
                command
                    .args(["--port", "0", "--tls-port", &port.to_string()])
                    .arg("--tls-cert-file")
                    .arg(&tls.cert)
                    .arg("--tls-key-file")
                    .arg(&tls.key)
                    .arg("--tls-ca-cert-file")
                    .arg(&tls.ca)
                    .args(["--tls-auth-clients", "no"]);
            }
            None => {
                command.args(["--port", &port.to_string()]);
            }
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
                not_installed();
                return None;
            }
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        let mut server = Self {
            child: Some(child),
            port,
            password: password.map(str::to_owned),
            tls: tls.is_some(),
        };
        Some(server.wait_until_it_answers().map(|()| server))
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL (`rediss://` for a TLS server), password included, database 0.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "rediss" } else { "redis" };
        match &self.password {
            Some(password) => format!("{scheme}://:{password}@127.0.0.1:{}/0", self.port),
            None => format!("{scheme}://127.0.0.1:{}/0", self.port),
        }
    }

    /// The child's process id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Kills the server now and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends `signal` (such as `STOP` or `CONT`) to the server, to make it stall or resume.
    #[track_caller]
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Polls until the server answers, and proves it is this child and not another server
    /// that took the port first: an inline `INFO server` must name the child's `process_id`.
    /// A TLS server cannot be asked in plain text: it is ready once it accepts a connection
    /// and the child is still alive a moment later (a child that lost the port exits at once).
    /// Fails the test after [`READY_WITHIN`]; returns `Err` at once if the child exited or
    /// another server answers on its port.
    fn wait_until_it_answers(&mut self) -> Result<(), NotReady> {
        let deadline = Instant::now() + READY_WITHIN;
        let pid = self.pid();
        let mut ask = match &self.password {
            Some(password) => format!("AUTH {password}\r\n"),
            None => String::new(),
        };
        ask.push_str("INFO server\r\n");
        loop {
            self.exited()?;
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                if self.tls {
                    std::thread::sleep(Duration::from_millis(50));
                    return self.exited();
                }
                match answering_pid(&mut stream, &ask) {
                    Some(answered) if answered == pid => return Ok(()),
                    Some(other) => {
                        self.kill();
                        return Err(NotReady::Exited(format!(
                            "was taken by another redis-server (process {other})"
                        )));
                    }
                    None => {}
                }
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} did not answer within {READY_WITHIN:?}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `Err` if the child has exited (and forgets it).
    fn exited(&mut self) -> Result<(), NotReady> {
        if let Some(child) = self.child.as_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            self.child = None;
            return Err(NotReady::Exited(format!(
                "exited ({status}) before answering (the port was probably taken)"
            )));
        }
        Ok(())
    }
}

/// Sends `ask` (ending in `INFO server`) and returns the `process_id` of the server that
/// answered, or `None` if no full answer came within half a second.
fn answering_pid(stream: &mut TcpStream, ask: &str) -> Option<u32> {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    stream.write_all(ask.as_bytes()).ok()?;
    let mut got = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(n @ 1..) = stream.read(&mut buffer) {
        got.extend_from_slice(buffer.get(..n).unwrap_or_default());
        let text = String::from_utf8_lossy(&got);
        if let Some((_, rest)) = text.split_once("process_id:")
            && let Some((digits, _)) = rest.split_once("\r\n")
        {
            return digits.trim().parse().ok();
        }
    }
    None
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The CI rule: fail under CI, else say SKIPPED once per process.
#[track_caller]
fn not_installed() {
    if std::env::var_os("CI").is_some() {
        panic!("redis-server is not installed, and CI must run the Redis tests: {INSTALL}");
    }
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: redis-server not installed, so the Redis rate-limit backend was \
             not tested: {INSTALL} ***\n"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_started_server_is_the_child_that_answers_and_dies_with_it() {
        let Some(server) = RedisServer::start() else {
            return;
        };
        let port = server.port();
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        assert_eq!(
            answering_pid(&mut stream, "INFO server\r\n"),
            Some(server.pid())
        );
        assert_eq!(server.url(), format!("redis://127.0.0.1:{port}/0"));
        drop(server);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn a_port_another_server_holds_is_refused_not_mistaken_for_ours() {
        let Some(first) = RedisServer::start_with(crate::free_port(), Some("pw")) else {
            return;
        };
        // A second server on the same port loses the bind; the first answers instead.
        let Some(attempt) = RedisServer::spawn(first.port(), Some("pw"), None) else {
            return;
        };
        let Err(NotReady::Exited(why)) = attempt else {
            panic!("a server on a port another one holds was taken for ready");
        };
        assert!(why.contains("taken"), "{why}");
        // The first one is untouched, and a fresh start still works.
        let mut stream = TcpStream::connect(("127.0.0.1", first.port())).unwrap();
        assert_eq!(
            answering_pid(&mut stream, "AUTH pw\r\nINFO server\r\n"),
            Some(first.pid())
        );
        assert!(first.url().starts_with("redis://:pw@127.0.0.1:"));
        let second = RedisServer::start().unwrap();
        assert_ne!(second.port(), first.port());
    }

    #[test]
    fn a_stopped_server_resumes_and_a_killed_one_is_gone() {
        let Some(mut server) = RedisServer::start() else {
            return;
        };
        server.signal("STOP");
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        assert_eq!(answering_pid(&mut stream, "INFO server\r\n"), None);
        server.signal("CONT");
        let mut stream = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        assert_eq!(
            answering_pid(&mut stream, "INFO server\r\n"),
            Some(server.pid())
        );
        let port = server.port();
        server.kill();
        assert_eq!(server.pid(), 0);
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
