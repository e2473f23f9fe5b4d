//! What the user sees on stderr: `tracing` logs, the progress bar, and the two kept apart
//! so a log line never tears the bar.

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
