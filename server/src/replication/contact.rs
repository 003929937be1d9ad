//! When a follower or observer last heard from its leader: a successful
//! AppendEntries (heartbeats included). A follower cut off from the leader stops
//! serving clients once this is older than the sync limit, as a ZooKeeper follower
//! does when its leader connection times out.

use std::sync::Mutex;
use std::time::Instant;

#[derive(Default)]
pub struct Contact {
    last: Mutex<Option<(u64, Instant)>>,
}

impl Contact {
    pub fn heard_from_leader(&self, leader: u64) {
        *self.lock() = Some((leader, Instant::now()));
    }

    /// The leader last heard from, and when.
    pub fn last(&self) -> Option<(u64, Instant)> {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Instant)>> {
        // A plain value: a poisoned lock still holds a valid one.
        self.last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
