//! Strict JSON objects for the JWS header and the claims: duplicate member names are detected
//! instead of silently keeping the last one (RFC 7515 §5.2 allows either; a parser
//! differential between two verifiers is a known attack, so we reject).

use std::fmt;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The outcome of parsing bytes that must hold one JSON object.
pub(crate) enum StrictObject {
    /// A JSON object with unique member names.
    Object(Map<String, Value>),
    /// A JSON object that repeats this member name (the first repeated one).
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
                access.next_value::<IgnoredAny>()?;
                while access.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
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
