//! `tracing` setup: level from `RUST_LOG` or `-v`/`-q`, text or JSON, to stderr through a
//! writer that suspends the progress bar while a line is written.

use indicatif::ProgressBar;
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Stderr, shared by logs and the progress bar.
#[derive(Clone, Default)]
pub struct Terminal {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    json: bool,
    quiet: bool,
}

impl Terminal {
    /// Whether stderr carries JSON lines (`--log-format json`): then whatever refsync
    /// itself prints there, the summary and a fatal error, is a JSON line too.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Whether `-q` asked for errors only: no progress bar unless `--progress always`,
    /// and the end-of-run summary only when the exit code is not 0.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// Prints `text` for people, or under JSON logs one JSON line at `level` with
    /// `message` and the members of `fields` (an object) beside it.
    pub fn say(&self, level: &str, message: &str, text: &str, fields: serde_json::Value) {
        if !self.json {
            return self.print(text);
        }
        let mut line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": level,
            "message": message,
            "target": "refsync",
        });
        if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
            line.extend(fields);
        }
        self.print(&format!("{line}\n"));
    }

    /// Makes `bar` the bar to suspend while writing (or none).
    pub fn set_bar(&self, bar: Option<ProgressBar>) {
        if let Ok(mut slot) = self.bar.lock() {
            *slot = bar;
        }
    }

    /// Reports an error that ends refsync with `exit_code`: as `refsync: error: …` text, or
    /// under JSON logs as one line at level ERROR carrying the exit code, for alerting.
    pub fn error(&self, message: &str, exit_code: i32) {
        let text = format!("refsync: error: {message}\n");
        let fields = serde_json::json!({ "exit_code": exit_code });
        self.say("ERROR", message, &text, fields);
    }

    /// Writes `text` to stderr without tearing the bar.
    pub fn print(&self, text: &str) {
        write_suspended(&self.bar, text.as_bytes());
    }
}

fn write_suspended(bar: &Mutex<Option<ProgressBar>>, bytes: &[u8]) {
    let current = bar.lock().ok().and_then(|b| b.clone());
    let write = || {
        // Nothing sensible can be done if stderr itself is gone.
        let _ = std::io::stderr().write_all(bytes);
    };
    match current {
        Some(bar) if !bar.is_hidden() => bar.suspend(write),
        _ => write(),
    }
}

/// One log line being written; it reaches stderr whole, when dropped.
pub struct LineWriter {
    bar: Arc<Mutex<Option<ProgressBar>>>,
    buf: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            write_suspended(&self.bar, &self.buf);
        }
    }
}

impl<'a> MakeWriter<'a> for Terminal {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            bar: self.bar.clone(),
            buf: Vec::new(),
        }
    }
}

/// The filter for `-v`/`-q` when `RUST_LOG` is not set: refsync's own logs at the chosen
/// level, other crates at `warn` (so no HTTP library ever logs a header, at any level).
/// The platform certificate verifier logs each certificate it refuses at ERROR, in its
/// own terms; refsync says why once, in plain words, as it stops the run: it is silenced.
fn default_filter(verbose: u8, quiet: u8) -> String {
    let level = match (quiet, verbose) {
        (q, _) if q > 0 => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    format!("warn,rustls_platform_verifier=off,refsync={level}")
}

/// Installs the global subscriber; returns the terminal handle the progress bar shares.
pub fn init_logging(json: bool, verbose: u8, quiet: u8) -> Terminal {
    let terminal = Terminal {
        json,
        quiet: quiet > 0,
        ..Terminal::default()
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(default_filter(verbose, quiet)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(terminal.clone())
        .with_ansi(super::colour_allowed());
    // A second initialisation (tests running commands in-process) keeps the first one.
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
    terminal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_refsync_levels_only() {
        let filter = |level| format!("warn,rustls_platform_verifier=off,refsync={level}");
        assert_eq!(default_filter(0, 0), filter("warn"));
        assert_eq!(default_filter(3, 0), filter("trace"));
        assert_eq!(default_filter(2, 1), filter("error"));
    }
}
