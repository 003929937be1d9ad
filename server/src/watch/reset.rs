//! setWatches / setWatches2 (xid −8): re-registering a reconnecting client's watches,
//! firing at once those whose node changed while the client was away.

use ferrokeeper_protocol::{EventType, SetWatches, SetWatches2};

use super::kinds::{WatchEvent, WatchKind};
use super::registry::{WatchRegistry, WatcherKey};

/// The two zxids setWatches compares with the client's last seen zxid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeZxids {
    /// The zxid of the node's last data change (create or setData).
    pub mzxid: i64,
    /// The zxid of the last change to the node's children.
    pub pzxid: i64,
}

/// Read access to the tree for [`WatchRegistry::set_watches`]: `None` when the node
/// does not exist. Closures `Fn(&str) -> Option<NodeZxids>` implement it.
pub trait NodeLookup {
    fn zxids(&self, path: &str) -> Option<NodeZxids>;
}

impl<F: Fn(&str) -> Option<NodeZxids>> NodeLookup for F {
    fn zxids(&self, path: &str) -> Option<NodeZxids> {
        self(path)
    }
}

/// The watch lists of a setWatches (101) or setWatches2 (105) request; setWatches has
/// no persistent lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResetWatches<'a> {
    /// The last zxid the client saw.
    pub relative_zxid: i64,
    pub data: &'a [String],
    pub exist: &'a [String],
    pub child: &'a [String],
    pub persistent: &'a [String],
    pub persistent_recursive: &'a [String],
}

impl<'a> From<&'a SetWatches> for ResetWatches<'a> {
    fn from(r: &'a SetWatches) -> Self {
        ResetWatches {
            relative_zxid: r.relative_zxid,
            data: &r.data_watches,
            exist: &r.exist_watches,
            child: &r.child_watches,
            persistent: &[],
            persistent_recursive: &[],
        }
    }
}

impl<'a> From<&'a SetWatches2> for ResetWatches<'a> {
    fn from(r: &'a SetWatches2) -> Self {
        ResetWatches {
            relative_zxid: r.relative_zxid,
            data: &r.data_watches,
            exist: &r.exist_watches,
            child: &r.child_watches,
            persistent: &r.persistent_watches,
            persistent_recursive: &r.persistent_recursive_watches,
        }
    }
}

impl<W: WatcherKey> WatchRegistry<W> {
    /// Re-registers a reconnecting client's watches against the tree as it is now and
    /// returns the events to send `watcher` immediately, in ZooKeeper's order
    /// (`DataTree.setWatches`): the data list, then exist, then child, each in the
    /// client's order, one event per listed path (a path listed twice fires twice, as in
    /// ZooKeeper). A watch that fires here is not armed (it is one-shot and was used).
    ///
    /// The caller must hold the tree and the registry at the same applied state, so no
    /// change can slip between the lookup and the arming.
    ///
    /// A watch beyond the watcher's limit is not armed, and the result says so
    /// (`Err`, with the events of the rest): a client that had its watches admitted
    /// never gets there.
    pub fn set_watches(
        &mut self,
        req: &ResetWatches<'_>,
        watcher: W,
        tree: &impl NodeLookup,
    ) -> (Vec<WatchEvent>, Result<(), super::TooManyWatches>) {
        let mut refused = Ok(());
        let mut arm = |this: &mut Self, path: &str, kind: WatchKind| {
            if let Err(e) = this.try_add(path, watcher, kind) {
                refused = Err(e);
            }
        };
        let rel = req.relative_zxid;
        let mut fired = Vec::new();
        for path in req.data {
            match tree.zxids(path) {
                None => fired.push(WatchEvent::new(EventType::NodeDeleted, path.as_str())),
                Some(z) if z.mzxid > rel => {
                    fired.push(WatchEvent::new(EventType::NodeDataChanged, path.as_str()));
                }
                Some(_) => arm(self, path, WatchKind::Data),
            }
        }
        for path in req.exist {
            match tree.zxids(path) {
                // Known gap kept from ZooKeeper: a create+delete while away is missed.
                Some(_) => fired.push(WatchEvent::new(EventType::NodeCreated, path.as_str())),
                None => arm(self, path, WatchKind::Data),
            }
        }
        for path in req.child {
            match tree.zxids(path) {
                None => fired.push(WatchEvent::new(EventType::NodeDeleted, path.as_str())),
                Some(z) if z.pzxid > rel => {
                    fired.push(WatchEvent::new(
                        EventType::NodeChildrenChanged,
                        path.as_str(),
                    ));
                }
                Some(_) => arm(self, path, WatchKind::Child),
            }
        }
        // Persistent watches cannot tell what was missed, so ZooKeeper just re-arms them.
        for path in req.persistent {
            arm(self, path, WatchKind::Persistent);
        }
        for path in req.persistent_recursive {
            arm(self, path, WatchKind::PersistentRecursive);
        }
        (fired, refused)
    }
}
