//! One referral's operations as they accumulate, with the duplicate rules
//! (SPEC.md "Planning rules" 3 and 4): identical rows merge, two different values for one
//! path conflict, and under `--on-duplicate last-wins` the later one replaces the earlier.
//!
//! A small document is scanned; from [`INDEX_FROM`] operations on, duplicates are found
//! through maps keyed by path (and, for appends, by value), so a document of many thousand
//! operations is still checked in linear time.

use super::ahead::{prefetch, prefetch_slice};
use super::patch_op::{CheckedOp, JsonText, insert_target, parsed, same_json};
use super::{OnDuplicate, OpKind, PatchOp, push_compact};
use serde_json::{Number, Value};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// An operation of the document being built, with the row it came from.
///
/// The operation's parts are held side by side rather than as a [`PatchOp`], and its row
/// as its place among the document's rows rather than as a [`LineRef`]: 40 bytes instead
/// of 56, which a plan holds for a hundred thousand documents at once (a list of seven
/// fits mimalloc's 320-byte blocks, not its 448-byte ones).
#[derive(Clone, Debug)]
pub struct PlannedOp {
    /// The path, shared as in [`PatchOp`].
    pub path: Arc<str>,
    /// The value, already converted to the schema's JSON type.
    pub value: JsonText,
    /// The place, among the document's rows, of the row (or document-form record) that
    /// gave it.
    row: u32,
    /// `replace` or `add`.
    pub kind: OpKind,
    /// `false` once a later row's value won under last-wins; the line still belongs to
    /// the document, only the operation is not sent.
    pub live: bool,
}

impl PlannedOp {
    /// `op`, from the document's row at `row`, to be sent.
    pub fn new(op: PatchOp, row: RowPlace) -> Self {
        PlannedOp {
            path: op.path,
            value: op.value,
            row: row.0,
            kind: op.op,
            live: true,
        }
    }

    /// The place, among the document's rows, of the row that gave it.
    pub fn row(&self) -> RowPlace {
        RowPlace(self.row)
    }

    /// Whether this inserts into an array (see [`PatchOp::is_append`]).
    pub fn is_append(&self) -> bool {
        insert_target(self.kind, &self.path).is_some()
    }

    fn into_patch_op(self) -> PatchOp {
        PatchOp {
            op: self.kind,
            path: self.path,
            value: self.value,
        }
    }
}

/// The place of a row among its document's rows ([`super::RowList::get`]).
///
/// Four bytes: a document past four billion rows (whose row list alone would take 64 GiB)
/// has its later rows' operations named by the last place that fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowPlace(u32);

impl RowPlace {
    /// The place `index`.
    pub fn new(index: usize) -> Self {
        RowPlace(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The place as an index.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// What happened to an operation pushed onto an [`OpList`].
#[derive(Clone, Debug, PartialEq)]
pub enum Pushed {
    /// It was added.
    Added,
    /// An identical operation was already there; it was merged into that one.
    Merged,
    /// Another value for the same path came first; both are kept and the document is
    /// invalid. Carries what a message needs, cloned only in this rare case.
    Conflict {
        /// The path both operations set.
        path: String,
        /// The row of the earlier operation.
        earlier: RowPlace,
        /// The earlier operation's value.
        earlier_value: JsonText,
        /// The later operation's value.
        value: JsonText,
    },
    /// Another value for the same path came first; it was dropped under last-wins.
    Overrode,
}

/// How many operations a document holds before its duplicate checks switch from a scan to
/// maps: most documents have a handful of operations, and a map per referral would cost
/// more memory than their operations over 100,000 referrals.
const INDEX_FROM: usize = 16;

/// The operations of one document in input order, with the duplicate checks.
#[derive(Debug, Default)]
pub struct OpList {
    ops: Vec<PlannedOp>,
    /// Built once the document reaches [`INDEX_FROM`] operations, so large documents are
    /// checked in linear time.
    index: Option<Box<PathIndex>>,
}

/// Maps that answer the duplicate questions of a large document.
#[derive(Debug, Default)]
struct PathIndex {
    /// The latest operation on each non-append path.
    by_path: HashMap<Arc<str>, usize>,
    /// Appends seen, keyed by path and normalised value.
    appends: HashSet<String>,
    /// The latest append of each Member, keyed by path and e-mail in lower case.
    members: HashMap<String, usize>,
}

impl OpList {
    /// Adds `op` (from the document's row at `row`), applying the duplicate rules.
    pub fn push(&mut self, op: CheckedOp<'_>, row: RowPlace, on_duplicate: OnDuplicate) -> Pushed {
        if op.is_append() {
            return self.push_append(op, row, on_duplicate);
        }
        let Some(earlier) = self.latest_on(op.path) else {
            self.insert(op.into_patch_op(), row);
            return Pushed::Added;
        };
        let previous = &self.ops[earlier];
        let same_value = same_json(previous.value.as_str(), op.value);
        if same_value && previous.kind == op.op {
            return Pushed::Merged;
        }
        // `add` and `replace` of one value do the same to an existing member: keep both.
        let pushed = match (same_value, on_duplicate) {
            (true, _) => Pushed::Added,
            (false, OnDuplicate::LastWins) => Pushed::Overrode,
            (false, OnDuplicate::Error) => Pushed::Conflict {
                path: op.path.to_string(),
                earlier: previous.row(),
                earlier_value: previous.value.clone(),
                value: JsonText::from_text(op.value),
            },
        };
        if matches!(pushed, Pushed::Overrode) {
            self.ops[earlier].live = false;
        }
        self.insert(op.into_patch_op(), row);
        pushed
    }

    /// Adds an append (or insert): the same value twice is one append; the same Member
    /// twice (by e-mail, in any case, as the API tells members apart) with other fields
    /// that differ is one person given two ways, which the duplicate rule decides.
    fn push_append(
        &mut self,
        op: CheckedOp<'_>,
        row: RowPlace,
        on_duplicate: OnDuplicate,
    ) -> Pushed {
        if self.has_append(&op) {
            return Pushed::Merged;
        }
        let earlier = self.same_member(&op);
        let pushed = match earlier.map(|index| &self.ops[index]) {
            None => Pushed::Added,
            Some(previous) if same_member_value(previous.value.as_str(), op.value) => {
                return Pushed::Merged;
            }
            Some(_) if on_duplicate == OnDuplicate::LastWins => Pushed::Overrode,
            Some(previous) => Pushed::Conflict {
                path: op.path.to_string(),
                earlier: previous.row(),
                earlier_value: previous.value.clone(),
                value: JsonText::from_text(op.value),
            },
        };
        if let (Some(index), Pushed::Overrode) = (earlier, &pushed) {
            self.ops[index].live = false;
        }
        self.insert(op.into_patch_op(), row);
        pushed
    }

    /// The latest live append to `op`'s array of a Member with `op`'s e-mail, in any case.
    fn same_member(&self, op: &CheckedOp<'_>) -> Option<usize> {
        if let Some(index) = &self.index {
            return index.members.get(&member_key(op.path, op.value)?).copied();
        }
        // Most documents append to an array once: no parse unless there is another.
        let mut others = self
            .ops
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, p)| p.live && p.is_append() && p.path == *op.path)
            .peekable();
        others.peek()?;
        let email = member_email(op.value)?;
        others
            .find(|(_, p)| member_email(p.value.as_str()).as_deref() == Some(&*email))
            .map(|(index, _)| index)
    }

    /// The latest non-append operation on `path`; under last-wins it is the live one.
    fn latest_on(&self, path: &Arc<str>) -> Option<usize> {
        match &self.index {
            Some(index) => index.by_path.get(path).copied(),
            // Paths come shared from one cache, so the same path is mostly the same
            // allocation; the text is compared only when it is not.
            None => self
                .ops
                .iter()
                .rposition(|p| (Arc::ptr_eq(&p.path, path) || p.path == *path) && !p.is_append()),
        }
    }

    /// Whether the same value was already appended to the same array: appending it twice
    /// is one append the user wrote twice, not two members.
    fn has_append(&self, op: &CheckedOp<'_>) -> bool {
        match &self.index {
            Some(index) => index.appends.contains(&append_key(op.path, op.value)),
            None => self
                .ops
                .iter()
                .any(|p| p.path == *op.path && same_json(p.value.as_str(), op.value)),
        }
    }

    fn insert(&mut self, op: PatchOp, row: RowPlace) {
        let planned = PlannedOp::new(op, row);
        if let Some(index) = &mut self.index {
            index.note(&planned, self.ops.len());
        }
        push_compact(&mut self.ops, planned);
        if self.index.is_none() && self.ops.len() >= INDEX_FROM {
            self.index = Some(Box::new(PathIndex::of(&self.ops)));
        }
    }

    /// Starts loading the operations that a new one is checked against, first and last
    /// (see `plan::ahead`).
    pub fn prefetch(&self) {
        if let Some(last) = self.ops.last() {
            prefetch(self.ops.as_ptr());
            prefetch(last);
        }
    }

    /// Starts loading every operation (not their values).
    pub fn prefetch_all(&self) {
        prefetch_slice(&self.ops);
    }

    /// Starts loading the values that a new operation is compared with in a scan; none in
    /// a large document, whose checks go through its maps (and whose thousands of values
    /// would cost a prefetch each, on every row).
    pub fn prefetch_values(&self) {
        if self.index.is_none() {
            for planned in &self.ops {
                planned.value.prefetch();
            }
        }
    }

    /// The operations still to be sent, in input order.
    pub fn live(&self) -> impl Iterator<Item = &PlannedOp> {
        self.ops.iter().filter(|planned| planned.live)
    }

    /// Consumes the list, giving the operations still to be sent.
    pub fn into_live_ops(self) -> Vec<PatchOp> {
        let mut ops = Vec::with_capacity(self.live().count());
        ops.extend(
            self.ops
                .into_iter()
                .filter(|planned| planned.live)
                .map(PlannedOp::into_patch_op),
        );
        ops
    }
}

impl PathIndex {
    /// The maps for the operations so far.
    fn of(ops: &[PlannedOp]) -> Self {
        let mut index = PathIndex::default();
        for (position, planned) in ops.iter().enumerate() {
            index.note(planned, position);
        }
        index
    }

    /// Notes `op`, the operation at `position`.
    fn note(&mut self, op: &PlannedOp, position: usize) {
        if op.is_append() {
            self.appends.insert(append_key(&op.path, op.value.as_str()));
            if let Some(key) = member_key(&op.path, op.value.as_str()) {
                self.members.insert(key, position);
            }
        } else {
            self.by_path.insert(op.path.clone(), position);
        }
    }
}

/// The e-mail of a Member (an object with an `email`), in lower case.
fn member_email(value: &str) -> Option<String> {
    if !value.starts_with('{') || !value.contains("\"email\"") {
        return None;
    }
    let member = parsed(value);
    member.get("email")?.as_str().map(str::to_lowercase)
}

/// The key of a Member's append in [`PathIndex::members`]: its path and e-mail.
fn member_key(path: &str, value: &str) -> Option<String> {
    Some(format!("{path}\u{0}{}", member_email(value)?))
}

/// Whether two Members are the same once their e-mails are compared in any case.
fn same_member_value(a: &str, b: &str) -> bool {
    let lowered = |text: &str| {
        let mut value = parsed(text);
        if let Some(Value::String(email)) = value.get_mut("email") {
            *email = email.to_lowercase();
        }
        value
    };
    same_value(&lowered(a), &lowered(b))
}

/// The key of an append: its path and its normalised value.
fn append_key(path: &str, value: &str) -> String {
    format!("{path}\u{0}{}", canonical(&parsed(value)))
}

/// Whether two values are the same once numbers are compared by value (`10000` = `1e4`):
/// what comparing their [`canonical`] texts says, found without building either text (a
/// profile showed those texts taking a third of `plan`'s time on appends).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => normalised_number(x) == normalised_number(y),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            // The map is ordered by key, so equal maps pair up member by member.
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && same_value(vx, vy))
        }
        _ => a == b,
    }
}

fn normalised_number(n: &Number) -> Number {
    whole_number(n).unwrap_or_else(|| n.clone())
}

/// A text form of `value` equal for equal values: object keys sorted (serde_json's map is
/// ordered) and whole numbers written as integers.
fn canonical(value: &Value) -> String {
    normalised(value).to_string()
}

fn normalised(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::Number(normalised_number(n)),
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
