//! The run summary: counts per outcome, timing and request figures, and the exit code they
//! give; printed to stderr and written by `--summary-json`.

use crate::outcome::Outcome;
use crate::send::SendStats;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Exit code: every document `updated`, `unchanged` or `planned`.
pub const EXIT_OK: i32 = 0;
/// Exit code: the run could not start or was aborted.
pub const EXIT_ABORTED: i32 = 1;
/// Exit code: some documents are `conflict`, none `failed` or `invalid`.
pub const EXIT_CONFLICTS: i32 = 3;
/// Exit code: some documents or ID-less rows are `failed` or `invalid`.
pub const EXIT_FAILURES: i32 = 4;
/// Exit code: stopped early by `--max-failures`.
pub const EXIT_MAX_FAILURES: i32 = 5;
/// Exit code: stopped by SIGINT after flushing the report (128 + 2, as shells expect).
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code: stopped by SIGTERM after flushing the report (128 + 15).
pub const EXIT_TERMINATED: i32 = 143;

/// Counts of report rows per outcome.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    counts: BTreeMap<Outcome, usize>,
}

impl OutcomeCounts {
    /// Counts one more row with `outcome`.
    pub fn add(&mut self, outcome: Outcome) {
        *self.counts.entry(outcome).or_default() += 1;
    }

    /// Rows with `outcome`.
    pub fn get(&self, outcome: Outcome) -> usize {
        self.counts.get(&outcome).copied().unwrap_or(0)
    }

    /// All rows.
    pub fn total(&self) -> usize {
        self.counts.values().sum()
    }

    /// The exit code these outcomes give (SPEC.md "Exit codes").
    pub fn exit_code(&self) -> i32 {
        if self.get(Outcome::Failed) + self.get(Outcome::Invalid) > 0 {
            EXIT_FAILURES
        } else if self.get(Outcome::Conflict) > 0 {
            EXIT_CONFLICTS
        } else {
            EXIT_OK
        }
    }
}

/// What a run did, for people (stderr) and machines (`--summary-json`).
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// `plan`, `sync` or `dry-run`.
    pub command: &'static str,
    /// Report rows (documents plus ID-less invalid rows).
    pub documents: usize,
    /// Rows per outcome, every outcome listed.
    pub outcomes: BTreeMap<&'static str, usize>,
    /// Input rows read.
    pub input_rows: usize,
    /// Wall time of the run.
    pub elapsed_ms: u64,
    /// Requests sent (GET and PATCH, retries included).
    pub requests: u64,
    /// Requests beyond each one's first attempt.
    pub retries: u64,
    /// 429 answers received.
    pub throttled: u64,
    /// Requests per second over the run.
    pub achieved_rate: f64,
    /// The most requests on the wire at once — let go by the rate limiter and not yet
    /// answered, GETs and PATCHes alike; documents waiting for a permit are not counted
    /// (never above `--concurrency`, and refsync adapts it below that).
    pub peak_in_flight: u64,
    /// Where 429s made the run lower its rate: the rate at the end (requests per second).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapted_rate: Option<f64>,
    /// The process's exit code.
    pub exit_code: i32,
    /// Why the run stopped early, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The report file.
    pub report: String,
    /// The rejects files written.
    pub rejects: Vec<String>,
    /// The run's `MS-CorrelationId`, where it sent anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
    /// The run in `--ledger`, and how it started, where the run keeps a ledger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ledger: Option<LedgerStart>,
}

/// A ledger run as the summary names it: its ID and how it began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LedgerStart {
    /// The run's ID in the ledger (`refsync runs show RUN`).
    pub run: i64,
    /// How the run began.
    pub start: RunStart,
}

/// How a ledger run began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStart {
    /// A new run, without `--resume`.
    New,
    /// `--resume` continued an unfinished run.
    Resumed,
    /// `--resume` found no unfinished run of these inputs and options, and a new run began.
    NothingToResume,
}

impl LedgerStart {
    /// The summary's line about the ledger, for people.
    fn to_text(self) -> String {
        let how = match self.start {
            RunStart::New => "new",
            RunStart::Resumed => "resumed",
            RunStart::NothingToResume => {
                "new: --resume found no unfinished run of these inputs and options"
            }
        };
        format!("  ledger: run {}, {how}\n", self.run)
    }
}

impl Summary {
    /// A summary of `counts` and `stats` over `elapsed`.
    pub fn new(
        command: &'static str,
        counts: &OutcomeCounts,
        input_rows: usize,
        stats: &SendStats,
        elapsed: Duration,
    ) -> Summary {
        let secs = elapsed.as_secs_f64();
        Summary {
            command,
            documents: counts.total(),
            outcomes: Outcome::ALL
                .iter()
                .map(|o| (o.as_str(), counts.get(*o)))
                .collect(),
            input_rows,
            elapsed_ms: elapsed.as_millis() as u64,
            requests: stats.requests,
            retries: stats.retries,
            throttled: stats.throttled,
            achieved_rate: if secs > 0.0 {
                (stats.requests as f64 / secs * 10.0).round() / 10.0
            } else {
                0.0
            },
            peak_in_flight: stats.peak_in_flight,
            adapted_rate: stats.adapted_rate.map(|rate| (rate * 10.0).round() / 10.0),
            exit_code: counts.exit_code(),
            stopped: None,
            report: String::new(),
            rejects: Vec::new(),
            correlation_id: None,
            ledger: None,
        }
    }

    /// The summary as people read it on stderr.
    pub fn to_text(&self) -> String {
        let counts: Vec<String> = self
            .outcomes
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(o, n)| format!("{o} {n}"))
            .collect();
        let mut text = format!(
            "refsync {}: {} from {} in {:.1}s: {}\n",
            self.command,
            counted(self.documents, "document"),
            counted(self.input_rows, "input row"),
            self.elapsed_ms as f64 / 1000.0,
            if counts.is_empty() {
                "nothing to do".into()
            } else {
                counts.join(", ")
            }
        );
        // `plan` sends nothing; a run that could send says what it sent, nothing included.
        if self.requests > 0 || self.command != "plan" {
            text.push_str(&format!(
                "  requests {} (retries {}, throttled {}), {:.1}/s, up to {} in flight{}\n",
                self.requests,
                self.retries,
                self.throttled,
                self.achieved_rate,
                self.peak_in_flight,
                self.adapted_rate
                    .map(|rate| format!("; rate lowered to {rate:.1}/s after 429s"))
                    .unwrap_or_default()
            ));
        }
        if let Some(why) = &self.stopped {
            text.push_str(&format!("  stopped early: {why}\n"));
        }
        if let Some(ledger) = self.ledger {
            text.push_str(&ledger.to_text());
        }
        text.push_str(&format!("  report: {}\n", self.report));
        for rejects in &self.rejects {
            text.push_str(&format!("  rejects: {rejects}\n"));
        }
        text
    }
}

/// `1 document`, `2 documents`.
fn counted(n: usize, noun: &str) -> String {
    match n {
        1 => format!("1 {noun}"),
        n => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_counts_in_the_singular_and_the_plural() {
        let mut counts = OutcomeCounts::default();
        counts.add(Outcome::Planned);
        let stats = SendStats::default();
        let one = Summary::new("plan", &counts, 1, &stats, Duration::from_millis(1500));
        assert!(
            one.to_text()
                .starts_with("refsync plan: 1 document from 1 input row in 1.5s: planned 1\n"),
            "{}",
            one.to_text()
        );
        counts.add(Outcome::Invalid);
        let two = Summary::new("plan", &counts, 3, &stats, Duration::ZERO);
        assert!(
            two.to_text()
                .starts_with("refsync plan: 2 documents from 3 input rows in 0.0s: "),
            "{}",
            two.to_text()
        );
    }

    #[test]
    fn a_sync_says_what_it_sent_even_when_it_sent_nothing_and_a_plan_does_not() {
        let mut counts = OutcomeCounts::default();
        counts.add(Outcome::Failed);
        let stats = SendStats::default();
        let sync = Summary::new("sync", &counts, 1, &stats, Duration::ZERO).to_text();
        assert!(
            sync.contains("\n  requests 0 (retries 0, throttled 0), 0.0/s, up to 0 in flight\n"),
            "{sync}"
        );
        let plan = Summary::new("plan", &counts, 1, &stats, Duration::ZERO).to_text();
        assert!(!plan.contains("requests"), "{plan}");
    }

    #[test]
    fn failures_outrank_conflicts_in_the_exit_code() {
        let mut counts = OutcomeCounts::default();
        counts.add(Outcome::Updated);
        assert_eq!(counts.exit_code(), EXIT_OK);
        counts.add(Outcome::Conflict);
        assert_eq!(counts.exit_code(), EXIT_CONFLICTS);
        counts.add(Outcome::Invalid);
        assert_eq!(counts.exit_code(), EXIT_FAILURES);
    }
}
