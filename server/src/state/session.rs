//! The replicated session table. A session's ephemeral nodes are indexed by the data
//! tree (as ZooKeeper's `DataTree.ephemerals`), so they are not duplicated here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The negotiated timeout the proposer put in `CreateSession`.
    pub timeout_ms: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionTable {
    sessions: BTreeMap<i64, Session>,
}

impl SessionTable {
    pub fn get(&self, session_id: i64) -> Option<&Session> {
        self.sessions.get(&session_id)
    }

    pub fn contains(&self, session_id: i64) -> bool {
        self.sessions.contains_key(&session_id)
    }

    /// Every live session, by id.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &Session)> {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// A repeated id (which a proposer should never produce) just updates the timeout.
    pub(crate) fn insert(&mut self, session_id: i64, timeout_ms: i32) {
        self.sessions.insert(session_id, Session { timeout_ms });
    }

    pub(crate) fn remove(&mut self, session_id: i64) -> Option<Session> {
        self.sessions.remove(&session_id)
    }
}
