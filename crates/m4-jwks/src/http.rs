//! [`HttpClient`]: the crate's HTTP transport offered to other crates (the OAuth token
//! client), so the tree has one HTTP client configuration: the same TLS settings, deadline,
//! body limit, URL rules and proxy handling as the JWKS fetches.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::discovery::{self, optional_endpoint, optional_list};
use crate::endpoint::{Endpoint, Issuer, UrlRole};
use crate::error::Error;
use crate::transport::Transport;

/// A blocking HTTP client with this crate's limits: rustls on aws-lc-rs with the operating
/// system's trust store, one deadline per request, bodies capped at
/// [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES), https only except loopback hosts, proxies from
/// the environment (never for loopback). Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// let client = m4_jwks::HttpClient::new(Duration::from_secs(10));
/// assert_eq!(client.timeout(), Duration::from_secs(10));
/// // Plain http to a non-loopback host is refused before any I/O.
/// let err = client.post_form("http://idp.example.com/token", &[], None).unwrap_err();
/// assert!(err.to_string().contains("use https"));
/// ```
#[derive(Clone)]
pub struct HttpClient {
    transport: Arc<Transport>,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("timeout", &self.transport.timeout())
            .finish()
    }
}

/// What a POST answered: the status, the `Location` header and the body, whatever the
/// status.
///
/// `Debug` shows the status, whether there is a `Location`, and the body's length only:
/// token endpoint bodies hold tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The `Location` header when the response has one (a redirect's target, which is never
    /// followed). It is the server's text, unescaped and uncut (bytes that are not UTF-8
    /// become U+FFFD): escape it, with [`shown`](crate::shown), before showing it.
    pub location: Option<String>,
    /// The body, at most [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES).
    pub body: Vec<u8>,
}

impl fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("has_location", &self.location.is_some())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl HttpClient {
    /// A client whose every request (connect, redirects and body together) must finish
    /// within `timeout`, kept between 1 ms and one hour (the bounds [`JwksCache`] enforces
    /// on `M4_OAUTH2_HTTP_TIMEOUT`; a deadline past that would overflow the clock). No I/O
    /// happens here.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = m4_jwks::HttpClient::new(Duration::MAX);
    /// assert_eq!(client.timeout(), Duration::from_secs(3600));
    /// ```
    ///
    /// [`JwksCache`]: crate::JwksCache
    pub fn new(timeout: Duration) -> Self {
        let timeout = timeout.clamp(Duration::from_millis(1), crate::cache::MAX_HTTP_TIMEOUT);
        Self {
            transport: Arc::new(Transport::new(timeout)),
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.transport.timeout()
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`) to `url`, with an `Authorization`
    /// header when given, and returns the status, `Location` and body whatever the status.
    /// Redirects are not followed: a 3xx is returned as it is, with its `Location`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] (role [`UrlRole::OAuthEndpoint`]) when `url` breaks the
    /// https-or-loopback rule; the transport errors ([`Error::Timeout`], [`Error::Connect`],
    /// TLS, proxy, [`Error::BodyTooLarge`]) otherwise.
    pub fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
        authorization: Option<&str>,
    ) -> Result<HttpResponse, Error> {
        let endpoint = Endpoint::parse(url, UrlRole::OAuthEndpoint)?;
        let answer = self.transport.post_form(&endpoint, form, authorization)?;
        Ok(HttpResponse {
            status: answer.status,
            location: answer.location,
            body: answer.body,
        })
    }

    /// Fetches the provider's metadata for `issuer` (OIDC discovery, then RFC 8414), with
    /// the same checks as the JWKS cache's discovery: the document's `issuer` must equal
    /// `issuer` exactly, and every endpoint it names passes the URL rules and stays on https
    /// when the issuer is https.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a bad issuer or endpoint; [`Error::NoMetadata`] when both
    /// documents answered 404; the errors of a failed request or a bad document otherwise.
    pub fn provider_metadata(&self, issuer: &str) -> Result<ProviderMetadata, Error> {
        let issuer = Issuer::parse(issuer)?;
        let Some((doc, url)) = discovery::fetch_document(&self.transport, &issuer)? else {
            return Err(Error::NoMetadata {
                oidc: issuer.openid_configuration_url(),
                oauth: issuer.oauth_authorization_server_url(),
            });
        };
        let endpoint = |name| optional_endpoint(&doc, &url, &issuer, name);
        Ok(ProviderMetadata {
            issuer: issuer.as_str().to_owned(),
            document_url: url.clone(),
            token_endpoint: endpoint("token_endpoint")?,
            device_authorization_endpoint: endpoint("device_authorization_endpoint")?,
            revocation_endpoint: endpoint("revocation_endpoint")?,
            token_endpoint_auth_methods_supported: optional_list(
                &doc,
                &url,
                "token_endpoint_auth_methods_supported",
            )?,
            grant_types_supported: optional_list(&doc, &url, "grant_types_supported")?,
        })
    }
}

/// The members of a provider's discovery document an OAuth client needs (RFC 8414 §2).
///
/// Endpoints are checked URLs; an absent member is `None` (for the lists, RFC 8414 gives the
/// defaults: `client_secret_basic`, and `authorization_code` plus `implicit`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderMetadata {
    /// The issuer, as configured (the document named the same string).
    pub issuer: String,
    /// Where the document was read.
    pub document_url: String,
    /// `token_endpoint`.
    pub token_endpoint: Option<String>,
    /// `device_authorization_endpoint` (RFC 8628).
    pub device_authorization_endpoint: Option<String>,
    /// `revocation_endpoint` (RFC 7009).
    pub revocation_endpoint: Option<String>,
    /// `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// `grant_types_supported`.
    pub grant_types_supported: Option<Vec<String>>,
}
