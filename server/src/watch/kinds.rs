//! Watch kinds, the bit set the registry stores per (path, watcher), and the event a
//! watcher is sent.

use ferrokeeper_protocol::{AddWatchMode, EventType, KeeperState, WatcherEvent};

/// How a watch was registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchKind {
    /// getData or exists with `watch=true` (ZooKeeper keeps both in its one "data
    /// watches" table). One-shot; fires on NodeCreated, NodeDeleted, NodeDataChanged.
    Data,
    /// getChildren / getChildren2 with `watch=true`. One-shot; fires on
    /// NodeChildrenChanged and NodeDeleted.
    Child,
    /// addWatch mode 0: every event on this one path, never removed by firing.
    Persistent,
    /// addWatch mode 1: Created/Deleted/DataChanged on the path and every descendant
    /// (including ones created later), never NodeChildrenChanged, never removed by firing.
    PersistentRecursive,
}

impl WatchKind {
    pub(super) const fn bit(self) -> Kinds {
        match self {
            WatchKind::Data => Kinds::DATA,
            WatchKind::Child => Kinds::CHILD,
            WatchKind::Persistent => Kinds::PERSISTENT,
            WatchKind::PersistentRecursive => Kinds::RECURSIVE,
        }
    }
}

impl From<AddWatchMode> for WatchKind {
    fn from(mode: AddWatchMode) -> Self {
        match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        }
    }
}

/// The kinds one watcher holds on one path. The kinds coexist independently (see the
/// module docs for why this differs from ZooKeeper 3.8.0's "last mode wins").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Kinds(u8);

impl Kinds {
    pub(super) const NONE: Kinds = Kinds(0);
    pub(super) const DATA: Kinds = Kinds(1);
    pub(super) const CHILD: Kinds = Kinds(2);
    pub(super) const PERSISTENT: Kinds = Kinds(4);
    pub(super) const RECURSIVE: Kinds = Kinds(8);
    pub(super) const ALL: Kinds = Kinds(15);
    /// What ZooKeeper's server-side data table would hold (wchs/wchc/wchp report only
    /// this table): getData/exists watches plus both persistent modes.
    pub(super) const DATA_TABLE: Kinds = Kinds(1 | 4 | 8);
    /// What ZooKeeper's child table would hold: getChildren watches plus both persistent modes.
    pub(super) const CHILD_TABLE: Kinds = Kinds(2 | 4 | 8);

    pub(super) const fn union(self, other: Kinds) -> Kinds {
        Kinds(self.0 | other.0)
    }

    pub(super) const fn without(self, other: Kinds) -> Kinds {
        Kinds(self.0 & !other.0)
    }

    pub(super) const fn intersects(self, other: Kinds) -> bool {
        self.0 & other.0 != 0
    }

    pub(super) const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The kinds in a fixed order (Data, Child, Persistent, PersistentRecursive).
    pub(super) fn iter(self) -> impl Iterator<Item = WatchKind> {
        [
            WatchKind::Data,
            WatchKind::Child,
            WatchKind::Persistent,
            WatchKind::PersistentRecursive,
        ]
        .into_iter()
        .filter(move |k| self.intersects(k.bit()))
    }
}

/// A notification for one watcher. The server always sends state SyncConnected and
/// the changed node's path (also for recursive watches registered on an ancestor).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WatchEvent {
    pub event: EventType,
    pub path: String,
}

impl WatchEvent {
    pub fn new(event: EventType, path: impl Into<String>) -> Self {
        WatchEvent {
            event,
            path: path.into(),
        }
    }
}

impl From<WatchEvent> for WatcherEvent {
    fn from(e: WatchEvent) -> Self {
        WatcherEvent {
            r#type: e.event.code(),
            state: KeeperState::SyncConnected.code(),
            path: e.path,
        }
    }
}

/// checkWatches/removeWatches found nothing to check or remove: the reply's error is
/// [`ErrorCode::NoWatcher`](ferrokeeper_protocol::ErrorCode::NoWatcher) (−121).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no watcher")]
pub struct NoWatcher;

impl From<NoWatcher> for ferrokeeper_protocol::ErrorCode {
    fn from(_: NoWatcher) -> Self {
        ferrokeeper_protocol::ErrorCode::NoWatcher
    }
}
