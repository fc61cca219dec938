//! The attack corpus: every known JWT trick, each asserting its exact error code.
#![cfg(test)]

mod common;

use std::sync::Arc;

use common::*;
use m4_jwt_verify::{
    Algorithm, EcCurve, Error, KeyKind, KeyLookupError, KeyRejection, KeyResolver, VerifyingKey,
};
use serde_json::{Value, json};

fn header(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "typ": "JWT", "kid": kid})
}

fn header_with(alg: &str, kid: &str, extra: &[(&str, Value)]) -> Value {
    let mut h = header(alg, kid);
    for (k, v) in extra {
        h.as_object_mut()
            .unwrap()
            .insert((*k).to_owned(), v.clone());
    }
    h
}

/// A token signed with the `rsa-2048` key whose header sets `param` to `value`.
fn signed_with_param(param: &str, value: Value) -> String {
    let h = header_with("RS256", "rsa-2048", &[(param, value)]);
    sign_with(&h, &claims(), "rsa-2048", "RS256")
}

/// Each of `values`, signed into a header by `token_with`, is refused as `invalid_header` with
/// `expected(value)`, whose message quotes the value; the errors.
fn refused_naming_the_value(
    token_with: &dyn Fn(Value) -> String,
    values: &[&str],
    expected: impl Fn(String) -> Error,
) -> Vec<Error> {
    let mut errors = Vec::new();
    for value in values {
        let err = rejects(&token_with(json!(value)), "invalid_header");
        assert_eq!(err, expected((*value).to_owned()));
        assert!(
            err.to_string().contains(&format!("\"{value}\"")),
            "the message names the value found: {err}"
        );
        errors.push(err);
    }
    errors
}

/// Replaces segment `i` of a token.
fn with_segment(token: &str, i: usize, value: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[i] = value;
    parts.join(".")
}

fn unsigned(header: &Value, claims: &Value, sig: &str) -> String {
    format!(
        "{}.{}.{sig}",
        b64(header.to_string()),
        b64(claims.to_string())
    )
}

// ---- algorithm confusion -------------------------------------------------------------------

#[test]
fn alg_none_without_signature() {
    for none in ["none", "None", "NONE", "nOnE"] {
        let token = unsigned(&header(none, "rsa-2048"), &claims(), "");
        let err = rejects(&token, "unsupported_algorithm");
        assert_eq!(err, Error::UnsupportedAlgorithm { alg: none.into() });
    }
}

#[test]
fn alg_none_with_a_real_signature() {
    let valid = valid_rs256();
    let sig = valid.split('.').nth(2).unwrap();
    let token = unsigned(&header("none", "rsa-2048"), &claims(), sig);
    rejects(&token, "unsupported_algorithm");
}

#[test]
fn hs256_signed_with_the_rsa_public_key_as_secret() {
    // The classic key-confusion attack: the verifier's own public key used as an HMAC secret,
    // both as the JWK JSON text and as the bare modulus.
    for secret in [
        jwk("rsa-2048").to_string(),
        jwk("rsa-2048")["n"].as_str().unwrap().to_owned(),
    ] {
        let input = format!(
            "{}.{}",
            b64(header("HS256", "rsa-2048").to_string()),
            b64(claims().to_string())
        );
        let sig = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            jsonwebtoken::Algorithm::HS256,
        )
        .unwrap();
        rejects(&format!("{input}.{sig}"), "unsupported_algorithm");
        // Even a verifier allowing every algorithm cannot express HS256.
        rejects_with(
            &all_algorithms(),
            &format!("{input}.{sig}"),
            "unsupported_algorithm",
        );
    }
    for hs in ["HS384", "HS512"] {
        rejects(
            &sign_with(&header(hs, "rsa-2048"), &claims(), "secret", hs),
            "unsupported_algorithm",
        );
    }
}

#[test]
fn validly_signed_tokens_outside_the_allowlist() {
    let rs512 = sign_with(
        &header("RS512", "any-rsa"),
        &claims(),
        "rsa-2048-b",
        "RS512",
    );
    let ps256 = sign_with(
        &header("PS256", "ps-only"),
        &claims(),
        "rsa-2048-b",
        "PS256",
    );
    let es384 = sign_with(&header("ES384", "ec-p384"), &claims(), "ec-p384", "ES384");
    let eddsa = sign_with(&header("EdDSA", "ed25519"), &claims(), "ed25519", "EdDSA");
    for token in [&rs512, &ps256, &es384, &eddsa] {
        rejects(token, "unsupported_algorithm");
    }
    // Control: the same tokens verify once their algorithm is allowed, so the rejection
    // above is the allowlist and nothing else.
    for token in [&rs512, &ps256, &es384, &eddsa] {
        accepts_with(&all_algorithms(), token);
    }
}

#[test]
fn alg_spelling_tricks() {
    for alg in [
        "rs256",
        "RS256 ",
        " RS256",
        "RS 256",
        "RS256\u{0}",
        "ES512",
        "ES256K",
        "RSA",
        "",
    ] {
        let token = sign_with(&header(alg, "rsa-2048"), &claims(), "rsa-2048", "RS256");
        rejects(&token, "unsupported_algorithm");
    }
    let token = sign_with(
        &json!({"alg": ["RS256"], "kid": "rsa-2048"}),
        &claims(),
        "rsa-2048",
        "RS256",
    );
    rejects(&token, "invalid_header");
    let token = sign_with(&json!({"kid": "rsa-2048"}), &claims(), "rsa-2048", "RS256");
    assert_eq!(rejects(&token, "invalid_header"), Error::MissingAlgorithm);
}

#[test]
fn a_kid_naming_a_key_of_another_type() {
    // ES256 token whose kid names the RSA key.
    let token = sign_with(&header("ES256", "rsa-2048"), &claims(), "ec-p256", "ES256");
    let err = rejects(&token, "invalid_signature");
    assert_eq!(
        err,
        Error::KeyUnusable {
            kid: "rsa-2048".into(),
            alg: Algorithm::ES256,
            reason: KeyRejection::AlgorithmMismatch {
                declared: Algorithm::RS256,
                requested: Algorithm::ES256
            },
        }
    );
    // RS256 token whose kid names the EC key (no declared alg involved: `any-p384`).
    let token = sign_with(&header("RS256", "any-p384"), &claims(), "rsa-2048", "RS256");
    let err = rejects(&token, "invalid_signature");
    assert_eq!(
        err,
        Error::KeyUnusable {
            kid: "any-p384".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::KindMismatch {
                kind: KeyKind::Ec {
                    curve: EcCurve::P384
                },
                alg: Algorithm::RS256
            },
        }
    );
}

#[test]
fn es256_header_with_a_p384_key() {
    let token = sign_with(&header("ES256", "any-p384"), &claims(), "ec-p384", "ES384");
    let err = rejects(&token, "invalid_signature");
    assert!(
        matches!(
            err,
            Error::KeyUnusable {
                reason: KeyRejection::KindMismatch { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn an_rsa_1024_key() {
    let input = format!(
        "{}.{}",
        b64(header("RS256", "rsa-1024").to_string()),
        b64(claims().to_string())
    );
    let sig = rsa_pkcs1_sha256_sign_unchecked(pem("rsa-1024"), input.as_bytes());
    assert_eq!(sig.len(), 128);
    let token = format!("{input}.{}", b64(&sig));
    // The signature is genuine: raw RSA-1024 verification (legacy aws-lc-rs algorithm) accepts it.
    let jwk = jwk("rsa-1024");
    let public = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: unb64(jwk["n"].as_str().unwrap()),
        e: unb64(jwk["e"].as_str().unwrap()),
    };
    public
        .verify(
            &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
            input.as_bytes(),
            &sig,
        )
        .unwrap();
    let err = rejects(&token, "invalid_signature");
    assert_eq!(
        err,
        Error::KeyUnusable {
            kid: "rsa-1024".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::RsaKeyTooSmall { bits: 1024 },
        }
    );
}

#[test]
fn a_use_enc_key() {
    let token = sign_with(
        &header("RS256", "enc-key"),
        &claims(),
        "rsa-2048-b",
        "RS256",
    );
    let err = rejects(&token, "invalid_signature");
    assert!(
        matches!(
            err,
            Error::KeyUnusable {
                reason: KeyRejection::EncryptionKey,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_key_whose_alg_differs_from_the_header() {
    let token = sign_with(
        &header("RS256", "ps-only"),
        &claims(),
        "rsa-2048-b",
        "RS256",
    );
    let err = rejects(&token, "invalid_signature");
    assert_eq!(
        err,
        Error::KeyUnusable {
            kid: "ps-only".into(),
            alg: Algorithm::RS256,
            reason: KeyRejection::AlgorithmMismatch {
                declared: Algorithm::PS256,
                requested: Algorithm::RS256
            },
        }
    );
}

// ---- key selection ---------------------------------------------------------------------------

#[test]
fn missing_and_unknown_kid() {
    let token = sign_with(&json!({"alg": "RS256"}), &claims(), "rsa-2048", "RS256");
    assert_eq!(rejects(&token, "missing_kid"), Error::MissingKid);
    let token = sign_with(&header("RS256", ""), &claims(), "rsa-2048", "RS256");
    assert_eq!(rejects(&token, "missing_kid"), Error::MissingKid);
    let token = sign_with(
        &header("RS256", "rotated-away"),
        &claims(),
        "rsa-2048",
        "RS256",
    );
    assert_eq!(
        rejects(&token, "unknown_kid"),
        Error::UnknownKid {
            kid: "rotated-away".into()
        }
    );
    let token = sign_with(
        &json!({"alg": "RS256", "kid": 7}),
        &claims(),
        "rsa-2048",
        "RS256",
    );
    assert_eq!(
        rejects(&token, "invalid_header"),
        Error::HeaderParameterType {
            name: "kid",
            expected: "a string"
        }
    );
    let token = sign_with(
        &json!({"alg": "RS256", "kid": null}),
        &claims(),
        "rsa-2048",
        "RS256",
    );
    rejects(&token, "invalid_header");
}

#[test]
fn path_traversal_and_injection_kids() {
    let kids = [
        "../../../../../../dev/null",
        "/etc/passwd",
        "rsa-2048/../rsa-2048",
        "..\\..\\windows\\win.ini",
        "file:///etc/passwd",
        "' OR '1'='1",
        "rsa-2048' --",
        "rsa-2048\u{0}",
        "rsa-2048\n",
        " rsa-2048",
        "RSA-2048",
        "$(touch /tmp/pwned)",
        "`id`",
        "<script>alert(1)</script>",
        "{\"$ne\": null}",
        "%2e%2e%2f",
        "\u{202e}8402-asr",
    ];
    for kid in kids {
        let token = sign_with(&header("RS256", kid), &claims(), "rsa-2048", "RS256");
        let err = rejects(&token, "unknown_kid");
        let message = err.to_string();
        assert!(
            !message.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "unescaped: {message:?}"
        );
    }
    // A very long kid is echoed truncated.
    let long = "k".repeat(5000);
    let token = sign_with(&header("RS256", &long), &claims(), "rsa-2048", "RS256");
    let err = rejects(&token, "unknown_kid");
    assert!(err.to_string().chars().count() < 120, "{err}");
}

#[test]
fn embedded_key_header_injection() {
    // The attacker signs with their own key (rsa-2048-b) and ships its public half in the
    // header (`jwk`), or points at it (`jku`, `x5u`, `x5c`). None of it is ever used.
    let attacker_jwk = jwk_with("rsa-2048-b", &[("kid", json!("rsa-2048"))]);
    let injections = [
        ("jwk", attacker_jwk),
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        (
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
    ];
    for (param, value) in &injections {
        // Claiming the real kid: the real key does not verify the attacker's signature.
        let h = header_with("RS256", "rsa-2048", &[(param, value.clone())]);
        rejects(
            &sign_with(&h, &claims(), "rsa-2048-b", "RS256"),
            "invalid_signature",
        );
        // Claiming the attacker's own kid: not in the key set.
        let h = header_with("RS256", "attacker", &[(param, value.clone())]);
        rejects(
            &sign_with(&h, &claims(), "rsa-2048-b", "RS256"),
            "unknown_kid",
        );
        // No kid at all, hoping the embedded key is used.
        let h = json!({"alg": "RS256", *param: value});
        rejects(
            &sign_with(&h, &claims(), "rsa-2048-b", "RS256"),
            "missing_kid",
        );
    }
    // The same header parameters next to a genuine signature change nothing: they are ignored.
    let h = header_with(
        "RS256",
        "rsa-2048",
        &[("jku", json!("https://attacker.example/jwks.json"))],
    );
    accepts(&sign_with(&h, &claims(), "rsa-2048", "RS256"));
}

// ---- signature tampering ---------------------------------------------------------------------

#[test]
fn tampered_payload() {
    let token = valid_rs256();
    let forged = claims_with(&[
        ("sub", json!("admin")),
        ("scope", json!("read:mimic-data admin")),
    ]);
    rejects(
        &with_segment(&token, 1, &b64(forged.to_string())),
        "invalid_signature",
    );
    // Same JSON, re-serialized with a space: different bytes, different signature input.
    let spaced = serde_json::to_string_pretty(&claims()).unwrap();
    rejects(&with_segment(&token, 1, &b64(spaced)), "invalid_signature");
}

#[test]
fn tampered_header() {
    let token = valid_rs256();
    let h = header_with("RS256", "rsa-2048", &[("extra", json!(1))]);
    rejects(
        &with_segment(&token, 0, &b64(h.to_string())),
        "invalid_signature",
    );
}

#[test]
fn flipped_truncated_extended_and_empty_signatures() {
    for token in [valid_rs256(), mint("ec-p256", "ES256", &claims())] {
        let sig = unb64(token.split('.').nth(2).unwrap());
        for bit in [0, 7, sig.len() * 4, sig.len() * 8 - 1] {
            let mut flipped = sig.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            rejects(
                &with_segment(&token, 2, &b64(&flipped)),
                "invalid_signature",
            );
        }
        rejects(
            &with_segment(&token, 2, &b64(&sig[..sig.len() - 1])),
            "invalid_signature",
        );
        rejects(
            &with_segment(&token, 2, &b64(&sig[..sig.len() / 2])),
            "invalid_signature",
        );
        let mut longer = sig.clone();
        longer.push(0);
        rejects(&with_segment(&token, 2, &b64(&longer)), "invalid_signature");
        rejects(&with_segment(&token, 2, ""), "invalid_signature");
    }
}

#[test]
fn a_valid_kid_with_a_signature_from_another_key() {
    let token = sign_with(
        &header("RS256", "rsa-2048"),
        &claims(),
        "rsa-2048-b",
        "RS256",
    );
    assert_eq!(
        rejects(&token, "invalid_signature"),
        Error::InvalidSignature
    );
    let token = sign_with(&header("RS256", "rsa-4096"), &claims(), "rsa-2048", "RS256");
    rejects(&token, "invalid_signature");
}

#[test]
fn es256_signature_der_encoded_instead_of_raw() {
    let token = mint("ec-p256", "ES256", &claims());
    let raw = unb64(token.split('.').nth(2).unwrap());
    assert_eq!(raw.len(), 64);
    let der_int = |x: &[u8]| {
        let x = &x[x.iter().position(|b| *b != 0).unwrap_or(x.len() - 1)..];
        let mut out = vec![0x02];
        if x[0] & 0x80 != 0 {
            out.push(x.len() as u8 + 1);
            out.push(0);
        } else {
            out.push(x.len() as u8);
        }
        out.extend_from_slice(x);
        out
    };
    let (r, s) = (der_int(&raw[..32]), der_int(&raw[32..]));
    let mut der = vec![0x30, (r.len() + s.len()) as u8];
    der.extend(r);
    der.extend(s);
    rejects(&with_segment(&token, 2, &b64(&der)), "invalid_signature");
}

#[test]
fn all_zero_es256_signature_cve_2022_21449() {
    let token = mint("ec-p256", "ES256", &claims());
    rejects(
        &with_segment(&token, 2, &b64([0u8; 64])),
        "invalid_signature",
    );
    // r = s = n (the group order) is the other "psychic signature" variant.
    let n = unb64("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
    rejects(
        &with_segment(&token, 2, &b64([n.clone(), n].concat())),
        "invalid_signature",
    );
}

// ---- header extensions -----------------------------------------------------------------------

#[test]
fn crit_with_unknown_names() {
    for crit in [
        json!(["exp"]),
        json!(["http://example.com/unknown"]),
        json!(["b64"]),
    ] {
        let h = header_with(
            "RS256",
            "rsa-2048",
            &[
                ("crit", crit),
                ("exp", json!(1)),
                ("http://example.com/unknown", json!(1)),
            ],
        );
        let err = rejects(
            &sign_with(&h, &claims(), "rsa-2048", "RS256"),
            "invalid_header",
        );
        assert!(matches!(err, Error::CriticalHeader { .. }), "{err:?}");
    }
    for crit in [json!([]), json!("exp"), json!([1])] {
        let h = header_with("RS256", "rsa-2048", &[("crit", crit)]);
        rejects(
            &sign_with(&h, &claims(), "rsa-2048", "RS256"),
            "invalid_header",
        );
    }
}

#[test]
fn b64_false() {
    let h = header_with(
        "RS256",
        "rsa-2048",
        &[("b64", json!(false)), ("crit", json!(["b64"]))],
    );
    rejects(
        &sign_with(&h, &claims(), "rsa-2048", "RS256"),
        "invalid_header",
    );
    let h = header_with("RS256", "rsa-2048", &[("b64", json!(false))]);
    let err = rejects(
        &sign_with(&h, &claims(), "rsa-2048", "RS256"),
        "invalid_header",
    );
    assert_eq!(err, Error::UnencodedPayload);
    // An RFC 7797 token: the payload travels unencoded.
    let input = format!("{}.{}", b64(h.to_string()), claims());
    let sig = signature(&input, "rsa-2048", "RS256");
    rejects(&format!("{input}.{sig}"), "malformed_token");
}

#[test]
fn duplicate_header_parameters() {
    // A parser that keeps the first `alg` would see RS256, one that keeps the last, none.
    let token = sign_raw(
        r#"{"alg":"RS256","kid":"rsa-2048","alg":"none"}"#,
        &claims().to_string(),
        "rsa-2048",
        "RS256",
    );
    assert_eq!(
        rejects(&token, "invalid_header"),
        Error::DuplicateHeaderParameter { name: "alg".into() }
    );
    let token = sign_raw(
        r#"{"alg":"RS256","kid":"rsa-2048","kid":"rsa-4096"}"#,
        &claims().to_string(),
        "rsa-2048",
        "RS256",
    );
    rejects(&token, "invalid_header");
}

#[test]
fn typ_must_be_a_string_when_present() {
    let h = json!({"alg": "RS256", "kid": "rsa-2048", "typ": 1});
    rejects(
        &sign_with(&h, &claims(), "rsa-2048", "RS256"),
        "invalid_header",
    );
}

// ---- claims ----------------------------------------------------------------------------------

#[test]
fn time_claims() {
    let check = |changes: &[(&str, Value)], code: &str| {
        rejects(&mint("rsa-2048", "RS256", &claims_with(changes)), code)
    };
    assert_eq!(
        check(&[("exp", json!(NOW - 3600))], "token_expired"),
        Error::Expired
    );
    assert_eq!(
        check(&[("exp", json!(NOW - 60))], "token_expired"),
        Error::Expired
    );
    check(&[("exp", Value::Null)], "invalid_claims");
    check(
        &[("exp", json!((NOW + 3600).to_string()))],
        "invalid_claims",
    );
    check(&[("exp", json!(true))], "invalid_claims");
    check(&[("exp", json!([NOW + 3600]))], "invalid_claims");
    check(&[("exp", json!(-1))], "token_expired");
    assert_eq!(
        check(&[("nbf", json!(NOW + 61))], "token_not_yet_valid"),
        Error::NotYetValid
    );
    check(&[("nbf", json!(NOW + 3600))], "token_not_yet_valid");
    check(&[("nbf", json!(NOW as f64 + 60.5))], "token_not_yet_valid");
    check(&[("nbf", json!("0"))], "invalid_claims");
}

#[test]
fn issuer() {
    let check = |iss: Value| {
        rejects(
            &mint("rsa-2048", "RS256", &claims_with(&[("iss", iss)])),
            "invalid_issuer",
        )
    };
    assert_eq!(check(Value::Null), Error::MissingIssuer);
    for wrong in [
        "https://evil.example.com/",
        "https://idp.example.com",
        "https://IDP.example.com/",
        "https://idp.example.com/ ",
        "",
    ] {
        check(json!(wrong));
    }
    let err = check(json!("https://evil.example.com/"));
    assert_eq!(
        err.to_string(),
        "Token issuer \"https://evil.example.com/\" is not the expected \"https://idp.example.com/\""
    );
    rejects(
        &mint("rsa-2048", "RS256", &claims_with(&[("iss", json!([ISS]))])),
        "invalid_claims",
    );
}

#[test]
fn audience() {
    let check = |aud: Value, code: &str| {
        rejects(
            &mint("rsa-2048", "RS256", &claims_with(&[("aud", aud)])),
            code,
        )
    };
    assert_eq!(
        check(Value::Null, "invalid_audience"),
        Error::MissingAudience
    );
    check(json!("other-api"), "invalid_audience");
    check(json!("M4-API"), "invalid_audience");
    check(json!("m4-api "), "invalid_audience");
    check(json!(["other-api", "another"]), "invalid_audience");
    check(json!([]), "invalid_audience");
    check(json!("m4-api other-api"), "invalid_audience");
    check(json!([["m4-api"]]), "invalid_claims");
    check(json!(["other", 5]), "invalid_claims");
    check(json!({"aud": "m4-api"}), "invalid_claims");
}

#[test]
fn subject() {
    let check = |sub: Value, code: &str| {
        rejects(
            &mint("rsa-2048", "RS256", &claims_with(&[("sub", sub)])),
            code,
        )
    };
    assert_eq!(
        check(Value::Null, "invalid_claims"),
        Error::MissingClaim { name: "sub" }
    );
    assert_eq!(check(json!(""), "invalid_claims"), Error::EmptySubject);
    check(json!(42), "invalid_claims");
    check(json!(["user"]), "invalid_claims");
}

/// `sub` is the rate-limit key and is shown in logs and by `whoami`: a subject that is only
/// whitespace lets distinct misissued tokens share one identity, and a control character can
/// forge a log line. Each is refused, and the message names the problem without echoing the
/// value raw.
#[test]
fn subject_blank_or_with_control_characters() {
    let check = |sub: &str| {
        rejects(
            &mint("rsa-2048", "RS256", &claims_with(&[("sub", json!(sub))])),
            "invalid_claims",
        )
    };
    for blank in [
        " ",
        "   ",
        "\u{3000}",
        "\u{a0}\u{2003}",
        "\u{2028}",
        " \u{2029} ",
    ] {
        let err = check(blank);
        assert_eq!(err, Error::BlankSubject, "{blank:?}");
        let message = err.to_string();
        assert!(
            message.contains("\"sub\"") && message.contains("whitespace"),
            "{blank:?}: {message}"
        );
        assert!(
            !message.contains(['\u{3000}', '\u{a0}', '\u{2003}', '\u{2028}', '\u{2029}']),
            "{blank:?} echoed: {message:?}"
        );
    }
    for (sub, shown) in [
        ("\n", "U+000A"),
        ("user\nadmin", "U+000A"),
        ("user\r\n2026-01-01 INFO login ok sub=admin", "U+000D"),
        ("\u{0}", "U+0000"),
        ("user\u{0}", "U+0000"),
        ("\u{1b}[31mred", "U+001B"),
        ("tab\there", "U+0009"),
        ("del\u{7f}", "U+007F"),
        ("next\u{85}line", "U+0085"),
        ("c1\u{9b}31m", "U+009B"),
        (" \n ", "U+000A"),
    ] {
        let err = check(sub);
        assert!(
            matches!(err, Error::SubjectControlCharacter { found } if found.is_control()),
            "{sub:?}: {err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("\"sub\"") && message.contains(shown),
            "{sub:?}: {message}"
        );
        assert!(
            !message.chars().any(char::is_control),
            "{sub:?}: control character in {message:?}"
        );
    }
}

/// RFC 7800 `cnf`: a token bound to a key (DPoP, RFC 9449 `cnf.jkt`; mTLS, RFC 8705
/// `cnf.x5t#S256`) is only as good as the proof of possession, which m4-auth cannot check; a
/// stolen bound token must not work here as a bearer token. Any `cnf`, whatever its value
/// (null, `{}`, a string, an unknown method), is refused: fail closed.
#[test]
fn sender_constrained_tokens_are_refused() {
    let bound = |cnf: Value| {
        let mut c = claims();
        c["cnf"] = cnf;
        c
    };
    let cases = [
        // Really signed by the testkit keys, RS256 and ES256.
        (
            "rsa-2048",
            "RS256",
            json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ),
        (
            "ec-p256",
            "ES256",
            json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ),
        (
            "rsa-2048",
            "RS256",
            json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        ),
        (
            "ec-p256",
            "ES256",
            json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
        ),
        ("rsa-2048", "RS256", json!({"jwk": jwk("ec-p256")})),
        ("rsa-2048", "RS256", json!({"kid": "some-key"})),
        ("rsa-2048", "RS256", json!({"unknown-method": 1})),
        ("rsa-2048", "RS256", json!({})),
        ("rsa-2048", "RS256", Value::Null),
        ("rsa-2048", "RS256", json!("jkt")),
        ("rsa-2048", "RS256", json!(false)),
        ("rsa-2048", "RS256", json!([])),
    ];
    for (key, alg, cnf) in cases {
        let token = mint(key, alg, &bound(cnf.clone()));
        let err = rejects(&token, "invalid_claims");
        assert_eq!(err, Error::SenderConstrained, "{cnf}");
        let message = err.to_string();
        assert!(
            message.contains("\"cnf\"") && message.contains("bearer"),
            "{cnf}: {message}"
        );
    }
    // The control: the same claims without `cnf` pass, so only the binding was refused.
    accepts(&mint("rsa-2048", "RS256", &claims()));
    accepts(&mint("ec-p256", "ES256", &claims()));
}

#[test]
fn scopes_are_exact() {
    let check = |scope: &[(&str, Value)]| {
        let mut changes = vec![("scope", Value::Null)];
        changes.extend_from_slice(scope);
        rejects(
            &mint("rsa-2048", "RS256", &claims_with(&changes)),
            "missing_scopes",
        )
    };
    let missing = Error::MissingScopes {
        missing: vec![SCOPE.into()],
    };
    assert_eq!(check(&[]), missing);
    assert_eq!(check(&[("scope", json!("read:mimic-data-extra"))]), missing);
    assert_eq!(check(&[("scope", json!("read:mimic"))]), missing);
    assert_eq!(check(&[("scope", json!("READ:MIMIC-DATA"))]), missing);
    assert_eq!(check(&[("scope", json!("Read:mimic-data"))]), missing);
    assert_eq!(
        check(&[("scope", json!("read:mimic-data,write:mimic-data"))]),
        missing
    );
    assert_eq!(
        check(&[("scope", json!("openid,read:mimic-data"))]),
        missing
    );
    assert_eq!(
        check(&[("scope", json!("read:mimic-data\twrite"))]),
        missing
    );
    assert_eq!(
        check(&[("scp", json!(["read:mimic-data write:mimic-data"]))]),
        missing
    );
    assert_eq!(check(&[("scp", json!("read:mimic-data-extra"))]), missing);
    assert_eq!(check(&[("scopes", json!("read:mimic-data"))]), missing);
    assert_eq!(check(&[("scope", json!(""))]), missing);
}

#[test]
fn missing_scopes_are_listed_sorted() {
    let v = options()
        .required_scopes(["z:last", "read:mimic-data", "a:first"])
        .build()
        .unwrap();
    let token = mint("rsa-2048", "RS256", &claims());
    let err = rejects_with(&v, &token, "missing_scopes");
    assert_eq!(err.to_string(), "Missing required scopes: a:first, z:last");
}

#[test]
fn scope_claims_of_the_wrong_type() {
    for (name, value) in [
        ("scope", json!(1)),
        ("scope", json!({"read": true})),
        ("scp", json!([1])),
        ("scp", json!(null)),
    ] {
        let token = mint("rsa-2048", "RS256", &claims_with(&[(name, value.clone())]));
        // json!(null) removes the member in claims_with, so a present null is built by hand.
        if value.is_null() {
            let mut c = claims();
            c["scp"] = Value::Null;
            rejects(&mint("rsa-2048", "RS256", &c), "invalid_claims");
        } else {
            rejects(&token, "invalid_claims");
        }
    }
}

#[test]
fn duplicate_claims() {
    let payload = format!(
        r#"{{"iss":"{ISS}","aud":"{AUD}","sub":"user","sub":"admin","scope":"{SCOPE}","exp":{}}}"#,
        NOW + 60
    );
    let token = sign_raw(
        &header("RS256", "rsa-2048").to_string(),
        &payload,
        "rsa-2048",
        "RS256",
    );
    assert_eq!(
        rejects(&token, "invalid_claims"),
        Error::DuplicateClaim { name: "sub".into() }
    );
}

// ---- malformed input -------------------------------------------------------------------------

#[test]
fn malformed_input() {
    let t = valid_rs256();
    let parts: Vec<&str> = t.split('.').collect();
    let check = |token: &str, code: &str| rejects(token, code);

    assert_eq!(check("", "malformed_token"), Error::EmptyToken);
    assert_eq!(
        check(&format!("{}.{}", parts[0], parts[1]), "malformed_token"),
        Error::SegmentCount { found: 2 }
    );
    assert_eq!(
        check(&format!("{t}.{}", parts[2]), "malformed_token"),
        Error::SegmentCount { found: 4 }
    );
    assert_eq!(
        check(&format!("{t}.a.b"), "malformed_token"),
        Error::SegmentCount { found: 5 }
    );
    check(parts[0], "malformed_token");
    check("..", "invalid_header");
    check(&format!("{t}."), "malformed_token");
    check(&format!("Bearer {t}"), "malformed_token");
    check(&format!("{t}\n"), "malformed_token");
    check(&format!(" {t}"), "malformed_token");

    // Bad base64url: standard alphabet, padding, stray characters, impossible length.
    for (i, segment) in parts.iter().enumerate() {
        let mut impossible_length = segment.to_string();
        while impossible_length.len() % 4 != 1 {
            impossible_length.push('A');
        }
        for bad in [
            format!("{segment}="),
            format!("{segment}=="),
            format!("+{segment}"),
            format!("/{segment}"),
            format!("*{segment}"),
            impossible_length,
        ] {
            let token = with_segment(&t, i, &bad);
            let err = rejects(&token, "malformed_token");
            assert!(matches!(err, Error::InvalidBase64 { .. }), "{bad}: {err:?}");
        }
    }
    // Non-canonical trailing bits: the last character of a segment whose length is not a
    // multiple of 4 has spare low bits that must be zero.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let header = b64(r#"{"alg":"RS256","kid":"rsa-2048"}"#);
    assert_ne!(header.len() % 4, 0);
    let last = ALPHABET
        .iter()
        .position(|c| *c == *header.as_bytes().last().unwrap())
        .unwrap();
    assert_eq!(last & 1, 0);
    let sloppy = format!(
        "{}{}",
        &header[..header.len() - 1],
        ALPHABET[last | 1] as char
    );
    let err = check(&with_segment(&t, 0, &sloppy), "malformed_token");
    assert_eq!(
        err,
        Error::InvalidBase64 {
            segment: m4_jwt_verify::Segment::Header
        }
    );

    // Header not a JSON object.
    for h in [
        "not json",
        "[\"RS256\"]",
        "\"RS256\"",
        "null",
        "{\"alg\":\"RS256\"",
        "\u{feff}{\"alg\":\"RS256\",\"kid\":\"rsa-2048\"}",
    ] {
        assert_eq!(
            check(
                &format!("{}.{}.{}", b64(h), parts[1], parts[2]),
                "invalid_header"
            ),
            Error::HeaderNotObject,
            "{h}"
        );
    }
    check(
        &format!("{}.{}.{}", b64([0xff, 0xfe]), parts[1], parts[2]),
        "invalid_header",
    );
}

#[test]
fn payloads_that_are_not_json_objects() {
    for payload in [
        "[1,2,3]",
        "\"a string\"",
        "42",
        "not json",
        "{\"sub\":\"x\"",
        "",
    ] {
        let token = sign_raw(
            &header("RS256", "rsa-2048").to_string(),
            payload,
            "rsa-2048",
            "RS256",
        );
        assert_eq!(
            rejects(&token, "malformed_token"),
            Error::PayloadNotObject,
            "{payload}"
        );
    }
}

#[test]
fn oversized_tokens() {
    let big = "A".repeat(1 << 20);
    assert_eq!(
        rejects(&big, "token_too_large"),
        Error::TokenTooLarge {
            size: 1 << 20,
            max: 16 * 1024
        }
    );
    // A validly signed token just over the limit is still refused, unparsed.
    let padding = "x".repeat(16 * 1024);
    let token = mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("pad", json!(padding))]),
    );
    rejects(&token, "token_too_large");
    // Exactly at the limit is accepted when the limit allows it.
    let v = options().max_token_size(token.len()).build().unwrap();
    accepts_with(&v, &token);
    let v = options().max_token_size(token.len() - 1).build().unwrap();
    rejects_with(&v, &token, "token_too_large");
}

#[test]
fn deeply_nested_json_does_not_overflow() {
    let deep = format!(
        "{{\"a\":{}1{}}}",
        "[".repeat(100_000 / 2),
        "]".repeat(100_000 / 2)
    );
    let v = options().max_token_size(1 << 20).build().unwrap();
    let token = format!("{}.{}.AA", b64(&deep), b64("{}"));
    rejects_with(&v, &token, "invalid_header");
    let token = sign_raw(
        &header("RS256", "rsa-2048").to_string(),
        &deep,
        "rsa-2048",
        "RS256",
    );
    rejects_with(&v, &token, "malformed_token");
}

// ---- resolver behaviour ----------------------------------------------------------------------

struct Unavailable;
impl KeyResolver for Unavailable {
    fn resolve(&self, _: &str, _: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        Err(KeyLookupError::Unavailable {
            reason: "JWKS endpoint timed out after 10 s".into(),
        })
    }
}

/// A buggy resolver that ignores the algorithm and returns the RSA key for everything.
struct IgnoresAlg(Arc<VerifyingKey>);
impl KeyResolver for IgnoresAlg {
    fn resolve(&self, _: &str, _: Algorithm) -> Result<Arc<VerifyingKey>, KeyLookupError> {
        Ok(Arc::clone(&self.0))
    }
}

#[test]
fn unavailable_keys() {
    let err = verifier().verify(&valid_rs256(), &Unavailable).unwrap_err();
    assert_eq!(err.code(), "jwks_unavailable");
    assert_eq!(
        err.to_string(),
        "Signing keys are unavailable: JWKS endpoint timed out after 10 s"
    );
}

#[test]
fn the_verifier_rechecks_compatibility_whatever_the_resolver_returns() {
    let rsa = Arc::new(VerifyingKey::from_jwk(&jwk("rsa-2048")).unwrap());
    let token = mint("ec-p256", "ES256", &claims());
    let err = verifier().verify(&token, &IgnoresAlg(rsa)).unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
    assert!(matches!(err, Error::KeyUnusable { .. }));
}

#[test]
fn messages_never_contain_the_token() {
    let token = valid_rs256();
    let parts: Vec<&str> = token.split('.').collect();
    let forged = with_segment(
        &token,
        1,
        &b64(claims_with(&[("sub", json!("admin"))]).to_string()),
    );
    let cases = [
        format!("{}.{}", parts[0], parts[1]),
        forged,
        with_segment(&token, 2, "AAAA"),
        format!("{token}="),
        mint(
            "rsa-2048",
            "RS256",
            &claims_with(&[("exp", json!(NOW - 3600))]),
        ),
    ];
    for case in cases {
        let err = verifier().verify(&case, &keys()).unwrap_err();
        let shown = format!("{err} {err:?}");
        for part in case.split('.').filter(|p| p.len() > 8) {
            assert!(!shown.contains(part), "{shown}");
        }
    }
}

// ---- hardening (issue 12): each attack next to its control ---------------------------------

/// A token over the exact header and payload bytes (which need not be UTF-8), really signed.
fn sign_bytes(header: &[u8], payload: &[u8], key: &str, alg: &str) -> String {
    let input = format!("{}.{}", b64(header), b64(payload));
    let sig = signature(&input, key, alg);
    format!("{input}.{sig}")
}

/// A token with the default claims, signed by rsa-2048, whose header is
/// `{"alg":"RS256","kid":"rsa-2048",<member>}` with `member` spliced in as raw bytes.
fn with_header_member(member: &[u8]) -> String {
    let header = [
        br#"{"alg":"RS256","kid":"rsa-2048","#.as_slice(),
        member,
        b"}",
    ]
    .concat();
    sign_bytes(
        &header,
        claims().to_string().as_bytes(),
        "rsa-2048",
        "RS256",
    )
}

/// A token with the default header, signed by rsa-2048, over these exact payload bytes.
fn with_payload_bytes(payload: &[u8]) -> String {
    let header = header("RS256", "rsa-2048").to_string();
    sign_bytes(header.as_bytes(), payload, "rsa-2048", "RS256")
}

/// Bytes that are not valid UTF-8 (RFC 3629 §3) or not a decodable JSON string, each as the
/// contents of a JSON string: a stray 0xff, an overlong `/`, an encoded surrogate, a code
/// point above U+10FFFF, a lone continuation byte, a truncated sequence, and lone surrogate
/// escapes (which no UTF-8 string can hold).
const NOT_UTF8: [&[u8]; 8] = [
    b"\xff",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf4\x90\x80\x80",
    b"a\x80b",
    b"\xe2\x82",
    br"\ud800",
    br"x\udc00",
];

#[test]
fn invalid_utf8_in_an_unknown_header_member() {
    // RFC 7515 §5.2: the decoded header must be a completely valid UTF-8 JSON object, so the
    // bytes are refused in an unknown member's value (at any depth) and name, as in `alg`.
    for bad in NOT_UTF8 {
        let string = [b"\"".as_slice(), bad, b"\""].concat();
        let members = [
            [br#""x":"#.as_slice(), &string].concat(),
            [br#""x":["#.as_slice(), &string, b"]"].concat(),
            [br#""x":{"y":{"z":"#.as_slice(), &string, b"}}"].concat(),
            [br#""x":{"#.as_slice(), &string, b":1}"].concat(),
            [string.as_slice(), b":1"].concat(),
        ];
        for member in members {
            let err = rejects(&with_header_member(&member), "invalid_header");
            let shown = String::from_utf8_lossy(&member);
            assert_eq!(err, Error::HeaderNotObject, "{shown}");
        }
    }
    // Nesting past serde_json's limit and a number out of range are refused there as they
    // are in a claim.
    let deep = format!(r#""x":{}1{}"#, "[".repeat(200), "]".repeat(200));
    let token = with_header_member(deep.as_bytes());
    rejects(&token, "invalid_header");
    let nested = format!(r#""x":{}1{}"#, "[".repeat(100), "]".repeat(100));
    accepts(&with_header_member(nested.as_bytes()));
    let token = with_header_member(br#""x":1e400"#);
    rejects(&token, "invalid_header");
    // Control: the same tokens with valid UTF-8 (and a paired surrogate escape) are accepted.
    for good in [
        "\u{e9}\u{10ffff}".as_bytes(),
        b"/",
        br"\ud83d\ude00",
        br"\u00e9",
    ] {
        let string = [b"\"".as_slice(), good, b"\""].concat();
        for member in [
            [br#""x":"#.as_slice(), &string].concat(),
            [br#""x":{"y":["#.as_slice(), &string, b"]}"].concat(),
            [string.as_slice(), b":1"].concat(),
        ] {
            let token = with_header_member(&member);
            accepts(&token);
        }
    }
    accepts(&with_header_member(br#""x":1e300"#));
}

#[test]
fn invalid_utf8_in_an_unknown_claim() {
    // The payload was already read strictly; this pins it for unknown claims at any depth.
    let base = claims().to_string();
    let open = &base[..base.len() - 1];
    for bad in NOT_UTF8 {
        let string = [b"\"".as_slice(), bad, b"\""].concat();
        for member in [
            [br#""groups":"#.as_slice(), &string].concat(),
            [br#""groups":[{"name":"#.as_slice(), &string, b"}]"].concat(),
            [string.as_slice(), b":true"].concat(),
        ] {
            let payload = [open.as_bytes(), b",", &member, b"}"].concat();
            let err = rejects(&with_payload_bytes(&payload), "malformed_token");
            let shown = String::from_utf8_lossy(&payload);
            assert_eq!(err, Error::PayloadNotObject, "{shown}");
        }
    }
    // Control.
    let payload = format!(r#"{open},"groups":[{{"name":"\u00e9\ud83d\ude00"}}]}}"#);
    accepts(&with_payload_bytes(payload.as_bytes()));
}

#[test]
fn typ_of_another_kind_of_jwt() {
    // RFC 8725 §3.11, RFC 9068 §4: `typ` keeps one kind of JWT from passing for another.
    let with_typ = |typ: Value| signed_with_param("typ", typ);
    let typs = [
        "dpop+jwt",
        "logout+jwt",
        "secevent+jwt",
        "application/secevent+jwt",
        "id_token",
        "id_token+jwt",
        "JOSE",
        "JOSE+JSON",
        "JWS",
        "",
        "at+jwt; charset=utf-8",
        " JWT",
        "text/jwt",
    ];
    refused_naming_the_value(&with_typ, &typs, |typ| Error::UnexpectedType { typ });
    // An attacker-chosen typ is echoed escaped and cut.
    let err = rejects(
        &with_typ(json!(format!("\u{1b}[2J{}", "t".repeat(500)))),
        "invalid_header",
    );
    assert!(!err.to_string().contains('\u{1b}') && err.to_string().len() < 300);
    // A typ that is not a string is refused as a mistyped parameter.
    for typ in [json!(1), json!(null), json!(["JWT"]), json!({"typ": "JWT"})] {
        assert_eq!(
            rejects(&with_typ(typ), "invalid_header"),
            Error::HeaderParameterType {
                name: "typ",
                expected: "a string"
            }
        );
    }
    // Control: the access token types real providers send, and no typ at all.
    for typ in [
        "JWT",
        "jwt",
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "application/jwt",
        "Application/JWT",
    ] {
        accepts(&with_typ(json!(typ)));
    }
    accepts(&sign_with(
        &json!({"alg": "RS256", "kid": "rsa-2048"}),
        &claims(),
        "rsa-2048",
        "RS256",
    ));
}

#[test]
fn nested_jwt_is_refused_before_the_signature() {
    // RFC 7519 §5.2: `cty: "JWT"` says the payload is another JWT. m4-auth never processes
    // nested tokens; RFC 8725 §2.8 and §3.11 ask verifiers to be explicit about what they take.
    let inner = valid_rs256();
    for cty in ["JWT", "jwt", "Jwt", "application/jwt", "APPLICATION/JWT"] {
        let h = header_with("RS256", "rsa-2048", &[("cty", json!(cty))]);
        // A genuine nested token: the payload is the text of a valid access token.
        let nested = sign_raw(&h.to_string(), &inner, "rsa-2048", "RS256");
        let err = rejects(&nested, "invalid_header");
        assert_eq!(err, Error::NestedToken { cty: cty.into() });
        assert!(err.to_string().contains("nested"), "{err}");
        // The same header over valid claims must not pass for a plain access token either.
        let outer_claims = sign_with(&h, &claims(), "rsa-2048", "RS256");
        let err = rejects(&outer_claims, "invalid_header");
        assert!(err.to_string().contains("nested"), "{err}");
        // Refused before any key or signature work: a forged signature and an unknown kid
        // get the same answer.
        let forged = with_segment(&outer_claims, 2, &"A".repeat(342));
        assert_eq!(rejects(&forged, "invalid_header"), err);
        let unknown = header_with("RS256", "no-such-key", &[("cty", json!(cty))]);
        assert_eq!(
            rejects(&unsigned(&unknown, &claims(), "AAAA"), "invalid_header"),
            err
        );
    }
}

#[test]
fn any_other_cty_is_refused() {
    // A JWT's payload is its claims set; `cty` is only for nested tokens (RFC 7519 §5.2), so
    // any other content type is refused rather than ignored.
    let with_cty = |cty: Value| signed_with_param("cty", cty);
    let ctys = [
        "json",
        "application/json",
        "at+jwt",
        "",
        " JWT",
        "JWT ",
        "application/jwt; charset=utf-8",
        "text/plain",
        "JWE",
    ];
    for err in
        refused_naming_the_value(&with_cty, &ctys, |cty| Error::UnexpectedContentType { cty })
    {
        assert!(!err.to_string().contains("nested"), "{err}");
    }
    // Not a string: refused too, as a header parameter of the wrong type.
    for cty in [
        json!(1),
        json!(null),
        json!(["JWT"]),
        json!({"cty": "JWT"}),
        json!(true),
    ] {
        let err = rejects(&with_cty(cty), "invalid_header");
        assert!(
            matches!(err, Error::HeaderParameterType { name: "cty", .. }),
            "{err:?}"
        );
    }
    // An attacker-chosen cty is echoed escaped and cut.
    let err = rejects(
        &with_cty(json!(format!("\u{1b}[2J{}", "c".repeat(500)))),
        "invalid_header",
    );
    assert!(!err.to_string().contains('\u{1b}') && err.to_string().len() < 300);
    // Control: the same token without `cty` passes.
    accepts(&sign_with(
        &header("RS256", "rsa-2048"),
        &claims(),
        "rsa-2048",
        "RS256",
    ));
}

#[test]
fn iat_of_the_wrong_type_or_in_the_future() {
    // RFC 7519 §4.1.6: a present `iat` is a NumericDate.
    for iat in [
        json!("yesterday"),
        json!(NOW.to_string()),
        json!({"t": 1}),
        json!([NOW]),
        json!(true),
    ] {
        let token = mint("rsa-2048", "RS256", &claims_with(&[("iat", iat)]));
        assert_eq!(
            rejects(&token, "invalid_claims"),
            Error::ClaimType {
                name: "iat",
                expected: "a number of seconds since the epoch"
            }
        );
    }
    let mut null_iat = claims();
    null_iat["iat"] = Value::Null;
    rejects(&mint("rsa-2048", "RS256", &null_iat), "invalid_claims");
    // Issued in the future beyond the leeway: a clock or forgery problem.
    for iat in [json!(NOW + 61), json!(NOW as f64 + 60.5), json!(u64::MAX)] {
        let token = mint("rsa-2048", "RS256", &claims_with(&[("iat", iat)]));
        assert_eq!(
            rejects(&token, "invalid_claims"),
            Error::IssuedInFuture { leeway: 60 }
        );
    }
    // Control: absent, in the past, at the epoch, and up to the leeway ahead are accepted.
    for iat in [
        Value::Null,
        json!(NOW - 86_400),
        json!(0),
        json!(NOW),
        json!(NOW as f64 + 0.5),
        json!(NOW + 60),
    ] {
        let t = accepts(&mint("rsa-2048", "RS256", &claims_with(&[("iat", iat)])));
        assert!(t.iat().is_none_or(|iat| iat <= NOW as i64 + 60));
    }
    // With no leeway, one second ahead is too much.
    let strict = options().leeway(0).build().unwrap();
    let ahead = mint(
        "rsa-2048",
        "RS256",
        &claims_with(&[("iat", json!(NOW + 1))]),
    );
    assert_eq!(
        rejects_with(&strict, &ahead, "invalid_claims"),
        Error::IssuedInFuture { leeway: 0 }
    );
    accepts_with(
        &strict,
        &mint("rsa-2048", "RS256", &claims_with(&[("iat", json!(NOW))])),
    );
}

/// A key set from fixture JWKs renamed to `kid`.
fn shared_kid(kid: &str, names: &[&str]) -> m4_jwt_verify::JwkSet {
    let members: Vec<Value> = names
        .iter()
        .map(|name| jwk_with(name, &[("kid", json!(kid))]))
        .collect();
    m4_jwt_verify::JwkSet::from_json(json!({ "keys": members }).to_string().as_bytes()).unwrap()
}

#[test]
fn one_kid_for_an_rsa_and_an_ec_key() {
    // RFC 7517 §4.5 names this case as legitimate: the token's alg picks at most one key.
    let v = verifier();
    let set = shared_kid("shared", &["rsa-2048", "ec-p256"]);
    let rs = sign_with(&header("RS256", "shared"), &claims(), "rsa-2048", "RS256");
    let es = sign_with(&header("ES256", "shared"), &claims(), "ec-p256", "ES256");
    assert_eq!(v.verify(&rs, &set).unwrap().alg(), Algorithm::RS256);
    assert_eq!(v.verify(&es, &set).unwrap().alg(), Algorithm::ES256);
    // Claiming the other algorithm selects the other key, which did not sign.
    let rs_as_es = sign_with(&header("ES256", "shared"), &claims(), "rsa-2048", "RS256");
    assert_eq!(
        v.verify(&rs_as_es, &set).unwrap_err(),
        Error::InvalidSignature
    );
    // An algorithm neither key can verify.
    let es384 = sign_with(&header("ES384", "shared"), &claims(), "ec-p384", "ES384");
    let err = all_algorithms().verify(&es384, &set).unwrap_err();
    assert_eq!(err.code(), "invalid_signature");
    assert_eq!(
        err,
        Error::KeyUnusable {
            kid: "shared".into(),
            alg: Algorithm::ES384,
            reason: KeyRejection::NoCompatibleKey { count: 2 },
        }
    );
}

#[test]
fn one_kid_for_two_rsa_keys() {
    // Both could verify RS256: which one signed is ambiguous, so neither is used, whichever
    // really signed and whatever other key shares the kid.
    let v = verifier();
    for names in [
        &["rsa-2048", "rsa-2048-b"][..],
        &["rsa-2048-b", "rsa-2048"],
        &["rsa-2048", "ec-p256", "rsa-2048-b"],
    ] {
        let set = shared_kid("shared", names);
        for signer in ["rsa-2048", "rsa-2048-b"] {
            let token = sign_with(&header("RS256", "shared"), &claims(), signer, "RS256");
            let err = v.verify(&token, &set).unwrap_err();
            assert_eq!(err.code(), "invalid_signature");
            assert_eq!(
                err,
                Error::KeyUnusable {
                    kid: "shared".into(),
                    alg: Algorithm::RS256,
                    reason: KeyRejection::AmbiguousKid { count: 2 },
                }
            );
            // Control: the same token against the signer's key alone is accepted.
            v.verify(&token, &shared_kid("shared", &[signer])).unwrap();
        }
    }
}
