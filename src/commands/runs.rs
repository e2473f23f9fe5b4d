//! `refsync runs` and `refsync runs show RUN`: the history a ledger keeps, read without
//! the run lock, so it works while a nightly run is writing.

use crate::cli::{RunsArgs, RunsCommand};
use crate::ledger::{DocumentRecord, Ledger, RunDetail, RunId, RunStatus, RunSummary};
use crate::outcome::Outcome;
use crate::ui::Terminal;
use std::fmt::Write as _;

/// Runs `runs`; returns the exit code (2 when no ledger is named: a usage error).
pub fn run(args: &RunsArgs, terminal: &Terminal) -> anyhow::Result<i32> {
    let Some(path) = &args.ledger else {
        terminal.error("name the ledger: --ledger FILE (or REFSYNC_LEDGER)", 2);
        return Ok(2);
    };
    let ledger = Ledger::open_read_only(path)?;
    let text = match &args.command {
        None => render_list(&ledger.runs()?, args.json)?,
        Some(RunsCommand::Show { run }) => {
            render_detail(&ledger.run_detail(RunId(*run))?, args.json)?
        }
    };
    super::print_to_stdout(text.as_bytes())
}

fn render_list(runs: &[RunSummary], json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(runs)? + "\n");
    }
    Ok(list_text(runs))
}

fn render_detail(detail: &RunDetail, json: bool) -> anyhow::Result<String> {
    if json {
        return Ok(serde_json::to_string_pretty(detail)? + "\n");
    }
    Ok(detail_text(detail))
}

/// One line per run, oldest first, under a header.
pub fn list_text(runs: &[RunSummary]) -> String {
    if runs.is_empty() {
        return "no runs recorded in this ledger yet\n".into();
    }
    let mut text = format!(
        "{:>4}  {:<24}  {:<10}  {:>4}  {:>9}  {:<40}  INPUTS\n",
        "RUN", "STARTED", "STATUS", "EXIT", "DURATION", "OUTCOMES"
    );
    for run in runs {
        let _ = writeln!(
            text,
            "{:>4}  {:<24}  {:<10}  {:>4}  {:>9}  {:<40}  {}",
            run.id,
            run.started_at,
            status_text(run.status),
            run.exit_code.map_or("-".into(), |c| c.to_string()),
            duration_text(run.duration_ms),
            counts_text(run),
            run.inputs.join(" "),
        );
    }
    text
}

/// The run's summary, then its documents not `updated`.
pub fn detail_text(detail: &RunDetail) -> String {
    let run = &detail.run;
    let mut text = format!("run {}: {}", run.id, status_text(run.status));
    if let Some(code) = run.exit_code {
        let _ = write!(text, ", exit {code}");
    }
    if run.duration_ms.is_some() {
        let _ = write!(text, ", {}", duration_text(run.duration_ms));
    }
    text.push('\n');
    let fields = [
        ("started", run.started_at.clone()),
        ("ended", run.ended_at.clone().unwrap_or_else(|| "-".into())),
        ("inputs", run.inputs.join(" ")),
        ("options", detail.options.clone()),
        ("run key", run.key.clone()),
        (
            "correlation",
            detail.correlation_id.clone().unwrap_or_else(|| "-".into()),
        ),
        ("resumed", resumed_text(run.resumes)),
        (
            "outcomes",
            format!("{} ({} planned)", counts_text(run), run.planned),
        ),
    ];
    for (name, value) in fields {
        let _ = writeln!(text, "  {name:<12} {value}");
    }
    text + &not_finished_text(run) + &documents_text(&detail.not_updated, run.not_finished)
}

/// How often the run was resumed and, once it was, what its figures cover: the outcomes
/// are the whole run's, the duration runs from the first start to the last end.
fn resumed_text(resumes: u32) -> String {
    match resumes {
        0 => "0 time(s)".into(),
        n => format!(
            "{n} time(s): outcomes cover the whole run; the duration includes the time \
             between attempts; the summary's elapsed time, requests, retries and rate are \
             the last attempt's"
        ),
    }
}

/// The documents the ledger holds no record of, and what to do about them.
fn not_finished_text(run: &RunSummary) -> String {
    match run.not_finished {
        0 => String::new(),
        n => format!(
            "\n{n} document(s) not finished: never sent, or refused before anything was \
             applied; the same sync with --resume sends them\n"
        ),
    }
}

/// The documents not updated, in plan order; where there are none, says so only if every
/// planned document was recorded.
fn documents_text(documents: &[DocumentRecord], not_finished: usize) -> String {
    if documents.is_empty() && not_finished > 0 {
        return "\nevery document recorded so far was updated\n".into();
    }
    if documents.is_empty() {
        return "\nevery document was updated\n".into();
    }
    let mut text = format!("\ndocuments not updated ({}):\n", documents.len());
    let _ = writeln!(
        text,
        "{:>6}  {:<38}  {:<10}  {:<20}  DETAIL",
        "ENTRY", "ID", "OUTCOME", "ERROR"
    );
    for doc in documents {
        let line = format!(
            "{:>6}  {:<38}  {:<10}  {:<20}  {}",
            doc.entry,
            doc.referral_id.as_deref().unwrap_or("-"),
            doc.outcome.map_or("in flight", Outcome::as_str),
            doc.cell("error_code").unwrap_or("-"),
            document_detail(doc),
        );
        let _ = writeln!(text, "{}", line.trim_end());
    }
    text
}

/// The error message and note of a final document; the request ID of one in flight.
fn document_detail(doc: &DocumentRecord) -> String {
    if doc.outcome.is_none() {
        let request = doc.request_id.as_deref().unwrap_or("-");
        // Recorded before its PATCH waited its turn at the rate limit: it may not have left.
        return format!(
            "in flight as MS-RequestId {request} (perhaps not yet sent); outcome unknown until \
             --resume"
        );
    }
    let message = doc.cell("error_message").unwrap_or_default();
    match doc.cell("note") {
        Some(note) if !note.is_empty() => format!("{message} [{note}]"),
        _ => message.to_owned(),
    }
}

fn status_text(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Finished => "finished",
        RunStatus::Stopped => "stopped",
        RunStatus::Unfinished => "unfinished",
    }
}

/// `updated 50, failed 2, in flight 1, not finished 7`, in the order summaries list
/// outcomes.
fn counts_text(run: &RunSummary) -> String {
    let mut parts: Vec<String> = Outcome::ALL
        .iter()
        .filter_map(|o| run.counts.get(o.as_str()).map(|n| format!("{o} {n}")))
        .collect();
    if run.in_flight > 0 {
        parts.push(format!("in flight {}", run.in_flight));
    }
    if run.not_finished > 0 {
        parts.push(format!("not finished {}", run.not_finished));
    }
    if parts.is_empty() {
        return "-".into();
    }
    parts.join(", ")
}

fn duration_text(duration_ms: Option<i64>) -> String {
    match duration_ms {
        None => "-".into(),
        Some(ms) if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        Some(ms) => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn stopped_run(updated: usize, planned: usize, resumes: u32) -> RunSummary {
        RunSummary {
            id: 3,
            key: "k".into(),
            started_at: "2026-05-01T02:00:00.000Z".into(),
            ended_at: Some("2026-05-01T02:01:00.000Z".into()),
            inputs: vec!["u.csv".into()],
            planned,
            counts: BTreeMap::from([("updated".to_string(), updated)]),
            in_flight: 0,
            not_finished: planned - updated,
            exit_code: Some(143),
            duration_ms: Some(60_000),
            resumes,
            status: RunStatus::Stopped,
        }
    }

    fn detail(run: RunSummary) -> RunDetail {
        RunDetail {
            run,
            options: String::new(),
            correlation_id: None,
            summary: None,
            not_updated: Vec::new(),
        }
    }

    #[test]
    fn a_stopped_run_shows_its_documents_not_finished_and_never_claims_all_updated() {
        let run = stopped_run(1018, 20000, 0);
        let list = list_text(std::slice::from_ref(&run));
        assert!(list.contains("updated 1018, not finished 18982"), "{list}");
        let text = detail_text(&detail(run));
        assert!(
            text.contains("outcomes     updated 1018, not finished 18982 (20000 planned)"),
            "{text}"
        );
        assert!(text.contains("18982 document(s) not finished"), "{text}");
        assert!(text.contains("--resume"), "{text}");
        assert!(!text.contains("every document was updated"), "{text}");
    }

    #[test]
    fn a_run_with_every_document_updated_says_so() {
        let text = detail_text(&detail(stopped_run(5, 5, 0)));
        assert!(text.contains("every document was updated"), "{text}");
        assert!(!text.contains("not finished"), "{text}");
    }

    #[test]
    fn a_resumed_run_says_which_figures_cover_what() {
        let text = detail_text(&detail(stopped_run(5, 5, 2)));
        assert!(
            text.contains("resumed      2 time(s): outcomes cover the whole run"),
            "{text}"
        );
        assert!(text.contains("the last attempt's"), "{text}");
        let text = detail_text(&detail(stopped_run(5, 5, 0)));
        assert!(text.contains("resumed      0 time(s)\n"), "{text}");
    }
}
