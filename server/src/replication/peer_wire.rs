//! What servers say to each other on the quorum port: openraft's RPCs and
//! ferrokeeper's own (forwarded writes, session activity, read-index, session moves,
//! leadership transfers asked of a follower). New kinds go at the end of each enum: postcard
//! numbers variants by position.
//!
//! A connection starts with a [`Hello`] naming both ends, then carries strictly
//! alternating requests and responses, each one length-prefixed postcard frame. One
//! request at a time per connection keeps the order of forwarded writes without
//! sequence numbers; the caller opens one connection per purpose.

use futures::{SinkExt, StreamExt};
use openraft::alias::{SnapshotMetaOf, VoteOf};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::types::TypeConfig;
use crate::proposal::Proposal;

/// The largest frame either side accepts. Snapshots travel in smaller chunks.
pub const MAX_FRAME: usize = 64 << 20;
/// Snapshot bytes per chunk.
pub const SNAPSHOT_CHUNK: usize = 4 << 20;
/// Names the protocol, so that a ZooKeeper server (or anything else) answering on a
/// configured quorum port is told apart from a ferrokeeper peer.
pub const PROTOCOL: &str = "ferrokeeper-peer/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: String,
    pub from: u64,
    pub to: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerRequest {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    /// One piece of a snapshot; the receiver installs it after the piece with `done`.
    SnapshotChunk {
        vote: VoteOf<TypeConfig>,
        meta: SnapshotMetaOf<TypeConfig>,
        offset: u64,
        data: Vec<u8>,
        done: bool,
    },
    /// Writes of a follower's clients, in their order, for the leader to propose.
    Forward(Vec<Proposal>),
    /// Sessions with client activity on the sender since its last report.
    Activity(Vec<i64>),
    /// The leader's commit index, confirmed by a quorum (for `sync`).
    ReadIndex,
    /// A client resumed this session on the sender: drop its connections here.
    SessionMoved {
        session: i64,
    },
    /// Quorum SASL (DIGEST-MD5): the connecting server's next token, right after the
    /// Hello (the first one empty).
    Sasl(Vec<u8>),
    /// openraft's leadership hand-over from the current leader to the voters.
    TransferLeader(TransferLeaderRequest<TypeConfig>),
    /// An operator asked the sender (a follower) to move leadership to `to`, or to the
    /// most caught-up voter; the leader answers once the target leads.
    TransferLeadership {
        to: Option<u64>,
    },
    /// A client's reconfig, received by the sender (a follower), for the leader to run.
    Reconfig(Box<super::reconfig::ReconfigCall>),
}

#[derive(Debug, Serialize, Deserialize)]
pub enum PeerResponse {
    Append(Result<AppendEntriesResponse<TypeConfig>, String>),
    Vote(Result<VoteResponse<TypeConfig>, String>),
    /// `None` after a chunk that was not the last.
    Snapshot(Result<Option<SnapshotResponse<TypeConfig>>, String>),
    Forwarded(Result<(), ForwardRefused>),
    ReadIndex(Result<u64, String>),
    /// Answer to an activity report: whether the leader serves (has its quorum).
    Leader {
        serving: bool,
    },
    Ack,
    /// The accepting server's next SASL token (`done`: it has authenticated the
    /// connecting one and this is its proof of knowing the password too), or why not.
    Sasl(Result<SaslReply, SaslRefused>),
    TransferLeader(Result<TransferLeaderResponse<TypeConfig>, String>),
    /// The new leader's id, or why leadership did not move.
    TransferLeadership(Result<u64, super::transfer::TransferError>),
    /// The leader proposed the reconfig's outcome, or why it could not run it.
    Reconfig(Result<(), String>),
}

/// Why the accepting server did not go on with a SASL exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum SaslRefused {
    #[error("quorum SASL is off on that server")]
    Off,
    #[error("authentication failed")]
    Failed,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct SaslReply {
    pub token: Vec<u8>,
    pub done: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum ForwardRefused {
    #[error("server {me} is not the leader (leader: {leader:?})")]
    NotLeader { me: u64, leader: Option<u64> },
    #[error("the leader cannot accept writes: {0}")]
    Failed(String),
}

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("peer i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("undecodable peer frame: {0}")]
    Decode(#[from] postcard::Error),
    #[error("the peer closed the connection")]
    Closed,
}

/// A peer connection's byte stream: TCP, or TLS over TCP (`sslQuorum`).
pub trait PeerIo: AsyncRead + AsyncWrite + Unpin + Send + Sync {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + Sync> PeerIo for T {}

pub type PeerFramed = Framed<Box<dyn PeerIo>, LengthDelimitedCodec>;

/// Frames `stream` (whose TCP socket should have Nagle off).
pub fn framed(stream: Box<dyn PeerIo>) -> PeerFramed {
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec();
    Framed::new(stream, codec)
}

pub async fn send<T: Serialize>(framed: &mut PeerFramed, message: &T) -> Result<(), WireError> {
    let bytes = postcard::to_allocvec(message)?;
    framed.send(bytes::Bytes::from(bytes)).await?;
    Ok(())
}

pub async fn receive<T: DeserializeOwned>(framed: &mut PeerFramed) -> Result<T, WireError> {
    let frame = framed.next().await.ok_or(WireError::Closed)??;
    Ok(postcard::from_bytes(&frame)?)
}
