//! ZooKeeper's read-only mode (`readonlymode.enabled=true`): a member out of touch with
//! its quorum for a while serves clients that connected with `canBeReadOnly` from its
//! own tree — reads answered, writes and syncs refused with NotReadOnly — instead of
//! closing every connection. When the quorum is back those connections are closed, and
//! the clients reconnect to a server that can write (a session they had before the
//! partition is still theirs; one made here was never replicated, so it is not).
//!
//! Sessions created while read-only live only here, as in ZooKeeper's read-only server
//! (its local sessions): a table of ids, each kept while connected and for its timeout
//! after, so a client can resume it here; the table is bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// At most this many read-only sessions at once; more are refused (the connection is
/// closed), so clients cannot grow the table without bound.
const MAX_SESSIONS: usize = 10_000;

#[derive(Debug)]
pub struct ReadOnlyMode {
    active: watch::Sender<bool>,
    /// Local sessions: `None` while a connection holds it, else when it expires.
    sessions: Mutex<HashMap<i64, Option<Instant>>>,
}

impl Default for ReadOnlyMode {
    fn default() -> Self {
        ReadOnlyMode {
            active: watch::channel(false).0,
            sessions: Mutex::new(HashMap::new()),
        }
    }
}

impl ReadOnlyMode {
    /// Whether this server serves read-only clients now.
    pub fn is_active(&self) -> bool {
        *self.active.borrow()
    }

    /// Turns read-only serving on or off; off forgets every local session.
    pub fn set_active(&self, on: bool) {
        self.active.send_replace(on);
        if !on {
            self.table().clear();
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Option<Instant>>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a new local session held by a connection; `false` when the table is full.
    pub fn open(&self, session: i64) -> bool {
        let mut table = self.table();
        prune(&mut table, Instant::now());
        if table.len() >= MAX_SESSIONS {
            return false;
        }
        table.insert(session, None);
        true
    }

    /// Whether `session` is a live local session; if so a connection holds it again.
    pub fn resume(&self, session: i64) -> bool {
        let mut table = self.table();
        prune(&mut table, Instant::now());
        match table.get_mut(&session) {
            Some(state) => {
                *state = None;
                true
            }
            None => false,
        }
    }

    /// The connection holding a local session went away: it expires after `timeout_ms`.
    pub fn disconnected(&self, session: i64, timeout_ms: i32) {
        let deadline = Instant::now() + Duration::from_millis(timeout_ms.max(0) as u64);
        if let Some(state) = self.table().get_mut(&session) {
            *state = Some(deadline);
        }
    }

    /// The client closed its local session.
    pub fn closed(&self, session: i64) {
        self.table().remove(&session);
    }
}

fn prune(table: &mut HashMap<i64, Option<Instant>>, now: Instant) {
    table.retain(|_, deadline| deadline.is_none_or(|d| d > now));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_sessions_live_while_connected_and_for_their_timeout() {
        let ro = ReadOnlyMode::default();
        ro.set_active(true);
        assert!(ro.open(7));
        assert!(ro.resume(7));
        ro.disconnected(7, 60_000);
        assert!(ro.resume(7), "within its timeout");
        ro.disconnected(7, 0);
        std::thread::sleep(Duration::from_millis(2));
        assert!(!ro.resume(7), "expired");
        assert!(ro.open(8));
        ro.closed(8);
        assert!(!ro.resume(8));
        assert!(ro.open(9));
        ro.set_active(false);
        assert!(!ro.resume(9), "forgotten when read-only mode ends");
    }

    #[test]
    fn the_table_is_bounded() {
        let ro = ReadOnlyMode::default();
        for id in 0..MAX_SESSIONS as i64 {
            assert!(ro.open(id));
        }
        assert!(!ro.open(-1));
    }
}
