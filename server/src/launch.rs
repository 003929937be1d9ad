//! From a parsed configuration to a running server, exactly as the `ferrokeeper` binary
//! starts one: the ensemble from the `server.N` lines, the refusals that protect data
//! (ZooKeeper's files, a promoted follower), the admin and metrics endpoints, then
//! [`Server::start`] (or [`Server::start_following`]). The binary adds logging and
//! signals; tests start servers in-process through [`launch`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::{ConfRuntime, Config, HostPort, PeerType, QuorumServer};
use crate::net::{ConfRenderer, NetSettings, auth::AuthSettings};
use crate::replication::{Ensemble, PeerAddr, ReconfigRules, StorageOptions, SyncMode};
use crate::server::{Server, ServerSettings};
use crate::tls::ClientTlsAcceptor;
use crate::tls::peer::PeerTls;
use crate::zab::ObserverSettings;

/// A server started by [`launch`], with its admin and metrics endpoints serving.
pub struct Launched {
    pub server: Server,
    /// "standalone", "ensemble" or "following ZooKeeper as an observer".
    pub mode: &'static str,
}

/// Starts the server `config` describes. Returns once it serves clients (an ensemble
/// member: once its Raft member runs; see [`Server::start`]). Every setting it cannot
/// honour, and data it must not serve over, is an error naming the reason.
pub async fn launch(config: &Config) -> Result<Launched, String> {
    let observer = if config.follow_zookeeper {
        Some(observer_settings(config)?)
    } else {
        None
    };
    let ensemble = if observer.is_some() {
        None
    } else {
        ensemble(config).await?
    };
    if ensemble.is_some() {
        crate::replication::quorum_protocol_versions()?;
    }
    if config.client_address.is_none() && config.secure_client_address.is_none() {
        return Err(
            "neither clientPort nor secureClientPort is configured, so there is \
                    nothing to serve"
                .into(),
        );
    }
    let client_addr = match &config.client_address {
        Some(address) => Some(resolve(address).await?),
        None => None,
    };
    let secure_client_addr = match &config.secure_client_address {
        Some(address) => Some(resolve(address).await?),
        None => None,
    };
    // The stores are read before anything is served: a wrong password or a missing
    // file stops start-up, naming the setting.
    let tls = match &config.client_tls {
        Some(tls) => Some(ClientTlsAcceptor::new(tls.clone()).map_err(|e| e.to_string())?),
        None => None,
    };
    // Never serve an empty tree over an operator's ZooKeeper data.
    let own_data =
        crate::replication::offline::has_data(&config.raft_log_dir(), &config.snapshot_dir())
            .map_err(|e| format!("cannot look for this server's data: {e}"))?;
    if config.follow_zookeeper && own_data {
        // A promoted server must never go back to following (or become a second
        // primary beside a ZooKeeper brought back): the operator decides.
        return Err(format!(
            "this server has data of its own in {} (it was promoted, or imported data), so \
             it cannot follow ZooKeeper again: remove ferrokeeper.follow, peerType=observer \
             and the ZooKeeper server.N lines from zoo.cfg to serve that data, or move the \
             ferrokeeper directory aside to follow again from scratch",
            config.snapshot_dir().display()
        ));
    }
    crate::zkfiles::refuse_zookeeper_data(
        &config.data_dir,
        &config.data_log_dir,
        config.config_file.as_deref(),
        own_data,
    )?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| format!("cannot create dataDir {}: {e}", config.data_dir.display()))?;

    let conf_config = Arc::new(config.clone());
    let conf_text = move |port: u16, data_dir_size: u64, data_log_size: u64| {
        conf_config.conf_4lw(&ConfRuntime {
            client_port: Some(port),
            data_dir_size,
            data_log_size,
        })
    };
    let mode = if observer.is_some() {
        "following ZooKeeper as an observer"
    } else if ensemble.is_some() {
        "ensemble"
    } else {
        "standalone"
    };
    // Bound first: a taken admin or metrics port stops start-up before anything else.
    let endpoints = crate::admin::Endpoints::bind(config).await?;
    let mut server_settings = settings(config, (client_addr, secure_client_addr), tls, ensemble);
    if observer.is_some() {
        server_settings.promoted_ensemble = promoted_ensemble(config).await?;
    }
    let server = match observer {
        Some(observer) => Server::start_following(server_settings, observer, conf_text).await,
        None => Server::start(server_settings, conf_text).await,
    }
    .map_err(|e| e.to_string())?;
    endpoints.serve(&server.shared());
    Ok(Launched { server, mode })
}

async fn resolve(address: &HostPort) -> Result<SocketAddr, String> {
    let text = address.to_addr_string();
    tokio::net::lookup_host(&text)
        .await
        .map_err(|e| format!("cannot resolve client address {text}: {e}"))?
        .next()
        .ok_or_else(|| format!("client address {text} resolves to nothing"))
}

/// The ensemble this server belongs to, from its `server.N` lines and `myid`.
async fn ensemble(config: &Config) -> Result<Option<Ensemble>, String> {
    if !config.is_distributed() {
        return Ok(None);
    }
    let me = config
        .server_id
        .ok_or("server.N lines are configured but this server has no id: write dataDir/myid")?;
    let own = config
        .servers
        .get(&me)
        .ok_or_else(|| format!("myid is {me} but there is no server.{me} line"))?;
    let quorum = |server: &QuorumServer| {
        server
            .addresses
            .first()
            .map(|a| HostPort {
                host: a.host.clone(),
                port: a.quorum_port,
            })
            .ok_or_else(|| format!("server.{} has no address", server.id))
    };
    let peers = config
        .servers
        .values()
        .filter(|s| s.id != me)
        .map(|s| Ok((s.id, quorum(s)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let side = peer_side(config, me, quorum(own)?, peers).await?;
    let of_type = |t: PeerType| {
        config
            .servers
            .values()
            .filter(|s| s.peer_type == t)
            .map(|s| s.id)
            .collect()
    };
    let specs = config
        .servers
        .values()
        .map(|s| (s.id, s.to_string()))
        .collect();
    Ok(Some(side.ensemble(
        config,
        (of_type(PeerType::Participant), of_type(PeerType::Observer)),
        specs,
    )))
}

fn settings(
    config: &Config,
    (client_addr, secure_client_addr): (Option<SocketAddr>, Option<SocketAddr>),
    tls: Option<Arc<ClientTlsAcceptor>>,
    ensemble: Option<Ensemble>,
) -> ServerSettings {
    ServerSettings {
        server_id: config.own_id(),
        client_addr,
        secure_client_addr,
        tick_time_ms: u64::from(config.tick_time),
        extended_types_enabled: config.extended_types_enabled,
        container_check_interval_ms: u64::from(config.containers.check_interval_ms),
        container_max_per_minute: config.containers.max_per_minute as usize,
        container_max_never_used_ms: i64::try_from(config.containers.max_never_used_interval_ms)
            .unwrap_or(i64::MAX),
        // Our own files, beside (not inside) ZooKeeper's version-2 directories.
        storage: StorageOptions {
            log_dir: config.raft_log_dir(),
            snapshot_dir: config.snapshot_dir(),
            sync: if config.force_sync {
                SyncMode::Fsync
            } else {
                SyncMode::NoSync
            },
            snapshot_every: u64::from(config.snap_count),
            snapshots_kept: config.autopurge.snap_retain_count as usize,
            // A follower a little behind catches up from the log, not a snapshot.
            log_kept_behind_snapshot: u64::from(config.snap_count).min(1000),
        },
        config_znode: config.config_znode(),
        zoo_cfg: config.config_file.clone(),
        watch_event_zxid: config.watch_event_zxid,
        net: NetSettings {
            max_frame_len: config.jute_max_buffer as usize
                + ferrokeeper_protocol::FRAME_HEADER_ALLOWANCE,
            min_session_timeout_ms: i32::try_from(config.min_session_timeout).unwrap_or(i32::MAX),
            max_session_timeout_ms: i32::try_from(config.max_session_timeout).unwrap_or(i32::MAX),
            max_client_cnxns: config.max_client_cnxns as usize,
            max_cnxns: config.max_cnxns as usize,
            // ZooKeeper reads a value below 1 as "no limit" too.
            global_outstanding_limit: usize::try_from(config.global_outstanding_limit).unwrap_or(0),
            four_letter_whitelist: config.four_letter_words.clone(),
            auth: AuthSettings {
                super_digest: config.super_digest.clone(),
                sasl: config.client_sasl.clone(),
                enforce: config.enforce_auth.clone(),
            },
            // Replaced by Server::start once the port is bound.
            conf: ConfRenderer(Arc::new(|_, _| String::new())),
            snapshot_dir: config.snapshot_dir(),
            log_dir: config.raft_log_dir(),
            client_port: client_addr.map_or(0, |a| a.port()),
            tls,
            enforce_quota: config.enforce_quota,
            read_only_mode: config.read_only_mode_enabled,
            reconfig_enabled: config.reconfig_enabled,
        },
        ensemble,
        sync_limit_ticks: u64::from(config.sync_limit),
        promoted_ensemble: None,
    }
}

/// How to reach the ZooKeeper ensemble this server observes (`ferrokeeper.follow`).
fn observer_settings(config: &Config) -> Result<ObserverSettings, String> {
    let my_id = config
        .server_id
        .ok_or("ferrokeeper.follow=zookeeper needs this server's id: write dataDir/myid")?;
    let voters = config
        .voting_members()
        .map(|s| {
            s.addresses
                .first()
                .map(|a| (s.id, format!("{}:{}", a.host, a.quorum_port)))
                .ok_or_else(|| format!("server.{} has no address", s.id))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if voters.is_empty() {
        return Err("ferrokeeper.follow=zookeeper: no voting server.N lines to follow".into());
    }
    let voter_ports = config
        .voting_members()
        .flat_map(|s| &s.addresses)
        .flat_map(|a| {
            [
                format!("{}:{}", a.host, a.quorum_port),
                format!("{}:{}", a.host, a.election_port),
            ]
        })
        .collect();
    Ok(ObserverSettings {
        my_id,
        voters,
        voter_ports,
        tick: std::time::Duration::from_millis(u64::from(config.tick_time)),
        init_limit: config.init_limit.max(1),
        sync_limit: config.sync_limit.max(1),
        extended_types: config.extended_types_enabled,
    })
}

/// The Raft ensemble that the ferrokeeper servers following ZooKeeper together
/// (`ferrokeeper.ensemble`) form when promoted; `None` for a server following alone.
async fn promoted_ensemble(config: &Config) -> Result<Option<Ensemble>, String> {
    let ids: BTreeSet<u64> = config.follow_ensemble.iter().copied().collect();
    if ids.len() < 2 {
        return Ok(None);
    }
    let me = config.own_id();
    let quorum = |id: u64| -> Result<HostPort, String> {
        config
            .servers
            .get(&id)
            .and_then(|s| s.addresses.first())
            .map(|a| HostPort {
                host: a.host.clone(),
                port: a.quorum_port,
            })
            .ok_or_else(|| format!("ferrokeeper.ensemble: server.{id} has no address"))
    };
    let peers = ids
        .iter()
        .filter(|id| **id != me)
        .map(|id| Ok((*id, quorum(*id)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let side = peer_side(config, me, quorum(me)?, peers).await?;
    // As participants: the promoted servers were ZooKeeper's observers.
    let specs = ids
        .iter()
        .filter_map(|id| config.servers.get(id))
        .map(|s| {
            let mut s = s.clone();
            s.peer_type = PeerType::Participant;
            (s.id, s.to_string())
        })
        .collect();
    Ok(Some(side.ensemble(config, (ids, BTreeSet::new()), specs)))
}

/// What an ensemble's member needs of its peers: where it listens for them, how it
/// reaches each, and the quorum's TLS and SASL.
struct PeerSide {
    listen: SocketAddr,
    peer_addrs: BTreeMap<u64, PeerAddr>,
    tls: Option<Arc<PeerTls>>,
    sasl: Option<Arc<crate::config::QuorumSasl>>,
}

impl PeerSide {
    /// The ensemble of `voters` and `observers` (ids) this member belongs to, with each
    /// member's `server.N` text in `specs`.
    fn ensemble(
        self,
        config: &Config,
        (voters, observers): (BTreeSet<u64>, BTreeSet<u64>),
        specs: BTreeMap<u64, String>,
    ) -> Ensemble {
        Ensemble {
            voters,
            observers,
            peer_addrs: self.peer_addrs,
            listen: self.listen,
            tls: self.tls,
            sasl: self.sasl,
            priorities: config.priorities.clone(),
            reconfig: ReconfigRules {
                standalone_enabled: config.standalone_enabled,
                multi_address: config.multi_address_enabled,
            },
            specs,
        }
    }
}

async fn peer_side(
    config: &Config,
    me: u64,
    own: HostPort,
    peers: Vec<(u64, HostPort)>,
) -> Result<PeerSide, String> {
    let listen_host = if config.quorum_listen_on_all_ips {
        HostPort {
            host: "0.0.0.0".into(),
            port: own.port,
        }
    } else {
        own
    };
    let listen = resolve(&listen_host)
        .await
        .map_err(|e| format!("quorum port of server.{me}: {e}"))?;
    let tls = peer_tls(config)?;
    let sasl = config.quorum_sasl.clone().map(Arc::new);
    let peer_addrs = peers
        .into_iter()
        .map(|(id, addr)| {
            let addr = addr.to_addr_string();
            (
                id,
                PeerAddr {
                    addr,
                    tls: tls.clone(),
                    sasl: sasl.clone(),
                },
            )
        })
        .collect();
    Ok(PeerSide {
        listen,
        peer_addrs,
        tls,
        sasl,
    })
}

/// The quorum port's TLS (`sslQuorum`), its stores read now: one that does not load
/// stops start-up, naming the setting.
fn peer_tls(config: &Config) -> Result<Option<Arc<PeerTls>>, String> {
    match &config.quorum_tls {
        Some(tls) => PeerTls::new(tls.clone())
            .map(Some)
            .map_err(|e| e.to_string()),
        None => Ok(None),
    }
}
