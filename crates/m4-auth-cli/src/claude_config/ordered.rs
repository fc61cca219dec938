//! A JSON value that keeps object members in file order, so a rewritten config reads like
//! the one the user wrote.
//!
//! serde_json keeps order only with its `preserve_order` feature, which would switch every
//! crate in the build to an `IndexMap`-backed `Map` (and changes type sizes elsewhere); this
//! small type keeps the order here without touching anyone else's `serde_json`.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// A JSON value; objects are ordered member lists (a repeated name keeps its first position
/// and its last value, as serde_json does).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// An object, in file order.
    Object(Vec<(String, Json)>),
    /// An array.
    Array(Vec<Json>),
    /// `null`, a boolean, a number or a string.
    Scalar(Value),
}

impl Json {
    /// A string value.
    pub(crate) fn string(text: impl Into<String>) -> Json {
        Json::Scalar(Value::String(text.into()))
    }

    /// What kind of JSON value this is, for messages ("an array").
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Json::Object(_) => "an object",
            Json::Array(_) => "an array",
            Json::Scalar(Value::Null) => "null",
            Json::Scalar(Value::Bool(_)) => "a boolean",
            Json::Scalar(Value::Number(_)) => "a number",
            Json::Scalar(Value::String(_)) => "a string",
            // A scalar never holds these; named for completeness.
            Json::Scalar(Value::Array(_)) => "an array",
            Json::Scalar(Value::Object(_)) => "an object",
        }
    }

    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Json::Scalar(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// The value of member `name`, if present.
pub(crate) fn get_mut<'a>(members: &'a mut [(String, Json)], name: &str) -> Option<&'a mut Json> {
    members.iter_mut().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Sets member `name`: in place when present, appended otherwise.
pub(crate) fn set(members: &mut Vec<(String, Json)>, name: &str, value: Json) {
    match get_mut(members, name) {
        Some(slot) => *slot = value,
        None => members.push((name.to_owned(), value)),
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Scalar(value) => value.serialize(serializer),
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Scalar(Value::from(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json, E> {
        Ok(Json::string(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Json, E> {
        Ok(Json::string(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Json, E> {
        Ok(Json::Scalar(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, Json)> = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Json>()? {
            set(&mut members, &name, value);
        }
        Ok(Json::Object(members))
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

/// The first number in the JSON `text` whose value a parse and rewrite would change: an
/// integer beyond 64 bits, or a decimal a double cannot hold exactly. Numbers here become
/// i64, u64 or f64 (serde_json's `arbitrary_precision` would keep them, but it changes number
/// parsing for every crate in the build, the verifier's included).
pub(crate) fn inexact_number(text: &str) -> Option<&str> {
    let mut in_string = false;
    let mut escaped = false;
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if let Some(from) = start {
            if c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-') {
                continue;
            }
            start = None;
            let token = text.get(from..i).unwrap_or_default();
            let kept = serde_json::from_str::<Value>(token).map(|v| v.to_string());
            if kept.map_or(true, |kept| decimal(&kept) != decimal(token)) {
                return Some(token);
            }
        }
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == '-' || c.is_ascii_digit() {
            start = Some(i);
        }
    }
    None
}

/// A JSON number's exact value as (negative, significant digits, power of ten), so that two
/// spellings of one value compare equal (`1.50e1` and `15.0`); zero is `(false, "", 0)`.
fn decimal(number: &str) -> Option<(bool, String, i64)> {
    let (negative, unsigned) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (
            unsigned.get(..at)?,
            unsigned
                .get(at + 1..)?
                .trim_start_matches('+')
                .parse::<i64>()
                .ok()?,
        ),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits: String = whole.chars().chain(fraction.chars()).collect();
    let mut power = exponent.checked_sub(i64::try_from(fraction.len()).ok()?)?;
    while digits.ends_with('0') {
        digits.pop();
        power = power.checked_add(1)?;
    }
    let digits = digits.trim_start_matches('0').to_owned();
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((negative, digits, power))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn roundtrip(input: &str, expected: &str) {
        let json: Json = serde_json::from_str(input).unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), expected);
    }

    #[test]
    fn order_and_every_kind_of_value_survive() {
        roundtrip(
            r#"{"z": 1, "a": [true, null, -2, 3.5, "s", {"y": {}, "b": []}], "m": 18446744073709551615}"#,
            r#"{"z":1,"a":[true,null,-2,3.5,"s",{"y":{},"b":[]}],"m":18446744073709551615}"#,
        );
        roundtrip(r#""\u00e9\n""#, "\"é\\n\"");
        roundtrip("[]", "[]");
    }

    #[test]
    fn a_repeated_name_keeps_its_first_place_and_last_value() {
        roundtrip(r#"{"a": 1, "b": 2, "a": 3}"#, r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn kinds_are_named_for_messages() {
        let kinds: Vec<&str> = ["{}", "[]", "null", "true", "1", "\"x\""]
            .iter()
            .map(|t| serde_json::from_str::<Json>(t).unwrap().kind())
            .collect();
        assert_eq!(
            kinds,
            [
                "an object",
                "an array",
                "null",
                "a boolean",
                "a number",
                "a string"
            ]
        );
    }

    #[test]
    fn set_replaces_in_place_or_appends() {
        let mut members = vec![
            ("a".to_owned(), Json::string("1")),
            ("b".to_owned(), Json::string("2")),
        ];
        set(&mut members, "a", Json::string("9"));
        set(&mut members, "c", Json::string("3"));
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(members[0].1.as_str(), Some("9"));
        assert_eq!(get_mut(&mut members, "zz"), None);
    }

    #[test]
    fn numbers_that_would_change_are_found() {
        for exact in [
            r#"{"a": 1, "b": -2, "c": 0.1, "d": 1e3, "e": 1.50E+1, "f": -0.0, "g": 18446744073709551615}"#,
            r#"{"s": "123456789012345678901234567890 and 1.0000000000000000001 in a string \" 9"}"#,
            r#"[9007199254740993, -9223372036854775808, 2.5e-7, 0]"#,
        ] {
            assert_eq!(inexact_number(exact), None, "{exact}");
        }
        for (text, number) in [
            (
                r#"{"big": 123456789012345678901234567890}"#,
                "123456789012345678901234567890",
            ),
            (r#"{"f": 1.0000000000000000001}"#, "1.0000000000000000001"),
            (r#"[1, 18446744073709551616]"#, "18446744073709551616"),
            (
                r#"{"x": "\\", "y": 0.30000000000000000001}"#,
                "0.30000000000000000001",
            ),
        ] {
            assert_eq!(inexact_number(text), Some(number), "{text}");
        }
    }
}
