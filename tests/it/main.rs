//! The one integration-test binary: each module is one area of behaviour.

mod adaptive;
mod auth;
mod bad_input;
mod cli;
mod config;
mod docs;
mod dry_run;
mod emulator;
mod fixtures;
mod ledger;
mod mapping;
mod properties;
mod proxy;
mod resilience;
mod resume;
mod samples;
mod schemas;
mod soak;
mod support;
mod sync;
mod tokens;
mod undo;
