//! Samples of the emulator's counters taken while a client runs, and what they give:
//! the request rate and the in-flight count over time, the sustained sending rate.

use std::time::Duration;

use crate::emulator::StatsSummary;

/// How often the stats are polled.
pub const INTERVAL: Duration = Duration::from_millis(200);

/// The counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Seconds since the client started.
    pub at: f64,
    /// The counters then.
    pub stats: StatsSummary,
    /// The client's CPU time so far, if the OS tells.
    pub client_cpu: Option<Duration>,
}

/// What a client spent over a stretch of its sending phase.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClientLoad {
    /// Its CPU time.
    pub cpu: Duration,
    /// Requests answered meanwhile.
    pub requests: u64,
    /// The stretch's length.
    pub seconds: f64,
}

/// The samples of one run, in time order.
#[derive(Debug, Clone, Default)]
pub struct Series {
    /// The samples.
    pub samples: Vec<Sample>,
}

impl Series {
    /// Adds a sample.
    pub fn push(&mut self, at: f64, stats: StatsSummary, client_cpu: Option<Duration>) {
        self.samples.push(Sample {
            at,
            stats,
            client_cpu,
        });
    }

    /// Requests completed per second between consecutive samples, at each sample's time.
    pub fn rate_points(&self) -> Vec<(f64, f64)> {
        self.samples
            .windows(2)
            .filter(|pair| pair[1].at > pair[0].at)
            .map(|pair| {
                let done = pair[1]
                    .stats
                    .completed
                    .saturating_sub(pair[0].stats.completed);
                (pair[1].at, done as f64 / (pair[1].at - pair[0].at))
            })
            .collect()
    }

    /// Requests in flight at each sample.
    pub fn in_flight_points(&self) -> Vec<(f64, f64)> {
        self.samples
            .iter()
            .map(|s| (s.at, s.stats.in_flight as f64))
            .collect()
    }

    /// The most requests in flight in any sample.
    pub fn peak_in_flight(&self) -> u64 {
        self.samples
            .iter()
            .map(|s| s.stats.in_flight)
            .max()
            .unwrap_or(0)
    }

    /// The sending phase: from the last sample before the first request completed to the
    /// first sample at the final count, without start-up, planning and the report.
    fn sending_window(&self) -> Option<(&Sample, &Sample)> {
        let last = self.samples.last()?.stats.completed;
        let start = self
            .samples
            .iter()
            .rposition(|s| s.stats.completed == 0)
            .unwrap_or(0);
        let end = self
            .samples
            .iter()
            .position(|s| s.stats.completed == last)?;
        Some((&self.samples[start], &self.samples[end]))
    }

    /// Requests per second over the sending phase.
    pub fn sending_rate(&self) -> Option<f64> {
        self.sending_rate_of(|s| s.completed)
    }

    /// Requests answered 2xx per second over the sending phase.
    pub fn success_rate(&self) -> Option<f64> {
        self.sending_rate_of(|s| s.succeeded)
    }

    fn sending_rate_of(&self, count: impl Fn(&StatsSummary) -> u64) -> Option<f64> {
        let (a, b) = self.sending_window()?;
        let done = count(&b.stats).saturating_sub(count(&a.stats));
        (b.at > a.at).then(|| done as f64 / (b.at - a.at))
    }

    /// Requests answered 2xx per second in the steady middle of the run: the slope of the
    /// count between the first sample past 10 % of the final count and the last one below
    /// 90 %, so neither the first answers' latency nor the tail nor the sampling grain
    /// (a sample every 200 ms) weighs on it.
    pub fn sustained_rate(&self) -> Option<f64> {
        let last = self.samples.last()?.stats.succeeded;
        let a = self
            .samples
            .iter()
            .find(|s| s.stats.succeeded * 10 >= last)?;
        let b = self
            .samples
            .iter()
            .rev()
            .find(|s| s.stats.succeeded * 10 <= last * 9)?;
        let done = b.stats.succeeded.checked_sub(a.stats.succeeded)?;
        (b.at > a.at).then(|| done as f64 / (b.at - a.at))
    }

    /// The client's CPU over the sending phase, between the first and the last sample in
    /// it that carry the client's CPU: the first sample at the final count often comes
    /// after the client has exited, when `/proc` has nothing left to tell.
    pub fn sending_load(&self) -> Option<ClientLoad> {
        let (start, end) = self.sending_window()?;
        let mut measured = self
            .samples
            .iter()
            .filter(|s| s.at >= start.at && s.at <= end.at && s.client_cpu.is_some());
        let first = measured.next()?;
        let last = measured.next_back()?;
        Some(ClientLoad {
            cpu: last.client_cpu?.saturating_sub(first.client_cpu?),
            requests: last.stats.completed.saturating_sub(first.stats.completed),
            seconds: last.at - first.at,
        })
    }

    /// The seconds of the sending phase.
    pub fn sending_seconds(&self) -> f64 {
        self.sending_window().map_or(0.0, |(a, b)| b.at - a.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(counts: &[u64]) -> Series {
        let mut series = Series::default();
        for (i, &completed) in counts.iter().enumerate() {
            let stats = StatsSummary {
                completed,
                in_flight: i as u64,
                ..StatsSummary::default()
            };
            series.push(i as f64 * 0.5, stats, None);
        }
        series
    }

    #[test]
    fn the_sustained_rate_is_the_slope_between_ten_and_ninety_percent() {
        let mut series = Series::default();
        for (i, succeeded) in [0, 0, 10, 30, 50, 70, 90, 100, 100].into_iter().enumerate() {
            let stats = StatsSummary {
                succeeded,
                ..StatsSummary::default()
            };
            series.push(i as f64, stats, None);
        }
        // From t=2 (10) to t=6 (90): 80 in 4 s.
        assert_eq!(series.sustained_rate(), Some(20.0));
    }

    #[test]
    fn the_sending_rate_leaves_out_start_up_and_the_tail() {
        let s = series(&[0, 0, 0, 50, 100, 150, 150, 150]);
        // From t=1.0 (the last zero) to t=2.5 (first at 150): 150 in 1.5 s.
        assert_eq!(s.sending_rate(), Some(100.0));
        assert_eq!(s.sending_seconds(), 1.5);
        assert_eq!(s.rate_points()[3], (2.0, 100.0));
        assert_eq!(s.peak_in_flight(), 7);
    }

    #[test]
    fn the_client_load_uses_the_samples_that_carry_its_cpu() {
        let mut s = Series::default();
        let cpu = [None, Some(1.0), Some(2.0), Some(3.0), None];
        for (i, (completed, cpu)) in [0, 0, 100, 200, 300].into_iter().zip(cpu).enumerate() {
            let stats = StatsSummary {
                completed,
                ..StatsSummary::default()
            };
            s.push(i as f64, stats, cpu.map(Duration::from_secs_f64));
        }
        // The client exited before the last sample: its CPU runs from t=1 to t=3.
        let load = s.sending_load().unwrap();
        assert_eq!((load.requests, load.seconds), (200, 2.0));
        assert_eq!(load.cpu, Duration::from_secs(2));
    }
}
