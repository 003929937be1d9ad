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
pub const PROTOCOL: &str = "ferrokeeper-peer";
/// What releases before version negotiation sent as their protocol: version 1, whose
/// Hello named no versions and got no answer.
pub const PROTOCOL_V1: &str = "ferrokeeper-peer/1";

/// The quorum-port protocol versions this build speaks. A release that adds a peer
/// message or a log entry kind raises `max` (and keeps speaking the versions before it
/// for a while, so members can be upgraded one at a time); one that drops an old
/// version raises `min`.
pub const VERSIONS: Versions = Versions { min: 2, max: 2 };

/// Makes this server claim other versions than [`VERSIONS`], to act as another release
/// in upgrade tests. Not for production: the claim changes what is negotiated, not
/// what this build can do.
pub const VERSIONS_ENV: &str = "FERROKEEPER_TEST_PEER_VERSIONS";

/// The versions this server offers: [`VERSIONS`], or what [`VERSIONS_ENV`] says.
/// Start-up calls it first, so a bad value stops the server there.
pub fn local_versions() -> Result<Versions, String> {
    static LOCAL: std::sync::OnceLock<Result<Versions, String>> = std::sync::OnceLock::new();
    LOCAL
        .get_or_init(|| match std::env::var(VERSIONS_ENV) {
            Err(std::env::VarError::NotPresent) => Ok(VERSIONS),
            Ok(text) => Versions::parse(&text).ok_or_else(|| {
                format!("{VERSIONS_ENV}={text}: not a range of versions such as 2-3")
            }),
            Err(e) => Err(format!("{VERSIONS_ENV}: {e}")),
        })
        .clone()
}

/// A range of quorum-port protocol versions, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versions {
    pub min: u32,
    pub max: u32,
}

impl Versions {
    /// The highest version both ranges include, if they overlap.
    pub fn common(self, other: Versions) -> Option<u32> {
        let version = self.max.min(other.max);
        (version >= self.min.max(other.min)).then_some(version)
    }

    /// `min-max` (e.g. from `FERROKEEPER_PEER_PROTOCOL_VERSIONS`, which diagnostics
    /// and the upgrade tests use to act as another release).
    pub fn parse(text: &str) -> Option<Versions> {
        let (min, max) = text.trim().split_once('-')?;
        let versions = Versions {
            min: min.trim().parse().ok()?,
            max: max.trim().parse().ok()?,
        };
        (versions.min <= versions.max && versions.min > 0).then_some(versions)
    }
}

impl std::fmt::Display for Versions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{} to {}", self.min, self.max)
        }
    }
}

/// The first frame of a connection, from the connecting server.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: String,
    pub from: u64,
    pub to: u64,
    /// The versions the connecting server speaks (absent in version 1's Hello).
    pub versions: Versions,
}

/// The first three fields of every Hello, version 1's included.
#[derive(Deserialize)]
struct HelloHead {
    protocol: String,
    from: u64,
    to: u64,
}

impl Hello {
    /// Decodes a Hello frame; version 1's (no versions) reads as `1-1`.
    pub fn decode(frame: &[u8]) -> Result<Hello, postcard::Error> {
        let (head, rest) = postcard::take_from_bytes::<HelloHead>(frame)?;
        let versions = if rest.is_empty() {
            Versions { min: 1, max: 1 }
        } else {
            postcard::from_bytes(rest)?
        };
        Ok(Hello {
            protocol: head.protocol,
            from: head.from,
            to: head.to,
            versions,
        })
    }
}

/// The accepting server's answer to a Hello (from version 2 on).
#[derive(Debug, Serialize, Deserialize)]
pub enum HelloReply {
    /// Both speak this version from now on.
    Speak(u32),
    /// No version in common: the accepting server's own range.
    Refused(Versions),
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

/// Receives a connection's Hello, whatever its version.
pub async fn receive_hello(framed: &mut PeerFramed) -> Result<Hello, WireError> {
    let frame = framed.next().await.ok_or(WireError::Closed)??;
    Ok(Hello::decode(&frame)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_common_version_is_spoken() {
        let v = |min, max| Versions { min, max };
        assert_eq!(v(2, 2).common(v(2, 2)), Some(2));
        assert_eq!(v(2, 3).common(v(2, 2)), Some(2), "a newer member joins");
        assert_eq!(v(2, 2).common(v(2, 4)), Some(2));
        assert_eq!(v(3, 4).common(v(2, 5)), Some(4));
        assert_eq!(v(3, 3).common(v(2, 2)), None);
        assert_eq!(
            v(1, 1).common(VERSIONS),
            None,
            "version 1 is no longer spoken"
        );
        assert_eq!(Versions::parse("2-3"), Some(v(2, 3)));
        assert_eq!(Versions::parse(" 4 - 4 "), Some(v(4, 4)));
        assert_eq!(Versions::parse("3-2"), None);
        assert_eq!(Versions::parse("0-2"), None);
        assert_eq!(Versions::parse("2"), None);
    }

    #[test]
    fn a_version_1_hello_is_recognised() {
        #[derive(Serialize)]
        struct HelloV1<'a> {
            protocol: &'a str,
            from: u64,
            to: u64,
        }
        let old = postcard::to_allocvec(&HelloV1 {
            protocol: PROTOCOL_V1,
            from: 3,
            to: 1,
        })
        .expect("encode");
        let hello = Hello::decode(&old).expect("decode");
        assert_eq!(
            (hello.protocol.as_str(), hello.from, hello.to),
            (PROTOCOL_V1, 3, 1)
        );
        assert_eq!(hello.versions, Versions { min: 1, max: 1 });

        let new = postcard::to_allocvec(&Hello {
            protocol: PROTOCOL.into(),
            from: 2,
            to: 1,
            versions: Versions { min: 2, max: 5 },
        })
        .expect("encode");
        let hello = Hello::decode(&new).expect("decode");
        assert_eq!(hello.versions, Versions { min: 2, max: 5 });
        assert!(Hello::decode(&new[..3]).is_err());
    }
}
