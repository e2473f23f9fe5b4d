//! The planner: takes input records one at a time and groups them per referral ID
//! (SPEC.md "Planning rules" 1 and 5).
//!
//! Groups live in a list (`plan::group_list`) in order of first appearance, found through
//! a map from ID to index, so a million rows over a hundred thousand IDs cost at most one
//! hash lookup each and the plan comes out in order without sorting; before the map, a
//! row's group is looked for next to the previous row's (`Planner::predicted`). An ID-less
//! row is a group of its own that no later row can join, which puts it at its own line's
//! place.

use std::hash::BuildHasher;

use super::ahead::{Ahead, PARTS_AT, VALUES_AT, prefetch_all};
use super::group::{Group, OpRules};
use super::group_list::GroupList;
use super::{ErrorCode, Plan, PlanError, PlanOptions};
use crate::input::{CellsRef, InputRecord, LineRef, MalformedKind, RecordContent, RowRef};

/// The field that holds the referral ID in the row form and the document form.
const ID: &str = "id";

/// Builds a [`Plan`] from records pushed in input order.
#[derive(Debug)]
pub struct Planner {
    rules: OpRules,
    /// The group of each referral ID seen, found by the ID's hash and compared with the
    /// group's own ID: a map keyed by the ID held a second copy of every ID. (IDs come
    /// from the user's own file, so a fast hash beats a flood-resistant one.)
    by_id: hashbrown::HashTable<IdEntry>,
    /// The hash of `by_id`, seeded per run (not the shares' fixed one, whose IDs in one
    /// share would all fall on one residue and crowd the table).
    hasher: foldhash::fast::RandomState,
    /// One group per ID (or per ID-less row), in order of first appearance.
    groups: GroupList,
    /// The previous row's group, and whether the rows so far follow [`Planner::predicted`].
    last: usize,
    predicting: bool,
    /// CSV rows held back a few places while their groups are fetched, when rows do not
    /// follow [`Planner::predicted`].
    ahead: Ahead,
    /// [`PlanOptions::lines_only`].
    lines_only: bool,
}

impl Planner {
    /// A planner with no records yet.
    pub fn new(options: PlanOptions) -> Self {
        Planner {
            rules: OpRules {
                on_duplicate: options.on_duplicate,
                paths: Default::default(),
                value_buf: String::new(),
                names: options.input_names,
            },
            by_id: hashbrown::HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            groups: GroupList::default(),
            last: 0,
            predicting: false,
            ahead: Ahead::default(),
            lines_only: options.lines_only,
        }
    }

    /// Adds one record; records must arrive in input order, file by file.
    pub fn push(&mut self, record: &InputRecord) {
        let InputRecord { row, content } = record;
        if !matches!(content, RecordContent::CsvRow(_)) {
            self.plan_held_rows();
        }
        let row = *row;
        match content {
            RecordContent::CsvRow(cells) => self.push_cells(row, cells.borrowed()),
            RecordContent::Row { id, op, if_match } => {
                let index = self.group_for_row(id, None, row.at, ID);
                self.groups[index].add_row(row, op.as_ref(), if_match.as_deref(), &mut self.rules)
            }
            RecordContent::Document {
                id,
                if_match,
                patch,
                columns,
                id_column,
                by_external_id,
            } => {
                let id_field = id_column.as_deref().unwrap_or(ID);
                let index = self.group_for_row(id, None, row.at, id_field);
                let document = (patch.as_slice(), columns.as_slice());
                let group = &mut self.groups[index];
                group.add_document(row, document, if_match.as_deref(), &mut self.rules);
                if *by_external_id {
                    group.mark_by_external_id();
                }
            }
            RecordContent::Malformed {
                id,
                code,
                field,
                message,
            } => {
                let error = malformed_error(row.at, *code, field.clone(), message.clone());
                // A record whose ID could still be read counts as a row of that ID.
                let index = self.group_for(id.as_deref().unwrap_or(""), None, row.at, ID);
                self.groups[index].add_malformed(row, error);
            }
        }
    }

    /// Adds one CSV row given by its cells, borrowed (from a reader's buffer, say).
    ///
    /// While rows follow [`Planner::predicted`], each is planned at once, its group being
    /// next to the last one, and the groups after it are fetched for the next rows (7 %
    /// off `plan` of the benchmark's million-row file, which comes in passes, then 6 %
    /// more once fetched in three steps).
    /// Otherwise the row is held back and planned a few rows later, its group's memory
    /// fetched meanwhile (`plan::ahead`): in a shuffled copy of that file this cut
    /// `plan`'s time by a fifth, while holding back the rows of the file as it comes cost
    /// a tenth.
    pub fn push_cells(&mut self, row: RowRef, cells: CellsRef<'_>) {
        if self.predicting {
            self.plan_held_rows();
            self.plan_cells(row, cells, None);
            // The next rows' groups are most likely the ones after this row's. Each is
            // fetched in three steps a row apart, each reading what the last one fetched:
            // the group itself, then its parts, then its operations' values.
            if let Some(next) = self.groups.get(self.last + 1) {
                next.prefetch_values();
            }
            if let Some(after) = self.groups.get(self.last + 2) {
                after.prefetch();
            }
            if let Some(later) = self.groups.get(self.last + 3) {
                prefetch_all(later);
            }
            return;
        }
        if self.ahead.is_full() {
            self.plan_oldest_held();
        }
        let hash = self.id_hash(cells.id());
        // The first entry of the same hash, IDs not compared: nearly always the group.
        let guess = self
            .by_id
            .find(hash, |entry| entry.has(hash))
            .map(IdEntry::group);
        if let Some(group) = guess.and_then(|index| self.groups.get(index)) {
            prefetch_all(group);
        }
        self.ahead.push(row, cells, hash, guess);
        if let Some(group) = self.guessed(PARTS_AT) {
            group.prefetch();
        }
        if let Some(group) = self.guessed(VALUES_AT) {
            group.prefetch_values();
        }
    }

    /// The group guessed for the held-back row that arrived `age` rows before the newest.
    fn guessed(&self, age: usize) -> Option<&Group> {
        self.groups.get(self.ahead.guess_at(age)?)
    }

    /// Plans one CSV row now; `hash` is its ID's, where known already.
    fn plan_cells(&mut self, row: RowRef, cells: CellsRef<'_>, hash: Option<u64>) {
        let index = self.group_for_row(cells.id(), hash, row.at, ID);
        self.groups[index].add_row(row, cells.op(), cells.if_match(), &mut self.rules)
    }

    /// Plans the oldest CSV row held back.
    fn plan_oldest_held(&mut self) {
        if let Some(held) = self.ahead.take_oldest() {
            self.plan_cells(held.row, held.cells.borrowed(), Some(held.hash));
            self.ahead.recycle(held.cells);
        }
    }

    /// Plans every CSV row held back, so that what comes next is planned after them.
    fn plan_held_rows(&mut self) {
        while !self.ahead.is_empty() {
            self.plan_oldest_held();
        }
    }

    /// Every entry, in plan order.
    pub fn finish(self) -> Plan {
        self.finish_each(|_| {})
    }

    /// Every entry, in plan order, and the line of each one's first row: what merging
    /// the plans of several shares compares (see `plan::parallel`), taken here, where
    /// each group's rows are in reach anyway, rather than read from every entry again.
    pub fn finish_with_first_lines(self) -> (Plan, Vec<LineRef>) {
        let mut first_lines = Vec::with_capacity(self.groups.len());
        // Every group has its first row from the start; one without would go first.
        let none = LineRef { input: 0, line: 0 };
        let plan = self.finish_each(|group| first_lines.push(group.first_line().unwrap_or(none)));
        (plan, first_lines)
    }

    /// Every entry, in plan order, each group shown to `each` before it is finished.
    fn finish_each(mut self, mut each: impl FnMut(&Group)) -> Plan {
        self.plan_held_rows();
        let Planner {
            groups,
            by_id,
            rules,
            ..
        } = self;
        // The ID map is done with: let it go before the documents are built, which is
        // when a large plan reaches its peak memory.
        drop(by_id);
        let mut entries = Vec::with_capacity(groups.len());
        entries.extend(groups.into_groups(Group::prefetch_for_finish).map(|group| {
            each(&group);
            group.finish(&rules.names)
        }));
        Plan { entries }
    }

    /// The index of a readable row's group, its ID given in the field `id_field`; a row
    /// without an ID gets its own group and says so.
    fn group_for_row(&mut self, id: &str, hash: Option<u64>, at: LineRef, id_field: &str) -> usize {
        let index = self.group_for(id, hash, at, id_field);
        if id.is_empty() {
            self.groups[index].add_error(missing_id_error(at, id_field));
        }
        index
    }

    /// The index of the group of `id` (whose hash is `hash`, where known), created on
    /// first sight, an ID error naming `id_field`; a new one for each empty ID.
    fn group_for(&mut self, id: &str, hash: Option<u64>, at: LineRef, id_field: &str) -> usize {
        if id.is_empty() {
            return self.new_group(id, at, 0, id_field);
        }
        if let Some(index) = self.predicted(id) {
            self.last = index;
            return index;
        }
        let hash = hash.unwrap_or_else(|| self.id_hash(id));
        let groups = &self.groups;
        let found = self.by_id.find(hash, |entry| {
            entry.has(hash) && groups[entry.group()].id() == Some(id)
        });
        let index = match found {
            Some(entry) => entry.group(),
            None => self.new_group(id, at, hash, id_field),
        };
        self.predicting = index == self.last || index == self.last + 1;
        self.last = index;
        index
    }

    /// The group of `id` when it is the previous row's or the next one in plan order,
    /// checked only while rows keep to that pattern.
    ///
    /// Files tend to come in runs (a referral's rows together) or in passes (one column's
    /// updates for every referral, then the next column's, in the same order). Either way
    /// the group is found next to the last one, in memory just touched, without the hash
    /// lookup's cache misses: a profile of a million-row `plan` had those as its costliest
    /// step. In a shuffled file the pattern breaks at once and only the lookup is done.
    fn predicted(&self, id: &str) -> Option<usize> {
        if !self.predicting {
            return None;
        }
        [self.last, self.last + 1]
            .into_iter()
            .find(|&index| self.groups.get(index).and_then(Group::id) == Some(id))
    }

    /// Starts the group of `id` (whose hash is `hash`, given in the field `id_field`), or
    /// of an ID-less row.
    fn new_group(&mut self, id: &str, at: LineRef, hash: u64, id_field: &str) -> usize {
        let index = self.groups.len();
        let mut group = Group::new((!id.is_empty()).then(|| id.to_owned()), at, id_field);
        if self.lines_only {
            group.keep_lines_only();
        }
        self.groups.push(group);
        if id.is_empty() {
            return index;
        }
        let entry = IdEntry::new(hash, index);
        self.by_id.insert_unique(hash, entry, IdEntry::hash);
        index
    }

    /// The hash of `id` in `by_id`: 32 bits of it, as [`IdEntry`] keeps them.
    fn id_hash(&self, id: &str) -> u64 {
        // Truncation intended: the top half of a 64-bit hash is as good as all of it.
        widen((self.hasher.hash_one(id) >> 32) as u32)
    }
}

/// An entry of the planner's ID map, in 8 bytes: the 32 bits of hash its ID was found by,
/// and the index of its group.
///
/// Keeping the hash lets the table grow without hashing every ID again (each read from
/// its own place in memory), and lets a lookup pass over another ID's entry without
/// reading that group, where the table's 7-bit tags agree by chance.
#[derive(Clone, Copy, Debug)]
struct IdEntry {
    hash: u32,
    group: u32,
}

impl IdEntry {
    /// The entry of the group at `index`, whose ID's hash is `hash`.
    fn new(hash: u64, index: usize) -> Self {
        IdEntry {
            // The hash's two halves are equal (see `widen`).
            hash: hash as u32,
            // A group takes over a hundred bytes: memory runs out long before 2^32 of them.
            group: u32::try_from(index).expect("fewer than 2^32 referral groups fit in memory"),
        }
    }

    /// Whether the entry's ID has the hash `hash`.
    fn has(&self, hash: u64) -> bool {
        u64::from(self.hash) == hash & u64::from(u32::MAX)
    }

    /// The index of the entry's group.
    fn group(&self) -> usize {
        self.group as usize
    }

    /// The entry's hash in the table.
    fn hash(&self) -> u64 {
        widen(self.hash)
    }
}

/// A 32-bit hash as the 64 bits the table wants: hashbrown picks the bucket from the low
/// bits and a 7-bit tag from the top ones, so both halves carry the same 32 bits.
fn widen(hash: u32) -> u64 {
    u64::from(hash) << 32 | u64::from(hash)
}

/// The planning error of an unreadable record, as the reader described it.
fn malformed_error(
    at: LineRef,
    kind: MalformedKind,
    field: Option<String>,
    message: String,
) -> PlanError {
    let code = match kind {
        MalformedKind::Record => ErrorCode::MalformedRecord,
        MalformedKind::MissingColumn => ErrorCode::MissingColumn,
        MalformedKind::Value => ErrorCode::InvalidValue,
        MalformedKind::Id => ErrorCode::InvalidId,
    };
    PlanError {
        at: Some(at),
        field,
        code,
        message,
    }
}

fn missing_id_error(at: LineRef, id_field: &str) -> PlanError {
    PlanError {
        at: Some(at),
        field: Some(id_field.into()),
        code: ErrorCode::InvalidId,
        message: "the row has no referral ID; fill in its id with the referral's ID (a GUID \
                  as Partner Center shows it)"
            .into(),
    }
}

#[cfg(test)]
#[path = "planner_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "planner_props.rs"]
mod props;
