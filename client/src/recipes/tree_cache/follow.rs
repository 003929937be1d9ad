//! The task that follows the subtree: arms the persistent recursive watch, loads the
//! subtree, turns every watch event into a read (applied in the order queued), and
//! reloads the whole subtree after every reconnect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio_util::sync::CancellationToken;

use super::CacheState;
use super::view::CachedNode;
use crate::recipes::Lost;
use crate::recipes::util::{child_path, wait_connected};
use crate::{AddWatchMode, Client, Error, EventType, KeeperState, WatchedEvent};

/// The wait before trying again after an error other than a connection loss.
const PAUSE: Duration = Duration::from_secs(1);
/// Reads of watch events in flight at most: beyond it the task stops taking events
/// (they wait in the watch's queue) until earlier reads are answered.
const MAX_IN_FLIGHT: usize = 1024;
/// Nodes whose reads a reload queues at once.
const BATCH: usize = 256;

/// What the read of one watch event found, applied in the order the reads were queued.
enum Step {
    Found(String, CachedNode),
    /// Gone: a read answered NoNode (`None`), or a delete event carried its zxid.
    Missing(String, Option<i64>),
    /// Nothing to apply (a change already held, a delete older than the node held, a
    /// node this session may not read).
    Nothing,
    /// The read failed: the view may have missed a change until it reloads.
    Failed(Error),
}

/// Follows the subtree until the session ends (the loss) or `stop` (`None`).
pub(super) async fn run(inner: Arc<CacheState>, client: Client, stop: CancellationToken) {
    let lost = tokio::select! {
        _ = stop.cancelled() => None,
        lost = follow(&inner, &client) => Some(lost),
    };
    if let Some(lost) = lost {
        tracing::info!(root = inner.root, ?lost, "tree cache stopped");
        inner.end(lost);
    }
}

async fn follow(inner: &CacheState, client: &Client) -> Lost {
    loop {
        match follow_watch(inner, client).await {
            Ok(()) => tracing::warn!(root = inner.root, "tree cache watch removed; re-arming"),
            Err(lost) => return lost,
        }
    }
}

/// Arms the watch and follows it; `Ok` when the watch was removed (by
/// [`Client::remove_watches`] on the root), to arm it again.
async fn follow_watch(inner: &CacheState, client: &Client) -> Result<(), Lost> {
    let root = inner.root.as_str();
    // The watch goes first: every change after it is reported, so a load that starts
    // after it misses nothing.
    let mut watch = loop {
        match client
            .add_watch(root, AddWatchMode::PersistentRecursive)
            .await
        {
            Ok(watch) => break watch,
            Err(e) => {
                if let Some(lost) = fatal(client, &e) {
                    return Err(lost);
                }
                tracing::debug!(root, error = %e, "cannot arm the tree cache's watch yet");
                wait_connected(client)
                    .await
                    .map_err(|e| lost_by(client, &e))?;
                if e != Error::ConnectionLoss {
                    tokio::time::sleep(PAUSE).await;
                }
            }
        }
    };
    let mut pending: FuturesOrdered<BoxFuture<'static, Step>> = FuturesOrdered::new();
    let mut need_load = true;
    loop {
        if need_load && client.state().is_connected() {
            // Reads queued before the load are older than it: apply them first.
            while let Some(step) = pending.next().await {
                apply(inner, client, step)?;
            }
            match load(client, root).await {
                Ok(walked) => {
                    need_load = false;
                    inner.apply(|view, out| view.resync(walked, out));
                    inner.mark_initialized();
                }
                Err(e) => {
                    if let Some(lost) = fatal(client, &e) {
                        return Err(lost);
                    }
                    tracing::debug!(root, error = %e, "tree cache load failed; retrying");
                    if e != Error::ConnectionLoss {
                        tokio::time::sleep(PAUSE).await;
                    }
                    // Loads again when connected (now, or at the next SyncConnected).
                    continue;
                }
            }
        }
        tokio::select! {
            event = watch.next(), if pending.len() < MAX_IN_FLIGHT => {
                let Some(event) = event else {
                    return Err(Lost::from_state(client.state()));
                };
                if event.is_session_event() {
                    match event.keeper_state {
                        // Re-armed by the client (SetWatches2), but what changed while
                        // disconnected is not replayed: load the subtree again.
                        KeeperState::SyncConnected | KeeperState::ConnectedReadOnly => {
                            need_load = true;
                        }
                        KeeperState::Disconnected => {}
                        _ => return Err(Lost::from_state(client.state())),
                    }
                    continue;
                }
                if event.event_type == EventType::PersistentWatchRemoved {
                    return Ok(());
                }
                pending.push_back(read_for(inner, client, event));
            }
            Some(step) = pending.next(), if !pending.is_empty() => {
                if apply(inner, client, step)? {
                    need_load = true;
                }
            }
        }
    }
}

/// The read (or the decision without one) for a watch event.
fn read_for(inner: &CacheState, client: &Client, event: WatchedEvent) -> BoxFuture<'static, Step> {
    let path = event.path;
    // The event's zxid (ZooKeeper 3.9, ferrokeeper) spares reads the view makes
    // needless; without it (3.8, changes replayed after a reconnect) every event is
    // read. Deciding now is safe: the view only moves forward until the step applies.
    let known = match (event.event_type, event.zxid) {
        (EventType::NodeCreated | EventType::NodeDataChanged, Some(zxid)) => inner
            .view()
            .has_change(&path, zxid)
            .then_some(Step::Nothing),
        (EventType::NodeDeleted, Some(zxid)) => Some(if inner.view().created_after(&path, zxid) {
            Step::Nothing
        } else {
            Step::Missing(path.clone(), Some(zxid))
        }),
        (EventType::NodeCreated | EventType::NodeDataChanged | EventType::NodeDeleted, None) => {
            None
        }
        // Nothing else concerns the view (a recursive watch sends no child events).
        _ => Some(Step::Nothing),
    };
    if let Some(step) = known {
        return Box::pin(std::future::ready(step));
    }
    // Queued now, so its answer follows every earlier read's.
    let read = client.get_data(&path);
    Box::pin(async move {
        match read.await {
            Ok((data, stat)) => Step::Found(path, CachedNode { data, stat }),
            Err(Error::NoNode) => Step::Missing(path, None),
            Err(Error::NoAuth) => {
                tracing::warn!(path, "tree cache may not read this node; left out");
                Step::Nothing
            }
            Err(e) => Step::Failed(e),
        }
    })
}

/// Applies one step; `Ok(true)` when the view may have missed a change and must be
/// loaded again.
fn apply(inner: &CacheState, client: &Client, step: Step) -> Result<bool, Lost> {
    match step {
        Step::Found(path, node) => inner.apply(|view, out| view.found(&path, node, out)),
        Step::Missing(path, before) => inner.apply(|view, out| view.missing(&path, before, out)),
        Step::Nothing => {}
        Step::Failed(e) => {
            if let Some(lost) = fatal(client, &e) {
                return Err(lost);
            }
            tracing::debug!(root = inner.root, error = %e, "tree cache read failed; reloading");
            return Ok(true);
        }
    }
    Ok(false)
}

/// Reads the whole subtree: data and Stat of every node, level by level, each level's
/// reads queued together (in batches) so they share round trips.
async fn load(client: &Client, root: &str) -> crate::Result<BTreeMap<String, CachedNode>> {
    let mut walked = BTreeMap::new();
    let mut level = vec![root.to_owned()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for batch in level.chunks(BATCH) {
            let reads: Vec<_> = batch
                .iter()
                .map(|path| (path, client.get_data(path), client.get_children(path)))
                .collect();
            for (path, data, children) in reads {
                match data.await {
                    Ok((data, stat)) => {
                        walked.insert(path.clone(), CachedNode { data, stat });
                    }
                    // Deleted since its parent was listed: nothing below it either.
                    Err(Error::NoNode) => continue,
                    Err(Error::NoAuth) => {
                        tracing::warn!(path, "tree cache may not read this node; left out");
                    }
                    Err(e) => return Err(e),
                }
                match children.await {
                    Ok(names) => next.extend(names.iter().map(|name| child_path(path, name))),
                    Err(Error::NoNode | Error::NoAuth) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        level = next;
    }
    Ok(walked)
}

/// The loss an error means, if it means the session is over.
fn fatal(client: &Client, error: &Error) -> Option<Lost> {
    match error {
        Error::SessionExpired => Some(Lost::SessionExpired),
        Error::Closed | Error::AuthFailed => Some(Lost::Closed),
        _ => {
            let state = client.state();
            state.is_terminal().then(|| Lost::from_state(state))
        }
    }
}

fn lost_by(client: &Client, error: &Error) -> Lost {
    fatal(client, error).unwrap_or(Lost::Closed)
}
