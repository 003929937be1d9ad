//! openraft's type configuration for ferrokeeper: log entries carry a [`Proposal`],
//! and a write's result is the [`ApplyOutcome`] of applying it.

use std::fmt;

use crate::proposal::Proposal;
use crate::state::txn::TxnResult;

/// What the state machine answers for one log entry.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ApplyOutcome {
    /// The zxid the entry was given; 0 for Raft's own (blank, membership) entries.
    pub zxid: i64,
    /// `None` for Raft's own entries.
    pub result: Option<TxnResult>,
}

impl fmt::Display for Proposal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Proposal(t={}, {:?})",
            self.entry.time_ms, self.entry.txn
        )
    }
}

openraft::declare_raft_types!(
    pub TypeConfig:
        D = Proposal,
        R = ApplyOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
);

pub type Raft = openraft::Raft<TypeConfig, super::state_machine::StateMachine>;
