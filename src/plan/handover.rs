//! Rows handed from the thread that reads the inputs to the other planning threads, in
//! batches (see `plan::parallel`).
//!
//! A plain row's line is copied whole into the batch's one text, with where its cells
//! lie (its cells one by one when one holds doubled quotes; a copy costs far less than
//! the split that found them); a record the general path read is moved in whole. Batches
//! come back to the reader once planned, so their memory is filled again rather than
//! fresh memory faulted in for every batch. Every channel is bounded: the reader runs at
//! most [`AHEAD`] batches ahead of each planning thread, and memory stays flat.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use crate::input::{CellsBatch, CellsRef, InputRecord, PlainRow, RowRef};

/// Rows per batch.
const BATCH_ROWS: usize = 2048;
/// Bytes of cells after which a batch goes with fewer rows: a record may be as long as
/// [`crate::input::MAX_RECORD_BYTES`].
const BATCH_BYTES: usize = 256 * 1024;
/// Batches the reader may run ahead of each planning thread.
const AHEAD: usize = 8;

/// One row of a batch, as it was handed over.
#[derive(Debug)]
enum Handed {
    /// A plain CSV row; its cells are the batch's next ones.
    Cells(RowRef),
    /// A record read whole (a CSV record the general path read, or any other input's).
    Record(Box<InputRecord>),
}

/// One planning thread's rows, in input order.
#[derive(Debug, Default)]
pub struct Batch {
    cells: CellsBatch,
    rows: Vec<Handed>,
}

/// A row of a [`Batch`], borrowed, as [`Batch::rows`] gives it.
#[derive(Debug)]
pub enum HandedRow<'a> {
    /// A plain CSV row and its cells.
    Cells(RowRef, CellsRef<'a>),
    /// A record read whole.
    Record(&'a InputRecord),
}

impl Batch {
    /// The rows, in the order they were handed over.
    pub fn rows(&self) -> impl Iterator<Item = HandedRow<'_>> {
        let mut cells = 0;
        self.rows.iter().map(move |handed| match handed {
            Handed::Cells(row) => {
                cells += 1;
                HandedRow::Cells(*row, self.cells.get(cells - 1))
            }
            Handed::Record(record) => HandedRow::Record(record),
        })
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch has no row.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn is_full(&self) -> bool {
        self.rows.len() >= BATCH_ROWS || self.cells.text_len() >= BATCH_BYTES
    }

    fn clear(&mut self) {
        self.cells.clear();
        self.rows.clear();
    }
}

/// The reader's end: a batch being filled for each planning thread it hands rows to.
#[derive(Debug)]
pub struct Handover {
    takers: Vec<TakerEnd>,
}

/// The reader's side of one planning thread: the batch being filled, where full ones go,
/// and where planned ones come back.
#[derive(Debug)]
struct TakerEnd {
    filling: Batch,
    full: SyncSender<Batch>,
    planned: Receiver<Batch>,
}

/// A planning thread's end: the batches handed to it, and where it gives them back.
#[derive(Debug)]
pub struct Taker {
    full: Receiver<Batch>,
    planned: SyncSender<Batch>,
}

/// A handover to `takers` planning threads, and each one's end.
pub fn handover(takers: usize) -> (Handover, Vec<Taker>) {
    let mut ends = Vec::with_capacity(takers);
    let mut taker_ends = Vec::with_capacity(takers);
    for _ in 0..takers {
        let (to_taker, full) = sync_channel(AHEAD);
        // Room for every batch in flight, so giving one back never waits.
        let (give_back, planned) = sync_channel(AHEAD + 2);
        ends.push(TakerEnd {
            filling: Batch::default(),
            full: to_taker,
            planned,
        });
        taker_ends.push(Taker {
            full,
            planned: give_back,
        });
    }
    (Handover { takers: ends }, taker_ends)
}

impl Handover {
    /// Hands a plain row's cells (copied) to planning thread `taker`: rows as tests
    /// write them, where [`Handover::plain`] needs a scan's line.
    #[cfg(test)]
    pub fn cells(&mut self, taker: usize, row: RowRef, cells: CellsRef<'_>) {
        if let Some(end) = self.takers.get_mut(taker) {
            end.filling.cells.push(cells);
            end.filling.rows.push(Handed::Cells(row));
            end.send_if_full();
        }
    }

    /// Hands a plain row read from the reader's buffer to planning thread `taker`: its
    /// line copied whole when it can be, its cells otherwise.
    pub fn plain(&mut self, taker: usize, plain: PlainRow<'_>) {
        if let Some(end) = self.takers.get_mut(taker) {
            end.filling.rows.push(Handed::Cells(plain.row));
            end.filling.cells.push_row(plain);
            end.send_if_full();
        }
    }

    /// Hands a record read whole to planning thread `taker`.
    pub fn record(&mut self, taker: usize, record: InputRecord) {
        if let Some(end) = self.takers.get_mut(taker) {
            end.filling.rows.push(Handed::Record(Box::new(record)));
            end.send_if_full();
        }
    }

    /// Sends every batch still being filled; the planning threads end once they have
    /// planned it.
    pub fn finish(self) {
        for mut end in self.takers {
            end.send();
        }
    }
}

impl TakerEnd {
    fn send_if_full(&mut self) {
        if self.filling.is_full() {
            self.send();
        }
    }

    /// Sends the batch being filled and starts the next in one given back, if any.
    fn send(&mut self) {
        if self.filling.is_empty() {
            return;
        }
        let next = match self.planned.try_recv() {
            Ok(mut planned) => {
                planned.clear();
                planned
            }
            Err(_) => Batch::default(),
        };
        let full = std::mem::replace(&mut self.filling, next);
        // A planning thread that is gone has failed, which its own result says.
        let _ = self.full.send(full);
    }
}

impl Taker {
    /// Hands every batch, in order, to `plan`, and gives it back; returns once the reader
    /// has finished (or is gone).
    pub fn take(self, mut plan: impl FnMut(&Batch)) {
        for batch in &self.full {
            plan(&batch);
            // The reader may be done and gone, or have spares enough: the batch is dropped.
            let _ = self.planned.try_send(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{LineRef, RecordContent, Span};

    fn row(line: u64) -> RowRef {
        RowRef {
            at: LineRef { input: 0, line },
            span: Span {
                start: line * 10,
                end: line * 10 + 10,
            },
        }
    }

    fn malformed(line: u64) -> InputRecord {
        InputRecord {
            row: row(line),
            content: RecordContent::Malformed {
                id: Some(format!("id-{line}")),
                code: crate::input::MalformedKind::Record,
                field: None,
                message: "broken".into(),
            },
        }
    }

    /// What one taker got, in order: each row's line and ID.
    fn taken(taker: Taker) -> Vec<(u64, String)> {
        let mut got = Vec::new();
        taker.take(|batch| {
            for handed in batch.rows() {
                got.push(match handed {
                    HandedRow::Cells(row, cells) => (row.at.line, cells.id().to_string()),
                    HandedRow::Record(record) => {
                        (record.row.at.line, record.content.referral_id().to_string())
                    }
                });
            }
        });
        got
    }

    #[test]
    fn every_row_reaches_its_taker_in_order_across_many_batches() {
        let (mut handover, takers) = handover(2);
        let mut want = [Vec::new(), Vec::new()];
        std::thread::scope(|scope| {
            let threads: Vec<_> = takers
                .into_iter()
                .map(|taker| scope.spawn(move || taken(taker)))
                .collect();
            for line in 0..10 * BATCH_ROWS as u64 {
                let taker = (line % 3 == 0) as usize;
                let id = format!("id-{line}");
                if line % 97 == 0 {
                    handover.record(taker, malformed(line));
                } else {
                    let cells = CellsRef([&id, "replace", "/name", "x", ""]);
                    handover.cells(taker, row(line), cells);
                }
                want[taker].push((line, id));
            }
            handover.finish();
            for (thread, want) in threads.into_iter().zip(&want) {
                assert_eq!(&thread.join().unwrap(), want);
            }
        });
    }

    #[test]
    fn a_batch_goes_early_once_its_cells_are_long() {
        let (mut handover, mut takers) = handover(1);
        let long = "v".repeat(BATCH_BYTES);
        handover.cells(0, row(1), CellsRef(["a", "replace", "/name", &long, ""]));
        handover.cells(0, row(2), CellsRef(["b", "replace", "/name", "x", ""]));
        let taker = takers.remove(0);
        let first = taker.full.try_recv().unwrap();
        assert_eq!(first.len(), 1);
        handover.finish();
        assert_eq!(taker.full.try_recv().unwrap().len(), 1);
    }

    #[test]
    fn planned_batches_are_filled_again() {
        let (mut handover, mut takers) = handover(1);
        let taker = takers.remove(0);
        let fill = |handover: &mut Handover, rows: usize| {
            for line in 0..rows as u64 {
                handover.cells(0, row(line), CellsRef(["a", "replace", "/name", "x", ""]));
            }
        };
        fill(&mut handover, BATCH_ROWS);
        let first = taker.full.try_recv().unwrap();
        let capacity = first.rows.capacity();
        taker.planned.try_send(first).unwrap();
        // The second batch goes, and the first, given back, is filled next.
        fill(&mut handover, BATCH_ROWS + 1);
        handover.finish();
        assert_eq!(taker.full.try_recv().unwrap().len(), BATCH_ROWS);
        let again = taker.full.try_recv().unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again.rows.capacity(), capacity);
    }
}
