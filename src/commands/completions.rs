//! `refsync completions SHELL` and `refsync man`: generated from the same command
//! definition that parses the command line, so they never drift from it.

use crate::cli::tools::{CompletionsArgs, ShellArg};
use crate::config::layers;
use clap_complete::Shell;
use std::io::Write;

/// Writes the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<i32> {
    let shell = match args.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Powershell => Shell::PowerShell,
    };
    let mut command = layers::command(None)?;
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "refsync", &mut out);
    reader_gone_is_fine(out.flush())
}

/// Writes the man page (roff) to stdout.
pub fn man() -> anyhow::Result<i32> {
    let command = layers::command(None)?;
    let mut out = std::io::stdout().lock();
    let written = clap_mangen::Man::new(command)
        .render(&mut out)
        .and_then(|()| out.flush());
    reader_gone_is_fine(written)
}

/// A reader that stops early (`refsync man | head`) is not an error worth a message.
fn reader_gone_is_fine(written: std::io::Result<()>) -> anyhow::Result<i32> {
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(0),
    }
}
