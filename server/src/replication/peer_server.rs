//! The quorum port: accepts peers' connections and answers their requests, one at a
//! time per connection, in order (forwarded writes keep their order this way).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use openraft::alias::SnapshotOf;
use openraft::async_runtime::WatchReceiver;
use openraft::raft::ReadPolicy;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::PeerHooks;
use super::contact::Contact;
use super::peer_wire::{
    self, ForwardRefused, Hello, HelloReply, PeerFramed, PeerIo, PeerRequest, PeerResponse,
    SaslRefused, SaslReply, WireError,
};
use super::types::{Raft, TypeConfig};
use rustls::pki_types::CertificateDer;

#[derive(Clone)]
pub struct PeerService {
    pub me: u64,
    pub raft: Raft,
    pub hooks: Arc<dyn PeerHooks>,
    pub contact: Arc<Contact>,
    /// Notices a leader whose process is gone, from its closed connections.
    pub crash_watch: Arc<super::crash_watch::CrashWatch>,
    pub role: tokio::sync::watch::Receiver<super::Role>,
    /// `sslQuorum`/`portUnification`: TLS on this port.
    pub tls: Option<Arc<crate::tls::peer::PeerTls>>,
    /// Every other member's `server.N` address: a TLS peer's certificate must name the
    /// host of the member it says it is.
    pub peer_addrs: super::address_book::AddressBook,
    /// `quorum.auth.enableSasl`: peers may (or must) authenticate.
    pub sasl: Option<Arc<crate::config::QuorumSasl>>,
    /// Leadership transfers a follower forwards here.
    pub transfers: super::transfer::Transfers,
    /// Reconfigs a follower forwards here (run if this server leads).
    pub reconfigurer: Arc<super::reconfig::Reconfigurer>,
    /// Where a snapshot sent by the leader is received (`dataDir`'s snapshots).
    pub snapshot_dir: std::path::PathBuf,
}

/// How long a peer connection may stay silent before it is dropped.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long a new connection may take to say who it is.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where peers' connections come from: the quorum port, or the simulated network.
pub enum PeerListener {
    Tcp(TcpListener),
    Simulated(tokio::sync::mpsc::UnboundedReceiver<Box<dyn PeerIo>>),
}

/// One accepted connection, before TLS.
enum Accepted {
    Tcp(TcpStream),
    Simulated(Box<dyn PeerIo>),
}

impl PeerListener {
    async fn accept(&mut self) -> std::io::Result<(Accepted, String)> {
        match self {
            PeerListener::Tcp(listener) => {
                let (stream, addr) = listener.accept().await?;
                Ok((Accepted::Tcp(stream), addr.to_string()))
            }
            PeerListener::Simulated(rx) => match rx.recv().await {
                Some(stream) => Ok((Accepted::Simulated(stream), "simulated".into())),
                // The simulation dropped this member's port: it is shutting down.
                None => std::future::pending().await,
            },
        }
    }
}

pub async fn serve_peers(
    service: PeerService,
    mut listener: PeerListener,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        match accepted {
            Ok((stream, addr)) => {
                let service = service.clone();
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        result = serve_one(&service, stream) => {
                            if let Err(e) = result {
                                tracing::debug!(%addr, "peer connection closed: {e}");
                            }
                        }
                        () = stop.cancelled() => {}
                    }
                });
            }
            Err(e) => {
                tracing::warn!("quorum port accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Names a snapshot by the last entry it covers.
fn snapshot_id(meta: &openraft::alias::SnapshotMetaOf<TypeConfig>) -> String {
    format!("{:?}", meta.last_log_id)
}

/// A snapshot being received, chunk by chunk, into a file of its own: at a million
/// znodes the state is hundreds of megabytes, which a follower used to hold in memory
/// while the leader sent it. The file is unlinked as soon as it is created, so nothing
/// is left behind by a crash or an abandoned transfer; the handle keeps it readable
/// until the state is copied into a snapshot file and decoded.
struct Incoming {
    snapshot_id: String,
    file: Arc<std::fs::File>,
    len: u64,
}

/// Opens an anonymous file in `dir` for a snapshot being received.
fn receiving_file(dir: &std::path::Path, from: u64) -> std::io::Result<std::fs::File> {
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join(format!("receiving-from-{from}-{nanos}.part"));
    let file = std::fs::File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

/// The first byte of a TLS handshake record; our plain Hello frame starts with its
/// length, whose first byte is 0.
const TLS_HANDSHAKE: u8 = 0x16;

/// Completes TLS on a new peer connection as the configuration asks: TLS only, or (with
/// `portUnification`) TLS or plain by the first byte. The certificate chain the peer
/// presented comes back with the stream.
async fn secure(
    service: &PeerService,
    stream: Accepted,
) -> Result<(Box<dyn PeerIo>, Option<Vec<CertificateDer<'static>>>), WireError> {
    let stream = match stream {
        Accepted::Tcp(stream) => stream,
        Accepted::Simulated(stream) => return Ok((stream, None)),
    };
    let _ = stream.set_nodelay(true);
    let Some(tls) = &service.tls else {
        return Ok((Box::new(stream), None));
    };
    if tls.accepts_plain() {
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(HELLO_TIMEOUT, stream.peek(&mut first))
            .await
            .map_err(|_| WireError::Closed)??;
        if peeked == 0 {
            return Err(WireError::Closed);
        }
        if first[0] != TLS_HANDSHAKE {
            return Ok((Box::new(stream), None));
        }
    }
    let stream = tokio::time::timeout(HELLO_TIMEOUT, tls.acceptor().accept(stream))
        .await
        .map_err(|_| WireError::Closed)?
        .map_err(|e| {
            tracing::warn!("refusing a peer whose TLS handshake failed: {e}");
            WireError::Io(e)
        })?;
    let chain = stream
        .get_ref()
        .1
        .peer_certificates()
        .map(|c| c.iter().map(|c| c.clone().into_owned()).collect());
    Ok((Box::new(stream), chain))
}

async fn serve_one(service: &PeerService, stream: Accepted) -> Result<(), WireError> {
    let (stream, chain) = secure(service, stream).await?;
    let mut framed = peer_wire::framed(stream);
    let hello: Hello = tokio::time::timeout(HELLO_TIMEOUT, peer_wire::receive_hello(&mut framed))
        .await
        .map_err(|_| WireError::Closed)??;
    if let (Some(tls), Some(chain)) = (&service.tls, &chain) {
        let addr = service.peer_addrs.get(hello.from);
        let host = addr.as_ref().map(super::PeerAddr::host);
        if !host.is_some_and(|host| tls.peer_is(Some(chain), host)) {
            tracing::warn!(
                from = hello.from,
                host = host.unwrap_or("(no server line)"),
                "refusing a peer whose certificate does not name the host of the server it \
                 claims to be (ssl.quorum.hostnameVerification)"
            );
            return Ok(());
        }
    }
    let local = peer_wire::local_versions().map_err(|e| WireError::Io(std::io::Error::other(e)))?;
    if hello.protocol == peer_wire::PROTOCOL_V1 {
        if !first_refusal(service.me, hello.from, hello.versions) {
            return Ok(());
        }
        tracing::warn!(
            from = hello.from,
            "refusing server {}: it runs a ferrokeeper release that speaks version 1 of the \
             quorum protocol, which this one (versions {local}) cannot mix with; upgrade it",
            hello.from
        );
        return Ok(());
    }
    if hello.protocol != peer_wire::PROTOCOL || hello.to != service.me {
        tracing::warn!(
            from = hello.from,
            to = hello.to,
            protocol = hello.protocol,
            "refusing a peer connection meant for another server or protocol; check the server.N lines"
        );
        return Ok(());
    }
    let Some(version) = local.common(hello.versions) else {
        if first_refusal(service.me, hello.from, hello.versions) {
            tracing::warn!(
                from = hello.from,
                "refusing server {}: it speaks quorum protocol versions {}, this server \
                 {local}, with none in common; upgrade through a release that speaks both",
                hello.from,
                hello.versions
            );
        }
        peer_wire::send(&mut framed, &HelloReply::Refused(local)).await?;
        return Ok(());
    };
    peer_wire::send(&mut framed, &HelloReply::Speak(version)).await?;
    let mut leader_stream = false;
    let served = serve_requests(service, hello.from, &mut framed, &mut leader_stream).await;
    if leader_stream && served.is_err() {
        service.crash_watch.leader_stream_ended(hello.from);
    }
    served
}

/// Answers `from`'s requests until the connection ends; `leader_stream` is set once it
/// carried an AppendEntries this server accepted (the leader's replication stream).
async fn serve_requests(
    service: &PeerService,
    from: u64,
    framed: &mut PeerFramed,
    leader_stream: &mut bool,
) -> Result<(), WireError> {
    let mut incoming: Option<Incoming> = None;
    let mut sasl = QuorumSaslState::default();
    loop {
        // A peer cut off by a silent partition never closes its end; an idle connection
        // is dropped (its owner opens a new one on its next call).
        let request: PeerRequest = tokio::time::timeout(IDLE_TIMEOUT, peer_wire::receive(framed))
            .await
            .map_err(|_| WireError::Closed)??;
        if let PeerRequest::Sasl(token) = request {
            let (response, go_on) = sasl.step(service, from, &token);
            respond(framed, &response).await?;
            if !go_on {
                return Ok(());
            }
            continue;
        }
        if service.sasl.as_ref().is_some_and(|s| s.server_require) && !sasl.authenticated {
            tracing::warn!(
                from,
                "refusing a peer that did not authenticate (quorum.auth.serverRequireSasl)"
            );
            return Ok(());
        }
        let response = handle(service, from, request, &mut incoming).await;
        if let PeerResponse::Append(Ok(accepted)) = &response
            && accepted.is_success()
        {
            *leader_stream = true;
        }
        respond(framed, &response).await?;
    }
}

/// How many refused (peer, range) pairs are remembered. Anyone who reaches the quorum
/// port can name any id and range, so the memory is bounded: when full it starts over
/// (the log then says it again, once per pair).
const REFUSALS_KEPT: usize = 256;

/// Whether this is the first refusal of `from` speaking `versions` (it retries at every
/// heartbeat: the log says it once per peer and range).
fn first_refusal(me: u64, from: u64, versions: peer_wire::Versions) -> bool {
    static TOLD: std::sync::Mutex<BTreeSet<(u64, u64, u32, u32)>> =
        std::sync::Mutex::new(BTreeSet::new());
    let mut told = TOLD.lock().unwrap_or_else(|p| p.into_inner());
    if told.len() >= REFUSALS_KEPT {
        told.clear();
    }
    told.insert((me, from, versions.min, versions.max))
}

/// One connection's quorum SASL exchange, as the accepting side.
#[derive(Default)]
struct QuorumSaslState {
    exchange: Option<crate::sasl::DigestMd5Server>,
    authenticated: bool,
}

impl QuorumSaslState {
    /// Answers one token; false: the exchange failed and the connection ends.
    fn step(&mut self, service: &PeerService, from: u64, token: &[u8]) -> (PeerResponse, bool) {
        use crate::sasl::{DigestMd5Server, Step};
        let Some(config) = &service.sasl else {
            return (PeerResponse::Sasl(Err(SaslRefused::Off)), true);
        };
        let exchange = self
            .exchange
            .get_or_insert_with(|| DigestMd5Server::new(config.server_users.clone()));
        match exchange.step(token) {
            Ok(Step::Challenge(token)) => (
                PeerResponse::Sasl(Ok(SaslReply { token, done: false })),
                true,
            ),
            Ok(Step::Done {
                token,
                authentication_id,
                ..
            }) => {
                tracing::info!(
                    from,
                    user = authentication_id,
                    "peer authenticated (quorum SASL)"
                );
                self.authenticated = true;
                crate::metrics::count(|m| &m.ensemble_auth_success);
                (
                    PeerResponse::Sasl(Ok(SaslReply { token, done: true })),
                    true,
                )
            }
            Err(e) => {
                tracing::warn!(from, "refusing a peer whose quorum SASL failed: {e}");
                crate::metrics::count(|m| &m.ensemble_auth_fail);
                (PeerResponse::Sasl(Err(SaslRefused::Failed)), false)
            }
        }
    }
}

async fn respond(framed: &mut PeerFramed, response: &PeerResponse) -> Result<(), WireError> {
    peer_wire::send(framed, response).await
}

async fn handle(
    service: &PeerService,
    from: u64,
    request: PeerRequest,
    incoming: &mut Option<Incoming>,
) -> PeerResponse {
    let raft = &service.raft;
    match request {
        PeerRequest::Append(rpc) => {
            let leader = rpc.vote.leader_id().node_id;
            let result = raft.append_entries(rpc).await.map_err(|e| e.to_string());
            if let Ok(response) = &result
                && response.is_success()
            {
                service.contact.heard_from_leader(leader);
            }
            PeerResponse::Append(result)
        }
        PeerRequest::Vote(mut rpc) => {
            // A leader whose process is gone holds no lease (crash_watch).
            if !rpc.leadership_transfer
                && service
                    .crash_watch
                    .lease_void_for(rpc.vote.leader_id().node_id)
                    .await
            {
                rpc.leadership_transfer = true;
            }
            PeerResponse::Vote(raft.vote(rpc).await.map_err(|e| e.to_string()))
        }
        PeerRequest::PreVote(rpc) => {
            PeerResponse::Vote(raft.pre_vote(rpc).await.map_err(|e| e.to_string()))
        }
        PeerRequest::SnapshotChunk {
            vote,
            meta,
            offset,
            data,
            done,
        } => {
            let fresh = offset == 0
                || incoming
                    .as_ref()
                    .is_none_or(|i| i.snapshot_id != snapshot_id(&meta));
            if fresh {
                if offset != 0 {
                    return PeerResponse::Snapshot(Err(format!(
                        "snapshot {} chunk at offset {offset} without its start",
                        snapshot_id(&meta)
                    )));
                }
                let dir = service.snapshot_dir.clone();
                let file = match crate::simulation::blocking(move || receiving_file(&dir, from))
                    .await
                    .and_then(|opened| opened)
                {
                    Ok(file) => file,
                    Err(e) => {
                        return PeerResponse::Snapshot(Err(format!(
                            "cannot store the snapshot being received in {}: {e}",
                            service.snapshot_dir.display()
                        )));
                    }
                };
                *incoming = Some(Incoming {
                    snapshot_id: snapshot_id(&meta),
                    file: Arc::new(file),
                    len: 0,
                });
            }
            let Some(receiving) = incoming.as_mut() else {
                return PeerResponse::Snapshot(Err("no snapshot in progress".into()));
            };
            if receiving.len != offset {
                return PeerResponse::Snapshot(Err(format!(
                    "snapshot chunk at offset {offset}, expected {}",
                    receiving.len
                )));
            }
            let file = Arc::clone(&receiving.file);
            let chunk_len = data.len() as u64;
            let written = crate::simulation::blocking(move || {
                use std::os::unix::fs::FileExt;
                file.write_all_at(&data, offset)
            })
            .await
            .and_then(|written| written);
            if let Err(e) = written {
                *incoming = None;
                return PeerResponse::Snapshot(Err(format!(
                    "cannot store the snapshot being received: {e}"
                )));
            }
            receiving.len += chunk_len;
            if !done {
                return PeerResponse::Snapshot(Ok(None));
            }
            let Some(whole) = incoming.take() else {
                return PeerResponse::Snapshot(Err("no snapshot in progress".into()));
            };
            tracing::info!(
                from,
                bytes = whole.len,
                snapshot = snapshot_id(&meta),
                "installing a snapshot from the leader"
            );
            let snapshot = SnapshotOf::<TypeConfig, super::snapshot_data::SnapshotData> {
                meta,
                snapshot: super::snapshot_data::SnapshotData::File(
                    super::snapshot_data::Section::shared(whole.file, 0, whole.len),
                ),
            };
            PeerResponse::Snapshot(
                raft.install_full_snapshot(vote, snapshot)
                    .await
                    .map(Some)
                    .map_err(|e| e.to_string()),
            )
        }
        PeerRequest::Forward(proposals) => {
            PeerResponse::Forwarded(forward(service, proposals).await)
        }
        PeerRequest::Activity(sessions) => {
            service.hooks.touch_sessions(&sessions);
            PeerResponse::Leader {
                serving: *service.role.borrow() == super::Role::Leader,
            }
        }
        PeerRequest::ReadIndex => PeerResponse::ReadIndex(
            match raft.get_read_linearizer(ReadPolicy::ReadIndex).await {
                Ok(linearizer) => Ok(linearizer.read_log_id().index()),
                Err(e) => Err(e.to_string()),
            },
        ),
        PeerRequest::SessionMoved { session } => {
            service.hooks.session_moved(session);
            PeerResponse::Ack
        }
        PeerRequest::TransferLeader(rpc) => PeerResponse::TransferLeader(
            raft.handle_transfer_leader(rpc)
                .await
                .map_err(|e| e.to_string()),
        ),
        PeerRequest::TransferLeadership { to } => {
            tracing::info!(from, to = ?to, "a follower asks to move leadership");
            PeerResponse::TransferLeadership(service.transfers.hand_over(to).await)
        }
        PeerRequest::Reconfig(call) => {
            let leader = service.raft.metrics().borrow_watched().current_leader;
            PeerResponse::Reconfig(if leader == Some(service.me) {
                tracing::info!(from, "a follower forwards a reconfig");
                service.reconfigurer.run(*call).await
            } else {
                Err(format!("server {} is not the leader", service.me))
            })
        }
        // Answered by the connection loop, before any request reaches here.
        PeerRequest::Sasl(_) => PeerResponse::Sasl(Err(SaslRefused::Failed)),
    }
}

async fn forward(
    service: &PeerService,
    proposals: Vec<crate::proposal::Proposal>,
) -> Result<(), ForwardRefused> {
    let leader = service.raft.metrics().borrow_watched().current_leader;
    if leader != Some(service.me) {
        return Err(ForwardRefused::NotLeader {
            me: service.me,
            leader,
        });
    }
    for proposal in proposals {
        crate::metrics::count(|m| &m.proposal_count);
        service
            .raft
            .client_write_ff(proposal, None)
            .await
            .map_err(|e| ForwardRefused::Failed(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{REFUSALS_KEPT, first_refusal};
    use crate::replication::peer_wire::Versions;

    #[test]
    fn refusals_are_logged_once_and_their_memory_is_bounded() {
        let v = |min, max| Versions { min, max };
        assert!(first_refusal(7, 3, v(3, 3)));
        assert!(!first_refusal(7, 3, v(3, 3)), "said twice");
        assert!(first_refusal(7, 3, v(3, 4)), "another range is news");
        // A peer naming ever new ids: the memory starts over instead of growing.
        for from in 0..REFUSALS_KEPT as u64 {
            first_refusal(8, from, v(9, 9));
        }
        assert!(
            first_refusal(7, 3, v(3, 3)),
            "forgotten once the memory was full"
        );
    }
}
