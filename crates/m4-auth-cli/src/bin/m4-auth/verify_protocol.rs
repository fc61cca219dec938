//! The `m4-auth verify` wire protocol (CONTRACT.md), independent of how tokens are checked:
//! JSON answer lines and the `--stdin --json` streaming loop.
//!
//! Accepted: `{"ok":true,"sub":"...","scopes":["..."]}`;
//! rejected: `{"ok":false,"code":"<code>","message":"<human message>"}`.
//! Field order is fixed by the structs below, whatever serde_json's map features.

use std::io::{self, BufRead, Write};

use serde::Serialize;

use crate::output::json_text;

/// The longest input line the stream judges, far above any acceptable token size. A longer
/// line is read to its end and dropped without being held, and answered `token_too_large`
/// here: it is never judged on a part, which could trim down to a valid token.
pub(crate) const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The outcome of checking one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The token is valid.
    Accepted {
        /// The `sub` claim.
        sub: String,
        /// The token's scopes.
        scopes: Vec<String>,
    },
    /// The token is refused.
    Rejected {
        /// A stable code from CONTRACT.md.
        code: String,
        /// The human message.
        message: String,
    },
}

#[derive(Serialize)]
struct AcceptedLine<'a> {
    ok: bool,
    sub: &'a str,
    scopes: &'a [String],
}

#[derive(Serialize)]
struct RejectedLine<'a> {
    ok: bool,
    code: &'a str,
    message: &'a str,
}

impl Verdict {
    /// The verdict as one JSON line (without the newline).
    pub(crate) fn json(&self) -> String {
        let line = match self {
            Verdict::Accepted { sub, scopes } => serde_json::to_string(&AcceptedLine {
                ok: true,
                sub,
                scopes,
            }),
            Verdict::Rejected { code, message } => serde_json::to_string(&RejectedLine {
                ok: false,
                code,
                message,
            }),
        };
        // Serialising strings and a slice of strings cannot fail. The `sub` and scopes are the
        // token's, so what serde_json leaves raw and a terminal or a line reader would act on
        // (line separators, invisible and bidirectional-text characters) is escaped too.
        json_text(line.unwrap_or_default())
    }
}

/// One input line as read by [`read_line`].
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The whole line, without its `\n` or `\r\n`.
    Whole(String),
    /// A line longer than [`MAX_LINE_BYTES`] (its content dropped).
    TooLong,
}

/// Reads one line, holding at most [`MAX_LINE_BYTES`] (plus a `\r`) of it. `None` at the end
/// of input.
fn read_line(input: &mut impl BufRead) -> io::Result<Option<Line>> {
    // Room for the longest line judged and the `\r` of a `\r\n` ending.
    const KEEP: usize = MAX_LINE_BYTES + 1;
    let mut line = Vec::new();
    let mut seen_any = false;
    let mut too_long = false;
    loop {
        let buffer = input.fill_buf()?;
        if buffer.is_empty() {
            break;
        }
        seen_any = true;
        let (chunk, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (buffer.get(..end).unwrap_or_default(), Some(end + 1)),
            None => (buffer, None),
        };
        let room = KEEP.saturating_sub(line.len());
        too_long |= chunk.len() > room;
        line.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        let used = done.unwrap_or(buffer.len());
        input.consume(used);
        if done.is_some() {
            break;
        }
    }
    if !seen_any {
        return Ok(None);
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if too_long || line.len() > MAX_LINE_BYTES {
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(Line::Whole(
        String::from_utf8_lossy(&line).into_owned(),
    )))
}

/// The answer to a line longer than [`MAX_LINE_BYTES`].
fn too_long() -> Verdict {
    Verdict::Rejected {
        code: "token_too_large".to_owned(),
        message: format!(
            "Line is longer than {MAX_LINE_BYTES} bytes, far beyond any access token: send one token per line"
        ),
    }
}

/// The streaming loop: for each input line as it arrives, `check` it and write its answer
/// line, flushed at once. Returns the number of lines answered.
pub(crate) fn stream(
    mut input: impl BufRead,
    mut output: impl Write,
    mut check: impl FnMut(&str) -> Verdict,
) -> io::Result<u64> {
    let mut answered = 0;
    while let Some(line) = read_line(&mut input)? {
        let verdict = match line {
            Line::Whole(text) => check(&text),
            Line::TooLong => too_long(),
        };
        let mut answer = verdict.json();
        answer.push('\n');
        output.write_all(answer.as_bytes())?;
        output.flush()?;
        answered += 1;
    }
    Ok(answered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn accept(token: &str) -> Verdict {
        if token.starts_with("good") {
            Verdict::Accepted {
                sub: token.to_owned(),
                scopes: vec!["read:mimic-data".into()],
            }
        } else {
            Verdict::Rejected {
                code: "malformed_token".into(),
                message: format!("bad: {}", token.len()),
            }
        }
    }

    #[test]
    fn answers_have_the_contract_shape_and_field_order() {
        let accepted = Verdict::Accepted {
            sub: "alice".into(),
            scopes: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            accepted.json(),
            r#"{"ok":true,"sub":"alice","scopes":["a","b"]}"#
        );
        let rejected = Verdict::Rejected {
            code: "token_expired".into(),
            message: "Token has expired".into(),
        };
        assert_eq!(
            rejected.json(),
            r#"{"ok":false,"code":"token_expired","message":"Token has expired"}"#
        );
        let quoted = Verdict::Accepted {
            sub: "a\"b\n".into(),
            scopes: Vec::new(),
        };
        assert_eq!(quoted.json(), r#"{"ok":true,"sub":"a\"b\n","scopes":[]}"#);
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        let accepted = Verdict::Accepted {
            sub: "a\u{2028}b\u{2029}c\u{85}d".into(),
            scopes: vec!["s\u{2029}".into()],
        };
        let line = accepted.json();
        assert_eq!(
            line,
            "{\"ok\":true,\"sub\":\"a\\u2028b\\u2029c\\u0085d\",\"scopes\":[\"s\\u2029\"]}"
        );
        // The escapes decode to the same strings, and the line no longer splits.
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["sub"], "a\u{2028}b\u{2029}c\u{85}d");
        assert_eq!(parsed["scopes"][0], "s\u{2029}");
        assert!(!line.contains(['\u{2028}', '\u{2029}', '\u{85}']));
        let rejected = Verdict::Rejected {
            code: "unknown_kid".into(),
            message: "No signing key with kid \"\u{2028}\"".into(),
        };
        assert_eq!(
            rejected.json(),
            r#"{"ok":false,"code":"unknown_kid","message":"No signing key with kid \"\u2028\""}"#
        );
    }

    /// Bidirectional-text, zero-width and tag characters (doctor's rule, the shared
    /// `output::json_text`): escaped, a character above U+FFFF as its UTF-16 surrogate pair,
    /// and decoded back to the same `sub`.
    #[test]
    fn invisible_and_bidi_characters_are_escaped() {
        let sub = "admin\u{202e}txt\u{200b}\u{2066}\u{feff}\u{e0041}";
        let accepted = Verdict::Accepted {
            sub: sub.into(),
            scopes: vec!["read\u{200d}".into()],
        };
        let line = accepted.json();
        assert_eq!(
            line,
            r#"{"ok":true,"sub":"admin\u202etxt\u200b\u2066\ufeff\udb40\udc41","scopes":["read\u200d"]}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["sub"], sub);
        assert_eq!(parsed["scopes"][0], "read\u{200d}");
        assert!(line.is_ascii(), "{line:?}");
        let plain = Verdict::Accepted {
            sub: "alice é ✓ 日本".into(),
            scopes: Vec::new(),
        };
        assert_eq!(
            plain.json(),
            r#"{"ok":true,"sub":"alice é ✓ 日本","scopes":[]}"#
        );
    }

    #[track_caller]
    fn check_stream(input: &[u8], expected: &[&str]) {
        let mut out = Vec::new();
        let mut seen = Vec::new();
        let n = stream(input, &mut out, |t| {
            seen.push(t.to_owned());
            accept(t)
        })
        .unwrap();
        let lines: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(n as usize, lines.len());
        assert_eq!(seen.len(), expected.len(), "{seen:?}");
        assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(expected) {
            assert_eq!(line, want);
        }
    }

    #[test]
    fn one_answer_per_line_in_order() {
        let good = r#"{"ok":true,"sub":"good1","scopes":["read:mimic-data"]}"#;
        let bad0 = r#"{"ok":false,"code":"malformed_token","message":"bad: 0"}"#;
        let bad3 = r#"{"ok":false,"code":"malformed_token","message":"bad: 3"}"#;
        check_stream(b"", &[]);
        check_stream(b"good1\n", &[good]);
        check_stream(b"good1", &[good]); // no final newline
        check_stream(b"good1\r\nxyz\n\ngood1\n", &[good, bad3, bad0, good]);
        check_stream(b"\n", &[bad0]);
    }

    #[test]
    fn long_lines_are_refused_not_held_and_the_next_line_is_intact() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\ngood2\n");
        let mut lengths = Vec::new();
        let mut out = Vec::new();
        stream(&input[..], &mut out, |t| {
            lengths.push(t.len());
            accept(t)
        })
        .unwrap();
        assert_eq!(lengths, [5], "the long line never reaches the check");
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with(r#"{"ok":false,"code":"token_too_large","message":"Line is longer than 1048576 bytes"#),
            "{}",
            lines[0]
        );
        assert!(lines[1].starts_with(r#"{"ok":true"#));
    }

    #[test]
    fn a_long_line_is_never_judged_on_its_first_part() {
        // A good token, then blanks past the limit, then more: trimming the kept part would
        // leave the good token alone.
        let mut input = b"good1".to_vec();
        input.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES));
        input.extend_from_slice(b"extra\n");
        let mut seen = Vec::new();
        let mut out = Vec::new();
        stream(&input[..], &mut out, |t| {
            seen.push(t.to_owned());
            accept(t)
        })
        .unwrap();
        assert!(seen.is_empty());
        assert!(String::from_utf8(out).unwrap().contains("token_too_large"));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_judged_whole() {
        for ending in [&b"\n"[..], b"\r\n", b""] {
            let mut input = vec![b'x'; MAX_LINE_BYTES];
            input.extend_from_slice(ending);
            assert_eq!(
                read_line(&mut &input[..]).unwrap(),
                Some(Line::Whole("x".repeat(MAX_LINE_BYTES))),
                "{ending:?}"
            );
            let mut longer = vec![b'x'; MAX_LINE_BYTES + 1];
            longer.extend_from_slice(ending);
            assert_eq!(read_line(&mut &longer[..]).unwrap(), Some(Line::TooLong));
        }
    }

    #[test]
    fn invalid_utf8_is_still_answered() {
        let mut out = Vec::new();
        let n = stream(&b"\xff\xfe\n"[..], &mut out, accept).unwrap();
        assert_eq!(n, 1);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with(r#"{"ok":false"#)
        );
    }

    /// Input that hands out one line per read and checks that every answer so far was
    /// flushed before it gives the next one: lines are handled as they arrive.
    struct Lines {
        pending: Vec<&'static [u8]>,
        current: &'static [u8],
        flushed: Rc<RefCell<Vec<String>>>,
        served: usize,
    }

    impl io::Read for Lines {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            unreachable!("stream reads through BufRead")
        }
    }

    impl BufRead for Lines {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            if self.current.is_empty() && !self.pending.is_empty() {
                // Before handing out line n, answers 0..n must have been flushed.
                assert_eq!(
                    self.flushed.borrow().len(),
                    self.served,
                    "answer not flushed yet"
                );
                self.current = self.pending.remove(0);
                self.served += 1;
            }
            Ok(self.current)
        }
        fn consume(&mut self, amount: usize) {
            self.current = self.current.get(amount..).unwrap_or_default();
        }
    }

    struct Recorder {
        buffer: Vec<u8>,
        flushed: Rc<RefCell<Vec<String>>>,
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            let text = String::from_utf8(std::mem::take(&mut self.buffer)).unwrap();
            self.flushed
                .borrow_mut()
                .extend(text.lines().map(str::to_owned));
            Ok(())
        }
    }

    #[test]
    fn every_answer_is_flushed_before_the_next_line_is_read() {
        let flushed = Rc::new(RefCell::new(Vec::new()));
        let input = Lines {
            pending: vec![b"good1\n", b"bad\n", b"good2\n"],
            current: b"",
            flushed: Rc::clone(&flushed),
            served: 0,
        };
        let output = Recorder {
            buffer: Vec::new(),
            flushed: Rc::clone(&flushed),
        };
        assert_eq!(stream(input, output, accept).unwrap(), 3);
        assert_eq!(flushed.borrow().len(), 3);
    }

    #[test]
    fn a_closed_output_stops_the_stream_with_an_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = stream(&b"good\ngood\n"[..], Closed, accept).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
