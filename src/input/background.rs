//! Reading every input on a thread of its own, so that parsing the next records overlaps
//! planning the last ones: on a million rows the two take about as long as each other.
//!
//! Records come back in input order, in batches (one channel message per record cost more
//! than the parse it overlapped). The channel is bounded, so the reader runs at most a few
//! batches ahead and memory stays flat.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use super::records::read_records;
use super::{InputError, InputRecord, InputSource, ReadOptions};

/// Records per batch handed from the reader thread to the planner.
const BATCH: usize = 1024;
/// Batches the reader may run ahead of the planner.
const AHEAD: usize = 4;

/// What the reader thread hands over: a batch of records, or the error that stopped it.
type Batch = Result<Vec<InputRecord>, InputError>;

/// The records of every input, in command-line order then line order, read on a thread of
/// their own. Yields an `Err` only for an input that could not be read, and nothing after.
pub struct BackgroundRecords {
    batches: Receiver<Batch>,
    current: std::vec::IntoIter<InputRecord>,
    reader: Option<JoinHandle<()>>,
    failed: bool,
}

impl BackgroundRecords {
    /// Starts reading `sources` (already opened) with `options`.
    pub fn start(sources: Vec<InputSource>, options: ReadOptions) -> Result<Self, InputError> {
        let (sender, batches) = sync_channel(AHEAD);
        let reader = std::thread::Builder::new()
            .name("refsync-input".into())
            .spawn(move || read_all(&sources, &options, &sender))
            .map_err(|source| InputError::Io {
                name: "inputs".into(),
                source,
            })?;
        Ok(BackgroundRecords {
            batches,
            current: Vec::new().into_iter(),
            reader: Some(reader),
            failed: false,
        })
    }

    /// The reader's end: nothing when it finished, an error when it died without saying why.
    fn reader_ended(&mut self) -> Option<InputError> {
        let panicked = self.reader.take().map(JoinHandle::join)?.is_err();
        panicked.then(|| InputError::Io {
            name: "inputs".into(),
            source: std::io::Error::other("the input reader stopped unexpectedly"),
        })
    }
}

impl Iterator for BackgroundRecords {
    type Item = Result<InputRecord, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.current.next() {
                return Some(Ok(record));
            }
            if self.failed {
                return None;
            }
            match self.batches.recv() {
                Ok(Ok(batch)) => self.current = batch.into_iter(),
                Ok(Err(error)) => {
                    self.failed = true;
                    return Some(Err(error));
                }
                Err(_) => {
                    self.failed = true;
                    return self.reader_ended().map(Err);
                }
            }
        }
    }
}

/// Reads every source into batches; stops at the first error or when nobody listens.
fn read_all(sources: &[InputSource], options: &ReadOptions, sender: &SyncSender<Batch>) {
    let mut batch = Vec::with_capacity(BATCH);
    for (index, source) in sources.iter().enumerate() {
        let records = match read_records(source, index as u32, options) {
            Ok(records) => records,
            Err(error) => return end_with(sender, batch, error),
        };
        for record in records {
            match record {
                Ok(record) => batch.push(record),
                Err(error) => return end_with(sender, batch, error),
            }
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if sender.send(Ok(full)).is_err() {
                    return;
                }
            }
        }
    }
    let _ = sender.send(Ok(batch));
}

/// Hands over the records read so far, then the error that stops the reading.
fn end_with(sender: &SyncSender<Batch>, batch: Vec<InputRecord>, error: InputError) {
    let _ = sender
        .send(Ok(batch))
        .and_then(|()| sender.send(Err(error)));
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
        let records: Vec<_> = BackgroundRecords::start(sources, options)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
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
            ..sources[0].clone()
        });
        let results: Vec<_> = BackgroundRecords::start(sources, options)
            .unwrap()
            .collect();
        assert_eq!(results.len(), 2);
        assert!(results[0].is_ok());
        assert!(matches!(&results[1], Err(InputError::Io { name, .. }) if name == "gone.csv"));
    }
}
