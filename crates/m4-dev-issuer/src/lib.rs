#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod client;
mod error;
mod keys;
mod server;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value, json};

pub use error::Error;
use keys::SigningKey;

pub use client::{MintedToken, is_loopback_http_url, mint_remote, rotate_remote};
pub use server::MAX_BODY_BYTES;

/// The audience tokens carry unless a [`MintRequest`] says otherwise.
pub const DEFAULT_AUDIENCE: &str = "m4-api";

/// The scope tokens carry unless a [`MintRequest`] says otherwise (M4's default requirement).
pub const DEFAULT_SCOPE: &str = "read:mimic-data";

/// The port `m4-auth dev-issuer serve` listens on, and `mint` talks to, when none is given.
pub const DEFAULT_PORT: u16 = 8414;

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
            .ok_or_else(|| Error::UnsupportedAlgorithm { alg: s.to_owned() })
    }
}

/// Where the dev issuer gets the current time from (for `iat`, `nbf` and `exp`).
///
/// Tests pass a fixed clock; everything else uses [`SystemClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> i64;
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
}

impl fmt::Debug for DevIssuerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuerOptions")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("audience", &self.audience)
            .field("clock", &self.clock)
            .field("on_request", &self.on_request.as_ref().map(|_| "Fn"))
            .finish()
    }
}

impl Default for DevIssuerOptions {
    /// `127.0.0.1`, an ephemeral port, audience [`DEFAULT_AUDIENCE`], the system clock.
    fn default() -> Self {
        DevIssuerOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            audience: DEFAULT_AUDIENCE.to_owned(),
            clock: Arc::new(SystemClock),
            on_request: None,
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
    audience: String,
    clock: Arc<dyn Clock>,
    keys: RwLock<KeySet>,
    served: Mutex<HashMap<String, u64>>,
    on_request: Option<RequestObserver>,
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

    fn count(&self, path: &str) {
        let mut served = self.served.lock().unwrap_or_else(PoisonError::into_inner);
        *served.entry(path.to_owned()).or_insert(0) += 1;
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
    /// Refuses any address that is not loopback with [`Error::NonLoopbackBind`].
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
            audience: options.audience,
            clock: options.clock,
            keys: RwLock::new(KeySet {
                generation: 1,
                current,
                retired: Vec::new(),
            }),
            served: Mutex::new(HashMap::new()),
            on_request: options.on_request,
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

    /// How many requests the server has answered for `path` (any method or status;
    /// the query string is not part of the path).
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
