//! The watch handles callers hold: [`Watch`], a future for a one-shot watch, and
//! [`PersistentWatch`], a stream for a persistent or persistent-recursive one. Dropping
//! either removes the interest (see the crate docs for what reaches the server).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, oneshot};

use ferrokeeper_protocol::{AddWatchMode, EventType, KeeperState};

use crate::error::Result;
use crate::session::Command;
use crate::shared::Shared;

/// Identifies one local watch in the session task's registry.
pub(crate) type WatchId = u64;

/// A watch notification, or (with `event_type` [`EventType::None`]) a session event
/// delivered to a [`PersistentWatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchedEvent {
    pub event_type: EventType,
    /// `SyncConnected` for node events. For session events: `Disconnected`,
    /// `SyncConnected`, `ConnectedReadOnly`, `Expired`, `AuthFailed` or `Closed`.
    pub keeper_state: KeeperState,
    /// The node's path as this client sees it (chroot removed); empty for session events.
    pub path: String,
    /// The zxid of the change that fired the event, when the server sends it
    /// (ZooKeeper 3.9+ and ferrokeeper do, ZOOKEEPER-4655); `None` from a 3.8 server,
    /// for session events, and for changes made while this client was disconnected
    /// (reported when its watches are re-armed).
    pub zxid: Option<i64>,
}

impl WatchedEvent {
    pub(crate) fn session(state: KeeperState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::None,
            keeper_state: state,
            path: String::new(),
            zxid: None,
        }
    }

    /// True for a session event (no node changed).
    pub fn is_session_event(&self) -> bool {
        self.event_type == EventType::None
    }
}

/// Where the session task delivers a watch's events.
#[derive(Debug)]
pub(crate) enum Sink {
    Once(oneshot::Sender<Result<WatchedEvent>>),
    Stream(mpsc::UnboundedSender<WatchedEvent>),
}

/// Sends `Unwatch` when a handle goes away before its watch is done with.
#[derive(Debug)]
struct Unwatch {
    id: WatchId,
    tx: mpsc::WeakUnboundedSender<Command>,
    armed: bool,
}

impl Unwatch {
    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for Unwatch {
    fn drop(&mut self) {
        if self.armed
            && let Some(tx) = self.tx.upgrade()
        {
            let _ = tx.send(Command::Unwatch(self.id));
        }
    }
}

/// A one-shot watch, armed by a read such as [`Client::get_data_w`](crate::Client::get_data_w).
///
/// Resolves with the node event that fires it: data and exists watches on
/// `NodeCreated`, `NodeDataChanged` and `NodeDeleted`; child watches on
/// `NodeChildrenChanged` and `NodeDeleted`. It survives reconnects (the client re-arms
/// it with SetWatches2, and the server fires it at once if the node changed meanwhile).
/// It resolves with `DataWatchRemoved`/`ChildWatchRemoved` when
/// [`Client::remove_watches`](crate::Client::remove_watches) removes it, and fails with
/// [`Error::SessionExpired`](crate::Error::SessionExpired),
/// [`Error::AuthFailed`](crate::Error::AuthFailed) or
/// [`Error::Closed`](crate::Error::Closed) when the session ends first.
///
/// Dropping an unresolved `Watch` removes it from the client.
#[derive(Debug)]
#[must_use = "a watch does nothing unless awaited; dropping it removes it"]
pub struct Watch {
    rx: oneshot::Receiver<Result<WatchedEvent>>,
    unwatch: Unwatch,
    shared: Arc<Shared>,
}

impl Watch {
    pub(crate) fn new(
        id: WatchId,
        tx: mpsc::WeakUnboundedSender<Command>,
        shared: Arc<Shared>,
    ) -> (Watch, Sink) {
        let (sink, rx) = oneshot::channel();
        let watch = Watch {
            rx,
            unwatch: Unwatch {
                id,
                tx,
                armed: true,
            },
            shared,
        };
        (watch, Sink::Once(sink))
    }
}

impl Future for Watch {
    type Output = Result<WatchedEvent>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let result = match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(result)) => result,
            // The session task dropped the watch: it has ended.
            Poll::Ready(Err(_)) => Err(self.shared.gone_error()),
        };
        self.unwatch.disarm();
        Poll::Ready(result)
    }
}

/// A persistent or persistent-recursive watch from [`Client::add_watch`](crate::Client::add_watch):
/// a stream of every event on its path (persistent: `NodeCreated`, `NodeDeleted`,
/// `NodeDataChanged`, `NodeChildrenChanged`) or subtree (recursive: the same for every
/// node below, with the changed node's path, but never `NodeChildrenChanged`).
///
/// Session changes arrive in the same stream as events of type [`EventType::None`]:
/// `Disconnected` when the connection is lost and `SyncConnected` (or
/// `ConnectedReadOnly`) after the reconnect. The server re-arms a persistent watch on
/// reconnect **without** replaying changes made while disconnected, so re-read after
/// a `SyncConnected` event if they matter. A terminal state (`Expired`, `AuthFailed`,
/// `Closed`) is the last item, after which the stream ends; so does a
/// `PersistentWatchRemoved` event from [`Client::remove_watches`](crate::Client::remove_watches).
///
/// Dropping the stream removes the watch.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled; dropping it removes the watch"]
pub struct PersistentWatch {
    rx: mpsc::UnboundedReceiver<WatchedEvent>,
    path: String,
    mode: AddWatchMode,
    _unwatch: Unwatch,
}

impl PersistentWatch {
    pub(crate) fn new(
        id: WatchId,
        path: &str,
        mode: AddWatchMode,
        tx: mpsc::WeakUnboundedSender<Command>,
    ) -> (PersistentWatch, Sink) {
        let (sink, rx) = mpsc::unbounded_channel();
        let watch = PersistentWatch {
            rx,
            path: path.to_owned(),
            mode,
            _unwatch: Unwatch {
                id,
                tx,
                armed: true,
            },
        };
        (watch, Sink::Stream(sink))
    }

    /// The watched path (as passed to `add_watch`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn mode(&self) -> AddWatchMode {
        self.mode
    }
}

impl Stream for PersistentWatch {
    type Item = WatchedEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        self.rx.poll_recv(cx)
    }
}
