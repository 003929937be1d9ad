//! Applying a txn that ZooKeeper logged or broadcast, with `DataTree.processTxn`'s
//! semantics (and `FileTxnSnapLog.processTransaction`'s for sessions): the txn carries
//! its own zxid, time and outcome, so nothing is checked, and failures of the kind a
//! fuzzy snapshot causes are ignored as ZooKeeper ignores them. What the importer
//! replays and what an observer of a live ZooKeeper ensemble applies.
//!
//! The result is shaped like one of our own entries' (`Applied`): the reply a client
//! whose request became this txn gets, and the watch events it fires.

use ferrokeeper_protocol::{ErrorCode, TxnBody, TxnEntry, txn_type};

use super::ZkState;
use super::changes::Changes;
use super::txn::{Applied, OpResult, TxnResult};
use crate::tree::owner::{CONTAINER_OWNER, ttl_owner};
use crate::tree::path::split_parent;

/// A txn ZooKeeper itself could not apply either (it would stop loading its data).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ZkTxnError(pub String);

impl ZkState {
    /// Applies one ZooKeeper txn; the state's zxid becomes the txn's.
    pub fn apply_zk(&mut self, entry: &TxnEntry) -> Result<Applied, ZkTxnError> {
        let h = &entry.header;
        let mut changes = Changes::new(h.zxid);
        let result = match &entry.body {
            TxnBody::CreateSession(s) => {
                self.sessions.insert(h.client_id, s.time_out);
                TxnResult::SessionCreated
            }
            TxnBody::CloseSession(listed) => {
                self.sessions.remove(h.client_id);
                let listed = listed.as_ref().map(|l| l.paths2_delete.as_slice());
                self.kill_session(h.client_id, h.zxid, listed, &mut changes);
                TxnResult::SessionClosed
            }
            TxnBody::Multi(ops) => self.zk_multi(ops, h.client_id, h.zxid, h.time, &mut changes)?,
            body => {
                match self.zk_op(h.txn_type, body, h.client_id, h.zxid, h.time, &mut changes)? {
                    Ok(done) => done.single(),
                    Err(code) => TxnResult::Error(code),
                }
            }
        };
        self.last_zxid = self.last_zxid.max(h.zxid);
        let (events, quota_breaches) = changes.finish();
        Ok(Applied {
            zxid: h.zxid,
            result,
            events,
            quota_breaches,
        })
    }

    /// `ZooKeeperServer.loadData`'s clean-up after loading: the ephemerals of sessions
    /// that are not in the session table are deleted, at the last zxid. Returns how
    /// many went.
    pub fn remove_orphan_ephemerals(&mut self) -> usize {
        let orphans: Vec<i64> = self
            .tree
            .sessions_with_ephemerals()
            .filter(|s| !self.sessions.contains(*s))
            .collect();
        let mut removed = 0;
        for session in orphans {
            for path in self.tree.ephemeral_paths(session) {
                if self.tree.zk_delete(&path, self.last_zxid).is_ok() {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// A multi: with an error op, ZooKeeper applies none of them and answers 0 for the
    /// ops before it, its code, and RuntimeInconsistency after.
    fn zk_multi(
        &mut self,
        ops: &[(i32, TxnBody)],
        session: i64,
        zxid: i64,
        time: i64,
        changes: &mut Changes,
    ) -> Result<TxnResult, ZkTxnError> {
        if let Some(failed) = ops.iter().position(|(k, _)| *k == txn_type::ERROR) {
            let results = ops
                .iter()
                .enumerate()
                .map(|(i, (_, op))| {
                    let code = match (i.cmp(&failed), op) {
                        (std::cmp::Ordering::Less, _) => ErrorCode::Ok,
                        (std::cmp::Ordering::Equal, TxnBody::Error(e)) => {
                            ErrorCode::from_code(e.err).unwrap_or(ErrorCode::SystemError)
                        }
                        _ => ErrorCode::RuntimeInconsistency,
                    };
                    OpResult::Error(code)
                })
                .collect();
            return Ok(TxnResult::Multi(results));
        }
        let mut results = Vec::with_capacity(ops.len());
        for (kind, op) in ops {
            if matches!(
                op,
                TxnBody::Multi(_) | TxnBody::CreateSession(_) | TxnBody::CloseSession(_)
            ) {
                return Err(ZkTxnError(format!("a multi holds an op of type {kind}")));
            }
            results.push(match self.zk_op(*kind, op, session, zxid, time, changes)? {
                Ok(done) => done.in_multi(),
                Err(code) => OpResult::Error(code),
            });
        }
        Ok(TxnResult::Multi(results))
    }

    /// One op. The outer error is a txn that cannot be applied at all; the inner one
    /// the op's own failure (ignored by ZooKeeper, reported to the client here).
    fn zk_op(
        &mut self,
        kind: i32,
        body: &TxnBody,
        session: i64,
        zxid: i64,
        time: i64,
        changes: &mut Changes,
    ) -> Result<Result<ZkDone, ErrorCode>, ZkTxnError> {
        let tree = &mut self.tree;
        let create =
            |tree: &mut crate::tree::DataTree,
             changes: &mut Changes,
             (path, data, acl): (&str, &Option<bytes::Bytes>, &Vec<ferrokeeper_protocol::Acl>),
             owner: i64,
             parent_cversion: i32| {
                let result = tree.zk_create(
                    path,
                    data.clone(),
                    acl.clone(),
                    owner,
                    parent_cversion,
                    zxid,
                    time,
                );
                // Only a plain create moves the parent after NodeExists (ZooKeeper checks
                // the txn type, not the record).
                if kind == txn_type::CREATE
                    && matches!(result, Err(ErrorCode::NodeExists))
                    && let Some((parent, _)) = split_parent(path)
                {
                    let _ = tree.zk_set_cversion_pzxid(parent, parent_cversion, zxid);
                }
                result.map(|(stat, undo)| {
                    changes.created(tree, path, undo);
                    ZkDone::Created {
                        path: path.to_owned(),
                        stat,
                    }
                })
            };
        Ok(match body {
            TxnBody::Create(c) => create(
                tree,
                changes,
                (&c.path, &c.data, &c.acl),
                if c.ephemeral { session } else { 0 },
                c.parent_cversion,
            ),
            TxnBody::CreateTtl(c) => {
                let owner = ttl_owner(c.ttl).ok_or_else(|| {
                    ZkTxnError(format!(
                        "createTTL of {} has an invalid TTL {}",
                        c.path, c.ttl
                    ))
                })?;
                create(
                    tree,
                    changes,
                    (&c.path, &c.data, &c.acl),
                    owner,
                    c.parent_cversion,
                )
            }
            TxnBody::CreateContainer(c) => create(
                tree,
                changes,
                (&c.path, &c.data, &c.acl),
                CONTAINER_OWNER,
                c.parent_cversion,
            ),
            TxnBody::Delete(d) => tree.zk_delete(&d.path, zxid).map(|undo| {
                changes.deleted(tree, &d.path, undo);
                ZkDone::Deleted
            }),
            TxnBody::SetData(s) => tree
                .set_data(&s.path, s.data.clone(), s.version, zxid, time)
                .map(|(stat, undo)| {
                    changes.data_changed(tree, &s.path, undo);
                    ZkDone::SetData(stat)
                }),
            TxnBody::SetAcl(s) => {
                tree.set_acl(&s.path, s.acl.clone(), s.version)
                    .map(|(stat, undo)| {
                        changes.acl_changed(undo);
                        ZkDone::SetAcl(stat)
                    })
            }
            TxnBody::Check(_) => Ok(ZkDone::Checked),
            TxnBody::Error(e) => Err(ErrorCode::from_code(e.err).unwrap_or(ErrorCode::SystemError)),
            TxnBody::Multi(_) | TxnBody::CreateSession(_) | TxnBody::CloseSession(_) => {
                return Err(ZkTxnError(format!(
                    "a session or multi txn logged as type {kind}"
                )));
            }
        })
    }

    /// `DataTree.killSession`: the paths the txn lists first (ZooKeeper 3.6+), then any
    /// other ephemeral the session still owns.
    fn kill_session(
        &mut self,
        session: i64,
        zxid: i64,
        listed: Option<&[String]>,
        changes: &mut Changes,
    ) {
        let mut owned = self.tree.ephemeral_paths(session);
        if let Some(listed) = listed {
            for path in listed {
                match self.tree.zk_delete(path, zxid) {
                    Ok(undo) => changes.deleted(&self.tree, path, undo),
                    Err(_) => tracing::debug!(path, "closeSession: already gone"),
                }
            }
            owned.retain(|p| !listed.contains(p));
        }
        for path in owned {
            if let Ok(undo) = self.tree.zk_delete(&path, zxid) {
                changes.deleted(&self.tree, &path, undo);
            }
        }
    }
}

/// One op that took effect.
enum ZkDone {
    Created {
        path: String,
        stat: ferrokeeper_protocol::Stat,
    },
    Deleted,
    SetData(ferrokeeper_protocol::Stat),
    SetAcl(ferrokeeper_protocol::Stat),
    Checked,
}

impl ZkDone {
    fn single(self) -> TxnResult {
        match self {
            ZkDone::Created { path, stat } => TxnResult::Created { path, stat },
            ZkDone::Deleted => TxnResult::Deleted,
            ZkDone::SetData(stat) | ZkDone::SetAcl(stat) => TxnResult::Stat(stat),
            // A check is logged only inside a multi.
            ZkDone::Checked => TxnResult::Deleted,
        }
    }

    fn in_multi(self) -> OpResult {
        match self {
            ZkDone::Created { path, stat } => OpResult::Created { path, stat },
            ZkDone::Deleted => OpResult::Deleted,
            ZkDone::SetData(stat) => OpResult::SetData(stat),
            ZkDone::SetAcl(stat) => OpResult::SetAcl(stat),
            ZkDone::Checked => OpResult::Checked,
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferrokeeper_protocol::{
        CloseSessionTxn, CreateSessionTxn, CreateTxn, DeleteTxn, ErrorTxn, EventType, SetDataTxn,
        TxnHeader, perms,
    };

    use super::*;
    use crate::state::StateConfig;

    fn txn(kind: i32, zxid: i64, session: i64, body: TxnBody) -> TxnEntry {
        TxnEntry {
            header: TxnHeader {
                client_id: session,
                cxid: 7,
                zxid,
                time: 1000 + zxid,
                txn_type: kind,
            },
            body,
            digest: None,
        }
    }

    fn create(path: &str, ephemeral: bool) -> TxnBody {
        TxnBody::Create(CreateTxn {
            path: path.into(),
            data: Some(Bytes::from_static(b"d")),
            acl: perms::open_acl_unsafe(),
            ephemeral,
            parent_cversion: -1,
        })
    }

    fn events(applied: &Applied) -> Vec<(String, EventType)> {
        applied
            .events
            .iter()
            .map(|e| (e.path.clone(), e.event))
            .collect()
    }

    #[test]
    fn single_txns_answer_as_the_request_would_and_fire_watches() {
        let mut zk = ZkState::new(StateConfig::default());
        let a = zk
            .apply_zk(&txn(
                txn_type::CREATE,
                0x1_0000_0001,
                5,
                create("/a", false),
            ))
            .unwrap();
        let TxnResult::Created { path, stat } = &a.result else {
            panic!("{:?}", a.result)
        };
        assert_eq!(
            (path.as_str(), stat.czxid, stat.ctime),
            ("/a", 0x1_0000_0001, 0x1_0000_0001 + 1000)
        );
        assert_eq!(
            events(&a),
            vec![
                ("/a".into(), EventType::NodeCreated),
                ("/".into(), EventType::NodeChildrenChanged)
            ]
        );
        assert_eq!(zk.last_zxid(), 0x1_0000_0001);

        let set = zk
            .apply_zk(&txn(
                txn_type::SET_DATA,
                0x1_0000_0002,
                5,
                TxnBody::SetData(SetDataTxn {
                    path: "/a".into(),
                    data: None,
                    version: 1,
                }),
            ))
            .unwrap();
        assert!(
            matches!(&set.result, TxnResult::Stat(s) if s.version == 1 && s.mzxid == 0x1_0000_0002)
        );
        assert_eq!(
            events(&set),
            vec![("/a".into(), EventType::NodeDataChanged)]
        );

        let failed = zk
            .apply_zk(&txn(
                txn_type::ERROR,
                0x1_0000_0003,
                5,
                TxnBody::Error(ErrorTxn { err: -110 }),
            ))
            .unwrap();
        assert_eq!(failed.result, TxnResult::Error(ErrorCode::NodeExists));
        assert!(failed.events.is_empty());
        assert_eq!(zk.last_zxid(), 0x1_0000_0003);
    }

    #[test]
    fn a_failed_multi_applies_nothing_and_answers_in_zookeepers_shape() {
        let mut zk = ZkState::new(StateConfig::default());
        let before = zk.tree().clone();
        let multi = TxnBody::Multi(vec![
            (txn_type::CREATE, create("/x", false)),
            (txn_type::ERROR, TxnBody::Error(ErrorTxn { err: -101 })),
            (
                txn_type::DELETE,
                TxnBody::Delete(DeleteTxn { path: "/y".into() }),
            ),
        ]);
        let applied = zk.apply_zk(&txn(txn_type::MULTI, 9, 5, multi)).unwrap();
        assert_eq!(
            applied.result,
            TxnResult::Multi(vec![
                OpResult::Error(ErrorCode::Ok),
                OpResult::Error(ErrorCode::NoNode),
                OpResult::Error(ErrorCode::RuntimeInconsistency),
            ])
        );
        assert!(applied.events.is_empty());
        assert_eq!(zk.tree(), &before);

        let ok = TxnBody::Multi(vec![
            (txn_type::CREATE, create("/x", false)),
            (txn_type::CREATE, create("/x/y", false)),
        ]);
        let applied = zk.apply_zk(&txn(txn_type::MULTI, 10, 5, ok)).unwrap();
        let TxnResult::Multi(results) = &applied.result else {
            panic!("{:?}", applied.result)
        };
        assert!(
            matches!(&results[..], [OpResult::Created { path: a, .. }, OpResult::Created { path: b, .. }] if a == "/x" && b == "/x/y")
        );
        assert_eq!(applied.events.len(), 4);
    }

    #[test]
    fn sessions_come_and_go_with_their_ephemerals() {
        let mut zk = ZkState::new(StateConfig::default());
        let s = 0x0400_0000_0000_0001;
        let created = zk
            .apply_zk(&txn(
                txn_type::CREATE_SESSION,
                1,
                s,
                TxnBody::CreateSession(CreateSessionTxn { time_out: 6000 }),
            ))
            .unwrap();
        assert_eq!(created.result, TxnResult::SessionCreated);
        assert_eq!(zk.sessions().get(s).map(|x| x.timeout_ms), Some(6000));
        zk.apply_zk(&txn(txn_type::CREATE, 2, s, create("/e", true)))
            .unwrap();
        assert_eq!(zk.tree().ephemeral_count(), 1);
        let closed = zk
            .apply_zk(&txn(
                txn_type::CLOSE_SESSION,
                3,
                s,
                TxnBody::CloseSession(Some(CloseSessionTxn {
                    paths2_delete: vec!["/e".into()],
                })),
            ))
            .unwrap();
        assert_eq!(closed.result, TxnResult::SessionClosed);
        assert_eq!(
            events(&closed),
            vec![
                ("/e".into(), EventType::NodeDeleted),
                ("/".into(), EventType::NodeChildrenChanged)
            ]
        );
        assert!(zk.sessions().is_empty() && zk.tree().node("/e").is_none());
    }

    #[test]
    fn orphan_ephemerals_are_removed_at_the_last_zxid() {
        let mut zk = ZkState::new(StateConfig::default());
        // An ephemeral whose session is not in the table (its closeSession was lost).
        zk.apply_zk(&txn(txn_type::CREATE, 4, 0x99, create("/orphan", true)))
            .unwrap();
        assert_eq!(zk.remove_orphan_ephemerals(), 1);
        assert!(zk.tree().node("/orphan").is_none());
        assert_eq!(
            zk.tree().node("/").map(|n| n.persisted_stat().pzxid),
            Some(4)
        );
    }
}
