//! `refsync sync --dry-run`: the same run as `sync` — plan, rate limit, retries, report,
//! exit codes — but each document only GETs its referral and reports what the real run
//! would: `planned` (with the field-level diff in the report's `changes` column),
//! `unchanged`, `conflict`, `failed` or `invalid`. No PATCH is ever sent, so `--undo` has
//! nothing to write; given it, the referrals are still read first, as the real run would
//! read them, so that the prediction (`unchanged`, say) is the real run's.

use super::sync;
use crate::cli::SyncArgs;
use crate::config::auth::AuthConfig;
use crate::send::Mode;
use crate::ui::Terminal;

/// Runs `sync --dry-run`; returns the exit code (as a real run's outcomes would give it).
pub async fn run(args: &SyncArgs, auth: &AuthConfig, terminal: &Terminal) -> anyhow::Result<i32> {
    sync::execute(args, auth, terminal, Mode::DryRun).await
}
