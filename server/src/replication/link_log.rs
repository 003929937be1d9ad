//! One log line per peer per change of reachability. openraft warns on every failed
//! RPC: a leader with a dead peer wrote about 18 lines a second (a heartbeat every
//! 50 ms, and the replication stream's retries), over a million a day. Those warnings
//! are filtered out by default (`main`'s log filter) and this says the same once: when
//! a peer stops answering, and when it answers again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct LinkLog {
    /// Peers whose last call failed.
    down: Arc<Mutex<HashMap<u64, ()>>>,
}

impl LinkLog {
    /// A call to `peer` was answered.
    pub fn answered(&self, peer: u64) {
        if self.lock().remove(&peer).is_some() {
            tracing::info!(peer, "server {peer} answers again");
        }
    }

    /// A call to `peer` failed with `why`.
    pub fn failed(&self, peer: u64, why: &str) {
        if self.lock().insert(peer, ()).is_none() {
            tracing::warn!(
                peer,
                "server {peer} does not answer: {why} (said once until it answers again)"
            );
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ()>> {
        // A plain map: a poisoned lock still holds a valid one.
        self.down.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_is_reported_down_once_until_it_answers() {
        let log = LinkLog::default();
        log.failed(2, "refused");
        log.failed(2, "refused");
        assert!(log.lock().contains_key(&2));
        log.answered(2);
        assert!(log.lock().is_empty());
        // Answers from a peer that was never down change nothing.
        log.answered(3);
        assert!(log.lock().is_empty());
    }
}
