//! One client connection: the handshake, then requests strictly in order. What reaches
//! the ensemble (writes, new and resumed sessions, syncs) goes through
//! [`crate::dispatch`], which submits writes without waiting for each other (the core
//! answers them in apply order) and makes a read wait until this connection's earlier
//! writes have been applied, so replies keep the client's order (per-session FIFO).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{
    ConnectRequest, ConnectResponse, ErrorCode, FrameCodec, Id, Jute, OpCode, Request, RequestFrame,
};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::classify::{Action, classify};
use crate::core::{Limits, Outbox, OutboxReceiver, Outgoing, ReadContext};
use crate::dispatch::writes::{Write, Writer};
use crate::dispatch::{DispatchError, WriteOrder};
use crate::proposal::ConnId;
use crate::session::session_password;
use crate::state::txn::Txn;

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

struct ConnSession {
    conn: ConnId,
    id: i64,
    auth: Vec<Id>,
    peer_ip: String,
    /// This connection's writes in flight, and its ordering rules.
    writes: WriteOrder,
    /// This connection's SASL exchange, once the client started one.
    sasl: Option<crate::sasl::DigestMd5Server>,
    /// Served in read-only mode: reads only, writes and syncs answered NotReadOnly.
    read_only: bool,
}

impl From<DispatchError> for Closed {
    fn from(e: DispatchError) -> Closed {
        match e {
            DispatchError::Unavailable(why) => Closed::Unavailable(why),
            DispatchError::BadFrame(why) => Closed::BadFrame(why),
            DispatchError::Cancelled => Closed::Cancelled,
        }
    }
}

/// The client's side of a connection, plain or TLS.
pub type BoxRead = std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>;
/// The server's side of a connection, plain or TLS.
pub type BoxWrite = std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>;

/// Serves one accepted connection until it closes. `first` holds the four bytes
/// already read (not a four-letter word): the handshake frame's length. `tls_ids`: `None`
/// in plain text, else the ids the client's certificate gave over TLS (x509, perhaps
/// super; none without a certificate).
pub async fn serve(
    shared: Arc<Shared>,
    (mut read_half, write_half): (BoxRead, BoxWrite),
    peer: SocketAddr,
    first: [u8; 4],
    tls_ids: Option<Vec<Id>>,
) {
    let conn = shared.core.next_conn_id();
    let span = tracing::debug_span!("conn", id = conn, %peer);
    let _enter = span.enter();
    let mut ids = vec![Id {
        scheme: "ip".into(),
        id: peer.ip().to_string(),
    }];
    let transport = crate::core::Transport {
        tls: tls_ids.is_some(),
        client_certificate: tls_ids.as_ref().is_some_and(|ids| !ids.is_empty()),
    };
    for id in tls_ids.into_iter().flatten() {
        super::auth::add_id(&mut ids, id);
    }

    let (outbox, rx) = crate::core::outbox(Limits::for_max_frame(shared.settings.max_frame_len));
    let cancel = CancellationToken::new();
    let writer = tokio::spawn(write_loop(write_half, rx, cancel.clone()));

    let (outcome, read_half) = match read_handshake(&shared, &mut read_half, first).await {
        Ok(request) => {
            let mut frames = FramedRead::with_capacity(
                read_half,
                FrameCodec::new(shared.settings.max_frame_len),
                READ_BUFFER,
            );
            let outcome = run(
                &shared,
                (conn, peer, &ids, transport),
                request,
                &mut frames,
                outbox,
                &cancel,
            )
            .await;
            (outcome, frames.into_inner())
        }
        Err(e) => {
            drop(outbox);
            if !matches!(e, Closed::Cancelled | Closed::ShuttingDown) {
                crate::metrics::count(|m| &m.unsuccessful_handshake);
            }
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
async fn linger(mut read_half: BoxRead) {
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
    read_half: &mut BoxRead,
    first: [u8; 4],
) -> Result<ConnectRequest, Closed> {
    let len = i32::from_be_bytes(first);
    let len = usize::try_from(len)
        .map_err(|_| Closed::BadFrame(format!("negative handshake length {len}")))?;
    if len > shared.settings.max_frame_len {
        crate::metrics::count(|m| &m.large_requests_rejected);
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
    crate::metrics::global()
        .bytes_received_count
        .fetch_add(len as u64 + 4, std::sync::atomic::Ordering::Relaxed);
    ConnectRequest::decode(&mut Bytes::from(body)).map_err(|e| Closed::BadFrame(e.to_string()))
}

/// A connection's read and write buffers start this small and grow while it is busy
/// (tokio-util's default of 8 KiB each made an idle session cost about 25 KB, against
/// ZooKeeper's 16 KB; 10,000 sessions are a common fleet).
const READ_BUFFER: usize = 512;
const WRITE_BUFFER: usize = 512;
/// How much a batch of replies is buffered before it is written.
const WRITE_BATCH: usize = 8 * 1024;

async fn write_loop(half: BoxWrite, mut rx: OutboxReceiver, cancel: CancellationToken) {
    let mut sink = FramedWrite::with_capacity(half, RawFrames, WRITE_BUFFER);
    // Batches are still written out in pieces of this size, as with the default buffer.
    sink.set_backpressure_boundary(WRITE_BATCH);
    loop {
        let next = tokio::select! {
            next = rx.recv() => next,
            () = cancel.cancelled() => None,
        };
        let Some(first) = next else { break };
        let mut close = false;
        let mut pending = vec![first];
        // Batch whatever else is queued into one flush.
        while let Some(more) = rx.try_recv() {
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

type Frames = FramedRead<BoxRead, FrameCodec>;

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
    .inspect(|frame| {
        // The frame and its 4-byte length prefix.
        crate::metrics::global()
            .bytes_received_count
            .fetch_add(frame.len() as u64 + 4, std::sync::atomic::Ordering::Relaxed);
    })
    .map_err(|e| {
        if matches!(e, ferrokeeper_protocol::FrameError::TooLong { .. }) {
            crate::metrics::count(|m| &m.large_requests_rejected);
        }
        Closed::BadFrame(e.to_string())
    })
}

fn send_frame(outbox: &Outbox, frame: &impl ferrokeeper_protocol::EncodeFrame) {
    let mut buf = bytes::BytesMut::new();
    ferrokeeper_protocol::write_frame(frame, &mut buf);
    let _ = outbox.send(Outgoing::Frame(buf.freeze()));
}

/// This connection: its id, its client's address, and the ids it starts with.
type Client<'a> = (ConnId, SocketAddr, &'a [Id], crate::core::Transport);

async fn run(
    shared: &Arc<Shared>,
    client: Client<'_>,
    request: ConnectRequest,
    frames: &mut Frames,
    outbox: Outbox,
    cancel: &CancellationToken,
) -> Result<(), Closed> {
    let conn = client.0;
    let timeout_ms = request.timeout.clamp(
        shared.settings.min_session_timeout_ms,
        shared.settings.max_session_timeout_ms,
    );
    // Boxed: the handshake's state is not kept for the connection's whole life.
    let mut session = Box::pin(handshake(shared, client, request, &outbox)).await?;
    let _local = LocalSession {
        shared,
        id: session.id,
        timeout_ms,
    };
    loop {
        // A client that does not read its replies is not read from either, and no
        // client is while the server has globalOutstandingLimit writes in flight.
        // Checked without awaiting first: the request loop pays for the select only
        // when it must wait.
        let limit = shared.settings.global_outstanding_limit;
        if !outbox.has_room() || !shared.core.throttle.below(limit) {
            let room = async {
                outbox.wait_for_room().await;
                shared.core.throttle.wait_below(limit).await;
            };
            tokio::select! {
                () = room => {}
                () = cancel.cancelled() => return Err(Closed::Cancelled),
                () = shared.shutdown.cancelled() => return Ok(()),
            }
        }
        let payload = match next_frame(frames, cancel, &shared.shutdown).await {
            Err(Closed::ShuttingDown) => {
                // Answer what this connection already submitted, then close.
                let _ = tokio::time::timeout(Duration::from_secs(5), session.writes.wait_applied())
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
                session.writes.wait_applied().await?;
                let reply = crate::reply::error_reply(header.xid, -1, ErrorCode::Unimplemented);
                shared.core.send(conn, &reply);
                let _ = outbox.send(Outgoing::Close);
                return Err(Closed::Refused("unknown opcode"));
            }
            Err(e) => return Err(Closed::BadFrame(e.to_string())),
        };
        // Boxed: the request's future (8 KiB, as big as its rarest request) exists
        // only while the request is handled, not for the connection's whole life.
        if !Box::pin(handle(shared, &mut session, &outbox, frame, &payload)).await? {
            return Ok(());
        }
    }
}

/// A read-only session local to this server outlives its connection by its timeout.
struct LocalSession<'a> {
    shared: &'a Shared,
    id: i64,
    timeout_ms: i32,
}

impl Drop for LocalSession<'_> {
    fn drop(&mut self) {
        self.shared.read_only.disconnected(self.id, self.timeout_ms);
    }
}

/// Negotiates or resumes the session; sends the ConnectResponse.
async fn handshake(
    shared: &Arc<Shared>,
    (conn, peer, ids, transport): Client<'_>,
    request: ConnectRequest,
    outbox: &Outbox,
) -> Result<ConnSession, Closed> {
    let core = &shared.core;
    if request.last_zxid_seen > core.last_zxid() {
        // The client has seen a newer state than ours: say nothing, it tries another server.
        return Err(Closed::Refused(
            "client's last zxid is ahead of this server",
        ));
    }
    let settings = &shared.settings;
    let backend = shared.backend();
    let read_only = shared.serving_read_only();
    if read_only && request.read_only != Some(true) {
        // As ZooKeeper's read-only server: "Refusing session request for not-read-only
        // client"; the client tries another server.
        return Err(Closed::Refused(
            "no quorum, and the client did not ask for a read-only session",
        ));
    }
    let (session_id, timeout) = if request.session_id == 0 {
        let timeout = request.timeout.clamp(
            settings.min_session_timeout_ms,
            settings.max_session_timeout_ms,
        );
        let session_id = core.new_session_id();
        if read_only {
            // A local session: nothing can be replicated without a quorum.
            if !shared.read_only.open(session_id) {
                return Err(Closed::Refused("too many read-only sessions"));
            }
        } else {
            crate::dispatch::sessions::create(&backend, session_id, timeout, ids).await?;
        }
        (session_id, timeout)
    } else {
        // ZooKeeper closes the session's current connection before it checks the
        // password, so even a failed resume moves the session off its old connection.
        core.close_session_connections(request.session_id);
        if !read_only {
            backend.announce_session_moved(request.session_id);
        }
        let password_ok = request.passwd.as_ref() == session_password(request.session_id);
        let timeout = request.timeout.clamp(
            settings.min_session_timeout_ms,
            settings.max_session_timeout_ms,
        );
        let mut known = if read_only {
            core.session_timeout(request.session_id)
        } else if password_ok {
            crate::dispatch::sessions::resumable(core, &backend, request.session_id, timeout)
                .await?
        } else {
            None
        };
        if read_only {
            if known.is_some() {
                // As ZooKeeper's read-only server: "Refusing global session reconnection
                // in RO mode"; the client keeps its session for a server with a quorum.
                return Err(Closed::Refused(
                    "a replicated session cannot be resumed in read-only mode",
                ));
            }
            if password_ok && shared.read_only.resume(request.session_id) {
                // One of this server's local read-only sessions.
                known = Some(timeout);
            }
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
    let auth = ids.to_vec();
    let counts = core.attach(
        conn,
        session_id,
        outbox.clone(),
        (peer, transport),
        auth.clone(),
    );
    if read_only {
        core.mark_read_only(conn);
        if !shared.serving_read_only() {
            // The quorum came back during the handshake: reconnect to write.
            return Err(Closed::Refused("read-only mode ended"));
        }
    }
    send_frame(
        outbox,
        &ConnectResponse {
            protocol_version: 0,
            timeout,
            session_id,
            passwd: Bytes::copy_from_slice(&session_password(session_id)),
            // Present only if the client sent it, as ZooKeeper 3.8 answers.
            read_only: request.read_only.map(|_| read_only),
        },
    );
    let peer_ip = peer.ip().to_string();
    tracing::debug!(
        session = format!("0x{session_id:x}"),
        timeout,
        "session established"
    );
    Ok(ConnSession {
        conn,
        id: session_id,
        auth: ids.to_vec(),
        peer_ip,
        writes: WriteOrder::new(counts),
        sasl: None,
        read_only,
    })
}

/// What a read-only connection does with a request.
enum ReadOnly {
    /// Answered here; `false` ends the connection.
    Answered(bool),
    /// Served as usual.
    Serve(Action),
}

/// A request on a read-only connection (ZooKeeper's `ReadOnlyRequestProcessor`): writes,
/// syncs and checks are answered NotReadOnly, a close ends the connection (a local
/// session is forgotten; a replicated one is left to expire where there is a quorum),
/// everything else is served as usual.
fn read_only_action(
    shared: &Arc<Shared>,
    session: &ConnSession,
    outbox: &Outbox,
    xid: i32,
    action: Action,
) -> ReadOnly {
    let reply = |code| {
        let reply = crate::reply::error_reply(xid, shared.core.last_zxid(), code);
        shared.core.send(session.conn, &reply);
    };
    match action {
        Action::Write { .. } | Action::DeleteContainer { .. } | Action::Read(Request::Sync(_)) => {
            reply(ErrorCode::NotReadOnly);
            ReadOnly::Answered(true)
        }
        Action::CloseSession => {
            shared.read_only.closed(session.id);
            reply(ErrorCode::Ok);
            let _ = outbox.send(Outgoing::Close);
            ReadOnly::Answered(false)
        }
        other => ReadOnly::Serve(other),
    }
}

impl ConnSession {
    /// The connection's writes in flight, and who writes them, for the dispatch layer.
    fn for_dispatch(&mut self) -> (&mut WriteOrder, Writer<'_>) {
        let writer = Writer {
            conn: self.conn,
            session: self.id,
            auth: &self.auth,
        };
        (&mut self.writes, writer)
    }
}

/// A write of this connection, handed to the dispatch layer.
async fn submit(
    shared: &Shared,
    session: &mut ConnSession,
    xid: i32,
    kinds: Vec<OpCode>,
    txn: Txn,
    request: &Bytes,
) -> Result<(), Closed> {
    let backend = shared.backend();
    let (writes, writer) = session.for_dispatch();
    writes
        .submit(
            &shared.core,
            &backend,
            writer,
            Write { xid, kinds, txn },
            request,
        )
        .await?;
    Ok(())
}

/// Handles one request; `false` ends the connection.
async fn handle(
    shared: &Arc<Shared>,
    session: &mut ConnSession,
    outbox: &Outbox,
    frame: RequestFrame,
    payload: &Bytes,
) -> Result<bool, Closed> {
    let xid = frame.header.xid;
    if let Some(enforce) = &shared.settings.auth.enforce
        && !matches!(frame.request, Request::Auth(_) | Request::Sasl(_))
        && !session
            .auth
            .iter()
            .any(|id| enforce.schemes.contains(&id.scheme))
    {
        // ZooKeeper's AuthenticationHelper: answer, then close the connection.
        session.writes.wait_applied().await?;
        tracing::warn!(
            schemes = ?enforce.schemes,
            "a request before authenticating with an enforced scheme; closing"
        );
        shared.core.send(
            session.conn,
            &crate::reply::error_reply(xid, 0, ErrorCode::SessionClosedRequireSaslAuth),
        );
        let _ = outbox.send(Outgoing::Close);
        return Err(Closed::Refused("authentication is required"));
    }
    if let Request::Reconfig(request) = &frame.request
        && shared.settings.reconfig_enabled
        && !session.read_only
    {
        let backend = shared.backend();
        let (writes, writer) = session.for_dispatch();
        writes
            .reconfig(&shared.core, &backend, writer, xid, request, payload)
            .await?;
        return Ok(true);
    }
    let mut action = classify(frame.request);
    if session.read_only {
        match read_only_action(shared, session, outbox, xid, action) {
            ReadOnly::Answered(go_on) => return Ok(go_on),
            ReadOnly::Serve(allowed) => action = allowed,
        }
    }
    match action {
        Action::Write { op, kinds } => {
            let (session_id, auth) = (session.id, session.auth.clone());
            let txn = if shared.settings.enforce_quota {
                Txn::WriteEnforcingQuota {
                    session_id,
                    auth,
                    op,
                }
            } else {
                Txn::Write {
                    session_id,
                    auth,
                    op,
                }
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
            session.writes.wait_applied().await?;
            return Ok(false);
        }
        Action::Reject(code) => {
            session.writes.wait_applied().await?;
            shared.core.send_error(session.conn, xid, code);
        }
        Action::Read(Request::Auth(packet)) => {
            session.writes.wait_applied().await?;
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
                .send(session.conn, &crate::reply::error_reply(xid, 0, code));
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
        Action::Read(Request::Sasl(request)) if shared.settings.auth.sasl.is_some() => {
            session.writes.wait_applied().await?;
            return sasl_step(shared, session, outbox, xid, request.token.as_deref());
        }
        Action::Read(request) => {
            session.writes.wait_applied().await?;
            if matches!(request, Request::Sync(_)) {
                // Everything the leader committed before now must be applied here.
                crate::dispatch::sync::sync(
                    &shared.backend(),
                    session.id,
                    xid,
                    payload,
                    &session.auth,
                )
                .await?;
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

/// One `sasl` request (ZooKeeper's `processSasl`): the next step of this connection's
/// DIGEST-MD5 exchange, answered with zxid 0. On success the session gains
/// `sasl:<id>` (and `super` for a configured super user); a failed exchange is answered
/// with AuthFailed (SessionClosedRequireSaslAuth where SASL is enforced) and the
/// connection closes, unless `allowSaslFailedClients` keeps it.
fn sasl_step(
    shared: &Arc<Shared>,
    session: &mut ConnSession,
    outbox: &Outbox,
    xid: i32,
    token: Option<&[u8]>,
) -> Result<bool, Closed> {
    use crate::sasl::{DigestMd5Server, Step};
    use ferrokeeper_protocol::{ReplyFrame, ReplyHeader, Response, SetSaslResponse};

    let Some(config) = &shared.settings.auth.sasl else {
        return Ok(true);
    };
    let reply = |token: Option<Vec<u8>>, err: ErrorCode| ReplyFrame {
        header: ReplyHeader {
            xid,
            zxid: 0,
            err: err.code(),
        },
        response: Response::Sasl(SetSaslResponse {
            token: token.map(Bytes::from),
        }),
    };
    let server = session.sasl.get_or_insert_with(|| {
        DigestMd5Server::new(config.users.clone())
            .with_principal_rules(config.remove_host, config.remove_realm)
    });
    match server.step(token.unwrap_or_default()) {
        Ok(Step::Challenge(token)) => {
            shared
                .core
                .send(session.conn, &reply(Some(token), ErrorCode::Ok));
        }
        Ok(Step::Done {
            token,
            authorization_id,
            authentication_id,
        }) => {
            tracing::info!(
                session = format!("0x{:x}", session.id),
                user = authentication_id,
                id = authorization_id,
                "SASL authentication succeeded"
            );
            if crate::sasl::is_super_user(&authorization_id, &config.super_users) {
                tracing::info!(id = authorization_id, "authenticated as the super user");
                super::auth::add_id(
                    &mut session.auth,
                    Id {
                        scheme: crate::tree::acl::SUPER_SCHEME.into(),
                        id: String::new(),
                    },
                );
            }
            super::auth::add_id(
                &mut session.auth,
                Id {
                    scheme: "sasl".into(),
                    id: authorization_id,
                },
            );
            shared.core.set_auth(session.conn, session.auth.clone());
            shared
                .core
                .send(session.conn, &reply(Some(token), ErrorCode::Ok));
        }
        Err(e) => {
            tracing::warn!(
                session = format!("0x{:x}", session.id),
                "SASL authentication failed: {e}"
            );
            shared
                .core
                .stats
                .auth_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let required = shared
                .settings
                .auth
                .enforce
                .as_ref()
                .is_some_and(|e| e.requires_sasl());
            if config.allow_failed_clients && !required {
                // ZooKeeper keeps the connection and answers OK with no token.
                session.sasl = None;
                shared.core.send(session.conn, &reply(None, ErrorCode::Ok));
                return Ok(true);
            }
            let code = if required {
                ErrorCode::SessionClosedRequireSaslAuth
            } else {
                ErrorCode::AuthFailed
            };
            shared.core.send(session.conn, &reply(None, code));
            let _ = outbox.send(Outgoing::Close);
            return Err(Closed::Refused("SASL authentication failed"));
        }
    }
    Ok(true)
}
