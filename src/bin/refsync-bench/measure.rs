//! Wall time, peak RSS and CPU time of a child process, from the OS (`wait4`'s
//! `rusage`), so each binary is measured alone.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::Context;

/// What the OS says about a child that ended.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    /// From spawn to exit.
    pub wall: Duration,
    /// Peak resident set size in bytes (`ru_maxrss`).
    pub peak_rss: u64,
    /// User plus system CPU time.
    pub cpu: Duration,
    /// The exit code, or `-signal` for a child killed by a signal.
    pub code: i32,
}

/// A child process, started at a known instant.
#[derive(Debug)]
pub struct Running {
    /// The process.
    pub child: Child,
    /// When it was spawned.
    pub started: Instant,
}

impl Running {
    /// Tracks `child`, spawned just now.
    pub fn new(child: Child) -> Running {
        Running {
            child,
            started: Instant::now(),
        }
    }

    /// The process ID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Asks the process to stop (SIGTERM).
    pub fn terminate(&self) {
        // SAFETY: kill(2) with a PID this process spawned and has not reaped yet.
        unsafe {
            libc::kill(self.pid(), libc::SIGTERM);
        }
    }

    /// Waits for the process to end and reads its resource use (blocks the thread).
    pub fn wait(self) -> anyhow::Result<Finished> {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value of the plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, with valid pointers to locals.
        let reaped = unsafe { libc::wait4(self.pid(), &mut status, 0, &mut usage) };
        if reaped < 0 {
            return Err(std::io::Error::last_os_error()).context("wait4 failed");
        }
        Ok(Finished {
            wall: self.started.elapsed(),
            peak_rss: usage.ru_maxrss.max(0) as u64 * 1024,
            cpu: timeval(usage.ru_utime) + timeval(usage.ru_stime),
            code: exit_code(status),
        })
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        -libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Removes what an earlier run left at `path` (nothing there is fine), so that a run
/// measured next starts as the first one did and never reads the earlier run's file as
/// its own.
pub fn remove_earlier_output(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(error).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_earlier_output_is_removed_and_none_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.csv");
        std::fs::write(&report, "id,outcome\n").unwrap();
        remove_earlier_output(&report).unwrap();
        assert!(!report.exists());
        remove_earlier_output(&report).unwrap();
        // What cannot be removed as a file stops the run with its path.
        let error = remove_earlier_output(dir.path()).unwrap_err();
        assert!(format!("{error:#}").contains(&dir.path().display().to_string()));
    }
}
