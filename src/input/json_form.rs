//! A parsed JSONL line as the row form or the document form (`patch` key). Only the shape
//! is checked here: which keys exist and their JSON types; what the values mean is the
//! planner's business. Extra keys are ignored.

use crate::schema::json_type_name;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue as JsonText;
use serde_json::{Map, Value};
use std::borrow::Cow;

use super::{MalformedKind, RawOp, RawValue, RecordContent};

use super::json_keys::{may_repeat_keys, repeated_key};
use super::json_salvage::inexact_number;
pub use super::json_salvage::salvage_id;

/// The key a document-form line names its referral by when it gives the CRM's ID instead
/// of the referral ID (and no `id`): `plan --out` writes it for the documents of a lookup
/// mapping, and `sync` looks the referral up as it does for the mapping's rows.
pub const EXTERNAL_ID: &str = "externalReferenceId";

/// A key that is missing or of the wrong type.
struct Fault {
    field: String,
    message: String,
}

/// What a parsed line holds, or why it is malformed.
pub fn content(value: Value) -> RecordContent {
    let Value::Object(mut map) = value else {
        let message = format!("line is {}, not a JSON object", json_type_name(&value));
        return malformed(None, None, message);
    };
    // A document may name its referral by the CRM's ID instead (see [`EXTERNAL_ID`]).
    let by_external_id =
        !map.contains_key("id") && map.contains_key("patch") && map.contains_key(EXTERNAL_ID);
    let id_key = if by_external_id { EXTERNAL_ID } else { "id" };
    let id = match string(&mut map, id_key, "") {
        Ok(id) => id,
        Err(fault) => return fault.malformed(None),
    };
    if map.contains_key("patch") {
        // A line of both forms would lose one of them whichever were read.
        if let Some(key) = ["op", "path", "value"]
            .into_iter()
            .find(|k| map.contains_key(*k))
        {
            let message = format!(
                "the line has both `patch` (the document form) and `{key}` (the row form); \
                 give one form per line"
            );
            return fault("patch", message).malformed(Some(id));
        }
        match document(&mut map) {
            Ok((if_match, patch)) => RecordContent::Document {
                id,
                if_match,
                patch,
                columns: Vec::new(),
                id_column: by_external_id.then(|| EXTERNAL_ID.to_string()),
                by_external_id,
            },
            Err(fault) => fault.malformed(Some(id)),
        }
    } else {
        match row(&mut map) {
            Ok((op, if_match)) => RecordContent::Row { id, op, if_match },
            Err(fault) => fault.malformed(Some(id)),
        }
    }
}

/// A row-form line, read straight into its fields: nearly every line of a large JSONL
/// input. Building a `serde_json::Value` map first and taking the keys out of it was a
/// third of reading such a file (a profile of `plan`).
///
/// Anything this strict shape refuses (a missing or mistyped key, a repeated key, a
/// `patch` key) is left to [`content`], so what a line means and the faults it reports do
/// not depend on which path read it.
#[derive(Deserialize)]
struct RowLine<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "present")]
    value: Option<&'a JsonText>,
    #[serde(default, borrow)]
    if_match: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "seen")]
    patch: bool,
}

/// A key that is there, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<&'de JsonText>, D::Error> {
    <&JsonText>::deserialize(deserializer).map(Some)
}

/// A document-form line, read straight into its fields, its values kept as written (see
/// [`RowLine`] for what is left to [`content`]).
#[derive(Deserialize)]
struct DocumentLine<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(default, borrow)]
    if_match: Option<Cow<'a, str>>,
    #[serde(borrow)]
    patch: Vec<OpLine<'a>>,
    #[serde(default, deserialize_with = "seen")]
    op: bool,
    #[serde(default, deserialize_with = "seen")]
    path: bool,
    #[serde(default, deserialize_with = "seen")]
    value: bool,
}

/// One operation of a [`DocumentLine`].
#[derive(Deserialize)]
struct OpLine<'a> {
    #[serde(borrow)]
    op: Cow<'a, str>,
    #[serde(borrow)]
    path: Cow<'a, str>,
    #[serde(default, borrow, deserialize_with = "present")]
    value: Option<&'a JsonText>,
}

/// A value as the line wrote it: JSON, or the number in it that a JSON number cannot
/// keep exactly (serde_json would read it rounded, and it would be sent changed).
fn raw_value(text: &JsonText) -> Option<RawValue> {
    // An object that repeats a key is left to the slower path, which refuses the line.
    if may_repeat_keys(text.get()) && repeated_key(text.get().as_bytes()).is_some() {
        return None;
    }
    if let Some(number) = inexact_number(text.get()) {
        return Some(RawValue::InexactNumber(number.to_string()));
    }
    serde_json::from_str(text.get()).ok().map(RawValue::Json)
}

/// `true` for a key that is there, whatever its value.
fn seen<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The row form of `line` when it has exactly the row form's shape; `None` for anything
/// [`content`] must judge.
pub fn row_content(line: &[u8]) -> Option<RecordContent> {
    let row: RowLine = serde_json::from_slice(line).ok()?;
    if row.patch {
        return None;
    }
    Some(RecordContent::Row {
        id: row.id.into_owned(),
        op: RawOp {
            op: row.op.into_owned(),
            path: row.path.into_owned(),
            value: raw_value(row.value?)?,
        },
        if_match: if_match_text(row.if_match),
    })
}

/// The document form of `line` when it has exactly the document form's shape, every
/// operation with its value; `None` for anything [`content`] must judge.
pub fn document_content(line: &[u8]) -> Option<RecordContent> {
    let document: DocumentLine = serde_json::from_slice(line).ok()?;
    if document.op || document.path || document.value {
        return None;
    }
    let patch = document
        .patch
        .into_iter()
        .map(|op| {
            Some(RawOp {
                op: op.op.into_owned(),
                path: op.path.into_owned(),
                value: raw_value(op.value?)?,
            })
        })
        .collect::<Option<Vec<_>>>()?;
    Some(RecordContent::Document {
        id: document.id.into_owned(),
        if_match: if_match_text(document.if_match),
        patch,
        columns: Vec::new(),
        id_column: None,
        by_external_id: false,
    })
}

/// An `if_match` as read; empty counts as none.
fn if_match_text(text: Option<Cow<'_, str>>) -> Option<String> {
    text.filter(|t| !t.is_empty()).map(Cow::into_owned)
}

/// The rest of the row form: `op`, `path`, `value`, optional `if_match`.
fn row(map: &mut Map<String, Value>) -> Result<(RawOp, Option<String>), Fault> {
    let op = raw_op(map, "")?;
    let if_match = if_match(map)?;
    Ok((op, if_match))
}

/// The rest of the document form: optional `if_match`, `patch` (an array of operations).
fn document(map: &mut Map<String, Value>) -> Result<(Option<String>, Vec<RawOp>), Fault> {
    let if_match = if_match(map)?;
    let items = match map.remove("patch") {
        Some(Value::Array(items)) => items,
        other => {
            let found = map_type(other.as_ref());
            let message = format!("`patch` must be an array of operations, found {found}");
            return Err(fault("patch", message));
        }
    };
    let patch = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| patch_op(item, i))
        .collect::<Result<_, _>>()?;
    Ok((if_match, patch))
}

/// Operation number `index` of a document's `patch`.
fn patch_op(item: Value, index: usize) -> Result<RawOp, Fault> {
    let prefix = format!("patch[{index}].");
    match item {
        Value::Object(mut map) => raw_op(&mut map, &prefix),
        other => {
            let message = format!(
                "`patch[{index}]` must be an object, found {}",
                json_type_name(&other)
            );
            Err(fault(&format!("patch[{index}]"), message))
        }
    }
}

/// `op`, `path` and `value` of an operation; `prefix` names where it sits in messages.
fn raw_op(map: &mut Map<String, Value>, prefix: &str) -> Result<RawOp, Fault> {
    let op = string(map, "op", prefix)?;
    let path = string(map, "path", prefix)?;
    let value = match map.remove("value") {
        Some(value) => value,
        // `remove`, `move`, `copy` and `test` come without a value: the op is what is
        // wrong, and the planner's check of it says so (`invalid_op`).
        None if !takes_value(&op) => Value::Null,
        None => {
            let field = format!("{prefix}value");
            let message = format!("`{field}` is missing (use null for a null value)");
            return Err(fault(&field, message));
        }
    };
    Ok(RawOp {
        op,
        path,
        value: RawValue::Json(value),
    })
}

/// Whether `op` is one the API accepts, and so needs a `value`.
fn takes_value(op: &str) -> bool {
    ["replace", "add"]
        .iter()
        .any(|known| op.eq_ignore_ascii_case(known))
}

/// A required string key, taken out of `map`; `prefix` and `key` name it in messages
/// (the name is only built for a message: this runs for every key of every line).
fn string(map: &mut Map<String, Value>, key: &str, prefix: &str) -> Result<String, Fault> {
    match map.remove(key) {
        Some(Value::String(text)) => Ok(text),
        None => {
            let field = format!("{prefix}{key}");
            Err(fault(&field, format!("`{field}` is missing")))
        }
        Some(other) => {
            let field = format!("{prefix}{key}");
            let message = format!(
                "`{field}` must be a string, found {}",
                json_type_name(&other)
            );
            Err(fault(&field, message))
        }
    }
}

/// The optional `if_match`: a string or null; empty counts as none.
fn if_match(map: &mut Map<String, Value>) -> Result<Option<String>, Fault> {
    match map.remove("if_match") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text).filter(|t| !t.is_empty())),
        Some(other) => {
            let message = format!(
                "`if_match` must be a string or null, found {}",
                json_type_name(&other)
            );
            Err(fault("if_match", message))
        }
    }
}

impl Fault {
    /// The `malformed_record` this fault makes of a line whose ID is `id`.
    fn malformed(self, id: Option<String>) -> RecordContent {
        malformed(id, Some(self.field), self.message)
    }
}

/// A fault on `field`.
fn fault(field: &str, message: String) -> Fault {
    Fault {
        field: field.to_string(),
        message,
    }
}

/// A `malformed_record`.
fn malformed(id: Option<String>, field: Option<String>, message: String) -> RecordContent {
    RecordContent::Malformed {
        id,
        code: MalformedKind::Record,
        field,
        message,
    }
}

/// [`type_name`] of a value that may be absent.
fn map_type(value: Option<&Value>) -> &'static str {
    value.map_or("nothing", json_type_name)
}

#[cfg(test)]
#[path = "json_form_tests.rs"]
mod tests;
