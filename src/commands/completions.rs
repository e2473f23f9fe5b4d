//! `refsync completions SHELL` and `refsync man [COMMAND]`: generated from the same
//! command definition that parses the command line, so they never drift from it.

use crate::cli::tools::{CompletionsArgs, ManArgs, ShellArg};
use crate::config::layers;
use crate::ui::Terminal;
use clap::Command;
use clap_complete::Shell;
use clap_mangen::roff::{Roff, bold, roman};

/// Writes the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<i32> {
    let shell = match args.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Powershell => Shell::PowerShell,
    };
    let mut command = layers::command(None)?;
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "refsync", &mut script);
    super::print_to_stdout(&script)
}

/// Writes a man page (roff) to stdout: `refsync`'s own, or with `args.command` (`sync`,
/// `config show`) that command's. An unknown command is a usage error (exit 2).
pub fn man(args: &ManArgs, terminal: &Terminal) -> anyhow::Result<i32> {
    let mut command = layers::command(None)?.disable_help_subcommand(true);
    command.build();
    let path = page_path(&args.command);
    let Some(page) = find_page(&command, &path) else {
        let pages = page_names(&command, "").join(", ");
        let message = format!(
            "no man page for {:?}; the pages are: refsync (no argument), {pages}",
            path.join(" ")
        );
        terminal.error(&message, 2);
        return Ok(2);
    };
    let text = page_text(page, path.is_empty())?;
    super::print_to_stdout(text.as_bytes())
}

/// The subcommand path of a page as given: `config show`, `config-show` or
/// `refsync-config-show` are the same page.
fn page_path(words: &[String]) -> Vec<String> {
    let joined = words.join("-");
    let joined = joined.strip_prefix("refsync").unwrap_or(&joined);
    joined
        .split('-')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The (built) subcommand at `path` below `command`.
fn find_page<'a>(command: &'a Command, path: &[String]) -> Option<&'a Command> {
    match path.split_first() {
        None => Some(command),
        Some((first, rest)) => find_page(command.find_subcommand(first)?, rest),
    }
}

/// Every page below `command`, as `refsync man` takes them (`sync`, `config show`).
fn page_names(command: &Command, prefix: &str) -> Vec<String> {
    command
        .get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .flat_map(|sub| {
            let name = format!("{prefix}{}", sub.get_name());
            let nested = page_names(sub, &format!("{name} "));
            std::iter::once(name).chain(nested)
        })
        .collect()
}

/// One page as roff; the main page with ENVIRONMENT and EXIT STATUS sections added
/// before its VERSION section.
fn page_text(page: &Command, main: bool) -> std::io::Result<String> {
    let mut bytes = Vec::new();
    let source = format!("refsync {}", page.get_version().unwrap_or_default());
    clap_mangen::Man::new(page.clone())
        .source(source)
        .render(&mut bytes)?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    if !main {
        return Ok(text);
    }
    let preamble = Roff::new().render();
    let sections = main_sections().render();
    let sections = sections.strip_prefix(&preamble).unwrap_or(&sections);
    Ok(match text.find("\n.SH VERSION") {
        Some(at) => format!("{}\n{sections}{}", &text[..at], &text[at + 1..]),
        None => format!("{text}{sections}"),
    })
}

/// The variables refsync reads (SPEC.md, README.md).
const ENVIRONMENT: [(&str, &str); 7] = [
    (
        "PARTNER_CENTER_TOKEN",
        "The access token for sync, when no token command or token file is set: not on the command line, not as REFSYNC_TOKEN_COMMAND / REFSYNC_TOKEN_FILE, not in the config file. Token sources, first found wins: --token-command, --token-file, PARTNER_CENTER_TOKEN, then the [auth] refresh token that refsync auth login saved; between the first two, one on the command line beats one from the environment, which beats one from the config file.",
    ),
    (
        "REFSYNC_CONFIG",
        "The config file, when --config is not given.",
    ),
    (
        "REFSYNC_<NAME>",
        "Any flag's value: its long name in upper case, - written _ (REFSYNC_MAX_ATTEMPTS=8, REFSYNC_LISTEN). A flag wins over the variable, which wins over the config file. Switches take true/false, 1/0, yes/no or on/off. A value the flag would refuse stops refsync with exit status 1.",
    ),
    (
        "REFSYNC_AUTH_<KEY>",
        "A key of the [auth] section (REFSYNC_AUTH_CLIENT_ID), over the config file's.",
    ),
    (
        "RUST_LOG",
        "The log filter (e.g. refsync=debug); it overrides -v and -q.",
    ),
    ("NO_COLOR", "When set, no colour on stderr."),
    (
        "HTTPS_PROXY, NO_PROXY",
        "The proxy for requests to the API and the sign-in service, and the hosts that go direct; a loopback endpoint never uses a proxy.",
    ),
];

/// The exit statuses (SPEC.md "Exit codes").
const EXIT_STATUS: [(&str, &str); 7] = [
    ("0", "Every document updated, unchanged or planned."),
    (
        "1",
        "The run could not start or was aborted: bad config or environment variable, no token, unreadable input, a second 401, a ledger in use or not a ledger.",
    ),
    ("2", "Command-line usage error."),
    (
        "3",
        "Finished; some documents are conflict, none failed or invalid.",
    ),
    (
        "4",
        "Finished; some documents (or ID-less rows) are failed or invalid.",
    ),
    ("5", "Stopped early by --max-failures."),
    (
        "130, 143",
        "Stopped by SIGINT or SIGTERM, after writing the report and the ledger.",
    ),
];

/// The main page's ENVIRONMENT and EXIT STATUS sections.
fn main_sections() -> Roff {
    let mut roff = Roff::new();
    for (title, entries) in [("ENVIRONMENT", &ENVIRONMENT), ("EXIT STATUS", &EXIT_STATUS)] {
        roff.control("SH", [title]);
        for (name, text) in entries {
            roff.control("TP", []);
            roff.text([bold(*name)]);
            roff.text([roman(*text)]);
        }
    }
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built() -> Command {
        let mut command = layers::command(None)
            .expect("command")
            .disable_help_subcommand(true);
        command.build();
        command
    }

    #[test]
    fn every_page_the_main_page_points_to_exists() {
        let command = built();
        for words in [&["sync"][..], &["config", "show"], &["refsync-runs-show"]] {
            let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
            assert!(
                find_page(&command, &page_path(&words)).is_some(),
                "{words:?}"
            );
        }
        assert!(find_page(&command, &page_path(&["nope".into()])).is_none());
        let names = page_names(&command, "");
        assert!(names.contains(&"config show".to_string()), "{names:?}");
        assert!(!names.contains(&"help".to_string()), "{names:?}");
    }

    #[test]
    fn the_main_page_has_environment_and_exit_status_before_version() {
        let command = built();
        let page = page_text(&command, true).expect("renders");
        let environment = page.find(".SH ENVIRONMENT").expect("ENVIRONMENT");
        let exit = page.find(".SH \"EXIT STATUS\"").expect("EXIT STATUS");
        let version = page.find(".SH VERSION").expect("VERSION");
        assert!(environment < exit && exit < version, "{page}");
        assert!(page.contains("PARTNER_CENTER_TOKEN") && page.contains("NO_PROXY"));
        let sync = page_text(find_page(&command, &["sync".into()]).expect("sync"), false)
            .expect("renders");
        assert!(sync.contains(".TH refsync-sync"), "{sync}");
    }
}
