//! Between a client connection and consensus: what a connection asks of the ensemble,
//! and the one place that decides how.
//!
//! - [`Backend`]: where writes, new sessions and syncs go (our Raft log, or the leader
//!   of a ZooKeeper ensemble this server follows).
//! - [`writes`]: a connection's writes become proposals (their replies come back through
//!   the core when the entry is applied here), in order: [`WriteOrder`] holds the one
//!   read-after-write rule (a read waits until the connection's earlier writes are
//!   answered, on the core's counters) and applies the lost-write policy's rule for
//!   the connection (a write may not overtake earlier ones a leader change may have
//!   dropped).
//! - [`lost_writes`]: the one lost-write policy: what follows when consensus may have
//!   dropped writes it accepted (connections closed, writes refused, waits ended).
//! - [`sessions`]: creating a session, and judging a resumed one as the leader would.
//! - [`sync`]: ZooKeeper's `sync`, a barrier behind everything the leader committed.
//!
//! `net` frames bytes and keeps sessions; `core` applies; this module is where a request
//! meets Raft or Zab. Reply frames are shaped by [`crate::reply`].

mod backend;
pub mod lost_writes;
pub mod sessions;
pub mod sync;
pub mod writes;

pub use backend::Backend;
pub use writes::WriteOrder;

/// Why the dispatch layer could not do what a connection asked.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    /// No leader, no quorum, or the leader changed under the connection's writes: the
    /// client should see a connection loss and try again (elsewhere).
    #[error("the server cannot commit writes: {0}")]
    Unavailable(String),
    /// The request's bytes could not be forwarded.
    #[error("bad frame: {0}")]
    BadFrame(String),
    /// The connection is being closed.
    #[error("closed by the server")]
    Cancelled,
}
