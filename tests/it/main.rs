//! The one integration-test binary: each module is one area of behaviour.

mod auth;
mod bad_input;
mod cli;
mod config;
mod emulator;
mod fixtures;
mod samples;
mod support;
mod sync;
