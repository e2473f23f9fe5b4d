//! One validated operation of a patch document, held compactly: a plan of a million rows
//! keeps hundreds of thousands of them at once.
//!
//! A profile of `plan` showed over half its memory in `serde_json::Value`s (a one-member
//! object is a B-tree node of about 630 bytes), so a value is kept as its compact JSON
//! text and parsed only where something must look inside it. Paths repeat across
//! documents, so each distinct path is stored once and shared.

use super::OpKind;
use crate::schema::{self, PathError, Resolved};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::fmt;
use std::sync::Arc;

/// A JSON value kept as its compact text, exactly as it will be sent.
#[derive(Clone)]
pub struct JsonText(Box<RawValue>);

impl JsonText {
    /// The text of `value`.
    pub fn of(value: &Value) -> Self {
        Self::serialised(value)
    }

    /// The text of the JSON string `text`, written without building a `Value` first.
    pub fn of_str(text: &str) -> Self {
        Self::serialised(text)
    }

    /// Serialises into a buffer kept per thread, then copies the text into an allocation of
    /// its exact size: `to_raw_value` starts a fresh buffer of 128 bytes for every value
    /// and shrinks it after, an allocation, a reallocation and a copy per operation.
    fn serialised<T: Serialize + ?Sized>(value: &T) -> Self {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let text = SCRATCH.with_borrow_mut(|scratch| {
            scratch.clear();
            serde_json::to_writer(&mut *scratch, value).ok()?;
            // serde_json writes UTF-8.
            std::str::from_utf8(scratch).ok().map(str::to_owned)
        });
        // A `Value` (its map keys are strings) and a `str` always serialise.
        text.and_then(|text| RawValue::from_string(text).ok())
            .map(JsonText)
            .unwrap_or_else(|| JsonText(RawValue::NULL.to_owned()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// The value, parsed: for the rare checks that look inside one.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    /// The string, when the value is a JSON string.
    pub fn to_str(&self) -> Option<String> {
        match self.to_value() {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    /// Whether the value is a JSON object or array, whose text may order members freely.
    fn is_structured(&self) -> bool {
        matches!(self.as_str().as_bytes().first(), Some(b'{' | b'['))
    }

    /// Whether the value is a JSON number, whose text may differ for one value (`1e4`).
    fn is_number(&self) -> bool {
        matches!(self.as_str().as_bytes().first(), Some(b'-' | b'0'..=b'9'))
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for JsonText {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

/// Whether two values are the same once numbers are compared by value (`10000` = `1e4`).
///
/// Texts written by this crate are canonical for strings and booleans, so equal texts are
/// the common answer; only numbers and structured values are parsed to compare.
pub fn same_json(a: &JsonText, b: &JsonText) -> bool {
    if a.as_str() == b.as_str() {
        return true;
    }
    let parse = (a.is_number() && b.is_number()) || (a.is_structured() && b.is_structured());
    parse && super::ops::same_value(&a.to_value(), &b.to_value())
}

/// One validated operation of a patch document.
#[derive(Clone, PartialEq)]
pub struct PatchOp {
    /// `replace` or `add`.
    pub op: OpKind,
    /// RFC 6901 JSON Pointer into the referral, shared with every other operation on it.
    pub path: Arc<str>,
    /// The value, already converted to the schema's JSON type.
    pub value: JsonText,
}

impl PatchOp {
    /// An operation setting `path` to `value`.
    pub fn new(op: OpKind, path: impl Into<Arc<str>>, value: &Value) -> Self {
        PatchOp {
            op,
            path: path.into(),
            value: JsonText::of(value),
        }
    }

    /// Whether applying this operation twice differs from applying it once (an array append).
    pub fn is_append(&self) -> bool {
        self.path.ends_with("/-")
    }

    /// The operation as a JSON Patch object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"op": self.op.as_str(), "path": &*self.path, "value": self.value.to_value()})
    }
}

impl fmt::Debug for PatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.op.as_str(), self.path, self.value)
    }
}

/// The distinct paths of a plan, each stored once with where it leads in the schema, so a
/// path repeated on a million rows is resolved once.
#[derive(Debug, Default)]
pub struct PathCache {
    paths: foldhash::HashMap<Arc<str>, Resolved>,
}

impl PathCache {
    /// The shared copy of `path` and where it leads; `Err` for a path the schema refuses.
    pub fn resolve(&mut self, path: &str) -> Result<(Arc<str>, Resolved), PathError> {
        if let Some((shared, resolved)) = self.paths.get_key_value(path) {
            return Ok((shared.clone(), *resolved));
        }
        let resolved = schema::resolve(path)?;
        let shared: Arc<str> = Arc::from(path);
        self.paths.insert(shared.clone(), resolved);
        Ok((shared, resolved))
    }
}
