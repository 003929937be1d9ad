//! What the client handles and the session task share.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;

use crate::session_state::{SessionState, StateHub};

/// A session's identity: what [`ClientBuilder::session`](crate::ClientBuilder::session)
/// needs to resume it from another client (or process).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: i64,
    /// The 16 bytes the server handed out with the id.
    pub password: Bytes,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a credential: keep it out of logs.
        f.debug_struct("SessionInfo")
            .field("id", &format_args!("{:#x}", self.id))
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) state: StateHub,
    session: Mutex<(SessionInfo, Duration)>,
    /// Set by the first `close`; later calls fail with `Closed` at once.
    closing: AtomicBool,
    next_watch_id: AtomicU64,
    last_zxid: AtomicI64,
}

impl Shared {
    pub(crate) fn new(info: SessionInfo, timeout: Duration, state: SessionState) -> Shared {
        Shared {
            state: StateHub::new(state),
            session: Mutex::new((info, timeout)),
            closing: AtomicBool::new(false),
            next_watch_id: AtomicU64::new(1),
            last_zxid: AtomicI64::new(0),
        }
    }

    fn session(&self) -> MutexGuard<'_, (SessionInfo, Duration)> {
        self.session
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn session_info(&self) -> SessionInfo {
        self.session().0.clone()
    }

    /// A new session replaced the old one (a read-only session moving to a read-write
    /// server, see `Session::seen_read_write`).
    pub(crate) fn set_session_info(&self, info: SessionInfo) {
        self.session().0 = info;
    }

    pub(crate) fn session_timeout(&self) -> Duration {
        self.session().1
    }

    pub(crate) fn set_session_timeout(&self, timeout: Duration) {
        self.session().1 = timeout;
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Acquire)
    }

    pub(crate) fn set_last_zxid(&self, zxid: i64) {
        self.last_zxid.store(zxid, Ordering::Release);
    }

    pub(crate) fn new_watch_id(&self) -> u64 {
        self.next_watch_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks the client as closing; false if it already was.
    pub(crate) fn begin_close(&self) -> bool {
        !self.closing.swap(true, Ordering::AcqRel)
    }

    /// The error a new operation gets at once, if any: the terminal state's, or
    /// `Closed` once `close` was called.
    pub(crate) fn refusal(&self) -> Option<crate::Error> {
        let state = self.state.current();
        if state.is_terminal() {
            Some(state.error())
        } else if self.closing.load(Ordering::Acquire) {
            Some(crate::Error::Closed)
        } else {
            None
        }
    }

    /// The error for an operation whose reply channel went away (the task ended).
    pub(crate) fn gone_error(&self) -> crate::Error {
        self.refusal().unwrap_or(crate::Error::ConnectionLoss)
    }
}
