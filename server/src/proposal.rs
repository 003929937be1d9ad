//! What this server puts in the Raft log: the deterministic [`Entry`] plus where it came
//! from, so that the server holding the client's connection can answer it at apply
//! time (in apply order, after the entry's watch events).

use ferrokeeper_protocol::OpCode;
use serde::{Deserialize, Serialize};

use crate::state::txn::Entry;

/// A connection on a server.
pub type ConnId = u64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    /// The proposing server's id (`myid`).
    pub server: u64,
    /// The proposing process's start time (ms): connection ids restart with the
    /// process, so an entry replayed after a restart must not reach a new connection
    /// that happens to reuse an old id.
    pub incarnation: i64,
    pub conn: ConnId,
    pub xid: i32,
    /// The opcode of the request, or of each op of a multi, to shape the reply.
    pub kinds: Vec<i32>,
}

impl ReplyTo {
    pub fn kinds(&self) -> Vec<OpCode> {
        self.kinds
            .iter()
            .map(|k| OpCode::from_code(*k).unwrap_or(OpCode::Error))
            .collect()
    }
}

/// Marks a proposal whose proposer waits for its result in-process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub server: u64,
    /// As in [`ReplyTo`]: a replayed entry must not resolve a new process's ticket.
    pub incarnation: i64,
    pub id: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// `None` for entries the server makes itself (session expiry, container reaping).
    pub reply_to: Option<ReplyTo>,
    /// Set by the replication layer when the proposer waits for the result.
    pub ticket: Option<Ticket>,
    pub entry: Entry,
}
