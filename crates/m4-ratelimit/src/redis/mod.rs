//! The Redis backend (feature `redis`): [`RedisLimiter`], one limit shared by every process
//! that points at the same Redis server.
//!
//! Invariants:
//! - a check is one round trip: one `EVALSHA` of one Lua script (`src/redis/check.lua`), which
//!   reads the key's state, decides and records atomically on the server, with the server's
//!   clock (`TIME`), and sets the key to expire when its last request stops counting;
//! - the script runs the in-memory limiter's algorithm with the same group count, so both
//!   backends give the same bound: never more than `N` in any interval of `W`, refusal only past
//!   `N − ⌈N/16⌉ + 1`;
//! - a check never fails, and its wait on Redis is bounded by the timeouts: any error falls
//!   back to an in-process [`MemoryLimiter`] of the same limits for that call; a failure is
//!   recorded before its connection is released, so checks queued for a connection give up
//!   instead of each waiting a timeout in turn; and Redis is not tried again for the back-off,
//!   except by one probing call per back-off;
//! - every request Redis allows is also recorded in that [`MemoryLimiter`], which can still
//!   refuse it: so an outage starts from what this process already allowed, and requests allowed
//!   during an outage keep counting after Redis returns (Redis never saw them);
//! - no I/O in [`RedisBuilder::build`]: connections are opened by the first checks, so a process
//!   starts while Redis is down and recovers by itself;
//! - the URL's password never appears in a message, a log line or `Debug`.

mod url;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};
use redis::{Client, Connection, RedisError, Script};

use crate::window::GROUPS;
use crate::{Clock, Decision, Error, MemoryLimiter, RateLimiter, SystemClock};

/// The key prefix used unless [`RedisBuilder::prefix`] says otherwise: keys are `m4:rl:{sub}`.
pub const DEFAULT_PREFIX: &str = "m4:rl:";

/// Default time to open a connection, handshake included.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(250);

/// Default time one check may wait for Redis to take the request and answer it.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_millis(100);

/// Default time Redis is left alone after a failure before one call tries it again.
pub const DEFAULT_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Default number of connections kept to Redis.
pub const DEFAULT_POOL_SIZE: usize = 4;

/// Most connections accepted by [`RedisBuilder::pool_size`].
pub const MAX_POOL_SIZE: usize = 64;

/// The shortest timeout or back-off accepted.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// The script every check runs.
const CHECK_SCRIPT: &str = include_str!("check.lua");

/// A rate limiter whose counts live in Redis, so that several processes share one limit.
///
/// Same contract as [`MemoryLimiter`]: `N` requests per window `W` per key, never more in any
/// interval of length `W`, refused only past `N − ⌈N/16⌉ + 1`. The time is the Redis server's,
/// so instances whose clocks disagree still agree on every decision.
///
/// When Redis does not answer within the call timeout, or answers an error, the check is
/// answered by an in-process [`MemoryLimiter`] of the same limits, a warning is logged once
/// for the outage (target `m4_ratelimit::redis`), and Redis is tried again after a back-off;
/// [`status`](Self::status) and [`ping`](Self::ping) tell how it is going.
///
/// ```no_run
/// use m4_ratelimit::{RateLimiter, RedisLimiter};
/// use std::time::Duration;
///
/// // From M4_OAUTH2_RATE_LIMIT_BACKEND=redis://cache.internal:6379/0 and the seed's defaults.
/// let limiter = RedisLimiter::builder("redis://cache.internal:6379/0", 100, Duration::from_secs(3600))
///     .max_users(10_000) // for the in-process fallback
///     .build()?;
/// if let Err(e) = limiter.ping() {
///     eprintln!("{e}: checks will fall back to this process until it answers");
/// }
/// assert!(limiter.check("user-42").is_allowed());
/// # Ok::<(), m4_ratelimit::Error>(())
/// ```
pub struct RedisLimiter<C = SystemClock> {
    client: Client,
    /// The URL without its user information, for messages.
    shown_url: String,
    script: Script,
    prefix: String,
    limit: u32,
    group: u32,
    window_micros: u64,
    connect_timeout: Duration,
    call_timeout: Duration,
    backoff_nanos: u64,
    pool: Box<[Mutex<Slot>]>,
    next_slot: AtomicUsize,
    /// The fallback during outages, and the record of what this process allowed.
    local: MemoryLimiter<C>,
    clock: C,
    outage: Outage,
}

/// One pooled connection, opened lazily.
struct Slot {
    connection: Option<Connection>,
    /// The outage generation the connection was opened in: after an outage it is replaced.
    generation: u64,
}

/// The shared health state: lock-free on the path of a check while Redis is up.
#[derive(Default)]
struct Outage {
    /// True from a failure until the next success.
    down: AtomicBool,
    /// Clock reading before which no call tries Redis (meaningful while `down`).
    retry_at: AtomicU64,
    /// Bumped by every failure, so that connections opened before it are not reused.
    generation: AtomicU64,
    /// Clock reading when the current outage started.
    since: AtomicU64,
    outages: AtomicU64,
    fallback_checks: AtomicU64,
    last_error: Mutex<Option<String>>,
}

/// Why a call did not get an answer from Redis.
enum Failure {
    /// Another call failed while this one waited for a connection: not tried.
    Skipped,
    /// Redis failed: no connection, no answer in time, or an error reply.
    Redis(RedisError),
}

/// What [`RedisLimiter::status`] reports: is Redis in use, and how often it was not.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisStatus {
    /// False from a failed call until a call succeeds again: checks are answered in-process.
    pub available: bool,
    /// Outages since the limiter was built (a run of failures up to the next success).
    pub outages: u64,
    /// Checks answered by the in-process fallback since the limiter was built.
    pub fallback_checks: u64,
    /// How long the current outage has lasted; `None` while Redis is available.
    pub down_for: Option<Duration>,
    /// The last failure seen, if any (never holds the password).
    pub last_error: Option<String>,
}

impl RedisLimiter<SystemClock> {
    /// Starts building a limiter of `limit` requests per `window` whose counts live in the Redis
    /// server at `url` (`redis://host:port/db`, or `rediss://` for TLS), with the defaults:
    /// prefix [`DEFAULT_PREFIX`], timeouts [`DEFAULT_CONNECT_TIMEOUT`] and
    /// [`DEFAULT_CALL_TIMEOUT`], back-off [`DEFAULT_RETRY_BACKOFF`], [`DEFAULT_POOL_SIZE`]
    /// connections, a fallback of [`DEFAULT_MAX_USERS`](crate::DEFAULT_MAX_USERS) keys.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// // Building does no I/O: nothing needs to listen here yet.
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1:6379/0", 100, Duration::from_secs(3600))
    ///     .build()?;
    /// assert_eq!(limiter.prefix(), "m4:rl:");
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn builder(url: &str, limit: u64, window: Duration) -> RedisBuilder<SystemClock> {
        RedisBuilder {
            url: url.to_owned(),
            limit,
            window,
            prefix: DEFAULT_PREFIX.to_owned(),
            max_users: crate::DEFAULT_MAX_USERS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            retry_backoff: DEFAULT_RETRY_BACKOFF,
            pool_size: DEFAULT_POOL_SIZE,
            tls_root_certificate: None,
            clock: SystemClock::new(),
        }
    }
}

/// Configures a [`RedisLimiter`]; made by [`RedisLimiter::builder`], checked by
/// [`RedisBuilder::build`].
#[must_use = "a builder does nothing until built"]
pub struct RedisBuilder<C = SystemClock> {
    url: String,
    limit: u64,
    window: Duration,
    prefix: String,
    max_users: usize,
    connect_timeout: Duration,
    call_timeout: Duration,
    retry_backoff: Duration,
    pool_size: usize,
    tls_root_certificate: Option<Vec<u8>>,
    clock: C,
}

impl<C> fmt::Debug for RedisBuilder<C> {
    /// Shows the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBuilder")
            .field("url", &url::redact(&self.url))
            .field("limit", &self.limit)
            .field("window", &self.window)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<C: Clock + Clone> RedisBuilder<C> {
    /// Keys are `{prefix}{key}` (default [`DEFAULT_PREFIX`], `m4:rl:`): give each deployment
    /// sharing a Redis database its own prefix. It must not be empty.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .prefix("m4-staging:rl:")
    ///     .build()?;
    /// assert_eq!(limiter.prefix(), "m4-staging:rl:");
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The capacity of the in-process fallback limiter (default
    /// [`DEFAULT_MAX_USERS`](crate::DEFAULT_MAX_USERS)), as for
    /// [`Builder::max_users`](crate::Builder::max_users).
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .max_users(50_000)
    ///     .build()?;
    /// assert_eq!(limiter.fallback().max_users(), 50_000);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn max_users(mut self, max_users: usize) -> Self {
        self.max_users = max_users;
        self
    }

    /// How long opening a connection may take, handshake included (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]; at least 1 ms).
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let built = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .connect_timeout(Duration::from_millis(500))
    ///     .build();
    /// assert!(built.is_ok());
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one check may wait for Redis to take its request, and then for the answer
    /// (default [`DEFAULT_CALL_TIMEOUT`]; at least 1 ms). Past it, the check falls back.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let built = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .call_timeout(Duration::ZERO)
    ///     .build();
    /// assert!(built.is_err());
    /// ```
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// How long Redis is left alone after a failure: meanwhile checks go straight to the
    /// in-process fallback, then one check tries Redis again (default
    /// [`DEFAULT_RETRY_BACKOFF`]; at least 1 ms).
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let built = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .retry_backoff(Duration::from_secs(5))
    ///     .build();
    /// assert!(built.is_ok());
    /// ```
    pub fn retry_backoff(mut self, backoff: Duration) -> Self {
        self.retry_backoff = backoff;
        self
    }

    /// How many connections to keep (default [`DEFAULT_POOL_SIZE`], from 1 to
    /// [`MAX_POOL_SIZE`]): a check takes a free one, so this many checks run at once.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let built = RedisLimiter::builder("redis://127.0.0.1/0", 100, Duration::from_secs(3600))
    ///     .pool_size(0)
    ///     .build();
    /// assert!(built.is_err());
    /// ```
    pub fn pool_size(mut self, connections: usize) -> Self {
        self.pool_size = connections;
        self
    }

    /// For a `rediss://` URL, trusts only this certificate authority (PEM) instead of the
    /// system's roots: for a Redis whose certificate comes from a private CA. Without it, the
    /// system's roots are used (`SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured).
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let ca = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem"))
    ///     .unwrap();
    /// let built = RedisLimiter::builder("rediss://127.0.0.1:6380/0", 100, Duration::from_secs(60))
    ///     .tls_root_certificate(ca.clone())
    ///     .build();
    /// assert!(built.is_ok());
    /// // Only with rediss://, so that a certificate is never silently ignored.
    /// let built = RedisLimiter::builder("redis://127.0.0.1:6379/0", 100, Duration::from_secs(60))
    ///     .tls_root_certificate(ca)
    ///     .build();
    /// assert!(built.is_err());
    /// ```
    pub fn tls_root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_certificate = Some(pem.into());
        self
    }

    /// Takes time from `clock` instead of the [`SystemClock`]: it drives the back-off and the
    /// in-process fallback. Decisions made by Redis always use the Redis server's clock.
    ///
    /// ```
    /// use m4_ratelimit::{FakeClock, RedisLimiter};
    /// use std::time::Duration;
    ///
    /// let clock = FakeClock::new();
    /// let built = RedisLimiter::builder("redis://127.0.0.1/0", 1, Duration::from_secs(60))
    ///     .clock(clock.clone())
    ///     .build();
    /// assert!(built.is_ok());
    /// ```
    pub fn clock<D: Clock + Clone>(self, clock: D) -> RedisBuilder<D> {
        RedisBuilder {
            url: self.url,
            limit: self.limit,
            window: self.window,
            prefix: self.prefix,
            max_users: self.max_users,
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
            retry_backoff: self.retry_backoff,
            pool_size: self.pool_size,
            tls_root_certificate: self.tls_root_certificate,
            clock,
        }
    }

    /// Checks every value and builds the limiter. Does no I/O: use
    /// [`RedisLimiter::ping`] to see whether Redis answers.
    ///
    /// # Errors
    /// [`Error::InvalidRedisUrl`] for a URL that is not `redis://` or `rediss://`
    /// `[user[:password]@]host[:port][/db]`; [`Error::InvalidRedisSetting`] for an empty prefix,
    /// a timeout or back-off under 1 ms, a pool size out of range; and every error of
    /// [`Builder::build`](crate::Builder::build) for the limit, window and capacity.
    ///
    /// ```
    /// use m4_ratelimit::{Error, RedisLimiter};
    /// use std::time::Duration;
    ///
    /// let err = RedisLimiter::builder("redis://:hunter2@cache/x", 100, Duration::from_secs(60))
    ///     .build()
    ///     .err();
    /// assert_eq!(
    ///     err.map(|e| e.to_string()).as_deref(),
    ///     Some(
    ///         "invalid Redis URL \"redis://[redacted]@cache/x\" in M4_OAUTH2_RATE_LIMIT_BACKEND: \
    ///          the path must be a database number, as in /0; \
    ///          expected memory, redis://host:port/db or rediss://host:port/db"
    ///     ),
    /// );
    /// ```
    pub fn build(self) -> Result<RedisLimiter<C>, Error> {
        url::check(&self.url)?;
        let setting = |setting, reason| Err(Error::InvalidRedisSetting { setting, reason });
        if self.prefix.is_empty() {
            return setting(
                "prefix",
                "must not be empty, or rate-limit keys would mix with other data",
            );
        }
        for (name, value) in [
            ("connect_timeout", self.connect_timeout),
            ("call_timeout", self.call_timeout),
            ("retry_backoff", self.retry_backoff),
        ] {
            if value < MIN_TIMEOUT {
                return setting(name, "must be at least 1 ms");
            }
        }
        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return setting("pool_size", "must be from 1 to 64 connections");
        }
        // Validates the limit, the window and the capacity with the in-memory limiter's rules.
        let local = MemoryLimiter::builder(self.limit, self.window)
            .max_users(self.max_users)
            .clock(self.clock.clone())
            .build()?;
        let limit = u32::try_from(local.limit()).map_err(|_| Error::LimitTooLarge {
            limit: local.limit(),
        })?;
        // Rounded up to whole microseconds: a longer window only refuses more.
        let window_micros =
            u64::try_from(local.window().as_nanos().div_ceil(1_000)).map_err(|_| {
                Error::WindowTooLong {
                    window: local.window(),
                }
            })?;
        if url::is_tls(&self.url) {
            // The redis crate builds its rustls config from the process-wide provider. Install
            // aws-lc-rs unless the process already chose one, so that it never has to guess.
            let _already_installed =
                rustls::crypto::aws_lc_rs::default_provider().install_default();
        }
        let refused = |e: RedisError| Error::InvalidRedisUrl {
            url: url::redact(&self.url),
            reason: format!(
                "the Redis client refused it ({})",
                describe(&e, (self.connect_timeout, self.call_timeout))
            ),
        };
        let client = Client::open(self.url.as_str()).map_err(refused)?;
        let client = match self.tls_root_certificate {
            None => client,
            Some(_) if !url::is_tls(&self.url) => {
                return setting("tls_root_certificate", "needs a rediss:// URL");
            }
            Some(pem) => {
                const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
                let not_pem = "must be a PEM certificate (-----BEGIN CERTIFICATE-----)";
                if !pem.windows(BEGIN.len()).any(|w| w == BEGIN) {
                    return setting("tls_root_certificate", not_pem);
                }
                let certificates = redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                };
                match Client::build_with_tls(client.get_connection_info().clone(), certificates) {
                    Ok(client) => client,
                    Err(_) => return setting("tls_root_certificate", not_pem),
                }
            }
        };
        let pool = (0..self.pool_size)
            .map(|_| {
                Mutex::new(Slot {
                    connection: None,
                    generation: 0,
                })
            })
            .collect();
        Ok(RedisLimiter {
            client,
            shown_url: url::redact(&self.url),
            script: Script::new(CHECK_SCRIPT),
            prefix: self.prefix,
            limit,
            group: limit.div_ceil(GROUPS as u32),
            window_micros,
            connect_timeout: self.connect_timeout,
            call_timeout: self.call_timeout,
            backoff_nanos: u64::try_from(self.retry_backoff.as_nanos()).unwrap_or(u64::MAX),
            pool,
            next_slot: AtomicUsize::new(0),
            local,
            clock: self.clock,
            outage: Outage::default(),
        })
    }
}

impl<C: Clock> RedisLimiter<C> {
    /// The key prefix: a key `sub` is stored in Redis as `{prefix}{sub}`.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1/0", 5, Duration::from_secs(60)).build()?;
    /// assert_eq!(limiter.prefix(), m4_ratelimit::DEFAULT_PREFIX);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis URL with any user information replaced by `[redacted]`: safe to print.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://:hunter2@cache:6379/1", 5, Duration::from_secs(60))
    ///     .build()?;
    /// assert_eq!(limiter.redacted_url(), "redis://[redacted]@cache:6379/1");
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn redacted_url(&self) -> &str {
        &self.shown_url
    }

    /// The in-process limiter that answers while Redis does not, and that also records what
    /// Redis allowed through this process.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1/0", 5, Duration::from_secs(60)).build()?;
    /// assert_eq!(limiter.fallback().limit(), 5);
    /// assert_eq!(limiter.fallback().window(), Duration::from_secs(60));
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn fallback(&self) -> &MemoryLimiter<C> {
        &self.local
    }

    /// Whether Redis is in use, and how often it was not. Reads atomics only (and one short
    /// lock for the last error): cheap enough for a metrics scrape.
    ///
    /// ```
    /// use m4_ratelimit::RedisLimiter;
    /// use std::time::Duration;
    ///
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1/0", 5, Duration::from_secs(60)).build()?;
    /// let status = limiter.status();
    /// assert!(status.available); // until a call fails
    /// assert_eq!(status.fallback_checks, 0);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn status(&self) -> RedisStatus {
        let available = !self.outage.down.load(Ordering::Acquire);
        let down_for = (!available).then(|| {
            let since = self.outage.since.load(Ordering::Acquire);
            Duration::from_nanos(self.clock.now_nanos().saturating_sub(since))
        });
        RedisStatus {
            available,
            outages: self.outage.outages.load(Ordering::Relaxed),
            fallback_checks: self.outage.fallback_checks.load(Ordering::Relaxed),
            down_for,
            last_error: self.outage.last_error.lock().clone(),
        }
    }

    /// Asks Redis for a `PING` now, whatever the back-off, and returns the round-trip time (for
    /// `m4-auth doctor`). A success ends an outage; a failure starts one.
    ///
    /// # Errors
    /// [`Error::RedisUnavailable`] when Redis cannot be reached, does not answer within the
    /// timeouts, or replies an error (a wrong password, for instance).
    ///
    /// ```
    /// use m4_ratelimit::{Error, RedisLimiter};
    /// use std::time::Duration;
    ///
    /// // Port 1 on loopback: nothing listens there.
    /// let limiter = RedisLimiter::builder("redis://127.0.0.1:1/0", 5, Duration::from_secs(60)).build()?;
    /// let err = limiter.ping().err();
    /// assert!(matches!(err, Some(Error::RedisUnavailable { .. })));
    /// assert!(!limiter.status().available);
    /// # Ok::<(), m4_ratelimit::Error>(())
    /// ```
    pub fn ping(&self) -> Result<Duration, Error> {
        let started = Instant::now();
        let result = self.with_connection(None, |connection| {
            let reply: String = redis::cmd("PING").query(connection)?;
            Ok(reply)
        });
        match result {
            Ok(_) => {
                self.mark_up();
                Ok(started.elapsed())
            }
            // Not produced without `seen`; answered as Redis being unavailable all the same.
            Err(Failure::Skipped) => Err(Error::RedisUnavailable {
                url: self.shown_url.clone(),
                reason: "it failed while this ping waited for a connection".to_owned(),
            }),
            // Already recorded as an outage by `with_connection`.
            Err(Failure::Redis(e)) => Err(Error::RedisUnavailable {
                url: self.shown_url.clone(),
                reason: self.describe(&e),
            }),
        }
    }

    /// Takes a pooled connection: a free one if any, else waits for one.
    fn slot(&self) -> MutexGuard<'_, Slot> {
        let len = self.pool.len();
        let start = self.next_slot.fetch_add(1, Ordering::Relaxed) % len;
        for i in 0..len {
            if let Some(slot) = self.pool.get((start + i) % len).and_then(Mutex::try_lock) {
                return slot;
            }
        }
        #[expect(
            clippy::indexing_slicing,
            reason = "start is reduced modulo the pool's length"
        )]
        self.pool[start].lock()
    }

    /// Runs `f` on a pooled connection, opened now if needed; a connection that failed or
    /// predates the last outage is dropped and replaced.
    ///
    /// With `seen` (the failure generation read when the check began), gives up with
    /// [`Failure::Skipped`] if a failure happened while this call waited for a connection: it
    /// must not queue behind a dead Redis, one timeout after another. For that, a failure is
    /// recorded ([`mark_down`](Self::mark_down)) before the connection is released.
    fn with_connection<T>(
        &self,
        seen: Option<u64>,
        f: impl FnOnce(&mut Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Failure> {
        let mut slot = self.slot();
        let generation = self.outage.generation.load(Ordering::Acquire);
        if seen.is_some_and(|seen| seen != generation) {
            return Err(Failure::Skipped);
        }
        if slot.generation != generation {
            slot.connection = None;
        }
        let result = match &mut slot.connection {
            Some(connection) => f(connection),
            empty @ None => self
                .connect()
                .and_then(|connection| f(empty.insert(connection))),
        };
        match &result {
            Ok(_) => slot.generation = generation,
            Err(e) => {
                slot.connection = None;
                self.mark_down(self.clock.now_nanos(), self.describe(e));
            }
        }
        result.map_err(Failure::Redis)
    }

    fn connect(&self) -> redis::RedisResult<Connection> {
        let connection = self
            .client
            .get_connection_with_timeout(self.connect_timeout)?;
        connection.set_read_timeout(Some(self.call_timeout))?;
        connection.set_write_timeout(Some(self.call_timeout))?;
        Ok(connection)
    }

    /// One `EVALSHA` (with the script loaded first if Redis lost it).
    fn check_redis(&self, key: &str, seen: u64) -> Result<Decision, Failure> {
        let mut redis_key = String::with_capacity(self.prefix.len() + key.len());
        redis_key.push_str(&self.prefix);
        redis_key.push_str(key);
        let reply: Vec<i64> = self.with_connection(Some(seen), |connection| {
            self.script
                .key(redis_key)
                .arg(self.limit)
                .arg(self.group)
                .arg(self.window_micros)
                .invoke(connection)
        })?;
        let micros = |v: i64| u64::try_from(v).ok().map(Duration::from_micros);
        match reply.as_slice() {
            [1, remaining, reset] => {
                if let (Ok(remaining), Some(reset_after)) =
                    (u64::try_from(*remaining), micros(*reset))
                {
                    return Ok(Decision::Allowed {
                        remaining,
                        reset_after,
                    });
                }
            }
            [0, retry] => {
                if let Some(retry_after) = micros(*retry) {
                    return Ok(Decision::Limited { retry_after });
                }
            }
            _ => {}
        }
        let e = RedisError::from((
            redis::ErrorKind::TypeError,
            "unexpected reply from the rate-limit script",
        ));
        self.mark_down(self.clock.now_nanos(), self.describe(&e));
        Err(Failure::Redis(e))
    }

    /// Ends an outage, if one is going on.
    fn mark_up(&self) {
        if self.outage.down.swap(false, Ordering::AcqRel) {
            let since = self.outage.since.load(Ordering::Acquire);
            let lasted = Duration::from_nanos(self.clock.now_nanos().saturating_sub(since));
            tracing::info!(
                target: "m4_ratelimit::redis",
                url = %self.shown_url,
                outage_ms = lasted.as_millis(),
                fallback_checks = self.outage.fallback_checks.load(Ordering::Relaxed),
                "rate-limit Redis answers again: limits are shared across instances again"
            );
        }
    }

    /// Records a failure at clock reading `now`: connections are renewed, Redis is left alone
    /// for the back-off, and the first failure of an outage logs one warning.
    fn mark_down(&self, now: u64, reason: String) {
        self.outage.generation.fetch_add(1, Ordering::AcqRel);
        self.outage
            .retry_at
            .store(now.saturating_add(self.backoff_nanos), Ordering::Release);
        if !self.outage.down.swap(true, Ordering::AcqRel) {
            self.outage.since.store(now, Ordering::Release);
            self.outage.outages.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                target: "m4_ratelimit::redis",
                url = %self.shown_url,
                error = %reason,
                "rate-limit Redis failed: each instance now limits on its own (N per instance) \
                 until Redis answers again"
            );
        }
        *self.outage.last_error.lock() = Some(reason);
    }

    /// Whether this call may try Redis: always while it is up; during an outage, only the one
    /// call that claims the probe once the back-off has passed.
    fn may_try_redis(&self, now: u64) -> bool {
        if !self.outage.down.load(Ordering::Acquire) {
            return true;
        }
        let retry_at = self.outage.retry_at.load(Ordering::Acquire);
        now >= retry_at
            && self
                .outage
                .retry_at
                .compare_exchange(
                    retry_at,
                    now.saturating_add(self.backoff_nanos),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn describe(&self, e: &RedisError) -> String {
        describe(e, (self.connect_timeout, self.call_timeout))
    }

    fn fall_back(&self, key: &str) -> Decision {
        self.outage.fallback_checks.fetch_add(1, Ordering::Relaxed);
        self.local.check(key)
    }
}

impl<C: Clock> RateLimiter for RedisLimiter<C> {
    fn check(&self, key: &str) -> Decision {
        let seen = self.outage.generation.load(Ordering::Acquire);
        if !self.may_try_redis(self.clock.now_nanos()) {
            return self.fall_back(key);
        }
        match self.check_redis(key, seen) {
            Ok(decision) => {
                self.mark_up();
                match decision {
                    Decision::Limited { .. } => decision,
                    Decision::Allowed {
                        remaining,
                        reset_after,
                    } => match self.local.check(key) {
                        // What this process allowed may still refuse: requests it allowed
                        // while Redis was down, which Redis never counted.
                        Decision::Allowed {
                            remaining: local_remaining,
                            reset_after: local_reset,
                        } => Decision::Allowed {
                            remaining: remaining.min(local_remaining),
                            reset_after: reset_after.max(local_reset),
                        },
                        limited @ Decision::Limited { .. } => limited,
                    },
                }
            }
            // A failure is already recorded (the back-off starts when it was known).
            Err(Failure::Skipped | Failure::Redis(_)) => self.fall_back(key),
        }
    }
}

impl<C> fmt::Debug for RedisLimiter<C> {
    /// Shows the configuration (URL without its password), never the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("url", &self.shown_url)
            .field("prefix", &self.prefix)
            .field("limit", &self.limit)
            .field("window_micros", &self.window_micros)
            .field("pool_size", &self.pool.len())
            .field("available", &!self.outage.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A readable reason for a Redis failure (the client's own text shows its enum names).
fn describe(e: &RedisError, timeouts: (Duration, Duration)) -> String {
    if e.is_timeout() {
        format!(
            "no answer within the timeouts (connect {} ms, call {} ms)",
            timeouts.0.as_millis(),
            timeouts.1.as_millis()
        )
    } else if e.is_io_error() {
        e.to_string()
    } else if let (Some(code), Some(detail)) = (e.code(), e.detail()) {
        format!("Redis replied {code} {detail}")
    } else if let Some(detail) = e.detail() {
        format!("{}: {detail}", e.category())
    } else {
        e.to_string()
    }
}
