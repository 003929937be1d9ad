//! The session task's record of every local watch, keyed by server path: which
//! notifications fire which handles, and what to re-register after a reconnect.
//!
//! A watch is *pending* from the moment its request is queued until the reply says the
//! server armed it; only armed watches fire or go into SetWatches2, as in ZooKeeper's
//! Java client (a notification that arrives before the reply belongs to an older
//! registration). Pending ones still count as interest when deciding whether a dropped
//! handle was the last one on a path.

use std::collections::{BTreeSet, HashMap};

use ferrokeeper_protocol::{EventType, KeeperState, WatcherType};

use crate::chroot::Chroot;
use crate::session_state::SessionState;
use crate::watch::{Sink, WatchId, WatchedEvent};

/// The watch lists ZooKeeper keeps per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// getData, or exists on a node that exists.
    Data,
    /// exists on a missing node.
    Exist,
    Child,
    Persistent,
    PersistentRecursive,
}

impl Kind {
    fn removed_by(self, watcher_type: WatcherType) -> bool {
        match watcher_type {
            WatcherType::Data => matches!(self, Kind::Data | Kind::Exist),
            WatcherType::Children => self == Kind::Child,
            WatcherType::Any => true,
        }
    }

    fn is_one_shot(self) -> bool {
        matches!(self, Kind::Data | Kind::Exist | Kind::Child)
    }
}

/// A watch to register with a request: where it fires and how paths are shown.
#[derive(Debug)]
pub(crate) struct Arming {
    pub(crate) id: WatchId,
    pub(crate) server_path: String,
    /// For an exists watch this is `Exist`; the reply decides between Data and Exist.
    pub(crate) kind: Kind,
    pub(crate) sink: Sink,
    pub(crate) chroot: Chroot,
}

#[derive(Debug)]
struct Entry {
    id: WatchId,
    kind: Kind,
    armed: bool,
    sink: Sink,
    chroot: Chroot,
}

impl Entry {
    fn event(&self, event_type: EventType, state: KeeperState, server_path: &str) -> WatchedEvent {
        self.event_at(event_type, state, server_path, None)
    }

    fn event_at(
        &self,
        event_type: EventType,
        state: KeeperState,
        server_path: &str,
        zxid: Option<i64>,
    ) -> WatchedEvent {
        WatchedEvent {
            event_type,
            keeper_state: state,
            path: self.chroot.client_path_lossy(server_path),
            zxid,
        }
    }

    /// Delivers `event`; a one-shot sink is used up by it.
    fn deliver(self, event: WatchedEvent) {
        match self.sink {
            Sink::Once(tx) => {
                let _ = tx.send(Ok(event));
            }
            Sink::Stream(tx) => {
                let _ = tx.send(event);
            }
        }
    }

    fn deliver_to_stream(&self, event: WatchedEvent) {
        if let Sink::Stream(tx) = &self.sink {
            let _ = tx.send(event);
        }
    }
}

/// Server paths of the armed watches, per list, sorted (SetWatches2's fields).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct WatchLists {
    pub(crate) data: Vec<String>,
    pub(crate) exist: Vec<String>,
    pub(crate) child: Vec<String>,
    pub(crate) persistent: Vec<String>,
    pub(crate) persistent_recursive: Vec<String>,
}

impl WatchLists {
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    paths: HashMap<String, Vec<Entry>>,
    ids: HashMap<WatchId, String>,
}

impl Registry {
    /// Records a watch whose request is queued (pending until [`Registry::arm`]).
    pub(crate) fn insert(&mut self, arming: Arming) {
        self.ids.insert(arming.id, arming.server_path.clone());
        self.paths
            .entry(arming.server_path)
            .or_default()
            .push(Entry {
                id: arming.id,
                kind: arming.kind,
                armed: false,
                sink: arming.sink,
                chroot: arming.chroot,
            });
    }

    fn entry_mut(&mut self, id: WatchId) -> Option<&mut Entry> {
        let path = self.ids.get(&id)?;
        self.paths.get_mut(path)?.iter_mut().find(|e| e.id == id)
    }

    /// The server armed the watch (as `kind`, which for exists depends on the reply).
    /// A watch whose handle was dropped meanwhile is no longer here: nothing to do.
    pub(crate) fn arm(&mut self, id: WatchId, kind: Kind) {
        if let Some(entry) = self.entry_mut(id) {
            entry.kind = kind;
            entry.armed = true;
        }
    }

    fn take(&mut self, id: WatchId) -> Option<(String, Entry, bool)> {
        let path = self.ids.remove(&id)?;
        let entries = self.paths.get_mut(&path)?;
        let at = entries.iter().position(|e| e.id == id)?;
        let entry = entries.remove(at);
        let now_empty = entries.is_empty();
        if now_empty {
            self.paths.remove(&path);
        }
        Some((path, entry, now_empty))
    }

    /// The request that would have armed the watch failed: forget it (its handle is
    /// dropped by the caller, or resolves with the session's error).
    pub(crate) fn discard(&mut self, id: WatchId) {
        self.take(id);
    }

    /// The handle was dropped. Returns the server path when nothing else watches it
    /// any more, so the server's watches there can go too.
    pub(crate) fn unwatch(&mut self, id: WatchId) -> Option<String> {
        let (path, _entry, now_empty) = self.take(id)?;
        now_empty.then_some(path)
    }

    /// Routes one server notification, as ZooKeeper's `ZKWatchManager.materialize`:
    /// one-shot watches of the matching lists fire and go, persistent watches on the
    /// path and (except for NodeChildrenChanged) recursive watches on it or any
    /// ancestor stay.
    #[cfg(test)]
    pub(crate) fn dispatch(&mut self, event_type: EventType, state: KeeperState, path: &str) {
        self.dispatch_at(event_type, state, path, None)
    }

    /// Delivers a server notification to the watches it fires; `zxid` is the change's,
    /// when the server sent one.
    pub(crate) fn dispatch_at(
        &mut self,
        event_type: EventType,
        state: KeeperState,
        path: &str,
        zxid: Option<i64>,
    ) {
        let fires: fn(Kind) -> bool = match event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                |k| matches!(k, Kind::Data | Kind::Exist | Kind::Persistent)
            }
            EventType::NodeDeleted => {
                |k| matches!(k, Kind::Data | Kind::Exist | Kind::Child | Kind::Persistent)
            }
            EventType::NodeChildrenChanged => |k| matches!(k, Kind::Child | Kind::Persistent),
            other => {
                tracing::warn!(event_type = ?other, path, "ignoring notification of an unexpected type");
                return;
            }
        };
        let mut delivered = 0usize;
        if let Some(entries) = self.paths.get_mut(path) {
            let mut kept = Vec::with_capacity(entries.len());
            for entry in entries.drain(..) {
                if !entry.armed || !fires(entry.kind) {
                    kept.push(entry);
                } else if entry.kind.is_one_shot() {
                    self.ids.remove(&entry.id);
                    let event = entry.event_at(event_type, state, path, zxid);
                    entry.deliver(event);
                    delivered += 1;
                } else {
                    entry.deliver_to_stream(entry.event_at(event_type, state, path, zxid));
                    delivered += 1;
                    kept.push(entry);
                }
            }
            if kept.is_empty() {
                self.paths.remove(path);
            } else {
                *entries = kept;
            }
        }
        if event_type != EventType::NodeChildrenChanged {
            for ancestor in self_and_ancestors(path) {
                let Some(entries) = self.paths.get(ancestor) else {
                    continue;
                };
                for entry in entries {
                    if entry.armed && entry.kind == Kind::PersistentRecursive {
                        entry.deliver_to_stream(entry.event_at(event_type, state, path, zxid));
                        delivered += 1;
                    }
                }
            }
        }
        if delivered == 0 {
            // Normal after a handle was dropped (the server's watch may outlive it).
            tracing::debug!(?event_type, path, "notification for no local watch");
        }
    }

    /// Whether the one-shot watch `id` (of `kind`) will be fired by an armed persistent
    /// watch on the same path anyway: a persistent watch sees every event a one-shot
    /// one would, a recursive one every event but NodeChildrenChanged. Its request can
    /// then leave the server alone (watch=false): ZooKeeper 3.8 keeps one watch mode per
    /// path and connection (ZOOKEEPER-4466), so arming the one-shot watch there would
    /// turn the persistent watch into a one-shot one.
    pub(crate) fn covered_by_persistent(&self, id: WatchId, kind: Kind) -> bool {
        let Some(entries) = self.ids.get(&id).and_then(|path| self.paths.get(path)) else {
            return false;
        };
        entries.iter().any(|e| {
            e.armed
                && match e.kind {
                    Kind::Persistent => kind.is_one_shot(),
                    Kind::PersistentRecursive => matches!(kind, Kind::Data | Kind::Exist),
                    _ => false,
                }
        })
    }

    /// Whether an armed watch that `watcher_type` covers exists on `path`.
    pub(crate) fn has_local(&self, path: &str, watcher_type: WatcherType) -> bool {
        self.paths.get(path).is_some_and(|entries| {
            entries
                .iter()
                .any(|e| e.armed && e.kind.removed_by(watcher_type))
        })
    }

    /// Removes the armed watches `watcher_type` covers on `path` (after the server
    /// removed its own), telling each handle with a `*WatchRemoved` event.
    pub(crate) fn remove_local(&mut self, path: &str, watcher_type: WatcherType) -> usize {
        let Some(entries) = self.paths.get_mut(path) else {
            return 0;
        };
        let (removed, kept): (Vec<Entry>, Vec<Entry>) = entries
            .drain(..)
            .partition(|e| e.armed && e.kind.removed_by(watcher_type));
        if kept.is_empty() {
            self.paths.remove(path);
        } else {
            *entries = kept;
        }
        let count = removed.len();
        for entry in removed {
            self.ids.remove(&entry.id);
            let event_type = match entry.kind {
                Kind::Data | Kind::Exist => EventType::DataWatchRemoved,
                Kind::Child => EventType::ChildWatchRemoved,
                Kind::Persistent | Kind::PersistentRecursive => EventType::PersistentWatchRemoved,
            };
            let event = entry.event(event_type, KeeperState::SyncConnected, path);
            entry.deliver(event);
        }
        count
    }

    /// What to send in SetWatches2 after a reconnect.
    pub(crate) fn lists(&self) -> WatchLists {
        let mut sets: [BTreeSet<&str>; 5] = Default::default();
        for (path, entries) in &self.paths {
            for entry in entries.iter().filter(|e| e.armed) {
                let list = match entry.kind {
                    Kind::Data => 0,
                    Kind::Exist => 1,
                    Kind::Child => 2,
                    Kind::Persistent => 3,
                    Kind::PersistentRecursive => 4,
                };
                sets[list].insert(path);
            }
        }
        let [data, exist, child, persistent, persistent_recursive] =
            sets.map(|set| set.into_iter().map(str::to_owned).collect());
        WatchLists {
            data,
            exist,
            child,
            persistent,
            persistent_recursive,
        }
    }

    /// Tells the persistent watches about a non-terminal session change.
    pub(crate) fn session_event(&self, state: SessionState) {
        let event = WatchedEvent::session(state.keeper_state());
        for entry in self.paths.values().flatten() {
            if entry.armed {
                entry.deliver_to_stream(event.clone());
            }
        }
    }

    /// The session is over: one-shot watches fail with its error, persistent ones get
    /// the final state as their last event.
    pub(crate) fn terminate(&mut self, state: SessionState) {
        self.ids.clear();
        for entry in self.paths.drain().flat_map(|(_, entries)| entries) {
            match entry.sink {
                Sink::Once(tx) => {
                    let _ = tx.send(Err(state.error()));
                }
                Sink::Stream(tx) => {
                    let _ = tx.send(WatchedEvent::session(state.keeper_state()));
                }
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// `/a/b/c`, `/a/b`, `/a`, `/`.
fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(path);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.rfind('/') {
            _ if current == "/" => None,
            Some(0) => Some("/"),
            Some(at) => Some(&current[..at]),
            None => None,
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::{mpsc, oneshot};

    use crate::error::{Error, Result};

    fn once(
        reg: &mut Registry,
        id: WatchId,
        path: &str,
        kind: Kind,
    ) -> oneshot::Receiver<Result<WatchedEvent>> {
        let (tx, rx) = oneshot::channel();
        reg.insert(Arming {
            id,
            server_path: path.into(),
            kind,
            sink: Sink::Once(tx),
            chroot: Chroot::default(),
        });
        rx
    }

    fn stream(
        reg: &mut Registry,
        id: WatchId,
        path: &str,
        kind: Kind,
        chroot: &str,
    ) -> mpsc::UnboundedReceiver<WatchedEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        reg.insert(Arming {
            id,
            server_path: path.into(),
            kind,
            sink: Sink::Stream(tx),
            chroot: Chroot::parse(chroot).unwrap(),
        });
        rx
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<WatchedEvent>) -> Vec<(EventType, String)> {
        std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| (e.event_type, e.path))
            .collect()
    }

    #[test]
    fn ancestors() {
        let all: Vec<_> = self_and_ancestors("/a/b/c").collect();
        assert_eq!(all, ["/a/b/c", "/a/b", "/a", "/"]);
        assert_eq!(self_and_ancestors("/").collect::<Vec<_>>(), ["/"]);
    }

    #[test]
    fn pending_watches_do_not_fire_and_are_not_reset() {
        let mut reg = Registry::default();
        let mut rx = once(&mut reg, 1, "/a", Kind::Data);
        reg.dispatch(EventType::NodeDataChanged, KeeperState::SyncConnected, "/a");
        assert!(rx.try_recv().is_err(), "not armed yet");
        assert!(reg.lists().is_empty());
        reg.arm(1, Kind::Data);
        assert_eq!(reg.lists().data, ["/a"]);
        reg.dispatch(EventType::NodeDataChanged, KeeperState::SyncConnected, "/a");
        let event = rx.try_recv().unwrap().unwrap();
        assert_eq!(event.event_type, EventType::NodeDataChanged);
        assert_eq!(reg.len(), 0, "one-shot watches go when they fire");
    }

    #[test]
    fn events_reach_the_right_lists() {
        let mut reg = Registry::default();
        let mut data = once(&mut reg, 1, "/a", Kind::Data);
        let mut child = once(&mut reg, 2, "/a", Kind::Child);
        let mut exist = once(&mut reg, 3, "/b", Kind::Exist);
        let mut persistent = stream(&mut reg, 4, "/a", Kind::Persistent, "/");
        let mut recursive = stream(&mut reg, 5, "/", Kind::PersistentRecursive, "/");
        for id in 1..=5 {
            reg.arm(id, if id == 3 { Kind::Exist } else { reg_kind(id) });
        }
        let lists = reg.lists();
        assert_eq!(lists.data, ["/a"]);
        assert_eq!(lists.child, ["/a"]);
        assert_eq!(lists.exist, ["/b"]);
        assert_eq!(lists.persistent, ["/a"]);
        assert_eq!(lists.persistent_recursive, ["/"]);

        reg.dispatch(
            EventType::NodeChildrenChanged,
            KeeperState::SyncConnected,
            "/a",
        );
        assert!(data.try_recv().is_err());
        assert_eq!(
            child.try_recv().unwrap().unwrap().event_type,
            EventType::NodeChildrenChanged
        );
        assert_eq!(
            drain(&mut persistent),
            [(EventType::NodeChildrenChanged, "/a".into())]
        );
        assert!(
            drain(&mut recursive).is_empty(),
            "recursive watches never see child events"
        );

        reg.dispatch(EventType::NodeCreated, KeeperState::SyncConnected, "/b");
        assert_eq!(exist.try_recv().unwrap().unwrap().path, "/b");
        reg.dispatch(EventType::NodeDeleted, KeeperState::SyncConnected, "/a");
        assert_eq!(
            data.try_recv().unwrap().unwrap().event_type,
            EventType::NodeDeleted
        );
        assert_eq!(
            drain(&mut persistent),
            [(EventType::NodeDeleted, "/a".into())]
        );
        assert_eq!(
            drain(&mut recursive),
            [
                (EventType::NodeCreated, "/b".into()),
                (EventType::NodeDeleted, "/a".into())
            ]
        );
        assert_eq!(reg.len(), 2, "the persistent watches stay");
    }

    fn reg_kind(id: WatchId) -> Kind {
        match id {
            1 => Kind::Data,
            2 => Kind::Child,
            4 => Kind::Persistent,
            _ => Kind::PersistentRecursive,
        }
    }

    #[test]
    fn chroot_applies_per_handle() {
        let mut reg = Registry::default();
        let mut rooted = stream(&mut reg, 1, "/app", Kind::PersistentRecursive, "/app");
        reg.arm(1, Kind::PersistentRecursive);
        reg.dispatch(
            EventType::NodeCreated,
            KeeperState::SyncConnected,
            "/app/x/y",
        );
        reg.dispatch(
            EventType::NodeDataChanged,
            KeeperState::SyncConnected,
            "/app",
        );
        assert_eq!(
            drain(&mut rooted),
            [
                (EventType::NodeCreated, "/x/y".into()),
                (EventType::NodeDataChanged, "/".into())
            ]
        );
    }

    #[test]
    fn persistent_watches_cover_one_shot_ones() {
        let mut reg = Registry::default();
        let _p = stream(&mut reg, 1, "/p", Kind::Persistent, "/");
        let _d = once(&mut reg, 2, "/p", Kind::Data);
        assert!(!reg.covered_by_persistent(2, Kind::Data), "not armed yet");
        reg.arm(1, Kind::Persistent);
        for kind in [Kind::Data, Kind::Exist, Kind::Child] {
            assert!(reg.covered_by_persistent(2, kind));
        }
        let _r = stream(&mut reg, 3, "/r", Kind::PersistentRecursive, "/");
        reg.arm(3, Kind::PersistentRecursive);
        let _c = once(&mut reg, 4, "/r", Kind::Child);
        assert!(reg.covered_by_persistent(4, Kind::Data));
        assert!(
            !reg.covered_by_persistent(4, Kind::Child),
            "no child events"
        );
        let _other = once(&mut reg, 5, "/r/x", Kind::Data);
        assert!(
            !reg.covered_by_persistent(5, Kind::Data),
            "only the same path"
        );
    }

    #[test]
    fn unwatch_reports_the_last_interest() {
        let mut reg = Registry::default();
        let _a = once(&mut reg, 1, "/a", Kind::Data);
        let _b = once(&mut reg, 2, "/a", Kind::Child);
        reg.arm(1, Kind::Data);
        assert_eq!(reg.unwatch(1), None, "a pending child watch remains");
        assert_eq!(reg.unwatch(2).as_deref(), Some("/a"));
        assert_eq!(reg.unwatch(2), None, "already gone");
        assert_eq!(reg.len(), 0);
    }

    #[test]
    fn remove_local_and_terminate() {
        let mut reg = Registry::default();
        let mut data = once(&mut reg, 1, "/a", Kind::Data);
        let mut child = once(&mut reg, 2, "/a", Kind::Child);
        let mut persistent = stream(&mut reg, 3, "/a", Kind::Persistent, "/");
        for (id, kind) in [(1, Kind::Data), (2, Kind::Child), (3, Kind::Persistent)] {
            reg.arm(id, kind);
        }
        assert!(reg.has_local("/a", WatcherType::Data));
        assert!(!reg.has_local("/b", WatcherType::Any));
        assert_eq!(reg.remove_local("/a", WatcherType::Data), 1);
        assert_eq!(
            data.try_recv().unwrap().unwrap().event_type,
            EventType::DataWatchRemoved
        );
        assert!(!reg.has_local("/a", WatcherType::Data));

        reg.session_event(SessionState::Disconnected);
        let event = persistent.try_recv().unwrap();
        assert!(event.is_session_event());
        assert_eq!(event.keeper_state, KeeperState::Disconnected);

        reg.terminate(SessionState::Expired);
        assert_eq!(child.try_recv().unwrap(), Err(Error::SessionExpired));
        assert_eq!(
            persistent.try_recv().unwrap().keeper_state,
            KeeperState::Expired
        );
        assert!(persistent.try_recv().is_err(), "the stream ends");
        assert_eq!(reg.len(), 0);
    }
}
