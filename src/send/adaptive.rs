//! The two feedback loops that let a run sit at whatever limit the server allows without
//! the user tuning anything: how many documents may be in flight ([`InFlightLimit`]) and,
//! once the server has throttled, how fast requests may start ([`AdaptiveRate`]).
//!
//! Both are plain state machines fed with observations and the time they were made, so
//! the tests drive them with a scripted clock; [`super::pacer::Pacer`] wires them to the
//! real requests.
//!
//! - In flight: with a rate, Little's law says `rate × latency` requests must be in the
//!   air to reach it; the limit is that with headroom, so a slow server is met with more
//!   concurrency, never more than `--concurrency`. Without a rate, the limit grows while
//!   latency stays near the fastest seen and shrinks when latency climbs (the server is
//!   queueing: more concurrency would only add waiting).
//! - Rate: never above `--rate`. A 429 cuts it to a fraction of what was actually being
//!   sent — once a few seconds of answers are known, to just below the rate the server
//!   accepted over them, which is its sustained limit whatever bursts it allows; then it
//!   climbs back quickly towards that and, past it, slowly, so it converges on the
//!   server's limit and finds it again when that rises. A probe that meets no 429 for a
//!   few seconds speeds up, so a rate cut too far (by 429s at the start of a run, when
//!   little had been sent) climbs back to `--rate` within seconds, not minutes.

use std::time::Duration;
use tokio::time::Instant;

/// Headroom over Little's law: latency varies, and a document waits its turn at the gate.
const LITTLE_HEADROOM: f64 = 1.5;
/// Documents in flight beyond Little's law, so a tiny rate × latency still keeps a few.
const LITTLE_EXTRA: f64 = 4.0;
/// The latency assumed before any answer came: high for a cloud API, so a run starts with
/// enough in flight and the first answers bring the limit down to what is needed.
const ASSUMED_LATENCY: Duration = Duration::from_secs(1);
/// In-flight limit at the start of a run without a rate.
const UNLIMITED_START: f64 = 8.0;
/// How often the in-flight limit and the rate are recomputed.
const UPDATE_EVERY: Duration = Duration::from_millis(100);
/// Weight of a new latency sample in the moving average.
const LATENCY_WEIGHT: f64 = 0.1;
/// Latency may grow to this multiple of the fastest seen (plus [`LATENCY_SLACK`]) before
/// the in-flight limit shrinks.
const LATENCY_TOLERANCE: f64 = 2.0;
/// Absolute slack on loopback-fast answers, where a fraction of a millisecond is noise,
/// not queueing. At 5 ms, an unlimited run against the emulator on this machine let
/// documents queue inside refsync until up to 182 were in flight: 5 ms of queue is about
/// 160 answers of 31 µs each. Each of those costs CPU (a connection, a task, a timer), so
/// refsync and the emulator both spent more per request. At 1 ms, up to 52: 120,000
/// documents in 3.41 s against 3.72 s and refsync's CPU 8 % lower (medians of four runs
/// each, in turn).
const LATENCY_SLACK: Duration = Duration::from_millis(1);
/// A request unanswered after this many times the average latency is presumed stalled
/// (see `turns`): its document stops counting against the limit.
const OVERDUE_FACTOR: f64 = 4.0;
/// ... but never sooner than this, where answers come in milliseconds and a busy moment
/// can take ten times as long.
const OVERDUE_FLOOR: Duration = Duration::from_millis(250);

/// What a 429 leaves of the rate that was being sent.
const RATE_CUT: f64 = 0.8;
/// 429s within this time of a cut are the same wave (answers already on their way).
const CUT_HOLD: Duration = Duration::from_millis(500);
/// Time constant of the climb back to the rate that was throttled.
const RECOVERY_SECONDS: f64 = 2.0;
/// Past that rate, the probe's growth per second at first.
const PROBE_PER_SECOND: f64 = 0.03;
/// A probe that has met no 429 for this long grows faster and faster: the rate it
/// climbed back to was too low (cut by 429s at the start of a run, or in a pause, when
/// little had been sent), and the server no longer throttles.
/// (Longer than a probe at the first growth takes to drain the burst of a server whose
/// bucket holds a second of its rate, so that a probe near the server's limit stays slow.)
const PROBE_QUIET: Duration = Duration::from_secs(8);
/// From then on, the probe's growth doubles this often...
const PROBE_DOUBLING: Duration = Duration::from_secs(2);
/// ... up to this growth per second.
const PROBE_MOST: f64 = 1.0;
/// Answers the server accepted are counted over this long, pauses included: over a few
/// seconds that is the rate the server sustains, whatever burst it allowed at first.
const ACCEPTED_WINDOW: Duration = Duration::from_secs(10);
/// The accepted rate is trusted once it covers this long.
const ACCEPTED_TRUSTED: Duration = Duration::from_secs(2);
/// The accepted counts' resolution.
const ACCEPTED_BUCKET: Duration = Duration::from_millis(100);
/// Where the accepted rate is known, a 429 sets the rate this much below it, and the
/// climb back aims at [`TOWARDS_ACCEPTED`] of it: the server's bucket refills during each
/// pause, so the rate accepted over the window still overstates its limit a little.
const BELOW_ACCEPTED: f64 = 0.85;
/// See [`BELOW_ACCEPTED`].
const TOWARDS_ACCEPTED: f64 = 0.97;
/// The rate never falls below this (requests per second).
const MIN_RATE: f64 = 0.5;
/// The achieved rate is measured over windows at least this long.
const RATE_WINDOW: Duration = Duration::from_millis(500);

/// The number of documents allowed in flight, recomputed from latency and rate.
///
/// Two kinds of observation feed it: the latency of each answer (how fast the server is,
/// for the gradient) and each stretch of time a document holds its turn without waiting
/// for the rate gate — a request on the wire, answered or not, and a backoff sleep (for
/// Little's law: a document that times out or sleeps before a retry holds its turn as
/// surely as one waiting for an answer).
#[derive(Debug)]
pub struct InFlightLimit {
    cap: usize,
    limit: f64,
    average: Option<f64>,
    fastest: Option<f64>,
    busy: Option<f64>,
    window_busy: f64,
    window_requests: u32,
    last_update: Option<Instant>,
}

impl InFlightLimit {
    /// The starting limit for a run at `rate` requests per second (`None`: unlimited),
    /// never above `cap` (`--concurrency`).
    pub fn new(cap: usize, rate: Option<f64>) -> Self {
        let cap = cap.max(1);
        let start = match rate {
            Some(rate) => little(rate, ASSUMED_LATENCY.as_secs_f64()),
            None => UNLIMITED_START,
        };
        InFlightLimit {
            cap,
            limit: start.clamp(1.0, cap as f64),
            average: None,
            fastest: None,
            busy: None,
            window_busy: 0.0,
            window_requests: 0,
            last_update: None,
        }
    }

    /// The limit now.
    pub fn current(&self) -> usize {
        self.limit as usize
    }

    /// How long a request may go unanswered before it is presumed stalled: a few times
    /// the average latency (the assumed one before any answer), never less than
    /// [`OVERDUE_FLOOR`].
    pub fn overdue_after(&self) -> Duration {
        let average = self.average.unwrap_or(ASSUMED_LATENCY.as_secs_f64());
        Duration::try_from_secs_f64(average * OVERDUE_FACTOR)
            .unwrap_or(ASSUMED_LATENCY)
            .max(OVERDUE_FLOOR)
    }

    /// Records the latency of one answer.
    pub fn answered(&mut self, latency: Duration) {
        let sample = latency.as_secs_f64();
        let average = match self.average {
            Some(average) => average + LATENCY_WEIGHT * (sample - average),
            None => sample,
        };
        self.average = Some(average);
        self.fastest = Some(self.fastest.map_or(sample, |f| f.min(sample)));
    }

    /// Records time a document held its turn outside the rate gate; `request` when it was
    /// one request's time on the wire (a backoff sleep adds time, not a request).
    pub fn busy(&mut self, time: Duration, request: bool) {
        self.window_busy += time.as_secs_f64();
        self.window_requests += u32::from(request);
    }

    /// Recomputes the limit at most every [`UPDATE_EVERY`] with the rate in force,
    /// returning the new limit when it changed.
    pub fn update(&mut self, rate: Option<f64>, now: Instant) -> Option<usize> {
        if self
            .last_update
            .is_some_and(|last| now.duration_since(last) < UPDATE_EVERY)
        {
            return None;
        }
        self.last_update = Some(now);
        self.close_busy_window();
        let before = self.current();
        self.limit = self.target(rate).clamp(1.0, self.cap as f64);
        (self.current() != before).then_some(self.current())
    }

    /// Folds the window's mean busy time per request into the running mean.
    fn close_busy_window(&mut self) {
        if self.window_requests == 0 {
            return;
        }
        let mean = self.window_busy / f64::from(self.window_requests);
        self.busy = Some(self.busy.map_or(mean, |busy| (busy + mean) / 2.0));
        self.window_busy = 0.0;
        self.window_requests = 0;
    }

    /// Little's law under a rate, further bounded by the latency gradient; the gradient
    /// alone without one.
    fn target(&self, rate: Option<f64>) -> f64 {
        let (Some(average), Some(fastest)) = (self.average, self.fastest) else {
            return self.limit;
        };
        let tolerated = LATENCY_TOLERANCE * fastest + LATENCY_SLACK.as_secs_f64();
        let gradient = (tolerated / average.max(f64::EPSILON)).clamp(0.5, 1.0);
        let by_latency = self.limit * gradient + self.limit.sqrt();
        match rate {
            Some(rate) => {
                let busy = self.busy.unwrap_or(average).max(average);
                little(rate, busy).min(by_latency.max(LITTLE_EXTRA))
            }
            None => by_latency,
        }
    }
}

/// Little's law with headroom: documents in flight needed to start `rate` per second
/// when each takes `latency` seconds.
fn little(rate: f64, latency: f64) -> f64 {
    (rate * latency * LITTLE_HEADROOM + LITTLE_EXTRA).ceil()
}

/// The answers the server accepted (not 429) over the last [`ACCEPTED_WINDOW`].
#[derive(Debug, Default)]
struct Accepted {
    first: Option<Instant>,
    buckets: std::collections::VecDeque<(Instant, u32)>,
}

impl Accepted {
    fn add(&mut self, now: Instant) {
        self.first.get_or_insert(now);
        match self.buckets.back_mut() {
            Some((start, count)) if now.duration_since(*start) < ACCEPTED_BUCKET => *count += 1,
            _ => self.buckets.push_back((now, 1)),
        }
        while self
            .buckets
            .front()
            .is_some_and(|(start, _)| now.duration_since(*start) > ACCEPTED_WINDOW)
        {
            self.buckets.pop_front();
        }
    }

    /// Accepted answers per second over the window, once it covers long enough.
    fn rate(&self, now: Instant) -> Option<f64> {
        let span = now.duration_since(self.first?).min(ACCEPTED_WINDOW);
        if span < ACCEPTED_TRUSTED {
            return None;
        }
        let since = now.checked_sub(span)?;
        let count: u32 = self
            .buckets
            .iter()
            .filter(|(start, _)| *start >= since)
            .map(|(_, count)| count)
            .sum();
        Some(f64::from(count) / span.as_secs_f64())
    }
}

/// The client's own rate, lowered after 429s and raised back while the server allows.
#[derive(Debug)]
pub struct AdaptiveRate {
    ceiling: Option<f64>,
    current: Option<f64>,
    throttled_at: f64,
    last_cut: Option<Instant>,
    last_raise: Option<Instant>,
    /// When the rate, back at the throttled one, began probing past it.
    probing_since: Option<Instant>,
    window_start: Option<Instant>,
    window_count: u64,
    achieved: Option<f64>,
    accepted: Accepted,
}

impl AdaptiveRate {
    /// A rate that starts at, and never exceeds, `ceiling` requests per second
    /// (`None`: unlimited until the first 429).
    pub fn new(ceiling: Option<f64>) -> Self {
        AdaptiveRate {
            ceiling,
            current: ceiling,
            throttled_at: ceiling.unwrap_or(f64::INFINITY),
            last_cut: None,
            last_raise: None,
            probing_since: None,
            window_start: None,
            window_count: 0,
            achieved: None,
            accepted: Accepted::default(),
        }
    }

    /// The rate in force (requests per second), `None` while unlimited.
    pub fn current(&self) -> Option<f64> {
        self.current
    }

    /// The rate in force where it is no longer the ceiling it started at.
    pub fn adapted(&self) -> Option<f64> {
        self.current.filter(|rate| Some(*rate) != self.ceiling)
    }

    /// Counts a request that starts now, for the achieved rate.
    pub fn started(&mut self, now: Instant) {
        let start = *self.window_start.get_or_insert(now);
        self.window_count += 1;
        let elapsed = now.duration_since(start);
        if elapsed >= RATE_WINDOW {
            self.achieved = Some(self.window_count as f64 / elapsed.as_secs_f64());
            self.window_start = Some(now);
            self.window_count = 0;
        }
    }

    /// A 429, once per wave: sets the rate just below what the server accepted over the
    /// last seconds (its sustained limit, bursts averaged out by the pauses between), or,
    /// before that is known, a fraction of what was being sent. Returns the new rate.
    pub fn throttled(&mut self, now: Instant) -> Option<f64> {
        if self
            .last_cut
            .is_some_and(|cut| now.duration_since(cut) < CUT_HOLD)
        {
            return None;
        }
        let sending = match (self.current, self.achieved) {
            (Some(current), Some(achieved)) => current.min(achieved),
            (Some(current), None) => current,
            (None, Some(achieved)) => achieved,
            (None, None) => self.window_rate(now),
        };
        let (limit, cut) = match self.accepted.rate(now) {
            Some(accepted) => (
                accepted * TOWARDS_ACCEPTED,
                sending.min(accepted) * BELOW_ACCEPTED,
            ),
            None => (sending, sending * RATE_CUT),
        };
        // The floor never lifts a slow `--rate` (say 5/h) above itself.
        let floor = self
            .ceiling
            .map_or(MIN_RATE, |ceiling| MIN_RATE.min(ceiling * RATE_CUT));
        self.throttled_at = limit.max(floor);
        let cut = cut.max(floor);
        self.current = Some(cut);
        self.last_cut = Some(now);
        self.last_raise = Some(now);
        self.probing_since = None;
        Some(cut)
    }

    /// An answer that was not a 429: raises the rate (at most every [`UPDATE_EVERY`]),
    /// returning the new rate when it changed.
    pub fn answered(&mut self, now: Instant) -> Option<f64> {
        self.accepted.add(now);
        let current = self.current?;
        let last = *self.last_raise.get_or_insert(now);
        let elapsed = now.duration_since(last);
        if elapsed < UPDATE_EVERY {
            return None;
        }
        self.last_raise = Some(now);
        // A long silence (a run-wide pause) is no evidence that the server allows more;
        // at a slow rate, answers come that far apart.
        let most = (2.0 * UPDATE_EVERY.as_secs_f64()).max(2.0 / current);
        let seconds = elapsed.as_secs_f64().min(most);
        let next = self.raised(current, seconds, now);
        let next = self.ceiling.map_or(next, |ceiling| next.min(ceiling));
        (next != current).then(|| {
            self.current = Some(next);
            next
        })
    }

    /// Quickly back towards the rate that was throttled; past it, a probe, slow at first
    /// and faster the longer no 429 comes, and only while the client actually sends at
    /// its rate (no wind-up while the server is slow).
    fn raised(&mut self, current: f64, seconds: f64, now: Instant) -> f64 {
        if current < self.throttled_at * 0.98 {
            let step = 1.0 - (-seconds / RECOVERY_SECONDS).exp();
            return current + (self.throttled_at - current) * step;
        }
        let probing = now.duration_since(*self.probing_since.get_or_insert(now));
        let quiet = probing.saturating_sub(PROBE_QUIET).as_secs_f64();
        let growth = PROBE_PER_SECOND * (quiet / PROBE_DOUBLING.as_secs_f64()).exp2();
        match self.achieved {
            Some(achieved) if achieved >= 0.8 * current => {
                current * (1.0 + growth.min(PROBE_MOST) * seconds)
            }
            // Time the client could not keep up is no quiet time of the probe's.
            _ => {
                self.probing_since = Some(now);
                current
            }
        }
    }

    /// A run-wide pause (a 429's `Retry-After`) ended: the rate achieved is measured
    /// afresh, so that the time paused does not pass for a slow client, whose next 429
    /// would cut the rate to a fraction of that.
    pub fn resumed(&mut self, now: Instant) {
        self.window_start = Some(now);
        self.window_count = 0;
        self.achieved = None;
    }

    /// The rate of the window still open, for a 429 before any window closed.
    fn window_rate(&self, now: Instant) -> f64 {
        let elapsed = self
            .window_start
            .map_or(0.0, |start| now.duration_since(start).as_secs_f64());
        self.window_count as f64 / elapsed.max(0.1)
    }
}

#[cfg(test)]
#[path = "adaptive_tests.rs"]
mod tests;
