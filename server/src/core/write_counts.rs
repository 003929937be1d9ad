//! A connection's write counters, in one place: how many writes it submitted and how
//! many the core has answered. The core counts both (a write is counted when it is
//! submitted, and answered when its entry is applied here); the connection's
//! [`crate::dispatch::WriteOrder`] reads them for its read-after-write rule, and the
//! lost-write policy for which connections still wait.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

/// The core's side: counts writes submitted and answered.
pub(super) struct Counters {
    submitted: Arc<AtomicU64>,
    answered: watch::Sender<u64>,
}

/// The connection's side: reads the same counters, and waits for answers.
pub struct WriteCounts {
    submitted: Arc<AtomicU64>,
    answered: watch::Receiver<u64>,
}

impl Counters {
    pub(super) fn new() -> (Counters, WriteCounts) {
        let submitted = Arc::new(AtomicU64::new(0));
        let (answered, rx) = watch::channel(0);
        let view = WriteCounts {
            submitted: submitted.clone(),
            answered: rx,
        };
        (
            Counters {
                submitted,
                answered,
            },
            view,
        )
    }

    pub(super) fn submitted(&self) {
        self.submitted.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn answered(&self) {
        self.answered.send_modify(|n| *n += 1);
    }

    /// Writes submitted and not answered yet.
    pub(super) fn unanswered(&self) -> u64 {
        self.submitted
            .load(Ordering::Acquire)
            .saturating_sub(*self.answered.borrow())
    }
}

impl WriteCounts {
    /// Writes this connection submitted so far.
    pub fn submitted(&self) -> u64 {
        self.submitted.load(Ordering::Acquire)
    }

    /// Whether some of this connection's writes are not answered yet.
    pub fn waiting(&self) -> bool {
        self.submitted() > *self.answered.borrow()
    }

    /// Returns once `count` writes have been answered; `Err` once the core forgot
    /// the connection (it is closing).
    pub async fn answered(&mut self, count: u64) -> Result<(), watch::error::RecvError> {
        self.answered.wait_for(|n| *n >= count).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_read_waits_for_the_writes_submitted_before_it() {
        let (core, mut conn) = Counters::new();
        core.submitted();
        core.submitted();
        assert!(conn.waiting());
        assert_eq!(core.unanswered(), 2);
        let target = conn.submitted();
        core.answered();
        {
            let wait = conn.answered(target);
            tokio::pin!(wait);
            assert!(futures_poll_once(wait.as_mut()).await.is_none());
            core.answered();
            assert!(wait.await.is_ok());
        }
        assert!(!conn.waiting());
        assert_eq!(core.unanswered(), 0);
    }

    #[tokio::test]
    async fn a_forgotten_connection_stops_waiting() {
        let (core, mut conn) = Counters::new();
        core.submitted();
        drop(core);
        assert!(conn.answered(1).await.is_err());
    }

    /// Polls a future once: `Some` if it is ready.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        tokio::time::timeout(std::time::Duration::ZERO, f)
            .await
            .ok()
    }
}
