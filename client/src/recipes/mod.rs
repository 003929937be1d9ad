//! Coordination recipes built on [`Client`](crate::Client): leader election (Mesos-style
//! groups and Curator-style latches), a distributed lock, group membership and a
//! subtree cache.
//!
//! | Recipe | Nodes | Watches | Bound to |
//! |---|---|---|---|
//! | [`Group`] (membership), [`LeaderDetector`], [`Membership::leadership`] (Mesos-style election) | `<group>/<label>_NNNNNNNNNN`, EPHEMERAL_SEQUENTIAL | the group's children (everyone) | a [`Sessions`] source: a new session after each expiry |
//! | [`LeaderLatch`] (Curator-style election) | `<path>/_c_<uuid>-latch-NNNNNNNNNN` | the predecessor only | one [`Client`](crate::Client) session |
//! | [`Lock`] | `<path>/_c_<uuid>-lock-NNNNNNNNNN` | the predecessor only | one [`Client`](crate::Client) session |
//! | [`TreeCache`] (Curator's `CuratorCache`) | none (reads only) | one persistent recursive watch on the root | one [`Client`](crate::Client) session |
//! | [`Counter`] (Curator's `DistributedAtomicLong` format) | the counter's node, 8 bytes big-endian | none | nothing (each change is a compare-and-set) |
//! | [`Barrier`] (Curator's `DistributedBarrier`) | the barrier's node, persistent | an exists watch per waiter | nothing (the node outlives its setter's session) |
//!
//! # What every recipe does about failures
//!
//! - **Connection loss while a member or lock node is being created.** The reply may
//!   have been lost after the server created the node. [`LeaderLatch`] and [`Lock`] use
//!   Curator's *protected* names: the node name starts with `_c_<uuid>-`, and after a
//!   connection loss the recipe waits for the session to reconnect, lists the parent
//!   and adopts the node carrying its uuid before it would create another one. A
//!   [`Group`] keeps Mesos's plain names (`<label>_NNNNNNNNNN`, which Mesos parses), so
//!   it asks the server instead for the ephemerals of its own session under the group
//!   (getEphemerals, ZooKeeper 3.6+) and adopts one that no membership holds and whose
//!   data is the data it meant to write.
//! - **Disconnected.** While the session is disconnected nobody can tell whether it
//!   still exists, so leadership is *suspended*: [`LeaderLatch::is_leader`] and
//!   [`Membership::is_leader`] are false (and their leadership streams say so) until
//!   the same session reconnects and its node is still the first. A cut-off leader
//!   notices after ⅔ of the session timeout (the client's read timeout), before the
//!   server can expire its session (after the full timeout), so two members never both
//!   consider themselves leader. A lock cannot be suspended: [`LockGuard::lost`] reports
//!   [`Lost::SessionTimedOut`] once the session has been disconnected for the whole
//!   negotiated session timeout, when the server has certainly expired it.
//! - **Expired or closed session.** Its ephemeral nodes are gone: memberships, latches
//!   and lock guards report [`Lost`]. A [`Group`] made from [`Sessions::new`] starts a
//!   new session (as Mesos's group does) and its detectors go on; a membership does not
//!   come back by itself: join again (as a Mesos master re-contends). A latch or a lock
//!   is bound to its client's session: make a new client and start again.
//!
//! Every holder reports a loss the same two ways: `lost()` says whether it happened
//! ([`Membership::lost`], [`LeaderLatch::lost`], [`LockGuard::lost`], and
//! [`TreeCache::lost`] for a cache's session), and `until_lost().await` waits for it
//! ([`Membership::until_lost`], [`LeaderLatch::until_lost`], [`LockGuard::until_lost`]).
//!
//! A [`TreeCache`] creates nothing, so it has nothing to lose but its view's
//! freshness: while disconnected the view stays as it was, after every reconnect it
//! reads the whole subtree again (the server does not replay the changes a persistent
//! watch missed) and reports the differences as events, and when the session ends its
//! event stream ends with [`TreeCacheEvent::Lost`] (start a new cache on a new client).
//!
//! # Examples
//!
//! Follow a subtree:
//!
//! ```no_run
//! # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
//! use ferrokeeper_client::recipes::TreeCache;
//! let (cache, _events) = TreeCache::start(&client, "/app/config")?;
//! cache.initialized().await?;
//! let names = cache.children("/app/config");
//! # let _ = names;
//! # Ok(())
//! # }
//! ```
//!
//! Elect a leader in a few lines (see also `client/examples/`):
//!
//! ```no_run
//! # async fn demo() -> ferrokeeper_client::Result<()> {
//! use ferrokeeper_client::Client;
//! use ferrokeeper_client::recipes::LeaderLatch;
//!
//! let client = Client::connect("127.0.0.1:2181").await?;
//! let latch = LeaderLatch::start(&client, "/app/leader", b"host-1:8080").await?;
//! latch.await_leadership().await?;
//! // ... lead, while latch.is_leader() ...
//! latch.close().await?;
//! # Ok(())
//! # }
//! ```

mod barrier;
mod counter;
mod group;
mod latch;
mod lock;
mod protected;
mod tree_cache;
mod util;

pub use barrier::Barrier;
pub use counter::Counter;
pub use group::{Group, Leader, LeaderDetector, Member, MemberStream, Membership, Sessions};
pub use latch::{LeaderLatch, Participant};
pub use lock::{Lock, LockGuard};
pub use tree_cache::{CachedNode, TreeCache, TreeCacheEvent, TreeCacheEvents};

/// Why a membership, a latch's node or a lock stopped being held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Lost {
    /// The owner gave it up ([`Membership::cancel`], [`LeaderLatch::close`],
    /// [`LockGuard::unlock`]).
    #[error("cancelled by its owner")]
    Cancelled,
    /// Its node was deleted (by another client or an administrator).
    #[error("its node was deleted")]
    NodeDeleted,
    /// The server expired the session.
    #[error("the session expired")]
    SessionExpired,
    /// The session was disconnected for a whole session timeout: the server has
    /// expired it (the client only learns it once it can reach a server again).
    #[error("the session has been disconnected for longer than its timeout")]
    SessionTimedOut,
    /// The client was closed (or its authentication was refused).
    #[error("the client was closed")]
    Closed,
}

impl Lost {
    /// The client error matching this loss, for APIs that return [`crate::Result`].
    pub fn error(self) -> crate::Error {
        match self {
            Lost::Cancelled | Lost::Closed => crate::Error::Closed,
            Lost::NodeDeleted => crate::Error::NoNode,
            Lost::SessionExpired | Lost::SessionTimedOut => crate::Error::SessionExpired,
        }
    }

    pub(crate) fn from_state(state: crate::SessionState) -> Lost {
        match state {
            crate::SessionState::Expired => Lost::SessionExpired,
            _ => Lost::Closed,
        }
    }
}
