//! refsync: bulk-apply updates to Microsoft Partner Center referrals.
//!
//! The crate is laid out as the pipeline it runs:
//!
//! - [`input`] reads CSV and JSONL files into raw records, each with its line;
//! - [`plan`] groups records per referral into validated JSON Patch documents;
//! - [`send`] sends each document as one rate-limited, retried `PATCH`;
//! - [`ledger`] records each run and document outcome in SQLite, for `--resume` and history;
//! - [`report`] writes one row per document (and per ID-less bad row) and the summary;
//! - [`emulator`] is a local Partner Center referrals API, beside the pipeline;
//! - [`schema`] is the referral schema and status transition table, shared by all;
//! - [`commands`] wires a resolved [`config`] to the stages, one file per command;
//! - [`auth`] signs in (device code) and renews access tokens (refresh-token grant).

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod emulator;
pub mod input;
pub mod ledger;
pub mod outcome;
pub mod plan;
pub mod report;
pub mod schema;
pub mod send;
pub mod ui;

/// The version `--version` prints: the crate's, and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("REFSYNC_GIT_COMMIT"),
    ")"
);
