//! [`ProtectedResource`]: the RFC 9728 protected-resource metadata an HTTP MCP server
//! publishes, and the `resource_metadata` its challenges point to.
//!
//! The MCP authorization specification asks an HTTP server to answer 401 with
//! `WWW-Authenticate: Bearer resource_metadata="<url>"` and to serve, at that URL, a JSON
//! document naming its authorization servers; clients then discover the identity provider
//! from it. This module builds both; serving them is the transport's job.

use m4_auth_config::{AuthConfig, EndpointUrl};
use serde_json::{Value, json};

use crate::error::{AuthError, printable};

/// The well-known path suffix of RFC 9728 §3.
pub const WELL_KNOWN_SUFFIX: &str = "/.well-known/oauth-protected-resource";

/// An OAuth 2.0 protected resource (RFC 9728): the metadata document and the values challenges
/// need.
///
/// ```
/// use m4_auth::ProtectedResource;
///
/// let resource = ProtectedResource::new("https://mcp.example.com/mcp")?
///     .with_authorization_server("https://idp.example.com/")
///     .with_scopes_supported(["read:mimic-data"]);
/// assert_eq!(
///     resource.metadata_url(),
///     "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// assert_eq!(
///     resource.metadata(),
///     serde_json::json!({
///         "resource": "https://mcp.example.com/mcp",
///         "authorization_servers": ["https://idp.example.com/"],
///         "scopes_supported": ["read:mimic-data"],
///         "bearer_methods_supported": ["header"],
///     })
/// );
/// # Ok::<(), m4_auth::AuthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    resource: String,
    metadata_url: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    realm: Option<String>,
    resource_name: Option<String>,
}

impl ProtectedResource {
    /// A resource identified by `resource`, an absolute `https` URL (`http` only for loopback
    /// hosts) without user information or fragment, kept exactly as given.
    ///
    /// The metadata URL is derived as RFC 9728 §3.1 says: the well-known suffix goes between
    /// the host and the path, and a path of `/` is dropped.
    ///
    /// ```
    /// use m4_auth::ProtectedResource;
    ///
    /// let root = ProtectedResource::new("https://mcp.example.com/")?;
    /// assert_eq!(root.metadata_url(), "https://mcp.example.com/.well-known/oauth-protected-resource");
    /// let local = ProtectedResource::new("http://127.0.0.1:8080/mcp?tenant=a")?;
    /// assert_eq!(
    ///     local.metadata_url(),
    ///     "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp?tenant=a"
    /// );
    /// let err = ProtectedResource::new("http://mcp.example.com/").unwrap_err();
    /// assert_eq!(err.code(), "configuration_error");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    ///
    /// # Errors
    /// [`AuthError::InvalidResourceUrl`] with the reason the URL was refused.
    pub fn new(resource: &str) -> Result<Self, AuthError> {
        let url = EndpointUrl::parse(resource).map_err(|reason| AuthError::InvalidResourceUrl {
            url: printable(resource),
            reason,
        })?;
        let scheme = if url.is_https() { "https" } else { "http" };
        let mut metadata_url = format!("{scheme}://{}", url.host());
        if let Some(port) = url.port() {
            metadata_url.push_str(&format!(":{port}"));
        }
        metadata_url.push_str(WELL_KNOWN_SUFFIX);
        if url.path() != "/" {
            metadata_url.push_str(url.path());
        }
        if let Some(query) = url.query() {
            metadata_url.push('?');
            metadata_url.push_str(query);
        }
        Ok(Self {
            resource: resource.to_owned(),
            metadata_url,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            realm: None,
            resource_name: None,
        })
    }

    /// A resource whose authorization server is the configured issuer and whose supported
    /// scopes are the configured required scopes (`M4_OAUTH2_REQUIRED_SCOPES`).
    ///
    /// ```
    /// use m4_auth::{AuthConfig, ProtectedResource};
    ///
    /// let config = AuthConfig::from_vars([
    ///     ("M4_OAUTH2_ENABLED", "true"),
    ///     ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
    ///     ("M4_OAUTH2_AUDIENCE", "https://mcp.example.com/mcp"),
    /// ])?
    /// .config;
    /// let resource = ProtectedResource::from_config(&config, "https://mcp.example.com/mcp")?;
    /// assert_eq!(resource.metadata()["authorization_servers"][0], "https://idp.example.com/");
    /// assert_eq!(resource.metadata()["scopes_supported"][0], "read:mimic-data");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`ProtectedResource::new`].
    pub fn from_config(config: &AuthConfig, resource: &str) -> Result<Self, AuthError> {
        let mut this = Self::new(resource)?;
        if let Some(issuer) = config.issuer() {
            this = this.with_authorization_server(issuer.as_str());
        }
        Ok(this.with_scopes_supported(config.required_scopes().iter().cloned()))
    }

    /// Adds an authorization server (an OAuth issuer identifier) to `authorization_servers`.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/")?
    ///     .with_authorization_server("https://a.example/")
    ///     .with_authorization_server("https://a.example/");
    /// assert_eq!(r.metadata()["authorization_servers"].as_array().map(Vec::len), Some(1));
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// Replaces `scopes_supported`.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/")?
    ///     .with_scopes_supported(["read:mimic-data", "write:notes"]);
    /// assert_eq!(r.metadata()["scopes_supported"][1], "write:notes");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn with_scopes_supported<S: Into<String>>(
        mut self,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the `realm` of challenges (RFC 6750 §3); none by default.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/")?.with_realm("m4");
    /// assert_eq!(r.realm(), Some("m4"));
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Sets `resource_name`, the human-readable name in the metadata.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/")?
    ///     .with_resource_name("M4 MIMIC-IV");
    /// assert_eq!(r.metadata()["resource_name"], "M4 MIMIC-IV");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The resource identifier, as given.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/mcp")?;
    /// assert_eq!(r.resource(), "https://mcp.example.com/mcp");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The URL the metadata document is served at, also the `resource_metadata` of challenges.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com:8443/v1/mcp")?;
    /// assert_eq!(
    ///     r.metadata_url(),
    ///     "https://mcp.example.com:8443/.well-known/oauth-protected-resource/v1/mcp"
    /// );
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The path part of [`metadata_url`](Self::metadata_url), for a router.
    ///
    /// ```
    /// let r = m4_auth::ProtectedResource::new("https://mcp.example.com/mcp")?;
    /// assert_eq!(r.metadata_path(), "/.well-known/oauth-protected-resource/mcp");
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn metadata_path(&self) -> &str {
        self.metadata_url
            .find(WELL_KNOWN_SUFFIX)
            .and_then(|start| self.metadata_url.get(start..))
            .map(|rest| rest.split('?').next().unwrap_or(rest))
            .unwrap_or(WELL_KNOWN_SUFFIX)
    }

    /// The realm of challenges, if set.
    ///
    /// ```
    /// assert_eq!(m4_auth::ProtectedResource::new("https://mcp.example.com/")?.realm(), None);
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The RFC 9728 metadata document: `resource`, `authorization_servers` (when any),
    /// `scopes_supported` (when any), `bearer_methods_supported: ["header"]` (tokens are
    /// accepted only in the `Authorization` header) and `resource_name` (when set).
    ///
    /// ```
    /// let doc = m4_auth::ProtectedResource::new("https://mcp.example.com/")?.metadata();
    /// assert_eq!(doc["bearer_methods_supported"], serde_json::json!(["header"]));
    /// assert!(doc.get("authorization_servers").is_none());
    /// # Ok::<(), m4_auth::AuthError>(())
    /// ```
    pub fn metadata(&self) -> Value {
        let mut doc = serde_json::Map::new();
        doc.insert("resource".into(), json!(self.resource));
        if !self.authorization_servers.is_empty() {
            doc.insert(
                "authorization_servers".into(),
                json!(self.authorization_servers),
            );
        }
        if !self.scopes_supported.is_empty() {
            doc.insert("scopes_supported".into(), json!(self.scopes_supported));
        }
        doc.insert("bearer_methods_supported".into(), json!(["header"]));
        if let Some(name) = &self.resource_name {
            doc.insert("resource_name".into(), json!(name));
        }
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(resource: &str, metadata_url: &str) {
        let r = ProtectedResource::new(resource).unwrap();
        assert_eq!(r.metadata_url(), metadata_url, "{resource}");
        assert!(r.metadata_url().contains(r.metadata_path()));
    }

    #[test]
    fn metadata_urls() {
        check(
            "https://a.example",
            "https://a.example/.well-known/oauth-protected-resource",
        );
        check(
            "https://a.example/",
            "https://a.example/.well-known/oauth-protected-resource",
        );
        check(
            "https://a.example/mcp/",
            "https://a.example/.well-known/oauth-protected-resource/mcp/",
        );
        check(
            "http://[::1]:9/x",
            "http://[::1]:9/.well-known/oauth-protected-resource/x",
        );
        check(
            "https://a.example?x=1",
            "https://a.example/.well-known/oauth-protected-resource?x=1",
        );
    }

    #[test]
    fn refused_urls() {
        for bad in [
            "mcp.example.com",
            "http://mcp.example.com/",
            "https://user@mcp.example.com/",
            "https://mcp.example.com/#frag",
            "",
        ] {
            let err = ProtectedResource::new(bad).unwrap_err();
            assert!(
                matches!(err, AuthError::InvalidResourceUrl { .. }),
                "{bad}: {err}"
            );
        }
    }
}
