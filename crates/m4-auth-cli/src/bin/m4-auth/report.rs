//! A list of checks with ✓/✗ verdicts and fixes, printed as text or JSON (`doctor`).

use serde::Serialize;
use serde_json::Value;

use crate::output::{Style, inert, json_text};

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    /// Fine.
    Pass,
    /// Broken: the report fails.
    Fail,
    /// Works, but the operator should know.
    Warn,
    /// Not run because an earlier check failed or it does not apply.
    Skip,
    /// Information only (decoded header, claims).
    Info,
}

impl Status {
    fn mark(self, style: Style) -> String {
        match self {
            Status::Pass => style.good("✓"),
            Status::Fail => style.bad("✗"),
            Status::Warn => style.warn("!"),
            Status::Skip => style.dim("-"),
            Status::Info => style.dim("·"),
        }
    }
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Check {
    /// The step it belongs to (`configuration`, `discovery`, `jwks`, `rate-limit`, `token`).
    pub(crate) section: &'static str,
    /// The verdict.
    pub(crate) status: Status,
    /// One line saying what was checked and found.
    pub(crate) title: String,
    /// More lines (values, keys, problems).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) details: Vec<String>,
    /// What to do about a failure or warning.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fix: Option<String>,
}

impl Check {
    /// A check with no details and no fix.
    pub(crate) fn new(section: &'static str, status: Status, title: impl Into<String>) -> Check {
        Check {
            section,
            status,
            title: title.into(),
            details: Vec::new(),
            fix: None,
        }
    }

    /// Adds detail lines.
    pub(crate) fn details(mut self, details: impl IntoIterator<Item = String>) -> Check {
        self.details.extend(details);
        self
    }

    /// Sets the fix.
    pub(crate) fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// The checks, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Report {
    /// Every check made.
    pub(crate) checks: Vec<Check>,
}

impl Report {
    /// Adds a check.
    pub(crate) fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    /// Whether any check failed.
    pub(crate) fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.status == Status::Fail)
    }

    fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The report as text: a heading per section, a mark per check, fixes indented.
    pub(crate) fn text(&self, style: Style) -> String {
        let mut out = String::new();
        let mut section = "";
        for check in &self.checks {
            if check.section != section {
                section = check.section;
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&style.bold(&heading(section)));
                out.push('\n');
            }
            out.push_str(&format!(
                "  {} {}\n",
                check.status.mark(style),
                inert(&check.title)
            ));
            for line in &check.details {
                out.push_str(&format!("      {}\n", inert(line)));
            }
            if let Some(fix) = &check.fix {
                out.push_str(&format!("      {} {}\n", style.bold("fix:"), inert(fix)));
            }
        }
        let (failed, warned) = (self.count(Status::Fail), self.count(Status::Warn));
        out.push('\n');
        out.push_str(&if failed == 0 {
            style.good(&format!("All checks passed ({warned} warning(s))."))
        } else {
            style.bad(&format!("{failed} check(s) failed, {warned} warning(s)."))
        });
        out.push('\n');
        out
    }

    /// The report as JSON: `{"ok": bool, "checks": [...]}`.
    pub(crate) fn json(&self) -> Value {
        serde_json::json!({ "ok": !self.failed(), "checks": self.checks })
    }

    /// [`Report::json`] as text safe to print on a terminal: titles and details quote untrusted
    /// text (a token's `kid`, `iss` and `sub`, a JWKS's kids), and serde_json escapes only the
    /// C0 control characters, so DEL, the C1 controls (U+0085, the CSI U+009B...), the line and
    /// paragraph separators and the invisible and bidirectional-text characters a token's
    /// claims may hold are written as `\uXXXX` escapes ([`json_text`], the rule `m4-auth verify
    /// --json` follows too), which any JSON parser decodes back to the same characters.
    pub(crate) fn json_text(&self) -> String {
        json_text(self.json().to_string())
    }
}

fn heading(section: &str) -> String {
    match section {
        "configuration" => "Configuration (M4_OAUTH2_*)".to_owned(),
        "discovery" => "OIDC discovery".to_owned(),
        "jwks" => "JWKS".to_owned(),
        "rate-limit" => "Rate-limit backend (M4_OAUTH2_RATE_LIMIT_BACKEND)".to_owned(),
        "token" => "Token (M4_OAUTH2_TOKEN)".to_owned(),
        "credentials" => "Credentials for the stdio path (docs/credentials.md)".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::unsafe_char;

    fn sample() -> Report {
        let mut report = Report::default();
        report.push(Check::new(
            "configuration",
            Status::Pass,
            "settings are valid",
        ));
        report.push(
            Check::new(
                "configuration",
                Status::Warn,
                "M4_OAUTH2_VALIDATE_AUD=false",
            )
            .fix("unset it"),
        );
        report.push(
            Check::new("token", Status::Fail, "expired 3m ago")
                .details(["exp 1000".to_owned()])
                .fix("Request a fresh token from your OAuth2 provider"),
        );
        report
    }

    #[test]
    fn text_groups_by_section_and_counts() {
        let text = sample().text(Style::plain());
        assert_eq!(
            text,
            "Configuration (M4_OAUTH2_*)\n  ✓ settings are valid\n  ! M4_OAUTH2_VALIDATE_AUD=false\n      fix: unset it\n\nToken (M4_OAUTH2_TOKEN)\n  ✗ expired 3m ago\n      exp 1000\n      fix: Request a fresh token from your OAuth2 provider\n\n1 check(s) failed, 1 warning(s).\n"
        );
        assert!(sample().failed());
    }

    #[test]
    fn untrusted_text_cannot_drive_the_terminal_or_forge_lines() {
        let mut report = Report::default();
        report.push(
            Check::new("token", Status::Pass, "sub eve\u{1b}[1K\rroot")
                .details(["kid k\u{1b}]0;t\u{7}".to_owned()])
                .fix("set X=a\n  \u{2713} forged \u{202e}txt"),
        );
        let text = report.text(Style::plain());
        assert_eq!(
            text,
            "Token (M4_OAUTH2_TOKEN)\n  \u{2713} sub eve\\u{1b}[1K\\rroot\n      kid k\\u{1b}]0;t\\u{7}\n      fix: set X=a\\n  \u{2713} forged \\u{202e}txt\n\nAll checks passed (0 warning(s)).\n"
        );
        assert_eq!(inert("plain text, é ✓"), "plain text, é ✓");
    }

    #[test]
    fn the_json_text_escapes_what_serde_json_leaves_raw() {
        let title = "claims  {\"sub\":\"eve\u{9b}31m\u{85}\u{7f}\u{202e}x\u{1b}\u{200b}\u{2028}\"}";
        let mut report = Report::default();
        report.push(Check::new("token", Status::Info, title));
        let text = report.json_text();
        assert!(!text.chars().any(unsafe_char), "{text:?}");
        assert!(
            text.contains(r#"eve\u009b31m\u0085\u007f\u202ex\u001b\u200b\u2028"#),
            "{text}"
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed, report.json());
        assert_eq!(sample().json_text(), sample().json().to_string());
    }

    #[test]
    fn json_says_ok_and_lists_every_check() {
        let json = sample().json();
        assert_eq!(json["ok"], false);
        assert_eq!(
            json["checks"][0],
            serde_json::json!({"section": "configuration", "status": "pass", "title": "settings are valid"})
        );
        assert_eq!(
            json["checks"][2]["details"],
            serde_json::json!(["exp 1000"])
        );
        let mut passing = Report::default();
        passing.push(Check::new("jwks", Status::Pass, "2 keys"));
        assert_eq!(passing.json()["ok"], true);
        assert!(
            passing
                .text(Style::plain())
                .ends_with("All checks passed (0 warning(s)).\n")
        );
    }
}
