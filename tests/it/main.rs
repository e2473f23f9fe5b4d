//! The one integration-test binary: each module is one area of behaviour.

mod bad_input;
mod cli;
mod dry_run;
mod emulator;
mod fixtures;
mod resilience;
mod samples;
mod support;
mod sync;
mod undo;
