//! Asking a running dev issuer for a token over `POST /mint` (`m4-auth dev-issuer mint`).

use std::net::IpAddr;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{KidOverride, MintRequest, OldKeys};
use crate::Error;
use crate::form::shown_message;
use crate::oauth::normalize_user_code;

/// The most we read of a mint response.
const MAX_RESPONSE_BYTES: u64 = 256 * 1024;

/// A token minted by a remote dev issuer.
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires, as the issuer reported.
    pub expires_in: i64,
    /// The signing algorithm.
    pub alg: String,
}

impl std::fmt::Debug for MintedToken {
    // Never show the token itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedToken")
            .field("expires_in", &self.expires_in)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Whether `url` is `http://` on a loopback host (`127.0.0.0/8`, `[::1]`, `localhost`).
///
/// ```
/// use m4_dev_issuer::is_loopback_http_url;
/// assert!(is_loopback_http_url("http://127.0.0.1:8414"));
/// assert!(is_loopback_http_url("http://[::1]:8414/"));
/// assert!(!is_loopback_http_url("http://auth.example.com"));
/// assert!(!is_loopback_http_url("https://127.0.0.1:8414"));
/// ```
pub fn is_loopback_http_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        match v6.split_once(']') {
            Some((host, port)) if port.is_empty() || port.starts_with(':') => host,
            _ => return false,
        }
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `POST <issuer_url><path>` with a JSON body; the answer's JSON on 200, else the error.
fn post_json(
    issuer_url: &str,
    path: &str,
    action: &'static str,
    body: &Value,
) -> Result<(String, Value), Error> {
    post(
        issuer_url,
        path,
        action,
        "application/json",
        body.to_string(),
    )
}

/// `POST <issuer_url><path>` with `body` of `content_type`; the answer's JSON on 200, else
/// the error.
fn post(
    issuer_url: &str,
    path: &str,
    action: &'static str,
    content_type: &str,
    body: String,
) -> Result<(String, Value), Error> {
    let url = issuer_url.trim_end_matches('/').to_owned();
    if !is_loopback_http_url(&url) {
        return Err(Error::IssuerUrlNotLoopback { url });
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .proxy(None)
        .build()
        .into();
    let unreachable = |source: ureq::Error| Error::IssuerUnreachable {
        url: url.clone(),
        source: Box::new(source),
    };
    let mut response = agent
        .post(format!("{url}{path}"))
        .header("Content-Type", content_type)
        .send(body)
        .map_err(unreachable)?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_RESPONSE_BYTES)
        .read_to_string()
        .map_err(unreachable)?;
    let json: Value = serde_json::from_str(&text).map_err(|_| Error::IssuerResponse {
        url: url.clone(),
        what: "the answer is not JSON: is a dev issuer listening there?".to_owned(),
    })?;
    if status != 200 {
        // Whatever listens on that port wrote it: it reaches the terminal escaped.
        let description = shown_message(
            json.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("no error_description given"),
        );
        return Err(Error::IssuerRejected {
            url,
            action,
            status,
            description,
        });
    }
    Ok((url, json))
}

/// Asks the dev issuer at `issuer_url` to mint `request` over `POST <issuer_url>/mint`.
///
/// Only loopback `http://` URLs are accepted ([`Error::IssuerUrlNotLoopback`]); there is a
/// 10-second timeout, and no proxy is used.
///
/// ```
/// use m4_dev_issuer::{DevIssuer, DevIssuerOptions, MintRequest, mint_remote};
///
/// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
/// let minted = mint_remote(issuer.issuer_url(), &MintRequest::default())?;
/// assert_eq!(minted.expires_in, 3600);
/// assert_eq!(issuer.served("/mint"), 1);
/// # Ok::<(), m4_dev_issuer::Error>(())
/// ```
pub fn mint_remote(issuer_url: &str, request: &MintRequest) -> Result<MintedToken, Error> {
    let mut body = Map::new();
    body.insert("sub".into(), request.sub.clone().into());
    body.insert("scopes".into(), json!(request.scopes));
    body.insert("ttl".into(), request.ttl.into());
    body.insert("alg".into(), request.alg.as_str().into());
    if let Some(aud) = &request.audience {
        body.insert("aud".into(), aud.clone().into());
    }
    if let Some(iss) = &request.issuer {
        body.insert("iss".into(), iss.clone().into());
    }
    if let Some(nbf) = request.not_before {
        body.insert("nbf".into(), nbf.into());
    }
    match &request.kid {
        KidOverride::Signing => {}
        KidOverride::Named(kid) => {
            body.insert("kid".into(), kid.clone().into());
        }
        KidOverride::Omitted => {
            body.insert("kid".into(), Value::Null);
        }
    }
    if !request.extra.is_empty() {
        body.insert("claims".into(), Value::Object(request.extra.clone()));
    }
    let (url, json) = post_json(issuer_url, "/mint", "mint a token", &Value::Object(body))?;
    let access_token = json
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::IssuerResponse {
            url,
            what: "the answer has no access_token".to_owned(),
        })?
        .to_owned();
    Ok(MintedToken {
        access_token,
        expires_in: json
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(request.ttl),
        alg: json
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or(request.alg.as_str())
            .to_owned(),
    })
}

/// Asks the dev issuer at `issuer_url` to rotate its keys (`POST <issuer_url>/rotate`);
/// returns the new kids, RS256 first. Same URL rules as [`mint_remote`].
///
/// ```
/// use m4_dev_issuer::{DevIssuer, DevIssuerOptions, OldKeys, rotate_remote};
///
/// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
/// let kids = rotate_remote(issuer.issuer_url(), OldKeys::Remove)?;
/// assert_eq!(kids, issuer.kids());
/// # Ok::<(), m4_dev_issuer::Error>(())
/// ```
pub fn rotate_remote(issuer_url: &str, old: OldKeys) -> Result<Vec<String>, Error> {
    let old = match old {
        OldKeys::Keep => "keep",
        OldKeys::Remove => "remove",
    };
    let (url, json) = post_json(
        issuer_url,
        "/rotate",
        "rotate its keys",
        &json!({ "old": old }),
    )?;
    json.get("kids")
        .and_then(Value::as_array)
        .map(|kids| {
            kids.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .ok_or_else(|| Error::IssuerResponse {
            url,
            what: "the answer has no kids".to_owned(),
        })
}

/// Whether a device login is approved or denied ([`decide_device_remote`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecision {
    /// The client's next poll gets tokens.
    Approve,
    /// The client's next poll gets `access_denied`.
    Deny,
}

/// Approves or denies the device login with `user_code` at the running dev issuer at
/// `issuer_url` (`POST /device/approve` or `/device/deny`; `m4-auth dev-issuer approve`).
/// Same URL rules as [`mint_remote`].
///
/// ```
/// use m4_dev_issuer::{DeviceDecision, DevIssuer, DevIssuerOptions, Error, decide_device_remote};
///
/// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
/// let unknown = decide_device_remote(issuer.issuer_url(), "BCDF-GHJK", DeviceDecision::Approve);
/// assert!(matches!(unknown, Err(Error::IssuerRejected { status: 400, .. })));
/// # Ok::<(), m4_dev_issuer::Error>(())
/// ```
pub fn decide_device_remote(
    issuer_url: &str,
    user_code: &str,
    decision: DeviceDecision,
) -> Result<(), Error> {
    let (path, action) = match decision {
        DeviceDecision::Approve => ("/device/approve", "approve the device login"),
        DeviceDecision::Deny => ("/device/deny", "deny the device login"),
    };
    // A user code is letters and dashes; normalised, it needs no percent-encoding.
    let body = format!("user_code={}", normalize_user_code(user_code));
    post(
        issuer_url,
        path,
        action,
        "application/x-www-form-urlencoded",
        body,
    )
    .map(|_| ())
}
