//! Every error and warning message of this crate, snapshotted.
//!
//! Each enum is walked by a `match` without a wildcard arm, so adding a variant fails to
//! compile here until it has a sample, and a run-time check makes sure every arm's sample is
//! in the list that is snapshotted.

use crate::error::{ConfigError, Problem, UrlError};
use crate::vars;
use crate::warning::Warning;

/// Index of each `UrlError` variant; no wildcard arm.
fn url_error_index(e: &UrlError) -> usize {
    match e {
        UrlError::NotAbsolute => 0,
        UrlError::UnsupportedScheme { .. } => 1,
        UrlError::UppercaseScheme => 2,
        UrlError::UserInfo => 3,
        UrlError::MissingHost => 4,
        UrlError::InvalidHost => 5,
        UrlError::InvalidIpv4 => 6,
        UrlError::InvalidIpv6 => 7,
        UrlError::InvalidPort => 8,
        UrlError::Fragment => 9,
        UrlError::Query => 10,
        UrlError::InvalidCharacter => 11,
        UrlError::InsecureHttp => 12,
        UrlError::InvalidRedisDatabase => 13,
    }
}

fn url_errors() -> Vec<UrlError> {
    vec![
        UrlError::NotAbsolute,
        UrlError::UnsupportedScheme { expected: "https" },
        UrlError::UppercaseScheme,
        UrlError::UserInfo,
        UrlError::MissingHost,
        UrlError::InvalidHost,
        UrlError::InvalidIpv4,
        UrlError::InvalidIpv6,
        UrlError::InvalidPort,
        UrlError::Fragment,
        UrlError::Query,
        UrlError::InvalidCharacter,
        UrlError::InsecureHttp,
        UrlError::InvalidRedisDatabase,
    ]
}

/// Index of each `Problem` variant; no wildcard arm.
fn problem_index(p: &Problem) -> usize {
    match p {
        Problem::Duplicate { .. } => 0,
        Problem::NotUnicode { .. } => 1,
        Problem::Empty { .. } => 2,
        Problem::Missing { .. } => 3,
        Problem::InvalidBool { .. } => 4,
        Problem::InvalidInteger { .. } => 5,
        Problem::OutOfRange { .. } => 6,
        Problem::InvalidUrl { .. } => 7,
        Problem::InsecureUrl { .. } => 8,
        Problem::ForbiddenAlgorithm { .. } => 9,
        Problem::UnknownAlgorithm { .. } => 10,
        Problem::EmptyList { .. } => 11,
        Problem::InvalidScope { .. } => 12,
        Problem::InvalidBackend { .. } => 13,
        Problem::ControlCharacter { .. } => 14,
        Problem::MisspeltEnabled { .. } => 15,
        Problem::InvalidChoice { .. } => 16,
    }
}

fn problems() -> Vec<Problem> {
    let s = String::from;
    vec![
        Problem::Duplicate { var: vars::TOKEN },
        Problem::NotUnicode {
            var: vars::AUDIENCE,
        },
        Problem::Empty { var: vars::LEEWAY },
        Problem::Empty {
            var: vars::CLIENT_ID,
        },
        Problem::Missing {
            var: vars::ISSUER_URL,
        },
        Problem::InvalidBool {
            var: vars::ENABLED,
            value: s("ture"),
        },
        Problem::InvalidInteger {
            var: vars::RATE_LIMIT_WINDOW,
            value: s("1h"),
        },
        Problem::OutOfRange {
            var: vars::HTTP_TIMEOUT,
            value: s("0"),
            min: 1,
            max: 300,
        },
        Problem::InvalidUrl {
            var: vars::ISSUER_URL,
            value: s("http://[redacted]@evil.example/"),
            reason: UrlError::UserInfo,
        },
        Problem::InsecureUrl {
            var: vars::JWKS_URL,
            value: s("http://keys.example.com/"),
        },
        Problem::ForbiddenAlgorithm {
            var: vars::ALGORITHMS,
            alg: s("none"),
        },
        Problem::ForbiddenAlgorithm {
            var: vars::ALGORITHMS,
            alg: s("HS256"),
        },
        Problem::UnknownAlgorithm {
            var: vars::ALGORITHMS,
            alg: s("ES512"),
        },
        Problem::EmptyList {
            var: vars::REQUIRED_SCOPES,
            value: s(","),
        },
        Problem::InvalidScope {
            var: vars::REQUIRED_SCOPES,
            scope: s("read data"),
        },
        Problem::InvalidBackend {
            var: vars::RATE_LIMIT_BACKEND,
            value: s("memcached"),
        },
        Problem::ControlCharacter {
            var: vars::CLIENT_ID,
            value: s("a\u{1b}[31mb"),
        },
        Problem::InvalidChoice {
            var: vars::AUDIENCE_PARAMETER,
            value: s("aud"),
        },
        Problem::MisspeltEnabled {
            name: s("M4_OAUTH2_ENABLE"),
            value: Some(s("true")),
        },
        Problem::MisspeltEnabled {
            name: s("m4_oauth2_enabled"),
            value: None,
        },
    ]
}

/// Index of each `Warning` variant; no wildcard arm.
fn warning_index(w: &Warning) -> usize {
    match w {
        Warning::UnknownVariable { .. } => 0,
        Warning::IgnoredWhileDisabled { .. } => 1,
        Warning::CheckDisabled { .. } => 2,
    }
}

fn warnings() -> Vec<Warning> {
    vec![
        Warning::UnknownVariable {
            name: "M4_OAUTH2_ISUER_URL".into(),
            suggestion: Some(vars::ISSUER_URL),
        },
        Warning::UnknownVariable {
            name: "M4_OAUTH2_COLOUR".into(),
            suggestion: None,
        },
        Warning::IgnoredWhileDisabled {
            vars: vec![vars::ISSUER_URL, vars::AUDIENCE],
        },
        Warning::CheckDisabled {
            var: vars::VALIDATE_EXP,
        },
        Warning::CheckDisabled {
            var: vars::VALIDATE_AUD,
        },
        Warning::CheckDisabled {
            var: vars::VALIDATE_ISS,
        },
    ]
}

/// Every index in `0..count` has a sample.
#[track_caller]
fn assert_covers(indices: impl Iterator<Item = usize>, count: usize) {
    let mut seen = vec![false; count];
    for i in indices {
        seen[i] = true;
    }
    let missing: Vec<usize> = (0..count).filter(|i| !seen[*i]).collect();
    assert!(missing.is_empty(), "variants without a sample: {missing:?}");
}

fn render<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

#[test]
fn every_url_error_message() {
    let all = url_errors();
    assert_covers(all.iter().map(url_error_index), 14);
    let mut text = render(&all);
    text.push_str(&format!(
        "{}\n",
        UrlError::UnsupportedScheme {
            expected: "redis or rediss"
        }
    ));
    insta::assert_snapshot!("url_errors", text);
}

#[test]
fn every_problem_message() {
    let all = problems();
    assert_covers(all.iter().map(problem_index), 17);
    for p in &all {
        let line = p.to_string();
        assert!(!line.contains('\n') && !line.ends_with('.'), "{line}");
        assert!(line.contains(p.var()), "{line} names its variable");
    }
    // Every UrlError also as the reason of a Problem, as users see it.
    let mut text = render(&all);
    for reason in url_errors() {
        let var = vars::JWKS_URL;
        text.push_str(&format!(
            "{}\n",
            Problem::InvalidUrl {
                var,
                value: "x".into(),
                reason
            }
        ));
    }
    insta::assert_snapshot!("problems", text);
}

#[test]
fn every_warning_message() {
    let all = warnings();
    assert_covers(all.iter().map(warning_index), 3);
    insta::assert_snapshot!("warnings", render(&all));
}

#[test]
fn config_error_lists_problems_then_warnings() {
    let err = ConfigError::new(problems().into_iter().take(2).collect(), warnings());
    insta::assert_snapshot!("config_error", err.to_string());
    assert_eq!(err.to_string().lines().count(), 2 + 6);
}
