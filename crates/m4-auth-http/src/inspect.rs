//! Reading what the gate needs from a request without changing it: the `Authorization` header,
//! a token in the query string or a form body, and, for a POST, the JSON-RPC `method` and
//! `params.name` checked against the `Mcp-Method` / `Mcp-Name` headers.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use http::{HeaderMap, header};
use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::Rejection;

/// The MCP method whose calls are charged and checked against per-tool scopes.
pub(crate) const TOOLS_CALL: &str = "tools/call";

/// The longest header or body value echoed in a message, in characters.
const ECHO_LIMIT: usize = 64;

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
    value
        .to_str()
        .map(Some)
        .map_err(|_| Rejection::AuthorizationNotAscii)
}

/// What the gate learned from a JSON-RPC body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    /// The JSON-RPC id, re-serialized, for a JSON-RPC error reply (`null` when absent).
    pub(crate) id: serde_json::Value,
    /// `method`, absent for a response.
    pub(crate) method: Option<String>,
    /// `params.name`, when `params` is an object whose `name` is a string.
    pub(crate) name: Option<String>,
}

impl Message {
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
pub(crate) fn parse_message(body: &[u8]) -> Result<Message, Rejection> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return Err(Rejection::Batch);
    }
    let raw: RawMessage = serde_json::from_slice(body).map_err(|e| Rejection::NotJsonRpc {
        reason: json_reason(&e),
    })?;
    let name = raw.params.and_then(|p| p.name);
    let message = Message {
        id: raw.id.unwrap_or(serde_json::Value::Null),
        method: raw.method,
        name,
    };
    if message.method.as_deref() == Some(TOOLS_CALL) && message.name.is_none() {
        return Err(Rejection::MissingToolName);
    }
    Ok(message)
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

/// The members the gate reads; serde refuses a duplicate of any of them.
#[derive(Deserialize)]
struct RawMessage {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Params>,
}

/// `params`: only a string `name` is kept; positional (array) params are skipped.
struct Params {
    name: Option<String>,
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Params;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("params as an object or an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
        let mut name: Option<Option<String>> = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "name" {
                if name.is_some() {
                    return Err(de::Error::duplicate_field("name"));
                }
                let value: serde_json::Value = map.next_value()?;
                name = Some(value.as_str().map(str::to_owned));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Params {
            name: name.flatten(),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Params { name: None })
    }

    fn visit_unit<E: de::Error>(self) -> Result<Params, E> {
        Ok(Params { name: None })
    }
}

/// The `Mcp-Method` header name (2026-07-28 transport).
pub(crate) const MCP_METHOD: &str = "mcp-method";
/// The `Mcp-Name` header name (2026-07-28 transport).
pub(crate) const MCP_NAME: &str = "mcp-name";

/// Checks the 2026-07-28 `Mcp-Method` and `Mcp-Name` headers, when present, against the body:
/// a header that contradicts the body (after decoding the `=?base64?...?=` form of `Mcp-Name`)
/// is refused. Absent headers are accepted: clients of 2025-11-25 and earlier send none.
pub(crate) fn check_headers(headers: &HeaderMap, message: &Message) -> Result<(), Rejection> {
    if let Some(value) = single_header(headers, MCP_METHOD, "Mcp-Method")? {
        let value = value.trim_matches([' ', '\t']);
        if Some(value) != message.method.as_deref() {
            return Err(mismatch("Mcp-Method", value, message.method.as_deref()));
        }
    }
    if let Some(value) = single_header(headers, MCP_NAME, "Mcp-Name")? {
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
    name: &str,
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

/// An untrusted value as it appears in a message: escaped and cut.
pub(crate) fn shown(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    for c in chars.by_ref().take(ECHO_LIMIT) {
        match c {
            '\'' => out.push_str("\\'"),
            c => out.extend(c.escape_debug()),
        }
    }
    if chars.next().is_some() {
        out.push('…');
    }
    out
}
