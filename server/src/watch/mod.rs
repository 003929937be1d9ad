//! The per-server watch registry. Watches are local state of one server (ZooKeeper does
//! not replicate them): the connection layer registers them on reads, the state machine's
//! [`WatchTrigger`](crate::state::txn::WatchTrigger)s fire them, and a closed connection
//! drops them. No I/O here; the caller queues the returned events on its connections
//! before the change becomes visible to local readers (see docs/ARCHITECTURE.md).
//!
//! # Semantics (ZooKeeper 3.8 `DataTree` + `WatchManager`)
//! - NodeCreated / NodeDataChanged reach data watches (getData, exists — also exists on
//!   a missing node) and persistent watches on the path; NodeChildrenChanged reaches
//!   child watches and persistent watches; NodeDeleted reaches all of them. Recursive
//!   watches on the path or any ancestor get everything except NodeChildrenChanged.
//! - One-shot watches are consumed when they fire; persistent ones stay.
//! - At most one notification per watcher per trigger, whatever matched.
//! - Events carry the changed node's path; state is always SyncConnected.
//!
//! # Ordering
//! [`WatchRegistry::trigger`] returns its notifications sorted by watcher key. Each
//! watcher gets at most one per trigger, so this order only decides which connection's
//! queue is filled first; it exists to make output reproducible (ZooKeeper iterates a
//! HashSet). Per connection, order is the order the caller feeds triggers in, which is
//! the apply order: this is what ZooKeeper guarantees. setWatches events come in
//! ZooKeeper's list order (data, exist, child). Reports are sorted.
//!
//! # Deliberate differences from 3.8.0 (all fixed upstream in 3.9.0)
//! - Kinds coexist per (path, watcher). 3.8.0 stores one mode per (table, path,
//!   connection) and the last registration wins, so e.g. getData(watch) after addWatch
//!   turns the persistent data half into a one-shot (ZOOKEEPER-4466).
//! - removeWatches/checkWatches with Data or Children touch only one-shot watches;
//!   persistent ones are reached only with Any (ZOOKEEPER-4471). 3.8.0 would remove one
//!   table's half of a persistent watch.
//! - checkWatches checks this watcher; 3.8.0's `containsWatcher` answers Ok when any
//!   connection watches the path in that table.
//!
//! # Not here
//! Since 3.8.4 ZooKeeper drops an event for a watcher lacking READ on the changed node,
//! after the one-shot watch was consumed. A caller that wants that filters the returned
//! events; the registry needs no change.

mod kinds;
mod registry;
mod report;
mod reset;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use kinds::{NoWatcher, WatchEvent, WatchKind};
pub use registry::{MAX_WATCHED_PATHS, TooManyWatches, WatchRegistry, WatcherKey};
pub use report::WatchSummary;
pub use reset::{NodeLookup, NodeZxids, ResetWatches};
