//! The requests on the wire and when each left, so that one presumed stalled — unanswered
//! far longer than answers take — can be excused from the in-flight limit (`turns`) while
//! it waits for its timeout.
//!
//! The run's watchdog ([`super::pacer::Pacer::watch_overdue`]) looks through the book a
//! few times a second: one timer for the run instead of one per request, which an
//! unthrottled run, answered in a fraction of a millisecond, would register and cancel
//! tens of thousands of times a second. Entering and leaving the book is two short locks
//! (0.15 % of the samples of such a run's profile).

use super::turns::{Excused, Turns};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The requests on the wire.
#[derive(Debug, Default)]
pub struct WireBook {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    entries: Vec<Option<OnWire>>,
    /// Indices of empty entries, reused before the list grows.
    free: Vec<usize>,
}

/// One request on the wire.
#[derive(Debug)]
struct OnWire {
    started: Instant,
    /// Once presumed stalled: its excuse from the limit, and since when.
    excused: Option<(Excused, Instant)>,
}

/// A request's place in the book; dropping it (the request was abandoned) takes it out.
#[derive(Debug)]
pub struct Ticket<'a> {
    book: &'a WireBook,
    /// `None` once left: the place may hold another request by then.
    index: Option<usize>,
}

impl WireBook {
    /// Enters a request that leaves now.
    pub fn enter(&self, now: Instant) -> Ticket<'_> {
        let entry = OnWire {
            started: now,
            excused: None,
        };
        let mut slots = self.lock();
        let index = match slots.free.pop() {
            Some(index) => {
                slots.entries[index] = Some(entry);
                index
            }
            None => {
                slots.entries.push(Some(entry));
                slots.entries.len() - 1
            }
        };
        Ticket {
            book: self,
            index: Some(index),
        }
    }

    /// Excuses every request that has been on the wire for `overdue_after` or longer and
    /// is not excused yet; returns how many it excused.
    pub fn excuse_overdue(
        &self,
        turns: &Arc<Turns>,
        overdue_after: Duration,
        now: Instant,
    ) -> usize {
        let mut slots = self.lock();
        let mut excused = 0;
        for on_wire in slots.entries.iter_mut().flatten() {
            if on_wire.excused.is_none() && now.duration_since(on_wire.started) >= overdue_after {
                on_wire.excused = Some((turns.excuse(), now));
                excused += 1;
            }
        }
        excused
    }

    fn take(&self, index: usize) -> Option<OnWire> {
        let mut slots = self.lock();
        let on_wire = slots.entries.get_mut(index)?.take()?;
        slots.free.push(index);
        Some(on_wire)
    }

    fn lock(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ticket<'_> {
    /// Takes the request off the wire at `now`: the time it counted against the in-flight
    /// limit, which is its whole time unless it was excused.
    pub fn leave(mut self, now: Instant) -> Duration {
        let Some(on_wire) = self.index.take().and_then(|index| self.book.take(index)) else {
            return Duration::ZERO;
        };
        let counted_until = on_wire.excused.as_ref().map_or(now, |(_, since)| *since);
        counted_until.duration_since(on_wire.started)
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(index) = self.index.take() {
            self.book.take(index);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_requests_past_the_threshold_are_excused_and_only_once() {
        let turns = Turns::new(1, 8);
        let book = WireBook::default();
        let start = Instant::now();
        let old = book.enter(start);
        let young = book.enter(start + Duration::from_millis(900));
        let now = start + Duration::from_secs(1);
        assert_eq!(
            book.excuse_overdue(&turns, Duration::from_millis(500), now),
            1
        );
        assert_eq!(
            book.excuse_overdue(&turns, Duration::from_millis(500), now),
            0
        );
        assert_eq!(
            old.leave(now + Duration::from_secs(9)),
            Duration::from_secs(1)
        );
        assert_eq!(young.leave(now), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_request_leaves_the_book_and_its_place_is_reused() {
        let turns = Turns::new(1, 8);
        let book = WireBook::default();
        let start = Instant::now();
        drop(book.enter(start));
        let next = book.enter(start);
        assert_eq!(next.index, Some(0));
        let later = start + Duration::from_secs(5);
        assert_eq!(
            book.excuse_overdue(&turns, Duration::from_secs(1), later),
            1
        );
        drop(next);
        assert_eq!(
            book.excuse_overdue(&turns, Duration::from_secs(1), later),
            0
        );
    }
}
