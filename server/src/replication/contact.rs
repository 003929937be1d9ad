//! When a follower or observer last heard from its leader: a successful
//! AppendEntries (heartbeats included). A follower cut off from the leader stops
//! serving clients once this is older than the sync limit, as a ZooKeeper follower
//! does when its leader connection times out.

use std::sync::Mutex;
// tokio's clock, which the simulation controls (it is the OS clock otherwise).
use tokio::time::Instant;

#[derive(Default)]
pub struct Contact {
    last: Mutex<Option<(u64, Instant)>>,
    /// When the leader last said it has its quorum (answering an activity report).
    /// A leader that lost its quorum still sends heartbeats, so they alone do not
    /// tell an observer (which never votes) that the ensemble is down.
    leader_serving: Mutex<Option<(u64, Instant)>>,
}

impl Contact {
    pub fn heard_from_leader(&self, leader: u64) {
        *self.lock() = Some((leader, Instant::now()));
    }

    pub fn leader_serving(&self, leader: u64) {
        *lock(&self.leader_serving) = Some((leader, Instant::now()));
    }

    pub fn last_leader_serving(&self) -> Option<(u64, Instant)> {
        *lock(&self.leader_serving)
    }

    /// The leader last heard from, and when.
    pub fn last(&self) -> Option<(u64, Instant)> {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Instant)>> {
        lock(&self.last)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A plain value: a poisoned lock still holds a valid one.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
