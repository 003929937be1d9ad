//! Every record a ZooKeeper 3.8 client and server exchange, and the txn records a server
//! logs, field for field as in ZooKeeper's `zookeeper.jute`.
//!
//! Field types follow jute: `i32`/`i64`/`bool`, `String` for `ustring`, `Bytes` for
//! `buffer`, `Vec` for `vector`. Where ZooKeeper gives null a meaning of its own (znode
//! data, reconfig server lists) the field is an `Option` so null survives a round trip.

mod connect;
mod data;
mod headers;
mod quorum;
mod requests;
mod responses;
mod txn;

pub use connect::{ConnectRequest, ConnectResponse};
pub use data::{Acl, ClientInfo, Id, Stat, StatPersisted};
pub use headers::{MultiHeader, ReplyHeader, RequestHeader};
pub use quorum::{LearnerInfo, QuorumPacket, quorum_packet};
pub use requests::*;
pub use responses::*;
pub use txn::*;
