//! Watch fan-out (`zkbench fanout`): `watchers` sessions each hold a data watch on one
//! znode; a writer session changes it `changes` times. For each change, the latency of
//! every watcher's notification is the time from just before the writer sends its
//! setData to the notification's arrival. After each event a watcher re-arms its watch
//! (getData with a watch) and the next change waits until every watcher has, so each
//! change reaches all of them.
//!
//! All sessions run on the caller's runtime: with `--threads 1` a notification waits
//! for the client to get to its socket, the same for both servers.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::perms::open_acl_unsafe;
use ferrokeeper_protocol::{
    CreateMode, CreateRequest, ErrorCode, GetDataRequest, ReplyHeader, Request, SetDataRequest, xid,
};
use hdrhistogram::Histogram;
use tokio::sync::{Mutex, mpsc};

use super::wire::{Session, connect};

pub struct FanoutConfig {
    pub addr: SocketAddr,
    pub watchers: usize,
    pub changes: usize,
    pub path: String,
}

pub struct FanoutOutcome {
    /// Notification latencies in µs.
    pub latencies: Histogram<u64>,
    /// Seconds to open every watcher's session and arm its watch.
    pub setup_s: f64,
    /// Notifications received (`watchers × changes` when none was lost).
    pub notifications: u64,
}

const WITHIN: Duration = Duration::from_secs(10);
/// How long one change may take to reach every watcher.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

fn check(header: ReplyHeader, what: &str) -> io::Result<()> {
    if header.err == ErrorCode::Ok.code() {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what}: error {}", header.err)))
    }
}

fn arm(path: &str) -> Request {
    Request::GetData(GetDataRequest {
        path: path.to_owned(),
        watch: true,
    })
}

pub async fn run(cfg: &FanoutConfig) -> io::Result<FanoutOutcome> {
    let mut writer = connect(cfg.addr, 30_000, WITHIN).await?;
    let header = writer
        .call(
            1,
            Request::Create(CreateRequest {
                path: cfg.path.clone(),
                data: Some(Bytes::from_static(b"0")),
                acl: open_acl_unsafe(),
                flags: CreateMode::Persistent.code(),
            }),
            WITHIN,
        )
        .await?;
    if header.err != ErrorCode::NodeExists.code() {
        check(header, "create the watched node")?;
    }

    let started = Instant::now();
    let mut sessions = Vec::with_capacity(cfg.watchers);
    for _ in 0..cfg.watchers {
        let mut session = connect(cfg.addr, 30_000, WITHIN).await?;
        check(
            session.call(1, arm(&cfg.path), WITHIN).await?,
            "arm a watch",
        )?;
        sessions.push(session);
    }
    let setup_s = started.elapsed().as_secs_f64();

    // When the current change was sent; every watcher measures against it.
    let sent_at = Arc::new(Mutex::new(Instant::now()));
    let (armed_tx, mut armed_rx) = mpsc::unbounded_channel::<io::Result<u64>>();
    let mut tasks = Vec::new();
    for session in sessions {
        tasks.push(tokio::spawn(watch(
            session,
            cfg.path.clone(),
            cfg.changes,
            sent_at.clone(),
            armed_tx.clone(),
        )));
    }
    drop(armed_tx);

    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)
        .map_err(|e| io::Error::other(e.to_string()))?;
    let mut notifications = 0u64;
    for change in 0..cfg.changes {
        *sent_at.lock().await = Instant::now();
        let header = writer
            .call(
                2 + change as i32,
                Request::SetData(SetDataRequest {
                    path: cfg.path.clone(),
                    data: Some(Bytes::from(change.to_string())),
                    version: -1,
                }),
                WITHIN,
            )
            .await?;
        check(header, "change the watched node")?;
        for _ in 0..cfg.watchers {
            let got = tokio::time::timeout(ROUND_LIMIT, armed_rx.recv())
                .await
                .map_err(|_| {
                    io::Error::other(format!(
                        "change {change}: not every watcher was notified within {ROUND_LIMIT:?}"
                    ))
                })?
                .ok_or_else(|| io::Error::other("the watchers stopped"))??;
            latencies
                .record(got.max(1))
                .map_err(|e| io::Error::other(e.to_string()))?;
            notifications += 1;
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    writer.close(i32::MAX).await;
    Ok(FanoutOutcome {
        latencies,
        setup_s,
        notifications,
    })
}

/// One watcher: for each change, wait for the notification, note its latency, re-arm.
async fn watch(
    mut session: Session,
    path: String,
    changes: usize,
    sent_at: Arc<Mutex<Instant>>,
    armed: mpsc::UnboundedSender<io::Result<u64>>,
) {
    for change in 0..changes {
        let result = async {
            loop {
                let header = session.reader.next_header().await?;
                if header.xid == xid::NOTIFICATION {
                    break;
                }
            }
            let latency = sent_at.lock().await.elapsed();
            let header = session.call(2 + change as i32, arm(&path), WITHIN).await?;
            check(header, "re-arm a watch")?;
            Ok(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX))
        }
        .await;
        let failed = result.is_err();
        if armed.send(result).is_err() || failed {
            return;
        }
    }
    session.close(i32::MAX).await;
}
