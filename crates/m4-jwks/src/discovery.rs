//! Finding the JWKS URL from the issuer.
//!
//! Order, first success wins:
//! 1. OpenID Connect Discovery: `{issuer}/.well-known/openid-configuration` (the issuer's path
//!    kept, its trailing slash dropped);
//! 2. RFC 8414: `{origin}/.well-known/oauth-authorization-server{path}`;
//! 3. only when both answered 404 (or 410): `{issuer}/.well-known/jwks.json`.
//!
//! Any other failure (timeout, 5xx, a document that is not JSON, an issuer mismatch) stops
//! discovery with that error instead of trying the next document: a flaky provider must not
//! make us believe a different document than the one it normally serves.

use serde_json::{Map, Value};

use crate::endpoint::{Endpoint, Issuer, UrlRole};
use crate::error::{Error, shown};
use crate::transport::Transport;

/// Where the JWKS URL came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// Configured explicitly (`M4_OAUTH2_JWKS_URL`); discovery never runs.
    Configured,
    /// A discovery document's `jwks_uri`.
    Document,
    /// The `jwks.json` guess; a 404 there means nothing exists at all.
    Fallback,
}

/// Runs discovery for `issuer`; returns the JWKS URL and how it was found.
pub(crate) fn discover(transport: &Transport, issuer: &Issuer) -> Result<(Endpoint, Found), Error> {
    match fetch_document(transport, issuer)? {
        Some((doc, url)) => Ok((jwks_uri(&doc, &url, issuer)?, Found::Document)),
        None => {
            let fallback = Endpoint::parse(&issuer.jwks_json_url(), UrlRole::Issuer)?;
            Ok((fallback, Found::Fallback))
        }
    }
}

/// The error for "the `jwks.json` fallback was 404 too".
pub(crate) fn nothing_found(issuer: &Issuer) -> Error {
    Error::NothingDiscovered {
        oidc: issuer.openid_configuration_url(),
        oauth: issuer.oauth_authorization_server_url(),
        fallback: issuer.jwks_json_url(),
    }
}

/// A discovery document, checked to be a JSON object naming the configured issuer.
pub(crate) type Document = Map<String, Value>;

/// Fetches the first discovery document that exists (OIDC, then RFC 8414) and checks its
/// `issuer`; `None` when both answered 404 (or 410). Returns the document and its URL.
pub(crate) fn fetch_document(
    transport: &Transport,
    issuer: &Issuer,
) -> Result<Option<(Document, String)>, Error> {
    for url in [
        issuer.openid_configuration_url(),
        issuer.oauth_authorization_server_url(),
    ] {
        let endpoint = Endpoint::parse(&url, UrlRole::Issuer)?;
        match transport.get(&endpoint) {
            Ok(body) => {
                let doc = read_document(&body, endpoint.as_str(), issuer)?;
                return Ok(Some((doc, endpoint.as_str().to_owned())));
            }
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// Parses a discovery document (OIDC or RFC 8414: both carry `issuer`) and checks the issuer.
fn read_document(body: &[u8], url: &str, issuer: &Issuer) -> Result<Document, Error> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| Error::DiscoveryNotJson {
        url: url.to_owned(),
        detail: format!("invalid JSON at line {}, column {}", e.line(), e.column()),
    })?;
    let Value::Object(doc) = doc else {
        return Err(Error::DiscoveryNotJson {
            url: url.to_owned(),
            detail: "the JSON value is not an object".to_owned(),
        });
    };
    let found_issuer = member(&doc, url, "issuer")?;
    if found_issuer != issuer.as_str() {
        return Err(Error::IssuerMismatch {
            url: url.to_owned(),
            expected: issuer.as_str().to_owned(),
            found: shown(found_issuer),
        });
    }
    Ok(doc)
}

/// A required string member of a discovery document.
fn member<'d>(doc: &'d Document, url: &str, name: &'static str) -> Result<&'d str, Error> {
    match doc.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(Error::DiscoveryMissingMember {
            url: url.to_owned(),
            member: name,
        }),
    }
}

/// The document's `jwks_uri`, checked (https or loopback, and never a downgrade from https).
fn jwks_uri(doc: &Document, url: &str, issuer: &Issuer) -> Result<Endpoint, Error> {
    let jwks_uri = Endpoint::parse(member(doc, url, "jwks_uri")?, UrlRole::DiscoveredJwksUri)?;
    issuer
        .endpoint()
        .keep_tls(jwks_uri, UrlRole::DiscoveredJwksUri)
}

/// An optional endpoint member (`token_endpoint`, ...): absent is `None`; present, it must be
/// a string that passes the URL rules and keeps https when the issuer has it.
pub(crate) fn optional_endpoint(
    doc: &Document,
    url: &str,
    issuer: &Issuer,
    name: &'static str,
) -> Result<Option<String>, Error> {
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let endpoint = Endpoint::parse(s, UrlRole::OAuthEndpoint)?;
            let endpoint = issuer
                .endpoint()
                .keep_tls(endpoint, UrlRole::OAuthEndpoint)?;
            Ok(Some(endpoint.as_str().to_owned()))
        }
        Some(_) => Err(Error::DiscoveryMissingMember {
            url: url.to_owned(),
            member: name,
        }),
    }
}

/// An optional list of strings (`grant_types_supported`, ...); non-string entries are an
/// error, as a provider that writes them is not read by guesswork.
pub(crate) fn optional_list(
    doc: &Document,
    url: &str,
    name: &'static str,
) -> Result<Option<Vec<String>>, Error> {
    let bad = || Error::DiscoveryMissingMember {
        url: url.to_owned(),
        member: name,
    };
    match doc.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_checks() {
        let issuer = Issuer::parse("https://idp.example.com/").unwrap();
        let read = |body: &str| {
            read_document(body.as_bytes(), "https://d/", &issuer)
                .and_then(|doc| jwks_uri(&doc, "https://d/", &issuer))
        };
        let ok = read(
            r#"{"issuer":"https://idp.example.com/","jwks_uri":"https://idp.example.com/keys"}"#,
        )
        .unwrap();
        assert_eq!(ok.as_str(), "https://idp.example.com/keys");
        assert!(matches!(
            read(r#"{"issuer":"https://idp.example.com","jwks_uri":"https://idp.example.com/k"}"#),
            Err(Error::IssuerMismatch { .. })
        ));
        assert!(matches!(
            read(r#"{"jwks_uri":"https://idp.example.com/k"}"#),
            Err(Error::DiscoveryMissingMember {
                member: "issuer",
                ..
            })
        ));
        assert!(matches!(
            read(r#"{"issuer":"https://idp.example.com/","jwks_uri":7}"#),
            Err(Error::DiscoveryMissingMember {
                member: "jwks_uri",
                ..
            })
        ));
        assert!(matches!(
            read(r#"{"issuer":"https://idp.example.com/","jwks_uri":"http://evil.example/k"}"#),
            Err(Error::InvalidUrl {
                role: UrlRole::DiscoveredJwksUri,
                ..
            })
        ));
        // An https issuer cannot send its keys to plain http, loopback included.
        assert!(matches!(
            read(r#"{"issuer":"https://idp.example.com/","jwks_uri":"http://127.0.0.1:8080/k"}"#),
            Err(Error::InvalidUrl {
                role: UrlRole::DiscoveredJwksUri,
                problem: crate::endpoint::UrlProblem::Downgrade,
                ..
            })
        ));
        assert!(matches!(read("[1]"), Err(Error::DiscoveryNotJson { .. })));
        assert!(matches!(
            read("<html>"),
            Err(Error::DiscoveryNotJson { .. })
        ));
    }
}
