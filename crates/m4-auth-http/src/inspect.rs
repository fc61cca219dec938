//! Reading what the gate needs from a request without changing it: the `Authorization` header,
//! a token in the query string or a form body, and, for a POST, the JSON-RPC `method` and
//! `params.name` checked against the `Mcp-Method` / `Mcp-Name` headers.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::request::Parts;
use http::{HeaderMap, HeaderName, header};
use serde::Deserialize;

use crate::error::Rejection;
use crate::scan::{self, Kept};

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
    const FORM: &[u8] = b"application/x-www-form-urlencoded";
    let form = headers.get_all(header::CONTENT_TYPE).iter().any(|v| {
        let v = v.as_bytes();
        // Shorter than the form type cannot be it (`application/json` is the common case).
        v.len() >= FORM.len()
            && v.split(|b| *b == b';')
                .next()
                .map(<[u8]>::trim_ascii)
                .is_some_and(|t| t.eq_ignore_ascii_case(FORM))
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
    /// The name the 2026-07-28 `Mcp-Name` header carries for this method, when it is a string
    /// (as rmcp reads it): `params.name` for `tools/call` and `prompts/get`, `params.uri` for
    /// `resources/read`, `resources/subscribe` and `resources/unsubscribe`, `params.taskId`
    /// for `tasks/get`, `tasks/update` and `tasks/cancel`; none for other methods.
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
/// JSON object, duplicate `method`, `id`, `params`, `params.name`, `params.uri` or
/// `params.taskId` members (two parsers could disagree on which one counts), and a
/// `tools/call` without a string `params.name`.
///
/// The whole body is read (a syntax error anywhere is refused) by [`scan`](crate::scan), which
/// keeps positions only: this runs on every POST, so it allocates nothing unless a kept string
/// holds an escape. The `id` is read again by [`message_id`] on the one path that needs it (a
/// header mismatch's JSON-RPC error).
pub(crate) fn parse_message(body: &[u8]) -> Result<Message<'_>, Rejection> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') {
        return Err(Rejection::Batch);
    }
    let not_json = |e: scan::SyntaxError| Rejection::NotJsonRpc {
        reason: e.to_string(),
    };
    let scanned = scan::scan(body).map_err(not_json)?;
    let method = match scanned.method {
        Kept::Absent => None,
        Kept::Str(method) => Some(method.decode().map_err(not_json)?),
        Kept::Other => {
            return Err(Rejection::NotJsonRpc {
                reason: "method must be a string".to_owned(),
            });
        }
    };
    let kept = match method.as_deref().and_then(NameKey::for_method) {
        Some(NameKey::Name) => scanned.name,
        Some(NameKey::Uri) => scanned.uri,
        Some(NameKey::TaskId) => scanned.task_id,
        None => Kept::Absent,
    };
    let name = match kept {
        Kept::Str(name) => Some(name.decode().map_err(not_json)?),
        Kept::Absent | Kept::Other => None,
    };
    let message = Message { method, name };
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

/// The `params` member whose string value is a method's `Mcp-Name` (SEP-2243).
#[derive(Clone, Copy)]
enum NameKey {
    Name,
    Uri,
    TaskId,
}

impl NameKey {
    fn for_method(method: &str) -> Option<Self> {
        match method {
            "tools/call" | "prompts/get" => Some(Self::Name),
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => Some(Self::Uri),
            "tasks/get" | "tasks/update" | "tasks/cancel" => Some(Self::TaskId),
            _ => None,
        }
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
        let value = value.trim_ascii();
        if Some(value) != message.method.as_deref() {
            return Err(mismatch("Mcp-Method", value, message.method.as_deref()));
        }
    }
    if let Some(value) = single_header(headers, &MCP_NAME, "Mcp-Name")? {
        let value = value.trim_ascii();
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
    fn a_mismatch_quotes_values_that_cannot_close_its_quotes() {
        // The message puts both values in single quotes: a quote inside one is escaped, so
        // the text cannot be made to read as a different pair of values.
        let forged = "x' does not match body value 'y";
        let text = mismatch("Mcp-Name", forged, Some("it's")).to_string();
        assert_eq!(
            text,
            r"Header mismatch: Mcp-Name header value 'x\' does not match body value \'y' does not match body value 'it\'s'"
        );
    }

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
