//! Reading a JWT's header and claims for display (`doctor`, `demo`): no verification here,
//! and the signature is never decoded or shown.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

    /// A claim as a string.
    pub(crate) fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric date claim (`exp`, `nbf`, `iat`) in whole seconds.
    pub(crate) fn claim_time(&self, name: &str) -> Option<i64> {
        let value = self.claims.get(name)?;
        value.as_i64().or_else(|| {
            // Fractional seconds are allowed by RFC 7519; truncate for display.
            #[allow(clippy::cast_possible_truncation)]
            value.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)
        })
    }

    /// The audiences: `aud` as a string or an array of strings.
    pub(crate) fn audiences(&self) -> Vec<&str> {
        match self.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// The scopes: the union of `scope` and `scp`, each a space-separated string or an array
    /// of strings, read exactly as the verifier reads them.
    ///
    /// Strings split on the space character only (RFC 6749 §3.3: scope tokens are separated
    /// by %x20): a tab or newline is part of a scope, so doctor never reports a scope the
    /// verifier does not see, nor misses one it sees.
    pub(crate) fn scopes(&self) -> Vec<&str> {
        let mut scopes = Vec::new();
        for name in ["scope", "scp"] {
            match self.claims.get(name) {
                Some(Value::String(s)) => scopes.extend(scope_items(s)),
                Some(Value::Array(items)) => scopes.extend(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.is_empty()),
                ),
                _ => {}
            }
        }
        scopes
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
            assert_eq!(view.claim_str("sub"), Some("alice"));
            assert_eq!(view.audiences(), ["a", "b"]);
            assert_eq!(view.scopes(), ["x", "y", "z"]);
            assert_eq!(view.claim_time("exp"), Some(100));
            assert_eq!(view.claim_time("nbf"), None);
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
        assert_eq!(view(json!({"aud": "m4"})).audiences(), ["m4"]);
        assert!(view(json!({"aud": 5})).audiences().is_empty());
        assert!(view(json!({})).scopes().is_empty());
        assert_eq!(view(json!({"scp": "a b"})).scopes(), ["a", "b"]);
        // Only spaces separate scopes, as in the verifier: a tab is part of one scope.
        assert_eq!(
            view(json!({"scope": " read:x\tadmin  b ", "scp": ["c d"]})).scopes(),
            ["read:x\tadmin", "b", "c d"]
        );
        // `scope` may be an array too, as the verifier allows.
        assert_eq!(
            view(json!({"scope": ["a", ""], "scp": "b"})).scopes(),
            ["a", "b"]
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
