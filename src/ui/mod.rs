//! What the user sees on stderr: `tracing` logs, the progress bar, and the two kept apart
//! so a log line never tears the bar.

pub mod cpu;
pub mod logging;
pub mod progress;

pub use logging::{Terminal, init_logging};
pub use progress::Progress;

use std::io::IsTerminal;

/// Whether stderr is a terminal that may get colour and a progress bar.
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether colour is allowed: stderr is a terminal and `NO_COLOR` is not set.
pub fn colour_allowed() -> bool {
    stderr_is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An error and its causes in one line, `outer: cause: …`, leaving out a cause whose text
/// the message already quotes (many messages name their cause to say what to do next).
pub fn describe_error(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let part = cause.to_string();
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_quotes_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let quoted = anyhow::Error::new(io).context("cannot read x.csv: no such file; check it");
        assert_eq!(
            describe_error(&quoted),
            "cannot read x.csv: no such file; check it"
        );
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let plain = anyhow::Error::new(io).context("cannot read x.csv");
        assert_eq!(describe_error(&plain), "cannot read x.csv: no such file");
    }
}
