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
use super::transport::BoxFuture;
use super::turns::{Turn, Turns};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// A rate limiter: resolves when one more request may start.
pub trait RateGate: Send + Sync {
    /// Waits for, and takes, one permit.
    fn until_ready(&self) -> BoxFuture<'_, ()>;

    /// Sets the rate to `per_second`; gates with a fixed behaviour ignore it.
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

    /// Puts a fresh limiter at `per_second` in force.
    fn replace(&self, per_second: Option<f64>) {
        let mut current = self.lock();
        current.generation += 1;
        current.per_second = per_second;
        current.limiter = per_second.and_then(|r| limiter(r, self.burst));
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
        self.replace(Some(per_second));
    }

    fn restart(&self) {
        let per_second = self.lock().per_second;
        self.replace(per_second);
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

/// The run-wide pacing every document and request goes through.
pub struct Pacer {
    gate: Arc<dyn RateGate>,
    turns: Arc<Turns>,
    paused_until: Mutex<Option<Instant>>,
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
            turns: Turns::new(in_flight.current()),
            paused_until: Mutex::new(None),
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
    pub async fn admit(&self) {
        loop {
            self.wait_out_pause().await;
            self.gate.until_ready().await;
            if !self.is_paused() {
                break;
            }
        }
        self.feedback().rate.started(Instant::now());
    }

    fn is_paused(&self) -> bool {
        self.pause_end().is_some()
    }

    /// When the pause in force ends; `None` when none is.
    fn pause_end(&self) -> Option<Instant> {
        let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        until.filter(|until| *until > Instant::now())
    }

    /// Feeds one request's end back: `answer` is its status where one came; `on_wire` the
    /// time it took. A 429 lowers the rate, any other answer lets it climb back.
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

    /// The most documents in flight at once so far.
    pub fn peak_in_flight(&self) -> usize {
        self.turns.peak()
    }

    /// The rate in force now where 429s made the run change it from `--rate` (requests
    /// per second); `None` while it is `--rate` (or unlimited).
    pub fn adapted_rate(&self) -> Option<f64> {
        self.feedback().rate.adapted()
    }

    /// Pauses every request for `wait` from now (a 429); a longer pause already set stays.
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            // What the pause leaves unused is not a burst to send when it ends.
            self.gate.restart();
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "throttled: pausing every worker"
            );
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
        gate.until_ready().await;
        let held = tokio::time::timeout(Duration::from_millis(50), gate.until_ready()).await;
        assert!(held.is_err(), "one an hour: the second waits");
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
