//! [`AuthLayer`] and [`AuthService`]: the gate in front of the MCP endpoint.
//!
//! Per request, in this order (each step's refusal ends the request there):
//! 1. `access_token` in the query string, a form-encoded body, a repeated or non-ASCII
//!    `Authorization` header: `400 invalid_request` (never used as a credential).
//! 2. The token is verified *without charging* the rate limiter
//!    ([`Authenticator::try_verify_header`](m4_auth::Authenticator::try_verify_header) inline,
//!    which never does network I/O; when it needs a JWKS or discovery fetch,
//!    `verify_header` runs on tokio's blocking pool): `401` / `503`.
//! 3. The body is read, refused above the limit (`Content-Length` first, then while reading):
//!    `413`.
//! 4. A POST body, or a non-empty body sent with any other method, is read as one JSON-RPC
//!    message; `Mcp-Method` / `Mcp-Name` headers, when present, must match it: `400`.
//! 5. A `tools/call` needs the tool's scopes (`403 insufficient_scope` listing all of them) and
//!    is charged one request (`429` with `Retry-After`); nothing else is charged.
//! 6. The [`Principal`](m4_auth::Principal) goes into the request's extensions and the inner
//!    service gets the request with the same bytes: the request's own clone of it is polled
//!    ready, then called (the gated service itself is always ready, so a request still in the
//!    gate holds none of the inner service's capacity).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Buf;
use bytes::Bytes;
use http::request::Parts;
use http::{Method, Request, Response, header};
use http_body::Body;
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use m4_auth::{AuthError, Principal, Verified};
use pin_project_lite::pin_project;

use crate::config::Shared;
use crate::error::Rejection;
use crate::inspect::{self, Message};
use crate::reply;

/// The response body of a gated service: the gate's own small JSON answers, or the inner
/// service's body untouched.
pub type GateBody<B> = Either<Full<Bytes>, B>;

/// What the gate gives: the request to pass on, or the gate's own answer.
type GateOutcome = Result<Request<Full<Bytes>>, Response<Full<Bytes>>>;

pin_project! {
    /// The future of [`AuthService`]'s `Service::call`: the gate (boxed; a cached token is
    /// checked without waiting), then the inner service made ready (`poll_ready`, only once
    /// the gate let the request through), then the inner service's own future, unboxed.
    ///
    /// Only the gate's state is allocated (552 bytes behind axum's body type): the request's
    /// parts are held once in it, not twice as an `async fn` argument would be. The future is
    /// `Send` when the inner service and its future are (checked by a test), and `Unpin` when
    /// the inner service's future is.
    pub struct ResponseFuture<S, ResB>
    where
        S: tower_service::Service<Request<Full<Bytes>>, Response = Response<ResB>>,
    {
        #[pin]
        state: State<S::Future>,
        // This request's clone of the inner service: polled ready, then called, in place.
        inner: S,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        Gate { gate: Pin<Box<dyn Future<Output = GateOutcome> + Send>> },
        // Let through; waiting for the inner service to be ready for it.
        Ready { req: Option<Request<Full<Bytes>>> },
        Inner { #[pin] future: F },
    }
}

impl<S, ResB> std::fmt::Debug for ResponseFuture<S, ResB>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<ResB>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Gate { .. } => "gate",
            State::Ready { .. } => "waiting for the inner service",
            State::Inner { .. } => "inner service",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl<S, ResB> Future for ResponseFuture<S, ResB>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<ResB>>,
{
    type Output = Result<Response<GateBody<ResB>>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Gate { gate } => match ready!(gate.as_mut().poll(cx)) {
                    Ok(req) => this.state.set(State::Ready { req: Some(req) }),
                    Err(refusal) => return Poll::Ready(Ok(refusal.map(Either::Left))),
                },
                StateProj::Ready { req } => {
                    ready!(this.inner.poll_ready(cx))?;
                    // Not reachable: the request is taken once, as the state moves on; a 500
                    // rather than a panic all the same.
                    let Some(req) = req.take() else {
                        let answer = reply::internal("the gated request was already passed on");
                        return Poll::Ready(Ok(answer.map(Either::Left)));
                    };
                    let future = this.inner.call(req);
                    this.state.set(State::Inner { future });
                }
                StateProj::Inner { future } => {
                    return future
                        .poll(cx)
                        .map_ok(|response| response.map(Either::Right));
                }
            }
        }
    }
}

/// The tower layer that gates an MCP endpoint; from [`McpAuth::layer`](crate::McpAuth::layer).
#[derive(Clone)]
pub struct AuthLayer {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthLayer")
            .field("resource", &self.shared.resource.resource())
            .finish_non_exhaustive()
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The gated service: answers refusals itself and passes accepted requests to `S` with a
/// [`Principal`] in their extensions and their body buffered as [`Full<Bytes>`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> std::fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("resource", &self.shared.resource.resource())
            .finish_non_exhaustive()
    }
}

impl<S, B, ResB> tower_service::Service<Request<B>> for AuthService<S>
where
    S: tower_service::Service<Request<Full<Bytes>>, Response = Response<ResB>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
    ResB: Send + 'static,
{
    type Response = Response<GateBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ResB>;

    /// Always ready: the gate itself needs no capacity. The inner service is made ready for a
    /// request only once the gate has let it through, so a request still being authenticated
    /// (a slow body, a key fetch) holds none of the inner service's capacity, and a refused one
    /// never takes any.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // This request's own clone, polled ready (then called) in the future.
        let inner = self.inner.clone();
        let (parts, body) = req.into_parts();
        ResponseFuture {
            state: State::Gate {
                gate: Box::pin(gate(self.shared.clone(), parts, body)),
            },
            inner,
        }
    }
}

/// Everything before the inner service: the request to pass on, or the answer to give.
///
/// An `async` block, not an `async fn`: an `async fn` moves its arguments into locals of its
/// own and keeps both copies for its whole life (the request's parts twice, 224 bytes each),
/// which would push the boxed state out of the allocator's per-thread cache.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn would hold the request's parts twice (see above)"
)]
fn gate<B>(
    shared: Arc<Shared>,
    mut parts: Parts,
    body: B,
) -> impl Future<Output = GateOutcome> + Send + use<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    async move {
        let shared = &*shared;
        let refuse = |r: Rejection| reply::rejection(shared, &r, None);
        inspect::check_query(&parts).map_err(refuse)?;
        inspect::check_content_type(&parts.headers).map_err(refuse)?;
        let authorization = inspect::authorization(&parts.headers).map_err(refuse)?;

        let verified = verify(shared, authorization)
            .await?
            .map_err(|err| reply::auth_error(shared, &err, &shared.required))?;

        let bytes = read_body(shared, &parts.headers, body)
            .await
            .map_err(refuse)?;
        // Every POST, and a body sent with any other method (not MCP, but an inner service might
        // act on it): a tools/call is a tools/call whatever the HTTP method, scoped and charged.
        let message = if parts.method == Method::POST || !bytes.is_empty() {
            let message = inspect::parse_message(&bytes).map_err(refuse)?;
            inspect::check_headers(&parts.headers, &message)
                .map_err(|r| reply::rejection(shared, &r, Some(&inspect::message_id(&bytes))))?;
            Some(message)
        } else {
            None
        };

        let principal = match message.as_ref().and_then(Message::tool) {
            Some(tool) => {
                // Every scope the call needs, for a refusal's challenge only.
                let scopes = || shared.scopes_for(Some(tool));
                let extra = shared.tool_scopes.get(tool).map_or(&[][..], Vec::as_slice);
                let verified = verified
                    .require_scopes(extra)
                    .map_err(|err| reply::auth_error(shared, &err, &scopes()))?;
                charge(verified)
                    .await?
                    .map_err(|err| reply::auth_error(shared, &err, &scopes()))?
            }
            None => verified.uncharged(),
        };
        drop(message);
        parts.extensions.insert(principal);
        Ok(Request::from_parts(parts, Full::new(bytes)))
    }
}

/// Verifies without charging: inline when the facade can answer without network I/O,
/// otherwise on the blocking pool. The outer `Err` is a 500 (the blocking task failed).
async fn verify(
    shared: &Shared,
    authorization: Option<&str>,
) -> Result<Result<Verified, AuthError>, Response<Full<Bytes>>> {
    if let Some(answer) = shared.auth.try_verify_header(authorization) {
        return Ok(answer);
    }
    let auth = shared.auth.clone();
    let authorization = authorization.map(str::to_owned);
    off_runtime(move || auth.verify_header(authorization.as_deref())).await
}

/// Charges one tool call: inline for the in-memory limiter, on the blocking pool when the
/// limiter may wait on the network (Redis, custom).
async fn charge(verified: Verified) -> Result<Result<Principal, AuthError>, Response<Full<Bytes>>> {
    if !verified.charge_may_block() {
        return Ok(verified.charge());
    }
    off_runtime(move || verified.charge()).await
}

/// Runs `f` on tokio's blocking pool when a tokio runtime is running (the case for axum,
/// hyper and rmcp); without one, inline (there is no async worker to protect).
async fn off_runtime<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Response<Full<Bytes>>> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| reply::internal(&format!("authentication task failed: {e}"))),
        Err(_) => Ok(f()),
    }
}

/// Reads the whole body, refusing more than the limit: first by `Content-Length` (nothing
/// read), then while reading (reading stops at the limit).
async fn read_body<B>(
    shared: &Shared,
    headers: &http::HeaderMap,
    body: B,
) -> Result<Bytes, Rejection>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let limit = shared.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(Rejection::BodyTooLarge { limit });
    }
    if body.size_hint().lower() > limit as u64 {
        return Err(Rejection::BodyTooLarge { limit });
    }
    let mut body = std::pin::pin!(Limited::new(body, limit));
    // One frame is the common case: kept as it came (no copy); more are joined.
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            if err.downcast_ref::<LengthLimitError>().is_some() {
                Rejection::BodyTooLarge { limit }
            } else {
                Rejection::BodyUnreadable {
                    reason: inspect::shown(&err.to_string()),
                }
            }
        })?;
        let Ok(mut data) = frame.into_data() else {
            continue; // trailers: not part of a JSON-RPC body
        };
        let data = data.copy_to_bytes(data.remaining());
        match first.take() {
            None if joined.is_empty() => first = Some(data),
            held => {
                joined.extend_from_slice(held.as_deref().unwrap_or_default());
                joined.extend_from_slice(&data);
            }
        }
        // A body that knows it has ended (a `Full`, or hyper's with its `Content-Length`
        // read) is not polled once more just to hear so.
        if body.is_end_stream() {
            break;
        }
    }
    Ok(first.unwrap_or_else(|| Bytes::from(joined)))
}
