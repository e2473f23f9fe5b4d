//! The unthrottled scenario's baseline: `wrk` PATCHing the same emulator, with a Lua
//! script that varies the referral ID and the `MS-RequestId` of every request.
//!
//! The request IDs of one wrk run are never those of another: the emulator keeps each
//! referral's 2xx answers by `MS-RequestId` and replays them without applying anything,
//! and wrk's counter starts again at 1 in every run. Before each run got a token of its
//! own, the second and third wrk runs against one emulator were mostly answered from that
//! store (162,256 replays of 182,000 requests in one check), which made wrk's baseline
//! faster than a PATCH that is applied.

use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::measure::{Finished, Running};

/// wrk's threads: one, so that wrk, the emulator and the bench share the 2 cores the way
/// refsync (one process) and the emulator do.
pub const THREADS: u32 = 1;
/// wrk's connections: enough to keep the emulator busy without queueing.
pub const CONNECTIONS: u32 = 32;

/// `wrk` on the `PATH`, if installed.
pub fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("wrk"))
        .find(|candidate| candidate.is_file())
}

/// The Lua script: PATCH `/v1.0/engagements/referrals/{id}` over `ids`, replacing
/// `/details/notes`, with a fresh `MS-RequestId` per request and no If-Match. The
/// request IDs hold the run's token, wrk's first argument after the URL ([`run`]).
pub fn script(ids: &[String]) -> String {
    let mut lua = String::from("local ids = {\n");
    for id in ids {
        let _ = writeln!(lua, "  \"{id}\",");
    }
    lua.push_str(
        r#"}
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local run = "0"
function init(args)
  run = args[1] or "0"
end
local counter = 0
wrk.method = "PATCH"
wrk.body = '[{"op":"replace","path":"/details/notes","value":"wrk"}]'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["Authorization"] = "Bearer x"
wrk.headers["MS-CorrelationId"] = "wrk-run"
function request()
  counter = counter + 1
  local id = ids[(counter % #ids) + 1]
  wrk.headers["MS-RequestId"] = "wrk-" .. run .. "-" .. tostring(tid or 0) .. "-" .. counter
  return wrk.format(nil, "/v1.0/engagements/referrals/" .. id)
end
"#,
    );
    lua
}

/// What wrk measured.
#[derive(Debug, Clone, Copy)]
pub struct WrkResult {
    /// Its `Requests/sec` line.
    pub requests_per_second: f64,
    /// wrk's own wall time and CPU, from the OS.
    pub finished: Finished,
}

/// Runs wrk against `addr` with `script` for `duration`, its request IDs holding `token`
/// (one no other run against the same emulator uses); its output goes to `output`.
pub fn run(
    wrk: &Path,
    addr: &str,
    script: &Path,
    token: &str,
    duration: Duration,
    output: &Path,
) -> anyhow::Result<WrkResult> {
    let out =
        File::create(output).with_context(|| format!("cannot create {}", output.display()))?;
    let child = Command::new(wrk)
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{}s", duration.as_secs()))
        .arg("-s")
        .arg(script)
        .arg(format!("http://{addr}"))
        .arg("--")
        .arg(token)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot run {}", wrk.display()))?;
    let finished = Running::new(child).wait()?;
    let text = std::fs::read_to_string(output)
        .with_context(|| format!("cannot read {}", output.display()))?;
    if finished.code != 0 {
        bail!("wrk failed (exit {}): {text}", finished.code);
    }
    if text.contains("Non-2xx") {
        bail!("wrk got answers other than 2xx; its figure would not be a baseline:\n{text}");
    }
    let requests_per_second =
        parse(&text).with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    Ok(WrkResult {
        requests_per_second,
        finished,
    })
}

fn parse(text: &str) -> Option<f64> {
    let value = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Requests/sec:"))?;
    value.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_per_second_is_read_from_wrks_summary() {
        let text =
            "  320000 requests in 10.00s, 30MB read\nRequests/sec:  32000.12\nTransfer/sec: 3MB\n";
        assert_eq!(parse(text), Some(32000.12));
    }

    #[test]
    fn the_script_lists_every_id_and_varies_the_request_id() {
        let lua = script(&["a".into(), "b".into()]);
        assert!(lua.contains("\"a\",\n  \"b\","));
        assert!(lua.contains("MS-RequestId"));
        // The run's token, from wrk's arguments, is part of every request ID.
        assert!(lua.contains("run = args[1]"));
        assert!(lua.contains("\"wrk-\" .. run .. \"-\""));
    }
}
