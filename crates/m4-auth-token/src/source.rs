//! [`TokenSource`]: a fresh access token on demand, from the stored login or the client
//! credentials, kept in memory and renewed before it expires.
//!
//! Renewal policy (documented in docs/credentials.md):
//! - a token of lifetime `L` is renewed from `max(L/2, min(3L/4, L − 60 s))` after it was
//!   obtained (45 min for a 1 h token, 1 min for a 2 min token), never after a failure;
//! - a token without `expires_in` is renewed after 60 s;
//! - one renewal at a time across threads: while it runs, others use the current token if it
//!   has more than 10 s left, or wait (at most twice the HTTP timeout) for the renewal;
//! - when renewal fails, the next attempt waits 1 s, 2 s, 4 s … up to 60 s; meanwhile the
//!   current token serves while it has more than 10 s left, and callers get the last error
//!   once it does not;
//! - a refresh token rotated by the provider is saved to the credentials file at once; before
//!   each refresh the file is read again, so a rotation by another process is picked up.
//!   When it cannot be saved (a directory this user cannot write), the new one is used from
//!   memory, with a warning, and saved as soon as saving works again; the stale one the file
//!   still holds is never sent.

use std::fmt;
use std::time::{Duration, Instant};

use m4_auth_config::Secret;
use parking_lot::{Condvar, Mutex};

use crate::client::{TokenClient, TokenResponse};
use crate::error::Error;
use crate::store::{CredentialsFile, StoredLogin};

/// A token counts as usable while it has more than this left.
const USABLE_MARGIN: Duration = Duration::from_secs(10);
/// Renewal time for a token whose lifetime the provider did not give.
const UNKNOWN_LIFETIME_RENEWAL: Duration = Duration::from_secs(60);
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Which credentials a [`TokenSource`] uses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialKind {
    /// The login `m4-auth login` stored (refresh token grant).
    StoredLogin,
    /// `M4_OAUTH2_CLIENT_ID` and `M4_OAUTH2_CLIENT_SECRET` (client credentials grant).
    ClientCredentials,
}

impl fmt::Display for CredentialKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StoredLogin => "the stored login",
            Self::ClientCredentials => "the client credentials",
        })
    }
}

/// When to renew a token of lifetime `lifetime` (see the module docs).
///
/// ```
/// use std::time::Duration;
/// use m4_auth_token::renew_after;
/// assert_eq!(renew_after(Some(Duration::from_secs(3600))), Duration::from_secs(2700));
/// assert_eq!(renew_after(Some(Duration::from_secs(120))), Duration::from_secs(60));
/// assert_eq!(renew_after(Some(Duration::from_secs(30))), Duration::from_secs(15));
/// assert_eq!(renew_after(None), Duration::from_secs(60));
/// ```
pub fn renew_after(lifetime: Option<Duration>) -> Duration {
    let Some(l) = lifetime else {
        return UNKNOWN_LIFETIME_RENEWAL;
    };
    let three_quarters = l / 4 * 3;
    let minute_before = l.saturating_sub(Duration::from_secs(60));
    (l / 2).max(three_quarters.min(minute_before))
}

struct Current {
    token: Secret,
    renew_at: Instant,
    expires_at: Option<Instant>,
}

#[derive(Default)]
struct State {
    current: Option<Current>,
    refreshing: bool,
    failures: u32,
    retry_at: Option<Instant>,
    last_error: Option<Error>,
    /// The refresh token in use (stored login only).
    refresh_token: Option<Secret>,
    /// The refresh token the credentials file still holds when `refresh_token` replaced it
    /// but could not be saved over it (a directory this user cannot write): the provider has
    /// rotated it away, so finding it in the file means "ours is newer", not "another process
    /// rotated".
    unsaved_over: Option<Secret>,
    /// The warnings of the last renewal.
    warnings: Vec<String>,
}

/// What one renewal of a stored login leaves behind: the refresh token to use from now on,
/// and the one the file still holds when that could not be saved.
struct Renewed {
    response: TokenResponse,
    refresh_token: Option<Secret>,
    unsaved_over: Option<Secret>,
    /// What went wrong without failing it (also logged).
    warnings: Vec<String>,
}

/// Hands out fresh access tokens (see the module docs for the renewal policy).
///
/// ```no_run
/// use m4_auth_token::{TokenOptions, TokenSource};
///
/// let config = m4_auth_config::AuthConfig::from_env()?.config;
/// let options = TokenOptions::from_config(&config)?;
/// if let Some(source) = TokenSource::detect(options)? {
///     let token = source.access_token()?;
///     // Authorization: Bearer {token.expose_secret()}
/// #   let _ = token;
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TokenSource {
    client: TokenClient,
    kind: CredentialKind,
    file: CredentialsFile,
    state: Mutex<State>,
    renewed: Condvar,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("kind", &self.kind)
            .field("credentials_file", &self.file.path())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// The source the configuration allows, in the order of CONTRACT.md after
    /// `M4_OAUTH2_TOKEN`: the stored login when the credentials file exists, otherwise the
    /// client credentials when an id and a secret are set, otherwise `None`.
    ///
    /// # Errors
    /// Those of [`CredentialsFile::load`], and [`Error::LoginMismatch`] when the stored
    /// login belongs to another issuer or client.
    pub fn detect(options: crate::TokenOptions) -> Result<Option<Self>, Error> {
        let file = CredentialsFile::new(options.credentials_file.clone());
        if let Some(login) = file.load()? {
            return Self::stored_login(options, login).map(Some);
        }
        if options.has_client_credentials() {
            return Ok(Some(Self::client_credentials(options)));
        }
        Ok(None)
    }

    /// A source on the client credentials grant.
    pub fn client_credentials(options: crate::TokenOptions) -> Self {
        let file = CredentialsFile::new(options.credentials_file.clone());
        Self {
            client: TokenClient::new(options),
            kind: CredentialKind::ClientCredentials,
            file,
            state: Mutex::new(State::default()),
            renewed: Condvar::new(),
        }
    }

    /// A source on a stored login, which must match the configured issuer and client.
    ///
    /// # Errors
    /// [`Error::LoginMismatch`].
    pub fn stored_login(options: crate::TokenOptions, login: StoredLogin) -> Result<Self, Error> {
        let file = CredentialsFile::new(options.credentials_file.clone());
        check_login_matches(&options, &file, &login)?;
        let mut options = options;
        // The login was made with this client id; a secret is used with it when configured.
        options.client_id = Some(login.client_id.clone());
        Ok(Self {
            client: TokenClient::new(options),
            kind: CredentialKind::StoredLogin,
            file,
            state: Mutex::new(State {
                refresh_token: Some(login.refresh_token),
                ..State::default()
            }),
            renewed: Condvar::new(),
        })
    }

    /// Which credentials this source uses.
    pub fn kind(&self) -> &CredentialKind {
        &self.kind
    }

    /// The client underneath.
    pub fn client(&self) -> &TokenClient {
        &self.client
    }

    /// The warnings of the last renewal, which obtained a token but not everything went
    /// right: it ran without the cross-process lock, or the rotated refresh token could not be
    /// saved (each says what to do). They are also logged with `tracing`; a program that
    /// installs no subscriber (`m4-auth token`) shows them from here.
    ///
    /// ```
    /// use m4_auth_config::Secret;
    /// use m4_auth_token::{TokenOptions, TokenSource};
    ///
    /// let options = TokenOptions::new("https://idp.example.com/", "/nowhere/credentials.json")
    ///     .client_id("m4-service")
    ///     .client_secret(Secret::new("s3cret"));
    /// let source = TokenSource::client_credentials(options);
    /// // After `source.access_token()`, as `m4-auth token` does:
    /// for warning in source.renewal_warnings() {
    ///     eprintln!("m4-auth: warning: {warning}");
    /// }
    /// assert!(source.renewal_warnings().is_empty(), "no renewal yet");
    /// ```
    pub fn renewal_warnings(&self) -> Vec<String> {
        self.state.lock().warnings.clone()
    }

    /// A token that is fresh by the renewal policy: the one in memory, or a new one.
    ///
    /// # Errors
    /// The renewal's error when no usable token is left ([`Error::LoginExpired`] when the
    /// stored login no longer works); during back-off the last error.
    pub fn access_token(&self) -> Result<Secret, Error> {
        let clock = &self.client.options.clock;
        let wait_bound = self.client.options.http_timeout.saturating_mul(2);
        let mut state = self.state.lock();
        loop {
            let now = clock.now();
            let usable = state
                .current
                .as_ref()
                .filter(|c| c.expires_at.is_none_or(|e| now + USABLE_MARGIN < e))
                .map(|c| c.token.clone());
            if let Some(c) = &state.current
                && now < c.renew_at
            {
                return Ok(c.token.clone());
            }
            if state.refreshing {
                if let Some(token) = usable {
                    return Ok(token);
                }
                if self.renewed.wait_for(&mut state, wait_bound).timed_out() {
                    return Err(state.last_error.clone().unwrap_or(Error::Unreachable {
                        endpoint: crate::EndpointKind::Token,
                        url: self.client.options.issuer.clone(),
                        detail: "another thread's token request is still running".to_owned(),
                    }));
                }
                continue;
            }
            if let Some(retry_at) = state.retry_at
                && now < retry_at
            {
                if let Some(token) = usable {
                    return Ok(token);
                }
                if let Some(error) = state.last_error.clone() {
                    return Err(error);
                }
            }
            state.refreshing = true;
            let refresh_token = state.refresh_token.clone();
            let unsaved_over = state.unsaved_over.clone();
            drop(state);
            let result = self.renew(refresh_token, unsaved_over.as_ref());
            state = self.state.lock();
            state.refreshing = false;
            self.renewed.notify_all();
            let now = clock.now();
            return match result {
                Ok(Renewed {
                    response,
                    refresh_token,
                    unsaved_over,
                    warnings,
                }) => {
                    state.warnings = warnings;
                    if let Some(refresh_token) = refresh_token {
                        state.refresh_token = Some(refresh_token);
                        state.unsaved_over = unsaved_over;
                    }
                    state.failures = 0;
                    state.retry_at = None;
                    state.last_error = None;
                    let token = response.access_token.clone();
                    state.current = Some(Current {
                        token: response.access_token,
                        renew_at: now + renew_after(response.expires_in),
                        expires_at: response.expires_in.map(|l| now + l),
                    });
                    Ok(token)
                }
                Err(error) => {
                    state.warnings.clear();
                    let backoff = FIRST_BACKOFF
                        .saturating_mul(1 << state.failures.min(6))
                        .min(MAX_BACKOFF);
                    state.failures = state.failures.saturating_add(1);
                    state.retry_at = Some(now + backoff);
                    state.last_error = Some(error.clone());
                    tracing::warn!(
                        code = error.code(),
                        retry_in_secs = backoff.as_secs(),
                        "could not renew the access token from {}: {error}",
                        self.kind
                    );
                    let usable = state
                        .current
                        .as_ref()
                        .filter(|c| c.expires_at.is_none_or(|e| now + USABLE_MARGIN < e))
                        .map(|c| c.token.clone());
                    usable.ok_or(error)
                }
            };
        }
    }

    /// One renewal, outside the lock: the token response, the refresh token to use from now
    /// on, and the stale one the file still holds when the new one could not be saved.
    fn renew(
        &self,
        refresh_token: Option<Secret>,
        unsaved_over: Option<&Secret>,
    ) -> Result<Renewed, Error> {
        match self.kind {
            CredentialKind::ClientCredentials => Ok(Renewed {
                response: self.client.client_credentials()?,
                refresh_token: None,
                unsaved_over: None,
                warnings: Vec::new(),
            }),
            CredentialKind::StoredLogin => {
                // Another process (`m4-auth token`, a second server) may be refreshing the same
                // login: one at a time, and each reads what the one before it saved.
                let lock = self.file.lock()?;
                let mut warnings: Vec<String> =
                    lock.warning().map(str::to_owned).into_iter().collect();
                let stored = self.file.load()?;
                let Some(stored) = stored else {
                    return Err(Error::NotLoggedIn {
                        path: self.file.path().to_path_buf(),
                    });
                };
                check_login_matches(&self.client.options, &self.file, &stored)?;
                let current = match refresh_token {
                    Some(ours) if ours == stored.refresh_token => ours,
                    // The file still holds the token ours replaced and could not be saved
                    // over: ours is the live one, the stored one was rotated away (sending it
                    // would make a provider that detects reuse revoke the login).
                    Some(ours) if unsaved_over == Some(&stored.refresh_token) => ours,
                    // Another process rotated it (or logged in again): use what it saved.
                    _ => stored.refresh_token.clone(),
                };
                let response = self.client.refresh(&current)?;
                let keep = match &response.refresh_token {
                    Some(rotated) => rotated.clone(),
                    None => current,
                };
                if keep == stored.refresh_token {
                    return Ok(Renewed {
                        response,
                        refresh_token: Some(keep),
                        unsaved_over: None,
                        warnings,
                    });
                }
                // A rotation, or an earlier one not saved yet: save it now.
                let login = StoredLogin::new(stored.issuer, stored.client_id, keep.clone());
                let unsaved_over = match self.file.save(&login) {
                    Ok(()) => None,
                    Err(e) => {
                        let warning = rotated_not_saved(&e);
                        tracing::warn!(code = e.code(), "{warning}");
                        warnings.push(warning);
                        Some(stored.refresh_token)
                    }
                };
                drop(lock);
                Ok(Renewed {
                    response,
                    refresh_token: Some(keep),
                    unsaved_over,
                    warnings,
                })
            }
        }
    }
}

/// The warning when a rotated refresh token cannot be saved (`error` names the file and why).
pub(crate) fn rotated_not_saved(error: &Error) -> String {
    format!(
        "the provider rotated the refresh token but it could not be saved ({error}); this process \
         keeps using the new one from memory, but the file still holds the old one, which the \
         provider has rotated away, so the login is lost when this process ends (and a provider \
         that detects reuse revokes it when another process presents the old one): make the \
         credentials file's directory writable by this user, or set M4_OAUTH2_CREDENTIALS_FILE \
         to a file in a directory of your own and run `m4-auth login`"
    )
}

fn check_login_matches(
    options: &crate::TokenOptions,
    file: &CredentialsFile,
    login: &StoredLogin,
) -> Result<(), Error> {
    let client_ok = options
        .client_id
        .as_deref()
        .is_none_or(|id| id == login.client_id);
    if login.issuer != options.issuer || !client_ok {
        return Err(Error::LoginMismatch {
            path: file.path().to_path_buf(),
            stored_issuer: m4_jwks::shown(&login.issuer),
            stored_client: m4_jwks::shown(&login.client_id),
            issuer: options.issuer.clone(),
            client: options.client_id.clone().unwrap_or_default(),
        });
    }
    Ok(())
}
