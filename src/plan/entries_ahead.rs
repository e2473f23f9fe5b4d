//! A walk over plan entries that fetches each entry's memory a few entries before its
//! turn, for the passes that write every entry out (the planned documents, the report).
//!
//! Each entry's document, its ID, its operations and their values are allocations of
//! their own, made while the rows came in, so in plan order they lie scattered over the
//! plan's memory, and each is found only once the one pointing at it has arrived. Written
//! one after another, each is a cache miss that the writing waits on. Here an entry's
//! document is fetched [`DOCUMENT_AT`] entries before its turn, the parts it points at
//! [`PARTS_AT`] entries before, and (for the documents) the operations' values
//! [`VALUES_AT`] before, as `plan::ahead` does for rows being planned.

use super::ahead::{prefetch, prefetch_all, prefetch_slice};
use super::{Document, PlanEntry};
use std::ops::Range;

/// How many entries before its turn an entry's document is fetched.
const DOCUMENT_AT: usize = 8;
/// How many entries before its turn the parts an entry's document points at are fetched:
/// by then the document, fetched at [`DOCUMENT_AT`], has come.
const PARTS_AT: usize = 4;
/// How many entries before its turn the values of a document's operations are fetched: by
/// then its operations, fetched at [`PARTS_AT`], have come.
const VALUES_AT: usize = 2;

/// What of each entry the walk is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// The document form: the ID, the operations and their values.
    Operations,
    /// A report row: the ID and the rows.
    Rows,
}

/// Calls `each` with the index and the entry of every index in `range` of `entries` (as
/// far as there are entries), in order, each entry's memory fetched before its turn for
/// what `needs` says; stops at the first error `each` returns, and returns it.
pub fn try_for_each_ahead<E>(
    entries: &[PlanEntry],
    range: Range<usize>,
    needs: Needs,
    mut each: impl FnMut(usize, &PlanEntry) -> Result<(), E>,
) -> Result<(), E> {
    let range = range.start.min(entries.len())..range.end.min(entries.len());
    let entries = entries.get(range.clone()).unwrap_or_default();
    let document_at = |index: usize| entries.get(index).and_then(document);
    for (index, entry) in entries.iter().enumerate() {
        if let Some(doc) = document_at(index + DOCUMENT_AT) {
            prefetch_all(doc);
        }
        if let Some(doc) = document_at(index + PARTS_AT) {
            prefetch(doc.id.as_ptr());
            match needs {
                Needs::Operations => prefetch_slice(&doc.ops),
                Needs::Rows => doc.rows.prefetch_all(),
            }
        }
        if needs == Needs::Operations
            && let Some(doc) = document_at(index + VALUES_AT)
        {
            for op in &doc.ops {
                op.value.prefetch();
            }
        }
        each(range.start + index, entry)?;
    }
    Ok(())
}

/// The document of `entry`; refused entries are few, and not fetched ahead.
fn document(entry: &PlanEntry) -> Option<&Document> {
    match entry {
        PlanEntry::Document(doc) => Some(doc),
        PlanEntry::Invalid(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_support::csv;
    use crate::plan::{PlanOptions, Planner};

    /// A plan of `count` entries, every fifth refused (an ID-less row), the others
    /// documents of two operations.
    fn entries(count: u64) -> Vec<PlanEntry> {
        let mut planner = Planner::new(PlanOptions::default());
        let mut line = 2;
        for entry in 0..count {
            let id = match entry % 5 {
                4 => String::new(),
                _ => format!("{entry:08x}-0000-0000-0000-000000000000"),
            };
            for (path, value) in [("/name", "n"), ("/details/notes", "x")] {
                planner.push(&csv(line, &id, "replace", path, value));
                line += 1;
            }
        }
        planner.finish().entries
    }

    #[test]
    fn every_entry_of_the_range_comes_once_in_order_with_its_index() {
        let all = entries(40);
        for range in [
            0..all.len(),
            3..all.len(),
            0..0,
            5..6,
            7..29,
            all.len() - 2..all.len(),
        ] {
            for needs in [Needs::Operations, Needs::Rows] {
                let seen = walked(&all, range.clone(), needs);
                assert_eq!(seen, range.clone().collect::<Vec<_>>(), "{range:?}");
            }
        }
    }

    #[test]
    fn the_first_error_stops_the_walk_and_is_returned() {
        let all = entries(30);
        let mut seen = Vec::new();
        let done = try_for_each_ahead(&all, 2..30, Needs::Operations, |index, _| {
            seen.push(index);
            match index {
                11 => Err(index),
                _ => Ok(()),
            }
        });
        assert_eq!(done, Err(11));
        assert_eq!(seen, (2..=11).collect::<Vec<_>>());
    }

    #[test]
    fn a_range_past_the_entries_visits_those_there_are() {
        assert_eq!(walked(&entries(3), 1..9, Needs::Rows), [1, 2]);
    }

    /// The indices a walk of `range` visits, in order, each with its own entry; the walk
    /// must end well.
    fn walked(all: &[PlanEntry], range: Range<usize>, needs: Needs) -> Vec<usize> {
        let mut seen = Vec::new();
        let done = try_for_each_ahead(all, range, needs, |index, entry| {
            assert_eq!(entry, &all[index]);
            seen.push(index);
            Ok::<_, ()>(())
        });
        assert_eq!(done, Ok(()));
        seen
    }
}
