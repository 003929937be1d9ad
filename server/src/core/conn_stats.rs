//! Per-connection statistics for `cons`, kept as ZooKeeper keeps them. Replies leave a
//! connection in request order, so each request's arrival time waits in a queue and
//! the next reply pops it: that gives exact latencies without per-request bookkeeping.

use std::collections::VecDeque;
// tokio's clock, which the deterministic simulation controls (the OS clock otherwise).
use tokio::time::Instant;

use ferrokeeper_protocol::OpCode;

/// ZooKeeper's `lastOp` abbreviation for an opcode (FinalRequestProcessor); `None`
/// for requests that do not update it (auth, sasl).
pub fn op_name(op: OpCode) -> Option<&'static str> {
    Some(match op {
        OpCode::Ping => "PING",
        OpCode::CreateSession => "SESS",
        OpCode::Multi => "MULT",
        OpCode::MultiRead => "MLTR",
        OpCode::Create | OpCode::Create2 | OpCode::CreateTtl | OpCode::CreateContainer => "CREA",
        OpCode::Delete | OpCode::DeleteContainer => "DELE",
        OpCode::SetData => "SETD",
        OpCode::Reconfig => "RECO",
        OpCode::SetAcl => "SETA",
        OpCode::CloseSession => "CLOS",
        OpCode::Sync => "SYNC",
        OpCode::Check => "CHEC",
        OpCode::Exists => "EXIS",
        OpCode::GetData => "GETD",
        OpCode::SetWatches => "SETW",
        OpCode::SetWatches2 => "STW2",
        OpCode::AddWatch => "ADDW",
        OpCode::GetAcl => "GETA",
        OpCode::GetChildren | OpCode::GetChildren2 => "GETC",
        OpCode::GetAllChildrenNumber => "GETACN",
        OpCode::CheckWatches => "CHKW",
        OpCode::RemoveWatches => "REMW",
        OpCode::WhoAmI => "HOMI",
        OpCode::GetEphemerals => "GETE",
        OpCode::Auth | OpCode::Sasl | OpCode::Notification | OpCode::Error => return None,
    })
}

#[derive(Debug)]
pub struct ConnStats {
    pub received: u64,
    pub sent: u64,
    pub last_op: &'static str,
    pub last_cxid: i32,
    pub last_zxid: i64,
    /// When the last reply left, as an instant (rendered relative to server start).
    pub last_response: Option<Instant>,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub max_latency_ms: u64,
    total_latency_ms: u64,
    replies: u64,
    waiting: VecDeque<(Instant, Option<&'static str>, i32, bool)>,
}

impl Default for ConnStats {
    fn default() -> Self {
        ConnStats {
            received: 0,
            sent: 0,
            last_op: "NA",
            last_cxid: 0,
            last_zxid: -1,
            last_response: None,
            last_latency_ms: 0,
            min_latency_ms: 0,
            max_latency_ms: 0,
            total_latency_ms: 0,
            replies: 0,
            waiting: VecDeque::new(),
        }
    }
}

impl ConnStats {
    /// A new connection's counters: the handshake counts as one packet each way, as in
    /// ZooKeeper.
    pub fn after_handshake() -> Self {
        ConnStats {
            received: 1,
            sent: 1,
            ..ConnStats::default()
        }
    }

    /// A request arrived; its reply will come in order.
    pub fn received(&mut self, xid: i32, op: Option<OpCode>, now: Instant) {
        self.received += 1;
        self.waiting
            .push_back((now, op.and_then(op_name), xid, op.is_some_and(is_update)));
    }

    /// A reply left; returns the request's latency in ms when one was waiting, and
    /// whether it was a write (ZooKeeper's `updatelatency`) rather than a read.
    pub fn replied(&mut self, zxid: i64, now: Instant) -> Option<(u64, bool)> {
        self.sent += 1;
        let (arrived, op, xid, update) = self.waiting.pop_front()?;
        let latency =
            u64::try_from(now.saturating_duration_since(arrived).as_millis()).unwrap_or(u64::MAX);
        if let Some(op) = op {
            self.last_op = op;
        }
        self.last_cxid = xid;
        self.last_zxid = zxid;
        self.last_response = Some(now);
        self.last_latency_ms = latency;
        self.min_latency_ms = if self.replies == 0 {
            latency
        } else {
            self.min_latency_ms.min(latency)
        };
        self.max_latency_ms = self.max_latency_ms.max(latency);
        self.total_latency_ms = self.total_latency_ms.saturating_add(latency);
        self.replies += 1;
        Some((latency, update))
    }

    /// A notification left (counted as sent, no request answered).
    pub fn notified(&mut self) {
        self.sent += 1;
    }

    pub fn avg_latency_ms(&self) -> u64 {
        self.total_latency_ms.checked_div(self.replies).unwrap_or(0)
    }

    /// `crst`: ZooKeeper resets the counters, not the identity.
    pub fn reset(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        *self = ConnStats {
            waiting,
            ..ConnStats::default()
        };
    }
}

/// Requests that change the state (ZooKeeper's `updatelatency`; the rest count as reads).
fn is_update(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::Create
            | OpCode::Create2
            | OpCode::CreateContainer
            | OpCode::CreateTtl
            | OpCode::Delete
            | OpCode::DeleteContainer
            | OpCode::SetData
            | OpCode::SetAcl
            | OpCode::Multi
            | OpCode::Reconfig
            | OpCode::CreateSession
            | OpCode::CloseSession
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn replies_pop_requests_in_order() {
        let t0 = Instant::now();
        let mut s = ConnStats::default();
        s.received(1, Some(OpCode::GetData), t0);
        s.received(2, Some(OpCode::Create), t0 + Duration::from_millis(5));
        s.notified();
        assert_eq!(
            s.replied(7, t0 + Duration::from_millis(10)),
            Some((10, false))
        );
        assert_eq!((s.last_op, s.last_cxid, s.last_zxid), ("GETD", 1, 7));
        assert_eq!(
            s.replied(8, t0 + Duration::from_millis(25)),
            Some((20, true))
        );
        assert_eq!((s.last_op, s.last_cxid), ("CREA", 2));
        assert_eq!((s.received, s.sent), (2, 3));
        assert_eq!(
            (s.min_latency_ms, s.max_latency_ms, s.avg_latency_ms()),
            (10, 20, 15)
        );
        // A reply with nothing waiting (none expected) counts but measures nothing.
        assert_eq!(s.replied(9, t0), None);
    }
}
