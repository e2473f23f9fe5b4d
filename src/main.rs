//! The `refsync` binary: parse the command line over the config file and environment,
//! set up logs, run, exit with the code.

use refsync::commands::Threads;
use refsync::config::layers::{self, ParseError};
use std::process::ExitCode;

/// mimalloc instead of the system allocator: a plan of a million rows is hundreds of
/// thousands of small allocations, and glibc's spent a third of `plan`'s time in
/// reallocating and consolidating them (a profile), and left more memory resident.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let parsed = match layers::parse_from(std::env::args_os().collect()) {
        Ok(parsed) => parsed,
        // Clap prints help, the version or a usage error itself, with exit 0 or 2.
        Err(ParseError::Clap(error)) => error.exit(),
        Err(ParseError::File(error)) => {
            eprintln!("refsync: error: {error}");
            return ExitCode::from(1);
        }
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
            terminal.say("ERROR", &message, &text, serde_json::Value::Null);
            ExitCode::from(1)
        }
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
