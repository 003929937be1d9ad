//! Four-letter words: plain-text answers on the client port, before any handshake.
//! Output shapes follow ZooKeeper 3.8 because monitoring scripts parse them.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use ferrokeeper_protocol::FourLetterWord;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Shared;
use crate::replication::Role;

/// The version clients see: a ZooKeeper version they know, then ours. go-zookeeper's
/// `srvr` parser needs `[A-Za-z0-9.-]+` here, kazoo reads it from `envi`.
pub const VERSION: &str = concat!("3.8.4-ferrokeeper-", env!("CARGO_PKG_VERSION"));

/// The build stamp in the pre-3.7 `MM/dd/yyyy HH:mm GMT` form that go-zookeeper parses.
/// It is the date of this version's release line, not of the compilation.
const BUILT_ON: &str = "11/24/2026 00:00 GMT";

fn version_line() -> String {
    format!("Zookeeper version: {VERSION}, built on {BUILT_ON}")
}

fn java_double(value: f64) -> String {
    // Java prints whole doubles with ".0"; monitoring parsers expect that.
    if value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

struct Snapshot {
    zxid: i64,
    node_count: usize,
    data_size: i64,
    ephemerals: usize,
    sessions: usize,
    watch_paths: usize,
    watch_conns: usize,
    watch_total: usize,
}

fn snapshot(shared: &Shared) -> Snapshot {
    shared.core.with_state(|zk, watches| {
        let summary = watches.summary();
        Snapshot {
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

/// The asking four-letter-word connection counts as a connection, as in ZooKeeper.
fn server_lines(shared: &Shared, s: &Snapshot) -> String {
    let stats = &shared.core.stats;
    let latency = stats.latency();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Latency min/avg/max: {}/{}/{}",
        latency.min,
        java_double(latency.avg),
        latency.max
    );
    let _ = writeln!(
        out,
        "Received: {}",
        stats.packets_received.load(Ordering::Relaxed)
    );
    let _ = writeln!(out, "Sent: {}", stats.packets_sent.load(Ordering::Relaxed));
    let _ = writeln!(out, "Connections: {}", shared.core.connections().len() + 1);
    let _ = writeln!(out, "Outstanding: {}", shared.core.throttle.outstanding());
    let _ = writeln!(out, "Zxid: 0x{:x}", s.zxid);
    let _ = writeln!(out, "Mode: {}", shared.backend().role().borrow().mode());
    let _ = writeln!(out, "Node count: {}", s.node_count);
    out
}

/// `cons` lines: the asking connection first (it has sent one packet), then every
/// session's connection with ZooKeeper's fields. `brief` (for `stat`) stops after `sent`.
fn cons_lines(shared: &Shared, asker: &str, brief: bool) -> String {
    let mut out = format!(" /{asker}[0](queued=0,recved=1,sent=0)\n");
    for c in shared.core.connections() {
        let _ = write!(
            out,
            " /{}[1](queued=0,recved={},sent={}",
            c.peer, c.received, c.sent
        );
        if !brief {
            let _ = write!(
                out,
                ",sid=0x{:x},lop={},est={},to={},lcxid=0x{:x},lzxid=0x{:x},lresp={},llat={},minlat={},avglat={},maxlat={}",
                c.session,
                c.last_op,
                c.established_ms,
                c.timeout_ms,
                c.last_cxid,
                c.last_zxid,
                c.last_response_ms,
                c.last_latency_ms,
                c.min_latency_ms,
                c.avg_latency_ms,
                c.max_latency_ms
            );
        }
        out.push_str(")\n");
    }
    out
}

fn mntr(shared: &Shared, s: &Snapshot) -> String {
    let stats = &shared.core.stats;
    let role = *shared.backend().role().borrow();
    let latency = stats.latency();
    let mut lines: Vec<(&str, String)> = vec![
        ("zk_version", format!("{VERSION}, built on {BUILT_ON}")),
        ("zk_server_state", role.mode().into()),
        ("zk_avg_latency", java_double(latency.avg)),
        ("zk_max_latency", latency.max.to_string()),
        ("zk_min_latency", latency.min.to_string()),
        (
            "zk_packets_received",
            stats.packets_received.load(Ordering::Relaxed).to_string(),
        ),
        (
            "zk_packets_sent",
            stats.packets_sent.load(Ordering::Relaxed).to_string(),
        ),
        (
            "zk_num_alive_connections",
            shared.core.connections().len().to_string(),
        ),
        (
            "zk_outstanding_requests",
            shared.core.throttle.outstanding().to_string(),
        ),
        ("zk_znode_count", s.node_count.to_string()),
        ("zk_watch_count", s.watch_total.to_string()),
        ("zk_ephemerals_count", s.ephemerals.to_string()),
        ("zk_approximate_data_size", s.data_size.to_string()),
        ("zk_global_sessions", s.sessions.to_string()),
        ("zk_local_sessions", "0".into()),
        (
            "zk_uptime",
            shared.started.elapsed().as_millis().to_string(),
        ),
        (
            "zk_auth_failed_count",
            stats.auth_failed.load(Ordering::Relaxed).to_string(),
        ),
    ];
    if role == Role::Leader {
        let counts = shared.backend().follower_counts();
        lines.push(("zk_learners", counts.learners.to_string()));
        // ZooKeeper 3.4's name for the same count, still read by monitoring tools.
        lines.push(("zk_followers", counts.learners.to_string()));
        lines.push(("zk_synced_followers", counts.synced_followers.to_string()));
        lines.push(("zk_synced_non_voting_followers", "0".into()));
        lines.push(("zk_synced_observers", counts.synced_observers.to_string()));
        // A follower's sync waits on its own connection; the leader queues none.
        lines.push(("zk_pending_syncs", "0".into()));
    }
    if let Some((open, max)) = file_descriptors() {
        lines.push(("zk_open_file_descriptor_count", open.to_string()));
        lines.push(("zk_max_file_descriptor_count", max.to_string()));
    }
    lines
        .into_iter()
        .map(|(k, v)| format!("{k}\t{v}\n"))
        .collect()
}

/// Bytes in the snapshot and log directories, as ZooKeeper's `dirs` and `conf` report
/// its snapshot and transaction-log directories.
fn dir_sizes(settings: &super::NetSettings) -> (u64, u64) {
    fn size(dir: &std::path::Path) -> u64 {
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
    (size(&settings.snapshot_dir), size(&settings.log_dir))
}

/// Open and maximum file descriptors of this process (Linux `/proc`), as ZooKeeper
/// reports them from its OS bean.
fn file_descriptors() -> Option<(usize, u64)> {
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

fn envi() -> String {
    let mut out = String::from("Environment:\n");
    let _ = writeln!(out, "zookeeper.version={VERSION}, built on {BUILT_ON}");
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    let _ = writeln!(out, "host.name={host}");
    let _ = writeln!(out, "os.name={}", std::env::consts::OS);
    let _ = writeln!(out, "os.arch={}", std::env::consts::ARCH);
    if let Ok(user) = std::env::var("USER") {
        let _ = writeln!(out, "user.name={user}");
    }
    if let Ok(dir) = std::env::current_dir() {
        let _ = writeln!(out, "user.dir={}", dir.display());
    }
    out
}

fn session_hex(shared: &Shared) -> std::collections::HashMap<u64, i64> {
    shared
        .core
        .connections()
        .into_iter()
        .map(|c| (c.conn, c.session))
        .collect()
}

fn wchc(shared: &Shared) -> String {
    let sessions = session_hex(shared);
    let by_watcher = shared.core.with_state(|_, watches| watches.by_watcher());
    let mut out = String::new();
    for (conn, paths) in by_watcher {
        let _ = writeln!(
            out,
            "0x{:x}",
            sessions.get(&conn).copied().unwrap_or_default()
        );
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    // ZooKeeper ends the listing with an empty line.
    out.push('\n');
    out
}

fn wchp(shared: &Shared) -> String {
    let sessions = session_hex(shared);
    let by_path = shared.core.with_state(|_, watches| watches.by_path());
    let mut out = String::new();
    for (path, conns) in by_path {
        let _ = writeln!(out, "{path}");
        for conn in conns {
            let _ = writeln!(
                out,
                "\t0x{:x}",
                sessions.get(&conn).copied().unwrap_or_default()
            );
        }
    }
    out.push('\n');
    out
}

fn dump(shared: &Shared) -> String {
    let (sessions, ephemerals) = shared.core.with_state(|zk, _| {
        let sessions = crate::core::session_timeouts(zk);
        let ephemerals: Vec<(i64, Vec<String>)> = sessions
            .iter()
            .map(|(id, _)| (*id, zk.tree().get_ephemerals(*id, "/")))
            .filter(|(_, paths)| !paths.is_empty())
            .collect();
        (sessions, ephemerals)
    });
    let mut out = String::from("SessionTracker dump:\n");
    let _ = writeln!(out, "Global Sessions({}):", sessions.len());
    for (id, timeout) in &sessions {
        let _ = writeln!(out, "0x{id:x}\t{timeout}ms");
    }
    let _ = writeln!(out, "ephemeral nodes dump:");
    let _ = writeln!(out, "Sessions with Ephemerals ({}):", ephemerals.len());
    for (id, paths) in ephemerals {
        let _ = writeln!(out, "0x{id:x}:");
        for path in paths {
            let _ = writeln!(out, "\t{path}");
        }
    }
    out
}

fn text_for(shared: &Shared, word: FourLetterWord, asker: &str) -> String {
    let needs_server = !matches!(
        word,
        FourLetterWord::Ruok
            | FourLetterWord::Conf
            | FourLetterWord::Envi
            | FourLetterWord::Gtmk
            | FourLetterWord::Stmk
            | FourLetterWord::Hash
            | FourLetterWord::TelnetClose
    );
    let serving = shared.backend().role().borrow().serving();
    if !serving && word == FourLetterWord::Isro {
        // ZooKeeper's answer while its server object is down (no leader).
        return "null".into();
    }
    if needs_server && !serving {
        return "This ZooKeeper instance is not currently serving requests\n".into();
    }
    match word {
        FourLetterWord::Ruok => "imok".into(),
        FourLetterWord::Srvr => {
            let s = snapshot(shared);
            format!("{}\n{}", version_line(), server_lines(shared, &s))
        }
        FourLetterWord::Stat => {
            let s = snapshot(shared);
            format!(
                "{}\nClients:\n{}\n{}",
                version_line(),
                cons_lines(shared, asker, true),
                server_lines(shared, &s)
            )
        }
        FourLetterWord::Mntr => mntr(shared, &snapshot(shared)),
        FourLetterWord::Conf => {
            let (data, log) = dir_sizes(&shared.settings);
            (shared.settings.conf.0)(data, log)
        }
        FourLetterWord::Envi => envi(),
        FourLetterWord::Cons => format!("{}\n", cons_lines(shared, asker, false)),
        FourLetterWord::Isro => "rw".into(),
        FourLetterWord::Wchs => {
            let s = snapshot(shared);
            format!(
                "{} connections watching {} paths\nTotal watches:{}\n",
                s.watch_conns, s.watch_paths, s.watch_total
            )
        }
        FourLetterWord::Wchc => wchc(shared),
        FourLetterWord::Wchp => wchp(shared),
        FourLetterWord::Dump => dump(shared),
        FourLetterWord::Crst => {
            shared.core.reset_connection_stats();
            "Connection stats reset.\n".into()
        }
        FourLetterWord::Srst => {
            shared.core.stats.reset();
            "Server stats reset.\n".into()
        }
        FourLetterWord::Dirs => {
            let (data, log) = dir_sizes(&shared.settings);
            format!("datadir_size: {data}\nlogdir_size: {log}\n")
        }
        FourLetterWord::Gtmk | FourLetterWord::Stmk => shared
            .core
            .stats
            .trace_mask
            .load(Ordering::Relaxed)
            .to_string(),
        FourLetterWord::Hash => String::new(),
        FourLetterWord::TelnetClose => String::new(),
    }
}

/// Answers `word` from `peer` on its connection (plain or TLS) and closes it.
pub async fn answer(
    shared: &Shared,
    (mut reader, mut writer): (super::connection::BoxRead, super::connection::BoxWrite),
    peer: std::net::SocketAddr,
    word: FourLetterWord,
) {
    if word == FourLetterWord::TelnetClose {
        return;
    }
    if word == FourLetterWord::Stmk {
        // The mask follows as 8 bytes; ZooKeeper reads them before answering.
        let mut mask = [0u8; 8];
        if reader.read_exact(&mut mask).await.is_ok() {
            shared
                .core
                .stats
                .trace_mask
                .store(i64::from_be_bytes(mask), Ordering::Relaxed);
        }
    }
    let name = word.name();
    let text = if shared.settings.four_letter_whitelist.is_enabled(name) {
        tracing::debug!(command = name, "four-letter word");
        text_for(shared, word, &peer.to_string())
    } else {
        format!("{name} is not executed because it is not in the whitelist.\n")
    };
    let _ = writer.write_all(text.as_bytes()).await;
    let _ = writer.shutdown().await;
}
