//! What this server reports about itself, gathered once per request for `mntr`, the
//! AdminServer's `monitor` and the Prometheus endpoint: ZooKeeper's gauges (read off the
//! state now), its counters and summaries (`crate::metrics`), and ferrokeeper's own
//! `ferrokeeper_` figures of the Raft log and the process.

use std::sync::atomic::Ordering;

use super::Shared;
use crate::metrics::{self, MNTR_PERCENTILES, Summary};
use crate::replication::Role;

pub use super::four_letter::version_with_build;

/// One reported value, typed as ZooKeeper's JSON types it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Text(String),
}

impl Value {
    fn count(n: usize) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    fn unsigned(n: u64) -> Value {
        Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// As `mntr` prints it: Java's rendering of longs and doubles.
    pub fn to_mntr(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Float(f) => super::four_letter::java_double(*f),
            Value::Text(s) => s.clone(),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(n) => (*n).into(),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(serde_json::Value::Number)
                .unwrap_or(serde_json::Value::Null),
            Value::Text(s) => s.clone().into(),
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(n) => Some(*n as f64),
            Value::Float(f) => Some(*f),
            Value::Text(_) => None,
        }
    }
}

/// The state's figures, read in one pass.
#[derive(Debug, Clone, Default)]
pub struct StateFigures {
    pub zxid: i64,
    pub node_count: usize,
    pub data_size: i64,
    pub ephemerals: usize,
    pub sessions: usize,
    pub watch_paths: usize,
    pub watch_conns: usize,
    pub watch_total: usize,
}

pub fn state_figures(shared: &Shared) -> StateFigures {
    shared.core.with_state(|zk, watches| {
        let summary = watches.summary();
        StateFigures {
            zxid: zk.last_zxid(),
            node_count: zk.tree().node_count(),
            data_size: zk.tree().approximate_data_size(),
            ephemerals: zk.tree().ephemeral_count(),
            sessions: zk.sessions().len(),
            watch_paths: summary.paths,
            watch_conns: summary.connections,
            watch_total: summary.total,
        }
    })
}

/// A gauge: a value read at the time of asking.
#[derive(Debug, Clone)]
pub struct Gauge {
    pub name: &'static str,
    /// Prometheus labels (a per-member figure); `mntr` shows only unlabelled gauges.
    pub labels: Vec<(&'static str, String)>,
    pub help: &'static str,
    pub value: Value,
}

/// Everything `monitor` reports, in ZooKeeper's order where it has one.
pub struct Report {
    /// `version` and `server_state` (text; `mntr` prints them first).
    pub header: Vec<(&'static str, Value)>,
    /// ZooKeeper's gauges.
    pub gauges: Vec<Gauge>,
    pub counters: Vec<(&'static str, u64)>,
    pub summaries: Vec<(&'static str, &'static Summary)>,
    /// ferrokeeper's own figures (Prometheus only: `mntr` keeps ZooKeeper's names).
    pub own: Vec<Gauge>,
}

impl Report {
    /// The flattened `name → value` list of ZooKeeper's `mntr`/`monitor` (without the
    /// `zk_` prefix): summaries as `avg_`, `min_`, `max_`, `cnt_`, `sum_` and, for
    /// advanced ones, percentiles.
    pub fn flattened(&self) -> Vec<(String, Value)> {
        let mut out: Vec<(String, Value)> = self
            .header
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        out.extend(
            self.gauges
                .iter()
                .filter(|g| g.labels.is_empty())
                .map(|g| (g.name.to_owned(), g.value.clone())),
        );
        out.extend(
            self.counters
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::unsigned(*v))),
        );
        for (name, summary) in &self.summaries {
            let v = summary.values();
            out.push((format!("avg_{name}"), Value::Float(v.avg)));
            out.push((format!("min_{name}"), Value::Int(v.min)));
            out.push((format!("max_{name}"), Value::Int(v.max)));
            out.push((format!("cnt_{name}"), Value::unsigned(v.count)));
            out.push((format!("sum_{name}"), Value::unsigned(v.sum)));
            if summary.is_advanced() {
                for (prefix, q) in MNTR_PERCENTILES {
                    out.push((
                        format!("{prefix}_{name}"),
                        Value::unsigned(summary.quantile(q)),
                    ));
                }
            }
        }
        out
    }
}

/// Connections without a client certificate (plain, or TLS without one), from remote
/// and from loopback addresses: ZooKeeper's `non_mtls_remote_conn_count` and
/// `non_mtls_local_conn_count`.
pub fn non_mtls_counts(shared: &Shared) -> (usize, usize) {
    let conns = shared.core.connections();
    let non_mtls = conns.iter().filter(|c| !c.transport.client_certificate);
    let local = non_mtls.clone().filter(|c| c.local).count();
    (non_mtls.count() - local, local)
}

/// Open and maximum file descriptors of this process (Linux `/proc`), as ZooKeeper
/// reports them from its OS bean.
pub fn file_descriptors() -> Option<(usize, u64)> {
    let open = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let max = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))?
        .split_whitespace()
        .nth(3)?
        .parse()
        .ok()?;
    Some((open, max))
}

/// The process's resident set size in bytes (Linux `/proc`).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Bytes in the regular files of `dir` (not recursive: the log and snapshot
/// directories are flat).
pub fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn gauge(name: &'static str, help: &'static str, value: Value) -> Gauge {
    Gauge {
        name,
        labels: Vec::new(),
        help,
        value,
    }
}

/// A quorum member's `peer_state` as ZooKeeper reports it: its state, then its Zab phase
/// (serving is Zab's broadcast phase).
fn peer_state(role: Role) -> &'static str {
    match role {
        Role::Leader => "leading - broadcast",
        Role::Follower => "following - broadcast",
        Role::Observer => "observing - broadcast",
        Role::Standalone | Role::NotServing => "looking",
    }
}

pub fn report(shared: &Shared) -> Report {
    let s = state_figures(shared);
    let stats = &shared.core.stats;
    let backend = shared.backend();
    let role = *backend.role().borrow();
    let latency = stats.latency();
    let sizes = stats.response_sizes();
    let facts = backend.raft_facts();
    let mut header = vec![
        ("version", Value::Text(version_with_build())),
        ("server_state", Value::Text(shared.mode().to_owned())),
    ];
    if facts.as_ref().is_some_and(|f| f.voters.is_some()) {
        header.push(("peer_state", Value::Text(peer_state(role).to_owned())));
    }
    let zk = |name: &'static str, value: Value| gauge(name, name, value);
    let mut gauges = vec![
        zk("avg_latency", Value::Float(latency.avg)),
        zk("max_latency", Value::Int(latency.max)),
        zk("min_latency", Value::Int(latency.min)),
        zk(
            "packets_received",
            Value::unsigned(stats.packets_received.load(Ordering::Relaxed)),
        ),
        zk(
            "packets_sent",
            Value::unsigned(stats.packets_sent.load(Ordering::Relaxed)),
        ),
        zk(
            "num_alive_connections",
            Value::count(shared.core.connections().len()),
        ),
        zk(
            "outstanding_requests",
            Value::count(shared.core.throttle.outstanding()),
        ),
        zk(
            "uptime",
            Value::Int(i64::try_from(shared.started.elapsed().as_millis()).unwrap_or(i64::MAX)),
        ),
        zk("znode_count", Value::count(s.node_count)),
        zk("watch_count", Value::count(s.watch_total)),
        zk("ephemerals_count", Value::count(s.ephemerals)),
        zk("approximate_data_size", Value::Int(s.data_size)),
        zk("global_sessions", Value::count(s.sessions)),
        // Every session is global here (localSessionsEnabled is refused at start-up).
        zk("local_sessions", Value::Int(0)),
        // ferrokeeper never drops connections at random (ZooKeeper's connection
        // throttle's drop chance, 0 unless configured).
        zk("connection_drop_probability", Value::Float(0.0)),
        zk("last_client_response_size", Value::Int(sizes.last)),
        zk("max_client_response_size", Value::Int(sizes.max)),
        zk("min_client_response_size", Value::Int(sizes.min)),
        zk(
            "auth_failed_count",
            Value::unsigned(stats.auth_failed.load(Ordering::Relaxed)),
        ),
    ];
    // ZooKeeper's quota gauge sets, one sample per top-level namespace with a quota
    // (labelled `key`, as its Prometheus provider labels them).
    let quotas = shared.core.with_state(|zk, _| zk.tree().quota_figures());
    for (i, name) in [
        "quota_count_limit_per_namespace",
        "quota_bytes_limit_per_namespace",
        "quota_count_usage_per_namespace",
        "quota_bytes_usage_per_namespace",
    ]
    .into_iter()
    .enumerate()
    {
        for (namespace, figures) in &quotas {
            gauges.push(Gauge {
                name,
                labels: vec![("key", namespace.clone())],
                help: name,
                value: Value::Int(figures[i]),
            });
        }
    }
    let (remote, local) = non_mtls_counts(shared);
    gauges.push(zk("non_mtls_remote_conn_count", Value::count(remote)));
    gauges.push(zk("non_mtls_local_conn_count", Value::count(local)));
    if let Some((open, max)) = file_descriptors() {
        gauges.push(zk("open_file_descriptor_count", Value::count(open)));
        gauges.push(zk("max_file_descriptor_count", Value::unsigned(max)));
    }
    if role == Role::Leader {
        let counts = backend.follower_counts();
        gauges.push(zk("learners", Value::count(counts.learners)));
        gauges.push(zk(
            "synced_followers",
            Value::count(counts.synced_followers),
        ));
        // Every follower votes here: observers are the non-voting members.
        gauges.push(zk("synced_non_voting_followers", Value::Int(0)));
        gauges.push(zk(
            "synced_observers",
            Value::count(counts.synced_observers),
        ));
        // A follower's sync waits on its own connection; the leader queues none.
        gauges.push(zk("pending_syncs", Value::Int(0)));
        if let Some(up) = metrics::leader_uptime() {
            gauges.push(zk(
                "leader_uptime",
                Value::Int(i64::try_from(up.as_millis()).unwrap_or(i64::MAX)),
            ));
        }
    }
    if let Some(voters) = facts.as_ref().and_then(|f| f.voters)
        && role.serving()
    {
        gauges.push(zk("quorum_size", Value::count(voters)));
    }

    let mut own = Vec::new();
    if let Some(f) = &facts {
        own.push(gauge(
            "ferrokeeper_raft_term",
            "Raft term this server is in",
            Value::unsigned(f.term),
        ));
        own.push(gauge(
            "ferrokeeper_raft_leader_id",
            "Server id of the current leader (-1: none known)",
            Value::Int(f.leader.map_or(-1, |l| i64::try_from(l).unwrap_or(-1))),
        ));
        own.push(gauge(
            "ferrokeeper_raft_last_log_index",
            "Index of the last entry in this server's Raft log",
            Value::unsigned(f.last_log_index),
        ));
        own.push(gauge(
            "ferrokeeper_raft_commit_index",
            "Highest Raft log index this server knows is committed",
            Value::unsigned(f.committed_index),
        ));
        own.push(gauge(
            "ferrokeeper_raft_applied_index",
            "Highest Raft log index applied to this server's state",
            Value::unsigned(f.applied_index),
        ));
        own.push(gauge(
            "ferrokeeper_raft_snapshot_index",
            "Last Raft log index covered by the latest snapshot",
            Value::unsigned(f.snapshot_index),
        ));
        own.push(gauge(
            "ferrokeeper_raft_log_entries",
            "Entries kept in the Raft log (not yet purged behind a snapshot)",
            Value::unsigned(f.last_log_index.saturating_sub(f.purged_index)),
        ));
        for (member, matched) in &f.matched {
            own.push(Gauge {
                labels: vec![("member", member.to_string())],
                ..gauge(
                    "ferrokeeper_raft_follower_lag",
                    "Leader only: entries a member is behind the leader's last log index",
                    Value::unsigned(f.last_log_index.saturating_sub(*matched)),
                )
            });
        }
    }
    own.push(gauge(
        "ferrokeeper_forward_queue_depth",
        "Writes a follower has queued for, or sent to and not yet handed to, the leader",
        Value::unsigned(metrics::FORWARD_QUEUE_DEPTH.load(Ordering::Relaxed)),
    ));
    own.push(gauge(
        "ferrokeeper_log_bytes",
        "Bytes of Raft log segments on disk",
        Value::unsigned(dir_bytes(&shared.settings.log_dir)),
    ));
    own.push(gauge(
        "ferrokeeper_snapshot_bytes",
        "Bytes of snapshot files on disk",
        Value::unsigned(dir_bytes(&shared.settings.snapshot_dir)),
    ));
    if let Some(rss) = resident_bytes() {
        own.push(gauge(
            "ferrokeeper_resident_memory_bytes",
            "Resident set size of the server process",
            Value::unsigned(rss),
        ));
    }

    let m = metrics::global();
    Report {
        header,
        gauges,
        counters: m.counters(),
        summaries: m.summaries(),
        own,
    }
}
