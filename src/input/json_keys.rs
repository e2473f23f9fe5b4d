//! Finding a key that a JSON object gives twice: serde_json keeps the last one silently,
//! so `{"id":"a","id":"b"}` would be read as `b` with nothing said. As a CSV header that
//! names a column twice is malformed (which cell holds the value cannot be told), so is
//! such a line, and so is such JSON text in a CSV cell.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// Why `json` (read as JSON already) cannot be read as one meaning: the first key an
/// object in it repeats, as a message; `None` when every object's keys differ.
pub fn repeated_key(json: &[u8]) -> Option<String> {
    let mut reader = serde_json::Deserializer::from_slice(json);
    let error = UniqueKeys::deserialize(&mut reader).err()?;
    Some(without_line(&error))
}

/// A parse error's message with its column but not its line (a line of the input names
/// it already).
pub fn without_line(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    format!("{what} (at column {})", error.column())
}

/// `text` read as one JSON value, in one pass: an error where it is no JSON or where an
/// object in it gives a key twice (as [`repeated_key`] says), which `serde_json` would
/// read as the last one silently.
pub fn from_str_unique(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str::<UniqueValue>(text).map(|unique| unique.0)
}

/// The error of an object that gives `key` twice.
fn twice<E: de::Error>(key: &str) -> E {
    E::custom(format!(
        "the key {key:?} appears twice in one object, and which one holds the value cannot \
         be told; keep one of them"
    ))
}

/// A JSON value whose objects were all checked to name each key once, kept.
struct UniqueValue(Value);

impl<'de> Deserialize<'de> for UniqueValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueValueVisitor)
    }
}

/// Builds a [`UniqueValue`] as `serde_json::Value`'s own visitor builds a value.
struct UniqueValueVisitor;

impl<'de> Visitor<'de> for UniqueValueVisitor {
    type Value = UniqueValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueValue, A::Error> {
        let mut members = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.contains_key(&key) {
                return Err(twice(&key));
            }
            let UniqueValue(value) = map.next_value()?;
            members.insert(key, value);
        }
        Ok(UniqueValue(Value::Object(members)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(UniqueValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(UniqueValue(Value::Array(items)))
    }

    fn visit_bool<E>(self, value: bool) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Bool(value)))
    }

    fn visit_i64<E>(self, value: i64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Number(value.into())))
    }

    fn visit_u64<E>(self, value: u64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Number(value.into())))
    }

    fn visit_f64<E>(self, value: f64) -> Result<UniqueValue, E> {
        Ok(UniqueValue(
            Number::from_f64(value).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_str<E>(self, value: &str) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::String(value.to_owned())))
    }

    fn visit_string<E>(self, value: String) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::String(value)))
    }

    fn visit_unit<E>(self) -> Result<UniqueValue, E> {
        Ok(UniqueValue(Value::Null))
    }
}

/// Whether `json` may hold an object: what must be checked for repeated keys.
pub fn may_repeat_keys(json: &str) -> bool {
    json.contains('{')
}

/// A JSON value whose objects were all checked to name each key once.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeys)
    }
}

impl<'de> Visitor<'de> for UniqueKeys {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut keys: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) {
                return Err(twice(&key));
            }
            map.next_value::<UniqueKeys>()?;
            keys.push(key);
        }
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_in_any_object_is_named() {
        let twice = br#"{"id":"a","op":"replace","id":"b"}"#;
        let message = repeated_key(twice).expect("repeated");
        assert!(
            message.contains("the key \"id\" appears twice"),
            "{message}"
        );
        let nested = br#"{"id":"a","value":{"email":"x@y.z","email":"q@y.z"}}"#;
        assert!(repeated_key(nested).expect("nested").contains("\"email\""));
        let in_patch = br#"{"patch":[{"op":"add"},{"op":"replace","op":"add"}]}"#;
        assert!(repeated_key(in_patch).is_some());
    }

    #[test]
    fn a_value_read_whole_is_refused_where_a_key_is_given_twice() {
        let member = r#"{"email":"a@b.c","firstName":"A","email":"d@e.f"}"#;
        let error = from_str_unique(member).expect_err("repeated");
        assert!(error.is_data(), "{error}");
        assert!(without_line(&error).contains("the key \"email\" appears twice"));
        let nested = r#"[{"ids":[{"id":"1","id":"2"}]}]"#;
        assert!(from_str_unique(nested).is_err());
        assert!(from_str_unique("{\"a\":").expect_err("cut").is_eof());
    }

    #[test]
    fn a_value_read_whole_is_the_value_serde_json_reads() {
        for json in [
            r#"{"email":"a@b.c","n":[1,-2,2.5,1e300,18446744073709551615],"x":null}"#,
            r#"[true,false,"\u00e9\n",{}, []]"#,
            r#""text""#,
        ] {
            let expected: Value = serde_json::from_str(json).expect("JSON");
            assert_eq!(from_str_unique(json).expect("unique"), expected, "{json}");
        }
    }

    #[test]
    fn objects_whose_keys_differ_pass() {
        for json in [
            br#"{"id":"a","value":{"id":"b"},"patch":[{"op":1},{"op":2}]}"#.as_slice(),
            br#"[1, "x", null, true, -2.5, {"a": {"a": []}}]"#,
            br#""just text""#,
        ] {
            assert_eq!(
                repeated_key(json),
                None,
                "{}",
                String::from_utf8_lossy(json)
            );
        }
    }
}
