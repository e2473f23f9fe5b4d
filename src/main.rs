//! The `refsync` binary: parse the command line over the config file and environment,
//! set up logs, run, exit with the code.

use clap::error::ErrorKind;
use refsync::commands::{FreedMemory, Threads};
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
    if refsync::commands::freed_memory(&parsed) == FreedMemory::ReturnAtOnce {
        return_freed_memory_at_once();
    }
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
    let ran = runtime.block_on(refsync::commands::run(&parsed, &terminal));
    // The run is over: a blocking task still stuck on what never comes (a --token-file
    // that is a pipe no one writes to, given up at --deadline) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match ran {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            let code = refsync::commands::exit_code_of(&error);
            terminal.error(&refsync::ui::describe_error(&error), code);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
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
        _ => refsync::ui::init_logging(json, 0, 0).error(&message, code),
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

/// mimalloc's `mi_option_purge_delay` (the 16th entry of `mi_option_t` in the v3
/// `mimalloc.h` that `libmimalloc-sys` builds): how many milliseconds freed memory stays
/// resident before it goes back to the OS; 0 is at once. Its Rust bindings name no
/// constant for it; a test below holds the number to the option.
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

unsafe extern "C" {
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    #[cfg(test)]
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// Has the allocator give memory back to the OS as soon as it is freed (see
/// [`FreedMemory::ReturnAtOnce`]).
fn return_freed_memory_at_once() {
    // SAFETY: mimalloc's options are plain integers, set by value; mimalloc reads this one
    // each time it schedules a purge.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, 0) }
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// This process's resident memory, from `/proc/self/statm` (in pages).
    fn resident_bytes() -> u64 {
        let statm = std::fs::read_to_string("/proc/self/statm").expect("statm is readable");
        let pages: u64 = statm
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .expect("statm's second field is the resident page count");
        // SAFETY: sysconf takes a plain integer and reads no memory of ours.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        pages * u64::try_from(page_size).expect("a page size is positive")
    }

    /// One test, not two: the option is the whole process's, and tests run side by side.
    #[test]
    fn freed_memory_leaves_at_once_when_asked() {
        // First the default that mimalloc v3 documents for `purge_delay` (1 s), unless the
        // environment sets one: a changed enum order would read a neighbour's (1 or 0).
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // SAFETY: reading an option by value.
            assert_eq!(unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }, 1000);
        }
        const BLOCK: usize = 64 << 20;
        return_freed_memory_at_once();
        let block = std::hint::black_box(vec![1u8; BLOCK]);
        let held = resident_bytes();
        drop(block);
        let after = resident_bytes();
        assert!(
            held.saturating_sub(after) >= (BLOCK as u64) * 3 / 4,
            "resident {held} bytes with the block, {after} after freeing it"
        );
    }
}
