//! A connection's writes: proposed to our log (or forwarded to ZooKeeper's leader)
//! without waiting for each other; the core answers each when its entry is applied
//! here, in apply order. [`WriteOrder`] keeps the connection's two ordering rules.

use bytes::Bytes;
use ferrokeeper_protocol::{Id, OpCode, ReconfigRequest};

use super::{Backend, DispatchError, lost_writes};
use crate::core::{Core, WriteCounts, now_ms};
use crate::proposal::{ConnId, Proposal, ReplyTo};
use crate::state::txn::{Entry, Txn, WriteOp};

/// One connection's writes in flight.
pub struct WriteOrder {
    /// The connection's writes submitted and answered, as the core counts them.
    counts: WriteCounts,
    /// The leadership under which the last write was submitted.
    leadership: (u64, Option<u64>),
}

/// Who writes: the connection and its session's identity.
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    pub conn: ConnId,
    pub session: i64,
    pub auth: &'a [Id],
}

/// One write: the request's xid, the opcodes its reply is shaped by (one, or a multi's),
/// and the transaction it proposes.
pub struct Write {
    pub xid: i32,
    pub kinds: Vec<OpCode>,
    pub txn: Txn,
}

impl WriteOrder {
    /// `counts`: the connection's write counters, from [`Core::attach`].
    pub fn new(counts: WriteCounts) -> WriteOrder {
        WriteOrder {
            counts,
            leadership: (0, None),
        }
    }

    /// Read-after-write: returns once every write this connection submitted has been
    /// answered, so a later read (or any reply) keeps the client's order.
    pub async fn wait_applied(&mut self) -> Result<(), DispatchError> {
        let target = self.counts.submitted();
        self.counts
            .answered(target)
            .await
            .map_err(|_| DispatchError::Cancelled)
    }

    /// A new write must not overtake earlier ones a leader change may have dropped
    /// ([`lost_writes::admit`]).
    fn admit(&mut self, backend: &Backend) -> Result<(), DispatchError> {
        let leadership = backend.leadership();
        lost_writes::admit(self.counts.waiting(), self.leadership, leadership)?;
        self.leadership = leadership;
        Ok(())
    }

    /// Proposes a write (`request`: the client's frame, header included, which a
    /// follower of ZooKeeper forwards as it came). Returns once it is on its way, not
    /// once applied.
    pub async fn submit(
        &mut self,
        core: &Core,
        backend: &Backend,
        writer: Writer<'_>,
        write: Write,
        request: &Bytes,
    ) -> Result<(), DispatchError> {
        let Write { xid, kinds, txn } = write;
        self.admit(backend)?;
        match backend {
            Backend::Raft(replica) => {
                let proposal = Proposal {
                    reply_to: Some(origin(core, writer.conn, xid, &kinds)),
                    ticket: None,
                    entry: Entry {
                        time_ms: now_ms(),
                        txn,
                    },
                };
                replica
                    .submit(proposal)
                    .await
                    .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
                core.submitted(writer.conn);
            }
            Backend::Zab(link) => {
                let (opcode, body) = split_request(request)?;
                core.expect_forwarded(writer.conn, writer.session, xid, kinds);
                link.forward(writer.session, xid, opcode, body, writer.auth)
                    .map_err(DispatchError::Unavailable)?;
            }
        }
        Ok(())
    }

    /// A reconfig with `reconfigEnabled`: the leader runs it and proposes its outcome
    /// with this connection's origin, so the answer (the new configuration, or an
    /// error) comes when that entry is applied here, in order with the connection's
    /// writes. A standalone server cannot reconfigure (ZooKeeper: Unimplemented, as an
    /// error txn).
    pub async fn reconfig(
        &mut self,
        core: &Core,
        backend: &Backend,
        writer: Writer<'_>,
        xid: i32,
        request: &ReconfigRequest,
        payload: &Bytes,
    ) -> Result<(), DispatchError> {
        let kinds = vec![OpCode::Reconfig];
        let replica = match backend {
            Backend::Raft(replica) if replica.is_ensemble() => replica,
            _ => {
                let txn = Txn::Write {
                    session_id: writer.session,
                    auth: writer.auth.to_vec(),
                    op: WriteOp::Fail {
                        code: ferrokeeper_protocol::ErrorCode::Unimplemented.code(),
                    },
                };
                return self
                    .submit(core, backend, writer, Write { xid, kinds, txn }, payload)
                    .await;
            }
        };
        self.leadership = backend.leadership();
        let call = crate::replication::ReconfigCall {
            proposal: Proposal {
                reply_to: Some(origin(core, writer.conn, xid, &kinds)),
                ticket: None,
                // Replaced by the leader with the outcome.
                entry: Entry {
                    time_ms: now_ms(),
                    txn: Txn::CloseSession { session_id: 0 },
                },
            },
            joining: request.joining_servers.clone(),
            leaving: request.leaving_servers.clone(),
            new_members: request.new_members.clone(),
            from_config: request.cur_config_id,
            session_id: writer.session,
            auth: writer.auth.to_vec(),
        };
        // Counted before it can be answered: later reads wait for it like for a write.
        core.submitted(writer.conn);
        replica
            .reconfig(call)
            .await
            .map_err(|e| DispatchError::Unavailable(e.to_string()))
    }
}

/// Where a proposal's reply goes: this connection, this request (the core answers it
/// when the entry is applied here).
fn origin(core: &Core, conn: ConnId, xid: i32, kinds: &[OpCode]) -> ReplyTo {
    ReplyTo {
        server: core.server_id(),
        incarnation: core.incarnation(),
        conn,
        xid,
        kinds: kinds.iter().map(|k| k.code()).collect(),
    }
}

/// A request frame's opcode and the bytes after its header (xid, opcode).
pub(super) fn split_request(request: &Bytes) -> Result<(i32, &[u8]), DispatchError> {
    let opcode = request
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| DispatchError::BadFrame("request shorter than its header".into()))?;
    Ok((opcode, &request[8..]))
}
