//! What goes through the replicated log: one [`Entry`] per client write, session change
//! or server-initiated delete. Everything `apply` needs is in the entry (time, session,
//! the session's authenticated ids), so applying is deterministic on every server.

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, ErrorCode, EventType, Id, Stat};
use serde::{Deserialize, Serialize};

use crate::tree::QuotaBreach;

/// One replicated log entry's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Milliseconds since the Unix epoch, stamped by the proposer (used for ctime/mtime
    /// and TTL/container decisions).
    pub time_ms: i64,
    pub txn: Txn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Txn {
    /// A new session; the proposer chose the id and the negotiated timeout.
    CreateSession { session_id: i64, timeout_ms: i32 },
    /// Explicit close or expiry: deletes the session's ephemerals atomically.
    CloseSession { session_id: i64 },
    /// A client write. `auth` is the session's authenticated ids at proposal time (with
    /// `super:` when the client authenticated as the super user); ACL checks use them.
    Write {
        session_id: i64,
        auth: Vec<Id>,
        op: WriteOp,
    },
    /// The container/TTL reaper's delete (ZooKeeper's deleteContainer, opcode 20): fails
    /// with NotEmpty if the node has children, and refuses normal ephemerals.
    DeleteContainer { path: String },
    /// A client write proposed by a server with `zookeeper.enforceQuota=true`: as
    /// `Write`, but a create or setData that would go over a quota's hard limit fails
    /// with QuotaExceeded. Carried by the entry (not a server setting read at apply
    /// time) so every replica decides alike, as ZooKeeper's leader decides for all.
    WriteEnforcingQuota {
        session_id: i64,
        auth: Vec<Id>,
        op: WriteOp,
    },
    /// A committed reconfig: `/zookeeper/config` becomes `members` (the `server.N=`
    /// lines) and `version=<this entry's zxid, hex>`, as ZooKeeper's reconfig txn sets
    /// it; its watchers get NodeDataChanged.
    SetConfig { members: String },
    /// ZooKeeper 3.9's admin `restore`: the tree and sessions become those of `state`
    /// (a postcard-encoded `ZkState`, read from a ZooKeeper snapshot); the zxid goes on
    /// from this entry's, so it never moves backwards.
    Restore { state: Bytes },
}

/// A client write operation, validated only at apply time (so the checks see exactly
/// the state the write applies to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WriteOp {
    /// create / create2 / createContainer / createTTL: `flags` is the raw CreateMode
    /// number; `ttl` is 0 unless the client used createTTL.
    Create {
        path: String,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        flags: i32,
        ttl: i64,
    },
    Delete {
        path: String,
        version: i32,
    },
    SetData {
        path: String,
        data: Option<Bytes>,
        version: i32,
    },
    SetAcl {
        path: String,
        acl: Vec<Acl>,
        version: i32,
    },
    Check {
        path: String,
        version: i32,
    },
    /// Atomic: all ops succeed under one zxid, or none is applied.
    Multi(Vec<WriteOp>),
    /// A request ZooKeeper turns into an error txn before applying anything (a
    /// disabled reconfig, a multi mixing reads into writes): it fails with this
    /// `ErrorCode` number but still takes a zxid, as ZooKeeper's error txns do.
    Fail {
        code: i32,
    },
}

/// The result of applying one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The zxid this entry was given (every entry gets one, failed writes too, as in ZooKeeper).
    pub zxid: i64,
    pub result: TxnResult,
    /// What changed, in order, for the watch registry. Empty when nothing changed.
    pub events: Vec<WatchTrigger>,
    /// Quota limits a write went over (only checked when quotas are enforced): the
    /// server logs them as ZooKeeper does.
    pub quota_breaches: Vec<QuotaBreach>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    SessionCreated,
    SessionClosed,
    /// The created node's actual path (with its sequence suffix) and stat.
    Created {
        path: String,
        stat: Stat,
    },
    Deleted,
    /// setData, setACL and check: the node's stat after the op.
    Stat(Stat),
    /// One result per op, in ZooKeeper's failed-multi shape on failure.
    Multi(Vec<OpResult>),
    Error(ErrorCode),
    /// A node's data and stat (reconfig answers with the new configuration).
    Data {
        data: Bytes,
        stat: Stat,
    },
    /// A restore replaced the tree and the sessions.
    Restored,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    Created {
        path: String,
        stat: Stat,
    },
    Deleted,
    SetData(Stat),
    SetAcl(Stat),
    Checked,
    /// 0 for ops before the failing one, its code, −2 (RuntimeInconsistency) after.
    Error(ErrorCode),
}

/// One change a watch may fire on. `event` is NodeCreated, NodeDeleted,
/// NodeDataChanged or NodeChildrenChanged (on the parent of a created/deleted node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchTrigger {
    pub path: String,
    pub event: EventType,
    /// The zxid of the change (the notification's header carries −1, but setWatches
    /// bookkeeping and ordering use it).
    pub zxid: i64,
    /// The ACL of the node the event is about (the parent's for NodeChildrenChanged),
    /// as it was when the change happened: ZooKeeper 3.8.4+ sends the event only to
    /// watchers with READ on it.
    pub acl: Vec<Acl>,
}
