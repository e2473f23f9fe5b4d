//! The flags of the commands around a run: `auth login`, `config show`, `completions`, `man`.

use super::args::SyncArgs;
use clap::{Args, Subcommand};

/// `refsync auth`.
#[derive(Debug, Args)]
pub struct AuthArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AuthCommand,
}

/// `refsync auth` commands.
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in once with a device code; stores the refresh token that unattended runs use.
    #[command(
        after_help = "Example (with [auth] tenant, client_id and refresh_token_file in the file):
  refsync auth login --config refsync.toml

Open the address it shows, enter the code, sign in; the refresh token is saved to
refresh_token_file, readable only by you. Then `refsync sync` takes its token from [auth]."
    )]
    Login,
}

/// `refsync config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `refsync config` commands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration of `sync` and where each value came from.
    #[command(
        after_help = "Takes the same flags as sync (inputs optional) and shows their effect; secrets are masked.

Examples:
  refsync config show --config refsync.toml
  REFSYNC_RATE=2/s refsync config show --config refsync.toml --max-attempts 3"
    )]
    Show(Box<SyncArgs>),
}

/// Shells that `refsync completions` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ShellArg {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// PowerShell.
    Powershell,
}

/// `refsync completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write completions for.
    #[arg(value_enum)]
    pub shell: ShellArg,
}

/// `refsync man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print (sync, config show); none for refsync's own page.
    #[arg(value_name = "COMMAND")]
    pub command: Vec<String>,
}
