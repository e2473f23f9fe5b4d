//! One referral's operations as they accumulate, with the duplicate rules
//! (SPEC.md "Planning rules" 3 and 4): identical rows merge, two different values for one
//! path conflict, and under `--on-duplicate last-wins` the later one replaces the earlier.
//!
//! Duplicates are found through maps keyed by path (and, for appends, by value) so a
//! document of many thousand operations is checked in linear time.

use super::{OnDuplicate, PatchOp};
use crate::input::LineRef;
use serde_json::{Number, Value};
use std::collections::HashMap;

/// An operation of the document being built, with the line it came from.
#[derive(Clone, Debug)]
pub struct PlannedOp {
    /// The validated operation.
    pub op: PatchOp,
    /// The line of the row (or document-form record) that gave it.
    pub at: LineRef,
    /// `false` once a later row's value won under last-wins; the line still belongs to
    /// the document, only the operation is not sent.
    pub live: bool,
}

/// What happened to an operation pushed onto an [`OpList`].
#[derive(Clone, Debug, PartialEq)]
pub enum Pushed {
    /// It was added.
    Added,
    /// An identical operation was already there; it was merged into that one.
    Merged,
    /// Another value for the same path came first (at `earlier`); both are kept and the
    /// document is invalid.
    Conflict {
        /// The line of the earlier operation.
        earlier: LineRef,
        /// The earlier operation's value.
        earlier_value: Value,
    },
    /// Another value for the same path came first; it was dropped under last-wins.
    Overrode,
}

/// The operations of one document in input order, indexed for duplicate checks.
#[derive(Debug, Default)]
pub struct OpList {
    ops: Vec<PlannedOp>,
    /// The latest operation on each non-append path.
    by_path: HashMap<String, usize>,
    /// Appends seen, keyed by path and normalised value.
    appends: HashMap<String, usize>,
}

impl OpList {
    /// Adds `op` (from line `at`), applying the duplicate rules.
    pub fn push(&mut self, op: PatchOp, at: LineRef, on_duplicate: OnDuplicate) -> Pushed {
        if op.is_append() {
            return self.push_append(op, at);
        }
        let Some(&earlier) = self.by_path.get(&op.path) else {
            self.insert(op, at);
            return Pushed::Added;
        };
        let previous = &self.ops[earlier];
        let same_value = same_value(&previous.op.value, &op.value);
        if same_value && previous.op.op == op.op {
            return Pushed::Merged;
        }
        if same_value {
            // `add` and `replace` of one value do the same to an existing member: keep both.
            self.insert(op, at);
            return Pushed::Added;
        }
        let conflict = Pushed::Conflict {
            earlier: previous.at,
            earlier_value: previous.op.value.clone(),
        };
        if on_duplicate == OnDuplicate::LastWins {
            self.ops[earlier].live = false;
            self.insert(op, at);
            return Pushed::Overrode;
        }
        self.insert(op, at);
        conflict
    }

    /// Appending the same value twice is one append the user wrote twice, not two members.
    fn push_append(&mut self, op: PatchOp, at: LineRef) -> Pushed {
        let key = format!("{}\u{0}{}", op.path, canonical(&op.value));
        if self.appends.contains_key(&key) {
            return Pushed::Merged;
        }
        self.appends.insert(key, self.ops.len());
        self.ops.push(PlannedOp { op, at, live: true });
        Pushed::Added
    }

    fn insert(&mut self, op: PatchOp, at: LineRef) {
        self.by_path.insert(op.path.clone(), self.ops.len());
        self.ops.push(PlannedOp { op, at, live: true });
    }

    /// The operations still to be sent, in input order.
    pub fn live(&self) -> impl Iterator<Item = &PlannedOp> {
        self.ops.iter().filter(|planned| planned.live)
    }

    /// Consumes the list, giving the operations still to be sent.
    pub fn into_live_ops(self) -> Vec<PatchOp> {
        self.ops
            .into_iter()
            .filter(|planned| planned.live)
            .map(|planned| planned.op)
            .collect()
    }
}

/// Whether two values are the same once numbers are compared by value (`10000` = `1e4`).
pub fn same_value(a: &Value, b: &Value) -> bool {
    a == b || canonical(a) == canonical(b)
}

/// A text form of `value` equal for equal values: object keys sorted (serde_json's map is
/// ordered) and whole numbers written as integers.
fn canonical(value: &Value) -> String {
    normalised(value).to_string()
}

fn normalised(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::Number(whole_number(n).unwrap_or_else(|| n.clone())),
        Value::Array(items) => Value::Array(items.iter().map(normalised).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(k, v)| (k.clone(), normalised(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `1e4` → `10000`; `None` for numbers that are integers already or have a fraction.
fn whole_number(n: &Number) -> Option<Number> {
    let f = n.as_f64().filter(|_| n.is_f64())?;
    let exact = f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0;
    // The bound keeps the cast exact: beyond 2^53 an f64 no longer holds every integer.
    exact.then(|| Number::from(f as i64))
}

#[cfg(test)]
#[path = "ops_tests.rs"]
mod tests;
