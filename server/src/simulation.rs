//! The seams the deterministic simulation (`tests/src/simulation/`) plugs into.
//!
//! A simulation runs every member of an ensemble on one thread, on a tokio
//! current-thread runtime with a paused clock and a seeded scheduler. To be replayable
//! from its seed, nothing may leave that thread or draw unseeded randomness, so the few
//! places that would ask this module first:
//! - the quorum transport (`replication::peer_client` and `peer_server`) connects and
//!   listens through a [`Network`] instead of TCP;
//! - the Raft log's group commit (`durable_log::sync`) runs as a task on this thread,
//!   and tells the [`Disk`] what each fsync made durable instead of calling fdatasync, so
//!   a simulated crash can drop what was never synced and tear the tail;
//! - snapshot encoding and decoding run in place instead of on tokio's blocking pool;
//! - openraft's election timeouts are drawn from the simulation's seeded generator;
//! - the wall clock ([`crate::core::now_ms`]) is the simulation's.
//!
//! Timers and deadlines use tokio's clock, which the simulation pauses and advances.
//!
//! A real server never installs a context: every seam then does what it always did.

use std::cell::RefCell;
use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::replication::PeerIo;

/// A boxed future, as the transport's trait objects return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The simulated network between the members.
pub trait Network: Send + Sync + 'static {
    /// Member `me`'s quorum port: the connections other members open to it.
    fn listen(&self, me: u64) -> mpsc::UnboundedReceiver<Box<dyn PeerIo>>;
    /// Opens a connection from member `from` to the quorum address `addr`.
    fn connect(&self, from: u64, addr: &str) -> BoxFuture<'static, io::Result<Box<dyn PeerIo>>>;
}

/// The simulated disk under the Raft log.
pub trait Disk: Send + Sync + 'static {
    /// How long the next fsync takes.
    fn fsync_latency(&self) -> Duration;
    /// The first `upto` bytes of `file` are now durable (`u64::MAX`: all of it).
    fn synced(&self, file: &File, upto: u64);
}

/// What a simulation installs on its thread.
#[derive(Clone)]
pub struct Context {
    pub network: Arc<dyn Network>,
    pub disk: Arc<dyn Disk>,
    /// Draws the seeds of openraft's random numbers (election timeouts).
    pub random: Arc<dyn Fn() -> u64 + Send + Sync>,
    /// The wall clock (ms since the Unix epoch) that stamps entries and sessions; the
    /// simulation can make it jump.
    pub wall_ms: Arc<dyn Fn() -> i64 + Send + Sync>,
}

thread_local! {
    static CONTEXT: RefCell<Option<Arc<Context>>> = const { RefCell::new(None) };
}

/// Makes this thread a simulation's until [`uninstall`].
pub fn install(context: Context) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(Arc::new(context)));
}

pub fn uninstall() {
    CONTEXT.with(|c| c.borrow_mut().take());
}

/// The simulation this thread runs, if any.
pub fn current() -> Option<Arc<Context>> {
    CONTEXT.with(|c| c.borrow().clone())
}

/// The simulation's wall clock, if this thread runs one: asked on every write's time
/// stamp, so it reads the context in place instead of cloning it.
pub fn wall_ms() -> Option<i64> {
    CONTEXT.with(|c| c.borrow().as_ref().map(|sim| (sim.wall_ms)()))
}

/// Runs blocking work (file I/O, encoding) on tokio's blocking pool, or in place under a
/// simulation, where leaving the thread would make the run depend on the OS scheduler.
pub async fn blocking<T, F>(work: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if current().is_some() {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)
}
