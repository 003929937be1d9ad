//! The replicated state machine: data tree, session table and the zxid counter.
//! `apply` is pure: same entries in, same state and results out, on every server.
//!
//! The write checks follow ZooKeeper's `PrepRequestProcessor` (which runs them
//! before a txn is logged); here they run at apply time, against exactly the state
//! the write applies to, so a failed write is simply an entry with an error result.

mod changes;
mod containers;
mod create;
mod encoding;
mod multi;
mod session;
pub mod txn;
mod writes;
mod zk_txn;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod quota_tests;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::tree::DataTree;

/// ZooKeeper's `ZooDefs.CONFIG_NODE`.
pub const CONFIG_NODE: &str = "/zookeeper/config";
use changes::Changes;
pub use session::{Session, SessionTable};
use txn::{Applied, Entry, Txn, TxnResult};
pub use zk_txn::ZkTxnError;

/// Settings that change what `apply` does; every replica must use the same ones, so
/// they are part of the state (and of its snapshots).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateConfig {
    /// ZooKeeper's `zookeeper.extendedTypesEnabled`: TTL nodes exist only with it.
    pub extended_types_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZkState {
    config: StateConfig,
    tree: DataTree,
    sessions: SessionTable,
    /// The zxid of the last applied entry; 0 before the first.
    last_zxid: i64,
}

impl ZkState {
    pub fn new(config: StateConfig) -> ZkState {
        ZkState {
            config,
            tree: DataTree::with_extended_types(config.extended_types_enabled),
            sessions: SessionTable::default(),
            last_zxid: 0,
        }
    }

    /// A state assembled from parts, as the importer of ZooKeeper's files builds it.
    pub fn from_parts(
        config: StateConfig,
        tree: DataTree,
        sessions: SessionTable,
        last_zxid: i64,
    ) -> ZkState {
        ZkState {
            config,
            tree,
            sessions,
            last_zxid,
        }
    }

    pub fn config(&self) -> StateConfig {
        self.config
    }

    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    pub fn sessions(&self) -> &SessionTable {
        &self.sessions
    }

    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// `/zookeeper/config`'s text (the ensemble's membership), set by each member from
    /// its own configuration, as ZooKeeper sets it; not once a reconfig has set it
    /// through the log (its mzxid is then that entry's).
    pub fn set_config_znode(&mut self, text: &str) {
        if self
            .tree
            .node(CONFIG_NODE)
            .is_some_and(|n| n.persisted_stat().mzxid == 0)
        {
            self.tree
                .set_config_data(bytes::Bytes::copy_from_slice(text.as_bytes()));
        }
    }

    /// The version of the configuration in `/zookeeper/config` (its `version=` line,
    /// hex); 0 when there is none.
    pub fn config_version(&self) -> i64 {
        self.tree
            .node(CONFIG_NODE)
            .and_then(|n| n.data())
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|text| text.lines().last())
            .and_then(|line| line.strip_prefix("version="))
            .and_then(|hex| i64::from_str_radix(hex.trim(), 16).ok())
            .unwrap_or(0)
    }

    /// A reconfig's new configuration into `/zookeeper/config` (`SetDataTxn` with
    /// version −1, as ZooKeeper applies it).
    fn set_config(
        &mut self,
        data: String,
        zxid: i64,
        time: i64,
        changes: &mut Changes,
    ) -> TxnResult {
        match self
            .tree
            .set_data(CONFIG_NODE, Some(bytes::Bytes::from(data)), -1, zxid, time)
        {
            Ok((stat, undo)) => {
                changes.data_changed(&self.tree, CONFIG_NODE, undo);
                let data = self
                    .tree
                    .node(CONFIG_NODE)
                    .and_then(|n| n.data().cloned())
                    .unwrap_or_default();
                TxnResult::Data { data, stat }
            }
            Err(code) => TxnResult::Error(code),
        }
    }

    /// Applies one log entry. Every entry takes the next zxid, whatever its outcome.
    pub fn apply(&mut self, entry: &Entry) -> Applied {
        let zxid = self.last_zxid.wrapping_add(1);
        self.last_zxid = zxid;
        let mut changes = Changes::new(zxid);
        let result = match &entry.txn {
            Txn::CreateSession {
                session_id,
                timeout_ms,
            } => {
                self.sessions.insert(*session_id, *timeout_ms);
                TxnResult::SessionCreated
            }
            Txn::CloseSession { session_id } => {
                self.close_session(*session_id, &mut changes);
                TxnResult::SessionClosed
            }
            Txn::Write {
                session_id,
                auth,
                op,
            }
            | Txn::WriteEnforcingQuota {
                session_id,
                auth,
                op,
            } => {
                let ctx = writes::Ctx {
                    session_id: *session_id,
                    auth,
                    zxid,
                    time: entry.time_ms,
                    enforce_quota: matches!(entry.txn, Txn::WriteEnforcingQuota { .. }),
                };
                self.write(&ctx, op, &mut changes)
            }
            Txn::SetConfig { members } => {
                let data = format!("{members}\nversion={zxid:x}");
                self.set_config(data, zxid, entry.time_ms, &mut changes)
            }
            Txn::Restore { state } => match postcard::from_bytes::<ZkState>(state) {
                // The same bytes decode alike everywhere, so replicas stay equal.
                Ok(restored) => {
                    self.tree = restored.tree;
                    self.sessions = restored.sessions;
                    TxnResult::Restored
                }
                Err(_) => TxnResult::Error(ferrokeeper_protocol::ErrorCode::MarshallingError),
            },
            Txn::DeleteContainer { path } => match self.delete_container(path, &mut changes) {
                Ok(()) => TxnResult::Deleted,
                Err(code) => TxnResult::Error(code),
            },
        };
        let (events, quota_breaches) = changes.finish();
        Applied {
            zxid,
            result,
            events,
            quota_breaches,
        }
    }

    /// Deletes every ephemeral of the session under this one zxid, then forgets it.
    /// Closing an unknown session is harmless (expiry may race an explicit close).
    fn close_session(&mut self, session_id: i64, changes: &mut Changes) {
        let paths: Vec<String> = self
            .tree
            .session_ephemerals(session_id)
            .map(str::to_owned)
            .collect();
        for path in paths {
            // Ephemerals never have children, so the delete cannot fail.
            if let Ok(undo) = self.tree.delete(&path, changes.zxid()) {
                changes.deleted(&self.tree, &path, undo);
            }
        }
        self.sessions.remove(session_id);
    }
}
