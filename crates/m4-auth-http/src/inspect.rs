//! Reading what the gate needs from a request without changing it: the `Authorization` header,
//! a token in the query string or a form body, and, for a POST, the JSON-RPC `method` and
//! `params.name` checked against the `Mcp-Method` / `Mcp-Name` headers.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use http::{HeaderMap, HeaderName, header};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::Rejection;

/// The MCP method whose calls are charged and checked against per-tool scopes.
pub(crate) const TOOLS_CALL: &str = "tools/call";

/// Refuses `access_token` in the query string (any spelling of the name that decodes to it).
pub(crate) fn check_query(parts: &Parts) -> Result<(), Rejection> {
    let Some(query) = parts.uri.query() else {
        return Ok(());
    };
    for pair in query.split('&') {
        let name = pair.split('=').next().unwrap_or_default();
        if percent_decoded_eq(name, "access_token") {
            return Err(Rejection::TokenInQuery);
        }
    }
    Ok(())
}

/// Whether `raw`, percent-decoded (and `+` as space), equals `expected`.
fn percent_decoded_eq(raw: &str, expected: &str) -> bool {
    if !raw.contains(['%', '+']) {
        return raw == expected;
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b);
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out == expected.as_bytes()
}

/// Refuses a form-encoded body (where RFC 6750 §2.2 would carry a token): MCP bodies are JSON.
pub(crate) fn check_content_type(headers: &HeaderMap) -> Result<(), Rejection> {
    let form = headers.get_all(header::CONTENT_TYPE).iter().any(|v| {
        v.as_bytes()
            .split(|b| *b == b';')
            .next()
            .map(<[u8]>::trim_ascii)
            .is_some_and(|t| t.eq_ignore_ascii_case(b"application/x-www-form-urlencoded"))
    });
    if form {
        return Err(Rejection::FormBody);
    }
    Ok(())
}

/// The `Authorization` header's value: `None` when absent; refused when repeated or not
/// visible ASCII.
pub(crate) fn authorization(headers: &HeaderMap) -> Result<Option<&str>, Rejection> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::RepeatedAuthorization);
    }
    // `HeaderValue` holds no control byte but tab, so "visible ASCII" (`to_str`) is "ASCII",
    // which `is_ascii` checks a word at a time instead of a byte at a time.
    let bytes = value.as_bytes();
    if !bytes.is_ascii() {
        return Err(Rejection::AuthorizationNotAscii);
    }
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Rejection::AuthorizationNotAscii)
}

/// What the gate learned from a JSON-RPC body, borrowed from it (a string with escapes is
/// decoded into its own allocation; the common case allocates nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message<'a> {
    /// `method`, absent for a response.
    pub(crate) method: Option<Cow<'a, str>>,
    /// `params.name`, when `params` is an object whose `name` is a string.
    pub(crate) name: Option<Cow<'a, str>>,
}

impl Message<'_> {
    /// The tool name when this is a `tools/call`.
    pub(crate) fn tool(&self) -> Option<&str> {
        if self.method.as_deref() == Some(TOOLS_CALL) {
            self.name.as_deref()
        } else {
            None
        }
    }
}

/// Reads one JSON-RPC message from `body`. Refuses arrays (batches), anything that is not a
/// JSON object, duplicate `method`, `id`, `params` or `params.name` members (two parsers could
/// disagree on which one counts), and a `tools/call` without a string `params.name`.
///
/// The whole body is parsed (a syntax error anywhere is refused), but only `method` and
/// `params.name` are kept: this runs on every POST, so it allocates nothing unless a kept
/// string holds an escape. The `id` is read again by [`message_id`] on the one path that
/// needs it (a header mismatch's JSON-RPC error).
pub(crate) fn parse_message(body: &[u8]) -> Result<Message<'_>, Rejection> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return Err(Rejection::Batch);
    }
    let raw: RawMessage<'_> = serde_json::from_slice(body).map_err(|e| Rejection::NotJsonRpc {
        reason: json_reason(&e),
    })?;
    let method = match raw.method.map(string_of) {
        Some(None) => {
            return Err(Rejection::NotJsonRpc {
                reason: "method must be a string".to_owned(),
            });
        }
        Some(method) => method,
        None => None,
    };
    let message = Message {
        method,
        name: raw.params.and_then(|p| p.name),
    };
    if message.method.as_deref() == Some(TOOLS_CALL) && message.name.is_none() {
        return Err(Rejection::MissingToolName);
    }
    Ok(message)
}

/// The JSON-RPC `id` of a body [`parse_message`] accepted (`null` when absent), for a
/// JSON-RPC error reply.
pub(crate) fn message_id(body: &[u8]) -> serde_json::Value {
    #[derive(Deserialize)]
    struct Id {
        #[serde(default)]
        id: serde_json::Value,
    }
    serde_json::from_slice::<Id>(body).map_or(serde_json::Value::Null, |m| m.id)
}

/// The parser's complaint without any of the body's text (serde_json messages name the
/// problem and the position only).
fn json_reason(err: &serde_json::Error) -> String {
    let mut reason = err.to_string();
    if reason.len() > 200 {
        reason.truncate(200);
    }
    reason
}

/// The members the gate reads; serde refuses a duplicate of any of them (`id` included,
/// though only [`message_id`] keeps it).
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(default, rename = "id")]
    _id: Option<IgnoredAny>,
    #[serde(default, borrow)]
    method: Option<&'a RawValue>,
    #[serde(default, borrow)]
    params: Option<Params<'a>>,
}

/// `params`: only a string `name` is kept; positional (array) params are skipped.
struct Params<'a> {
    name: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Params<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("params as an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params<'de>, A::Error> {
        let mut name: Option<&'de RawValue> = None;
        while let Some(IsName(is_name)) = map.next_key()? {
            if is_name {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                name = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Params {
            name: name.and_then(string_of),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Params { name: None })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Params<'de>, E> {
        Ok(Params { name: None })
    }
}

/// A member name of `params`: whether it is `name` (escapes decoded; nothing allocated).
struct IsName(bool);

impl<'de> Deserialize<'de> for IsName {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_identifier(IsNameVisitor)
    }
}

struct IsNameVisitor;

impl Visitor<'_> for IsNameVisitor {
    type Value = IsName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<IsName, E> {
        Ok(IsName(v == "name"))
    }
}

/// A JSON value's text when it is a string: borrowed when it has no escapes, decoded when it
/// has; `None` for any other JSON type.
fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if !text.starts_with('"') {
        return None;
    }
    match serde_json::from_str::<&str>(text) {
        Ok(borrowed) => Some(Cow::Borrowed(borrowed)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(Cow::Owned),
    }
}

/// The `Mcp-Method` header name (2026-07-28 transport).
pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
/// The `Mcp-Name` header name (2026-07-28 transport).
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// Checks the 2026-07-28 `Mcp-Method` and `Mcp-Name` headers, when present, against the body:
/// a header that contradicts the body (after decoding the `=?base64?...?=` form of `Mcp-Name`)
/// is refused. Absent headers are accepted: clients of 2025-11-25 and earlier send none.
pub(crate) fn check_headers(headers: &HeaderMap, message: &Message<'_>) -> Result<(), Rejection> {
    if let Some(value) = single_header(headers, &MCP_METHOD, "Mcp-Method")? {
        let value = value.trim_matches([' ', '\t']);
        if Some(value) != message.method.as_deref() {
            return Err(mismatch("Mcp-Method", value, message.method.as_deref()));
        }
    }
    if let Some(value) = single_header(headers, &MCP_NAME, "Mcp-Name")? {
        let value = value.trim_matches([' ', '\t']);
        let decoded = decode_sentinel(value)
            .ok_or_else(|| mismatch("Mcp-Name", value, message.name.as_deref()))?;
        if Some(decoded.as_ref()) != message.name.as_deref() {
            return Err(mismatch("Mcp-Name", &decoded, message.name.as_deref()));
        }
    }
    Ok(())
}

/// One header's value as text; repeated or non-ASCII is a mismatch.
fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &HeaderName,
    shown: &'static str,
) -> Result<Option<&'a str>, Rejection> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::HeaderMismatch {
            header: shown,
            header_value: "(repeated)".to_owned(),
            body_value: "(one value)".to_owned(),
        });
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| Rejection::HeaderMismatch {
            header: shown,
            header_value: "(not visible ASCII)".to_owned(),
            body_value: "(a header-safe or =?base64?...?= value)".to_owned(),
        })
}

/// `=?base64?<b64>?=` decoded as UTF-8; any other value as it is. `None` for a sentinel that
/// does not decode.
fn decode_sentinel(value: &str) -> Option<Cow<'_, str>> {
    let Some(inner) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(Cow::Borrowed(value));
    };
    let bytes = STANDARD.decode(inner).ok()?;
    String::from_utf8(bytes).ok().map(Cow::Owned)
}

fn mismatch(header: &'static str, header_value: &str, body_value: Option<&str>) -> Rejection {
    Rejection::HeaderMismatch {
        header,
        header_value: shown(header_value),
        body_value: body_value.map_or_else(|| "(none)".to_owned(), shown),
    }
}

/// An untrusted value as it appears in a message: the facade's own rule
/// ([`m4_auth::jwks::shown`]: control characters, `"` and `\` escaped, cut at 200 characters).
pub(crate) use m4_auth::jwks::shown;

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn authorization_accepts_exactly_what_to_str_accepts() {
        // Every byte a header value can hold, alone and inside a token: the ASCII fast path
        // must agree with `HeaderValue::to_str` on each.
        let mut checked = 0;
        for b in 0..=255u8 {
            for bytes in [
                vec![b],
                vec![b'B', b'e', b'a', b'r', b'e', b'r', b' ', b'x', b, b'y'],
            ] {
                let Ok(value) = HeaderValue::from_bytes(&bytes) else {
                    continue;
                };
                let mut headers = HeaderMap::new();
                headers.insert(header::AUTHORIZATION, value.clone());
                let ours = authorization(&headers);
                let expected = value
                    .to_str()
                    .map(Some)
                    .map_err(|_| Rejection::AuthorizationNotAscii);
                assert_eq!(ours, expected, "byte {b:#04x}");
                checked += 1;
            }
        }
        // 0x20..=0x7e, tab and 0x80..=0xff, twice; NUL, other controls and DEL are refused by
        // `HeaderValue` itself.
        assert_eq!(checked, 2 * (95 + 1 + 128));
    }
}
