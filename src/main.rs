//! The `refsync` binary: parse the command line over the config file and environment,
//! set up logs, run, exit with the code.

use clap::error::ErrorKind;
use refsync::commands::Threads;
use refsync::config::layers::{self, ParseError};
use std::ffi::OsString;
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a plan of a million rows is hundreds of
/// thousands of small allocations, and glibc's spent a third of `plan`'s time in
/// reallocating and consolidating them (a profile), and left more memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let json = layers::json_logs_requested(&args);
    let summary = layers::summary_requested(&args);
    let parsed = match layers::parse_from(args) {
        Ok(parsed) => parsed,
        Err(error) => return refused(error, json, summary),
    };
    let global = &parsed.cli.global;
    let json = global.log_format == refsync::cli::args::LogFormat::Json;
    let terminal = refsync::ui::init_logging(json, global.verbose, global.quiet);
    let runtime = match refsync::commands::threads(&parsed) {
        Threads::One => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Threads::PerCore => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("refsync: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(refsync::commands::run(&parsed, &terminal)) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            let message = refsync::ui::describe_error(&error);
            let text = format!("refsync: error: {message}\n");
            let fields = serde_json::json!({ "exit_code": 1 });
            terminal.say("ERROR", &message, &text, fields);
            ExitCode::from(1)
        }
    }
}

/// Reports a command line that cannot run. Help and the version go out as clap prints
/// them (exit 0); a usage error (exit 2) and a bad config file or variable (exit 1) as
/// text, or as one JSON line at level ERROR when JSON logs were asked for.
///
/// A `plan` or `sync` that asked for `--summary-json` gets one saying so, with the exit
/// code: an alerting script must not read the summary an earlier run left there.
fn refused(
    error: ParseError,
    json: bool,
    summary: Option<(std::path::PathBuf, &'static str)>,
) -> ExitCode {
    let (message, code) = match &error {
        // Help and the version: clap prints them and exits 0.
        ParseError::Clap(usage) if !usage.use_stderr() => usage.exit(),
        ParseError::Clap(usage) => (usage_message(usage), usage.exit_code()),
        other => (other.to_string(), 1),
    };
    if let Some((path, command)) = summary {
        refsync::commands::outputs::summarise_refusal(&path, command, &message, code);
    }
    match (&error, json) {
        // Clap's own rendering, with its colours and suggestions.
        (ParseError::Clap(usage), false) => usage.exit(),
        (_, true) => {
            let terminal = refsync::ui::init_logging(true, 0, 0);
            let fields = serde_json::json!({ "exit_code": code });
            terminal.say("ERROR", &message, "", fields);
        }
        (_, false) => eprintln!("refsync: error: {message}"),
    }
    ExitCode::from(u8::try_from(code).unwrap_or(2))
}

/// A clap usage error in one line: its first, with the usage and a pointer to `--help`.
fn usage_message(error: &clap::Error) -> String {
    if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "a command is required; run `refsync --help` for the list".into();
    }
    let text = error.render().to_string();
    let paragraph: Vec<&str> = text
        .lines()
        .take_while(|l| !l.is_empty())
        .map(str::trim)
        .collect();
    let first = paragraph.join(" ");
    let first = first.trim_start_matches("error: ");
    match text.lines().find_map(|l| l.strip_prefix("Usage: ")) {
        Some(usage) => format!("{first} (usage: {usage}; see --help)"),
        None => first.to_string(),
    }
}

/// Asks Linux not to back this process with transparent huge pages. A plan's memory is
/// many small allocations spread over the heap, and with 2 MiB pages a partly used page
/// counts whole: a million-row `plan` peaked about 15 MiB higher, at no gain in speed
/// (measured side by side). A refusal changes nothing but that, so it is ignored.
///
/// It runs from `.init_array`, before `main` and before the runtime's first allocation:
/// asked in `main`, it came after the allocator had faulted in its first arena pages as
/// two huge pages, 4 MiB resident for a few hundred KiB used, in every run.
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static DISABLE_HUGE_PAGES: extern "C" fn() = disable_huge_pages;

#[cfg(target_os = "linux")]
extern "C" fn disable_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
