//! CSV rows held back a few places before they are planned, so that the memory their
//! planning touches is on its way to the CPU by their turn.
//!
//! Planning a row touches its group (found through the ID map), the group's ID, the end
//! of its row list, its operations and their values: places scattered over the hundred
//! megabytes that a million rows' groups take, each found only once the one before it has
//! arrived. In a file in no particular order, each is a cache miss. Here a row's group is
//! guessed as the row arrives (the ID map's first candidate for its hash, IDs not
//! compared) and fetched; [`PARTS_AT`] rows later, the group's ID, row list and operations
//! are fetched; [`VALUES_AT`] rows later, the operations' values; and [`HELD`] rows after
//! its arrival the row is planned, in input order as before. The guesses are only hints:
//! planning finds the group as it always did.

use std::collections::VecDeque;

use crate::input::{CellsBuf, CellsRef, RowRef};

/// How many rows wait before the oldest is planned.
pub const HELD: usize = 8;

/// How many rows after its own arrival a row's group's parts are fetched: by then the
/// group, fetched at its arrival, has come.
pub const PARTS_AT: usize = 3;

/// How many rows after its own arrival the values of its group's operations are fetched:
/// by then the operations, fetched with the parts, have come.
pub const VALUES_AT: usize = 6;

/// A CSV row waiting its turn, with its ID's hash and the guess at its group.
#[derive(Debug)]
pub struct Waiting {
    /// Where the row came from.
    pub row: RowRef,
    /// Its cells, copied.
    pub cells: CellsBuf,
    /// The hash of its ID in the planner's ID map.
    pub hash: u64,
    /// The index of the group it probably joins; `None` for a new ID, as far as is known.
    pub guess: Option<usize>,
}

/// The rows waiting, oldest first, and the cell buffers of rows already planned.
#[derive(Debug, Default)]
pub struct Ahead {
    waiting: VecDeque<Waiting>,
    spare: Vec<CellsBuf>,
}

impl Ahead {
    /// Whether the oldest row must be planned before another can wait.
    pub fn is_full(&self) -> bool {
        self.waiting.len() >= HELD
    }

    /// Whether no row is waiting.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Adds a row to wait.
    pub fn push(&mut self, row: RowRef, cells: CellsRef<'_>, hash: u64, guess: Option<usize>) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.fill(cells);
        self.waiting.push_back(Waiting {
            row,
            cells: buf,
            hash,
            guess,
        });
    }

    /// The guess at the group of the row that arrived `age` rows before the newest.
    pub fn guess_at(&self, age: usize) -> Option<usize> {
        let position = self.waiting.len().checked_sub(age + 1)?;
        self.waiting.get(position)?.guess
    }

    /// The oldest row waiting, to be planned; hand its cells back with [`Ahead::recycle`].
    pub fn take_oldest(&mut self) -> Option<Waiting> {
        self.waiting.pop_front()
    }

    /// Keeps a planned row's cell buffer for a later row.
    pub fn recycle(&mut self, cells: CellsBuf) {
        self.spare.push(cells);
    }
}

/// Asks the CPU to start loading every cache line of `value`; a hint, nothing more.
pub fn prefetch_all<T>(value: &T) {
    prefetch_slice(std::slice::from_ref(value));
}

/// Starts loading every cache line of `items`.
pub fn prefetch_slice<T>(items: &[T]) {
    let start = items.as_ptr().cast::<u8>();
    for offset in (0..std::mem::size_of_val(items)).step_by(64) {
        prefetch(start.wrapping_add(offset));
    }
}

/// Asks the CPU to start loading the cache line at `ptr`; a hint, nothing more: nothing
/// is read through `ptr`, so any address will do.
#[inline(always)]
pub fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: SSE, the intrinsic's one requirement, is part of every x86_64 CPU; a
        // prefetch reads nothing into the program and cannot fault, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{LineRef, Span};

    fn row(line: u64) -> RowRef {
        RowRef {
            at: LineRef { input: 0, line },
            span: Span::default(),
        }
    }

    #[test]
    fn rows_wait_in_arrival_order_and_a_guess_is_found_by_its_rows_age() {
        let mut ahead = Ahead::default();
        for line in 0..HELD as u64 {
            let id = line.to_string();
            let cells = CellsRef([&id, "replace", "/name", "v", ""]);
            ahead.push(row(line), cells, line, Some(line as usize * 10));
            let newest = line as usize;
            assert_eq!(ahead.guess_at(0), Some(newest * 10));
            let parts = newest.checked_sub(PARTS_AT).map(|old| old * 10);
            assert_eq!(ahead.guess_at(PARTS_AT), parts);
        }
        assert!(ahead.is_full());
        assert_eq!(ahead.guess_at(HELD - 1), Some(0));
        assert_eq!(ahead.guess_at(HELD), None);
        for line in 0..HELD as u64 {
            let oldest = ahead.take_oldest().unwrap();
            assert_eq!(oldest.row, row(line));
            assert_eq!(oldest.cells.borrowed().id(), line.to_string());
            assert_eq!(oldest.hash, line);
            ahead.recycle(oldest.cells);
        }
        assert!(ahead.is_empty());
        assert!(ahead.take_oldest().is_none());
    }

    #[test]
    fn a_recycled_buffer_holds_the_next_rows_cells_only() {
        let mut ahead = Ahead::default();
        ahead.push(
            row(1),
            CellsRef(["long-id", "add", "/team/-", "{}", "e"]),
            1,
            None,
        );
        let first = ahead.take_oldest().unwrap();
        ahead.recycle(first.cells);
        ahead.push(row(2), CellsRef(["b", "replace", "/name", "", ""]), 2, None);
        let second = ahead.take_oldest().unwrap();
        assert_eq!(
            second.cells.borrowed(),
            CellsRef(["b", "replace", "/name", "", ""])
        );
    }
}
