//! Terminal output: colour only on a terminal (and never with NO_COLOR), errors with causes.

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

/// Prints `error` and its causes to standard error.
pub(crate) fn print_error(error: &dyn std::error::Error) {
    eprintln!("m4-auth: error: {error}");
    let mut cause = error.source();
    while let Some(inner) = cause {
        eprintln!("  caused by: {inner}");
        cause = inner.source();
    }
}
