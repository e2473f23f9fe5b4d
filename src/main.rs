//! The `refsync` binary: parse the command line, set up logs, run, exit with the code.

use clap::Parser;
use refsync::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.global.log_format == refsync::cli::args::LogFormat::Json;
    let terminal = refsync::ui::init_logging(json, cli.global.verbose, cli.global.quiet);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("refsync: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(refsync::commands::run(&cli, &terminal)) {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => {
            terminal.print(&format!("refsync: error: {error:#}\n"));
            ExitCode::from(1)
        }
    }
}
