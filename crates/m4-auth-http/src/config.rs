//! [`McpAuth`]: one authenticator, one protected resource, the per-tool scopes and the body
//! limit; the layer and the metadata service are made from it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use m4_auth::{Authenticator, ProtectedResource, WELL_KNOWN_SUFFIX};

use crate::error::Error;
use crate::layer::AuthLayer;
use crate::metadata::MetadataService;

/// The default request body limit: 1 MiB. A `tools/call` with a long SQL query is a few KiB;
/// the limit only bounds what one request may make the server buffer.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// The `resource_name` in the metadata unless the builder sets another.
const DEFAULT_RESOURCE_NAME: &str = "M4 MCP server";

/// An HTTP MCP endpoint's authentication: build it once, then mount
/// [`layer`](Self::layer) in front of the MCP service and
/// [`metadata_service`](Self::metadata_service) at both [`metadata_paths`](Self::metadata_paths).
///
/// Cheap to clone (one `Arc`).
///
/// ```
/// use std::sync::Arc;
/// use m4_auth::{AuthConfig, Authenticator};
/// use m4_auth_http::McpAuth;
///
/// let auth = Arc::new(Authenticator::new(AuthConfig::default())?);
/// let gate = McpAuth::builder(auth)
///     .resource_url("https://m4.example.org/mcp")
///     .tool_scopes("execute_query", ["write:cohorts"])
///     .build()?;
/// assert_eq!(
///     gate.metadata_paths(),
///     [
///         "/.well-known/oauth-protected-resource/mcp".to_owned(),
///         "/.well-known/oauth-protected-resource".to_owned(),
///     ]
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct McpAuth {
    pub(crate) shared: Arc<Shared>,
}

/// What the layer and the metadata service share.
pub(crate) struct Shared {
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) resource: ProtectedResource,
    /// The metadata document, serialized once.
    pub(crate) metadata: Bytes,
    /// Tool name -> the scopes it needs on top of the configured ones.
    pub(crate) tool_scopes: BTreeMap<String, Vec<String>>,
    /// The configured required scopes (what every operation needs).
    pub(crate) required: Vec<String>,
    pub(crate) max_body_bytes: usize,
}

impl Shared {
    /// Every scope a `tools/call` of `tool` needs (configured first, then the tool's own, no
    /// duplicates); the configured ones for anything else.
    pub(crate) fn scopes_for(&self, tool: Option<&str>) -> Vec<String> {
        let mut scopes = self.required.clone();
        if let Some(extra) = tool.and_then(|t| self.tool_scopes.get(t)) {
            for scope in extra {
                if !scopes.contains(scope) {
                    scopes.push(scope.clone());
                }
            }
        }
        scopes
    }
}

impl fmt::Debug for McpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpAuth")
            .field("resource", &self.shared.resource.resource())
            .field("tool_scopes", &self.shared.tool_scopes)
            .field("max_body_bytes", &self.shared.max_body_bytes)
            .field("auth", &self.shared.auth)
            .finish()
    }
}

impl McpAuth {
    /// The gate for `auth`, with the resource URL from the configuration's
    /// `M4_OAUTH2_RESOURCE_URL`, no per-tool scopes and the default body limit.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use m4_auth::{AuthConfig, Authenticator};
    ///
    /// let config = AuthConfig::from_vars([("M4_OAUTH2_RESOURCE_URL", "https://m4.example.org/mcp")])?.config;
    /// let gate = m4_auth_http::McpAuth::new(Arc::new(Authenticator::new(config)?))?;
    /// assert_eq!(gate.resource().resource(), "https://m4.example.org/mcp");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingResourceUrl`] when the variable is unset.
    pub fn new(auth: Arc<Authenticator>) -> Result<Self, Error> {
        Self::builder(auth).build()
    }

    /// A builder, to set the resource URL, per-tool scopes, the body limit or the resource
    /// name.
    pub fn builder(auth: Arc<Authenticator>) -> McpAuthBuilder {
        McpAuthBuilder {
            auth,
            resource_url: None,
            resource_name: None,
            tool_scopes: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The tower [`Layer`](tower_layer::Layer) to wrap the MCP endpoint's service with.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer {
            shared: self.shared.clone(),
        }
    }

    /// The tower service answering the RFC 9728 metadata document (GET, HEAD; OPTIONS for
    /// CORS preflight); mount it at both [`metadata_paths`](Self::metadata_paths).
    pub fn metadata_service(&self) -> MetadataService {
        MetadataService {
            shared: self.shared.clone(),
        }
    }

    /// Where clients look for the metadata: the path-inserted well-known path (RFC 9728 §3.1,
    /// `/.well-known/oauth-protected-resource/mcp` for an endpoint at `/mcp`), then the root
    /// one (`/.well-known/oauth-protected-resource`). Both are the same when the endpoint is
    /// at `/`.
    pub fn metadata_paths(&self) -> [String; 2] {
        [
            self.shared.resource.metadata_path().to_owned(),
            WELL_KNOWN_SUFFIX.to_owned(),
        ]
    }

    /// The protected resource: the `resource` URL, the metadata URL and document.
    pub fn resource(&self) -> &ProtectedResource {
        &self.shared.resource
    }

    /// The authenticator the gate uses.
    pub fn authenticator(&self) -> &Arc<Authenticator> {
        &self.shared.auth
    }
}

/// Builds an [`McpAuth`]; from [`McpAuth::builder`].
#[must_use]
#[derive(Debug)]
pub struct McpAuthBuilder {
    auth: Arc<Authenticator>,
    resource_url: Option<String>,
    resource_name: Option<String>,
    tool_scopes: Vec<(String, Vec<String>)>,
    max_body_bytes: usize,
}

impl McpAuthBuilder {
    /// The public URL of the MCP endpoint as clients reach it (instead of
    /// `M4_OAUTH2_RESOURCE_URL`): https, or http on a loopback host.
    pub fn resource_url(mut self, url: &str) -> Self {
        self.resource_url = Some(url.to_owned());
        self
    }

    /// The metadata's `resource_name` (default `M4 MCP server`).
    pub fn resource_name(mut self, name: &str) -> Self {
        self.resource_name = Some(name.to_owned());
        self
    }

    /// Scopes a `tools/call` of `tool` needs on top of `M4_OAUTH2_REQUIRED_SCOPES`. Calling it
    /// again for the same tool adds to its scopes.
    pub fn tool_scopes<S: Into<String>>(
        mut self,
        tool: &str,
        scopes: impl IntoIterator<Item = S>,
    ) -> Self {
        self.tool_scopes.push((
            tool.to_owned(),
            scopes.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// The largest request body accepted, in bytes (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Checks everything and builds the gate.
    ///
    /// # Errors
    /// [`Error::MissingResourceUrl`], [`Error::ResourceUrl`], [`Error::InvalidToolScope`],
    /// [`Error::EmptyToolName`] or [`Error::ZeroBodyLimit`].
    pub fn build(self) -> Result<McpAuth, Error> {
        let url = match &self.resource_url {
            Some(url) => url.clone(),
            None => self
                .auth
                .config()
                .resource_url()
                .map(|u| u.as_str().to_owned())
                .ok_or(Error::MissingResourceUrl)?,
        };
        let resource = self
            .auth
            .protected_resource(&url)
            .map_err(Error::ResourceUrl)?
            .with_resource_name(
                self.resource_name
                    .as_deref()
                    .unwrap_or(DEFAULT_RESOURCE_NAME),
            );
        if self.max_body_bytes == 0 {
            return Err(Error::ZeroBodyLimit {
                default: DEFAULT_MAX_BODY_BYTES,
            });
        }
        let mut tool_scopes: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tool, scopes) in self.tool_scopes {
            if tool.is_empty() {
                return Err(Error::EmptyToolName);
            }
            for scope in scopes {
                if !valid_scope(&scope) {
                    return Err(Error::InvalidToolScope {
                        tool: tool.escape_debug().to_string(),
                        scope: scope.escape_debug().to_string(),
                    });
                }
                let entry = tool_scopes.entry(tool.clone()).or_default();
                if !entry.contains(&scope) {
                    entry.push(scope);
                }
            }
        }
        let required = self.auth.config().required_scopes().to_vec();
        // Every scope an operation may need; never offline_access (MCP authorization: refresh
        // tokens are not a resource requirement).
        let mut supported: Vec<String> = Vec::new();
        for scope in required.iter().chain(tool_scopes.values().flatten()) {
            if scope != "offline_access" && !supported.contains(scope) {
                supported.push(scope.clone());
            }
        }
        let resource = resource.with_scopes_supported(supported);
        let metadata = Bytes::from(resource.metadata().to_string());
        Ok(McpAuth {
            shared: Arc::new(Shared {
                auth: self.auth,
                resource,
                metadata,
                tool_scopes,
                required,
                max_body_bytes: self.max_body_bytes,
            }),
        })
    }
}

/// RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn valid_scope(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}
