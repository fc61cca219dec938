#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod error;
mod form;
mod keys;
mod oauth;
mod server;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value, json};

pub use error::Error;
use keys::SigningKey;

pub use client::{
    DeviceDecision, MintedToken, decide_device_remote, is_loopback_http_url, mint_remote,
    rotate_remote,
};
pub use oauth::{DEVICE_CODE_GRANT, GRANT_TYPES, SLOW_DOWN_STEP};
pub use server::MAX_BODY_BYTES;

/// The audience tokens carry unless a [`MintRequest`] says otherwise.
pub const DEFAULT_AUDIENCE: &str = "m4-api";

/// The scope tokens carry unless a [`MintRequest`] says otherwise (M4's default requirement).
pub const DEFAULT_SCOPE: &str = "read:mimic-data";

/// The port `m4-auth dev-issuer serve` listens on, and `mint` talks to, when none is given.
pub const DEFAULT_PORT: u16 = 8414;

/// The id of the default confidential client (client credentials grant).
pub const DEFAULT_CONFIDENTIAL_CLIENT_ID: &str = "m4-dev-service";

/// The secret of the default confidential client.
///
/// A published constant on purpose: the dev issuer authenticates no one anyway (any local
/// process can mint any token over `POST /mint`), so this secret protects nothing, and
/// `m4-auth dev-issuer serve` prints it so a person can try the client credentials grant.
/// Pass your own in [`DevIssuerOptions::clients`] to test secrets that are not printed.
pub const DEFAULT_CLIENT_SECRET: &str = "m4-dev-secret-not-for-production";

/// The id of the default public client (device login, no secret).
pub const DEFAULT_PUBLIC_CLIENT_ID: &str = "m4-dev-cli";

/// The `sub` of tokens obtained through an approved device login, unless set otherwise.
pub const DEFAULT_DEVICE_SUBJECT: &str = "dev-user";

/// The default [`DevIssuerOptions::max_device_logins`]: far more than any test or person starts
/// within a device code's lifetime, few enough that a loop of requests cannot grow memory
/// without bound.
pub const DEFAULT_MAX_DEVICE_LOGINS: usize = 1000;

/// The default [`DevIssuerOptions::max_refresh_tokens`] (each refresh rotates, so a login holds
/// one refresh token per refresh until they expire, or until the oldest are forgotten at the
/// limit).
pub const DEFAULT_MAX_REFRESH_TOKENS: usize = 10_000;

/// The smallest [`DevIssuerOptions::max_device_logins`] [`DevIssuer::start`] accepts: with 0,
/// every device login would be refused.
pub const MIN_DEVICE_LOGINS: usize = 1;

/// The smallest [`DevIssuerOptions::max_refresh_tokens`] [`DevIssuer::start`] accepts: with 0,
/// every device-code exchange would be refused; with 1, a login and its refreshes work, but
/// the token a refresh rotates away would be forgotten at once (the new one takes its only
/// slot), so presenting it again would never be caught as a reuse. With 2, a login's most
/// recently rotated-away token is kept, and its reuse revokes the login.
pub const MIN_REFRESH_TOKENS: usize = 2;

/// How many distinct paths that are not the issuer's own [`DevIssuer::served`] counts one by
/// one; requests for further unknown paths are counted together under [`OTHER_PATHS`], so a
/// loop of requests for ever new paths cannot grow the counts without bound.
pub const MAX_COUNTED_PATHS: usize = 64;

/// The name under which [`DevIssuer::served`] counts requests for unknown paths beyond the first
/// [`MAX_COUNTED_PATHS`] (it holds a space, so no request path is spelled like it).
pub const OTHER_PATHS: &str = "(other paths)";

/// A signing algorithm the dev issuer has keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA-2048 keys.
    #[default]
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
}

impl SigningAlg {
    /// Both algorithms, in the order the JWKS lists them.
    pub const ALL: [SigningAlg; 2] = [SigningAlg::Rs256, SigningAlg::Es256];

    /// The JOSE name: `RS256` or `ES256`.
    ///
    /// ```
    /// use m4_dev_issuer::SigningAlg;
    /// assert_eq!(SigningAlg::Es256.as_str(), "ES256");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
        }
    }

    fn jose(self) -> Algorithm {
        match self {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Es256 => Algorithm::ES256,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SigningAlg {
    type Err = Error;

    /// Parses `RS256` or `ES256` (case-insensitive).
    ///
    /// ```
    /// use m4_dev_issuer::SigningAlg;
    /// assert_eq!("es256".parse::<SigningAlg>()?, SigningAlg::Es256);
    /// assert!("HS256".parse::<SigningAlg>().is_err());
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Self, Error> {
        SigningAlg::ALL
            .into_iter()
            .find(|alg| alg.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::UnsupportedAlgorithm {
                alg: form::shown(s),
            })
    }
}

/// Where the dev issuer gets the current time from (for `iat`, `nbf` and `exp`).
///
/// Tests pass a fixed clock; everything else uses [`SystemClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;

    /// Milliseconds since the Unix epoch: device-code lifetimes and polling intervals, and
    /// refresh-token expiry, are measured with it. The default is [`now_unix`](Clock::now_unix)
    /// times 1000, so a clock that only counts seconds still works.
    fn now_millis(&self) -> i64 {
        self.now_unix().saturating_mul(1000)
    }
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_unix(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn now_millis(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// How a client proves who it is at the token endpoint (RFC 6749 §2.3, the names of
/// RFC 8414's `token_endpoint_auth_methods_supported`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: `Authorization: Basic base64(id:secret)`.
    ClientSecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// `none`: a public client sends only `client_id`.
    None,
}

impl ClientAuthMethod {
    /// All three, in the order discovery lists them by default.
    pub const ALL: [ClientAuthMethod; 3] = [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
        ClientAuthMethod::None,
    ];

    /// The registered name.
    ///
    /// ```
    /// use m4_dev_issuer::ClientAuthMethod;
    /// assert_eq!(ClientAuthMethod::ClientSecretPost.as_str(), "client_secret_post");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ClientAuthMethod::ClientSecretBasic => "client_secret_basic",
            ClientAuthMethod::ClientSecretPost => "client_secret_post",
            ClientAuthMethod::None => "none",
        }
    }
}

/// A client registered at the dev issuer: confidential (with a secret) or public.
#[derive(Clone, PartialEq, Eq)]
pub struct DevClient {
    /// The `client_id`.
    pub id: String,
    /// The secret of a confidential client; `None` for a public client.
    pub secret: Option<String>,
}

impl DevClient {
    /// A confidential client (client credentials grant, device login with its secret).
    ///
    /// ```
    /// let client = m4_dev_issuer::DevClient::confidential("svc", "s3cr3t");
    /// assert!(!format!("{client:?}").contains("s3cr3t"));
    /// ```
    pub fn confidential(id: impl Into<String>, secret: impl Into<String>) -> Self {
        DevClient {
            id: id.into(),
            secret: Some(secret.into()),
        }
    }

    /// A public client: no secret, so no client credentials grant (device login only).
    pub fn public(id: impl Into<String>) -> Self {
        DevClient {
            id: id.into(),
            secret: None,
        }
    }
}

impl fmt::Debug for DevClient {
    // Never show the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevClient")
            .field("id", &self.id)
            .field("confidential", &self.secret.is_some())
            .finish()
    }
}

/// One request the dev issuer answered, as given to [`DevIssuerOptions::on_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLog {
    /// The HTTP method.
    pub method: String,
    /// The path, without the query string.
    pub path: String,
    /// The status answered.
    pub status: u16,
}

/// A callback that sees each answered request ([`DevIssuerOptions::on_request`]).
pub type RequestObserver = Arc<dyn Fn(&RequestLog) + Send + Sync>;

/// How [`DevIssuer::start`] sets up the issuer.
#[derive(Clone)]
pub struct DevIssuerOptions {
    /// The address to listen on; must be a loopback address (`127.0.0.0/8` or `::1`).
    pub host: IpAddr,
    /// The port; 0 picks a free ephemeral port (read it back from [`DevIssuer::issuer_url`]).
    pub port: u16,
    /// The `aud` of minted tokens when a request names none.
    pub audience: String,
    /// The time source for `iat`, `nbf` and `exp`.
    pub clock: Arc<dyn Clock>,
    /// Called on the server thread after each answered request (`serve` logs them).
    pub on_request: Option<RequestObserver>,
    /// The registered clients. Default: the confidential [`DEFAULT_CONFIDENTIAL_CLIENT_ID`]
    /// with [`DEFAULT_CLIENT_SECRET`], and the public [`DEFAULT_PUBLIC_CLIENT_ID`].
    pub clients: Vec<DevClient>,
    /// The client authentication methods advertised in discovery and accepted; a request
    /// authenticated another way gets `invalid_client` (401). Default: all three.
    pub auth_methods: Vec<ClientAuthMethod>,
    /// The scopes advertised (`scopes_supported`) and the only ones granted; a request for
    /// another gets `invalid_scope`. A request naming no scope gets all of them but
    /// `offline_access`. Default: [`DEFAULT_SCOPE`] and `offline_access`.
    pub scopes: Vec<String>,
    /// Lifetime of access tokens from the token endpoint (whole seconds; `expires_in`).
    /// Default one hour.
    pub access_token_ttl: Duration,
    /// Lifetime of each refresh token (a rotated one gets a fresh lifetime). Default 30 days.
    pub refresh_token_ttl: Duration,
    /// Lifetime of device codes (RFC 8628 `expires_in`, rounded up to whole seconds in the
    /// answer, measured in milliseconds on [`clock`](DevIssuerOptions::clock)). Default 10
    /// minutes.
    pub device_code_ttl: Duration,
    /// The minimum time between polls of one device code (RFC 8628 `interval`). Millisecond
    /// granularity, and zero is allowed, so tests need not wait: the answer states it rounded
    /// up to whole seconds (a client that honours it is never too fast), while polls are
    /// checked against the exact value; a faster poll gets `slow_down` and raises it by
    /// 5 s. Default 5 seconds.
    pub device_interval: Duration,
    /// How many polls of each device login get `slow_down` whatever their timing, as a
    /// provider under load may answer (RFC 8628 §3.5). Each raises the required interval by
    /// 5 s like a natural one, so a client that does not slow down keeps getting `slow_down`.
    /// Default 0.
    pub device_forced_slow_downs: u32,
    /// The `sub` of tokens from an approved device login. Default [`DEFAULT_DEVICE_SUBJECT`].
    pub device_subject: String,
    /// The most device logins held at once (pending, decided or exchanged, until they expire).
    /// When it is reached, expired ones are forgotten; if none has expired, a new
    /// `POST /device_authorization` is refused with `temporarily_unavailable` (HTTP 503).
    /// Default [`DEFAULT_MAX_DEVICE_LOGINS`]; at least [`MIN_DEVICE_LOGINS`] (1), else
    /// [`DevIssuer::start`] refuses with [`Error::LimitTooSmall`].
    pub max_device_logins: usize,
    /// The most refresh tokens held at once (live, rotated away, revoked, until they expire).
    /// When it is reached, expired ones and those of revoked logins are forgotten; if that
    /// frees nothing, the token rotated away longest ago is forgotten (its reuse then reads as an unknown
    /// token instead of revoking its login). So a refresh is never refused for the limit; when
    /// every token held is the current one of a live login, a grant that would add a login is
    /// refused with `temporarily_unavailable` (HTTP 503) and spends nothing.
    /// Default [`DEFAULT_MAX_REFRESH_TOKENS`]; at least [`MIN_REFRESH_TOKENS`] (2, so reuse
    /// detection works), else [`DevIssuer::start`] refuses with [`Error::LimitTooSmall`].
    pub max_refresh_tokens: usize,
}

impl fmt::Debug for DevIssuerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuerOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("audience", &self.audience)
            .field("clock", &self.clock)
            .field("on_request", &self.on_request.as_ref().map(|_| "Fn"))
            .field("clients", &self.clients)
            .field("auth_methods", &self.auth_methods)
            .field("scopes", &self.scopes)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("device_code_ttl", &self.device_code_ttl)
            .field("device_interval", &self.device_interval)
            .field("device_forced_slow_downs", &self.device_forced_slow_downs)
            .field("device_subject", &self.device_subject)
            .field("max_device_logins", &self.max_device_logins)
            .field("max_refresh_tokens", &self.max_refresh_tokens)
            .finish()
    }
}

impl Default for DevIssuerOptions {
    /// `127.0.0.1`, an ephemeral port, audience [`DEFAULT_AUDIENCE`], the system clock, the
    /// two default clients, every auth method, and the lifetimes documented on each field.
    fn default() -> Self {
        DevIssuerOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            audience: DEFAULT_AUDIENCE.to_owned(),
            clock: Arc::new(SystemClock),
            on_request: None,
            clients: vec![
                DevClient::confidential(DEFAULT_CONFIDENTIAL_CLIENT_ID, DEFAULT_CLIENT_SECRET),
                DevClient::public(DEFAULT_PUBLIC_CLIENT_ID),
            ],
            auth_methods: ClientAuthMethod::ALL.to_vec(),
            scopes: vec![DEFAULT_SCOPE.to_owned(), "offline_access".to_owned()],
            access_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            device_code_ttl: Duration::from_secs(600),
            device_interval: Duration::from_secs(5),
            device_forced_slow_downs: 0,
            device_subject: DEFAULT_DEVICE_SUBJECT.to_owned(),
            max_device_logins: DEFAULT_MAX_DEVICE_LOGINS,
            max_refresh_tokens: DEFAULT_MAX_REFRESH_TOKENS,
        }
    }
}

/// Which `kid` goes into a minted token's header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum KidOverride {
    /// The kid of the key that signs the token.
    #[default]
    Signing,
    /// This kid instead (for unknown-kid tests); the token is still signed by the current key.
    Named(String),
    /// No `kid` header at all (for missing-kid tests).
    Omitted,
}

/// What to put in a token minted by [`DevIssuer::mint`].
///
/// Claims: `iss`, `sub`, `aud`, `iat`, `exp`, `scope` (space-separated), `jti`, `nbf` when
/// [`not_before`](MintRequest::not_before) is set, then every member of
/// [`extra`](MintRequest::extra), which overrides the former; a `null` extra removes the claim.
#[derive(Debug, Clone, PartialEq)]
pub struct MintRequest {
    /// The `sub` claim.
    pub sub: String,
    /// The scopes, joined with spaces into the `scope` claim.
    pub scopes: Vec<String>,
    /// Seconds from now to `exp`; zero or negative mints an already-expired token.
    pub ttl: i64,
    /// The signing algorithm.
    pub alg: SigningAlg,
    /// The `aud` claim; `None` uses the issuer's audience.
    pub audience: Option<String>,
    /// The `iss` claim; `None` uses the issuer URL.
    pub issuer: Option<String>,
    /// Seconds from now to `nbf`; `None` leaves `nbf` out.
    pub not_before: Option<i64>,
    /// The header's `kid`.
    pub kid: KidOverride,
    /// More claims, applied last: they override the ones above, and `null` removes a claim.
    pub extra: Map<String, Value>,
}

impl Default for MintRequest {
    /// `sub` "dev-user", scope [`DEFAULT_SCOPE`], one hour, RS256, the issuer's audience and URL.
    fn default() -> Self {
        MintRequest {
            sub: "dev-user".to_owned(),
            scopes: vec![DEFAULT_SCOPE.to_owned()],
            ttl: 3600,
            alg: SigningAlg::Rs256,
            audience: None,
            issuer: None,
            not_before: None,
            kid: KidOverride::Signing,
            extra: Map::new(),
        }
    }
}

/// What happens to the previous keys on [`DevIssuer::rotate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldKeys {
    /// Keep publishing them, so tokens they signed still verify (an overlapping rotation).
    Keep,
    /// Remove them from the JWKS at once (an emergency rotation).
    Remove,
}

/// The keys: the current one per algorithm first, then retired ones still published.
#[derive(Debug)]
struct KeySet {
    generation: u32,
    current: Vec<SigningKey>,
    retired: Vec<SigningKey>,
}

impl KeySet {
    fn generate(generation: u32) -> Result<Vec<SigningKey>, Error> {
        let tag = keys::random_hex(4)?;
        SigningAlg::ALL
            .into_iter()
            .map(|alg| {
                let kid = format!(
                    "dev-{}-{generation}-{tag}",
                    alg.as_str().to_ascii_lowercase()
                );
                SigningKey::generate(alg, kid)
            })
            .collect()
    }

    fn signing(&self, alg: SigningAlg) -> Result<&SigningKey, Error> {
        self.current
            .iter()
            .find(|k| k.alg == alg)
            .ok_or(Error::NoSigningKey { alg })
    }

    fn jwks(&self) -> Value {
        let keys: Vec<Value> = self
            .current
            .iter()
            .chain(&self.retired)
            .map(|k| k.jwk.clone())
            .collect();
        json!({ "keys": keys })
    }
}

/// State shared between the handle and the server thread.
struct Shared {
    issuer_url: String,
    /// The port it listens on: requests must name it in `Host` (DNS rebinding).
    port: u16,
    audience: String,
    clock: Arc<dyn Clock>,
    keys: RwLock<KeySet>,
    served: Mutex<HashMap<String, u64>>,
    on_request: Option<RequestObserver>,
    settings: oauth::Settings,
    oauth: Mutex<oauth::State>,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("issuer_url", &self.issuer_url)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn mint(&self, request: &MintRequest) -> Result<String, Error> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        let key = keys.signing(request.alg)?;
        let mut header = Header::new(request.alg.jose());
        header.kid = match &request.kid {
            KidOverride::Signing => Some(key.kid.clone()),
            KidOverride::Named(kid) => Some(kid.clone()),
            KidOverride::Omitted => None,
        };
        let now = self.clock.now_unix();
        let mut claims = Map::new();
        let iss = request
            .issuer
            .clone()
            .unwrap_or_else(|| self.issuer_url.clone());
        let aud = request
            .audience
            .clone()
            .unwrap_or_else(|| self.audience.clone());
        claims.insert("iss".into(), iss.into());
        claims.insert("sub".into(), request.sub.clone().into());
        claims.insert("aud".into(), aud.into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), now.saturating_add(request.ttl).into());
        if let Some(nbf) = request.not_before {
            claims.insert("nbf".into(), now.saturating_add(nbf).into());
        }
        claims.insert("scope".into(), request.scopes.join(" ").into());
        claims.insert("jti".into(), keys::random_hex(16)?.into());
        for (name, value) in &request.extra {
            if value.is_null() {
                claims.remove(name);
            } else {
                claims.insert(name.clone(), value.clone());
            }
        }
        jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|_| Error::Signing { alg: request.alg })
    }

    fn rotate(&self, old: OldKeys) -> Result<Vec<String>, Error> {
        // Generate outside the lock: RSA key generation takes a while.
        let generation = {
            let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
            keys.generation.saturating_add(1)
        };
        let fresh = KeySet::generate(generation)?;
        let kids = fresh.iter().map(|k| k.kid.clone()).collect();
        let mut keys = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let previous = std::mem::replace(&mut keys.current, fresh);
        keys.generation = generation;
        match old {
            OldKeys::Keep => {
                // Newest retired keys first, after the current ones.
                let older = std::mem::replace(&mut keys.retired, previous);
                keys.retired.extend(older);
            }
            OldKeys::Remove => keys.retired.clear(),
        }
        Ok(kids)
    }

    /// Counts a request for `path`: the issuer's own paths always by name, others by name
    /// while fewer than [`MAX_COUNTED_PATHS`] are, then together under [`OTHER_PATHS`].
    fn count(&self, path: &str) {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        let by_name = server::is_route(path)
            || served.contains_key(path)
            || served
                .keys()
                .filter(|p| !server::is_route(p) && *p != OTHER_PATHS)
                .count()
                < MAX_COUNTED_PATHS;
        let key = if by_name { path } else { OTHER_PATHS };
        *served.entry(key.to_owned()).or_insert(0) += 1;
    }
}

/// A running dev issuer. Cheap to share by reference across threads; stops on drop.
pub struct DevIssuer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Option<Arc<tiny_http::Server>>,
    stopping: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("issuer_url", &self.shared.issuer_url)
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Generates keys, binds `options.host:options.port` and starts serving on a worker thread.
    ///
    /// Refuses any address that is not loopback with [`Error::NonLoopbackBind`], and limits
    /// below [`MIN_DEVICE_LOGINS`] or [`MIN_REFRESH_TOKENS`] with [`Error::LimitTooSmall`].
    ///
    /// ```
    /// use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    ///
    /// let refused = DevIssuer::start(DevIssuerOptions {
    ///     host: "0.0.0.0".parse().unwrap(),
    ///     ..DevIssuerOptions::default()
    /// });
    /// assert!(matches!(refused, Err(m4_dev_issuer::Error::NonLoopbackBind { .. })));
    /// ```
    pub fn start(options: DevIssuerOptions) -> Result<DevIssuer, Error> {
        let requested = SocketAddr::new(options.host, options.port);
        if !options.host.is_loopback() {
            return Err(Error::NonLoopbackBind { addr: requested });
        }
        check_limits(&options)?;
        let current = KeySet::generate(1)?;
        let server = tiny_http::Server::http(requested).map_err(|source| Error::Bind {
            addr: requested,
            source,
        })?;
        let addr = server.server_addr().to_ip().ok_or(Error::Bind {
            addr: requested,
            source: "not an IP listener".into(),
        })?;
        let issuer_url = format!("http://{addr}");
        let shared = Arc::new(Shared {
            issuer_url,
            port: addr.port(),
            audience: options.audience,
            clock: options.clock,
            keys: RwLock::new(KeySet {
                generation: 1,
                current,
                retired: Vec::new(),
            }),
            served: Mutex::new(HashMap::new()),
            on_request: options.on_request,
            settings: oauth::Settings {
                clients: options.clients,
                auth_methods: options.auth_methods,
                scopes: options.scopes,
                access_token_ttl: options.access_token_ttl,
                refresh_token_ttl: options.refresh_token_ttl,
                device_code_ttl: options.device_code_ttl,
                device_interval: options.device_interval,
                device_forced_slow_downs: options.device_forced_slow_downs,
                device_subject: options.device_subject,
                max_device_logins: options.max_device_logins,
                max_refresh_tokens: options.max_refresh_tokens,
            },
            oauth: Mutex::new(oauth::State::default()),
        });
        let server = Arc::new(server);
        let stopping = Arc::new(AtomicBool::new(false));
        let worker = std::thread::Builder::new()
            .name("m4-dev-issuer".into())
            .spawn({
                let (shared, server, stopping) = (
                    Arc::clone(&shared),
                    Arc::clone(&server),
                    Arc::clone(&stopping),
                );
                move || server::serve(&shared, &server, &stopping)
            })
            .map_err(|source| Error::Bind {
                addr,
                source: source.into(),
            })?;
        Ok(DevIssuer {
            shared,
            addr,
            server: Some(server),
            stopping,
            worker: Some(worker),
        })
    }

    /// The issuer identifier, `http://127.0.0.1:PORT` (no trailing slash): the `iss` of
    /// minted tokens and the value for `M4_OAUTH2_ISSUER_URL`.
    pub fn issuer_url(&self) -> &str {
        &self.shared.issuer_url
    }

    /// The JWKS URL, `<issuer>/jwks.json` (what discovery's `jwks_uri` says).
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks.json", self.shared.issuer_url)
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The default audience of minted tokens.
    pub fn audience(&self) -> &str {
        &self.shared.audience
    }

    /// The environment settings that point m4-auth at this issuer
    /// (`M4_OAUTH2_ENABLED`, `M4_OAUTH2_ISSUER_URL`, `M4_OAUTH2_AUDIENCE`).
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// let env = issuer.env();
    /// assert_eq!(env[0], ("M4_OAUTH2_ENABLED".to_owned(), "true".to_owned()));
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("M4_OAUTH2_ENABLED".to_owned(), "true".to_owned()),
            (
                "M4_OAUTH2_ISSUER_URL".to_owned(),
                self.shared.issuer_url.clone(),
            ),
            (
                "M4_OAUTH2_AUDIENCE".to_owned(),
                self.shared.audience.clone(),
            ),
        ]
    }

    /// Signs a token as described by `request` (see [`MintRequest`] for the claims).
    ///
    /// ```
    /// use m4_dev_issuer::{DevIssuer, DevIssuerOptions, KidOverride, MintRequest};
    ///
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// let unknown_kid = issuer.mint(&MintRequest {
    ///     kid: KidOverride::Named("nobody-knows-me".into()),
    ///     ..MintRequest::default()
    /// })?;
    /// assert!(!unknown_kid.is_empty());
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn mint(&self, request: &MintRequest) -> Result<String, Error> {
        self.shared.mint(request)
    }

    /// The kids of the current signing keys, RS256 first.
    pub fn kids(&self) -> Vec<String> {
        let keys = self
            .shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        keys.current.iter().map(|k| k.kid.clone()).collect()
    }

    /// The kid that currently signs `alg` tokens.
    pub fn kid(&self, alg: SigningAlg) -> Result<String, Error> {
        let keys = self
            .shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        keys.signing(alg).map(|k| k.kid.clone())
    }

    /// The JWKS document currently served at [`jwks_url`](DevIssuer::jwks_url).
    pub fn jwks(&self) -> Value {
        self.shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .jwks()
    }

    /// Replaces both signing keys with fresh ones (new kids); the old keys stay published
    /// or disappear from the JWKS as `old` says. Returns the new kids, RS256 first.
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions, OldKeys};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// let before = issuer.kids();
    /// let after = issuer.rotate(OldKeys::Keep)?;
    /// assert_ne!(before, after);
    /// assert_eq!(issuer.jwks()["keys"].as_array().map(Vec::len), Some(4));
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn rotate(&self, old: OldKeys) -> Result<Vec<String>, Error> {
        self.shared.rotate(old)
    }

    /// How many requests the server has answered for `path` (any method or status, once
    /// they passed the peer, Host and Origin checks: a request refused there is not counted;
    /// the query string is not part of the path). Paths the issuer does not serve are
    /// counted by name up to [`MAX_COUNTED_PATHS`] of them, any further ones together under
    /// [`OTHER_PATHS`].
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// assert_eq!(issuer.served("/jwks.json"), 0);
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn served(&self, path: &str) -> u64 {
        let served = self
            .shared
            .served
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        served.get(path).copied().unwrap_or(0)
    }

    /// How many token-endpoint requests named `grant_type` (`client_credentials`,
    /// [`DEVICE_CODE_GRANT`], `refresh_token`; `other` for unsupported ones), counted once the
    /// client authenticated. Proves, for example, that concurrent users of a token client
    /// refreshed once.
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// assert_eq!(issuer.grants_served("refresh_token"), 0);
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn grants_served(&self, grant_type: &str) -> u64 {
        oauth::grants_served(&self.shared, grant_type)
    }

    /// How many device logins the issuer holds in memory now (at most
    /// [`DevIssuerOptions::max_device_logins`]).
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// assert_eq!(issuer.device_logins_held(), 0);
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn device_logins_held(&self) -> usize {
        oauth::held(&self.shared).0
    }

    /// How many refresh tokens the issuer holds in memory now, rotated and revoked ones
    /// included (at most [`DevIssuerOptions::max_refresh_tokens`]).
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// assert_eq!(issuer.refresh_tokens_held(), 0);
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    pub fn refresh_tokens_held(&self) -> usize {
        oauth::held(&self.shared).1
    }

    /// The token endpoint, `<issuer>/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.shared.issuer_url)
    }

    /// The device authorization endpoint, `<issuer>/device_authorization`.
    pub fn device_authorization_endpoint(&self) -> String {
        format!("{}/device_authorization", self.shared.issuer_url)
    }

    /// The revocation endpoint (RFC 7009), `<issuer>/revoke`.
    pub fn revocation_endpoint(&self) -> String {
        format!("{}/revoke", self.shared.issuer_url)
    }

    /// The registered clients (their secrets are there: this is a test issuer).
    pub fn clients(&self) -> &[DevClient] {
        &self.shared.settings.clients
    }

    /// Approves the pending device login with `user_code` (any case, dash optional): the
    /// client's next poll gets tokens. Test-only: a real provider asks the user to sign in.
    ///
    /// ```
    /// # use m4_dev_issuer::{DevIssuer, DevIssuerOptions, Error};
    /// let issuer = DevIssuer::start(DevIssuerOptions::default())?;
    /// assert!(matches!(issuer.approve_device("BCDF-GHJK"), Err(Error::UnknownUserCode { .. })));
    /// # Ok::<(), m4_dev_issuer::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::UnknownUserCode`], or [`Error::DeviceLoginNotPending`] when it expired or was
    /// already decided.
    pub fn approve_device(&self, user_code: &str) -> Result<(), Error> {
        oauth::decide(&self.shared, user_code, true)
    }

    /// Denies the pending device login with `user_code`: the client's next poll gets
    /// `access_denied`. Errors as [`approve_device`](DevIssuer::approve_device).
    pub fn deny_device(&self, user_code: &str) -> Result<(), Error> {
        oauth::decide(&self.shared, user_code, false)
    }

    /// Revokes `refresh_token` and every refresh token rotated from the same login (the grant
    /// ends, as `POST /revoke` does). Returns whether the token was known.
    pub fn revoke_refresh_token(&self, refresh_token: &str) -> bool {
        matches!(oauth::revoke(&self.shared, None, refresh_token), Ok(true))
    }

    /// Stops the server thread and closes the listening socket (also done on drop).
    pub fn shutdown(mut self) {
        self.stop();
    }

    /// Blocks the calling thread while the server runs (`m4-auth dev-issuer serve`).
    pub fn wait(mut self) {
        if let Some(worker) = self.worker.take() {
            // A panicked worker has nothing left to clean up.
            let _ = worker.join();
        }
    }

    fn stop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        self.stopping.store(true, Ordering::SeqCst);
        server.unblock();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
        // The last reference: tiny_http tells its accept thread to stop, and that thread
        // closes the listening socket when it ends. It cannot be joined, so wait (briefly,
        // boundedly) until the port refuses connections: after shutdown the port is free.
        drop(server);
        wait_until_closed(self.addr);
    }
}

/// Refuses limits below [`MIN_DEVICE_LOGINS`] and [`MIN_REFRESH_TOKENS`], saying what would
/// not work with the value given.
fn check_limits(options: &DevIssuerOptions) -> Result<(), Error> {
    if options.max_device_logins < MIN_DEVICE_LOGINS {
        return Err(Error::LimitTooSmall {
            option: "max_device_logins",
            value: options.max_device_logins,
            minimum: MIN_DEVICE_LOGINS,
            default: DEFAULT_MAX_DEVICE_LOGINS,
            why: "with 0 every device login is refused",
        });
    }
    if options.max_refresh_tokens < MIN_REFRESH_TOKENS {
        return Err(Error::LimitTooSmall {
            option: "max_refresh_tokens",
            value: options.max_refresh_tokens,
            minimum: MIN_REFRESH_TOKENS,
            default: DEFAULT_MAX_REFRESH_TOKENS,
            why: if options.max_refresh_tokens == 0 {
                "with 0 every device-code exchange is refused, so no login completes"
            } else {
                "with 1 the token a refresh rotates away is forgotten at once, so a stolen one presented again is never caught as a reuse"
            },
        });
    }
    Ok(())
}

/// Polls `addr` until connections are refused, for at most two seconds.
fn wait_until_closed(addr: SocketAddr) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while std::time::Instant::now() < deadline {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100)) {
            Ok(stream) => {
                drop(stream);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Err(_) => return,
        }
    }
}

impl Drop for DevIssuer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests;
