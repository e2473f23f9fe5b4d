//! Finding a key that a JSON object gives twice: serde_json keeps the last one silently,
//! so `{"id":"a","id":"b"}` would be read as `b` with nothing said. As a CSV header that
//! names a column twice is malformed (which cell holds the value cannot be told), so is
//! such a line.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Why `json` (read as JSON already) cannot be read as one meaning: the first key an
/// object in it repeats, as a message; `None` when every object's keys differ.
pub fn repeated_key(json: &[u8]) -> Option<String> {
    let mut reader = serde_json::Deserializer::from_slice(json);
    let error = UniqueKeys::deserialize(&mut reader).err()?;
    let text = error.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    Some(format!("{what} (at column {})", error.column()))
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
                return Err(de::Error::custom(format!(
                    "the key {key:?} appears twice in one object, and which one holds the \
                     value cannot be told; keep one of them"
                )));
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
