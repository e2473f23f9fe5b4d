//! Streaming the records of one opened input, whatever its format.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek};

use super::csv_rows::CsvRecords;
use super::jsonl::{JsonlRecords, JsonlSplitter};
use super::line_ends::SourceFile;
use super::lines::{MAX_RECORD_BYTES, skip_bom};
use super::mapping::MappedRecords;
use super::open::io_error;
use super::{Format, InputError, InputRecord, InputSource, ReadOptions};

/// The records of one input, in line order: CSV or JSONL.
///
/// Yields an `Err` only for an I/O failure mid-read, and nothing after it.
pub enum Records<R = BufReader<SourceFile>> {
    /// A CSV input.
    Csv(CsvRecords<R>),
    /// A JSONL input.
    Jsonl(JsonlRecords<R>),
    /// A wide CSV input read through `--mapping`.
    Mapped(MappedRecords<R>),
}

impl<R: BufRead + Seek> Iterator for Records<R> {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Csv(records) => records.next(),
            Records::Jsonl(records) => records.next(),
            Records::Mapped(records) => records.next(),
        }
    }
}

/// Streams the records of input number `index` (index = position in `names`).
///
/// Fails only if the input cannot be reopened; what is wrong with a record's content comes
/// as a [`super::RecordContent::Malformed`] record.
pub fn read_records(
    source: &InputSource,
    index: u32,
    options: &ReadOptions,
) -> Result<Records, InputError> {
    read_records_buffered(source, index, options, DEFAULT_BUFFER)
}

/// The buffer [`read_records`] reads through.
const DEFAULT_BUFFER: usize = 8 * 1024;

/// [`read_records`] through a buffer of `capacity` bytes.
pub(crate) fn read_records_buffered(
    source: &InputSource,
    index: u32,
    options: &ReadOptions,
    capacity: usize,
) -> Result<Records, InputError> {
    let file = SourceFile::open(source).map_err(|e| io_error(&source.name, e))?;
    records_from(
        BufReader::with_capacity(capacity, file),
        source,
        index,
        options,
        MAX_RECORD_BYTES,
    )
}

/// The JSONL input `source` (input number `index`) split into batches of lines, to be
/// parsed wherever the caller likes.
pub(crate) fn split_json_lines(
    source: &InputSource,
    index: u32,
) -> Result<JsonlSplitter<BufReader<File>>, InputError> {
    let file = File::open(&source.path).map_err(|e| io_error(&source.name, e))?;
    let mut reader = BufReader::with_capacity(SPLIT_BUFFER, file);
    let offset = skip_bom(&mut reader).map_err(|e| io_error(&source.name, e))?;
    Ok(JsonlSplitter::new(reader, offset, index, MAX_RECORD_BYTES))
}

/// The read buffer of [`split_json_lines`], whose lines are copied out whole anyway.
const SPLIT_BUFFER: usize = 64 * 1024;

/// Records read from `reader` as `source` says, records over `limit` bytes malformed.
pub(crate) fn records_from<R: BufRead + Seek>(
    mut reader: R,
    source: &InputSource,
    index: u32,
    options: &ReadOptions,
    limit: usize,
) -> Result<Records<R>, InputError> {
    let offset = skip_bom(&mut reader).map_err(|e| io_error(&source.name, e))?;
    let name = source.name.as_str();
    Ok(match (source.format, &options.mapping) {
        (Format::Csv, Some(mapping)) => Records::Mapped(MappedRecords::new(
            reader,
            offset,
            name,
            index,
            mapping.clone(),
            options.delimiter,
            limit,
        )),
        (Format::Csv, None) => Records::Csv(CsvRecords::new(
            reader,
            offset,
            name,
            index,
            options.delimiter,
            limit,
        )),
        (Format::Jsonl, _) => Records::Jsonl(JsonlRecords::new(reader, offset, name, index, limit)),
    })
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Reading records from bytes in memory, for the readers' tests.

    use std::io::Cursor;
    use std::path::PathBuf;

    use super::*;

    /// A source named `t` of the given format; its path is never opened.
    pub fn source(format: Format) -> InputSource {
        InputSource {
            name: "t".into(),
            path: PathBuf::from("t"),
            format,
            spool: None,
            found_returns: Default::default(),
        }
    }

    /// Every record of `bytes` read as `format`, records over `limit` bytes malformed.
    pub fn read_with(
        bytes: &[u8],
        format: Format,
        options: &ReadOptions,
        limit: usize,
    ) -> Vec<InputRecord> {
        let reader = Cursor::new(bytes.to_vec());
        records_from(reader, &source(format), 0, options, limit)
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Every record of `bytes` read as `format` with the default options and bound.
    pub fn read(bytes: &[u8], format: Format) -> Vec<InputRecord> {
        read_with(bytes, format, &ReadOptions::default(), MAX_RECORD_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::open::open_inputs;
    use std::path::PathBuf;

    #[test]
    fn a_file_is_read_from_disk_with_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(
            &path,
            "{\"id\":\"a\",\"op\":\"replace\",\"path\":\"/x\",\"value\":1}\n",
        )
        .unwrap();
        let names = vec![path.display().to_string()];
        let sources = open_inputs(&names, &ReadOptions::default()).unwrap();
        let records: Vec<_> = read_records(&sources[0], 7, &ReadOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].row.at.input, 7);
        assert_eq!(records[0].row.span.end, 48);
    }

    #[test]
    fn a_file_that_vanished_after_opening_is_an_io_error() {
        let mut source = test_support::source(Format::Csv);
        source.path = PathBuf::from("/nonexistent/refsync/input.csv");
        assert!(matches!(
            read_records(&source, 0, &ReadOptions::default()),
            Err(InputError::Io { .. })
        ));
    }
}
