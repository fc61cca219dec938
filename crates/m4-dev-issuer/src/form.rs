//! Strict `application/x-www-form-urlencoded` parsing (RFC 6749 §3.2, Appendix B) and the
//! `client_secret_basic` Authorization header (RFC 6749 §2.3.1).
//!
//! Strict means: a parameter given twice is refused (RFC 6749 §3.2: "Request and response
//! parameters MUST NOT be included more than once"), except the ones listed as repeatable
//! (RFC 8707's `resource`); bad percent-encoding and non-UTF-8 are refused; a parameter sent
//! without a value is treated as omitted (RFC 6749 §3.1).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Parameters that may appear more than once (RFC 8707 §2: several `resource` values).
const REPEATABLE: &[&str] = &["resource"];

/// A parsed form: names with their values, in order.
#[derive(Default)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Parses `body`; the error says what was wrong (never quoting a value, which may be a
    /// secret or a token).
    pub(crate) fn parse(body: &[u8]) -> Result<Form, String> {
        let text =
            std::str::from_utf8(body).map_err(|_| "the form body is not UTF-8".to_owned())?;
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for part in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = decode(name).ok_or_else(|| {
                "a parameter name in the form body is not valid percent-encoding".to_owned()
            })?;
            let value = decode(value).ok_or_else(|| {
                format!(
                    "the value of parameter \"{}\" is not valid percent-encoding",
                    shown(&name)
                )
            })?;
            if seen.contains(&name) && !REPEATABLE.contains(&name.as_str()) {
                return Err(format!(
                    "parameter \"{}\" is given more than once (RFC 6749 §3.2 forbids repeating parameters)",
                    shown(&name)
                ));
            }
            if !value.is_empty() {
                pairs.push((name.clone(), value));
            }
            seen.push(name);
        }
        Ok(Form { pairs })
    }

    /// The value of `name`, if given with a value.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Percent-decoding with `+` as space; `None` on a bad escape or non-UTF-8 result.
fn decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                // Two hex digits exactly: from_str_radix alone would take "+A".
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A name or value from the client, made safe to quote in an error description: control and
/// invisible characters, both quotes and `\` escaped, cut to 64 characters.
pub(crate) fn shown(value: &str) -> String {
    escaped(value, 64, true)
}

/// A whole message built by someone else from request input (a serde error, another
/// server's `error_description`), made safe to print: control and invisible characters
/// escaped (no newline, terminal escape, bell or right-to-left override gets through), cut to
/// 512 characters. Quotes are kept:
/// the message is not quoted.
pub(crate) fn shown_message(text: &str) -> String {
    escaped(text, 512, false)
}

fn escaped(value: &str, max: usize, quoted: bool) -> String {
    let mut out: String = value
        .chars()
        .take(max)
        .flat_map(|c| {
            // Everything `escape_debug` escapes but the quotes and backslash, which only a
            // quoted value needs escaped: control characters, and the invisible ones that can
            // reorder or hide text on a terminal (U+202E right-to-left override, U+2028 line
            // separator, zero-width characters).
            let quote = matches!(c, '"' | '\'' | '\\');
            if (quote && quoted) || (!quote && c.escape_debug().len() > 1) {
                c.escape_debug().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect();
    if value.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// The client id and secret of a `Basic` Authorization header: base64 of
/// `urlencode(id):urlencode(secret)`. `None` when the header is not that.
pub(crate) fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((decode(id)?, decode(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(body: &str, expected: Result<&[(&str, &str)], &str>) {
        let got = Form::parse(body.as_bytes()).map(|f| f.pairs);
        match (got, expected) {
            (Ok(pairs), Ok(want)) => {
                let want: Vec<(String, String)> = want
                    .iter()
                    .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                    .collect();
                assert_eq!(pairs, want, "{body}");
            }
            (Err(e), Err(part)) => assert!(e.contains(part), "{body}: {e}"),
            (got, want) => panic!("{body}: got {:?}, want {want:?}", got.map(|_| ())),
        }
    }

    #[test]
    fn forms_parse_strictly() {
        check("a=1&b=2", Ok(&[("a", "1"), ("b", "2")]));
        check("a=x+y%20z%2B", Ok(&[("a", "x y z+")]));
        check("a=%C3%A9", Ok(&[("a", "é")]));
        check("", Ok(&[]));
        check("&&a=1&", Ok(&[("a", "1")]));
        // Without a value: omitted (RFC 6749 §3.1).
        check("a=&b", Ok(&[]));
        check(
            "resource=r1&resource=r2",
            Ok(&[("resource", "r1"), ("resource", "r2")]),
        );
        check("a=1&a=2", Err("\"a\" is given more than once"));
        check("a=&a=2", Err("\"a\" is given more than once"));
        check(
            "a=%zz",
            Err("value of parameter \"a\" is not valid percent-encoding"),
        );
        check("a=%4", Err("not valid percent-encoding"));
        check("a=%FF", Err("not valid percent-encoding"));
        check("%zz=1", Err("parameter name"));
        // u8::from_str_radix takes a sign: "%+A" is not an escape, not a newline.
        check("a=%+A", Err("not valid percent-encoding"));
        check("a=%+0", Err("not valid percent-encoding"));
        check("%+A=1", Err("parameter name"));
    }

    #[test]
    fn form_errors_never_quote_values() {
        let Err(e) = Form::parse(b"secret=s3cr3t%zz") else {
            panic!("accepted")
        };
        assert!(!e.contains("s3cr3t"), "{e}");
    }

    #[track_caller]
    fn check_basic(header: &str, expected: Option<(&str, &str)>) {
        assert_eq!(
            basic_credentials(header),
            expected.map(|(a, b)| (a.to_owned(), b.to_owned())),
            "{header}"
        );
    }

    #[test]
    fn basic_headers_decode_form_encoded_pairs() {
        let enc = |s: &str| STANDARD.encode(s);
        check_basic(
            &format!("Basic {}", enc("id:secret")),
            Some(("id", "secret")),
        );
        check_basic(
            &format!("basic {}", enc("id:se:cret")),
            Some(("id", "se:cret")),
        );
        check_basic(&format!("Basic {}", enc("i%3Ad:a+b")), Some(("i:d", "a b")));
        check_basic(&format!("Basic {}", enc("id:")), Some(("id", "")));
        check_basic(&format!("Bearer {}", enc("id:secret")), None);
        check_basic(&format!("Basic {}", enc("no-colon")), None);
        check_basic("Basic !!!", None);
        check_basic("Basic", None);
    }

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(shown("a\"b\n"), "a\\\"b\\n");
        assert_eq!(shown("it's\u{202e}"), "it\\'s\\u{202e}");
        assert_eq!(
            shown_message("a\u{202e}b\u{2028}c\u{200b}'\"\\"),
            "a\\u{202e}b\\u{2028}c\\u{200b}'\"\\"
        );
        assert_eq!(shown(&"x".repeat(70)), format!("{}…", "x".repeat(64)));
        assert_eq!(shown(&"x".repeat(64)), "x".repeat(64));
        assert_eq!(
            shown_message("a \"b\"\r\n\u{1b}[0m"),
            "a \"b\"\\r\\n\\u{1b}[0m"
        );
        assert_eq!(
            shown_message(&"y".repeat(600)),
            format!("{}…", "y".repeat(512))
        );
    }
}
