//! Terminal output: colour only on a terminal (and never with NO_COLOR), errors with causes,
//! and the one rule for untrusted text (a token's claims, a JWKS's kids) in what is printed:
//! [`unsafe_char`], applied by [`inert`] to text and by [`json_text`] to JSON.

use std::borrow::Cow;
use std::io::IsTerminal;

/// Whether to colour what goes to standard output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    color: bool,
}

impl Style {
    /// Colour when standard output is a terminal and NO_COLOR is unset or empty.
    pub(crate) fn stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
        }
    }

    /// No colour at all.
    #[cfg(test)]
    pub(crate) fn plain() -> Style {
        Style { color: false }
    }

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Green.
    pub(crate) fn good(self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red.
    pub(crate) fn bad(self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Bold.
    pub(crate) fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Yellow.
    pub(crate) fn warn(self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Dimmed.
    pub(crate) fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// A character never printed as is, because it can drive a terminal, break a line or make
/// text read as other text:
/// - the control characters ([`char::is_control`]: C0, DEL and C1, U+0085 NEXT LINE and the
///   CSI U+009B included): escape sequences, carriage returns, line feeds;
/// - U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR, which some line-oriented readers
///   break a line on (Python's `str.splitlines`, JavaScript before ES2019);
/// - the invisible characters Unicode calls default-ignorable: bidirectional-text controls
///   (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069), which reorder what follows
///   (`admin\u{202e}txt.exe`), and zero-width and other invisible ones (U+00AD soft hyphen,
///   U+200B to U+200D, U+2060 word joiner and the invisible operators, U+FEFF, the variation
///   selectors, the Hangul fillers, the tag characters U+E0000 to U+E0FFF...), which make two
///   different values look the same; also U+FFF9 to U+FFFB (interlinear annotation).
///
/// The verifier refuses only control characters in `sub` (such a value is odd, not forged), so
/// output is where the rest is made visible.
pub(crate) fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{17b4}'
                | '\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{206f}'
                | '\u{3164}'
                | '\u{fe00}'..='\u{fe0f}'
                | '\u{feff}'
                | '\u{ffa0}'
                | '\u{fff0}'..='\u{fffb}'
                | '\u{1bca0}'..='\u{1bca3}'
                | '\u{1d173}'..='\u{1d17a}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

/// `text` safe to print on a terminal: each [`unsafe_char`] is shown as its Rust escape
/// (`\u{202e}`, `\r`), never interpreted, so untrusted text can neither forge nor hide a line.
pub(crate) fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `json` (serde_json's output) safe to print on a terminal and to read line by line:
/// serde_json escapes only the C0 control characters, so each other [`unsafe_char`] is written
/// as a `\uXXXX` escape (a UTF-16 surrogate pair above U+FFFF), which any JSON parser decodes
/// back to the same character. serde_json's output holds such characters only inside strings,
/// where an escape stands for the character itself.
pub(crate) fn json_text(json: String) -> String {
    if !json.chars().any(unsafe_char) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints `error` and its causes to standard error.
/// Prints each warning on standard error, as `m4-auth: warning: ...`: the configuration's,
/// and those the libraries return (they also log them with `tracing`, which this program does
/// not print).
pub(crate) fn warn<S: std::fmt::Display>(warnings: impl IntoIterator<Item = S>) {
    for warning in warnings {
        eprintln!("m4-auth: warning: {warning}");
    }
}

pub(crate) fn print_error(error: &dyn std::error::Error) {
    eprintln!("m4-auth: error: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        eprintln!("  caused by: {inner}");
        cause = inner.source();
    }
}
