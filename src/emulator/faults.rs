//! Injected faults: seeded draws for latency, failures, drops, stalls and conflicts, and
//! the throttle's token bucket.
//!
//! Every draw comes from one `StdRng` seeded with `--fault-seed`, taken once per request
//! in a fixed order, and only for the faults that are switched on, so a sequential run
//! repeats exactly and enabling one fault does not reshuffle the others.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::Faults;

/// The statuses `--fail-rate` answers with.
const FAILURES: [StatusCode; 4] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
    StatusCode::GATEWAY_TIMEOUT,
];

/// Latency varies by up to this share either way, so that clients see a spread.
const JITTER: f64 = 0.2;

/// What the dice said for one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Draws {
    /// Delay before answering.
    pub latency: Duration,
    /// Never answer.
    pub stall: bool,
    /// Answer this 5xx before doing anything.
    pub fail: Option<StatusCode>,
    /// Let another writer change the referral first (PATCH only).
    pub conflict: bool,
    /// Apply, then drop the connection unanswered (PATCH only).
    pub drop: bool,
}

/// The fault generator of one emulator.
#[derive(Debug)]
pub struct Injector {
    faults: Faults,
    rng: Mutex<StdRng>,
    bucket: Option<Mutex<Bucket>>,
}

impl Injector {
    /// A generator for `faults`, seeded with its `fault_seed`.
    pub fn new(faults: &Faults) -> Injector {
        Injector {
            faults: faults.clone(),
            rng: Mutex::new(StdRng::seed_from_u64(faults.fault_seed)),
            bucket: faults.throttle.map(|rate| Mutex::new(Bucket::new(rate))),
        }
    }

    /// Draws this request's faults; `is_patch` adds the faults that only writes have.
    pub fn draw(&self, is_patch: bool) -> Draws {
        let f = &self.faults;
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        let mut hit = |rate: f64| rate > 0.0 && rng.random_bool(rate.min(1.0));
        let stall = hit(f.stall_rate);
        let failed = hit(f.fail_rate);
        let conflict = is_patch && hit(f.conflict_rate);
        let drop = is_patch && hit(f.drop_rate);
        let fail = failed.then(|| FAILURES[rng.random_range(0..FAILURES.len())]);
        let latency = match f.latency_ms {
            0 => Duration::ZERO,
            ms => Duration::from_secs_f64(
                ms as f64 / 1000.0 * rng.random_range(1.0 - JITTER..=1.0 + JITTER),
            ),
        };
        Draws {
            latency,
            stall,
            fail,
            conflict,
            drop,
        }
    }

    /// Takes a token from the throttle's bucket. `Err` carries the `Retry-After` seconds
    /// to send (`None` under `--no-retry-after`).
    pub fn throttle(&self) -> Result<(), Option<u64>> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        let mut bucket = bucket.lock().unwrap_or_else(PoisonError::into_inner);
        match bucket.take(Instant::now()) {
            Ok(()) => Ok(()),
            Err(_) if self.faults.no_retry_after => Err(None),
            Err(wait) => Err(Some(whole_seconds(wait))),
        }
    }
}

/// `Retry-After` is whole seconds; rounding down could tell a client to retry at once.
fn whole_seconds(wait: Duration) -> u64 {
    (wait.as_secs_f64().ceil() as u64).max(1)
}

/// A token bucket: `rate` tokens a second, holding at most `rate`.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn new(rate: u32) -> Bucket {
        let rate = f64::from(rate.max(1));
        Bucket {
            rate,
            tokens: rate,
            last: Instant::now(),
        }
    }

    /// Takes one token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(fail_rate: f64, seed: u64) -> Faults {
        Faults {
            fail_rate,
            fault_seed: seed,
            ..Faults::default()
        }
    }

    fn failures(injector: &Injector, n: usize) -> Vec<Option<StatusCode>> {
        (0..n).map(|_| injector.draw(true).fail).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_failures() {
        let a = failures(&Injector::new(&faults(0.5, 42)), 50);
        let b = failures(&Injector::new(&faults(0.5, 42)), 50);
        let c = failures(&Injector::new(&faults(0.5, 43)), 50);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().flatten().all(|s| FAILURES.contains(s)));
        assert!(a.iter().any(Option::is_some) && a.iter().any(Option::is_none));
    }

    #[test]
    fn no_faults_draw_nothing() {
        assert_eq!(
            Injector::new(&Faults::default()).draw(true),
            Draws::default()
        );
    }

    #[test]
    fn latency_jitters_within_twenty_percent() {
        let injector = Injector::new(&Faults {
            latency_ms: 100,
            ..Faults::default()
        });
        for _ in 0..100 {
            let ms = injector.draw(false).latency.as_millis();
            assert!((80..=120).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn writes_only_faults_never_hit_reads() {
        let injector = Injector::new(&Faults {
            drop_rate: 1.0,
            conflict_rate: 1.0,
            ..Faults::default()
        });
        assert_eq!(injector.draw(false), Draws::default());
        let write = injector.draw(true);
        assert!(write.drop && write.conflict);
    }

    #[test]
    fn the_bucket_holds_its_rate_and_refills_over_time() {
        let mut bucket = Bucket::new(2);
        let start = bucket.last;
        assert!(bucket.take(start).is_ok());
        assert!(bucket.take(start).is_ok());
        let wait = bucket.take(start).unwrap_err();
        assert_eq!(wait, Duration::from_millis(500));
        assert!(bucket.take(start + Duration::from_millis(500)).is_ok());
    }

    #[test]
    fn retry_after_is_at_least_one_whole_second() {
        assert_eq!(whole_seconds(Duration::from_millis(10)), 1);
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
    }
}
