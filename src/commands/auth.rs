//! `refsync auth login`: the interactive device-code sign-in that stores the refresh token
//! of the `[auth]` section for unattended runs.

use crate::auth::device::{self, Prompt};
use crate::cli::tools::{AuthArgs, AuthCommand};
use crate::config::auth;
use crate::config::layers::Parsed;
use crate::ui::Terminal;
use anyhow::Context;

/// Runs `refsync auth …`.
pub async fn run(args: &AuthArgs, parsed: &Parsed, terminal: &Terminal) -> anyhow::Result<i32> {
    match args.command {
        AuthCommand::Login => login(parsed, terminal).await,
    }
}

/// Signs in with a device code and saves the refresh token.
async fn login(parsed: &Parsed, terminal: &Terminal) -> anyhow::Result<i32> {
    let settings = auth::resolve(&auth::layered(parsed.file.as_ref()))?.context(
        "no [auth] section: give a --config file with [auth] client_id and refresh_token_file (see docs/auth.md and config/refsync.toml)",
    )?;
    device::login(&settings, |prompt: &Prompt| {
        terminal.print(&format!(
            "To sign in, open {} and enter the code {}\nWaiting for the sign-in to finish...\n",
            prompt.verification_uri, prompt.user_code
        ));
    })
    .await?;
    terminal.print(&format!(
        "Signed in. The refresh token is saved in {} (readable only by you); `refsync sync` now uses it.\n",
        settings.refresh_token_file.display()
    ));
    Ok(0)
}
