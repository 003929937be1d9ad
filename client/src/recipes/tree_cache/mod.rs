//! A cache of a whole subtree (Curator's `CuratorCache`), kept current by one
//! persistent recursive watch.
//!
//! How it stays consistent with the server:
//!
//! - The watch is armed before the subtree is read, so every change after the load is
//!   reported; the load itself reads data and Stat of every node.
//! - Each watch event (the server sends them in zxid order) queues a getData of its
//!   node; the answers are applied in the order queued, which is the order the server
//!   answered, so the view only moves forward. A read never replaces a node held with
//!   an older incarnation (`czxid`) or an older version (`mzxid`). When an event
//!   carries its zxid (ZooKeeper 3.9, ferrokeeper), a change the view already holds is
//!   not read again, and a delete older than the node held is ignored; ZooKeeper 3.8
//!   sends none, and every event is then read.
//! - After every reconnect the client re-arms the watch (SetWatches2), but the server
//!   does not replay what changed meanwhile, so the cache reads the whole subtree again
//!   and reports the differences. A failed read (connection loss, timeout) does the
//!   same.

mod follow;
mod view;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::recipes::Lost;
use crate::recipes::util::check_dir;
use crate::{Client, Error, Result};

use view::View;
pub use view::{CachedNode, TreeCacheEvent};

/// A local copy of the subtree under a root (the root included), kept current with a
/// persistent recursive watch, as Curator's `CuratorCache`: an initial load, then
/// every creation, data change and deletion, in zxid order, as [`TreeCacheEvent`]s and
/// in the view ([`TreeCache::get`], [`TreeCache::children`], [`TreeCache::snapshot`]).
///
/// ```no_run
/// # async fn demo() -> ferrokeeper_client::Result<()> {
/// use futures::StreamExt;
/// use ferrokeeper_client::Client;
/// use ferrokeeper_client::recipes::{TreeCache, TreeCacheEvent};
///
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let (cache, mut events) = TreeCache::start(&client, "/app/config")?;
/// cache.initialized().await?;
/// if let Some(node) = cache.get("/app/config/db") {
///     println!("db = {:?} (version {})", node.data, node.stat.version);
/// }
/// while let Some(event) = events.next().await {
///     match event {
///         TreeCacheEvent::Updated { path, node, .. } => println!("{path} is now {:?}", node.data),
///         other => println!("{other:?}"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
///
/// **Memory.** The cache holds every node of the subtree, data included, and a reload
/// after each reconnect reads it all again: it is for subtrees that fit comfortably in
/// memory (configuration, service registries), not for a tree of millions of nodes.
/// The event stream is unbounded: consume it, or drop it if only the view matters.
///
/// **While disconnected** the view stays as it was when the connection was lost (the
/// session may still live; nothing is reported). After the reconnect the subtree is
/// read again and the differences are reported as events.
///
/// **Expiry.** A cache is bound to its client's session, as [`LeaderLatch`] and
/// [`Lock`] are: when the session ends (expired, closed, authentication refused), the
/// stream's last event is [`TreeCacheEvent::Lost`], [`TreeCache::lost`] says why and the
/// view stays as last known. Start a new cache on a new client to follow the subtree
/// again.
///
/// Nodes this session may not read (NoAuth) are left out of the view (and logged).
/// The Stat's child fields are not kept current; see [`CachedNode::stat`].
///
/// Dropping the cache (or [`TreeCache::close`]) stops it and removes its watch; the
/// event stream then ends. Until then the cache holds a clone of its client, which
/// keeps the session open.
///
/// [`LeaderLatch`]: crate::recipes::LeaderLatch
/// [`Lock`]: crate::recipes::Lock
#[derive(Debug)]
pub struct TreeCache {
    inner: Arc<CacheState>,
    status: watch::Receiver<Status>,
    stop: CancellationToken,
}

/// The stream of a [`TreeCache`]'s events: [`TreeCacheEvent::Created`] for every node
/// of the initial load, [`TreeCacheEvent::Initialized`], then every change in the order
/// applied. Ends after [`TreeCacheEvent::Lost`], or when the cache is dropped.
#[derive(Debug)]
#[must_use = "streams do nothing unless polled"]
pub struct TreeCacheEvents {
    rx: mpsc::UnboundedReceiver<TreeCacheEvent>,
}

impl Stream for TreeCacheEvents {
    type Item = TreeCacheEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TreeCacheEvent>> {
        self.rx.poll_recv(cx)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Status {
    initialized: bool,
    lost: Option<Lost>,
}

#[derive(Debug)]
struct CacheState {
    root: String,
    /// The view and the event sender under one lock, so that events are sent in the
    /// order the view changed.
    state: Mutex<State>,
    status: watch::Sender<Status>,
}

#[derive(Debug)]
struct State {
    view: View,
    events: mpsc::UnboundedSender<TreeCacheEvent>,
}

impl CacheState {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn view(&self) -> ViewGuard<'_> {
        ViewGuard(self.lock())
    }

    /// Changes the view with `change` and sends the events it reports.
    fn apply(&self, change: impl FnOnce(&mut View, &mut Vec<TreeCacheEvent>)) {
        let mut state = self.lock();
        let mut out = Vec::new();
        change(&mut state.view, &mut out);
        for event in out {
            // Nobody listening is fine: the view is what matters then.
            let _ = state.events.send(event);
        }
    }

    fn mark_initialized(&self) {
        let state = self.lock();
        self.status.send_if_modified(|status| {
            let first = !status.initialized;
            if first {
                status.initialized = true;
                let _ = state.events.send(TreeCacheEvent::Initialized);
            }
            first
        });
    }

    fn end(&self, lost: Lost) {
        let mut state = self.lock();
        // The status first, so that a reader of the last event finds it set.
        self.status.send_if_modified(|status| {
            let first = status.lost.is_none();
            if first {
                status.lost = Some(lost);
            }
            first
        });
        let _ = state.events.send(TreeCacheEvent::Lost(lost));
        // Ends the stream.
        let (closed, _) = mpsc::unbounded_channel();
        state.events = closed;
    }
}

/// The view, borrowed under the cache's lock.
struct ViewGuard<'a>(MutexGuard<'a, State>);

impl std::ops::Deref for ViewGuard<'_> {
    type Target = View;

    fn deref(&self) -> &View {
        &self.0.view
    }
}

impl TreeCache {
    /// Starts caching the subtree under `path` (which need not exist yet: it is
    /// cached once created) and returns the cache and its event stream. The load runs
    /// in the background: [`TreeCache::initialized`] waits for it. Fails with
    /// [`Error::BadArguments`] for a malformed path. Needs a tokio runtime.
    pub fn start(client: &Client, path: &str) -> Result<(TreeCache, TreeCacheEvents)> {
        let root = check_dir(path)?;
        let (events, rx) = mpsc::unbounded_channel();
        let (status_tx, status) = watch::channel(Status::default());
        let inner = Arc::new(CacheState {
            state: Mutex::new(State {
                view: View::new(&root),
                events,
            }),
            root,
            status: status_tx,
        });
        let stop = CancellationToken::new();
        tokio::spawn(follow::run(inner.clone(), client.clone(), stop.clone()));
        let cache = TreeCache {
            inner,
            status,
            stop,
        };
        Ok((cache, TreeCacheEvents { rx }))
    }

    /// The cached subtree's root.
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    /// The node at `path` as the cache holds it, if it does.
    pub fn get(&self, path: &str) -> Option<CachedNode> {
        self.inner.view().get(path).cloned()
    }

    /// The names of `path`'s children in the cache, sorted (empty if it holds none).
    pub fn children(&self, path: &str) -> Vec<String> {
        self.inner.view().children(path)
    }

    /// Every node the cache holds, by path.
    pub fn snapshot(&self) -> BTreeMap<String, CachedNode> {
        self.inner.view().nodes().clone()
    }

    /// How many nodes the cache holds.
    pub fn len(&self) -> usize {
        self.inner.view().nodes().len()
    }

    /// True when the cache holds no node (the root does not exist, or the load has
    /// not finished).
    pub fn is_empty(&self) -> bool {
        self.inner.view().nodes().is_empty()
    }

    /// Whether the initial load has completed.
    pub fn is_initialized(&self) -> bool {
        self.status.borrow().initialized
    }

    /// Why the cache stopped following the subtree, if it did.
    pub fn lost(&self) -> Option<Lost> {
        self.status.borrow().lost
    }

    /// Waits until the initial load has completed. Fails with the session's error
    /// ([`Lost::error`]) if the cache stopped first.
    pub async fn initialized(&self) -> Result<()> {
        let mut status = self.status.clone();
        loop {
            let now = *status.borrow_and_update();
            if now.initialized {
                return Ok(());
            }
            if let Some(lost) = now.lost {
                return Err(lost.error());
            }
            if status.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// Stops the cache and removes its watch (as dropping it does).
    pub fn close(self) {}
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        // The task drops its watch stream, which removes the watch on the server.
        self.stop.cancel();
    }
}
