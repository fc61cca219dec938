//! Every user-facing message, snapshotted with insta.
//!
//! Each enum is enumerated through a `match` without a wildcard arm that numbers its variants,
//! so adding a variant fails to compile until it gets an arm here, and the test fails until a
//! sample of it is in the snapshot.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::algorithm::Algorithm;
use crate::error::{
    Error, JwksDocumentError, KeyLookupError, KeyRejection, OptionsError, ParseAlgorithmError,
    Segment, printable,
};
use crate::key::{EcCurve, KeyKind};

fn error_index(e: &Error) -> usize {
    match e {
        Error::EmptyToken => 0,
        Error::TokenTooLarge { .. } => 1,
        Error::SegmentCount { .. } => 2,
        Error::InvalidBase64 { .. } => 3,
        Error::HeaderNotObject => 4,
        Error::DuplicateHeaderParameter { .. } => 5,
        Error::HeaderParameterType { .. } => 6,
        Error::MissingAlgorithm => 7,
        Error::UnsupportedAlgorithm { .. } => 8,
        Error::CriticalHeader { .. } => 9,
        Error::UnencodedPayload => 10,
        Error::MissingKid => 11,
        Error::UnknownKid { .. } => 12,
        Error::JwksUnavailable { .. } => 13,
        Error::KeyUnusable { .. } => 14,
        Error::InvalidSignature => 15,
        Error::PayloadNotObject => 16,
        Error::DuplicateClaim { .. } => 17,
        Error::MissingClaim { .. } => 18,
        Error::ClaimType { .. } => 19,
        Error::Expired => 20,
        Error::NotYetValid => 21,
        Error::MissingIssuer => 22,
        Error::WrongIssuer { .. } => 23,
        Error::MissingAudience => 24,
        Error::WrongAudience { .. } => 25,
        Error::EmptySubject => 26,
        Error::MissingScopes { .. } => 27,
        Error::UnexpectedType { .. } => 28,
        Error::IssuedInFuture { .. } => 29,
        Error::NestedToken { .. } => 30,
        Error::UnexpectedContentType { .. } => 31,
        Error::SenderConstrained => 32,
        Error::BlankSubject => 33,
        Error::SubjectControlCharacter { .. } => 34,
    }
}
const ERROR_VARIANTS: usize = 35;

fn rejection_index(r: &KeyRejection) -> usize {
    match r {
        KeyRejection::NotAnObject => 0,
        KeyRejection::MissingMember { .. } => 1,
        KeyRejection::MemberType { .. } => 2,
        KeyRejection::MalformedMember { .. } => 3,
        KeyRejection::SymmetricKey => 4,
        KeyRejection::UnsupportedKeyType { .. } => 5,
        KeyRejection::UnsupportedCurve { .. } => 6,
        KeyRejection::EncryptionKey => 7,
        KeyRejection::UnsupportedUse { .. } => 8,
        KeyRejection::NoVerifyOperation => 9,
        KeyRejection::UnsupportedAlgorithm { .. } => 10,
        KeyRejection::PrivateKeyMaterial { .. } => 11,
        KeyRejection::RsaKeyTooSmall { .. } => 12,
        KeyRejection::RsaKeyTooLarge { .. } => 13,
        KeyRejection::WrongLength { .. } => 14,
        KeyRejection::InvalidKey { .. } => 15,
        KeyRejection::KindMismatch { .. } => 16,
        KeyRejection::AlgorithmMismatch { .. } => 17,
        KeyRejection::AmbiguousKid { .. } => 18,
        KeyRejection::NoCompatibleKey { .. } => 19,
    }
}
const REJECTION_VARIANTS: usize = 20;

fn document_index(e: &JwksDocumentError) -> usize {
    match e {
        JwksDocumentError::NotJson { .. } => 0,
        JwksDocumentError::NotAnObject => 1,
        JwksDocumentError::MissingKeys => 2,
        JwksDocumentError::KeysNotArray => 3,
    }
}
const DOCUMENT_VARIANTS: usize = 4;

fn lookup_index(e: &KeyLookupError) -> usize {
    match e {
        KeyLookupError::UnknownKid => 0,
        KeyLookupError::Unavailable { .. } => 1,
        KeyLookupError::Unusable { .. } => 2,
    }
}
const LOOKUP_VARIANTS: usize = 3;

fn options_index(e: &OptionsError) -> usize {
    match e {
        OptionsError::NoAlgorithms => 0,
        OptionsError::EmptyIssuer => 1,
        OptionsError::EmptyAudience => 2,
        OptionsError::InvalidScope { .. } => 3,
        OptionsError::LeewayTooLarge { .. } => 4,
        OptionsError::MaxTokenSize { .. } => 5,
    }
}
const OPTIONS_VARIANTS: usize = 6;

fn segment_index(s: Segment) -> usize {
    match s {
        Segment::Header => 0,
        Segment::Payload => 1,
        Segment::Signature => 2,
    }
}

fn errors() -> Vec<Error> {
    let mut all = vec![
        Error::EmptyToken,
        Error::TokenTooLarge {
            size: 1_048_576,
            max: 16_384,
        },
        Error::SegmentCount { found: 2 },
        Error::SegmentCount { found: 5 },
    ];
    all.extend(
        [Segment::Header, Segment::Payload, Segment::Signature].map(|segment| {
            let _ = segment_index(segment);
            Error::InvalidBase64 { segment }
        }),
    );
    all.extend([
        Error::HeaderNotObject,
        Error::DuplicateHeaderParameter { name: "alg".into() },
        Error::HeaderParameterType {
            name: "kid",
            expected: "a string",
        },
        Error::HeaderParameterType {
            name: "crit",
            expected: "a non-empty array of strings",
        },
        Error::MissingAlgorithm,
        Error::UnsupportedAlgorithm { alg: "none".into() },
        Error::UnsupportedAlgorithm {
            alg: "HS256".into(),
        },
        Error::CriticalHeader {
            names: "\"exp\", \"http://example.com/x\"".into(),
        },
        Error::UnencodedPayload,
        Error::NestedToken { cty: "JWT".into() },
        Error::UnexpectedContentType {
            cty: "application/json".into(),
        },
        Error::HeaderParameterType {
            name: "cty",
            expected: "absent (an access token's payload is its claims set)",
        },
        Error::UnexpectedType {
            typ: "dpop+jwt".into(),
        },
        Error::UnexpectedType {
            typ: printable(&format!("secevent+jwt\u{1b}[31m{}", "x".repeat(80))),
        },
        Error::MissingKid,
        Error::UnknownKid {
            kid: printable("../../etc/passwd\n"),
        },
        Error::UnknownKid {
            kid: printable(&"k".repeat(100)),
        },
        Error::JwksUnavailable {
            reason: "JWKS endpoint timed out after 10 s".into(),
        },
        Error::KeyUnusable {
            kid: "rsa-1024".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::RsaKeyTooSmall { bits: 1024 },
        },
        Error::KeyUnusable {
            kid: "rsa-2048".into(),
            alg: Algorithm::ES256,
            reason: KeyRejection::AlgorithmMismatch {
                declared: Algorithm::RS256,
                requested: Algorithm::ES256,
            },
        },
        Error::KeyUnusable {
            kid: "shared".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::AmbiguousKid { count: 2 },
        },
        Error::KeyUnusable {
            kid: "shared".into(),
            alg: Algorithm::ES384,
            reason: KeyRejection::NoCompatibleKey { count: 2 },
        },
        Error::InvalidSignature,
        Error::PayloadNotObject,
        Error::DuplicateClaim { name: "sub".into() },
        Error::MissingClaim { name: "exp" },
        Error::ClaimType {
            name: "exp",
            expected: "a number of seconds since the epoch",
        },
        Error::Expired,
        Error::NotYetValid,
        Error::IssuedInFuture { leeway: 60 },
        Error::ClaimType {
            name: "iat",
            expected: "a number of seconds since the epoch",
        },
        Error::MissingIssuer,
        Error::WrongIssuer {
            found: "https://evil.example.com/".into(),
            expected: "https://idp.example.com/".into(),
        },
        Error::MissingAudience,
        Error::WrongAudience {
            expected: "m4-api".into(),
        },
        Error::EmptySubject,
        Error::BlankSubject,
        Error::SubjectControlCharacter { found: '\n' },
        Error::SubjectControlCharacter { found: '\u{0}' },
        Error::SubjectControlCharacter { found: '\u{1b}' },
        Error::SubjectControlCharacter { found: '\u{85}' },
        Error::SenderConstrained,
        Error::MissingScopes {
            missing: vec!["read:mimic-data".into()],
        },
        Error::MissingScopes {
            missing: vec!["a:first".into(), "z:last".into()],
        },
    ]);
    all
}

fn rejections() -> Vec<KeyRejection> {
    vec![
        KeyRejection::NotAnObject,
        KeyRejection::MissingMember { member: "kty" },
        KeyRejection::MemberType {
            member: "key_ops",
            expected: "an array of strings",
        },
        KeyRejection::MalformedMember { member: "n" },
        KeyRejection::SymmetricKey,
        KeyRejection::UnsupportedKeyType { kty: "DSA".into() },
        KeyRejection::UnsupportedCurve {
            kty: "EC",
            crv: "P-521".into(),
            supported: "P-256 or P-384",
        },
        KeyRejection::UnsupportedCurve {
            kty: "OKP",
            crv: "X25519".into(),
            supported: "Ed25519",
        },
        KeyRejection::EncryptionKey,
        KeyRejection::UnsupportedUse {
            value: "tls".into(),
        },
        KeyRejection::NoVerifyOperation,
        KeyRejection::UnsupportedAlgorithm {
            alg: "RSA-OAEP".into(),
        },
        KeyRejection::PrivateKeyMaterial { member: "d" },
        KeyRejection::RsaKeyTooSmall { bits: 1024 },
        KeyRejection::RsaKeyTooLarge { bits: 16384 },
        KeyRejection::WrongLength {
            member: "x",
            curve: "P-256",
            expected: 32,
            found: 31,
        },
        KeyRejection::InvalidKey {
            kind: KeyKind::Ec {
                curve: EcCurve::P256,
            },
        },
        KeyRejection::InvalidKey {
            kind: KeyKind::Rsa { bits: 2048 },
        },
        KeyRejection::InvalidKey {
            kind: KeyKind::Ed25519,
        },
        KeyRejection::KindMismatch {
            kind: KeyKind::Ec {
                curve: EcCurve::P384,
            },
            alg: Algorithm::ES256,
        },
        KeyRejection::AlgorithmMismatch {
            declared: Algorithm::PS256,
            requested: Algorithm::RS256,
        },
        KeyRejection::AmbiguousKid { count: 2 },
        KeyRejection::NoCompatibleKey { count: 3 },
    ]
}

fn document_errors() -> Vec<JwksDocumentError> {
    vec![
        JwksDocumentError::NotJson {
            line: 1,
            column: 10,
        },
        JwksDocumentError::NotAnObject,
        JwksDocumentError::MissingKeys,
        JwksDocumentError::KeysNotArray,
    ]
}

fn lookup_errors() -> Vec<KeyLookupError> {
    vec![
        KeyLookupError::UnknownKid,
        KeyLookupError::Unavailable {
            reason: "HTTP 503 from the JWKS endpoint".into(),
        },
        KeyLookupError::Unusable {
            reason: KeyRejection::EncryptionKey,
        },
    ]
}

fn options_errors() -> Vec<OptionsError> {
    vec![
        OptionsError::NoAlgorithms,
        OptionsError::EmptyIssuer,
        OptionsError::EmptyAudience,
        OptionsError::InvalidScope {
            scope: "read:mimic-data write".into(),
        },
        OptionsError::InvalidScope {
            scope: String::new(),
        },
        OptionsError::LeewayTooLarge {
            secs: 3600,
            max: 600,
        },
        OptionsError::MaxTokenSize {
            bytes: 0,
            min: 512,
            max: 1_048_576,
        },
    ]
}

#[track_caller]
fn assert_covers<T>(samples: &[T], index: impl Fn(&T) -> usize, variants: usize) {
    let covered: BTreeSet<usize> = samples.iter().map(index).collect();
    let all: BTreeSet<usize> = (0..variants).collect();
    assert_eq!(covered, all, "a variant has no sample");
}

#[test]
fn every_variant_has_a_sample() {
    assert_covers(&errors(), error_index, ERROR_VARIANTS);
    assert_covers(&rejections(), rejection_index, REJECTION_VARIANTS);
    assert_covers(&document_errors(), document_index, DOCUMENT_VARIANTS);
    assert_covers(&lookup_errors(), lookup_index, LOOKUP_VARIANTS);
    assert_covers(&options_errors(), options_index, OPTIONS_VARIANTS);
}

#[test]
fn messages_follow_the_style() {
    let mut messages: Vec<String> = errors().iter().map(ToString::to_string).collect();
    messages.extend(rejections().iter().map(ToString::to_string));
    messages.extend(document_errors().iter().map(ToString::to_string));
    messages.extend(lookup_errors().iter().map(ToString::to_string));
    messages.extend(options_errors().iter().map(ToString::to_string));
    for m in &messages {
        assert!(!m.ends_with('.'), "trailing period: {m}");
        assert!(
            !m.contains("{ ") && !m.contains("Some("),
            "Debug leaked into: {m}"
        );
        assert!(!m.is_empty());
    }
}

#[test]
fn error_messages() {
    let mut out = String::new();
    for e in errors() {
        let _ = writeln!(out, "{:<22} {e}", e.code());
    }
    insta::assert_snapshot!(out);
}

#[test]
fn key_rejection_messages() {
    let text: Vec<String> = rejections().iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn jwks_document_messages() {
    let text: Vec<String> = document_errors().iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn key_lookup_messages() {
    let text: Vec<String> = lookup_errors().iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn options_messages() {
    let text: Vec<String> = options_errors().iter().map(ToString::to_string).collect();
    insta::assert_snapshot!(text.join("\n"));
}

#[test]
fn parse_algorithm_messages() {
    let text: Vec<String> = ["none", "HS256", "hs512", "rs256", "ES512", "bad\u{1b}[31m"]
        .iter()
        .map(|name| ParseAlgorithmError::new(name).to_string())
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}
