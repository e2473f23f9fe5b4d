//! Reading every input on threads of their own, so that parsing the next records overlaps
//! planning the last ones.
//!
//! One thread reads the inputs in order and deals them out in batches, round robin, to a
//! parser thread per core (up to [`MOST_PARSERS`]). Each parser hands every batch it made
//! to every consumer ([`RecordStream`]: one per planning thread, each planning its own share
//! of the IDs), which takes the batches from the parsers in the same round, so in input
//! order; a batch is shared, not copied. Records travel in batches: one channel message per
//! record cost more than the parse it overlapped. A JSONL batch is raw lines, which its
//! parser turns into records: on a million lines the parse took longer than the planning it
//! overlapped, and one line's parse needs nothing of any other line. A CSV batch is read
//! whole by the reader, since a record may run over several lines. Every channel is
//! bounded, so the reader runs at most a few batches ahead and memory stays flat.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use super::jsonl::JsonlLines;
use super::records::{read_records, split_json_lines};
use super::{Format, InputError, InputRecord, InputSource, ReadOptions};

/// Records (or JSONL lines) per batch handed from the reader to a parser.
const BATCH: usize = 1024;
/// Input bytes after which a batch is handed over with fewer records: a record may be as
/// long as [`super::MAX_RECORD_BYTES`], and a thousand of those in each batch in flight
/// would be gigabytes.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches the reader may run ahead of each parser, and each parser of each stream.
const AHEAD: usize = 4;
/// The most parser threads worth starting.
pub const MOST_PARSERS: usize = 4;

/// What the reader deals out: a batch read already, or JSONL lines still to parse.
enum Chunk {
    Records(Vec<InputRecord>),
    Lines(JsonlLines),
}

impl Chunk {
    fn into_records(self) -> Vec<InputRecord> {
        match self {
            Chunk::Records(records) => records,
            Chunk::Lines(lines) => lines.records(),
        }
    }
}

/// What the reader hands a parser: a batch, or the error that stopped the reading.
type Batch = Result<Chunk, InputError>;
/// What a parser hands each stream: the batch's records, shared by every stream.
type Parsed = Result<Arc<Vec<InputRecord>>, InputError>;

/// Starts reading `sources` (already opened) with `options` on threads of their own, for
/// `streams` consumers (at least one) that each get every record; with a parser thread per
/// core. The streams must be read side by side, each on its own thread: the reading runs
/// at most a few batches ahead of the slowest stream (a stream dropped no longer counts).
pub fn read_in_background(
    sources: Vec<InputSource>,
    options: ReadOptions,
    streams: usize,
) -> Result<Vec<RecordStream>, InputError> {
    let parsers = std::thread::available_parallelism().map_or(1, usize::from);
    read_with_parsers(sources, options, streams, parsers.clamp(1, MOST_PARSERS))
}

/// [`read_in_background`] with `parsers` parser threads (at least one).
pub fn read_with_parsers(
    sources: Vec<InputSource>,
    options: ReadOptions,
    streams: usize,
    parsers: usize,
) -> Result<Vec<RecordStream>, InputError> {
    let mut to_parsers = Vec::new();
    let mut from_parsers: Vec<Vec<Receiver<Parsed>>> =
        (0..streams.max(1)).map(|_| Vec::new()).collect();
    for index in 0..parsers.max(1) {
        let (batches, from_reader) = sync_channel(AHEAD);
        let mut to_streams = Vec::new();
        for receivers in &mut from_parsers {
            let (to_stream, parsed) = sync_channel(AHEAD);
            to_streams.push(Some(to_stream));
            receivers.push(parsed);
        }
        spawn(&format!("refsync-parse-{index}"), move || {
            parse_batches(&from_reader, to_streams)
        })?;
        to_parsers.push(batches);
    }
    spawn("refsync-input", move || {
        let mut dealer = Dealer::new(to_parsers);
        let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            read_all(&sources, &options, &mut dealer)
        }));
        if read.is_err() {
            dealer.deal(Err(stopped()));
        }
    })?;
    Ok(from_parsers
        .into_iter()
        .map(|parsed| RecordStream { parsed, taken: 0 })
        .collect())
}

/// The error of a reading thread that panicked, as its consumers see it.
fn stopped() -> InputError {
    InputError::Io {
        name: "inputs".into(),
        source: std::io::Error::other("the input reader stopped unexpectedly"),
    }
}

/// Starts a thread named `name`, left to end by itself.
fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), InputError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(drop)
        .map_err(|source| InputError::Io {
            name: "inputs".into(),
            source,
        })
}

/// Every record of the inputs, in input order, as one consumer of
/// [`read_in_background`] gets them: batch by batch, from the parsers in turn.
pub struct RecordStream {
    /// Each parser's batches for this stream.
    parsed: Vec<Receiver<Parsed>>,
    /// The number of batches taken so far: the next comes from parser `taken % parsers`.
    taken: usize,
}

impl RecordStream {
    /// The next batch; `None` once the threads are done.
    fn next_batch(&mut self) -> Option<Parsed> {
        let parser = self.parsed.get(self.taken % self.parsed.len().max(1))?;
        let batch = parser.recv().ok()?;
        self.taken += 1;
        Some(batch)
    }

    /// Calls `visit` with every record, in order; stops at the first input that cannot be
    /// read, with its error.
    pub fn visit(mut self, mut visit: impl FnMut(&InputRecord)) -> Result<(), InputError> {
        while let Some(batch) = self.next_batch() {
            batch?.iter().for_each(&mut visit);
        }
        Ok(())
    }
}

/// A parser thread: turns each batch it is dealt into records and hands them to every
/// stream, in the order dealt; ends when the reader does or no stream listens. A panic
/// while parsing is handed on as an error, so no stream takes a short read for the end.
fn parse_batches(batches: &Receiver<Batch>, mut streams: Vec<Option<SyncSender<Parsed>>>) {
    for batch in batches {
        let parse = std::panic::AssertUnwindSafe(|| batch.map(Chunk::into_records));
        let parsed = match std::panic::catch_unwind(parse) {
            Ok(parsed) => parsed.map(Arc::new),
            Err(_) => Err(stopped()),
        };
        // The first stream gets the batch itself; the others a share of its records, or
        // its error in words.
        let copy = match &parsed {
            Ok(records) => Ok(Arc::clone(records)),
            Err(error) => Err(error.to_string()),
        };
        let mut first = Some(parsed);
        for stream in &mut streams {
            let Some(sender) = stream else { continue };
            let sent = first.take().unwrap_or_else(|| match &copy {
                Ok(records) => Ok(Arc::clone(records)),
                Err(said) => Err(InputError::Io {
                    name: "inputs".into(),
                    source: std::io::Error::other(said.clone()),
                }),
            });
            if sender.send(sent).is_err() {
                *stream = None;
            }
        }
        if streams.iter().all(Option::is_none) {
            return;
        }
    }
}

/// Deals batches to the parsers in turn.
struct Dealer {
    parsers: Vec<SyncSender<Batch>>,
    dealt: usize,
}

impl Dealer {
    fn new(parsers: Vec<SyncSender<Batch>>) -> Self {
        Dealer { parsers, dealt: 0 }
    }

    /// Hands `batch` to the next parser; false once nobody listens.
    fn deal(&mut self, batch: Batch) -> bool {
        let parser = &self.parsers[self.dealt % self.parsers.len()];
        self.dealt += 1;
        parser.send(batch).is_ok()
    }

    /// Hands over what was read before `error` (if anything), then the error.
    fn end_with(&mut self, records: Vec<InputRecord>, error: InputError) {
        if records.is_empty() || self.deal(Ok(Chunk::Records(records))) {
            self.deal(Err(error));
        }
    }
}

/// Reads every source in turn and deals it out; stops at the first error or when nobody
/// listens.
fn read_all(sources: &[InputSource], options: &ReadOptions, dealer: &mut Dealer) {
    for (index, source) in sources.iter().enumerate() {
        let index = index as u32;
        let dealt = match source.format {
            Format::Jsonl => deal_lines(source, index, dealer),
            Format::Csv => deal_records(source, index, options, dealer),
        };
        if !dealt {
            return;
        }
    }
}

/// Deals out the lines of a JSONL source; false when the reading stopped.
fn deal_lines(source: &InputSource, index: u32, dealer: &mut Dealer) -> bool {
    let mut lines = match split_json_lines(source, index) {
        Ok(lines) => lines,
        Err(error) => {
            dealer.deal(Err(error));
            return false;
        }
    };
    loop {
        match lines.next_batch(BATCH, BATCH_BYTES) {
            Ok(Some(batch)) => {
                if !dealer.deal(Ok(Chunk::Lines(batch))) {
                    return false;
                }
            }
            Ok(None) => return true,
            Err(error) => {
                dealer.deal(Err(super::open::io_error(&source.name, error)));
                return false;
            }
        }
    }
}

/// Deals out the records of any other source, read here; false when the reading stopped.
fn deal_records(
    source: &InputSource,
    index: u32,
    options: &ReadOptions,
    dealer: &mut Dealer,
) -> bool {
    let records = match read_records(source, index, options) {
        Ok(records) => records,
        Err(error) => {
            dealer.deal(Err(error));
            return false;
        }
    };
    let (mut batch, mut bytes) = (Vec::with_capacity(BATCH), 0);
    for record in records {
        match record {
            Ok(record) => {
                bytes += record.row.span.end.saturating_sub(record.row.span.start) as usize;
                batch.push(record);
            }
            Err(error) => {
                dealer.end_with(batch, error);
                return false;
            }
        }
        if batch.len() == BATCH || bytes >= BATCH_BYTES {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            bytes = 0;
            if !dealer.deal(Ok(Chunk::Records(full))) {
                return false;
            }
        }
    }
    batch.is_empty() || dealer.deal(Ok(Chunk::Records(batch)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::open_inputs;

    #[test]
    fn records_of_several_inputs_come_back_in_order_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut names = Vec::new();
        for (file, rows) in [("a.csv", BATCH + 3), ("b.csv", 2)] {
            let path = dir.path().join(file);
            let mut text = String::from("id,op,path,value\n");
            for row in 0..rows {
                text.push_str(&format!("id{row},replace,/details/notes,n\n"));
            }
            std::fs::write(&path, text).unwrap();
            names.push(path.display().to_string());
        }
        let options = ReadOptions::default();
        let sources = open_inputs(&names, &options).unwrap();
        let streams = read_with_parsers(sources, options, 1, 2).unwrap();
        let records = read_side_by_side(streams).remove(0).unwrap();
        let places: Vec<(u32, u64)> = records
            .iter()
            .map(|r| (r.row.at.input, r.row.at.line))
            .collect();
        let want: Vec<(u32, u64)> = (2..BATCH as u64 + 5)
            .map(|line| (0, line))
            .chain([(1, 2), (1, 3)])
            .collect();
        assert_eq!(places, want);
    }

    #[test]
    fn an_input_that_cannot_be_read_ends_the_records_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, "id,op,path,value\nx,replace,/name,n\n").unwrap();
        let options = ReadOptions::default();
        let mut sources = open_inputs(&[path.display().to_string()], &options).unwrap();
        sources.push(InputSource {
            path: dir.path().join("gone.csv"),
            name: "gone.csv".into(),
            found_returns: Default::default(),
            ..sources[0].clone()
        });
        let streams = read_with_parsers(sources, options, 1, 2).unwrap();
        let ended = read_side_by_side(streams).remove(0);
        let Err((records, InputError::Io { name, .. })) = ended else {
            panic!("{ended:?}")
        };
        assert_eq!(records.len(), 1);
        assert_eq!(name, "gone.csv");
    }

    /// A JSONL input of more lines than a batch, with blank and malformed lines, a CSV
    /// input, a CSV input of rows longer than a batch's bytes over a few; their paths.
    fn mixed_inputs(dir: &std::path::Path) -> Vec<String> {
        let mut jsonl = String::new();
        for row in 0..BATCH * 3 {
            match row % 50 {
                7 => jsonl.push('\n'),
                9 => jsonl.push_str("{not json\n"),
                _ => jsonl.push_str(&format!(
                    "{{\"id\":\"id{row}\",\"op\":\"replace\",\"path\":\"/name\",\"value\":\"n\"}}\n"
                )),
            }
        }
        let mut long = String::from("id,op,path,value\n");
        for row in 0..7 {
            let note = "n".repeat(BATCH_BYTES / 3);
            long.push_str(&format!("long{row},replace,/details/notes,{note}\n"));
        }
        let files = [
            ("d.csv", long),
            ("a.jsonl", jsonl),
            ("b.csv", "id,op,path,value\nx,replace,/name,n\n".to_string()),
            (
                "c.jsonl",
                "{\"id\":\"y\",\"op\":\"replace\",\"path\":\"/name\",\"value\":1}".to_string(),
            ),
        ];
        files
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                std::fs::write(&path, text).unwrap();
                path.display().to_string()
            })
            .collect()
    }

    /// The records of `sources` read one after another on this thread.
    fn read_in_turn(sources: &[InputSource], options: &ReadOptions) -> Vec<InputRecord> {
        let mut records = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            let read = read_records(source, index as u32, options).unwrap();
            records.extend(read.map(Result::unwrap));
        }
        records
    }

    /// A stream's records, or those it had before the error that ended it.
    type StreamRead = Result<Vec<InputRecord>, (Vec<InputRecord>, InputError)>;

    /// Every stream's records, each stream read on a thread of its own (as they must be:
    /// one left behind holds the others up).
    fn read_side_by_side(streams: Vec<RecordStream>) -> Vec<StreamRead> {
        let threads: Vec<_> = streams
            .into_iter()
            .map(|stream| {
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    match stream.visit(|record| got.push(record.clone())) {
                        Ok(()) => Ok(got),
                        Err(error) => Err((got, error)),
                    }
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    }

    #[test]
    fn every_stream_gets_every_record_in_order_whatever_the_number_of_parsers() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReadOptions::default();
        let sources = open_inputs(&mixed_inputs(dir.path()), &options).unwrap();
        let want = read_in_turn(&sources, &options);
        assert!(want.len() > BATCH * 2, "over two batches");
        for parsers in 1..=3 {
            let streams = read_with_parsers(sources.clone(), options.clone(), 2, parsers).unwrap();
            for got in read_side_by_side(streams) {
                assert!(got.unwrap() == want, "{parsers} parsers");
            }
        }
    }

    #[test]
    fn every_stream_ends_with_the_error_after_the_records_read_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let options = ReadOptions::default();
        let mut sources = open_inputs(&mixed_inputs(dir.path()), &options).unwrap();
        sources[1].path = dir.path().join("gone.csv");
        let before = read_in_turn(&sources[..1], &options).len();
        let streams = read_with_parsers(sources, options, 3, 2).unwrap();
        for (index, ended) in read_side_by_side(streams).into_iter().enumerate() {
            let Err((visited, InputError::Io { source, .. })) = ended else {
                panic!("stream {index}: {ended:?}")
            };
            assert_eq!(visited.len(), before, "stream {index}");
            assert!(source.to_string().contains("No such file"), "{source}");
        }
    }
}
