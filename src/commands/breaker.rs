//! `--max-failures`: the circuit breaker that stops a run early (exit 5) when too many
//! documents fail, so a broken nightly file does not hammer the API for hours.

use crate::config::parse::MaxFailures;
use crate::outcome::Outcome;

/// The share is judged only once this many documents have finished.
const MIN_FINISHED_FOR_SHARE: u64 = 20;

/// Counts finished documents and trips once `--max-failures` is reached.
#[derive(Debug)]
pub struct Breaker {
    limit: Option<MaxFailures>,
    finished: u64,
    failed: u64,
    /// The failed and finished counts when it tripped: documents that end after that,
    /// those never sent because of the stop among them, are not why it stopped.
    tripped_at: Option<(u64, u64)>,
}

impl Breaker {
    /// A breaker for `limit` (`None`: never trips).
    pub fn new(limit: Option<MaxFailures>) -> Breaker {
        Breaker {
            limit,
            finished: 0,
            failed: 0,
            tripped_at: None,
        }
    }

    /// Counts one sent document's outcome; `true` when the run must stop: the limit is
    /// reached now, or was before.
    pub fn count(&mut self, outcome: Outcome) -> bool {
        self.finished += 1;
        self.failed += u64::from(outcome == Outcome::Failed);
        if self.tripped_at.is_none() && self.limit_reached() {
            self.tripped_at = Some((self.failed, self.finished));
        }
        self.tripped()
    }

    /// Whether the limit was reached at some point of the run (exit 5), even by its last
    /// documents, when nothing was left to stop: SPEC.md gives exit 5 for the limit
    /// reached. Not judged again at its end: documents that finish after the stop (those
    /// in flight, updated say) may take a share back under the limit, and the run stopped
    /// all the same.
    pub fn tripped(&self) -> bool {
        self.tripped_at.is_some()
    }

    /// Whether the counts so far reach the limit.
    fn limit_reached(&self) -> bool {
        match self.limit {
            None => false,
            Some(MaxFailures::Count(n)) => self.failed >= n,
            Some(MaxFailures::Percent(p)) => {
                self.finished >= MIN_FINISHED_FOR_SHARE
                    && self.failed as f64 * 100.0 >= p * self.finished as f64
            }
        }
    }

    /// Why the run stopped, for the summary.
    pub fn reason(&self) -> String {
        let (failed, finished) = self.tripped_at.unwrap_or((self.failed, self.finished));
        format!("--max-failures reached: {failed} of {finished} finished documents failed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_trips_at_the_nth_failure() {
        let mut breaker = Breaker::new(Some(MaxFailures::Count(2)));
        assert!(!breaker.count(Outcome::Failed));
        assert!(!breaker.count(Outcome::Updated));
        assert!(breaker.count(Outcome::Failed));
    }

    #[test]
    fn a_share_waits_for_twenty_finished_documents() {
        let mut breaker = Breaker::new(Some(MaxFailures::Percent(50.0)));
        for _ in 0..19 {
            assert!(!breaker.count(Outcome::Failed));
        }
        assert!(breaker.count(Outcome::Failed));
        let mut healthy = Breaker::new(Some(MaxFailures::Percent(50.0)));
        for n in 0..40 {
            let outcome = if n % 3 == 0 {
                Outcome::Failed
            } else {
                Outcome::Updated
            };
            assert!(!healthy.count(outcome));
        }
    }

    #[test]
    fn the_reason_gives_the_counts_that_tripped_it_not_what_ended_after() {
        let mut breaker = Breaker::new(Some(MaxFailures::Count(1)));
        assert!(!breaker.count(Outcome::Updated));
        assert!(breaker.count(Outcome::Failed));
        for _ in 0..10 {
            breaker.count(Outcome::Failed);
        }
        assert_eq!(
            breaker.reason(),
            "--max-failures reached: 1 of 2 finished documents failed"
        );
    }

    #[test]
    fn a_share_once_reached_stays_tripped_though_later_documents_bring_it_down() {
        let mut breaker = Breaker::new(Some(MaxFailures::Percent(25.0)));
        for n in 0..20 {
            let outcome = match n % 4 {
                0 => Outcome::Failed,
                _ => Outcome::Updated,
            };
            assert_eq!(breaker.count(outcome), n == 19, "{n}");
        }
        for _ in 0..10 {
            assert!(breaker.count(Outcome::Updated));
        }
        assert!(breaker.tripped());
        assert_eq!(
            breaker.reason(),
            "--max-failures reached: 5 of 20 finished documents failed"
        );
    }

    #[test]
    fn no_limit_never_trips() {
        let mut breaker = Breaker::new(None);
        assert!((0..100).all(|_| !breaker.count(Outcome::Failed)));
    }
}
