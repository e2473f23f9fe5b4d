//! The command line: clap definitions only. Every flag can also come from a `REFSYNC_*`
//! environment variable; [`crate::config`] turns these raw values into resolved settings,
//! and nothing past it sees clap.

pub mod args;
pub mod tools;

pub use args::{
    Cli, Command, CommonArgs, EmulatorArgs, GlobalArgs, PlanArgs, RunsArgs, RunsCommand, SyncArgs,
};
