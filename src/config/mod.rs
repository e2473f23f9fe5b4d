//! Configuration: turns the raw command line (flags and `REFSYNC_*` variables) into the
//! resolved settings each stage takes. Nothing past this module sees clap.

pub mod parse;
pub mod sync;
