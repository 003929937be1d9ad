//! A server that follows a ZooKeeper ensemble, seen from its connections: writes,
//! session creation, session revalidation and sync go to ZooKeeper's leader as an
//! observer's REQUEST and REVALIDATE packets (`Learner.request`, `validateSession`),
//! and come back through the txn stream ([`ServerSink`]), which applies them to the
//! core and wakes whoever waits.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_protocol::{Id, QuorumPacket, TxnEntry, quorum_packet as qp};
use tokio::sync::{oneshot, watch};

use super::observer::{FollowSink, SharedWriter};
use crate::core::Core;
use crate::replication::Role;
use crate::state::txn::TxnResult;
use crate::zkfiles::snapshot::SnapshotBody;
use crate::zkfiles::state_from_snapshot;

/// Opcodes of the requests a learner forwards on its own behalf.
const CREATE_SESSION: i32 = -10;

/// The handle connections use to reach ZooKeeper's leader.
pub struct ZabLink {
    writer: SharedWriter,
    role: watch::Sender<Role>,
    /// Bumped whenever the link to the leader is made or lost: a connection whose
    /// writes span two generations may have lost some, and ends (as in ZooKeeper).
    generation: AtomicU64,
    creating: Mutex<HashMap<i64, oneshot::Sender<()>>>,
    revalidating: Mutex<HashMap<i64, oneshot::Sender<bool>>>,
    syncs: Mutex<VecDeque<oneshot::Sender<()>>>,
    /// How long to wait for the leader's answer (`syncLimit` ticks).
    patience: Duration,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl ZabLink {
    pub fn new(patience: Duration) -> Arc<ZabLink> {
        let (role, _) = watch::channel(Role::NotServing);
        Arc::new(ZabLink {
            writer: Arc::new(Mutex::new(None)),
            role,
            generation: AtomicU64::new(0),
            creating: Mutex::new(HashMap::new()),
            revalidating: Mutex::new(HashMap::new()),
            syncs: Mutex::new(VecDeque::new()),
            patience,
        })
    }

    /// The writer the observer loop installs once synced.
    pub fn writer(&self) -> &SharedWriter {
        &self.writer
    }

    pub fn role(&self) -> watch::Receiver<Role> {
        self.role.subscribe()
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    fn send(&self, packet: &QuorumPacket) -> Result<(), String> {
        let mut writer = locked(&self.writer);
        let writer = writer
            .as_mut()
            .ok_or("not connected to ZooKeeper's leader")?;
        writer
            .write(packet)
            .map_err(|e| format!("cannot reach ZooKeeper's leader: {e}"))
    }

    /// A REQUEST packet: session, xid, opcode, then the request's own bytes.
    fn request(
        &self,
        session: i64,
        xid: i32,
        opcode: i32,
        body: &[u8],
        auth: &[Id],
    ) -> Result<(), String> {
        let mut data = Vec::with_capacity(16 + body.len());
        data.extend_from_slice(&session.to_be_bytes());
        data.extend_from_slice(&xid.to_be_bytes());
        data.extend_from_slice(&opcode.to_be_bytes());
        data.extend_from_slice(body);
        self.send(&QuorumPacket {
            packet_type: qp::REQUEST,
            zxid: -1,
            data: Some(data.into()),
            authinfo: Some(auth.to_vec()),
        })
    }

    async fn answer<T>(&self, rx: oneshot::Receiver<T>, what: &str) -> Result<T, String> {
        match tokio::time::timeout(self.patience, rx).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_)) => Err(format!("{what}: the link to ZooKeeper's leader was lost")),
            Err(_) => Err(format!(
                "{what}: no answer from ZooKeeper's leader in {:?}",
                self.patience
            )),
        }
    }

    /// Registers a waiter for the leader's answer about `session`, sends the packet
    /// and waits. The waiter goes again if the packet cannot be sent or no answer
    /// comes, so unanswered requests leave nothing behind.
    async fn ask<T>(
        &self,
        waiters: &Mutex<HashMap<i64, oneshot::Sender<T>>>,
        session: i64,
        send: impl FnOnce() -> Result<(), String>,
        what: &str,
    ) -> Result<T, String> {
        let (tx, rx) = oneshot::channel();
        locked(waiters).insert(session, tx);
        let answer = match send() {
            Ok(()) => self.answer(rx, what).await,
            Err(e) => Err(e),
        };
        if answer.is_err() {
            // Only our own waiter (its receiver is gone by now), not one a later
            // request for the same session put in its place.
            let mut waiters = locked(waiters);
            if waiters.get(&session).is_some_and(|tx| tx.is_closed()) {
                waiters.remove(&session);
            }
        }
        answer
    }

    /// Creates a global session on ZooKeeper (a new client here); returns once its
    /// txn has been applied here.
    pub async fn create_session(
        &self,
        session: i64,
        timeout_ms: i32,
        auth: &[Id],
    ) -> Result<(), String> {
        let send = || self.request(session, 0, CREATE_SESSION, &timeout_ms.to_be_bytes(), auth);
        self.ask(&self.creating, session, send, "creating a session")
            .await
    }

    /// Asks the leader whether `session` (resumed here) is still alive.
    pub async fn revalidate(&self, session: i64, timeout_ms: i32) -> Result<bool, String> {
        let mut data = Vec::with_capacity(12);
        data.extend_from_slice(&session.to_be_bytes());
        data.extend_from_slice(&timeout_ms.to_be_bytes());
        let send = || {
            self.send(&QuorumPacket {
                packet_type: qp::REVALIDATE,
                zxid: -1,
                data: Some(data.into()),
                authinfo: None,
            })
        };
        self.ask(&self.revalidating, session, send, "revalidating a session")
            .await
    }

    /// Forwards a client's write; its reply comes with the txn it becomes.
    pub fn forward(
        &self,
        session: i64,
        xid: i32,
        opcode: i32,
        body: &[u8],
        auth: &[Id],
    ) -> Result<(), String> {
        self.request(session, xid, opcode, body, auth)
    }

    /// Forwards a client's sync and waits until the leader says everything committed
    /// before it has been sent here (and so applied: the stream is in order).
    pub async fn sync(
        &self,
        session: i64,
        xid: i32,
        body: &[u8],
        auth: &[Id],
    ) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        // Pushed and sent under one lock, so answers match requests in order.
        {
            let mut syncs = locked(&self.syncs);
            self.request(
                session,
                xid,
                ferrokeeper_protocol::OpCode::Sync.code(),
                body,
                auth,
            )?;
            syncs.push_back(tx);
        }
        self.answer(rx, "sync").await
    }

    fn synced(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.role.send_replace(Role::Observer);
    }

    /// Fails everything waiting for the leader (dropping the senders wakes them).
    fn lost(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.role.send_replace(Role::NotServing);
        locked(&self.creating).clear();
        locked(&self.revalidating).clear();
        locked(&self.syncs).clear();
    }
}

/// Where the observer's txns go in a serving server: into the core.
pub struct ServerSink {
    pub core: Arc<Core>,
    pub link: Arc<ZabLink>,
}

impl FollowSink for ServerSink {
    fn last_zxid(&self) -> i64 {
        self.core.last_zxid()
    }

    fn reset(&mut self, snapshot: SnapshotBody, zxid: i64) {
        let state = state_from_snapshot(snapshot, zxid, self.core.extended_types());
        self.core.replace_state(state);
    }

    fn apply(&mut self, txn: &TxnEntry) -> Result<(), String> {
        let applied = self.core.apply_zk(txn).map_err(|e| e.to_string())?;
        if applied.result == TxnResult::SessionCreated
            && let Some(waiter) = locked(&self.link.creating).remove(&txn.header.client_id)
        {
            let _ = waiter.send(());
        }
        Ok(())
    }

    fn touched_sessions(&mut self) -> Vec<(i64, i32)> {
        self.core.take_touched_with_timeouts()
    }

    fn synced(&mut self, _leader: u64, _zxid: i64) {
        self.link.synced();
    }

    fn lost(&mut self) {
        self.link.lost();
        self.core.close_all_connections();
        self.core.forget_forwarded();
    }

    fn revalidated(&mut self, session: i64, valid: bool) {
        if let Some(waiter) = locked(&self.link.revalidating).remove(&session) {
            let _ = waiter.send(valid);
        }
    }

    fn sync_done(&mut self) {
        if let Some(waiter) = locked(&self.link.syncs).pop_front() {
            let _ = waiter.send(());
        }
    }
}
