//! The server's live state behind one lock: the replicated ZooKeeper state, this
//! server's watch registry, its connections' outboxes and the session expiry tracker.
//!
//! One lock on purpose: applying an entry, queueing its watch events and queueing the
//! proposer's reply must be one step, so that every client sees a watch event before
//! any reply that reflects the change (DESIGN: watch-before-data), and reads that arm
//! watches cannot slip between a change and its trigger.

mod conn_stats;
mod follow;
mod outbox;
mod quota_log;
mod reads;
mod stats;
mod throttle;
mod write_counts;

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

// tokio's clock, which the deterministic simulation controls (the OS clock otherwise).
use tokio::time::Instant;

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    ErrorCode, Id, ReplyFrame, ReplyHeader, Response, WatcherEvent, perms, write_frame,
};

use crate::proposal::{ConnId, Proposal};
use crate::replication::Applier;
use crate::session::{ExpiryTracker, SessionIdGenerator};
use crate::state::txn::{Txn, TxnResult};
use crate::state::{StateConfig, ZkState};
use crate::tree::acl;
use crate::watch::WatchRegistry;

pub use conn_stats::{ConnStats, op_name};
pub use outbox::{Limits, Outbox, OutboxReceiver, Outgoing, outbox};
pub use reads::ReadContext;
pub use stats::{Latency, Stats};
pub use throttle::Throttle;
pub use write_counts::WriteCounts;

/// How a connection reached the server (`cons` lists TLS connections apart; ZooKeeper
/// counts connections without a client certificate, `non_mtls_*_conn_count`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transport {
    pub tls: bool,
    /// The client presented a certificate (mutual TLS).
    pub client_certificate: bool,
}

/// What the server knows of a live connection.
struct ConnEntry {
    outbox: Outbox,
    session: i64,
    /// Counts this connection's writes submitted, and those applied and answered.
    writes: write_counts::Counters,
    peer: String,
    /// The peer's address is a loopback one (ZooKeeper's "local" connections).
    local: bool,
    transport: Transport,
    established_ms: i64,
    /// The connection's authenticated ids, for filtering watch events by READ.
    auth: Vec<ferrokeeper_protocol::Id>,
    stats: ConnStats,
    /// Served in read-only mode (closed when the quorum is back).
    read_only: bool,
}

impl ConnEntry {
    /// Queues a reply to this connection's oldest unanswered request.
    fn reply(&mut self, frame: &ReplyFrame, server: &Stats) {
        server.packets_sent.fetch_add(1, Ordering::Relaxed);
        if let Some((latency, update)) = self.stats.replied(frame.header.zxid, Instant::now()) {
            server.record_latency(latency);
            let m = crate::metrics::global();
            if update {
                m.updatelatency.observe(latency);
            } else {
                m.readlatency.observe(latency);
            }
        }
        let bytes = encode(frame);
        server.record_response(bytes.len());
        let _ = self.outbox.send(Outgoing::Frame(bytes));
    }

    /// Queues a watch notification; `zxid` goes in its header (−1: none).
    fn notify(&mut self, event: WatcherEvent, zxid: i64, server: &Stats) {
        server.packets_sent.fetch_add(1, Ordering::Relaxed);
        self.stats.notified();
        let bytes = notification(event, zxid);
        server.record_response(bytes.len());
        let _ = self.outbox.send(Outgoing::Frame(bytes));
    }
}

struct CoreState {
    zk: ZkState,
    watches: WatchRegistry<ConnId>,
    conns: HashMap<ConnId, ConnEntry>,
    expiry: ExpiryTracker,
    ids: SessionIdGenerator,
    /// Sessions with client activity since the last report to the leader.
    touched: std::collections::HashSet<i64>,
    /// Writes forwarded to a ZooKeeper leader (following mode), by (session, xid):
    /// their reply comes when the txn they became is applied here.
    forwarded: HashMap<(i64, i32), follow::Forwarded>,
    /// This member's `/zookeeper/config` text, put back after a snapshot is restored.
    config_znode: Option<String>,
    /// Notifications carry the zxid of the change that fired them (ZooKeeper 3.9), not
    /// −1 (3.8): `ferrokeeper.watchEventZxid`.
    watch_event_zxid: bool,
    /// The zoo.cfg this server started from: a reconfig writes its membership next to
    /// it (`zoo.cfg.dynamic.<version>`) and points zoo.cfg there, as ZooKeeper does.
    zoo_cfg: Option<std::path::PathBuf>,
}

/// A connection's public facts, for `cons` and `dump`.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub conn: ConnId,
    pub session: i64,
    pub timeout_ms: i32,
    pub peer: String,
    pub local: bool,
    pub transport: Transport,
    pub established_ms: i64,
    pub received: u64,
    pub sent: u64,
    pub last_op: &'static str,
    pub last_cxid: i32,
    pub last_zxid: i64,
    /// Milliseconds since the server started, when the last reply left (0 if none).
    pub last_response_ms: u64,
    pub last_latency_ms: u64,
    pub min_latency_ms: u64,
    pub avg_latency_ms: u64,
    pub max_latency_ms: u64,
}

pub struct Core {
    server_id: u64,
    incarnation: i64,
    inner: Mutex<CoreState>,
    next_conn: AtomicU64,
    started: Instant,
    pub stats: Stats,
    /// Writes outstanding across this server's connections (`globalOutstandingLimit`).
    pub throttle: Throttle,
}

/// ZooKeeper's per-event-type counts of watchers one change triggered (only changes
/// that triggered some, as ZooKeeper records them).
fn observe_fired(event: ferrokeeper_protocol::EventType, fired: usize) {
    use ferrokeeper_protocol::EventType;
    if fired == 0 {
        return;
    }
    let m = crate::metrics::global();
    let summary = match event {
        EventType::NodeCreated => &m.node_created_watch_count,
        EventType::NodeDeleted => &m.node_deleted_watch_count,
        EventType::NodeDataChanged => &m.node_changed_watch_count,
        EventType::NodeChildrenChanged => &m.node_children_watch_count,
        _ => return,
    };
    summary.observe(fired as u64);
}

/// What applying an entry sends: watch events first (so they precede every reply that
/// reflects the change), then the proposer's reply when it is connected here (`origin`:
/// connection, xid, opcodes), then the close of a closed session's connections.
fn deliver(
    inner: &mut CoreState,
    (stats, throttle): (&Stats, &Throttle),
    applied: &crate::state::txn::Applied,
    origin: Option<(ConnId, i32, Vec<ferrokeeper_protocol::OpCode>)>,
    closed_session: Option<i64>,
) {
    // As in ZooKeeper 3.8.4+, a one-shot watch is used up either way, but the event
    // only goes to a watcher allowed to READ the node (CVE-2024-23944).
    for trigger in &applied.events {
        let zxid = if inner.watch_event_zxid {
            trigger.zxid
        } else {
            -1
        };
        let fired = inner.watches.trigger(trigger);
        observe_fired(trigger.event, fired.len());
        for (conn, event) in fired {
            let entry = inner
                .conns
                .get_mut(&conn)
                .filter(|e| acl::check(&trigger.acl, perms::READ, &e.auth));
            if let Some(entry) = entry {
                entry.notify(event.into(), zxid, stats);
            }
        }
    }
    if let Some((conn, xid, kinds)) = origin
        && let Some(entry) = inner.conns.get_mut(&conn)
    {
        let reply = crate::reply::write_reply(xid, applied.zxid, &kinds, applied.result.clone());
        entry.reply(&reply, stats);
        entry.writes.answered();
        throttle.finished(1);
    }
    // A closed session's connections go too, after their replies.
    if let Some(session) = closed_session {
        for entry in inner.conns.values().filter(|e| e.session == session) {
            let _ = entry.outbox.send(Outgoing::Close);
        }
    }
}

fn encode(frame: &ReplyFrame) -> Bytes {
    let mut buf = BytesMut::new();
    write_frame(frame, &mut buf);
    buf.freeze()
}

fn notification(event: WatcherEvent, zxid: i64) -> Bytes {
    encode(&ReplyFrame {
        header: ReplyHeader {
            xid: ferrokeeper_protocol::xid::NOTIFICATION,
            zxid,
            err: 0,
        },
        response: Response::Notification(event),
    })
}

pub fn now_ms() -> i64 {
    if let Some(ms) = crate::simulation::wall_ms() {
        return ms;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Core {
    pub fn new(server_id: u64, config: StateConfig) -> Self {
        Core {
            server_id,
            incarnation: now_ms(),
            inner: Mutex::new(CoreState {
                zk: ZkState::new(config),
                watches: WatchRegistry::new(),
                conns: HashMap::new(),
                expiry: ExpiryTracker::default(),
                ids: SessionIdGenerator::new(server_id, now_ms()),
                touched: std::collections::HashSet::new(),
                forwarded: HashMap::new(),
                config_znode: None,
                watch_event_zxid: true,
                zoo_cfg: None,
            }),
            next_conn: AtomicU64::new(1),
            started: Instant::now(),
            stats: Stats::default(),
            throttle: Throttle::default(),
        }
    }

    /// The lock is never held across an await and no code under it panics on input,
    /// so a poisoned lock can only follow a bug; carry on with the data as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, CoreState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn server_id(&self) -> u64 {
        self.server_id
    }

    /// This process's incarnation, stamped into the entries it proposes.
    pub fn incarnation(&self) -> i64 {
        self.incarnation
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub fn last_zxid(&self) -> i64 {
        self.lock().zk.last_zxid()
    }

    /// A fresh session id not in use.
    pub fn new_session_id(&self) -> i64 {
        let mut inner = self.lock();
        let CoreState { zk, ids, .. } = &mut *inner;
        ids.next_id(|id| zk.sessions().contains(id))
    }

    /// The session's negotiated timeout, if the session is alive.
    pub fn session_timeout(&self, session: i64) -> Option<i32> {
        session_timeout(&self.lock().zk, session)
    }

    /// Registers a connection for `session`. Any other connection of the same session
    /// is closed: the session has moved here. Returns the connection's write counters.
    pub fn attach(
        &self,
        conn: ConnId,
        session: i64,
        outbox: Outbox,
        (peer, transport): (std::net::SocketAddr, Transport),
        auth: Vec<Id>,
    ) -> WriteCounts {
        let (writes, view) = write_counts::Counters::new();
        let mut inner = self.lock();
        for (other, entry) in inner.conns.iter() {
            if entry.session == session && *other != conn {
                tracing::info!(
                    session = format!("0x{session:x}"),
                    conn = other,
                    "session moved; closing its old connection"
                );
                let _ = entry.outbox.send(Outgoing::Close);
            }
        }
        if let Some(timeout) = session_timeout(&inner.zk, session) {
            inner
                .expiry
                .add(session, timeout_duration(timeout), Instant::now());
        }
        inner.conns.insert(
            conn,
            ConnEntry {
                outbox,
                session,
                writes,
                peer: peer.to_string(),
                local: peer.ip().is_loopback(),
                transport,
                established_ms: now_ms(),
                auth,
                // The handshake counts as one packet each way, as in ZooKeeper.
                stats: ConnStats::after_handshake(),
                read_only: false,
            },
        );
        view
    }

    /// Records the connection's ids after a successful auth packet.
    pub fn set_auth(&self, conn: ConnId, auth: Vec<ferrokeeper_protocol::Id>) {
        if let Some(entry) = self.lock().conns.get_mut(&conn) {
            entry.auth = auth;
        }
    }

    /// Closes every connection of `session` (a client is resuming it elsewhere).
    pub fn close_session_connections(&self, session: i64) {
        for entry in self.lock().conns.values().filter(|e| e.session == session) {
            let _ = entry.outbox.send(Outgoing::Close);
        }
    }

    /// Forgets a closed connection and its watches. The session lives on until it expires.
    pub fn detach(&self, conn: ConnId) {
        let mut inner = self.lock();
        if let Some(entry) = inner.conns.remove(&conn) {
            let unanswered = entry.writes.unanswered();
            self.throttle
                .finished(usize::try_from(unanswered).unwrap_or(usize::MAX));
        }
        inner.watches.remove_watcher(conn);
        // Its forwarded writes can no longer be answered (following mode); one that
        // ZooKeeper never answers must not outlive the connection.
        inner.forwarded.retain(|_, f| f.conn != conn);
    }

    /// Records a request from `conn` (keeping `session` alive); its reply will be
    /// matched to it in order. `op` is `None` for an unknown opcode.
    pub fn received(
        &self,
        conn: ConnId,
        session: i64,
        xid: i32,
        op: Option<ferrokeeper_protocol::OpCode>,
    ) {
        self.stats.packets_received.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let mut inner = self.lock();
        inner.expiry.touch(session, now);
        inner.touched.insert(session);
        if let Some(entry) = inner.conns.get_mut(&conn) {
            entry.stats.received(xid, op, now);
        }
    }

    /// Counts a write `conn` submitted to the log.
    pub fn submitted(&self, conn: ConnId) {
        if let Some(entry) = self.lock().conns.get(&conn) {
            entry.writes.submitted();
            self.throttle.submitted();
        }
    }

    /// Closes every connection still waiting for a write: the write may have been
    /// dropped by a leader change, and its client must learn that (connection loss)
    /// rather than wait forever.
    pub fn close_waiting_writers(&self) {
        for (conn, entry) in self.lock().conns.iter() {
            if entry.writes.unanswered() > 0 {
                tracing::info!(conn, "closing a connection whose writes may have been lost");
                let _ = entry.outbox.send(Outgoing::Close);
            }
        }
    }

    /// Closes every client connection (this server stopped serving).
    pub fn close_all_connections(&self) {
        for entry in self.lock().conns.values() {
            let _ = entry.outbox.send(Outgoing::Close);
        }
    }

    /// Sets `/zookeeper/config` to this member's membership text (see
    /// `ZkState::set_config_znode`), now and after every snapshot restore.
    pub fn set_config_znode(&self, text: String) {
        let mut inner = self.lock();
        inner.zk.set_config_znode(&text);
        inner.config_znode = Some(text);
    }

    /// Whether notifications carry the zxid of their change (true, ZooKeeper 3.9) or −1.
    pub fn set_watch_event_zxid(&self, on: bool) {
        self.lock().watch_event_zxid = on;
    }

    /// Where a reconfig's membership is written (see `CoreState::zoo_cfg`).
    pub fn set_zoo_cfg(&self, path: std::path::PathBuf) {
        self.lock().zoo_cfg = Some(path);
    }

    /// Marks a connection as served in read-only mode.
    pub fn mark_read_only(&self, conn: ConnId) {
        if let Some(entry) = self.lock().conns.get_mut(&conn) {
            entry.read_only = true;
        }
    }

    /// Closes the connections served read-only (`true`) or the others (`false`).
    pub fn close_connections(&self, read_only: bool) {
        for entry in self
            .lock()
            .conns
            .values()
            .filter(|e| e.read_only == read_only)
        {
            let _ = entry.outbox.send(Outgoing::Close);
        }
    }

    /// `crst`: resets every connection's counters.
    pub fn reset_connection_stats(&self) {
        for entry in self.lock().conns.values_mut() {
            entry.stats.reset();
        }
    }

    /// Sessions past their deadline; the caller proposes their close.
    pub fn expired_sessions(&self) -> Vec<i64> {
        self.lock().expiry.expired(Instant::now())
    }

    /// Gives every live session a fresh timeout (after start or a leader change).
    pub fn refresh_all_sessions(&self) {
        let mut inner = self.lock();
        let now = Instant::now();
        let sessions = session_timeouts(&inner.zk);
        for (id, timeout) in sessions {
            inner.expiry.add(id, timeout_duration(timeout), now);
        }
    }

    /// Container and TTL nodes due for deletion.
    pub fn container_candidates(&self, max_never_used_ms: i64) -> Vec<String> {
        self.lock()
            .zk
            .container_candidates(now_ms(), max_never_used_ms)
    }

    /// Sends `frame` to `conn` as the reply to its oldest unanswered request.
    pub fn send(&self, conn: ConnId, frame: &ReplyFrame) {
        if let Some(entry) = self.lock().conns.get_mut(&conn) {
            entry.reply(frame, &self.stats);
        }
    }

    /// Sends an error reply stamped with the current zxid.
    pub fn send_error(&self, conn: ConnId, xid: i32, code: ErrorCode) {
        let zxid = self.last_zxid();
        self.send(conn, &crate::reply::error_reply(xid, zxid, code));
    }

    /// Sessions by the time they expire unless heard from (ms on the server's uptime
    /// clock, as ZooKeeper's `dump` groups them); only the leader tracks expiry.
    pub fn session_deadlines(&self) -> std::collections::BTreeMap<u64, Vec<i64>> {
        let inner = self.lock();
        let mut out: std::collections::BTreeMap<u64, Vec<i64>> = Default::default();
        for (session, deadline) in inner.expiry.deadlines() {
            let ms = u64::try_from(deadline.saturating_duration_since(self.started).as_millis())
                .unwrap_or(u64::MAX);
            out.entry(ms).or_default().push(session);
        }
        for ids in out.values_mut() {
            ids.sort_unstable();
        }
        out
    }

    pub fn connections(&self) -> Vec<ConnInfo> {
        let inner = self.lock();
        let mut out: Vec<ConnInfo> = inner
            .conns
            .iter()
            .map(|(conn, e)| ConnInfo {
                conn: *conn,
                session: e.session,
                timeout_ms: session_timeout(&inner.zk, e.session).unwrap_or(0),
                peer: e.peer.clone(),
                local: e.local,
                transport: e.transport,
                established_ms: e.established_ms,
                received: e.stats.received,
                sent: e.stats.sent,
                last_op: e.stats.last_op,
                last_cxid: e.stats.last_cxid,
                last_zxid: e.stats.last_zxid,
                last_response_ms: e.stats.last_response.map_or(0, |t| {
                    u64::try_from(t.saturating_duration_since(self.started).as_millis())
                        .unwrap_or(0)
                }),
                last_latency_ms: e.stats.last_latency_ms,
                min_latency_ms: e.stats.min_latency_ms,
                avg_latency_ms: e.stats.avg_latency_ms(),
                max_latency_ms: e.stats.max_latency_ms,
            })
            .collect();
        out.sort_by_key(|c| c.conn);
        out
    }

    /// Runs `f` with read access to the state and the watch registry.
    pub fn with_state<T>(&self, f: impl FnOnce(&ZkState, &WatchRegistry<ConnId>) -> T) -> T {
        let inner = self.lock();
        f(&inner.zk, &inner.watches)
    }
}

/// A live session's negotiated timeout.
pub fn session_timeout(zk: &ZkState, session: i64) -> Option<i32> {
    zk.sessions().get(session).map(|s| s.timeout_ms)
}

/// Every live session with its timeout, in id order.
pub fn session_timeouts(zk: &ZkState) -> Vec<(i64, i32)> {
    let mut out: Vec<(i64, i32)> = zk
        .sessions()
        .iter()
        .map(|(id, s)| (id, s.timeout_ms))
        .collect();
    out.sort_unstable();
    out
}

fn timeout_duration(timeout_ms: i32) -> Duration {
    Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0))
}

impl crate::replication::PeerHooks for Core {
    fn touch_sessions(&self, sessions: &[i64]) {
        let now = Instant::now();
        let mut inner = self.lock();
        for session in sessions {
            inner.expiry.touch(*session, now);
        }
    }

    fn take_touched_sessions(&self) -> Vec<i64> {
        self.lock().touched.drain().collect()
    }

    fn session_moved(&self, session: i64) {
        self.close_session_connections(session);
    }

    fn became_leader(&self) {
        self.refresh_all_sessions();
    }

    fn config_state(&self) -> (i64, Vec<ferrokeeper_protocol::Acl>) {
        let inner = self.lock();
        let acl = inner
            .zk
            .tree()
            .acl(crate::state::CONFIG_NODE)
            .map(<[ferrokeeper_protocol::Acl]>::to_vec)
            .unwrap_or_default();
        (inner.zk.config_version(), acl)
    }
}

impl Applier for Core {
    fn last_zxid(&self) -> i64 {
        Core::last_zxid(self)
    }

    fn apply(&self, proposal: &Proposal) -> (i64, TxnResult) {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let applied = inner.zk.apply(&proposal.entry);

        match (&proposal.entry.txn, &applied.result) {
            (
                Txn::CreateSession {
                    session_id,
                    timeout_ms,
                },
                TxnResult::SessionCreated,
            ) => {
                inner
                    .expiry
                    .add(*session_id, timeout_duration(*timeout_ms), Instant::now());
            }
            (Txn::CloseSession { session_id }, _) => inner.expiry.remove(*session_id),
            (Txn::Restore { .. }, TxnResult::Restored) => {
                tracing::info!(
                    zxid = applied.zxid,
                    nodes = inner.zk.tree().node_count(),
                    sessions = inner.zk.sessions().len(),
                    "state restored from a snapshot"
                );
                if let Some(text) = inner.config_znode.clone() {
                    inner.zk.set_config_znode(&text);
                }
                // Every restored session starts afresh; every client reconnects, so
                // none keeps watches or reads from before the restore.
                let now = Instant::now();
                for (id, timeout) in session_timeouts(&inner.zk) {
                    inner.expiry.add(id, timeout_duration(timeout), now);
                }
                for entry in inner.conns.values() {
                    let _ = entry.outbox.send(Outgoing::Close);
                }
            }
            (Txn::SetConfig { members }, TxnResult::Data { .. }) => {
                // Written here, under the lock, so files follow reconfigs in order
                // (they are rare); a failure is logged, the membership is in the log.
                if let Some(zoo_cfg) = &inner.zoo_cfg {
                    match crate::config::write_after_reconfig(zoo_cfg, members, applied.zxid) {
                        Ok(file) => tracing::info!(file = %file.display(), "membership written"),
                        Err(e) => tracing::error!(
                            zoo_cfg = %zoo_cfg.display(),
                            "cannot write the new membership next to zoo.cfg: {e}"
                        ),
                    }
                }
            }
            _ => {}
        }

        let origin = proposal
            .reply_to
            .as_ref()
            .filter(|o| o.server == self.server_id && o.incarnation == self.incarnation)
            .map(|o| (o.conn, o.xid, o.kinds()));
        // The server the client wrote through logs it, as ZooKeeper's leader does.
        if origin.is_some() {
            quota_log::log(&applied.quota_breaches);
        }
        let closed = match &proposal.entry.txn {
            Txn::CloseSession { session_id } => Some(*session_id),
            _ => None,
        };
        deliver(
            inner,
            (&self.stats, &self.throttle),
            &applied,
            origin,
            closed,
        );

        (applied.zxid, applied.result)
    }

    fn snapshot(&self) -> crate::replication::SnapshotWriter {
        // Writes wait while the copy is taken: that is the snapshot's write stall.
        let started = Instant::now();
        let copy = self.lock().zk.clone();
        let stall = started.elapsed();
        Box::new(move |out: &mut dyn io::Write| {
            let encoding = Instant::now();
            copy.encode_into(out)?;
            tracing::info!(
                nodes = copy.tree().node_count(),
                write_stall_ms = stall.as_millis() as u64,
                encode_ms = encoding.elapsed().as_millis() as u64,
                "snapshot state copied and encoded"
            );
            Ok(())
        })
    }

    fn restore(&self, state: &mut dyn io::Read, len: u64) -> io::Result<()> {
        // Decoded before the lock is taken: clients are served meanwhile.
        let mut zk = ZkState::decode_from(state, len)?;
        let mut inner = self.lock();
        if let Some(text) = &inner.config_znode {
            zk.set_config_znode(text);
        }
        inner.zk = zk;
        // The tree jumped ahead (a snapshot from the leader) without the changes that
        // would have fired this server's watches: close every connection, as a
        // ZooKeeper follower reloading its database does. Each client reconnects and
        // re-arms its watches with setWatches, which fires those that changed. (At
        // start-up there is no connection yet.)
        if !inner.conns.is_empty() {
            tracing::info!(
                connections = inner.conns.len(),
                "state replaced by a snapshot; closing client connections so they re-arm \
                 their watches"
            );
            for entry in inner.conns.values() {
                let _ = entry.outbox.send(Outgoing::Close);
            }
        }
        Ok(())
    }
}
