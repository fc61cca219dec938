//! The Redis tests' and bench's view of the testkit's `redis-server` launcher
//! (m4-auth-testkit's `redis` module: free port, readiness, the `CI=true` rule, kill on drop),
//! plus the two things only this crate needs: a TLS server with this crate's test certificate,
//! and a plain `redis` client connection for inspecting keys.

#![allow(
    unused_imports,
    reason = "each test binary and the bench use a different part"
)]

use std::time::Duration;

pub(crate) use m4_auth_testkit::free_port;
pub(crate) use m4_auth_testkit::redis::RedisServer;
use m4_auth_testkit::redis::Tls;

/// A server that speaks only TLS, with the certificate in `tests/fixtures/tls`; `None` after a
/// SKIPPED line when `redis-server` is not installed outside CI.
pub(crate) fn start_tls() -> Option<RedisServer> {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    RedisServer::start_tls(&Tls::in_dir(std::path::Path::new(fixtures)))
}

/// A plain client connection to a test server.
pub(crate) trait Client {
    /// Connects (2 s timeout), failing the test when it cannot.
    fn client(&self) -> redis::Connection;
}

impl Client for RedisServer {
    fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("connect to the test redis-server")
    }
}
