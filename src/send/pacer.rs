//! Pacing: a document waits for a turn (the adaptive in-flight limit, never above
//! `--concurrency`); then every request of it, first try or retry, GET or PATCH, waits for
//! the run-wide pause after a 429 and a permit of the one rate limiter.
//!
//! Answers feed back: each latency moves the in-flight limit, each 429 lowers the rate
//! and each other answer lets it climb back, never above `--rate` (see `adaptive`).
//!
//! The rate limiter sits behind [`RateGate`] because governor waits on its own clock:
//! tokio's paused test time does not move it, so tests use [`NoLimit`] or a counting fake.
//! The pause and the turns are on tokio time and are exercised by the tests as they are.

use super::RateLimit;
use super::adaptive::{AdaptiveRate, InFlightLimit};
use super::overdue::WireBook;
use super::transport::BoxFuture;
use super::turns::{Turn, Turns};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A pause for a 429 at least this long is logged as a warning, not only at `-v`.
const LONG_PAUSE: Duration = Duration::from_secs(30);

/// How often the run's watchdog looks for requests presumed stalled: well under the
/// shortest time after which one is (`adaptive::OVERDUE_FLOOR`).
const WATCH_EVERY: Duration = Duration::from_millis(50);

/// A rate limiter: resolves when one more request may start.
pub trait RateGate: Send + Sync {
    /// Waits for, and takes, one permit.
    fn until_ready(&self) -> BoxFuture<'_, ()>;

    /// Sets the rate to `per_second`, the next permit one interval of it away (a new rate
    /// is no new burst); gates with a fixed behaviour ignore it.
    fn set_rate(&self, _per_second: f64) {}

    /// Starts afresh at the same rate, with only the burst allowed at once (after a 429
    /// pause); gates with a fixed behaviour ignore it.
    fn restart(&self) {}
}

/// No client-side limit, and the no-wait gate of tests.
#[derive(Debug, Default)]
pub struct NoLimit;

impl RateGate for NoLimit {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// `--rate N/period` with `--burst`, on governor's GCRA, at a rate the run may lower and
/// raise again. Governor's quota is fixed, so a new rate is a new limiter; a request that
/// got its permit from a replaced limiter waits for one of the new limiter too, so a cut
/// holds back the requests already waiting.
///
/// A new rate is not a new burst: its limiter starts empty, the next permit one interval
/// of the new rate away. (A fresh one let a request through at once after each raise, the
/// first answer after a 429 pause included: two requests at one instant under `--burst
/// 1`.) The cost is up to one interval per change, while the rate recovers after 429s.
pub struct GovernorGate {
    burst: NonZeroU32,
    current: Mutex<Limiter>,
}

/// The limiter in force, numbered so that a waiter can tell it was replaced.
struct Limiter {
    generation: u64,
    per_second: Option<f64>,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
}

impl GovernorGate {
    /// A gate at `per_second` (`None`: unlimited until a rate is set).
    pub fn new(per_second: Option<f64>, burst: u32) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        GovernorGate {
            burst,
            current: Mutex::new(Limiter {
                generation: 0,
                per_second,
                limiter: per_second.and_then(|r| limiter(r, burst)),
            }),
        }
    }

    fn current(&self) -> (u64, Option<Arc<DefaultDirectRateLimiter>>) {
        let current = self.lock();
        (current.generation, current.limiter.clone())
    }

    /// Puts a new limiter at `per_second` in force: `fresh` with its burst to give, or
    /// empty.
    fn replace(&self, per_second: Option<f64>, fresh: bool) {
        let mut current = self.lock();
        current.generation += 1;
        current.per_second = per_second;
        current.limiter = per_second.and_then(|r| limiter(r, self.burst));
        if let Some(limiter) = current.limiter.as_ref().filter(|_| !fresh) {
            for _ in 0..self.burst.get() {
                // Emptying a bucket that holds exactly `burst` cells cannot be refused.
                let _taken = limiter.check();
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Limiter> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RateGate for GovernorGate {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let (generation, limiter) = self.current();
                let Some(limiter) = limiter else { return };
                limiter.until_ready().await;
                if self.current().0 == generation {
                    return;
                }
            }
        })
    }

    fn set_rate(&self, per_second: f64) {
        self.replace(Some(per_second), false);
    }

    fn restart(&self) {
        let per_second = self.lock().per_second;
        self.replace(per_second, true);
    }
}

/// A limiter at `per_second` that lets `burst` through at once; `None` when the rate is
/// too high to enforce.
///
/// Its bucket holds one cell more, taken at once: a fresh limiter lets exactly `burst`
/// through, but a waiter that wakes a timer tick late can make that time up on the next
/// request instead of losing it for good (with no tolerance at all, 200/s came out near
/// 192/s). The cell is there again only after the gate went unused for a whole interval,
/// so the rate over any window stays `per_second`; a 429 pause starts a fresh limiter.
fn limiter(per_second: f64, burst: NonZeroU32) -> Option<Arc<DefaultDirectRateLimiter>> {
    let interval = Duration::try_from_secs_f64(1.0 / per_second).ok()?;
    // A zero interval (billions per second) is no limit worth enforcing.
    let quota = Quota::with_period(interval)?.allow_burst(burst.saturating_add(1));
    let limiter = RateLimiter::direct(quota);
    // The slack cell, taken now; a full bucket of burst + 1 cannot refuse it.
    let _slack = limiter.check();
    Some(Arc::new(limiter))
}

/// When `pause` ends, if it is in force now.
fn pause_end(pause: &Pause) -> Option<Instant> {
    pause.until.filter(|until| *until > Instant::now())
}

fn is_paused(pause: &Pause) -> bool {
    pause_end(pause).is_some()
}

/// Requests per second of a configured rate; `None` for unlimited.
pub fn per_second(rate: RateLimit) -> Option<f64> {
    match rate {
        RateLimit::Unlimited => None,
        RateLimit::Every { count, period } => Some(f64::from(count) / period.as_secs_f64()),
    }
}

/// The gate for a configured rate. The burst is set on purpose: governor's own
/// `per_second(n)` would allow a burst of n, which is not what `--burst 1` means.
pub fn rate_gate(rate: RateLimit, burst: u32) -> Arc<dyn RateGate> {
    Arc::new(GovernorGate::new(per_second(rate), burst))
}

/// The feedback loops, updated together under one lock.
#[derive(Debug)]
struct Feedback {
    in_flight: InFlightLimit,
    rate: AdaptiveRate,
}

/// The run-wide pause after a 429.
#[derive(Debug, Default)]
struct Pause {
    /// When it ends; `None` before the first 429.
    until: Option<Instant>,
    /// The pause is set and the gate not restarted since: the first request let go after
    /// it ends restarts the gate.
    restart_due: bool,
}

/// The run-wide pacing every document and request goes through.
pub struct Pacer {
    gate: Arc<dyn RateGate>,
    turns: Arc<Turns>,
    wire: WireBook,
    pause: Mutex<Pause>,
    feedback: Mutex<Feedback>,
}

impl Pacer {
    /// Pacing through `gate` at `rate` (the ceiling of the adaptive rate), with at most
    /// `concurrency` documents in flight.
    pub fn new(gate: Arc<dyn RateGate>, concurrency: usize, rate: RateLimit) -> Self {
        let ceiling = per_second(rate);
        let in_flight = InFlightLimit::new(concurrency, ceiling);
        Pacer {
            gate,
            turns: Turns::new(in_flight.current(), concurrency),
            wire: WireBook::default(),
            pause: Mutex::new(Pause::default()),
            feedback: Mutex::new(Feedback {
                in_flight,
                rate: AdaptiveRate::new(ceiling),
            }),
        }
    }

    /// Waits until one more document may be in flight; it is until the turn drops.
    pub async fn turn(&self) -> Turn {
        self.turns.take().await
    }

    /// Waits until a request may start: the 429 pause, then a rate permit. A pause that
    /// began while the request waited for its permit holds it back too, and it takes a
    /// fresh permit afterwards (so the requests held back do not all go at once).
    ///
    /// The gate is restarted when the pause ends, not when it begins: a limiter left
    /// unused through the pause fills up again, and would let a burst larger than
    /// `--burst` through the moment the pause ends (a retry and a fresh request at once
    /// under `--burst 1`). A permit taken after the pause but before that restart is not
    /// used either.
    pub async fn admit(&self) {
        loop {
            self.wait_out_pause().await;
            self.restart_after_pause();
            self.gate.until_ready().await;
            let pause = self.pause();
            if !is_paused(&pause) && !pause.restart_due {
                break;
            }
        }
        self.feedback().rate.started(Instant::now());
    }

    /// Restarts the gate once a pause has ended, for the first request to get there.
    fn restart_after_pause(&self) {
        let mut pause = self.pause();
        if pause.restart_due && !is_paused(&pause) {
            pause.restart_due = false;
            // What the pause left unused is not a burst to send now.
            self.gate.restart();
            drop(pause);
            self.feedback().rate.resumed(Instant::now());
        }
    }

    /// When the pause in force ends; `None` when none is.
    fn pause_end(&self) -> Option<Instant> {
        pause_end(&self.pause())
    }

    fn pause(&self) -> MutexGuard<'_, Pause> {
        self.pause.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Carries `request` on the wire, entered in the book the watchdog reads
    /// ([`Pacer::watch_overdue`]). Returns the request's output and the time it counted
    /// against the in-flight limit (its whole time unless it was excused as stalled), for
    /// [`Pacer::request_ended`].
    pub async fn on_wire<T>(&self, request: impl Future<Output = T>) -> (T, Duration) {
        let ticket = self.wire.enter(Instant::now());
        let output = request.await;
        (output, ticket.leave(Instant::now()))
    }

    /// The run's watchdog, until dropped: every [`WATCH_EVERY`], a request unanswered for
    /// [`InFlightLimit::overdue_after`] is presumed stalled and its document excused from
    /// the in-flight limit until it ends (see `turns`), so a connection that never answers
    /// holds up nothing but its own document until `--timeout`.
    pub async fn watch_overdue(&self) {
        let mut ticks = tokio::time::interval(WATCH_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let overdue_after = self.feedback().in_flight.overdue_after();
            let excused = self
                .wire
                .excuse_overdue(&self.turns, overdue_after, Instant::now());
            if excused > 0 {
                tracing::debug!(
                    excused,
                    overdue_ms = overdue_after.as_millis() as u64,
                    "requests presumed stalled: other documents may start beside them"
                );
            }
        }
    }

    /// Feeds one request's end back: `answer` is its status where one came; `on_wire` the
    /// time it took, as far as it counted against the in-flight limit. A 429 lowers the
    /// rate, any other answer lets it climb back.
    pub fn request_ended(&self, answer: Option<u16>, on_wire: Duration) {
        let now = Instant::now();
        let mut feedback = self.feedback();
        feedback.in_flight.busy(on_wire, true);
        let new_rate = match answer {
            Some(429) => feedback.rate.throttled(now),
            Some(_) => {
                feedback.in_flight.answered(on_wire);
                feedback.rate.answered(now)
            }
            None => None,
        };
        self.apply(feedback, new_rate, now);
    }

    /// A document sleeps `wait` before a retry, holding its turn (not for a 429: that is
    /// a pause of every document, not time one of them needs).
    pub fn backing_off(&self, wait: Duration) {
        let now = Instant::now();
        let mut feedback = self.feedback();
        feedback.in_flight.busy(wait, false);
        self.apply(feedback, None, now);
    }

    /// Recomputes the in-flight limit and hands new values to the gate and the turns.
    fn apply(&self, mut feedback: MutexGuard<'_, Feedback>, new_rate: Option<f64>, now: Instant) {
        let rate = feedback.rate.current();
        let new_limit = feedback.in_flight.update(rate, now);
        drop(feedback);
        if let Some(rate) = new_rate {
            tracing::debug!(rate = format!("{rate:.1}/s"), "adapted the rate");
            self.gate.set_rate(rate);
        }
        if let Some(limit) = new_limit {
            tracing::trace!(limit, "adapted the documents in flight");
            self.turns.set_limit(limit);
        }
    }

    /// The rate in force now where 429s made the run change it from `--rate` (requests
    /// per second); `None` while it is `--rate` (or unlimited).
    pub fn adapted_rate(&self) -> Option<f64> {
        self.feedback().rate.adapted()
    }

    /// Pauses every request for `wait` from now (a 429); a longer pause already set stays.
    /// The gate restarts when the pause ends (see [`Pacer::admit`]).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut pause = self.pause();
        if pause.until.is_none_or(|current| current < until) {
            pause.until = Some(until);
            pause.restart_due = true;
            let wait_ms = wait.as_millis() as u64;
            // A long pause shows at the default level: an unattended run that sits idle for
            // minutes says why.
            if wait >= LONG_PAUSE {
                tracing::warn!(
                    wait_ms,
                    "throttled: the API asked for a pause of {} s (Retry-After); every worker \
                     waits it out",
                    wait.as_secs()
                );
            } else {
                tracing::info!(wait_ms, "throttled: pausing every worker");
            }
        }
    }

    /// Sleeps until no pause is in force; a pause extended meanwhile is waited out too.
    async fn wait_out_pause(&self) {
        while let Some(until) = self.pause_end() {
            tokio::time::sleep_until(until).await;
        }
    }

    fn feedback(&self) -> MutexGuard<'_, Feedback> {
        self.feedback.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_later_request() {
        let pacer = Pacer::new(Arc::new(NoLimit), 4, RateLimit::Unlimited);
        let start = Instant::now();
        pacer.pause_for(Duration::from_secs(7));
        pacer.pause_for(Duration::from_secs(2));
        pacer.admit().await;
        assert_eq!(start.elapsed().as_secs(), 7);
    }

    /// A gate that waits two seconds for every permit.
    struct SlowGate;

    impl RateGate for SlowGate {
        fn until_ready(&self) -> BoxFuture<'_, ()> {
            Box::pin(tokio::time::sleep(Duration::from_secs(2)))
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_that_begins_while_a_request_waits_for_its_permit_holds_it_back() {
        let pacer = Arc::new(Pacer::new(Arc::new(SlowGate), 4, RateLimit::Unlimited));
        let start = Instant::now();
        let waiting = tokio::spawn({
            let pacer = Arc::clone(&pacer);
            async move { pacer.admit().await }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        pacer.pause_for(Duration::from_secs(5));
        waiting.await.expect("admitted");
        // Paused until 6 s, then a fresh permit: 8 s, not the 2 s of the first permit.
        assert_eq!(start.elapsed().as_secs(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn the_burst_holds_when_a_pause_ends() {
        let interval = Duration::from_millis(100);
        let gate = Arc::new(crate::send::tests::Bucket::new(interval, 1));
        let pacer = Arc::new(Pacer::new(gate, 4, RateLimit::Unlimited));
        let start = Instant::now();
        pacer.admit().await;
        pacer.pause_for(Duration::from_secs(5));
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let pacer = Arc::clone(&pacer);
                tokio::spawn(async move {
                    pacer.admit().await;
                    start.elapsed()
                })
            })
            .collect();
        let mut admitted = Vec::new();
        for waiter in waiting {
            admitted.push(waiter.await.expect("admitted"));
        }
        admitted.sort();
        // One at the end of the pause, then one per interval: the limiter left unused
        // through the pause does not let two go at once.
        let ms = Duration::from_millis;
        assert_eq!(admitted, [ms(5000), ms(5100), ms(5200)]);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_concurrency_documents_are_in_flight_at_once() {
        let pacer = Pacer::new(Arc::new(NoLimit), 2, RateLimit::Unlimited);
        let first = pacer.turn().await;
        let _second = pacer.turn().await;
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.turn()).await;
        assert!(third.is_err());
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.turn()).await;
        assert!(third.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_lowers_the_rate_below_the_configured_one() {
        let rate = RateLimit::Every {
            count: 100,
            period: Duration::from_secs(1),
        };
        let pacer = Pacer::new(Arc::new(NoLimit), 8, rate);
        assert_eq!(pacer.adapted_rate(), None);
        pacer.request_ended(Some(429), Duration::from_millis(10));
        assert!(pacer.adapted_rate().is_some_and(|r| r < 100.0));
    }

    #[tokio::test]
    async fn a_governor_gate_that_is_unlimited_lets_everything_through_until_a_rate_is_set() {
        let gate = GovernorGate::new(None, 1);
        for _ in 0..1000 {
            gate.until_ready().await;
        }
        gate.set_rate(1.0 / 3600.0);
        let held = tokio::time::timeout(Duration::from_millis(50), gate.until_ready()).await;
        assert!(held.is_err(), "one an hour, and a new rate is no new burst");
    }

    #[tokio::test]
    async fn a_new_rate_gives_no_burst_and_a_restart_gives_one() {
        let gate = GovernorGate::new(Some(1.0 / 3600.0), 1);
        let burst = tokio::time::timeout(Duration::from_secs(1), gate.until_ready()).await;
        assert!(burst.is_ok(), "a fresh gate lets its burst of one through");
        gate.set_rate(2.0 / 3600.0);
        let held = tokio::time::timeout(Duration::from_millis(50), gate.until_ready()).await;
        assert!(
            held.is_err(),
            "the request just let go still counts at the new rate"
        );
        gate.restart();
        let burst = tokio::time::timeout(Duration::from_secs(1), gate.until_ready()).await;
        assert!(
            burst.is_ok(),
            "a restart (the end of a 429 pause) lets one through"
        );
    }

    #[tokio::test]
    async fn a_governor_gate_allows_its_burst_at_once() {
        let gate = rate_gate(
            RateLimit::Every {
                count: 1,
                period: Duration::from_secs(3600),
            },
            3,
        );
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(1), gate.until_ready())
                .await
                .expect("within the burst");
        }
        let beyond = tokio::time::timeout(Duration::from_millis(50), gate.until_ready()).await;
        assert!(beyond.is_err(), "past the burst, a request waits its turn");
    }
}
