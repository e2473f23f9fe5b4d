//! Pacing: every request, first try or retry, GET or PATCH, waits here for three things in
//! turn — the run-wide pause after a 429, a permit of the one rate limiter, and a free
//! slot under `--concurrency`.
//!
//! The rate limiter sits behind [`RateGate`] because governor waits on its own clock:
//! tokio's paused test time does not move it, so tests use [`NoLimit`] or a counting fake.
//! The pause and the slots are on tokio time and are exercised by the tests as they are.

use super::RateLimit;
use super::transport::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// A rate limiter: resolves when one more request may start.
pub trait RateGate: Send + Sync {
    /// Waits for, and takes, one permit.
    fn until_ready(&self) -> BoxFuture<'_, ()>;
}

/// No client-side limit (`--rate unlimited`), and the no-wait gate of tests.
#[derive(Debug, Default)]
pub struct NoLimit;

impl RateGate for NoLimit {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// `--rate N/period` with `--burst`, on governor's GCRA.
pub struct GovernorGate(DefaultDirectRateLimiter);

impl RateGate for GovernorGate {
    fn until_ready(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.until_ready())
    }
}

/// The gate for a configured rate. The burst is set on purpose: governor's own
/// `per_second(n)` would allow a burst of n, which is not what `--burst 1` means.
pub fn rate_gate(rate: RateLimit, burst: u32) -> Arc<dyn RateGate> {
    let RateLimit::Every { count, period } = rate else {
        return Arc::new(NoLimit);
    };
    let interval = period / count.max(1);
    // A zero interval (billions per second) is no limit worth enforcing.
    match Quota::with_period(interval) {
        Some(quota) => {
            let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
            Arc::new(GovernorGate(RateLimiter::direct(quota.allow_burst(burst))))
        }
        None => Arc::new(NoLimit),
    }
}

/// The run-wide pacing every request goes through.
pub struct Pacer {
    gate: Arc<dyn RateGate>,
    slots: Arc<Semaphore>,
    paused_until: Mutex<Option<Instant>>,
}

/// Held while a request is in flight; dropping it frees the slot.
#[derive(Debug)]
pub struct Admission {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Pacer {
    /// Pacing through `gate` with at most `concurrency` requests in flight.
    pub fn new(gate: Arc<dyn RateGate>, concurrency: usize) -> Self {
        Pacer {
            gate,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits until a request may start, then holds its slot until the admission drops.
    pub async fn admit(&self) -> Admission {
        self.wait_out_pause().await;
        self.gate.until_ready().await;
        // The semaphore is never closed, so an error cannot happen; `None` just admits.
        Admission {
            _slot: self.slots.clone().acquire_owned().await.ok(),
        }
    }

    /// Pauses every request for `wait` from now (a 429); a longer pause already set stays.
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut paused = self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "throttled: pausing every worker"
            );
        }
    }

    /// Sleeps until no pause is in force; a pause extended meanwhile is waited out too.
    async fn wait_out_pause(&self) {
        loop {
            let until = *self.paused_until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_back_every_later_request() {
        let pacer = Pacer::new(Arc::new(NoLimit), 4);
        let start = Instant::now();
        pacer.pause_for(Duration::from_secs(7));
        pacer.pause_for(Duration::from_secs(2));
        let _ = pacer.admit().await;
        assert_eq!(start.elapsed().as_secs(), 7);
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_concurrency_requests_are_admitted_at_once() {
        let pacer = Pacer::new(Arc::new(NoLimit), 2);
        let first = pacer.admit().await;
        let _second = pacer.admit().await;
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.admit()).await;
        assert!(third.is_err());
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), pacer.admit()).await;
        assert!(third.is_ok());
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
    }
}
