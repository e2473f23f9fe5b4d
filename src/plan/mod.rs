//! Plan: groups input records per referral ID into one JSON Patch document each and
//! validates them against the referral schema, offline.
//!
//! The planner is fed records one at a time ([`Planner::push`]) so input can stream, and
//! [`Planner::finish`] returns the [`Plan`]: entries in the order each ID first appears,
//! ID-less bad rows at their own line's place. Every input row lands in exactly one entry.

mod ahead;
mod document;
pub mod entries_ahead;
mod group;
mod group_list;
mod id;
mod messages;
mod ops;
mod parallel;
mod patch_op;
mod planner;
mod rows;
mod rules;
mod split_scan;
mod status;
#[cfg(test)]
pub(crate) mod test_support;

pub use document::patch_body;
pub use id::check_id;
pub use messages::InputNames;
pub use ops::same_value;
pub use parallel::{MOST_THREADS, Planned, plan_inputs, plan_streams};
pub use patch_op::{JsonText, PatchOp, PathCache};
pub use planner::Planner;
pub use rows::{RowIter, RowList};

use crate::input::LineRef;
use serde_json::Value;
use std::fmt;

/// Pushes `item` onto `vec`, growing it by half rather than doubling: a plan holds a
/// hundred thousand groups' row and operation lists at once, and doubling left a third of
/// their room unused (a profile of `plan` on a million rows). Growth stays geometric, so
/// pushing stays amortised constant time.
fn push_compact<T>(vec: &mut Vec<T>, item: T) {
    if vec.len() == vec.capacity() {
        vec.reserve_exact(vec.len() / 2 + 1);
    }
    vec.push(item);
}

/// Gives back the room of `vec` that growth left unused, when that is more than a quarter
/// of it. Growth by half leaves up to a third unused; giving back less than a quarter
/// cost a copy of each of a hundred thousand lists for a few bytes each (a profile of
/// `plan`, where finishing the groups is the last step before the output).
fn shrink_loose<T>(vec: &mut Vec<T>) {
    if (vec.capacity() - vec.len()) * 4 > vec.capacity() {
        vec.shrink_to_fit();
    }
}

/// A JSON Patch operation the API accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// `replace`: the target must exist.
    Replace,
    /// `add`: sets an object member, or appends with a final `-`.
    Add,
}

impl OpKind {
    /// The operation's name in a JSON Patch document.
    pub fn as_str(self) -> &'static str {
        match self {
            OpKind::Replace => "replace",
            OpKind::Add => "add",
        }
    }
}

/// One referral's valid patch document: what `sync` sends as one `PATCH`.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The referral ID (validated: safe as a URL path segment once percent-encoded).
    pub id: String,
    /// The ETag from the input, always in its quoted form (`"…"`), if any.
    pub if_match: Option<String>,
    /// The operations, in input order.
    pub ops: Vec<PatchOp>,
    /// The input rows that make up the document, in input order.
    pub rows: RowList,
    /// Whether identical duplicate rows were merged into one operation.
    pub merged_duplicates: bool,
    /// Whether `id` is a CRM ID, to be resolved through the referrals'
    /// `externalReferenceId` before sending; its document form names it so.
    pub by_external_id: bool,
}

impl Document {
    /// Whether every operation may be applied twice with the same result.
    pub fn is_idempotent(&self) -> bool {
        !self.ops.iter().any(PatchOp::is_append)
    }

    /// The JSON Patch body.
    pub fn patch_json(&self) -> Value {
        Value::Array(self.ops.iter().map(PatchOp::to_json).collect())
    }
}

/// A planning error code, as the report's `error_code` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The CSV record or JSON line cannot be read.
    MalformedRecord,
    /// The CSV file lacks a required column.
    MissingColumn,
    /// The ID breaks the rule in SPEC.md "Referral IDs".
    InvalidId,
    /// The op is not `replace` or `add`.
    InvalidOp,
    /// The path is not a JSON Pointer, or not a patchable path of the referral schema.
    InvalidPath,
    /// The path is a read-only field.
    ReadOnlyPath,
    /// The value breaks the value rules for the path's type.
    InvalidValue,
    /// Two rows of one ID give different `if_match` values.
    IfMatchMismatch,
    /// Two rows replace one path with different values.
    DuplicatePath,
    /// A status/substatus pair the transition table does not allow.
    InvalidTransition,
    /// `/status` set without `/substatus`.
    MissingSubstatus,
}

impl ErrorCode {
    /// The code's name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRecord => "malformed_record",
            ErrorCode::MissingColumn => "missing_column",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::InvalidOp => "invalid_op",
            ErrorCode::InvalidPath => "invalid_path",
            ErrorCode::ReadOnlyPath => "read_only_path",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::IfMatchMismatch => "if_match_mismatch",
            ErrorCode::DuplicatePath => "duplicate_path",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::MissingSubstatus => "missing_substatus",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One reason a row or document is invalid.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanError {
    /// The line at fault; `None` for a document-level error spanning several rows.
    pub at: Option<LineRef>,
    /// The field (column or key) at fault, where one is: `id`, `op`, `path`, `value`, …
    pub field: Option<String>,
    /// The code.
    pub code: ErrorCode,
    /// What is wrong and what to do, for a user; names values, never secrets.
    pub message: String,
}

/// A document or row refused by planning.
#[derive(Clone, Debug, PartialEq)]
pub struct InvalidEntry {
    /// The referral ID, `None` for a row with no usable ID.
    pub id: Option<String>,
    /// The input rows concerned, in input order.
    pub rows: RowList,
    /// The number of operations the document would have had.
    pub ops: usize,
    /// Every reason, first the row errors in line order, then document-level ones.
    pub errors: Vec<PlanError>,
}

/// One entry of the plan: a document to send, or something refused.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanEntry {
    /// A valid document, shared with the send stage rather than copied into it.
    Document(std::sync::Arc<Document>),
    /// A refused document or ID-less row, boxed: a plan holds an entry per referral, and
    /// unboxed this variant made each of them five times the size of a document's.
    Invalid(Box<InvalidEntry>),
}

impl PlanEntry {
    /// The entry's input rows.
    pub fn rows(&self) -> &RowList {
        match self {
            PlanEntry::Document(d) => &d.rows,
            PlanEntry::Invalid(i) => &i.rows,
        }
    }

    /// The entry's referral ID, if it has one.
    pub fn id(&self) -> Option<&str> {
        match self {
            PlanEntry::Document(d) => Some(&d.id),
            PlanEntry::Invalid(i) => i.id.as_deref(),
        }
    }
}

/// What to do with two rows replacing one path with different values (`--on-duplicate`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OnDuplicate {
    /// The document is invalid (`duplicate_path`).
    #[default]
    Error,
    /// The last row's operation stands, at its own position.
    LastWins,
}

/// Options that shape planning.
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--on-duplicate`.
    pub on_duplicate: OnDuplicate,
    /// The inputs' names, for messages that name lines of several inputs.
    pub input_names: InputNames,
    /// Keep each row's line alone, not where the row lies in its file: for a run that
    /// never copies a row out again (no `--rejects`), half the memory of a plan's rows.
    pub lines_only: bool,
}

/// The planner's result: every entry in plan order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Documents by first appearance; ID-less rows at their line's place.
    pub entries: Vec<PlanEntry>,
}
