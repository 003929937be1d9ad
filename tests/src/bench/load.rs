//! Pipelined load: N sessions, each keeping K requests in flight. A session's writer
//! sends a request whenever one of its K slots is free and queues (xid, send time); its
//! reader takes replies in order, checks the xid, records the latency and frees the slot.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::perms::open_acl_unsafe;
use ferrokeeper_protocol::{
    CreateRequest, ErrorCode, GetDataRequest, Request, RequestFrame, SetDataRequest, write_frame,
};
use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};

use super::wire::{Session, connect};

/// Session timeout asked for (ms); every run keeps its sessions busy, so it never expires.
pub const SESSION_TIMEOUT_MS: i32 = 30_000;
/// How long one connect + handshake may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// How long a reply may take before the run is declared broken.
const REPLY_WITHIN: Duration = Duration::from_secs(30);

/// The measured workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// create (opcode 1) of unique persistent nodes under one parent.
    Create,
    /// setData on existing nodes, chosen pseudo-randomly.
    Set,
    /// getData (no watch) on existing nodes, chosen pseudo-randomly.
    Get,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Set => "set",
            Workload::Get => "get",
        }
    }
}

/// Largest latency the histogram tracks (µs); longer ones count as this (a reply takes
/// at most [`REPLY_WITHIN`] anyway).
const LATENCY_MAX_US: u64 = 60_000_000;

/// Latencies in microseconds plus counters, per session and merged.
pub struct Stats {
    /// Latency (µs) of requests sent inside the measured window.
    pub hist: Histogram<u64>,
    /// Replies received inside the measured window.
    pub ops_in_window: u64,
    /// All replies received.
    pub replies: u64,
    /// Replies whose error code the workload did not expect.
    pub errors: u64,
    pub first_error: Option<String>,
    /// When the last reply arrived.
    pub last_reply: Option<Instant>,
}

impl Stats {
    fn new() -> io::Result<Stats> {
        Ok(Stats {
            hist: Histogram::new_with_bounds(1, LATENCY_MAX_US, 3)
                .map_err(|e| io::Error::other(e.to_string()))?,
            ops_in_window: 0,
            replies: 0,
            errors: 0,
            first_error: None,
            last_reply: None,
        })
    }

    fn merge(&mut self, other: Stats) -> io::Result<()> {
        self.hist
            .add(&other.hist)
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.ops_in_window += other.ops_in_window;
        self.replies += other.replies;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.last_reply = self.last_reply.max(other.last_reply);
        Ok(())
    }
}

/// The time window of one run: requests are sent from `start` until `end`; the window
/// `[measure_from, end)` is what counts.
#[derive(Clone, Copy)]
struct Window {
    measure_from: Instant,
    end: Instant,
}

/// A deterministic pseudo-random sequence (xorshift64*), so both servers get the same keys.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Data of `len` bytes (a fixed printable pattern).
pub fn payload(len: usize) -> Bytes {
    Bytes::from((0..len).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>())
}

fn create(path: String, data: &Bytes) -> Request {
    Request::Create(CreateRequest {
        path,
        data: Some(data.clone()),
        acl: open_acl_unsafe(),
        flags: 0,
    })
}

/// Drives one session: `make(n)` gives the n-th request, or `None` when there are no more.
/// `accept(err)` says whether a reply's error code is expected.
async fn drive(
    session: Session,
    inflight: usize,
    window: Window,
    mut make: impl FnMut(u64) -> Option<Request>,
    accept: impl Fn(i32) -> bool,
) -> io::Result<Stats> {
    let Session {
        mut reader,
        mut writer,
        ..
    } = session;
    let slots = Arc::new(Semaphore::new(inflight));
    let (tx, mut rx) = mpsc::unbounded_channel::<(i32, Instant)>();
    let writer_slots = Arc::clone(&slots);
    let write = async move {
        let mut xid: i32 = 0;
        let mut n: u64 = 0;
        let mut buf = BytesMut::with_capacity(64 * 1024);
        // Bounded: each pass sends at least one request or stops, and stops at `end`.
        while Instant::now() < window.end {
            let Ok(permit) = writer_slots.acquire().await else {
                break; // the reader failed and closed the slots
            };
            permit.forget();
            let mut batch = 1;
            while batch < inflight
                && let Ok(permit) = writer_slots.try_acquire()
            {
                permit.forget();
                batch += 1;
            }
            let now = Instant::now();
            let mut exhausted = false;
            for _ in 0..batch {
                let Some(request) = make(n) else {
                    exhausted = true;
                    break;
                };
                n += 1;
                xid = xid.wrapping_add(1).max(1);
                write_frame(&RequestFrame::new(xid, request), &mut buf);
                if tx.send((xid, now)).is_err() {
                    exhausted = true;
                    break;
                }
            }
            if !buf.is_empty() {
                writer.write_all(&buf).await?;
                buf.clear();
            }
            if exhausted {
                break;
            }
        }
        drop(tx);
        Ok::<_, io::Error>((writer, xid))
    };
    let read = async move {
        let mut stats = Stats::new()?;
        let result = async {
            while let Some((xid, sent)) = rx.recv().await {
                let header = tokio::time::timeout(REPLY_WITHIN, reader.next_header())
                    .await
                    .map_err(|_| {
                        io::Error::new(io::ErrorKind::TimedOut, "no reply within 30 s")
                    })??;
                let done = Instant::now();
                if header.xid != xid {
                    return Err(io::Error::other(format!(
                        "reply xid {} where {xid} was next",
                        header.xid
                    )));
                }
                if !accept(header.err) {
                    stats.errors += 1;
                    if stats.first_error.is_none() {
                        stats.first_error = Some(match ErrorCode::from_code(header.err) {
                            Some(code) => format!("{code:?} ({})", header.err),
                            None => format!("error {}", header.err),
                        });
                    }
                }
                if sent >= window.measure_from && sent < window.end {
                    let micros = u64::try_from(done.duration_since(sent).as_micros())
                        .unwrap_or(u64::MAX)
                        .max(1);
                    stats.hist.saturating_record(micros);
                }
                if done >= window.measure_from && done < window.end {
                    stats.ops_in_window += 1;
                }
                stats.replies += 1;
                stats.last_reply = Some(done);
                slots.add_permits(1);
            }
            Ok(())
        }
        .await;
        if result.is_err() {
            slots.close();
        }
        result.map(|()| (stats, reader))
    };
    let (written, read) = tokio::join!(write, read);
    let (writer, xid) = written?;
    let (stats, reader) = read?;
    Session {
        reader,
        writer,
        session_id: 0,
    }
    .close(xid.wrapping_add(1).max(1))
    .await;
    Ok(stats)
}

/// Runs `sessions` copies of a session future and merges their stats.
async fn run_sessions<F>(futures: Vec<F>) -> io::Result<Stats>
where
    F: std::future::Future<Output = io::Result<Stats>> + Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut total = Stats::new()?;
    let mut first_failure = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(stats)) => total.merge(stats)?,
            Ok(Err(e)) => {
                first_failure.get_or_insert(e);
            }
            Err(e) => {
                first_failure.get_or_insert(io::Error::other(e.to_string()));
            }
        }
    }
    match first_failure {
        Some(e) => Err(e),
        None => Ok(total),
    }
}

/// Creates `paths` with `data`, `inflight` at a time on one session, accepting NodeExists.
async fn ensure_nodes(
    addr: SocketAddr,
    paths: Vec<String>,
    data: Bytes,
    inflight: usize,
) -> io::Result<()> {
    let session = connect(addr, SESSION_TIMEOUT_MS, CONNECT_WITHIN).await?;
    let far = Instant::now() + Duration::from_secs(3600);
    let window = Window {
        measure_from: far,
        end: far,
    };
    let stats = drive(
        session,
        inflight,
        window,
        move |n| {
            let path = paths.get(usize::try_from(n).ok()?)?;
            Some(create(path.clone(), &data))
        },
        |err| err == 0 || err == ErrorCode::NodeExists.code(),
    )
    .await?;
    match stats.first_error {
        Some(e) => Err(io::Error::other(format!("preparing nodes: {e}"))),
        None => Ok(()),
    }
}

/// One measured run.
pub struct RunConfig {
    /// Session `i` connects to `addrs[i % len]` (an ensemble's servers); the first one
    /// prepares the nodes.
    pub addrs: Vec<SocketAddr>,
    pub workload: Workload,
    pub sessions: usize,
    pub inflight: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub data_size: usize,
    /// Parent of the created nodes (create).
    pub create_parent: String,
    /// Parent of the `keys` nodes that set/get use.
    pub kv_parent: String,
    pub keys: usize,
    pub seed: u64,
}

pub struct RunOutcome {
    pub stats: Stats,
    pub window: Duration,
}

/// The path of key `i` under `parent`.
fn key_path(parent: &str, i: u64) -> String {
    format!("{parent}/k{i:07}")
}

/// Prepares (untimed) what the workload needs, then runs it.
pub async fn run(cfg: &RunConfig) -> io::Result<RunOutcome> {
    let Some(&first) = cfg.addrs.first() else {
        return Err(io::Error::other("no server address"));
    };
    let data = payload(cfg.data_size);
    let keys = u64::try_from(cfg.keys.max(1)).unwrap_or(u64::MAX);
    match cfg.workload {
        Workload::Create => {
            ensure_nodes(first, vec![cfg.create_parent.clone()], Bytes::new(), 1).await?;
        }
        Workload::Set | Workload::Get => {
            let mut paths = vec![cfg.kv_parent.clone()];
            ensure_nodes(first, paths.clone(), Bytes::new(), 1).await?;
            paths = (0..keys).map(|i| key_path(&cfg.kv_parent, i)).collect();
            ensure_nodes(first, paths, payload(1024), 64).await?;
        }
    }
    let mut sessions = Vec::with_capacity(cfg.sessions);
    for i in 0..cfg.sessions {
        let addr = cfg.addrs[i % cfg.addrs.len()];
        sessions.push(connect(addr, SESSION_TIMEOUT_MS, CONNECT_WITHIN).await?);
    }
    // The nodes were made through the first server; a follower serves them once applied.
    if matches!(cfg.workload, Workload::Set | Workload::Get) {
        for session in &mut sessions {
            let sync = Request::Sync(ferrokeeper_protocol::SyncRequest { path: "/".into() });
            let header = session.call(1, sync, CONNECT_WITHIN).await?;
            if header.err != 0 {
                return Err(io::Error::other(format!("sync: error {}", header.err)));
            }
        }
    }
    let start = Instant::now();
    let window = Window {
        measure_from: start + cfg.warmup,
        end: start + cfg.warmup + cfg.duration,
    };
    let futures: Vec<_> = sessions
        .into_iter()
        .enumerate()
        .map(|(i, session)| {
            let data = data.clone();
            let workload = cfg.workload;
            let parent = cfg.create_parent.clone();
            let kv = cfg.kv_parent.clone();
            let mut rng = Rng::new(cfg.seed.wrapping_add(i as u64));
            let make = move |n: u64| {
                Some(match workload {
                    Workload::Create => create(format!("{parent}/s{i}-{n:09}"), &data),
                    Workload::Set => Request::SetData(SetDataRequest {
                        path: key_path(&kv, rng.next() % keys),
                        data: Some(data.clone()),
                        version: -1,
                    }),
                    Workload::Get => Request::GetData(GetDataRequest {
                        path: key_path(&kv, rng.next() % keys),
                        watch: false,
                    }),
                })
            };
            drive(session, cfg.inflight, window, make, |err| err == 0)
        })
        .collect();
    let stats = run_sessions(futures).await?;
    Ok(RunOutcome {
        stats,
        window: cfg.duration,
    })
}

/// Creates `count` nodes of `data_size` bytes under `root` (`fanout` children per
/// intermediate parent), then `known` with `known_data`.
pub struct PopulateConfig {
    pub addr: SocketAddr,
    pub count: u64,
    pub fanout: u64,
    pub sessions: usize,
    pub inflight: usize,
    pub data_size: usize,
    pub root: String,
    pub known: String,
    pub known_data: Bytes,
}

pub struct PopulateOutcome {
    pub stats: Stats,
    pub elapsed: Duration,
}

pub async fn populate(cfg: &PopulateConfig) -> io::Result<PopulateOutcome> {
    let fanout = cfg.fanout.max(1);
    let parents = cfg.count.div_ceil(fanout);
    let mut dirs = vec![cfg.root.clone()];
    dirs.extend((0..parents).map(|p| format!("{}/p{p:06}", cfg.root)));
    ensure_nodes(cfg.addr, dirs, Bytes::new(), 64).await?;

    let sessions = u64::try_from(cfg.sessions.max(1)).unwrap_or(1);
    let mut conns = Vec::with_capacity(cfg.sessions);
    for _ in 0..sessions {
        conns.push(connect(cfg.addr, SESSION_TIMEOUT_MS, CONNECT_WITHIN).await?);
    }
    let start = Instant::now();
    let far = start + Duration::from_secs(24 * 3600);
    let window = Window {
        measure_from: start,
        end: far,
    };
    let data = payload(cfg.data_size);
    let futures: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(s, session)| {
            let data = data.clone();
            let root = cfg.root.clone();
            let count = cfg.count;
            let s = s as u64;
            // Session s creates nodes s, s + sessions, s + 2·sessions, …
            let make = move |n: u64| {
                let i = s + n.checked_mul(sessions)?;
                (i < count).then(|| create(format!("{root}/p{:06}/n{i:09}", i / fanout), &data))
            };
            drive(session, cfg.inflight, window, make, |err| err == 0)
        })
        .collect();
    let stats = run_sessions(futures).await?;
    let elapsed = stats
        .last_reply
        .map_or(Duration::ZERO, |last| last.duration_since(start));
    ensure_nodes(cfg.addr, vec![cfg.known.clone()], cfg.known_data.clone(), 1).await?;
    Ok(PopulateOutcome { stats, elapsed })
}

/// How a probe for the first successful read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The known node was read back with the expected data length.
    Read,
    /// The server answered, but the node was missing (or had other data) for `grace`.
    Missing,
    /// The server never answered within the timeout.
    Timeout,
}

impl ProbeOutcome {
    pub fn name(self) -> &'static str {
        match self {
            ProbeOutcome::Read => "read",
            ProbeOutcome::Missing => "missing",
            ProbeOutcome::Timeout => "timeout",
        }
    }
}

pub struct ProbeResult {
    pub outcome: ProbeOutcome,
    /// From `since` to the first reply to a getData (any result).
    pub first_response_ms: Option<f64>,
    /// From `since` to the first successful read of the node.
    pub read_ms: Option<f64>,
    pub connect_attempts: u64,
}

fn ms_since(since_ns: u128) -> f64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    now.saturating_sub(since_ns) as f64 / 1e6
}

/// Polls `addr` until getData(`path`) returns `expect_len` bytes of data, the node stays
/// missing for `grace` after the first answer, or `timeout` passes. Times are measured
/// from `since_ns` (ns since the Unix epoch, taken just before the server was started).
pub async fn probe(
    addr: SocketAddr,
    path: &str,
    expect_len: Option<usize>,
    since_ns: u128,
    timeout: Duration,
    grace: Duration,
) -> ProbeResult {
    let deadline = Instant::now() + timeout;
    let mut result = ProbeResult {
        outcome: ProbeOutcome::Timeout,
        first_response_ms: None,
        read_ms: None,
        connect_attempts: 0,
    };
    let mut first_answer: Option<Instant> = None;
    let call_within = Duration::from_secs(2);
    while Instant::now() < deadline {
        result.connect_attempts += 1;
        let Ok(mut session) = connect(addr, SESSION_TIMEOUT_MS, Duration::from_secs(2)).await
        else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let mut xid = 0;
        // Bounded by the deadline: one getData per pass, 20 ms apart while missing.
        while Instant::now() < deadline {
            xid += 1;
            let request = Request::GetData(GetDataRequest {
                path: path.to_owned(),
                watch: false,
            });
            let answer = async {
                let mut buf = BytesMut::new();
                write_frame(&RequestFrame::new(xid, request), &mut buf);
                session.writer.write_all(&buf).await?;
                let mut frame = session.reader.next_frame().await?;
                ferrokeeper_protocol::ReplyFrame::decode(&mut frame, |_| {
                    ferrokeeper_protocol::OpCode::GetData
                })
                .map_err(io::Error::other)
            };
            let Ok(Ok(reply)) = tokio::time::timeout(call_within, answer).await else {
                break; // reconnect
            };
            let now_ms = ms_since(since_ns);
            result.first_response_ms.get_or_insert(now_ms);
            let first = *first_answer.get_or_insert_with(Instant::now);
            let data_len = match &reply.response {
                ferrokeeper_protocol::Response::GetData(r) => {
                    Some(r.data.as_ref().map_or(0, Bytes::len))
                }
                _ => None,
            };
            if reply.header.err == 0 && (expect_len.is_none() || data_len == expect_len) {
                result.outcome = ProbeOutcome::Read;
                result.read_ms = Some(now_ms);
                session.close(xid + 1).await;
                return result;
            }
            if first.elapsed() >= grace {
                result.outcome = ProbeOutcome::Missing;
                session.close(xid + 1).await;
                return result;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    result
}
