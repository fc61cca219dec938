//! A strict JSON reader for the few members of a JSON-RPC message the gate needs: `method`, and
//! `params.name`, `params.uri` and `params.taskId`.
//!
//! Why not serde_json: reading a `tools/call` with serde_json was half of the gate's own cost
//! per request (about 6,200 instructions of 11,500, measured with callgrind), most of it in
//! serde's generic machinery for members the gate skips. This reader walks the bytes once,
//! allocates nothing (a kept string with an escape is decoded on demand) and keeps only
//! positions.
//!
//! What it accepts is RFC 8259 JSON text whose top level is an object, read the way serde_json
//! reads a struct: member names compared after their escapes are decoded, `null` the same as
//! an absent member, whitespace only around the object. It is stricter in four ways, each
//! something the MCP server behind the gate (rmcp parses with serde_json into typed values)
//! refuses as well, so nothing a server would take is refused for them:
//! - the whole body must be UTF-8, skipped strings included;
//! - nesting deeper than [`MAX_DEPTH`] levels is refused everywhere, skipped values included;
//! - a kept string (`method`, or the `params` member a method names) with a lone surrogate
//!   escape (`\ud800`) is refused rather than read as "not a string";
//! - a repeated `id`, `method`, `params`, `params.name`, `params.uri` or `params.taskId` is
//!   refused, because two readers could disagree on which copy counts (serde_json's `Value`
//!   keeps the last one).
//!
//! `tests` below checks it against serde_json on generated and mutated messages: whatever this
//! reader accepts, serde_json reads the same way; whatever it refuses, serde_json refuses too
//! or one of the four rules above applies. It also checks it against rmcp's own message types:
//! when rmcp takes a body as a request or notification, it reads the method (and the name) the
//! gate read.

use std::borrow::Cow;
use std::fmt;

/// The deepest nesting of objects and arrays accepted (the top-level object is level 1): what
/// serde_json's recursion limit lets a whole-message parse (rmcp's) reach, 127 levels.
pub(crate) const MAX_DEPTH: usize = 127;
/// The refusal of deeper nesting ([`MAX_DEPTH`] written out; a test checks the two agree).
const TOO_DEEP: &str = "objects and arrays nested more than 127 deep";
// `Reader::skip_value` keeps one bit per open level below the object it starts in, in a `u128`.
const _: () = assert!(MAX_DEPTH <= 128, "the skipper's level bits hold 128 levels");

/// Why a body is not a JSON-RPC message the gate can read, and where (`at` counts bytes from
/// 1). Small and `Copy`: the reader passes results around on every member, and a refusal's
/// text is only made when it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    kind: Kind,
    what: &'static str,
    at: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `what` is the problem.
    Found,
    /// `what` was expected and something else is there.
    Expected,
    /// `what` was expected and the body ends.
    Ends,
    /// `what` names a member sent twice.
    Repeated,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { kind, what, at } = self;
        match kind {
            Kind::Found => write!(f, "{what} at byte {at}"),
            Kind::Expected => write!(f, "expected {what} at byte {at}"),
            Kind::Ends => write!(f, "the body ends where {what} was expected (byte {at})"),
            Kind::Repeated => write!(f, "a second \"{what}\" member at byte {at} (send it once)"),
        }
    }
}

/// A string as it appears in the body (between its quotes), escapes not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawStr<'a> {
    text: &'a str,
    escaped: bool,
    /// Where its opening quote is, for a decoding error.
    at: usize,
}

impl<'a> RawStr<'a> {
    /// The string's value: borrowed from the body when it holds no escape.
    pub(crate) fn decode(self) -> Result<Cow<'a, str>, SyntaxError> {
        if !self.escaped {
            return Ok(Cow::Borrowed(self.text));
        }
        decode_escapes(self.text)
            .map(Cow::Owned)
            .ok_or_else(|| error("a \\u escape that is a lone surrogate", self.at))
    }

    /// Which of `names` the string's value is, with its position there (decoded only when it
    /// holds an escape).
    #[inline(always)]
    fn which<T: Copy>(
        self,
        names: &[(&'static str, T)],
    ) -> Result<Option<(u8, &'static str, T)>, SyntaxError> {
        let decoded;
        let value = if self.escaped {
            decoded = self.decode()?;
            &*decoded
        } else {
            self.text
        };
        Ok((0u8..)
            .zip(names)
            .find(|(_, (name, _))| *name == value)
            .map(|(index, (name, t))| (index, *name, *t)))
    }
}

/// A member the gate keeps, as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kept<'a> {
    /// Absent, or `null`.
    #[default]
    Absent,
    /// A string.
    Str(RawStr<'a>),
    /// Any other JSON value.
    Other,
}

/// What the gate reads from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Scanned<'a> {
    /// `method`.
    pub(crate) method: Kept<'a>,
    /// `params.name`, when `params` is an object.
    pub(crate) name: Kept<'a>,
    /// `params.uri`, when `params` is an object.
    pub(crate) uri: Kept<'a>,
    /// `params.taskId`, when `params` is an object.
    pub(crate) task_id: Kept<'a>,
}

/// Reads `body` as one JSON object and returns the members the gate keeps; refuses anything
/// else (see the module's documentation for exactly what).
pub(crate) fn scan(body: &[u8]) -> Result<Scanned<'_>, SyntaxError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| error("a byte sequence that is not UTF-8", e.valid_up_to() + 1))?;
    let mut reader = Reader {
        text,
        bytes: body,
        at: 0,
    };
    let scanned = reader.message()?;
    reader.whitespace();
    if reader.at < body.len() {
        return Err(reader.error("more after the JSON object (one message per request)"));
    }
    Ok(scanned)
}

#[cold]
#[inline(never)]
fn error(what: &'static str, at: usize) -> SyntaxError {
    SyntaxError {
        kind: Kind::Found,
        what,
        at,
    }
}

/// What [`Reader::members`] does with a member's value.
#[derive(Clone, Copy)]
enum Role {
    /// Keeps it in this slot: `method`, `params.name`, `params.uri`, `params.taskId`.
    Keep(usize),
    /// Reads it as `params`.
    Params,
    /// Skips it (still refused when repeated).
    Skip,
}

/// The top-level members the gate reads or guards against repetition.
const TOP: [(&str, Role); 3] = [
    ("method", Role::Keep(0)),
    ("params", Role::Params),
    ("id", Role::Skip),
];

/// The `params` members the gate keeps.
const PARAMS: [(&str, Role); 3] = [
    ("name", Role::Keep(1)),
    ("uri", Role::Keep(2)),
    ("taskId", Role::Keep(3)),
];

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    /// The next byte to read.
    at: usize,
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn error(&self, what: &'static str) -> SyntaxError {
        error(what, self.at + 1)
    }

    /// `what` was expected here: names what was found instead.
    #[cold]
    #[inline(never)]
    fn expected(&self, what: &'static str) -> SyntaxError {
        let kind = if self.peek().is_none() {
            Kind::Ends
        } else {
            Kind::Expected
        };
        SyntaxError {
            kind,
            what,
            at: self.at + 1,
        }
    }

    #[inline(always)]
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after whitespace), or refuses naming `what` was expected.
    #[inline(always)]
    fn eat(&mut self, byte: u8, what: &'static str) -> Result<(), SyntaxError> {
        self.whitespace();
        if self.peek() != Some(byte) {
            return Err(self.expected(what));
        }
        self.at += 1;
        Ok(())
    }

    /// The top-level object.
    fn message(&mut self) -> Result<Scanned<'a>, SyntaxError> {
        self.eat(b'{', "a JSON object")?;
        let mut kept = [Kept::Absent; 4];
        self.members(&TOP, 1, &mut kept)?;
        let [method, name, uri, task_id] = kept;
        Ok(Scanned {
            method,
            name,
            uri,
            task_id,
        })
    }

    /// `params`: an object (its kept members read), an array (skipped) or `null`.
    fn params(&mut self, kept: &mut [Kept<'a>; 4]) -> Result<(), SyntaxError> {
        match self.peek() {
            Some(b'{') => self.at += 1,
            Some(b'[' | b'n') => return self.skip_value(1),
            _ => return Err(self.error("params that is not an object or an array")),
        }
        self.members(&PARAMS, 2, kept)
    }

    /// The members of an object whose `{` was read, up to its `}`, inside containers `depth`
    /// deep: each one's value read as its name's [`Role`] in `names` says (a name not there is
    /// skipped); a name of `names` seen twice is refused. One copy of this loop serves both
    /// objects the gate reads (kept small: it runs with cold caches in a server).
    #[inline(never)]
    fn members(
        &mut self,
        names: &[(&'static str, Role); 3],
        depth: usize,
        kept: &mut [Kept<'a>; 4],
    ) -> Result<(), SyntaxError> {
        let mut seen = 0u8;
        if !self.members_follow(b'}')? {
            return Ok(());
        }
        loop {
            let key = self.key()?;
            let member = key.which(names)?;
            if let Some((index, name, _)) = member {
                first_time(&mut seen, index, name, key.at)?;
            }
            self.whitespace();
            match member.map_or(Role::Skip, |(_, _, role)| role) {
                Role::Keep(slot) => {
                    let value = self.kept(depth)?;
                    if let Some(slot) = kept.get_mut(slot) {
                        *slot = value;
                    }
                }
                Role::Params => self.params(kept)?,
                Role::Skip => self.skip_value(depth)?,
            }
            if !self.more(b'}', "',' or '}' after a member")? {
                return Ok(());
            }
        }
    }

    /// After an opening bracket: `false` (and the closing one consumed) when the container is
    /// empty.
    #[inline(always)]
    fn members_follow(&mut self, close: u8) -> Result<bool, SyntaxError> {
        self.whitespace();
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After a value inside a container: `true` after a `,`, `false` after `close`.
    #[inline(always)]
    fn more(&mut self, close: u8, what: &'static str) -> Result<bool, SyntaxError> {
        self.whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A member name and its `:`.
    #[inline(always)]
    fn key(&mut self) -> Result<RawStr<'a>, SyntaxError> {
        self.whitespace();
        if self.peek() != Some(b'"') {
            return Err(self.expected("a member name in quotes"));
        }
        let key = self.string()?;
        self.eat(b':', "':' after a member name")?;
        Ok(key)
    }

    /// A value the gate keeps, at `depth` (that of the container it is in).
    #[inline(always)]
    fn kept(&mut self, depth: usize) -> Result<Kept<'a>, SyntaxError> {
        let start = self.at;
        if self.peek() == Some(b'"') {
            return self.string().map(Kept::Str);
        }
        self.skip_value(depth)?;
        if self.bytes.get(start..self.at) == Some(b"null") {
            Ok(Kept::Absent)
        } else {
            Ok(Kept::Other)
        }
    }

    /// Skips one value (whitespace before it already skipped) inside containers `depth` deep,
    /// without recursion: `objects` holds, bit per level below `depth`, whether that level is
    /// an object.
    fn skip_value(&mut self, depth: usize) -> Result<(), SyntaxError> {
        let mut objects: u128 = 0;
        let mut open = 0usize;
        loop {
            // A value starts here.
            match self.peek() {
                Some(kind @ (b'{' | b'[')) => {
                    if depth + open + 1 > MAX_DEPTH {
                        return Err(self.error(TOO_DEEP));
                    }
                    self.at += 1;
                    let object = kind == b'{';
                    objects = (objects << 1) | u128::from(object);
                    open += 1;
                    if self.members_follow(if object { b'}' } else { b']' })? {
                        self.next_value(object)?;
                        continue;
                    }
                    objects >>= 1;
                    open -= 1;
                }
                Some(b'"') => {
                    self.string()?;
                }
                Some(b't') => self.literal("true")?,
                Some(b'f') => self.literal("false")?,
                Some(b'n') => self.literal("null")?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                _ => return Err(self.expected("a value")),
            }
            // A value ended: close the containers it ends, until one has more.
            loop {
                if open == 0 {
                    return Ok(());
                }
                let object = objects & 1 == 1;
                let (close, what) = if object {
                    (b'}', "',' or '}' after a member")
                } else {
                    (b']', "',' or ']' after an array element")
                };
                if self.more(close, what)? {
                    self.next_value(object)?;
                    break;
                }
                objects >>= 1;
                open -= 1;
            }
        }
    }

    /// Inside a container, before its next element: in an object, the member's name and `:`
    /// first; then the whitespace before the value.
    #[inline(always)]
    fn next_value(&mut self, object: bool) -> Result<(), SyntaxError> {
        if object {
            self.key()?;
        }
        self.whitespace();
        Ok(())
    }

    #[inline(always)]
    fn literal(&mut self, word: &'static str) -> Result<(), SyntaxError> {
        let end = self.at + word.len();
        if self.bytes.get(self.at..end) != Some(word.as_bytes()) {
            return Err(self.error("a word that is not true, false or null"));
        }
        self.at = end;
        Ok(())
    }

    /// A number, as RFC 8259 §6 spells it: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    #[inline(always)]
    fn number(&mut self) -> Result<(), SyntaxError> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("a number without digits")),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits("a number with no digit after its '.'")?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits("a number with no digit in its exponent")?;
        }
        Ok(())
    }

    #[inline(always)]
    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    #[inline(always)]
    fn some_digits(&mut self, what: &'static str) -> Result<(), SyntaxError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error(what));
        }
        self.digits();
        Ok(())
    }

    /// A string, at its opening quote: its text between the quotes, escapes checked (each one
    /// of `\" \\ \/ \b \f \n \r \t \uXXXX`) but not decoded; control characters refused.
    #[inline(always)]
    fn string(&mut self) -> Result<RawStr<'a>, SyntaxError> {
        let quote = self.at;
        let start = quote + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            at = plain_run(self.bytes, at);
            match self.bytes.get(at) {
                Some(b'"') => break,
                Some(b'\\') => {
                    escaped = true;
                    match self.bytes.get(at + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => at += 2,
                        Some(b'u') => {
                            let hex = self.bytes.get(at + 2..at + 6);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return Err(error("a \\u escape without four hex digits", at + 1));
                            }
                            at += 6;
                        }
                        _ => return Err(error("an escape that JSON does not have", at + 1)),
                    }
                }
                Some(0x00..=0x1f) => {
                    return Err(error(
                        "a control character inside a string (escape it)",
                        at + 1,
                    ));
                }
                Some(_) => at += 1,
                None => return Err(error("a string that is never closed", quote + 1)),
            }
        }
        self.at = at + 1;
        // Both ends are quotes (ASCII), so on character boundaries of the UTF-8 text.
        let text = self
            .text
            .get(start..at)
            .ok_or_else(|| error("a string that is not UTF-8", quote + 1))?;
        Ok(RawStr {
            text,
            escaped,
            at: quote + 1,
        })
    }
}

/// Where the run of bytes from `at` that need no attention inside a string ends (the next
/// `"`, `\\` or control character, or the end of the body): eight bytes at a time, so the
/// byte-by-byte loop of [`Reader::string`] only sees the bytes that matter.
#[inline(always)]
fn plain_run(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    while let Some(chunk) = bytes.get(at..at + 8) {
        let Ok(chunk) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let word = u64::from_le_bytes(chunk);
        // Per byte, its high bit is set when the byte is below 0x20 (subtracting 0x20 borrows
        // into a high bit the byte did not have), or when its XOR with `"` or `\\` is zero
        // (subtracting 1 borrows). A borrow only ever marks bytes above a byte that is truly
        // marked, so the lowest mark is exact; the bytes are little-endian, so it is the first
        // one in the body.
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let marks = (word.wrapping_sub(ONES * 0x20) & !word
            | quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash)
            & HIGHS;
        if marks != 0 {
            return at + (marks.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while let Some(&byte) = bytes.get(at) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        at += 1;
    }
    at
}

/// Marks member number `member` seen in `seen`; refuses it the second time.
fn first_time(seen: &mut u8, member: u8, name: &'static str, at: usize) -> Result<(), SyntaxError> {
    let bit = 1 << member;
    if *seen & bit == 0 {
        *seen |= bit;
        return Ok(());
    }
    Err(SyntaxError {
        kind: Kind::Repeated,
        what: name,
        at,
    })
}

/// The value of a string's text whose escapes [`Reader::string`] checked; `None` for a lone
/// surrogate.
fn decode_escapes(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(backslash) = rest.find('\\') {
        out.push_str(rest.get(..backslash)?);
        let escape = rest.get(backslash + 1..)?;
        let (ch, after) = match escape.as_bytes().first()? {
            b'u' => {
                let unit = hex4(escape.get(1..5)?)?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = escape
                            .get(5..7)
                            .filter(|s| *s == "\\u")
                            .and_then(|_| hex4(escape.get(7..11)?))?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        (char::from_u32(code)?, 11)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => (char::from_u32(unit)?, 5),
                }
            }
            b'b' => ('\u{8}', 1),
            b'f' => ('\u{c}', 1),
            b'n' => ('\n', 1),
            b'r' => ('\r', 1),
            b't' => ('\t', 1),
            other => (char::from(*other), 1),
        };
        out.push(ch);
        rest = escape.get(after..)?;
    }
    out.push_str(rest);
    Some(out)
}

fn hex4(digits: &str) -> Option<u32> {
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    //! The reader against serde_json: the gate's earlier serde_json reading of the same members
    //! (`oracle`) and serde_json's `Value` (what a server that parses the whole message sees).

    use proptest::prelude::*;

    use super::MAX_DEPTH;
    use crate::inspect::{Message, parse_message};

    /// The gate's reading before this reader, with serde_json (kept as the reference).
    mod oracle {
        use std::borrow::Cow;

        use serde::Deserialize;
        use serde::de::IgnoredAny;
        use serde_json::value::RawValue;

        #[derive(Deserialize)]
        struct RawMessage<'a> {
            #[serde(default, rename = "id")]
            _id: Option<IgnoredAny>,
            #[serde(default, borrow)]
            method: Option<&'a RawValue>,
            #[serde(default, borrow)]
            params: Option<&'a RawValue>,
        }

        /// `params` when it is an object: serde's derive refuses a repeated member.
        #[derive(Deserialize, Default)]
        struct Params<'a> {
            #[serde(default, borrow)]
            name: Option<&'a RawValue>,
            #[serde(default, borrow)]
            uri: Option<&'a RawValue>,
            #[serde(default, borrow, rename = "taskId")]
            task_id: Option<&'a RawValue>,
        }

        /// The gate's reading of `params`: an object's kept members, nothing from an array or
        /// `null`, any other value refused.
        fn params_of(raw: Option<&RawValue>) -> Result<Params<'_>, String> {
            let Some(raw) = raw else {
                return Ok(Params::default());
            };
            match raw.get().as_bytes().first() {
                Some(b'{') => serde_json::from_str(raw.get()).map_err(|e| e.to_string()),
                Some(b'[') => Ok(Params::default()),
                _ => Err("params neither an object nor an array".to_owned()),
            }
        }

        fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
            let text = raw.get();
            if !text.starts_with('"') {
                return None;
            }
            serde_json::from_str::<Cow<'_, str>>(text).ok()
        }

        /// `(method, name)` as the gate kept them, or why not.
        pub(super) fn read(body: &[u8]) -> Result<(Option<String>, Option<String>), String> {
            if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
                return Err("batch".to_owned());
            }
            let raw: RawMessage<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            let method = match raw.method.map(string_of) {
                Some(None) => return Err("method not a string".to_owned()),
                Some(m) => m,
                None => None,
            };
            let params = params_of(raw.params)?;
            let name = match method.as_deref() {
                Some("tools/call" | "prompts/get") => params.name,
                Some("resources/read" | "resources/subscribe" | "resources/unsubscribe") => {
                    params.uri
                }
                Some("tasks/get" | "tasks/update" | "tasks/cancel") => params.task_id,
                _ => None,
            }
            .and_then(string_of);
            if method.as_deref() == Some("tools/call") && name.is_none() {
                return Err("no tool name".to_owned());
            }
            Ok((method.map(Cow::into_owned), name.map(Cow::into_owned)))
        }
    }

    /// The reader agrees with serde_json on `body`: what it accepts, serde_json reads the
    /// same way; what it refuses, serde_json refuses too, or a server parsing the whole
    /// message (`Value`) would. Returns whether the reader accepted.
    fn agrees(body: &[u8]) -> Result<bool, String> {
        let ours = parse_message(body);
        let reference = oracle::read(body);
        let shown = String::from_utf8_lossy(body);
        if let Ok(read) = &ours {
            rmcp_agrees(body, read)?;
        }
        match (ours, reference) {
            (Ok(Message { method, name }), Ok(expected)) => {
                let got = (method.map(|m| m.into_owned()), name.map(|n| n.into_owned()));
                if got == expected {
                    Ok(true)
                } else {
                    Err(format!("read {got:?}, serde_json {expected:?}: {shown}"))
                }
            }
            (Ok(m), Err(why)) => Err(format!(
                "accepted {m:?}, serde_json refused ({why}): {shown}"
            )),
            (Err(_), Err(_)) => Ok(false),
            (Err(ours), Ok(_)) => {
                if serde_json::from_slice::<serde_json::Value>(body).is_err() {
                    Ok(false)
                } else {
                    Err(format!("refused ({ours:?}), serde_json accepted: {shown}"))
                }
            }
        }
    }

    /// What rmcp (the MCP server behind the gate in the example and the tests) reads from a
    /// body: the method of a request or notification, and the name the gate keeps for it
    /// (`None` for a request rmcp only knows as a custom method, which runs no tool); `None`
    /// when rmcp refuses the body or reads a response.
    fn rmcp_reads(body: &[u8]) -> Option<(String, Option<Option<String>>)> {
        use rmcp::model::{ClientJsonRpcMessage, ClientRequest};
        match serde_json::from_slice::<ClientJsonRpcMessage>(body).ok()? {
            ClientJsonRpcMessage::Request(r) => {
                let name = match &r.request {
                    ClientRequest::CallToolRequest(c) => Some(c.params.name.to_string()),
                    ClientRequest::GetPromptRequest(c) => Some(c.params.name.clone()),
                    ClientRequest::ReadResourceRequest(c) => Some(c.params.uri.clone()),
                    ClientRequest::SubscribeRequest(c) => Some(c.params.uri.clone()),
                    ClientRequest::UnsubscribeRequest(c) => Some(c.params.uri.clone()),
                    ClientRequest::GetTaskRequest(c) => Some(c.params.task_id.clone()),
                    ClientRequest::UpdateTaskRequest(c) => Some(c.params.task_id.clone()),
                    ClientRequest::CancelTaskRequest(c) => Some(c.params.task_id.clone()),
                    ClientRequest::CustomRequest(c) => return Some((c.method.clone(), None)),
                    _ => None,
                };
                Some((r.request.method().to_owned(), Some(name)))
            }
            ClientJsonRpcMessage::Notification(n) => {
                let value = serde_json::to_value(&n.notification).ok()?;
                Some((value.get("method")?.as_str()?.to_owned(), None))
            }
            _ => None,
        }
    }

    /// When both the gate and rmcp take a body, they read the same method and (for a request
    /// rmcp types) the same name: what makes per-tool scopes and tool-call charging hold.
    fn rmcp_agrees(body: &[u8], read: &Message<'_>) -> Result<(), String> {
        let Some((method, name)) = rmcp_reads(body) else {
            return Ok(());
        };
        let shown = String::from_utf8_lossy(body);
        if read.method.as_deref() != Some(method.as_str()) {
            return Err(format!(
                "the gate read {read:?}, rmcp the method {method:?}: {shown}"
            ));
        }
        match name {
            Some(name) if name.as_deref() != read.name.as_deref() => Err(format!(
                "the gate read {read:?}, rmcp the name {name:?}: {shown}"
            )),
            _ => Ok(()),
        }
    }

    fn check(body: impl AsRef<[u8]>) -> bool {
        match agrees(body.as_ref()) {
            Ok(accepted) => accepted,
            Err(why) => panic!("{why}"),
        }
    }

    #[test]
    fn edge_cases_agree_with_serde_json() {
        let wrap = |value: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","id":{value},"method":"tools/call","params":{{"name":"t"}}}}"#
            )
        };
        let values = [
            "0",
            "-0",
            "01",
            "-",
            "1.",
            "1.5",
            ".5",
            "+1",
            "1e",
            "1e+",
            "1E5",
            "-0.0e-0",
            "1e400",
            "tru",
            "true",
            "nul",
            "null",
            "nulls",
            "false",
            "fals",
            r#""a\x""#,
            r#""\u12""#,
            r#""\u12G4""#,
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud83d\ude00""#,
            "\"\u{1}\"",
            "\"a\tb\"",
            "\"\u{1f}\"",
            "\"\n\"",
            "\"\u{7f}\"",
            "\"é\"",
            "[]",
            "[1,]",
            "[,1]",
            "{}",
            r#"{"a":1,}"#,
            r#"{"a"}"#,
            r#"{1:2}"#,
            "[1 2]",
            r#"{"a":1 "b":2}"#,
            "\"unterminated",
            "[[]]",
            "[{}]",
        ];
        let mut accepted = 0;
        for value in values {
            accepted += usize::from(check(wrap(value)));
        }
        assert!(accepted > 10, "most of the valid values were refused");

        let bodies: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"   ".to_vec(),
            b"{}".to_vec(),
            b" {} \n".to_vec(),
            b"{} x".to_vec(),
            b"{}{}".to_vec(),
            b"\xef\xbb\xbf{}".to_vec(),
            b"\x0c{}".to_vec(),
            b"{\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\"}}".to_vec(),
            b"{\"method\":\"tools/list\",\"x\":\"\xc3\"}".to_vec(),
            br#"{"m\u0065thod":"tools/call","params":{"n\u0061me":"t"}}"#.to_vec(),
            br#"{"method":"tools\/call","params":{"name":"a\"b"}}"#.to_vec(),
            br#"{"method":"tools/call","method":"tools/call","params":{"name":"t"}}"#.to_vec(),
            br#"{"method":"tools/call","m\u0065thod":"x","params":{"name":"t"}}"#.to_vec(),
            br#"{"id":1,"id":2,"method":"ping"}"#.to_vec(),
            br#"{"params":[],"params":{},"method":"ping"}"#.to_vec(),
            br#"{"method":"ping","params":{"name":1,"name":2}}"#.to_vec(),
            br#"{"method":"ping","params":{"x":{"name":1,"name":2}}}"#.to_vec(),
            br#"{"method":null,"params":{"name":"t"}}"#.to_vec(),
            br#"{"method":5}"#.to_vec(),
            br#"{"method":["tools/call"]}"#.to_vec(),
            br#"{"method":"tools/call","params":"x"}"#.to_vec(),
            br#"{"method":"tools/call","params":null}"#.to_vec(),
            br#"{"method":"tools/call","params":[1,2]}"#.to_vec(),
            br#"{"method":"tools/call","params":{"name":null}}"#.to_vec(),
            br#"{"method":"tools/call","params":{"name":"\ud800"}}"#.to_vec(),
            br#"{"method":"prompts/get","params":{"name":"\ud800"}}"#.to_vec(),
            br#"{"method":"prompts/get","params":{"uri":"\ud800","name":"p"}}"#.to_vec(),
            br#"{"method":"resources/read","params":{"name":"n","uri":"file:///a"}}"#.to_vec(),
            br#"{"method":"tasks/get","params":{"taskId":"\ud83d\ude00"}}"#.to_vec(),
            br#"{"\ud800":1,"method":"ping"}"#.to_vec(),
            br#"{"method":"ping","params":{"\udc00":1}}"#.to_vec(),
            br#"{"method":"ping","x":{"\ud800":1}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"Method":"tools/call","method":"tools/list"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"Name":"a","name":"b"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"b","_meta":{"name":"c"},"arguments":{"name":"d"}}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":["execute_query",{}]}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call\u0000","params":{"name":"x"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools\u002Fcall","params":{"name":"ex\u0065cute_query"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","result":{},"params":{"name":"x"}}"#.to_vec(),
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.to_vec(),
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///\ud83d\ude00"}}"#.to_vec(),
        ];
        for body in bodies {
            check(body);
        }
    }

    /// Each kind of bad UTF-8 sequence, in a kept and a skipped string, in a key, at every offset
    /// of the string scan's eight-byte runs, and outside strings: refused wherever serde_json
    /// refuses it, and valid sequences accepted in every string.
    #[test]
    fn utf8_is_checked_in_every_string() {
        let sequences: [&[u8]; 12] = [
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\xff",
            b"\xc3",             // a lead byte without its continuation
            b"\x80",             // a continuation without a lead byte
            b"\xc0\xaf",         // an overlong '/'
            b"\xe0\x80\xaf",     // an overlong '/', three bytes
            b"\xed\xa0\x80",     // a surrogate, encoded
            b"\xf4\x90\x80\x80", // above U+10FFFF
            b"\xf0\x9f\x98",     // a four-byte sequence cut short
            "\u{10FFFF}".as_bytes(),
        ];
        let mut refused = 0;
        for bad in sequences {
            for pad in 0..9 {
                let text = [&b"x".repeat(pad)[..], bad, b"y"].concat();
                let bodies = [
                    [
                        &br#"{"method":"tools/call","params":{"name":""#[..],
                        &text,
                        br#""}}"#,
                    ]
                    .concat(),
                    [
                        &br#"{"method":"tools/call","params":{"name":"t","arguments":{"q":""#[..],
                        &text,
                        br#""}}}"#,
                    ]
                    .concat(),
                    [
                        &br#"{"method":"tools/call","params":{"name":"t","_meta":{""#[..],
                        &text,
                        br#"":1}}}"#,
                    ]
                    .concat(),
                    [
                        &br#"{"method":"tools/call","params":{"name":"t"},"x":"#[..],
                        &text,
                        b"}",
                    ]
                    .concat(),
                ];
                for body in bodies {
                    if !check(&body) {
                        refused += 1;
                    }
                }
            }
        }
        // The four valid sequences pass in the three string places and fail outside strings;
        // the eight bad ones fail everywhere.
        assert_eq!(refused, 9 * (4 + 8 * 4));
    }

    /// Every refusal the reader words, one body each, as a client reads it.
    #[test]
    fn every_refusal_is_worded() {
        use super::{Kind, scan};
        let deep = format!("{{\"x\":{}", "[".repeat(MAX_DEPTH));
        let bodies: Vec<(&str, Vec<u8>)> = vec![
            ("empty", b"".to_vec()),
            ("not an object", b"5".to_vec()),
            ("not UTF-8", b"{\"x\":\"\xff\"}".to_vec()),
            ("two messages", b"{} {}".to_vec()),
            ("name not quoted", b"{1:2}".to_vec()),
            ("ends after a comma", b"{\"x\":1,".to_vec()),
            ("no colon", b"{\"x\" 1}".to_vec()),
            ("no comma between members", b"{\"x\":1 \"y\":2}".to_vec()),
            ("no comma between elements", b"{\"x\":[1 2]}".to_vec()),
            ("no value", b"{\"x\":}".to_vec()),
            ("params a number", b"{\"params\":1}".to_vec()),
            ("too deep", deep.into_bytes()),
            ("bad word", b"{\"x\":tru}".to_vec()),
            ("minus alone", b"{\"x\":-}".to_vec()),
            ("no fraction digit", b"{\"x\":1.}".to_vec()),
            ("no exponent digit", b"{\"x\":1e}".to_vec()),
            ("short \\u", b"{\"x\":\"\\u12\"}".to_vec()),
            ("unknown escape", b"{\"x\":\"\\q\"}".to_vec()),
            ("raw control character", b"{\"x\":\"a\x01\"}".to_vec()),
            ("string never closed", b"{\"x\":\"abc".to_vec()),
            ("lone surrogate", b"{\"method\":\"\\ud800\"}".to_vec()),
            ("repeated member", b"{\"id\":1,\"id\":2}".to_vec()),
        ];
        let mut shown = String::new();
        let mut kinds = [false; 4];
        for (what, body) in &bodies {
            let refusal = match scan(body).and_then(|s| match s.method {
                super::Kept::Str(m) => m.decode().map(drop),
                _ => Ok(()),
            }) {
                Err(refusal) => refusal,
                Ok(()) => panic!("{what}: accepted"),
            };
            let kind = match refusal.kind {
                Kind::Found => 0,
                Kind::Expected => 1,
                Kind::Ends => 2,
                Kind::Repeated => 3,
            };
            kinds[kind] = true;
            shown.push_str(&format!("{what}: {refusal}\n"));
        }
        assert_eq!(kinds, [true; 4], "a kind of refusal is never shown");
        insta::assert_snapshot!(shown);
    }

    #[test]
    fn nesting_is_limited_like_serde_json() {
        // Inside `params` (serde_json counts those levels too) and inside a skipped member
        // (serde_json skips any depth; a server parsing the whole message does not).
        for depth in [MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1] {
            let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            check(format!(r#"{{"method":"ping","params":{{"a":{nested}}}}}"#));
            check(format!(r#"{{"method":"ping","x":{nested}}}"#));
            check(format!(r#"{{"method":"ping","params":{nested}}}"#));
        }
        // The limit itself: the top-level object and MAX_DEPTH - 1 arrays, not one more (the
        // refused bracket is byte 21 + MAX_DEPTH: 21 bytes come before the first).
        let nested = |n: usize| {
            format!(
                r#"{{"method":"ping","x":{}{}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        assert!(check(nested(MAX_DEPTH - 1)));
        // The same limit as a whole-message parse: serde_json's `Value` takes exactly as deep.
        let value = |n: usize| serde_json::from_str::<serde_json::Value>(&nested(n)).is_ok();
        assert!(
            value(MAX_DEPTH - 1) && !value(MAX_DEPTH),
            "MAX_DEPTH is not serde_json's limit"
        );
        let refused = parse_message(nested(MAX_DEPTH).as_bytes()).map(|_| ());
        assert_eq!(
            refused,
            Err(crate::error::Rejection::NotJsonRpc {
                reason: format!(
                    "objects and arrays nested more than {MAX_DEPTH} deep at byte {}",
                    21 + MAX_DEPTH
                ),
            })
        );
        // Far deeper than any stack would take recursively: refused, no overflow.
        let deep = "[".repeat(1_000_000);
        assert!(!check(format!(r#"{{"method":"ping","x":{deep}}}"#)));
    }

    /// A JSON string literal for `s`, with some characters escaped in ways that decode to the
    /// same text.
    fn quoted(s: &str, escape: u8) -> String {
        let mut out = String::from("\"");
        for (i, c) in s.chars().enumerate() {
            let e = escape != 0 && (i as u8).wrapping_add(escape).is_multiple_of(3);
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '/' if e => out.push_str("\\/"),
                c if (c as u32) < 0x20 || (e && (c as u32) < 0x10000) => {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                }
                c if e => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("tools/call".to_owned()),
            Just("prompts/get".to_owned()),
            Just("resources/read".to_owned()),
            Just("tasks/get".to_owned()),
            Just("tools/list".to_owned()),
            Just("name".to_owned()),
            Just("method".to_owned()),
            Just("params".to_owned()),
            Just("uri".to_owned()),
            Just("taskId".to_owned()),
            Just("id".to_owned()),
            "\\PC{0,6}",
            any::<String>(),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| format!("{f:e}")),
            (text(), any::<u8>()).prop_map(|(s, e)| quoted(&s, e)),
            Just(r#""\ud800""#.to_owned()),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((text(), any::<u8>(), inner), 0..4).prop_map(|m| {
                    let members: Vec<String> = m
                        .iter()
                        .map(|(k, e, v)| format!("{}:{v}", quoted(k, *e)))
                        .collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    /// Members for a message or its params: kept names more often than not, sometimes twice.
    fn members(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
        let key = prop_oneof![
            4 => prop::sample::select(keys).prop_map(str::to_owned),
            1 => text(),
        ];
        let member_value = prop_oneof![
            3 => (text(), any::<u8>()).prop_map(|(s, e)| quoted(&s, e)),
            2 => value(),
        ];
        let ws = prop::sample::select(&["", " ", "\n\t", "\r\n  "][..]);
        prop::collection::vec((key, any::<u8>(), member_value, ws), 0..6).prop_map(|members| {
            let members: Vec<String> = members
                .iter()
                .map(|(k, e, v, ws)| format!("{ws}{}{ws}:{ws}{v}{ws}", quoted(k, *e)))
                .collect();
            format!("{{{}}}", members.join(","))
        })
    }

    /// A message: generated members, often a `params`, and most often the `"jsonrpc":"2.0"`
    /// and `id` that make rmcp take it as a request.
    fn message() -> impl Strategy<Value = String> {
        let params = prop_oneof![
            4 => members(&["name", "uri", "taskId", "arguments", "_meta"]),
            1 => value(),
        ];
        let method = prop_oneof![
            3 => prop::sample::select(&["tools/call", "prompts/get", "resources/read", "tasks/get", "tools/list", "ping"][..])
                .prop_map(|m| format!("\"method\":\"{m}\"")),
            1 => Just(String::new()),
        ];
        (
            members(&["jsonrpc", "id", "method", "method"]),
            params,
            any::<bool>(),
            prop::option::weighted(0.7, method),
        )
            .prop_map(|(top, params, with, rpc)| {
                let mut body = top;
                if with {
                    let inner = body.strip_suffix('}').unwrap_or(&body);
                    let comma = if inner == "{" { "" } else { "," };
                    body = format!("{inner}{comma}\"params\":{params}}}");
                }
                if let Some(method) = rpc {
                    // The generated members come after: a generated method or id repeats it.
                    let mut prefix = String::from("\"jsonrpc\":\"2.0\",\"id\":1");
                    if !method.is_empty() {
                        prefix = format!("{prefix},{method}");
                    }
                    let rest = body.strip_prefix('{').unwrap_or(&body);
                    let comma = if rest.starts_with('}') { "" } else { "," };
                    body = format!("{{{prefix}{comma}{rest}");
                }
                body
            })
    }

    /// Byte edits that break a message in the places a reader can get wrong.
    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        let edit = (
            any::<prop::sample::Index>(),
            0..4u8,
            prop::sample::select(
                &[
                    b'"', b'\\', b'{', b'}', b'[', b']', b',', b':', b'u', b'0', b'-', b'e', b' ',
                    b'\t', 0x01, 0x1f, 0xff, 0xc3,
                ][..],
            ),
        );
        (message(), prop::collection::vec(edit, 1..4)).prop_map(|(m, edits)| {
            let mut bytes = m.into_bytes();
            for (at, kind, byte) in edits {
                if bytes.is_empty() {
                    break;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => {
                        bytes.remove(i);
                    }
                    1 => bytes.insert(i, byte),
                    2 => bytes[i] = byte,
                    _ => bytes.truncate(i),
                }
            }
            bytes
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn generated_messages_agree_with_serde_json(body in message()) {
            if let Err(why) = agrees(body.as_bytes()) {
                prop_assert!(false, "{}", why);
            }
        }

        #[test]
        fn mutated_messages_agree_with_serde_json(body in mutated()) {
            if let Err(why) = agrees(&body) {
                prop_assert!(false, "{}", why);
            }
        }

        #[test]
        fn arbitrary_bytes_agree_with_serde_json(body in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Err(why) = agrees(&body) {
                prop_assert!(false, "{}", why);
            }
        }
    }
}
