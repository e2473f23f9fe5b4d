//! `refsync emulator`: run the local referrals emulator until stopped.

use crate::cli::EmulatorArgs;
use crate::emulator::{self, EmulatorOptions, Faults, Seed};

/// The emulator options the flags give.
pub fn options(args: &EmulatorArgs) -> EmulatorOptions {
    let seed = match (&args.seed, args.generate) {
        (Some(path), _) => Seed::File(path.clone()),
        (None, Some(n)) => Seed::Generate(n),
        (None, None) => Seed::Sample,
    };
    EmulatorOptions {
        listen: args.listen,
        seed,
        token: args.token.clone(),
        faults: Faults {
            latency_ms: args.latency_ms,
            fail_rate: args.fail_rate,
            throttle: args.throttle,
            no_retry_after: args.no_retry_after,
            fault_seed: args.fault_seed,
            drop_rate: args.drop_rate,
            conflict_rate: args.conflict_rate,
            stall_rate: args.stall_rate,
            token_ttl: args.token_ttl.map(std::time::Duration::from_secs),
            closed_is_final: args.closed_is_final,
            no_replay: args.no_replay,
        },
    }
}

/// Runs the emulator until Ctrl-C or SIGTERM.
pub async fn run(args: &EmulatorArgs) -> anyhow::Result<i32> {
    emulator::run_until_signal(options(args)).await?;
    Ok(0)
}
