//! Acceptance: the attack corpus through the built binary.
//!
//! One `m4-auth verify --stdin --json` process against a wiremock provider whose JWKS holds
//! the committed keys plus deliberately unusable ones (RSA-1024, an `enc` key, a key whose
//! JWK `alg` is RS512, P-384 and Ed25519 keys outside the allowlist). Each token is written
//! alone and its answer awaited with a timeout before the next is written, so the suite also
//! proves that every answer is flushed as its line is handled, in order.
#![cfg(test)]

mod cli_common;
mod e2e_support;

use e2e_support::tokens::{
    Sig, b64, claims, ecdsa_raw_to_der, header, jws, jws_text, merged, now,
    rsa_pkcs1_sha256_by_hand, segments, sign, sign_with_header, signature, unb64,
};
use e2e_support::{Expect, Idp, Session, check, env_for, json_body};
use jsonwebtoken::Algorithm;
use m4_auth_testkit::keys;
use serde_json::{Value, json};

use Expect::{Code, Mentions, Message, Ok, Prefix};

const JWKS_PATH: &str = "/jwks.json";
const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const ATTACKER_JWKS: &str = "/attacker/jwks.json";
const ATTACKER_CERT: &str = "/attacker/cert.pem";

/// The provider: discovery, a JWKS with good and unusable keys, and attacker-controlled
/// documents on the same host that must never be requested.
fn provider() -> (Idp, String) {
    let idp = Idp::start();
    let issuer = idp.discovery("", JWKS_PATH);
    let mut enc = keys::jwk("rsa-2048-b");
    enc["kid"] = json!("enc-key");
    enc["use"] = json!("enc");
    let mut rs512 = keys::jwk("rsa-2048-b");
    rs512["kid"] = json!("rs512-only");
    rs512["alg"] = json!("RS512");
    let mut wrap_only = keys::jwk("rsa-2048-b");
    wrap_only["kid"] = json!("wrap-only");
    wrap_only.as_object_mut().unwrap().remove("use");
    wrap_only["key_ops"] = json!(["wrapKey", "encrypt"]);
    // A provider that leaks its private key: anyone could sign, so the key must not verify.
    let mut leaked = keys::jwk("rsa-2048-b");
    leaked["kid"] = json!("leaked");
    leaked["d"] = json!(b64(b"the private exponent would be here"));
    // A symmetric secret published in the JWKS (the HS256 confusion's other half).
    let hmac =
        json!({"kty": "oct", "kid": "hmac-key", "k": b64(keys::public_jwk("rsa-2048").as_bytes())});
    let mut members: Vec<Value> = keys::JWKS_MEMBERS.iter().map(|n| keys::jwk(n)).collect();
    members.extend([
        keys::jwk("rsa-1024"),
        keys::jwk("ec-p384"),
        keys::jwk("ed25519"),
        enc,
        rs512,
        wrap_only,
        leaked,
        hmac,
    ]);
    idp.serve(JWKS_PATH, json_body(&keys::jwks_of(&members)));
    idp.serve(ATTACKER_JWKS, json_body(&keys::jwks(&["rsa-2048-b"])));
    idp.serve(ATTACKER_CERT, json_body("-----BEGIN CERTIFICATE-----"));
    (idp, issuer)
}

/// `token` with its payload replaced (signature kept).
fn with_payload(token: &str, claims: &Value) -> String {
    let [h, _, s] = segments(token);
    format!("{h}.{}.{s}", b64(claims.to_string().as_bytes()))
}

/// `token` with its signature replaced by `bytes`.
fn with_signature(token: &str, bytes: &[u8]) -> String {
    let [h, p, _] = segments(token);
    format!("{h}.{p}.{}", b64(bytes))
}

/// The corpus: (what, the line written, the answer expected).
fn corpus(idp: &Idp, iss: &str) -> Vec<(String, String, Expect)> {
    let good = |sub: &str| claims(iss, sub);
    let change = |sub: &str, changes: Value| merged(&claims(iss, sub), changes);
    let t = now();
    let rs = sign("rsa-2048", &good("victim"));
    let es = sign("ec-p256", &good("victim-ec"));
    let [rs_h, rs_p, rs_s] = segments(&rs);
    let rs_sig = unb64(rs_s);
    let es_sig = unb64(segments(&es)[2]);
    let by_b = |header: Value| {
        jws(
            &header,
            &good("mallory"),
            &Sig::Key("rsa-2048-b", Algorithm::RS256),
        )
    };
    let by_a = |header: Value| {
        jws(
            &header,
            &good("mallory"),
            &Sig::Key("rsa-2048", Algorithm::RS256),
        )
    };
    let big_claim = "x".repeat(17 * 1024);
    let large_ok_claim = "g".repeat(10 * 1024);

    let mut cases: Vec<(&str, String, Expect)> = vec![
        // --- accepted ---
        ("RS256", sign("rsa-2048", &good("rs256-user")), Ok("rs256-user")),
        ("ES256", sign("ec-p256", &good("es256-user")), Ok("es256-user")),
        ("RSA-4096", sign("rsa-4096", &good("rsa4096-user")), Ok("rsa4096-user")),
        ("aud array holding ours", sign("rsa-2048", &change("aud-array", json!({"aud": ["other", "m4-api"]}))), Ok("aud-array")),
        ("scp array, no scope", sign("rsa-2048", &change("scp-array", json!({"scope": null, "scp": ["openid", "read:mimic-data"]}))), Ok("scp-array")),
        ("scp string, no scope", sign("rsa-2048", &change("scp-string", json!({"scope": null, "scp": "read:mimic-data"}))), Ok("scp-string")),
        ("typ at+jwt", sign_with_header("rsa-2048", json!({"typ": "at+jwt"}), &good("at-jwt")), Ok("at-jwt")),
        ("no typ", sign_with_header("ec-p256", json!({"typ": null}), &good("no-typ")), Ok("no-typ")),
        ("nbf in the past", sign("rsa-2048", &change("nbf-past", json!({"nbf": t - 100}))), Ok("nbf-past")),
        ("nbf within the leeway", sign("rsa-2048", &change("nbf-leeway", json!({"nbf": t + 20}))), Ok("nbf-leeway")),
        ("exp within the 60 s leeway", sign("rsa-2048", &change("exp-leeway", json!({"exp": t - 30}))), Ok("exp-leeway")),
        ("fractional exp", sign("rsa-2048", &change("exp-float", json!({"exp": t as f64 + 600.5}))), Ok("exp-float")),
        ("10 KiB token, under the limit", sign("rsa-2048", &change("large", json!({"groups": large_ok_claim}))), Ok("large")),
        ("Bearer prefix", format!("Bearer {rs}"), Ok("victim")),
        ("bearer prefix, lower case", format!("bearer {rs}"), Ok("victim")),
        ("BEARER prefix, several spaces", format!("BEARER   {rs}"), Ok("victim")),
        ("Bearer prefix and a tab", format!("Bearer\t{rs}"), Ok("victim")),
        ("surrounding blanks", format!("  {rs}  "), Ok("victim")),
        ("CRLF line end", format!("{es}\r"), Ok("victim-ec")),
        // --- algorithm confusion ---
        ("alg none, no signature", jws(&json!({"alg": "none", "typ": "JWT"}), &good("mallory"), &Sig::Text("")), Message("unsupported_algorithm", "Token algorithm \"none\" is not allowed")),
        ("alg none with a kid and an RS256 signature", by_a(json!({"alg": "none", "kid": "rsa-2048"})), Code("unsupported_algorithm")),
        ("alg None", jws(&json!({"alg": "None", "kid": "rsa-2048"}), &good("mallory"), &Sig::Text("")), Code("unsupported_algorithm")),
        ("alg NONE", jws(&json!({"alg": "NONE", "kid": "rsa-2048"}), &good("mallory"), &Sig::Text("")), Code("unsupported_algorithm")),
        ("HS256 keyed with the RSA public JWK", jws(&json!({"alg": "HS256", "kid": "rsa-2048"}), &good("mallory"), &Sig::Hmac(Algorithm::HS256, keys::public_jwk("rsa-2048").as_bytes())), Code("unsupported_algorithm")),
        ("HS256 keyed with the RSA modulus", jws(&json!({"alg": "HS256", "kid": "rsa-2048"}), &good("mallory"), &Sig::Hmac(Algorithm::HS256, &unb64(keys::jwk("rsa-2048")["n"].as_str().unwrap()))), Code("unsupported_algorithm")),
        ("HS256 keyed with the EC x coordinate", jws(&json!({"alg": "HS256", "kid": "ec-p256"}), &good("mallory"), &Sig::Hmac(Algorithm::HS256, &unb64(keys::jwk("ec-p256")["x"].as_str().unwrap()))), Code("unsupported_algorithm")),
        ("RS512, outside the allowlist", jws(&json!({"alg": "RS512", "kid": "rsa-2048"}), &good("mallory"), &Sig::Key("rsa-2048", Algorithm::RS512)), Code("unsupported_algorithm")),
        ("RS512 with the key whose JWK says RS512", jws(&json!({"alg": "RS512", "kid": "rs512-only"}), &good("mallory"), &Sig::Key("rsa-2048-b", Algorithm::RS512)), Code("unsupported_algorithm")),
        ("PS256, outside the allowlist", jws(&json!({"alg": "PS256", "kid": "rsa-2048"}), &good("mallory"), &Sig::Key("rsa-2048", Algorithm::PS256)), Code("unsupported_algorithm")),
        ("ES384, outside the allowlist", sign("ec-p384", &good("mallory")), Code("unsupported_algorithm")),
        ("EdDSA, outside the allowlist", sign("ed25519", &good("mallory")), Code("unsupported_algorithm")),
        ("alg in lower case", by_a(json!({"alg": "rs256", "kid": "rsa-2048"})), Code("unsupported_algorithm")),
        ("alg with a trailing space", by_a(json!({"alg": "RS256 ", "kid": "rsa-2048"})), Code("unsupported_algorithm")),
        ("no alg", by_a(json!({"kid": "rsa-2048"})), Code("invalid_header")),
        ("alg not a string", by_a(json!({"alg": ["RS256"], "kid": "rsa-2048"})), Code("invalid_header")),
        ("RS256 header, kid of the EC key", by_a(json!({"alg": "RS256", "kid": "ec-p256"})), Prefix("invalid_signature", "Invalid token signature")),
        ("RS256 header, kid of the Ed25519 key", by_a(json!({"alg": "RS256", "kid": "ed25519"})), Prefix("invalid_signature", "Invalid token signature")),
        ("ES256 header, kid of an RSA key", jws(&json!({"alg": "ES256", "kid": "rsa-2048"}), &good("mallory"), &Sig::Key("ec-p256", Algorithm::ES256)), Prefix("invalid_signature", "Invalid token signature")),
        ("ES256 header, P-384 key and signature", jws(&json!({"alg": "ES256", "kid": "ec-p384"}), &good("mallory"), &Sig::Key("ec-p384", Algorithm::ES384)), Mentions("invalid_signature", "ec-p384")),
        // --- keys ---
        ("no kid", by_a(json!({"alg": "RS256"})), Code("missing_kid")),
        ("empty kid", by_a(json!({"alg": "RS256", "kid": ""})), Code("missing_kid")),
        ("kid not a string", by_a(json!({"alg": "RS256", "kid": 7})), Code("invalid_header")),
        ("unknown kid", by_a(json!({"alg": "RS256", "kid": "nope"})), Message("unknown_kid", "No signing key with kid \"nope\"")),
        ("kid in another case", by_a(json!({"alg": "RS256", "kid": "RSA-2048"})), Code("unknown_kid")),
        ("path-traversal kid", by_a(json!({"alg": "RS256", "kid": "../../../../etc/passwd"})), Code("unknown_kid")),
        ("path-traversal kid to a real kid", by_a(json!({"alg": "RS256", "kid": "../rsa-2048"})), Code("unknown_kid")),
        ("kid with a dot segment", by_a(json!({"alg": "RS256", "kid": "rsa-2048/../rsa-2048"})), Code("unknown_kid")),
        ("kid with a NUL", by_a(json!({"alg": "RS256", "kid": "rsa-2048\u{0}"})), Code("unknown_kid")),
        ("kid with a percent-encoded NUL", by_a(json!({"alg": "RS256", "kid": "rsa-2048%00"})), Code("unknown_kid")),
        ("kid with a URL", by_a(json!({"alg": "RS256", "kid": idp.url(ATTACKER_JWKS)})), Code("unknown_kid")),
        ("signature from another key under a valid kid", by_b(json!({"alg": "RS256", "kid": "rsa-2048"})), Message("invalid_signature", "Invalid token signature")),
        ("RSA-1024 key, really signed", sign("rsa-1024", &good("mallory")), Mentions("invalid_signature", "1024 bits")),
        ("use=enc key, really signed", by_b(json!({"alg": "RS256", "kid": "enc-key"})), Mentions("invalid_signature", "enc")),
        ("JWK alg RS512, token RS256, really signed", by_b(json!({"alg": "RS256", "kid": "rs512-only"})), Mentions("invalid_signature", "RS512")),
        ("key_ops without verify, really signed", by_b(json!({"alg": "RS256", "kid": "wrap-only"})), Mentions("invalid_signature", "key_ops")),
        ("JWK carrying private material, really signed", by_b(json!({"alg": "RS256", "kid": "leaked"})), Mentions("invalid_signature", "private")),
        ("HS256 under the published oct key", jws(&json!({"alg": "HS256", "kid": "hmac-key"}), &good("mallory"), &Sig::Hmac(Algorithm::HS256, keys::public_jwk("rsa-2048").as_bytes())), Code("unsupported_algorithm")),
        ("RS256 header under the oct key", by_a(json!({"alg": "RS256", "kid": "hmac-key"})), Mentions("invalid_signature", "oct")),
        // --- key injection through the header ---
        ("embedded jwk with its own kid", by_b(json!({"alg": "RS256", "kid": "rsa-2048-b", "jwk": keys::jwk("rsa-2048-b")})), Code("unknown_kid")),
        ("embedded jwk under a valid kid", by_b(json!({"alg": "RS256", "kid": "rsa-2048", "jwk": keys::jwk("rsa-2048-b")})), Message("invalid_signature", "Invalid token signature")),
        ("embedded jwk, no kid", by_b(json!({"alg": "RS256", "jwk": keys::jwk("rsa-2048-b")})), Code("missing_kid")),
        ("jku to the attacker's JWKS", by_b(json!({"alg": "RS256", "kid": "rsa-2048-b", "jku": idp.url(ATTACKER_JWKS)})), Code("unknown_kid")),
        ("jku under a valid kid", by_b(json!({"alg": "RS256", "kid": "rsa-2048", "jku": idp.url(ATTACKER_JWKS)})), Message("invalid_signature", "Invalid token signature")),
        ("x5u to the attacker's certificate", by_b(json!({"alg": "RS256", "kid": "rsa-2048-b", "x5u": idp.url(ATTACKER_CERT)})), Code("unknown_kid")),
        ("x5c chain", by_b(json!({"alg": "RS256", "kid": "rsa-2048-b", "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu7cIeBMQNG"]})), Code("unknown_kid")),
        // --- header extensions ---
        ("crit naming an unknown parameter", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "crit": ["exp"], "exp": t + 600})), Code("invalid_header")),
        ("crit empty", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "crit": []})), Code("invalid_header")),
        ("crit not an array", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "crit": "b64"})), Code("invalid_header")),
        ("b64 false, critical", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "b64": false, "crit": ["b64"]})), Code("invalid_header")),
        ("b64 false", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "b64": false})), Code("invalid_header")),
        ("typ not a string", by_a(json!({"alg": "RS256", "kid": "rsa-2048", "typ": 1})), Code("invalid_header")),
        ("header repeats alg", jws_text(r#"{"alg":"RS256","kid":"rsa-2048","alg":"none"}"#, good("mallory").to_string().as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256)), Code("invalid_header")),
        // --- signatures ---
        ("tampered payload", with_payload(&rs, &good("admin")), Message("invalid_signature", "Invalid token signature")),
        ("flipped signature bit", { let mut s = rs_sig.clone(); s[100] ^= 1; with_signature(&rs, &s) }, Message("invalid_signature", "Invalid token signature")),
        ("truncated signature", with_signature(&rs, &rs_sig[..rs_sig.len() - 3]), Message("invalid_signature", "Invalid token signature")),
        ("empty signature", format!("{rs_h}.{rs_p}."), Message("invalid_signature", "Invalid token signature")),
        ("ES256 signature in DER", with_signature(&es, &ecdsa_raw_to_der(&es_sig)), Message("invalid_signature", "Invalid token signature")),
        ("all-zero ES256 signature", with_signature(&es, &[0; 64]), Message("invalid_signature", "Invalid token signature")),
        ("ES256 signature cut to r", with_signature(&es, &es_sig[..32]), Message("invalid_signature", "Invalid token signature")),
        // --- claims ---
        ("expired an hour ago", sign("rsa-2048", &change("mallory", json!({"exp": t - 3600}))), Message("token_expired", "Token has expired")),
        ("expired past the leeway", sign("rsa-2048", &change("mallory", json!({"exp": t - 120}))), Message("token_expired", "Token has expired")),
        ("no exp", sign("rsa-2048", &change("mallory", json!({"exp": null}))), Mentions("invalid_claims", "exp")),
        ("exp as a string", sign("rsa-2048", &change("mallory", json!({"exp": (t + 600).to_string()}))), Mentions("invalid_claims", "exp")),
        ("nbf an hour ahead", sign("rsa-2048", &change("mallory", json!({"nbf": t + 3600}))), Code("token_not_yet_valid")),
        ("nbf as a string", sign("rsa-2048", &change("mallory", json!({"nbf": t.to_string()}))), Mentions("invalid_claims", "nbf")),
        ("wrong iss", sign("rsa-2048", &change("mallory", json!({"iss": "https://evil.example.com"}))), Code("invalid_issuer")),
        ("no iss", sign("rsa-2048", &change("mallory", json!({"iss": null}))), Code("invalid_issuer")),
        ("iss with a trailing slash", sign("rsa-2048", &change("mallory", json!({"iss": format!("{iss}/")}))), Code("invalid_issuer")),
        ("iss not a string", sign("rsa-2048", &change("mallory", json!({"iss": [iss]}))), Mentions("invalid_claims", "iss")),
        ("wrong aud", sign("rsa-2048", &change("mallory", json!({"aud": "other-api"}))), Message("invalid_audience", "Token audience does not include \"m4-api\"")),
        ("no aud", sign("rsa-2048", &change("mallory", json!({"aud": null}))), Code("invalid_audience")),
        ("aud array without ours", sign("rsa-2048", &change("mallory", json!({"aud": ["a", "b", "m4-api-x"]}))), Code("invalid_audience")),
        ("aud empty array", sign("rsa-2048", &change("mallory", json!({"aud": []}))), Code("invalid_audience")),
        ("aud in another case", sign("rsa-2048", &change("mallory", json!({"aud": "M4-API"}))), Code("invalid_audience")),
        ("aud with a trailing space", sign("rsa-2048", &change("mallory", json!({"aud": "m4-api "}))), Code("invalid_audience")),
        ("no scope", sign("rsa-2048", &change("mallory", json!({"scope": null}))), Message("missing_scopes", "Missing required scopes: read:mimic-data")),
        ("empty scope", sign("rsa-2048", &change("mallory", json!({"scope": ""}))), Prefix("missing_scopes", "Missing required scopes")),
        ("scope prefix of ours", sign("rsa-2048", &change("mallory", json!({"scope": "read:mimic"}))), Code("missing_scopes")),
        ("scope extending ours", sign("rsa-2048", &change("mallory", json!({"scope": "read:mimic-data-all"}))), Code("missing_scopes")),
        ("scope in upper case", sign("rsa-2048", &change("mallory", json!({"scope": "READ:MIMIC-DATA"}))), Code("missing_scopes")),
        ("scopes joined by a comma", sign("rsa-2048", &change("mallory", json!({"scope": "read:mimic-data,admin"}))), Code("missing_scopes")),
        ("scopes joined by a comma, ours last", sign("rsa-2048", &change("mallory", json!({"scope": "admin,read:mimic-data"}))), Code("missing_scopes")),
        ("scopes joined by a tab", sign("rsa-2048", &change("mallory", json!({"scope": "read:mimic-data\tadmin"}))), Code("missing_scopes")),
        ("scp item holding two scopes", sign("rsa-2048", &change("mallory", json!({"scope": null, "scp": ["read:mimic-data admin"]}))), Code("missing_scopes")),
        ("scope not a string", sign("rsa-2048", &change("mallory", json!({"scope": 1}))), Mentions("invalid_claims", "scope")),
        ("no sub", sign("rsa-2048", &change("mallory", json!({"sub": null}))), Mentions("invalid_claims", "sub")),
        ("empty sub", sign("rsa-2048", &change("mallory", json!({"sub": ""}))), Mentions("invalid_claims", "sub")),
        ("sub not a string", sign("rsa-2048", &change("mallory", json!({"sub": 42}))), Mentions("invalid_claims", "sub")),
        ("payload repeats sub", jws_text(&header("rsa-2048").to_string(), format!(r#"{{"iss":"{iss}","aud":"m4-api","scope":"read:mimic-data","exp":{},"sub":"alice","sub":"admin"}}"#, t + 600).as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256)), Code("invalid_claims")),
        // --- structure and encoding ---
        ("two segments", format!("{rs_h}.{rs_p}"), Code("malformed_token")),
        ("four segments", format!("{rs}.{rs_s}"), Code("malformed_token")),
        ("five segments (JWE shape)", format!("{rs_h}..{rs_p}.{rs_s}.tag"), Code("malformed_token")),
        ("one segment", "abc".to_owned(), Code("malformed_token")),
        ("standard-alphabet base64", format!("+{}.{rs_p}.{rs_s}", &rs_h[1..]), Code("malformed_token")),
        ("padded header", format!("{rs_h}=.{rs_p}.{rs_s}"), Code("malformed_token")),
        ("padded signature", format!("{rs}="), Code("malformed_token")),
        ("non-base64 character", format!("{rs_h}.{rs_p}*.{rs_s}"), Code("malformed_token")),
        ("header is not JSON", format!("{}.{rs_p}.{rs_s}", b64(b"not json")), Code("invalid_header")),
        ("header is a JSON array", format!("{}.{rs_p}.{rs_s}", b64(b"[\"RS256\"]")), Code("invalid_header")),
        ("header with a byte-order mark", format!("{}.{rs_p}.{rs_s}", b64("\u{feff}{\"alg\":\"RS256\",\"kid\":\"rsa-2048\"}".as_bytes())), Code("invalid_header")),
        ("signed JSON-array payload", jws_text(&header("rsa-2048").to_string(), b"[{\"sub\":\"admin\"}]", &Sig::Key("rsa-2048", Algorithm::RS256)), Code("malformed_token")),
        ("signed non-JSON payload", jws_text(&header("rsa-2048").to_string(), b"sub=admin", &Sig::Key("rsa-2048", Algorithm::RS256)), Code("malformed_token")),
        ("header member nested 5000 deep, really signed", jws_text(&format!(r#"{{"alg":"RS256","kid":"rsa-2048","x":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)), good("deep-header").to_string().as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256)), Code("invalid_header")),
        ("header member nested 100 deep, really signed", jws_text(&format!(r#"{{"alg":"RS256","kid":"rsa-2048","x":{}{}}}"#, "[".repeat(100), "]".repeat(100)), good("deep-header").to_string().as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256)), Ok("deep-header")),
        ("claim nested 5000 deep, really signed", jws_text(&header("rsa-2048").to_string(), format!(r#"{{"sub":"deep","x":{}{}}}"#, "[".repeat(5000), "]".repeat(5000)).as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256)), Code("malformed_token")),
        ("17 KiB token, really signed", sign("rsa-2048", &change("mallory", json!({"groups": big_claim}))), Code("token_too_large")),
        ("1 MiB token", format!("{rs_h}.{}.{rs_s}", "A".repeat(1024 * 1024 - rs_h.len() - rs_s.len() - 2)), Code("token_too_large")),
        ("token with a space inside", format!("{rs_h}.{rs_p} .{rs_s}"), Code("malformed_token")),
        // --- Authorization forms ---
        ("empty line", String::new(), Message("missing_token", "Missing OAuth2 access token")),
        ("blank line", "   \t ".to_owned(), Message("missing_token", "Missing OAuth2 access token")),
        ("Bearer alone", "Bearer".to_owned(), Message("missing_token", "Missing OAuth2 access token")),
        ("Bearer and blanks", "Bearer    ".to_owned(), Message("missing_token", "Missing OAuth2 access token")),
        ("Bearer and two tokens", format!("Bearer {rs} {es}"), Code("malformed_token")),
        ("Bearer twice", format!("Bearer Bearer {rs}"), Code("malformed_token")),
        ("Basic credentials", "Basic dXNlcjpwYXNz".to_owned(), Mentions("malformed_token", "\"Basic\"")),
        ("another scheme", format!("DPoP {rs}"), Mentions("malformed_token", "\"DPoP\"")),
        ("two bare tokens", format!("{rs} {es}"), Code("malformed_token")),
    ];
    // A tampered RSA-4096 and a re-signed header claim, built from accepted tokens.
    let big = sign("rsa-4096", &good("victim-4096"));
    cases.push((
        "RSA-4096 token with the kid swapped to rsa-2048",
        {
            let [_, p, s] = segments(&big);
            format!("{}.{p}.{s}", b64(header("rsa-2048").to_string().as_bytes()))
        },
        Message("invalid_signature", "Invalid token signature"),
    ));
    cases
        .into_iter()
        .map(|(label, line, expected)| (label.to_owned(), line, expected))
        .collect()
}

#[test]
fn the_attack_corpus_is_answered_exactly_one_line_at_a_time() {
    let (idp, iss) = provider();
    let mut session = Session::start(&env_for(&iss, &[]));
    for (label, line, expected) in corpus(&idp, &iss) {
        let answer = session.ask(&line);
        check(&answer, expected, &label);
    }
    // Bytes that are not UTF-8 are answered too, and the stream goes on.
    session.send_bytes(b"\xff\xfe\xfd\n");
    check(&session.answer(), Code("malformed_token"), "non-UTF-8 line");
    // An attacker-chosen kid is echoed escaped and shortened, never raw.
    let answer = session.ask(&sign_with_header(
        "rsa-2048",
        json!({"kid": format!("\u{1b}[31m{}", "k".repeat(200))}),
        &claims(&iss, "mallory"),
    ));
    check(&answer, Code("unknown_kid"), "kid with an escape sequence");
    let message = answer["message"].as_str().unwrap();
    assert!(
        !message.contains('\u{1b}') && message.len() < 200,
        "{message}"
    );
    // Still serving after everything above.
    check(
        &session.ask(&sign("ec-p256", &claims(&iss, "last"))),
        Ok("last"),
        "after the corpus",
    );
    let finished = session.finish();
    assert!(finished.status.success(), "{finished:?}");

    // The header's jku and x5u were never fetched; only discovery and the JWKS were.
    assert_eq!(idp.hits(ATTACKER_JWKS), 0);
    assert_eq!(idp.hits(ATTACKER_CERT), 0);
    for request in idp.requests() {
        let path = request.url.path();
        assert!(
            path == DISCOVERY_PATH || path == JWKS_PATH,
            "unexpected request to {path}"
        );
    }
    assert_eq!(idp.hits(DISCOVERY_PATH), 1);
}

#[test]
fn pipelined_lines_are_answered_in_order() {
    let (_idp, iss) = provider();
    let mut session = Session::start(&env_for(&iss, &[]));
    // Write everything first, then read: each answer must match its line's position.
    let mut expected = Vec::new();
    let mut input = Vec::new();
    for i in 0..60 {
        let sub = format!("user-{i}");
        match i % 3 {
            0 => {
                input.push(sign("rsa-2048", &claims(&iss, &sub)));
                expected.push(Some(sub));
            }
            1 => {
                input.push(sign("ec-p256", &claims(&iss, &sub)));
                expected.push(Some(sub));
            }
            _ => {
                input.push(format!("garbage-{i}"));
                expected.push(None);
            }
        }
    }
    session.send_bytes(format!("{}\n", input.join("\n")).as_bytes());
    for (i, want) in expected.iter().enumerate() {
        let answer = session.answer();
        match want {
            Some(sub) => assert!(
                answer["ok"] == true && answer["sub"] == sub.as_str(),
                "line {i}: expected {sub}, got {answer}"
            ),
            None => check(&answer, Code("malformed_token"), &format!("line {i}")),
        }
    }
    assert!(session.finish().status.success());
}

#[test]
fn the_hand_made_rsa_signature_matches_aws_lc_rs() {
    // PKCS#1 v1.5 is deterministic: on a 2048-bit key the hand-made signer and aws-lc-rs
    // agree byte for byte, so the RSA-1024 token in the corpus carries a genuine signature.
    let pem = keys::private_pem("rsa-2048");
    let by_hand = b64(rsa_pkcs1_sha256_by_hand(pem, b"header.payload"));
    let by_library = signature(b"header.payload", &Sig::Key("rsa-2048", Algorithm::RS256));
    assert_eq!(by_hand, by_library);
    let small = rsa_pkcs1_sha256_by_hand(keys::private_pem("rsa-1024"), b"header.payload");
    assert_eq!(small.len(), 128);
}

#[test]
fn a_line_over_one_mebibyte_is_refused_whatever_its_first_mebibyte_holds() {
    let (_idp, iss) = provider();
    let mut session = Session::start(&env_for(&iss, &[]));
    let token = sign("rsa-2048", &claims(&iss, "alice"));
    check(&session.ask(&token), Ok("alice"), "the token alone");
    // The same token followed by blanks and a second word: short, it is refused as two items.
    check(
        &session.ask(&format!("{token}   extra")),
        Code("malformed_token"),
        "token and a second word",
    );
    // Padded past the 1 MiB line limit, the second word lies beyond the cut: the line must
    // still be refused, not judged on its first mebibyte alone.
    let padded = format!("{token}{}extra", " ".repeat(1024 * 1024));
    let answer = session.ask(&padded);
    assert_eq!(answer["ok"], false, "a 1 MiB+ line was accepted: {answer}");
    check(&session.ask(&token), Ok("alice"), "the stream goes on");
    assert!(session.finish().status.success());
}

/// A compact JWS over these exact header bytes (not necessarily UTF-8) and claims, really
/// signed by rsa-2048.
fn jws_header_bytes(header: &[u8], claims: &Value) -> String {
    let input = format!("{}.{}", b64(header), b64(claims.to_string().as_bytes()));
    let sig = signature(input.as_bytes(), &Sig::Key("rsa-2048", Algorithm::RS256));
    format!("{input}.{sig}")
}

/// The four hardening rules (issue 12) through the binary, each attack next to its control:
/// strict UTF-8 in unknown header members, explicit typing, `iat`, and a kid shared by keys
/// of different types (decided per algorithm).
#[test]
fn hardening_cases_each_with_its_control() {
    let idp = Idp::start();
    let issuer = idp.discovery("", JWKS_PATH);
    let shared = |name: &str, kid: &str| {
        let mut jwk = keys::jwk(name);
        jwk["kid"] = json!(kid);
        jwk
    };
    let mut members: Vec<Value> = keys::JWKS_MEMBERS.iter().map(|n| keys::jwk(n)).collect();
    members.extend([
        shared("rsa-2048", "rsa-and-ec"),
        shared("ec-p256", "rsa-and-ec"),
        shared("rsa-2048", "two-rsa"),
        shared("rsa-2048-b", "two-rsa"),
    ]);
    idp.serve(JWKS_PATH, json_body(&keys::jwks_of(&members)));
    let good = |sub: &str| claims(&issuer, sub);
    let change = |sub: &str, changes: Value| merged(&claims(&issuer, sub), changes);
    let t = now();
    let header_with = |member: &[u8]| {
        [
            br#"{"alg":"RS256","typ":"JWT","kid":"rsa-2048","#.as_slice(),
            member,
            b"}",
        ]
        .concat()
    };
    let by = |key: &str, alg: &str, kid: &str, sub: &str| {
        let how = match alg {
            "ES256" => Sig::Key(key, Algorithm::ES256),
            _ => Sig::Key(key, Algorithm::RS256),
        };
        jws(&json!({"alg": alg, "kid": kid}), &good(sub), &how)
    };

    let cases: Vec<(&str, String, Expect)> = vec![
        // 1. Unknown header members are read as strictly as known ones (RFC 7515 §5.2).
        (
            "header member holding 0xff",
            jws_header_bytes(&header_with(b"\"x\":\"\xff\""), &good("mallory")),
            Message("invalid_header", "Token header is not a JSON object"),
        ),
        (
            "header member holding an overlong /",
            jws_header_bytes(&header_with(b"\"x\":\"\xc0\xaf\""), &good("mallory")),
            Code("invalid_header"),
        ),
        (
            "header member holding an encoded surrogate",
            jws_header_bytes(&header_with(b"\"x\":\"\xed\xa0\x80\""), &good("mallory")),
            Code("invalid_header"),
        ),
        (
            "header member holding a lone surrogate escape",
            jws_header_bytes(&header_with(br#""x":"\ud800""#), &good("mallory")),
            Code("invalid_header"),
        ),
        (
            "header member nesting 0xff",
            jws_header_bytes(&header_with(b"\"x\":{\"y\":[\"\xff\"]}"), &good("mallory")),
            Code("invalid_header"),
        ),
        (
            "control: header member holding valid UTF-8",
            jws_header_bytes(
                &header_with(
                    "\"x\":\"\u{e9}\u{2028}\",\"y\":{\"z\":[\"\\ud83d\\ude00\"]}".as_bytes(),
                ),
                &good("utf8-header"),
            ),
            Ok("utf8-header"),
        ),
        // 2. Explicit typing (RFC 8725 §3.11, RFC 9068 §4).
        (
            "typ dpop+jwt",
            sign_with_header("rsa-2048", json!({"typ": "dpop+jwt"}), &good("mallory")),
            Mentions("invalid_header", "\"dpop+jwt\""),
        ),
        (
            "typ logout+jwt",
            sign_with_header("rsa-2048", json!({"typ": "logout+jwt"}), &good("mallory")),
            Mentions("invalid_header", "\"logout+jwt\""),
        ),
        (
            "typ secevent+jwt",
            sign_with_header("ec-p256", json!({"typ": "secevent+jwt"}), &good("mallory")),
            Mentions("invalid_header", "\"secevent+jwt\""),
        ),
        (
            "typ application/dpop+jwt",
            sign_with_header(
                "rsa-2048",
                json!({"typ": "application/dpop+jwt"}),
                &good("mallory"),
            ),
            Code("invalid_header"),
        ),
        (
            "control: typ application/at+jwt",
            sign_with_header(
                "rsa-2048",
                json!({"typ": "application/at+jwt"}),
                &good("typ-app-at"),
            ),
            Ok("typ-app-at"),
        ),
        (
            "control: typ AT+JWT",
            sign_with_header("ec-p256", json!({"typ": "AT+JWT"}), &good("typ-at-upper")),
            Ok("typ-at-upper"),
        ),
        (
            "control: typ application/jwt",
            sign_with_header(
                "rsa-2048",
                json!({"typ": "application/jwt"}),
                &good("typ-app-jwt"),
            ),
            Ok("typ-app-jwt"),
        ),
        // 3. iat is a NumericDate when present (RFC 7519 §4.1.6), and not in the future.
        (
            "iat a word",
            sign("rsa-2048", &change("mallory", json!({"iat": "yesterday"}))),
            Message(
                "invalid_claims",
                "Token claim \"iat\" must be a number of seconds since the epoch",
            ),
        ),
        (
            "iat an object",
            sign("rsa-2048", &change("mallory", json!({"iat": {"t": 1}}))),
            Mentions("invalid_claims", "\"iat\""),
        ),
        (
            "iat an hour ahead",
            sign("rsa-2048", &change("mallory", json!({"iat": t + 3600}))),
            Mentions("invalid_claims", "issued in the future"),
        ),
        (
            "control: iat within the leeway",
            sign("rsa-2048", &change("iat-leeway", json!({"iat": t + 20}))),
            Ok("iat-leeway"),
        ),
        (
            "control: no iat",
            sign("rsa-2048", &change("no-iat", json!({"iat": null}))),
            Ok("no-iat"),
        ),
        // 4. A kid shared by an RSA and an EC key (RFC 7517 §4.5); two RSA keys stay ambiguous.
        (
            "RSA key under a kid shared with an EC key",
            by("rsa-2048", "RS256", "rsa-and-ec", "shared-rsa"),
            Ok("shared-rsa"),
        ),
        (
            "EC key under a kid shared with an RSA key",
            by("ec-p256", "ES256", "rsa-and-ec", "shared-ec"),
            Ok("shared-ec"),
        ),
        (
            "RSA signature claiming ES256 under the shared kid",
            jws(
                &json!({"alg": "ES256", "kid": "rsa-and-ec"}),
                &good("mallory"),
                &Sig::Key("rsa-2048", Algorithm::RS256),
            ),
            Message("invalid_signature", "Invalid token signature"),
        ),
        (
            "two RSA keys under one kid",
            by("rsa-2048", "RS256", "two-rsa", "mallory"),
            Mentions("invalid_signature", "share this kid"),
        ),
        (
            "two RSA keys under one kid, the other signer",
            by("rsa-2048-b", "RS256", "two-rsa", "mallory"),
            Mentions("invalid_signature", "share this kid"),
        ),
        (
            "control: the same signer under its own kid",
            by("rsa-2048", "RS256", "rsa-2048", "own-kid"),
            Ok("own-kid"),
        ),
    ];
    let mut session = Session::start(&env_for(&issuer, &[]));
    for (label, line, expected) in cases {
        check(&session.ask(&line), expected, label);
    }

    // U+2028 and U+2029 in a `sub` (not control characters, so accepted) are escaped on the
    // answer line, which then splits into lines nowhere, and decode back to the same `sub`; so
    // are a bidirectional override and a zero-width space (odd, not forged: accepted), which
    // would otherwise reorder or hide text where the answer is shown.
    for (sub, escaped) in [
        ("line\u{2028}para\u{2029}end", r"line\u2028para\u2029end"),
        ("admin\u{202e}fdp.exe\u{200b}", r"admin\u202efdp.exe\u200b"),
    ] {
        session.send(&sign("rsa-2048", &good(sub)));
        let line = session.answer_line();
        assert!(line.contains(escaped), "{line}");
        assert!(
            sub.chars()
                .filter(|c| !c.is_ascii())
                .all(|c| !line.contains(c)),
            "{line:?}"
        );
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["sub"], sub);
    }
    // U+0085 NEXT LINE and "\n" are control characters: the same path refuses the token
    // (invalid_claims), names the code point and never echoes the subject.
    for (sub, found) in [
        ("next\u{85}end", "U+0085"),
        ("line\n{\"ok\":true,\"sub\":\"admin\"}", "U+000A"),
    ] {
        session.send(&sign("rsa-2048", &good(sub)));
        let line = session.answer_line();
        assert!(!line.contains(['\u{85}', '\n']), "{line:?}");
        assert!(!line.contains("next") && !line.contains("admin"), "{line}");
        let answer: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(answer["ok"], false, "{line}");
        assert_eq!(answer["code"], "invalid_claims", "{line}");
        assert_eq!(
            answer["message"],
            format!(
                "Token claim \"sub\" contains the control character {found}: configure the identity provider to issue a subject identifier without control characters"
            ),
            "{line}"
        );
    }
    check(
        &session.ask(&sign("ec-p256", &good("after"))),
        Ok("after"),
        "after the hardening cases",
    );
    assert!(session.finish().status.success());
}
