//! Every user-facing message of this crate, snapshotted with its code, HTTP status, challenges
//! and tool reply.
//!
//! `variant_name` matches on [`AuthError`] with no wildcard arm, so a new variant does not
//! compile until it is named here, and `every_variant_is_sampled` fails until it has a sample.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use m4_jwt_verify::{Algorithm, Error as Jwt, KeyKind, KeyRejection, Segment};

use crate::error::AuthError;
use crate::resource::ProtectedResource;

fn variant_name(err: &AuthError) -> &'static str {
    m4_auth_testkit::variant_name!(err, AuthError {
        MissingToken,
        TokenUnavailable { .. },
        UnsupportedScheme { .. },
        ExtraCredentials,
        TokenNotUnicode,
        Token(_),
        InsufficientScope { .. },
        Jwks(_),
        RateLimited { .. },
        Config(_),
        VerifierSetup(_),
        JwksSetup(_),
        RateLimiterSetup(_),
        UnsupportedAlgorithm { .. },
        UnsupportedBackend { .. },
        InvalidResourceUrl { .. },
    })
}

const ALL_VARIANTS: [&str; 16] = [
    "MissingToken",
    "TokenUnavailable",
    "UnsupportedScheme",
    "ExtraCredentials",
    "TokenNotUnicode",
    "Token",
    "InsufficientScope",
    "Jwks",
    "RateLimited",
    "Config",
    "VerifierSetup",
    "JwksSetup",
    "RateLimiterSetup",
    "UnsupportedAlgorithm",
    "UnsupportedBackend",
    "InvalidResourceUrl",
];

/// One sample of every variant; for [`AuthError::Token`], one verifier error per code it can
/// produce, so every contract code's HTTP mapping is pinned here.
fn samples() -> Vec<AuthError> {
    let config_err = m4_auth_config::AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", "http://idp.example.com/"),
        ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
    ])
    .unwrap_err();
    let jwks_setup = m4_jwks::JwksCache::new(
        m4_jwks::JwksOptions::new("https://idp.example.com/")
            .http_timeout(Duration::from_secs(7200)),
    )
    .unwrap_err();
    let redis = m4_auth_config::AuthConfig::from_vars([
        ("M4_OAUTH2_ENABLED", "true"),
        ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
        ("M4_OAUTH2_AUDIENCE", "m4-api"),
        (
            "M4_OAUTH2_RATE_LIMIT_BACKEND",
            "redis://:hunter2@cache.internal:6379/0",
        ),
    ])
    .unwrap()
    .config;
    // What a build without the `redis` feature answers (built by hand: the default build
    // supports Redis); the password must not show.
    let backend = AuthError::UnsupportedBackend {
        backend: redis.rate_limit_backend().to_string(),
    };
    #[cfg(not(feature = "redis"))]
    assert_eq!(
        crate::Authenticator::new(redis).unwrap_err().to_string(),
        backend.to_string()
    );
    let resource = ProtectedResource::new("http://mcp.example.com/mcp").unwrap_err();
    let scopes = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    vec![
        AuthError::MissingToken,
        AuthError::TokenUnavailable {
            credentials: "the stored login".into(),
            reason: "the stored login has expired or was revoked (the provider said \
                     invalid_grant); run `m4-auth login` again"
                .into(),
            reason_code: "login_expired",
        },
        AuthError::UnsupportedScheme {
            scheme: "Basic".into(),
        },
        AuthError::ExtraCredentials,
        AuthError::TokenNotUnicode,
        AuthError::Token(Jwt::SegmentCount { found: 2 }),
        AuthError::Token(Jwt::InvalidBase64 {
            segment: Segment::Payload,
        }),
        AuthError::Token(Jwt::TokenTooLarge {
            size: 20_000,
            max: 16_384,
        }),
        AuthError::Token(Jwt::HeaderNotObject),
        AuthError::Token(Jwt::UnsupportedAlgorithm {
            alg: "HS256".into(),
        }),
        AuthError::Token(Jwt::MissingKid),
        AuthError::Token(Jwt::UnknownKid {
            kid: "rotated-away".into(),
        }),
        AuthError::Token(Jwt::KeyUnusable {
            kid: "ec-p256".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::KindMismatch {
                kind: KeyKind::Ec {
                    curve: m4_jwt_verify::EcCurve::P256,
                },
                alg: Algorithm::RS256,
            },
        }),
        AuthError::Token(Jwt::InvalidSignature),
        AuthError::Token(Jwt::Expired),
        AuthError::Token(Jwt::NotYetValid),
        AuthError::Token(Jwt::WrongIssuer {
            found: "https://evil.example/".into(),
            expected: "https://idp.example.com/".into(),
        }),
        AuthError::Token(Jwt::WrongAudience {
            expected: "m4-api".into(),
        }),
        AuthError::Token(Jwt::MissingClaim { name: "sub" }),
        AuthError::Token(Jwt::MissingScopes {
            missing: scopes(&["read:mimic-data"]),
        }),
        AuthError::Token(Jwt::JwksUnavailable {
            reason: "GET https://idp.example.com/jwks answered HTTP 503".into(),
        }),
        AuthError::InsufficientScope {
            missing: scopes(&["write:notes"]),
            required: scopes(&["read:mimic-data", "write:notes"]),
        },
        AuthError::Jwks(m4_jwks::Error::HttpStatus {
            url: "https://idp.example.com/jwks".into(),
            status: 503,
        }),
        AuthError::RateLimited {
            retry_after_secs: 1800,
        },
        AuthError::Config(config_err),
        AuthError::VerifierSetup(m4_jwt_verify::OptionsError::NoAlgorithms),
        AuthError::JwksSetup(jwks_setup),
        AuthError::RateLimiterSetup(m4_ratelimit::Error::ZeroLimit),
        AuthError::UnsupportedAlgorithm { alg: "EdDSA" },
        backend,
        resource,
    ]
}

#[test]
fn every_variant_is_sampled() {
    let sampled: BTreeSet<&str> = samples().iter().map(variant_name).collect();
    let all: BTreeSet<&str> = ALL_VARIANTS.into_iter().collect();
    assert_eq!(sampled, all);
}

#[test]
fn every_contract_code_is_reachable_in_the_samples() {
    let codes: BTreeSet<&str> = samples().iter().map(AuthError::code).collect();
    for code in crate::CODES {
        assert!(codes.contains(code), "{code} has no sample");
    }
}

#[test]
fn messages() {
    let resource = ProtectedResource::new("https://mcp.example.com/mcp")
        .unwrap()
        .with_realm("m4")
        .with_authorization_server("https://idp.example.com/");
    let mut out = String::new();
    for err in samples() {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            out,
            "{} / {} / HTTP {}\n  message: {}\n  tool reply: {}\n  retry-after: {}\n  challenge: {}\n  challenge with resource: {}\n",
            variant_name(&err),
            err.code(),
            err.http_status(),
            err.message().replace('\n', "\n    "),
            err.to_tool_reply().replace('\n', "\n    "),
            show(err.retry_after().map(|s| s.to_string())),
            show(err.www_authenticate(None)),
            show(err.www_authenticate(Some(&resource))),
        );
    }
    insta::assert_snapshot!(out);
}
