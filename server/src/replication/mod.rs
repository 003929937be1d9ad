//! The openraft glue; the only module that names openraft types. The rest of the
//! server proposes [`Proposal`]s through a [`Replica`] and learns results as
//! [`TxnResult`]s.

mod durable_log;
mod network;
mod snapshot_file;
mod state_machine;
mod types;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::BasicNode;
use openraft::impls::ProgressResponder;

pub use durable_log::{DurableLogStore, LogOptions, LogStoreError, SyncMode};
pub use state_machine::{Applier, SnapshotWriter};
pub use types::ApplyOutcome;

use crate::proposal::Proposal;
use crate::state::txn::TxnResult;
use network::NoPeers;
use state_machine::{SnapshotOptions, StateMachine};
use types::{Raft, TypeConfig};

/// Where the Raft log and snapshots live and how they are kept.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    pub log_dir: std::path::PathBuf,
    pub snapshot_dir: std::path::PathBuf,
    /// `Fsync` unless `forceSync=no`.
    pub sync: SyncMode,
    /// `snapCount`: entries between snapshots.
    pub snapshot_every: u64,
    /// `autopurge.snapRetainCount`.
    pub snapshots_kept: usize,
    /// Entries kept in the log behind the newest snapshot.
    pub log_kept_behind_snapshot: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("cannot start replication: {0}")]
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
    /// Starts a single-voter member `id` over the durable log and snapshots in
    /// `storage`, and makes sure it is the cluster's only voter and leader. Initialising
    /// is skipped when the log or a snapshot already holds a membership. Returns once
    /// everything the log held has been applied again.
    pub async fn start_single(
        id: u64,
        addr: String,
        applier: Arc<dyn Applier>,
        storage: &StorageOptions,
    ) -> Result<Self, ReplicationError> {
        let start = |e: &dyn std::fmt::Display| ReplicationError::Start(e.to_string());
        let config = openraft::Config {
            cluster_name: "ferrokeeper".into(),
            heartbeat_interval: 250,
            election_timeout_min: 500,
            election_timeout_max: 1000,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(storage.snapshot_every.max(1)),
            // Keep some log behind each snapshot (openraft issue #2116, and for
            // followers that are only a little behind).
            max_in_snapshot_log_to_keep: storage.log_kept_behind_snapshot,
            ..Default::default()
        };
        let config = Arc::new(config.validate().map_err(|e| start(&e))?);
        let log = DurableLogStore::open(&storage.log_dir, storage.sync).map_err(|e| start(&e))?;
        let state_machine = StateMachine::open(
            applier,
            SnapshotOptions {
                dir: Some(storage.snapshot_dir.clone()),
                retain: storage.snapshots_kept,
            },
        )
        .map_err(|e| start(&e))?;
        let raft = Raft::new(id, config, NoPeers, log, state_machine)
            .await
            .map_err(|e| start(&e))?;
        let initialized = raft.is_initialized().await.map_err(|e| start(&e))?;
        if !initialized {
            let members = BTreeMap::from([(id, BasicNode { addr })]);
            raft.initialize(members).await.map_err(|e| start(&e))?;
        }
        raft.wait(Some(Duration::from_secs(30)))
            .current_leader(id, "single voter elects itself")
            .await
            .map_err(|e| start(&e))?;
        // Serve nothing until the log's entries are applied again.
        let last = {
            use openraft::async_runtime::WatchReceiver;
            raft.metrics().borrow_watched().last_log_index
        };
        raft.wait(Some(Duration::from_secs(600)))
            .applied_index_at_least(last, "log replayed")
            .await
            .map_err(|e| start(&e))?;
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
