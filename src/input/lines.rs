//! Bounded physical-line reading for JSONL: each line comes with its byte span and line
//! number, and a line longer than the bound is skipped to its newline rather than held in
//! memory, so one hostile line cannot exhaust memory.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

use super::format::BOM;

/// The longest record (CSV record or JSONL line) kept in memory; longer ones are malformed.
pub const MAX_RECORD_BYTES: usize = 1 << 20;

/// Skips a UTF-8 BOM at the start of `reader` and returns the offset reading resumes at
/// (3 after a BOM, else 0), so that spans stay real offsets into the file.
pub fn skip_bom<R: Read + Seek>(reader: &mut R) -> io::Result<u64> {
    let mut head = Vec::with_capacity(BOM.len());
    reader
        .by_ref()
        .take(BOM.len() as u64)
        .read_to_end(&mut head)?;
    let start = if head == BOM { BOM.len() as u64 } else { 0 };
    reader.seek(SeekFrom::Start(start))?;
    Ok(start)
}

/// Where one physical line lies, as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineAt {
    /// Its 1-based line number.
    pub line: u64,
    /// Offset of its first byte.
    pub start: u64,
    /// Offset just past its `\n` (or the end of the file).
    pub end: u64,
    /// Whether the line was longer than the bound (its bytes are cut there).
    pub truncated: bool,
}

/// Reads physical lines, `\n`-terminated, each held up to a bound.
pub struct LineReader<R> {
    reader: R,
    offset: u64,
    line: u64,
    limit: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader whose next byte is at `offset` and starts line 1.
    pub fn new(reader: R, offset: u64, limit: usize) -> Self {
        LineReader {
            reader,
            offset,
            line: 1,
            limit,
        }
    }

    /// Appends the next line's bytes (terminator included, cut at the bound) to `bytes`
    /// and says where it lies; `None` at the end of the input.
    pub fn next_line_into(&mut self, bytes: &mut Vec<u8>) -> io::Result<Option<LineAt>> {
        let mut at = LineAt {
            line: self.line,
            start: self.offset,
            end: self.offset,
            truncated: false,
        };
        let held = bytes.len();
        while !self.read_chunk(&mut at, bytes, held)? {}
        self.offset = at.end;
        self.line += 1;
        Ok((at.end > at.start).then_some(at))
    }

    /// Moves one buffered chunk of the current line (whose bytes start at `held` in
    /// `bytes`) into `bytes`; true once the line ended.
    fn read_chunk(
        &mut self,
        at: &mut LineAt,
        bytes: &mut Vec<u8>,
        held: usize,
    ) -> io::Result<bool> {
        let buf = self.reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        let newline = memchr::memchr(b'\n', buf);
        let take = newline.map_or(buf.len(), |at| at + 1);
        let room = self.limit.saturating_sub(bytes.len() - held);
        bytes.extend_from_slice(&buf[..take.min(room)]);
        at.truncated |= take > room;
        at.end += take as u64;
        self.reader.consume(take);
        Ok(newline.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A line as read, with its bytes.
    struct Line {
        line: u64,
        start: u64,
        end: u64,
        bytes: Vec<u8>,
        truncated: bool,
    }

    fn lines(text: &[u8], limit: usize) -> Vec<Line> {
        let mut cursor = Cursor::new(text.to_vec());
        let start = skip_bom(&mut cursor).unwrap();
        let mut reader = LineReader::new(cursor, start, limit);
        std::iter::from_fn(|| {
            let mut bytes = Vec::new();
            let at = reader.next_line_into(&mut bytes).unwrap()?;
            Some(Line {
                line: at.line,
                start: at.start,
                end: at.end,
                bytes,
                truncated: at.truncated,
            })
        })
        .collect()
    }

    #[test]
    fn lines_are_appended_after_what_the_buffer_holds() {
        let mut reader = LineReader::new(Cursor::new(b"abcdef\nxy".to_vec()), 0, 4);
        let mut bytes = b"held".to_vec();
        let first = reader.next_line_into(&mut bytes).unwrap().unwrap();
        assert!(first.truncated);
        let second = reader.next_line_into(&mut bytes).unwrap().unwrap();
        assert_eq!((second.start, second.end, second.truncated), (7, 9, false));
        assert_eq!(bytes, b"heldabcdxy");
        assert_eq!(reader.next_line_into(&mut bytes).unwrap(), None);
    }

    #[test]
    fn lines_carry_their_numbers_and_spans_with_terminators() {
        let got = lines(b"ab\r\n\ncd", 100);
        let spans: Vec<_> = got.iter().map(|l| (l.line, l.start, l.end)).collect();
        assert_eq!(spans, [(1, 0, 4), (2, 4, 5), (3, 5, 7)]);
        assert_eq!(got[0].bytes, b"ab\r\n");
    }

    #[test]
    fn a_bom_is_skipped_but_counted_in_offsets() {
        let got = lines(b"\xEF\xBB\xBFab\n", 100);
        assert_eq!((got[0].line, got[0].start, got[0].end), (1, 3, 6));
        assert_eq!(got[0].bytes, b"ab\n");
    }

    #[test]
    fn a_line_longer_than_the_bound_is_cut_and_the_next_line_is_intact() {
        let got = lines(b"abcdefgh\nxy\n", 4);
        assert!(got[0].truncated);
        assert_eq!(got[0].bytes, b"abcd");
        assert_eq!(got[0].end, 9);
        assert!(!got[1].truncated);
        assert_eq!((got[1].line, got[1].bytes.as_slice()), (2, &b"xy\n"[..]));
    }

    #[test]
    fn an_empty_input_has_no_lines() {
        assert!(lines(b"", 10).is_empty());
        assert!(lines(b"\xEF\xBB\xBF", 10).is_empty());
    }
}
