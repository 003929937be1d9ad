//! ZooKeeper's `globalOutstandingLimit`: writes submitted by this server's clients and
//! not yet answered, across all connections. At the limit connections stop reading
//! requests until answers bring the count down, so clients that pipeline writes faster
//! than the log commits them cannot grow the forwarding queue and the Raft pipeline
//! without bound. (Reads are answered as they are read and never wait here.)

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Throttle {
    outstanding: AtomicUsize,
    changed: Notify,
}

impl Throttle {
    /// Writes submitted and not yet answered (`mntr`'s `zk_outstanding_requests`).
    pub fn outstanding(&self) -> usize {
        self.outstanding.load(Ordering::Relaxed)
    }

    pub(super) fn submitted(&self) {
        self.outstanding.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` writes were answered, or will never be (their connection is gone).
    pub(super) fn finished(&self, n: usize) {
        if n == 0 {
            return;
        }
        // Saturating: a count never goes below zero whatever the order of events.
        let _ = self
            .outstanding
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(n))
            });
        self.changed.notify_waiters();
    }

    /// Whether fewer than `limit` writes are outstanding (0: no limit).
    pub fn below(&self, limit: usize) -> bool {
        limit == 0 || self.outstanding() < limit
    }

    /// Returns once fewer than `limit` writes are outstanding (0: no limit).
    pub async fn wait_below(&self, limit: usize) {
        loop {
            // Registered before the check, so an answer in between is not missed.
            let changed = self.changed.notified();
            if self.below(limit) {
                return;
            }
            crate::metrics::count(|m| &m.request_throttle_wait_count);
            changed.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_answers_bring_the_count_below_the_limit() {
        let throttle = std::sync::Arc::new(Throttle::default());
        for _ in 0..3 {
            throttle.submitted();
        }
        throttle.wait_below(0).await;
        throttle.wait_below(4).await;
        let waiter = tokio::spawn({
            let throttle = throttle.clone();
            async move { throttle.wait_below(3).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        throttle.finished(1);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("released")
            .expect("task");
        throttle.finished(10);
        assert_eq!(throttle.outstanding(), 0);
    }
}
