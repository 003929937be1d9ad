//! The clients of a simulation and what they record. Each client holds a session on
//! one member (another when that one is down), keeps it alive as a connection does, and
//! loops over: compare-and-set (a synced read, then a setData at the version read),
//! blind setData, synced reads, create and delete of the registers, sequential creates,
//! ephemeral creates, and closing its session for a new one. A session the leader
//! expired is replaced. Every operation is recorded with its call and return times on
//! the simulation's clock; a write whose reply was lost is recorded without a return
//! (it may or may not have taken effect).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::ErrorCode;
use ferrokeeper_protocol::perms::open_acl_unsafe;
use ferrokeeper_server::core::now_ms;
use ferrokeeper_server::proposal::Proposal;
use ferrokeeper_server::state::txn::{Entry, Txn, TxnResult, WriteOp};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::cluster::{Cluster, Running};
use crate::history::linearizable::Operation;
use crate::history::register::{Call, Reply};
use crate::history::session::Observed;

/// How long the clients run under faults (simulated time).
pub const WORKLOAD: Duration = Duration::from_secs(20);
/// The clients work on `KEYS_AT_ONCE` registers at a time and move to fresh ones every
/// `KEY_WINDOW` (Jepsen's independent keys): each register's history stays small enough
/// for the linearizability search, even with the writes of unknown outcome a fault
/// leaves (each of which may take effect at any later point).
pub const KEYS_AT_ONCE: usize = 3;
pub const KEY_WINDOW: Duration = Duration::from_secs(4);
/// Every register of a run: `/k0`, `/k1`, ...
pub const KEYS: usize = KEYS_AT_ONCE * (WORKLOAD.as_secs() / KEY_WINDOW.as_secs()) as usize;
pub const SEQUENTIAL_PARENT: &str = "/seq";
pub const EPHEMERAL_PARENT: &str = "/eph";
/// Sessions' timeout: long enough to outlive a short fault, short enough that a
/// client cut off for a while loses its session.
const SESSION_TIMEOUT_MS: i32 = 4_000;

pub fn key_path(key: usize) -> String {
    format!("/k{key}")
}

#[derive(Default, Debug)]
pub struct History {
    /// Per register: every operation on it.
    pub keys: Vec<Vec<Operation<Call, Reply>>>,
    /// Acknowledged sequential creates: (zxid, name).
    pub sequential: Vec<(i64, String)>,
    /// Acknowledged ephemeral creates: (owner session, path).
    pub ephemerals: Vec<(i64, String)>,
    /// Per session: the zxids its replies showed, in issue order.
    pub sessions: Vec<(u64, Vec<Observed>)>,
    /// Operations acknowledged, failed with a definite error, and of unknown outcome.
    pub acknowledged: u64,
    pub refused: u64,
    pub unknown: u64,
    pub sessions_expired: u64,
}

pub type Shared = Arc<Mutex<History>>;

pub fn lock(history: &Shared) -> std::sync::MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|e| e.into_inner())
}

/// The simulation clock in ns since the run started.
pub fn now_ns(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn value_of(data: Option<&Bytes>) -> u64 {
    data.and_then(|d| <[u8; 8]>::try_from(d.as_ref()).ok())
        .map_or(u64::MAX, u64::from_be_bytes)
}

fn data_of(value: u64) -> Option<Bytes> {
    Some(Bytes::copy_from_slice(&value.to_be_bytes()))
}

/// Proposes `txn` through `running` and waits for it to apply there. `None`: the
/// outcome is unknown (no leader, the reply was lost, the member went down).
pub async fn write(running: &Running, session: i64, txn: Txn) -> Option<TxnResult> {
    // What a connection does for every request: the session is alive.
    running.core.received(0, session, 0, None);
    let proposal = Proposal {
        reply_to: None,
        ticket: None,
        entry: Entry {
            time_ms: now_ms(),
            txn,
        },
    };
    ferrokeeper_server::dispatch::lost_writes::propose_and_wait(&running.replica, proposal)
        .await
        .ok()
}

/// A linearizable read of register `key` through `running`: a sync, then the local
/// copy. `None` if the sync failed.
/// Also returns the zxid the member had applied (what the reply shows the session).
pub async fn read(running: &Running, key: usize) -> Option<(Reply, i64)> {
    running.replica.sync().await.ok()?;
    let path = key_path(key);
    Some(running.core.with_state(|zk, _| {
        let reply = match zk.tree().get_data(&path) {
            Ok((data, stat)) => Reply::Value {
                value: value_of(data.as_ref()),
                version: stat.version,
            },
            Err(_) => Reply::NoNode,
        };
        (reply, zk.last_zxid())
    }))
}

fn reply_of(call: &Call, result: &TxnResult) -> Option<Reply> {
    Some(match (call, result) {
        (Call::Create(_), TxnResult::Created { .. }) => Reply::Created,
        (Call::Set(_) | Call::CompareAndSet { .. }, TxnResult::Stat(stat)) => Reply::Set {
            version: stat.version,
        },
        (Call::Delete { .. }, TxnResult::Deleted) => Reply::Deleted,
        (_, TxnResult::Error(ErrorCode::NodeExists)) => Reply::NodeExists,
        (_, TxnResult::Error(ErrorCode::NoNode)) => Reply::NoNode,
        (_, TxnResult::Error(ErrorCode::BadVersion)) => Reply::BadVersion,
        _ => return None,
    })
}

pub struct Client {
    pub index: u64,
    pub cluster: Arc<Cluster>,
    pub history: Shared,
    pub rng: SmallRng,
    pub start: Instant,
    pub until: Instant,
    /// Its home member.
    pub home: u64,
    session: Option<i64>,
    sessions_made: i64,
    /// Registers this client wrote with an unknown outcome: it only reads them from then
    /// on, which bounds the unknown writes per register by the number of clients (each
    /// one doubles the linearizability search).
    tainted: std::collections::BTreeSet<usize>,
    /// What the current session has observed, in issue order.
    observed: Vec<Observed>,
    values: u64,
    ephemerals_made: u64,
}

impl Client {
    pub fn new(
        index: u64,
        cluster: Arc<Cluster>,
        history: Shared,
        seed: u64,
        start: Instant,
        until: Instant,
    ) -> Client {
        let members: Vec<u64> = cluster.members.keys().copied().collect();
        let home = members[usize::try_from(index).unwrap_or(0) % members.len()];
        Client {
            index,
            cluster,
            history,
            rng: SmallRng::seed_from_u64(seed),
            start,
            until,
            home,
            session: None,
            sessions_made: 0,
            tainted: std::collections::BTreeSet::new(),
            observed: Vec::new(),
            values: 0,
            ephemerals_made: 0,
        }
    }

    /// Its home member if it runs, else a random running one.
    fn member(&mut self) -> Option<Running> {
        if let Some(running) = self.cluster.running(self.home) {
            return Some(running);
        }
        let up = self.cluster.running_ids();
        if up.is_empty() {
            return None;
        }
        let pick = up[self.rng.random_range(0..up.len())];
        self.cluster.running(pick)
    }

    fn next_value(&mut self) -> u64 {
        self.values += 1;
        (self.index << 40) | self.values
    }

    /// Files what the session that just ended observed.
    fn end_session(&mut self) {
        let ops = std::mem::take(&mut self.observed);
        if !ops.is_empty() {
            let id = ((self.index as i64 + 1) << 32) | self.sessions_made;
            lock(&self.history).sessions.push((id as u64, ops));
        }
    }

    /// Its session, made first if it has none.
    async fn session(&mut self, running: &Running) -> Option<i64> {
        if let Some(session) = self.session {
            return Some(session);
        }
        self.sessions_made += 1;
        let id = ((self.index as i64 + 1) << 32) | self.sessions_made;
        let made = write(
            running,
            id,
            Txn::CreateSession {
                session_id: id,
                timeout_ms: SESSION_TIMEOUT_MS,
            },
        )
        .await;
        // An unknown outcome leaves a session that may exist; the leader expires it.
        matches!(made, Some(TxnResult::SessionCreated)).then(|| {
            self.session = Some(id);
            id
        })
    }

    pub async fn run(mut self) {
        while Instant::now() < self.until {
            let think = Duration::from_millis(self.rng.random_range(0..40));
            tokio::time::sleep(think).await;
            let Some(running) = self.member() else {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            // A member that is not serving refuses requests before proposing anything,
            // as a server's connection does; the client waits and tries again.
            if !running.replica.role().borrow().serving() {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            let Some(session) = self.session(&running).await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let window = (self.until - WORKLOAD).elapsed().as_secs() / KEY_WINDOW.as_secs();
            let window = usize::try_from(window).unwrap_or(usize::MAX);
            let first = window.min(KEYS / KEYS_AT_ONCE - 1) * KEYS_AT_ONCE;
            let key = first + self.rng.random_range(0..KEYS_AT_ONCE);
            let mut kind = self.rng.random_range(0..100);
            if self.tainted.contains(&key) && kind < 70 {
                kind = 50;
            }
            match kind {
                0..30 => {
                    if let Some(Reply::Value { version, .. }) = self.read(&running, key).await {
                        let value = self.next_value();
                        let call = Call::CompareAndSet {
                            expected: version,
                            value,
                        };
                        self.register_write(&running, session, key, call).await;
                    }
                }
                30..50 => {
                    let call = Call::Set(self.next_value());
                    self.register_write(&running, session, key, call).await;
                }
                50..62 => {
                    self.read(&running, key).await;
                }
                62..66 => {
                    let call = Call::Create(self.next_value());
                    self.register_write(&running, session, key, call).await;
                }
                66..70 => {
                    let call = Call::Delete { expected: -1 };
                    self.register_write(&running, session, key, call).await;
                }
                70..85 => self.sequential(&running, session).await,
                85..97 => self.ephemeral(&running, session).await,
                _ => self.close(&running, session).await,
            }
        }
        self.end_session();
    }

    /// A synced read, recorded; `None` if it failed (nothing is recorded then: a read
    /// has no effect).
    async fn read(&mut self, running: &Running, key: usize) -> Option<Reply> {
        let call = now_ns(self.start);
        let (reply, seen) = read(running, key).await?;
        let returned = now_ns(self.start);
        self.observed.push(Observed { seen, wrote: None });
        lock(&self.history).keys[key].push(Operation {
            client: self.index,
            call,
            returned: Some((returned, reply.clone())),
            input: Call::Read,
        });
        Some(reply)
    }

    /// Counts an outcome; forgets the session if the leader says it expired.
    fn outcome(&mut self, result: Option<&TxnResult>) {
        let mut history = lock(&self.history);
        match result {
            None => history.unknown += 1,
            Some(TxnResult::Error(ErrorCode::SessionExpired)) => {
                history.sessions_expired += 1;
                history.refused += 1;
                self.session = None;
            }
            Some(TxnResult::Error(_)) => history.refused += 1,
            Some(_) => history.acknowledged += 1,
        }
        drop(history);
        let zxid = match result {
            Some(TxnResult::Created { stat, .. }) => Some(stat.czxid),
            Some(TxnResult::Stat(stat)) => Some(stat.mzxid),
            _ => None,
        };
        if let Some(zxid) = zxid {
            self.observed.push(Observed {
                seen: zxid,
                wrote: Some(zxid),
            });
        }
        if self.session.is_none() {
            self.end_session();
        }
    }

    async fn register_write(&mut self, running: &Running, session: i64, key: usize, call: Call) {
        let path = key_path(key);
        let op = match &call {
            Call::Create(value) => WriteOp::Create {
                path,
                data: data_of(*value),
                acl: open_acl_unsafe(),
                flags: 0,
                ttl: 0,
            },
            Call::Set(value) => WriteOp::SetData {
                path,
                data: data_of(*value),
                version: -1,
            },
            Call::CompareAndSet { expected, value } => WriteOp::SetData {
                path,
                data: data_of(*value),
                version: *expected,
            },
            Call::Delete { expected } => WriteOp::Delete {
                path,
                version: *expected,
            },
            Call::Read => return,
        };
        let called = now_ns(self.start);
        let result = write(
            running,
            session,
            Txn::Write {
                session_id: session,
                auth: Vec::new(),
                op,
            },
        )
        .await;
        let returned = now_ns(self.start);
        self.outcome(result.as_ref());
        if result.is_none() {
            self.tainted.insert(key);
            // As a client that lost its connection: back off before the next request.
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(100..500))).await;
        }
        let reply = match &result {
            // Refused before it touched the register: as if never issued.
            Some(TxnResult::Error(ErrorCode::SessionExpired)) => return,
            Some(result) => match reply_of(&call, result) {
                Some(reply) => Some((returned, reply)),
                None => {
                    panic!("unexpected result {result:?} for {call:?} on register {key}")
                }
            },
            None => None,
        };
        lock(&self.history).keys[key].push(Operation {
            client: self.index,
            call: called,
            returned: reply,
            input: call,
        });
    }

    /// A create of `path` (no data, open ACL) with CreateMode `flags` in the client's
    /// session, its outcome counted.
    async fn create(
        &mut self,
        running: &Running,
        session: i64,
        path: String,
        flags: i32,
    ) -> Option<TxnResult> {
        let op = WriteOp::Create {
            path,
            data: None,
            acl: open_acl_unsafe(),
            flags,
            ttl: 0,
        };
        let txn = Txn::Write {
            session_id: session,
            auth: Vec::new(),
            op,
        };
        let result = write(running, session, txn).await;
        self.outcome(result.as_ref());
        result
    }

    async fn sequential(&mut self, running: &Running, session: i64) {
        let prefix = format!("{SEQUENTIAL_PARENT}/n-");
        if let Some(TxnResult::Created { path, stat }) =
            self.create(running, session, prefix, 2).await
        {
            lock(&self.history).sequential.push((stat.czxid, path));
        }
    }

    async fn ephemeral(&mut self, running: &Running, session: i64) {
        self.ephemerals_made += 1;
        let path = format!(
            "{EPHEMERAL_PARENT}/c{}-{}",
            self.index, self.ephemerals_made
        );
        if let Some(TxnResult::Created { .. }) =
            self.create(running, session, path.clone(), 1).await
        {
            lock(&self.history).ephemerals.push((session, path));
        }
    }

    async fn close(&mut self, running: &Running, session: i64) {
        let result = write(
            running,
            session,
            Txn::CloseSession {
                session_id: session,
            },
        )
        .await;
        self.outcome(result.as_ref());
        // Closed, or unknown (then the leader expires it): either way a new one.
        self.session = None;
        self.end_session();
    }
}
