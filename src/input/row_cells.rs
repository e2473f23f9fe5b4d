//! A CSV row's cells in one allocation.
//!
//! A profile of `plan` on a million CSV rows had a fifth of its time in allocating one
//! string per cell on the reader thread and freeing it on the planner's. Held as one text
//! with the cells' ends, a row costs one allocation, and the planner reads its cells as
//! borrowed `&str`s.

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
        let cells = [id, op, path, value, if_match];
        let mut text = String::with_capacity(cells.iter().map(|c| c.len()).sum());
        let mut ends = [0; 5];
        for (end, cell) in ends.iter_mut().zip(cells) {
            text.push_str(cell);
            *end = text.len() as u32;
        }
        RowCells {
            text: text.into_boxed_str(),
            ends,
        }
    }

    /// Cell `index` in `id, op, path, value, if_match` order.
    fn cell(&self, index: usize) -> &str {
        let start = index.checked_sub(1).map_or(0, |before| self.ends[before]);
        // Both ends were taken at cell boundaries of `text` in `new`.
        self.text
            .get(start as usize..self.ends[index] as usize)
            .unwrap_or_default()
    }

    /// The referral ID as written (may be empty; the planner judges it).
    pub fn id(&self) -> &str {
        self.cell(0)
    }

    /// The operation, borrowed from the cells.
    pub fn op(&self) -> RawOpRef<'_> {
        RawOpRef {
            op: self.cell(1),
            path: self.cell(2),
            value: RawValueRef::Text(self.cell(3)),
        }
    }

    /// `if_match` as written, `None` where the column is absent or the cell empty.
    pub fn if_match(&self) -> Option<&str> {
        Some(self.cell(4)).filter(|tag| !tag.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cell_reads_back_as_written() {
        let cells = RowCells::new("A-1", "replace", "/details/notes", "é, \"x\"", "W/1");
        assert_eq!(cells.id(), "A-1");
        let op = cells.op();
        assert_eq!((op.op, op.path), ("replace", "/details/notes"));
        assert_eq!(op.value, RawValueRef::Text("é, \"x\""));
        assert_eq!(cells.if_match(), Some("W/1"));
    }

    #[test]
    fn empty_cells_are_empty_and_an_empty_if_match_is_none() {
        let cells = RowCells::new("", "", "", "", "");
        assert_eq!(cells.id(), "");
        assert_eq!(cells.op().value, RawValueRef::Text(""));
        assert_eq!(cells.if_match(), None);
    }
}
