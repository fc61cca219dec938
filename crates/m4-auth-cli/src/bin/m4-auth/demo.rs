//! `m4-auth demo`: a scripted tour against an in-process dev issuer, no identity provider
//! needed. Exits 0 only if every verdict is the expected one.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use m4_auth::{AuthConfig, Authenticator};
use m4_auth_token::{TokenClient, TokenOptions};
use m4_dev_issuer::{
    DEFAULT_AUDIENCE, DEFAULT_CLIENT_SECRET, DEFAULT_CONFIDENTIAL_CLIENT_ID, DEFAULT_SCOPE,
    DevIssuer, DevIssuerOptions, KidOverride, MintRequest, OldKeys, SigningAlg,
};
use serde_json::{Value, json};

use crate::output::Style;
use crate::verify::verdict;
use crate::verify_protocol::Verdict;
use crate::{DemoArgs, Failure};

/// Requests per window in the demo, so the limit is reached in a few calls.
const RATE_LIMIT: u32 = 3;

/// What a scene should produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// Accepted, for this subject.
    Accepted(String),
    /// Rejected with this code and exactly this message.
    Rejected(&'static str, String),
    /// Rejected with this code and a message starting with this text.
    RejectedPrefix(&'static str, &'static str),
}

impl Expected {
    fn matches(&self, got: &Verdict) -> bool {
        match (self, got) {
            (Expected::Accepted(want), Verdict::Accepted { sub, .. }) => want == sub,
            (Expected::Rejected(want_code, want), Verdict::Rejected { code, message }) => {
                want_code == code && want == message
            }
            (Expected::RejectedPrefix(want_code, prefix), Verdict::Rejected { code, message }) => {
                want_code == code && message.starts_with(prefix)
            }
            _ => false,
        }
    }

    fn text(&self) -> String {
        match self {
            Expected::Accepted(sub) => format!("accepted: {sub}"),
            Expected::Rejected(code, message) => format!("{code}: {message}"),
            Expected::RejectedPrefix(code, prefix) => format!("{code}: {prefix}..."),
        }
    }

    fn json(&self) -> Value {
        match self {
            Expected::Accepted(sub) => json!({"ok": true, "sub": sub}),
            Expected::Rejected(code, message) => {
                json!({"ok": false, "code": code, "message": message})
            }
            Expected::RejectedPrefix(code, prefix) => {
                json!({"ok": false, "code": code, "message_starts_with": prefix})
            }
        }
    }
}

fn got_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Accepted { sub, .. } => format!("accepted: {sub}"),
        Verdict::Rejected { code, message } => format!("{code}: {message}"),
    }
}

/// One scene's result.
#[derive(Debug)]
struct Outcome {
    scene: String,
    expected: Expected,
    got: Verdict,
    took: Duration,
}

impl Outcome {
    fn pass(&self) -> bool {
        self.expected.matches(&self.got)
    }
}

/// The tour: an issuer, an authenticator pointed at it, and the scenes run in order.
struct Tour {
    issuer: DevIssuer,
    auth: Authenticator,
    outcomes: Vec<Outcome>,
    notes: Vec<String>,
}

fn mint(issuer: &DevIssuer, request: &MintRequest) -> Result<String, Failure> {
    issuer.mint(request).map_err(Failure::failed)
}

/// A token from the issuer's token endpoint through m4-auth-token, the way `m4-auth token`
/// gets one with `M4_OAUTH2_CLIENT_ID` / `M4_OAUTH2_CLIENT_SECRET` (the dev issuer's published
/// test client).
fn client_credentials_token(issuer: &DevIssuer) -> Result<String, Failure> {
    // The client credentials grant never reads or writes the credentials file.
    let unused = std::env::temp_dir().join("m4-auth-demo-credentials-unused.json");
    // The endpoints given explicitly (no discovery), so the footer's discovery count stays
    // the verifier's own.
    let options = TokenOptions::new(issuer.issuer_url(), unused)
        .token_endpoint(issuer.token_endpoint())
        .device_authorization_endpoint(issuer.device_authorization_endpoint())
        .revocation_endpoint(issuer.revocation_endpoint())
        .audience(DEFAULT_AUDIENCE)
        .scopes([DEFAULT_SCOPE])
        .client_id(DEFAULT_CONFIDENTIAL_CLIENT_ID)
        .client_secret(m4_auth_config::Secret::new(DEFAULT_CLIENT_SECRET));
    let answer = TokenClient::new(options)
        .client_credentials()
        .map_err(Failure::failed)?;
    Ok(answer.access_token.expose_secret().to_owned())
}

fn who(sub: &str) -> MintRequest {
    MintRequest {
        sub: sub.to_owned(),
        ..MintRequest::default()
    }
}

impl Tour {
    fn scene(&mut self, scene: &str, token: &str, expected: Expected) {
        let started = Instant::now();
        let result = self.auth.authenticate(token);
        let took = started.elapsed();
        self.outcomes.push(Outcome {
            scene: scene.to_owned(),
            expected,
            got: verdict(&result),
            took,
        });
    }

    fn run(&mut self) -> Result<(), Failure> {
        let issuer = &self.issuer;
        let rs256 = mint(issuer, &who("alice"))?;
        let first_rs256_kid = issuer.kid(SigningAlg::Rs256).map_err(Failure::failed)?;
        let es256 = mint(
            issuer,
            &MintRequest {
                alg: SigningAlg::Es256,
                ..who("bob")
            },
        )?;
        let expired = mint(
            issuer,
            &MintRequest {
                ttl: -3600,
                ..who("carol")
            },
        )?;
        let other_api = mint(
            issuer,
            &MintRequest {
                audience: Some("billing-api".into()),
                ..who("dave")
            },
        )?;
        let no_scope = mint(
            issuer,
            &MintRequest {
                scopes: vec!["write:notes".into()],
                ..who("erin")
            },
        )?;
        let service = client_credentials_token(issuer)?;
        let tampered = tamper(&mint(issuer, &who("frank"))?, "admin")?;
        let rogue = mint(
            issuer,
            &MintRequest {
                kid: KidOverride::Named("rogue-key".into()),
                ..who("gina")
            },
        )?;

        self.scene(
            "valid RS256 token",
            &rs256,
            Expected::Accepted("alice".into()),
        );
        self.scene(
            "valid ES256 token",
            &es256,
            Expected::Accepted("bob".into()),
        );
        self.scene(
            "obtained with client credentials (token endpoint)",
            &service,
            Expected::Accepted(DEFAULT_CONFIDENTIAL_CLIENT_ID.into()),
        );
        self.scene(
            "no token at all",
            "",
            Expected::Rejected("missing_token", "Missing OAuth2 access token".into()),
        );
        self.scene(
            "expired an hour ago",
            &expired,
            Expected::Rejected("token_expired", "Token has expired".into()),
        );
        self.scene(
            "issued for another API (aud billing-api)",
            &other_api,
            Expected::Rejected(
                "invalid_audience",
                "Token audience does not include \"m4-api\"".into(),
            ),
        );
        self.scene(
            "lacks read:mimic-data (scope write:notes)",
            &no_scope,
            Expected::Rejected(
                "missing_scopes",
                "Missing required scopes: read:mimic-data".into(),
            ),
        );
        self.scene(
            "payload tampered (sub frank -> admin)",
            &tampered,
            Expected::Rejected("invalid_signature", "Invalid token signature".into()),
        );
        self.scene(
            "signed under an unknown kid",
            &rogue,
            Expected::Rejected(
                "unknown_kid",
                "No signing key with kid \"rogue-key\"".into(),
            ),
        );

        // Rotation: new keys, the old ones withdrawn at once. The first token with the new kid
        // makes the cache refetch the JWKS (after the refresh cooldown, 1 s here).
        let new_kids = self
            .issuer
            .rotate(OldKeys::Remove)
            .map_err(Failure::failed)?;
        let cooldown = Duration::from_millis(1100);
        self.notes.push(format!(
            "rotated the issuer's keys (new: {}; old ones removed) and waited {} ms for the refresh cooldown",
            new_kids.join(", "),
            cooldown.as_millis()
        ));
        // Progress only on a terminal: scripts reading stdout/stderr see nothing extra.
        if std::io::stderr().is_terminal() {
            eprint!("rotating the issuer's keys; waiting out the 1 s refresh cooldown...\r");
        }
        std::thread::sleep(cooldown);
        if std::io::stderr().is_terminal() {
            eprint!("{:70}\r", "");
        }
        let after_rotation = mint(&self.issuer, &who("hank"))?;
        self.scene(
            "new key after a rotation",
            &after_rotation,
            Expected::Accepted("hank".into()),
        );
        self.scene(
            "old key after the rotation (alice again)",
            &rs256,
            Expected::Rejected(
                "unknown_kid",
                format!("No signing key with kid \"{first_rs256_kid}\""),
            ),
        );

        let busy = mint(&self.issuer, &who("ivy"))?;
        for n in 1..=RATE_LIMIT {
            self.scene(
                &format!("rate limit: request {n} of {RATE_LIMIT}"),
                &busy,
                Expected::Accepted("ivy".into()),
            );
        }
        self.scene(
            &format!("rate limit: request {}", RATE_LIMIT + 1),
            &busy,
            Expected::RejectedPrefix("rate_limited", "Rate limit exceeded"),
        );
        Ok(())
    }
}

/// `token` with its payload's `sub` replaced, the signature kept: a forgery attempt.
fn tamper(token: &str, sub: &str) -> Result<String, Failure> {
    let broken = || Failure::failed("the dev issuer minted a token that is not a JWT");
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(broken());
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| broken())?;
    let mut claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| broken())?;
    claims.insert("sub".to_owned(), Value::String(sub.to_owned()));
    let forged = URL_SAFE_NO_PAD.encode(Value::Object(claims).to_string());
    Ok(format!("{header}.{forged}.{signature}"))
}

fn settings(issuer: &DevIssuer) -> Vec<(String, String)> {
    let mut settings = issuer.env();
    settings.push((
        "M4_OAUTH2_RATE_LIMIT_REQUESTS".into(),
        RATE_LIMIT.to_string(),
    ));
    settings.push(("M4_OAUTH2_JWKS_REFRESH_COOLDOWN".into(), "1".into()));
    settings
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn table(tour: &Tour, settings: &[(String, String)], style: Style) -> String {
    let mut out = format!(
        "{}\n  dev issuer (test-only, in this process): {}\n  settings, as you would export them:\n",
        style.bold("m4-auth demo"),
        tour.issuer.issuer_url()
    );
    for (name, value) in settings {
        out.push_str(&format!("    {name}={value}\n"));
    }
    out.push('\n');
    let width = tour
        .outcomes
        .iter()
        .map(|o| o.scene.chars().count())
        .max()
        .unwrap_or(10);
    out.push_str(&style.bold(&format!(
        "  {:>2}  {:<width$}  {:>10}  verdict",
        "#", "scene", "time"
    )));
    out.push('\n');
    for (n, outcome) in tour.outcomes.iter().enumerate() {
        let mark = if outcome.pass() {
            style.good("✓")
        } else {
            style.bad("✗")
        };
        out.push_str(&format!(
            "  {:>2}  {:<width$}  {:>10}  {mark} {}",
            n + 1,
            outcome.scene,
            millis(outcome.took),
            got_text(&outcome.got),
        ));
        if !outcome.pass() {
            out.push_str(&style.bad(&format!("  (expected {})", outcome.expected.text())));
        }
        out.push('\n');
    }
    out.push('\n');
    for note in &tour.notes {
        out.push_str(&format!("  note: {note}\n"));
    }
    let passed = tour.outcomes.iter().filter(|o| o.pass()).count();
    let total = tour.outcomes.len();
    out.push_str(&format!(
        "  the issuer served discovery {} time(s) and the JWKS {} time(s)\n\n",
        tour.issuer.served("/.well-known/openid-configuration"),
        tour.issuer.served("/jwks.json"),
    ));
    out.push_str(&if passed == total {
        style.good(&format!("{passed}/{total} verdicts as expected."))
    } else {
        style.bad(&format!(
            "{passed}/{total} verdicts as expected: {} differ.",
            total - passed
        ))
    });
    out.push('\n');
    out
}

fn report_json(tour: &Tour) -> Value {
    let scenes: Vec<Value> = tour
        .outcomes
        .iter()
        .map(|o| {
            json!({
                "scene": o.scene,
                "expected": o.expected.json(),
                "actual": serde_json::from_str::<Value>(&o.got.json()).unwrap_or(Value::Null),
                "millis": o.took.as_secs_f64() * 1000.0,
                "pass": o.pass(),
            })
        })
        .collect();
    json!({
        "ok": tour.outcomes.iter().all(Outcome::pass),
        "issuer": tour.issuer.issuer_url(),
        "scenes": scenes,
        "notes": tour.notes,
        "discovery_requests": tour.issuer.served("/.well-known/openid-configuration"),
        "jwks_requests": tour.issuer.served("/jwks.json"),
    })
}

pub(crate) fn run(args: &DemoArgs) -> Result<ExitCode, Failure> {
    let issuer = DevIssuer::start(DevIssuerOptions::default()).map_err(Failure::failed)?;
    let settings = settings(&issuer);
    let config = AuthConfig::from_vars(settings.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(Failure::failed)?
        .config;
    let auth = Authenticator::new(config).map_err(Failure::failed)?;
    let mut tour = Tour {
        issuer,
        auth,
        outcomes: Vec::new(),
        notes: Vec::new(),
    };
    tour.run()?;
    let text = if args.json {
        format!("{}\n", report_json(&tour))
    } else {
        table(&tour, &settings, Style::stdout())
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Failure::failed)?;
    let all_passed = tour.outcomes.iter().all(Outcome::pass);
    tour.issuer.shutdown();
    Ok(if all_passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_match_code_and_message_exactly() {
        let rejected = |code: &str, message: &str| Verdict::Rejected {
            code: code.into(),
            message: message.into(),
        };
        let expired = Expected::Rejected("token_expired", "Token has expired".into());
        assert!(expired.matches(&rejected("token_expired", "Token has expired")));
        assert!(!expired.matches(&rejected("token_expired", "Token has expired!")));
        assert!(!expired.matches(&rejected("invalid_claims", "Token has expired")));
        let limited = Expected::RejectedPrefix("rate_limited", "Rate limit exceeded");
        assert!(limited.matches(&rejected(
            "rate_limited",
            "Rate limit exceeded: retry after 9 s"
        )));
        assert!(!limited.matches(&rejected("rate_limited", "Slow down")));
        let alice = Expected::Accepted("alice".into());
        assert!(alice.matches(&Verdict::Accepted {
            sub: "alice".into(),
            scopes: vec![]
        }));
        assert!(!alice.matches(&Verdict::Accepted {
            sub: "bob".into(),
            scopes: vec![]
        }));
        assert!(!alice.matches(&rejected("token_expired", "Token has expired")));
    }

    #[test]
    fn tampering_changes_the_payload_and_keeps_the_signature() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"sub":"frank","exp":5}"#);
        let forged = tamper(&format!("{header}.{payload}.c2ln"), "admin").unwrap();
        let parts: Vec<&str> = forged.split('.').collect();
        assert_eq!(parts[0], header);
        assert_eq!(parts[2], "c2ln");
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims, json!({"sub": "admin", "exp": 5}));
        assert!(tamper("not-a-jwt", "admin").is_err());
    }
}
