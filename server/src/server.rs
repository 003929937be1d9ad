//! Starting and stopping a server: the core, its Raft member, the client port, and
//! the leader's background duties (session expiry, container and TTL reaping).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::core::{Core, now_ms};
use crate::dispatch::Backend;
use crate::net::{ClientPort, NetSettings, Shared, serve_clients};
use crate::proposal::Proposal;
use crate::replication::{Ensemble, Replica, ReplicaOptions, ReplicationError, StorageOptions};
use crate::state::StateConfig;
use crate::state::txn::{Entry, Txn};
use crate::zab::{ObserverSettings, ServerSink, ZabLink};

/// Everything needed to run one server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `myid`; 1 for a standalone server, as ZooKeeper uses.
    pub server_id: u64,
    /// `clientPort`; `None`: only the TLS port serves clients.
    pub client_addr: Option<SocketAddr>,
    /// `secureClientPort` (needs `net.tls`).
    pub secure_client_addr: Option<SocketAddr>,
    pub tick_time_ms: u64,
    pub extended_types_enabled: bool,
    pub container_check_interval_ms: u64,
    pub container_max_per_minute: usize,
    pub container_max_never_used_ms: i64,
    pub storage: StorageOptions,
    pub net: NetSettings,
    /// `None`: standalone.
    /// `/zookeeper/config`'s text for an ensemble member (its membership).
    pub config_znode: Option<String>,
    /// `ferrokeeper.watchEventZxid`: notifications carry their change's zxid.
    pub watch_event_zxid: bool,
    /// The zoo.cfg this server started from (a reconfig rewrites it).
    pub zoo_cfg: Option<std::path::PathBuf>,
    pub ensemble: Option<Ensemble>,
    /// `syncLimit`, in ticks.
    pub sync_limit_ticks: u64,
    /// A server following ZooKeeper: the Raft ensemble it forms with its fellow
    /// followers once promoted (`ferrokeeper.ensemble`); `None`: it alone.
    pub promoted_ensemble: Option<Ensemble>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start: {0}")]
    Other(String),
    #[error(transparent)]
    Replication(#[from] ReplicationError),
}

/// A running server.
pub struct Server {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    connections: TaskTracker,
    source: Source,
}

/// Where the server's state comes from, and how that stops.
enum Source {
    Raft(Replica),
    /// Following a ZooKeeper ensemble: the observer's thread and its stop flag, and
    /// the Raft member that replaces it once the server is promoted.
    Zab {
        stop: Arc<std::sync::atomic::AtomicBool>,
        thread: std::thread::JoinHandle<()>,
        promoted: Arc<tokio::sync::Mutex<Option<Replica>>>,
    },
}

/// `ferrokeeper promote` asks a following server to take over by creating this file in
/// `<dataDir>/ferrokeeper/`: only someone who may write the server's data can.
pub const PROMOTE_REQUEST: &str = "promote";
/// Written once a following server has taken over (its content: the zxid).
pub const PROMOTED_MARKER: &str = "promoted";

/// The bound client ports.
struct Listeners {
    plain: Option<TcpListener>,
    secure: Option<TcpListener>,
    /// The plain port's address, else the secure one's.
    local_addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
}

impl Listeners {
    /// Serves every bound port.
    fn serve(self, shared: &Arc<Shared>, tasks: &mut JoinSet<()>, connections: &TaskTracker) {
        for (listener, port) in [
            (self.plain, ClientPort::Plain),
            (self.secure, ClientPort::Secure),
        ] {
            if let Some(listener) = listener {
                tasks.spawn(serve_clients(
                    shared.clone(),
                    listener,
                    connections.clone(),
                    port,
                ));
            }
        }
        if let Some(tls) = &shared.settings.tls
            && tls.settings().reload
        {
            tasks.spawn(
                tls.clone()
                    .reload_on_change(TLS_RELOAD_CHECK, shared.shutdown.clone()),
            );
        }
    }
}

/// How often the TLS store files are checked for changes.
const TLS_RELOAD_CHECK: Duration = Duration::from_secs(2);

async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), StartError> {
    let bind_error = |source| StartError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

/// Binds the client ports (a configured port may be 0), completes the settings that
/// depend on the bound port, and makes the core.
async fn bind_client_port(
    settings: &mut ServerSettings,
    conf: impl Fn(u16, u64, u64) -> String + Send + Sync + 'static,
) -> Result<(Listeners, Arc<Core>), StartError> {
    let plain = match settings.client_addr {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let secure = match settings.secure_client_addr {
        Some(_) if settings.net.tls.is_none() => {
            return Err(StartError::Other(
                "a secure client port needs TLS settings".into(),
            ));
        }
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let local_addr = match (&plain, &secure) {
        (Some((_, a)), _) | (None, Some((_, a))) => *a,
        (None, None) => return Err(StartError::Other("no client port to serve".into())),
    };
    let port = plain.as_ref().map_or(0, |(_, a)| a.port());
    settings.net.client_port = port;
    settings.net.conf = crate::net::ConfRenderer(Arc::new(move |data, log| conf(port, data, log)));
    let core = Arc::new(Core::new(
        settings.server_id,
        StateConfig {
            extended_types_enabled: settings.extended_types_enabled,
        },
    ));
    core.set_watch_event_zxid(settings.watch_event_zxid);
    let secure_addr = secure.as_ref().map(|(_, a)| *a);
    Ok((
        Listeners {
            plain: plain.map(|(l, _)| l),
            secure: secure.map(|(l, _)| l),
            local_addr,
            secure_addr,
        },
        core,
    ))
}

impl Server {
    /// Starts serving. `conf` renders the `conf` four-letter word's answer for the port
    /// actually bound (the configured port may be 0) and the directory sizes.
    pub async fn start(
        mut settings: ServerSettings,
        conf: impl Fn(u16, u64, u64) -> String + Send + Sync + 'static,
    ) -> Result<Server, StartError> {
        let (listeners, core) = bind_client_port(&mut settings, conf).await?;
        if let Some(text) = &settings.config_znode {
            core.set_config_znode(text.clone());
        }
        if let Some(zoo_cfg) = &settings.zoo_cfg {
            core.set_zoo_cfg(zoo_cfg.clone());
        }
        let (local_addr, secure_addr) = (listeners.local_addr, listeners.secure_addr);
        let replica = Replica::start(
            ReplicaOptions {
                id: settings.server_id,
                incarnation: core.incarnation(),
                ensemble: settings.ensemble.clone(),
                tick_ms: settings.tick_time_ms,
                sync_limit_ticks: settings.sync_limit_ticks,
                storage: settings.storage.clone(),
            },
            core.clone(),
            core.clone(),
        )
        .await?;
        // A new leader gives every session a fresh timeout before expiring any.
        core.refresh_all_sessions();

        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            core: core.clone(),
            backend: std::sync::RwLock::new(Backend::Raft(replica.clone())),
            settings: settings.net.clone(),
            started: std::time::Instant::now(),
            shutdown: shutdown.clone(),
            per_ip: Default::default(),
            read_only: Default::default(),
        });
        let connections = TaskTracker::new();
        let mut tasks = JoinSet::new();
        listeners.serve(&shared, &mut tasks, &connections);
        tasks.spawn(crate::dispatch::lost_writes::close_waiting_writers(
            core.clone(),
            replica.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(crate::metrics::track_roles(
            replica.role(),
            shutdown.clone(),
        ));
        tasks.spawn(close_when_not_serving(
            core.clone(),
            replica.role(),
            shutdown.clone(),
        ));
        if settings.net.read_only_mode && settings.ensemble.is_some() {
            tasks.spawn(serve_read_only_without_quorum(
                shared.clone(),
                replica.role(),
                Duration::from_millis(settings.tick_time_ms.max(2000)),
                shutdown.clone(),
            ));
        }
        tasks.spawn(expire_sessions(
            core.clone(),
            replica.clone(),
            settings.tick_time_ms,
            shutdown.clone(),
        ));
        tasks.spawn(reap_containers(
            core,
            replica.clone(),
            settings.clone(),
            shutdown.clone(),
        ));
        Ok(Server {
            shared,
            local_addr,
            secure_addr,
            shutdown,
            tasks,
            connections,
            source: Source::Raft(replica),
        })
    }

    /// Starts serving as an observer of a running ZooKeeper ensemble
    /// (`ferrokeeper.follow=zookeeper`): the state comes from ZooKeeper's leader, and
    /// writes, new sessions and syncs go to it. Clients are served once synced.
    pub async fn start_following(
        mut settings: ServerSettings,
        observer: ObserverSettings,
        conf: impl Fn(u16, u64, u64) -> String + Send + Sync + 'static,
    ) -> Result<Server, StartError> {
        let (listeners, core) = bind_client_port(&mut settings, conf).await?;
        let (local_addr, secure_addr) = (listeners.local_addr, listeners.secure_addr);
        let patience = Duration::from_millis(settings.tick_time_ms.max(1))
            * u32::try_from(settings.sync_limit_ticks.max(2)).unwrap_or(2);
        let link = ZabLink::new(patience);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let promote = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (takeover_tx, takeover_rx) = tokio::sync::oneshot::channel::<String>();
        let thread = {
            let mut sink = ServerSink {
                core: core.clone(),
                link: link.clone(),
            };
            let stop = stop.clone();
            let promote = promote.clone();
            let link = link.clone();
            std::thread::Builder::new()
                .name("zab-observer".into())
                .spawn(move || {
                    match crate::zab::follow(&observer, &mut sink, link.writer(), &stop, &promote) {
                        crate::zab::ZabError::Stopped => {}
                        crate::zab::ZabError::TakeOver(why) => {
                            let _ = takeover_tx.send(why);
                        }
                        end => tracing::error!("stopped following ZooKeeper: {end}"),
                    }
                })
                .map_err(|e| StartError::Other(format!("cannot start the observer thread: {e}")))?
        };

        let shutdown = CancellationToken::new();
        let shared = Arc::new(Shared {
            core: core.clone(),
            backend: std::sync::RwLock::new(Backend::Zab(link.clone())),
            settings: settings.net.clone(),
            started: std::time::Instant::now(),
            shutdown: shutdown.clone(),
            per_ip: Default::default(),
            read_only: Default::default(),
        });
        let connections = TaskTracker::new();
        let mut tasks = JoinSet::new();
        listeners.serve(&shared, &mut tasks, &connections);
        tasks.spawn(close_when_not_serving(
            core.clone(),
            link.role(),
            shutdown.clone(),
        ));
        let dir = settings
            .storage
            .snapshot_dir
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        tasks.spawn(watch_promote_request(
            dir,
            promote,
            Duration::from_millis(settings.tick_time_ms.max(10)),
            shutdown.clone(),
        ));
        let promoted = Arc::new(tokio::sync::Mutex::new(None));
        tasks.spawn(take_over_when_asked(
            takeover_rx,
            TakeOver {
                shared: shared.clone(),
                core,
                settings,
                promoted: promoted.clone(),
                shutdown: shutdown.clone(),
            },
        ));
        Ok(Server {
            shared,
            local_addr,
            secure_addr,
            shutdown,
            tasks,
            connections,
            source: Source::Zab {
                stop,
                thread,
                promoted,
            },
        })
    }

    /// The plain client port's address, or the TLS port's when there is no plain one.
    /// What the connections share: for the AdminServer and the metrics endpoint.
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The TLS client port's address, if there is one.
    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// Stops accepting; every connection answers the writes it already submitted and
    /// closes (bounded); then Raft stops.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        while self.tasks.join_next().await.is_some() {}
        self.connections.close();
        if tokio::time::timeout(Duration::from_secs(10), self.connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within 10 s; closing them");
        }
        match self.source {
            Source::Raft(replica) => replica.shutdown().await,
            Source::Zab {
                stop,
                thread,
                promoted,
            } => {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                // The observer notices within one packet (the leader pings every half
                // tick) or its read timeout.
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
                if let Some(replica) = promoted.lock().await.take() {
                    replica.shutdown().await;
                }
            }
        }
    }
}

/// Arms the promotion once `ferrokeeper promote` has left its request file.
async fn watch_promote_request(
    dir: std::path::PathBuf,
    promote: Arc<std::sync::atomic::AtomicBool>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let request = dir.join(PROMOTE_REQUEST);
    loop {
        if request.exists() {
            promote.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(
                "promotion requested: this server takes over once ZooKeeper has had no \
                 leader for initLimit ticks (stop every ZooKeeper server); until then it \
                 keeps following"
            );
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// What a following server needs to become a standalone Raft server.
struct TakeOver {
    shared: Arc<Shared>,
    core: Arc<Core>,
    settings: ServerSettings,
    promoted: Arc<tokio::sync::Mutex<Option<Replica>>>,
    shutdown: CancellationToken,
}

/// Waits for the observer to give up on ZooKeeper after a promotion request, then
/// turns this server into the primary: its state, at ZooKeeper's last zxid, becomes
/// the first snapshot of a single-voter Raft log (as an import would write it), and
/// connections switch to it. Sessions keep their ids and passwords and get a fresh
/// timeout, as with any new leader.
async fn take_over_when_asked(takeover: tokio::sync::oneshot::Receiver<String>, t: TakeOver) {
    let why = tokio::select! {
        why = takeover => match why { Ok(why) => why, Err(_) => return },
        () = t.shutdown.cancelled() => return,
    };
    tracing::info!("{why}: taking over as the primary");
    match promote_now(&t).await {
        Ok(zxid) => tracing::info!(
            zxid = format!("0x{zxid:x}"),
            "promoted: serving ZooKeeper's data as ferrokeeper; before the next restart, \
             remove ferrokeeper.follow, ferrokeeper.ensemble and the ZooKeeper server lines \
             from zoo.cfg"
        ),
        Err(e) => tracing::error!("promotion failed, serving nothing: {e}"),
    }
}

async fn promote_now(t: &TakeOver) -> Result<i64, String> {
    use crate::replication::Applier;
    let id = t.settings.server_id;
    let zxid = t.core.last_zxid();
    let state = t.core.snapshot();
    let ensemble = t.settings.promoted_ensemble.clone();
    let voters = ensemble.as_ref().map_or_else(
        || std::collections::BTreeSet::from([id]),
        |e| e.voters.clone(),
    );
    crate::replication::offline::seed_snapshot(
        &t.settings.storage.snapshot_dir,
        &voters,
        zxid,
        state,
    )
    .map_err(|e| format!("writing the first snapshot: {e}"))?;
    let replica = Replica::start(
        ReplicaOptions {
            id,
            incarnation: t.core.incarnation(),
            ensemble,
            tick_ms: t.settings.tick_time_ms,
            sync_limit_ticks: t.settings.sync_limit_ticks,
            storage: t.settings.storage.clone(),
        },
        t.core.clone(),
        t.core.clone(),
    )
    .await
    .map_err(|e| e.to_string())?;
    t.core.refresh_all_sessions();
    let dir = t
        .settings
        .storage
        .snapshot_dir
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    std::fs::write(dir.join(PROMOTED_MARKER), format!("0x{zxid:x}\n"))
        .map_err(|e| format!("writing the promoted marker: {e}"))?;
    let _ = std::fs::remove_file(dir.join(PROMOTE_REQUEST));
    *t.shared.backend.write().unwrap_or_else(|p| p.into_inner()) = Backend::Raft(replica.clone());
    tokio::spawn(crate::metrics::track_roles(
        replica.role(),
        t.shutdown.clone(),
    ));
    tokio::spawn(crate::dispatch::lost_writes::close_waiting_writers(
        t.core.clone(),
        replica.clone(),
        t.shutdown.clone(),
    ));
    tokio::spawn(close_when_not_serving(
        t.core.clone(),
        replica.role(),
        t.shutdown.clone(),
    ));
    tokio::spawn(expire_sessions(
        t.core.clone(),
        replica.clone(),
        t.settings.tick_time_ms,
        t.shutdown.clone(),
    ));
    tokio::spawn(reap_containers(
        t.core.clone(),
        replica.clone(),
        t.settings.clone(),
        t.shutdown.clone(),
    ));
    *t.promoted.lock().await = Some(replica);
    Ok(zxid)
}

/// A server out of touch with its leader or quorum drops its clients, which then
/// reconnect to a server that can serve them (as a ZooKeeper server does).
async fn close_when_not_serving(
    core: Arc<Core>,
    mut role: tokio::sync::watch::Receiver<crate::replication::Role>,
    shutdown: CancellationToken,
) {
    loop {
        if !role.borrow_and_update().serving() {
            // Read-only connections are what a server without a quorum may serve.
            core.close_connections(false);
        }
        tokio::select! {
            changed = role.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
    }
}

/// Read-only mode (`readonlymode.enabled`): out of touch with the quorum for
/// `delay` (ZooKeeper's peer waits max(2 s, tickTime) before it starts its read-only
/// server), serve `canBeReadOnly` clients; when the quorum is back, close them so they
/// move to a server that can write.
async fn serve_read_only_without_quorum(
    shared: Arc<Shared>,
    mut role: tokio::sync::watch::Receiver<crate::replication::Role>,
    delay: Duration,
    shutdown: CancellationToken,
) {
    loop {
        while role.borrow_and_update().serving() {
            tokio::select! {
                changed = role.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
        let quorum_back = async {
            loop {
                if role.changed().await.is_err() {
                    return false;
                }
                if role.borrow_and_update().serving() {
                    return true;
                }
            }
        };
        tokio::select! {
            back = quorum_back => if back { continue } else { return },
            () = tokio::time::sleep(delay) => {}
            () = shutdown.cancelled() => return,
        }
        shared.read_only.set_active(true);
        tracing::info!("no quorum: serving read-only clients (readonlymode.enabled)");
        while !role.borrow_and_update().serving() {
            tokio::select! {
                changed = role.changed() => if changed.is_err() { return },
                () = shutdown.cancelled() => return,
            }
        }
        shared.read_only.set_active(false);
        shared.core.close_connections(true);
        tracing::info!("quorum back: read-only mode ended, its clients closed");
    }
}

fn is_leader(replica: &Replica) -> bool {
    replica.role().borrow().is_leader()
}

async fn propose_internal(
    replica: &Replica,
    txn: Txn,
) -> Result<(), crate::dispatch::DispatchError> {
    crate::dispatch::lost_writes::propose_and_wait(
        replica,
        Proposal {
            reply_to: None,
            ticket: None,
            entry: Entry {
                time_ms: now_ms(),
                txn,
            },
        },
    )
    .await
    .map(|_| ())
}

/// The leader's expiry duty: every half tick, close sessions past their deadline.
pub async fn expire_sessions(
    core: Arc<Core>,
    replica: Replica,
    tick_time_ms: u64,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis((tick_time_ms / 2).max(1)));
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if !is_leader(&replica) {
            continue;
        }
        for session_id in core.expired_sessions() {
            tracing::info!(session = format!("0x{session_id:x}"), "session expired");
            crate::metrics::count(|m| &m.stale_sessions_expired);
            // Waiting for each close keeps the next tick from proposing it again.
            if let Err(e) = propose_internal(&replica, Txn::CloseSession { session_id }).await {
                tracing::warn!("cannot expire session 0x{session_id:x}: {e}");
            }
        }
    }
}

/// ZooKeeper's ContainerManager: periodically delete empty containers and expired TTL nodes.
async fn reap_containers(
    core: Arc<Core>,
    replica: Replica,
    settings: ServerSettings,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(Duration::from_millis(
        settings.container_check_interval_ms.max(1),
    ));
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            () = shutdown.cancelled() => return,
        }
        if !is_leader(&replica) {
            continue;
        }
        let candidates = core.container_candidates(settings.container_max_never_used_ms);
        // ZooKeeper spreads deletes to at most maxPerMinute.
        let spacing =
            Duration::from_millis(60_000 / settings.container_max_per_minute.max(1) as u64);
        for path in candidates {
            if let Err(e) =
                propose_internal(&replica, Txn::DeleteContainer { path: path.clone() }).await
            {
                tracing::warn!(path, "cannot delete container: {e}");
            }
            tokio::select! {
                () = tokio::time::sleep(spacing) => {}
                () = shutdown.cancelled() => return,
            }
        }
    }
}
