//! openraft's type configuration for ferrokeeper: log entries carry a [`Proposal`].
//! openraft's per-entry response is `()`: writes are proposed fire-and-forget and their
//! results reach the client through [`crate::core::Core`]'s apply (the origin) or a
//! ticket (`tickets`), never through openraft.

use std::fmt;

use crate::proposal::Proposal;

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
        R = (),
        NodeId = u64,
        Node = openraft::BasicNode,
        AsyncRuntime = super::runtime::Runtime,
);

pub type Raft = openraft::Raft<TypeConfig, super::state_machine::StateMachine>;
