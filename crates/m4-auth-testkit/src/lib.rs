//! Test support shared by the m4-auth crates' tests, benches and end-to-end suite.
//!
//! What it guarantees: it depends on no m4 crate (it speaks HTTP, JSON, keys and processes),
//! so every crate of the workspace can take it as a dev-dependency without a cycle; it talks
//! to nothing but loopback (127.0.0.1, and 127.0.0.2 for [`closed_addr`]); it never generates
//! keys at run time, only reads the committed fixtures.
//!
//! What it deliberately does not do: hold anything only one crate needs, or anything that
//! names an m4 type (a helper that builds an `Authenticator` stays in that crate's tests).
//!
//! Its helpers fail loudly: a fixture that cannot be read or a server that will not start
//! panics with what went wrong and how to fix it, which is the right behaviour in a test.
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// Test support reports a broken environment by failing the test that called it.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod bench;
pub mod idp;
pub mod keys;
pub mod logs;
pub mod messages;
pub mod redis;
pub mod tokens;

/// A loopback port nothing listens on right now (the OS picks it; it is free again once the
/// probe socket is dropped, so another process may take it before the caller binds it:
/// [`redis::RedisServer`] retries on a fresh port when that happens).
///
/// ```
/// assert!(m4_auth_testkit::free_port() > 0);
/// ```
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind an ephemeral loopback port")
}

/// This process's effective user id, from the `Uid:` line of `/proc/self/status` (proc(5)),
/// as m4-auth-token reads it (std has no `geteuid`); `None` without `/proc`. Tests use it to
/// tell whether they run as root, who may write anywhere.
///
/// ```
/// if let Some(uid) = m4_auth_testkit::effective_uid() {
///     assert!(uid < u32::MAX);
/// }
/// ```
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let ids = status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    ids.split_whitespace().nth(1)?.parse().ok()
}

/// A loopback address nothing listens on, for "the server is down" (connection refused), on
/// 127.0.0.2 where the system routes it (Linux routes all of 127.0.0.0/8 to loopback).
///
/// Not on 127.0.0.1: every server the tests start binds 127.0.0.1 port 0, and the tests of one
/// binary run in parallel, so a port just probed free there can be handed to the next test's
/// server, and the "closed" port answers (a refused-connection test then sees that server's
/// replies, and that server counts a request it never expected). Nothing binds 127.0.0.2.
/// Where 127.0.0.2 cannot be bound (macOS without an alias): 127.0.0.1 port 1, which the
/// system never hands out for port 0 (below 1024) and nothing listens on in a test machine.
///
/// ```
/// let addr = m4_auth_testkit::closed_addr();
/// assert!(addr.ip().is_loopback());
/// assert!(std::net::TcpStream::connect(addr).is_err());
/// ```
pub fn closed_addr() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.2:0")
        .and_then(|listener| listener.local_addr())
        .unwrap_or_else(|_| std::net::SocketAddr::from(([127, 0, 0, 1], 1)))
}
