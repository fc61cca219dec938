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

use serde_json::Value;

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
    for url in [
        issuer.openid_configuration_url(),
        issuer.oauth_authorization_server_url(),
    ] {
        let endpoint = Endpoint::parse(&url, UrlRole::Issuer)?;
        match transport.get(&endpoint) {
            Ok(body) => return read_document(&body, endpoint.as_str(), issuer),
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        }
    }
    let fallback = Endpoint::parse(&issuer.jwks_json_url(), UrlRole::Issuer)?;
    Ok((fallback, Found::Fallback))
}

/// The error for "the `jwks.json` fallback was 404 too".
pub(crate) fn nothing_found(issuer: &Issuer) -> Error {
    Error::NothingDiscovered {
        oidc: issuer.openid_configuration_url(),
        oauth: issuer.oauth_authorization_server_url(),
        fallback: issuer.jwks_json_url(),
    }
}

/// Checks a discovery document (OIDC or RFC 8414: both carry `issuer` and `jwks_uri`).
fn read_document(body: &[u8], url: &str, issuer: &Issuer) -> Result<(Endpoint, Found), Error> {
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
    let member = |name: &'static str| match doc.get(name) {
        Some(Value::String(s)) => Ok(s.as_str()),
        _ => Err(Error::DiscoveryMissingMember {
            url: url.to_owned(),
            member: name,
        }),
    };
    let found_issuer = member("issuer")?;
    if found_issuer != issuer.as_str() {
        return Err(Error::IssuerMismatch {
            url: url.to_owned(),
            expected: issuer.as_str().to_owned(),
            found: shown(found_issuer),
        });
    }
    let jwks_uri = Endpoint::parse(member("jwks_uri")?, UrlRole::DiscoveredJwksUri)?;
    let jwks_uri = issuer
        .endpoint()
        .keep_tls(jwks_uri, UrlRole::DiscoveredJwksUri)?;
    Ok((jwks_uri, Found::Document))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_checks() {
        let issuer = Issuer::parse("https://idp.example.com/").unwrap();
        let read = |body: &str| read_document(body.as_bytes(), "https://d/", &issuer);
        let ok = read(
            r#"{"issuer":"https://idp.example.com/","jwks_uri":"https://idp.example.com/keys"}"#,
        )
        .unwrap();
        assert_eq!(ok.0.as_str(), "https://idp.example.com/keys");
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
