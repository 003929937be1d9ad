//! The openraft glue; the only module that names openraft types. The rest of the
//! server proposes [`Proposal`]s through a [`Replica`] and learns results as
//! [`TxnResult`]s.

mod log_store;
mod network;
mod state_machine;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::impls::ProgressResponder;

pub use state_machine::Applier;
pub use types::ApplyOutcome;

use crate::proposal::Proposal;
use crate::state::txn::TxnResult;
use log_store::MemLogStore;
use network::NoPeers;
use state_machine::StateMachine;
use types::{Raft, TypeConfig};

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("raft failed to start: {0}")]
    Start(String),
    #[error("this server cannot commit writes now: {0}")]
    Unavailable(String),
}

/// A handle to this server's Raft member.
#[derive(Clone)]
pub struct Replica {
    raft: Raft,
}

/// The result of a proposal, resolved once this server has applied it.
pub struct Pending {
    rx: tokio::sync::oneshot::Receiver<openraft::raft::ClientWriteResult<TypeConfig>>,
}

impl Pending {
    pub async fn outcome(self) -> Result<TxnResult, ReplicationError> {
        let result = self
            .rx
            .await
            .map_err(|_| ReplicationError::Unavailable("raft dropped the proposal".into()))?;
        let response = result.map_err(|e| ReplicationError::Unavailable(e.to_string()))?;
        response
            .data
            .result
            .ok_or_else(|| ReplicationError::Unavailable("entry applied without a result".into()))
    }
}

impl Replica {
    /// Starts a single-voter member `id` and makes sure it is the cluster's only voter
    /// and leader. Initialising is skipped when the log already holds a membership.
    pub async fn start_single(
        id: u64,
        addr: String,
        applier: Arc<dyn Applier>,
    ) -> Result<Self, ReplicationError> {
        let config = openraft::Config {
            cluster_name: "ferrokeeper".into(),
            heartbeat_interval: 250,
            election_timeout_min: 500,
            election_timeout_max: 1000,
            // Snapshots arrive with durable storage; until then the log stays in memory.
            snapshot_policy: openraft::SnapshotPolicy::Never,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ReplicationError::Start(e.to_string()))?,
        );
        let raft = Raft::new(
            id,
            config,
            NoPeers,
            MemLogStore::default(),
            StateMachine::new(applier),
        )
        .await
        .map_err(|e| ReplicationError::Start(e.to_string()))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| ReplicationError::Start(e.to_string()))?;
        if !initialized {
            let members = BTreeMap::from([(id, BasicNode { addr })]);
            raft.initialize(members)
                .await
                .map_err(|e| ReplicationError::Start(e.to_string()))?;
        }
        raft.wait(Some(Duration::from_secs(30)))
            .current_leader(id, "single voter elects itself")
            .await
            .map_err(|e| ReplicationError::Start(e.to_string()))?;
        Ok(Replica { raft })
    }

    /// Submits `proposal` without waiting for it: proposals submitted one after another
    /// by one caller are applied in that order, and the state machine answers the
    /// proposal's origin itself.
    pub async fn submit(&self, proposal: Proposal) -> Result<(), ReplicationError> {
        self.raft
            .client_write_ff(proposal, None)
            .await
            .map_err(|e| ReplicationError::Unavailable(e.to_string()))
    }

    /// Submits `proposal`; the returned [`Pending`] resolves after the local apply.
    pub async fn propose(&self, proposal: Proposal) -> Result<Pending, ReplicationError> {
        let (responder, rx) = ProgressResponder::<TypeConfig, _>::complete_only();
        self.raft
            .client_write_ff(proposal, Some(responder))
            .await
            .map_err(|e| ReplicationError::Unavailable(e.to_string()))?;
        Ok(Pending { rx })
    }

    /// Proposes and waits for the result.
    pub async fn write(&self, proposal: Proposal) -> Result<TxnResult, ReplicationError> {
        self.propose(proposal).await?.outcome().await
    }

    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
    }
}
