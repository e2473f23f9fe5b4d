//! Configuration, in two stages. Raw: the TOML config file ([`file`]) and `REFSYNC_*`
//! variables layered under the flags by clap itself ([`layers`]). Resolved: the settings
//! each stage takes ([`sync`], [`auth`]), checked before anything is read or sent.
//! Nothing past this module sees clap.

pub mod auth;
pub mod file;
pub mod layers;
pub mod parse;
pub mod sync;
