//! Splitting a CSV file into raw records, each with its exact byte span and starting line.
//!
//! The `csv` crate's `Position` for a record is where the previous record ended, before the
//! blank lines it skips and before the `\n` of a CRLF, so neither its line numbers nor its
//! offsets can point at a record's first byte. And a quote that is never closed makes it
//! read the rest of the file as one field. So record boundaries are found here, by the same
//! quoting rules (`"` opens a quoted field only at a field's start; `""` inside is a
//! literal quote), and the `csv` crate only splits each record into fields.
//!
//! A record that reaches the end of the file inside a quoted field is cut back to its first
//! physical line, and reading resumes on the next line: one stray quote costs one row.

use std::io::{self, BufRead, Seek, SeekFrom};

/// Where the scanner is within a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// At the first byte of a field.
    FieldStart,
    /// Inside a field that did not open with a quote.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: an escape or the closing quote.
    QuoteInQuoted,
}

/// How a raw record ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// At a `\n` outside quotes, or at the end of the file outside quotes.
    Complete,
    /// At the end of the file inside the quoted field numbered `field` (0-based); the
    /// record has been cut back to its first line.
    Unterminated {
        /// The field whose opening quote is never closed.
        field: usize,
    },
}

/// One CSV record as bytes, not yet split into fields.
#[derive(Debug)]
pub struct RawRecord {
    /// The 1-based line it starts on.
    pub line: u64,
    /// Offset of its first byte.
    pub start: u64,
    /// Offset just past its terminator.
    pub end: u64,
    /// Its bytes, terminator included, cut at the bound when `truncated`.
    pub bytes: Vec<u8>,
    /// Whether it was longer than the bound.
    pub truncated: bool,
    /// How it ended.
    pub ending: Ending,
}

/// The scan of one record in progress.
struct Scan {
    state: State,
    field: usize,
    quoted_field: usize,
    newlines: u64,
    first_line_end: Option<u64>,
}

/// Splits CSV input into raw records.
pub struct CsvSplitter<R> {
    reader: R,
    offset: u64,
    line: u64,
    delimiter: u8,
    limit: usize,
}

impl<R: BufRead + Seek> CsvSplitter<R> {
    /// A splitter whose next byte is at `offset` and starts line 1.
    pub fn new(reader: R, offset: u64, delimiter: u8, limit: usize) -> Self {
        CsvSplitter {
            reader,
            offset,
            line: 1,
            delimiter,
            limit,
        }
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<RawRecord>> {
        let mut record = RawRecord {
            line: self.line,
            start: self.offset,
            end: self.offset,
            bytes: Vec::new(),
            truncated: false,
            ending: Ending::Complete,
        };
        let mut scan = Scan {
            state: State::FieldStart,
            field: 0,
            quoted_field: 0,
            newlines: 0,
            first_line_end: None,
        };
        while !self.scan_chunk(&mut record, &mut scan)? {}
        if record.end == record.start {
            return Ok(None);
        }
        self.finish(&mut record, &scan)?;
        Ok(Some(record))
    }

    /// The reader's buffered bytes (reading more when none are), the offset of the first
    /// and the line it is on: for a caller that takes whole lines itself and then says how
    /// much it took ([`CsvSplitter::consume_lines`]).
    pub fn buffered(&mut self) -> io::Result<(&[u8], u64, u64)> {
        Ok((self.reader.fill_buf()?, self.offset, self.line))
    }

    /// Where the next record starts, and its line.
    pub fn position(&self) -> (u64, u64) {
        (self.offset, self.line)
    }

    /// Goes on from `offset`, the start of line `line`, as another reader of the same
    /// input left off there.
    pub fn seek_to(&mut self, offset: u64, line: u64) -> io::Result<()> {
        self.reader.seek(SeekFrom::Start(offset))?;
        self.offset = offset;
        self.line = line;
        Ok(())
    }

    /// Consumes `bytes` of the buffer, which hold `lines` whole lines.
    pub fn consume_lines(&mut self, bytes: usize, lines: u64) {
        self.reader.consume(bytes);
        self.offset += bytes as u64;
        self.line += lines;
    }

    /// Scans one buffered chunk into `record`; true once the record ended.
    fn scan_chunk(&mut self, record: &mut RawRecord, scan: &mut Scan) -> io::Result<bool> {
        let buf = self.reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(true);
        }
        // Only a record not yet begun can be taken whole from one line.
        if record.end == record.start
            && let Some(taken) = quote_free_line(buf)
        {
            // Nearly every record is one line without quotes, and for those the scan
            // below would only find the `\n`: memchr finds it many times faster.
            record.truncated = taken > self.limit;
            record
                .bytes
                .extend_from_slice(&buf[..taken.min(self.limit)]);
            record.end += taken as u64;
            self.reader.consume(taken);
            return Ok(true);
        }
        let mut taken = buf.len();
        let mut ended = false;
        for (i, &byte) in buf.iter().enumerate() {
            if scan.step(byte, self.delimiter) {
                taken = i + 1;
                ended = true;
                break;
            }
            // Only a `\n` inside quotes gets here; the first one ends the line that an
            // unterminated record is cut back to.
            if byte == b'\n' && scan.first_line_end.is_none() {
                scan.first_line_end = Some(record.end + i as u64 + 1);
            }
        }
        let room = self.limit.saturating_sub(record.bytes.len());
        record.bytes.extend_from_slice(&buf[..taken.min(room)]);
        record.truncated |= taken > room;
        record.end += taken as u64;
        self.reader.consume(taken);
        Ok(ended)
    }

    /// Settles where the next record starts. A record still inside quotes at the end of
    /// the file is cut back to its first line, and reading goes on from the line after.
    fn finish(&mut self, record: &mut RawRecord, scan: &Scan) -> io::Result<()> {
        if scan.state == State::Quoted {
            record.ending = Ending::Unterminated {
                field: scan.quoted_field,
            };
            if let Some(first_line_end) = scan.first_line_end {
                self.cut_to_first_line(record, first_line_end)?;
            }
            self.line += 1;
        } else {
            self.line += scan.newlines + 1;
        }
        self.offset = record.end;
        Ok(())
    }

    /// Cuts `record` to its first line, which ends at `first_line_end`, and seeks there.
    fn cut_to_first_line(&mut self, record: &mut RawRecord, first_line_end: u64) -> io::Result<()> {
        let first_line_len = (first_line_end - record.start) as usize;
        record.truncated = first_line_len > self.limit;
        record.bytes.truncate(first_line_len);
        record.end = first_line_end;
        self.reader.seek(SeekFrom::Start(first_line_end))?;
        Ok(())
    }
}

/// The length, `\n` included, of the line at the start of `buf` when a record starting
/// there ends with it: the whole line is buffered and holds no quote.
fn quote_free_line(buf: &[u8]) -> Option<usize> {
    let end = memchr::memchr(b'\n', buf)? + 1;
    memchr::memchr(b'"', &buf[..end]).is_none().then_some(end)
}

impl Scan {
    /// Advances over one byte; true when it ends the record (a `\n` outside quotes).
    fn step(&mut self, byte: u8, delimiter: u8) -> bool {
        use State::*;
        let quoted = matches!(self.state, Quoted);
        if byte == b'\n' && quoted {
            self.newlines += 1;
            return false;
        }
        self.state = match (self.state, byte) {
            (FieldStart, b'"') => {
                self.quoted_field = self.field;
                Quoted
            }
            (Quoted, b'"') => QuoteInQuoted,
            (Quoted, _) => Quoted,
            (QuoteInQuoted, b'"') => Quoted,
            (_, b'\n') => return true,
            (_, b) if b == delimiter => {
                self.field += 1;
                FieldStart
            }
            _ => Unquoted,
        };
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn split(text: &str, limit: usize) -> Vec<RawRecord> {
        let mut splitter = CsvSplitter::new(Cursor::new(text.as_bytes().to_vec()), 0, b',', limit);
        std::iter::from_fn(|| splitter.next_record().unwrap()).collect()
    }

    fn summary(records: &[RawRecord]) -> Vec<(u64, String)> {
        let text = |r: &RawRecord| String::from_utf8_lossy(&r.bytes).into_owned();
        records.iter().map(|r| (r.line, text(r))).collect()
    }

    #[test]
    fn a_quoted_field_may_span_lines_and_the_next_record_counts_them() {
        let got = split("h\n\"a\nb\",c\nd\n", 100);
        let want = [(1, "h\n"), (2, "\"a\nb\",c\n"), (4, "d\n")];
        assert_eq!(summary(&got), want.map(|(l, t)| (l, t.to_string())));
    }

    #[test]
    fn escaped_quotes_and_mid_field_quotes_do_not_open_a_field() {
        let got = split("\"a\"\"\nb\"\nx\"y\nz\n", 100);
        assert_eq!(got.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 3, 4]);
    }

    #[test]
    fn the_last_record_may_lack_a_newline() {
        let got = split("a\nb", 100);
        assert_eq!((got[1].line, got[1].start, got[1].end), (2, 2, 3));
        assert_eq!(got[1].ending, Ending::Complete);
    }

    #[test]
    fn an_unterminated_quote_costs_one_line_and_reading_resumes_after_it() {
        let got = split("h\nx,\"oops\ny,1\nz,2\n", 100);
        assert_eq!(got[1].ending, Ending::Unterminated { field: 1 });
        assert_eq!(
            (got[1].line, got[1].bytes.as_slice()),
            (2, &b"x,\"oops\n"[..])
        );
        assert_eq!(
            summary(&got[2..]),
            [(3, "y,1\n".into()), (4, "z,2\n".into())]
        );
    }

    #[test]
    fn an_unterminated_quote_on_the_last_line_ends_the_input() {
        let got = split("h\nx,\"oops", 100);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].ending, Ending::Unterminated { field: 1 });
        assert_eq!(got[1].end, 9);
    }

    #[test]
    fn recovery_works_when_the_swallowed_rest_is_over_the_bound() {
        let text = format!("h\nx,\"oops\n{}", "y,1\n".repeat(50));
        let got = split(&text, 16);
        assert_eq!(got.len(), 52);
        assert_eq!(got[1].ending, Ending::Unterminated { field: 1 });
        assert!(!got[1].truncated);
        assert_eq!(
            (got[51].line, got[51].bytes.as_slice()),
            (52, &b"y,1\n"[..])
        );
    }

    #[test]
    fn a_record_over_the_bound_is_cut_but_its_span_is_whole() {
        let got = split("abcdefgh\n\"ij\nkl\"\n", 4);
        assert!(got[0].truncated && got[1].truncated);
        assert_eq!((got[0].end, got[1].line, got[1].end), (9, 2, 17));
    }

    #[test]
    fn crlf_terminators_stay_inside_the_record() {
        let got = split("a,b\r\nc,d\r\n", 100);
        assert_eq!(
            summary(&got),
            [(1, "a,b\r\n".into()), (2, "c,d\r\n".into())]
        );
    }
}
