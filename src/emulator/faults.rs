//! Injected faults: seeded draws for latency, failures, drops, stalls and conflicts, and
//! the throttle's token bucket.
//!
//! Every draw is a hash of `--fault-seed`, the request (its method and referral ID, and
//! how many such requests came before it) and the fault it decides: a run repeats
//! whatever order its requests arrive in, concurrent ones included (a single sequence of
//! draws gave each fault to whichever request came next, so that two runs of one file
//! faulted different documents), and switching one fault on leaves the others' draws as
//! they were.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::http::StatusCode;
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
    /// Requests seen so far per referral ID (empty for a listing): other requests, then
    /// PATCHes.
    seen: Mutex<[HashMap<String, u64>; 2]>,
    bucket: Option<Mutex<Bucket>>,
}

/// What one draw decides; each has draws of its own.
#[derive(Clone, Copy, Hash)]
enum Decides {
    Stall,
    Fail,
    Which5xx,
    Conflict,
    Drop,
    Latency,
}

/// One request's draws: uniform numbers in [0, 1), one per decision.
struct Dice<'a> {
    seed: u64,
    is_patch: bool,
    id: &'a str,
    nth: u64,
}

impl Dice<'_> {
    fn roll(&self, decides: Decides) -> f64 {
        let mut hasher = DefaultHasher::new();
        (self.seed, self.is_patch, self.id, self.nth, decides).hash(&mut hasher);
        // The top 53 bits, as an f64 in [0, 1).
        (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn hit(&self, decides: Decides, rate: f64) -> bool {
        rate > 0.0 && self.roll(decides) < rate
    }
}

impl Injector {
    /// A generator for `faults`, seeded with its `fault_seed`.
    pub fn new(faults: &Faults) -> Injector {
        Injector {
            faults: faults.clone(),
            seen: Mutex::new([HashMap::new(), HashMap::new()]),
            bucket: faults.throttle.map(|rate| Mutex::new(Bucket::new(rate))),
        }
    }

    /// Draws the faults of a request for referral `id` (empty for a listing);
    /// `is_patch` adds the faults that only writes have.
    pub fn draw(&self, is_patch: bool, id: &str) -> Draws {
        let f = &self.faults;
        let random = [f.stall_rate, f.fail_rate, f.conflict_rate, f.drop_rate];
        if f.latency_ms == 0 && random.iter().all(|&rate| rate <= 0.0) {
            return Draws::default();
        }
        let dice = Dice {
            seed: f.fault_seed,
            is_patch,
            id,
            nth: self.count(is_patch, id),
        };
        let failed = dice.hit(Decides::Fail, f.fail_rate);
        let which = (dice.roll(Decides::Which5xx) * FAILURES.len() as f64) as usize;
        let latency = match f.latency_ms {
            0 => Duration::ZERO,
            ms => {
                let jitter = 1.0 - JITTER + 2.0 * JITTER * dice.roll(Decides::Latency);
                Duration::from_secs_f64(ms as f64 / 1000.0 * jitter)
            }
        };
        Draws {
            latency,
            stall: dice.hit(Decides::Stall, f.stall_rate),
            fail: failed.then(|| FAILURES[which.min(FAILURES.len() - 1)]),
            conflict: is_patch && dice.hit(Decides::Conflict, f.conflict_rate),
            drop: is_patch && dice.hit(Decides::Drop, f.drop_rate),
        }
    }

    /// How many requests of this method for `id` came before this one.
    fn count(&self, is_patch: bool, id: &str) -> u64 {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = &mut seen[usize::from(is_patch)];
        // The ID is copied only the first time it is seen.
        match seen.get_mut(id) {
            Some(count) => {
                *count += 1;
                *count - 1
            }
            None => {
                seen.insert(id.to_string(), 1);
                0
            }
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

    /// The failures drawn for `ids` in that order, each asked `tries` times, by ID.
    fn failures(injector: &Injector, ids: &[String], tries: usize) -> Vec<Vec<Option<StatusCode>>> {
        let mut drawn: HashMap<&str, Vec<Option<StatusCode>>> = HashMap::new();
        for _ in 0..tries {
            for id in ids {
                drawn
                    .entry(id)
                    .or_default()
                    .push(injector.draw(true, id).fail);
            }
        }
        let mut by_id: Vec<_> = drawn.into_iter().collect();
        by_id.sort();
        by_id.into_iter().map(|(_, fails)| fails).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_failures_in_any_order() {
        let ids: Vec<String> = (0..50).map(|n| format!("r{n}")).collect();
        let reversed: Vec<String> = ids.iter().rev().cloned().collect();
        let a = failures(&Injector::new(&faults(0.5, 42)), &ids, 3);
        let b = failures(&Injector::new(&faults(0.5, 42)), &reversed, 3);
        let c = failures(&Injector::new(&faults(0.5, 43)), &ids, 3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let all: Vec<_> = a.iter().flatten().collect();
        assert!(all.iter().copied().flatten().all(|s| FAILURES.contains(s)));
        for status in FAILURES {
            assert!(all.contains(&&Some(status)), "{status}");
        }
        assert!(all.contains(&&None));
        // A retry of one request draws afresh.
        assert!(a.iter().any(|tries| tries[0] != tries[1]));
    }

    #[test]
    fn switching_a_fault_on_leaves_the_others_draws_alone() {
        let ids: Vec<String> = (0..50).map(|n| format!("r{n}")).collect();
        let stalls = Injector::new(&Faults {
            stall_rate: 0.3,
            ..faults(0.5, 42)
        });
        assert_eq!(
            failures(&stalls, &ids, 2),
            failures(&Injector::new(&faults(0.5, 42)), &ids, 2)
        );
    }

    #[test]
    fn no_faults_draw_nothing() {
        assert_eq!(
            Injector::new(&Faults::default()).draw(true, "r1"),
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
            let ms = injector.draw(false, "r1").latency.as_millis();
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
        assert_eq!(injector.draw(false, "r1"), Draws::default());
        let write = injector.draw(true, "r1");
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
