//! The one integration-test binary: each module is one area of behaviour.

mod bad_input;
mod cli;
mod emulator;
mod fixtures;
mod mapping;
mod samples;
mod support;
mod sync;
