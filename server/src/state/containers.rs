//! The container/TTL reaper's side of the state: which nodes are due
//! (`ContainerManager.getCandidates`) and its delete (`deleteContainer`, opcode 20).

use std::collections::BTreeSet;

use ferrokeeper_protocol::ErrorCode;

use super::ZkState;
use super::changes::Changes;
use super::writes::deletable_parent;
use crate::tree::OwnerKind;

impl ZkState {
    /// Containers and TTL nodes the reaper should delete now, sorted:
    /// - a childless container that has had a child (persisted cversion > 0);
    /// - a childless container that never had one, only if
    ///   `max_never_used_interval_ms` is non-zero and it has been unmodified longer;
    /// - a childless TTL node unmodified for longer than its TTL.
    ///
    /// `now_ms` is the leader's clock; the delete itself goes through the log.
    pub fn container_candidates(
        &self,
        now_ms: i64,
        max_never_used_interval_ms: i64,
    ) -> Vec<String> {
        let tree = &self.tree;
        let idle = |path: &str| {
            tree.node(path)
                .filter(|n| n.children().is_empty())
                .map(|n| {
                    (
                        n.persisted_stat().cversion,
                        now_ms.saturating_sub(n.persisted_stat().mtime),
                    )
                })
        };
        let mut due = BTreeSet::new();
        for path in tree.containers() {
            if let Some((cversion, elapsed)) = idle(path) {
                let never_used_expired =
                    max_never_used_interval_ms != 0 && elapsed > max_never_used_interval_ms;
                if cversion > 0 || never_used_expired {
                    due.insert(path.clone());
                }
            }
        }
        for path in tree.ttls() {
            let expired = match (idle(path), tree.owner_kind(path)) {
                (Some((_, elapsed)), Some(OwnerKind::Ttl(ttl))) => ttl != 0 && elapsed > ttl,
                _ => false,
            };
            if expired {
                due.insert(path.clone());
            }
        }
        due.into_iter().collect()
    }

    /// ZooKeeper's order: special path → BadArguments, missing → NoNode, children →
    /// NotEmpty, a session's ephemeral → BadVersion (sic). No session or ACL check.
    ///
    /// ZooKeeper also deletes a plain persistent node here; that can only happen when
    /// a container was replaced by a persistent node between candidate selection and
    /// this delete, so we refuse it (BadVersion) rather than lose a client's node.
    pub(super) fn delete_container(
        &mut self,
        path: &str,
        changes: &mut Changes,
    ) -> Result<(), ErrorCode> {
        deletable_parent(path)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        if !node.children().is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        match self.tree.owner_kind(path) {
            Some(OwnerKind::Container | OwnerKind::Ttl(_)) => {}
            _ => return Err(ErrorCode::BadVersion),
        }
        let undo = self.tree.delete(path, changes.zxid())?;
        changes.deleted(&self.tree, path, undo);
        Ok(())
    }
}
