//! The progress bar: documents done of total, rate, ETA, conflicts, failures and invalid
//! documents. Drawn only
//! when stderr is a terminal (or `--progress always`).

use super::logging::Terminal;
use crate::cli::args::ProgressMode;
use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often `--progress always` writes a line when stderr is not a terminal.
const PLAIN_LINE_EVERY: Duration = Duration::from_secs(1);

/// A run's progress display (hidden under cron).
pub struct Progress {
    bar: ProgressBar,
    /// Whether the bar is drawn anywhere: asking the bar takes its lock.
    shown: bool,
    terminal: Terminal,
    counts: Arc<Counts>,
}

/// The conflicts, failures and invalid documents so far, read by the bar as it draws, so a
/// line never shows a count that its position does not include yet.
///
/// Failed and invalid are kept apart as the summary keeps them: a file's invalid rows are
/// known before anything is sent, while a failure is the API's or the network's.
#[derive(Debug, Default)]
struct Counts {
    conflicts: AtomicU64,
    failed: AtomicU64,
    invalid: AtomicU64,
}

impl Counts {
    /// `conflict N  failed M  invalid K`, each only once it is not 0.
    fn write(&self, out: &mut dyn std::fmt::Write) {
        let counts = [
            ("conflict", &self.conflicts),
            ("failed", &self.failed),
            ("invalid", &self.invalid),
        ];
        let mut separator = "";
        for (name, count) in counts {
            let count = count.load(Ordering::Relaxed);
            if count > 0 {
                let _ = write!(out, "{separator}{name} {count}");
                separator = "  ";
            }
        }
    }
}

/// Whether the bar is drawn: as `mode` says, or under `auto` only on a terminal, not under
/// `-q`, and not beside JSON logs, which are for a machine whose every stderr line must
/// parse.
fn is_shown(mode: ProgressMode, terminal: bool, quiet: bool, json: bool) -> bool {
    match mode {
        ProgressMode::Always => true,
        ProgressMode::Never => false,
        ProgressMode::Auto => terminal && !quiet && !json,
    }
}

impl Progress {
    /// A bar over `total` documents, drawn as `mode` and the terminal decide.
    pub fn new(mode: ProgressMode, total: u64, terminal: &Terminal) -> Progress {
        let shown = is_shown(
            mode,
            super::stderr_is_terminal(),
            terminal.is_quiet(),
            terminal.is_json(),
        );
        let target = match (shown, super::stderr_is_terminal()) {
            (false, _) => ProgressDrawTarget::hidden(),
            (true, true) => ProgressDrawTarget::stderr(),
            // `--progress always` off a terminal (a CI log): one plain line a second.
            (true, false) => ProgressDrawTarget::term_like(Box::new(PlainLines::default())),
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = "{elapsed_precise} [{bar:30}] {pos}/{len} docs  {rate}  ETA {eta}  {counts}";
        let counts = Arc::new(Counts::default());
        if let Ok(style) = ProgressStyle::with_template(template) {
            let rate = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.1}/s", state.per_sec());
            };
            let shown = counts.clone();
            let style = style.progress_chars("=> ").with_key("rate", rate);
            bar.set_style(style.with_key(
                "counts",
                move |_: &ProgressState, out: &mut dyn std::fmt::Write| shown.write(out),
            ));
        }
        terminal.set_bar(Some(bar.clone()));
        Progress {
            bar,
            shown,
            terminal: terminal.clone(),
            counts,
        }
    }

    /// Counts one finished document.
    pub fn finished(&mut self, outcome: Outcome) {
        let count = match outcome {
            Outcome::Conflict => Some(&self.counts.conflicts),
            Outcome::Failed => Some(&self.counts.failed),
            Outcome::Invalid => Some(&self.counts.invalid),
            _ => None,
        };
        if let Some(count) = count {
            count.fetch_add(1, Ordering::Relaxed);
        }
        // A hidden bar (cron, `--progress never`) is left alone: each step takes its lock
        // and reads the clock, a tenth of writing `plan`'s report in a profile.
        if self.shown {
            self.bar.inc(1);
        }
    }

    /// Clears the bar so the summary prints on a clean line.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        self.terminal.set_bar(None);
    }
}

/// Stderr that is not a terminal: at most one line a second, nothing is erased.
#[derive(Debug, Default)]
struct PlainLines {
    last: Mutex<Option<Instant>>,
}

impl PlainLines {
    /// Writes `text` as a line unless one was written less than a second ago.
    fn line(&self, text: &str) -> std::io::Result<()> {
        let Ok(mut last) = self.last.lock() else {
            return Ok(());
        };
        if text.trim().is_empty() || last.is_some_and(|t| t.elapsed() < PLAIN_LINE_EVERY) {
            return Ok(());
        }
        *last = Some(Instant::now());
        writeln!(std::io::stderr(), "{text}")
    }
}

impl TermLike for PlainLines {
    fn width(&self) -> u16 {
        100
    }

    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }

    fn write_line(&self, line: &str) -> std::io::Result<()> {
        self.line(line)
    }

    fn write_str(&self, text: &str) -> std::io::Result<()> {
        self.line(text)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }

    fn flush(&self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_draws_the_bar_only_on_a_terminal_with_text_logs_and_no_q() {
        let auto = ProgressMode::Auto;
        assert!(is_shown(auto, true, false, false));
        assert!(!is_shown(auto, false, false, false), "cron");
        assert!(!is_shown(auto, true, true, false), "-q");
        assert!(!is_shown(auto, true, false, true), "JSON logs");
        assert!(is_shown(ProgressMode::Always, false, true, true));
        assert!(!is_shown(ProgressMode::Never, true, false, false));
    }

    fn shown(counts: &Counts) -> String {
        let mut out = String::new();
        counts.write(&mut out);
        out
    }

    #[test]
    fn each_count_shows_once_it_is_not_zero() {
        let counts = Counts::default();
        assert_eq!(shown(&counts), "");
        counts.failed.fetch_add(2, Ordering::Relaxed);
        assert_eq!(shown(&counts), "failed 2");
        counts.conflicts.fetch_add(1, Ordering::Relaxed);
        assert_eq!(shown(&counts), "conflict 1  failed 2");
    }

    #[test]
    fn a_finished_document_is_counted_and_a_hidden_bar_left_alone() {
        let terminal = Terminal::default();
        let mut progress = Progress::new(ProgressMode::Never, 3, &terminal);
        progress.finished(Outcome::Invalid);
        progress.finished(Outcome::Conflict);
        progress.finished(Outcome::Updated);
        assert!(progress.bar.is_hidden());
        assert_eq!(progress.bar.position(), 0);
        assert_eq!(shown(&progress.counts), "conflict 1  invalid 1");
    }
}
