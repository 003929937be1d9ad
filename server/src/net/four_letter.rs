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

/// The version as `mntr` and the AdminServer report it, with the build stamp.
pub fn version_with_build() -> String {
    format!("{VERSION}, built on {BUILT_ON}")
}

fn version_line() -> String {
    format!("Zookeeper version: {VERSION}, built on {BUILT_ON}")
}

pub(super) fn java_double(value: f64) -> String {
    // Java prints whole doubles with ".0"; monitoring parsers expect that.
    if value.fract() == 0.0 {
        format!("{value:.1}")
    } else {
        format!("{value}")
    }
}

use super::monitor::{StateFigures as Snapshot, state_figures as snapshot};

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
    let _ = writeln!(out, "Mode: {}", shared.mode());
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

/// `mntr`: every figure of the AdminServer's `monitor`, `zk_`-prefixed, tab-separated.
fn mntr(shared: &Shared) -> String {
    let mut report = super::monitor::report(shared).flattened();
    let role = *shared.backend().role().borrow();
    if role == Role::Leader {
        // ZooKeeper 3.4's name for the learner count, still read by monitoring tools.
        if let Some((_, learners)) = report.iter().find(|(k, _)| k == "learners") {
            let learners = learners.clone();
            report.push(("followers".to_owned(), learners));
        }
    }
    report
        .into_iter()
        .map(|(k, v)| format!("zk_{k}\t{}\n", v.to_mntr()))
        .collect()
}

/// Bytes in the snapshot and log directories, as ZooKeeper's `dirs` and `conf` report
/// its snapshot and transaction-log directories.
fn dir_sizes(settings: &super::NetSettings) -> (u64, u64) {
    (
        super::monitor::dir_bytes(&settings.snapshot_dir),
        super::monitor::dir_bytes(&settings.log_dir),
    )
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
    let serving = shared.serving_clients();
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
        FourLetterWord::Mntr => mntr(shared),
        FourLetterWord::Conf => {
            let (data, log) = dir_sizes(&shared.settings);
            (shared.settings.conf.0)(data, log)
        }
        FourLetterWord::Envi => envi(),
        FourLetterWord::Cons => format!("{}\n", cons_lines(shared, asker, false)),
        FourLetterWord::Isro if shared.serving_read_only() => "ro".into(),
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
            // Resets ZooKeeper's metrics too, as its `srst` does.
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
        // Answered by `leadership` (they wait for the hand-over).
        FourLetterWord::TelnetClose | FourLetterWord::Rqld | FourLetterWord::Ydld => String::new(),
    }
}

/// `rqld` and `ydld`, answered with ClickHouse Keeper's sentences. Keeper answers as soon
/// as the request is sent; we answer once the hand-over is done (or failed, bounded by
/// about twice the election timeout), so "Sent" means the leadership moved. A failure
/// adds the reason on a second line. As in Keeper, `rqld` on the leader and `ydld` on a
/// non-leader succeed without doing anything.
async fn leadership(shared: &Shared, word: FourLetterWord) -> String {
    let backend = shared.backend();
    let (sent, failed, result) = match word {
        FourLetterWord::Rqld => (
            "Sent leadership request to leader.",
            "Failed to send leadership request to leader.",
            backend.request_leadership().await.map(Some),
        ),
        _ => (
            "Sent yield leadership request to leader.",
            "Failed to send yield leadership request to leader.",
            backend.yield_leadership().await,
        ),
    };
    match result {
        Ok(leader) => {
            tracing::info!(command = word.name(), leader = ?leader, "leadership request done");
            sent.to_owned()
        }
        Err(e) => {
            tracing::warn!(command = word.name(), "leadership request failed: {e}");
            format!("{failed}\n{e}\n")
        }
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
        match word {
            FourLetterWord::Rqld | FourLetterWord::Ydld => leadership(shared, word).await,
            _ => text_for(shared, word, &peer.to_string()),
        }
    } else {
        format!("{name} is not executed because it is not in the whitelist.\n")
    };
    let _ = writer.write_all(text.as_bytes()).await;
    let _ = writer.shutdown().await;
}
