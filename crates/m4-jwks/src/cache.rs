//! [`JwksCache`]: the key cache, its refresh state machine, and its [`KeyResolver`]
//! implementation.
//!
//! # The state machine
//! The served key set lives behind a `RwLock<Option<Arc<Loaded>>>`, and each thread keeps a
//! snapshot of it (see [`Snapshot`]): a lookup whose kid is in a fresh set reads one shared
//! counter, finds the thread's snapshot current, clones a key `Arc` private to the thread, and
//! returns: no lock, no shared write, no allocation. The snapshot is taken again whenever the
//! served set is replaced or dropped.
//! Everything else goes through [`JwksCache::refresh`], which enforces two rules under one
//! mutex:
//! - **single flight**: at most one fetch runs; a thread that needs its result (cold start,
//!   unknown kid) waits on a condvar, at most the HTTP timeout; a thread that only wanted to
//!   refresh an expired set it can still serve from does not wait;
//! - **cooldown**: a fetch starts at most once per cooldown, whatever triggers it (cold start,
//!   TTL expiry, unknown kid, retry after a failure).
//!
//! Keys are fresh for the TTL after a successful fetch, then usable (served stale) for
//! max-stale more while refreshes fail, then dropped.
//! A failed fetch never replaces a good set; neither does a fetched set with no usable key.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use m4_jwt_verify::{Algorithm, JwkSet, KeyLookupError, KeyResolver, SkippedKey, VerifyingKey};
use parking_lot::{Condvar, Mutex, RwLock};

use crate::clock::Clock;
use crate::discovery::{self, Found};
use crate::endpoint::{Endpoint, Issuer, UrlRole};
use crate::error::{Error, shown};
use crate::options::JwksOptions;
use crate::transport::Transport;

/// Largest accepted HTTP timeout: an hour is already far past any sane value.
pub(crate) const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(3600);
/// Smallest accepted TTL, cooldown and HTTP timeout.
const MIN_DURATION: Duration = Duration::from_millis(1);

/// A fetched, parsed key set and the times that govern it.
#[derive(Debug)]
struct Loaded {
    keys: JwkSet,
    url: String,
    /// The exact document, to tell whether a refetch changed anything.
    body: Vec<u8>,
    fetched_at: Instant,
    /// End of the TTL; `None` when it lies beyond what `Instant` can represent.
    fresh_until: Option<Instant>,
    /// End of TTL + max stale.
    usable_until: Option<Instant>,
}

impl Loaded {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_none_or(|t| now < t)
    }

    fn is_usable(&self, now: Instant) -> bool {
        self.usable_until.is_none_or(|t| now < t)
    }
}

/// A successful fetch, before it is served.
struct Fetched {
    url: Endpoint,
    body: Vec<u8>,
    keys: JwkSet,
}

/// Fetch bookkeeping, behind the mutex.
#[derive(Debug, Default)]
struct State {
    /// A fetch is running (single flight).
    in_flight: bool,
    /// Fetches completed so far; waiters wait for this to move.
    completed: u64,
    /// Start of the last fetch, for the cooldown.
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
    last_error: Option<(Instant, Arc<Error>)>,
    /// Consecutive failed fetches; a warning is logged only when this leaves zero.
    failure_streak: u32,
    fetch_count: u64,
    /// The JWKS URL in use: configured, or remembered from discovery.
    jwks_url: Option<(Endpoint, Found)>,
}

/// What [`JwksCache::refresh`] did.
#[derive(Debug)]
enum Outcome {
    /// This thread fetched; `Ok` when the served set was replaced.
    Fetched(Result<(), Arc<Error>>),
    /// Another thread's fetch completed while this one waited.
    Joined,
    /// Another thread's fetch is still running after the waiting bound.
    WaitTimedOut(Duration),
    /// Another thread's fetch is running and this caller chose not to wait.
    Busy,
    /// The cooldown forbids a fetch for this much longer.
    CoolingDown(Duration),
}

/// A cached, self-refreshing JWKS, the [`KeyResolver`] for production.
///
/// Build it once, share it through an `Arc`, and hand it to the verifier.
/// The constructor does no I/O; the first lookup (or [`JwksCache::prefetch`]) fetches.
///
/// ```no_run
/// use std::sync::Arc;
/// use m4_jwks::{Algorithm, JwksCache, JwksOptions, KeyResolver};
///
/// let cache = Arc::new(JwksCache::new(JwksOptions::new("https://tenant.example.com/"))?);
/// cache.prefetch()?; // optional warm-up: discovery, then the JWKS
/// let key = cache.resolve("my-kid", Algorithm::RS256);
/// # Ok::<(), m4_jwks::Error>(())
/// ```
pub struct JwksCache {
    issuer: Issuer,
    configured_url: Option<Endpoint>,
    transport: Transport,
    ttl: Duration,
    cooldown: Duration,
    max_stale: Duration,
    clock: Arc<dyn Clock>,
    served: RwLock<Option<Arc<Loaded>>>,
    /// Bumped after every change of `served` (new set, refreshed times, or dropped), before
    /// `generation`: a thread's snapshot is current while this has not moved.
    version: AtomicU64,
    /// Tells this cache's snapshots from other caches' in a thread's slots; never reused.
    id: u64,
    generation: AtomicU64,
    state: Mutex<State>,
    fetch_done: Condvar,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("issuer", &self.issuer.as_str())
            .field(
                "configured_url",
                &self.configured_url.as_ref().map(Endpoint::as_str),
            )
            .field("ttl", &self.ttl)
            .field("cooldown", &self.cooldown)
            .field("max_stale", &self.max_stale)
            .field("transport", &self.transport)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl JwksCache {
    /// Checks the options and builds the cache, without any network request.
    ///
    /// ```
    /// use m4_jwks::{JwksCache, JwksOptions};
    ///
    /// let cache = JwksCache::new(JwksOptions::new("https://tenant.example.com/"))?;
    /// assert_eq!(cache.generation(), 0); // nothing fetched yet
    /// assert!(JwksCache::new(JwksOptions::new("http://tenant.example.com/")).is_err());
    /// # Ok::<(), m4_jwks::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] when the issuer or the JWKS URL is not https (or http on a
    /// loopback host), has credentials or a fragment, or the issuer has a query;
    /// [`Error::InvalidOption`] when a duration is zero or the timeout exceeds an hour.
    pub fn new(options: JwksOptions) -> Result<Self, Error> {
        let issuer = Issuer::parse(&options.issuer)?;
        let configured_url = options
            .jwks_url
            .as_deref()
            .map(|url| Endpoint::parse(url, UrlRole::JwksUrl))
            .transpose()?;
        check_duration("M4_OAUTH2_JWKS_CACHE_TTL", options.ttl, Duration::MAX)?;
        check_duration(
            "M4_OAUTH2_JWKS_REFRESH_COOLDOWN",
            options.refresh_cooldown,
            Duration::MAX,
        )?;
        check_duration(
            "M4_OAUTH2_HTTP_TIMEOUT",
            options.http_timeout,
            MAX_HTTP_TIMEOUT,
        )?;
        let state = State {
            jwks_url: configured_url.clone().map(|url| (url, Found::Configured)),
            ..State::default()
        };
        Ok(Self {
            issuer,
            configured_url,
            transport: Transport::new(options.http_timeout),
            ttl: options.ttl,
            cooldown: options.refresh_cooldown,
            max_stale: options.max_stale,
            clock: options.clock,
            served: RwLock::new(None),
            version: AtomicU64::new(0),
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            state: Mutex::new(state),
            fetch_done: Condvar::new(),
        })
    }

    /// Loads keys now unless a fresh set is already served: discovery if needed, then the
    /// JWKS. Obeys single flight (joins a fetch in progress) and the cooldown (reports the
    /// last failure instead of fetching again too soon).
    ///
    /// Use it to warm up at startup or to check a setup (`m4-auth doctor`); lookups fetch on
    /// their own, so it is never required.
    ///
    /// ```no_run
    /// # use m4_jwks::{JwksCache, JwksOptions};
    /// let cache = JwksCache::new(JwksOptions::new("https://tenant.example.com/"))?;
    /// if let Err(e) = cache.prefetch() {
    ///     eprintln!("JWKS not reachable yet ({}): {e}", e.code());
    /// }
    /// # Ok::<(), m4_jwks::Error>(())
    /// ```
    ///
    /// # Errors
    /// The failure of the fetch (or of the last one, during the cooldown).
    pub fn prefetch(&self) -> Result<(), Error> {
        if self.current().is_some_and(|l| l.is_fresh(self.clock.now())) {
            return Ok(());
        }
        let outcome = self.refresh(true);
        if self.current().is_some_and(|l| l.is_fresh(self.clock.now())) {
            return Ok(());
        }
        Err(self.failure(&outcome))
    }

    /// A number that changes whenever the served key set changes: a fetched document that
    /// differs from the last one, or keys dropped past max stale. Starts at 0, before any key.
    ///
    /// A cache of verified tokens tags each entry with the generation read **before** the key
    /// lookup that verified it, and drops entries whose tag differs from the current value;
    /// the generation is bumped only after the new set is in place, so no entry verified by a
    /// removed key can keep the new tag.
    ///
    /// ```
    /// # use m4_jwks::{JwksCache, JwksOptions};
    /// let cache = JwksCache::new(JwksOptions::new("https://tenant.example.com/"))?;
    /// assert_eq!(cache.generation(), 0);
    /// # Ok::<(), m4_jwks::Error>(())
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A snapshot for health checks and `m4-auth doctor`.
    ///
    /// ```
    /// # use m4_jwks::{JwksCache, JwksOptions};
    /// let cache = JwksCache::new(
    ///     JwksOptions::new("https://tenant.example.com/").jwks_url("https://tenant.example.com/keys"),
    /// )?;
    /// let stats = cache.stats();
    /// assert_eq!(stats.fetch_count, 0);
    /// assert_eq!(stats.jwks_url.as_deref(), Some("https://tenant.example.com/keys"));
    /// assert!(stats.keys.is_empty());
    /// # Ok::<(), m4_jwks::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let now = self.clock.now();
        let current = self.current();
        let st = self.state.lock();
        Stats {
            taken_at: now,
            issuer: self.issuer.as_str().to_owned(),
            jwks_url: st
                .jwks_url
                .as_ref()
                .map(|(url, _)| url.as_str().to_owned())
                .or_else(|| current.as_ref().map(|l| l.url.clone())),
            fetch_count: st.fetch_count,
            failure_streak: st.failure_streak,
            fetch_in_progress: st.in_flight,
            last_success: st.last_success,
            last_error: st.last_error.as_ref().map(|(_, e)| e.to_string()),
            last_error_at: st.last_error.as_ref().map(|(at, _)| *at),
            keys: current
                .as_ref()
                .map(|l| l.keys.keys().cloned().collect())
                .unwrap_or_default(),
            skipped: current
                .as_ref()
                .map(|l| l.keys.skipped().to_vec())
                .unwrap_or_default(),
            serving_stale: current.as_ref().is_some_and(|l| !l.is_fresh(now)),
            generation: self.generation(),
        }
    }

    fn current(&self) -> Option<Arc<Loaded>> {
        self.served.read().clone()
    }

    /// The key for `kid` if a fresh served set answers for it without any network I/O, or
    /// `None` when [`resolve`](KeyResolver::resolve) would have to fetch or wait for a fetch
    /// (no set yet, an expired set, or a kid the set does not know). For async callers: a
    /// `Some` answer is final and as fast as a cache hit of `resolve`; on `None`, call
    /// `resolve` where blocking is allowed (a blocking thread pool).
    ///
    /// ```
    /// use m4_jwks::{JwksCache, JwksOptions};
    /// use m4_jwt_verify::Algorithm;
    ///
    /// let cache = JwksCache::new(JwksOptions::new("https://idp.example.com/"))?;
    /// assert!(cache.resolve_cached("k1", Algorithm::RS256).is_none()); // nothing fetched yet
    /// # Ok::<(), m4_jwks::Error>(())
    /// ```
    pub fn resolve_cached(
        &self,
        kid: &str,
        alg: Algorithm,
    ) -> Option<Result<Arc<VerifyingKey>, KeyLookupError>> {
        self.resolve_fresh(kid, alg)
    }

    /// The answer from a fresh served set, or `None` when the slow path must decide (no set,
    /// an expired one, or an unknown kid). Reads this thread's snapshot, taken again first if
    /// the served set changed since; falls back to the shared set under the read lock when
    /// the thread's slots are unavailable (thread teardown, re-entrant call).
    fn resolve_fresh(
        &self,
        kid: &str,
        alg: Algorithm,
    ) -> Option<Result<Arc<VerifyingKey>, KeyLookupError>> {
        let from_snapshot = SNAPSHOTS.try_with(|slots| {
            let mut slots = slots.try_borrow_mut().ok()?;
            // Read before the set: a snapshot is never older than the version it is tagged with.
            let version = self.version.load(Ordering::Acquire);
            let snapshot = slots.current(self.id, version, || self.current())?;
            Some(self.answer(snapshot.loaded.as_deref(), kid, alg, |shared| {
                snapshot.private_copy(shared)
            }))
        });
        match from_snapshot {
            Ok(Some(answer)) => answer,
            Ok(None) | Err(_) => {
                let served = self.served.read();
                self.answer(served.as_deref(), kid, alg, |_| None)
            }
        }
    }

    /// What a lookup in `loaded` answers if it is fresh and knows the kid; a compatible key
    /// is returned as its thread-private copy when `private` has one.
    fn answer(
        &self,
        loaded: Option<&Loaded>,
        kid: &str,
        alg: Algorithm,
        private: impl FnOnce(&Arc<VerifyingKey>) -> Option<Arc<VerifyingKey>>,
    ) -> Option<Result<Arc<VerifyingKey>, KeyLookupError>> {
        let loaded = loaded.filter(|l| l.is_fresh(self.clock.now()))?;
        if let Some(shared) = loaded.keys.get(kid)
            && shared.check_compatible(alg).is_ok()
            && let Some(copy) = private(shared)
        {
            return Some(Ok(copy));
        }
        match loaded.keys.resolve(kid, alg) {
            Err(KeyLookupError::UnknownKid) => None,
            answer => Some(answer),
        }
    }

    /// Everything but a hit in a fresh set.
    #[cold]
    fn resolve_slow(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        let now = self.clock.now();
        let outcome = match self.current() {
            // An expired set that still has the kid: serve it; refresh only if nobody is.
            Some(loaded)
                if loaded.is_usable(now)
                    && !matches!(
                        loaded.keys.resolve(kid, alg),
                        Err(KeyLookupError::UnknownKid)
                    ) =>
            {
                self.refresh(false)
            }
            // Cold start, an unknown kid (rotation?), or keys past max stale: the answer
            // depends on the fetch, so wait for one in progress.
            _ => self.refresh(true),
        };
        let now = self.clock.now();
        match self.current() {
            Some(loaded) if loaded.is_usable(now) => loaded.keys.resolve(kid, alg),
            Some(loaded) => {
                self.drop_expired(&loaded);
                let cause = self
                    .last_error()
                    .unwrap_or_else(|| Arc::new(self.failure(&outcome)));
                Err(unavailable(&Error::TooStale {
                    url: loaded.url.clone(),
                    age: now.saturating_duration_since(loaded.fetched_at),
                    limit: self.ttl.saturating_add(self.max_stale),
                    cause,
                }))
            }
            None => Err(unavailable(&self.failure(&outcome))),
        }
    }

    fn last_error(&self) -> Option<Arc<Error>> {
        self.state
            .lock()
            .last_error
            .as_ref()
            .map(|(_, e)| Arc::clone(e))
    }

    /// The error to report when no usable key set is served after `outcome`.
    fn failure(&self, outcome: &Outcome) -> Error {
        let in_progress = |waited| Error::FetchInProgress {
            source_url: self.source_url(),
            waited,
        };
        match outcome {
            Outcome::Fetched(Err(e)) => (**e).clone(),
            Outcome::WaitTimedOut(waited) => in_progress(*waited),
            Outcome::Busy => in_progress(Duration::ZERO),
            Outcome::CoolingDown(retry_in) => match self.last_error() {
                Some(cause) => Error::CoolingDown {
                    cause,
                    retry_in: *retry_in,
                },
                None => in_progress(Duration::ZERO),
            },
            Outcome::Fetched(Ok(())) | Outcome::Joined => match self.last_error() {
                Some(cause) => (*cause).clone(),
                None => in_progress(Duration::ZERO),
            },
        }
    }

    /// The JWKS URL if known, else the issuer (discovery pending).
    fn source_url(&self) -> String {
        match &self.state.lock().jwks_url {
            Some((url, _)) => url.as_str().to_owned(),
            None => self.issuer.as_str().to_owned(),
        }
    }

    /// Drops a set that is past max stale, if it is still the one served.
    fn drop_expired(&self, expired: &Arc<Loaded>) {
        let mut served = self.served.write();
        if served.as_ref().is_some_and(|cur| Arc::ptr_eq(cur, expired)) {
            *served = None;
            drop(served);
            self.version.fetch_add(1, Ordering::AcqRel);
            self.generation.fetch_add(1, Ordering::AcqRel);
            tracing::error!(
                jwks_url = %expired.url,
                "JWKS keys dropped: past TTL plus max stale and refreshing keeps failing"
            );
        }
    }

    /// Runs a fetch if single flight and the cooldown allow it, or waits for the one running
    /// (when `wait`), bounded by the HTTP timeout.
    fn refresh(&self, wait: bool) -> Outcome {
        let mut st = self.state.lock();
        if st.in_flight {
            if !wait {
                return Outcome::Busy;
            }
            let target = st.completed + 1;
            let started = Instant::now();
            let deadline = started.checked_add(self.transport.timeout());
            while st.completed < target {
                let timed_out = match deadline {
                    Some(deadline) => self.fetch_done.wait_until(&mut st, deadline).timed_out(),
                    None => {
                        self.fetch_done.wait(&mut st);
                        false
                    }
                };
                if timed_out && st.completed < target {
                    return Outcome::WaitTimedOut(started.elapsed());
                }
            }
            return Outcome::Joined;
        }
        let now = self.clock.now();
        if let Some(last) = st.last_attempt {
            match last.checked_add(self.cooldown) {
                Some(next) if now < next => return Outcome::CoolingDown(next - now),
                Some(_) => {}
                None => return Outcome::CoolingDown(Duration::MAX),
            }
        }
        st.in_flight = true;
        st.last_attempt = Some(now);
        st.fetch_count += 1;
        let known = st.jwks_url.clone();
        drop(st);

        let mut flight = Flight {
            cache: self,
            landed: false,
        };
        let (remember, result) = self.fetch(known);
        let result = self.land(remember, result);
        flight.landed = true;
        Outcome::Fetched(result)
    }

    /// Discovery (unless the URL is known), GET, parse. Holds no lock. Returns the URL to
    /// use next time (`None`: discover again) and the result.
    fn fetch(
        &self,
        known: Option<(Endpoint, Found)>,
    ) -> (Option<(Endpoint, Found)>, Result<Fetched, Error>) {
        let (url, found) = match known {
            Some(known) => known,
            None => match discovery::discover(&self.transport, &self.issuer) {
                Ok(found) => found,
                Err(e) => return (None, Err(e)),
            },
        };
        let body = match self.transport.get(&url) {
            Ok(body) => body,
            Err(e) if e.is_not_found() => {
                // The JWKS moved or never existed there: discover again next time.
                let forget = match found {
                    Found::Configured => Some((url, found)),
                    Found::Document | Found::Fallback => None,
                };
                let e = match found {
                    Found::Fallback => discovery::nothing_found(&self.issuer),
                    Found::Configured | Found::Document => e,
                };
                return (forget, Err(e));
            }
            Err(e) => return (Some((url, found)), Err(e)),
        };
        let parsed = match JwkSet::from_json(&body) {
            Ok(keys) if keys.is_empty() => Err(Error::NoUsableKeys {
                url: url.as_str().to_owned(),
                skipped: keys
                    .skipped()
                    .iter()
                    .map(|s| (s.kid.as_deref().map(shown), s.reason.to_string()))
                    .collect(),
            }),
            Ok(keys) => Ok(keys),
            Err(problem) => Err(Error::JwksDocument {
                url: url.as_str().to_owned(),
                problem,
            }),
        };
        match parsed {
            Ok(keys) => (Some((url.clone(), found)), Ok(Fetched { url, body, keys })),
            Err(e) => (Some((url, found)), Err(e)),
        }
    }

    /// Records a fetch's result: a new served set, or the failure.
    fn land(
        &self,
        remember: Option<(Endpoint, Found)>,
        result: Result<Fetched, Error>,
    ) -> Result<(), Arc<Error>> {
        let now = self.clock.now();
        let mut st = self.state.lock();
        st.jwks_url = remember;
        let outcome = match result {
            Ok(Fetched { url, body, keys }) => {
                let previous = self.current();
                let changed = previous.as_ref().is_none_or(|p| p.body != body);
                let fresh_until = now.checked_add(self.ttl);
                let usable_until = fresh_until.and_then(|t| t.checked_add(self.max_stale));
                let loaded = Loaded {
                    keys,
                    url: url.as_str().to_owned(),
                    body,
                    fetched_at: now,
                    fresh_until,
                    usable_until,
                };
                if changed {
                    tracing::info!(
                        jwks_url = %loaded.url,
                        keys = loaded.keys.len(),
                        skipped = loaded.keys.skipped().len(),
                        "JWKS loaded"
                    );
                }
                if st.failure_streak > 0 {
                    tracing::info!(
                        jwks_url = %loaded.url,
                        failures = st.failure_streak,
                        "JWKS fetch recovered"
                    );
                }
                *self.served.write() = Some(Arc::new(loaded));
                self.version.fetch_add(1, Ordering::AcqRel);
                if changed {
                    self.generation.fetch_add(1, Ordering::AcqRel);
                }
                st.last_success = Some(now);
                st.failure_streak = 0;
                Ok(())
            }
            Err(e) => {
                let serving = self.current().is_some_and(|l| l.is_usable(now));
                if st.failure_streak == 0 {
                    tracing::warn!(
                        error = %e,
                        serving_cached_keys = serving,
                        "JWKS fetch failed; retrying at most once per cooldown"
                    );
                } else {
                    tracing::debug!(error = %e, failures = st.failure_streak + 1, "JWKS fetch failed again");
                }
                st.failure_streak = st.failure_streak.saturating_add(1);
                let e = Arc::new(e);
                st.last_error = Some((now, Arc::clone(&e)));
                Err(e)
            }
        };
        st.in_flight = false;
        st.completed += 1;
        drop(st);
        self.fetch_done.notify_all();
        outcome
    }
}

/// Ends a fetch even if it panicked, so waiters are released and the next fetch can start.
struct Flight<'a> {
    cache: &'a JwksCache,
    landed: bool,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if !self.landed {
            let mut st = self.cache.state.lock();
            st.in_flight = false;
            st.completed += 1;
            drop(st);
            self.cache.fetch_done.notify_all();
        }
    }
}

impl KeyResolver for JwksCache {
    /// The key for `kid`, compatible with `alg`.
    ///
    /// A hit in a fresh set reads the calling thread's snapshot of the set, takes no lock,
    /// writes no memory shared with other threads, and allocates nothing (once the thread has
    /// its snapshot). Otherwise: an expired set still answers while one thread refreshes it;
    /// an unknown kid triggers at most one refetch per cooldown; no usable set at all is
    /// [`KeyLookupError::Unavailable`], whose reason names the URL and the cause.
    fn resolve(&self, kid: &str, alg: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        if let Some(answer) = self.resolve_fresh(kid, alg) {
            return answer;
        }
        self.resolve_slow(kid, alg)
    }
}

/// Source of [`JwksCache`] ids.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(0);

/// Snapshots kept per thread: one per cache the thread uses, up to this many (the oldest is
/// replaced), so a thread bounds what it holds from caches long dropped.
const SNAPSHOT_SLOTS: usize = 4;

thread_local! {
    static SNAPSHOTS: RefCell<Slots> = const { RefCell::new(Slots { slots: Vec::new(), next: 0 }) };
}

/// One thread's view of one cache's served set.
///
/// Two threads that clone the same `Arc` write the same reference count, and two threads that
/// take the same read lock write the same reader count: either bounces one cache line between
/// their cores on every lookup. A snapshot avoids both: it holds its own `Arc` of the served
/// set (cloned once per change) and its own copy of every key, whose `Arc` only this thread
/// clones.
struct Snapshot {
    cache: u64,
    /// The cache's `version` the snapshot was taken at (or before).
    version: u64,
    loaded: Option<Arc<Loaded>>,
    /// (address of the shared key, this thread's copy of it).
    private: Vec<(*const VerifyingKey, Arc<VerifyingKey>)>,
}

impl Snapshot {
    fn take(cache: u64, version: u64, loaded: Option<Arc<Loaded>>) -> Self {
        let private = loaded
            .as_ref()
            .map(|l| {
                l.keys
                    .keys()
                    .map(|k| (Arc::as_ptr(k), Arc::new(VerifyingKey::clone(k))))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            cache,
            version,
            loaded,
            private,
        }
    }

    /// This thread's copy of a key of the snapshot's set.
    fn private_copy(&self, shared: &Arc<VerifyingKey>) -> Option<Arc<VerifyingKey>> {
        self.private
            .iter()
            .find(|(ptr, _)| std::ptr::eq(*ptr, Arc::as_ptr(shared)))
            .map(|(_, copy)| Arc::clone(copy))
    }
}

/// A thread's snapshots, at most [`SNAPSHOT_SLOTS`].
struct Slots {
    slots: Vec<Snapshot>,
    /// The slot to replace next when all are taken.
    next: usize,
}

impl Slots {
    /// The snapshot of cache `cache` at `version`, taken again (with `load`) if missing or
    /// older.
    fn current(
        &mut self,
        cache: u64,
        version: u64,
        load: impl FnOnce() -> Option<Arc<Loaded>>,
    ) -> Option<&Snapshot> {
        let at = match self.slots.iter().position(|s| s.cache == cache) {
            Some(at) => at,
            None if self.slots.len() < SNAPSHOT_SLOTS => {
                self.slots.push(Snapshot::take(cache, version, load()));
                return self.slots.last();
            }
            None => {
                let at = self.next % SNAPSHOT_SLOTS;
                self.next = at + 1;
                let slot = self.slots.get_mut(at)?;
                *slot = Snapshot::take(cache, version, load());
                return Some(slot);
            }
        };
        let slot = self.slots.get_mut(at)?;
        if slot.version != version {
            *slot = Snapshot::take(cache, version, load());
        }
        Some(slot)
    }
}

/// A health snapshot of a [`JwksCache`], from [`JwksCache::stats`].
///
/// Instants come from the cache's clock; subtract them from [`Stats::taken_at`] for ages.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stats {
    /// When the snapshot was taken.
    pub taken_at: Instant,
    /// The configured issuer.
    pub issuer: String,
    /// The JWKS URL in use: configured, or found by discovery; `None` before discovery.
    pub jwks_url: Option<String>,
    /// Fetches started (each may include discovery requests).
    pub fetch_count: u64,
    /// Consecutive failed fetches, 0 after a success.
    pub failure_streak: u32,
    /// Whether a fetch is running right now.
    pub fetch_in_progress: bool,
    /// When the last successful fetch completed.
    pub last_success: Option<Instant>,
    /// The last fetch failure's message (kept after a later success, with its time).
    pub last_error: Option<String>,
    /// When the last failure happened.
    pub last_error_at: Option<Instant>,
    /// The keys served, in document order.
    pub keys: Vec<Arc<VerifyingKey>>,
    /// The JWKS members that were skipped, each with its reason.
    pub skipped: Vec<SkippedKey>,
    /// Whether the served keys are past their TTL (refreshes failing or cooling down).
    pub serving_stale: bool,
    /// [`JwksCache::generation`] at the time of the snapshot.
    pub generation: u64,
}

fn unavailable(error: &Error) -> KeyLookupError {
    KeyLookupError::Unavailable {
        reason: error.to_string(),
    }
}

fn check_duration(option: &'static str, got: Duration, max: Duration) -> Result<(), Error> {
    if got < MIN_DURATION {
        return Err(Error::InvalidOption {
            option,
            expected: "at least 1 ms",
            got,
        });
    }
    if got > max {
        return Err(Error::InvalidOption {
            option,
            expected: "at most 1 hour",
            got,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_is_shareable_across_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<JwksCache>();
        shareable::<Stats>();
    }

    fn loaded() -> Arc<Loaded> {
        let body = include_bytes!("../../../tests/fixtures/keys/jwks.json").to_vec();
        Arc::new(Loaded {
            keys: JwkSet::from_json(&body).unwrap(),
            url: "https://idp.example.com/keys".to_owned(),
            body,
            fetched_at: Instant::now(),
            fresh_until: None,
            usable_until: None,
        })
    }

    #[test]
    fn snapshots_are_per_cache_retaken_on_a_new_version_and_bounded() {
        let mut slots = Slots {
            slots: Vec::new(),
            next: 0,
        };
        let set = loaded();
        let shared = set.keys.get("ec-p256").unwrap().clone();
        let snap = slots.current(7, 1, || Some(Arc::clone(&set))).unwrap();
        let copy = snap.private_copy(&shared).unwrap();
        // A copy of the same key, but an `Arc` of this thread's own.
        assert!(!Arc::ptr_eq(&copy, &shared));
        assert_eq!(copy.kid(), Some("ec-p256"));
        assert_eq!(copy.kind(), shared.kind());
        // Same version: the snapshot is kept (load is not called).
        let again = slots.current(7, 1, || panic!("reloaded at the same version"));
        assert!(Arc::ptr_eq(
            &again.unwrap().private_copy(&shared).unwrap(),
            &copy
        ));
        // New version: taken again (here: the set was dropped).
        assert!(slots.current(7, 2, || None).unwrap().loaded.is_none());
        // Other caches get their own slots, at most SNAPSHOT_SLOTS of them.
        for cache in 100..110 {
            let snap = slots.current(cache, 0, || Some(Arc::clone(&set))).unwrap();
            assert_eq!(snap.cache, cache);
        }
        assert_eq!(slots.slots.len(), SNAPSHOT_SLOTS);
        // A key of another set has no private copy here.
        let other = loaded();
        assert!(
            slots
                .current(109, 0, || panic!("reloaded"))
                .unwrap()
                .private_copy(other.keys.get("ec-p256").unwrap())
                .is_none()
        );
    }

    #[test]
    fn durations_are_validated() {
        let base = || JwksOptions::new("https://idp.example.com/");
        let invalid = |options: JwksOptions| match JwksCache::new(options) {
            Err(Error::InvalidOption { option, .. }) => option,
            other => panic!("expected InvalidOption, got {other:?}"),
        };
        assert_eq!(
            invalid(base().ttl(Duration::ZERO)),
            "M4_OAUTH2_JWKS_CACHE_TTL"
        );
        assert_eq!(
            invalid(base().refresh_cooldown(Duration::ZERO)),
            "M4_OAUTH2_JWKS_REFRESH_COOLDOWN"
        );
        assert_eq!(
            invalid(base().http_timeout(Duration::ZERO)),
            "M4_OAUTH2_HTTP_TIMEOUT"
        );
        assert_eq!(
            invalid(base().http_timeout(Duration::from_secs(3601))),
            "M4_OAUTH2_HTTP_TIMEOUT"
        );
        // Huge values never overflow an Instant: they mean "never".
        JwksCache::new(
            base()
                .ttl(Duration::MAX)
                .refresh_cooldown(Duration::MAX)
                .max_stale(Duration::MAX),
        )
        .unwrap();
        JwksCache::new(base().max_stale(Duration::ZERO)).unwrap();
    }
}
