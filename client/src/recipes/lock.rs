//! A distributed mutex (Curator's `InterProcessMutex`, kazoo's `Lock`).
//!
//! A contender creates a protected EPHEMERAL_SEQUENTIAL node
//! `<path>/_c_<uuid>-lock-NNNNNNNNNN`; it holds the lock when its node has the lowest
//! sequence. Until then it watches only the node just before its own (no herd effect),
//! and looks again when that node goes.

use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::recipes::Lost;
use crate::recipes::protected::{create_protected, sorted_nodes};
use crate::recipes::util::{check_dir, child_path, until_lost, wait_connected};
use crate::{Acl, Client, Error, EventType, Result, SessionState, open_acl_unsafe};

/// The name Curator's InterProcessMutex gives its nodes (after the protection prefix).
const LOCK_NAME: &str = "lock-";

/// A distributed lock at one path: each contender's protected EPHEMERAL_SEQUENTIAL
/// node `<path>/_c_<uuid>-lock-NNNNNNNNNN` queues it, the first holds the lock, the
/// others watch only their predecessor. Not re-entrant: a
/// second [`Lock::lock`] from the same process waits for the first guard like any
/// other contender.
///
/// ```no_run
/// # async fn demo() -> ferrokeeper_client::Result<()> {
/// use std::time::Duration;
/// use ferrokeeper_client::Client;
/// use ferrokeeper_client::recipes::Lock;
///
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let lock = Lock::new(&client, "/app/locks/config")?;
/// let guard = lock.lock().await?;
/// // ... the critical section; `guard.until_lost()` resolves if the lock is lost ...
/// guard.unlock().await?;
///
/// if let Some(guard) = lock.try_lock(Duration::from_secs(1)).await? {
///     drop(guard); // released (the delete is queued)
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Lock {
    client: Client,
    dir: String,
    acl: Vec<Acl>,
}

impl Lock {
    /// A lock whose nodes live under `path` (created, with its ancestors, as
    /// container nodes when first needed).
    pub fn new(client: &Client, path: &str) -> Result<Lock> {
        Lock::with_acl(client, path, &open_acl_unsafe())
    }

    /// As [`Lock::new`], creating nodes with `acl`.
    pub fn with_acl(client: &Client, path: &str, acl: &[Acl]) -> Result<Lock> {
        Ok(Lock {
            client: client.clone(),
            dir: check_dir(path)?,
            acl: acl.to_vec(),
        })
    }

    /// Waits until the lock is held. Fails if the session ends meanwhile (its error),
    /// or with [`Error::NoNode`] if the waiting node is deleted by someone else.
    pub async fn lock(&self) -> Result<LockGuard> {
        match self.acquire(None).await? {
            Some(guard) => Ok(guard),
            None => Err(Error::OperationTimeout),
        }
    }

    /// As [`Lock::lock`], giving up after `timeout` (`Ok(None)`; the waiting node is
    /// deleted).
    pub async fn try_lock(&self, timeout: Duration) -> Result<Option<LockGuard>> {
        self.acquire(Some(Instant::now() + timeout)).await
    }

    /// The nodes waiting for or holding the lock, in order (the first holds it).
    pub async fn contenders(&self) -> Result<Vec<String>> {
        match self.client.get_children(&self.dir).await {
            Ok(children) => Ok(sorted_nodes(children, LOCK_NAME)),
            Err(Error::NoNode) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    async fn acquire(&self, deadline: Option<Instant>) -> Result<Option<LockGuard>> {
        // Not bounded by the deadline: a create given up while in flight could still
        // happen and leave a node queued for the lock. It waits at most the client's
        // connection timeout for a connection.
        let node = create_protected(&self.client, &self.dir, LOCK_NAME, b"", &self.acl).await?;
        // From here on, leaving without a guard deletes the node.
        let mut abandon = Abandon {
            client: self.client.clone(),
            path: Some(node.path.clone()),
        };
        let result = self.wait_first(&node.tag, deadline).await;
        match result {
            Ok(true) => {
                let path = abandon.path.take().unwrap_or_default();
                Ok(Some(LockGuard::new(self.client.clone(), path)))
            }
            Ok(false) => {
                abandon.now().await;
                Ok(None)
            }
            Err(e) => {
                abandon.now().await;
                Err(e)
            }
        }
    }

    /// Waits until the node tagged `tag` is the first; false at the deadline.
    async fn wait_first(&self, tag: &str, deadline: Option<Instant>) -> Result<bool> {
        let client = &self.client;
        loop {
            let children = match until(deadline, client.get_children(&self.dir)).await {
                None => return Ok(false),
                Some(Ok(children)) => children,
                Some(Err(Error::ConnectionLoss)) => {
                    match until(deadline, wait_connected(client)).await {
                        None => return Ok(false),
                        Some(connected) => connected?,
                    }
                    continue;
                }
                Some(Err(e)) => return Err(e),
            };
            let nodes = sorted_nodes(children, LOCK_NAME);
            let Some(index) = nodes.iter().position(|n| n.starts_with(tag)) else {
                // Deleted by someone else (or the session is gone).
                return Err(match client.state() {
                    state if state.is_terminal() => state.error(),
                    _ => Error::NoNode,
                });
            };
            if index == 0 {
                return Ok(true);
            }
            let predecessor = child_path(&self.dir, &nodes[index - 1]);
            match until(deadline, client.exists_w(&predecessor)).await {
                None => return Ok(false),
                Some(Ok((Some(_), watch))) => match until(deadline, watch).await {
                    None => return Ok(false),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                },
                // Gone already: look again.
                Some(Ok((None, _))) => {}
                Some(Err(Error::ConnectionLoss)) => {}
                Some(Err(e)) => return Err(e),
            }
        }
    }
}

/// Runs `fut` until `deadline` (`None`: no deadline); `None` when the deadline passed.
async fn until<T>(deadline: Option<Instant>, fut: impl Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, fut).await.ok(),
        None => Some(fut.await),
    }
}

/// Deletes a waiting node when acquiring ends without a guard (error, timeout, or the
/// acquiring future dropped).
struct Abandon {
    client: Client,
    path: Option<String>,
}

impl Abandon {
    /// Deletes the node and waits for the reply (a connection loss or an ended session
    /// leaves it to the session's end).
    async fn now(&mut self) {
        if let Some(path) = self.path.take() {
            match self.client.delete(&path, None).await {
                Ok(()) | Err(Error::NoNode) => {}
                Err(e) => {
                    tracing::debug!(path, error = %e, "could not delete an abandoned lock node")
                }
            }
        }
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            // Queued now; the reply is not awaited.
            drop(self.client.delete(&path, None));
        }
    }
}

/// A held lock. [`LockGuard::unlock`] (or dropping the guard, which queues the delete)
/// releases it. A background watch reports a lost lock: [`LockGuard::lost`].
#[derive(Debug)]
#[must_use = "dropping the guard releases the lock"]
pub struct LockGuard {
    client: Client,
    path: String,
    lost: watch::Receiver<Option<Lost>>,
    monitor: CancellationToken,
    released: bool,
}

impl LockGuard {
    fn new(client: Client, path: String) -> LockGuard {
        let (tx, rx) = watch::channel(None);
        let monitor = CancellationToken::new();
        tokio::spawn(watch_node(
            client.clone(),
            path.clone(),
            tx,
            monitor.clone(),
        ));
        LockGuard {
            client,
            path,
            lost: rx,
            monitor,
            released: false,
        }
    }

    /// The lock node's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Why the lock was lost, if it was: its node was deleted by someone else, the
    /// session expired or was closed, or the session has been disconnected for the
    /// whole session timeout ([`Lost::SessionTimedOut`]: by then the server has
    /// expired it). Stop relying on the lock as soon as this is `Some`.
    pub fn lost(&self) -> Option<Lost> {
        *self.lost.borrow()
    }

    /// Resolves when the lock is lost (see [`LockGuard::lost`]).
    pub async fn until_lost(&self) -> Lost {
        until_lost(self.lost.clone()).await
    }

    /// A lock-checked multi: it starts with a `check` of this lock's node, so it
    /// commits only while the lock is held. If the lock was lost (its node deleted, the
    /// session expired) the whole multi fails at op 0 (`NoNode`, or the session's
    /// error) and nothing is written — unlike a write made after checking
    /// [`LockGuard::lost`], which a loss can overtake. Add the ops, then `commit`;
    /// the results start with the check's.
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// use ferrokeeper_client::recipes::Lock;
    /// let guard = Lock::new(&client, "/locks/config")?.lock().await?;
    /// let mut writes = guard.checked_multi();
    /// writes.set_data("/config", b"new", None);
    /// writes.commit().await.map_err(ferrokeeper_client::Error::from)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn checked_multi(&self) -> crate::MultiWriter {
        let mut multi = self.client.multi();
        multi.check(&self.path, -1);
        multi
    }

    /// Releases the lock: deletes its node. Succeeds also when the lock was already
    /// lost (there is nothing left to release).
    pub async fn unlock(mut self) -> Result<()> {
        self.released = true;
        self.monitor.cancel();
        match self.client.delete(&self.path, None).await {
            Ok(()) | Err(Error::NoNode | Error::SessionExpired | Error::Closed) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.monitor.cancel();
        if !self.released {
            // Queued now; the reply is not awaited.
            drop(self.client.delete(&self.path, None));
        }
    }
}

/// Watches a held lock's node and session; reports the first loss.
async fn watch_node(
    client: Client,
    path: String,
    lost: watch::Sender<Option<Lost>>,
    stop: CancellationToken,
) {
    let mut states = client.state_stream();
    let mut deadline: Option<Instant> = None;
    let mut connected = true;
    let why = loop {
        let now = Instant::now();
        let node = async {
            if !connected {
                return std::future::pending().await;
            }
            match client.exists_w(&path).await {
                Ok((None, _)) => Some(Lost::NodeDeleted),
                Ok((Some(_), watch)) => match watch.await {
                    Ok(event) if event.event_type == EventType::NodeDeleted => {
                        Some(Lost::NodeDeleted)
                    }
                    Ok(_) => None,
                    Err(Error::SessionExpired) => Some(Lost::SessionExpired),
                    Err(_) => None,
                },
                Err(Error::SessionExpired) => Some(Lost::SessionExpired),
                Err(Error::Closed | Error::AuthFailed) => Some(Lost::Closed),
                // Connection loss: the state stream tells.
                Err(_) => {
                    std::future::pending::<()>().await;
                    None
                }
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            found = node => if let Some(why) = found { break why },
            state = states.next() => match state {
                Some(state) if state.is_connected() => {
                    connected = true;
                    deadline = None;
                }
                Some(SessionState::Disconnected) => {
                    if connected {
                        deadline = Some(Instant::now() + client.session_timeout());
                    }
                    connected = false;
                }
                Some(state) if state.is_terminal() => break Lost::from_state(state),
                Some(_) => {}
                None => break Lost::from_state(client.state()),
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                break Lost::SessionTimedOut;
            }
        }
    };
    tracing::warn!(path, ?why, "lock lost");
    lost.send_replace(Some(why));
}
