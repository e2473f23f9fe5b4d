//! Turns: a semaphore whose size changes while it is in use. A document holds a turn from
//! the moment a worker takes it until its outcome, so the documents in flight — and with
//! them the requests in flight — never exceed the adaptive limit, which itself never
//! exceeds `--concurrency`.
//!
//! A request that has gone unanswered far longer than answers take is presumed stalled: its
//! document is *excused* ([`Turns::excuse`]), and one more document may start beside it
//! while it waits for its timeout, up to `--concurrency` in all. Otherwise a few stalled
//! connections would hold every turn of a limit sized for fast answers until they time out.
//!
//! Tokio's `Semaphore` can grow but not shrink without waiting for permits, so this keeps
//! a count under a mutex and wakes waiters through a `Notify`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    in_use: usize,
    limit: usize,
    /// Documents whose request is presumed stalled: each lets one more start.
    excused: usize,
    /// `--concurrency`: turns in use never exceed it, excused ones included.
    cap: usize,
}

impl State {
    fn has_room(&self) -> bool {
        self.in_use < (self.limit + self.excused).min(self.cap)
    }
}

/// The documents allowed in flight at once.
#[derive(Debug)]
pub struct Turns {
    state: Mutex<State>,
    freed: Notify,
}

/// One document's turn; dropping it lets another document start.
#[derive(Debug)]
pub struct Turn {
    turns: Arc<Turns>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.turns.lock().in_use -= 1;
        self.turns.freed.notify_one();
    }
}

/// A document excused from the limit while its request is presumed stalled; dropping it
/// (the request ended, or was abandoned) counts the document against the limit again.
#[derive(Debug)]
pub struct Excused {
    turns: Arc<Turns>,
}

impl Drop for Excused {
    fn drop(&mut self) {
        self.turns.lock().excused -= 1;
    }
}

impl Turns {
    /// Turns for `limit` documents at once (at least one), and never more than `cap`
    /// whatever is excused.
    pub fn new(limit: usize, cap: usize) -> Arc<Turns> {
        Arc::new(Turns {
            state: Mutex::new(State {
                in_use: 0,
                limit: limit.max(1),
                excused: 0,
                cap: cap.max(1),
            }),
            freed: Notify::new(),
        })
    }

    /// Waits for a free turn and takes it.
    pub async fn take(self: &Arc<Self>) -> Turn {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the check, so a turn freed in between is not missed.
            freed.as_mut().enable();
            if let Some(turn) = self.try_take() {
                return turn;
            }
            freed.await;
        }
    }

    fn try_take(self: &Arc<Self>) -> Option<Turn> {
        let mut state = self.lock();
        if !state.has_room() {
            return None;
        }
        state.in_use += 1;
        Some(Turn {
            turns: Arc::clone(self),
        })
    }

    /// Changes the limit; documents already in flight above a lowered one finish normally.
    pub fn set_limit(&self, limit: usize) {
        let grew = {
            let mut state = self.lock();
            let grew = limit > state.limit;
            state.limit = limit.max(1);
            grew
        };
        if grew {
            self.freed.notify_waiters();
        }
    }

    /// Excuses one document whose request is presumed stalled, until the guard drops: one
    /// more may start meanwhile, within the cap.
    pub fn excuse(self: &Arc<Self>) -> Excused {
        self.lock().excused += 1;
        self.freed.notify_one();
        Excused {
            turns: Arc::clone(self),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::timeout;

    #[tokio::test(start_paused = true)]
    async fn no_more_turns_than_the_limit_are_taken() {
        let turns = Turns::new(2, 8);
        let first = turns.take().await;
        let _second = turns.take().await;
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        drop(first);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_limit_wakes_a_waiting_document() {
        let turns = Turns::new(1, 8);
        let _held = turns.take().await;
        let waiting = tokio::spawn({
            let turns = Arc::clone(&turns);
            async move { turns.take().await }
        });
        tokio::task::yield_now().await;
        turns.set_limit(2);
        assert!(timeout(Duration::from_secs(1), waiting).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lowered_limit_holds_new_documents_until_enough_finish() {
        let turns = Turns::new(3, 8);
        let held: Vec<Turn> = vec![turns.take().await, turns.take().await];
        turns.set_limit(1);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        drop(held);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn an_excused_document_lets_one_more_start_until_its_request_ends() {
        let turns = Turns::new(1, 8);
        let _stalled = turns.take().await;
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        let excused = turns.excuse();
        let beside = timeout(Duration::from_secs(1), turns.take()).await;
        assert!(beside.is_ok(), "one more starts beside the stalled one");
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        drop(excused);
        drop(beside);
        assert!(
            timeout(Duration::from_secs(1), turns.take()).await.is_err(),
            "once its request ended, the stalled document counts again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn excused_documents_never_take_the_turns_past_the_cap() {
        let turns = Turns::new(2, 3);
        let _held = [turns.take().await, turns.take().await];
        let _excused = [turns.excuse(), turns.excuse()];
        let _third = turns.take().await;
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
    }
}
