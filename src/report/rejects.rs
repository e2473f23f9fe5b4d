//! The rejects file: the original input rows of every `conflict`, `failed` and `invalid`
//! document (and every ID-less invalid row), verbatim, in the input's own format and
//! columns plus `outcome` and `error_message`, so a user fixes them and feeds the file back.

use super::ReportError;
use super::cells::neutralise;
use super::writer::LineEncoder;
use crate::input::{
    Format, InputSource, RowRef, SourceFile, field_start, format_from_extension,
    quotes_are_well_formed,
};
use crate::outcome::Outcome;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const OUTCOME: &str = "outcome";
const ERROR_MESSAGE: &str = "error_message";
/// The names the verdict takes in a CSV rejects file whose input has an `outcome` or
/// `error_message` column of its own (a CRM's field, mapped with `--mapping`): that
/// column is data, kept as it is, and fed back it is read as before.
const VERDICT_PAIRS: [[&str; 2]; 2] = [
    [OUTCOME, ERROR_MESSAGE],
    ["refsync_outcome", "refsync_error_message"],
];

/// One input row to copy into the rejects file.
#[derive(Clone, Debug)]
pub struct RejectedRow<'a> {
    /// Where the row is.
    pub row: RowRef,
    /// Its document's outcome.
    pub outcome: Outcome,
    /// Its document's error message, borrowed from the document's report row: a rejected
    /// document of many rows would otherwise hold a copy per row.
    pub message: &'a str,
}

/// Writes the rejects file(s) for `rows`, one per input format (see [`targets`]). Returns
/// the files written.
pub fn write_rejects(
    path: &Path,
    sources: &[InputSource],
    mut rows: Vec<RejectedRow<'_>>,
    delimiter: u8,
) -> Result<Vec<PathBuf>, ReportError> {
    // Each input row belongs to one document, so lines are unique and an unstable sort
    // (which needs no buffer of half the rows, unlike a stable one) gives the same order.
    rows.sort_unstable_by_key(|r| r.row.at);
    let mut written = Vec::new();
    for (format, target) in targets(path, sources) {
        let inputs: Vec<usize> = (0..sources.len())
            .filter(|&i| sources[i].format == format)
            .collect();
        let mine: Vec<&RejectedRow<'_>> = rows
            .iter()
            .filter(|r| inputs.contains(&(r.row.at.input as usize)))
            .collect();
        match format {
            Format::Csv => write_csv(&target, sources, &inputs, &mine, delimiter)?,
            Format::Jsonl => write_jsonl(&target, sources, &mine)?,
        }
        written.push(target);
    }
    Ok(written)
}

/// Checks that the rejects file(s) for `sources` can be written at `path` (see
/// [`super::check_writable`]); a device such as `/dev/stdout` takes one format's rows, not
/// two files' worth.
pub fn check_rejects_writable(path: &Path, sources: &[InputSource]) -> Result<(), ReportError> {
    let targets = targets(path, sources);
    if super::is_device(path) && targets.len() > 1 {
        return Err(ReportError::RejectsNeedFiles(path.to_path_buf()));
    }
    targets
        .iter()
        .try_for_each(|(_, target)| super::check_writable(target))
}

/// The rejects files that `path` gives for `sources`, one per input format present.
pub fn rejects_paths(path: &Path, sources: &[InputSource]) -> Vec<PathBuf> {
    targets(path, sources)
        .into_iter()
        .map(|(_, target)| target)
        .collect()
}

/// A rejects file an earlier run left under the other format's name of `path` (its
/// `.jsonl` for `--rejects rejects.csv`), which this run, with no input of that format,
/// writes nothing to: left, it would read as this run's. Only a file that is one (a CSV
/// header ending in `outcome,error_message`, a JSON line with both keys) is named.
pub fn earlier_rejects(path: &Path, sources: &[InputSource]) -> Option<PathBuf> {
    let named = format_from_extension(path)?;
    let other = match named {
        Format::Csv => Format::Jsonl,
        Format::Jsonl => Format::Csv,
    };
    if sources.iter().any(|source| source.format == other) {
        return None;
    }
    let sibling = path.with_extension(match other {
        Format::Csv => "csv",
        Format::Jsonl => "jsonl",
    });
    let mut first = Vec::new();
    File::open(&sibling)
        .ok()?
        .take(64 * 1024)
        .read_to_end(&mut first)
        .ok()?;
    let line = first.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let line = line.trim_start_matches('\u{feff}').trim_end();
    let is_rejects = match other {
        Format::Csv => {
            let line = line.to_ascii_lowercase();
            VERDICT_PAIRS
                .iter()
                .any(|[outcome, message]| line.ends_with(&format!("{outcome},{message}")))
        }
        Format::Jsonl => serde_json::from_str::<serde_json::Value>(line)
            .is_ok_and(|v| v.get(OUTCOME).is_some() && v.get(ERROR_MESSAGE).is_some()),
    };
    is_rejects.then_some(sibling)
}

/// The file for each input format present, so that each reads back as what it holds:
/// where `path`'s extension names a format, that format's rows go to `path` and the other
/// format's to the same name with its own extension; where it names none (`rejects`,
/// `/dev/stdout`), the first input's format takes `path` as given.
fn targets(path: &Path, sources: &[InputSource]) -> Vec<(Format, PathBuf)> {
    let named = format_from_extension(path);
    let mut out: Vec<(Format, PathBuf)> = Vec::new();
    for source in sources {
        if out.iter().any(|(f, _)| *f == source.format) {
            continue;
        }
        let as_given = match named {
            Some(format) => format == source.format,
            None => out.is_empty(),
        };
        let target = match as_given {
            true => path.to_path_buf(),
            false => path.with_extension(match source.format {
                Format::Csv => "csv",
                Format::Jsonl => "jsonl",
            }),
        };
        out.push((source.format, target));
    }
    out
}

/// Reads rows' bytes back from the inputs, keeping the current input open.
struct SpanReader<'a> {
    sources: &'a [InputSource],
    open: Option<(usize, SourceFile)>,
}

impl<'a> SpanReader<'a> {
    fn new(sources: &'a [InputSource]) -> SpanReader<'a> {
        SpanReader {
            sources,
            open: None,
        }
    }

    /// The bytes of `row`, terminator included.
    fn read(&mut self, row: &RowRef) -> Result<Vec<u8>, ReportError> {
        let input = row.at.input as usize;
        let Some(source) = self.sources.get(input) else {
            return Err(ReportError::read_back(Path::new("?"))(
                std::io::Error::other("a rejected row names an input that is not there"),
            ));
        };
        let read_back = ReportError::read_back(&source.path);
        if self.open.as_ref().map(|(i, _)| *i) != Some(input) {
            self.open = Some((input, SourceFile::open(source).map_err(&read_back)?));
        }
        let Some((_, file)) = self.open.as_mut() else {
            return Ok(Vec::new());
        };
        file.seek(SeekFrom::Start(row.span.start))
            .map_err(&read_back)?;
        let mut bytes = vec![0; row.span.end.saturating_sub(row.span.start) as usize];
        file.read_exact(&mut bytes).map_err(&read_back)?;
        Ok(bytes)
    }
}

/// Splits a raw record into its content and its line terminator (`\n` if it had none).
fn split_terminator(raw: &[u8]) -> (&[u8], &[u8]) {
    let content_len = raw
        .iter()
        .rposition(|b| *b != b'\n' && *b != b'\r')
        .map_or(0, |i| i + 1);
    let terminator = &raw[content_len..];
    (
        &raw[..content_len],
        if terminator.is_empty() {
            b"\n"
        } else {
            terminator
        },
    )
}

fn parse_record(raw: &[u8], delimiter: u8) -> Vec<Vec<u8>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(raw);
    let mut record = csv::ByteRecord::new();
    match reader.read_byte_record(&mut record) {
        Ok(true) => record.iter().map(<[u8]>::to_vec).collect(),
        _ => Vec::new(),
    }
}

/// A CSV input's header, and where the verdict of an earlier rejects file starts in it.
#[derive(Default)]
struct CsvHeader {
    columns: Vec<Vec<u8>>,
    /// The index of the `outcome` (or `refsync_outcome`) column that refsync added when
    /// this file was a rejects file; `None` for a file whose columns are all data.
    verdict_at: Option<usize>,
}

impl CsvHeader {
    /// The columns without the verdict of an earlier rejects file.
    fn data(&self) -> &[Vec<u8>] {
        &self.columns[..self.verdict_at.unwrap_or(self.columns.len())]
    }

    /// Whether the verdict is named `refsync_outcome`, `refsync_error_message`: names
    /// only refsync writes, unlike `outcome` and `error_message`, which a CRM may use.
    fn verdict_named_apart(&self) -> bool {
        self.verdict_at
            .is_some_and(|at| self.columns[at].trim_ascii() == VERDICT_PAIRS[1][0].as_bytes())
    }
}

fn read_header(source: &InputSource, delimiter: u8) -> Result<CsvHeader, ReportError> {
    let file = SourceFile::open(source).map_err(ReportError::read_back(&source.path))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(file);
    let mut record = csv::ByteRecord::new();
    if !matches!(reader.read_byte_record(&mut record), Ok(true)) {
        return Ok(CsvHeader::default());
    }
    let mut columns: Vec<Vec<u8>> = record.iter().map(<[u8]>::to_vec).collect();
    if let Some(first) = columns.first_mut()
        && first.starts_with(crate::input::BOM)
    {
        first.drain(..3);
    }
    let verdict_at = ends_in_verdict(&columns).then(|| columns.len() - 2);
    Ok(CsvHeader {
        columns,
        verdict_at,
    })
}

/// Whether a header ends in the two columns of a rejects file's verdict, as refsync names
/// them, in its case (a CRM's `Outcome` column is data).
fn ends_in_verdict(header: &[Vec<u8>]) -> bool {
    let verdict_at = header.len().saturating_sub(2);
    header.len() >= 2
        && VERDICT_PAIRS.iter().any(|pair| {
            pair.iter()
                .zip(&header[verdict_at..])
                .all(|(name, cell)| cell.trim_ascii() == name.as_bytes())
        })
}

/// Whether the trailing `outcome,error_message` of `header` is an earlier run's verdict
/// (to be replaced) rather than a CRM's own two columns (to be kept): every rejected row
/// of the file must hold an outcome refsync rejects (`conflict`, `failed`, `invalid`)
/// just before its last cell, as a rejects file's rows do, ragged ones included.
fn holds_refsyncs_verdict<'r>(
    sources: &[InputSource],
    header: &CsvHeader,
    mut rows: impl Iterator<Item = &'r &'r RejectedRow<'r>>,
    delimiter: u8,
) -> Result<bool, ReportError> {
    if header.verdict_at.is_none() || header.verdict_named_apart() {
        return Ok(header.verdict_at.is_some());
    }
    let mut spans = SpanReader::new(sources);
    let is_rejected_outcome = |cell: &[u8]| {
        std::str::from_utf8(cell.trim_ascii())
            .ok()
            .and_then(Outcome::named)
            .is_some_and(Outcome::is_rejected)
    };
    rows.try_fold(true, |all, rejected| {
        if !all {
            return Ok(false);
        }
        let cells = parse_record(&spans.read(&rejected.row)?, delimiter);
        let outcome = cells.len().checked_sub(2).and_then(|at| cells.get(at));
        Ok(outcome.is_some_and(|cell| is_rejected_outcome(cell)))
    })
}

/// The CSV rejects: one header (the union of the inputs' columns plus `outcome` and
/// `error_message`); rows copied byte for byte where their input's header is exactly that
/// union, otherwise re-laid by column name.
fn write_csv(
    target: &Path,
    sources: &[InputSource],
    inputs: &[usize],
    rows: &[&RejectedRow<'_>],
    delimiter: u8,
) -> Result<(), ReportError> {
    let mut headers = inputs
        .iter()
        .map(|&i| read_header(&sources[i], delimiter))
        .collect::<Result<Vec<_>, _>>()?;
    for (slot, &input) in inputs.iter().enumerate() {
        let of_input = rows.iter().filter(|r| r.row.at.input as usize == input);
        if !holds_refsyncs_verdict(sources, &headers[slot], of_input, delimiter)? {
            headers[slot].verdict_at = None;
        }
    }
    // Each file's columns join those of the files before it that they do not name; a
    // column a header repeats stays repeated, so that its rows are still copied verbatim.
    // The verdict of an earlier rejects file fed back is no column of its own: this run's
    // verdict takes its place.
    let mut union: Vec<Vec<u8>> = Vec::new();
    for header in &headers {
        let before = union.len();
        for column in header.data() {
            if !union[..before].iter().any(|c| same_column(c, column)) {
                union.push(column.clone());
            }
        }
    }
    let verdict = verdict_names(&union);
    union.extend(verdict.iter().map(|name| name.as_bytes().to_vec()));
    let crlf = match inputs.first() {
        Some(&first) => ends_lines_with_crlf(&sources[first])?,
        None => false,
    };
    let mut out = CsvOut::create(target, delimiter, crlf)?;
    out.record(&union)?;
    let mut spans = SpanReader::new(sources);
    let no_header = CsvHeader::default();
    for rejected in rows {
        let input = rejected.row.at.input as usize;
        let raw = spans.read(&rejected.row)?;
        let slot = inputs.iter().position(|&i| i == input).unwrap_or(0);
        let header = headers.get(slot).unwrap_or(&no_header);
        out.row(&raw, header, &union, rejected)?;
    }
    out.finish()
}

/// The names of the verdict's two columns: `outcome` and `error_message`, unless the
/// inputs' own columns take either name.
fn verdict_names(data: &[Vec<u8>]) -> [&'static str; 2] {
    let taken = |name: &str| data.iter().any(|c| same_column(c, name.as_bytes()));
    VERDICT_PAIRS
        .into_iter()
        .find(|pair| !pair.iter().any(|name| taken(name)))
        .unwrap_or(VERDICT_PAIRS[1])
}

/// Whether two header cells name one column, as the reader matches them (blanks around
/// them and the case of their letters aside): inputs headed `id` and `ID` share one column
/// in the rejects file, which then reads back as one.
fn same_column(a: &[u8], b: &[u8]) -> bool {
    a.trim_ascii().eq_ignore_ascii_case(b.trim_ascii())
}

/// Whether the first line of the CSV input `source` ends in CRLF (as Excel writes): the
/// rejects file's own lines then end so too, matching the rows copied verbatim.
fn ends_lines_with_crlf(source: &InputSource) -> Result<bool, ReportError> {
    let read_back = ReportError::read_back(&source.path);
    let file = SourceFile::open(source).map_err(&read_back)?;
    let mut first = Vec::new();
    std::io::BufRead::read_until(&mut std::io::BufReader::new(file), b'\n', &mut first)
        .map_err(&read_back)?;
    Ok(first.ends_with(b"\r\n"))
}

/// A CSV rejects file being written.
struct CsvOut {
    path: PathBuf,
    delimiter: u8,
    crlf: bool,
    out: BufWriter<File>,
    line: LineEncoder,
}

impl CsvOut {
    fn create(path: &Path, delimiter: u8, crlf: bool) -> Result<CsvOut, ReportError> {
        let file = super::create_output(path).map_err(ReportError::write(path))?;
        Ok(CsvOut {
            path: path.to_path_buf(),
            delimiter,
            crlf,
            out: BufWriter::with_capacity(super::OUTPUT_BUFFER, file),
            line: LineEncoder::new(delimiter),
        })
    }

    /// `cells` as one line, ended as the input's lines are.
    fn encode(&mut self, cells: &[Vec<u8>]) -> Vec<u8> {
        let mut line = self.line.encode(cells);
        if self.crlf && line.last() == Some(&b'\n') {
            line.insert(line.len() - 1, b'\r');
        }
        line
    }

    fn record(&mut self, cells: &[Vec<u8>]) -> Result<(), ReportError> {
        let line = self.encode(cells);
        self.out
            .write_all(&line)
            .map_err(ReportError::write(&self.path))
    }

    fn row(
        &mut self,
        raw: &[u8],
        header: &CsvHeader,
        union: &[Vec<u8>],
        rejected: &RejectedRow<'_>,
    ) -> Result<(), ReportError> {
        let columns = &header.columns;
        let outcome = rejected.outcome.as_str().as_bytes().to_vec();
        let message = neutralise(rejected.message).as_bytes().to_vec();
        let cells = parse_record(raw, self.delimiter);
        // A ragged record (more or fewer fields than its header) keeps its own fields as
        // they are, the verdict right after them, so that it stays ragged in the rejects
        // file: padded, a row short of its value would come back as a valid row that
        // clears the value. One more empty cell keeps it off the rejects header's count.
        // So too a row of a file without a `value` column, laid into a union that has
        // one: its empty cell there would come back as a value that clears the field.
        // A record whose quotes are malformed is kept as it is too: re-laid from the
        // cells the lenient reading gave, `"a"b"` would come back as the valid `ab"`.
        let lacks_value = |columns: &[Vec<u8>]| !columns.iter().any(|c| same_column(c, b"value"));
        let ragged =
            cells.len().max(1) != columns.len() || (lacks_value(columns) && !lacks_value(union));
        let (content, terminator) = split_terminator(raw);
        let malformed = !quotes_are_well_formed(content, self.delimiter);
        if ragged || malformed || (columns.len() + 2 == union.len() && union.starts_with(columns)) {
            let padding = usize::from(ragged && cells.len() + 2 == union.len());
            return self.verbatim(content, terminator, padding, [outcome, message]);
        }
        // A row of an earlier rejects file fed back, laid out as this one is: its own cells
        // byte for byte, this run's verdict in place of the old one.
        if let Some(data) = self.data_before_verdict(content, header, union) {
            return self.verbatim(data, terminator, 0, [outcome, message]);
        }
        // The union ends with the verdict's two columns; the header's own verdict, if it
        // is a rejects file's, is no data column and is left behind.
        let data = header.data();
        let (union_data, _) = union.split_at(union.len().saturating_sub(2));
        let mut laid: Vec<Vec<u8>> = union_data
            .iter()
            .map(|column| {
                data.iter()
                    .position(|h| same_column(h, column))
                    .and_then(|i| cells.get(i).cloned())
                    .unwrap_or_default()
            })
            .collect();
        laid.extend([outcome, message]);
        self.record(&laid)
    }

    /// Writes `content` as it stands, then `padding` empty cells and the verdict, then
    /// `terminator`.
    fn verbatim(
        &mut self,
        content: &[u8],
        terminator: &[u8],
        padding: usize,
        verdict: [Vec<u8>; 2],
    ) -> Result<(), ReportError> {
        let mut tail_cells = vec![Vec::new(); padding + 1];
        tail_cells.extend(verdict);
        let tail = self.line.encode(&tail_cells);
        let mut line = content.to_vec();
        line.extend_from_slice(tail.strip_suffix(b"\n").unwrap_or(&tail));
        line.extend_from_slice(terminator);
        self.out
            .write_all(&line)
            .map_err(ReportError::write(&self.path))
    }

    /// For a row of an earlier rejects file whose data columns are the union's, in its
    /// order: the row's text before its old verdict. `None` for any other row.
    fn data_before_verdict<'a>(
        &self,
        content: &'a [u8],
        header: &CsvHeader,
        union: &[Vec<u8>],
    ) -> Option<&'a [u8]> {
        let verdict_at = header.verdict_at.filter(|&at| at > 0)?;
        let data = header.data();
        if data.len() + 2 != union.len() || !union.starts_with(data) {
            return None;
        }
        let start = field_start(content, self.delimiter, verdict_at)?;
        // The old verdict starts just after a delimiter, which goes with it.
        content.get(..start.checked_sub(1)?)
    }

    fn finish(mut self) -> Result<(), ReportError> {
        self.out.flush().map_err(ReportError::write(&self.path))
    }
}

/// The JSONL rejects: each line verbatim with `outcome` and `error_message` added as keys;
/// a line that is not a JSON object is copied as it is, for the user to fix.
fn write_jsonl(
    target: &Path,
    sources: &[InputSource],
    rows: &[&RejectedRow<'_>],
) -> Result<(), ReportError> {
    let file = super::create_output(target).map_err(ReportError::write(target))?;
    let mut out = BufWriter::with_capacity(super::OUTPUT_BUFFER, file);
    let mut spans = SpanReader::new(sources);
    for rejected in rows {
        let raw = spans.read(&rejected.row)?;
        let line = annotate_json_line(&raw, rejected);
        out.write_all(&line).map_err(ReportError::write(target))?;
    }
    out.flush().map_err(ReportError::write(target))
}

fn annotate_json_line(raw: &[u8], rejected: &RejectedRow<'_>) -> Vec<u8> {
    let (content, terminator) = split_terminator(raw);
    let mut line = match serde_json::from_slice::<Members<'_>>(content) {
        Ok(Members(members)) => {
            let earlier = earlier_json_verdict(&members);
            // The keys of the earlier verdict, if any, give way to the new one; a line
            // with `outcome` or `error_message` of its own gets the verdict named apart.
            let names = match earlier {
                Some(pair) => pair,
                None if members.iter().any(|(key, _)| is_plain_verdict(key)) => VERDICT_PAIRS[1],
                None => VERDICT_PAIRS[0],
            };
            match earlier {
                Some(pair) => {
                    let kept: Vec<String> = members
                        .iter()
                        .filter(|(key, _)| !pair.contains(&key.as_str()))
                        .map(|(key, value)| {
                            format!("{}:{}", serde_json::Value::from(key.as_str()), value.get())
                        })
                        .collect();
                    let object = format!("{{{}}}", kept.join(","));
                    insert_keys(object.as_bytes(), kept.is_empty(), names, rejected)
                }
                None => insert_keys(content, members.is_empty(), names, rejected),
            }
        }
        _ => content.to_vec(),
    };
    // The input's own line ending (CRLF from Windows tools), as the CSV rejects keep it.
    line.extend_from_slice(terminator);
    line
}

/// The pair of keys under which an earlier rejects file put its verdict on this line:
/// `refsync_outcome` and `refsync_error_message` wherever present, `outcome` and
/// `error_message` only where `outcome` holds an outcome refsync rejects (otherwise they
/// are the line's own data, a CRM's fields, kept as they are).
fn earlier_json_verdict(members: &[(String, &RawValue)]) -> Option<[&'static str; 2]> {
    let value = |name: &str| members.iter().find(|(key, _)| key == name).map(|(_, v)| v);
    if VERDICT_PAIRS[1].iter().any(|name| value(name).is_some()) {
        return Some(VERDICT_PAIRS[1]);
    }
    let outcome = value(OUTCOME)?;
    let rejected = serde_json::from_str::<String>(outcome.get())
        .ok()
        .as_deref()
        .and_then(Outcome::named)
        .is_some_and(Outcome::is_rejected);
    rejected.then_some(VERDICT_PAIRS[0])
}

/// Whether `key` is one of the two keys a rejects file adds when the line has neither.
fn is_plain_verdict(key: &str) -> bool {
    VERDICT_PAIRS[0].contains(&key)
}

/// A JSON object's members in their order, each value as its own text: rewriting a line
/// through `serde_json::Value` sorted its keys and rewrote its numbers (`1.50e3` became
/// `1500.0`, a 23-digit number lost its digits).
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// Inserts the two keys before the object's closing brace, keeping the rest byte for byte.
fn insert_keys(
    content: &[u8],
    empty: bool,
    [outcome, message]: [&str; 2],
    rejected: &RejectedRow<'_>,
) -> Vec<u8> {
    let Some(close) = content.iter().rposition(|b| *b == b'}') else {
        return content.to_vec();
    };
    let extra = format!(
        "{}\"{outcome}\":{},\"{message}\":{}",
        if empty { "" } else { "," },
        serde_json::Value::from(rejected.outcome.as_str()),
        serde_json::Value::from(rejected.message),
    );
    let mut line = content[..close].to_vec();
    line.extend_from_slice(extra.as_bytes());
    line.extend_from_slice(&content[close..]);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{LineRef, Span};

    fn source(dir: &Path, name: &str, text: &str, format: Format) -> InputSource {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        InputSource {
            name: name.into(),
            path,
            format,
            spool: None,
            found_returns: Default::default(),
        }
    }

    fn rejected(input: u32, line: u64, text: &str, start: usize, len: usize) -> RejectedRow<'_> {
        RejectedRow {
            row: RowRef {
                at: LineRef { input, line },
                span: Span {
                    start: start as u64,
                    end: (start + len) as u64,
                },
            },
            outcome: Outcome::Failed,
            message: text,
        }
    }

    #[test]
    fn csv_rows_are_copied_verbatim_with_outcome_and_message() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id,op,path,value\r\na,replace,/name,\"x, y\"\r\nb,replace,/name,z\r\n";
        let src = source(dir.path(), "u.csv", text, Format::Csv);
        let start = text.find("a,").unwrap();
        let len = text[start..].find("b,").unwrap();
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &[src], vec![rejected(0, 2, "=bad", start, len)], b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "id,op,path,value,outcome,error_message\r\na,replace,/name,\"x, y\",failed,'=bad\r\n"
        );
    }

    /// The rejects file of `text` (an input `u.csv`) with each row from its second line
    /// on rejected.
    fn rejects_of(text: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let src = source(dir.path(), "u.csv", text, Format::Csv);
        let mut rows = Vec::new();
        let mut start = text.find('\n').unwrap() + 1;
        for (index, line) in text[start..].split_inclusive('\n').enumerate() {
            rows.push(rejected(0, index as u64 + 2, "bad", start, line.len()));
            start += line.len();
        }
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &[src], rows, b',').unwrap();
        std::fs::read_to_string(&out).unwrap()
    }

    #[test]
    fn a_ragged_row_stays_ragged_so_that_fed_back_unfixed_it_is_refused_again() {
        // Padded, the short row would come back with an empty value, which clears it.
        let text = "id,op,path,value\r\nr,replace,/details/notes\r\nr,replace,/name,x,y\r\n";
        assert_eq!(
            rejects_of(text),
            "id,op,path,value,outcome,error_message\r\n\
             r,replace,/details/notes,failed,bad\r\n\
             r,replace,/name,x,y,failed,bad\r\n"
        );
    }

    #[test]
    fn a_ragged_row_is_kept_off_the_column_count_of_a_union_of_headers() {
        let dir = tempfile::tempdir().unwrap();
        let short = "id,op,path,value\nr,replace,/name,x,\"y\"\n";
        let long = "id,op,path,value,if_match\nq,replace,/name,x,\"1\"\n";
        let sources = [
            source(dir.path(), "a.csv", short, Format::Csv),
            source(dir.path(), "b.csv", long, Format::Csv),
        ];
        let start = short.find("r,").unwrap();
        let row = rejected(0, 2, "bad", start, short.len() - start);
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &sources, vec![row], b',').unwrap();
        // Its five fields and the verdict would fill the union's seven columns, its extra
        // cell landing under if_match: one more keeps it ragged.
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "id,op,path,value,if_match,outcome,error_message\nr,replace,/name,x,\"y\",,failed,bad\n"
        );
    }

    #[test]
    fn a_row_with_malformed_quotes_is_kept_as_it_is_in_a_union_of_other_order() {
        let dir = tempfile::tempdir().unwrap();
        let first = "op,path,value,id\nreplace,/name,x,q\n";
        let second = "id,op,path,value\nr,replace,/name,\"a\"b\"\ns,replace,/name,\"open\n";
        let sources = [
            source(dir.path(), "a.csv", first, Format::Csv),
            source(dir.path(), "b.csv", second, Format::Csv),
        ];
        let bad_quote = second.find("r,").unwrap();
        let unclosed = second.find("s,").unwrap();
        let rows = vec![
            rejected(1, 2, "bad", bad_quote, unclosed - bad_quote),
            rejected(1, 3, "bad", unclosed, second.len() - unclosed),
        ];
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &sources, rows, b',').unwrap();
        // Re-laid by column name from the lenient reading, the first would come back as
        // the valid row `replace,/name,ab",r` and the second as a value `open`.
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "op,path,value,id,outcome,error_message\n\
             r,replace,/name,\"a\"b\",failed,bad\n\
             s,replace,/name,\"open,failed,bad\n"
        );
    }

    #[test]
    fn a_row_of_a_file_without_a_value_column_gets_no_empty_value_in_a_union() {
        let dir = tempfile::tempdir().unwrap();
        let valueless = "id,op,path\nr,replace,/details/notes\n";
        let full = "id,op,path,value\nq,replace,/name,x\n";
        let sources = [
            source(dir.path(), "a.csv", valueless, Format::Csv),
            source(dir.path(), "b.csv", full, Format::Csv),
        ];
        let start = valueless.find("r,").unwrap();
        let row = rejected(0, 2, "bad", start, valueless.len() - start);
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &sources, vec![row], b',').unwrap();
        // Laid out, it would read back as a replace with "": kept short, it is refused.
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "id,op,path,value,outcome,error_message\nr,replace,/details/notes,failed,bad\n"
        );
    }

    #[test]
    fn an_inputs_own_outcome_column_is_kept_and_the_verdict_named_apart() {
        let dir = tempfile::tempdir().unwrap();
        let text = "Referral,Amount,Outcome,Error_Message\nr,abc,Customer chose us,later\n";
        let sources = [source(dir.path(), "crm.csv", text, Format::Csv)];
        let start = text.find("r,").unwrap();
        let row = rejected(0, 2, "bad", start, text.len() - start);
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &sources, vec![row], b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "Referral,Amount,Outcome,Error_Message,refsync_outcome,refsync_error_message\n\
             r,abc,Customer chose us,later,failed,bad\n"
        );
        // Fed back, its verdict is replaced, not kept as data, and the CRM's columns stay.
        let again = [source(dir.path(), "rejects.csv", &written, Format::Csv)];
        let start = written.find("r,").unwrap();
        let row = rejected(0, 2, "worse", start, written.len() - start);
        let out = dir.path().join("rejects2.csv");
        write_rejects(&out, &again, vec![row], b',').unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "Referral,Amount,Outcome,Error_Message,refsync_outcome,refsync_error_message\n\
             r,abc,Customer chose us,later,failed,worse\n"
        );
        assert_eq!(
            earlier_rejects(&dir.path().join("rejects.jsonl"), &[]),
            Some(dir.path().join("rejects.csv"))
        );
    }

    #[test]
    fn a_crms_own_trailing_outcome_columns_are_data_unless_they_hold_a_verdict() {
        let text = "id,op,path,value,outcome,error_message\n\
                    r,replace,/name,x,won,none\n\
                    q,replace,/name,y,failed,old\n";
        // "won" is no outcome refsync rejects: the two columns are the CRM's, kept.
        assert_eq!(
            rejects_of(text),
            "id,op,path,value,outcome,error_message,refsync_outcome,refsync_error_message\n\
             r,replace,/name,x,won,none,failed,bad\n\
             q,replace,/name,y,failed,old,failed,bad\n"
        );
        // Every row holding a verdict, the file is an earlier rejects file: replaced.
        let fed_back = "id,op,path,value,outcome,error_message\nq,replace,/name,y,invalid,old\n";
        assert_eq!(
            rejects_of(fed_back),
            "id,op,path,value,outcome,error_message\nq,replace,/name,y,failed,bad\n"
        );
    }

    #[test]
    fn a_rejects_file_fed_back_keeps_its_rows_bytes_and_replaces_only_the_verdict() {
        // Quotes a writer need not have used, a delimiter in a quoted cell and CRLF stay.
        let fed_back = "id,op,path,value,if_match,outcome,error_message\r\n\
                        \"q\",replace,/details/notes,\"two, parts\",\"\"\"e1\"\"\",failed,\"old, long\"\r\n";
        assert_eq!(
            rejects_of(fed_back),
            "id,op,path,value,if_match,outcome,error_message\r\n\
             \"q\",replace,/details/notes,\"two, parts\",\"\"\"e1\"\"\",failed,bad\r\n"
        );
    }

    #[test]
    fn a_jsonl_rows_own_outcome_key_is_kept_and_the_verdict_named_apart() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"id\":\"a\",\"outcome\":\"won\",\"error_message\":null}\n";
        let src = source(dir.path(), "u.jsonl", text, Format::Jsonl);
        let out = dir.path().join("rejects.jsonl");
        write_rejects(&out, &[src], vec![rejected(0, 1, "m", 0, text.len())], b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "{\"id\":\"a\",\"outcome\":\"won\",\"error_message\":null,\
             \"refsync_outcome\":\"failed\",\"refsync_error_message\":\"m\"}\n"
        );
        // Fed back, the verdict named apart is replaced and the CRM's keys stay.
        let again = source(dir.path(), "again.jsonl", &written, Format::Jsonl);
        let out = dir.path().join("rejects2.jsonl");
        let row = rejected(0, 1, "n", 0, written.len());
        write_rejects(&out, &[again], vec![row], b',').unwrap();
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "{\"id\":\"a\",\"outcome\":\"won\",\"error_message\":null,\
             \"refsync_outcome\":\"failed\",\"refsync_error_message\":\"n\"}\n"
        );
    }

    #[test]
    fn columns_named_in_another_case_share_one_column_of_the_union() {
        let dir = tempfile::tempdir().unwrap();
        let first = "id,op,path,value\na,replace,/name,x\n";
        let second = "Value, ID ,op,path,Note\ny,b,replace,/name,n\n";
        let sources = [
            source(dir.path(), "one.csv", first, Format::Csv),
            source(dir.path(), "two.csv", second, Format::Csv),
        ];
        let at = |text: &str, row: &str| (text.find(row).unwrap(), row.len() + 1);
        let (a, a_len) = at(first, "a,replace,/name,x");
        let (b, b_len) = at(second, "y,b,replace,/name,n");
        let rows = vec![rejected(0, 2, "m", a, a_len), rejected(1, 2, "m", b, b_len)];
        let out = dir.path().join("rejects.csv");
        write_rejects(&out, &sources, rows, b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "id,op,path,value,Note,outcome,error_message\n\
             a,replace,/name,x,,failed,m\n\
             b,replace,/name,y,n,failed,m\n"
        );
    }

    #[test]
    fn a_header_that_repeats_a_column_keeps_its_rows_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let text = "id,op,path,value,note,note\na,replace,/id,x,c1,c2\n";
        let src = source(dir.path(), "u.csv", text, Format::Csv);
        let start = text.find("a,").unwrap();
        let out = dir.path().join("rejects.csv");
        let rows = vec![rejected(0, 2, "m", start, text.len() - start)];
        write_rejects(&out, &[src], rows, b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "id,op,path,value,note,note,outcome,error_message\na,replace,/id,x,c1,c2,failed,m\n"
        );
    }

    #[test]
    fn jsonl_rows_get_the_two_keys_added() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"id\":\"a\",\"op\":\"replace\"}\nnot json\n";
        let src = source(dir.path(), "u.jsonl", text, Format::Jsonl);
        let out = dir.path().join("rejects.jsonl");
        let first = text.find('\n').unwrap() + 1;
        let rows = vec![
            rejected(0, 1, "m", 0, first),
            rejected(0, 2, "m", first, text.len() - first),
        ];
        write_rejects(&out, &[src], rows, b',').unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "{\"id\":\"a\",\"op\":\"replace\",\"outcome\":\"failed\",\"error_message\":\"m\"}\nnot json\n"
        );
    }

    #[test]
    fn a_jsonl_row_fed_back_from_a_rejects_file_keeps_its_keys_and_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"id\":\"r1\",\"crm_amount\":1.50e3,\"big\":12345678901234567890123,\"outcome\":\"invalid\",\"error_message\":\"old\"}\r\n";
        let src = source(dir.path(), "u.jsonl", text, Format::Jsonl);
        let out = dir.path().join("rejects.jsonl");
        write_rejects(
            &out,
            &[src],
            vec![rejected(0, 1, "new", 0, text.len())],
            b',',
        )
        .unwrap();
        let written = std::fs::read_to_string(&out).unwrap();
        assert_eq!(
            written,
            "{\"id\":\"r1\",\"crm_amount\":1.50e3,\"big\":12345678901234567890123,\"outcome\":\"failed\",\"error_message\":\"new\"}\r\n"
        );
    }
}
