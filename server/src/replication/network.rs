//! openraft's view of the peers: each RPC is one request on a [`PeerConn`]. Peer
//! addresses come from the [`AddressBook`] (this server's own `server.N` lines, and the
//! members a reconfig added), not from the node records of the Raft membership, so
//! every member initialises with an identical membership and a test can route one
//! server's view of a peer through a proxy.

use openraft::alias::{SnapshotOf, VoteOf};
use openraft::error::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, v2::RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode};

use super::address_book::AddressBook;
use super::peer_client::PeerConn;
use super::peer_wire::{PeerRequest, PeerResponse, SNAPSHOT_CHUNK};
use super::types::TypeConfig;

#[derive(Clone)]
pub struct Peers {
    pub me: u64,
    /// Quorum address (`host:port`) of every other member.
    pub addrs: AddressBook,
}

pub struct PeerClient {
    conn: Option<PeerConn>,
    target: u64,
}

fn unreachable(e: impl std::fmt::Display) -> Unreachable<TypeConfig> {
    Unreachable::new(&AnyError::error(e.to_string()))
}

impl RaftNetworkFactory<TypeConfig> for Peers {
    type Network = PeerClient;

    async fn new_client(&mut self, target: u64, _node: &BasicNode) -> PeerClient {
        PeerClient {
            conn: self
                .addrs
                .get(target)
                .map(|addr| PeerConn::new(self.me, target, addr)),
            target,
        }
    }
}

impl PeerClient {
    async fn call(
        &mut self,
        request: &PeerRequest,
        ttl: std::time::Duration,
    ) -> Result<PeerResponse, Unreachable<TypeConfig>> {
        let target = self.target;
        let conn = self.conn.as_mut().ok_or_else(|| {
            unreachable(format!(
                "server {target} is not in this server's configuration"
            ))
        })?;
        conn.call(request, ttl).await.map_err(unreachable)
    }
}

/// The peer answered with an error of its own (openraft's warnings about failed RPCs
/// are filtered out by default, and `peer_client` logs only a link's ups and downs:
/// this one is said here).
fn refused(target: u64, e: String) -> Unreachable<TypeConfig> {
    tracing::warn!(peer = target, "server {target} refused a Raft request: {e}");
    unreachable(e)
}

fn unexpected(response: PeerResponse) -> Unreachable<TypeConfig> {
    unreachable(format!("unexpected peer response {response:?}"))
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = super::snapshot_data::SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&PeerRequest::Append(rpc), option.hard_ttl())
            .await?
        {
            PeerResponse::Append(Ok(response)) => Ok(response),
            PeerResponse::Append(Err(e)) => Err(RPCError::Unreachable(refused(self.target, e))),
            other => Err(RPCError::Unreachable(unexpected(other))),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&PeerRequest::Vote(rpc), option.hard_ttl())
            .await?
        {
            PeerResponse::Vote(Ok(response)) => Ok(response),
            PeerResponse::Vote(Err(e)) => Err(RPCError::Unreachable(refused(self.target, e))),
            other => Err(RPCError::Unreachable(unexpected(other))),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&PeerRequest::PreVote(rpc), option.hard_ttl())
            .await?
        {
            PeerResponse::Vote(Ok(response)) => Ok(response),
            PeerResponse::Vote(Err(e)) => Err(RPCError::Unreachable(refused(self.target, e))),
            other => Err(RPCError::Unreachable(unexpected(other))),
        }
    }

    /// Without this the voters would learn of a hand-over only when the old leader's
    /// lease ran out, costing the election timeout the transfer is meant to avoid.
    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(&PeerRequest::TransferLeader(req), option.hard_ttl())
            .await?
        {
            PeerResponse::TransferLeader(Ok(response)) => Ok(response),
            PeerResponse::TransferLeader(Err(e)) => {
                Err(RPCError::Unreachable(refused(self.target, e)))
            }
            other => Err(RPCError::Unreachable(unexpected(other))),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Self::SnapshotData>,
        cancel: impl std::future::Future<Output = ReplicationClosed> + openraft::OptionalSend + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let data = snapshot.snapshot;
        let total = data.len();
        // The last chunk waits for the install (fsync, decode): far longer than a heartbeat.
        let ttl = option.hard_ttl().max(std::time::Duration::from_secs(120));
        let send = async {
            let mut offset = 0u64;
            loop {
                // One chunk at a time is read from the snapshot's file: the state is
                // never held whole on this side.
                let source = data.clone();
                let chunk =
                    crate::simulation::blocking(move || source.chunk(offset, SNAPSHOT_CHUNK))
                        .await
                        .and_then(|read| read)
                        .map_err(|e| unreachable(format!("reading the snapshot to send: {e}")))?;
                let end = offset + chunk.len() as u64;
                let done = end >= total;
                if chunk.is_empty() && !done {
                    return Err(unreachable("the snapshot's file ended early"));
                }
                let request = PeerRequest::SnapshotChunk {
                    vote,
                    meta: snapshot.meta.clone(),
                    offset,
                    data: chunk,
                    done,
                };
                match self.call(&request, ttl).await? {
                    PeerResponse::Snapshot(Ok(Some(response))) if done => return Ok(response),
                    PeerResponse::Snapshot(Ok(None)) if !done => {}
                    PeerResponse::Snapshot(Err(e)) => return Err(refused(self.target, e)),
                    other => return Err(unexpected(other)),
                }
                offset = end;
            }
        };
        tokio::select! {
            result = send => result.map_err(StreamingError::Unreachable),
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }
}
