//! The OAuth 2.0 side of the dev issuer, independent of HTTP: client authentication
//! (RFC 6749 §2.3), the client credentials (§4.4), device code (RFC 8628) and refresh token
//! (§6) grants, revocation (RFC 7009), and the state they share.
//!
//! Every failure is an [`OAuthError`] in the words of RFC 6749 §5.2; no description quotes a
//! secret, a refresh token or a device code.

use std::collections::HashMap;
use std::time::Duration;

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value, json};

use crate::form::{Form, shown};
use crate::{ClientAuthMethod, DevClient, Error, MintRequest, Shared, keys};

/// The device code grant type (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The grant types the token endpoint serves, as discovery lists them.
pub const GRANT_TYPES: [&str; 3] = ["client_credentials", DEVICE_CODE_GRANT, "refresh_token"];

/// RFC 8628 §3.5: each `slow_down` raises the polling interval by 5 seconds.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The characters of user codes: consonants only (RFC 8628 §6.1's example), so no word is spelled
/// and nothing is confused (no vowels, no 0/O or 1/I).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// An RFC 6749 §5.2 error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client authenticated with Basic).
    pub(crate) basic_challenge: bool,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        OAuthError {
            status: 401,
            basic_challenge: basic,
            ..Self::new("invalid_client", description)
        }
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    /// The issuer holds as many grants as it may: 503 (RFC 6749 §4.1.2.1's code, used at
    /// the token endpoint too), so a client retries later rather than giving up the login.
    fn temporarily_unavailable(description: impl Into<String>) -> Self {
        OAuthError {
            status: 503,
            ..Self::new("temporarily_unavailable", description)
        }
    }

    fn server_error(e: &Error) -> Self {
        OAuthError {
            status: 500,
            ..Self::new("server_error", e.to_string())
        }
    }
}

type Outcome<T> = Result<T, OAuthError>;

/// What a device login is waiting for, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DeviceState {
    Pending,
    Approved,
    Denied,
    Issued,
}

#[derive(Debug)]
struct DeviceGrant {
    client_id: String,
    scopes: Vec<String>,
    audience: Vec<String>,
    user_code: String,
    expires_ms: i64,
    interval_ms: i64,
    /// When the client last polled (the issuance time before the first poll).
    last_poll_ms: i64,
    /// Polls still to be answered `slow_down` whatever their timing.
    forced_slow_downs: u32,
    state: DeviceState,
}

#[derive(Debug)]
struct RefreshRecord {
    family: u64,
    client_id: String,
    sub: String,
    scopes: Vec<String>,
    audience: Vec<String>,
    expires_ms: i64,
    /// Set once exchanged (rotated away), to the rank of that rotation among all (1 for the
    /// issuer's first): presenting it again is a reuse. At the limit, the lowest rank is
    /// forgotten first.
    rotated: Option<u64>,
}

/// Grants in flight. Refresh tokens and device codes are keys here and nowhere else; the
/// `Debug` of this type shows counts only.
#[derive(Default)]
pub(crate) struct State {
    devices: HashMap<String, DeviceGrant>,
    user_codes: HashMap<String, String>,
    refresh: HashMap<String, RefreshRecord>,
    revoked_families: HashMap<u64, bool>,
    next_family: u64,
    /// Refreshes served so far: the rank of the next rotation is one more.
    rotations: u64,
    grants: HashMap<String, u64>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("devices", &self.devices.len())
            .field("refresh_tokens", &self.refresh.len())
            .finish_non_exhaustive()
    }
}

/// The OAuth settings fixed at start (from [`crate::DevIssuerOptions`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) clients: Vec<DevClient>,
    pub(crate) auth_methods: Vec<ClientAuthMethod>,
    pub(crate) scopes: Vec<String>,
    pub(crate) access_token_ttl: Duration,
    pub(crate) refresh_token_ttl: Duration,
    pub(crate) device_code_ttl: Duration,
    pub(crate) device_interval: Duration,
    pub(crate) device_forced_slow_downs: u32,
    pub(crate) device_subject: String,
    pub(crate) max_device_logins: usize,
    pub(crate) max_refresh_tokens: usize,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whole seconds, rounded up (what `expires_in` and `interval` say for a sub-second setting).
fn ceil_secs(ms: i64) -> i64 {
    ms.saturating_add(999).div_euclid(1000)
}

/// Whether `given` is `expected`, in time independent of where they differ (both are hashed
/// first, so their lengths leak nothing either).
fn secret_matches(given: &str, expected: &str) -> bool {
    let given = digest(&SHA256, given.as_bytes());
    let expected = digest(&SHA256, expected.as_bytes());
    aws_lc_rs::constant_time::verify_slices_are_equal(given.as_ref(), expected.as_ref()).is_ok()
}

/// The client a request authenticates as (RFC 6749 §2.3), given its Authorization header
/// and form.
pub(crate) fn authenticate<'s>(
    settings: &'s Settings,
    authorization: Option<&str>,
    form: &Form,
) -> Outcome<&'s DevClient> {
    let (id, secret, method) = match authorization {
        Some(header) => {
            let Some((id, secret)) = crate::form::basic_credentials(header) else {
                return Err(OAuthError::invalid_client(
                    "the Authorization header is not `Basic base64(client_id:client_secret)`",
                    true,
                ));
            };
            if form.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "the client authenticated twice (Authorization header and client_secret in the body): use one method",
                ));
            }
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            (id, Some(secret), ClientAuthMethod::ClientSecretBasic)
        }
        None => match (form.get("client_id"), form.get("client_secret")) {
            (Some(id), Some(secret)) => (
                id.to_owned(),
                Some(secret.to_owned()),
                ClientAuthMethod::ClientSecretPost,
            ),
            (Some(id), None) => (id.to_owned(), None, ClientAuthMethod::None),
            (None, Some(_)) => {
                return Err(OAuthError::invalid_client(
                    "client_secret without client_id: send both",
                    false,
                ));
            }
            (None, None) => {
                return Err(OAuthError::invalid_client(
                    "no client authentication: send client_id (a public client), or the client's id and secret (client_secret_basic or client_secret_post)",
                    false,
                ));
            }
        },
    };
    let basic = method == ClientAuthMethod::ClientSecretBasic;
    let Some(client) = settings.clients.iter().find(|c| c.id == id) else {
        return Err(OAuthError::invalid_client(
            format!("unknown client_id \"{}\"", shown(&id)),
            basic,
        ));
    };
    if !settings.auth_methods.contains(&method) {
        let allowed: Vec<&str> = settings.auth_methods.iter().map(|m| m.as_str()).collect();
        return Err(OAuthError::invalid_client(
            format!(
                "client authentication method {} is not allowed by this issuer; it accepts: {}",
                method.as_str(),
                allowed.join(", ")
            ),
            basic,
        ));
    }
    match (&client.secret, secret) {
        (Some(expected), Some(given)) => {
            if secret_matches(&given, expected) {
                Ok(client)
            } else {
                Err(OAuthError::invalid_client(
                    format!("wrong client secret for client \"{}\"", shown(&id)),
                    basic,
                ))
            }
        }
        (Some(_), None) => Err(OAuthError::invalid_client(
            format!(
                "client \"{}\" is confidential: authenticate with its secret",
                shown(&id)
            ),
            false,
        )),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            format!(
                "client \"{}\" is public (it has no secret): send only client_id",
                shown(&id)
            ),
            basic,
        )),
        (None, None) => Ok(client),
    }
}

/// The requested scopes (each must be offered); none requested: every offered scope but
/// `offline_access`.
fn requested_scopes(settings: &Settings, form: &Form) -> Outcome<Vec<String>> {
    let Some(scope) = form.get("scope") else {
        return Ok(settings
            .scopes
            .iter()
            .filter(|s| *s != "offline_access")
            .cloned()
            .collect());
    };
    // RFC 6749 §3.3: a list of non-empty scope tokens. Extra spaces between tokens are
    // tolerated, but a value of spaces only names no scope at all: it is not "no scope asked"
    // (which gets the default scopes) and not an empty grant either.
    if scope.split(' ').all(str::is_empty) {
        return Err(OAuthError::new(
            "invalid_scope",
            format!(
                "scope is only spaces, so it names no scope (RFC 6749 §3.3: scope is a list of space-separated, non-empty scope tokens): name at least one of {}, or leave scope out",
                settings.scopes.join(" ")
            ),
        ));
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        if !settings.scopes.iter().any(|offered| offered == s) {
            return Err(OAuthError::new(
                "invalid_scope",
                format!(
                    "scope \"{}\" is not offered by this issuer; it offers: {}",
                    shown(s),
                    settings.scopes.join(" ")
                ),
            ));
        }
        if !scopes.iter().any(|have| have == s) {
            scopes.push(s.to_owned());
        }
    }
    Ok(scopes)
}

/// The audience asked for: RFC 8707 `resource` (repeatable) or Auth0's `audience`; `None`
/// when neither is given.
fn requested_audience(form: &Form) -> Outcome<Option<Vec<String>>> {
    let resources = form.all("resource");
    match (resources.is_empty(), form.get("audience")) {
        (false, Some(_)) => Err(OAuthError::invalid_request(
            "both resource and audience given: send one of them",
        )),
        (true, Some(audience)) => Ok(Some(vec![audience.to_owned()])),
        (false, None) => {
            for resource in &resources {
                check_resource(resource)?;
            }
            Ok(Some(resources.into_iter().map(str::to_owned).collect()))
        }
        (true, None) => Ok(None),
    }
}

/// RFC 8707 §2: a `resource` is an absolute URI (RFC 3986 §4.3: a scheme, `:`, the rest)
/// without a fragment. Only the syntax is checked, with no URL library: every character one a
/// URI may hold (RFC 3986 §2: unreserved, reserved, `%`), a scheme (a letter, then letters,
/// digits, `+`, `-`, `.`) before the first `:`, no `#`.
fn check_resource(resource: &str) -> Outcome<()> {
    let fix = "send the absolute URL of the protected resource, such as https://m4.example.org/mcp";
    let uri_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
    if !resource.chars().all(uri_char) {
        return Err(OAuthError::new(
            "invalid_target",
            format!(
                "resource \"{}\" is not a URI: it holds a character no URI holds (a space, a quote, a non-ASCII or control character; RFC 3986 §2): percent-encode it, or {fix}",
                shown(resource)
            ),
        ));
    }
    let scheme = resource.split_once(':').map(|(scheme, _)| scheme);
    let is_scheme = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    };
    if !scheme.is_some_and(is_scheme) {
        return Err(OAuthError::new(
            "invalid_target",
            format!(
                "resource \"{}\" is not an absolute URI: it has no scheme (RFC 8707 §2, RFC 3986 §4.3): {fix}",
                shown(resource)
            ),
        ));
    }
    if resource.contains('#') {
        return Err(OAuthError::new(
            "invalid_target",
            format!(
                "resource \"{}\" has a fragment (#...), which a resource must not have (RFC 8707 §2): drop it and everything after it",
                shown(resource)
            ),
        ));
    }
    Ok(())
}

/// `Some` audience, or the issuer's default.
fn audience_or_default(shared: &Shared, form: &Form) -> Outcome<Vec<String>> {
    Ok(requested_audience(form)?.unwrap_or_else(|| vec![shared.audience.clone()]))
}

fn random_token(prefix: &str) -> Outcome<String> {
    keys::random_hex(32)
        .map(|hex| format!("{prefix}{hex}"))
        .map_err(|e| OAuthError::server_error(&e))
}

fn user_code() -> Outcome<String> {
    let mut code = String::with_capacity(9);
    while code.len() < 9 {
        let byte = keys::random_bytes(1).map_err(|e| OAuthError::server_error(&e))?;
        let byte = byte.first().copied().unwrap_or(u8::MAX);
        // Rejection sampling: 240 is the largest multiple of 20 not above 256.
        if byte >= 240 {
            continue;
        }
        if code.len() == 4 {
            code.push('-');
        }
        let index = usize::from(byte) % USER_CODE_ALPHABET.len();
        code.push(char::from(
            USER_CODE_ALPHABET.get(index).copied().unwrap_or(b'X'),
        ));
    }
    Ok(code)
}

/// `abcd efgh`, `ABCD-EFGH` and `abcdefgh` name the same user code.
pub(crate) fn normalize_user_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    shared
        .oauth
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Signs an access token and builds the token answer (plus `refresh_token` when given).
fn token_answer(
    shared: &Shared,
    client_id: &str,
    sub: &str,
    scopes: &[String],
    audience: &[String],
    refresh_token: Option<String>,
) -> Outcome<Value> {
    let ttl = i64::try_from(shared.settings.access_token_ttl.as_secs()).unwrap_or(i64::MAX);
    let mut extra = Map::new();
    extra.insert("client_id".into(), client_id.into());
    if audience.len() > 1 {
        extra.insert("aud".into(), json!(audience));
    }
    let token = shared
        .mint(&MintRequest {
            sub: sub.to_owned(),
            scopes: scopes.to_vec(),
            ttl,
            audience: audience.first().cloned(),
            extra,
            ..MintRequest::default()
        })
        .map_err(|e| OAuthError::server_error(&e))?;
    let mut answer = json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": scopes.join(" "),
    });
    if let (Some(refresh_token), Some(object)) = (refresh_token, answer.as_object_mut()) {
        object.insert("refresh_token".into(), refresh_token.into());
    }
    Ok(answer)
}

/// Makes room for one more device login: at the limit, expired ones are forgotten (below it
/// they are kept, so a late poll still gets `expired_token`); refused when none has expired.
fn room_for_device_login(settings: &Settings, state: &mut State, now: i64) -> Outcome<()> {
    let max = settings.max_device_logins;
    if state.devices.len() < max {
        return Ok(());
    }
    let State {
        devices,
        user_codes,
        ..
    } = state;
    devices.retain(|_, grant| now < grant.expires_ms);
    user_codes.retain(|_, device_code| devices.contains_key(device_code));
    if devices.len() < max {
        return Ok(());
    }
    Err(OAuthError::temporarily_unavailable(format!(
        "the dev issuer already holds {max} device logins, its limit (max_device_logins), and none has expired: finish the logins in progress or wait until they expire ({} s after they start), or restart the dev issuer",
        ceil_secs(millis(settings.device_code_ttl))
    )))
}

/// Makes room for one more refresh token: at the limit, expired ones and those of revoked
/// logins (which can never be used again) are forgotten; if that frees nothing, the token
/// rotated away longest ago (of a live login) is forgotten; refused only when every token held
/// is the current one of a live login.
///
/// Forgetting rotated-away tokens costs reuse detection for them (presented again, a forgotten
/// one is only an unknown token, it no longer revokes its login), but only for the oldest, and
/// only at the limit; keeping them all made one long session with short access tokens fill the
/// issuer, after which every refresh, the live login's included, was refused until a restart.
fn room_for_refresh_token(settings: &Settings, state: &mut State, now: i64) -> Outcome<()> {
    let max = settings.max_refresh_tokens;
    if state.refresh.len() < max {
        return Ok(());
    }
    let State {
        refresh,
        revoked_families,
        ..
    } = state;
    refresh.retain(|_, record| {
        now < record.expires_ms
            && !revoked_families
                .get(&record.family)
                .copied()
                .unwrap_or(false)
    });
    if refresh.len() >= max {
        let oldest = refresh
            .iter()
            .filter_map(|(token, record)| record.rotated.map(|rank| (rank, token)))
            .min()
            .map(|(_, token)| token.clone());
        if let Some(token) = oldest {
            refresh.remove(&token);
        }
    }
    // A revocation mark outlives no token of its login: nothing is left to refuse.
    let families: std::collections::HashSet<u64> =
        refresh.values().map(|record| record.family).collect();
    revoked_families.retain(|family, _| families.contains(family));
    if refresh.len() < max {
        return Ok(());
    }
    Err(OAuthError::temporarily_unavailable(format!(
        "the dev issuer already holds {max} refresh tokens, its limit (max_refresh_tokens), each the current token of a live login: revoke the logins no longer needed (POST /revoke), or restart the dev issuer"
    )))
}

/// Stores a fresh refresh token in `family` and returns it.
fn new_refresh_token(
    shared: &Shared,
    state: &mut State,
    family: u64,
    client_id: &str,
    sub: &str,
    scopes: &[String],
    audience: &[String],
) -> Outcome<String> {
    let token = random_token("m4dev-rt-")?;
    let expires_ms = shared
        .clock
        .now_millis()
        .saturating_add(millis(shared.settings.refresh_token_ttl));
    state.refresh.insert(
        token.clone(),
        RefreshRecord {
            family,
            client_id: client_id.to_owned(),
            sub: sub.to_owned(),
            scopes: scopes.to_vec(),
            audience: audience.to_vec(),
            expires_ms,
            rotated: None,
        },
    );
    Ok(token)
}

/// `POST /token`: dispatches on `grant_type`.
pub(crate) fn token(shared: &Shared, client: &DevClient, form: &Form) -> Outcome<Value> {
    let Some(grant_type) = form.get("grant_type") else {
        return Err(OAuthError::invalid_request("grant_type is missing"));
    };
    {
        let mut state = lock(shared);
        let key = if GRANT_TYPES.contains(&grant_type) {
            grant_type
        } else {
            "other"
        };
        *state.grants.entry(key.to_owned()).or_insert(0) += 1;
    }
    match grant_type {
        "client_credentials" => client_credentials(shared, client, form),
        DEVICE_CODE_GRANT => device_code(shared, client, form),
        "refresh_token" => refresh(shared, client, form),
        other => Err(OAuthError::new(
            "unsupported_grant_type",
            format!(
                "grant_type \"{}\" is not supported; this issuer serves {}",
                shown(other),
                GRANT_TYPES.join(", ")
            ),
        )),
    }
}

fn client_credentials(shared: &Shared, client: &DevClient, form: &Form) -> Outcome<Value> {
    if client.secret.is_none() {
        return Err(OAuthError::new(
            "unauthorized_client",
            format!(
                "client \"{}\" is public: the client credentials grant needs a confidential client (with a secret)",
                shown(&client.id)
            ),
        ));
    }
    let scopes = requested_scopes(&shared.settings, form)?;
    let audience = audience_or_default(shared, form)?;
    token_answer(shared, &client.id, &client.id, &scopes, &audience, None)
}

/// `POST /device_authorization` (RFC 8628 §3.1–3.2).
pub(crate) fn device_authorization(
    shared: &Shared,
    client: &DevClient,
    form: &Form,
) -> Outcome<Value> {
    let scopes = requested_scopes(&shared.settings, form)?;
    let audience = audience_or_default(shared, form)?;
    let device_code = random_token("m4dev-dc-")?;
    let user_code = user_code()?;
    let now = shared.clock.now_millis();
    let lifetime = millis(shared.settings.device_code_ttl);
    let interval_ms = millis(shared.settings.device_interval);
    let mut state = lock(shared);
    room_for_device_login(&shared.settings, &mut state, now)?;
    state
        .user_codes
        .insert(normalize_user_code(&user_code), device_code.clone());
    state.devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id: client.id.clone(),
            scopes,
            audience,
            user_code: user_code.clone(),
            expires_ms: now.saturating_add(lifetime),
            interval_ms,
            last_poll_ms: now,
            forced_slow_downs: shared.settings.device_forced_slow_downs,
            state: DeviceState::Pending,
        },
    );
    let verification_uri = format!("{}/device", shared.issuer_url);
    Ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": ceil_secs(lifetime),
        "interval": ceil_secs(interval_ms),
    }))
}

fn device_code(shared: &Shared, client: &DevClient, form: &Form) -> Outcome<Value> {
    let Some(code) = form.get("device_code") else {
        return Err(OAuthError::invalid_request("device_code is missing"));
    };
    let now = shared.clock.now_millis();
    let mut state = lock(shared);
    let Some(grant) = state.devices.get_mut(code) else {
        return Err(OAuthError::invalid_grant("unknown device_code"));
    };
    if grant.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "this device_code was issued to another client",
        ));
    }
    if now >= grant.expires_ms {
        return Err(OAuthError::new(
            "expired_token",
            "the device code expired before the user approved it: start the login again",
        ));
    }
    match grant.state {
        DeviceState::Issued => {
            return Err(OAuthError::invalid_grant(
                "this device_code was already exchanged for tokens",
            ));
        }
        DeviceState::Denied => {
            return Err(OAuthError::new(
                "access_denied",
                "the user denied the login",
            ));
        }
        DeviceState::Pending => {
            let too_soon = now.saturating_sub(grant.last_poll_ms) < grant.interval_ms;
            let forced = grant.forced_slow_downs > 0;
            grant.forced_slow_downs = grant.forced_slow_downs.saturating_sub(1);
            grant.last_poll_ms = now;
            if too_soon || forced {
                grant.interval_ms = grant.interval_ms.saturating_add(millis(SLOW_DOWN_STEP));
                return Err(OAuthError::new(
                    "slow_down",
                    format!(
                        "polled faster than the interval: wait at least {} s between polls",
                        ceil_secs(grant.interval_ms)
                    ),
                ));
            }
            return Err(OAuthError::new(
                "authorization_pending",
                "the user has not approved the login yet",
            ));
        }
        DeviceState::Approved => {}
    }
    let (scopes, audience) = (grant.scopes.clone(), grant.audience.clone());
    // Room for the refresh token first: a refusal leaves the login approved, to retry.
    room_for_refresh_token(&shared.settings, &mut state, now)?;
    if let Some(grant) = state.devices.get_mut(code) {
        grant.state = DeviceState::Issued;
    }
    let sub = shared.settings.device_subject.clone();
    let family = state.next_family;
    state.next_family = state.next_family.saturating_add(1);
    let refresh_token = new_refresh_token(
        shared, &mut state, family, &client.id, &sub, &scopes, &audience,
    )?;
    drop(state);
    token_answer(
        shared,
        &client.id,
        &sub,
        &scopes,
        &audience,
        Some(refresh_token),
    )
}

fn refresh(shared: &Shared, client: &DevClient, form: &Form) -> Outcome<Value> {
    let Some(presented) = form.get("refresh_token") else {
        return Err(OAuthError::invalid_request("refresh_token is missing"));
    };
    let now = shared.clock.now_millis();
    let mut state = lock(shared);
    let Some(record) = state.refresh.get(presented) else {
        return Err(OAuthError::invalid_grant(
            "unknown refresh token (never issued by this issuer, or forgotten after it was revoked, expired or rotated away): log in again",
        ));
    };
    if record.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "this refresh token was issued to another client",
        ));
    }
    let (family, used, expires_ms) = (record.family, record.rotated.is_some(), record.expires_ms);
    let (granted, original_audience, sub) = (
        record.scopes.clone(),
        record.audience.clone(),
        record.sub.clone(),
    );
    if state
        .revoked_families
        .get(&family)
        .copied()
        .unwrap_or(false)
    {
        return Err(OAuthError::invalid_grant(
            "this refresh token was revoked: log in again",
        ));
    }
    if used {
        // OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: a rotated-away token presented again may have
        // been stolen, so the whole grant ends.
        state.revoked_families.insert(family, true);
        return Err(OAuthError::invalid_grant(
            "this refresh token was already used (rotated); as a reuse may mean it was stolen, every refresh token of this login is now revoked: log in again",
        ));
    }
    if now >= expires_ms {
        return Err(OAuthError::invalid_grant(
            "this refresh token has expired: log in again",
        ));
    }
    let scopes = match form.get("scope") {
        None => granted.clone(),
        Some(_) => {
            let asked = requested_scopes(&shared.settings, form)?;
            if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
                return Err(OAuthError::new(
                    "invalid_scope",
                    format!(
                        "scope \"{}\" was not granted to this login (RFC 6749 §6: a refresh may only narrow the scopes)",
                        shown(extra)
                    ),
                ));
            }
            asked
        }
    };
    // RFC 8707 §2.2: a refresh may ask for a token for some of the grant's resources, never
    // for another one (the client would turn a login for one API into a token for any).
    let audience = match requested_audience(form)? {
        None => original_audience.clone(),
        Some(asked) => {
            if let Some(other) = asked.iter().find(|a| !original_audience.contains(a)) {
                return Err(OAuthError::new(
                    "invalid_target",
                    format!(
                        "the audience \"{}\" was not granted to this login, which was granted {} (RFC 8707 §2.2: a refresh may only narrow the audience): log in again for another resource",
                        shown(other),
                        original_audience
                            .iter()
                            .map(|a| format!("\"{}\"", shown(a)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            asked
        }
    };
    // The presented token is rotated away before room is made, so at the limit it may be the
    // one forgotten (when no older rotated-away token is left): a refresh replaces a token, it
    // never adds a live one, and is never refused for the limit. With at most the limit held,
    // room is always found (the presented token itself can go); the branch below only keeps a
    // refusal from spending the presented token, should that ever change.
    state.rotations = state.rotations.saturating_add(1);
    let rank = state.rotations;
    if let Some(record) = state.refresh.get_mut(presented) {
        record.rotated = Some(rank);
    }
    if let Err(refused) = room_for_refresh_token(&shared.settings, &mut state, now) {
        if let Some(record) = state.refresh.get_mut(presented) {
            record.rotated = None;
        }
        return Err(refused);
    }
    // The rotated refresh token carries the grant as it was (RFC 6749 §6: its scope is that
    // of the one presented); only this access token is narrowed.
    let rotated = new_refresh_token(
        shared,
        &mut state,
        family,
        &client.id,
        &sub,
        &granted,
        &original_audience,
    )?;
    drop(state);
    token_answer(shared, &client.id, &sub, &scopes, &audience, Some(rotated))
}

/// Revokes the grant `token` belongs to; `Ok(false)` for a token this issuer does not know
/// (RFC 7009 §2.2: not an error). A refresh token of another client is refused.
pub(crate) fn revoke(shared: &Shared, client: Option<&DevClient>, token: &str) -> Outcome<bool> {
    let mut state = lock(shared);
    let Some(record) = state.refresh.get(token) else {
        return Ok(false);
    };
    if client.is_some_and(|c| c.id != record.client_id) {
        return Err(OAuthError::invalid_request(
            "this refresh token was issued to another client",
        ));
    }
    let family = record.family;
    state.revoked_families.insert(family, true);
    Ok(true)
}

/// Approves or denies the pending device login with `user_code` (any case, dashes optional).
pub(crate) fn decide(shared: &Shared, user_code: &str, approve: bool) -> Result<(), Error> {
    let now = shared.clock.now_millis();
    let mut state = lock(shared);
    let unknown = || Error::UnknownUserCode {
        user_code: shown(user_code),
    };
    let device_code = state
        .user_codes
        .get(&normalize_user_code(user_code))
        .cloned()
        .ok_or_else(unknown)?;
    let grant = state.devices.get_mut(&device_code).ok_or_else(unknown)?;
    let not_pending = |why: &'static str, grant: &DeviceGrant| Error::DeviceLoginNotPending {
        user_code: grant.user_code.clone(),
        why,
    };
    if now >= grant.expires_ms {
        return Err(not_pending("it expired", grant));
    }
    match grant.state {
        DeviceState::Pending => {
            grant.state = if approve {
                DeviceState::Approved
            } else {
                DeviceState::Denied
            };
            Ok(())
        }
        DeviceState::Approved => Err(not_pending("it was already approved", grant)),
        DeviceState::Denied => Err(not_pending("it was already denied", grant)),
        DeviceState::Issued => Err(not_pending("its tokens were already issued", grant)),
    }
}

/// How many device logins and refresh tokens are held.
pub(crate) fn held(shared: &Shared) -> (usize, usize) {
    let state = lock(shared);
    (state.devices.len(), state.refresh.len())
}

/// How many token requests named `grant_type` (`"other"` counts the unsupported ones).
pub(crate) fn grants_served(shared: &Shared, grant_type: &str) -> u64 {
    lock(shared).grants.get(grant_type).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_two_groups_of_four_consonants() {
        for _ in 0..50 {
            let code = user_code().unwrap();
            assert_eq!(code.len(), 9, "{code}");
            assert_eq!(code.chars().nth(4), Some('-'));
            assert!(
                code.bytes()
                    .filter(|b| *b != b'-')
                    .all(|b| USER_CODE_ALPHABET.contains(&b)),
                "{code}"
            );
        }
        assert_eq!(normalize_user_code("bcdf-ghjk"), "BCDFGHJK");
        assert_eq!(normalize_user_code(" BCDF ghjk "), "BCDFGHJK");
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(secret_matches("s3cr3t", "s3cr3t"));
        assert!(!secret_matches("s3cr3t", "s3cr3T"));
        assert!(!secret_matches("s3cr3", "s3cr3t"));
        assert!(!secret_matches("", "s3cr3t"));
    }

    #[test]
    fn seconds_round_up() {
        assert_eq!(ceil_secs(0), 0);
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(1000), 1);
        assert_eq!(ceil_secs(1001), 2);
    }
}
