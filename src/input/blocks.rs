//! Blocks of whole CSV lines read straight from the file, which several threads scan at
//! once, each a part of it (see `plan::split_scan`).
//!
//! Finding a line's cells was the largest single cost of `plan` on a million rows, and it
//! fell on the one thread that read the file. A block is shared instead: each thread
//! scans one part of it and says which of its records belong to which thread. A record
//! that is not a plain line (a quoted field over two lines, a malformed line) is read by
//! the general path where the scan meets it. A part after the first starts after a line
//! feed, which is a line's start unless a quoted field runs over it: the scan of the part
//! before then reads that record whole and ends past the next part's start, which tells
//! the planning threads to keep nothing of the block from there on.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::csv_plain::{CellSpan, LineShape, PlainLineAt};
use super::csv_rows::GeneralReader;
use super::line_ends::SourceFile;
use super::{CellsRef, InputRecord, InputSource, LineRef, RecordContent, RowRef, Span};

/// Whole lines of one CSV input, UTF-8, in the order of the file.
#[derive(Debug, Default)]
pub struct LineBlock {
    text: String,
    /// The offset of the first byte in the input.
    offset: u64,
    /// The line the block starts on, when the reader knows it: for the first block it
    /// reads from a place; each later one starts where the one before ended.
    first_line: Option<u64>,
    shape: Option<Arc<LineShape>>,
    /// The general path, with the input's number and the longest a record may be (a
    /// longer line is left to it).
    general: Option<Arc<GeneralReader>>,
}

/// One plain line found in a [`LineBlock`]: where it lies, which line of its part it
/// is, and where its cells lie. 32 bytes (a line of 64 KiB or more is read by the
/// general path): every line goes from the thread that scans it to the one that plans it
/// through memory, 72 bytes each with the scan's own spans.
#[derive(Clone, Copy, Debug)]
pub struct BlockLine {
    /// Its first byte in the block.
    start: u32,
    /// Its line, counted from the start of the part it was found in.
    line: u32,
    /// Just past its terminator, from `start`.
    len: u16,
    /// A bit for each cell that holds doubled quotes.
    escaped: u8,
    /// Where each of the five cells starts and ends, from the line's start.
    cells: [[u16; 2]; 5],
}

impl BlockLine {
    /// The line from `start` over `len` bytes, line `line` of its part, with `cells`;
    /// `None` for a line of 64 KiB or more.
    fn new(start: usize, len: usize, line: u32, cells: &[CellSpan; 5]) -> Option<Self> {
        let mut escaped = 0;
        let mut spans = [[0; 2]; 5];
        for (index, (span, cell)) in spans.iter_mut().zip(cells).enumerate() {
            // Cells lie inside the line, so they fit when its length does.
            *span = [cell.start as u16, cell.end as u16];
            escaped |= u8::from(cell.escaped) << index;
        }
        Some(BlockLine {
            start: u32::try_from(start).ok()?,
            line,
            len: u16::try_from(len).ok()?,
            escaped,
            cells: spans,
        })
    }

    /// The cells' spans, as the scan gave them.
    fn spans(&self) -> [CellSpan; 5] {
        let mut index = 0;
        self.cells.map(|[start, end]| {
            let escaped = self.escaped >> index & 1 == 1;
            index += 1;
            CellSpan {
                start: u32::from(start),
                end: u32::from(end),
                escaped,
            }
        })
    }
}

/// How far the scan of a part got: just past its last plain line, and how many lines
/// that was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartScanned {
    /// Where the scan stopped, in the block: the part's end when every line was plain.
    pub end: usize,
    /// The lines scanned.
    pub lines: u32,
}

/// A record the plain scan could not take, read by the general path (a quoted field over
/// two lines, a malformed line): where it lies and which line of its part it starts on.
#[derive(Clone, Copy, Debug)]
pub struct BlockRecord {
    start: u32,
    len: u32,
    line: u32,
}

/// What a scan of a part found: a plain line, or a record the general path read (its
/// line counted from the part's start, its span from its own start).
#[derive(Debug)]
pub enum Found {
    /// A plain line.
    Line(BlockLine),
    /// Any other record.
    Record(BlockRecord, Box<InputRecord>),
}

/// Reads one CSV input's lines into [`LineBlock`]s, from a place the general path left
/// off at; a line over two reads is carried into the next block.
#[derive(Debug)]
pub struct BlockReader {
    file: SourceFile,
    /// The start of a line read but not yet ended.
    carry: Vec<u8>,
    /// The offset of `carry`'s first byte: where the next block starts.
    offset: u64,
    /// The line the next block starts on, until a block has been read.
    first_line: Option<u64>,
    shape: Arc<LineShape>,
    general: Arc<GeneralReader>,
    /// The bytes read into each block.
    block_bytes: usize,
    /// Whether the general path reads on from `offset`: at the end of the input, or
    /// before a line that is not UTF-8.
    stopped: bool,
}

impl BlockReader {
    /// A reader of `source` (the input `general` reads) from `offset`, the start of line
    /// `line`, reading about `block_bytes` into each block.
    pub(crate) fn open(
        source: &InputSource,
        (offset, line): (u64, u64),
        (shape, general): (Arc<LineShape>, Arc<GeneralReader>),
        block_bytes: usize,
    ) -> std::io::Result<Self> {
        use std::io::Seek;
        let mut file = SourceFile::open(source)?;
        file.seek(std::io::SeekFrom::Start(offset))?;
        Ok(BlockReader {
            file,
            carry: Vec::new(),
            offset,
            first_line: Some(line),
            shape,
            general,
            block_bytes: block_bytes.max(1),
            stopped: false,
        })
    }

    /// The line the next block starts on, until a block has been read.
    pub fn unread_line(&self) -> Option<u64> {
        self.first_line
    }

    /// Where the next block would start: once [`BlockReader::next_block`] has said
    /// there is none, where the general path reads on.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Fills `block` with the next whole lines; false when there are none (at the end of
    /// the input, or at a line that is not UTF-8), after which the general path reads on
    /// from [`BlockReader::offset`].
    pub fn next_block(&mut self, block: &mut LineBlock) -> std::io::Result<bool> {
        if self.stopped {
            return Ok(false);
        }
        let mut bytes = std::mem::take(&mut block.text).into_bytes();
        bytes.clear();
        bytes.extend_from_slice(&self.carry);
        let whole = self.read_lines(&mut bytes)?;
        self.carry.clear();
        self.carry.extend_from_slice(&bytes[whole..]);
        bytes.truncate(whole);
        block.text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => {
                // The lines before the first one that is not UTF-8; the general path
                // reads on from that one.
                let valid = error.utf8_error().valid_up_to();
                let mut bytes = error.into_bytes();
                let lines = memchr::memrchr(b'\n', &bytes[..valid]).map_or(0, |at| at + 1);
                bytes.truncate(lines);
                self.stopped = true;
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        if block.text.is_empty() {
            self.stopped = true;
            return Ok(false);
        }
        block.offset = self.offset;
        block.first_line = self.first_line.take();
        block.shape = Some(Arc::clone(&self.shape));
        block.general = Some(Arc::clone(&self.general));
        self.offset += block.text.len() as u64;
        Ok(true)
    }

    /// Reads on into `bytes` until it holds a line feed or the input ends; how many of
    /// its bytes are whole lines (none at the end, or when a line is longer than a record
    /// may be: the general path reads on from there).
    fn read_lines(&mut self, bytes: &mut Vec<u8>) -> std::io::Result<usize> {
        loop {
            let from = bytes.len();
            let read = self.file.read_onto(bytes, self.block_bytes)?;
            if let Some(at) = memchr::memrchr(b'\n', &bytes[from..]) {
                return Ok(from + at + 1);
            }
            let limit = self.general.limit();
            if read == 0 || bytes.len() > limit.saturating_add(self.block_bytes) {
                self.stopped = true;
                return Ok(0);
            }
        }
    }
}

impl LineBlock {
    /// The bytes it holds.
    pub fn len(&self) -> usize {
        self.text.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The starts of `parts` parts of about equal length, the first from 0, each after a
    /// line feed (a part may be empty); and the block's end.
    pub fn split(&self, parts: usize) -> Vec<usize> {
        let bytes = self.text.as_bytes();
        let mut bounds = Vec::with_capacity(parts + 1);
        bounds.push(0);
        for part in 1..parts.max(1) {
            let from = (bytes.len() * part / parts).max(bounds[part - 1]);
            let start = match memchr::memchr(b'\n', &bytes[from.saturating_sub(1)..]) {
                Some(at) => from.saturating_sub(1) + at + 1,
                None => bytes.len(),
            };
            bounds.push(start);
        }
        bounds.push(bytes.len());
        bounds
    }

    /// Scans the records of `part` (which starts at a line's start, or is taken to) and
    /// hands each to `each`: a plain line as it is, any other record as the general path
    /// reads it. Stops at a record that does not end in the block (or is
    /// too long), or once past the part's end: a record may run on over the next part.
    pub fn scan(&self, part: Range<usize>, mut each: impl FnMut(Found)) -> PartScanned {
        let mut scanned = PartScanned {
            end: part.start,
            lines: 0,
        };
        let (Some(shape), Some(general)) = (&self.shape, &self.general) else {
            return scanned;
        };
        let limit = general.limit();
        while scanned.end < part.end {
            let Some(text) = self.text.get(scanned.end..part.end) else {
                break;
            };
            let at = scanned.end;
            let mut scan = shape.scan_text(text);
            while let Some(line) = scan.next_line() {
                let len = line.end - line.start;
                let found = BlockLine::new(at + line.start, len, scanned.lines, &line.cells);
                let Some(found) = found.filter(|_| len <= limit) else {
                    break;
                };
                each(Found::Line(found));
                scanned.end = at + line.end;
                scanned.lines += 1;
            }
            if scanned.end >= part.end {
                break;
            }
            let rest = self.text.as_bytes().get(scanned.end..).unwrap_or_default();
            let Some(read) = general.record_at(rest, u64::from(scanned.lines)) else {
                break;
            };
            if let Some(record) = read.record {
                let found = BlockRecord {
                    start: scanned.end as u32,
                    len: read.len as u32,
                    line: scanned.lines,
                };
                each(Found::Record(found, Box::new(record)));
            }
            scanned.end += read.len;
            scanned.lines += read.lines as u32;
        }
        scanned
    }

    /// The record `found`, read as `read` by the scan of a part that starts on line
    /// `part_line` of the input, where it lies in the input. A malformed record is read
    /// again, its line known: its message may name lines.
    pub fn record(
        &self,
        found: &BlockRecord,
        mut read: Box<InputRecord>,
        part_line: u64,
    ) -> Box<InputRecord> {
        let line = part_line + u64::from(found.line);
        let start = found.start as usize;
        if let RecordContent::Malformed { .. } = read.content {
            let bytes = self.text.as_bytes().get(start..start + found.len as usize);
            let general = self.general.as_ref();
            if let Some(again) = general.and_then(|g| g.record_at(bytes?, line)?.record) {
                read = Box::new(again);
            }
        }
        let offset = self.offset + start as u64;
        read.row.at.line = line;
        read.row.span.start = offset;
        read.row.span.end = offset + u64::from(found.len);
        read
    }

    /// The referral ID `found` goes by: a plain line's, or the one the general path read.
    pub fn id<'a>(&'a self, found: &'a Found) -> Cow<'a, str> {
        match found {
            Found::Line(line) => self.line_at(line).cell(0),
            Found::Record(_, record) => Cow::Borrowed(record.content.referral_id()),
        }
    }

    /// The row of `line`, found in a part that starts on line `part_line` of the input.
    pub fn row(&self, line: &BlockLine, part_line: u64) -> RowRef {
        let start = self.offset + u64::from(line.start);
        RowRef {
            at: LineRef {
                input: self.general.as_ref().map_or(0, |general| general.input()),
                line: part_line + u64::from(line.line),
            },
            span: Span {
                start,
                end: start + u64::from(line.len),
            },
        }
    }

    /// The line the block starts on, when the reader knew it (see [`LineBlock`]).
    pub fn first_line(&self) -> Option<u64> {
        self.first_line
    }

    /// The offset of the block's first byte in its input.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// `line` as the scan found it.
    fn line_at<'a>(&'a self, line: &BlockLine) -> PlainLineAt<'a> {
        let start = line.start as usize;
        let end = start + line.len as usize;
        PlainLineAt {
            start,
            end,
            text: self.text.get(start..end).unwrap_or_default(),
            cells: line.spans(),
        }
    }

    /// The cells of `line`, those with doubled quotes undone into `scratch`.
    pub fn cells<'a>(&'a self, line: &BlockLine, scratch: &'a mut String) -> CellsRef<'a> {
        CellsRef(self.line_at(line).cells(scratch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::ReadOptions;
    use crate::input::csv_plain::test_shape;

    fn shape() -> Arc<LineShape> {
        Arc::new(test_shape())
    }

    /// A reader of `text`, written to a file, from offset 0 on line 7, as input 2.
    fn reader(text: &[u8], block_bytes: usize) -> (tempfile::TempDir, BlockReader) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        std::fs::write(&path, text).unwrap();
        let names = [path.display().to_string()];
        let source = crate::input::open_inputs(&names, &ReadOptions::default())
            .unwrap()
            .remove(0);
        let general = Arc::new(GeneralReader::for_tests("id,op,path,value", 1 << 10, 2));
        let reader = BlockReader::open(&source, (0, 7), (shape(), general), block_bytes);
        (dir, reader.unwrap())
    }

    /// The first block of `text`, read in blocks of 64 KiB.
    fn first_block(text: &str) -> (tempfile::TempDir, LineBlock) {
        let (dir, reader) = reader(text.as_bytes(), 1 << 16);
        let (blocks, _) = blocks(reader);
        (dir, blocks.into_iter().next().unwrap_or_default())
    }

    /// Every block `reader` gives, and where it says the general path reads on.
    fn blocks(mut reader: BlockReader) -> (Vec<LineBlock>, u64) {
        let mut blocks = Vec::new();
        loop {
            let mut block = LineBlock::default();
            if !reader.next_block(&mut block).unwrap() {
                return (blocks, reader.offset());
            }
            blocks.push(block);
        }
    }

    /// The plain line `found` is.
    fn plain(found: &Found) -> &BlockLine {
        match found {
            Found::Line(line) => line,
            Found::Record(..) => panic!("not a plain line: {found:?}"),
        }
    }

    /// Every part's records' IDs and line numbers, and how far each scan got.
    fn scan_all(block: &LineBlock, parts: usize) -> (Vec<(String, u64)>, Vec<PartScanned>) {
        let bounds = block.split(parts);
        let (mut lines, mut scans) = (Vec::new(), Vec::new());
        let mut part_line = block.first_line().unwrap_or(1);
        for pair in bounds.windows(2) {
            let mut found = Vec::new();
            let scanned = block.scan(pair[0]..pair[1], |line| found.push(line));
            for found in found {
                let id = block.id(&found).into_owned();
                let line = match found {
                    Found::Line(line) => block.row(&line, part_line).at.line,
                    Found::Record(at, read) => block.record(&at, read, part_line).row.at.line,
                };
                lines.push((id, line));
            }
            part_line += u64::from(scanned.lines);
            scans.push(scanned);
        }
        (lines, scans)
    }

    fn lines(count: usize) -> String {
        (0..count)
            .map(|n| format!("id{n},replace,/name,v{n}\n"))
            .collect()
    }

    #[test]
    fn blocks_hold_whole_lines_one_after_another() {
        let text = lines(40) + "tail,replace,/name,no line feed";
        for block_bytes in [1, 7, 64, 500, 1 << 16] {
            let (_dir, reader) = reader(text.as_bytes(), block_bytes);
            let (blocks, read_on) = blocks(reader);
            let mut offset = 0;
            for (index, block) in blocks.iter().enumerate() {
                assert_eq!(block.offset(), offset, "{block_bytes}");
                assert!(block.text.ends_with('\n'));
                assert_eq!(block.first_line(), (index == 0).then_some(7));
                offset += block.len() as u64;
            }
            let joined: String = blocks.iter().map(|block| block.text.as_str()).collect();
            assert_eq!(joined, lines(40), "{block_bytes}");
            assert_eq!(
                read_on, offset,
                "the unended line is left to the general path"
            );
        }
    }

    #[test]
    fn blocks_stop_before_a_line_that_is_not_utf8() {
        let mut text = lines(3).into_bytes();
        let bad = text.len() as u64;
        text.extend_from_slice(b"x,replace,/name,\xff\n");
        text.extend_from_slice(lines(2).as_bytes());
        for block_bytes in [5, 1 << 16] {
            let (_dir, reader) = reader(&text, block_bytes);
            let (blocks, read_on) = blocks(reader);
            let joined: String = blocks.iter().map(|block| block.text.as_str()).collect();
            assert_eq!(joined, lines(3), "{block_bytes}");
            assert_eq!(read_on, bad);
        }
    }

    #[test]
    fn a_line_longer_than_a_record_may_be_is_left_to_the_general_path() {
        let text = format!("a,replace,/name,{}\n", "v".repeat(3 << 10)) + &lines(2);
        let (_dir, reader) = reader(text.as_bytes(), 100);
        let (blocks, read_on) = blocks(reader);
        assert!(blocks.is_empty());
        assert_eq!(read_on, 0);
    }

    #[test]
    fn parts_start_after_line_feeds_and_cover_the_block() {
        let text = lines(50);
        let (_dir, block) = first_block(&text);
        let block = &block;
        for parts in 1..=5 {
            let bounds = block.split(parts);
            assert_eq!(bounds.len(), parts + 1);
            assert_eq!((bounds[0], bounds[parts]), (0, text.len()));
            for &start in &bounds[1..parts] {
                assert!(start == text.len() || text.as_bytes()[start - 1] == b'\n');
            }
            let (lines, scans) = scan_all(block, parts);
            let want: Vec<_> = (0..50).map(|n| (format!("id{n}"), 7 + n as u64)).collect();
            assert_eq!(lines, want, "{parts} parts");
            assert!(scans.iter().zip(&bounds[1..]).all(|(s, &end)| s.end == end));
        }
    }

    #[test]
    fn records_that_are_not_plain_lines_are_read_by_the_general_path_in_the_scan() {
        let text = "a,replace,/name,x\n\nb,replace,/name,\"two\nlines\"\nc,replace,/name,z,extra\nd,replace,/name,w\n";
        let (_dir, block) = first_block(text);
        let block = &block;
        let (lines, scans) = scan_all(block, 1);
        let ids: Vec<_> = lines
            .iter()
            .map(|(id, line)| (id.as_str(), *line))
            .collect();
        // The blank line is no record, but counts as a line.
        assert_eq!(ids, [("a", 7), ("b", 9), ("c", 11), ("d", 12)]);
        assert_eq!(
            scans[0],
            PartScanned {
                end: text.len(),
                lines: 6
            }
        );
        let mut found = Vec::new();
        block.scan(0..block.len(), |each| found.push(each));
        let mut found = found.into_iter().skip(1);
        let Some(Found::Record(at, read)) = found.next() else {
            panic!("the quoted field over two lines is a record of the general path");
        };
        let record = block.record(&at, read, 7);
        assert_eq!((record.row.span.start, record.row.span.end), (19, 47));
        let Some(Found::Record(at, read)) = found.next() else {
            panic!("the line with a cell too many is a record of the general path");
        };
        let record = block.record(&at, read, 7);
        let RecordContent::Malformed { message, .. } = &record.content else {
            panic!("{record:?}");
        };
        assert!(message.contains("5 fields"), "{message}");
        assert_eq!(record.row.at.line, 11);
    }

    #[test]
    fn a_record_over_a_parts_end_ends_the_scan_past_it() {
        let text = "a,replace,/name,\"one\ntwo\"\nb,replace,/name,y\n";
        let (_dir, block) = first_block(text);
        let block = &block;
        let scanned = block.scan(0..21, |_| {});
        assert_eq!(scanned, PartScanned { end: 26, lines: 2 });
    }

    #[test]
    fn a_record_that_does_not_end_in_the_block_stops_the_scan() {
        let text = "a,replace,/name,x\nb,replace,/name,\"open\nc,replace,/name,z\n";
        let (_dir, block) = first_block(text);
        let block = &block;
        let scanned = block.scan(0..block.len(), |_| {});
        assert_eq!(scanned, PartScanned { end: 18, lines: 1 });
    }

    #[test]
    fn a_line_of_64_kib_or_more_is_read_by_the_general_path() {
        let long = "v".repeat(70_000);
        let text = format!("a,replace,/details/notes,{long}\nb,replace,/name,x\n");
        let block = LineBlock {
            text: text.clone(),
            shape: Some(shape()),
            general: Some(Arc::new(GeneralReader::for_tests(
                "id,op,path,value",
                1 << 20,
                0,
            ))),
            ..LineBlock::default()
        };
        let mut found = Vec::new();
        let scanned = block.scan(0..text.len(), |each| found.push(each));
        assert_eq!(scanned.end, text.len());
        assert!(matches!(found[0], Found::Record(..)), "{:?}", found[0]);
        assert!(matches!(found[1], Found::Line(..)));
        let Some(Found::Record(at, read)) = found.into_iter().next() else {
            unreachable!()
        };
        let RecordContent::CsvRow(cells) = block.record(&at, read, 2).content else {
            panic!("a row");
        };
        assert_eq!(
            cells.borrowed().op().value,
            crate::input::RawValueRef::Text(&long)
        );
    }

    #[test]
    fn a_lines_cells_read_back_as_the_scan_found_them() {
        let spans = [
            (0, 3, false),
            (4, 11, true),
            (12, 17, false),
            (18, 18, false),
            (19, 30, true),
        ]
        .map(|(start, end, escaped)| CellSpan {
            start,
            end,
            escaped,
        });
        let line = BlockLine::new(100, 31, 4, &spans).unwrap();
        assert_eq!(line.spans(), spans);
        assert!(BlockLine::new(100, 1 << 16, 4, &spans).is_none());
    }

    #[test]
    fn cells_with_doubled_quotes_are_undone() {
        let text = "x,add,/team/-,\n\"a\"\"b\",replace,/name,\"say \"\"hi\"\"\"\n";
        let (_dir, block) = first_block(text);
        let block = &block;
        let mut found = Vec::new();
        block.scan(0..block.len(), |line| found.push(line));
        let mut scratch = String::new();
        assert_eq!(block.id(&found[1]), "a\"b");
        let cells = block.cells(plain(&found[1]), &mut scratch);
        assert_eq!(cells.0, ["a\"b", "replace", "/name", "say \"hi\"", ""]);
        let row = block.row(plain(&found[1]), 7);
        assert_eq!((row.at.line, row.span.start), (8, 15));
    }
}
