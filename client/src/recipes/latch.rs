//! Curator `LeaderLatch`-style leader election.
//!
//! Each participant creates a protected EPHEMERAL_SEQUENTIAL node
//! `<path>/_c_<uuid>-latch-NNNNNNNNNN` whose data is its id. The participant with the
//! lowest sequence leads; every other one watches only the node just before its own
//! (getData watch), so a change wakes one participant, not the whole group (no herd
//! effect). A leader watches its own node, so that its deletion by someone else is
//! noticed; the latch then creates a new node, as Curator's `reset()` does.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::recipes::Lost;
use crate::recipes::protected::{ProtectedNode, create_protected, sorted_nodes};
use crate::recipes::util::{check_dir, child_path, node_name};
use crate::{Acl, Client, Error, Result, SessionState, open_acl_unsafe};

/// The name Curator's LeaderLatch gives its nodes (after the protection prefix).
const LATCH_NAME: &str = "latch-";
/// The wait before looking again after an error other than a connection loss.
const PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// A participant in a Curator `LeaderLatch`-style election: its protected
/// EPHEMERAL_SEQUENTIAL node `<path>/_c_<uuid>-latch-NNNNNNNNNN` holds its id; the
/// lowest sequence leads; every other participant watches only its predecessor.
///
/// ```no_run
/// # async fn demo() -> ferrokeeper_client::Result<()> {
/// use ferrokeeper_client::Client;
/// use ferrokeeper_client::recipes::LeaderLatch;
///
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let latch = LeaderLatch::start(&client, "/service/leader", b"host-1:8080").await?;
/// latch.await_leadership().await?;
/// assert!(latch.is_leader());
/// latch.close().await?;
/// # Ok(())
/// # }
/// ```
///
/// Leadership is suspended (`is_leader() == false`) while the client is disconnected
/// and comes back if the same session reconnects with its node still first. When the
/// session ends (expired, closed) the latch is over: [`LeaderLatch::lost`] says why and
/// [`LeaderLatch::await_leadership`] fails; start a new latch on a new client.
/// Dropping the latch deletes its node (queued, not awaited).
#[derive(Debug)]
pub struct LeaderLatch {
    inner: Arc<LatchState>,
    status: watch::Receiver<Status>,
    stop: CancellationToken,
}

/// Whether a latch leads, and why it stopped if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Status {
    leader: bool,
    lost: Option<Lost>,
}

#[derive(Debug)]
struct LatchState {
    client: Client,
    dir: String,
    id: Bytes,
    acl: Vec<Acl>,
    /// The latch's node now (it changes when the latch has to create a new one).
    node: Mutex<ProtectedNode>,
    status: watch::Sender<Status>,
}

impl LatchState {
    fn node(&self) -> MutexGuard<'_, ProtectedNode> {
        self.node
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_leader(&self, leader: bool) {
        self.status.send_if_modified(|status| {
            let changed = status.lost.is_none() && status.leader != leader;
            if changed {
                status.leader = leader;
            }
            changed
        });
    }

    fn set_lost(&self, lost: Lost) {
        self.status.send_if_modified(|status| {
            if status.lost.is_some() {
                return false;
            }
            *status = Status {
                leader: false,
                lost: Some(lost),
            };
            true
        });
    }
}

/// A participant as [`LeaderLatch::participants`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The participant's node name.
    pub node: String,
    /// The id it started its latch with (its node's data).
    pub id: Bytes,
    pub is_leader: bool,
}

impl LeaderLatch {
    /// Joins the election at `path` (created with its ancestors as container nodes
    /// if missing) with `id` as this participant's node data, and starts following it.
    /// Returns once the node exists; leadership may come at once or later.
    pub async fn start(client: &Client, path: &str, id: &[u8]) -> Result<LeaderLatch> {
        LeaderLatch::start_with_acl(client, path, id, &open_acl_unsafe()).await
    }

    /// As [`LeaderLatch::start`], creating nodes with `acl`.
    pub async fn start_with_acl(
        client: &Client,
        path: &str,
        id: &[u8],
        acl: &[Acl],
    ) -> Result<LeaderLatch> {
        let dir = check_dir(path)?;
        let node = create_protected(client, &dir, LATCH_NAME, id, acl).await?;
        tracing::info!(path = node.path, "latch node created");
        let (status_tx, status) = watch::channel(Status::default());
        let inner = Arc::new(LatchState {
            client: client.clone(),
            dir,
            id: Bytes::copy_from_slice(id),
            acl: acl.to_vec(),
            node: Mutex::new(node),
            status: status_tx,
        });
        let stop = CancellationToken::new();
        tokio::spawn(follow(inner.clone(), stop.clone()));
        Ok(LeaderLatch {
            inner,
            status,
            stop,
        })
    }

    /// Whether this participant leads now.
    pub fn is_leader(&self) -> bool {
        self.status.borrow().leader
    }

    /// Why the latch stopped, if it did (its session ended, or [`LeaderLatch::close`]).
    pub fn lost(&self) -> Option<Lost> {
        self.status.borrow().lost
    }

    /// Resolves when the latch stops (see [`LeaderLatch::lost`]): a leader leads until
    /// then, unless leadership is suspended meanwhile ([`LeaderLatch::is_leader`]).
    pub async fn until_lost(&self) -> Lost {
        let mut status = self.status.clone();
        loop {
            if let Some(lost) = status.borrow_and_update().lost {
                return lost;
            }
            if status.changed().await.is_err() {
                return Lost::Closed;
            }
        }
    }

    /// The latch's node path now.
    pub fn node_path(&self) -> String {
        self.inner.node().path.clone()
    }

    /// Waits until this participant leads. Fails with the session's error
    /// ([`Lost::error`]) once the latch is over.
    pub async fn await_leadership(&self) -> Result<()> {
        let mut status = self.status.clone();
        loop {
            let now = *status.borrow_and_update();
            if let Some(lost) = now.lost {
                return Err(lost.error());
            }
            if now.leader {
                return Ok(());
            }
            if status.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// Whether this participant leads: the current answer, then every change. Ends
    /// (after `false`) when the latch is over.
    pub fn leadership(&self) -> impl Stream<Item = bool> + Send + 'static + use<> {
        futures::stream::unfold(
            (self.status.clone(), None::<bool>, false),
            |(mut rx, last, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    let now = *rx.borrow_and_update();
                    let over = now.lost.is_some();
                    if last != Some(now.leader) || over {
                        if over && last == Some(false) {
                            return None;
                        }
                        return Some((now.leader, (rx, Some(now.leader), over)));
                    }
                    if rx.changed().await.is_err() {
                        return Some((false, (rx, Some(false), true)));
                    }
                }
            },
        )
        .boxed()
    }

    /// Every participant, in election order (the first leads), with its id.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        let client = &self.inner.client;
        let nodes = sorted_nodes(client.get_children(&self.inner.dir).await?, LATCH_NAME);
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            match client.get_data(&child_path(&self.inner.dir, &node)).await {
                Ok((id, _)) => {
                    let is_leader = out.is_empty();
                    out.push(Participant {
                        node,
                        id,
                        is_leader,
                    });
                }
                // Left in the meantime.
                Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// The current leader, if any (the first participant).
    pub async fn leader(&self) -> Result<Option<Participant>> {
        Ok(self.participants().await?.into_iter().next())
    }

    /// Leaves the election: leadership ends first (`is_leader()` is false when the
    /// node is deleted), then the node is deleted.
    pub async fn close(self) -> Result<()> {
        self.stop.cancel();
        self.inner.set_lost(Lost::Cancelled);
        let path = self.inner.node().path.clone();
        match self.inner.client.delete(&path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            // The session is over: its ephemeral node is gone with it.
            Err(Error::SessionExpired | Error::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        if !self.stop.is_cancelled() {
            self.stop.cancel();
            self.inner.set_lost(Lost::Cancelled);
            let path = self.inner.node().path.clone();
            // Queued now; the reply is not awaited.
            drop(self.inner.client.delete(&path, None));
        }
    }
}

/// What the latch waits for next.
enum Next {
    /// Look at the children again.
    Check,
    /// Something failed that is not the connection: look again in a moment.
    Pause,
    /// The session ended.
    Over(Lost),
}

/// The latch's task: decides leadership and watches the predecessor (or its own node).
async fn follow(inner: Arc<LatchState>, stop: CancellationToken) {
    let client = inner.client.clone();
    let mut states = client.state_stream();
    let mut connected = client.state().is_connected();
    loop {
        if stop.is_cancelled() {
            return;
        }
        let next = if connected {
            tokio::select! {
                _ = stop.cancelled() => return,
                next = check(&inner) => next,
                // A state change interrupts a check or a wait.
                state = states.next() => on_state(&inner, state, &mut connected),
            }
        } else {
            tokio::select! {
                _ = stop.cancelled() => return,
                state = states.next() => on_state(&inner, state, &mut connected),
            }
        };
        match next {
            Next::Check => {}
            Next::Pause => {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(PAUSE) => {}
                }
            }
            Next::Over(lost) => {
                tracing::info!(path = inner.node().path, ?lost, "latch over");
                inner.set_lost(lost);
                return;
            }
        }
    }
}

fn on_state(inner: &LatchState, state: Option<SessionState>, connected: &mut bool) -> Next {
    match state {
        Some(state) if state.is_connected() => {
            *connected = true;
            Next::Check
        }
        Some(state) if state.is_terminal() => Next::Over(Lost::from_state(state)),
        Some(_) => {
            // Disconnected: nobody can tell whether the session lives on.
            *connected = false;
            inner.set_leader(false);
            Next::Check
        }
        None => Next::Over(Lost::from_state(inner.client.state())),
    }
}

/// Looks at the participants once, sets leadership, and waits for the watched node to
/// change. Returns when it is time to look again.
async fn check(inner: &LatchState) -> Next {
    let client = &inner.client;
    let children = match client.get_children(&inner.dir).await {
        Ok(children) => children,
        Err(Error::NoNode) => Vec::new(),
        Err(e) => return on_error(e),
    };
    let nodes = sorted_nodes(children, LATCH_NAME);
    let own = inner.node().clone();
    let Some(index) = nodes.iter().position(|n| n.starts_with(&own.tag)) else {
        // Our node is gone while the session lives (deleted by someone): take a new
        // place, as Curator's reset().
        inner.set_leader(false);
        tracing::warn!(path = own.path, "latch node deleted; creating a new one");
        return match create_protected(client, &inner.dir, LATCH_NAME, &inner.id, &inner.acl).await {
            Ok(node) => {
                *inner.node() = node;
                Next::Check
            }
            Err(e) => on_error(e),
        };
    };
    let own_path = child_path(&inner.dir, &nodes[index]);
    if own_path != own.path {
        inner.node().path = own_path.clone();
    }
    let watched = if index == 0 {
        inner.set_leader(true);
        own_path
    } else {
        inner.set_leader(false);
        child_path(&inner.dir, &nodes[index - 1])
    };
    match client.get_data_w(&watched).await {
        Ok((_, _, watch)) => match watch.await {
            Ok(event) => {
                tracing::debug!(path = event.path, kind = ?event.event_type, "latch watch fired");
                Next::Check
            }
            Err(e) => on_error(e),
        },
        // The predecessor left between the listing and the read: look again.
        Err(Error::NoNode) => {
            tracing::debug!(path = node_name(&watched), "predecessor already gone");
            Next::Check
        }
        Err(e) => on_error(e),
    }
}

fn on_error(e: Error) -> Next {
    match e {
        Error::SessionExpired => Next::Over(Lost::SessionExpired),
        Error::Closed | Error::AuthFailed => Next::Over(Lost::Closed),
        // The state stream reports the disconnection and the reconnect; a request
        // made meanwhile waits for the reconnect.
        Error::ConnectionLoss => Next::Check,
        e => {
            tracing::warn!(error = %e, "latch check failed; trying again in {PAUSE:?}");
            Next::Pause
        }
    }
}
