//! The progress bar: documents done of total, rate, ETA, conflicts and failures. Drawn only
//! when stderr is a terminal (or `--progress always`).

use super::logging::Terminal;
use crate::cli::args::ProgressMode;
use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle, TermLike};
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often `--progress always` writes a line when stderr is not a terminal.
const PLAIN_LINE_EVERY: Duration = Duration::from_secs(1);

/// A run's progress display (hidden under cron).
pub struct Progress {
    bar: ProgressBar,
    terminal: Terminal,
    conflicts: u64,
    failures: u64,
}

impl Progress {
    /// A bar over `total` documents, drawn as `mode` and the terminal decide.
    pub fn new(mode: ProgressMode, total: u64, terminal: &Terminal) -> Progress {
        let shown = match mode {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => super::stderr_is_terminal(),
        };
        let target = match (shown, super::stderr_is_terminal()) {
            (false, _) => ProgressDrawTarget::hidden(),
            (true, true) => ProgressDrawTarget::stderr(),
            // `--progress always` off a terminal (a CI log): one plain line a second.
            (true, false) => ProgressDrawTarget::term_like(Box::new(PlainLines::default())),
        };
        let bar = ProgressBar::with_draw_target(Some(total), target);
        let template = "{elapsed_precise} [{bar:30}] {pos}/{len} docs  {rate}  ETA {eta}  {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            let rate = |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.1}/s", state.per_sec());
            };
            bar.set_style(style.progress_chars("=> ").with_key("rate", rate));
        }
        terminal.set_bar(Some(bar.clone()));
        Progress {
            bar,
            terminal: terminal.clone(),
            conflicts: 0,
            failures: 0,
        }
    }

    /// Counts one finished document.
    pub fn finished(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Conflict => self.conflicts += 1,
            Outcome::Failed | Outcome::Invalid => self.failures += 1,
            _ => {}
        }
        if self.conflicts + self.failures > 0 {
            self.bar.set_message(format!(
                "conflicts {}  failures {}",
                self.conflicts, self.failures
            ));
        }
        self.bar.inc(1);
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
