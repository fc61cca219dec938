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
}
