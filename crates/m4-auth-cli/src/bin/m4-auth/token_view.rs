//! Reading a JWT's header and claims for display (`doctor`, `demo`): no verification here,
//! and the signature is never decoded or shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m4_auth::jwt::Error as JwtError;
use serde_json::{Map, Value};

/// A token's decoded header and claims.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TokenView {
    /// The JOSE header.
    pub(crate) header: Map<String, Value>,
    /// The claims.
    pub(crate) claims: Map<String, Value>,
}

/// Strips an optional `Bearer ` prefix (any case) and surrounding whitespace.
pub(crate) fn strip_bearer(value: &str) -> &str {
    let value = value.trim();
    match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => {
            value.get(7..).unwrap_or_default().trim()
        }
        _ => value,
    }
}

fn part(name: &str, text: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| format!("the {name} is not base64url (unpadded)"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {name} is JSON but not an object")),
        Err(_) => Err(format!("the {name} is not JSON")),
    }
}

impl TokenView {
    /// Decodes `token` (a `Bearer ` prefix allowed): three dot-separated parts, the first
    /// two base64url JSON objects. The message says which part is wrong.
    pub(crate) fn decode(token: &str) -> Result<TokenView, String> {
        let token = strip_bearer(token);
        let parts: Vec<&str> = token.split('.').collect();
        let [header, claims, _signature] = parts.as_slice() else {
            return Err(format!(
                "a JWT has three parts separated by dots; this one has {}",
                parts.len()
            ));
        };
        Ok(TokenView {
            header: part("header", header)?,
            claims: part("payload", claims)?,
        })
    }

    /// A header member as a string.
    pub(crate) fn header_str(&self, name: &str) -> Option<&str> {
        self.header.get(name).and_then(Value::as_str)
    }

    /// A string claim (`iss`, `sub`): `Ok(None)` when absent, the verifier's message when it
    /// is not a string.
    pub(crate) fn string_claim(&self, name: &'static str) -> Result<Option<&str>, WrongType> {
        match self.claims.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(wrong_type(name, STRING)),
        }
    }

    /// A NumericDate claim (`exp`, `nbf`) in whole seconds, rounded as the verifier rounds
    /// (`round_up` for `nbf`, down for `exp`): `Ok(None)` when absent, the verifier's message
    /// when it is not a JSON number (a string such as `"1795000000"` is refused).
    pub(crate) fn numeric_date(
        &self,
        name: &'static str,
        round_up: bool,
    ) -> Result<Option<i64>, WrongType> {
        let Some(value) = self.claims.get(name) else {
            return Ok(None);
        };
        let Value::Number(n) = value else {
            return Err(wrong_type(name, NUMERIC_DATE));
        };
        if let Some(i) = n.as_i64() {
            return Ok(Some(i));
        }
        if n.as_u64().is_some() {
            return Ok(Some(i64::MAX));
        }
        let f = n.as_f64().unwrap_or_default();
        let f = if round_up { f.ceil() } else { f.floor() };
        // `as` saturates at the i64 bounds; JSON numbers are always finite.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Some(f as i64))
    }

    /// The audiences, read as the verifier reads them: `Ok(None)` when `aud` is absent,
    /// `aud` as a string or an array of strings, and the verifier's message for any other
    /// shape, including an array with one non-string member (`["m4-api", 5]`).
    pub(crate) fn audiences(&self) -> Result<Option<Vec<&str>>, WrongType> {
        match self.claims.get("aud") {
            None => Ok(None),
            Some(Value::String(aud)) => Ok(Some(vec![aud.as_str()])),
            Some(Value::Array(auds)) => auds
                .iter()
                .map(Value::as_str)
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| wrong_type("aud", AUD_TYPE)),
            Some(_) => Err(wrong_type("aud", AUD_TYPE)),
        }
    }

    /// The scopes: the union of `scope` and `scp`, each a space-separated string or an array
    /// of strings, read exactly as the verifier reads them; its message for any other shape.
    ///
    /// Strings split on the space character only (RFC 6749 §3.3: scope tokens are separated
    /// by %x20): a tab or newline is part of a scope, so doctor never reports a scope the
    /// verifier does not see, nor misses one it sees.
    pub(crate) fn scopes(&self) -> Result<Vec<&str>, WrongType> {
        let mut scopes = Vec::new();
        for name in ["scope", "scp"] {
            match self.claims.get(name) {
                None => {}
                Some(Value::String(s)) => scopes.extend(scope_items(s)),
                Some(Value::Array(items)) => {
                    for item in items {
                        match item.as_str() {
                            Some("") => {}
                            Some(s) => scopes.push(s),
                            None => return Err(wrong_type(name, SCOPE_TYPE)),
                        }
                    }
                }
                Some(_) => return Err(wrong_type(name, SCOPE_TYPE)),
            }
        }
        Ok(scopes)
    }
}

// The types the verifier demands, in its words (m4-jwt-verify `check_claims`); the e2e
// doctor tests compare doctor's line with the verifier's verdict on the same token.
const STRING: &str = "a string";
const NUMERIC_DATE: &str = "a number of seconds since the epoch";
const AUD_TYPE: &str = "a string or an array of strings";
const SCOPE_TYPE: &str = "a space-separated string or an array of strings";

/// A claim whose JSON type the verifier refuses (it answers `invalid_claims`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrongType {
    /// The claim.
    pub(crate) claim: &'static str,
    /// The verifier's message, such as `Token claim "exp" must be a number of seconds since
    /// the epoch`.
    pub(crate) message: String,
}

/// The verifier's message for a claim of the wrong JSON type, rendered by the verifier's own
/// error type so the wording cannot drift.
fn wrong_type(claim: &'static str, expected: &'static str) -> WrongType {
    WrongType {
        claim,
        message: JwtError::ClaimType {
            name: claim,
            expected,
        }
        .to_string(),
    }
}

/// The items of a space-separated scope string (empty items between repeated spaces dropped).
fn scope_items(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|s| !s.is_empty())
}

/// `3725` as `1h 2m 5s`; at most the three largest non-zero units.
pub(crate) fn human_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".to_owned();
    }
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut rest = secs;
    let mut parts = Vec::new();
    for (name, size) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n}{name}"));
        }
    }
    parts.truncate(3);
    parts.join(" ")
}

/// "expires in 59m 12s" or "expired 3m ago", from `exp` and the current time.
pub(crate) fn expiry_phrase(exp: i64, now: i64) -> String {
    if exp > now {
        format!("expires in {}", human_duration(exp.abs_diff(now)))
    } else if exp == now {
        "expires now".to_owned()
    } else {
        format!("expired {} ago", human_duration(now.abs_diff(exp)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(value: &Value) -> String {
        URL_SAFE_NO_PAD.encode(value.to_string())
    }

    fn token(header: &Value, claims: &Value) -> String {
        format!("{}.{}.c2lnbmF0dXJl", encode(header), encode(claims))
    }

    #[test]
    fn decodes_header_and_claims_never_the_signature() {
        let t = token(
            &json!({"alg": "RS256", "kid": "k1"}),
            &json!({"sub": "alice", "aud": ["a", "b"], "scope": "x y", "scp": ["z"], "exp": 100.9}),
        );
        for input in [
            t.clone(),
            format!("Bearer {t}"),
            format!("  bEaReR   {t}  "),
        ] {
            let view = TokenView::decode(&input).unwrap();
            assert_eq!(view.header_str("alg"), Some("RS256"));
            assert_eq!(view.header_str("kid"), Some("k1"));
            assert_eq!(view.string_claim("sub"), Ok(Some("alice")));
            assert_eq!(view.audiences(), Ok(Some(vec!["a", "b"])));
            assert_eq!(view.scopes(), Ok(vec!["x", "y", "z"]));
            assert_eq!(view.numeric_date("exp", false), Ok(Some(100)));
            assert_eq!(view.numeric_date("exp", true), Ok(Some(101)));
            assert_eq!(view.numeric_date("nbf", true), Ok(None));
        }
    }

    #[track_caller]
    fn check_refused(input: &str, expected: &str) {
        assert_eq!(TokenView::decode(input), Err(expected.to_owned()));
    }

    #[test]
    fn explains_which_part_is_wrong() {
        let header = encode(&json!({"alg": "RS256"}));
        let claims = encode(&json!({"sub": "a"}));
        check_refused(
            "",
            "a JWT has three parts separated by dots; this one has 1",
        );
        check_refused(
            "abc",
            "a JWT has three parts separated by dots; this one has 1",
        );
        check_refused(
            "a.b.c.d.e",
            "a JWT has three parts separated by dots; this one has 5",
        );
        check_refused(
            &format!("{header}.{claims}"),
            "a JWT has three parts separated by dots; this one has 2",
        );
        check_refused(
            &format!("%%%.{claims}.s"),
            "the header is not base64url (unpadded)",
        );
        check_refused(
            &format!("{header}=.{claims}.s"),
            "the header is not base64url (unpadded)",
        );
        check_refused(
            &format!("{}.{claims}.s", encode(&json!([1]))),
            "the header is JSON but not an object",
        );
        check_refused(
            &format!("{header}.{}.s", URL_SAFE_NO_PAD.encode("not json")),
            "the payload is not JSON",
        );
    }

    #[test]
    fn audience_and_scope_shapes() {
        let view = |claims: Value| TokenView::decode(&token(&json!({}), &claims)).unwrap();
        assert_eq!(view(json!({"aud": "m4"})).audiences(), Ok(Some(vec!["m4"])));
        assert_eq!(view(json!({})).audiences(), Ok(None));
        assert_eq!(view(json!({"aud": []})).audiences(), Ok(Some(vec![])));
        assert_eq!(view(json!({})).scopes(), Ok(vec![]));
        assert_eq!(view(json!({"scp": "a b"})).scopes(), Ok(vec!["a", "b"]));
        // Only spaces separate scopes, as in the verifier: a tab is part of one scope.
        assert_eq!(
            view(json!({"scope": " read:x\tadmin  b ", "scp": ["c d"]})).scopes(),
            Ok(vec!["read:x\tadmin", "b", "c d"])
        );
        // `scope` may be an array too, as the verifier allows.
        assert_eq!(
            view(json!({"scope": ["a", ""], "scp": "b"})).scopes(),
            Ok(vec!["a", "b"])
        );
    }

    #[track_caller]
    fn check_wrong_type(claims: &Value, read: fn(&TokenView) -> Option<String>, expected: &str) {
        let view = TokenView::decode(&token(&json!({}), claims)).unwrap();
        assert_eq!(read(&view).as_deref(), Some(expected), "{claims}");
    }

    #[test]
    fn shapes_the_verifier_refuses_are_refused_with_its_message() {
        let aud = |v: &TokenView| v.audiences().err().map(|e| e.message);
        let exp = |v: &TokenView| v.numeric_date("exp", false).err().map(|e| e.message);
        let nbf = |v: &TokenView| v.numeric_date("nbf", true).err().map(|e| e.message);
        let iss = |v: &TokenView| v.string_claim("iss").err().map(|e| e.message);
        let scopes = |v: &TokenView| v.scopes().err().map(|e| e.message);
        let aud_msg = "Token claim \"aud\" must be a string or an array of strings";
        check_wrong_type(&json!({"aud": ["m4-api", 5]}), aud, aud_msg);
        check_wrong_type(&json!({"aud": 5}), aud, aud_msg);
        check_wrong_type(&json!({"aud": null}), aud, aud_msg);
        let exp_msg = "Token claim \"exp\" must be a number of seconds since the epoch";
        check_wrong_type(&json!({"exp": "1795000000"}), exp, exp_msg);
        check_wrong_type(&json!({"exp": null}), exp, exp_msg);
        check_wrong_type(
            &json!({"nbf": true}),
            nbf,
            "Token claim \"nbf\" must be a number of seconds since the epoch",
        );
        check_wrong_type(
            &json!({"iss": ["https://idp.example.com/"]}),
            iss,
            "Token claim \"iss\" must be a string",
        );
        check_wrong_type(
            &json!({"scope": "a", "scp": ["read:mimic-data", 1]}),
            scopes,
            "Token claim \"scp\" must be a space-separated string or an array of strings",
        );
        check_wrong_type(
            &json!({"scope": {"read": true}}),
            scopes,
            "Token claim \"scope\" must be a space-separated string or an array of strings",
        );
    }

    #[track_caller]
    fn check_duration(secs: u64, expected: &str) {
        assert_eq!(human_duration(secs), expected);
    }

    #[test]
    fn durations_read_naturally() {
        check_duration(0, "0s");
        check_duration(45, "45s");
        check_duration(60, "1m");
        check_duration(3725, "1h 2m 5s");
        check_duration(90_061, "1d 1h 1m");
        check_duration(86_400 * 400, "400d");
    }

    #[test]
    fn expiry_is_said_both_ways() {
        assert_eq!(expiry_phrase(1_000 + 3_552, 1_000), "expires in 59m 12s");
        assert_eq!(expiry_phrase(1_000, 1_000), "expires now");
        assert_eq!(expiry_phrase(1_000, 1_180), "expired 3m ago");
    }
}
