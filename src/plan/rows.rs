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
//!
//! Only the rejects file reads where a row lies in its file; a run without `--rejects`
//! keeps each row's line alone ([`RowList::lines_only`]), in 8 bytes (16 where its numbers
//! do not fit in 8).

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
    /// Lines alone, for a run that never reads a row's text again (no `--rejects`): 8
    /// bytes a row, each line with its input's number in its top bits.
    Lines(Vec<u64>),
    /// Lines alone whose numbers do not fit in 8 bytes.
    WideLines(Vec<LineRef>),
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
        let line_and_input = pack_line(row.at)?;
        let fits = row.span.start < 1 << START_BITS && len < 1 << (64 - START_BITS);
        fits.then_some(PackedRow {
            line_and_input,
            start_and_len: row.span.start | len << START_BITS,
        })
    }

    fn unpack(self) -> RowRef {
        let start = self.start_and_len & ((1 << START_BITS) - 1);
        RowRef {
            at: unpack_line(self.line_and_input),
            span: Span {
                start,
                end: start + (self.start_and_len >> START_BITS),
            },
        }
    }
}

/// A line in 8 bytes: its number, with its input's number in the top bits.
fn pack_line(at: LineRef) -> Option<u64> {
    let fits = u64::from(at.input) < 1 << (64 - LINE_BITS) && at.line < 1 << LINE_BITS;
    fits.then(|| at.line | u64::from(at.input) << LINE_BITS)
}

fn unpack_line(packed: u64) -> LineRef {
    LineRef {
        // The top bits hold what `pack_line` put there, which came from a `u32`.
        input: (packed >> LINE_BITS) as u32,
        line: packed & ((1 << LINE_BITS) - 1),
    }
}

/// A row of a list that keeps lines alone: where it lies in its file is not known.
fn line_only(at: LineRef) -> RowRef {
    RowRef {
        at,
        span: Span::default(),
    }
}

impl RowList {
    /// An empty list that keeps each row's line and not where the row lies in its file:
    /// half the memory, for a run that never copies a row out again (see
    /// [`RowList::has_spans`]).
    pub fn lines_only() -> Self {
        RowList(Rows::Lines(Vec::new()))
    }

    /// Whether each row's place in its file is kept (what `--rejects` copies rows by).
    pub fn has_spans(&self) -> bool {
        matches!(self.0, Rows::Packed(_) | Rows::Plain(_))
    }

    /// Adds `row` after the others, growing the list by half when it is full.
    pub fn push(&mut self, row: RowRef) {
        match &mut self.0 {
            Rows::Packed(packed) => match PackedRow::pack(row) {
                Some(row) => push_compact(packed, row),
                None => {
                    let mut plain: Vec<RowRef> = packed.iter().map(|row| row.unpack()).collect();
                    push_compact(&mut plain, row);
                    self.0 = Rows::Plain(plain);
                }
            },
            Rows::Plain(plain) => push_compact(plain, row),
            Rows::Lines(lines) => match pack_line(row.at) {
                Some(line) => push_compact(lines, line),
                None => {
                    let mut wide: Vec<LineRef> = lines.iter().map(|&l| unpack_line(l)).collect();
                    push_compact(&mut wide, row.at);
                    self.0 = Rows::WideLines(wide);
                }
            },
            Rows::WideLines(wide) => push_compact(wide, row.at),
        }
    }

    /// How many rows there are.
    pub fn len(&self) -> usize {
        match &self.0 {
            Rows::Packed(rows) => rows.len(),
            Rows::Plain(rows) => rows.len(),
            Rows::Lines(rows) => rows.len(),
            Rows::WideLines(rows) => rows.len(),
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
            Rows::Lines(rows) => rows.get(index).map(|&line| line_only(unpack_line(line))),
            Rows::WideLines(rows) => rows.get(index).map(|&at| line_only(at)),
        }
    }

    /// The rows, in input order.
    pub fn iter(&self) -> RowIter<'_> {
        RowIter(match &self.0 {
            Rows::Packed(rows) => Iter::Packed(rows.iter()),
            Rows::Plain(rows) => Iter::Plain(rows.iter()),
            Rows::Lines(rows) => Iter::Lines(rows.iter()),
            Rows::WideLines(rows) => Iter::WideLines(rows.iter()),
        })
    }

    /// Starts loading the place of the next row (see `plan::ahead`).
    pub fn prefetch_end(&self) {
        match &self.0 {
            Rows::Packed(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
            Rows::Plain(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
            Rows::Lines(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
            Rows::WideLines(rows) => prefetch(rows.as_ptr().wrapping_add(rows.len())),
        }
    }

    /// Starts loading every row's place (see `plan::entries_ahead`).
    pub fn prefetch_all(&self) {
        match &self.0 {
            Rows::Packed(rows) => prefetch_slice(rows),
            Rows::Plain(rows) => prefetch_slice(rows),
            Rows::Lines(rows) => prefetch_slice(rows),
            Rows::WideLines(rows) => prefetch_slice(rows),
        }
    }

    /// Gives back the room that growth left unused, when it is more than a quarter of
    /// the list's: a smaller gap is not worth the copy that giving it back costs.
    pub fn shrink_loose(&mut self) {
        match &mut self.0 {
            Rows::Packed(rows) => shrink_loose(rows),
            Rows::Plain(rows) => shrink_loose(rows),
            Rows::Lines(rows) => shrink_loose(rows),
            Rows::WideLines(rows) => shrink_loose(rows),
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
    Lines(std::slice::Iter<'a, u64>),
    WideLines(std::slice::Iter<'a, LineRef>),
}

impl Iterator for RowIter<'_> {
    type Item = RowRef;

    fn next(&mut self) -> Option<RowRef> {
        match &mut self.0 {
            Iter::Packed(rows) => rows.next().map(|row| row.unpack()),
            Iter::Plain(rows) => rows.next().copied(),
            Iter::Lines(rows) => rows.next().map(|&line| line_only(unpack_line(line))),
            Iter::WideLines(rows) => rows.next().map(|&at| line_only(at)),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Iter::Packed(rows) => rows.size_hint(),
            Iter::Plain(rows) => rows.size_hint(),
            Iter::Lines(rows) => rows.size_hint(),
            Iter::WideLines(rows) => rows.size_hint(),
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
            Rows::Lines(rows) => rows.capacity(),
            Rows::WideLines(rows) => rows.capacity(),
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
    fn a_list_of_lines_only_keeps_every_line_and_says_it_has_no_spans() {
        let rows = [row(0, 2, 10, 50), row(3, 7, 1 << 30, (1 << 30) + 9)];
        let mut list = RowList::lines_only();
        rows.iter().for_each(|&row| list.push(row));
        assert!(matches!(list.0, Rows::Lines(_)));
        assert!(!list.has_spans());
        let lines = |list: &RowList| list.iter().map(|row| row.at).collect::<Vec<_>>();
        assert_eq!(lines(&list), [rows[0].at, rows[1].at]);
        assert_eq!(list.get(1).map(|row| row.at), Some(rows[1].at));
        assert!(list.iter().all(|row| row.span == Span::default()));

        let wide = row(u32::MAX, u64::MAX, 0, 1);
        list.push(wide);
        assert!(matches!(list.0, Rows::WideLines(_)));
        assert!(!list.has_spans());
        assert_eq!(lines(&list), [rows[0].at, rows[1].at, wide.at]);
        assert_eq!(list.first().map(|row| row.at), Some(rows[0].at));

        let full: RowList = rows.into_iter().collect();
        assert!(full.has_spans());
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
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), rows.clone());
            let mut lines = RowList::lines_only();
            rows.iter().for_each(|&row| lines.push(row));
            prop_assert_eq!(lines.len(), rows.len());
            let want: Vec<_> = rows.iter().map(|row| row.at).collect();
            prop_assert_eq!(lines.iter().map(|row| row.at).collect::<Vec<_>>(), want);
        }
    }
}
