//! The dev issuer's HTTP side: one worker thread answering requests from tiny_http in order.

use std::io::{Cursor, Read};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use super::{KidOverride, MintRequest, OldKeys, RequestLog, Shared, SigningAlg};
use crate::form::{Form, shown, shown_message};
use crate::oauth::{self, OAuthError};

/// The largest request body the dev issuer reads (every POST); larger ones get 413.
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
    no_store(&mut reply);
    reply
}

/// RFC 6749 §5.1: answers carrying tokens (and so every answer here) are not cached.
fn no_store(reply: &mut Reply) {
    for (name, value) in [("Cache-Control", "no-store"), ("Pragma", "no-cache")] {
        if let Ok(header) = Header::from_bytes(name, value) {
            reply.add_header(header);
        }
    }
}

fn error_reply(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// An RFC 6749 §5.2 error, with `WWW-Authenticate: Basic` when the client used Basic.
fn oauth_error_reply(e: &OAuthError) -> Reply {
    let mut reply = error_reply(e.status, e.error, &e.description);
    if e.basic_challenge
        && let Ok(header) = Header::from_bytes("WWW-Authenticate", "Basic realm=\"m4-dev-issuer\"")
    {
        reply.add_header(header);
    }
    reply
}

fn handle(shared: &Shared, mut request: Request) {
    let path = request
        .url()
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();
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
    } else if let Err(description) = check_host(&request, shared.port) {
        // DNS rebinding: a page on another site whose name now resolves to 127.0.0.1.
        error_reply(421, "invalid_request", &description)
    } else if let Err(description) = check_origin(&request, shared.port) {
        // A page on another site posting to http://127.0.0.1:PORT directly.
        error_reply(403, "access_denied", &description)
    } else {
        // Counted only once it passed the checks: a refused page adds no path to the counts.
        shared.count(&path);
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

/// Refuses a request whose `Host` header is not a loopback name with the port the issuer
/// listens on (RFC 9110 §7.2), so that a web page on another site cannot reach the issuer by
/// rebinding its own name to 127.0.0.1 (DNS rebinding): the browser sends that name as `Host`.
/// A request without exactly one `Host` header is refused too (RFC 9112 §3.2).
fn check_host(request: &Request, port: u16) -> Result<(), String> {
    let fix = format!(
        "address the dev issuer as http://127.0.0.1:{port}, http://localhost:{port} or http://[::1]:{port}"
    );
    let mut hosts = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str());
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if is_loopback_host(host, port) => Ok(()),
        (Some(host), None) => Err(format!(
            "the dev issuer answers only requests addressed to it by a loopback name and its port; this one is addressed to Host \"{}\" (a web page on another site, rebinding its name to 127.0.0.1?): {fix}",
            shown(host)
        )),
        (None, _) => Err(format!(
            "the request has no Host header: {fix} (every HTTP/1.1 client sends one)"
        )),
        (Some(_), Some(_)) => Err(format!(
            "the request has more than one Host header (RFC 9112 §3.2): {fix}"
        )),
    }
}

/// Refuses a request a browser sent from a page of another origin: when an `Origin` header
/// is present it must be the issuer's own, `http://` and a loopback name with its port.
/// Browsers send a cross-site `text/plain` or form POST without asking first (no CORS
/// preflight); they only hide the answer, so without this a page could rotate the keys away
/// or decide device logins. Clients that are not browsers send no `Origin` and pass.
fn check_origin(request: &Request, port: u16) -> Result<(), String> {
    let origins: Vec<&str> = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Origin"))
        .map(|h| h.value.as_str())
        .collect();
    match origins.as_slice() {
        [] => Ok(()),
        [origin]
            if origin
                .strip_prefix("http://")
                .is_some_and(|host| is_loopback_host(host, port)) =>
        {
            Ok(())
        }
        [origin] => Err(format!(
            "the dev issuer answers no page of another site: this request comes from Origin \"{}\", and only its own pages (http://127.0.0.1:{port}, http://localhost:{port}, http://[::1]:{port}) may call it from a browser; other clients send no Origin",
            shown(origin)
        )),
        _ => Err("the request has more than one Origin header".to_owned()),
    }
}

/// Whether `host` (a `Host` header) is `localhost`, a 127.0.0.0/8 address or `[::1]`, with
/// `port`, or with no port when `port` is 80 (http's default). Strict: no trailing dot, no
/// empty port, no user info, only the spellings `Ipv4Addr`/`Ipv6Addr` parse.
pub(crate) fn is_loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = if let Some(v6) = host.strip_prefix('[') {
        let Some((address, rest)) = v6.split_once(']') else {
            return false;
        };
        let given_port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return false,
        };
        if !address
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            return false;
        }
        (None, given_port)
    } else {
        match host.split_once(':') {
            Some((name, p)) => (Some(name), Some(p)),
            None => (Some(host), None),
        }
    };
    let name_ok = name.is_none_or(|name| {
        name.eq_ignore_ascii_case("localhost")
            || name
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    });
    let port_ok = match given_port {
        None => port == 80,
        Some(p) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>() == Ok(port)
        }
    };
    name_ok && port_ok
}

/// Every path the issuer serves, and the one method each answers.
const ROUTES: &[(&str, Method)] = &[
    ("/.well-known/openid-configuration", Method::Get),
    ("/.well-known/oauth-authorization-server", Method::Get),
    ("/jwks.json", Method::Get),
    ("/mint", Method::Post),
    ("/rotate", Method::Post),
    ("/token", Method::Post),
    ("/device_authorization", Method::Post),
    ("/revoke", Method::Post),
    ("/device", Method::Get),
    ("/device/approve", Method::Post),
    ("/device/deny", Method::Post),
];

/// Whether `path` is one the issuer serves (with any method).
pub(crate) fn is_route(path: &str) -> bool {
    ROUTES.iter().any(|(known, _)| *known == path)
}

fn route(shared: &Shared, path: &str, request: &mut Request) -> Reply {
    let method = request.method().clone();
    match (path, &method) {
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
        ("/token", Method::Post) => oauth_endpoint(shared, request, |client, form| {
            oauth::token(shared, client, form).map(|answer| json_reply(200, &answer))
        }),
        ("/device_authorization", Method::Post) => {
            oauth_endpoint(shared, request, |client, form| {
                oauth::device_authorization(shared, client, form)
                    .map(|answer| json_reply(200, &answer))
            })
        }
        ("/revoke", Method::Post) => oauth_endpoint(shared, request, |client, form| {
            let Some(token) = form.get("token") else {
                return Err(OAuthError::invalid_request("token is missing"));
            };
            oauth::revoke(shared, Some(client), token).map(|_| {
                // RFC 7009 §2.2: 200 whether or not the token was known; no body needed.
                let mut reply = Response::from_data(Vec::new());
                no_store(&mut reply);
                reply
            })
        }),
        ("/device", Method::Get) => device_page(shared, request.url()),
        ("/device/approve", Method::Post) => decide(shared, request, true),
        ("/device/deny", Method::Post) => decide(shared, request, false),
        _ => match ROUTES.iter().find(|(known, _)| *known == path) {
            Some((_, allowed)) => error_reply(
                405,
                "invalid_request",
                &format!("this endpoint answers {allowed} only"),
            ),
            None => {
                let known: Vec<String> = ROUTES
                    .iter()
                    .map(|(path, method)| format!("{method} {path}"))
                    .collect();
                error_reply(
                    404,
                    "not_found",
                    &format!("the dev issuer serves {}", known.join(", ")),
                )
            }
        },
    }
}

/// Reads a form body: bounded, `application/x-www-form-urlencoded`, strictly parsed.
fn read_form(request: &mut Request) -> Result<Form, Reply> {
    let content_type = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().to_owned());
    let is_form = content_type.as_deref().is_some_and(|ct| {
        ct.split(';').next().is_some_and(|t| {
            t.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
    });
    if !is_form {
        return Err(error_reply(
            400,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded (RFC 6749 §3.2)",
        ));
    }
    let body = read_body(request)?;
    Form::parse(&body).map_err(|e| error_reply(400, "invalid_request", &e))
}

/// The shape of the token, device authorization and revocation endpoints: read the form,
/// authenticate the client (RFC 6749 §2.3), then answer.
fn oauth_endpoint(
    shared: &Shared,
    request: &mut Request,
    answer: impl FnOnce(&crate::DevClient, &Form) -> Result<Reply, OAuthError>,
) -> Reply {
    let form = match read_form(request) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    let mut authorization = request
        .headers()
        .iter()
        .filter(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().to_owned());
    let header = authorization.next();
    if authorization.next().is_some() {
        return error_reply(400, "invalid_request", "more than one Authorization header");
    }
    let outcome = oauth::authenticate(&shared.settings, header.as_deref(), &form)
        .and_then(|client| answer(client, &form));
    match outcome {
        Ok(reply) => reply,
        Err(e) => oauth_error_reply(&e),
    }
}

/// `GET /device[?user_code=..]`: the verification page, saying how to approve (test-only).
fn device_page(shared: &Shared, url: &str) -> Reply {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let user_code = Form::parse(query.as_bytes())
        .ok()
        .and_then(|f| f.get("user_code").map(|c| html_escape(&shown(c))))
        .unwrap_or_default();
    let issuer = html_escape(&shared.issuer_url);
    let page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>m4 dev issuer: device login</title></head>\n\
         <body>\n<h1>m4 dev issuer: device login (TEST-ONLY)</h1>\n\
         <p>This issuer authenticates no one: approving here stands in for signing in at a real identity provider.</p>\n\
         <form method=\"post\" action=\"/device/approve\">\n\
         <label>User code <input name=\"user_code\" value=\"{user_code}\"></label>\n\
         <button type=\"submit\">Approve</button>\n\
         <button type=\"submit\" formaction=\"/device/deny\">Deny</button>\n</form>\n\
         <p>Or from a terminal: <code>m4-auth dev-issuer approve --issuer-url {issuer} {user_code}</code> \
         (add <code>--deny</code> to refuse).</p>\n</body></html>\n"
    );
    let mut reply = Response::from_data(page.into_bytes());
    if let Ok(header) = Header::from_bytes("Content-Type", "text/html; charset=utf-8") {
        reply.add_header(header);
    }
    no_store(&mut reply);
    reply
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `POST /device/approve` and `/device/deny` with a form `user_code=..` (test-only).
fn decide(shared: &Shared, request: &mut Request, approve: bool) -> Reply {
    let form = match read_form(request) {
        Ok(form) => form,
        Err(reply) => return reply,
    };
    let Some(user_code) = form.get("user_code") else {
        return error_reply(400, "invalid_request", "user_code is missing");
    };
    match oauth::decide(shared, user_code, approve) {
        Ok(()) => json_reply(
            200,
            &json!({
                "user_code": oauth::normalize_user_code(user_code),
                "decision": if approve { "approved" } else { "denied" },
            }),
        ),
        Err(e) => error_reply(400, "invalid_request", &e.to_string()),
    }
}

fn discovery(shared: &Shared) -> Value {
    let issuer = &shared.issuer_url;
    let methods: Vec<&str> = shared
        .settings
        .auth_methods
        .iter()
        .map(|m| m.as_str())
        .collect();
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks.json"),
        "token_endpoint": format!("{issuer}/token"),
        "device_authorization_endpoint": format!("{issuer}/device_authorization"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "grant_types_supported": oauth::GRANT_TYPES,
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "scopes_supported": shared.settings.scopes,
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
                    "the body must be a JSON object with \"sub\" and optional \"scopes\", \"ttl\", \"alg\", \"aud\", \"iss\", \"nbf\", \"kid\", \"claims\": {}",
                    // serde quotes an unknown member's name as it was sent.
                    shown_message(&e.to_string())
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
