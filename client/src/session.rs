//! The session task: the one owner of the connection, the requests in flight, the
//! watch registry and the reconnect loop. Client handles talk to it through an
//! unbounded queue of [`Command`]s, so a request's place in the order is fixed when the
//! operation is called, not when its future is first polled.
//!
//! Connected, it writes each command's request (with the next xid) and matches replies
//! to requests in FIFO order. On connection loss every request in flight fails with
//! ConnectionLoss; commands that arrive while disconnected wait for the next
//! connection, each for at most the connection timeout. Reconnecting sends the session
//! id, password and last zxid seen, runs the SASL exchange again (if configured),
//! re-sends every auth, then re-registers the armed watches with SetWatches2.
//!
//! Connected read-only, it also runs a probe of the other hosts and moves to the first
//! read-write one it finds. With the client-side expiry on, a reconnect loop that has
//! heard nothing from any server for 4/3 of the session timeout ends the session.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use ferrokeeper_protocol::{
    AuthPacket, ConnectRequest, EventType, FrameCodec, Jute, KeeperState, OpCode,
    RemoveWatchesRequest, ReplyHeader, Request, RequestFrame, Response, WatcherEvent, WatcherType,
    xid,
};

use crate::connection::{self, AttemptError, Connection, Handshake, Writer, following_xid};
use crate::error::{Error, Result};
use crate::read_write_probe;
use crate::reconnect::{Hosts, set_watches_packets};
use crate::registry::{Arming, Kind, Registry};
use crate::session_state::SessionState;
use crate::shared::{SessionInfo, Shared};
use crate::tls::TlsConfig;
use crate::watch::WatchId;
use ferrokeeper_protocol::sasl::SaslCredentials;

/// ZooKeeper's Java client pings at least this often, whatever the session timeout.
const MAX_PING_INTERVAL: Duration = Duration::from_secs(10);

/// What a client handle asks of the session task.
#[derive(Debug)]
pub(crate) enum Command {
    Request(RequestCommand),
    /// addAuth: remembered for every later connection, and answered by the server.
    Auth {
        packet: AuthPacket,
        reply: oneshot::Sender<Result<()>>,
    },
    /// removeWatches for every local watch of a type on a (server) path.
    RemoveWatches {
        path: String,
        watcher_type: WatcherType,
        reply: oneshot::Sender<Result<()>>,
    },
    /// A watch handle was dropped.
    Unwatch(WatchId),
    Close {
        reply: oneshot::Sender<Result<()>>,
    },
}

#[derive(Debug)]
pub(crate) struct RequestCommand {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Result<Response>>,
    pub(crate) arming: Option<Arming>,
    /// Set once `arming` went into the registry (while the command waits for a
    /// connection).
    pub(crate) registered: Option<(WatchId, Kind)>,
    pub(crate) span: tracing::Span,
}

impl RequestCommand {
    /// Puts the watch (if any) into the registry, once.
    fn register(&mut self, registry: &mut Registry) -> Option<(WatchId, Kind)> {
        if let Some(arming) = self.arming.take() {
            self.registered = Some((arming.id, arming.kind));
            registry.insert(arming);
        }
        self.registered
    }
}

/// The options the task needs from the builder.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) session_timeout: Duration,
    pub(crate) connection_timeout: Duration,
    pub(crate) read_only: bool,
    /// ZOOKEEPER-4508: end the session as Expired once nothing was heard from any
    /// server for 4/3 of the negotiated session timeout.
    pub(crate) client_side_expiry: bool,
    pub(crate) codec: FrameCodec,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) sasl: Option<Arc<SaslCredentials>>,
}

impl Config {
    pub(crate) fn handshake(
        &self,
        session_id: i64,
        password: Bytes,
        last_zxid_seen: i64,
        auths: Vec<AuthPacket>,
        first_xid: i32,
    ) -> Handshake {
        Handshake {
            request: ConnectRequest {
                protocol_version: 0,
                last_zxid_seen,
                timeout: i32::try_from(self.session_timeout.as_millis()).unwrap_or(i32::MAX),
                session_id,
                passwd: password,
                read_only: Some(self.read_only),
            },
            auths,
            codec: self.codec,
            timeout: self.connection_timeout,
            tls: self.tls.clone(),
            sasl: self.sasl.clone(),
            first_xid,
        }
    }
}

/// Who gets a reply.
#[derive(Debug)]
enum ReplyTo {
    Caller(oneshot::Sender<Result<Response>>),
    RemoveWatches {
        path: String,
        watcher_type: WatcherType,
        reply: oneshot::Sender<Result<()>>,
    },
    /// The removeWatches sent for dropped handles: nobody waits for it.
    Unwatched,
    Close(oneshot::Sender<Result<()>>),
}

impl ReplyTo {
    fn fail(self, err: Error) {
        match self {
            ReplyTo::Caller(tx) => {
                let _ = tx.send(Err(err));
            }
            ReplyTo::RemoveWatches { reply, .. } => {
                let _ = reply.send(Err(err));
            }
            ReplyTo::Unwatched => {}
            ReplyTo::Close(tx) => {
                // A close that ends in Closed succeeded, whatever else happened.
                let _ = tx.send(if err == Error::Closed {
                    Ok(())
                } else {
                    Err(err)
                });
            }
        }
    }
}

/// A request written and awaiting its reply.
#[derive(Debug)]
struct Pending {
    xid: i32,
    opcode: OpCode,
    reply: ReplyTo,
    watch: Option<(WatchId, Kind)>,
    span: tracing::Span,
}

/// A command that arrived while disconnected.
#[derive(Debug)]
struct Waiting {
    deadline: Instant,
    command: Command,
}

/// Turns a watching read into a plain one.
fn clear_watch_flag(request: &mut Request) {
    match request {
        Request::GetData(r) => r.watch = false,
        Request::Exists(r) => r.watch = false,
        Request::GetChildren(r) => r.watch = false,
        Request::GetChildren2(r) => r.watch = false,
        _ => {}
    }
}

/// `timeout` from now; a caller's huge timeout means "no deadline", not a panic.
fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// Makes the state terminal however the task ends (also when the runtime drops it),
/// so that no caller waits for a state change that cannot come.
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.state.set(SessionState::Closed);
    }
}

/// Why `serve` returned.
#[derive(Debug)]
enum End {
    Lost(String),
    /// Connected read-only, the probe found this read-write server: move there.
    ReadWriteFound(String),
    Terminal(SessionState),
}

/// The part of the negotiated session timeout after which ZooKeeper 3.9's client
/// (ZOOKEEPER-4508, `expirationTimeout`) declares the session expired without hearing
/// from a server: 4/3, past the point where the servers have expired it themselves.
fn client_expiry_after(negotiated: Duration) -> Duration {
    negotiated.saturating_mul(4) / 3
}

/// The search for a read-write server while connected read-only
/// ([`read_write_probe::seek`]).
type Probe = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// Resolves with the probe's find; never while there is no probe.
async fn probe_result(probe: &mut Option<Probe>) -> String {
    match probe {
        Some(probe) => probe.await,
        None => std::future::pending().await,
    }
}

fn fail_command(command: Command, err: &Error, registry: &mut Registry) {
    match command {
        Command::Request(mut rc) => {
            if let Some((id, _)) = rc.register(registry) {
                registry.discard(id);
            }
            let _ = rc.reply.send(Err(err.clone()));
        }
        Command::Auth { reply, .. } | Command::RemoveWatches { reply, .. } => {
            let _ = reply.send(Err(err.clone()));
        }
        Command::Close { reply } => ReplyTo::Close(reply).fail(err.clone()),
        Command::Unwatch(id) => {
            registry.unwatch(id);
        }
    }
}

#[derive(Debug)]
pub(crate) struct Session {
    shared: Arc<Shared>,
    config: Config,
    commands: mpsc::UnboundedReceiver<Command>,
    hosts: Hosts,
    auths: Vec<AuthPacket>,
    registry: Registry,
    pending: VecDeque<Pending>,
    auth_replies: VecDeque<oneshot::Sender<Result<()>>>,
    waiting: VecDeque<Waiting>,
    next_xid: i32,
    /// closeSession was sent: no more commands are taken.
    closing: bool,
    /// Whether this session was ever on a read-write server (ZooKeeper's Java client's
    /// `seenRwServerBefore`). A session only ever served read-only is a local session
    /// of that server, unknown to the others: reconnecting then asks for a new session
    /// (id 0) rather than one the servers would call expired.
    seen_read_write: bool,
    /// When a frame last came from a server (for the client-side expiry).
    last_heard: Instant,
}

impl Session {
    pub(crate) fn new(
        shared: Arc<Shared>,
        config: Config,
        commands: mpsc::UnboundedReceiver<Command>,
        hosts: Hosts,
        auths: Vec<AuthPacket>,
        seen_read_write: bool,
    ) -> Session {
        Session {
            shared,
            config,
            commands,
            hosts,
            auths,
            registry: Registry::default(),
            pending: VecDeque::new(),
            auth_replies: VecDeque::new(),
            waiting: VecDeque::new(),
            next_xid: 1,
            closing: false,
            seen_read_write,
            last_heard: Instant::now(),
        }
    }

    /// Runs the session from its first connection until a terminal state.
    pub(crate) async fn run(mut self, first: Connection) {
        let _guard = EndGuard(self.shared.clone());
        let session = format!("{:#x}", self.shared.session_info().id);
        let span = tracing::debug_span!("zookeeper_session", session);
        let mut conn = first;
        loop {
            let end = tracing::Instrument::instrument(self.serve(&mut conn), span.clone()).await;
            drop(conn);
            match end {
                End::Terminal(state) => {
                    self.terminate(state);
                    return;
                }
                End::Lost(why) => {
                    span.in_scope(|| tracing::info!("connection lost: {why}"));
                    self.lost();
                }
                End::ReadWriteFound(host) => {
                    span.in_scope(|| {
                        tracing::info!(host, "read-write server found: leaving the read-only one");
                    });
                    // As the Java client: the requests in flight fail with
                    // ConnectionLoss and the state goes through Disconnected.
                    self.lost();
                    self.hosts.prefer(&host);
                }
            }
            match tracing::Instrument::instrument(self.reconnect(), span.clone()).await {
                Some(next) => conn = next,
                None => return,
            }
        }
    }

    fn next_xid(&mut self) -> i32 {
        let xid = self.next_xid;
        self.next_xid = following_xid(xid);
        xid
    }

    fn publish(&self, state: SessionState) {
        if self.shared.state.set(state) && !state.is_terminal() {
            self.registry.session_event(state);
        }
    }

    /// Serves one connection until it is lost or the session ends.
    async fn serve(&mut self, conn: &mut Connection) -> End {
        let negotiated =
            Duration::from_millis(u64::try_from(conn.response.timeout).unwrap_or_default());
        self.shared.set_session_timeout(negotiated);
        // The handshake's SASL requests took xids from this session's sequence.
        self.next_xid = conn.next_xid;
        self.last_heard = Instant::now();
        let previous = self.shared.session_info();
        if conn.response.session_id != previous.id {
            // A reconnect with id 0 (see `seen_read_write`) made a new session.
            tracing::info!(
                old = format_args!("{:#x}", previous.id),
                new = format_args!("{:#x}", conn.response.session_id),
                "new session"
            );
            self.shared.set_session_info(SessionInfo {
                id: conn.response.session_id,
                password: conn.response.passwd.clone(),
            });
        }
        self.seen_read_write |= !conn.read_only();
        tracing::debug!(host = conn.host, timeout = ?negotiated, read_only = conn.read_only(), "connected");
        self.publish(if conn.read_only() {
            SessionState::ReadOnly
        } else {
            SessionState::Connected
        });

        let packets = set_watches_packets(self.shared.last_zxid(), self.registry.lists());
        for packet in packets {
            tracing::debug!(
                relative_zxid = packet.relative_zxid,
                data = packet.data_watches.len(),
                exist = packet.exist_watches.len(),
                child = packet.child_watches.len(),
                persistent = packet.persistent_watches.len(),
                recursive = packet.persistent_recursive_watches.len(),
                "re-registering watches"
            );
            conn.writer.send(RequestFrame::new(
                xid::SET_WATCHES,
                Request::SetWatches2(packet),
            ));
        }
        for waiting in std::mem::take(&mut self.waiting) {
            match waiting.command {
                // Its packet went with the handshake, which succeeded.
                Command::Auth { reply, .. } => {
                    let _ = reply.send(Ok(()));
                }
                command => self.command(&conn.writer, command),
            }
        }

        // ZooKeeper's client: readTimeout = 2/3 of the session timeout, a ping after
        // readTimeout/2 without sending.
        let read_timeout = (negotiated * 2 / 3).max(Duration::from_millis(10));
        let ping_every = (read_timeout / 2).min(MAX_PING_INTERVAL);
        let mut last_recv = Instant::now();
        let mut last_send = Instant::now();
        let mut probe = conn.read_only().then(|| {
            Box::pin(read_write_probe::seek(
                self.hosts.others(),
                self.config.tls.clone(),
                self.config.connection_timeout,
            )) as Probe
        });
        let Connection { reader, writer, .. } = conn;
        loop {
            tokio::select! {
                biased;
                frame = reader.next() => {
                    let frame = match frame {
                        Some(Ok(frame)) => frame,
                        Some(Err(e)) => return End::Lost(format!("read failed: {e}")),
                        None => return End::Lost("the server closed the connection".into()),
                    };
                    last_recv = Instant::now();
                    self.last_heard = last_recv;
                    if let Some(end) = self.frame(frame) {
                        return end;
                    }
                }
                why = writer.stopped() => return End::Lost(why),
                host = probe_result(&mut probe), if probe.is_some() => {
                    return End::ReadWriteFound(host);
                }
                () = tokio::time::sleep_until(last_recv + read_timeout) => {
                    return End::Lost(format!("nothing received for {read_timeout:?}"));
                }
                command = self.commands.recv(), if !self.closing => {
                    let Some(command) = command else {
                        // Every handle is gone: end without closeSession (the server
                        // expires the session after its timeout).
                        tracing::debug!("every client handle was dropped");
                        return End::Terminal(SessionState::Closed);
                    };
                    self.command(writer, command);
                    last_send = Instant::now();
                }
                () = tokio::time::sleep_until(last_send + ping_every) => {
                    writer.send(RequestFrame::new(xid::PING, Request::Ping));
                    last_send = Instant::now();
                }
            }
        }
    }

    /// Sends a request and queues its pending entry.
    fn send(
        &mut self,
        conn: &Writer,
        request: Request,
        reply: ReplyTo,
        watch: Option<(WatchId, Kind)>,
        span: tracing::Span,
    ) {
        let xid = self.next_xid();
        let opcode = request.opcode();
        span.in_scope(|| tracing::trace!(xid, "sent"));
        conn.send(RequestFrame::new(xid, request));
        self.pending.push_back(Pending {
            xid,
            opcode,
            reply,
            watch,
            span,
        });
    }

    /// Handles a command while connected.
    fn command(&mut self, conn: &Writer, command: Command) {
        match command {
            Command::Request(mut rc) => {
                let watch = rc.register(&mut self.registry);
                if let Some((id, kind)) = watch
                    && self.registry.covered_by_persistent(id, kind)
                {
                    // Served locally from the persistent watch's events (see
                    // `Registry::covered_by_persistent`); it is armed on the reply as usual.
                    clear_watch_flag(&mut rc.request);
                }
                self.send(conn, rc.request, ReplyTo::Caller(rc.reply), watch, rc.span);
            }
            Command::Auth { packet, reply } => {
                self.auths.push(packet.clone());
                conn.send(RequestFrame::new(xid::AUTH, Request::Auth(packet)));
                self.auth_replies.push_back(reply);
            }
            Command::RemoveWatches {
                path,
                watcher_type,
                reply,
            } => {
                // As ZooKeeper's Java client: no local watch, no request.
                if !self.registry.has_local(&path, watcher_type) {
                    let _ = reply.send(Err(Error::NoWatcher));
                    return;
                }
                let request = Request::RemoveWatches(RemoveWatchesRequest {
                    path: path.clone(),
                    r#type: watcher_type.code(),
                });
                let span =
                    tracing::debug_span!("zookeeper_request", op = ?OpCode::RemoveWatches, path);
                let reply = ReplyTo::RemoveWatches {
                    path,
                    watcher_type,
                    reply,
                };
                self.send(conn, request, reply, None, span);
            }
            Command::Unwatch(id) => {
                if let Some(path) = self.registry.unwatch(id) {
                    // The last local interest in `path` is gone: drop the server's
                    // watches there too. Requests queued after this one re-arm as
                    // usual, so ordering keeps this safe.
                    let request = Request::RemoveWatches(RemoveWatchesRequest {
                        path: path.clone(),
                        r#type: WatcherType::Any.code(),
                    });
                    let span = tracing::debug_span!("zookeeper_request", op = ?OpCode::RemoveWatches, path);
                    self.send(conn, request, ReplyTo::Unwatched, None, span);
                }
            }
            Command::Close { reply } => {
                self.closing = true;
                let span = tracing::debug_span!("zookeeper_request", op = ?OpCode::CloseSession);
                self.send(
                    conn,
                    Request::CloseSession,
                    ReplyTo::Close(reply),
                    None,
                    span,
                );
            }
        }
    }

    /// Handles one frame from the server; `Some` ends the connection.
    fn frame(&mut self, mut frame: Bytes) -> Option<End> {
        let header = match ReplyHeader::decode(&mut frame) {
            Ok(header) => header,
            Err(e) => return Some(End::Lost(format!("undecodable reply header: {e}"))),
        };
        match header.xid {
            xid::NOTIFICATION => self.notification(&mut frame, header.zxid),
            xid::PING => {}
            xid::AUTH => {
                let Some(reply) = self.auth_replies.pop_front() else {
                    tracing::warn!(err = header.err, "auth reply with no auth outstanding");
                    return None;
                };
                if header.err == 0 {
                    let _ = reply.send(Ok(()));
                } else {
                    // ZooKeeper closes the connection after refusing auth, and its
                    // Java client treats AUTH_FAILED as the end of the session.
                    let _ = reply.send(Err(Error::AuthFailed));
                    return Some(End::Terminal(SessionState::AuthFailed));
                }
            }
            xid::SET_WATCHES => {
                if header.err != 0 {
                    tracing::warn!(err = header.err, "SetWatches2 refused");
                }
            }
            x if x < 0 => tracing::debug!(xid = x, "ignoring a reply with a special xid"),
            x => {
                let Some(pending) = self.pending.pop_front() else {
                    return Some(End::Lost(format!(
                        "reply xid {x} with no request outstanding"
                    )));
                };
                if pending.xid != x {
                    let expected = pending.xid;
                    self.pending.push_front(pending);
                    return Some(End::Lost(format!("reply xid {x}, expected {expected}")));
                }
                if header.zxid > 0 {
                    self.shared.set_last_zxid(header.zxid);
                }
                let closed = pending.opcode == OpCode::CloseSession;
                self.complete(pending, &header, &mut frame);
                if closed {
                    return Some(End::Terminal(SessionState::Closed));
                }
            }
        }
        None
    }

    /// A watch notification; `zxid` is its header's (the change's, or −1).
    fn notification(&mut self, body: &mut Bytes, zxid: i64) {
        let event = match WatcherEvent::decode(body) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!("undecodable watch notification: {e}");
                return;
            }
        };
        let (Some(event_type), Some(state)) = (
            EventType::from_code(event.r#type),
            KeeperState::from_code(event.state),
        ) else {
            tracing::warn!(
                ?event,
                "ignoring a notification with an unknown type or state"
            );
            return;
        };
        tracing::trace!(?event_type, path = event.path, "notification");
        let zxid = (zxid > 0).then_some(zxid);
        self.registry
            .dispatch_at(event_type, state, &event.path, zxid);
    }

    /// Answers one request from its reply, arming its watch if the reply allows.
    fn complete(&mut self, pending: Pending, header: &ReplyHeader, body: &mut Bytes) {
        let result = if header.err != 0 {
            Err(Error::from_code(header.err))
        } else {
            Response::decode(pending.opcode, header, body).map_err(|e| {
                pending.span.in_scope(
                    || tracing::warn!(opcode = ?pending.opcode, "undecodable reply: {e}"),
                );
                Error::MarshallingError
            })
        };
        if let Some((id, kind)) = pending.watch {
            // As ZooKeeper's client: exists arms a data watch when the node exists and
            // an exist watch on NoNode; the others arm on success only.
            match (&result, kind) {
                (Ok(_), Kind::Exist) => self.registry.arm(id, Kind::Data),
                (Err(Error::NoNode), Kind::Exist) => self.registry.arm(id, Kind::Exist),
                (Ok(_), kind) => self.registry.arm(id, kind),
                _ => self.registry.discard(id),
            }
        }
        pending.span.in_scope(|| match &result {
            Ok(_) => tracing::trace!(xid = pending.xid, zxid = header.zxid, "reply"),
            Err(e) => tracing::debug!(xid = pending.xid, zxid = header.zxid, "reply: {e}"),
        });
        match pending.reply {
            ReplyTo::Caller(tx) => {
                let _ = tx.send(result);
            }
            ReplyTo::RemoveWatches {
                path,
                watcher_type,
                reply,
            } => {
                let outcome = match result {
                    // The server had none (say it just fired): the local ones go anyway.
                    Ok(_) | Err(Error::NoWatcher) => {
                        if self.registry.remove_local(&path, watcher_type) > 0 {
                            Ok(())
                        } else {
                            Err(Error::NoWatcher)
                        }
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(outcome);
            }
            ReplyTo::Unwatched => {
                if let Err(e) = result
                    && e != Error::NoWatcher
                {
                    tracing::debug!("removeWatches for a dropped watch: {e}");
                }
            }
            ReplyTo::Close(tx) => {
                // Closed before the caller hears of it, so that `state()` agrees.
                self.shared.state.set(SessionState::Closed);
                let _ = tx.send(result.map(drop));
            }
        }
    }

    /// The connection is gone but the session may live: fail what was in flight.
    fn lost(&mut self) {
        let closing = self.closing;
        for pending in std::mem::take(&mut self.pending) {
            if let Some((id, _)) = pending.watch {
                self.registry.discard(id);
            }
            pending.reply.fail(Error::ConnectionLoss);
        }
        for reply in std::mem::take(&mut self.auth_replies) {
            let _ = reply.send(Err(Error::ConnectionLoss));
        }
        if closing {
            // The close reply was lost with the connection; the session is closed here
            // regardless (the server expires it if the request never arrived).
            self.terminate(SessionState::Closed);
        } else {
            self.publish(SessionState::Disconnected);
        }
    }

    /// Handles a command while disconnected; `Some` ends the session.
    fn offline(&mut self, command: Command) -> Option<SessionState> {
        match command {
            Command::Unwatch(id) => {
                // No connection, no server watch to remove: the next SetWatches2 simply
                // leaves it out.
                self.registry.unwatch(id);
            }
            Command::Close { reply } => {
                // Nothing can reach a server now; the session expires there by itself.
                let _ = reply.send(Ok(()));
                return Some(SessionState::Closed);
            }
            Command::Auth { packet, reply } => {
                self.auths.push(packet.clone());
                self.park(Command::Auth { packet, reply });
            }
            Command::Request(mut rc) => {
                // Registered now, so that dropping its handle before the reconnect
                // finds it; it stays pending (not re-registered) until its reply.
                rc.register(&mut self.registry);
                self.park(Command::Request(rc));
            }
            command @ Command::RemoveWatches { .. } => self.park(command),
        }
        None
    }

    fn park(&mut self, command: Command) {
        self.waiting.push_back(Waiting {
            deadline: deadline_after(self.config.connection_timeout),
            command,
        });
    }

    /// Fails the commands that waited longer than the connection timeout.
    fn expire_waiting(&mut self) {
        let now = Instant::now();
        while self.waiting.front().is_some_and(|w| w.deadline <= now) {
            if let Some(waiting) = self.waiting.pop_front() {
                fail_command(waiting.command, &Error::ConnectionLoss, &mut self.registry);
            }
        }
    }

    /// Tries hosts, with jittered backoff, until one resumes the session; serves
    /// commands meanwhile. `None` when the session ended instead.
    async fn reconnect(&mut self) -> Option<Connection> {
        loop {
            let (host, delay) = self.hosts.next_attempt();
            let info = self.shared.session_info();
            let (id, password) = if self.seen_read_write {
                (info.id, info.password)
            } else {
                (0, Bytes::from_static(&[0; 16]))
            };
            let handshake = self.config.handshake(
                id,
                password,
                self.shared.last_zxid(),
                self.auths.clone(),
                self.next_xid,
            );
            tracing::debug!(host, ?delay, "reconnecting");
            let attempt = async move {
                tokio::time::sleep(delay).await;
                connection::attempt(host, handshake).await
            };
            tokio::pin!(attempt);
            let expiry = self
                .config
                .client_side_expiry
                .then(|| self.last_heard + client_expiry_after(self.shared.session_timeout()));
            let result = loop {
                let deadline = self.waiting.front().map(|w| w.deadline);
                tokio::select! {
                    result = &mut attempt => break result,
                    () = tokio::time::sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                        tracing::warn!(
                            silent_for = ?self.last_heard.elapsed(),
                            "no server heard for 4/3 of the session timeout: the session counts as expired"
                        );
                        self.terminate(SessionState::Expired);
                        return None;
                    }
                    command = self.commands.recv() => {
                        let ended = match command {
                            Some(command) => self.offline(command),
                            None => Some(SessionState::Closed),
                        };
                        if let Some(state) = ended {
                            self.terminate(state);
                            return None;
                        }
                    }
                    () = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                        self.expire_waiting();
                    }
                }
            };
            match result {
                Ok(conn) => {
                    self.hosts.connected();
                    return Some(conn);
                }
                Err(AttemptError::Failed(why)) => {
                    tracing::debug!("reconnect attempt failed: {why}");
                    self.hosts.failed();
                }
                Err(AttemptError::Tls(why)) => {
                    // Not terminal (a certificate may be renewed, another server may be
                    // fine), but worth seeing: the Java client logs these too.
                    tracing::warn!("reconnect attempt failed: {why}");
                    self.hosts.failed();
                }
                Err(AttemptError::Expired) => {
                    tracing::info!("the server says the session expired");
                    self.terminate(SessionState::Expired);
                    return None;
                }
                Err(AttemptError::AuthFailed) => {
                    tracing::warn!("the server refused the session's auth or SASL on reconnect");
                    self.terminate(SessionState::AuthFailed);
                    return None;
                }
            }
        }
    }

    /// Ends the session: everything waiting fails with the state's error, watches are
    /// told, and later commands are refused.
    fn terminate(&mut self, state: SessionState) {
        self.shared.state.set(state);
        // The state that stuck (a terminal state reached earlier wins).
        let state = self.shared.state.current();
        let err = state.error();
        for pending in std::mem::take(&mut self.pending) {
            pending.reply.fail(err.clone());
        }
        for reply in std::mem::take(&mut self.auth_replies) {
            let _ = reply.send(Err(err.clone()));
        }
        for waiting in std::mem::take(&mut self.waiting) {
            fail_command(waiting.command, &err, &mut self.registry);
        }
        self.registry.terminate(state);
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Close { reply } if state == SessionState::Closed => {
                    let _ = reply.send(Ok(()));
                }
                command => fail_command(command, &err, &mut self.registry),
            }
        }
        tracing::debug!(?state, "session ended");
    }
}
