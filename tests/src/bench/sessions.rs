//! Many sessions on one server (`zkbench sessions`): opens `count` sessions, at most
//! `parallel` handshakes at a time, each setting an exists watch on a path of its own;
//! holds them, pinging each a third of its timeout apart, for `hold`; then asks every
//! session once more. Reports the connect rate, how many sessions still answered, and
//! (given the server's pid) its RSS before and after they opened: memory per session.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrokeeper_protocol::{ErrorCode, ExistsRequest, Request, xid};
use futures::StreamExt;
use tokio::task::JoinSet;

use super::wire::{Session, connect};

pub struct SessionsConfig {
    pub addr: SocketAddr,
    pub count: usize,
    pub parallel: usize,
    pub hold: Duration,
    pub timeout_ms: i32,
    /// The server's pid, for its RSS.
    pub pid: Option<u32>,
}

pub struct SessionsOutcome {
    pub opened: usize,
    pub connect_s: f64,
    /// Sessions that answered after the hold.
    pub alive: usize,
    /// What the first failure was, if any.
    pub first_error: Option<String>,
    pub rss_before_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
}

const WITHIN: Duration = Duration::from_secs(30);

/// VmRSS of `pid` in KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

fn exists(path: String) -> Request {
    Request::Exists(ExistsRequest { path, watch: true })
}

async fn open(addr: SocketAddr, timeout_ms: i32, n: usize) -> io::Result<Session> {
    let mut session = connect(addr, timeout_ms, WITHIN).await?;
    let header = session
        .call(1, exists(format!("/zkbench-sessions/s{n}")), WITHIN)
        .await?;
    // The path does not exist: exists answers NoNode and leaves a watch for its creation.
    if header.err != ErrorCode::NoNode.code() && header.err != ErrorCode::Ok.code() {
        return Err(io::Error::other(format!("exists: error {}", header.err)));
    }
    Ok(session)
}

/// Pings until `until`, then asks once more; the session's answer is the result.
async fn keep(mut session: Session, timeout_ms: i32, until: Instant, n: usize) -> io::Result<()> {
    let every = Duration::from_millis(u64::try_from(timeout_ms / 3).unwrap_or(1000).max(1));
    while Instant::now() + every < until {
        tokio::time::sleep(every).await;
        session.call(xid::PING, Request::Ping, WITHIN).await?;
    }
    tokio::time::sleep_until(until.into()).await;
    let header = session
        .call(2, exists(format!("/zkbench-sessions/s{n}")), WITHIN)
        .await?;
    if header.err != ErrorCode::NoNode.code() && header.err != ErrorCode::Ok.code() {
        return Err(io::Error::other(format!(
            "after the hold: error {}",
            header.err
        )));
    }
    session.close(3).await;
    Ok(())
}

pub async fn run(cfg: &SessionsConfig) -> io::Result<SessionsOutcome> {
    let rss_before_kb = cfg.pid.and_then(rss_kb);
    let started = Instant::now();
    let opened: Vec<io::Result<Session>> = futures::stream::iter(0..cfg.count)
        .map(|n| open(cfg.addr, cfg.timeout_ms, n))
        .buffer_unordered(cfg.parallel.max(1))
        .collect()
        .await;
    let connect_s = started.elapsed().as_secs_f64();
    let mut first_error = None;
    let mut sessions = Vec::with_capacity(opened.len());
    for result in opened {
        match result {
            Ok(session) => sessions.push(session),
            Err(e) => {
                first_error.get_or_insert_with(|| format!("connect: {e}"));
            }
        }
    }
    // Settle: the server finishes registering before its memory is read.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_kb = cfg.pid.and_then(rss_kb);
    let count = sessions.len();
    let until = Instant::now() + cfg.hold;
    let mut tasks = JoinSet::new();
    for (n, session) in sessions.into_iter().enumerate() {
        tasks.spawn(keep(session, cfg.timeout_ms, until, n));
    }
    let mut alive = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(())) => alive += 1,
            Ok(Err(e)) => {
                first_error.get_or_insert_with(|| format!("held session: {e}"));
            }
            Err(e) => {
                first_error.get_or_insert_with(|| format!("task: {e}"));
            }
        }
    }
    Ok(SessionsOutcome {
        opened: count,
        connect_s,
        alive,
        first_error,
        rss_before_kb,
        rss_after_kb,
    })
}
