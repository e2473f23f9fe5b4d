//! The input rows of one plan entry, each held in 16 bytes instead of a [`RowRef`]'s 32.
//!
//! A plan holds every input row's place until the end of the run (for the report's
//! `source_lines` and the rejects file): a million rows' [`RowRef`]s took 32 MB, a quarter
//! of `plan`'s peak memory, and a profile had a tenth of its time in growing row and
//! operation lists, most of it faulting in fresh pages. Packed, the rows take half: on the
//! benchmark's million-row CSV, peak memory fell from 130 to 121 MB and CPU time by 3 %.
//! A row whose numbers do not fit (an input past the 65,536th, a line past 2^48, a file
//! past 4 TiB, a record of 4 MiB or more) turns its list back into plain [`RowRef`]s, so
//! nothing is ever cut.

use super::ahead::{prefetch, prefetch_slice};
use super::{push_compact, shrink_loose};
use crate::input::{LineRef, RowRef, Span};

/// The rows of one plan entry, in input order.
#[derive(Clone, Debug, Default)]
pub struct RowList(Rows);

#[derive(Clone, Debug)]
enum Rows {
    Packed(Vec<PackedRow>),
    Plain(Vec<RowRef>),
}

impl Default for Rows {
    fn default() -> Self {
        Rows::Packed(Vec::new())
    }
}

/// A [`RowRef`] in two words: the line with the input's index in its top bits, and the
/// record's start with its length in its top bits.
#[derive(Clone, Copy, Debug)]
struct PackedRow {
    line_and_input: u64,
    start_and_len: u64,
}

const LINE_BITS: u32 = 48;
const START_BITS: u32 = 42;

impl PackedRow {
    /// `row` packed, or `None` where one of its numbers does not fit.
    fn pack(row: RowRef) -> Option<Self> {
        let len = row.span.end.checked_sub(row.span.start)?;
        let fits = u64::from(row.at.input) < 1 << (64 - LINE_BITS)
            && row.at.line < 1 << LINE_BITS
            && row.span.start < 1 << START_BITS
            && len < 1 << (64 - START_BITS);
        fits.then(|| PackedRow {
            line_and_input: row.at.line | u64::from(row.at.input) << LINE_BITS,
            start_and_len: row.span.start | len << START_BITS,
        })
    }

    fn unpack(self) -> RowRef {
        let start = self.start_and_len & ((1 << START_BITS) - 1);
        RowRef {
            at: LineRef {
                // The top bits hold what `pack` put there, which came from a `u32`.
                input: (self.line_and_input >> LINE_BITS) as u32,
                line: self.line_and_input & ((1 << LINE_BITS) - 1),
            },
            span: Span {
                start,
                end: start + (self.start_and_len >> START_BITS),
            },
        }
    }
}

impl RowList {
    /// Adds `row` after the others, growing the list by half when it is full.
    pub fn push(&mut self, row: RowRef) {
        if let Rows::Packed(packed) = &mut self.0 {
            match PackedRow::pack(row) {
                Some(row) => return push_compact(packed, row),
                None => self.0 = Rows::Plain(packed.iter().map(|row| row.unpack()).collect()),
            }
        }
        if let Rows::Plain(plain) = &mut self.0 {
            push_compact(plain, row);
        }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Rows::Packed(rows) => rows.len(),
            Rows::Plain(rows) => rows.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first row.
    pub fn first(&self) -> Option<RowRef> {
        self.get(0)
    }

    /// The row at `index`, in input order.
    pub fn get(&self, index: usize) -> Option<RowRef> {
        match &self.0 {
            Rows::Packed(rows) => rows.get(index).map(|row| row.unpack()),
            Rows::Plain(rows) => rows.get(index).copied(),
        }
    }

    /// The rows, in input order.
    pub fn iter(&self) -> RowIter<'_> {
        RowIter(match &self.0 {
            Rows::Packed(rows) => Iter::Packed(rows.iter()),
            Rows::Plain(rows) => Iter::Plain(rows.iter()),
        })
    }

    /// Starts loading the place of the next row (see `plan::ahead`).
    pub fn prefetch_end(&self) {
        match &self.0 {
            Rows::Packed(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
            Rows::Plain(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
        }
    }

    /// Starts loading every row's place (see `plan::entries_ahead`).
    pub fn prefetch_all(&self) {
        match &self.0 {
            Rows::Packed(rows) => prefetch_slice(rows),
            Rows::Plain(rows) => prefetch_slice(rows),
        }
    }

    /// Gives back the room that growth left unused, when it is more than a quarter of
    /// the list's: a smaller gap is not worth the copy that giving it back costs.
    pub fn shrink_loose(&mut self) {
        match &mut self.0 {
            Rows::Packed(rows) => shrink_loose(rows),
            Rows::Plain(rows) => shrink_loose(rows),
        }
    }
}

impl PartialEq for RowList {
    /// The same rows in the same order, however each list holds them.
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl FromIterator<RowRef> for RowList {
    fn from_iter<I: IntoIterator<Item = RowRef>>(rows: I) -> Self {
        let mut list = RowList::default();
        for row in rows {
            list.push(row);
        }
        list
    }
}

impl<'a> IntoIterator for &'a RowList {
    type Item = RowRef;
    type IntoIter = RowIter<'a>;

    fn into_iter(self) -> RowIter<'a> {
        self.iter()
    }
}

/// The rows of a [`RowList`], in input order.
#[derive(Clone, Debug)]
pub struct RowIter<'a>(Iter<'a>);

#[derive(Clone, Debug)]
enum Iter<'a> {
    Packed(std::slice::Iter<'a, PackedRow>),
    Plain(std::slice::Iter<'a, RowRef>),
}

impl Iterator for RowIter<'_> {
    type Item = RowRef;

    fn next(&mut self) -> Option<RowRef> {
        match &mut self.0 {
            Iter::Packed(rows) => rows.next().map(|row| row.unpack()),
            Iter::Plain(rows) => rows.next().copied(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Iter::Packed(rows) => rows.size_hint(),
            Iter::Plain(rows) => rows.size_hint(),
        }
    }
}

impl ExactSizeIterator for RowIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn row(input: u32, line: u64, start: u64, end: u64) -> RowRef {
        RowRef {
            at: LineRef { input, line },
            span: Span { start, end },
        }
    }

    #[test]
    fn rows_come_back_as_pushed_whether_packed_or_not() {
        let small = [row(0, 2, 10, 50), row(3, 7, 1 << 30, (1 << 30) + 9)];
        let list: RowList = small.into_iter().collect();
        assert!(matches!(list.0, Rows::Packed(_)));
        assert_eq!(list.iter().collect::<Vec<_>>(), small);

        let large = row(u32::MAX, u64::MAX, u64::MAX - 1, u64::MAX);
        let mut grown = list.clone();
        grown.push(large);
        assert!(matches!(grown.0, Rows::Plain(_)));
        assert_eq!(grown.len(), 3);
        assert_eq!(grown.first(), Some(small[0]));
        assert_eq!(
            grown.iter().collect::<Vec<_>>(),
            [small[0], small[1], large]
        );
    }

    fn capacity(list: &RowList) -> usize {
        match &list.0 {
            Rows::Packed(rows) => rows.capacity(),
            Rows::Plain(rows) => rows.capacity(),
        }
    }

    #[test]
    fn only_room_of_more_than_a_quarter_unused_is_given_back() {
        let rows = |count: u64| (0..count).map(|line| row(0, line, line, line + 1));
        // Growth by half: room for 11 once the tenth row comes, for 7 at the fifth.
        let mut tight: RowList = rows(10).collect();
        assert_eq!(capacity(&tight), 11);
        tight.shrink_loose();
        assert_eq!(capacity(&tight), 11);
        let mut loose: RowList = rows(5).collect();
        assert_eq!(capacity(&loose), 7);
        loose.shrink_loose();
        assert_eq!(capacity(&loose), 5);
        assert_eq!(
            loose.iter().collect::<Vec<_>>(),
            rows(5).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_row_packs_only_where_every_number_fits() {
        let top = |bits: u32| (1u64 << bits) - 1;
        let fits = row(u16::MAX.into(), top(48), top(42), top(42) + top(22));
        assert_eq!(PackedRow::pack(fits).map(PackedRow::unpack), Some(fits));
        for too_big in [
            row(1 << 16, 1, 0, 1),
            row(0, 1 << 48, 0, 1),
            row(0, 1, 1 << 42, (1 << 42) + 1),
            row(0, 1, 0, 1 << 22),
            row(0, 1, 5, 4),
        ] {
            assert!(PackedRow::pack(too_big).is_none(), "{too_big:?}");
        }
    }

    #[test]
    fn lists_of_the_same_rows_are_equal_however_they_hold_them() {
        let rows = [row(0, 2, 10, 50), row(1, 3, 50, 60)];
        let packed: RowList = rows.into_iter().collect();
        let plain = RowList(Rows::Plain(rows.to_vec()));
        assert_eq!(packed, plain);
        assert_ne!(packed, RowList::default());
    }

    proptest! {
        #[test]
        fn any_rows_come_back_as_pushed(
            rows in prop::collection::vec(
                (any::<u32>(), any::<u64>(), any::<u64>(), 0u64..1 << 23)
                    .prop_map(|(input, line, start, len)| {
                        let input = input >> (input % 32);
                        let line = line >> (line % 64);
                        let start = start >> (start % 64);
                        row(input, line, start, start.saturating_add(len))
                    }),
                0..40,
            )
        ) {
            let list: RowList = rows.iter().copied().collect();
            prop_assert_eq!(list.len(), rows.len());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), rows);
        }
    }
}
