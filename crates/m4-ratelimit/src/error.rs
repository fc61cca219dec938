//! The crate's error type: the rate-limited message and configuration mistakes.

use std::fmt;
use std::time::Duration;

/// Everything this crate reports to a person.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key used up its limit: the seed's message plus the retry-after.
    #[error("Rate limit exceeded: retry after {retry_after_secs} s")]
    RateLimited {
        /// Seconds to wait, rounded up, as sent in an HTTP `Retry-After` header.
        retry_after_secs: u64,
    },
    /// The limit was 0 requests per window.
    #[error(
        "rate limit must allow at least 1 request per window: set M4_OAUTH2_RATE_LIMIT_REQUESTS \
         to 1 or more, or turn rate limiting off with M4_OAUTH2_RATE_LIMIT_ENABLED=false"
    )]
    ZeroLimit,
    /// The limit does not fit the 32-bit counters.
    #[error(
        "rate limit of {limit} requests per window is too large: \
         M4_OAUTH2_RATE_LIMIT_REQUESTS must be at most 4294967295"
    )]
    LimitTooLarge {
        /// The limit asked for.
        limit: u64,
    },
    /// The window was shorter than [`MIN_WINDOW`](crate::MIN_WINDOW).
    #[error(
        "rate-limit window of {} is too short: it must be at least 1 ms \
         (M4_OAUTH2_RATE_LIMIT_WINDOW is in seconds)",
        HumanDuration(*.window)
    )]
    WindowTooShort {
        /// The window asked for.
        window: Duration,
    },
    /// The window was longer than [`MAX_WINDOW`](crate::MAX_WINDOW).
    #[error(
        "rate-limit window of {} is too long: it must be at most 3153600000 s (100 years) \
         (M4_OAUTH2_RATE_LIMIT_WINDOW is in seconds)",
        HumanDuration(*.window)
    )]
    WindowTooLong {
        /// The window asked for.
        window: Duration,
    },
    /// The capacity was 0 keys.
    #[error(
        "rate limiter capacity must be at least 1 user: \
         set M4_OAUTH2_RATE_LIMIT_MAX_USERS to 1 or more (default 10000)"
    )]
    ZeroMaxUsers,
    /// The shard count was not a power of two, was above [`MAX_SHARDS`](crate::MAX_SHARDS),
    /// or was above the capacity (a shard would hold no key).
    #[error(
        "rate limiter shard count {shards} is invalid: it must be a power of two from 1 to 1024 \
         and at most the capacity ({max_users} users)"
    )]
    InvalidShards {
        /// The shard count asked for.
        shards: usize,
        /// The capacity it was asked with.
        max_users: usize,
    },
    /// The Redis backend URL was refused (feature `redis`); the URL is shown without its
    /// user information, so a password never reaches the message.
    #[error(
        "invalid Redis URL \"{url}\" in M4_OAUTH2_RATE_LIMIT_BACKEND: {reason}; \
         expected memory, redis://host:port/db or rediss://host:port/db"
    )]
    InvalidRedisUrl {
        /// The URL with any user information replaced by `[redacted]`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A Redis backend setting was out of range (feature `redis`).
    #[error("invalid Redis rate-limit setting: {setting} {reason}")]
    InvalidRedisSetting {
        /// The setting, as named by its builder method.
        setting: &'static str,
        /// What it must be.
        reason: &'static str,
    },
    /// Redis did not answer a ping (feature `redis`). Checks still answer meanwhile, from the
    /// in-process fallback limiter.
    #[error("Redis at {url} is unavailable: {reason}")]
    RedisUnavailable {
        /// The URL with any user information replaced by `[redacted]`.
        url: String,
        /// Why: refused, timed out, or the error Redis replied.
        reason: String,
    },
}

impl Error {
    /// The stable machine-readable code from the m4-auth contract: `rate_limited` for
    /// [`Error::RateLimited`]; `None` for configuration mistakes, which are not verification
    /// outcomes and have no contract code (the CLI exits 2 on them).
    ///
    /// ```
    /// use m4_ratelimit::Error;
    ///
    /// assert_eq!(Error::RateLimited { retry_after_secs: 3 }.code(), Some("rate_limited"));
    /// assert_eq!(Error::ZeroLimit.code(), None);
    /// ```
    pub fn code(&self) -> Option<&'static str> {
        match self {
            Self::RateLimited { .. } => Some("rate_limited"),
            Self::ZeroLimit
            | Self::LimitTooLarge { .. }
            | Self::WindowTooShort { .. }
            | Self::WindowTooLong { .. }
            | Self::ZeroMaxUsers
            | Self::InvalidShards { .. }
            | Self::InvalidRedisUrl { .. }
            | Self::InvalidRedisSetting { .. }
            | Self::RedisUnavailable { .. } => None,
        }
    }
}

/// A duration in the largest unit that shows it exactly: `3600 s`, `500 ms`, `20 µs`, `250 ns`.
struct HumanDuration(Duration);

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.subsec_nanos() == 0 {
            write!(f, "{} s", d.as_secs())
        } else if d.subsec_nanos().is_multiple_of(1_000_000) {
            write!(f, "{} ms", d.as_millis())
        } else if d.subsec_nanos().is_multiple_of(1_000) {
            write!(f, "{} µs", d.as_micros())
        } else {
            write!(f, "{} ns", d.as_nanos())
        }
    }
}

/// Every user-facing message of the crate, snapshotted. Inside the crate because `Error` is
/// `#[non_exhaustive]`: here the `match` needs no wildcard arm, so a new variant does not
/// compile until it gets a sample and a snapshot line.
#[cfg(test)]
mod snapshots {
    use super::*;
    use crate::Decision;

    /// A sample of a variant, chosen by the variant itself: the match is the checklist.
    fn sample(variant: &Error) -> Error {
        match variant {
            Error::RateLimited { .. } => Error::RateLimited {
                retry_after_secs: 42,
            },
            Error::ZeroLimit => Error::ZeroLimit,
            Error::LimitTooLarge { .. } => Error::LimitTooLarge {
                limit: 5_000_000_000,
            },
            Error::WindowTooShort { .. } => Error::WindowTooShort {
                window: Duration::from_micros(500),
            },
            Error::WindowTooLong { .. } => Error::WindowTooLong {
                window: Duration::from_secs(4_000_000_000),
            },
            Error::ZeroMaxUsers => Error::ZeroMaxUsers,
            Error::InvalidShards { .. } => Error::InvalidShards {
                shards: 12,
                max_users: 10_000,
            },
            Error::InvalidRedisUrl { .. } => Error::InvalidRedisUrl {
                url: "redis://[redacted]@cache.internal:6379/x".to_owned(),
                reason: "the path must be a database number, as in /0".to_owned(),
            },
            Error::InvalidRedisSetting { .. } => Error::InvalidRedisSetting {
                setting: "call_timeout",
                reason: "must be at least 1 ms",
            },
            Error::RedisUnavailable { .. } => Error::RedisUnavailable {
                url: "redis://[redacted]@cache.internal:6379/0".to_owned(),
                reason: "no answer within the timeouts (connect 250 ms, call 100 ms)".to_owned(),
            },
        }
    }

    #[test]
    fn error_messages() {
        let variants = [
            Error::RateLimited {
                retry_after_secs: 0,
            },
            Error::ZeroLimit,
            Error::LimitTooLarge { limit: 0 },
            Error::WindowTooShort {
                window: Duration::ZERO,
            },
            Error::WindowTooLong {
                window: Duration::ZERO,
            },
            Error::ZeroMaxUsers,
            Error::InvalidShards {
                shards: 0,
                max_users: 0,
            },
            Error::InvalidRedisUrl {
                url: String::new(),
                reason: String::new(),
            },
            Error::InvalidRedisSetting {
                setting: "",
                reason: "",
            },
            Error::RedisUnavailable {
                url: String::new(),
                reason: String::new(),
            },
        ];
        let text: Vec<String> = variants
            .iter()
            .map(sample)
            .map(|e| format!("{} | {e}", e.code().unwrap_or("-")))
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    #[test]
    fn rate_limited_message_from_decisions() {
        let lines: Vec<String> = [1, 999, 1_000, 1_001, 59_999, 3_600_000]
            .into_iter()
            .map(|ms| {
                let d = Decision::Limited {
                    retry_after: Duration::from_millis(ms),
                };
                format!("{ms} ms | {}", d.error().unwrap())
            })
            .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }

    #[test]
    fn window_durations_are_shown_in_their_own_unit() {
        let lines: Vec<String> = [
            Duration::ZERO,
            Duration::from_nanos(999_999),
            Duration::from_micros(250),
            Duration::from_millis(1500),
            Duration::from_secs(4_000_000_000),
        ]
        .into_iter()
        .map(|window| Error::WindowTooShort { window }.to_string())
        .collect();
        insta::assert_snapshot!(lines.join("\n"));
    }
}
