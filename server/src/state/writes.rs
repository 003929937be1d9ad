//! Client writes other than create, with ZooKeeper's checks in ZooKeeper's order
//! (`PrepRequestProcessor.pRequest2Txn`): the first failing check decides the code.

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, ErrorCode, Id, Stat, perms};

use super::ZkState;
use super::changes::Changes;
use super::txn::{TxnResult, WriteOp};
use crate::tree::acl;
use crate::tree::path::{self, split_parent};

/// Who writes, and the zxid and time the write gets.
pub(super) struct Ctx<'a> {
    pub session_id: i64,
    pub auth: &'a [Id],
    pub zxid: i64,
    pub time: i64,
    /// Hard quota limits refuse creates and setData (`zookeeper.enforceQuota`).
    pub enforce_quota: bool,
}

/// One successful op, before it is shaped as a single or a multi result.
pub(super) enum Done {
    Created { path: String, stat: Stat },
    Deleted,
    SetData(Stat),
    SetAcl(Stat),
    Checked(Stat),
}

impl ZkState {
    /// A client write: a single op, or a multi.
    pub(super) fn write(
        &mut self,
        ctx: &Ctx<'_>,
        op: &WriteOp,
        changes: &mut Changes,
    ) -> TxnResult {
        if let WriteOp::Multi(ops) = op {
            return self.multi(ctx, ops, changes);
        }
        match self.write_op(ctx, op, changes) {
            Ok(Done::Created { path, stat }) => TxnResult::Created { path, stat },
            Ok(Done::Deleted) => TxnResult::Deleted,
            Ok(Done::SetData(stat) | Done::SetAcl(stat) | Done::Checked(stat)) => {
                TxnResult::Stat(stat)
            }
            Err(code) => {
                changes.rollback(&mut self.tree);
                TxnResult::Error(code)
            }
        }
    }

    /// One op, mutating the tree only once every check has passed.
    pub(super) fn write_op(
        &mut self,
        ctx: &Ctx<'_>,
        op: &WriteOp,
        changes: &mut Changes,
    ) -> Result<Done, ErrorCode> {
        match op {
            WriteOp::Create {
                path,
                data,
                acl,
                flags,
                ttl,
            } => self.create(ctx, path, data, acl, *flags, *ttl, changes),
            WriteOp::Delete { path, version } => self.delete(ctx, path, *version, changes),
            WriteOp::SetData {
                path,
                data,
                version,
            } => self.set_data(ctx, path, data, *version, changes),
            WriteOp::SetAcl { path, acl, version } => {
                self.set_acl(ctx, path, acl, *version, changes)
            }
            WriteOp::Check { path, version } => self.check(ctx, path, *version),
            // A multi cannot nest (ZooKeeper cannot even decode one).
            WriteOp::Multi(_) => Err(ErrorCode::MarshallingError),
            WriteOp::Fail { code } => {
                Err(ErrorCode::from_code(*code).unwrap_or(ErrorCode::SystemError))
            }
        }
    }

    /// `ZooKeeperServer.checkQuota`, where ZooKeeper runs it (after the ACL check of a
    /// setData, last in a create): only when quotas are enforced; a hard limit refuses,
    /// a soft one is only reported.
    pub(super) fn check_quota(
        &self,
        ctx: &Ctx<'_>,
        path: &str,
        bytes: i64,
        count: i64,
        changes: &mut Changes,
    ) -> Result<(), ErrorCode> {
        if !ctx.enforce_quota {
            return Ok(());
        }
        match self.tree.check_quota(path, bytes, count) {
            Ok(None) => Ok(()),
            Ok(Some(soft)) => {
                changes.quota_breached(soft);
                Ok(())
            }
            Err((code, hard)) => {
                changes.quota_breached(hard);
                Err(code)
            }
        }
    }

    pub(super) fn require_session(&self, session_id: i64) -> Result<(), ErrorCode> {
        if self.sessions.contains(session_id) {
            Ok(())
        } else {
            Err(ErrorCode::SessionExpired)
        }
    }

    fn delete(
        &mut self,
        ctx: &Ctx<'_>,
        path: &str,
        version: i32,
        changes: &mut Changes,
    ) -> Result<Done, ErrorCode> {
        self.require_session(ctx.session_id)?;
        let parent = deletable_parent(path)?;
        let parent_acl = self.tree.acl(parent).ok_or(ErrorCode::NoNode)?;
        acl::require(parent_acl, perms::DELETE, ctx.auth)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        next_version(node.persisted_stat().version, version)?;
        if !node.children().is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        let undo = self.tree.delete(path, ctx.zxid)?;
        changes.deleted(&self.tree, path, undo);
        Ok(Done::Deleted)
    }

    fn set_data(
        &mut self,
        ctx: &Ctx<'_>,
        path: &str,
        data: &Option<Bytes>,
        version: i32,
        changes: &mut Changes,
    ) -> Result<Done, ErrorCode> {
        self.require_session(ctx.session_id)?;
        path::validate(path)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        acl::require(node.acl(), perms::WRITE, ctx.auth)?;
        let growth = data.as_ref().map_or(0, Bytes::len) as i64 - node.data_len() as i64;
        self.check_quota(ctx, path, growth, 0, changes)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        let new_version = next_version(node.persisted_stat().version, version)?;
        let (stat, undo) =
            self.tree
                .set_data(path, data.clone(), new_version, ctx.zxid, ctx.time)?;
        changes.data_changed(&self.tree, path, undo);
        Ok(Done::SetData(stat))
    }

    fn set_acl(
        &mut self,
        ctx: &Ctx<'_>,
        path: &str,
        new_acl: &[Acl],
        version: i32,
        changes: &mut Changes,
    ) -> Result<Done, ErrorCode> {
        self.require_session(ctx.session_id)?;
        path::validate(path)?;
        let fixed = acl::fixup(new_acl, ctx.auth)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        acl::require(node.acl(), perms::ADMIN, ctx.auth)?;
        let new_aversion = next_version(node.persisted_stat().aversion, version)?;
        let (stat, undo) = self.tree.set_acl(path, fixed, new_aversion)?;
        changes.acl_changed(undo);
        Ok(Done::SetAcl(stat))
    }

    fn check(&self, ctx: &Ctx<'_>, path: &str, version: i32) -> Result<Done, ErrorCode> {
        self.require_session(ctx.session_id)?;
        path::validate(path)?;
        let node = self.tree.node(path).ok_or(ErrorCode::NoNode)?;
        acl::require(node.acl(), perms::READ, ctx.auth)?;
        next_version(node.persisted_stat().version, version)?;
        Ok(Done::Checked(node.client_stat(self.tree.extended_types())))
    }
}

/// `checkAndIncVersion`: −1 matches any version. Java int, so it wraps.
pub(super) fn next_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

/// `getParentPathAndValidate`, for delete and deleteContainer: no `/`, a NUL, or one
/// of ZooKeeper's own nodes (`/`, `/zookeeper`, `/zookeeper/quota`,
/// `/zookeeper/config`) is `BadArguments`. Nothing else about the path is checked.
pub(super) fn deletable_parent(path: &str) -> Result<&str, ErrorCode> {
    if path.contains('\0') || path::is_special(path) {
        return Err(ErrorCode::BadArguments);
    }
    split_parent(path)
        .map(|(parent, _)| parent)
        .ok_or(ErrorCode::BadArguments)
}
