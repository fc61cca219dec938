//! The dev issuer's HTTP side: one worker thread answering requests from tiny_http in order.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use super::{KidOverride, MintRequest, OldKeys, RequestLog, Shared, SigningAlg};

/// The largest request body the dev issuer reads (`POST /mint`); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Answers requests until `stopping` is set (and the server unblocked).
pub(super) fn serve(shared: &Shared, server: &Server, stopping: &AtomicBool) {
    while !stopping.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(request) => handle(shared, request),
            // `unblock()` (shutdown) or a failed accept: the loop condition decides.
            Err(_) => continue,
        }
    }
}

type Reply = Response<Cursor<Vec<u8>>>;

fn json_reply(status: u16, body: &Value) -> Reply {
    let mut reply = Response::from_data(body.to_string()).with_status_code(StatusCode(status));
    if let Ok(header) = Header::from_bytes("Content-Type", "application/json") {
        reply.add_header(header);
    }
    if let Ok(header) = Header::from_bytes("Cache-Control", "no-store") {
        reply.add_header(header);
    }
    reply
}

fn error_reply(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

fn handle(shared: &Shared, mut request: Request) {
    let path = request
        .url()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
    shared.count(&path);
    let loopback_peer = request
        .remote_addr()
        .is_some_and(|peer| peer.ip().is_loopback());
    let reply = if !loopback_peer {
        // Cannot happen while we bind loopback only; refuse anyway rather than trust that.
        error_reply(
            403,
            "access_denied",
            "the dev issuer answers loopback clients only",
        )
    } else {
        route(shared, &path, &mut request)
    };
    let log = RequestLog {
        method: request.method().to_string(),
        path,
        status: reply.status_code().0,
    };
    // A client that hung up is not our problem.
    let _ = request.respond(reply);
    if let Some(observer) = &shared.on_request {
        observer(&log);
    }
}

fn route(shared: &Shared, path: &str, request: &mut Request) -> Reply {
    let method = request.method().clone();
    match (path, method) {
        (
            "/.well-known/openid-configuration" | "/.well-known/oauth-authorization-server",
            Method::Get,
        ) => json_reply(200, &discovery(shared)),
        ("/jwks.json", Method::Get) => {
            let jwks = shared
                .keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .jwks();
            json_reply(200, &jwks)
        }
        ("/mint", Method::Post) => mint(shared, request),
        ("/rotate", Method::Post) => rotate(shared, request),
        (
            "/.well-known/openid-configuration"
            | "/.well-known/oauth-authorization-server"
            | "/jwks.json",
            _,
        ) => error_reply(405, "invalid_request", "this endpoint answers GET only"),
        ("/mint" | "/rotate", _) => {
            error_reply(405, "invalid_request", "this endpoint answers POST only")
        }
        _ => error_reply(
            404,
            "not_found",
            "the dev issuer serves /.well-known/openid-configuration, /jwks.json, POST /mint and POST /rotate",
        ),
    }
}

fn discovery(shared: &Shared) -> Value {
    let issuer = &shared.issuer_url;
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "token_endpoint": format!("{issuer}/mint"),
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": [super::DEFAULT_SCOPE],
    })
}

/// The JSON body of `POST /mint`; every member but `sub` is optional.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    sub: String,
    scopes: Option<Vec<String>>,
    ttl: Option<i64>,
    alg: Option<String>,
    aud: Option<String>,
    iss: Option<String>,
    nbf: Option<i64>,
    /// Absent: the signing key's kid; a string: that kid; `null`: no kid header.
    #[serde(default, deserialize_with = "present")]
    kid: Option<Value>,
    claims: Option<Map<String, Value>>,
}

/// Keeps `null` apart from an absent member: absent is `None`, `null` is `Some(Value::Null)`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn read_body(request: &mut Request) -> Result<Vec<u8>, Reply> {
    let too_large = || {
        error_reply(
            413,
            "invalid_request",
            &format!("request body larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    if request
        .body_length()
        .is_some_and(|len| len > MAX_BODY_BYTES)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY_BYTES)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .map_err(|_| error_reply(400, "invalid_request", "could not read the request body"))?;
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

fn mint(shared: &Shared, request: &mut Request) -> Reply {
    let body = match read_body(request) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let body: MintBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error_reply(
                400,
                "invalid_request",
                &format!(
                    "the body must be a JSON object with \"sub\" and optional \"scopes\", \"ttl\", \"alg\", \"aud\", \"iss\", \"nbf\", \"kid\", \"claims\": {e}"
                ),
            );
        }
    };
    let alg = match body
        .alg
        .as_deref()
        .map(str::parse::<SigningAlg>)
        .transpose()
    {
        Ok(alg) => alg.unwrap_or_default(),
        Err(e) => return error_reply(400, "invalid_request", &e.to_string()),
    };
    let kid = match body.kid {
        None => KidOverride::Signing,
        Some(Value::Null) => KidOverride::Omitted,
        Some(Value::String(kid)) => KidOverride::Named(kid),
        Some(_) => {
            return error_reply(
                400,
                "invalid_request",
                "\"kid\" must be a string, or null for no kid",
            );
        }
    };
    let defaults = MintRequest::default();
    let ttl = body.ttl.unwrap_or(defaults.ttl);
    let request = MintRequest {
        sub: body.sub,
        scopes: body.scopes.unwrap_or(defaults.scopes),
        ttl,
        alg,
        audience: body.aud,
        issuer: body.iss,
        not_before: body.nbf,
        kid,
        extra: body.claims.unwrap_or_default(),
    };
    match shared.mint(&request) {
        Ok(token) => json_reply(
            200,
            &json!({
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": ttl,
                "alg": alg.as_str(),
            }),
        ),
        Err(e) => error_reply(500, "server_error", &e.to_string()),
    }
}

/// The JSON body of `POST /rotate`: `{"old": "keep"}` (the default) or `{"old": "remove"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    old: Option<String>,
}

fn rotate(shared: &Shared, request: &mut Request) -> Reply {
    let body = match read_body(request) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let parsed = if body.iter().all(u8::is_ascii_whitespace) {
        Ok(RotateBody::default())
    } else {
        serde_json::from_slice::<RotateBody>(&body)
    };
    let old = match parsed.as_ref().map(|b| b.old.as_deref()) {
        Ok(None | Some("keep")) => OldKeys::Keep,
        Ok(Some("remove")) => OldKeys::Remove,
        _ => {
            return error_reply(
                400,
                "invalid_request",
                "the body must be empty or {\"old\": \"keep\"} or {\"old\": \"remove\"}",
            );
        }
    };
    match shared.rotate(old) {
        Ok(kids) => json_reply(200, &json!({ "kids": kids })),
        Err(e) => error_reply(500, "server_error", &e.to_string()),
    }
}
