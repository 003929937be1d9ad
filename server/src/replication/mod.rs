//! The openraft glue; the only module that names openraft types. The rest of the
//! server proposes [`Proposal`]s through a [`Replica`] and learns results as
//! [`TxnResult`]s.

mod activity;
mod address_book;
mod contact;
mod crash_watch;
mod durable_log;
mod forward;
mod network;
pub mod offline;
mod peer_client;
mod peer_server;
mod peer_wire;
mod priority;
mod reconfig;
mod role;
mod role_monitor;
mod runtime;
mod snapshot_data;
mod snapshot_file;
mod state_machine;
mod tickets;
mod transfer;
mod types;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use openraft::BasicNode;
use openraft::async_runtime::WatchReceiver;
use openraft::raft::ReadPolicy;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use durable_log::{DurableLogStore, LogOptions, LogStoreError, SyncMode};
pub use peer_client::PeerAddr;
pub use peer_wire::PeerIo;
pub use reconfig::{ReconfigCall, ReconfigRules};
pub use role::{FollowerCounts, Role};
pub use state_machine::{Applier, SnapshotWriter};
pub use transfer::{ServerId, TransferError};

use crate::proposal::Proposal;
use crate::state::txn::TxnResult;
use activity::report_activity;
use address_book::AddressBook;
use contact::Contact;
use forward::ForwarderTask;
use network::Peers;
use peer_client::PeerConn;
use peer_server::PeerService;
use peer_wire::{PeerRequest, PeerResponse};
use role_monitor::RoleMonitor;
use state_machine::{SnapshotOptions, StateMachine};
use tickets::Tickets;
use transfer::Transfers;
use types::{Raft, TypeConfig};

/// What the replication layer needs from the rest of the server.
pub trait PeerHooks: Send + Sync + 'static {
    /// The leader learns that these sessions had client activity on a follower.
    fn touch_sessions(&self, sessions: &[i64]);
    /// Sessions with client activity here since the last call (reported to the leader).
    fn take_touched_sessions(&self) -> Vec<i64>;
    /// A client resumed `session` on another server: drop its connections here.
    fn session_moved(&self, session: i64);
    /// This server just became the leader, or starts serving as leader again after it
    /// lost its quorum: give every session a fresh timeout.
    fn became_leader(&self);
    /// The version of the configuration in `/zookeeper/config` and that node's ACL,
    /// for a reconfig's checks.
    fn config_state(&self) -> (i64, Vec<ferrokeeper_protocol::Acl>);
}

/// The members of a replicated ensemble, as this server's configuration names them.
#[derive(Debug, Clone)]
pub struct Ensemble {
    pub voters: BTreeSet<u64>,
    pub observers: BTreeSet<u64>,
    /// Quorum address (`host:port`) of every other member, and how to reach it.
    pub peer_addrs: BTreeMap<u64, PeerAddr>,
    /// Where this server accepts its peers.
    pub listen: SocketAddr,
    /// `sslQuorum`/`portUnification`: TLS on the quorum port.
    pub tls: Option<Arc<crate::tls::peer::PeerTls>>,
    /// `quorum.auth.enableSasl`: peers authenticate with DIGEST-MD5.
    pub sasl: Option<Arc<crate::config::QuorumSasl>>,
    /// `ferrokeeper.priority.<id>`: leadership preference (unlisted voters: 1).
    pub priorities: BTreeMap<u64, u32>,
    /// What a reconfig is checked against.
    pub reconfig: ReconfigRules,
    /// Every configured member's `server.N` value as ZooKeeper prints it
    /// (`host:quorumPort:electionPort:type[;client]`), this server's included: what
    /// `/zookeeper/config` shows for a member until a reconfig names it anew.
    pub specs: BTreeMap<u64, String>,
}

/// Raft's state as the metrics report it; plain numbers, so no openraft type leaves
/// this module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RaftFacts {
    pub term: u64,
    pub leader: Option<u64>,
    pub last_log_index: u64,
    pub committed_index: u64,
    pub applied_index: u64,
    /// The last index covered by the latest snapshot.
    pub snapshot_index: u64,
    /// Entries up to here were removed from the log (they are in a snapshot).
    pub purged_index: u64,
    /// On the leader: every other member's last replicated index.
    pub matched: Vec<(u64, u64)>,
    /// Voting members of an ensemble; `None` standalone.
    pub voters: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct ReplicaOptions {
    /// `myid`.
    pub id: u64,
    /// This process's incarnation (see [`crate::proposal::ReplyTo`]).
    pub incarnation: i64,
    /// `None`: a standalone server, a one-voter cluster.
    pub ensemble: Option<Ensemble>,
    pub tick_ms: u64,
    /// `syncLimit`: ticks without a leader (or, for the leader, without a quorum) after
    /// which this server stops serving clients.
    pub sync_limit_ticks: u64,
    pub storage: StorageOptions,
}

/// Where the Raft log and snapshots live and how they are kept.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    pub log_dir: std::path::PathBuf,
    pub snapshot_dir: std::path::PathBuf,
    /// `Fsync` unless `forceSync=no`.
    pub sync: SyncMode,
    /// `snapCount`: entries between snapshots.
    pub snapshot_every: u64,
    /// `autopurge.snapRetainCount`.
    pub snapshots_kept: usize,
    /// Entries kept in the log behind the newest snapshot.
    pub log_kept_behind_snapshot: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    #[error("cannot start replication: {0}")]
    Start(String),
    #[error("this server cannot commit writes now: {0}")]
    Unavailable(String),
}

/// A handle to this server's Raft member.
#[derive(Clone)]
pub struct Replica {
    inner: Arc<ReplicaState>,
}

struct ReplicaState {
    /// Released at shutdown, so the log can be opened again at once in this process.
    log_store: DurableLogStore,
    me: u64,
    raft: Raft,
    tickets: Arc<Tickets>,
    /// `None` for a standalone server (it is always the leader).
    forward: Option<mpsc::UnboundedSender<Proposal>>,
    ensemble: Option<Ensemble>,
    /// Every other member's quorum address, kept up to date with reconfigs.
    addrs: AddressBook,
    role: watch::Receiver<Role>,
    lost: watch::Sender<u64>,
    /// One connection for `sync`'s read-index requests to the leader.
    read_index_conn: tokio::sync::Mutex<Option<PeerConn>>,
    /// How long to wait for a leader or a peer's answer.
    patience: Duration,
    /// Leadership hand-overs asked of this server.
    transfers: Transfers,
    /// Runs reconfigs when this server leads (`None` standalone).
    reconfigurer: Option<Arc<reconfig::Reconfigurer>>,
    stop: CancellationToken,
}

/// The quorum-port protocol versions this server offers its peers; an unusable
/// override stops start-up.
pub fn quorum_protocol_versions() -> Result<String, String> {
    peer_wire::local_versions().map(|v| v.to_string())
}

/// How long a leadership transfer may take before it is reported failed: twice the
/// longest election timeout, and at least 2 s on a loaded machine.
fn transfer_patience(config: &openraft::Config) -> Duration {
    Duration::from_millis(2 * config.election_timeout_max).max(Duration::from_secs(2))
}

/// Timing from tickTime: heartbeats every tenth of a tick (at most 50 ms), elections
/// after half a tick (at most 250 ms) to twice that of silence. Raft notices a silent
/// leader only by this timeout, and openraft's followers refuse votes for the leader
/// lease (the longest election timeout) after the last heartbeat, so a leader that
/// falls silent costs about two election timeouts (0.87 s at tickTime 2000 in
/// `tests/failover.rs`; ZooKeeper 0.38 s). A leader whose process died is noticed at
/// once instead, through its closed connections and refusing port ([`crash_watch`]).
/// Pre-vote and the leader lease keep a slow heartbeat from deposing a healthy leader.
fn raft_config(options: &ReplicaOptions) -> openraft::Config {
    let tick = options.tick_ms.max(20);
    let heartbeat = (tick / 10).clamp(10, 50);
    let election = (tick / 2).clamp(5 * heartbeat, 250);
    openraft::Config {
        cluster_name: "ferrokeeper".into(),
        heartbeat_interval: heartbeat,
        election_timeout_min: election,
        election_timeout_max: 2 * election,
        snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(
            options.storage.snapshot_every.max(1),
        ),
        // Keep some log behind each snapshot (openraft issue #2116, and for
        // followers that are only a little behind).
        max_in_snapshot_log_to_keep: options.storage.log_kept_behind_snapshot,
        // A server that was cut off must not disturb a healthy leader when it returns.
        enable_pre_vote: Some(options.ensemble.is_some()),
        ..Default::default()
    }
}

impl Replica {
    /// Starts this server's Raft member over the durable log and snapshots in
    /// `options.storage`.
    ///
    /// Standalone: makes sure it is the only voter and leader, and returns once
    /// everything the log held has been applied again.
    ///
    /// Ensemble: every voter initialises openraft with the same membership (the voters
    /// of the configuration) when its log and snapshots are empty, which openraft
    /// allows; a member that was ever initialised never is again. Observers wait to be
    /// added as learners by the leader. Returns at once; [`Replica::role`] says when
    /// the server may serve clients.
    pub async fn start(
        options: ReplicaOptions,
        applier: Arc<dyn Applier>,
        hooks: Arc<dyn PeerHooks>,
    ) -> Result<Self, ReplicationError> {
        let start = |e: &dyn std::fmt::Display| ReplicationError::Start(e.to_string());
        let id = options.id;
        let config = Arc::new(raft_config(&options).validate().map_err(|e| start(&e))?);
        let storage = &options.storage;
        let init_started = std::time::Instant::now();
        let tickets = Arc::new(Tickets::new(id, options.incarnation));
        let open_log = || DurableLogStore::open(&storage.log_dir, storage.sync);
        let open_state = || {
            let snap_started = std::time::Instant::now();
            let opened = StateMachine::open(
                applier,
                SnapshotOptions {
                    dir: Some(storage.snapshot_dir.clone()),
                    retain: storage.snapshots_kept,
                },
            );
            crate::metrics::global()
                .startup_snap_load_time
                .observe_duration(snap_started.elapsed());
            opened
        };
        // The log and the newest snapshot are read at the same time: at a million
        // znodes each takes a good part of a restart, and they are independent until
        // openraft starts. (In a simulation everything stays on its one thread.)
        let (log, state_machine) = if crate::simulation::current().is_some() {
            (open_log(), open_state())
        } else {
            std::thread::scope(|scope| {
                let log = std::thread::Builder::new()
                    .name("log-open".into())
                    .spawn_scoped(scope, open_log);
                let state_machine = open_state();
                let log = match log {
                    Ok(handle) => handle.join().unwrap_or_else(|_| {
                        Err(LogStoreError::Io {
                            op: "open (the thread panicked)",
                            path: storage.log_dir.clone(),
                            source: std::io::Error::other("panicked"),
                        })
                    }),
                    // No thread to spare: open it here.
                    Err(_) => open_log(),
                };
                (log, state_machine)
            })
        };
        let log = log.map_err(|e| start(&e))?;
        let state_machine = state_machine
            .map_err(|e| start(&e))?
            .with_tickets(tickets.clone());
        let metrics = crate::metrics::global();
        let peer_addrs = match &options.ensemble {
            Some(e) => AddressBook::new(e.peer_addrs.clone(), e.tls.clone(), e.sasl.clone()),
            None => AddressBook::default(),
        };
        let network = Peers {
            me: id,
            addrs: peer_addrs.clone(),
        };
        let log_store = log.clone();
        let raft = Raft::new(id, config.clone(), network, log, state_machine)
            .await
            .map_err(|e| start(&e))?;
        // Opening the log, loading the snapshot and openraft's start-up together.
        metrics.dbinittime.observe_duration(init_started.elapsed());
        let stop = CancellationToken::new();
        let tick = Duration::from_millis(options.tick_ms.max(1));
        let quorum_timeout = tick * u32::try_from(options.sync_limit_ticks.max(2)).unwrap_or(2);
        let (lost, _) = watch::channel(0u64);
        let initialized = raft.is_initialized().await.map_err(|e| start(&e))?;
        let transfers = Transfers {
            me: id,
            raft: raft.clone(),
            observers: options
                .ensemble
                .as_ref()
                .map(|e| e.observers.clone())
                .unwrap_or_default(),
            patience: transfer_patience(&config),
        };

        let Some(ensemble) = options.ensemble.clone() else {
            if !initialized {
                let members = BTreeMap::from([(id, BasicNode::default())]);
                raft.initialize(members).await.map_err(|e| start(&e))?;
            }
            raft.wait(Some(Duration::from_secs(30)))
                .current_leader(id, "single voter elects itself")
                .await
                .map_err(|e| start(&e))?;
            // Serve nothing until the log's entries are applied again.
            let last = raft.metrics().borrow_watched().last_log_index;
            raft.wait(Some(Duration::from_secs(600)))
                .applied_index_at_least(last, "log replayed")
                .await
                .map_err(|e| start(&e))?;
            let (_, role) = watch::channel(Role::Standalone);
            return Ok(Replica {
                inner: Arc::new(ReplicaState {
                    log_store: log_store.clone(),
                    me: id,
                    raft,
                    tickets,
                    forward: None,
                    ensemble: None,
                    addrs: peer_addrs.clone(),
                    role,
                    lost,
                    read_index_conn: tokio::sync::Mutex::new(None),
                    patience: quorum_timeout,
                    transfers,
                    reconfigurer: None,
                    stop,
                }),
            });
        };

        let listener = match crate::simulation::current() {
            Some(sim) => peer_server::PeerListener::Simulated(sim.network.listen(id)),
            None => peer_server::PeerListener::Tcp(
                tokio::net::TcpListener::bind(ensemble.listen)
                    .await
                    .map_err(|e| {
                        ReplicationError::Start(format!(
                            "cannot listen for peers on {}: {e}",
                            ensemble.listen
                        ))
                    })?,
            ),
        };
        if !initialized && ensemble.voters.contains(&id) {
            let members: BTreeMap<u64, BasicNode> = ensemble
                .voters
                .iter()
                .map(|voter| (*voter, BasicNode::default()))
                .collect();
            tracing::info!(voters = ?ensemble.voters, "initialising a new ensemble");
            // Before the quorum port answers, so no leader can have reached us yet;
            // a refusal still only means another member's entries arrived first.
            if let Err(e) = raft.initialize(members).await {
                tracing::info!("not initialising: {e}");
            }
        }

        let contact = Arc::new(Contact::default());
        let (role_tx, role) = watch::channel(Role::NotServing);
        let reconfigurer = Arc::new(reconfig::Reconfigurer {
            me: id,
            raft: raft.clone(),
            hooks: hooks.clone(),
            addrs: peer_addrs.clone(),
            specs: ensemble.specs.clone(),
            rules: ensemble.reconfig,
            // A new voter catches up, and the change commits, within initLimit-like
            // bounds: several election timeouts, at least 10 s on a loaded machine.
            patience: (quorum_timeout * 4).max(Duration::from_secs(10)),
            sync_limit: quorum_timeout,
            busy: tokio::sync::Mutex::new(()),
        });
        let crash_watch = Arc::new(crash_watch::CrashWatch::new(
            id,
            raft.clone(),
            peer_addrs.clone(),
            contact.clone(),
            &config,
        ));
        tokio::spawn(peer_server::serve_peers(
            PeerService {
                me: id,
                raft: raft.clone(),
                hooks: hooks.clone(),
                contact: contact.clone(),
                crash_watch,
                role: role.clone(),
                tls: ensemble.tls.clone(),
                peer_addrs: peer_addrs.clone(),
                sasl: ensemble.sasl.clone(),
                transfers: transfers.clone(),
                reconfigurer: reconfigurer.clone(),
                snapshot_dir: storage.snapshot_dir.clone(),
            },
            listener,
            stop.clone(),
        ));
        if let Some(tls) = ensemble.tls.as_ref().filter(|t| t.reloads()) {
            // sslQuorumReloadCertFiles: new connections use renewed certificates.
            tokio::spawn(
                tls.clone()
                    .reload_on_change(Duration::from_secs(2), stop.clone()),
            );
        }
        let (forward_tx, forward_rx) = mpsc::unbounded_channel();
        tokio::spawn(
            ForwarderTask {
                me: id,
                raft: raft.clone(),
                addrs: peer_addrs.clone(),
                lost: lost.clone(),
                patience: quorum_timeout,
            }
            .run(forward_rx),
        );
        let monitor = RoleMonitor {
            me: id,
            raft: raft.clone(),
            contact: contact.clone(),
            hooks: hooks.clone(),
            observers: ensemble.observers.clone(),
            quorum_timeout,
            role: role_tx,
            lost: lost.clone(),
            adding: Arc::new(AtomicBool::new(false)),
            addrs: peer_addrs.clone(),
        };
        tokio::spawn(monitor.run(stop.clone()));
        tokio::spawn(report_activity(
            id,
            raft.clone(),
            hooks,
            contact.clone(),
            peer_addrs.clone(),
            tick / 2,
            stop.clone(),
        ));
        let priorities = ensemble.priorities.clone();
        let voters = ensemble.voters.clone();
        let replica = Replica {
            inner: Arc::new(ReplicaState {
                log_store: log_store.clone(),
                me: id,
                raft,
                tickets,
                forward: Some(forward_tx),
                ensemble: Some(ensemble),
                addrs: peer_addrs,
                role,
                lost,
                read_index_conn: tokio::sync::Mutex::new(None),
                patience: quorum_timeout,
                transfers,
                reconfigurer: Some(reconfigurer),
                stop: stop.clone(),
            }),
        };
        if !priorities.is_empty() {
            tokio::spawn(priority::prefer(
                replica.clone(),
                priority::Priorities::new(priorities, voters),
                stop,
            ));
        }
        Ok(replica)
    }

    /// This server's role; changes are announced on the receiver.
    pub fn role(&self) -> watch::Receiver<Role> {
        self.inner.role.clone()
    }

    /// Bumped whenever writes submitted here may have been dropped (a leader change,
    /// or forwarding failed). Replication only raises this signal; what follows is
    /// decided in one place, [`crate::dispatch::lost_writes`].
    pub fn writes_lost(&self) -> watch::Receiver<u64> {
        self.inner.lost.subscribe()
    }

    /// The current (term, leader): writes submitted under one leadership are appended
    /// in submission order; across a change, earlier ones may have been dropped.
    pub fn leadership(&self) -> (u64, Option<u64>) {
        let metrics = self.inner.raft.metrics();
        let metrics = metrics.borrow_watched();
        (metrics.current_term, metrics.current_leader)
    }

    /// This server's id (`myid`).
    pub fn id(&self) -> ServerId {
        self.inner.me
    }

    /// `ydld`: if this server leads, hands leadership to the most caught-up voter and
    /// returns it; `None` when this server is not the leader (nothing to yield).
    pub async fn yield_leadership(&self) -> Result<Option<ServerId>, TransferError> {
        match self.inner.transfers.hand_over(None).await {
            Err(TransferError::NotLeader { .. }) => Ok(None),
            result => result.map(Some),
        }
    }

    pub fn is_ensemble(&self) -> bool {
        self.inner.ensemble.is_some()
    }

    /// Raft's figures for the operator's `ferrokeeper_` metrics.
    pub fn raft_facts(&self) -> RaftFacts {
        let metrics = self.inner.raft.metrics().borrow_watched().clone();
        let matched = metrics
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .filter(|(target, _)| **target != self.inner.me)
                    .map(|(target, m)| (*target, m.map_or(0, |m| m.index)))
                    .collect()
            })
            .unwrap_or_default();
        RaftFacts {
            term: metrics.current_term,
            leader: metrics.current_leader,
            last_log_index: metrics.last_log_index.unwrap_or(0),
            committed_index: metrics.local_committed.map_or(0, |l| l.index),
            applied_index: metrics.last_applied.map_or(0, |l| l.index),
            snapshot_index: metrics.snapshot.map_or(0, |l| l.index),
            purged_index: metrics.purged.map_or(0, |l| l.index),
            matched,
            voters: self
                .inner
                .ensemble
                .as_ref()
                .map(|_| metrics.membership_config.membership().voter_ids().count()),
        }
    }

    /// The leader's follower counts (zero elsewhere).
    pub fn follower_counts(&self) -> FollowerCounts {
        let metrics = self.inner.raft.metrics().borrow_watched().clone();
        let Some(replication) = metrics.replication.as_ref() else {
            return FollowerCounts::default();
        };
        let committed = metrics.local_committed.map(|l| l.index);
        // Observers are the learners (a reconfig may have changed who they are).
        let observers: BTreeSet<u64> = metrics
            .membership_config
            .membership()
            .learner_ids()
            .collect();
        let mut counts = FollowerCounts::default();
        for (target, matched) in replication {
            if *target == self.inner.me {
                continue;
            }
            counts.learners += 1;
            let synced = committed.is_some() && matched.map(|m| m.index) >= committed;
            if synced {
                if observers.contains(target) {
                    counts.synced_observers += 1;
                } else {
                    counts.synced_followers += 1;
                }
            }
        }
        counts
    }

    /// `sync`: waits until this server has applied everything the leader had committed
    /// when asked (a read-index confirmed by a quorum).
    pub async fn sync(&self) -> Result<(), ReplicationError> {
        let inner = &self.inner;
        let unavailable = |e: &dyn std::fmt::Display| ReplicationError::Unavailable(e.to_string());
        let leader = inner.raft.metrics().borrow_watched().current_leader;
        let index = if inner.ensemble.is_none() || leader == Some(inner.me) {
            inner
                .raft
                .get_read_linearizer(ReadPolicy::ReadIndex)
                .await
                .map_err(|e| unavailable(&e))?
                .read_log_id()
                .index()
        } else {
            let leader = leader.ok_or_else(|| unavailable(&"no leader"))?;
            let addr = inner
                .addrs
                .get(leader)
                .ok_or_else(|| unavailable(&format!("leader {leader} is not configured")))?;
            let mut conn = inner.read_index_conn.lock().await;
            if conn.as_ref().is_none_or(|c| c.target() != leader) {
                *conn = Some(PeerConn::new(inner.me, leader, addr));
            }
            let conn = conn.as_mut().ok_or_else(|| unavailable(&"no connection"))?;
            match conn
                .call_idempotent(&PeerRequest::ReadIndex, inner.patience)
                .await
                .map_err(|e| unavailable(&e))?
            {
                PeerResponse::ReadIndex(Ok(index)) => index,
                PeerResponse::ReadIndex(Err(e)) => return Err(unavailable(&e)),
                other => return Err(unavailable(&format!("unexpected answer {other:?}"))),
            }
        };
        inner
            .raft
            .wait(Some(inner.patience))
            .applied_index_at_least(Some(index), "sync")
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    /// Hands leadership to voter `to`, or (`None`) to the most caught-up voter other
    /// than the leader, and returns the new leader's id once this server sees it lead.
    ///
    /// `to` must be a voter: an observer (learner) or an id outside the ensemble is
    /// refused before anything happens. On a follower the request is forwarded to the
    /// leader over the quorum port. Fails after about twice the election timeout if
    /// the target has not taken over (the old leader then stays deposed: the voters
    /// elect someone after their election timeout). While the hand-over runs, the old
    /// leader accepts no writes; its clients' pending writes end as after any leader
    /// change (connection loss), and their sessions stay.
    pub async fn transfer_leadership(
        &self,
        to: Option<ServerId>,
    ) -> Result<ServerId, TransferError> {
        let inner = &self.inner;
        let transfers = &inner.transfers;
        if let Some(to) = to {
            transfers.check(to)?;
        }
        let leader = inner.raft.metrics().borrow_watched().current_leader;
        match leader {
            None => Err(TransferError::NoLeader),
            Some(leader) if leader == inner.me => transfers.hand_over(to).await,
            Some(leader) => {
                let unreachable = |why: String| TransferError::Unreachable { leader, why };
                let addr = inner
                    .addrs
                    .get(leader)
                    .ok_or_else(|| unreachable("not in this server's configuration".into()))?;
                let mut conn = PeerConn::new(inner.me, leader, addr);
                // The leader answers once the target leads, within its own bound.
                let wait = transfers.patience + inner.patience;
                let target = match conn
                    .call(&PeerRequest::TransferLeadership { to }, wait)
                    .await
                    .map_err(|e| unreachable(e.to_string()))?
                {
                    PeerResponse::TransferLeadership(result) => result?,
                    other => return Err(unreachable(format!("unexpected answer {other:?}"))),
                };
                transfers.await_leader(target).await
            }
        }
    }

    /// A client's reconfig: run here if this server leads, else by the leader. Returns
    /// once the outcome (the new configuration, or an error txn) is proposed with the
    /// client's origin; the server holding the connection answers it when applied.
    /// `Err`: no leader could run it (the client's connection should end, as for a
    /// write that may be lost).
    pub async fn reconfig(&self, call: ReconfigCall) -> Result<(), ReplicationError> {
        let inner = &self.inner;
        let unavailable = |e: String| ReplicationError::Unavailable(e);
        let reconfigurer = inner
            .reconfigurer
            .as_ref()
            .ok_or_else(|| unavailable("a standalone server cannot reconfigure".into()))?;
        let leader = inner.raft.metrics().borrow_watched().current_leader;
        match leader {
            None => Err(unavailable("no leader".into())),
            Some(leader) if leader == inner.me => reconfigurer.run(call).await.map_err(unavailable),
            Some(leader) => {
                let addr = inner
                    .addrs
                    .get(leader)
                    .ok_or_else(|| unavailable(format!("leader {leader} is not configured")))?;
                let mut conn = PeerConn::new(inner.me, leader, addr);
                let wait = reconfigurer.patience * 3 + inner.patience;
                match conn
                    .call(&PeerRequest::Reconfig(Box::new(call)), wait)
                    .await
                    .map_err(|e| unavailable(e.to_string()))?
                {
                    PeerResponse::Reconfig(result) => result.map_err(unavailable),
                    other => Err(unavailable(format!("unexpected answer {other:?}"))),
                }
            }
        }
    }

    /// Tells every peer that a client resumed `session` here (best effort).
    pub fn announce_session_moved(&self, session: i64) {
        if self.inner.ensemble.is_none() {
            return;
        }
        for (peer, addr) in self.inner.addrs.all() {
            let mut conn = PeerConn::new(self.inner.me, peer, addr);
            let patience = self.inner.patience;
            tokio::spawn(async move {
                if let Err(e) = conn
                    .call(&PeerRequest::SessionMoved { session }, patience)
                    .await
                {
                    tracing::debug!("cannot tell a peer that session 0x{session:x} moved: {e}");
                }
            });
        }
    }

    /// Submits `proposal` without waiting for it: proposals submitted one after another
    /// by one caller are applied in that order, and the state machine answers the
    /// proposal's origin itself. On a follower the proposal is forwarded to the leader.
    pub async fn submit(&self, proposal: Proposal) -> Result<(), ReplicationError> {
        let inner = &self.inner;
        match &inner.forward {
            Some(forward)
                if inner.raft.metrics().borrow_watched().current_leader != Some(inner.me) =>
            {
                crate::metrics::FORWARD_QUEUE_DEPTH.fetch_add(1, Ordering::Relaxed);
                forward.send(proposal).map_err(|_| {
                    crate::metrics::FORWARD_QUEUE_DEPTH.fetch_sub(1, Ordering::Relaxed);
                    ReplicationError::Unavailable("the forwarder has stopped".into())
                })
            }
            _ => {
                crate::metrics::count(|m| &m.proposal_count);
                inner
                    .raft
                    .client_write_ff(proposal, None)
                    .await
                    .map_err(|e| ReplicationError::Unavailable(e.to_string()))
            }
        }
    }

    /// Gives `proposal` a ticket: when any server applies it, the result reaches the
    /// returned receiver in this process (see [`crate::dispatch::lost_writes`] for
    /// the one waiter). Forget the ticket if the wait is given up.
    pub fn ticket(
        &self,
        proposal: &mut Proposal,
    ) -> (
        crate::proposal::Ticket,
        tokio::sync::oneshot::Receiver<TxnResult>,
    ) {
        let (ticket, rx) = self.inner.tickets.issue();
        proposal.ticket = Some(ticket.clone());
        (ticket, rx)
    }

    /// Stops waiting for a ticket's result.
    pub fn forget_ticket(&self, ticket: &crate::proposal::Ticket) {
        self.inner.tickets.forget(ticket);
    }

    /// How long this server's own writes wait to be applied: the leader's answer
    /// patience, and at least 10 s.
    pub fn apply_patience(&self) -> Duration {
        self.inner.patience.max(Duration::from_secs(10))
    }

    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        if let Err(e) = self.inner.raft.shutdown().await {
            tracing::warn!("raft shutdown: {e}");
        }
        self.inner.log_store.release();
    }
}
