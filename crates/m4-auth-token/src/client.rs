//! [`TokenClient`]: one request per call to the provider's token, device authorization and
//! revocation endpoints, and the parsing of what they answer.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use m4_auth_config::{AudienceParameter, Secret};
use m4_jwks::{HttpClient, HttpResponse, shown};
use parking_lot::Mutex;
use serde_json::{Map, Value};

use crate::error::{EndpointKind, Error};
use crate::options::{OFFLINE_ACCESS, TokenOptions};
use crate::store::CredentialsFile;

const CLIENT_CREDENTIALS: &str = "client_credentials";
const REFRESH_TOKEN: &str = "refresh_token";
/// RFC 8628 §3.4.
pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Post,
    /// A public client: `client_id` in the body, no secret (`none`).
    None,
}

/// The endpoints in use, discovered or configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// Where they were read (`configured` when every one was set by hand).
    pub source: String,
    /// The token endpoint.
    pub token: Option<String>,
    /// The device authorization endpoint.
    pub device_authorization: Option<String>,
    /// The revocation endpoint.
    pub revocation: Option<String>,
    /// `token_endpoint_auth_methods_supported`, when advertised.
    pub auth_methods: Option<Vec<String>>,
}

/// A successful token response (RFC 6749 §5.1). `Debug` shows no token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenResponse {
    /// The access token.
    pub access_token: Secret,
    /// Its lifetime (`expires_in`), when given.
    pub expires_in: Option<Duration>,
    /// A refresh token, when issued.
    pub refresh_token: Option<Secret>,
    /// The scopes granted, when the provider says.
    pub scope: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &self.access_token)
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

/// What the device authorization endpoint answered (RFC 8628 §3.2): what to show the user
/// and the device code to poll with. `Debug` hides the device code.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceAuthorization {
    /// The code the user types at the verification URI.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same with the code filled in, when given.
    pub verification_uri_complete: Option<String>,
    /// How long the codes stay valid (more than 0, cut to one hour).
    pub expires_in: Duration,
    /// The polling interval to start with (default 5 s; at least 1 s, and at most
    /// `expires_in`).
    pub interval: Duration,
    pub(crate) device_code: Secret,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

/// A [`DeviceAuthorization`] as a provider would answer it, with a placeholder device code,
/// for tests of what a program shows the user. It cannot complete a login.
///
/// ```
/// use std::time::Duration;
/// let device = m4_auth_token::testing_device_authorization(
///     "ABCD-EFGH", "https://idp.example.com/activate", None, Duration::from_secs(600));
/// assert_eq!(device.interval, Duration::from_secs(5));
/// ```
pub fn testing_device_authorization(
    user_code: &str,
    verification_uri: &str,
    verification_uri_complete: Option<&str>,
    expires_in: Duration,
) -> DeviceAuthorization {
    DeviceAuthorization {
        user_code: user_code.to_owned(),
        verification_uri: verification_uri.to_owned(),
        verification_uri_complete: verification_uri_complete.map(str::to_owned),
        expires_in,
        interval: DEFAULT_POLL_INTERVAL,
        device_code: Secret::new("placeholder"),
    }
}

/// One answer to a device-code poll (RFC 8628 §3.5).
#[derive(Debug)]
pub(crate) enum Poll {
    /// Approved: the tokens.
    Done(Box<TokenResponse>),
    /// `authorization_pending`: ask again after the interval.
    Pending,
    /// `slow_down`: add 5 s to the interval, then ask again.
    SlowDown,
}

/// Sends the OAuth requests. Blocking; every request bounded by the HTTP timeout.
///
/// ```
/// use m4_auth_token::{TokenClient, TokenOptions};
///
/// let options = TokenOptions::new("https://idp.example.com/", "/tmp/m4-creds.json")
///     .token_endpoint("https://idp.example.com/oauth/token")
///     .device_authorization_endpoint("https://idp.example.com/oauth/device/code")
///     .revocation_endpoint("https://idp.example.com/oauth/revoke");
/// let client = TokenClient::new(options);
/// // Every endpoint configured: no discovery request is made.
/// let endpoints = client.endpoints()?;
/// assert_eq!(endpoints.token.as_deref(), Some("https://idp.example.com/oauth/token"));
/// # Ok::<(), m4_auth_token::Error>(())
/// ```
pub struct TokenClient {
    pub(crate) options: TokenOptions,
    http: HttpClient,
    endpoints: Mutex<Option<Endpoints>>,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// A client; no I/O happens here.
    pub fn new(options: TokenOptions) -> Self {
        let http = HttpClient::new(options.http_timeout);
        Self {
            options,
            http,
            endpoints: Mutex::new(None),
        }
    }

    /// The options in use.
    pub fn options(&self) -> &TokenOptions {
        &self.options
    }

    /// The endpoints: the configured ones, the rest from the provider's discovery document
    /// (fetched once; a failure is retried on the next call).
    ///
    /// # Errors
    /// [`Error::Discovery`] when the document cannot be read; [`Error::InvalidHttpTimeout`]
    /// when the HTTP timeout is out of range (checked before every request).
    pub fn endpoints(&self) -> Result<Endpoints, Error> {
        self.options.check_http_timeout()?;
        if let Some(found) = self.endpoints.lock().as_ref() {
            return Ok(found.clone());
        }
        let o = &self.options;
        let found = if o.token_endpoint.is_some()
            && o.device_authorization_endpoint.is_some()
            && o.revocation_endpoint.is_some()
        {
            Endpoints {
                source: "configured".to_owned(),
                token: o.token_endpoint.clone(),
                device_authorization: o.device_authorization_endpoint.clone(),
                revocation: o.revocation_endpoint.clone(),
                auth_methods: None,
            }
        } else {
            let metadata = self
                .http
                .provider_metadata(&o.issuer)
                .map_err(Error::Discovery)?;
            Endpoints {
                source: metadata.document_url.clone(),
                token: o.token_endpoint.clone().or(metadata.token_endpoint),
                device_authorization: o
                    .device_authorization_endpoint
                    .clone()
                    .or(metadata.device_authorization_endpoint),
                revocation: o
                    .revocation_endpoint
                    .clone()
                    .or(metadata.revocation_endpoint),
                auth_methods: metadata.token_endpoint_auth_methods_supported,
            }
        };
        *self.endpoints.lock() = Some(found.clone());
        Ok(found)
    }

    /// The client authentication used at the token endpoint: `none` without a secret;
    /// otherwise `client_secret_basic` unless the provider advertises only
    /// `client_secret_post` (RFC 8414: an absent list means `client_secret_basic`).
    ///
    /// # Errors
    /// Those of [`TokenClient::endpoints`].
    pub fn auth_method(&self) -> Result<ClientAuthMethod, Error> {
        if self.options.client_secret.is_none() {
            return Ok(ClientAuthMethod::None);
        }
        let endpoints = self.endpoints()?;
        Ok(choose_auth_method(endpoints.auth_methods.as_deref()))
    }

    /// Client credentials grant (RFC 6749 §4.4) with the configured id and secret, asking
    /// for the required scopes and the audience.
    ///
    /// # Errors
    /// [`Error::NotConfigured`] without an id or secret; the request's errors otherwise.
    pub fn client_credentials(&self) -> Result<TokenResponse, Error> {
        let client_id = self.require_client_id()?;
        if self.options.client_secret.is_none() {
            return Err(Error::client_secret_not_configured());
        }
        let scope = self.scope_parameter(true, false);
        let mut form = vec![("grant_type", CLIENT_CREDENTIALS.to_owned())];
        push_scope(&mut form, scope);
        self.push_audience(&mut form);
        let answer = self.post_token(client_id, form)?;
        self.token_answer(&answer)
    }

    /// Refresh token grant (RFC 6749 §6). `invalid_grant` becomes [`Error::LoginExpired`].
    ///
    /// # Errors
    /// [`Error::LoginExpired`] when the refresh token is expired or revoked; the request's
    /// errors otherwise.
    pub fn refresh(&self, refresh_token: &Secret) -> Result<TokenResponse, Error> {
        let client_id = self.require_client_id()?;
        let form = vec![
            ("grant_type", REFRESH_TOKEN.to_owned()),
            ("refresh_token", refresh_token.expose_secret().to_owned()),
        ];
        match self.post_token(client_id, form) {
            Err(Error::Refused {
                error, description, ..
            }) if error == "invalid_grant" => Err(Error::LoginExpired { error, description }),
            other => self.token_answer(&other?),
        }
    }

    /// Starts a device login (RFC 8628 §3.1): asks for the required scopes plus
    /// `offline_access` and the audience.
    ///
    /// The credentials file it will be stored in is checked first, before any request, by the
    /// very checks [`CredentialsFile::save`](crate::CredentialsFile::save) makes (a directory
    /// group or others may write to or of another user, a symbolic link or anything but a
    /// regular file, a file that is not a login this program wrote), so the user is not asked
    /// to approve a login that could not be kept.
    ///
    /// # Errors
    /// The credentials file's refusals ([`Error::CredentialsFileNotALogin`], ...);
    /// [`Error::EndpointMissing`] when the provider has no device authorization endpoint;
    /// the request's errors otherwise.
    pub fn start_device_login(&self) -> Result<DeviceAuthorization, Error> {
        let client_id = self.require_client_id()?;
        CredentialsFile::new(self.options.credentials_file.clone()).check_saveable()?;
        let endpoints = self.endpoints()?;
        let Some(url) = endpoints.device_authorization else {
            return Err(Error::device_endpoint_missing(endpoints.source));
        };
        let mut form = Vec::new();
        push_scope(&mut form, self.scope_parameter(false, true));
        self.push_audience(&mut form);
        let kind = EndpointKind::DeviceAuthorization;
        let response = self.post(kind, &url, client_id, form)?;
        let body = &success_body(kind, response, false)?;
        let string = |name: &'static str| required_string(kind, &url, body, name);
        let device_code = Secret::new(string("device_code")?);
        let user_code = string("user_code")?;
        // Google and older drafts say `verification_url`.
        let verification_uri = required_string(kind, &url, body, "verification_uri")
            .or_else(|e| required_string(kind, &url, body, "verification_url").map_err(|_| e))?;
        let expires_in = seconds(kind, &url, body, "expires_in")?.ok_or_else(|| {
            bad(
                kind,
                &url,
                "the answer has no \"expires_in\" number".to_owned(),
            )
        })?;
        let given_interval = seconds(kind, &url, body, "interval")?;
        let (expires_in, interval) =
            device_timing(expires_in, given_interval).map_err(|detail| bad(kind, &url, detail))?;
        Ok(DeviceAuthorization {
            user_code: shown(&user_code),
            verification_uri: shown(&verification_uri),
            verification_uri_complete: body
                .get("verification_uri_complete")
                .and_then(Value::as_str)
                .map(shown),
            expires_in,
            interval,
            device_code,
        })
    }

    /// One poll of the token endpoint with the device code.
    pub(crate) fn poll_device(&self, device: &DeviceAuthorization) -> Result<Poll, Error> {
        let client_id = self.require_client_id()?;
        let form = vec![
            ("grant_type", DEVICE_CODE_GRANT.to_owned()),
            ("device_code", device.device_code.expose_secret().to_owned()),
        ];
        match self.post_token(client_id, form) {
            Ok(answer) => Ok(Poll::Done(Box::new(self.token_answer(&answer)?))),
            Err(Error::Refused { error, .. }) if error == "authorization_pending" => {
                Ok(Poll::Pending)
            }
            Err(Error::Refused { error, .. }) if error == "slow_down" => Ok(Poll::SlowDown),
            Err(Error::Refused { error, .. }) if error == "access_denied" => {
                Err(Error::LoginDenied)
            }
            Err(Error::Refused { error, .. }) if error == "expired_token" => {
                Err(Error::LoginExpiredBeforeApproval {
                    lifetime: device.expires_in,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Revokes a refresh token (RFC 7009). `Ok(false)` when the provider has no revocation
    /// endpoint (nothing was sent).
    ///
    /// # Errors
    /// The request's errors; an unknown token is success per RFC 7009 §2.2.
    pub fn revoke(&self, refresh_token: &Secret) -> Result<bool, Error> {
        let client_id = self.require_client_id()?;
        let endpoints = self.endpoints()?;
        let Some(url) = endpoints.revocation else {
            return Ok(false);
        };
        let form = vec![
            ("token", refresh_token.expose_secret().to_owned()),
            ("token_type_hint", REFRESH_TOKEN.to_owned()),
        ];
        let kind = EndpointKind::Revocation;
        let response = self.post(kind, &url, client_id, form)?;
        success_body(kind, response, true)?;
        Ok(true)
    }

    fn require_client_id(&self) -> Result<&str, Error> {
        self.options
            .client_id
            .as_deref()
            .ok_or_else(Error::client_id_not_configured)
    }

    /// The `scope` value: the required scopes (prefixed with the audience in `scope` mode;
    /// `<audience>/.default` for client credentials there), plus `offline_access` at login.
    fn scope_parameter(&self, client_credentials: bool, offline: bool) -> Option<String> {
        let o = &self.options;
        let mut scopes: Vec<String> = match (o.audience_parameter, o.audience.as_deref()) {
            (AudienceParameter::Scope, Some(aud)) if client_credentials => {
                vec![format!("{}/.default", aud.trim_end_matches('/'))]
            }
            (AudienceParameter::Scope, Some(aud)) => o
                .scopes
                .iter()
                .map(|s| format!("{}/{s}", aud.trim_end_matches('/')))
                .collect(),
            _ => o.scopes.clone(),
        };
        if offline && !scopes.iter().any(|s| s == OFFLINE_ACCESS) {
            scopes.push(OFFLINE_ACCESS.to_owned());
        }
        (!scopes.is_empty()).then(|| scopes.join(" "))
    }

    fn push_audience(&self, form: &mut Vec<(&'static str, String)>) {
        let Some(audience) = self.options.audience.clone() else {
            return;
        };
        match self.options.audience_parameter {
            AudienceParameter::Audience => form.push(("audience", audience)),
            AudienceParameter::Resource => form.push(("resource", audience)),
            _ => {}
        }
    }

    fn post_token(
        &self,
        client_id: &str,
        form: Vec<(&'static str, String)>,
    ) -> Result<Map<String, Value>, Error> {
        let endpoints = self.endpoints()?;
        let Some(url) = endpoints.token else {
            return Err(Error::token_endpoint_missing(endpoints.source));
        };
        let kind = EndpointKind::Token;
        let response = self.post(kind, &url, client_id, form)?;
        success_body(kind, response, false)
    }

    /// POSTs with the client's authentication added.
    fn post(
        &self,
        kind: EndpointKind,
        url: &str,
        client_id: &str,
        mut form: Vec<(&'static str, String)>,
    ) -> Result<(String, HttpResponse), Error> {
        self.options.check_http_timeout()?;
        let mut authorization = None;
        match self.auth_method()? {
            ClientAuthMethod::Basic => {
                authorization = self
                    .options
                    .client_secret
                    .as_ref()
                    .map(|secret| basic_authorization(client_id, secret));
            }
            ClientAuthMethod::Post => {
                form.push(("client_id", client_id.to_owned()));
                if let Some(secret) = &self.options.client_secret {
                    form.push(("client_secret", secret.expose_secret().to_owned()));
                }
            }
            ClientAuthMethod::None => form.push(("client_id", client_id.to_owned())),
        }
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let header = authorization.as_ref().map(Secret::expose_secret);
        let response =
            self.http
                .post_form(url, &pairs, header)
                .map_err(|e| Error::Unreachable {
                    endpoint: kind,
                    url: url.to_owned(),
                    detail: e.request_failure().unwrap_or_else(|| e.to_string()),
                })?;
        Ok((url.to_owned(), response))
    }

    fn token_answer(&self, body: &Map<String, Value>) -> Result<TokenResponse, Error> {
        let kind = EndpointKind::Token;
        let url = self.endpoints()?.token.unwrap_or_default();
        let access_token = Secret::new(required_string(kind, &url, body, "access_token")?);
        match body.get("token_type").and_then(Value::as_str) {
            Some(t) if t.eq_ignore_ascii_case("bearer") => {}
            Some(t) => {
                return Err(bad(
                    kind,
                    &url,
                    format!("\"token_type\" is \"{}\", not Bearer", shown(t)),
                ));
            }
            None => {
                return Err(bad(
                    kind,
                    &url,
                    "the answer has no \"token_type\"".to_owned(),
                ));
            }
        }
        Ok(TokenResponse {
            access_token,
            expires_in: seconds(kind, &url, body, "expires_in")?,
            refresh_token: match body.get("refresh_token") {
                Some(Value::String(s)) if !s.is_empty() => Some(Secret::new(s.clone())),
                None | Some(Value::Null) => None,
                Some(_) => {
                    return Err(bad(
                        kind,
                        &url,
                        "\"refresh_token\" is not a non-empty string".to_owned(),
                    ));
                }
            },
            scope: body.get("scope").and_then(Value::as_str).map(shown),
        })
    }
}

/// RFC 8628 §3.2: the polling interval when the provider gives none.
pub(crate) const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The shortest wait between two polls, whatever the provider or the caller says: an
/// `interval` of 0 would mean polling back to back. A provider that wants fewer polls says
/// `slow_down` (RFC 8628 §3.5), which adds 5 s.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);
/// The longest a device login is waited for: a longer `expires_in` is cut to this, so a
/// provider's answer cannot keep `m4-auth login` polling for days; the user can run it again.
pub(crate) const MAX_DEVICE_LIFETIME: Duration = Duration::from_secs(3600);

/// The lifetime and polling interval of a device login from the provider's `expires_in` and
/// `interval` (see docs/credentials.md): a lifetime of 0, or one shorter than the interval,
/// is nonsense (the login could never be approved) and refused naming both values; an
/// interval of 0 becomes [`MIN_POLL_INTERVAL`], a lifetime over [`MAX_DEVICE_LIFETIME`] is cut
/// to it.
pub(crate) fn device_timing(
    expires_in: Duration,
    interval: Option<Duration>,
) -> Result<(Duration, Duration), String> {
    if expires_in.is_zero() {
        return Err(
            "\"expires_in\" is 0: the code would expire before anyone could enter it; the \
             provider's device login is misconfigured, tell its administrators"
                .to_owned(),
        );
    }
    let polled = interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    if polled > expires_in {
        let interval = match interval {
            Some(given) => format!("\"interval\" is {} s", given.as_secs()),
            None => format!(
                "the polling interval is {} s (the RFC 8628 default, as \"interval\" is absent)",
                DEFAULT_POLL_INTERVAL.as_secs()
            ),
        };
        return Err(format!(
            "{interval} but \"expires_in\" is {} s: the code would expire before the first \
             poll; the provider's device login is misconfigured, tell its administrators",
            expires_in.as_secs()
        ));
    }
    Ok((
        expires_in.min(MAX_DEVICE_LIFETIME),
        polled.max(MIN_POLL_INTERVAL),
    ))
}

/// RFC 8414 §2: an absent list means `client_secret_basic`. Basic is preferred when listed
/// (or when neither is listed: a provider may still accept it).
fn choose_auth_method(advertised: Option<&[String]>) -> ClientAuthMethod {
    match advertised {
        Some(methods)
            if methods.iter().any(|m| m == "client_secret_post")
                && !methods.iter().any(|m| m == "client_secret_basic") =>
        {
            ClientAuthMethod::Post
        }
        _ => ClientAuthMethod::Basic,
    }
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_authorization(client_id: &str, secret: &Secret) -> Secret {
    let pair = format!(
        "{}:{}",
        form_urlencode(client_id),
        form_urlencode(secret.expose_secret())
    );
    Secret::new(format!("Basic {}", STANDARD.encode(pair)))
}

/// `application/x-www-form-urlencoded` encoding of one value (HTML URL-encoded serializer:
/// unreserved `*-._` and alphanumerics kept, space as `+`, every other byte `%XX`).
pub(crate) fn form_urlencode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn push_scope(form: &mut Vec<(&'static str, String)>, scope: Option<String>) {
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
}

fn bad(kind: EndpointKind, url: &str, detail: String) -> Error {
    Error::BadResponse {
        endpoint: kind,
        url: url.to_owned(),
        detail,
    }
}

/// The JSON object of a 2xx answer, or the error a redirect (3xx, never followed), an OAuth
/// error body (any 4xx/5xx with `error`) or a bare status means. `empty_ok` accepts a 2xx with any body (revocation).
fn success_body(
    kind: EndpointKind,
    (url, response): (String, HttpResponse),
    empty_ok: bool,
) -> Result<Map<String, Value>, Error> {
    let parsed: Option<Value> = serde_json::from_slice(&response.body).ok();
    let object = match parsed {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    };
    let status = response.status;
    if (300..400).contains(&status) {
        // The Location is the provider's text: escaped and cut like any other.
        return Err(Error::Redirected {
            endpoint: kind,
            url,
            status,
            location: response.location.as_deref().map(shown),
        });
    }
    if (200..300).contains(&status) {
        if empty_ok {
            return Ok(Map::new());
        }
        return object.ok_or_else(|| {
            bad(
                kind,
                &url,
                format!(
                    "HTTP {status} with a body that is not a JSON object ({} bytes)",
                    response.body.len()
                ),
            )
        });
    }
    let Some(error) = object
        .as_ref()
        .and_then(|o| o.get("error"))
        .and_then(Value::as_str)
    else {
        return Err(Error::ProviderStatus {
            endpoint: kind,
            url,
            status,
        });
    };
    let description = object
        .as_ref()
        .and_then(|o| o.get("error_description"))
        .and_then(Value::as_str)
        .map(shown);
    let error_text = shown(error);
    Err(match error {
        "invalid_client" | "unauthorized_client" => Error::ClientRejected {
            error: error_text,
            description,
        },
        _ => Error::Refused {
            endpoint: kind,
            fix: fix_for(error),
            error: error_text,
            description,
        },
    })
}

/// What to do about an OAuth error code (RFC 6749 §5.2, RFC 8628 §3.5, RFC 8707 §2), by
/// code; any other code gets [`OTHER_FIX`]. A table, so the message snapshot covers each.
pub(crate) const FIXES: &[(&str, &str)] = &[
    (
        "invalid_scope",
        "check M4_OAUTH2_REQUIRED_SCOPES against the scopes the provider grants this client",
    ),
    (
        "invalid_target",
        "check M4_OAUTH2_AUDIENCE, or set M4_OAUTH2_AUDIENCE_PARAMETER (see docs/credentials.md)",
    ),
    (
        "unsupported_grant_type",
        "enable this grant for the client at the provider",
    ),
    ("invalid_grant", "run `m4-auth login` again"),
    (
        "invalid_request",
        "check M4_OAUTH2_AUDIENCE and M4_OAUTH2_AUDIENCE_PARAMETER (see docs/credentials.md)",
    ),
];

/// What to do about an OAuth error code [`FIXES`] does not name.
pub(crate) const OTHER_FIX: &str = "see the provider's description above and docs/credentials.md";

/// The fix [`FIXES`] gives for `error`, else [`OTHER_FIX`].
pub(crate) fn fix_for(error: &str) -> &'static str {
    FIXES
        .iter()
        .find(|(code, _)| *code == error)
        .map_or(OTHER_FIX, |(_, fix)| fix)
}

fn required_string(
    kind: EndpointKind,
    url: &str,
    body: &Map<String, Value>,
    name: &str,
) -> Result<String, Error> {
    match body.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(bad(
            kind,
            url,
            format!("the answer has no \"{name}\" string"),
        )),
    }
}

/// A number of seconds (RFC 6749 says a number; some providers send a string of digits).
fn seconds(
    kind: EndpointKind,
    url: &str,
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<Duration>, Error> {
    let value = match body.get(name) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse::<u64>().ok(),
        Some(_) => None,
    };
    match value {
        Some(secs) if secs <= 10 * 365 * 86_400 => Ok(Some(Duration::from_secs(secs))),
        _ => Err(bad(
            kind,
            url,
            format!("\"{name}\" is not a whole number of seconds"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded, then joined, then base64.
        let header = basic_authorization("m4 cli:1", &Secret::new("p@ss/w:rd+é"));
        let encoded = header.expose_secret().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "m4+cli%3A1:p%40ss%2Fw%3Ard%2B%C3%A9");
    }

    #[test]
    fn auth_method_follows_the_advertised_list() {
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(choose_auth_method(None), ClientAuthMethod::Basic);
        let post = list(&["client_secret_post"]);
        assert_eq!(choose_auth_method(Some(&post)), ClientAuthMethod::Post);
        let both = list(&["client_secret_post", "client_secret_basic"]);
        assert_eq!(choose_auth_method(Some(&both)), ClientAuthMethod::Basic);
        let jwt = list(&["private_key_jwt"]);
        assert_eq!(choose_auth_method(Some(&jwt)), ClientAuthMethod::Basic);
    }
}
