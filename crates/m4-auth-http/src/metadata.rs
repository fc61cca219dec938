//! [`MetadataService`]: the RFC 9728 protected-resource metadata document, served
//! unauthenticated with CORS open to every origin (it is public by design).

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::config::Shared;

/// The tower service that answers the metadata document; from
/// [`McpAuth::metadata_service`](crate::McpAuth::metadata_service).
///
/// - `GET` / `HEAD`: `200`, `Content-Type: application/json`, the document (RFC 9728 §3.2),
///   `Access-Control-Allow-Origin: *`, `Cache-Control: public, max-age=3600`.
/// - `OPTIONS` (CORS preflight): `204` allowing `GET, HEAD, OPTIONS` from any origin with the
///   `MCP-Protocol-Version` header browser clients send.
/// - anything else: `405` with `Allow`.
///
/// It answers whatever path it is mounted at; mount it at both
/// [`McpAuth::metadata_paths`](crate::McpAuth::metadata_paths).
#[derive(Clone)]
pub struct MetadataService {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for MetadataService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetadataService")
            .field("resource", &self.shared.resource.resource())
            .finish()
    }
}

const ALLOW: HeaderValue = HeaderValue::from_static("GET, HEAD, OPTIONS");

impl<B> tower_service::Service<Request<B>> for MetadataService {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(self.answer(req.method())))
    }
}

impl MetadataService {
    fn answer(&self, method: &Method) -> Response<Full<Bytes>> {
        let (status, body) = match *method {
            Method::GET => (StatusCode::OK, self.shared.metadata.clone()),
            Method::HEAD | Method::OPTIONS => (
                if *method == Method::HEAD {
                    StatusCode::OK
                } else {
                    StatusCode::NO_CONTENT
                },
                Bytes::new(),
            ),
            _ => (StatusCode::METHOD_NOT_ALLOWED, Bytes::new()),
        };
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        match status {
            StatusCode::OK => {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                );
                if *method == Method::HEAD {
                    headers.insert(
                        header::CONTENT_LENGTH,
                        HeaderValue::from(self.shared.metadata.len()),
                    );
                }
            }
            StatusCode::NO_CONTENT => {
                headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW);
                headers.insert(
                    header::ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("mcp-protocol-version"),
                );
                headers.insert(
                    header::ACCESS_CONTROL_MAX_AGE,
                    HeaderValue::from_static("86400"),
                );
            }
            _ => {
                headers.insert(header::ALLOW, ALLOW);
            }
        }
        response
    }
}
