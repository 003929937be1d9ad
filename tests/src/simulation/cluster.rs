//! The simulated ensemble: each member is the server's own replication layer
//! (`Replica`: openraft, the durable log, the peer protocol) applying to the server's
//! own `Core`, started and crashed inside the simulation's runtime.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ferrokeeper_server::core::Core;
use ferrokeeper_server::replication::{
    Ensemble, PeerAddr, ReconfigRules, Replica, ReplicaOptions, Role, StorageOptions, SyncMode,
};
use ferrokeeper_server::server::expire_sessions;
use ferrokeeper_server::state::StateConfig;
use tokio_util::sync::CancellationToken;

use super::disk::SimDisk;
use super::network::{self, SimNetwork};

/// tickTime of the simulated members (ms): openraft's heartbeat and election timeouts
/// derive from it as on a real server.
pub const TICK_MS: u64 = 500;

pub struct Member {
    pub id: u64,
    pub log_dir: PathBuf,
    pub snapshot_dir: PathBuf,
}

/// A running member: its state, its Raft member, and what stops its server duties.
#[derive(Clone)]
pub struct Running {
    pub core: Arc<Core>,
    pub replica: Replica,
    stop: CancellationToken,
}

pub struct Cluster {
    pub members: BTreeMap<u64, Member>,
    pub voters: BTreeSet<u64>,
    pub network: SimNetwork,
    pub disk: SimDisk,
    pub snapshot_every: u64,
    running: Mutex<BTreeMap<u64, Running>>,
    starts: Mutex<BTreeMap<u64, i64>>,
    /// Keeps the members' directories until the run ends.
    _dir: tempfile::TempDir,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cluster {
    pub fn new(
        size: u64,
        network: SimNetwork,
        disk: SimDisk,
        snapshot_every: u64,
    ) -> std::io::Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let mut members = BTreeMap::new();
        for id in 1..=size {
            let log_dir = dir.path().join(format!("m{id}/log"));
            let snapshot_dir = dir.path().join(format!("m{id}/snap"));
            std::fs::create_dir_all(&log_dir)?;
            std::fs::create_dir_all(&snapshot_dir)?;
            members.insert(
                id,
                Member {
                    id,
                    log_dir,
                    snapshot_dir,
                },
            );
        }
        Ok(Cluster {
            voters: members.keys().copied().collect(),
            members,
            network,
            disk,
            snapshot_every,
            running: Mutex::new(BTreeMap::new()),
            starts: Mutex::new(BTreeMap::new()),
            _dir: dir,
        })
    }

    fn options(&self, member: &Member, incarnation: i64) -> ReplicaOptions {
        let peer_addrs = self
            .voters
            .iter()
            .filter(|id| **id != member.id)
            .map(|id| {
                (
                    *id,
                    PeerAddr {
                        addr: network::address(*id),
                        tls: None,
                        sasl: None,
                    },
                )
            })
            .collect();
        let specs = self
            .voters
            .iter()
            .map(|id| (*id, format!("sim-{id}:2888:3888:participant")))
            .collect();
        ReplicaOptions {
            id: member.id,
            incarnation,
            ensemble: Some(Ensemble {
                voters: self.voters.clone(),
                observers: BTreeSet::new(),
                peer_addrs,
                // Not bound: the simulated network carries the quorum port.
                listen: "127.0.0.1:0".parse().expect("an address"),
                tls: None,
                sasl: None,
                priorities: BTreeMap::new(),
                reconfig: ReconfigRules::default(),
                specs,
            }),
            tick_ms: TICK_MS,
            sync_limit_ticks: 5,
            storage: StorageOptions {
                log_dir: member.log_dir.clone(),
                snapshot_dir: member.snapshot_dir.clone(),
                sync: SyncMode::Fsync,
                snapshot_every: self.snapshot_every,
                snapshots_kept: 3,
                log_kept_behind_snapshot: self.snapshot_every / 2,
            },
        }
    }

    /// Starts member `id` on what its directories hold, with the leader's session
    /// expiry duty a server runs.
    pub async fn start(&self, id: u64) -> Result<(), String> {
        let member = self.members.get(&id).ok_or("no such member")?;
        let incarnation = {
            let mut starts = lock(&self.starts);
            let n = starts.entry(id).or_insert(0);
            *n += 1;
            *n
        };
        let core = Arc::new(Core::new(id, StateConfig::default()));
        let replica = Replica::start(
            self.options(member, incarnation),
            core.clone(),
            core.clone(),
        )
        .await
        .map_err(|e| format!("member {id} did not start: {e}"))?;
        let stop = CancellationToken::new();
        tokio::spawn(expire_sessions(
            core.clone(),
            replica.clone(),
            TICK_MS,
            stop.clone(),
        ));
        lock(&self.running).insert(
            id,
            Running {
                core,
                replica,
                stop,
            },
        );
        Ok(())
    }

    /// Crashes member `id`: its tasks stop, its connections reset, and its disk keeps
    /// only what was synced (and a random part of the rest). Returns how many of its
    /// files lost bytes.
    pub async fn crash(&self, id: u64) -> Result<usize, String> {
        let member = self.members.get(&id).ok_or("no such member")?;
        let Some(running) = lock(&self.running).remove(&id) else {
            return Ok(0);
        };
        self.network.crash(id);
        running.stop.cancel();
        running.replica.shutdown().await;
        self.disk
            .crash(&member.log_dir)
            .map_err(|e| format!("tearing member {id}'s log: {e}"))
    }

    pub fn running_ids(&self) -> Vec<u64> {
        lock(&self.running).keys().copied().collect()
    }

    pub fn running(&self, id: u64) -> Option<Running> {
        lock(&self.running).get(&id).cloned()
    }

    /// The running member that says it leads, if any.
    pub fn leader(&self) -> Option<u64> {
        lock(&self.running)
            .iter()
            .find(|(_, r)| *r.replica.role().borrow() == Role::Leader)
            .map(|(id, _)| *id)
    }

    /// Stops every member (the end of a run).
    pub async fn stop_all(&self) {
        let all: Vec<Running> = std::mem::take(&mut *lock(&self.running))
            .into_values()
            .collect();
        for running in all {
            running.stop.cancel();
            running.replica.shutdown().await;
        }
    }
}
