//! ZooKeeper's atomic broadcast (ZAB), the learner's side: ferrokeeper joining a running
//! ZooKeeper ensemble as an observer, to hold an up-to-date copy of its data.

mod link;
mod observer;
mod wire;

pub use link::{ServerSink, ZabLink};
pub use observer::{FollowSink, ObserverSettings, SharedWriter, follow};
pub use wire::ZabError;
