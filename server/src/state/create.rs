//! create / create2 / createContainer / createTTL, in the order of
//! `PrepRequestProcessor.pRequest2TxnCreate` (checked against ZooKeeper 3.8.0):
//!
//! 1. unknown flag → BadArguments; TTL mode with extended types off → Unimplemented
//! 2. TTL out of range, or a TTL on a non-TTL mode → BadArguments
//! 3. session unknown → SessionExpired
//! 4. no `/` or a NUL in the path → BadArguments
//! 5. ACL empty, unknown or unexpandable → InvalidAcl
//! 6. parent missing → NoNode (so `/missing/x/` is NoNode, not BadArguments)
//! 7. no CREATE on the parent → NoAuth
//! 8. sequence suffix appended, then the full path validated → BadArguments
//! 9. node exists → NodeExists
//! 10. parent is a session's ephemeral → NoChildrenForEphemerals
//! 11. with quotas enforced, over a hard limit → QuotaExceeded
//!
//! The contract carries the node type in `flags`: the network layer maps create and
//! create2 with flag 4 to 0 (ZooKeeper makes those plain persistent nodes), and
//! `ttl` is 0 unless the request was a createTTL.

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, CreateMode, ErrorCode, perms};

use super::ZkState;
use super::changes::Changes;
use super::writes::{Ctx, Done};
use crate::tree::owner::{CONTAINER_OWNER, ttl_owner};
use crate::tree::path::{self, split_parent};
use crate::tree::{OwnerKind, acl};

impl ZkState {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn create(
        &mut self,
        ctx: &Ctx<'_>,
        path: &str,
        data: &Option<Bytes>,
        acl_list: &[Acl],
        flags: i32,
        ttl: i64,
        changes: &mut Changes,
    ) -> Result<Done, ErrorCode> {
        let mode = CreateMode::from_code(flags).ok_or(ErrorCode::BadArguments)?;
        let owner = self.owner_for(mode, ttl, ctx.session_id)?;
        self.require_session(ctx.session_id)?;
        if path.contains('\0') {
            return Err(ErrorCode::BadArguments);
        }
        let (parent_path, _) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        let fixed_acl = acl::fixup(acl_list, ctx.auth)?;
        let parent = self.tree.node(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::require(parent.acl(), perms::CREATE, ctx.auth)?;
        let full_path = if mode.is_sequential() {
            sequential_name(path, parent.persisted_stat().cversion)
        } else {
            path.to_owned()
        };
        path::validate(&full_path)?;
        if self.tree.node(&full_path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        let parent_kind = OwnerKind::of(
            parent.persisted_stat().ephemeral_owner,
            self.tree.extended_types(),
        );
        if parent_kind.is_session_ephemeral() {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let bytes = data.as_ref().map_or(0, Bytes::len) as i64;
        self.check_quota(ctx, &full_path, bytes, 1, changes)?;
        let (stat, undo) = self.tree.create(
            &full_path,
            data.clone(),
            fixed_acl,
            owner,
            ctx.zxid,
            ctx.time,
        )?;
        changes.created(&self.tree, &full_path, undo);
        Ok(Done::Created {
            path: full_path,
            stat,
        })
    }

    /// Checks the mode/TTL pair (steps 1–2) and gives the stored owner value.
    fn owner_for(&self, mode: CreateMode, ttl: i64, session_id: i64) -> Result<i64, ErrorCode> {
        if mode.is_ttl() {
            if !self.config.extended_types_enabled {
                return Err(ErrorCode::Unimplemented);
            }
            return ttl_owner(ttl).ok_or(ErrorCode::BadArguments);
        }
        // ZooKeeper rejects ttl >= 0 on other modes; a negative one would crash its
        // apply (it is re-validated there), so it is refused here as well.
        if ttl != 0 {
            return Err(ErrorCode::BadArguments);
        }
        Ok(match mode {
            CreateMode::Container => CONTAINER_OWNER,
            m if m.is_ephemeral() => session_id,
            _ => 0,
        })
    }
}

/// `path + String.format("%010d", parentCversion)`. Java and Rust both put a minus
/// sign inside the width (`-000000005`), and `i32::MIN` takes 11 characters.
pub(super) fn sequential_name(path: &str, parent_cversion: i32) -> String {
    format!("{path}{parent_cversion:010}")
}
