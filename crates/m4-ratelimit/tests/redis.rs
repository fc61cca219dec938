//! The Redis backend against a real `redis-server` that each test starts on a free loopback
//! port: exactness, one limit shared by two limiters, key expiry, fallback and recovery when
//! Redis dies or stalls, once-per-outage logging, and configuration errors.
//!
//! Redis decides with its own clock, so these tests use short real windows and a few short
//! sleeps. A scenario whose verdict depends on real time runs through `in_real_time`: it
//! measures its own timing first, and a machine stall is retried (up to five times) instead of
//! being judged as a wrong answer. Without `redis-server` on PATH they print `SKIPPED` (and
//! fail when `CI` is set).
#![cfg(feature = "redis")]
#![cfg(test)]

#[path = "support/redis_server.rs"]
#[allow(dead_code, reason = "shared with the bench, which uses other parts")]
mod redis_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use m4_ratelimit::{
    Decision, Error, FakeClock, MemoryLimiter, RateLimiter, RedisBuilder, RedisLimiter,
};
use redis_server::{Client, RedisServer, free_port};

const MINUTE: Duration = Duration::from_secs(60);

fn limiter(server: &RedisServer, limit: u64, window: Duration) -> RedisBuilder {
    RedisLimiter::builder(&server.url(), limit, window)
}

fn allowed(limiter: &impl RateLimiter, key: &str, tries: usize) -> usize {
    (0..tries)
        .filter(|_| limiter.check(key).is_allowed())
        .count()
}

fn remaining(decision: Decision) -> Option<u64> {
    match decision {
        Decision::Allowed { remaining, .. } => Some(remaining),
        Decision::Limited { .. } => None,
    }
}

/// The machine was too slow for a real-time scenario to prove anything (not a wrong answer).
struct TooSlow(String);

/// Runs a scenario that depends on real time up to five times, each attempt on fresh keys
/// (it gets the attempt number). A scenario checks its timing first and returns `TooSlow` when
/// a stall on this 2-core machine broke it; a wrong answer within the timing panics at once.
fn in_real_time(mut scenario: impl FnMut(usize) -> Result<(), TooSlow>) {
    let mut stalls = Vec::new();
    for attempt in 0..5 {
        match scenario(attempt) {
            Ok(()) => return,
            Err(TooSlow(why)) => {
                eprintln!("attempt {attempt} was too slow to judge, trying again: {why}");
                stalls.push(why);
            }
        }
    }
    panic!("too slow to judge five times in a row: {stalls:?}");
}

/// Milliseconds, for timing budgets.
const fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// `Err(TooSlow)` unless `took` is under `budget`.
fn within(what: &str, took: Duration, budget: Duration) -> Result<(), TooSlow> {
    if took < budget {
        Ok(())
    } else {
        Err(TooSlow(format!("{what} took {took:?}, budget {budget:?}")))
    }
}

#[test]
fn a_burst_of_n_then_limited_then_allowed_once_the_window_has_passed() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for limit in [1_u64, 5, 17, 100] {
        let window = Duration::from_millis(800);
        let limiter = limiter(&server, limit, window).build().unwrap();
        in_real_time(|attempt| {
            let key = format!("burst-{limit}-{attempt}");
            let started = Instant::now();
            let burst: Vec<Decision> = (0..=limit).map(|_| limiter.check(&key)).collect();
            let again = limiter.check(&key);
            // Judged only if the whole burst stayed well inside one window.
            within("the burst", started.elapsed(), window / 2)?;
            for (i, decision) in (0..limit).zip(&burst) {
                assert_eq!(
                    remaining(*decision),
                    Some(limit - i - 1),
                    "request {i} of {limit}"
                );
            }
            let Some(&Decision::Limited { retry_after }) = burst.last() else {
                panic!("request {limit} allowed");
            };
            // The whole burst is one window old at most: the earliest group frees by then.
            assert!(
                retry_after <= window && retry_after > Duration::ZERO,
                "{retry_after:?}"
            );
            assert!(!again.is_allowed());
            thread::sleep(retry_after + Duration::from_millis(30));
            assert!(
                limiter.check(&key).is_allowed(),
                "limit {limit} after the window"
            );
            Ok(())
        });
        assert_eq!(limiter.status().fallback_checks, 0);
    }
}

/// The Redis backend answers `remaining` exactly as the in-memory one does on the same burst:
/// one algorithm, two homes.
#[test]
fn same_answers_as_the_memory_limiter_on_a_burst() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for limit in [1_u64, 7, 16, 17, 33, 100, 1_000] {
        let redis = limiter(&server, limit, MINUTE).build().unwrap();
        let memory = MemoryLimiter::builder(limit, MINUTE)
            .clock(FakeClock::new())
            .build()
            .unwrap();
        let key = format!("same-{limit}");
        for i in 0..=limit {
            assert_eq!(
                remaining(redis.check(&key)),
                remaining(memory.check(&key)),
                "request {i} of {limit}"
            );
        }
    }
}

/// Requests spread over the window: the oldest half frees first, and only that half, so a
/// fixed window's doubled burst at its edge never happens.
#[test]
fn the_window_slides() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let window = Duration::from_millis(1_000);
    // N = 32: groups of 2, so this also runs the grouped path.
    let limiter = limiter(&server, 32, window).build().unwrap();
    in_real_time(|attempt| {
        let key = format!("slide-{attempt}");
        let start = Instant::now();
        // First half at about 0 ms: must be done by 100 ms, so that all of it has stopped
        // counting at 1,100 ms.
        let first = allowed(&limiter, &key, 16);
        within("the first half", start.elapsed(), ms(100))?;
        thread::sleep(Duration::from_millis(500).saturating_sub(start.elapsed()));
        // Second half from 500 ms; its oldest group is complete once two requests are in.
        let second = allowed(&limiter, &key, 2);
        let oldest_second_group = start.elapsed();
        let second = second + allowed(&limiter, &key, 14);
        let full = limiter.check(&key);
        // The refusal is judged only while the first half still counts.
        within("the second half", start.elapsed(), ms(950))?;
        // Past the first half's expiry, well before the second half's.
        thread::sleep(Duration::from_millis(1_100).saturating_sub(start.elapsed()));
        let third = allowed(&limiter, &key, 20);
        let before_last = start.elapsed();
        let last = limiter.check(&key);
        within("the third round", start.elapsed(), ms(1_450))?;

        assert_eq!((first, second), (16, 16));
        assert!(
            !full.is_allowed(),
            "a 33rd request in the window was allowed"
        );
        assert_eq!(third, 16, "only the first half frees");
        let Decision::Limited { retry_after } = last else {
            panic!("a 33rd request in the window was allowed");
        };
        // The second half's oldest group frees one window after its newest request, which
        // Redis recorded before `oldest_second_group` (plus a little for the two clocks).
        let bound = (oldest_second_group + window).saturating_sub(before_last);
        assert!(
            retry_after > Duration::ZERO && retry_after <= bound + Duration::from_millis(5),
            "{retry_after:?} (bound {bound:?})"
        );
        Ok(())
    });
}

/// Two limiters (two processes, in production) on one Redis allow N in total, not 2N, from
/// several threads, and agree although their own clocks disagree by an hour.
#[test]
fn two_limiters_sharing_one_redis_allow_n_in_total() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let skewed = FakeClock::new();
    skewed.advance(Duration::from_secs(3_600));
    let a = Arc::new(limiter(&server, 50, MINUTE).build().unwrap());
    let b = Arc::new(limiter(&server, 50, MINUTE).clock(skewed).build().unwrap());
    // Alternating, one thread.
    let mut total = 0;
    for _ in 0..40 {
        total += usize::from(a.check("shared").is_allowed());
        total += usize::from(b.check("shared").is_allowed());
    }
    assert_eq!(total, 50);
    // Racing, four threads, two per limiter, on a fresh key.
    let count = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let limiter: Arc<dyn RateLimiter> = if i % 2 == 0 { a.clone() } else { b.clone() };
            let count = Arc::clone(&count);
            thread::spawn(move || {
                for _ in 0..60 {
                    if limiter.check("raced").is_allowed() {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::Relaxed), 50);
    assert_eq!(a.status().fallback_checks + b.status().fallback_checks, 0);
}

#[test]
fn keys_are_prefixed_and_expire_with_their_last_request() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut client = server.client();
    let pttl = |client: &mut redis::Connection, key: &str| -> i64 {
        redis::cmd("PTTL").arg(key).query(client).unwrap()
    };

    let long = limiter(&server, 2, Duration::from_secs(3_600))
        .build()
        .unwrap();
    assert!(long.check("user-1").is_allowed());
    let ttl = pttl(&mut client, "m4:rl:user-1");
    assert!((3_599_000..=3_600_000).contains(&ttl), "PTTL {ttl}");
    let ttl_in_s: i64 = redis::cmd("TTL")
        .arg("m4:rl:user-1")
        .query(&mut client)
        .unwrap();
    assert!((3_598..=3_600).contains(&ttl_in_s), "TTL {ttl_in_s}");

    let short = limiter(&server, 2, Duration::from_millis(300))
        .prefix("m4-test:")
        .build()
        .unwrap();
    in_real_time(|attempt| {
        let user = format!("user-2-{attempt}");
        let started = Instant::now();
        let answers = [short.check(&user), short.check(&user), short.check(&user)];
        let ttl = pttl(&mut client, &format!("m4-test:{user}"));
        // Judged only if all of it happened well inside the 300 ms window.
        within("three checks and PTTL", started.elapsed(), ms(200))?;
        let allowed: Vec<bool> = answers.iter().map(|d| d.is_allowed()).collect();
        assert_eq!(allowed, [true, true, false]);
        assert!((1..=300).contains(&ttl), "PTTL {ttl}");
        // No key for this user under the default prefix.
        assert_eq!(pttl(&mut client, &format!("m4:rl:{user}")), -2);
        thread::sleep(Duration::from_millis(350));
        let exists: i64 = redis::cmd("EXISTS")
            .arg(format!("m4-test:{user}"))
            .query(&mut client)
            .unwrap();
        assert_eq!(exists, 0, "the key outlived its window");
        Ok(())
    });
    // Nothing without an expiry is ever left behind.
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut client).unwrap();
    for key in keys {
        assert!(pttl(&mut client, &key) > 0, "{key} has no expiry");
    }
}

/// State left by another limit (N changed between deployments) is read conservatively, never
/// as a fresh start; and a value that is not ours is an error, answered by the fallback.
#[test]
fn foreign_or_older_state_is_never_read_as_a_fresh_start() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let old = limiter(&server, 100, MINUTE).build().unwrap();
    assert_eq!(allowed(&old, "changed", 40), 40);
    // N lowered to 30: the 40 requests still count, so nothing is allowed.
    let new = limiter(&server, 30, MINUTE).build().unwrap();
    assert!(!new.check("changed").is_allowed());
    // N raised to 1,000: 960 more, not 1,000.
    let raised = limiter(&server, 1_000, MINUTE).build().unwrap();
    assert_eq!(allowed(&raised, "changed", 1_000), 960);

    let mut client = server.client();
    redis::cmd("SET")
        .arg("m4:rl:squatted")
        .arg("not ours")
        .query::<()>(&mut client)
        .unwrap();
    let limiter = limiter(&server, 2, MINUTE).build().unwrap();
    assert_eq!(
        allowed(&limiter, "squatted", 5),
        2,
        "the fallback still limits"
    );
    let status = limiter.status();
    assert!(!status.available);
    let error = status.last_error.unwrap();
    assert!(error.contains("is not rate-limit state"), "{error}");
}

/// Redis killed mid-run: checks fall back to this process with the limit still enforced (and
/// what Redis already allowed here still counting), one warning for the whole outage, then
/// Redis is used again once it is back on the same port. The password never shows.
#[test]
fn redis_killed_then_restarted_falls_back_and_recovers() {
    let port = free_port();
    let Some(mut server) = RedisServer::start_with(port, Some("hunter2")) else {
        return;
    };
    let events = m4_auth_testkit::logs::Recorder::default();
    let _guard = tracing::subscriber::set_default(events.clone());
    let backoff = Duration::from_millis(200);
    let limiter = limiter(&server, 3, MINUTE)
        .retry_backoff(backoff)
        .build()
        .unwrap();
    assert!(limiter.ping().is_ok());
    assert_eq!(allowed(&limiter, "alice", 2), 2);

    server.kill();
    // Alice had 2 of 3 through Redis: one more here, then limited. Nobody is locked out.
    assert_eq!(allowed(&limiter, "alice", 5), 1);
    assert_eq!(allowed(&limiter, "bob", 5), 3);
    let status = limiter.status();
    assert!(!status.available);
    assert_eq!(status.outages, 1);
    assert_eq!(status.fallback_checks, 10);
    assert!(status.down_for.is_some());
    let err = limiter.ping().unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!(
            "Redis at redis://[redacted]@127.0.0.1:{port}/0 is unavailable: "
        )),
        "{shown}"
    );
    thread::sleep(backoff + Duration::from_millis(20));
    // Past the back-off, still dead: one more failure, same outage.
    assert!(limiter.check("carol").is_allowed());
    assert_eq!(limiter.status().outages, 1);
    assert_eq!(events.count(tracing::Level::WARN), 1, "{}", events.text());

    let server = RedisServer::start_with(port, Some("hunter2")).unwrap();
    thread::sleep(backoff + Duration::from_millis(20));
    // Redis is back and empty, but bob's 3 requests made during the outage still count here.
    assert!(!limiter.check("bob").is_allowed());
    let status = limiter.status();
    assert!(status.available, "{status:?}");
    assert_eq!(status.down_for, None);
    assert_eq!(allowed(&limiter, "dave", 5), 3);
    let mut client = server.client();
    let exists: i64 = redis::cmd("EXISTS")
        .arg("m4:rl:dave")
        .query(&mut client)
        .unwrap();
    assert_eq!(exists, 1, "dave's checks did not reach Redis");
    assert_eq!(events.count(tracing::Level::WARN), 1);
    assert_eq!(events.count(tracing::Level::INFO), 1);
    let logged = events.text();
    assert!(!logged.contains("hunter2"), "{logged}");
    assert!(logged.contains("[redacted]"), "{logged}");
    assert!(!format!("{limiter:?}").contains("hunter2"));
}

/// A Redis that accepts connections but never answers (stopped with SIGSTOP): a check waits
/// one call timeout, then every check during the back-off skips Redis at once.
#[test]
fn a_stalled_redis_costs_one_timeout_per_back_off() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // Long enough that a busy 2-core machine does not blur "waited on Redis" and "skipped it".
    let timeout = Duration::from_millis(250);
    let backoff = Duration::from_secs(1);
    in_real_time(|attempt| {
        let key = format!("erin-{attempt}");
        let limiter = limiter(&server, 5, MINUTE)
            .call_timeout(timeout)
            .connect_timeout(timeout)
            .retry_backoff(backoff)
            .build()
            .unwrap();
        assert!(limiter.check(&key).is_allowed());

        server.signal("STOP");
        let started = Instant::now();
        let stalled = limiter.check(&key);
        let first = started.elapsed();
        let started = Instant::now();
        let during = allowed(&limiter, &key, 10);
        let skipped = started.elapsed();
        let reason = limiter.status().last_error;
        server.signal("CONT");
        // Checks that waited on the stalled Redis would take a timeout each (2.5 s); a stall
        // of the machine is retried, a real wait fails all five attempts.
        within("ten checks during the back-off", skipped, timeout)?;
        assert!(stalled.is_allowed());
        assert!(first >= timeout, "{first:?}");
        assert_eq!(during, 3);
        let reason = reason.unwrap();
        assert!(
            reason.starts_with("no answer within the timeouts"),
            "{reason}"
        );

        thread::sleep(backoff + Duration::from_millis(20));
        assert!(!limiter.check(&key).is_allowed());
        assert!(limiter.status().available);
        assert!(limiter.ping().is_ok());
        Ok(())
    });
}

/// Many threads on a stalled Redis with one connection: the first waits one timeout, and
/// those queued behind it give up when it fails instead of each waiting a timeout in turn.
#[test]
fn checks_queued_behind_a_stalled_redis_do_not_wait_in_turn() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // In turn, 8 checks would take 8 timeouts (2 s): far from the bounds below, however busy
    // the machine.
    let timeout = Duration::from_millis(250);
    let limiter = limiter(&server, 1_000, MINUTE)
        .pool_size(1)
        .call_timeout(timeout)
        .connect_timeout(timeout)
        .build()
        .unwrap();
    assert!(limiter.check("kim").is_allowed());
    server.signal("STOP");
    let started = Instant::now();
    let slowest = thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let begun = Instant::now();
                    assert!(limiter.check("kim").is_allowed());
                    begun.elapsed()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .max()
            .unwrap()
    });
    // In turn, 8 checks would take 8 timeouts; now about one (plus scheduling on a busy box).
    assert!(slowest < timeout * 3, "slowest check {slowest:?}");
    assert!(started.elapsed() < timeout * 4, "{:?}", started.elapsed());
    assert_eq!(limiter.status().fallback_checks, 8);
    server.signal("CONT");
}

/// `rediss://` works (rustls on aws-lc-rs) and checks the server's certificate: trusted
/// through a private CA, refused without it.
#[test]
fn rediss_checks_the_server_certificate() {
    let Some(server) = redis_server::start_tls() else {
        return;
    };
    assert!(server.url().starts_with("rediss://"));
    let ca = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tls/ca.pem"
    ))
    .unwrap();
    let trusted = limiter(&server, 3, MINUTE)
        .tls_root_certificate(ca)
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    trusted.ping().unwrap();
    assert_eq!(allowed(&trusted, "tls", 5), 3);
    assert_eq!(trusted.status().fallback_checks, 0);
    // A second limiter sees the first one's requests: they went to this Redis.
    let ca_again = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/tls/ca.pem"
    ))
    .unwrap();
    let other = limiter(&server, 3, MINUTE)
        .tls_root_certificate(ca_again)
        .build()
        .unwrap();
    assert!(!other.check("tls").is_allowed());

    // The system's roots do not know the test CA: no connection, checks answered here.
    let untrusted = limiter(&server, 3, MINUTE).build().unwrap();
    let err = untrusted.ping().unwrap_err().to_string();
    assert!(err.contains("is unavailable"), "{err}");
    assert_eq!(allowed(&untrusted, "tls-2", 5), 3);
    assert!(!untrusted.status().available);
}

/// The least-privilege ACL user documented in docs/deployment.md is enough: no fallback.
#[test]
fn the_documented_acl_is_enough() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut admin = server.client();
    // The rules of docs/deployment.md, one argument each.
    let rules = "m4 on >s3cret resetkeys ~m4:rl:* resetchannels -@all \
                 +evalsha +script|load +get +set +time +ping +select";
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(rules.split_whitespace().collect::<Vec<_>>())
        .query::<()>(&mut admin)
        .unwrap();
    let url = format!("redis://m4:s3cret@127.0.0.1:{}/0", server.port());
    let limiter = RedisLimiter::builder(&url, 3, MINUTE).build().unwrap();
    limiter.ping().unwrap();
    assert_eq!(allowed(&limiter, "acl", 5), 3);
    // After a restart-like script flush, EVALSHA misses and the script is loaded again.
    redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query::<()>(&mut admin)
        .unwrap();
    assert!(!limiter.check("acl").is_allowed());
    assert!(limiter.check("acl-2").is_allowed());
    let status = limiter.status();
    assert_eq!(status.fallback_checks, 0, "{status:?}");
    // And nothing outside the prefix is reachable with it.
    let mut m4 = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let denied = redis::cmd("GET")
        .arg("other:key")
        .query::<Option<String>>(&mut m4);
    assert!(denied.is_err());
}

/// A "Redis" that accepts connections and hangs up at once: with a fake clock, the limiter
/// connects once, then not again until the back-off has passed, however many checks come in;
/// then once per back-off.
#[test]
fn a_dead_redis_is_tried_once_per_back_off() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    thread::spawn(move || {
        for stream in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let clock = FakeClock::new();
    let limiter = RedisLimiter::builder(&format!("redis://127.0.0.1:{port}/0"), 5, MINUTE)
        .retry_backoff(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(allowed(&limiter, "gina", 20), 5);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_millis(999));
    assert_eq!(allowed(&limiter, "hugo", 20), 5);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    for round in 2..=4 {
        clock.advance(Duration::from_secs(1));
        limiter.check("ivan");
        limiter.check("ivan");
        assert_eq!(accepted.load(Ordering::SeqCst), round);
    }
    let status = limiter.status();
    assert_eq!((status.outages, status.fallback_checks), (1, 46));
    assert_eq!(status.down_for, Some(Duration::from_millis(3_999)));
    assert!(!status.available);
}

/// Nothing listening: building succeeds (no I/O), checks are answered in-process at once.
#[test]
fn no_redis_at_start_is_not_a_lockout() {
    let down = m4_auth_testkit::closed_addr();
    let limiter = RedisLimiter::builder(&format!("redis://{down}/0"), 2, MINUTE)
        .build()
        .unwrap();
    assert_eq!(allowed(&limiter, "frank", 4), 2);
    let status = limiter.status();
    assert!(!status.available);
    assert_eq!(status.outages, 1);
    assert_eq!(status.fallback_checks, 4);
}

#[test]
fn bad_urls_and_settings_are_clear_configuration_errors() {
    let url_error = |url: &str| {
        let err = RedisLimiter::builder(url, 100, MINUTE).build().unwrap_err();
        assert!(
            matches!(err, Error::InvalidRedisUrl { .. }),
            "{url}: {err:?}"
        );
        assert_eq!(err.code(), None);
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        format!("{url:?}\n  {err}")
    };
    let urls = [
        "",
        "memory",
        "http://cache.internal:6379",
        "unix:///run/redis/redis.sock",
        "redis://",
        "redis://:hunter2@",
        "redis://cache.internal:99999",
        "redis://cache.internal:6379/x",
        "redis://:hunter2@cache.internal/0?protocol=resp3",
        "rediss://cache.internal#insecure",
        "redis://cache internal",
        "redis://[::1",
    ];
    let text: Vec<String> = urls.into_iter().map(url_error).collect();
    let text = text.join("\n");
    insta::assert_snapshot!("bad_redis_urls", text);

    let setting_error = |name: &str, builder: RedisBuilder| {
        let err = builder.build().unwrap_err();
        format!("{name}\n  {err}")
    };
    let base = || RedisLimiter::builder("redis://127.0.0.1:6379/0", 100, MINUTE);
    let settings = [
        setting_error("empty prefix", base().prefix("")),
        setting_error(
            "zero connect timeout",
            base().connect_timeout(Duration::ZERO),
        ),
        setting_error(
            "sub-millisecond call timeout",
            base().call_timeout(Duration::from_micros(999)),
        ),
        setting_error("zero back-off", base().retry_backoff(Duration::ZERO)),
        setting_error("no connections", base().pool_size(0)),
        setting_error("too many connections", base().pool_size(65)),
        setting_error(
            "zero limit",
            RedisLimiter::builder("redis://127.0.0.1:6379/0", 0, MINUTE),
        ),
        setting_error("zero capacity", base().max_users(0)),
        setting_error(
            "CA certificate without TLS",
            base().tls_root_certificate(b"-----BEGIN CERTIFICATE-----".to_vec()),
        ),
        setting_error(
            "CA certificate that is not PEM",
            RedisLimiter::builder("rediss://127.0.0.1:6380/0", 100, MINUTE)
                .tls_root_certificate(b"MIIB...".to_vec()),
        ),
        setting_error(
            "CA certificate that is broken PEM",
            RedisLimiter::builder("rediss://127.0.0.1:6380/0", 100, MINUTE).tls_root_certificate(
                b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec(),
            ),
        ),
    ];
    insta::assert_snapshot!("bad_redis_settings", settings.join("\n"));
}
