//! The answers the gate gives instead of calling the MCP service: the facade's statuses and
//! challenges for token failures, `400`/`413` for [`Rejection`]s, `500` when a blocking task
//! failed. Every body is small JSON; no answer ever contains the token.

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use m4_auth::AuthError;
use serde_json::json;

use crate::config::Shared;
use crate::error::Rejection;

/// CORS: lets a browser-based client (the MCP Inspector) read the challenge of a cross-origin
/// 401/403, which it needs to find the metadata.
const EXPOSE: HeaderValue = HeaderValue::from_static("WWW-Authenticate");

/// The answer for a token the facade refused: its status, its challenge (with every scope the
/// operation needs), `Retry-After` when rate limited, and
/// `{"error", "error_description", "code"}`.
#[cold]
pub(crate) fn auth_error(
    shared: &Shared,
    err: &AuthError,
    scopes: &[String],
) -> Response<Full<Bytes>> {
    let status = err.http_status();
    let error = match status {
        401 => "invalid_token",
        403 => "insufficient_scope",
        429 => "rate_limited",
        503 => "temporarily_unavailable",
        _ => "server_error",
    };
    let body = json!({
        "error": error,
        "error_description": err.message(),
        "code": err.code(),
    });
    let mut response = json_response(status, &body);
    let headers = response.headers_mut();
    if let Some(challenge) = err.www_authenticate_for(&shared.resource, scopes) {
        insert(headers, header::WWW_AUTHENTICATE, &challenge);
    }
    if let Some(secs) = err
        .retry_after()
        .or_else(|| keys_retry_after(shared, status))
    {
        insert(headers, header::RETRY_AFTER, &secs.to_string());
    }
    response
}

/// The longest `Retry-After` a 503 carries, whatever the cooldown: the answer does not say
/// when the last fetch was tried, so a long cooldown may be almost over.
const MAX_KEYS_RETRY_AFTER_SECS: u64 = 60;

/// For a 503 (signing keys unavailable): the JWKS refresh cooldown in whole seconds, rounded
/// up, from 1 to [`MAX_KEYS_RETRY_AFTER_SECS`]. The key set is fetched again at most once per
/// cooldown, so by then the next attempt has been made and a retry can succeed (RFC 9110
/// §10.2.3).
fn keys_retry_after(shared: &Shared, status: u16) -> Option<u64> {
    if status != 503 {
        return None;
    }
    let cooldown = shared.auth.config().jwks_refresh_cooldown();
    let secs = cooldown.as_secs() + u64::from(cooldown.subsec_nanos() > 0);
    Some(secs.clamp(1, MAX_KEYS_RETRY_AFTER_SECS))
}

/// The answer for a request the gate refuses on its own account.
#[cold]
pub(crate) fn rejection(
    shared: &Shared,
    rejection: &Rejection,
    id: Option<&serde_json::Value>,
) -> Response<Full<Bytes>> {
    let message = rejection.to_string();
    let body = match rejection {
        // The transport specification's HeaderMismatch: a JSON-RPC error, code -32020.
        Rejection::HeaderMismatch { .. } => json!({
            "jsonrpc": "2.0",
            "id": id.cloned().unwrap_or(serde_json::Value::Null),
            "error": { "code": -32020, "message": message },
        }),
        _ => json!({ "error": rejection.code(), "error_description": message }),
    };
    let mut response = json_response(rejection.status(), &body);
    if rejection.is_credential_problem() {
        let challenge = format!(
            "Bearer error=\"invalid_request\", error_description=\"{}\", resource_metadata=\"{}\"",
            quoted(&message),
            quoted(shared.resource.metadata_url()),
        );
        insert(response.headers_mut(), header::WWW_AUTHENTICATE, &challenge);
    }
    response
}

/// A blocking task that could not finish (it panicked, or the runtime is shutting down).
#[cold]
pub(crate) fn internal(what: &str) -> Response<Full<Bytes>> {
    tracing::error!("m4-auth-http: {what}");
    json_response(
        500,
        &json!({
            "error": "server_error",
            "error_description": "authentication could not complete: the server is shutting down or failed; retry later",
        }),
    )
}

/// A JSON answer with `Cache-Control: no-store` and the CORS header exposing the challenge.
fn json_response(status: u16, body: &serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE);
    response
}

/// Inserts a header whose value was built from printable ASCII; a value that is not (it never
/// is: challenges are quoted into printable ASCII) is dropped with a log line rather than sent
/// broken.
fn insert(headers: &mut http::HeaderMap, name: HeaderName, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(name, v);
        }
        Err(_) => tracing::error!(header = %name, "m4-auth-http: header value not sendable"),
    }
}

/// A value inside a quoted challenge parameter, in RFC 6750's character set: `"` becomes `'`,
/// `\` and anything outside printable ASCII `?` (as the facade's challenges do).
fn quoted(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            '"' => '\'',
            ' '..='~' if c != '\\' => c,
            _ => '?',
        })
        .collect()
}
