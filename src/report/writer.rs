//! The report file: rows appended as results arrive (so a killed run leaves a valid report
//! of what finished), then rewritten in plan order and renamed into place at the end.
//!
//! The rewrite copies each row's line from the appended file, found by the [`LineSpan`]
//! `append` returned, so a run holds a few bytes per document instead of its whole row.
//!
//! A report that is not a regular file (`/dev/stdout`, a pipe, `/dev/null`, a symbolic
//! link) can be neither read back nor replaced by a rename: its rows are appended to a
//! temporary spool file instead, and the report is written through its path once, in plan
//! order, at the end.

use super::ReportError;
use super::cells::neutralise;
use super::rows::{CHANGES_COLUMN, COLUMNS, ReportRow};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// The report's format, from its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    /// CSV with a header row; formula cells neutralised.
    Csv,
    /// One JSON object per row.
    Jsonl,
}

impl ReportFormat {
    /// `.jsonl` and `.ndjson` give JSONL; anything else CSV.
    pub fn from_path(path: &Path) -> ReportFormat {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("jsonl" | "ndjson") => ReportFormat::Jsonl,
            _ => ReportFormat::Csv,
        }
    }
}

/// Where one row's line lies in the appended report file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LineSpan {
    /// Offset of its first byte.
    pub start: u64,
    /// Its length, `\n` included.
    pub len: u64,
}

/// Writes one report file.
pub struct ReportWriter {
    path: PathBuf,
    /// Where rows are appended when that is not `path`, and `path` opened for the report
    /// written at the end.
    spool: Option<(tempfile::TempPath, File)>,
    lines: ReportLines,
    out: BufWriter<File>,
    /// The line being written.
    scratch: Vec<u8>,
    /// Bytes written so far, header included: where the next line starts.
    written: u64,
    /// Where the first row's line starts.
    header_end: u64,
}

impl ReportWriter {
    /// Creates (or truncates) the report at `path` and writes its header; `with_changes`
    /// adds the dry run's `changes` column.
    pub fn create(path: &Path, with_changes: bool) -> Result<ReportWriter, ReportError> {
        ReportWriter::create_as(path, ReportFormat::from_path(path), with_changes)
    }

    fn create_as(
        path: &Path,
        format: ReportFormat,
        with_changes: bool,
    ) -> Result<ReportWriter, ReportError> {
        let (file, spool) = match is_rewritable(path) {
            true => (File::create(path).map_err(ReportError::write(path))?, None),
            false => {
                let target = super::create_output(path).map_err(ReportError::write(path))?;
                let spooled = tempfile::NamedTempFile::new().map_err(ReportError::write(path))?;
                let (file, spool) = spooled.into_parts();
                (file, Some((spool, target)))
            }
        };
        let mut writer = ReportWriter {
            path: path.to_path_buf(),
            spool,
            lines: ReportLines::new(format, with_changes),
            out: BufWriter::with_capacity(super::OUTPUT_BUFFER, file),
            scratch: Vec::new(),
            written: 0,
            header_end: 0,
        };
        writer.write_header()?;
        writer.header_end = writer.written;
        writer.flush()?;
        Ok(writer)
    }

    /// The report's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write_header(&mut self) -> Result<(), ReportError> {
        let line = self.lines.header();
        self.write_line(&line)
    }

    /// An encoder of this report's lines, for rows made on another thread and appended
    /// with [`ReportWriter::append_line`].
    pub fn lines(&self) -> ReportLines {
        ReportLines::new(self.lines.format, self.lines.with_changes)
    }

    fn write_line(&mut self, line: &[u8]) -> Result<(), ReportError> {
        self.out
            .write_all(line)
            .map_err(ReportError::write(&self.path))?;
        self.written += line.len() as u64;
        Ok(())
    }

    /// Appends one row to the buffer, which goes to the file when it fills or at
    /// [`ReportWriter::flush`]; the file only ever ends on a whole row, since each row goes
    /// to the buffer in one piece. Returns where its line lies, for [`ReportWriter::finish`].
    pub fn append(&mut self, row: &ReportRow) -> Result<LineSpan, ReportError> {
        // One buffer serves every row: a report is written row by row, and a fresh line
        // (and a string per cell) for each showed in the profile of `plan`.
        let mut line = std::mem::take(&mut self.scratch);
        line.clear();
        self.lines.encode(row, &mut line);
        let appended = self.append_line(&line);
        self.scratch = line;
        appended
    }

    /// [`ReportWriter::append`] of a row whose line an encoder from
    /// [`ReportWriter::lines`] made.
    pub fn append_line(&mut self, line: &[u8]) -> Result<LineSpan, ReportError> {
        let start = self.written;
        self.write_line(line)?;
        Ok(LineSpan {
            start,
            len: self.written - start,
        })
    }

    /// Writes what the buffer holds to the file.
    pub fn flush(&mut self) -> Result<(), ReportError> {
        self.out.flush().map_err(ReportError::write(&self.path))
    }

    /// Rewrites the report with the appended lines at `lines` (in plan order) into a
    /// temporary file beside it and renames that into place, so the report is never
    /// half-written. When the lines were appended in plan order already (always for
    /// `plan`) and nothing else was, the appended file is the report as it stands.
    pub fn finish(mut self, lines: &[LineSpan]) -> Result<(), ReportError> {
        self.flush()?;
        if let Some((spool, target)) = self.spool.take() {
            return self.write_in_order(&spool, lines, target);
        }
        if self.is_in_order(lines) {
            return Ok(());
        }
        let tmp = temp_path(&self.path);
        let file = File::create(&tmp).map_err(ReportError::write(&tmp))?;
        if let Err(error) = self.write_in_order(&self.path.clone(), lines, file) {
            // The appended report stays; only the half-written copy goes. Failing to
            // remove it changes nothing about the error the run reports.
            let _ = std::fs::remove_file(&tmp);
            return Err(error);
        }
        std::fs::rename(&tmp, &self.path).map_err(ReportError::write(&self.path))
    }

    /// Writes the header, then the lines at `lines` of the appended file `appended`, to
    /// `out`.
    fn write_in_order(
        &mut self,
        appended: &Path,
        lines: &[LineSpan],
        out: File,
    ) -> Result<(), ReportError> {
        let header = self.lines.header();
        let mut out = BufWriter::new(out);
        let copied = File::open(appended).and_then(|file| {
            let mut appended = BufReader::with_capacity(1 << 16, file);
            out.write_all(&header)?;
            let (mut line, mut position) = (Vec::new(), 0u64);
            for span in lines {
                line.resize(span.len as usize, 0);
                // Results arrive nearly in plan order, so most lines follow the one
                // before; a relative seek within the buffer costs no system call.
                appended.seek_relative(span.start as i64 - position as i64)?;
                appended.read_exact(&mut line)?;
                position = span.start + span.len;
                out.write_all(&line)?;
            }
            out.flush()
        });
        copied.map_err(ReportError::write(&self.path))
    }

    /// Whether `lines` are every appended line, in the order they were appended.
    fn is_in_order(&self, lines: &[LineSpan]) -> bool {
        let mut next = self.header_end;
        lines.iter().all(|span| {
            let follows = span.start == next;
            next = span.start + span.len;
            follows
        }) && next == self.written
    }
}

/// Makes the lines of one report's rows: for its writer, and for rows made on another
/// thread ([`ReportWriter::lines`]).
pub struct ReportLines {
    format: ReportFormat,
    with_changes: bool,
    encoder: LineEncoder,
}

impl ReportLines {
    fn new(format: ReportFormat, with_changes: bool) -> Self {
        ReportLines {
            format,
            with_changes,
            encoder: LineEncoder::new(b','),
        }
    }

    /// The header line: the column names for CSV, nothing for JSONL.
    fn header(&mut self) -> Vec<u8> {
        if self.format == ReportFormat::Jsonl {
            return Vec::new();
        }
        let mut header: Vec<&str> = COLUMNS.to_vec();
        if self.with_changes {
            header.push(CHANGES_COLUMN);
        }
        self.encoder.encode(header)
    }

    /// Appends the line of `row` (with its `\n`) to `out`.
    pub fn encode(&mut self, row: &ReportRow, out: &mut Vec<u8>) {
        match self.format {
            ReportFormat::Csv => {
                let mut numbers = Numbers::default();
                let cells = csv_cells(row, &mut numbers);
                let changes = self.with_changes.then(|| changes_cell(row));
                let cells = cells.iter().map(|cell| cell.as_bytes());
                let changes = changes.iter().map(|cell| cell.as_bytes());
                self.encoder.encode_into(cells.chain(changes), out)
            }
            ReportFormat::Jsonl => json_row(row, self.with_changes, out),
        }
    }
}

/// Whether the report at `path` may be read back and replaced by a rename: it is a
/// regular file, or not there yet.
fn is_rewritable(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(meta) => meta.is_file(),
        Err(_) => true,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}

/// The text of a text cell, empty where it has none.
fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// Where a row's numbers are written as text, on the stack: a string for each, each row,
/// showed in the profile of `plan`'s report.
#[derive(Default)]
struct Numbers {
    http_status: itoa::Buffer,
    attempts: itoa::Buffer,
    ops: itoa::Buffer,
    duration_ms: itoa::Buffer,
}

/// The CSV cells of one row but `changes`, in [`COLUMNS`] order, borrowed from it (and its
/// numbers from `numbers`) where they can be.
fn csv_cells<'a>(row: &'a ReportRow, numbers: &'a mut Numbers) -> [Cow<'a, str>; 13] {
    let Numbers {
        http_status,
        attempts,
        ops,
        duration_ms,
    } = numbers;
    [
        Cow::Borrowed(row.id.as_str()),
        Cow::Borrowed(row.outcome.as_str()),
        Cow::Borrowed(row.http_status.map_or("", |n| http_status.format(n))),
        Cow::Borrowed(attempts.format(row.attempts)),
        Cow::Borrowed(text(&row.if_match_sent)),
        Cow::Borrowed(text(&row.etag_after)),
        Cow::Borrowed(ops.format(row.ops)),
        Cow::Borrowed(row.source_lines.as_str()),
        // The API's own code comes from a server's answer, so it is treated as the text
        // cells are.
        neutralise(text(&row.error_code)),
        neutralise(text(&row.error_message)),
        neutralise(text(&row.note)),
        Cow::Borrowed(text(&row.request_id)),
        Cow::Borrowed(row.duration_ms.map_or("", |n| duration_ms.format(n))),
    ]
}

/// The `changes` cell of a dry run's row: `[]` where the document would change nothing
/// (`unchanged`, and the refused ones: `conflict`, `failed`, `invalid`), so that every
/// cell of the column is a JSON array.
fn changes_cell(row: &ReportRow) -> String {
    let changes = row
        .changes
        .as_ref()
        .map_or_else(|| NO_CHANGES.to_string(), |changes| changes.to_string());
    neutralise(&changes).into_owned()
}

/// The `changes` of a dry run's row that would change nothing.
const NO_CHANGES: &str = "[]";

/// Encodes CSV lines (with `\n`), quoting cells as the `csv` crate does, with one
/// reusable `csv` writer: building a writer per line cost half of `plan`'s time on JSONL
/// input in a profile (most of it zeroing the writer's fresh buffer).
pub struct LineEncoder {
    writer: csv::Writer<LineBuf>,
    line: LineBuf,
    /// The same writer's rules, for asking whether a cell needs quotes.
    rules: csv_core::Writer,
    delimiter: u8,
}

impl LineEncoder {
    /// An encoder separating cells with `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        let line = LineBuf::default();
        let writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(line.clone());
        let rules = csv_core::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv_core::Terminator::Any(b'\n'))
            .build();
        LineEncoder {
            writer,
            line,
            rules,
            delimiter,
        }
    }

    /// The line of `cells`.
    pub fn encode<I, T>(&mut self, cells: I) -> Vec<u8>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let mut line = Vec::new();
        self.encode_into(cells, &mut line);
        line
    }

    /// Appends the line of `cells` to `out`.
    ///
    /// A line none of whose cells needs quotes (by the writer's own rule) is its cells
    /// joined by the delimiter, and is written so; only the others go through the `csv`
    /// writer. Nearly every report line is such a line, and the writer's byte-by-byte
    /// state machine, its buffer and the copy out of it were 6 % of a `plan` of the
    /// benchmark's file (callgrind).
    pub fn encode_into<I, T>(&mut self, cells: I, out: &mut Vec<u8>)
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let cells: Vec<T> = cells.into_iter().collect();
        if !self.join_plain(&cells, out) {
            // Writing to memory cannot fail.
            let _ = self.writer.write_record(&cells);
            let _ = self.writer.flush();
            let mut line = self.line.bytes();
            out.extend_from_slice(&line);
            line.clear();
        }
    }

    /// Appends `cells` joined by the delimiter, and the terminator, when no cell needs
    /// quotes and the line has a byte before its terminator (the writer quotes a lone
    /// empty cell, `""`, so that the line is not read as blank); else appends nothing and
    /// says `false`.
    fn join_plain<T: AsRef<[u8]>>(&self, cells: &[T], out: &mut Vec<u8>) -> bool {
        let plain = cells
            .iter()
            .all(|cell| !self.rules.should_quote(cell.as_ref()));
        let has_text = cells.len() > 1 || cells.iter().any(|cell| !cell.as_ref().is_empty());
        if !(plain && has_text) {
            return false;
        }
        for (index, cell) in cells.iter().enumerate() {
            if index > 0 {
                out.push(self.delimiter);
            }
            out.extend_from_slice(cell.as_ref());
        }
        out.push(b'\n');
        true
    }
}

/// The bytes the encoder's `csv` writer has written, shared so they can be taken out.
#[derive(Clone, Default)]
struct LineBuf(Arc<Mutex<Vec<u8>>>);

impl LineBuf {
    fn bytes(&self) -> MutexGuard<'_, Vec<u8>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Write for LineBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends the JSONL line of `row` to `out`; `with_changes` (a dry run) gives a row
/// without changes of its own `"changes":[]`, as [`changes_cell`] does a CSV row.
fn json_row(row: &ReportRow, with_changes: bool, out: &mut Vec<u8>) {
    // A ReportRow has only strings, numbers and JSON values: serialising cannot fail.
    let _ = serde_json::to_writer(&mut *out, row);
    if with_changes && row.changes.is_none() && out.last() == Some(&b'}') {
        out.pop();
        out.extend_from_slice(b",\"changes\":");
        out.extend_from_slice(NO_CHANGES.as_bytes());
        out.push(b'}');
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;

    fn row(id: &str, message: &str) -> ReportRow {
        ReportRow {
            id: id.into(),
            error_message: Some(message.into()),
            ..ReportRow::new(Outcome::Failed)
        }
    }

    /// What the `csv` crate's writer, configured as [`LineEncoder`]'s is, writes for
    /// `cells`.
    fn csv_line(cells: &[String], delimiter: u8) -> Vec<u8> {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        writer.write_record(cells).unwrap();
        writer.into_inner().unwrap()
    }

    #[test]
    fn a_lone_empty_cell_is_quoted_and_plain_cells_are_joined() {
        let mut encoder = LineEncoder::new(b',');
        assert_eq!(encoder.encode([""]), b"\"\"\n");
        assert_eq!(encoder.encode(Vec::<&str>::new()), b"\"\"\n");
        assert_eq!(encoder.encode(["", ""]), b",\n");
        assert_eq!(encoder.encode(["a b", "c;d"]), b"a b,c;d\n");
        assert_eq!(encoder.encode(["a,b", "c"]), b"\"a,b\",c\n");
    }

    proptest::proptest! {
        /// Whatever the cells and the delimiter, a line is what the `csv` writer writes,
        /// whether it was joined as it stands or written by that writer.
        #[test]
        fn every_line_is_what_the_csv_writer_writes(
            cells in proptest::collection::vec("[a-z ,;\"\r\n\t]{0,4}", 0..5),
            delimiter in proptest::sample::select(vec![b',', b';', b'\t', b'|']),
        ) {
            let mut encoder = LineEncoder::new(delimiter);
            proptest::prop_assert_eq!(encoder.encode(&cells), csv_line(&cells, delimiter));
        }
    }

    #[test]
    fn csv_report_has_the_contract_columns_and_neutralised_cells() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut writer = ReportWriter::create(&path, false).unwrap();
        writer.append(&row("a", "=cmd()")).unwrap();
        let code_from_a_server = ReportRow {
            error_code: Some("@SUM(1)".into()),
            ..row("b", "x")
        };
        writer.append(&code_from_a_server).unwrap();
        writer.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        assert!(lines.next().unwrap().contains("'=cmd()"));
        assert!(lines.next().unwrap().contains(",'@SUM(1),"));
    }

    /// A report at `path` with rows `b` then `a` appended, and their lines.
    fn b_then_a(path: &Path) -> (ReportWriter, LineSpan, LineSpan) {
        let mut writer = ReportWriter::create(path, false).unwrap();
        let b_line = writer.append(&row("b", "x")).unwrap();
        let a_line = writer.append(&row("a", "y")).unwrap();
        (writer, b_line, a_line)
    }

    #[test]
    fn finish_rewrites_rows_in_the_given_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.jsonl");
        let (writer, b_line, a_line) = b_then_a(&path);
        writer.finish(&[a_line, b_line]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"a\"", "\"b\""]);
        assert!(!dir.path().join("r.jsonl.tmp").exists());
    }

    #[test]
    fn a_rewrite_that_fails_leaves_no_half_written_copy_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let (mut writer, b_line, a_line) = b_then_a(&path);
        writer.flush().unwrap();
        // Another process cut the report short under the writer.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(b_line.start + 1).unwrap();
        assert!(writer.finish(&[a_line, b_line]).is_err());
        assert!(!dir.path().join("r.csv.tmp").exists());
        assert!(path.exists(), "the appended report stays");
    }

    #[test]
    fn a_report_that_is_not_a_regular_file_is_written_through_its_path_in_plan_order() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target.jsonl");
        let link = dir.path().join("r.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let (mut writer, b_line, a_line) = b_then_a(&link);
        writer.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
        writer.finish(&[a_line, b_line]).unwrap();
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        let ids: Vec<String> = std::fs::read_to_string(&target)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["\"a\"", "\"b\""]);

        let (writer, b_line, a_line) = b_then_a(Path::new("/dev/null"));
        writer.finish(&[a_line, b_line]).unwrap();
    }

    #[test]
    fn finish_keeps_only_the_given_lines_and_leaves_an_ordered_report_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut writer = ReportWriter::create(&path, false).unwrap();
        let first = writer.append(&row("a", "x")).unwrap();
        let replaced = writer.append(&row("b", "old")).unwrap();
        let second = writer.append(&row("b", "new")).unwrap();
        assert_eq!(replaced.start, first.start + first.len);
        writer.finish(&[first, second]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.contains(",new,") && !text.contains(",old,"));

        let mut writer = ReportWriter::create(&path, false).unwrap();
        let lines = [row("a", "x"), row("b", "y")].map(|r| writer.append(&r).unwrap());
        writer.flush().unwrap();
        let before = std::fs::read(&path).unwrap();
        writer.finish(&lines).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
