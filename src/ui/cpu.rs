//! The CPU time of the calling thread, for the debug logs (`-vv`) that say where a run's
//! time went: on a shared machine a thread's wall time says little, its CPU time more.

/// The CPU time (user and system) the calling thread has used so far, in milliseconds;
/// 0 where the system cannot say.
pub fn thread_cpu_ms() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `getrusage` fills the zeroed struct it is given and reads nothing else.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) } != 0 {
            return 0;
        }
        let ms = |time: libc::timeval| time.tv_sec as u64 * 1000 + time.tv_usec as u64 / 1000;
        ms(usage.ru_utime) + ms(usage.ru_stime)
    }
    #[cfg(not(target_os = "linux"))]
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    #[cfg(target_os = "linux")]
    fn a_busy_thread_uses_cpu_time() {
        let before = thread_cpu_ms();
        let started = Instant::now();
        let mut spins = 0u64;
        // Busy for 50 ms of wall time: the thread runs for much of it, however loaded.
        while started.elapsed() < Duration::from_millis(50) {
            spins = spins.wrapping_add(std::hint::black_box(1));
        }
        assert!(thread_cpu_ms() > before, "no CPU time after {spins} spins");
    }
}
