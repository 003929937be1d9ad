//! The server's live state behind one lock: the replicated ZooKeeper state, this
//! server's watch registry, its connections' outboxes and the session expiry tracker.
//!
//! One lock on purpose: applying an entry, queueing its watch events and queueing the
//! proposer's reply must be one step, so that every client sees a watch event before
//! any reply that reflects the change (DESIGN: watch-before-data), and reads that arm
//! watches cannot slip between a change and its trigger.

mod reads;
mod stats;

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    ErrorCode, Id, ReplyFrame, ReplyHeader, Response, WatcherEvent, perms, write_frame,
};
use tokio::sync::{mpsc, watch};

use crate::proposal::{ConnId, Proposal};
use crate::replication::Applier;
use crate::session::{ExpiryTracker, SessionIdGenerator};
use crate::state::txn::{Txn, TxnResult};
use crate::state::{StateConfig, ZkState};
use crate::tree::acl;
use crate::watch::WatchRegistry;

pub use reads::ReadContext;
pub use stats::{Latency, Stats};

/// What a connection's writer task sends to the socket.
#[derive(Debug)]
pub enum Outgoing {
    Frame(Bytes),
    /// Flush what came before, then close the connection.
    Close,
}

pub type Outbox = mpsc::UnboundedSender<Outgoing>;

/// What the server knows of a live connection.
struct ConnEntry {
    outbox: Outbox,
    session: i64,
    /// Counts this connection's writes that have been applied (and answered).
    applied: watch::Sender<u64>,
    peer: String,
    established_ms: i64,
    /// The connection's authenticated ids, for filtering watch events by READ.
    auth: Vec<ferrokeeper_protocol::Id>,
}

struct Inner {
    zk: ZkState,
    watches: WatchRegistry<ConnId>,
    conns: HashMap<ConnId, ConnEntry>,
    expiry: ExpiryTracker,
    ids: SessionIdGenerator,
}

/// A connection's public facts, for `cons` and `dump`.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub conn: ConnId,
    pub session: i64,
    pub peer: String,
    pub established_ms: i64,
}

pub struct Core {
    server_id: u64,
    inner: Mutex<Inner>,
    next_conn: AtomicU64,
    pub stats: Stats,
}

fn encode(frame: &ReplyFrame) -> Bytes {
    let mut buf = BytesMut::new();
    write_frame(frame, &mut buf);
    buf.freeze()
}

fn notification(event: WatcherEvent) -> Bytes {
    encode(&ReplyFrame {
        header: ReplyHeader {
            xid: ferrokeeper_protocol::xid::NOTIFICATION,
            zxid: -1,
            err: 0,
        },
        response: Response::Notification(event),
    })
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Core {
    pub fn new(server_id: u64, config: StateConfig) -> Self {
        Core {
            server_id,
            inner: Mutex::new(Inner {
                zk: ZkState::new(config),
                watches: WatchRegistry::new(),
                conns: HashMap::new(),
                expiry: ExpiryTracker::default(),
                ids: SessionIdGenerator::new(server_id, now_ms()),
            }),
            next_conn: AtomicU64::new(1),
            stats: Stats::default(),
        }
    }

    /// The lock is never held across an await and no code under it panics on input,
    /// so a poisoned lock can only follow a bug; carry on with the data as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn server_id(&self) -> u64 {
        self.server_id
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
        let Inner { zk, ids, .. } = &mut *inner;
        ids.next_id(|id| zk.sessions().contains(id))
    }

    /// The session's negotiated timeout, if the session is alive.
    pub fn session_timeout(&self, session: i64) -> Option<i32> {
        session_timeout(&self.lock().zk, session)
    }

    /// Registers a connection for `session`. Any other connection of the same session
    /// is closed: the session has moved here. Returns the applied-writes counter.
    pub fn attach(
        &self,
        conn: ConnId,
        session: i64,
        outbox: Outbox,
        peer: String,
        auth: Vec<Id>,
    ) -> watch::Receiver<u64> {
        let (applied, rx) = watch::channel(0);
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
                applied,
                peer,
                established_ms: now_ms(),
                auth,
            },
        );
        rx
    }

    /// Records the connection's ids after a successful auth packet.
    pub fn set_auth(&self, conn: ConnId, auth: Vec<ferrokeeper_protocol::Id>) {
        if let Some(entry) = self.lock().conns.get_mut(&conn) {
            entry.auth = auth;
        }
    }

    /// Forgets a closed connection and its watches. The session lives on until it expires.
    pub fn detach(&self, conn: ConnId) {
        let mut inner = self.lock();
        inner.conns.remove(&conn);
        inner.watches.remove_watcher(conn);
    }

    /// Records activity on `session` (any request or ping).
    pub fn touch(&self, session: i64) {
        self.lock().expiry.touch(session, Instant::now());
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

    /// Sends `frame` to `conn` (a reply that needs no state).
    pub fn send(&self, conn: ConnId, frame: &ReplyFrame) {
        let inner = self.lock();
        if let Some(entry) = inner.conns.get(&conn) {
            self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
            let _ = entry.outbox.send(Outgoing::Frame(encode(frame)));
        }
    }

    /// Sends an error reply stamped with the current zxid.
    pub fn send_error(&self, conn: ConnId, xid: i32, code: ErrorCode) {
        let zxid = self.last_zxid();
        self.send(conn, &crate::net::replies::error_reply(xid, zxid, code));
    }

    pub fn connections(&self) -> Vec<ConnInfo> {
        let inner = self.lock();
        let mut out: Vec<ConnInfo> = inner
            .conns
            .iter()
            .map(|(conn, e)| ConnInfo {
                conn: *conn,
                session: e.session,
                peer: e.peer.clone(),
                established_ms: e.established_ms,
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

impl Applier for Core {
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
            _ => {}
        }

        // Watch events first, so they precede every reply that reflects the change.
        // As in ZooKeeper 3.8.4+, a one-shot watch is used up either way, but the event
        // only goes to a watcher allowed to READ the node (CVE-2024-23944).
        for trigger in &applied.events {
            for (conn, event) in inner.watches.trigger(trigger) {
                let entry = inner
                    .conns
                    .get(&conn)
                    .filter(|e| acl::check(&trigger.acl, perms::READ, &e.auth));
                if let Some(entry) = entry {
                    self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                    let _ = entry
                        .outbox
                        .send(Outgoing::Frame(notification(event.into())));
                }
            }
        }

        if let Some(origin) = proposal
            .origin
            .as_ref()
            .filter(|o| o.server == self.server_id)
        {
            if let Some(entry) = inner.conns.get(&origin.conn) {
                let reply = crate::net::replies::write_reply(
                    origin.xid,
                    applied.zxid,
                    &origin.kinds(),
                    applied.result.clone(),
                );
                self.stats.packets_sent.fetch_add(1, Ordering::Relaxed);
                let _ = entry.outbox.send(Outgoing::Frame(encode(&reply)));
                entry.applied.send_modify(|n| *n += 1);
            }
        }

        // A closed session's connections go too, after their replies.
        if let Txn::CloseSession { session_id } = &proposal.entry.txn {
            for entry in inner.conns.values().filter(|e| e.session == *session_id) {
                let _ = entry.outbox.send(Outgoing::Close);
            }
        }

        (applied.zxid, applied.result)
    }

    fn snapshot(&self) -> io::Result<Vec<u8>> {
        let inner = self.lock();
        serde_json::to_vec(&inner.zk).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn restore(&self, data: &[u8]) -> io::Result<()> {
        let zk: ZkState = serde_json::from_slice(data)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.lock().zk = zk;
        Ok(())
    }
}
