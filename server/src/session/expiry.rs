//! The leader's view of session liveness. Not replicated: a new leader starts every
//! session with a fresh timeout, as ZooKeeper does.

use std::collections::HashMap;
use std::time::Duration;

// tokio's clock, which the deterministic simulation controls (the OS clock otherwise).
use tokio::time::Instant;

#[derive(Debug, Default)]
pub struct ExpiryTracker {
    sessions: HashMap<i64, (Duration, Instant)>,
}

impl ExpiryTracker {
    /// Tracks `session` (or refreshes it) with `timeout` from `now`.
    pub fn add(&mut self, session: i64, timeout: Duration, now: Instant) {
        self.sessions.insert(session, (timeout, now + timeout));
    }

    /// Records activity: the session's deadline moves to `now + timeout`.
    pub fn touch(&mut self, session: i64, now: Instant) -> bool {
        match self.sessions.get_mut(&session) {
            Some((timeout, deadline)) => {
                *deadline = now + *timeout;
                true
            }
            None => false,
        }
    }

    pub fn remove(&mut self, session: i64) {
        self.sessions.remove(&session);
    }

    /// Sessions whose deadline has passed, in id order (deterministic proposals).
    pub fn expired(&self, now: Instant) -> Vec<i64> {
        let mut out: Vec<i64> = self
            .sessions
            .iter()
            .filter(|(_, (_, deadline))| *deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        out.sort_unstable();
        out
    }

    /// Every tracked session with its deadline.
    pub fn deadlines(&self) -> Vec<(i64, Instant)> {
        self.sessions.iter().map(|(id, (_, d))| (*id, *d)).collect()
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_postpones_expiry() {
        let start = Instant::now();
        let mut t = ExpiryTracker::default();
        t.add(7, Duration::from_secs(4), start);
        assert!(t.expired(start + Duration::from_secs(3)).is_empty());
        assert!(t.touch(7, start + Duration::from_secs(3)));
        assert!(t.expired(start + Duration::from_secs(5)).is_empty());
        assert_eq!(t.expired(start + Duration::from_secs(7)), vec![7]);
        t.remove(7);
        assert!(t.expired(start + Duration::from_secs(100)).is_empty());
        assert!(!t.touch(7, start));
    }
}
