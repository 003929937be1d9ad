//! The registry: registration, triggering, and removal.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Debug;
use std::hash::Hash;

use ferrokeeper_protocol::{EventType, WatcherType};

use super::kinds::{Kinds, NoWatcher, WatchEvent, WatchKind};
use crate::state::txn::WatchTrigger;

/// The bounds a watcher key needs (the server uses its connection id).
pub trait WatcherKey: Copy + Eq + Hash + Ord + Debug {}
impl<T: Copy + Eq + Hash + Ord + Debug> WatcherKey for T {}

/// One server's watches. Not replicated: a watch belongs to a connection on this server.
#[derive(Debug, Clone)]
pub struct WatchRegistry<W> {
    /// path -> watcher -> kinds. A BTreeMap per path so iteration order never depends
    /// on hashing.
    pub(super) by_path: HashMap<String, BTreeMap<W, Kinds>>,
    /// watcher -> paths it has any kind on, so closing a connection costs O(its watches).
    pub(super) by_watcher: HashMap<W, HashSet<String>>,
    /// How many (path, watcher) pairs hold a recursive watch; 0 lets `trigger` skip the
    /// ancestor walk entirely (ZooKeeper's own shortcut).
    pub(super) recursive: usize,
    /// Watchers that have armed a data-table watch since they connected. ZooKeeper 3.8
    /// keeps a connection's (possibly empty) entry until it disconnects, and wchs/wchc
    /// count and list it, so we remember them for the reports.
    pub(super) data_watchers: HashSet<W>,
    /// Paths one watcher may watch at once ([`MAX_WATCHED_PATHS`] unless a test says).
    pub(super) max_paths: usize,
}

/// How many paths one connection may watch at once. ZooKeeper has no such bound; this
/// one is far above what clients use (a cache of a 100k-node tree watches 200k paths)
/// and keeps a client registering watches on made-up paths from growing the server's
/// memory without bound.
pub const MAX_WATCHED_PATHS: usize = 1_000_000;

/// A watcher at [`MAX_WATCHED_PATHS`]: the watch was not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyWatches;

impl<W: WatcherKey> Default for WatchRegistry<W> {
    fn default() -> Self {
        WatchRegistry {
            by_path: HashMap::new(),
            by_watcher: HashMap::new(),
            recursive: 0,
            data_watchers: HashSet::new(),
            max_paths: MAX_WATCHED_PATHS,
        }
    }
}

/// Which watches one event type reaches.
struct Rule {
    /// Kinds that fire when registered on the changed path itself.
    exact: Kinds,
    /// Of those, the one-shot kinds consumed by firing.
    one_shot: Kinds,
    /// Whether recursive watches on strict ancestors fire.
    ancestors: bool,
}

impl Rule {
    /// ZooKeeper's `DataTree`: NodeCreated/NodeDataChanged go to the data table,
    /// NodeChildrenChanged to the child table, NodeDeleted to both; recursive watches
    /// skip NodeChildrenChanged (`WatchManager.triggerWatch`).
    fn for_event(event: EventType) -> Option<Rule> {
        let rule = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => Rule {
                exact: Kinds::DATA_TABLE,
                one_shot: Kinds::DATA,
                ancestors: true,
            },
            EventType::NodeDeleted => Rule {
                exact: Kinds::ALL,
                one_shot: Kinds::DATA.union(Kinds::CHILD),
                ancestors: true,
            },
            EventType::NodeChildrenChanged => Rule {
                exact: Kinds::CHILD.union(Kinds::PERSISTENT),
                one_shot: Kinds::CHILD,
                ancestors: false,
            },
            // The other types are made by clients; nothing on a server fires them.
            _ => return None,
        };
        Some(rule)
    }
}

/// The parent of a validated absolute path; `None` for `/` (and for anything without
/// a slash, so a malformed path can never loop).
pub(super) fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The kinds a checkWatches/removeWatches type covers. Data and Children cover only the
/// one-shot watches; persistent ones are reached only through Any (ZOOKEEPER-4471).
fn mask_for(kind: WatcherType) -> Kinds {
    match kind {
        WatcherType::Children => Kinds::CHILD,
        WatcherType::Data => Kinds::DATA,
        WatcherType::Any => Kinds::ALL,
    }
}

impl<W: WatcherKey> WatchRegistry<W> {
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry whose watchers may watch at most `max_paths` paths each.
    pub fn with_limit(max_paths: usize) -> Self {
        WatchRegistry {
            max_paths,
            ..Self::default()
        }
    }

    /// Arms a watch unless it would be the watcher's `max_paths + 1`-th watched path
    /// (another kind on a path it already watches is always armed).
    pub fn try_add(
        &mut self,
        path: &str,
        watcher: W,
        kind: WatchKind,
    ) -> Result<(), TooManyWatches> {
        let watched = self.by_watcher.get(&watcher).map_or(0, HashSet::len);
        if watched >= self.max_paths && self.kinds_at(path, watcher).is_empty() {
            return Err(TooManyWatches);
        }
        self.add(path, watcher, kind);
        Ok(())
    }

    /// Arms a watch. Registering a kind the watcher already has on the path is a no-op.
    /// The caller must not register for a connection it already passed to
    /// [`remove_watcher`](Self::remove_watcher) (ZooKeeper ignores stale connections).
    pub fn add(&mut self, path: &str, watcher: W, kind: WatchKind) {
        if kind.bit().intersects(Kinds::DATA_TABLE) {
            self.data_watchers.insert(watcher);
        }
        self.update(path, watcher, |k| k.union(kind.bit()));
    }

    /// Applies one state change and returns who is notified, sorted by watcher, at most
    /// one event per watcher. One-shot watches that fired are removed.
    pub fn trigger(&mut self, trigger: &WatchTrigger) -> Vec<(W, WatchEvent)> {
        let Some(rule) = Rule::for_event(trigger.event) else {
            return Vec::new();
        };
        let path = trigger.path.as_str();
        let mut hit = Vec::new();
        let mut dropped = Vec::new();
        if let Some(watchers) = self.by_path.get_mut(path) {
            watchers.retain(|w, kinds| {
                if kinds.intersects(rule.exact) {
                    hit.push(*w);
                    *kinds = kinds.without(rule.one_shot);
                }
                let keep = !kinds.is_empty();
                if !keep {
                    dropped.push(*w);
                }
                keep
            });
            if watchers.is_empty() {
                self.by_path.remove(path);
            }
        }
        for w in dropped {
            self.unlink(path, w);
        }
        if rule.ancestors && self.recursive > 0 {
            let mut at = path;
            while let Some(up) = parent(at) {
                if let Some(watchers) = self.by_path.get(up) {
                    let recursive = watchers
                        .iter()
                        .filter(|(_, k)| k.intersects(Kinds::RECURSIVE));
                    hit.extend(recursive.map(|(w, _)| *w));
                }
                at = up;
            }
        }
        // Exact-path hits are already sorted; ancestors' are appended, so sort once and
        // collapse a watcher matched by several kinds or levels into one notification.
        hit.sort_unstable();
        hit.dedup();
        hit.into_iter()
            .map(|w| (w, WatchEvent::new(trigger.event, path)))
            .collect()
    }

    /// Drops every watch of a closed connection.
    pub fn remove_watcher(&mut self, watcher: W) {
        self.data_watchers.remove(&watcher);
        let Some(paths) = self.by_watcher.remove(&watcher) else {
            return;
        };
        for path in paths {
            let Some(watchers) = self.by_path.get_mut(&path) else {
                continue;
            };
            if let Some(kinds) = watchers.remove(&watcher) {
                note_recursive(&mut self.recursive, kinds, Kinds::NONE);
            }
            if watchers.is_empty() {
                self.by_path.remove(&path);
            }
        }
    }

    /// checkWatches (opcode 17): does `watcher` hold a watch of this type on exactly `path`?
    pub fn check_watches(
        &self,
        path: &str,
        kind: WatcherType,
        watcher: W,
    ) -> Result<(), NoWatcher> {
        let kinds = self.kinds_at(path, watcher);
        if kinds.intersects(mask_for(kind)) {
            Ok(())
        } else {
            Err(NoWatcher)
        }
    }

    /// removeWatches (opcode 18): removes the watcher's watches of this type on exactly
    /// `path`; `NoWatcher` when there was none.
    pub fn remove_watches(
        &mut self,
        path: &str,
        kind: WatcherType,
        watcher: W,
    ) -> Result<(), NoWatcher> {
        let mask = mask_for(kind);
        let old = self.update(path, watcher, |k| k.without(mask));
        if old.intersects(mask) {
            Ok(())
        } else {
            Err(NoWatcher)
        }
    }

    /// The kinds `watcher` holds on exactly `path`, in a fixed order.
    pub fn kinds(&self, path: &str, watcher: W) -> Vec<WatchKind> {
        self.kinds_at(path, watcher).iter().collect()
    }

    /// True when nobody watches anything (connections remembered only for the reports
    /// do not count).
    pub fn is_empty(&self) -> bool {
        self.by_path.is_empty()
    }

    fn kinds_at(&self, path: &str, watcher: W) -> Kinds {
        self.by_path
            .get(path)
            .and_then(|ws| ws.get(&watcher))
            .copied()
            .unwrap_or_default()
    }

    /// The one place a single (path, watcher) entry changes, keeping both indexes and
    /// the recursive count in step. Returns the kinds before the change.
    fn update(&mut self, path: &str, watcher: W, change: impl FnOnce(Kinds) -> Kinds) -> Kinds {
        let old = self.kinds_at(path, watcher);
        let new = change(old);
        if new == old {
            return old;
        }
        note_recursive(&mut self.recursive, old, new);
        if new.is_empty() {
            if let Some(watchers) = self.by_path.get_mut(path) {
                watchers.remove(&watcher);
                if watchers.is_empty() {
                    self.by_path.remove(path);
                }
            }
            self.unlink(path, watcher);
        } else {
            self.by_path
                .entry(path.to_owned())
                .or_default()
                .insert(watcher, new);
            self.by_watcher
                .entry(watcher)
                .or_default()
                .insert(path.to_owned());
        }
        old
    }

    /// Removes `path` from the watcher's reverse index entry.
    fn unlink(&mut self, path: &str, watcher: W) {
        if let Some(paths) = self.by_watcher.get_mut(&watcher) {
            paths.remove(path);
            if paths.is_empty() {
                self.by_watcher.remove(&watcher);
            }
        }
    }
}

/// Keeps the recursive-watch count in step with one entry changing from `old` to `new`.
fn note_recursive(count: &mut usize, old: Kinds, new: Kinds) {
    match (
        old.intersects(Kinds::RECURSIVE),
        new.intersects(Kinds::RECURSIVE),
    ) {
        (false, true) => *count += 1,
        // Saturating: the count only gates the ancestor walk and must never panic.
        (true, false) => *count = count.saturating_sub(1),
        _ => {}
    }
}
