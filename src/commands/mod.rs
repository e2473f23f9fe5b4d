//! commands (in progress).
