//! Reading the plain lines of a CSV file straight from the reader's buffer.
//!
//! A plain line is one whole record on one line: UTF-8, as many fields as the header, each
//! unquoted without a quote in it, or quoted from its first byte to a closing quote that
//! ends it (quotes inside doubled). Nearly every line of an export is plain, and for those
//! the general path (`csv_split` finding the record, the `csv` crate splitting it) gives
//! the same cells at several times the cost. A profile of `plan` on a million rows had the
//! reader at more than a bare parse, most of it in seven `memchr` calls per line; here one
//! pass finds every delimiter, quote and newline of the buffer. Anything else (a quote
//! inside a field, text after a closing quote, a field over two lines, a blank line, a
//! wrong field count, bytes that are not UTF-8) ends the scan, and the general path reads
//! that record and says what is wrong with it.

use std::borrow::Cow;

use super::csv_header::Columns;

/// What a plain line of one file looks like: its delimiter, its width, and the field
/// that fills each of the five cells.
#[derive(Clone, Debug)]
pub struct LineShape {
    /// The delimiter, `"` and line feed, which end or quote a field.
    needles: Needles,
    /// For each field of the header, the cell it fills (`id, op, path, value, if_match`
    /// order), or [`NO_CELL`].
    slots: Vec<u8>,
}

/// The slot of a field that fills none of the five cells: a sixth, thrown away, so that a
/// field's span is stored without a branch.
const NO_CELL: u8 = 5;

/// The five cells' spans and [`NO_CELL`]'s.
type Slots = [CellSpan; 6];

impl LineShape {
    /// The shape of lines under a header of `width` fields with `columns`; `None` for a
    /// delimiter that is not ASCII or is itself a quote or line break, whose lines only
    /// the general path reads.
    pub fn new(delimiter: u8, width: usize, columns: Columns) -> Option<Self> {
        if !delimiter.is_ascii() || matches!(delimiter, b'"' | b'\n' | b'\r') {
            return None;
        }
        let wanted = [
            Some(columns.id),
            Some(columns.op),
            Some(columns.path),
            Some(columns.value),
            columns.if_match,
        ];
        let slots = (0..width)
            .map(|field| {
                let cell = wanted.iter().position(|&column| column == Some(field));
                cell.map_or(NO_CELL, |cell| cell as u8)
            })
            .collect();
        Some(LineShape {
            needles: Needles::new([delimiter, b'"', b'\n']),
            slots,
        })
    }

    /// A scanner of the lines of `buf`, from its start.
    pub fn scan<'b>(&self, buf: &'b [u8]) -> PlainScan<'_, 'b> {
        PlainScan {
            shape: self,
            buf,
            hits: Hits::new(buf, &self.needles),
            at: 0,
            text: "",
        }
    }

    /// A scanner of the lines of `text`, from its start: as [`LineShape::scan`], without
    /// checking again that it is UTF-8.
    pub fn scan_text<'b>(&self, text: &'b str) -> PlainScan<'_, 'b> {
        PlainScan {
            text,
            ..self.scan(text.as_bytes())
        }
    }
}

/// Where one cell of a plain line lies, from the line's start (a line of 4 GiB or more is
/// not plain).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CellSpan {
    /// Its first byte (inside the quotes of a quoted cell).
    pub start: u32,
    /// Just past its last byte.
    pub end: u32,
    /// Whether it holds doubled quotes, each standing for one.
    pub escaped: bool,
}

impl CellSpan {
    /// The span of the bytes `start..end` of a line starting at `line`, unescaped.
    fn within(line: usize, start: usize, end: usize) -> Self {
        // A longer line is refused before its spans are used (`PlainScan::take_line`).
        CellSpan {
            start: (start - line) as u32,
            end: (end - line) as u32,
            escaped: false,
        }
    }

    /// Its bytes' range in the line.
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// One plain line found by [`PlainScan`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlainLineAt<'b> {
    /// Its first byte in the buffer.
    pub start: usize,
    /// Just past its terminator.
    pub end: usize,
    /// Its text without the terminator.
    pub text: &'b str,
    /// The five cells, from the line's start (an absent `if_match` column leaves an empty
    /// one).
    pub cells: [CellSpan; 5],
}

impl<'b> PlainLineAt<'b> {
    /// Cell `index` (`id, op, path, value, if_match` order) as text: borrowed from the
    /// line, or, when it holds doubled quotes, undone into a string of its own.
    pub fn cell(&self, index: usize) -> Cow<'b, str> {
        let span = self.cells[index];
        // Spans lie at ASCII bytes: character boundaries.
        let text = self.text.get(span.range()).unwrap_or_default();
        match span.escaped {
            false => Cow::Borrowed(text),
            true => {
                let mut undone = String::with_capacity(text.len());
                push_undoubled(&mut undone, text);
                Cow::Owned(undone)
            }
        }
    }

    /// The five cells as text: borrowed from the line, or, for a cell with doubled
    /// quotes, undone into `scratch`.
    pub fn cells<'a>(&self, scratch: &'a mut String) -> [&'a str; 5]
    where
        'b: 'a,
    {
        scratch.clear();
        let mut undone = [(0, 0); 5];
        for (span, place) in self.cells.iter().zip(&mut undone) {
            if span.escaped {
                let from = scratch.len();
                push_undoubled(scratch, self.text.get(span.range()).unwrap_or_default());
                *place = (from, scratch.len());
            }
        }
        let scratch: &'a String = scratch;
        let mut cells = [""; 5];
        for ((span, place), cell) in self.cells.iter().zip(undone).zip(&mut cells) {
            *cell = match span.escaped {
                true => scratch.get(place.0..place.1),
                false => self.text.get(span.range()),
            }
            .unwrap_or_default();
        }
        cells
    }
}

/// Appends the inside of a quoted field with each doubled quote made one. Every quote in
/// it is the first of a pair (the scan took it so), so each one found is kept and the one
/// after it dropped; `str::find` of the pair cost more to set up than the search.
fn push_undoubled(out: &mut String, inside: &str) {
    let mut rest = inside;
    while let Some(at) = memchr::memchr(b'"', rest.as_bytes()) {
        out.push_str(&rest[..=at]);
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    out.push_str(rest);
}

/// Finds the plain lines at the head of a buffer, one after another.
pub struct PlainScan<'s, 'b> {
    shape: &'s LineShape,
    buf: &'b [u8],
    hits: Hits<'s, 'b>,
    /// Where the next line starts.
    at: usize,
    /// The head of `buf` checked as UTF-8 so far, grown as lines need it.
    text: &'b str,
}

/// The least of the buffer that [`PlainScan::text_to`] checks at once.
const FIRST_CHECK: usize = 4096;

impl<'b> PlainScan<'_, 'b> {
    /// The next line when it is whole in the buffer and plain; `None` otherwise, after
    /// which the scan is spent (the caller goes on from the line's start).
    pub fn next_line(&mut self) -> Option<PlainLineAt<'b>> {
        let start = self.at;
        let mut cells = Slots::default();
        let ends = match self.unquoted_line(start, &mut cells)? {
            Some(ends) => ends,
            None => self.any_line(start, &mut cells)?,
        };
        self.take_line(start, ends, cells)
    }

    /// The line split from `start` to `line_end` (its text to `text_end`) into `cells`,
    /// when it is plain as a whole: not blank, under 4 GiB, UTF-8; the scan goes on after
    /// it.
    fn take_line(
        &mut self,
        start: usize,
        (line_end, text_end): (usize, usize),
        cells: Slots,
    ) -> Option<PlainLineAt<'b>> {
        let line = &self.buf[start..text_end];
        if line_end - start > u32::MAX as usize || line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        // Both ends are at ASCII bytes (a line feed, or a line's start), so at character
        // boundaries of the checked text.
        let text = self.text_to(text_end)?.get(start..text_end)?;
        self.at = line_end;
        let [id, op, path, value, if_match, _] = cells;
        Some(PlainLineAt {
            start,
            end: line_end,
            text,
            cells: [id, op, path, value, if_match],
        })
    }

    /// [`PlainScan::next_line`] by [`PlainScan::any_line`] alone, as it was before
    /// [`PlainScan::unquoted_line`]: what that must agree with.
    #[cfg(test)]
    fn next_line_the_long_way(&mut self) -> Option<PlainLineAt<'b>> {
        let start = self.at;
        let mut cells = Slots::default();
        let ends = self.any_line(start, &mut cells)?;
        self.take_line(start, ends, cells)
    }

    /// The line from `start` split at its delimiters into `cells`, while it has no quote:
    /// its end and its text's end; `Some(None)` at its first quote, the hits left at the
    /// line's start for [`PlainScan::any_line`]; `None` when it is not plain.
    ///
    /// Nearly every line of an export has no quote. This loop keeps the hits in locals and
    /// compares each hit once, with no quote state: 449 instructions per line of the
    /// benchmark's file, against 532 when the general loop read every line (`callgrind`).
    fn unquoted_line(&mut self, start: usize, cells: &mut Slots) -> Option<Option<(usize, usize)>> {
        let (buf, slots) = (self.buf, &self.shape.slots[..]);
        let mut hits = self.hits;
        let mut field = 0;
        let mut field_start = start;
        loop {
            let hit = hits.next()?;
            let slot = usize::from(*slots.get(field)?);
            match buf[hit] {
                b'\n' => {
                    if field + 1 != slots.len() {
                        return None;
                    }
                    let text_end = without_return(buf, field_start, hit);
                    *cells.get_mut(slot)? = CellSpan::within(start, field_start, text_end);
                    self.hits = hits;
                    return Some(Some((hit + 1, text_end)));
                }
                b'"' => return Some(None),
                _ => {
                    *cells.get_mut(slot)? = CellSpan::within(start, field_start, hit);
                    field += 1;
                    field_start = hit + 1;
                }
            }
        }
    }

    /// The line from `start` split at its delimiters into `cells`, quoted fields and all:
    /// its end and its text's end; `None` when it is not plain.
    fn any_line(&mut self, start: usize, cells: &mut Slots) -> Option<(usize, usize)> {
        *cells = Slots::default();
        let mut field = 0;
        let mut field_start = start;
        // A quoted field's inside, once its closing quote is found.
        let mut quoted: Option<CellSpan> = None;
        loop {
            let hit = self.hits.next()?;
            let byte = self.buf[hit];
            if byte == b'"' {
                if hit != field_start || quoted.is_some() {
                    return None;
                }
                quoted = Some(self.quoted_field(start, hit)?);
                continue;
            }
            let newline = byte == b'\n';
            let cell_end = match newline {
                true => without_return(self.buf, field_start, hit),
                false => hit,
            };
            let span = match quoted.take() {
                // A closing quote must end its field.
                Some(inside) if inside.end as usize + start + 1 != cell_end => return None,
                Some(inside) => inside,
                None => CellSpan::within(start, field_start, cell_end),
            };
            let slot = *self.shape.slots.get(field)?;
            *cells.get_mut(usize::from(slot))? = span;
            field += 1;
            field_start = hit + 1;
            if newline {
                return (field == self.shape.slots.len()).then_some((hit + 1, cell_end));
            }
        }
    }

    /// The buffer from its start to at least `end`, checked as UTF-8; `None` when a byte
    /// before `end` is not UTF-8.
    ///
    /// The buffer is checked in growing pieces, each at least double the last, rather than
    /// line by line: a check per line was 4 % of a million-row `plan`, both threads
    /// checking every line. A scan that ends early (at a line only the general path reads)
    /// has checked at most about twice what it read, and at least [`FIRST_CHECK`] bytes.
    /// The check is `simdutf8`'s, 32 bytes at a time: the standard library's was 1.2 % of
    /// a million-row `plan`'s samples, all of them on the reading thread.
    fn text_to(&mut self, end: usize) -> Option<&'b str> {
        if end > self.text.len() {
            let want = end.max(2 * self.text.len()).max(FIRST_CHECK);
            let head = &self.buf[..want.min(self.buf.len())];
            self.text = match simdutf8::basic::from_utf8(head) {
                Ok(text) => text,
                // A character cut at the end of the buffer, or a byte that is no UTF-8:
                // the text before it, which the standard check finds.
                Err(_) => std::str::from_utf8(head)
                    .or_else(|error| std::str::from_utf8(&head[..error.valid_up_to()]))
                    .ok()?,
            };
        }
        (end <= self.text.len()).then_some(self.text)
    }

    /// The inside of the quoted field opened at `open`, in the line from `line`: up to its
    /// closing quote, over doubled quotes and delimiters; `None` when it runs past its
    /// line or the buffer.
    fn quoted_field(&mut self, line: usize, open: usize) -> Option<CellSpan> {
        let mut escaped = false;
        loop {
            let hit = self.hits.next()?;
            match self.buf[hit] {
                b'\n' => return None,
                b'"' if self.buf.get(hit + 1) == Some(&b'"') => {
                    // The second quote of the pair is the next hit.
                    self.hits.next()?;
                    escaped = true;
                }
                b'"' => {
                    return Some(CellSpan {
                        escaped,
                        ..CellSpan::within(line, open + 1, hit)
                    });
                }
                _ => {}
            }
        }
    }
}

/// Where the text of a line whose last field starts at `field_start` and whose line feed
/// is at `newline` ends: before a carriage return ending that field.
fn without_return(buf: &[u8], field_start: usize, newline: usize) -> usize {
    match newline > field_start && buf[newline - 1] == b'\r' {
        true => newline - 1,
        false => newline,
    }
}

/// Where the bytes that end or quote a field (the delimiter, `"`, line feed) are in a
/// buffer, in order: each block of 64 bytes is compared at once into a bit mask, then
/// read off bit by bit.
///
/// A CSV line has such a byte every few bytes; `memchr3_iter` sets up its vector search
/// afresh at each one, and that search and its set-up were 7 % of a million-row `plan`'s
/// profile.
#[derive(Clone, Copy)]
struct Hits<'s, 'b> {
    buf: &'b [u8],
    needles: &'s Needles,
    /// The start of the block `mask` covers.
    block: usize,
    /// The hits of that block not yet handed out, one bit per byte.
    mask: u64,
}

impl<'s, 'b> Hits<'s, 'b> {
    fn new(buf: &'b [u8], needles: &'s Needles) -> Self {
        let mut hits = Hits {
            buf,
            needles,
            block: 0,
            mask: 0,
        };
        hits.mask = hits.mask_at(0);
        hits
    }

    /// The mask of the block from `start` (shorter at the end of the buffer).
    fn mask_at(&self, start: usize) -> u64 {
        let rest = self.buf.get(start..).unwrap_or_default();
        match rest.first_chunk::<64>() {
            Some(block) => block_mask(block, self.needles),
            None => mask_of(rest, self.needles.bytes),
        }
    }
}

/// The three bytes [`Hits`] looks for, and (on x86_64) each spread over a vector, made
/// once per file rather than for each block.
#[derive(Clone, Copy, Debug)]
struct Needles {
    bytes: [u8; 3],
    #[cfg(target_arch = "x86_64")]
    vectors: [std::arch::x86_64::__m128i; 3],
}

impl Needles {
    fn new(bytes: [u8; 3]) -> Self {
        Needles {
            bytes,
            #[cfg(target_arch = "x86_64")]
            // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 processor has it.
            vectors: bytes.map(|byte| unsafe { spread_sse2(byte) }),
        }
    }
}

/// One bit for each byte of `block` that is one of `bytes`.
fn mask_of(block: &[u8], [a, b, c]: [u8; 3]) -> u64 {
    block.iter().enumerate().fold(0, |mask, (i, &byte)| {
        mask | (u64::from((byte == a) | (byte == b) | (byte == c)) << i)
    })
}

/// [`mask_of`] a whole block, with SSE2's byte compares: the compiler turns `mask_of` into
/// vector code four bytes at a time, and a build using it for whole blocks planned the
/// benchmark's file more slowly than `memchr3_iter` did. Over that 84 MB file, alone,
/// `memchr3_iter` found every hit in 35 ms and this scan in 8 ms.
#[cfg(target_arch = "x86_64")]
fn block_mask(block: &[u8; 64], needles: &Needles) -> u64 {
    // SAFETY: SSE2 is part of the x86_64 baseline: every x86_64 processor has it.
    unsafe { block_mask_sse2(block, &needles.vectors) }
}

#[cfg(not(target_arch = "x86_64"))]
fn block_mask(block: &[u8; 64], needles: &Needles) -> u64 {
    mask_of(block, needles.bytes)
}

/// `byte` in each of a vector's 16 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn spread_sse2(byte: u8) -> std::arch::x86_64::__m128i {
    std::arch::x86_64::_mm_set1_epi8(byte as i8)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn block_mask_sse2(block: &[u8; 64], needles: &[std::arch::x86_64::__m128i; 3]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
    };
    let [a, b, c] = *needles;
    let mut mask = 0;
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: an unaligned load of exactly the 16 bytes of `chunk`.
        let v = unsafe { _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>()) };
        let hits = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v, a), _mm_cmpeq_epi8(v, b)),
            _mm_cmpeq_epi8(v, c),
        );
        // The movemask's 16 bits, one per byte.
        mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
    }
    mask
}

impl Iterator for Hits<'_, '_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block += 64;
            if self.block >= self.buf.len() {
                return None;
            }
            self.mask = self.mask_at(self.block);
        }
        let bit = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.block + bit)
    }
}

/// The shape of `id,op,path,value` lines split by `,`, for tests.
#[cfg(test)]
pub(crate) fn test_shape() -> LineShape {
    let columns = Columns {
        id: 0,
        op: 1,
        path: 2,
        value: 3,
        if_match: None,
    };
    LineShape::new(b',', 4, columns).unwrap_or_else(|| unreachable!("a comma is a delimiter"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> LineShape {
        test_shape()
    }

    /// The cells of each plain line at the head of `text`, and where the scan stopped.
    fn scan(text: &str) -> (Vec<[String; 5]>, usize) {
        let shape = shape();
        let mut scan = shape.scan(text.as_bytes());
        let mut lines = Vec::new();
        let mut at = 0;
        let mut scratch = String::new();
        while let Some(line) = scan.next_line() {
            assert_eq!(line.start, at, "lines follow one another");
            at = line.end;
            lines.push(line.cells(&mut scratch).map(str::to_string));
        }
        (lines, at)
    }

    fn cells(id: &str, op: &str, path: &str, value: &str) -> [String; 5] {
        [id, op, path, value, ""].map(str::to_string)
    }

    #[test]
    fn plain_lines_are_split_at_each_delimiter_whatever_their_ending() {
        let (lines, end) = scan("a,replace,/name,x\r\nb,add,/team/-,\n");
        assert_eq!(
            lines,
            [
                cells("a", "replace", "/name", "x"),
                cells("b", "add", "/team/-", "")
            ]
        );
        assert_eq!(end, 34);
    }

    #[test]
    fn quoted_cells_lose_their_quotes_and_doubled_quotes_become_one() {
        let text = "\"a\",replace,/details/notes,\"say \"\"hi\"\", then, go\"\r\n";
        let (lines, _) = scan(text);
        assert_eq!(
            lines,
            [cells(
                "a",
                "replace",
                "/details/notes",
                "say \"hi\", then, go"
            )]
        );
        let (lines, _) = scan("a,replace,/name,\"\"\nb,replace,/name,\"\"\"\"\n");
        assert_eq!(
            lines,
            [
                cells("a", "replace", "/name", ""),
                cells("b", "replace", "/name", "\"")
            ]
        );
    }

    #[test]
    fn a_line_only_the_general_path_can_judge_stops_the_scan_at_its_start() {
        for stop in [
            "a,replace,/name,x\"y\n",
            "a,replace,/name,\"x\"y\n",
            "a,replace,/name,\"two\nlines\"\n",
            "a,replace,/name\n",
            "a,replace,/name,x,y\n",
            "  \n",
            "a,replace,/name,\"unclosed\n",
            "a,replace,/name,no end",
        ] {
            let (lines, end) = scan(&format!("a,replace,/name,x\n{stop}b,replace,/name,y\n"));
            assert_eq!(lines.len(), 1, "{stop:?}");
            assert_eq!(end, 18, "{stop:?}");
        }
        let shape = shape();
        let bytes = b"a,replace,/name,\xff\n";
        assert_eq!(shape.scan(bytes).next_line(), None, "not UTF-8");
    }

    proptest::proptest! {
        /// The block scan finds what `memchr3_iter` finds, in buffers of several blocks and
        /// a shorter tail.
        #[test]
        fn hits_are_every_delimiter_quote_and_line_feed_in_order(
            buf in proptest::collection::vec(proptest::sample::select(b"a,\"\n\r;\xff".to_vec()), 0..300)
        ) {
            let needles = Needles::new([b',', b'"', b'\n']);
            let found: Vec<usize> = Hits::new(&buf, &needles).collect();
            let expected: Vec<usize> = memchr::memchr3_iter(b',', b'"', b'\n', &buf).collect();
            proptest::prop_assert_eq!(found, expected);
        }

        /// The vector compare of a whole block agrees with the byte loop.
        #[test]
        fn a_whole_block_is_masked_as_byte_by_byte(
            block in proptest::array::uniform32(proptest::sample::select(b"a,\"\n\xff".to_vec())),
            more in proptest::array::uniform32(proptest::sample::select(b"a,\"\n\xff".to_vec())),
        ) {
            let mut whole = [0; 64];
            whole[..32].copy_from_slice(&block);
            whole[32..].copy_from_slice(&more);
            let bytes = [b',', b'"', b'\n'];
            let masked = block_mask(&whole, &Needles::new(bytes));
            proptest::prop_assert_eq!(masked, mask_of(&whole, bytes));
        }

        /// The scan of lines without quotes takes what the scan of any line takes, line by
        /// line, and stops where it stops.
        #[test]
        fn lines_without_quotes_are_split_as_any_line_is(
            tokens in proptest::collection::vec(
                proptest::sample::select(vec![
                    "a", "é", ",", ",", ",", "\"", "\"\"", " ", "\t", "\r", "\n", "\n", "\r\n",
                ]),
                0..200,
            )
        ) {
            let text = tokens.concat();
            let shape = shape();
            let (mut quick, mut long) = (shape.scan(text.as_bytes()), shape.scan(text.as_bytes()));
            loop {
                let (one, other) = (quick.next_line(), long.next_line_the_long_way());
                proptest::prop_assert_eq!(one, other);
                if one.is_none() {
                    break;
                }
            }
        }

        /// Whatever line the scan takes, the general path would have read the same cells
        /// from it, and found nothing wrong with it.
        #[test]
        fn a_line_taken_is_read_as_the_csv_crate_reads_it(
            fields in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec!["a", ",", "\"", "\"", " ", "\r", "é", "\n"]),
                    0..6,
                ),
                4,
            )
        ) {
            let fields: Vec<String> = fields.iter().map(|tokens| tokens.concat()).collect();
            let text = fields.join(",") + "\n";
            let shape = shape();
            let mut scratch = String::new();
            if let Some(found) = shape.scan(text.as_bytes()).next_line() {
                let record = &text.as_bytes()[found.start..found.end];
                let bare = super::super::text::strip_terminator(record);
                let mut splitter = super::super::csv_fields::FieldSplitter::new(b',');
                let fields: Vec<String> = splitter
                    .split(bare)
                    .iter()
                    .map(|field| String::from_utf8(field.to_vec()).unwrap())
                    .collect();
                let taken = found.cells(&mut scratch);
                proptest::prop_assert_eq!(&fields[..], &taken[..4]);
                let after = super::super::csv_fields::text_after_closing_quote(bare, b',');
                proptest::prop_assert_eq!(after, None);
                proptest::prop_assert!(memchr::memchr(b'\n', bare).is_none());
            }
        }
    }

    #[test]
    fn lines_are_checked_as_utf8_across_the_checks_growing_pieces() {
        // Two-byte characters throughout, so the pieces' ends cut some of them.
        let lines: Vec<String> = (0..1000)
            .map(|i| format!("id{i},replace,/name,é{}\n", "ü".repeat(i % 7)))
            .collect();
        let text = lines.concat();
        assert!(text.len() > 4 * FIRST_CHECK);
        let (taken, end) = scan(&text);
        assert_eq!(taken.len(), 1000);
        assert_eq!(end, text.len());
        assert_eq!(taken[999][3], format!("é{}", "ü".repeat(999 % 7)));

        let mut bytes = text.into_bytes();
        let bad = lines[..700].concat().len() + 8;
        bytes[bad] = 0xff;
        let shape = shape();
        let mut scan = shape.scan(&bytes);
        let mut count = 0;
        while scan.next_line().is_some() {
            count += 1;
        }
        assert_eq!(count, 700, "the scan stops at the line that is not UTF-8");
    }

    #[test]
    fn a_cell_with_doubled_quotes_is_undone_on_its_own_too() {
        let shape = shape();
        let text = b"\"a\"\"1\",replace,/name,x\n";
        let line = shape.scan(text).next_line().unwrap();
        assert_eq!(line.cell(0), "a\"1");
        assert_eq!(line.cell(1), "replace");
        assert!(matches!(line.cell(1), Cow::Borrowed(_)));
    }

    #[test]
    fn a_delimiter_that_is_a_quote_or_line_break_leaves_every_line_to_the_general_path() {
        let columns = Columns {
            id: 0,
            op: 1,
            path: 2,
            value: 3,
            if_match: Some(4),
        };
        for delimiter in [b'"', b'\n', b'\r', 0xE9] {
            assert!(LineShape::new(delimiter, 5, columns).is_none());
        }
        assert!(LineShape::new(b';', 5, columns).is_some());
    }
}
