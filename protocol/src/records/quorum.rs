//! The `org.apache.zookeeper.server.quorum` records: what ZooKeeper's leader and its
//! learners (followers, observers) exchange on the quorum port. Unlike client frames
//! they are not length-prefixed: packets follow each other on the stream, and a SNAP
//! sync puts a whole snapshot between two of them.

use bytes::Bytes;

use super::data::Id;
use crate::jute::jute_record;

jute_record! {
    /// What a learner says about itself first (in an OBSERVERINFO or FOLLOWERINFO
    /// packet's data).
    pub struct LearnerInfo {
        pub serverid: i64,
        pub protocol_version: i32,
        pub config_version: i64,
    }
}

jute_record! {
    /// One message between leader and learner. `data` is null for most types;
    /// `authinfo` is null except on a forwarded request.
    pub struct QuorumPacket {
        pub packet_type: i32,
        pub zxid: i64,
        pub data: Option<Bytes>,
        pub authinfo: Option<Vec<Id>>,
    }
}

/// QuorumPacket types (`Leader.java`).
pub mod quorum_packet {
    /// A learner forwards a client's write: session id, cxid, type, request bytes.
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    /// Leader → learner heartbeat; the learner answers with its sessions' activity.
    pub const PING: i32 = 5;
    /// Is this session (re-connecting to a learner) still valid?
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    /// A committed txn, sent to observers (they see no proposals).
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;

    /// The name ZooKeeper's logs use for a type.
    pub fn name(packet_type: i32) -> &'static str {
        match packet_type {
            REQUEST => "REQUEST",
            PROPOSAL => "PROPOSAL",
            ACK => "ACK",
            COMMIT => "COMMIT",
            PING => "PING",
            REVALIDATE => "REVALIDATE",
            SYNC => "SYNC",
            INFORM => "INFORM",
            COMMITANDACTIVATE => "COMMITANDACTIVATE",
            NEWLEADER => "NEWLEADER",
            FOLLOWERINFO => "FOLLOWERINFO",
            UPTODATE => "UPTODATE",
            DIFF => "DIFF",
            TRUNC => "TRUNC",
            SNAP => "SNAP",
            OBSERVERINFO => "OBSERVERINFO",
            LEADERINFO => "LEADERINFO",
            ACKEPOCH => "ACKEPOCH",
            INFORMANDACTIVATE => "INFORMANDACTIVATE",
            _ => "UNKNOWN",
        }
    }
}
