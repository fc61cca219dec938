//! `m4-auth doctor`: the setup checked step by step, a fix for every failure.

use std::time::{SystemTime, UNIX_EPOCH};

use m4_auth_config::{AuthConfig, ConfigError, Loaded, vars};

use crate::report::{Check, Status};
use crate::token_view::{TokenView, expiry_phrase};

const CONFIG: &str = "configuration";
const TOKEN: &str = "token";

/// The configuration step: every problem at once, or the effective settings and warnings.
pub(crate) fn config_checks(
    loaded: Result<Loaded, ConfigError>,
) -> (Vec<Check>, Option<AuthConfig>) {
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(err) => {
            let problems = err.problems();
            let mut checks = vec![
                Check::new(
                    CONFIG,
                    Status::Fail,
                    format!("the M4_OAUTH2_* settings have {} problem(s)", problems.len()),
                )
                .details(problems.iter().map(ToString::to_string))
                .fix("correct or unset the variables named above (docs/configuration.md lists every variable)"),
            ];
            checks.extend(
                err.warnings()
                    .iter()
                    .map(|w| Check::new(CONFIG, Status::Warn, w.to_string())),
            );
            return (checks, None);
        }
    };
    let config = loaded.config;
    let mut checks = Vec::new();
    if config.enabled() {
        let jwks = config.jwks_url().map_or_else(
            || "discovered from the issuer".to_owned(),
            |url| url.as_str().to_owned(),
        );
        let algorithms: Vec<&str> = config.algorithms().iter().map(|a| a.as_str()).collect();
        let rate_limit = if config.rate_limit_enabled() {
            format!(
                "{} requests per {}s per user",
                config.rate_limit_requests(),
                config.rate_limit_window().as_secs()
            )
        } else {
            "off".to_owned()
        };
        checks.push(
            Check::new(
                CONFIG,
                Status::Pass,
                "settings are valid; OAuth2 is enabled",
            )
            .details([
                format!("issuer      {}", config.issuer().map_or("", |u| u.as_str())),
                format!("audience    {}", config.audience().unwrap_or_default()),
                format!("scopes      {}", config.required_scopes().join(", ")),
                format!("jwks        {jwks}"),
                format!("algorithms  {}", algorithms.join(", ")),
                format!("rate limit  {rate_limit}"),
            ]),
        );
    } else {
        checks.push(
            Check::new(
                CONFIG,
                Status::Warn,
                "OAuth2 is disabled: every MCP tool is accessible without authentication",
            )
            .fix(format!(
                "set {}=true with {} and {} to require tokens",
                vars::ENABLED,
                vars::ISSUER_URL,
                vars::AUDIENCE
            )),
        );
    }
    checks.extend(
        loaded
            .warnings
            .iter()
            .map(|w| Check::new(CONFIG, Status::Warn, w.to_string())),
    );
    (checks, Some(config))
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn pass(title: impl Into<String>) -> Check {
    Check::new(TOKEN, Status::Pass, title)
}

fn fail(title: impl Into<String>, fix: impl Into<String>) -> Check {
    Check::new(TOKEN, Status::Fail, title).fix(fix)
}

/// The token step without the signature: its header and claims shown, and each claim check
/// the verifier makes explained on its own (the verifier stops at the first failure).
pub(crate) fn token_claim_checks(view: &TokenView, config: &AuthConfig, now: i64) -> Vec<Check> {
    let shown = |map: &serde_json::Map<String, serde_json::Value>| {
        serde_json::to_string(map).unwrap_or_default()
    };
    let mut checks = vec![
        Check::new(
            TOKEN,
            Status::Info,
            format!("header  {}", shown(&view.header)),
        ),
        Check::new(
            TOKEN,
            Status::Info,
            format!("claims  {}", shown(&view.claims)),
        ),
    ];

    let allowed: Vec<&str> = config.algorithms().iter().map(|a| a.as_str()).collect();
    checks.push(match view.header_str("alg") {
        Some(alg) if allowed.contains(&alg) => pass(format!("alg {alg} is allowed")),
        Some(alg) => fail(
            format!("alg {alg} is not allowed (allowed: {})", allowed.join(", ")),
            format!(
                "have the provider sign with one of {}, or add it to {}",
                allowed.join(", "),
                vars::ALGORITHMS
            ),
        ),
        None => fail(
            "the header has no alg",
            "this is not a signed JWT: request a proper access token",
        ),
    });
    checks.push(match view.header_str("kid") {
        Some(kid) => pass(format!("kid {kid}")),
        None => fail(
            "the header has no kid",
            "the provider must name its signing key (kid) so the key can be found in the JWKS",
        ),
    });

    let leeway = i64::try_from(config.leeway().as_secs()).unwrap_or(i64::MAX);
    checks.push(match view.claim_time("exp") {
        Some(exp) if !config.validate_exp() => Check::new(
            TOKEN,
            Status::Warn,
            format!(
                "{} (not checked: {}=false)",
                expiry_phrase(exp, now),
                vars::VALIDATE_EXP
            ),
        ),
        Some(exp) if exp.saturating_add(leeway) > now => pass(expiry_phrase(exp, now)),
        Some(exp) => fail(
            format!("{} (leeway {leeway}s)", expiry_phrase(exp, now)),
            "Token has expired: request a fresh token from your OAuth2 provider",
        ),
        None => fail(
            "the token has no exp claim",
            "request an access token with an expiry (exp)",
        ),
    });
    if let Some(nbf) = view.claim_time("nbf") {
        checks.push(if nbf.saturating_sub(leeway) <= now {
            pass("valid now (nbf)")
        } else {
            fail(
                format!("not valid for another {}s (nbf)", nbf.saturating_sub(now)),
                "wait, or check this machine's clock",
            )
        });
    }

    if let Some(issuer) = config.issuer().map(|u| u.as_str()) {
        checks.push(match view.claim_str("iss") {
            Some(iss) if iss == issuer => pass(format!("iss {iss}")),
            _ if !config.validate_iss() => Check::new(TOKEN, Status::Warn, format!("iss not checked ({}=false)", vars::VALIDATE_ISS)),
            Some(iss) => fail(
                format!("iss {iss} is not {issuer}"),
                format!("the issuer must match exactly, trailing slash included: set {}={iss} if this provider is the right one", vars::ISSUER_URL),
            ),
            None => fail("the token has no iss claim", "request a token from the configured issuer"),
        });
    }
    if let Some(audience) = config.audience() {
        let audiences = view.audiences();
        checks.push(if audiences.contains(&audience) {
            pass(format!("aud includes {audience}"))
        } else if !config.validate_aud() {
            Check::new(
                TOKEN,
                Status::Warn,
                format!("aud not checked ({}=false)", vars::VALIDATE_AUD),
            )
        } else if audiences.is_empty() {
            fail(
                "the token has no aud claim",
                format!("request a token for the audience {audience}"),
            )
        } else {
            fail(
                format!("aud {} does not include {audience}", audiences.join(", ")),
                format!(
                    "request a token for {audience}, or set {} to the API this token is for",
                    vars::AUDIENCE
                ),
            )
        });
    }
    let scopes = view.scopes();
    let missing: Vec<&str> = config
        .required_scopes()
        .iter()
        .map(String::as_str)
        .filter(|s| !scopes.contains(s))
        .collect();
    checks.push(if missing.is_empty() {
        pass(format!("scopes include {}", config.required_scopes().join(", ")))
    } else {
        fail(
            format!("Missing required scopes: {} (token has: {})", missing.join(", "), if scopes.is_empty() { "none".to_owned() } else { scopes.join(" ") }),
            "request a new token with all required scopes (in a space-separated `scope` claim or an `scp` array)",
        )
    });
    checks.push(match view.claims.get("sub").and_then(|s| s.as_str()) {
        Some(sub) if !sub.is_empty() => pass(format!("sub {sub}")),
        _ => fail(
            "the token has no sub claim",
            "rate limiting and auditing need a subject: request a user token",
        ),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    const NOW: i64 = 1_750_000_000;

    fn config() -> AuthConfig {
        AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ])
        .unwrap()
        .config
    }

    fn view(header: &Value, claims: &Value) -> TokenView {
        let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
        TokenView::decode(&format!("{}.{}.sig", part(header), part(claims))).unwrap()
    }

    fn good_claims() -> Value {
        json!({"iss": "https://idp.example.com/", "aud": "m4-api", "sub": "alice",
               "scope": "read:mimic-data", "exp": NOW + 3552})
    }

    fn verdicts(checks: &[Check]) -> Vec<(Status, String)> {
        checks
            .iter()
            .filter(|c| c.status != Status::Info)
            .map(|c| (c.status, c.title.clone()))
            .collect()
    }

    #[test]
    fn a_good_token_passes_every_claim_check() {
        let checks = token_claim_checks(
            &view(&json!({"alg": "RS256", "kid": "k1"}), &good_claims()),
            &config(),
            NOW,
        );
        assert_eq!(
            verdicts(&checks),
            [
                (Status::Pass, "alg RS256 is allowed".to_owned()),
                (Status::Pass, "kid k1".to_owned()),
                (Status::Pass, "expires in 59m 12s".to_owned()),
                (Status::Pass, "iss https://idp.example.com/".to_owned()),
                (Status::Pass, "aud includes m4-api".to_owned()),
                (Status::Pass, "scopes include read:mimic-data".to_owned()),
                (Status::Pass, "sub alice".to_owned()),
            ]
        );
        assert!(checks[1].title.starts_with("claims  {"));
        assert!(
            !checks.iter().any(|c| c.title.contains("sig")),
            "the signature is never shown"
        );
    }

    #[test]
    fn every_failing_claim_is_reported_with_a_fix() {
        let claims = json!({"iss": "https://idp.example.com", "aud": ["other"], "scope": "write:x",
                            "exp": NOW - 180 - 60, "nbf": NOW + 600});
        let checks = token_claim_checks(&view(&json!({"alg": "HS256"}), &claims), &config(), NOW);
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.title.clone())
            .collect();
        assert_eq!(
            failed,
            [
                "alg HS256 is not allowed (allowed: RS256, ES256)",
                "the header has no kid",
                "expired 4m ago (leeway 60s)",
                "not valid for another 600s (nbf)",
                "iss https://idp.example.com is not https://idp.example.com/",
                "aud other does not include m4-api",
                "Missing required scopes: read:mimic-data (token has: write:x)",
                "the token has no sub claim",
            ]
        );
        assert!(
            checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .all(|c| c.fix.is_some())
        );
    }

    #[test]
    fn leeway_and_disabled_checks() {
        // Expired 30s ago but within the 60s leeway: still accepted.
        let mut claims = good_claims();
        claims["exp"] = json!(NOW - 30);
        let checks = token_claim_checks(
            &view(&json!({"alg": "ES256", "kid": "k"}), &claims),
            &config(),
            NOW,
        );
        assert!(verdicts(&checks).contains(&(Status::Pass, "expired 30s ago".to_owned())));

        let relaxed = AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
            ("M4_OAUTH2_VALIDATE_EXP", "false"),
            ("M4_OAUTH2_VALIDATE_AUD", "false"),
        ])
        .unwrap()
        .config;
        claims["exp"] = json!(NOW - 3600);
        claims["aud"] = json!("elsewhere");
        let checks = token_claim_checks(
            &view(&json!({"alg": "ES256", "kid": "k"}), &claims),
            &relaxed,
            NOW,
        );
        let warned: Vec<String> = checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .map(|c| c.title.clone())
            .collect();
        assert_eq!(
            warned,
            [
                "expired 1h ago (not checked: M4_OAUTH2_VALIDATE_EXP=false)",
                "aud not checked (M4_OAUTH2_VALIDATE_AUD=false)",
            ]
        );
    }

    #[test]
    fn configuration_problems_are_all_listed() {
        let (checks, config) = config_checks(AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "http://idp.example.com/"),
            ("M4_OAUTH2_RATE_LIMIT_WINDOW", "1h"),
            ("M4_OAUTH2_AUDENCE", "m4"),
        ]));
        assert!(config.is_none());
        assert_eq!(checks[0].status, Status::Fail);
        assert_eq!(
            checks[0].title,
            "the M4_OAUTH2_* settings have 3 problem(s)"
        );
        assert_eq!(checks[0].details.len(), 3);
        assert_eq!(checks[1].status, Status::Warn);
        assert!(
            checks[1].title.contains("did you mean M4_OAUTH2_AUDIENCE?"),
            "{}",
            checks[1].title
        );
    }

    #[test]
    fn configuration_summary_and_disabled_warning() {
        let (checks, config) = config_checks(AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
        ]));
        assert!(config.is_some());
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, Status::Pass);
        assert!(
            checks[0]
                .details
                .contains(&"jwks        discovered from the issuer".to_owned())
        );

        let (checks, config) =
            config_checks(AuthConfig::from_vars([("M4_OAUTH2_ENABLED", "false")]));
        assert!(!config.unwrap().enabled());
        assert_eq!(checks[0].status, Status::Warn);
        assert!(checks[0].title.starts_with("OAuth2 is disabled"));
    }
}
