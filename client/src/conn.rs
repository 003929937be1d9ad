//! The background task that owns one TCP connection: a writer that sends queued
//! requests and pings, and a reader that matches replies to requests (FIFO by xid) and
//! routes watch notifications. Both run inside one spawned task; whichever stops first
//! ends the connection, and every waiting request and watch then fails.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};

use ferrokeeper_protocol::{
    EventType, FrameCodec, Jute, KeeperState, OpCode, ReplyHeader, Request, RequestFrame, Response,
    WatcherEvent, xid,
};

use crate::error::{Error, Result};
use crate::watch::WatchedEvent;

/// Connection states kept in [`Shared::state`].
const CONNECTED: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;
const LOST: u8 = 3;

/// State the client handles and the task share.
#[derive(Debug)]
pub(crate) struct Shared {
    state: AtomicU8,
    pub(crate) session_id: i64,
    pub(crate) session_timeout: Duration,
}

impl Shared {
    pub(crate) fn new(session_id: i64, session_timeout: Duration) -> Shared {
        Shared {
            state: AtomicU8::new(CONNECTED),
            session_id,
            session_timeout,
        }
    }

    /// The error an operation gets once the connection is gone (or going).
    pub(crate) fn dead_error(&self) -> Error {
        match self.state.load(Ordering::Acquire) {
            CLOSING | CLOSED => Error::Closed,
            _ => Error::ConnectionLoss,
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.state.load(Ordering::Acquire), CLOSING | CLOSED)
    }

    /// Marks the client as closing; false if it already was (or is gone).
    pub(crate) fn begin_close(&self) -> bool {
        self.state
            .compare_exchange(CONNECTED, CLOSING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn finish(&self, closed_cleanly: bool) {
        let end = if closed_cleanly || self.is_closing() {
            CLOSED
        } else {
            LOST
        };
        self.state.store(end, Ordering::Release);
    }
}

/// Which watch list a successful (or, for exists, NoNode) reply registers into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchKind {
    /// getData, or exists on an existing node.
    Data,
    /// exists; registers whether or not the node exists.
    Exists,
    /// getChildren.
    Child,
}

#[derive(Debug)]
pub(crate) struct WatchRegistration {
    pub(crate) kind: WatchKind,
    pub(crate) path: String,
    pub(crate) tx: oneshot::Sender<WatchedEvent>,
}

/// One queued request.
#[derive(Debug)]
pub(crate) struct Command {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Result<Response>>,
    pub(crate) watch: Option<WatchRegistration>,
}

/// A request written and awaiting its reply.
#[derive(Debug)]
struct Pending {
    xid: i32,
    opcode: OpCode,
    reply: oneshot::Sender<Result<Response>>,
    watch: Option<WatchRegistration>,
}

type PendingQueue = Mutex<VecDeque<Pending>>;

fn lock(queue: &PendingQueue) -> MutexGuard<'_, VecDeque<Pending>> {
    queue
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Why the connection ended.
#[derive(Debug)]
enum End {
    /// The closeSession reply arrived.
    Closed,
    /// Every client handle was dropped.
    Dropped,
    Lost(String),
}

/// Runs the connection until it ends, then fails whatever is still waiting.
pub(crate) async fn run(
    stream: TcpStream,
    mut commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    codec: FrameCodec,
) {
    let (read_half, write_half) = stream.into_split();
    let mut reader = FramedRead::new(read_half, codec);
    let mut writer = FramedWrite::new(write_half, codec);
    let pending = PendingQueue::default();
    let mut watches = Watches::default();
    // ZooKeeper's client: readTimeout = 2/3 of the session timeout, a ping after
    // readTimeout/2 without sending anything.
    let read_timeout = shared.session_timeout * 2 / 3;
    let ping_every = read_timeout / 2;

    let end = tokio::select! {
        end = write_loop(&mut writer, &mut commands, &pending, ping_every) => end,
        end = read_loop(&mut reader, &pending, &mut watches, read_timeout) => end,
    };
    match &end {
        End::Lost(why) => tracing::debug!(session = shared.session_id, "connection lost: {why}"),
        other => tracing::debug!(session = shared.session_id, "connection ended: {other:?}"),
    }
    shared.finish(matches!(end, End::Closed));
    let err = shared.dead_error();
    commands.close();
    while let Ok(command) = commands.try_recv() {
        let _ = command.reply.send(Err(err.clone()));
    }
    for waiting in lock(&pending).drain(..) {
        let _ = waiting.reply.send(Err(err.clone()));
    }
    // Dropping the watch senders resolves every outstanding watch with `err`.
    drop(watches);
}

async fn write_loop(
    writer: &mut FramedWrite<OwnedWriteHalf, FrameCodec>,
    commands: &mut mpsc::Receiver<Command>,
    pending: &PendingQueue,
    ping_every: Duration,
) -> End {
    let mut next_xid: i32 = 1;
    let mut last_send = Instant::now();
    let mut close_sent = false;
    loop {
        let first = tokio::select! {
            command = commands.recv(), if !close_sent => command,
            () = tokio::time::sleep_until(last_send + ping_every) => {
                let ping = RequestFrame::new(xid::PING, Request::Ping);
                if let Err(e) = writer.send(ping).await {
                    return End::Lost(format!("write failed: {e}"));
                }
                last_send = Instant::now();
                continue;
            }
        };
        let Some(first) = first else {
            return End::Dropped;
        };
        // Send everything already queued, then flush once.
        let mut batch = vec![first];
        while batch.len() < 128 {
            match commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        for command in batch {
            if close_sent {
                let _ = command.reply.send(Err(Error::Closed));
                continue;
            }
            let xid = next_xid;
            next_xid = if next_xid == i32::MAX {
                1
            } else {
                next_xid + 1
            };
            let opcode = command.request.opcode();
            close_sent = opcode == OpCode::CloseSession;
            let frame = RequestFrame::new(xid, command.request);
            // Queue before writing, so the reader always finds the request it answers.
            lock(pending).push_back(Pending {
                xid,
                opcode,
                reply: command.reply,
                watch: command.watch,
            });
            if let Err(e) = writer.feed(frame).await {
                return End::Lost(format!("write failed: {e}"));
            }
        }
        if let Err(e) = SinkExt::<RequestFrame>::flush(writer).await {
            return End::Lost(format!("write failed: {e}"));
        }
        last_send = Instant::now();
    }
}

async fn read_loop(
    reader: &mut FramedRead<OwnedReadHalf, FrameCodec>,
    pending: &PendingQueue,
    watches: &mut Watches,
    read_timeout: Duration,
) -> End {
    loop {
        let mut frame: Bytes = match tokio::time::timeout(read_timeout, reader.next()).await {
            Err(_) => return End::Lost(format!("nothing received for {read_timeout:?}")),
            Ok(None) => return End::Lost("the server closed the connection".into()),
            Ok(Some(Err(e))) => return End::Lost(format!("read failed: {e}")),
            Ok(Some(Ok(frame))) => frame,
        };
        let header = match ReplyHeader::decode(&mut frame) {
            Ok(header) => header,
            Err(e) => return End::Lost(format!("undecodable reply header: {e}")),
        };
        match header.xid {
            xid::NOTIFICATION => match WatcherEvent::decode(&mut frame) {
                Ok(event) => watches.dispatch(event),
                Err(e) => tracing::warn!("undecodable watch notification: {e}"),
            },
            xid::PING => {}
            x if x < 0 => tracing::debug!(xid = x, "ignoring reply with special xid"),
            x => {
                let Some(waiting) = lock(pending).pop_front() else {
                    return End::Lost(format!("reply xid {x} with no request outstanding"));
                };
                if waiting.xid != x {
                    let expected = waiting.xid;
                    let _ = waiting.reply.send(Err(Error::ConnectionLoss));
                    return End::Lost(format!("reply xid {x}, expected {expected}"));
                }
                let closed = waiting.opcode == OpCode::CloseSession;
                complete(waiting, &header, &mut frame, watches);
                if closed {
                    return End::Closed;
                }
            }
        }
    }
}

/// Answers one request from its reply, registering its watch if the reply allows.
fn complete(waiting: Pending, header: &ReplyHeader, body: &mut Bytes, watches: &mut Watches) {
    let result = if header.err != 0 {
        Err(Error::from_code(header.err))
    } else {
        Response::decode(waiting.opcode, header, body).map_err(|e| {
            tracing::warn!(opcode = ?waiting.opcode, "undecodable reply: {e}");
            Error::MarshallingError
        })
    };
    if let Some(watch) = waiting.watch {
        // As ZooKeeper's client: exists registers on success and on NoNode, getData and
        // getChildren on success only.
        let register = matches!(
            (&result, watch.kind),
            (Ok(_), _) | (Err(Error::NoNode), WatchKind::Exists)
        );
        if register {
            watches.add(watch);
        }
    }
    let _ = waiting.reply.send(result);
}

/// Outstanding one-shot watches by path.
#[derive(Debug, Default)]
struct Watches {
    /// getData and exists watches (ZooKeeper keeps them apart, but fires them alike).
    data: HashMap<String, Vec<oneshot::Sender<WatchedEvent>>>,
    child: HashMap<String, Vec<oneshot::Sender<WatchedEvent>>>,
}

impl Watches {
    fn add(&mut self, watch: WatchRegistration) {
        let map = match watch.kind {
            WatchKind::Data | WatchKind::Exists => &mut self.data,
            WatchKind::Child => &mut self.child,
        };
        map.entry(watch.path).or_default().push(watch.tx);
    }

    fn dispatch(&mut self, event: WatcherEvent) {
        let (Some(event_type), Some(state)) = (
            EventType::from_code(event.r#type),
            KeeperState::from_code(event.state),
        ) else {
            tracing::warn!(?event, "ignoring notification with unknown type or state");
            return;
        };
        let (data, child) = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => (true, false),
            EventType::NodeDeleted => (true, true),
            EventType::NodeChildrenChanged => (false, true),
            _ => (false, false),
        };
        let mut fired = Vec::new();
        if data {
            fired.extend(self.data.remove(&event.path).unwrap_or_default());
        }
        if child {
            fired.extend(self.child.remove(&event.path).unwrap_or_default());
        }
        for tx in fired {
            let _ = tx.send(WatchedEvent {
                event_type,
                keeper_state: state,
                path: event.path.clone(),
            });
        }
    }
}
