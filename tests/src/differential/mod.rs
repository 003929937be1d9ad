//! Differential testing against a real ZooKeeper: a scripted scenario runs over
//! [`RawClient`](crate::raw::RawClient) connections against one server and every frame the
//! server sends is recorded, normalised, into a [`Transcript`]. Two transcripts (ZooKeeper's
//! and ferrokeeper's) are then compared step by step with [`compare`].
//!
//! Normalisation (see [`runner`]):
//! - **zxids** are named after the step whose transaction made them: after every step each
//!   open connection pings the server, so the runner knows the server's last zxid after
//!   each step; the zxids a step consumed (`prev_last+1 ..= new_last`) are named `#<step>`
//!   (or `#<step>.<i>` when a step consumed several) and the step records how many it
//!   consumed. A zxid from before the scenario's first session is `pre-<distance>`; 0 and
//!   −1 stay as they are. A server that consumes an extra zxid, or one too few, therefore
//!   differs at exactly that step.
//! - **times** (ctime/mtime) become `T` (`0` stays `0`).
//! - **session ids** become `session#N` (N = order of creation in the scenario), in connect
//!   replies and in `ephemeralOwner`; passwords are dropped.
//! - **children lists** (getChildren/getChildren2/multiRead), getEphemerals results and
//!   whoAmI's ids are sorted (and marked "(sorted)"): ZooKeeper returns them in `HashSet`
//!   order, which its API leaves unspecified.
//! - the **header zxid of a reply that consumed no zxid** (reads, errors without a txn) is
//!   written `last` when it equals the server's last zxid before the step, so one step's
//!   extra or missing zxid does not show again in every later read.
//!
//! Frames received by other connections (watch events) are collected after each step by a
//! ping on every open connection: every event a transaction triggers is queued before the
//! reply of any later request on that connection, so the events of a step are all in.

pub mod compare;
pub mod runner;
pub mod scenario;

pub use compare::{Difference, compare, report};
pub use runner::{Runner, StepRecord, Transcript};
