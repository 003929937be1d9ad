//! One client connection: the handshake, then requests strictly in order. Writes are
//! submitted to the log without waiting for each other (the state machine answers
//! them in apply order); a read waits until this connection's earlier writes have
//! been applied, so replies keep the client's order (per-session FIFO).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{
    ConnectRequest, ConnectResponse, ErrorCode, FrameCodec, Id, Jute, OpCode, Request, RequestFrame,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{mpsc, watch};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use super::classify::{Action, classify};
use super::{Backend, Shared};
use crate::core::{Outgoing, ReadContext, now_ms};
use crate::proposal::{ConnId, Origin, Proposal};
use crate::session::session_password;
use crate::state::txn::{Entry, Txn};

/// Why a connection ended early (logged once, at debug or info).
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("client closed the connection")]
    Eof,
    #[error("bad frame: {0}")]
    BadFrame(String),
    #[error("{0}")]
    Refused(&'static str),
    #[error("the server cannot commit writes: {0}")]
    Unavailable(String),
    #[error("closed by the server")]
    Cancelled,
    #[error("the server is shutting down")]
    ShuttingDown,
}

struct Session {
    conn: ConnId,
    id: i64,
    auth: Vec<Id>,
    peer_ip: String,
    /// Writes submitted by this connection; `applied` counts those answered.
    submitted: u64,
    applied: watch::Receiver<u64>,
    /// The leadership under which the last write was submitted.
    leadership: (u64, Option<u64>),
}

/// Serves one accepted connection until it closes. `first` holds the four bytes
/// already read (not a four-letter word): the handshake frame's length.
pub async fn serve(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, first: [u8; 4]) {
    let conn = shared.core.next_conn_id();
    let span = tracing::debug_span!("conn", id = conn, %peer);
    let _enter = span.enter();
    let (mut read_half, write_half) = stream.into_split();

    let (outbox, rx) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let writer = tokio::spawn(write_loop(write_half, rx, cancel.clone()));

    let (outcome, read_half) = match read_handshake(&shared, &mut read_half, first).await {
        Ok(request) => {
            let mut frames =
                FramedRead::new(read_half, FrameCodec::new(shared.settings.max_frame_len));
            let outcome = run(&shared, conn, peer, request, &mut frames, outbox, &cancel).await;
            (outcome, frames.into_inner())
        }
        Err(e) => {
            drop(outbox);
            (Err(e), read_half)
        }
    };
    match &outcome {
        Ok(()) | Err(Closed::Eof) | Err(Closed::Cancelled) => tracing::debug!("connection closed"),
        Err(e) => tracing::info!(%peer, "closing connection: {e}"),
    }
    // Dropping the last senders lets the writer drain what is queued (a final error
    // reply, say) and then close the socket.
    shared.core.detach(conn);
    let _ = writer.await;
    if !matches!(outcome, Err(Closed::Eof)) {
        linger(read_half).await;
    }
}

/// After the server has closed its side, reads and discards what the client still
/// sends, briefly: closing a socket with unread data makes the kernel reset the
/// connection, and a reset can destroy replies the client has not read yet.
async fn linger(mut read_half: tokio::net::tcp::OwnedReadHalf) {
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = read_half.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// Reads the ConnectRequest whose length prefix is `first`. Checked by hand, not by the
/// frame codec: a client may send just a bad length and wait, and that must be refused
/// at once.
async fn read_handshake(
    shared: &Shared,
    read_half: &mut tokio::net::tcp::OwnedReadHalf,
    first: [u8; 4],
) -> Result<ConnectRequest, Closed> {
    let len = i32::from_be_bytes(first);
    let len = usize::try_from(len)
        .map_err(|_| Closed::BadFrame(format!("negative handshake length {len}")))?;
    if len > shared.settings.max_frame_len {
        return Err(Closed::BadFrame(format!(
            "handshake length {len} over the limit"
        )));
    }
    let mut body = vec![0u8; len];
    let limit = Duration::from_millis(shared.settings.max_session_timeout_ms.max(1000) as u64);
    tokio::time::timeout(limit, read_half.read_exact(&mut body))
        .await
        .map_err(|_| Closed::Refused("no handshake in time"))?
        .map_err(|_| Closed::Eof)?;
    ConnectRequest::decode(&mut Bytes::from(body)).map_err(|e| Closed::BadFrame(e.to_string()))
}

async fn write_loop(
    half: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    cancel: CancellationToken,
) {
    let mut sink = FramedWrite::new(half, RawFrames);
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            () = cancel.cancelled() => None,
        };
        let Some(first) = next else { break };
        let mut close = false;
        let mut pending = vec![first];
        // Batch whatever else is queued into one flush.
        while let Ok(more) = rx.try_recv() {
            pending.push(more);
        }
        for item in pending {
            match item {
                Outgoing::Frame(bytes) => {
                    if sink.feed(bytes).await.is_err() {
                        cancel.cancel();
                        return;
                    }
                }
                Outgoing::Close => {
                    close = true;
                    break;
                }
            }
        }
        if sink.flush().await.is_err() || close {
            break;
        }
    }
    let _ = sink.get_mut().shutdown().await;
    cancel.cancel();
}

/// Writes pre-encoded frames (they already carry their length prefix).
struct RawFrames;

impl tokio_util::codec::Encoder<Bytes> for RawFrames {
    type Error = std::io::Error;
    fn encode(&mut self, item: Bytes, dst: &mut bytes::BytesMut) -> Result<(), std::io::Error> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}

type Frames = FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec>;

async fn next_frame(
    frames: &mut Frames,
    cancel: &CancellationToken,
    shutdown: &CancellationToken,
) -> Result<Bytes, Closed> {
    tokio::select! {
        next = frames.next() => next,
        () = cancel.cancelled() => return Err(Closed::Cancelled),
        () = shutdown.cancelled() => return Err(Closed::ShuttingDown),
    }
    .ok_or(Closed::Eof)?
    .map_err(|e| Closed::BadFrame(e.to_string()))
}

fn send_frame(
    outbox: &mpsc::UnboundedSender<Outgoing>,
    frame: &impl ferrokeeper_protocol::EncodeFrame,
) {
    let mut buf = bytes::BytesMut::new();
    ferrokeeper_protocol::write_frame(frame, &mut buf);
    let _ = outbox.send(Outgoing::Frame(buf.freeze()));
}

async fn run(
    shared: &Arc<Shared>,
    conn: ConnId,
    peer: SocketAddr,
    request: ConnectRequest,
    frames: &mut Frames,
    outbox: mpsc::UnboundedSender<Outgoing>,
    cancel: &CancellationToken,
) -> Result<(), Closed> {
    let mut session = handshake(shared, conn, peer, request, &outbox).await?;
    loop {
        let payload = match next_frame(frames, cancel, &shared.shutdown).await {
            Err(Closed::ShuttingDown) => {
                // Answer what this connection already submitted, then close.
                let _ = tokio::time::timeout(Duration::from_secs(5), wait_for_writes(&mut session))
                    .await;
                return Ok(());
            }
            other => other?,
        };
        // The header alone says which request this is; count it before decoding the
        // body so that even a request we cannot serve is matched to its reply.
        let header = ferrokeeper_protocol::RequestHeader::decode(&mut payload.clone())
            .map_err(|e| Closed::BadFrame(e.to_string()))?;
        let opcode = OpCode::from_code(header.r#type);
        shared.core.received(conn, session.id, header.xid, opcode);
        let frame = match RequestFrame::decode(&mut payload.clone()) {
            Ok(frame) => frame,
            Err(e) if e.is_unknown_opcode() => {
                // ZooKeeper answers Unimplemented stamped with zxid -1, then closes.
                wait_for_writes(&mut session).await?;
                let reply = super::replies::error_reply(header.xid, -1, ErrorCode::Unimplemented);
                shared.core.send(conn, &reply);
                let _ = outbox.send(Outgoing::Close);
                return Err(Closed::Refused("unknown opcode"));
            }
            Err(e) => return Err(Closed::BadFrame(e.to_string())),
        };
        if !handle(shared, &mut session, &outbox, frame, &payload).await? {
            return Ok(());
        }
    }
}

/// Negotiates or resumes the session; sends the ConnectResponse.
async fn handshake(
    shared: &Arc<Shared>,
    conn: ConnId,
    peer: SocketAddr,
    request: ConnectRequest,
    outbox: &mpsc::UnboundedSender<Outgoing>,
) -> Result<Session, Closed> {
    let core = &shared.core;
    if request.last_zxid_seen > core.last_zxid() {
        // The client has seen a newer state than ours: say nothing, it tries another server.
        return Err(Closed::Refused(
            "client's last zxid is ahead of this server",
        ));
    }
    let settings = &shared.settings;
    let backend = shared.backend();
    let (session_id, timeout) = if request.session_id == 0 {
        let timeout = request.timeout.clamp(
            settings.min_session_timeout_ms,
            settings.max_session_timeout_ms,
        );
        let session_id = core.new_session_id();
        match &backend {
            Backend::Raft(replica) => {
                let proposal = Proposal {
                    origin: None,
                    ticket: None,
                    entry: Entry {
                        time_ms: now_ms(),
                        txn: Txn::CreateSession {
                            session_id,
                            timeout_ms: timeout,
                        },
                    },
                };
                replica
                    .write(proposal)
                    .await
                    .map_err(|e| Closed::Unavailable(e.to_string()))?;
            }
            Backend::Zab(link) => link
                .create_session(session_id, timeout, &ip_auth(peer))
                .await
                .map_err(Closed::Unavailable)?,
        }
        (session_id, timeout)
    } else {
        // ZooKeeper closes the session's current connection before it checks the
        // password, so even a failed resume moves the session off its old connection.
        core.close_session_connections(request.session_id);
        backend.announce_session_moved(request.session_id);
        let mut known = core.session_timeout(request.session_id);
        let password_ok = request.passwd.as_ref() == session_password(request.session_id);
        if let (Backend::Zab(link), true) = (&backend, password_ok) {
            // ZooKeeper's leader owns the session: ask it, as an observer does.
            let timeout = request.timeout.clamp(
                settings.min_session_timeout_ms,
                settings.max_session_timeout_ms,
            );
            let valid = link
                .revalidate(request.session_id, timeout)
                .await
                .map_err(Closed::Unavailable)?;
            known = valid.then_some(timeout);
        }
        match known {
            Some(timeout) if password_ok => (request.session_id, timeout),
            _ => {
                // Expired, unknown or wrong password: timeout 0 tells the client "expired".
                send_frame(
                    outbox,
                    &ConnectResponse {
                        protocol_version: 0,
                        timeout: 0,
                        session_id: 0,
                        passwd: Bytes::from_static(&[0; 16]),
                        read_only: request.read_only.map(|_| false),
                    },
                );
                let _ = outbox.send(Outgoing::Close);
                return Err(Closed::Refused("session expired or bad password"));
            }
        }
    };
    let auth = ip_auth(peer);
    let applied = core.attach(
        conn,
        session_id,
        outbox.clone(),
        peer.to_string(),
        auth.clone(),
    );
    send_frame(
        outbox,
        &ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id,
            passwd: Bytes::copy_from_slice(&session_password(session_id)),
            read_only: request.read_only.map(|_| false),
        },
    );
    let peer_ip = peer.ip().to_string();
    tracing::debug!(
        session = format!("0x{session_id:x}"),
        timeout,
        "session established"
    );
    Ok(Session {
        conn,
        id: session_id,
        auth: vec![Id {
            scheme: "ip".into(),
            id: peer_ip.clone(),
        }],
        peer_ip,
        submitted: 0,
        applied,
        leadership: (0, None),
    })
}

/// The id every connection has: its client's IP address.
fn ip_auth(peer: SocketAddr) -> Vec<Id> {
    vec![Id {
        scheme: "ip".into(),
        id: peer.ip().to_string(),
    }]
}

async fn wait_for_writes(session: &mut Session) -> Result<(), Closed> {
    let target = session.submitted;
    session
        .applied
        .wait_for(|applied| *applied >= target)
        .await
        .map(|_| ())
        .map_err(|_| Closed::Cancelled)
}

/// A write: proposed to our log, or forwarded to ZooKeeper's leader (`request` is the
/// client's frame, header included, sent on as it came).
async fn submit(
    shared: &Shared,
    session: &mut Session,
    xid: i32,
    kinds: Vec<OpCode>,
    txn: Txn,
    request: &Bytes,
) -> Result<(), Closed> {
    // A write must not overtake an earlier one of this connection that a leader
    // change may have dropped: with writes still in flight from another leadership,
    // end the connection instead (the client sees a connection loss, as in ZooKeeper).
    let backend = shared.backend();
    let leadership = backend.leadership();
    if session.submitted > *session.applied.borrow() && leadership != session.leadership {
        return Err(Closed::Unavailable(
            "the leader changed while writes were in flight".into(),
        ));
    }
    session.leadership = leadership;
    match &backend {
        Backend::Raft(replica) => {
            let proposal = Proposal {
                origin: Some(Origin {
                    server: shared.core.server_id(),
                    incarnation: shared.core.incarnation(),
                    conn: session.conn,
                    xid,
                    kinds: kinds.iter().map(|k| k.code()).collect(),
                }),
                ticket: None,
                entry: Entry {
                    time_ms: now_ms(),
                    txn,
                },
            };
            replica
                .submit(proposal)
                .await
                .map_err(|e| Closed::Unavailable(e.to_string()))?;
            shared.core.submitted(session.conn);
        }
        Backend::Zab(link) => {
            let (opcode, body) = split_request(request)?;
            shared
                .core
                .expect_forwarded(session.conn, session.id, xid, kinds);
            link.forward(session.id, xid, opcode, body, &session.auth)
                .map_err(Closed::Unavailable)?;
        }
    }
    session.submitted += 1;
    Ok(())
}

/// A request frame's opcode and the bytes after its header (xid, opcode).
fn split_request(request: &Bytes) -> Result<(i32, &[u8]), Closed> {
    let opcode = request
        .get(4..8)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| Closed::BadFrame("request shorter than its header".into()))?;
    Ok((opcode, &request[8..]))
}

/// Handles one request; `false` ends the connection.
async fn handle(
    shared: &Arc<Shared>,
    session: &mut Session,
    outbox: &mpsc::UnboundedSender<Outgoing>,
    frame: RequestFrame,
    payload: &Bytes,
) -> Result<bool, Closed> {
    let xid = frame.header.xid;
    match classify(frame.request) {
        Action::Write { op, kinds } => {
            let txn = Txn::Write {
                session_id: session.id,
                auth: session.auth.clone(),
                op,
            };
            submit(shared, session, xid, kinds, txn, payload).await?;
        }
        Action::DeleteContainer { path } => {
            submit(
                shared,
                session,
                xid,
                vec![OpCode::DeleteContainer],
                Txn::DeleteContainer { path },
                payload,
            )
            .await?;
        }
        Action::CloseSession => {
            submit(
                shared,
                session,
                xid,
                vec![OpCode::CloseSession],
                Txn::CloseSession {
                    session_id: session.id,
                },
                payload,
            )
            .await?;
            // The state machine answers and then closes every connection of the session.
            wait_for_writes(session).await?;
            return Ok(false);
        }
        Action::Reject(code) => {
            wait_for_writes(session).await?;
            shared.core.send_error(session.conn, xid, code);
        }
        Action::Read(Request::Auth(packet)) => {
            wait_for_writes(session).await?;
            let ids = super::auth::authenticate(&packet, &session.peer_ip, &shared.settings.auth);
            let code = if ids.is_some() {
                ErrorCode::Ok
            } else {
                ErrorCode::AuthFailed
            };
            if let Some(ids) = ids {
                for id in ids {
                    super::auth::add_id(&mut session.auth, id);
                }
                shared.core.set_auth(session.conn, session.auth.clone());
            }
            // ZooKeeper answers with the request's xid (−4 from its own clients) and zxid 0.
            shared
                .core
                .send(session.conn, &super::replies::error_reply(xid, 0, code));
            if code == ErrorCode::AuthFailed {
                shared
                    .core
                    .stats
                    .auth_failed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = outbox.send(Outgoing::Close);
                return Err(Closed::Refused("authentication failed"));
            }
        }
        Action::Read(request) => {
            wait_for_writes(session).await?;
            if matches!(request, Request::Sync(_)) {
                // Everything the leader committed before now must be applied here.
                match &shared.backend() {
                    Backend::Raft(replica) => replica
                        .sync()
                        .await
                        .map_err(|e| Closed::Unavailable(e.to_string()))?,
                    Backend::Zab(link) => {
                        let (_, body) = split_request(payload)?;
                        link.sync(session.id, xid, body, &session.auth)
                            .await
                            .map_err(Closed::Unavailable)?;
                    }
                }
            }
            let ctx = ReadContext {
                conn: session.conn,
                session: session.id,
                auth: session.auth.clone(),
            };
            shared.core.read(&ctx, xid, request);
        }
    }
    Ok(true)
}
