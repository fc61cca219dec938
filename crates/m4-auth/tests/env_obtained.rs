//! The env path without `M4_OAUTH2_TOKEN`: a token obtained from the client credentials or
//! the stored login (over loopback HTTP from a wiremock provider) and then verified like any
//! other token: signature, issuer, audience, scopes.
//!
//! No test here sets `M4_OAUTH2_TOKEN`; each case checks it is unset in this process.
#![cfg(test)]

mod support;

use std::time::Duration;

use m4_auth::{AuthConfig, Authenticator, ManualClock};
use m4_auth_testkit::idp::{Idp, oauth_error, token_answer};
use m4_auth_token::{CredentialsFile, StoredLogin};
use serde_json::json;
use support::{NOW, SCOPE, pinned, sign};

struct Case {
    idp: Idp,
    dir: tempfile::TempDir,
}

impl Case {
    fn start() -> Self {
        assert!(
            std::env::var_os("M4_OAUTH2_TOKEN").is_none(),
            "these cases need M4_OAUTH2_TOKEN unset"
        );
        let idp = Idp::start();
        idp.oauth_discovery(json!({
            "device_authorization_endpoint": null,
            "revocation_endpoint": null,
        }));
        Self {
            idp,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A token for `sub` signed by a fixture key, from this issuer, for `aud`.
    fn token(&self, sub: &str, aud: &str) -> String {
        sign(
            "rsa-2048",
            &json!({
                "iss": self.idp.uri(), "aud": aud, "sub": sub, "scope": SCOPE,
                "iat": NOW, "exp": NOW + 3600,
            }),
        )
    }

    /// The token endpoint answers requests whose body holds `grant` with `access_token`.
    fn answer(&self, grant: &str, access_token: &str) {
        self.idp
            .serve_post_containing("/token", grant, token_answer(access_token, 3600, None));
    }

    fn token_requests(&self) -> usize {
        self.idp.hits("/token")
    }

    fn credentials(&self) -> std::path::PathBuf {
        self.dir.path().join("credentials.json")
    }

    fn authenticator(&self, extra: &[(&str, &str)]) -> Authenticator {
        self.authenticator_on(extra, ManualClock::new(NOW as u64))
    }

    /// As [`Case::authenticator`], on `clock` (keep a clone to advance it).
    fn authenticator_on(&self, extra: &[(&str, &str)], clock: ManualClock) -> Authenticator {
        let uri = self.idp.uri();
        let file = self.credentials().display().to_string();
        let mut vars = vec![
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", uri.as_str()),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
            ("M4_OAUTH2_CREDENTIALS_FILE", file.as_str()),
        ];
        vars.extend_from_slice(extra);
        let config = AuthConfig::from_vars(vars).unwrap().config;
        Authenticator::builder(config)
            .clock(clock)
            .pinned_keys(pinned())
            .build()
            .unwrap()
    }
}

const CLIENT: [(&str, &str); 2] = [
    ("M4_OAUTH2_CLIENT_ID", "m4-service"),
    ("M4_OAUTH2_CLIENT_SECRET", "s3cret"),
];

#[test]
fn client_credentials_give_a_verified_principal_and_the_token_is_reused() {
    let case = Case::start();
    case.answer(
        "grant_type=client_credentials",
        &case.token("svc", "m4-api"),
    );
    let auth = case.authenticator(&CLIENT);
    assert_eq!(auth.authenticate_env().unwrap().sub(), "svc");
    assert_eq!(auth.guard_env(|p| p.sub().to_owned()).unwrap(), "svc");
    assert_eq!(
        case.token_requests(),
        1,
        "kept in memory, not fetched per call"
    );
}

#[test]
fn the_obtained_token_is_renewed_on_the_injected_clock() {
    // A token the provider says lives 120 s is renewed 60 s after it was obtained
    // (m4_auth_token::renew_after). The authenticator's clock must drive that, as it drives
    // expiry, rate limits and JWKS TTLs: advancing it, with no sleeping, renews the token.
    let case = Case::start();
    case.idp.serve_post_containing(
        "/token",
        "grant_type=client_credentials",
        token_answer(&case.token("svc", "m4-api"), 120, None),
    );
    let clock = ManualClock::new(NOW as u64);
    let auth = case.authenticator_on(&CLIENT, clock.clone());
    assert_eq!(auth.authenticate_env().unwrap().sub(), "svc");
    assert_eq!(case.token_requests(), 1);

    clock.advance(Duration::from_secs(59));
    auth.authenticate_env().unwrap();
    assert_eq!(case.token_requests(), 1, "59 s in: still the first token");

    clock.advance(Duration::from_secs(2));
    auth.authenticate_env().unwrap();
    assert_eq!(
        case.token_requests(),
        2,
        "61 s in on the injected clock: renewed"
    );

    clock.advance(Duration::from_secs(30));
    auth.authenticate_env().unwrap();
    assert_eq!(case.token_requests(), 2, "30 s after the renewal: kept");
    clock.advance(Duration::from_secs(31));
    auth.authenticate_env().unwrap();
    assert_eq!(case.token_requests(), 3, "61 s after the renewal: renewed");
}

#[test]
fn an_obtained_token_is_verified_like_any_other() {
    let case = Case::start();
    case.answer(
        "grant_type=client_credentials",
        &case.token("svc", "another-api"),
    );
    let err = case.authenticator(&CLIENT).authenticate_env().unwrap_err();
    assert_eq!(err.code(), "invalid_audience");
}

#[test]
fn the_stored_login_comes_before_the_client_credentials() {
    let case = Case::start();
    case.answer("grant_type=refresh_token", &case.token("alice", "m4-api"));
    case.answer(
        "grant_type=client_credentials",
        &case.token("svc", "m4-api"),
    );
    let login = StoredLogin::new(
        case.idp.uri(),
        "m4-service",
        m4_auth::config::Secret::new("rt-1"),
    );
    CredentialsFile::new(case.credentials())
        .save(&login)
        .unwrap();
    assert_eq!(
        case.authenticator(&CLIENT)
            .authenticate_env()
            .unwrap()
            .sub(),
        "alice"
    );
}

#[test]
fn a_revoked_login_says_to_log_in_again_and_nothing_at_all_is_missing_token() {
    let case = Case::start();
    case.idp.serve_post(
        "/token",
        oauth_error(400, "invalid_grant", Some("refresh token revoked")),
    );
    let login = StoredLogin::new(case.idp.uri(), "m4-cli", m4_auth::config::Secret::new("rt"));
    CredentialsFile::new(case.credentials())
        .save(&login)
        .unwrap();
    let auth = case.authenticator(&[("M4_OAUTH2_CLIENT_ID", "m4-cli")]);
    let err = auth.authenticate_env().unwrap_err();
    assert_eq!(err.code(), "missing_token");
    let reply = auth.guard_env(|_| ()).unwrap_err();
    assert!(
        reply.starts_with("Error: Missing OAuth2 access token: "),
        "{reply}"
    );
    assert!(reply.contains("run `m4-auth login` again"), "{reply}");
    assert!(!reply.contains("rt\""), "{reply}");

    let empty = Case::start();
    let err = empty.authenticator(&[]).authenticate_env().unwrap_err();
    assert_eq!(err.code(), "missing_token");
    assert_eq!(err.to_string(), "Missing OAuth2 access token");
    assert_eq!(empty.token_requests(), 0);
}
