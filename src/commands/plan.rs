//! `refsync plan`: read, group and validate offline; write the planned documents and a report.

use super::output_paths::check_output_paths;
use super::outputs::{Finish, RunOutputs};
use super::prepare::prepare;
use crate::cli::PlanArgs;
use crate::plan::PlanEntry;
use crate::report::ReportRow;
use crate::send::SendStats;
use crate::ui::Terminal;
use anyhow::Context;
use std::io::Write;
use std::path::Path;

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
    // The documents and the report are written side by side: each is a pass over the
    // whole plan, and neither needs the other.
    let cpu_before = crate::ui::cpu::thread_cpu_ms();
    std::thread::scope(|scope| {
        let documents = scope.spawn(|| write_documents(args, &prepared.plan.entries));
        for (index, entry) in prepared.plan.entries.iter().enumerate() {
            let row = ReportRow::for_entry(entry, &prepared.names);
            outputs.record(index, row.outcome, row)?;
        }
        let cpu_ms = crate::ui::cpu::thread_cpu_ms().saturating_sub(cpu_before);
        tracing::debug!(cpu_ms, "wrote the report's rows");
        documents
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("writing the planned documents failed")))
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
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("cannot write --out {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    // Each document is written into one buffer and that written whole: serialising
    // straight into the boxed writer cost a dynamic call per JSON token (a profile of
    // `plan`).
    let mut line = Vec::new();
    for entry in entries {
        if let PlanEntry::Document(doc) = entry {
            line.clear();
            doc.write_document_form(&mut line);
            line.push(b'\n');
            out.write_all(&line)?;
        }
    }
    out.flush().context("cannot write the planned documents")?;
    let cpu_ms = crate::ui::cpu::thread_cpu_ms();
    tracing::debug!(cpu_ms, "wrote the planned documents");
    Ok(())
}
