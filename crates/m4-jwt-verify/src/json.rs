//! Strict JSON objects for the JWS header and the claims: duplicate member names are detected
//! instead of silently keeping the last one (RFC 7515 §5.2 allows either; a parser
//! differential between two verifiers is a known attack, so we reject).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The outcome of parsing bytes that must hold one JSON object.
pub(crate) enum StrictObject {
    /// A JSON object with unique member names.
    Object(Map<String, Value>),
    /// A JSON object that repeats this member name (the first repeated one); outside the tests
    /// only its absence matters, since [`ParsedClaims`] has already reported duplicates.
    #[cfg_attr(not(test), allow(dead_code))]
    Duplicate(String),
    /// Not JSON, not UTF-8, or not an object.
    NotAnObject,
}

struct ObjectVisitor;

enum Visited {
    Object(Map<String, Value>),
    Duplicate(String),
}

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Visited;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Visited, A::Error> {
        let mut map = Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if map.contains_key(&name) {
                // Consume the rest so the document is still checked to be well-formed JSON.
                access.next_value::<Skip>()?;
                while access.next_entry::<Skip, Skip>()?.is_some() {}
                return Ok(Visited::Duplicate(name));
            }
            let value: Value = access.next_value()?;
            map.insert(name, value);
        }
        Ok(Visited::Object(map))
    }
}

impl StrictObject {
    pub(crate) fn parse(bytes: &[u8]) -> StrictObject {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let visited = match (&mut de).deserialize_map(ObjectVisitor) {
            Ok(visited) => visited,
            Err(_) => return StrictObject::NotAnObject,
        };
        if de.end().is_err() {
            return StrictObject::NotAnObject;
        }
        match visited {
            Visited::Object(map) => StrictObject::Object(map),
            Visited::Duplicate(name) => StrictObject::Duplicate(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str) -> String {
        match StrictObject::parse(input.as_bytes()) {
            StrictObject::Object(map) => format!("object {}", Value::Object(map)),
            StrictObject::Duplicate(name) => format!("duplicate {name}"),
            StrictObject::NotAnObject => "not an object".to_owned(),
        }
    }

    #[test]
    fn cases() {
        assert_eq!(
            check(r#"{"a":1,"b":[1,{"a":2}]}"#),
            r#"object {"a":1,"b":[1,{"a":2}]}"#
        );
        assert_eq!(check(r#" { } "#), "object {}");
        assert_eq!(check(r#"{"a":1,"a":2}"#), "duplicate a");
        assert_eq!(check(r#"{"a":1,"\u0061":2}"#), "duplicate a");
        assert_eq!(check(r#"{"a":1,"a":2,"b":}"#), "not an object");
        assert_eq!(check("[1]"), "not an object");
        assert_eq!(check("1"), "not an object");
        assert_eq!(check(r#"{"a":1} x"#), "not an object");
        assert_eq!(check(r#"{"a":1}{}"#), "not an object");
        assert_eq!(check(""), "not an object");
        assert_eq!(check("\u{feff}{}"), "not an object");
        assert_eq!(check(&"[".repeat(1000)), "not an object");
        assert_eq!(
            check(&format!(
                "{{\"a\":{}1{}}}",
                "[".repeat(1000),
                "]".repeat(1000)
            )),
            "not an object"
        );
    }

    #[test]
    fn invalid_utf8_is_not_an_object() {
        assert!(matches!(
            StrictObject::parse(b"{\"a\":\"\xff\"}"),
            StrictObject::NotAnObject
        ));
    }
}

/// A header parameter that should be a string.
#[derive(Debug, PartialEq)]
pub(crate) enum StrParam<'a> {
    /// The parameter is absent.
    Absent,
    /// A string (borrowed from the input unless it contained escapes).
    Str(Cow<'a, str>),
    /// Present with another JSON type.
    NotAString,
}

/// The JWS protected header parameters the verifier looks at; all others are parsed as
/// strictly as [`StrictObject`] parses them (valid UTF-8 in names and values alike, no lone
/// surrogate escape, numbers in range, the same nesting limit) and skipped without being
/// stored: RFC 7515 §5.2 requires the whole decoded header to be a valid UTF-8 JSON object.
/// Member names must not repeat.
#[derive(Debug)]
pub(crate) struct Header<'a> {
    pub(crate) alg: StrParam<'a>,
    pub(crate) kid: StrParam<'a>,
    pub(crate) typ: StrParam<'a>,
    pub(crate) cty: StrParam<'a>,
    pub(crate) crit: Option<Value>,
    pub(crate) b64: Option<Value>,
}

/// The outcome of parsing a JWS header.
pub(crate) enum ParsedHeader<'a> {
    /// A JSON object with unique member names.
    Header(Header<'a>),
    /// A JSON object that repeats this member name.
    Duplicate(String),
    /// Not JSON, not UTF-8, or not an object.
    NotAnObject,
}

struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor).map(Key)
    }
}

struct StrVisitor;

impl<'de> Visitor<'de> for StrVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

impl<'de> Deserialize<'de> for StrParam<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrParamVisitor)
    }
}

struct StrParamVisitor;

impl<'de> Visitor<'de> for StrParamVisitor {
    type Value = StrParam<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(StrParam::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(StrParam::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(StrParam::Str(Cow::Owned(v)))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(StrParam::NotAString)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(StrParam::NotAString)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(StrParam::NotAString)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(StrParam::NotAString)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(StrParam::NotAString)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(StrParam::NotAString)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(StrParam::NotAString)
    }
}

/// Member names seen so far: a linear scan while there are few (real headers have a handful),
/// a hash set beyond that, so a 16 KiB header of distinct names costs linear, not quadratic,
/// time before any signature check.
#[derive(Default)]
struct SeenNames<'a> {
    few: Vec<Cow<'a, str>>,
    many: HashSet<Cow<'a, str>>,
}

impl<'a> SeenNames<'a> {
    const FEW: usize = 16;

    fn contains(&self, name: &str) -> bool {
        self.few.iter().any(|n| n == name) || self.many.contains(name)
    }

    fn insert(&mut self, name: Cow<'a, str>) {
        if self.few.len() < Self::FEW {
            self.few.push(name);
        } else {
            self.many.insert(name);
        }
    }
}

struct HeaderVisitor;

enum VisitedHeader<'a> {
    Header(Header<'a>),
    Duplicate(String),
}

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = VisitedHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut header = Header {
            alg: StrParam::Absent,
            kid: StrParam::Absent,
            typ: StrParam::Absent,
            cty: StrParam::Absent,
            crit: None,
            b64: None,
        };
        let mut seen = SeenNames::default();
        while let Some(Key(name)) = access.next_key::<Key<'de>>()? {
            if seen.contains(&name) {
                access.next_value::<Skip>()?;
                while access.next_entry::<Skip, Skip>()?.is_some() {}
                return Ok(VisitedHeader::Duplicate(name.into_owned()));
            }
            match &*name {
                "alg" => header.alg = access.next_value()?,
                "kid" => header.kid = access.next_value()?,
                "typ" => header.typ = access.next_value()?,
                "cty" => header.cty = access.next_value()?,
                "crit" => header.crit = Some(access.next_value()?),
                "b64" => header.b64 = Some(access.next_value()?),
                _ => {
                    access.next_value::<Skip>()?;
                }
            }
            seen.insert(name);
        }
        Ok(VisitedHeader::Header(header))
    }
}

impl ParsedHeader<'_> {
    pub(crate) fn parse(bytes: &[u8]) -> ParsedHeader<'_> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let visited = match (&mut de).deserialize_map(HeaderVisitor) {
            Ok(visited) => visited,
            Err(_) => return ParsedHeader::NotAnObject,
        };
        if de.end().is_err() {
            return ParsedHeader::NotAnObject;
        }
        match visited {
            VisitedHeader::Header(h) => ParsedHeader::Header(h),
            VisitedHeader::Duplicate(name) => ParsedHeader::Duplicate(name),
        }
    }
}

#[cfg(test)]
mod header_tests {
    use super::*;

    fn check(input: &str) -> String {
        match ParsedHeader::parse(input.as_bytes()) {
            ParsedHeader::Header(h) => format!(
                "{:?} {:?} {:?} {:?} {:?}",
                h.alg, h.kid, h.typ, h.crit, h.b64
            ),
            ParsedHeader::Duplicate(name) => format!("duplicate {name}"),
            ParsedHeader::NotAnObject => "not an object".to_owned(),
        }
    }

    #[test]
    fn cases() {
        assert_eq!(
            check(r#"{"alg":"RS256","kid":"k\u0031","x":[1,{"y":2}],"typ":5}"#),
            r#"Str("RS256") Str("k1") NotAString None None"#
        );
        assert_eq!(
            check(r#"{"alg":null,"kid":{"a":1}}"#),
            "NotAString NotAString Absent None None"
        );
        assert_eq!(
            check(r#"{"alg":["RS256"],"crit":["b64"],"b64":false}"#),
            r#"NotAString Absent Absent Some(Array [String("b64")]) Some(Bool(false))"#
        );
        assert_eq!(check("{}"), "Absent Absent Absent None None");
        assert_eq!(check(r#"{"x":1,"x":2}"#), "duplicate x");
        assert_eq!(
            check(r#"{"alg":"RS256","\u0061lg":"none"}"#),
            "duplicate alg"
        );
        assert_eq!(
            check(r#"{"alg":"RS256"} "#),
            r#"Str("RS256") Absent Absent None None"#
        );
        assert_eq!(check(r#"{"alg":"RS256"}x"#), "not an object");
        assert_eq!(check(r#"{"alg":"RS256","x":}"#), "not an object");
        assert_eq!(check(r#"["alg"]"#), "not an object");
        assert_eq!(check(""), "not an object");
    }

    /// The header parse must refuse exactly what the full `Value` parse refuses, whatever
    /// member holds the bytes: skipping an unknown member checks it as strictly as reading.
    #[test]
    fn unknown_members_are_checked_as_strictly_as_a_full_parse() {
        let verdict = |input: &[u8]| match ParsedHeader::parse(input) {
            ParsedHeader::Header(_) => "object",
            ParsedHeader::Duplicate(_) => "duplicate",
            ParsedHeader::NotAnObject => "not an object",
        };
        let full = |input: &[u8]| match StrictObject::parse(input) {
            StrictObject::Object(_) => "object",
            StrictObject::Duplicate(_) => "duplicate",
            StrictObject::NotAnObject => "not an object",
        };
        let refused: [&[u8]; 14] = [
            b"{\"alg\":\"RS256\",\"x\":\"\xff\"}",
            b"{\"alg\":\"RS256\",\"x\":\"\xc0\xaf\"}",
            b"{\"alg\":\"RS256\",\"x\":\"\xed\xa0\x80\"}",
            b"{\"alg\":\"RS256\",\"x\":\"\xf4\x90\x80\x80\"}",
            b"{\"alg\":\"RS256\",\"x\":\"a\x80\"}",
            b"{\"alg\":\"RS256\",\"x\":[\"\xff\"]}",
            b"{\"alg\":\"RS256\",\"x\":{\"y\":\"\xff\"}}",
            b"{\"alg\":\"RS256\",\"x\":{\"\xff\":1}}",
            b"{\"alg\":\"RS256\",\"kid\":[\"\xff\"]}",
            br#"{"alg":"RS256","x":"\ud800"}"#,
            br#"{"alg":"RS256","x":"\udc00\ud800"}"#,
            br#"{"alg":"RS256","x":1e400}"#,
            b"{\"alg\":\"RS256\",\"x\":1,\"x\":\"\xff\"}",
            b"{\"alg\":\"RS256\",\"x\":1,\"x\":2,\"y\":\"\xff\"}",
        ];
        for input in refused {
            assert_eq!(verdict(input), "not an object", "{input:?}");
            assert_eq!(full(input), "not an object", "{input:?}");
        }
        let accepted: [&[u8]; 4] = [
            "{\"alg\":\"RS256\",\"x\":\"\u{e9}\u{10ffff}\"}".as_bytes(),
            br#"{"alg":"RS256","x":"\ud83d\ude00"}"#,
            br#"{"alg":"RS256","x":[1e300,{"y":null}]}"#,
            br#"{"alg":"RS256","x":{"a":1,"a":2}}"#,
        ];
        for input in accepted {
            assert_eq!(verdict(input), "object", "{input:?}");
            assert_eq!(full(input), "object", "{input:?}");
        }
    }

    #[test]
    fn many_members_are_checked_for_duplicates_beyond_the_linear_scan() {
        let names: Vec<String> = (0..100).map(|i| format!("\"p{i}\":0")).collect();
        let unique = format!("{{\"alg\":\"RS256\",{}}}", names.join(","));
        assert_eq!(check(&unique), r#"Str("RS256") Absent Absent None None"#);
        let repeated = format!("{{{},\"p3\":1,\"p90\":1}}", names.join(","));
        assert_eq!(check(&repeated), "duplicate p3");
        let late = format!("{{{},\"p90\":1}}", names.join(","));
        assert_eq!(check(&late), "duplicate p90");
    }
}

/// Any JSON value, parsed exactly as strictly as [`Value`] parses it (numbers in range, string
/// escapes and surrogates checked, the same nesting limit) but kept nowhere: no allocation.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

/// The registered claims the verifier checks, each as its JSON value if present; every other
/// claim is parsed (as strictly as [`StrictObject`] would) and skipped without allocation.
#[derive(Debug, Default)]
pub(crate) struct Claims {
    pub(crate) exp: Option<Value>,
    pub(crate) nbf: Option<Value>,
    pub(crate) iat: Option<Value>,
    pub(crate) iss: Option<Value>,
    pub(crate) aud: Option<Value>,
    pub(crate) sub: Option<Value>,
    pub(crate) scope: Option<Value>,
    pub(crate) scp: Option<Value>,
    /// RFC 7800 confirmation: only its presence matters (any `cnf` is refused).
    pub(crate) cnf: Option<Value>,
}

/// The outcome of parsing a JWT payload; accepts and refuses exactly the bytes
/// [`StrictObject::parse`] does, with the same outcome.
#[expect(
    clippy::large_enum_variant,
    reason = "built and matched once per verification on the stack; boxing the claims would add an allocation to every verification"
)]
pub(crate) enum ParsedClaims {
    /// A JSON object with unique member names.
    Claims(Claims),
    /// A JSON object that repeats this member name (the first repeated one).
    Duplicate(String),
    /// Not JSON, not UTF-8, or not an object.
    NotAnObject,
}

struct ClaimsVisitor;

#[expect(
    clippy::large_enum_variant,
    reason = "as ParsedClaims: moved once, boxing would allocate"
)]
enum VisitedClaims {
    Claims(Claims),
    Duplicate(String),
}

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = VisitedClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut claims = Claims::default();
        let mut seen = SeenNames::default();
        while let Some(Key(name)) = access.next_key::<Key<'de>>()? {
            if seen.contains(&name) {
                // As StrictObject: consume the rest so the document is still checked.
                access.next_value::<Skip>()?;
                while access.next_entry::<Skip, Skip>()?.is_some() {}
                return Ok(VisitedClaims::Duplicate(name.into_owned()));
            }
            let slot = match &*name {
                "exp" => &mut claims.exp,
                "nbf" => &mut claims.nbf,
                "iat" => &mut claims.iat,
                "iss" => &mut claims.iss,
                "aud" => &mut claims.aud,
                "sub" => &mut claims.sub,
                "scope" => &mut claims.scope,
                "scp" => &mut claims.scp,
                "cnf" => &mut claims.cnf,
                _ => {
                    access.next_value::<Skip>()?;
                    seen.insert(name);
                    continue;
                }
            };
            *slot = Some(access.next_value()?);
            seen.insert(name);
        }
        Ok(VisitedClaims::Claims(claims))
    }
}

impl ParsedClaims {
    pub(crate) fn parse(bytes: &[u8]) -> ParsedClaims {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let visited = match (&mut de).deserialize_map(ClaimsVisitor) {
            Ok(visited) => visited,
            Err(_) => return ParsedClaims::NotAnObject,
        };
        if de.end().is_err() {
            return ParsedClaims::NotAnObject;
        }
        match visited {
            VisitedClaims::Claims(c) => ParsedClaims::Claims(c),
            VisitedClaims::Duplicate(name) => ParsedClaims::Duplicate(name),
        }
    }
}

#[cfg(test)]
mod claims_tests {
    use super::*;

    /// The typed parse must agree with the `Value` parse on every input: same verdict, and the
    /// same value for each registered claim.
    fn agree(input: &[u8]) {
        match (ParsedClaims::parse(input), StrictObject::parse(input)) {
            (ParsedClaims::Claims(c), StrictObject::Object(map)) => {
                for (name, got) in [
                    ("exp", &c.exp),
                    ("nbf", &c.nbf),
                    ("iat", &c.iat),
                    ("iss", &c.iss),
                    ("aud", &c.aud),
                    ("sub", &c.sub),
                    ("scope", &c.scope),
                    ("scp", &c.scp),
                    ("cnf", &c.cnf),
                ] {
                    assert_eq!(got.as_ref(), map.get(name), "{name} in {input:?}");
                }
            }
            (ParsedClaims::Duplicate(a), StrictObject::Duplicate(b)) => assert_eq!(a, b),
            (ParsedClaims::NotAnObject, StrictObject::NotAnObject) => {}
            _ => panic!("parsers disagree on {:?}", String::from_utf8_lossy(input)),
        }
    }

    #[test]
    fn typed_claims_parse_agrees_with_the_value_parse() {
        let deep = format!("{{\"x\":{}1{}}}", "[".repeat(1000), "]".repeat(1000));
        let ok_deep = format!("{{\"x\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        let cases: Vec<&[u8]> = vec![
            br#"{"iss":"i","sub":"s","aud":["a","b"],"exp":1.5,"nbf":2,"iat":3,"scope":"a b","scp":["c"],"x":{"y":[1,null,true]}}"#,
            br#"{"sub":"s","cnf":{"jkt":"t"}}"#,
            br#"{"sub":"s","cnf":null}"#,
            br#"{"cnf":{},"cnf":{}}"#,
            br#"{"iat":"yesterday","x":1}"#,
            br#"{}"#,
            br#"{"x":1e400}"#,
            br#"{"x":-1e400}"#,
            br#"{"exp":1e400}"#,
            br#"{"x":18446744073709551616}"#,
            br#"{"x":"\ud800"}"#,
            br#"{"x":"\ud800\udc00"}"#,
            br#"{"x":{"\ud800":1}}"#,
            b"{\"x\":\"\x01\"}",
            b"{\"x\":\"\xff\"}",
            b"{\"x\":\"\xc0\xaf\"}",
            b"{\"x\":\"\xed\xa0\x80\"}",
            b"{\"x\":[{\"y\":\"\xff\"}]}",
            b"{\"x\":{\"\xc0\xaf\":1}}",
            b"{\"sub\":\"s\",\"sub\":1,\"y\":\"\xff\"}",
            br#"{"x":"\udc00"}"#,
            br#"{"x":"\ud800x"}"#,
            b"{\"\xff\":1}",
            br#"{"x":"\q"}"#,
            br#"{"x":01}"#,
            br#"{"x":1.}"#,
            br#"{"x":[1,]}"#,
            br#"{"x":{"a":1,"a":2}}"#,
            br#"{"sub":"a","sub":"b"}"#,
            br#"{"x":1,"\u0078":2}"#,
            br#"{"x":1,"x":1e400}"#,
            br#"{"x":1,"x":2,"y":}"#,
            br#"{"x":1} x"#,
            br#"[1]"#,
            b"",
            deep.as_bytes(),
            ok_deep.as_bytes(),
        ];
        for case in cases {
            agree(case);
        }
        let names: Vec<String> = (0..100).map(|i| format!("\"p{i}\":0")).collect();
        agree(format!("{{{}}}", names.join(",")).as_bytes());
        agree(format!("{{{},\"p90\":1}}", names.join(",")).as_bytes());
    }
}
