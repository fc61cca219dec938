//! Loading `M4_OAUTH2_*` configuration: defaults, a bad value for every variable, many
//! problems at once, warnings, secrets, the builder and the `to_env` round trip.
#![cfg(test)]

use std::time::Duration;

use m4_auth_config::{
    Algorithm, AudienceParameter, AuthConfig, ConfigError, Loaded, Problem, RateLimitBackend,
    RedisUrl, Secret, Warning, vars,
};

const BASE: [(&str, &str); 3] = [
    (vars::ENABLED, "true"),
    (vars::ISSUER_URL, "https://idp.example.com/"),
    (vars::AUDIENCE, "m4-api"),
];

/// An enabled, valid base configuration with `var` set (or replaced) to `value`.
fn with(var: &str, value: &str) -> Result<Loaded, ConfigError> {
    let mut pairs: Vec<(&str, &str)> = BASE.iter().copied().filter(|(k, _)| *k != var).collect();
    pairs.push((var, value));
    AuthConfig::from_vars(pairs)
}

/// `var=value` on the base configuration fails with exactly one problem, about `var`, whose
/// message contains `fragment`; returns the message for the snapshot.
#[track_caller]
fn check(var: &str, value: &str, fragment: &str) -> String {
    let err = match with(var, value) {
        Ok(loaded) => panic!("{var}={value:?} was accepted: {:?}", loaded.config),
        Err(err) => err,
    };
    assert_eq!(err.problems().len(), 1, "{var}={value:?}: {err}");
    let problem = &err.problems()[0];
    assert_eq!(problem.var(), var, "{var}={value:?}");
    let message = problem.to_string();
    assert!(
        message.contains(fragment),
        "{var}={value:?}: {message:?} lacks {fragment:?}"
    );
    assert!(!message.ends_with('.'), "no trailing period: {message}");
    assert!(!message.contains('\n'), "one line: {message}");
    format!("{var}={value:?}\n  {message}")
}

#[test]
fn a_bad_value_for_every_variable() {
    use vars::*;
    let cases = [
        check(ENABLED, "ture", "is not a boolean"),
        check(ENABLED, "2", "is not a boolean"),
        check(ENABLED, "", "is set but empty"),
        check(
            ISSUER_URL,
            "http://idp.example.com/",
            "uses http with a host that is not loopback",
        ),
        check(
            ISSUER_URL,
            "http://127.0.0.1@evil.example/",
            "user information",
        ),
        check(ISSUER_URL, "http://127.0.0.1.evil.example/", "not loopback"),
        check(ISSUER_URL, "http://localhost.evil.example/", "not loopback"),
        check(ISSUER_URL, "HTTPS://idp.example.com/", "lowercase"),
        check(ISSUER_URL, "idp.example.com", "not an absolute URL"),
        check(
            ISSUER_URL,
            "https://idp.example.com/?tenant=1",
            "has a query",
        ),
        check(ISSUER_URL, "https://idp.example.com/#x", "fragment"),
        check(
            ISSUER_URL,
            "https://user:hunter2@idp.example.com/",
            "[redacted]@idp.example.com",
        ),
        check(ISSUER_URL, "http://127.1/", "four decimal numbers"),
        check(ISSUER_URL, "https://[::1/", "IPv6"),
        check(ISSUER_URL, "https://idp.example.com:99999/", "port"),
        check(ISSUER_URL, "https:///realms/m4", "no host"),
        check(AUDIENCE, "m4\u{7}api", "control character"),
        check(AUDIENCE, "   ", "is set but empty"),
        check(REQUIRED_SCOPES, ",, ,", "lists nothing"),
        check(
            REQUIRED_SCOPES,
            "read:mimic-data, read data",
            "not a valid scope",
        ),
        check(JWKS_URL, "https://idp.example.com/jwks#k1", "fragment"),
        check(JWKS_URL, "http://jwks.example.com/keys", "not loopback"),
        check(
            JWKS_URL,
            "https://idp.example.com/a b",
            "character not allowed",
        ),
        check(JWKS_CACHE_TTL, "1h", "is not a whole number"),
        check(JWKS_CACHE_TTL, "0", "expected 1 to 31536000 seconds"),
        check(JWKS_CACHE_TTL, "31536001", "out of range"),
        check(CLIENT_ID, "m4\ncli", "control character"),
        check(CLIENT_SECRET, "  ", "is set but empty"),
        check(VALIDATE_EXP, "maybe", "is not a boolean"),
        check(VALIDATE_AUD, "tru", "is not a boolean"),
        check(VALIDATE_ISS, "nope", "is not a boolean"),
        check(RATE_LIMIT_ENABLED, "enabled", "is not a boolean"),
        check(
            RATE_LIMIT_REQUESTS,
            "0",
            "expected 1 to 1000000000 requests",
        ),
        check(RATE_LIMIT_REQUESTS, "-5", "is not a whole number"),
        check(RATE_LIMIT_REQUESTS, "1e3", "is not a whole number"),
        check(RATE_LIMIT_WINDOW, "1h", "without a unit"),
        check(RATE_LIMIT_WINDOW, "99999999999999999999999", "out of range"),
        check(RATE_LIMIT_WINDOW, "+60", "is not a whole number"),
        check(ALGORITHMS, "HS256", "shared secret"),
        check(ALGORITHMS, "RS256,none", "unsigned tokens"),
        check(ALGORITHMS, "RS999", "not a supported algorithm"),
        check(ALGORITHMS, ",", "lists nothing"),
        check(LEEWAY, "301", "expected 0 to 300 seconds"),
        check(LEEWAY, "60s", "is not a whole number"),
        check(HTTP_TIMEOUT, "0", "expected 1 to 300 seconds"),
        check(HTTP_TIMEOUT, "301", "out of range"),
        check(JWKS_REFRESH_COOLDOWN, "0", "expected 1 to 31536000 seconds"),
        check(JWKS_MAX_STALE, "1d", "is not a whole number"),
        check(JWKS_MAX_STALE, "31536001", "out of range"),
        check(RATE_LIMIT_MAX_USERS, "0", "expected 1 to 10000000 users"),
        check(RATE_LIMIT_MAX_USERS, "lots", "is not a whole number"),
        check(RATE_LIMIT_BACKEND, "redis", "is not a rate-limit backend"),
        check(
            RATE_LIMIT_BACKEND,
            "redis://cache.internal/db",
            "database number",
        ),
        check(
            RATE_LIMIT_BACKEND,
            "postgres://db.internal/",
            "redis or rediss",
        ),
        check(RATE_LIMIT_BACKEND, "redis://:hunter2@", "no host"),
        check(TOKEN_CACHE_SIZE, "-1", "is not a whole number"),
        check(TOKEN_CACHE_SIZE, "1000001", "expected 0 to 1000000 entries"),
        check(RESOURCE_URL, "http://m4.example.org/mcp", "not loopback"),
        check(RESOURCE_URL, "https://m4.example.org/mcp#x", "fragment"),
        check(CREDENTIALS_FILE, "/tmp/a\u{7}b", "control character"),
        check(AUDIENCE_PARAMETER, "aud", "is not a known choice"),
        check(AUDIENCE_PARAMETER, " ", "is set but empty"),
    ];
    // TOKEN takes any value (the verifier judges it); its one bad form is a duplicate.
    let err = AuthConfig::from_vars([(vars::TOKEN, "a"), (vars::TOKEN, "b")]).unwrap_err();
    assert_eq!(err.problems(), [Problem::Duplicate { var: vars::TOKEN }]);

    let covered: Vec<&str> = vars::ALL
        .iter()
        .copied()
        .filter(|v| *v == vars::TOKEN || cases.iter().any(|c| c.starts_with(&format!("{v}="))))
        .collect();
    assert_eq!(covered, vars::ALL, "every variable has a bad value above");
    insta::assert_snapshot!("bad_values", cases.join("\n"));
}

#[test]
fn secrets_never_appear_in_messages() {
    let err = with(vars::RATE_LIMIT_BACKEND, "redis://:hunter2@").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = with(vars::ISSUER_URL, "https://u:hunter2@idp.example.com/").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = with(vars::CLIENT_SECRET, "\t").unwrap_err();
    assert_eq!(err.to_string().matches('\t').count(), 0);
}

#[test]
fn nothing_set_gives_the_documented_defaults() {
    let loaded = AuthConfig::from_vars(std::iter::empty::<(&str, &str)>()).unwrap();
    assert!(loaded.warnings.is_empty());
    let c = loaded.config;
    assert_eq!(c, AuthConfig::default());
    assert!(!c.enabled());
    assert_eq!((c.issuer(), c.audience(), c.jwks_url()), (None, None, None));
    assert_eq!(c.required_scopes(), ["read:mimic-data"]);
    assert_eq!(c.jwks_cache_ttl(), Duration::from_secs(3600));
    assert_eq!(
        (c.client_id(), c.client_secret(), c.token()),
        (None, None, None)
    );
    assert!(c.validate_exp() && c.validate_aud() && c.validate_iss());
    assert!(c.rate_limit_enabled());
    assert_eq!(c.rate_limit_requests(), 100);
    assert_eq!(c.rate_limit_window(), Duration::from_secs(3600));
    assert_eq!(c.algorithms(), [Algorithm::RS256, Algorithm::ES256]);
    assert_eq!(c.leeway(), Duration::from_secs(60));
    assert_eq!(c.http_timeout(), Duration::from_secs(10));
    assert_eq!(c.jwks_refresh_cooldown(), Duration::from_secs(30));
    assert_eq!(c.jwks_max_stale(), Duration::from_secs(86400));
    assert_eq!(c.rate_limit_max_users(), 10_000);
    assert_eq!(c.rate_limit_backend(), &RateLimitBackend::Memory);
    assert_eq!(c.token_cache_size(), 4096);
}

#[test]
fn every_variable_parses_with_its_default_written_out() {
    // The defaults as CONTRACT.md and the seed write them, set explicitly.
    let explicit = [
        (vars::ENABLED, "false"),
        (vars::REQUIRED_SCOPES, "read:mimic-data"),
        (vars::JWKS_CACHE_TTL, "3600"),
        (vars::VALIDATE_EXP, "true"),
        (vars::VALIDATE_AUD, "true"),
        (vars::VALIDATE_ISS, "true"),
        (vars::RATE_LIMIT_ENABLED, "true"),
        (vars::RATE_LIMIT_REQUESTS, "100"),
        (vars::RATE_LIMIT_WINDOW, "3600"),
        (vars::ALGORITHMS, "RS256,ES256"),
        (vars::LEEWAY, "60"),
        (vars::HTTP_TIMEOUT, "10"),
        (vars::JWKS_REFRESH_COOLDOWN, "30"),
        (vars::JWKS_MAX_STALE, "86400"),
        (vars::RATE_LIMIT_MAX_USERS, "10000"),
        (vars::RATE_LIMIT_BACKEND, "memory"),
        (vars::TOKEN_CACHE_SIZE, "4096"),
        (vars::AUDIENCE_PARAMETER, "audience"),
    ];
    let loaded = AuthConfig::from_vars(explicit).unwrap();
    assert_eq!(loaded.config, AuthConfig::default());
    assert_eq!(
        AuthConfig::default().to_env(true),
        explicit.map(|(k, v)| (k, v.to_owned()))
    );
    assert!(AuthConfig::default().to_env(false).is_empty());

    // And the variables without a default, each with a good value.
    let mut all: Vec<(&str, &str)> = explicit.to_vec();
    all[0] = (vars::ENABLED, "true");
    all.extend([
        (vars::ISSUER_URL, "https://idp.example.com/"),
        (vars::AUDIENCE, "m4-api"),
        (
            vars::JWKS_URL,
            "https://idp.example.com/.well-known/jwks.json",
        ),
        (vars::CLIENT_ID, "m4-client"),
        (vars::CLIENT_SECRET, " s3cret "),
        (vars::TOKEN, "Bearer eyJ.x.y"),
        (vars::RESOURCE_URL, "https://m4.example.org/mcp"),
        (
            vars::CREDENTIALS_FILE,
            "/home/me/.config/m4-auth/credentials.json",
        ),
    ]);
    assert_eq!(all.len(), vars::ALL.len());
    let c = AuthConfig::from_vars(all).unwrap().config;
    assert!(c.enabled());
    assert_eq!(c.issuer().unwrap().as_str(), "https://idp.example.com/");
    assert_eq!(c.audience(), Some("m4-api"));
    assert_eq!(c.jwks_url().unwrap().path(), "/.well-known/jwks.json");
    assert_eq!(c.client_id(), Some("m4-client"));
    assert_eq!(
        c.client_secret().unwrap().expose_secret(),
        " s3cret ",
        "secrets kept verbatim"
    );
    assert_eq!(c.token().unwrap().expose_secret(), "eyJ.x.y");
    assert_eq!(
        c.resource_url().unwrap().as_str(),
        "https://m4.example.org/mcp"
    );
    assert_eq!(
        c.credentials_file(),
        Some(std::path::Path::new(
            "/home/me/.config/m4-auth/credentials.json"
        ))
    );
}

#[test]
fn several_bad_variables_give_one_error_listing_all() {
    let err = AuthConfig::from_vars([
        ("M4_OAUTH2_TOKEN_CACHE_SIZE", "big"),
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISUER_URL", "https://idp.example.com/"),
        ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
        ("M4_OAUTH2_ALGORITHMS", "RS256,HS256,none"),
        ("M4_OAUTH2_JWKS_URL", "http://keys.example.com/jwks"),
        ("HOME", "/root"),
    ])
    .unwrap_err();
    let vars_in_order: Vec<&str> = err.problems().iter().map(Problem::var).collect();
    assert_eq!(
        vars_in_order,
        [
            vars::ISSUER_URL,
            vars::AUDIENCE,
            vars::JWKS_URL,
            vars::RATE_LIMIT_WINDOW,
            vars::ALGORITHMS,
            vars::ALGORITHMS,
            vars::TOKEN_CACHE_SIZE
        ]
    );
    assert_eq!(
        err.warnings(),
        [Warning::UnknownVariable {
            name: "M4_OAUTH2_ISUER_URL".into(),
            suggestion: Some(vars::ISSUER_URL)
        }]
    );
    assert_eq!(err.to_string().lines().count(), 8);
    insta::assert_snapshot!("several_bad_variables", err.to_string());
}

#[test]
fn disabled_still_checks_every_value_but_requires_nothing() {
    let loaded = AuthConfig::from_vars([("M4_OAUTH2_ENABLED", "false")]).unwrap();
    assert!(!loaded.config.enabled());
    let err = AuthConfig::from_vars([("M4_OAUTH2_LEEWAY", "1m")]).unwrap_err();
    assert_eq!(err.problems()[0].var(), vars::LEEWAY);
    let err = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "off"),
        ("M4_OAUTH2_ISSUER_URL", "http://idp.example.com/"),
    ])
    .unwrap_err();
    assert!(matches!(err.problems(), [Problem::InsecureUrl { .. }]));
}

#[test]
fn invalid_enabled_does_not_invent_missing_problems() {
    let err = AuthConfig::from_vars([("M4_OAUTH2_ENABLED", "ture")]).unwrap_err();
    assert_eq!(err.problems().len(), 1);
}

#[test]
fn booleans_accept_the_documented_words_in_any_case() {
    for (word, expected) in [
        ("true", true),
        ("TRUE", true),
        ("1", true),
        ("Yes", true),
        ("on", true),
        (" On ", true),
        ("false", false),
        ("False", false),
        ("0", false),
        ("no", false),
        ("OFF", false),
    ] {
        let c = AuthConfig::from_vars([(vars::RATE_LIMIT_ENABLED, word)])
            .unwrap()
            .config;
        assert_eq!(c.rate_limit_enabled(), expected, "{word:?}");
    }
    // Only ASCII whitespace is trimmed: a no-break or ideographic space is not cleaned away.
    for bad in [
        "ture",
        "y",
        "t",
        "enable",
        "10",
        "truee",
        "yes please",
        "\u{a0}true",
        "true\u{3000}",
    ] {
        assert!(
            AuthConfig::from_vars([(vars::VALIDATE_EXP, bad)]).is_err(),
            "{bad:?}"
        );
    }
}

#[test]
fn integer_bounds_are_inclusive() {
    for (var, low, high) in [
        (vars::JWKS_CACHE_TTL, "1", "31536000"),
        (vars::RATE_LIMIT_REQUESTS, "1", "1000000000"),
        (vars::RATE_LIMIT_WINDOW, "1", "31536000"),
        (vars::LEEWAY, "0", "300"),
        (vars::HTTP_TIMEOUT, "1", "300"),
        (vars::JWKS_REFRESH_COOLDOWN, "1", "31536000"),
        (vars::JWKS_MAX_STALE, "1", "31536000"),
        (vars::RATE_LIMIT_MAX_USERS, "1", "10000000"),
        (vars::TOKEN_CACHE_SIZE, "0", "1000000"),
    ] {
        for ok in [low, high] {
            let c = AuthConfig::from_vars([(var, ok)]).unwrap().config;
            let written = c
                .to_env(true)
                .into_iter()
                .find(|(k, _)| *k == var)
                .unwrap()
                .1;
            assert_eq!(written, ok, "{var}");
        }
    }
    let c = AuthConfig::from_vars([(vars::TOKEN_CACHE_SIZE, "0")])
        .unwrap()
        .config;
    assert_eq!(c.token_cache_size(), 0, "0 disables the token cache");
}

#[test]
fn lists_are_trimmed_deduplicated_and_ordered() {
    let c = AuthConfig::from_vars([
        (
            vars::REQUIRED_SCOPES,
            " read:mimic-data ,, write:notes,read:mimic-data ",
        ),
        (vars::ALGORITHMS, "es256, RS256 ,ES256,eddsa,"),
    ])
    .unwrap()
    .config;
    assert_eq!(c.required_scopes(), ["read:mimic-data", "write:notes"]);
    assert_eq!(
        c.algorithms(),
        [Algorithm::ES256, Algorithm::RS256, Algorithm::EdDSA]
    );
}

#[test]
fn every_algorithm_is_accepted_and_forbidden_ones_explained() {
    let all = Algorithm::ALL.map(Algorithm::as_str).join(",");
    let c = AuthConfig::from_vars([(vars::ALGORITHMS, all.as_str())])
        .unwrap()
        .config;
    assert_eq!(c.algorithms(), Algorithm::ALL);
    for forbidden in ["none", "NONE", "HS256", "hs384", "HS512"] {
        let err = AuthConfig::from_vars([(vars::ALGORITHMS, forbidden)]).unwrap_err();
        assert!(
            matches!(&err.problems()[0], Problem::ForbiddenAlgorithm { alg, .. } if alg == forbidden),
            "{err}"
        );
    }
}

#[test]
fn loopback_http_is_accepted_for_issuer_and_jwks() {
    for url in [
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://[::1]:9/x",
        "http://127.9.9.9",
    ] {
        let c = with(vars::ISSUER_URL, url).unwrap().config;
        assert!(c.issuer().unwrap().is_loopback(), "{url}");
        let c = with(vars::JWKS_URL, url).unwrap().config;
        assert_eq!(c.jwks_url().unwrap().as_str(), url);
    }
}

#[test]
fn redis_backend_is_parsed_and_its_password_redacted() {
    let c = with(
        vars::RATE_LIMIT_BACKEND,
        "rediss://:hunter2@cache.internal:6380/1",
    )
    .unwrap()
    .config;
    let RateLimitBackend::Redis(url) = c.rate_limit_backend() else {
        panic!("not redis")
    };
    assert!(url.is_tls());
    assert_eq!(url.expose_url(), "rediss://:hunter2@cache.internal:6380/1");
    assert!(!format!("{c:?}").contains("hunter2"));
    let c = with(vars::RATE_LIMIT_BACKEND, "MEMORY").unwrap().config;
    assert_eq!(c.rate_limit_backend(), &RateLimitBackend::Memory);
}

#[test]
fn secrets_are_redacted_in_debug_and_the_token_never_exported() {
    let c = AuthConfig::from_vars([
        (vars::CLIENT_SECRET, "client-s3cret"),
        (vars::TOKEN, "Bearer tok3n.value.sig"),
    ])
    .unwrap()
    .config;
    let debug = format!("{c:?}");
    assert!(
        !debug.contains("client-s3cret") && !debug.contains("tok3n"),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"));
    let env = c.to_env(true);
    assert!(env.iter().all(|(k, _)| *k != vars::TOKEN));
    assert!(env.contains(&(vars::CLIENT_SECRET, "client-s3cret".to_owned())));
    let builder = AuthConfig::builder().client_secret(Secret::new("client-s3cret"));
    assert!(!format!("{builder:?}").contains("client-s3cret"));
}

#[test]
fn to_env_round_trips() {
    let original = AuthConfig::from_vars([
        (vars::ENABLED, "yes"),
        (vars::ISSUER_URL, "http://127.0.0.1:8080/realms/m4"),
        (vars::AUDIENCE, "api://m4"),
        (vars::REQUIRED_SCOPES, "a,b"),
        (vars::JWKS_URL, "https://keys.example.com/jwks?v=2"),
        (vars::CLIENT_ID, "cli"),
        (vars::CLIENT_SECRET, "sec"),
        (vars::VALIDATE_ISS, "0"),
        (vars::RATE_LIMIT_BACKEND, "redis://:pw@127.0.0.1:6379/0"),
        (vars::LEEWAY, "0"),
        (vars::TOKEN_CACHE_SIZE, "0"),
    ])
    .unwrap()
    .config;
    for include_defaults in [false, true] {
        let env = original.to_env(include_defaults);
        let again = AuthConfig::from_vars(env).unwrap().config;
        assert_eq!(again, original, "include_defaults = {include_defaults}");
    }
    insta::assert_snapshot!(
        "to_env_without_defaults",
        original
            .to_env(false)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn warnings_for_unknown_variables_and_risky_settings() {
    let loaded = AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ("M4_OAUTH2_VALIDATE_EXP", "false"),
        ("m4_oauth2_leeway", "30"),
        ("M4_OAUTH_REQUIRED_SCOPES", "x"),
        ("M4_OAUTH2_COLOR", "blue"),
        ("M4_OTHER", "ignored"),
        ("OAUTH2_ENABLED", "ignored"),
    ])
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [
            Warning::UnknownVariable {
                name: "m4_oauth2_leeway".into(),
                suggestion: Some(vars::LEEWAY)
            },
            Warning::UnknownVariable {
                name: "M4_OAUTH_REQUIRED_SCOPES".into(),
                suggestion: Some(vars::REQUIRED_SCOPES)
            },
            Warning::UnknownVariable {
                name: "M4_OAUTH2_COLOR".into(),
                suggestion: None
            },
            Warning::CheckDisabled {
                var: vars::VALIDATE_EXP
            },
        ]
    );
    assert_eq!(
        loaded.config.leeway(),
        Duration::from_secs(60),
        "unknown names are not read"
    );

    let loaded = AuthConfig::from_vars([
        ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
    ])
    .unwrap();
    assert_eq!(
        loaded.warnings,
        [Warning::IgnoredWhileDisabled {
            vars: vec![vars::ISSUER_URL, vars::AUDIENCE]
        }]
    );
}

#[test]
fn a_misspelt_enable_switch_is_an_error_not_a_warning() {
    // Ignoring any of these would leave OAuth2 off and every tool open: refused, whatever the
    // value, with or without the other settings.
    for name in [
        "M4_OAUTH2_ENABLE",
        "M4_OAUTH2_ENABLES",
        "M4_OAUTH2_ENABELD",
        "m4_oauth2_enabled",
        "M4_OAuth2_Enabled",
        "M4_OAUTH_ENABLED",
        "M4_OAUTH2_DISABLED",
        "M4_AUTH2_ENABLED",
        "M4OAUTH2_ENABLED",
        "m4-oauth2-enabled",
    ] {
        for value in ["true", "false", "1"] {
            let err = AuthConfig::from_vars([
                (name, value),
                ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
                ("M4_OAUTH2_AUDIENCE", "m4-api"),
            ])
            .unwrap_err();
            assert_eq!(
                err.problems(),
                [Problem::MisspeltEnabled {
                    name: name.to_owned(),
                    value: Some(value.to_owned())
                }],
                "{name}={value}"
            );
            assert_eq!(err.problems()[0].var(), vars::ENABLED);
            assert!(
                !err.warnings()
                    .iter()
                    .any(|w| matches!(w, Warning::UnknownVariable { .. })),
                "{name}: an error, not also a warning: {:?}",
                err.warnings()
            );
        }
        // Also beside a correctly spelt switch: the two disagree or one is noise; either way, fix it.
        let err =
            AuthConfig::from_vars([(name, "true"), ("M4_OAUTH2_ENABLED", "false")]).unwrap_err();
        assert!(
            matches!(err.problems(), [Problem::MisspeltEnabled { .. }]),
            "{name}"
        );
    }
    // Other misspellings, and names far from the switch, stay warnings or are not looked at.
    let loaded = AuthConfig::from_vars([
        ("M4_OAUTH2_ISUER_URL", "https://idp.example.com/"),
        ("M4_OAUTH2_RATE_LIMIT_ENABLE", "true"),
        ("OAUTH2_ENABLED", "true"),
        ("M4_FEATURE_ENABLED", "true"),
    ])
    .unwrap();
    assert!(!loaded.config.enabled());
    assert_eq!(
        loaded.warnings,
        [
            Warning::UnknownVariable {
                name: "M4_OAUTH2_ISUER_URL".into(),
                suggestion: Some(vars::ISSUER_URL)
            },
            Warning::UnknownVariable {
                name: "M4_OAUTH2_RATE_LIMIT_ENABLE".into(),
                suggestion: Some(vars::RATE_LIMIT_ENABLED)
            },
        ]
    );
    // Listed first, with the other problems of the load.
    let err = AuthConfig::from_vars([("M4_OAUTH2_LEEWAY", "1m"), ("M4_OAUTH2_ENABLE", "yes")])
        .unwrap_err();
    let in_order: Vec<&str> = err.problems().iter().map(Problem::var).collect();
    assert_eq!(in_order, [vars::ENABLED, vars::LEEWAY]);
    assert!(
        err.to_string().starts_with(
            "\"M4_OAUTH2_ENABLE\" (set to \"yes\") looks like a misspelling of M4_OAUTH2_ENABLED: OAuth2 stays OFF unless"
        ),
        "{err}"
    );
}

#[test]
fn duplicates_are_reported_not_silently_resolved() {
    let err = AuthConfig::from_vars([
        (vars::LEEWAY, "10"),
        (vars::LEEWAY, "20"),
        (vars::LEEWAY, "30"),
    ])
    .unwrap_err();
    assert_eq!(err.problems(), [Problem::Duplicate { var: vars::LEEWAY }]);
}

#[test]
fn builder_matches_from_vars() {
    let built = AuthConfig::builder()
        .enabled(true)
        .issuer("https://idp.example.com/")
        .audience("m4-api")
        .required_scopes(["read:mimic-data", "write:notes"])
        .jwks_url("https://idp.example.com/jwks")
        .jwks_cache_ttl(Duration::from_secs(600))
        .client_id("cli")
        .client_secret(Secret::new("sec"))
        .validate_exp(true)
        .validate_aud(true)
        .validate_iss(true)
        .rate_limit_enabled(false)
        .rate_limit_requests(5)
        .rate_limit_window(Duration::from_secs(60))
        .token(Secret::new("Bearer t.o.k"))
        .algorithms([Algorithm::PS256, Algorithm::EdDSA])
        .leeway(Duration::from_secs(5))
        .http_timeout(Duration::from_secs(3))
        .jwks_refresh_cooldown(Duration::from_secs(10))
        .jwks_max_stale(Duration::from_secs(7200))
        .rate_limit_max_users(50)
        .rate_limit_backend(RateLimitBackend::Redis(
            RedisUrl::parse("redis://localhost").unwrap(),
        ))
        .token_cache_size(0)
        .credentials_file("/var/lib/m4/credentials.json")
        .audience_parameter(AudienceParameter::Resource)
        .build()
        .unwrap();
    assert_eq!(
        built.config.credentials_file(),
        Some(std::path::Path::new("/var/lib/m4/credentials.json"))
    );
    assert_eq!(
        built.config.audience_parameter(),
        AudienceParameter::Resource
    );
    let mut env = built.config.to_env(false);
    env.push((vars::TOKEN, "t.o.k".to_owned()));
    let from_vars = AuthConfig::from_vars(env).unwrap();
    assert_eq!(built, from_vars);
    assert_eq!(built.config.token().unwrap().expose_secret(), "t.o.k");
}

#[test]
fn builder_refuses_what_the_environment_would() {
    let err = AuthConfig::builder()
        .enabled(true)
        .issuer("http://idp.example.com/")
        .leeway(Duration::from_millis(2500))
        .http_timeout(Duration::ZERO)
        .required_scopes(["a,b", "c"])
        .algorithms([])
        .build()
        .unwrap_err();
    insta::assert_snapshot!("builder_problems", err.to_string());
    let vars_in_order: Vec<&str> = err.problems().iter().map(Problem::var).collect();
    assert_eq!(
        vars_in_order,
        [
            vars::ISSUER_URL,
            vars::AUDIENCE,
            vars::REQUIRED_SCOPES,
            vars::ALGORITHMS,
            vars::LEEWAY,
            vars::HTTP_TIMEOUT
        ]
    );
}

/// The builder and the environment agree on the two newest variables: the same configuration
/// for every accepted value, the same problems for every refused one.
#[test]
fn builder_sets_credentials_file_and_audience_parameter_as_the_environment_does() {
    let env = |pairs: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = BASE.to_vec();
        all.extend_from_slice(pairs);
        AuthConfig::from_vars(all)
    };
    let base = || {
        AuthConfig::builder()
            .enabled(true)
            .issuer("https://idp.example.com/")
            .audience("m4-api")
    };

    for parameter in [
        AudienceParameter::Audience,
        AudienceParameter::Resource,
        AudienceParameter::Scope,
        AudienceParameter::None,
    ] {
        let built = base().audience_parameter(parameter).build();
        assert_eq!(
            built,
            env(&[(vars::AUDIENCE_PARAMETER, parameter.as_str())]),
            "{parameter:?}"
        );
        assert_eq!(built.unwrap().config.audience_parameter(), parameter);
    }

    // Accepted paths, including surrounding blanks, which both paths trim.
    for path in [
        "/home/me/.config/m4-auth/credentials.json",
        "relative/creds.json",
        "C:\\Users\\me\\m4\\credentials.json",
        "/tmp/caf\u{e9} \u{1f600}.json",
        " /tmp/padded.json\n",
    ] {
        let built = base().credentials_file(path).build();
        assert_eq!(built, env(&[(vars::CREDENTIALS_FILE, path)]), "{path:?}");
        assert!(built.unwrap().config.credentials_file().is_some());
    }

    // Refused paths: the same problems, word for word.
    for path in [
        "",
        "   ",
        "\n",
        "/tmp/a\nb.json",
        "/tmp/\u{7}bell",
        "/tmp/\u{9b}csi",
    ] {
        let built = base().credentials_file(path).build().unwrap_err();
        let from_env = env(&[(vars::CREDENTIALS_FILE, path)]).unwrap_err();
        assert_eq!(built, from_env, "{path:?}");
        assert_eq!(built.to_string(), from_env.to_string());
        assert_eq!(built.problems().len(), 1, "{path:?}: {built}");
        assert_eq!(built.problems()[0].var(), vars::CREDENTIALS_FILE);
    }

    // Problems elsewhere are reported with the credentials file's, in the order of vars::ALL.
    let built = AuthConfig::builder()
        .enabled(true)
        .credentials_file("/tmp/a\rb")
        .audience_parameter(AudienceParameter::Scope)
        .build()
        .unwrap_err();
    let from_env = AuthConfig::from_vars([
        (vars::ENABLED, "true"),
        (vars::CREDENTIALS_FILE, "/tmp/a\rb"),
        (vars::AUDIENCE_PARAMETER, "scope"),
    ])
    .unwrap_err();
    assert_eq!(built, from_env);

    // The last call wins, as for every other setter.
    let built = base()
        .credentials_file("/tmp/first.json")
        .credentials_file("/tmp/second.json")
        .audience_parameter(AudienceParameter::Scope)
        .audience_parameter(AudienceParameter::None)
        .build()
        .unwrap();
    assert_eq!(
        built.config.credentials_file(),
        Some(std::path::Path::new("/tmp/second.json"))
    );
    assert_eq!(built.config.audience_parameter(), AudienceParameter::None);
}

/// A path that is not valid Unicode is the problem the environment reports for such a value,
/// never a panic and never a lossy conversion to another path.
#[cfg(unix)]
#[test]
fn builder_refuses_a_non_unicode_credentials_file_as_the_environment_does() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt as _;

    let path = std::path::Path::new(OsStr::from_bytes(b"/tmp/\xffcreds.json"));
    let err = AuthConfig::builder()
        .credentials_file(path)
        .build()
        .unwrap_err();
    assert_eq!(
        err.problems(),
        [Problem::NotUnicode {
            var: vars::CREDENTIALS_FILE
        }]
    );
}
