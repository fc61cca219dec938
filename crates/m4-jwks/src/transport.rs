//! The HTTP transport: one blocking ureq agent, rustls on the aws-lc-rs provider with the
//! operating system's trust store, a deadline per request, a body limit, and redirects
//! followed by hand so that every hop obeys the https-or-loopback rule.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::tls::{RootCerts, TlsConfig, TlsProvider};
use ureq::{Agent, Proxy};

use crate::endpoint::{Endpoint, is_loopback_host};
use crate::error::Error;

/// Largest response body read, discovery document or JWKS: 1 MiB.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: u32 = 3;

const USER_AGENT: &str = concat!("m4-jwks/", env!("CARGO_PKG_VERSION"));
const ACCEPT: &str = "application/json, application/jwk-set+json;q=0.9, */*;q=0.1";

/// What [`Transport::post_form`] read: the status, the `Location` header (raw, unescaped)
/// and the body.
pub(crate) struct PostAnswer {
    pub(crate) status: u16,
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// A blocking HTTP GET client with the limits above.
pub(crate) struct Transport {
    agent: Agent,
    timeout: Duration,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Builds the agent. No I/O happens here: the trust store is loaded on the first https
    /// request, and the proxy is read from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` and
    /// `NO_PROXY` now. Loopback hosts always bypass the proxy.
    pub(crate) fn new(timeout: Duration) -> Self {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::PlatformVerifier)
            .unversioned_rustls_crypto_provider(provider)
            .build();
        let agent: Agent = Agent::config_builder()
            .tls_config(tls)
            .proxy(Proxy::try_from_env())
            .timeout_global(Some(timeout))
            // redirects are followed in `get`, where each hop is checked
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .accept(ACCEPT)
            .build()
            .into();
        Self { agent, timeout }
    }

    /// The per-request timeout (connect and read, redirects included).
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// GETs `url` and returns its body (at most [`MAX_BODY_BYTES`]) when the final status is
    /// 2xx. One deadline covers the whole chain of at most [`MAX_REDIRECTS`] redirects.
    pub(crate) fn get(&self, url: &Endpoint) -> Result<Vec<u8>, Error> {
        let deadline = Instant::now() + self.timeout;
        let mut current = url.clone();
        let mut redirects = 0_u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(self.timed_out(&current));
            }
            let mut config = self
                .agent
                .get(current.uri().clone())
                .config()
                .timeout_global(Some(remaining));
            if current.uri().host().is_some_and(is_loopback_host) {
                // A proxy cannot reach this machine's loopback: never send it there.
                config = config.proxy(None);
            }
            let mut response = config
                .build()
                .call()
                .map_err(|e| self.map_error(&current, e))?;
            let status = response.status().as_u16();
            match status {
                200..=299 => {
                    return response
                        .body_mut()
                        .with_config()
                        .limit(MAX_BODY_BYTES)
                        .read_to_vec()
                        .map_err(|e| self.map_error(&current, e));
                }
                301 | 302 | 303 | 307 | 308 => {
                    let location = response
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let Some(location) = location else {
                        return Err(Error::BadRedirect {
                            url: current.as_str().to_owned(),
                            status,
                        });
                    };
                    if redirects == MAX_REDIRECTS {
                        return Err(Error::TooManyRedirects {
                            url: url.as_str().to_owned(),
                            max: MAX_REDIRECTS,
                        });
                    }
                    redirects += 1;
                    current = current.join_redirect(&location)?;
                }
                _ => {
                    return Err(Error::HttpStatus {
                        url: current.as_str().to_owned(),
                        status,
                    });
                }
            }
        }
    }

    /// POSTs an `application/x-www-form-urlencoded` body to `url` and returns the status,
    /// the `Location` header and the body (at most [`MAX_BODY_BYTES`]) whatever the status:
    /// OAuth endpoints answer errors as JSON with 400 or 401. Redirects are not followed (a
    /// redirected POST would carry client credentials to another place; the agent has
    /// `max_redirects(0)`); the caller sees the 3xx status and where it pointed.
    pub(crate) fn post_form(
        &self,
        url: &Endpoint,
        form: &[(&str, &str)],
        authorization: Option<&str>,
    ) -> Result<PostAnswer, Error> {
        let mut request = self.agent.post(url.uri().clone());
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let mut config = request.config().timeout_global(Some(self.timeout));
        if url.uri().host().is_some_and(is_loopback_host) {
            config = config.proxy(None);
        }
        let mut response = config
            .build()
            .send_form(form.iter().copied())
            .map_err(|e| self.map_error(url, e))?;
        let status = response.status().as_u16();
        // As sent, bytes that are not UTF-8 replaced: the header is the provider's text, so
        // whoever shows it escapes it. Its length is bounded by ureq's header-size limit.
        let location = response
            .headers()
            .get("location")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_vec()
            .map_err(|e| self.map_error(url, e))?;
        Ok(PostAnswer {
            status,
            location,
            body,
        })
    }

    fn timed_out(&self, url: &Endpoint) -> Error {
        Error::Timeout {
            url: url.as_str().to_owned(),
            timeout: self.timeout,
        }
    }

    /// Turns ureq's error into ours, with a message an operator can act on.
    fn map_error(&self, url: &Endpoint, error: ureq::Error) -> Error {
        let url_text = url.as_str().to_owned();
        let connect = |detail: String| Error::Connect {
            url: url_text.clone(),
            detail,
        };
        match error {
            ureq::Error::Timeout(_) => self.timed_out(url),
            ureq::Error::BodyExceedsLimit(_) => Error::BodyTooLarge {
                url: url_text,
                limit: MAX_BODY_BYTES,
            },
            ureq::Error::HostNotFound => connect("the host name did not resolve (DNS)".into()),
            ureq::Error::ConnectionFailed => connect("could not connect".into()),
            ureq::Error::Io(e) if tls_cause(&e).is_some() => match tls_cause(&e) {
                Some(tls) => tls_error(url_text, tls),
                None => connect(e.to_string()),
            },
            ureq::Error::Io(e) => match e.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => self.timed_out(url),
                io::ErrorKind::ConnectionRefused => connect("connection refused".into()),
                io::ErrorKind::ConnectionReset => connect("connection reset by the server".into()),
                io::ErrorKind::UnexpectedEof => {
                    connect("the server closed the connection mid-response".into())
                }
                _ => connect(e.to_string()),
            },
            ureq::Error::Tls(detail) => Error::Tls {
                url: url_text,
                detail: detail.to_owned(),
            },
            ureq::Error::Rustls(e) => tls_error(url_text, &e),
            ureq::Error::Pem(e) => Error::Tls {
                url: url_text,
                detail: e.to_string(),
            },
            ureq::Error::ConnectProxyFailed(detail) => Error::Proxy {
                url: url_text,
                detail,
            },
            ureq::Error::InvalidProxyUrl => Error::Proxy {
                url: url_text,
                detail: "the proxy URL in HTTPS_PROXY/ALL_PROXY/HTTP_PROXY is invalid".into(),
            },
            other => connect(other.to_string()),
        }
    }
}

/// The rustls error inside an I/O error, when the TLS layer caused it.
fn tls_cause(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

fn tls_error(url: String, error: &rustls::Error) -> Error {
    let detail = error.to_string();
    match error {
        rustls::Error::InvalidCertificate(_) => Error::Certificate { url, detail },
        _ => Error::Tls { url, detail },
    }
}
