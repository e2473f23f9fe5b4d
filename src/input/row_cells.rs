//! A CSV row's cells in one allocation, and borrowed.
//!
//! A profile of `plan` on a million CSV rows had a fifth of its time in allocating one
//! string per cell on the reader thread and freeing it on the planner's. Held as one text
//! with the cells' ends, a row costs one allocation, and the planner reads its cells as
//! borrowed `&str`s ([`CellsRef`]); a thread that plans rows of a block it scanned
//! borrows them straight from the block and allocates nothing (`input::blocks`).

use super::{RawOpRef, RawValueRef};

/// The `id`, `op`, `path`, `value` and `if_match` cells of one CSV row, as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowCells {
    /// The cells one after another.
    text: Box<str>,
    /// Where each cell ends in `text`; each starts where the one before it ends.
    ends: [u32; 5],
}

impl RowCells {
    /// The cells of a row; an empty `if_match` means the row has none.
    ///
    /// Cells come from one record, bounded far below 4 GiB
    /// ([`super::MAX_RECORD_BYTES`]), so their offsets fit in `u32`.
    pub fn new(id: &str, op: &str, path: &str, value: &str, if_match: &str) -> Self {
        let cells = CellsRef([id, op, path, value, if_match]);
        let mut text = String::with_capacity(cells.0.iter().map(|c| c.len()).sum());
        let ends = write_cells(&mut text, cells);
        RowCells {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// The cells, borrowed.
    pub fn borrowed(&self) -> CellsRef<'_> {
        cells_in(&self.text, &self.ends)
    }
}

/// A row's cells copied into a buffer that is reused from row to row: for a planner that
/// holds a few rows back (see `plan::ahead`) and must not borrow them from a reader.
#[derive(Debug, Default)]
pub struct CellsBuf {
    /// The cells one after another.
    text: String,
    /// Where each cell ends in `text`.
    ends: [u32; 5],
}

impl CellsBuf {
    /// Holds a copy of `cells` instead of what it held. The cells come from one record,
    /// bounded far below 4 GiB ([`super::MAX_RECORD_BYTES`]).
    pub fn fill(&mut self, cells: CellsRef<'_>) {
        self.text.clear();
        self.ends = write_cells(&mut self.text, cells);
    }

    /// The cells, borrowed.
    pub fn borrowed(&self) -> CellsRef<'_> {
        cells_in(&self.text, &self.ends)
    }
}

/// Appends the cells to `text`, giving where each ends from where the first starts.
fn write_cells(text: &mut String, cells: CellsRef<'_>) -> [u32; 5] {
    let start = text.len();
    let mut ends = [0; 5];
    for (end, cell) in ends.iter_mut().zip(cells.0) {
        text.push_str(cell);
        *end = (text.len() - start) as u32;
    }
    ends
}

/// The cells of `text` that end at `ends`.
fn cells_in<'a>(text: &'a str, ends: &[u32; 5]) -> CellsRef<'a> {
    let mut cells = [""; 5];
    let mut start = 0;
    for (cell, &end) in cells.iter_mut().zip(ends) {
        // The ends were taken at cell boundaries of `text` by `write_cells`.
        *cell = text.get(start..end as usize).unwrap_or_default();
        start = end as usize;
    }
    CellsRef(cells)
}

/// The `id`, `op`, `path`, `value` and `if_match` cells of one CSV row, borrowed: from a
/// [`RowCells`], or from the reader's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellsRef<'a>(pub [&'a str; 5]);

impl<'a> CellsRef<'a> {
    /// The referral ID as written (may be empty; the planner judges it).
    pub fn id(&self) -> &'a str {
        self.0[0]
    }

    /// The operation.
    pub fn op(&self) -> RawOpRef<'a> {
        RawOpRef {
            op: self.0[1],
            path: self.0[2],
            value: RawValueRef::Text(self.0[3]),
        }
    }

    /// `if_match` as written, `None` where the column is absent or the cell empty.
    pub fn if_match(&self) -> Option<&'a str> {
        Some(self.0[4]).filter(|tag| !tag.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cell_reads_back_as_written() {
        let owned = RowCells::new("A-1", "replace", "/details/notes", "é, \"x\"", "W/1");
        let cells = owned.borrowed();
        assert_eq!(cells.id(), "A-1");
        let op = cells.op();
        assert_eq!((op.op, op.path), ("replace", "/details/notes"));
        assert_eq!(op.value, RawValueRef::Text("é, \"x\""));
        assert_eq!(cells.if_match(), Some("W/1"));
    }

    #[test]
    fn empty_cells_are_empty_and_an_empty_if_match_is_none() {
        let owned = RowCells::new("", "", "", "", "");
        let cells = owned.borrowed();
        assert_eq!(cells.id(), "");
        assert_eq!(cells.op().value, RawValueRef::Text(""));
        assert_eq!(cells.if_match(), None);
    }
}
