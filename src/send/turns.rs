//! Turns: a semaphore whose size changes while it is in use. A document holds a turn from
//! the moment a worker takes it until its outcome, so the documents in flight — and with
//! them the requests in flight — never exceed the adaptive limit, which itself never
//! exceeds `--concurrency`.
//!
//! Tokio's `Semaphore` can grow but not shrink without waiting for permits, so this keeps
//! a count under a mutex and wakes waiters through a `Notify`.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    in_use: usize,
    limit: usize,
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

impl Turns {
    /// Turns for `limit` documents at once (at least one).
    pub fn new(limit: usize) -> Arc<Turns> {
        Arc::new(Turns {
            state: Mutex::new(State {
                in_use: 0,
                limit: limit.max(1),
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
        if state.in_use >= state.limit {
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
        let turns = Turns::new(2);
        let first = turns.take().await;
        let _second = turns.take().await;
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        drop(first);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_raised_limit_wakes_a_waiting_document() {
        let turns = Turns::new(1);
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
        let turns = Turns::new(3);
        let held: Vec<Turn> = vec![turns.take().await, turns.take().await];
        turns.set_limit(1);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_err());
        drop(held);
        assert!(timeout(Duration::from_secs(1), turns.take()).await.is_ok());
    }
}
