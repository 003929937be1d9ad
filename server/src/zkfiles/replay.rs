//! Replaying ZooKeeper's logged txns onto a tree loaded from its snapshot, exactly as
//! ZooKeeper does at start-up (`FileTxnSnapLog.processTransaction`, then
//! `DataTree.processTxn`): errors from a fuzzy snapshot (a node already created or
//! already gone) are ignored, a create that meets an existing node still moves its
//! parent's cversion, and a multi with a failed op applies none of its ops.

use std::collections::BTreeMap;

use ferrokeeper_protocol::{TxnBody, TxnEntry, txn_type};

use crate::tree::DataTree;
use crate::tree::owner::{CONTAINER_OWNER, ttl_owner};
use crate::tree::path::split_parent;

/// The tree and session table being rebuilt.
pub struct Replayed {
    pub tree: DataTree,
    pub sessions: BTreeMap<i64, i32>,
    /// The highest zxid applied (the snapshot's to begin with).
    pub last_zxid: i64,
}

/// Why a txn cannot be replayed at all (ZooKeeper would stop too).
#[derive(Debug)]
pub struct ReplayError(pub String);

impl Replayed {
    pub fn apply(&mut self, entry: &TxnEntry) -> Result<(), ReplayError> {
        let h = &entry.header;
        match &entry.body {
            TxnBody::CreateSession(s) => {
                self.sessions.insert(h.client_id, s.time_out);
            }
            TxnBody::CloseSession(listed) => {
                self.sessions.remove(&h.client_id);
                let listed = listed.as_ref().map(|l| l.paths2_delete.as_slice());
                self.kill_session(h.client_id, h.zxid, listed);
            }
            body => self.process(h.txn_type, body, h.client_id, h.zxid, h.time)?,
        }
        self.last_zxid = self.last_zxid.max(h.zxid);
        Ok(())
    }

    /// `DataTree.processTxn` for one txn or one op of a multi; failures of the kind a
    /// fuzzy snapshot causes are ignored, as ZooKeeper ignores them.
    fn process(
        &mut self,
        kind: i32,
        body: &TxnBody,
        session: i64,
        zxid: i64,
        time: i64,
    ) -> Result<(), ReplayError> {
        let tree = &mut self.tree;
        match body {
            TxnBody::Create(c) => {
                let owner = if c.ephemeral { session } else { 0 };
                let result = tree.zk_create(
                    &c.path,
                    c.data.clone(),
                    c.acl.clone(),
                    owner,
                    c.parent_cversion,
                    zxid,
                    time,
                );
                // Only a plain create adjusts the parent after NodeExists (ZooKeeper
                // checks the txn type, not the record).
                if kind == txn_type::CREATE
                    && result == Err(ferrokeeper_protocol::ErrorCode::NodeExists)
                    && let Some((parent, _)) = split_parent(&c.path)
                {
                    let _ = tree.zk_set_cversion_pzxid(parent, c.parent_cversion, zxid);
                }
            }
            TxnBody::CreateTtl(c) => {
                let owner = ttl_owner(c.ttl).ok_or_else(|| {
                    ReplayError(format!(
                        "createTTL of {} has an invalid TTL {}",
                        c.path, c.ttl
                    ))
                })?;
                let _ = tree.zk_create(
                    &c.path,
                    c.data.clone(),
                    c.acl.clone(),
                    owner,
                    c.parent_cversion,
                    zxid,
                    time,
                );
            }
            TxnBody::CreateContainer(c) => {
                let _ = tree.zk_create(
                    &c.path,
                    c.data.clone(),
                    c.acl.clone(),
                    CONTAINER_OWNER,
                    c.parent_cversion,
                    zxid,
                    time,
                );
            }
            TxnBody::Delete(d) => {
                let _ = tree.zk_delete(&d.path, zxid);
            }
            TxnBody::SetData(s) => {
                let _ = tree.set_data(&s.path, s.data.clone(), s.version, zxid, time);
            }
            TxnBody::SetAcl(s) => {
                let _ = tree.set_acl(&s.path, s.acl.clone(), s.version);
            }
            TxnBody::Check(_) | TxnBody::Error(_) => {}
            TxnBody::Multi(ops) => {
                // One failed op: ZooKeeper turns every op into an error txn.
                if ops.iter().any(|(k, _)| *k == txn_type::ERROR) {
                    return Ok(());
                }
                for (k, op) in ops {
                    if matches!(
                        op,
                        TxnBody::Multi(_) | TxnBody::CreateSession(_) | TxnBody::CloseSession(_)
                    ) {
                        return Err(ReplayError(format!("a multi holds an op of type {k}")));
                    }
                    self.process(*k, op, session, zxid, time)?;
                }
            }
            TxnBody::CreateSession(_) | TxnBody::CloseSession(_) => {
                return Err(ReplayError(format!("a session txn logged as type {kind}")));
            }
        }
        Ok(())
    }

    /// `DataTree.killSession`: the paths the txn lists first (ZooKeeper 3.6+), then any
    /// other ephemeral the session still owns.
    fn kill_session(&mut self, session: i64, zxid: i64, listed: Option<&[String]>) {
        let mut owned = self.tree.ephemeral_paths(session);
        if let Some(listed) = listed {
            for path in listed {
                if self.tree.zk_delete(path, zxid).is_err() {
                    tracing::debug!(path, "closeSession: already gone");
                }
            }
            owned.retain(|p| !listed.contains(p));
        }
        for path in owned {
            let _ = self.tree.zk_delete(&path, zxid);
        }
    }
}
