//! Checkers for histories of client operations: what a run of clients did, each
//! operation with when it was called and when (and with what) it returned, judged
//! against what ZooKeeper promises.
//!
//! - [`linearizable`]: a Wing & Gong search with Lowe's memoisation (as Porcupine and
//!   Knossos do it) of one key's operations against a sequential [`linearizable::Model`];
//!   [`register`] is the model of one znode (create, set, compare-and-set, delete,
//!   read, with versions).
//! - [`session`]: the per-session guarantees: a session never sees the state go
//!   backwards (monotonic reads, read-your-writes) and its writes take effect in the
//!   order it issued them (FIFO client order).
//! - [`sequential`]: sequential names never reused, their counters in creation order.
//!
//! Every checker has unit tests with doctored histories that it must reject, so a
//! checker that passes everything cannot go unnoticed. The histories come from the
//! process tests (`tests/fault_errors.rs` records one against ferrokeeper and against
//! ZooKeeper through leader faults); the deterministic simulation the dispatch issue
//! asks for is meant to feed them too.

pub mod linearizable;
pub mod register;
pub mod sequential;
pub mod session;

use std::time::Instant;

/// A monotonic clock for histories: nanoseconds since the recorder was made.
#[derive(Debug, Clone, Copy)]
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(Instant::now())
    }

    pub fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
