//! The `m4-auth verify` wire protocol (CONTRACT.md), independent of how tokens are checked:
//! JSON answer lines and the `--stdin --json` streaming loop.
//!
//! Accepted: `{"ok":true,"sub":"...","scopes":["..."]}`;
//! rejected: `{"ok":false,"code":"<code>","message":"<human message>"}`.
//! Field order is fixed by the structs below, whatever serde_json's map features.

use std::io::{self, BufRead, Write};

use serde::Serialize;

/// The most of one input line the stream keeps. Longer lines are cut here (the rest of the
/// line is read and dropped), which is still far above any acceptable token size, so the
/// verifier answers `token_too_large` without the process holding an unbounded line.
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
        // Serialising strings and a slice of strings cannot fail.
        line.unwrap_or_default()
    }
}

/// Reads one line (without its `\n` or `\r\n`), keeping at most [`MAX_LINE_BYTES`] of it.
/// `None` at the end of input.
fn read_line(input: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut seen_any = false;
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
        let room = MAX_LINE_BYTES.saturating_sub(line.len());
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
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
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
        let mut answer = check(&line).json();
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
    fn long_lines_are_cut_not_held_and_the_next_line_is_intact() {
        let mut input = vec![b'x'; MAX_LINE_BYTES * 3];
        input.extend_from_slice(b"\ngood2\n");
        let mut lengths = Vec::new();
        let mut out = Vec::new();
        stream(&input[..], &mut out, |t| {
            lengths.push(t.len());
            accept(t)
        })
        .unwrap();
        assert_eq!(lengths, [MAX_LINE_BYTES, 5]);
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
