//! `refsync plan`: read, group and validate offline; write the planned documents and a report.

use super::output_paths::check_output_paths;
use super::outputs::{Finish, RowKept, RunOutputs};
use super::prepare::prepare;
use crate::cli::PlanArgs;
use crate::outcome::Outcome;
use crate::plan::PlanEntry;
use crate::plan::entries_ahead::{Needs, try_for_each_ahead};
use crate::report::{LineNames, ReportLines, ReportRow};
use crate::send::SendStats;
use crate::ui::Terminal;
use anyhow::Context;
use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Runs `plan`; returns the exit code.
pub fn run(args: &PlanArgs, terminal: &Terminal) -> anyhow::Result<i32> {
    let prepared = prepare(&args.common)?;
    // Without --out the documents go to stdout, which no other output may share.
    let out = (
        "--out",
        args.out.as_deref().unwrap_or(Path::new("/dev/stdout")),
    );
    check_output_paths(&args.common, &prepared, &[out], &[])?;
    let mut outputs = RunOutputs::open(&args.common, prepared.plan.entries.len(), false, terminal)?;
    let entries = &prepared.plan.entries;
    // The documents and the report are written side by side: each is a pass over the
    // whole plan, and neither needs the other. The report's rows cost more, so the thread
    // writing the documents, once done, makes rows from the back of the plan while this
    // one makes them from the front, until they meet.
    let unclaimed = Unclaimed::new(entries.len());
    let lines = outputs.report_lines();
    let cpu_before = crate::ui::cpu::thread_cpu_ms();
    tracing::debug!(cpu_ms = cpu_before, "writing the documents and the report");
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            write_documents(args, entries)?;
            Ok(rows_from_the_back(
                entries,
                &prepared.names,
                &unclaimed,
                lines,
            ))
        });
        let mut row = ReportRow::new(Outcome::Planned);
        while let Some(claim) = unclaimed.front() {
            try_for_each_ahead(entries, claim, Needs::Rows, |index, entry| {
                row.refill_for_entry(entry, &prepared.names);
                outputs.record_borrowed(index, &row)
            })?;
        }
        let made: RowsMade = helper
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("writing the planned documents failed")))?;
        made.record(&mut outputs)?;
        let cpu_ms = crate::ui::cpu::thread_cpu_ms().saturating_sub(cpu_before);
        tracing::debug!(cpu_ms, "wrote the report's rows");
        anyhow::Ok(())
    })?;
    let code = outputs.finish(Finish {
        command: "plan",
        common: &args.common,
        prepared: &prepared,
        stats: &SendStats::default(),
        correlation_id: None,
        stopped: None,
        stopped_exit_code: 0,
    });
    // The process ends right after: a plan of a million rows is a million small
    // allocations, which took tens of milliseconds to free one by one (a profile of
    // `plan`), and the system takes the memory back at once. The rest is dropped as
    // usual: the sources own the spool files of stdin and pipes, deleted on drop.
    std::mem::forget(prepared.plan);
    code
}

/// Writes every valid document in the document form, to `--out` or stdout.
fn write_documents(args: &PlanArgs, entries: &[PlanEntry]) -> anyhow::Result<()> {
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::with_capacity(
            crate::report::OUTPUT_BUFFER,
            crate::report::create_output(path)
                .with_context(|| format!("cannot write --out {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::with_capacity(
            crate::report::OUTPUT_BUFFER,
            std::io::stdout().lock(),
        )),
    };
    // Each document is written into one buffer and that written whole: serialising
    // straight into the boxed writer cost a dynamic call per JSON token (a profile of
    // `plan`).
    let mut line = Vec::new();
    let written = try_for_each_ahead(entries, 0..entries.len(), Needs::Operations, |_, entry| {
        let PlanEntry::Document(doc) = entry else {
            return Ok(());
        };
        line.clear();
        doc.write_document_form(&mut line);
        line.push(b'\n');
        out.write_all(&line)
    });
    // Named, so that `plan | head` says which output stopped (stdout, its reader gone).
    let target = args
        .out
        .as_ref()
        .map_or_else(|| "stdout".into(), |path| path.display().to_string());
    written
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write the planned documents to {target}"))?;
    let cpu_ms = crate::ui::cpu::thread_cpu_ms();
    tracing::debug!(cpu_ms, "wrote the planned documents");
    Ok(())
}

/// Entries per claim of [`Unclaimed`]: a hundred or so claims for a plan of 100,000.
const CLAIM: usize = 1024;

/// The plan entries whose report rows no thread has taken yet: claimed a chunk at a time
/// from the front by the thread writing the report, from the back by the one helping it.
struct Unclaimed(Mutex<Range<usize>>);

impl Unclaimed {
    fn new(entries: usize) -> Self {
        Unclaimed(Mutex::new(0..entries))
    }

    fn left(&self) -> MutexGuard<'_, Range<usize>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next chunk from the front; `None` once every entry is taken.
    fn front(&self) -> Option<Range<usize>> {
        let mut left = self.left();
        let end = left.end.min(left.start + CLAIM);
        let claim = left.start..end;
        left.start = end;
        (!claim.is_empty()).then_some(claim)
    }

    /// The next chunk from the back; `None` once every entry is taken.
    fn back(&self) -> Option<Range<usize>> {
        let mut left = self.left();
        let start = left.start.max(left.end.saturating_sub(CLAIM));
        let claim = start..left.end;
        left.end = start;
        (!claim.is_empty()).then_some(claim)
    }
}

/// Report rows made on the helping thread, a claim at a time from the back of the plan
/// forward.
#[derive(Default)]
struct RowsMade {
    claims: Vec<ClaimMade>,
}

/// One claim's rows in entry order (what the end of the run needs of each, and where its
/// line lies in `text`), and their lines.
///
/// Each claim has a text of its own, made with room for about as much as the claim
/// before used: one text for every claim grew by doubling to megabytes, each step a fresh
/// block to fault in and the text so far copied into it.
struct ClaimMade {
    rows: Vec<(usize, RowKept, Range<usize>)>,
    text: Vec<u8>,
}

impl RowsMade {
    /// Records every row, in entry order.
    fn record(self, outputs: &mut RunOutputs) -> anyhow::Result<()> {
        for claim in self.claims.into_iter().rev() {
            for (index, kept, line) in claim.rows {
                let line = claim.text.get(line).unwrap_or_default();
                outputs.record_line(index, kept, line)?;
            }
        }
        Ok(())
    }

    /// Room for the next claim's text: what the last one used, and an eighth more.
    fn room_for_next(&self) -> usize {
        self.claims
            .last()
            .map_or(0, |claim| claim.text.len() + claim.text.len() / 8)
    }
}

/// Makes the rows (and their lines) of the entries it can claim from the back.
fn rows_from_the_back(
    entries: &[PlanEntry],
    names: &LineNames,
    unclaimed: &Unclaimed,
    mut lines: ReportLines,
) -> RowsMade {
    let mut made = RowsMade::default();
    let mut row = ReportRow::new(Outcome::Planned);
    while let Some(claim) = unclaimed.back() {
        let mut rows = Vec::with_capacity(claim.len());
        let mut text = Vec::with_capacity(made.room_for_next());
        let Ok(()) = try_for_each_ahead(entries, claim, Needs::Rows, |index, entry| {
            row.refill_for_entry(entry, names);
            let start = text.len();
            lines.encode(&row, &mut text);
            rows.push((index, RowKept::of(&row), start..text.len()));
            Ok::<_, std::convert::Infallible>(())
        });
        made.claims.push(ClaimMade { rows, text });
    }
    made
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes every entry of `unclaimed`, `pattern` saying for each claim whether it is from
    /// the front; the claims from each end, as taken.
    fn take_all(unclaimed: &Unclaimed, pattern: impl Fn(usize) -> bool) -> [Vec<Range<usize>>; 2] {
        let mut taken = [Vec::new(), Vec::new()];
        for turn in 0.. {
            let from_front = pattern(turn);
            let claim = match from_front {
                true => unclaimed.front(),
                false => unclaimed.back(),
            };
            match claim {
                Some(claim) => taken[usize::from(!from_front)].push(claim),
                None if unclaimed.front().is_none() && unclaimed.back().is_none() => break,
                None => {}
            }
        }
        taken
    }

    #[test]
    fn every_entry_is_claimed_once_and_the_front_ends_where_the_back_begins() {
        for entries in [0, 1, CLAIM - 1, CLAIM, CLAIM + 1, 5 * CLAIM + 7] {
            for pattern in [
                |_| true,
                |_| false,
                |turn| turn % 2 == 0,
                |turn| turn % 3 == 0,
            ] {
                let unclaimed = Unclaimed::new(entries);
                let [front, back] = take_all(&unclaimed, pattern);
                let front_end = front.last().map_or(0, |claim| claim.end);
                let back_start = back.last().map_or(entries, |claim| claim.start);
                assert_eq!(front_end, back_start, "{entries}");
                let mut all: Vec<usize> = front.into_iter().chain(back).flatten().collect();
                all.sort_unstable();
                assert_eq!(all, (0..entries).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_claims_text_has_room_for_what_the_last_claim_used_and_an_eighth() {
        let mut made = RowsMade::default();
        assert_eq!(made.room_for_next(), 0);
        made.claims.push(ClaimMade {
            rows: Vec::new(),
            text: vec![b'x'; 80_000],
        });
        assert_eq!(made.room_for_next(), 90_000);
    }

    #[test]
    fn claims_from_the_back_come_in_entry_order_once_reversed() {
        let unclaimed = Unclaimed::new(3 * CLAIM + 5);
        let [_, back] = take_all(&unclaimed, |_| false);
        let forward: Vec<usize> = back.into_iter().rev().flatten().collect();
        assert_eq!(forward, (0..3 * CLAIM + 5).collect::<Vec<_>>());
    }
}
