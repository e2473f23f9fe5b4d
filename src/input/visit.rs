//! Reading every input on the calling thread and handing each record to a visitor, plain
//! CSV rows borrowed from the reader's buffer: for a planner that reads its inputs itself
//! (see `plan::parallel`), which then copies only the cells of the rows it hands to other
//! threads.

use super::open::io_error;
use super::records::{Records, read_records_buffered};
use super::{InputError, InputRecord, InputSource, PlainRow, ReadOptions};

/// The reader's buffer: large enough that reading a file costs few system calls and few
/// records straddle two buffers (those take the general path, which copies them). Only
/// here: the records read on the reader thread of `read_in_background` are copied out of
/// the buffer anyway.
const READ_BUFFER: usize = 128 * 1024;

/// A record handed to a visitor of [`visit_records`].
#[derive(Debug)]
pub enum Visited<'a> {
    /// A plain CSV row (one line, no quotes, well formed), borrowed.
    Plain(PlainRow<'a>),
    /// Any other record: a JSONL one, a mapped one, or a CSV one the general path read.
    Record(InputRecord),
}

/// Reads `sources` in order and hands each of their records to `visit`, in line order.
///
/// With `warnings` false, a CSV input that does not look like updates is not warned of:
/// for every reader of the same inputs but one. Fails only for an input that cannot be
/// read; the records before the failure have been visited.
pub fn visit_records(
    sources: &[InputSource],
    options: &ReadOptions,
    warnings: bool,
    mut visit: impl FnMut(Visited<'_>),
) -> Result<(), InputError> {
    for (index, source) in sources.iter().enumerate() {
        let mut csv = match read_records_buffered(source, index as u32, options, READ_BUFFER)? {
            Records::Csv(csv) if warnings => csv,
            Records::Csv(csv) => csv.without_warnings(),
            others => {
                for record in others {
                    visit(Visited::Record(record?));
                }
                continue;
            }
        };
        loop {
            csv.take_plain_rows(|row| {
                visit(Visited::Plain(row));
                true
            })
            .map_err(|error| io_error(&source.name, error))?;
            match csv.next() {
                Some(record) => visit(Visited::Record(record?)),
                None => break,
            }
        }
    }
    Ok(())
}
