//! `m4-auth doctor`: the setup checked step by step, a fix for every failure.

use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use m4_auth::jwks::Error as JwksError;
use m4_auth::jwt::{Error as JwtError, check_subject, check_unbound};
use m4_auth::{AuthError, Authenticator, RateLimitBackendInfo};
use m4_auth_config::{AuthConfig, ConfigError, Loaded, vars};
use serde_json::Value;

use crate::credentials_cmd::{CREDENTIALS, credential_checks};
use crate::output::Style;
use crate::report::{Check, Report, Status};
use crate::token_view::{TokenView, WrongType, expiry_phrase};
use crate::verify::fix_for;
use crate::{DoctorArgs, Failure};

const CONFIG: &str = "configuration";
const DISCOVERY: &str = "discovery";
const JWKS: &str = "jwks";
const RATE_LIMIT: &str = "rate-limit";
const TOKEN: &str = "token";

/// What to do about a key-fetching failure.
fn jwks_fix(error: &JwksError) -> String {
    match error {
        JwksError::IssuerMismatch { found, .. } => format!(
            "set {}={found} exactly (the issuer must match the provider's, trailing slash included)",
            vars::ISSUER_URL
        ),
        JwksError::NothingDiscovered { .. } => format!(
            "check {} (Auth0 ends with a slash, Okta with /oauth2/default, Keycloak with /realms/NAME), or set {} to the provider's JWKS URL",
            vars::ISSUER_URL,
            vars::JWKS_URL
        ),
        JwksError::Timeout { .. } => format!(
            "check that this machine can reach the provider (firewall, proxy: HTTPS_PROXY/NO_PROXY), or raise {}",
            vars::HTTP_TIMEOUT
        ),
        JwksError::Connect { .. } | JwksError::Proxy { .. } => {
            "check the host name and that this machine can reach it (DNS, firewall, HTTPS_PROXY/NO_PROXY)".to_owned()
        }
        JwksError::Tls { .. } | JwksError::Certificate { .. } => {
            "the TLS connection failed: check the URL is the provider's own and that the operating system trusts its certificate".to_owned()
        }
        JwksError::HttpStatus { .. } => format!(
            "check the URL: the server answered, but not with a document; set {} if the provider publishes its keys elsewhere",
            vars::JWKS_URL
        ),
        JwksError::DiscoveryNotJson { .. } | JwksError::DiscoveryMissingMember { .. } => format!(
            "this is not an OpenID Connect discovery document: check {}, or set {} directly",
            vars::ISSUER_URL,
            vars::JWKS_URL
        ),
        JwksError::NoUsableKeys { .. } | JwksError::JwksDocument { .. } => format!(
            "the provider publishes no key m4-auth can use: it needs RSA (2048 bits or more) or EC P-256/P-384 signature keys for {}",
            vars::ALGORITHMS
        ),
        JwksError::InvalidUrl { .. } => format!(
            "use an https URL (http only on loopback) for {} and {}",
            vars::ISSUER_URL,
            vars::JWKS_URL
        ),
        _ => "run `m4-auth doctor` again after checking the provider's status".to_owned(),
    }
}

/// The discovery and JWKS steps: fetch the keys the way `authenticate` would.
/// Returns the kids served, when any were fetched.
fn key_checks(auth: &Authenticator, config: &AuthConfig) -> (Vec<Check>, Option<Vec<String>>) {
    let result = auth.prefetch();
    let stats = auth.jwks_stats();
    let jwks_url = stats.as_ref().and_then(|s| s.jwks_url.clone());
    let issuer = config.issuer().map_or("", |u| u.as_str());
    let (fix, message) = match &result {
        Err(AuthError::Jwks(inner)) => (jwks_fix(inner), inner.to_string()),
        Err(other) => (fix_for(other.code()).to_owned(), other.to_string()),
        Ok(()) => (String::new(), String::new()),
    };
    let mut checks = Vec::new();
    let fallback = jwks_url.as_deref().is_some_and(|url| {
        url == format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
    });
    checks.push(if config.jwks_url().is_some() {
        Check::new(
            DISCOVERY,
            Status::Skip,
            format!("not used: {} is set", vars::JWKS_URL),
        )
    } else {
        match &jwks_url {
            Some(url) if fallback => Check::new(
                DISCOVERY,
                Status::Warn,
                format!("{issuer} publishes no discovery document; using the fallback {url}"),
            )
            .fix(format!("set {}={url} to say so explicitly", vars::JWKS_URL)),
            Some(url) => Check::new(
                DISCOVERY,
                Status::Pass,
                format!("the discovery document names the issuer {issuer} and the JWKS {url}"),
            ),
            None => Check::new(DISCOVERY, Status::Fail, message.clone()).fix(fix.clone()),
        }
    });
    let Some(url) = jwks_url else {
        checks.push(Check::new(
            JWKS,
            Status::Skip,
            "not fetched: discovery failed",
        ));
        return (checks, None);
    };
    let Some(stats) = stats.filter(|_| result.is_ok()) else {
        checks.push(Check::new(JWKS, Status::Fail, message).fix(fix));
        return (checks, None);
    };
    let usable: Vec<_> = stats
        .keys
        .iter()
        .filter(|k| {
            config.algorithms().iter().any(|alg| {
                alg.as_str()
                    .parse::<m4_auth::jwt::Algorithm>()
                    .is_ok_and(|alg| k.kind().supports(alg))
            })
        })
        .collect();
    let details = stats.keys.iter().map(|key| {
        format!(
            "kid {}  {}  alg {}  use {}",
            key.kid().unwrap_or("(none)"),
            key.kind(),
            key.declared_alg()
                .map_or_else(|| "(any)".to_owned(), |a| a.to_string()),
            key.key_use().unwrap_or("(unset)"),
        )
    });
    checks.push(
        Check::new(
            JWKS,
            Status::Pass,
            format!("fetched {url}: {} key(s)", stats.keys.len()),
        )
        .details(details),
    );
    for skipped in &stats.skipped {
        checks.push(Check::new(
            JWKS,
            Status::Warn,
            format!(
                "skipped member #{} (kid {}): {}",
                skipped.index,
                skipped.kid.as_deref().unwrap_or("none"),
                skipped.reason
            ),
        ));
    }
    if usable.is_empty() {
        let algorithms: Vec<&str> = config.algorithms().iter().map(|a| a.as_str()).collect();
        checks.push(
            Check::new(
                JWKS,
                Status::Fail,
                format!("no key can verify {}", algorithms.join(" or ")),
            )
            .fix(format!(
                "set {} to the algorithms the provider signs with",
                vars::ALGORITHMS
            )),
        );
    }
    let kids = stats
        .keys
        .iter()
        .filter_map(|k| k.kid().map(str::to_owned))
        .collect();
    (checks, Some(kids))
}

/// The rate-limit backend step: where requests are counted and, for Redis, whether it answers
/// a ping now (a failure is a ✗: the deployment asked for a shared limit it does not have).
fn rate_limit_check(auth: &Authenticator) -> Check {
    let backend = auth.rate_limit_backend();
    match auth.rate_limit_health() {
        Some(Ok(round_trip)) => Check::new(
            RATE_LIMIT,
            Status::Pass,
            format!(
                "{backend} answers (ping {:.1} ms)",
                round_trip.as_secs_f64() * 1000.0
            ),
        ),
        Some(Err(error)) => Check::new(RATE_LIMIT, Status::Fail, error.to_string()).fix(format!(
            "start Redis, or check {} (redis://host:port/db, rediss:// for TLS); checks fall back \
             to the in-process limiter meanwhile, so each instance allows the full limit on its own",
            vars::RATE_LIMIT_BACKEND
        )),
        None if backend == RateLimitBackendInfo::Off => Check::new(
            RATE_LIMIT,
            Status::Skip,
            format!("off: {}=false", vars::RATE_LIMIT_ENABLED),
        ),
        None => Check::new(RATE_LIMIT, Status::Pass, backend.to_string()),
    }
}

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
    // Each claim's JSON type is checked as the verifier checks it: whatever the VALIDATE_*
    // switches say, a claim of the wrong type makes the token invalid_claims.
    checks.push(match view.numeric_date("exp", false) {
        Err(why) => wrong_shape(view, why, NUMERIC_DATE_FIX),
        Ok(Some(exp)) if !config.validate_exp() => Check::new(
            TOKEN,
            Status::Warn,
            format!(
                "{} (not checked: {}=false)",
                expiry_phrase(exp, now),
                vars::VALIDATE_EXP
            ),
        ),
        Ok(Some(exp)) if exp.saturating_add(leeway) > now => pass(expiry_phrase(exp, now)),
        Ok(Some(exp)) => fail(
            format!("{} (leeway {leeway}s)", expiry_phrase(exp, now)),
            "Token has expired: request a fresh token from your OAuth2 provider",
        ),
        Ok(None) if !config.validate_exp() => Check::new(
            TOKEN,
            Status::Warn,
            format!(
                "the token has no exp claim (not checked: {}=false)",
                vars::VALIDATE_EXP
            ),
        ),
        Ok(None) => fail(
            "the token has no exp claim",
            "request an access token with an expiry (exp)",
        ),
    });
    match view.numeric_date("nbf", true) {
        Err(why) => checks.push(wrong_shape(view, why, NUMERIC_DATE_FIX)),
        Ok(Some(nbf)) => checks.push(if nbf.saturating_sub(leeway) <= now {
            pass("valid now (nbf)")
        } else {
            fail(
                format!("not valid for another {}s (nbf)", nbf.saturating_sub(now)),
                "wait, or check this machine's clock",
            )
        }),
        Ok(None) => {}
    }

    if let Some(issuer) = config.issuer().map(|u| u.as_str()) {
        checks.push(match view.string_claim("iss") {
            Err(why) => wrong_shape(view, why, "have the provider write iss as a JSON string, its issuer URL"),
            Ok(Some(iss)) if iss == issuer => pass(format!("iss {iss}")),
            _ if !config.validate_iss() => Check::new(TOKEN, Status::Warn, format!("iss not checked ({}=false)", vars::VALIDATE_ISS)),
            Ok(Some(iss)) => fail(
                format!("iss {iss} is not {issuer}"),
                format!("the issuer must match exactly, trailing slash included: set {}={iss} if this provider is the right one", vars::ISSUER_URL),
            ),
            Ok(None) => fail("the token has no iss claim", "request a token from the configured issuer"),
        });
    }
    if let Some(audience) = config.audience() {
        checks.push(match view.audiences() {
            Err(why) => wrong_shape(view, why,
                "have the provider write aud as a string or an array of strings only, such as [\"m4-api\"]",
            ),
            Ok(Some(audiences)) if audiences.contains(&audience) => {
                pass(format!("aud includes {audience}"))
            }
            _ if !config.validate_aud() => Check::new(
                TOKEN,
                Status::Warn,
                format!("aud not checked ({}=false)", vars::VALIDATE_AUD),
            ),
            Ok(None) => fail(
                "the token has no aud claim",
                format!("request a token for the audience {audience}"),
            ),
            Ok(Some(audiences)) => fail(
                format!("aud {} does not include {audience}", audiences.join(", ")),
                format!(
                    "request a token for {audience}, or set {} to the API this token is for",
                    vars::AUDIENCE
                ),
            ),
        });
    }
    checks.push(match view.scopes() {
        Err(why) => wrong_shape(view, why, "have the provider write scope as a space-separated string (or scp as an array of strings)"),
        Ok(scopes) => {
            let missing: Vec<&str> = config
                .required_scopes()
                .iter()
                .map(String::as_str)
                .filter(|s| !scopes.contains(s))
                .collect();
            if missing.is_empty() {
                pass(format!("scopes include {}", config.required_scopes().join(", ")))
            } else {
                fail(
                    format!("Missing required scopes: {} (token has: {})", missing.join(", "), if scopes.is_empty() { "none".to_owned() } else { scopes.join(" ") }),
                    "request a new token with all required scopes (in a space-separated `scope` claim or an `scp` array)",
                )
            }
        }
    });
    checks.push(match view.string_claim("sub") {
        Err(why) => wrong_shape(
            view,
            why,
            "have the provider write sub as a JSON string naming the user",
        ),
        // The verifier's own rule (empty, blank, control characters) and message: the value is
        // shown only once it passed, so a title never holds a control character of it.
        Ok(Some(sub)) => match check_subject(sub) {
            Ok(()) => pass(format!("sub {sub}")),
            Err(JwtError::EmptySubject) => fail(
                JwtError::EmptySubject.to_string(),
                "rate limiting and auditing need a subject: request a user token",
            ),
            Err(refusal) => fail(
                refusal.to_string(),
                format!(
                    "m4-auth rejects it ({}): sub is the rate-limit key and names the user in logs; check which attribute the provider maps to sub (a stable user id, not an empty or free-text field)",
                    refusal.code()
                ),
            ),
        },
        Ok(None) => fail(
            "the token has no sub claim",
            "rate limiting and auditing need a subject: request a user token",
        ),
    });
    // Shown only when it fails, as the verifier refuses any `cnf` (its own rule and message).
    if let Err(refusal) = check_unbound(view.claims.get("cnf")) {
        checks.push(fail(
            refusal.to_string(),
            format!(
                "m4-auth rejects it ({}): a DPoP- or certificate-bound token is only valid with a proof of possession m4-auth does not check; have the client request a plain bearer token for this API (no DPoP, no certificate binding)",
                refusal.code()
            ),
        ));
    }
    checks
}

const NUMERIC_DATE_FIX: &str = "have the provider write it as a NumericDate: a JSON number of seconds since the epoch, without quotes, such as 1795000000";

/// A claim whose JSON type the verifier refuses (`invalid_claims`): the verifier's message,
/// what the token holds instead, and `fix`.
fn wrong_shape(view: &TokenView, why: WrongType, fix: &str) -> Check {
    let WrongType { claim, message } = why;
    let found = match view.claims.get(claim) {
        Some(Value::Array(items)) => match items.iter().find(|v| !v.is_string()) {
            Some(member) => format!("an array holding {}", json_type(member)),
            None => "an array".to_owned(),
        },
        Some(value) => json_type(value).to_owned(),
        None => "nothing".to_owned(),
    };
    fail(
        format!("{message} (this token has {found})"),
        format!("m4-auth rejects it (invalid_claims): {fix}"),
    )
}

/// "a string", "a number", ... for a JSON value.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The token step in full: decode, explain each claim check, then the facade's verdict.
fn token_checks(
    auth: &Authenticator,
    config: &AuthConfig,
    kids: Option<&[String]>,
    now: i64,
) -> Vec<Check> {
    let Some(token) = config.token() else {
        return vec![Check::new(
            TOKEN,
            Status::Skip,
            format!("{} is not set: no token to check", vars::TOKEN),
        )];
    };
    let view = match TokenView::decode(token.expose_secret()) {
        Ok(view) => view,
        Err(why) => {
            return vec![fail(
                format!("{} is not a JWT: {why}", vars::TOKEN),
                fix_for("malformed_token"),
            )];
        }
    };
    let mut checks = token_claim_checks(&view, config, now);
    if let (Some(kids), Some(kid)) = (kids, view.header_str("kid")) {
        let position = checks
            .iter()
            .position(|c| c.title.starts_with("kid "))
            .map_or(checks.len(), |p| p + 1);
        let check = if kids.iter().any(|k| k == kid) {
            pass(format!("kid {kid} is in the JWKS"))
        } else {
            fail(
                format!("kid {kid} is not in the JWKS (it has: {})", kids.join(", ")),
                fix_for("unknown_kid"),
            )
        };
        checks.insert(position, check);
    }
    checks.push(match auth.authenticate(token.expose_secret()) {
        Ok(principal) => pass(format!(
            "m4-auth accepts this token (sub {})",
            principal.sub()
        )),
        Err(error) => fail(
            format!(
                "m4-auth rejects this token ({}): {}",
                error.code(),
                error.message()
            ),
            fix_for(error.code()),
        ),
    });
    checks
}

/// Every step, in order; later steps are skipped when an earlier one makes them meaningless.
fn diagnose(loaded: Result<Loaded, ConfigError>, now: i64) -> Report {
    let mut report = Report::default();
    let (checks, config) = config_checks(loaded);
    checks.into_iter().for_each(|c| report.push(c));
    let skip_rest = |report: &mut Report, why: &str| {
        for section in [DISCOVERY, JWKS, RATE_LIMIT, TOKEN, CREDENTIALS] {
            report.push(Check::new(section, Status::Skip, format!("skipped: {why}")));
        }
    };
    let Some(config) = config else {
        skip_rest(&mut report, "the configuration is invalid");
        return report;
    };
    if !config.enabled() {
        skip_rest(&mut report, "OAuth2 is disabled");
        return report;
    }
    let auth = match Authenticator::new(config.clone()) {
        Ok(auth) => auth,
        Err(error) => {
            report.push(
                Check::new(CONFIG, Status::Fail, error.to_string())
                    .fix("correct or unset the variable named above"),
            );
            skip_rest(&mut report, "the authenticator cannot be built");
            return report;
        }
    };
    let (checks, kids) = key_checks(&auth, &config);
    checks.into_iter().for_each(|c| report.push(c));
    report.push(rate_limit_check(&auth));
    token_checks(&auth, &config, kids.as_deref(), now)
        .into_iter()
        .for_each(|c| report.push(c));
    credential_checks(&auth, &config)
        .into_iter()
        .for_each(|c| report.push(c));
    report
}

pub(crate) fn run(args: &DoctorArgs) -> Result<ExitCode, Failure> {
    let report = diagnose(AuthConfig::from_env(), now_unix());
    let text = if args.json {
        format!("{}\n", report.json_text())
    } else {
        report.text(Style::stdout())
    };
    print!("{text}");
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
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

    /// The title of the one failed check that starts with `start`.
    #[track_caller]
    fn failed_title(checks: &[Check], start: &str) -> String {
        let found: Vec<&Check> = checks
            .iter()
            .filter(|c| c.title.starts_with(start))
            .collect();
        assert_eq!(found.len(), 1, "{start}: {:?}", verdicts(checks));
        assert_eq!(found[0].status, Status::Fail, "{}", found[0].title);
        assert!(found[0].fix.is_some());
        found[0].title.clone()
    }

    #[test]
    fn claims_of_the_wrong_type_fail_as_in_the_verifier() {
        // Even with every VALIDATE_* switch off the verifier refuses these (invalid_claims).
        let relaxed = AuthConfig::from_vars([
            ("M4_OAUTH2_ENABLED", "true"),
            ("M4_OAUTH2_ISSUER_URL", "https://idp.example.com/"),
            ("M4_OAUTH2_AUDIENCE", "m4-api"),
            ("M4_OAUTH2_VALIDATE_EXP", "false"),
            ("M4_OAUTH2_VALIDATE_AUD", "false"),
            ("M4_OAUTH2_VALIDATE_ISS", "false"),
        ])
        .unwrap()
        .config;
        let header = json!({"alg": "RS256", "kid": "k1"});
        for config in [config(), relaxed] {
            let check = |changes: Value, start: &str| {
                let mut claims = good_claims();
                for (k, v) in changes.as_object().unwrap() {
                    claims[k] = v.clone();
                }
                failed_title(
                    &token_claim_checks(&view(&header, &claims), &config, NOW),
                    start,
                )
            };
            assert_eq!(
                check(json!({"aud": ["m4-api", 5]}), "Token claim \"aud\""),
                "Token claim \"aud\" must be a string or an array of strings (this token has an array holding a number)"
            );
            assert_eq!(
                check(json!({"exp": "1795000000"}), "Token claim \"exp\""),
                "Token claim \"exp\" must be a number of seconds since the epoch (this token has a string)"
            );
            assert_eq!(
                check(json!({"nbf": "1"}), "Token claim \"nbf\""),
                "Token claim \"nbf\" must be a number of seconds since the epoch (this token has a string)"
            );
            assert_eq!(
                check(json!({"iss": 7}), "Token claim \"iss\""),
                "Token claim \"iss\" must be a string (this token has a number)"
            );
            assert_eq!(
                check(
                    json!({"scp": ["read:mimic-data", null]}),
                    "Token claim \"scp\""
                ),
                "Token claim \"scp\" must be a space-separated string or an array of strings (this token has an array holding null)"
            );
            assert_eq!(
                check(json!({"sub": ""}), "Token claim \"sub\""),
                "Token claim \"sub\" is empty"
            );
            assert_eq!(
                check(json!({"sub": {"id": 1}}), "Token claim \"sub\""),
                "Token claim \"sub\" must be a string (this token has an object)"
            );
        }
        let fix = |changes: Value| {
            let mut claims = good_claims();
            for (k, v) in changes.as_object().unwrap() {
                claims[k] = v.clone();
            }
            let checks = token_claim_checks(&view(&header, &claims), &config(), NOW);
            checks
                .into_iter()
                .find(|c| c.title.starts_with("Token claim"))
                .and_then(|c| c.fix)
                .unwrap()
        };
        assert!(fix(json!({"exp": "1795000000"})).contains("NumericDate"));
        assert!(fix(json!({"aud": ["m4-api", 5]})).contains("invalid_claims"));
    }

    /// A sub the verifier refuses (blank, a control character) and a token bound to a key
    /// (`cnf`) fail doctor's own check with the verifier's message and a fix: never ✓.
    #[test]
    fn subject_and_key_binding_are_checked_by_the_verifiers_rules() {
        use m4_auth::jwt::Error as VerifyError;

        let header = json!({"alg": "RS256", "kid": "k1"});
        let mut shown = String::new();
        for (label, changes, refusal) in [
            (
                "blank sub",
                json!({"sub": "  \u{3000}"}),
                VerifyError::BlankSubject,
            ),
            (
                "sub with an escape sequence",
                json!({"sub": "eve\u{1b}[31m"}),
                VerifyError::SubjectControlCharacter { found: '\u{1b}' },
            ),
            (
                "cnf.jkt (DPoP-bound)",
                json!({"cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}),
                VerifyError::SenderConstrained,
            ),
        ] {
            let mut claims = good_claims();
            for (k, v) in changes.as_object().unwrap() {
                claims[k] = v.clone();
            }
            let checks = token_claim_checks(&view(&header, &claims), &config(), NOW);
            let sub_passed = checks
                .iter()
                .any(|c| c.status == Status::Pass && c.title.starts_with("sub "));
            assert_eq!(
                sub_passed,
                refusal == VerifyError::SenderConstrained,
                "{label}: {:?}",
                verdicts(&checks)
            );
            let failed: Vec<&Check> = checks.iter().filter(|c| c.status == Status::Fail).collect();
            assert_eq!(failed.len(), 1, "{label}: {:?}", verdicts(&checks));
            assert_eq!(failed[0].title, refusal.to_string(), "{label}");
            assert!(
                failed[0]
                    .fix
                    .as_deref()
                    .is_some_and(|f| f.starts_with("m4-auth rejects it (invalid_claims): ")),
                "{label}: {:?}",
                failed[0].fix
            );
            // No raw control character of the sub in any title, detail or fix, JSON included.
            for c in &checks {
                let mut text = c.title.clone();
                text.push_str(c.fix.as_deref().unwrap_or_default());
                c.details.iter().for_each(|d| text.push_str(d));
                assert!(
                    c.status == Status::Info || !text.contains('\u{1b}'),
                    "{label}: {text:?}"
                );
            }
            let mut report = Report::default();
            report.push(failed[0].clone());
            shown.push_str(&format!("{label}:\n{}\n", report.text(Style::plain())));
        }
        insta::assert_snapshot!(shown);
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
