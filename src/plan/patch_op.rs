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

/// A JSON value kept as its compact text, exactly as it will be sent. The text always
/// comes from the row checks' writers ([`write_json`], [`write_json_str`], or a number
/// already in the form it is sent in), so it is JSON without being parsed again.
#[derive(Clone)]
pub struct JsonText(Box<str>);

impl JsonText {
    /// The text of `value`.
    pub fn of(value: &Value) -> Self {
        Self::serialised(value)
    }

    /// Serialises into a buffer kept per thread, then copies the text into an allocation of
    /// its exact size: `to_raw_value` starts a fresh buffer of 128 bytes for every value
    /// and shrinks it after, an allocation, a reallocation and a copy per operation.
    fn serialised<T: Serialize + ?Sized>(value: &T) -> Self {
        thread_local! {
            static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
        }
        SCRATCH.with_borrow_mut(|scratch| Self::from_text(write_json(value, scratch)))
    }

    /// The JSON text `text`, as the row checks wrote it, in an allocation of its exact
    /// size. It is not parsed again to check it (a `RawValue`
    /// did, and that parse of every operation's value was 4 % of a million-row `plan`'s
    /// instructions in callgrind).
    pub fn from_text(text: &str) -> Self {
        debug_assert!(
            serde_json::from_str::<&RawValue>(text).is_ok(),
            "not JSON: {text}"
        );
        JsonText(text.into())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Starts loading the text (see `plan::ahead`).
    pub fn prefetch(&self) {
        super::ahead::prefetch(self.0.as_ptr());
    }

    /// The value, parsed: for the rare checks that look inside one.
    pub fn to_value(&self) -> Value {
        parsed(self.as_str())
    }

    /// The string, when the value is a JSON string.
    pub fn to_str(&self) -> Option<String> {
        match self.to_value() {
            Value::String(text) => Some(text),
            _ => None,
        }
    }
}

impl PartialEq for JsonText {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

/// Serialises as the JSON value the text holds (a dry run's `changes` carry values).
impl Serialize for JsonText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match serde_json::from_str::<&RawValue>(&self.0) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_unit(),
        }
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

/// Whether two values are the same once numbers are compared by value (`10000` = `1e4`).
///
/// Texts written by this crate are canonical for strings and booleans, so equal texts are
/// the common answer; only numbers and structured values are parsed to compare.
pub fn same_json(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let parse = (is_number(a) && is_number(b)) || (is_structured(a) && is_structured(b));
    parse && super::ops::same_value(&parsed(a), &parsed(b))
}

/// Whether a JSON text is an object or an array, whose text may order members freely.
fn is_structured(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'{' | b'['))
}

/// Whether a JSON text is a number.
fn is_number(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
}

/// A JSON text parsed; `null` for what is no JSON, which [`write_json`] never writes.
pub fn parsed(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Writes the compact JSON text of `value` into `buf` (emptied first) and returns it; a
/// `Value` or a `str` always serialises, anything else that does not is `null`.
pub fn write_json<'b, T: Serialize + ?Sized>(value: &T, buf: &'b mut String) -> &'b str {
    let mut bytes = std::mem::take(buf).into_bytes();
    bytes.clear();
    if serde_json::to_writer(&mut bytes, value).is_err() {
        bytes.clear();
        bytes.extend_from_slice(b"null");
    }
    // serde_json writes UTF-8.
    *buf = String::from_utf8(bytes).unwrap_or_else(|_| "null".into());
    buf
}

/// [`write_json`] of a string: most cells need no escape, and quoting them as they stand
/// skips serde_json's byte-by-byte escaping and the UTF-8 check of what it wrote (both
/// showed in the profile of a million-row `plan`).
pub fn write_json_str<'b>(text: &str, buf: &'b mut String) -> &'b str {
    if needs_json_escape(text) {
        return write_json(text, buf);
    }
    buf.clear();
    buf.push('"');
    buf.push_str(text);
    buf.push('"');
    buf
}

/// Whether `text` has a byte that a JSON string must escape (a control character, a quote
/// or a backslash): exactly those serde_json escapes, so text without one is its own JSON
/// string between quotes.
pub fn needs_json_escape(text: &str) -> bool {
    // Sixteen bytes at a time, without a branch per byte, so the compiler can compare a
    // whole chunk at once: `any` stops at each byte to ask, and this check ran over every
    // value, ID and path `plan` writes (the two callers were a tenth of a million-row
    // `plan`'s instructions in callgrind).
    let bytes = text.as_bytes();
    let any_in = |chunk: &[u8]| chunk.iter().fold(false, |found, &b| found | escaped(b));
    let mut chunks = bytes.chunks_exact(16);
    if chunks.any(any_in) {
        return true;
    }
    match bytes.len().checked_sub(16) {
        // The last sixteen bytes, overlapping the chunks before: the bytes left over.
        Some(last) => any_in(&bytes[last..]),
        None => chunks.remainder().iter().any(|&b| escaped(b)),
    }
}

/// Whether a JSON string must escape the byte `b`.
fn escaped(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
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

    /// Whether applying this operation twice differs from applying it once: it inserts
    /// into an array, at its end (`/-`) or at an index (an `add` to `/team/0`).
    pub fn is_append(&self) -> bool {
        self.inserted_into().is_some()
    }

    /// The array this operation inserts into (`/team` of `/team/-` or of an `add` to
    /// `/team/0`), `None` for any other operation.
    pub fn inserted_into(&self) -> Option<&str> {
        insert_target(self.op, &self.path)
    }

    /// The operation as a JSON Patch object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"op": self.op.as_str(), "path": &*self.path, "value": self.value.to_value()})
    }
}

/// The array an `op` on `path` inserts into: the parent of RFC 6901's final `-`, or of
/// an index that an `add` names (RFC 6902 inserts there, moving the rest along; a
/// `replace` of an index sets that element, which is idempotent). The schema has no
/// object member named by digits, so a final index is always an array's.
pub(super) fn insert_target(op: OpKind, path: &str) -> Option<&str> {
    // Asked of every operation on every row: most paths end in a letter, told at once.
    let end = *path.as_bytes().last()?;
    if end != b'-' && !(op == OpKind::Add && end.is_ascii_digit()) {
        return None;
    }
    let (parent, last) = path.rsplit_once('/')?;
    let inserts = last == "-" || (op == OpKind::Add && schema::pointer::is_index(last));
    inserts.then_some(parent)
}

/// An operation that passed the row checks, its value's JSON text still in the checker's
/// buffer and its path in the plan's [`PathCache`]: a row that repeats an earlier
/// operation merges without a copy of its value being made and freed (over half the rows
/// of the benchmark's million-row file), or its path's count of owners raised and lowered.
#[derive(Clone, Debug)]
pub struct CheckedOp<'v> {
    /// `replace` or `add`.
    pub op: OpKind,
    /// The path, shared as in [`PatchOp`] once the operation is kept.
    pub path: &'v Arc<str>,
    /// The value's compact JSON text.
    pub value: &'v str,
}

impl CheckedOp<'_> {
    /// Whether this inserts into an array (see [`PatchOp::is_append`]).
    pub fn is_append(&self) -> bool {
        insert_target(self.op, self.path).is_some()
    }

    /// The operation, its value copied out of the buffer and its path shared.
    pub fn into_patch_op(self) -> PatchOp {
        PatchOp {
            op: self.op,
            path: Arc::clone(self.path),
            value: JsonText::from_text(self.value),
        }
    }
}

impl fmt::Debug for PatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {:?}", self.op.as_str(), self.path, self.value)
    }
}

/// The distinct paths of a plan, each stored once with where it leads in the schema, so a
/// path repeated on a million rows is resolved once.
///
/// A path is lent, not cloned: a clone of an `Arc` is an atomic instruction, and the
/// three of them a row took here and in the duplicate checks were a quarter of the
/// costliest step of `plan`'s profile (each one waits for the memory reads before it).
#[derive(Debug, Default)]
pub struct PathCache {
    /// Each path's place in `resolved`.
    places: foldhash::HashMap<Arc<str>, usize>,
    /// Each path, shared, with where it leads.
    resolved: Vec<(Arc<str>, Resolved)>,
    /// The place of the path resolved last: a file in passes (one column for every
    /// referral, then the next) gives the same path row after row, found by one
    /// comparison without a hash.
    last: usize,
}

impl PathCache {
    /// The shared copy of `path` and where it leads; `Err` for a path the schema refuses.
    pub fn resolve(&mut self, path: &str) -> Result<(&Arc<str>, &Resolved), PathError> {
        let repeated = self
            .resolved
            .get(self.last)
            .is_some_and(|(shared, _)| **shared == *path);
        if !repeated {
            self.last = match self.places.get(path) {
                Some(&place) => place,
                None => self.add(path)?,
            };
        }
        // `last` is a place that `add` filled. The resolution is lent, not copied: a copy
        // of `Resolved` (its flag beside its padding) went through the stack in overlapping
        // pieces, a stall on a fifth of `Group::add_op`'s samples in a profile of `plan` on
        // a million rows.
        let (shared, resolved) = &self.resolved[self.last];
        Ok((shared, resolved))
    }

    /// Resolves a path seen for the first time and stores it; its place.
    fn add(&mut self, path: &str) -> Result<usize, PathError> {
        let resolved = schema::resolve(path)?;
        let shared: Arc<str> = Arc::from(path);
        let place = self.resolved.len();
        self.places.insert(Arc::clone(&shared), place);
        self.resolved.push((shared, resolved));
        Ok(place)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_string_is_written_as_serde_json_writes_it(text in "\\PC*|[\"\\\\\u{0}-\u{1f}a\u{7f}é]{0,8}") {
            let expected = serde_json::to_string(&text).unwrap();
            let mut buf = String::from("left over");
            prop_assert_eq!(write_json_str(&text, &mut buf), expected);
        }

        #[test]
        fn an_escape_is_found_wherever_it_lies(
            text in "[a-zé]{0,40}",
            at in 0usize..41,
            special in proptest::sample::select(
                vec!['"', '\\', '\u{0}', '\n', '\u{1f}', 'x', '\u{7f}']
            ),
        ) {
            let mut text = text;
            // The `at`-th character boundary, or the end.
            let mut boundaries = text.char_indices().map(|(i, _)| i).chain([text.len()]);
            let at = boundaries.nth(at).unwrap_or(text.len());
            text.insert(at, special);
            let bytewise = text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
            prop_assert_eq!(needs_json_escape(&text), bytewise);
        }
    }

    #[test]
    fn a_path_resolves_to_one_shared_copy_whatever_came_between() {
        let mut cache = PathCache::default();
        let mut shared = |path: &str| cache.resolve(path).map(|(path, _)| Arc::clone(path));
        let first = shared("/details/notes").unwrap();
        let again = shared("/details/notes").unwrap();
        let other = shared("/name").unwrap();
        assert!(shared("/no/such/field").is_err());
        let later = shared("/details/notes").unwrap();
        assert!(Arc::ptr_eq(&first, &again) && Arc::ptr_eq(&first, &later));
        assert_eq!(&*other, "/name");
        assert!(shared("/no/such/field").is_err());
        assert_eq!(&*shared("/name").unwrap(), "/name");
    }

    #[test]
    fn a_value_is_written_compact() {
        let value = serde_json::json!({"b": [1, 2.5, null], "a": "x\"y"});
        assert_eq!(
            write_json(&value, &mut String::new()),
            serde_json::to_string(&value).unwrap()
        );
    }
}
