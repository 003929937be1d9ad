//! The resolved configuration handed to the rest of the server. Every value is final:
//! defaults applied, flags and `-D` options merged, cross-key rules checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use super::four_letter::FourLetterWhitelist;
use super::host_port::HostPort;
use super::server_line::{PeerType, QuorumServer};
use super::sysprops::SystemProperties;

/// ZooKeeper's `DEFAULT_TICK_TIME` (the zoo.cfg samples use 2000, the code 3000).
pub const DEFAULT_TICK_TIME: u32 = 3000;
/// Client port used when ferrokeeper runs without a config file.
pub const DEFAULT_CLIENT_PORT: u16 = 2181;
/// Data directory used when ferrokeeper runs without a config file.
pub const DEFAULT_DATA_DIR: &str = "./ferrokeeper-data";
/// `jute.maxbuffer` default: the largest frame a server accepts (just under 1 MiB).
pub const DEFAULT_JUTE_MAX_BUFFER: u32 = 0xfffff;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The zoo.cfg that was read, if any. `None` = built-in defaults (standalone).
    pub config_file: Option<PathBuf>,

    // ---- timing -------------------------------------------------------------
    /// Milliseconds; the unit of initLimit/syncLimit and of session expiry buckets.
    pub tick_time: u32,
    /// Ticks a follower may take to connect and sync to the leader (quorum only).
    pub init_limit: u32,
    /// Ticks a follower may lag behind the leader (quorum only).
    pub sync_limit: u32,
    /// Ticks to connect to the learner master; 0 = use initLimit (ZooKeeper's rule).
    pub connect_to_learner_master_limit: u32,
    /// Bounds for negotiated session timeouts, ms (defaults 2x / 20x tickTime).
    pub min_session_timeout: u32,
    pub max_session_timeout: u32,

    // ---- storage ------------------------------------------------------------
    /// Snapshots (`version-2/`) and `myid` live here.
    pub data_dir: PathBuf,
    /// Transaction logs; equals `data_dir` unless dataLogDir is set.
    pub data_log_dir: PathBuf,
    pub autopurge: Autopurge,
    /// A snapshot is taken after a random number of txns in [snapCount/2+1, snapCount].
    pub snap_count: u32,
    /// Snapshot also when the log since the last one exceeds this many KiB; <= 0 = off.
    pub snap_size_limit_kb: i64,
    /// fsync the txn log before acknowledging (`forceSync=no` turns it off).
    pub force_sync: bool,
    /// Txn log files are preallocated in chunks of this many KiB.
    pub pre_alloc_size_kb: u64,

    // ---- client network -------------------------------------------------------
    /// Where to listen for clients; `None` when neither clientPort nor this server's
    /// `server.N` line gives a port (ZooKeeper then opens no client port).
    pub client_address: Option<HostPort>,
    /// TLS client port (`secureClientPort`, `secureClientPortAddress`).
    pub secure_client_address: Option<HostPort>,
    /// The client port's TLS settings: set with a secure client port or port
    /// unification, `None` otherwise.
    pub client_tls: Option<super::tls::ClientTls>,
    /// TLS between the servers of an ensemble (`sslQuorum`, `portUnification`).
    pub quorum_tls: Option<super::tls::QuorumTls>,
    /// SASL between the servers of an ensemble (`quorum.auth.enableSasl`).
    pub quorum_sasl: Option<super::sasl::QuorumSasl>,
    /// Client SASL (DIGEST-MD5 users from the JAAS file's server section), if any.
    pub client_sasl: Option<super::sasl::ClientSasl>,
    /// `enforce.auth.*` / `sessionRequireClientSASLAuth`: sessions must authenticate.
    pub enforce_auth: Option<super::sasl::EnforceAuth>,
    /// listen(2) backlog; -1 = system default.
    pub client_port_listen_backlog: i32,
    /// Concurrent connections per client IP; 0 = unlimited.
    pub max_client_cnxns: u32,
    /// Concurrent connections in total; 0 = unlimited.
    pub max_cnxns: u32,
    /// Requests queued in the server before it stops reading from sockets.
    pub global_outstanding_limit: i32,
    /// Largest frame accepted, bytes (`-Djute.maxbuffer`; zoo.cfg cannot set it).
    pub jute_max_buffer: u32,
    pub four_letter_words: FourLetterWhitelist,
    pub admin: AdminServer,

    // ---- quorum -----------------------------------------------------------------
    /// `server.N` lines by id (participants and observers).
    pub servers: BTreeMap<u64, QuorumServer>,
    /// This server's id: `--myid`, else `dataDir/myid` if present.
    pub server_id: Option<u64>,
    /// Role of this server; follows its `server.N` line when there is one.
    pub peer_type: PeerType,
    pub standalone_enabled: bool,
    /// `ferrokeeper.follow=zookeeper`: this server is an observer of a running
    /// ZooKeeper ensemble (its `server.N` lines) instead of a member of a Raft one.
    pub follow_zookeeper: bool,
    /// `ferrokeeper.watchEventZxid` (default true): a watch notification's header
    /// carries the zxid of the change that fired it, as ZooKeeper 3.9 sends it
    /// (ZOOKEEPER-4655); false sends −1, as 3.8 does.
    pub watch_event_zxid: bool,
    /// `ferrokeeper.ensemble`: the ids of the ferrokeeper servers that follow ZooKeeper
    /// together and form a Raft ensemble when promoted; empty: this server alone.
    pub follow_ensemble: Vec<u64>,
    /// `ferrokeeper.priority.<id>`: leadership preference by server id (unlisted: 1).
    pub priorities: BTreeMap<u64, u32>,
    pub reconfig_enabled: bool,
    /// Membership file used instead of `server.N` lines in zoo.cfg, if set.
    pub dynamic_config_file: Option<PathBuf>,
    /// Config version from the dynamic file's name (`zoo.cfg.dynamic.<hex>`), else 0.
    pub config_version: u64,
    pub election_alg: u32,
    pub quorum_listen_on_all_ips: bool,
    pub observer_master_port: Option<u16>,
    pub sync_enabled: bool,
    pub local_sessions_enabled: bool,
    pub local_sessions_upgrading_enabled: bool,
    /// `-Dzookeeper.multiAddress.enabled`: allows `|`-joined server addresses.
    pub multi_address_enabled: bool,

    // ---- features driven by system properties -------------------------------------
    /// `zookeeper.DigestAuthenticationProvider.superDigest` (`super:<base64 sha1>`).
    pub super_digest: Option<String>,
    /// TTL nodes allowed (`zookeeper.extendedTypesEnabled`).
    pub extended_types_enabled: bool,
    /// `readonlymode.enabled`: serve read-only clients when partitioned.
    pub read_only_mode_enabled: bool,
    /// `zookeeper.enforceQuota`: hard quota limits reject writes.
    pub enforce_quota: bool,
    pub containers: Containers,
    pub metrics: MetricsProvider,
    /// The Prometheus endpoint, when the Prometheus provider is configured.
    pub metrics_endpoint: Option<super::MetricsEndpoint>,

    /// Every system property: zoo.cfg keys ZooKeeper does not parse itself (as
    /// `zookeeper.<key>`), then `-D` options from the environment and command line.
    pub system_properties: SystemProperties,
    /// `--log-level`, else the level of `zookeeper.root.logger`, for main to configure
    /// tracing (`RUST_LOG` wins over both).
    pub log_level: Option<String>,
    /// `--log-format`, else `FERROKEEPER_LOG_FORMAT`.
    pub log_format: super::logging::LogFormat,
    /// Warnings and notes found while loading; logged by `log_diagnostics` once
    /// logging is set up (which itself depends on this config).
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Autopurge {
    /// Snapshots (and their logs) kept by the purge task; at least 3.
    pub snap_retain_count: u32,
    /// Hours between purges; 0 = never.
    pub purge_interval_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminServer {
    pub enabled: bool,
    pub address: String,
    pub port: u16,
    pub command_url: String,
    pub idle_timeout_ms: u32,
    /// `zookeeper.admin.snapshot.enabled` (3.9): the `snapshot` command may run.
    pub snapshot_enabled: bool,
    /// `zookeeper.admin.rateLimiterIntervalInMS` (3.9): at most one snapshot per interval.
    pub rate_limit_interval_ms: u64,
    /// `zookeeper.admin.restore.enabled` (3.9): the `restore` command may run.
    pub restore_enabled: bool,
}

/// Container node reaping (`znode.container.*` system properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Containers {
    pub check_interval_ms: u32,
    pub max_per_minute: u32,
    /// Containers that never had a child are deleted after this long; 0 = never.
    pub max_never_used_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsProvider {
    pub class_name: String,
    /// `metricsProvider.<name>` settings other than className, keyed by `<name>`.
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub level: tracing::Level,
    pub message: String,
}

impl Config {
    /// ZooKeeper's `QuorumPeerConfig.isDistributed`: a config file was read and either
    /// standaloneEnabled=false or there are at least two voting servers.
    pub fn is_distributed(&self) -> bool {
        self.config_file.is_some()
            && (!self.standalone_enabled || self.voting_members().count() > 1)
    }

    pub fn is_standalone(&self) -> bool {
        !self.is_distributed()
    }

    /// This server's id: `myid`, or 1 for a standalone server (as ZooKeeper, whose
    /// standalone session ids carry 1 in the top byte).
    pub fn own_id(&self) -> u64 {
        self.server_id.unwrap_or(1).max(1)
    }

    /// Where this server keeps its Raft log: `ferrokeeper/log` in dataLogDir, beside
    /// (never inside) ZooKeeper's `version-2`.
    pub fn raft_log_dir(&self) -> PathBuf {
        self.data_log_dir.join("ferrokeeper").join("log")
    }

    /// Where this server keeps its snapshots: `ferrokeeper/snapshots` in dataDir.
    pub fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("ferrokeeper").join("snapshots")
    }

    /// The Raft voters: an ensemble's participants, or this server alone.
    pub fn raft_voters(&self) -> BTreeSet<u64> {
        if self.is_distributed() {
            self.voting_members().map(|s| s.id).collect()
        } else {
            BTreeSet::from([self.own_id()])
        }
    }

    pub fn voting_members(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.peer_type == PeerType::Participant)
    }

    pub fn observers(&self) -> impl Iterator<Item = &QuorumServer> {
        self.servers
            .values()
            .filter(|s| s.peer_type == PeerType::Observer)
    }

    /// This server's own `server.N` entry (quorum mode).
    pub fn this_server(&self) -> Option<&QuorumServer> {
        self.server_id.and_then(|id| self.servers.get(&id))
    }

    /// The id reported by `conf` and used in session ids: 0 in standalone, as ZooKeeper.
    pub fn effective_server_id(&self) -> u64 {
        if self.is_distributed() {
            self.server_id.unwrap_or(0)
        } else {
            0
        }
    }

    /// Emits the load-time diagnostics through `tracing`.
    pub fn log_diagnostics(&self) {
        for d in &self.diagnostics {
            match d.level {
                tracing::Level::ERROR => tracing::error!("{}", d.message),
                tracing::Level::WARN => tracing::warn!("{}", d.message),
                tracing::Level::INFO => tracing::info!("{}", d.message),
                tracing::Level::DEBUG => tracing::debug!("{}", d.message),
                _ => tracing::trace!("{}", d.message),
            }
        }
    }

    /// Diagnostics at WARN level, mostly for tests and `--check`-style tooling.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.diagnostics
            .iter()
            .filter(|d| d.level == tracing::Level::WARN)
            .map(|d| d.message.as_str())
    }
}
