//! The progress bar: documents done of total, rate, ETA, conflicts and failures. Drawn only
//! when stderr is a terminal (or `--progress always`).

use super::logging::Terminal;
use crate::cli::args::ProgressMode;
use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

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
        let bar = if shown {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        let template = "{elapsed_precise} [{bar:30}] {pos}/{len} docs  {per_sec}  ETA {eta}  {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
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
