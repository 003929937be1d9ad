//! The core when this server follows a ZooKeeper ensemble (`ferrokeeper.follow`): its
//! state comes from ZooKeeper's leader, txn by txn, instead of from our Raft log. A
//! client's write is forwarded to that leader; its reply is sent when the txn it
//! became (same session, same xid) is applied here, after that txn's watch events,
//! exactly as an entry of our own log is answered.

use ferrokeeper_protocol::{OpCode, TxnEntry};

use super::{Core, deliver};
use crate::proposal::ConnId;
use crate::state::txn::{Applied, TxnResult};
use crate::state::{ZkState, ZkTxnError};

/// A forwarded write waiting for its txn.
pub(super) struct Forwarded {
    pub(super) conn: ConnId,
    kinds: Vec<OpCode>,
}

impl Core {
    /// Registers a write `conn` is forwarding for `session` as `xid`; counts it as
    /// submitted, so the connection's later reads wait for its reply.
    pub fn expect_forwarded(&self, conn: ConnId, session: i64, xid: i32, kinds: Vec<OpCode>) {
        let mut inner = self.lock();
        inner
            .forwarded
            .insert((session, xid), Forwarded { conn, kinds });
        if let Some(entry) = inner.conns.get(&conn) {
            entry.writes.submitted();
            self.throttle.submitted();
        }
    }

    /// Applies a txn ZooKeeper's leader committed: the state changes, watches fire,
    /// and the write it came from is answered if its connection is here.
    pub fn apply_zk(&self, txn: &TxnEntry) -> Result<Applied, ZkTxnError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let applied = inner.zk.apply_zk(txn)?;
        let key = (txn.header.client_id, txn.header.cxid);
        let origin = inner
            .forwarded
            .remove(&key)
            .map(|f| (f.conn, txn.header.cxid, f.kinds));
        let closed =
            matches!(applied.result, TxnResult::SessionClosed).then_some(txn.header.client_id);
        deliver(
            inner,
            (&self.stats, &self.throttle),
            &applied,
            origin,
            closed,
        );
        Ok(applied)
    }

    /// Replaces the whole state (a SNAP sync from ZooKeeper's leader). Clients are
    /// disconnected while this happens (the server does not serve while syncing).
    pub fn replace_state(&self, state: ZkState) {
        let mut inner = self.lock();
        inner.zk = state;
        inner.forwarded.clear();
    }

    /// Forgets every forwarded write: the link to ZooKeeper's leader was lost, and every
    /// connection with one is closed. A txn that still comes for one later must not
    /// answer a new request that happens to reuse its session and xid.
    pub fn forget_forwarded(&self) {
        self.lock().forwarded.clear();
    }

    /// Sessions with client activity since the last call, with their timeouts: what a
    /// ZooKeeper observer tells its leader in answer to a ping.
    pub fn take_touched_with_timeouts(&self) -> Vec<(i64, i32)> {
        let mut inner = self.lock();
        let touched: Vec<i64> = inner.touched.drain().collect();
        touched
            .into_iter()
            .filter_map(|s| super::session_timeout(&inner.zk, s).map(|t| (s, t)))
            .collect()
    }

    /// The state's config (what a snapshot from ZooKeeper is read with).
    pub fn extended_types(&self) -> bool {
        self.lock().zk.config().extended_types_enabled
    }
}

#[cfg(test)]
mod tests {
    use ferrokeeper_protocol::OpCode;

    use super::super::Core;
    use crate::state::StateConfig;

    #[test]
    fn a_closed_connection_leaves_no_forwarded_write_behind() {
        let core = Core::new(1, StateConfig::default());
        let session = 0x42;
        for conn in [1, 2] {
            let (outbox, _rx) = crate::core::outbox(crate::core::Limits::for_max_frame(1 << 20));
            core.attach(
                conn,
                session,
                outbox,
                ("127.0.0.1:1".parse().expect("addr"), Default::default()),
                Vec::new(),
            );
        }
        core.expect_forwarded(1, session, 7, vec![OpCode::Create]);
        core.expect_forwarded(1, session, 8, vec![OpCode::Check]);
        core.expect_forwarded(2, session, 9, vec![OpCode::SetData]);

        core.detach(1);

        let mut left: Vec<(i64, i32)> = core.lock().forwarded.keys().copied().collect();
        left.sort_unstable();
        assert_eq!(left, vec![(session, 9)]);
    }
}
