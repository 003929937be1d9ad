//! One connection: TCP, TLS if configured, the session handshake (ConnectRequest, then
//! the SASL exchange if configured, then every remembered auth packet, each answered
//! before the connection counts as up) and a writer task, so that a slow socket never
//! stops the session task from reading.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_rustls::client::TlsStream;
use tokio_util::codec::{FramedRead, FramedWrite};

use ferrokeeper_protocol::{
    AuthPacket, ConnectRequest, ConnectResponse, ErrorCode, FrameCodec, FrameError, GetSaslRequest,
    Jute, ReplyHeader, Request, RequestFrame, SetSaslResponse, xid,
};

use crate::tls::TlsConfig;
use ferrokeeper_protocol::sasl::{DigestMd5Client, SaslCredentials};

/// The reading half of a connection: the socket's own half for plain TCP (no lock),
/// tokio's split for TLS (one stream state for both directions).
#[derive(Debug)]
pub(crate) enum ReadHalf {
    Plain(OwnedReadHalf),
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
}

/// The writing half matching [`ReadHalf`].
#[derive(Debug)]
pub(crate) enum WriteHalf {
    Plain(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<TlsStream<TcpStream>>),
}

impl AsyncRead for ReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ReadHalf::Plain(r) => Pin::new(r).poll_read(cx, buf),
            ReadHalf::Tls(r) => Pin::new(r).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write(cx, buf),
            WriteHalf::Tls(w) => Pin::new(w).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_write_vectored(cx, bufs),
            WriteHalf::Tls(w) => Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            WriteHalf::Plain(w) => w.is_write_vectored(),
            WriteHalf::Tls(w) => w.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_flush(cx),
            WriteHalf::Tls(w) => Pin::new(w).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Plain(w) => Pin::new(w).poll_shutdown(cx),
            WriteHalf::Tls(w) => Pin::new(w).poll_shutdown(cx),
        }
    }
}

/// Everything one connection attempt needs (owned, so an attempt borrows nothing from
/// the session task while it keeps serving commands).
#[derive(Debug, Clone)]
pub(crate) struct Handshake {
    pub(crate) request: ConnectRequest,
    pub(crate) auths: Vec<AuthPacket>,
    pub(crate) codec: FrameCodec,
    /// Bounds the whole attempt: TCP connect, TLS, handshake, SASL and auth replies.
    pub(crate) timeout: Duration,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) sasl: Option<Arc<SaslCredentials>>,
    /// The xid of the first SASL request (the session's next xid, as in ZooKeeper's
    /// Java client, whose SASL packets take ordinary xids).
    pub(crate) first_xid: i32,
}

/// Why an attempt did not give a connection.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// This host did not work out; another (or a later try) may.
    Failed(String),
    /// TLS failed with this host (handshake, certificates, or an alert right after the
    /// handshake, as a TLS 1.3 server sends when it refuses the client's certificate).
    Tls(String),
    /// The server said the session is gone (timeout ≤ 0 in the ConnectResponse).
    Expired,
    /// The server refused an auth packet or the SASL exchange failed.
    AuthFailed,
}

/// An established connection, handshake done.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) host: String,
    pub(crate) response: ConnectResponse,
    pub(crate) reader: FramedRead<ReadHalf, FrameCodec>,
    pub(crate) writer: Writer,
    /// The next xid the session may use (after the SASL requests, if any).
    pub(crate) next_xid: i32,
}

impl Connection {
    pub(crate) fn read_only(&self) -> bool {
        self.response.read_only == Some(true)
    }
}

/// The sending side: a queue into the writer task.
#[derive(Debug)]
pub(crate) struct Writer {
    tx: mpsc::UnboundedSender<RequestFrame>,
    task: JoinHandle<String>,
}

impl Writer {
    /// Queues a frame. A failure to write shows up as [`Writer::stopped`].
    pub(crate) fn send(&self, frame: RequestFrame) {
        let _ = self.tx.send(frame);
    }

    /// Resolves (with the reason) when the writer can no longer write. Not to be
    /// polled again after it resolved.
    pub(crate) async fn stopped(&mut self) -> String {
        match (&mut self.task).await {
            Ok(why) => why,
            Err(e) => format!("writer task: {e}"),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The xid after `xid` (positive, wrapping as the session's counter does).
pub(crate) fn following_xid(xid: i32) -> i32 {
    if xid == i32::MAX { 1 } else { xid + 1 }
}

/// Connects to `host` and performs the handshake, bounded by `handshake.timeout`.
pub(crate) async fn attempt(
    host: String,
    handshake: Handshake,
) -> Result<Connection, AttemptError> {
    let limit = handshake.timeout;
    match tokio::time::timeout(limit, attempt_unbounded(host, handshake)).await {
        Ok(result) => result,
        Err(_) => Err(AttemptError::Failed(format!(
            "no handshake within {limit:?}"
        ))),
    }
}

/// A read or write failure; a TLS one (an alert, a record that does not decrypt) is
/// [`AttemptError::Tls`].
fn failed(what: &str, e: &FrameError) -> AttemptError {
    if let FrameError::Io(io) = e
        && crate::tls::rustls_error(io).is_some()
    {
        return AttemptError::Tls(format!("{what}: {}", crate::tls::describe(io)));
    }
    AttemptError::Failed(format!("{what}: {e}"))
}

async fn attempt_unbounded(host: String, handshake: Handshake) -> Result<Connection, AttemptError> {
    let stream = TcpStream::connect(&host)
        .await
        .map_err(|e| AttemptError::Failed(format!("tcp connect: {e}")))?;
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = match &handshake.tls {
        None => {
            let (r, w) = stream.into_split();
            (ReadHalf::Plain(r), WriteHalf::Plain(w))
        }
        Some(tls) => {
            let stream = tls
                .connect(&host, stream)
                .await
                .map_err(AttemptError::Tls)?;
            let (r, w) = tokio::io::split(stream);
            (ReadHalf::Tls(r), WriteHalf::Tls(w))
        }
    };
    let mut reader = FramedRead::new(read_half, handshake.codec);
    let mut writer = FramedWrite::new(write_half, handshake.codec);

    writer
        .send(handshake.request.clone())
        .await
        .map_err(|e| failed("send ConnectRequest", &e))?;
    let mut frame = match reader.next().await {
        Some(Ok(frame)) => frame,
        Some(Err(e)) => return Err(failed("read ConnectResponse", &e)),
        // ZooKeeper closes without a word when the client has seen a newer zxid than
        // the server has: another server must be tried.
        None => {
            return Err(AttemptError::Failed(
                "closed before answering the handshake".into(),
            ));
        }
    };
    let response = ConnectResponse::decode(&mut frame)
        .map_err(|e| AttemptError::Failed(format!("decode ConnectResponse: {e}")))?;
    if response.timeout <= 0 {
        return Err(AttemptError::Expired);
    }

    // SASL first: ZooKeeper's Java client holds back everything but SASL packets until
    // the exchange is over, so auth and SetWatches2 go with the SASL identity known.
    let mut next_xid = handshake.first_xid;
    if let Some(credentials) = &handshake.sasl {
        next_xid = sasl_exchange(&mut reader, &mut writer, credentials, next_xid).await?;
    }

    // Auth goes before SetWatches2 (sent later by the session task), so that the
    // events SetWatches2 fires at once are already filtered with the right identity.
    for auth in &handshake.auths {
        writer
            .feed(RequestFrame::new(xid::AUTH, Request::Auth(auth.clone())))
            .await
            .map_err(|e| failed("send auth", &e))?;
    }
    SinkExt::<RequestFrame>::flush(&mut writer)
        .await
        .map_err(|e| failed("send auth", &e))?;
    let mut unanswered = handshake.auths.len();
    while unanswered > 0 {
        let mut frame = match reader.next().await {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => return Err(failed("read auth reply", &e)),
            None => return Err(AttemptError::Failed("closed before answering auth".into())),
        };
        let header = ReplyHeader::decode(&mut frame)
            .map_err(|e| AttemptError::Failed(format!("decode auth reply: {e}")))?;
        if header.xid != xid::AUTH {
            tracing::debug!(xid = header.xid, "ignoring a reply during the handshake");
            continue;
        }
        if header.err != 0 {
            if header.err != ErrorCode::AuthFailed.code() {
                tracing::warn!(err = header.err, "auth refused with an unexpected code");
            }
            return Err(AttemptError::AuthFailed);
        }
        unanswered -= 1;
    }

    let (tx, rx) = mpsc::unbounded_channel();
    let writer_task = tokio::spawn(write_loop(writer, rx));
    Ok(Connection {
        host,
        response,
        reader,
        writer: Writer {
            tx,
            task: writer_task,
        },
        next_xid,
    })
}

/// The SASL exchange (opcode `sasl`, ZooKeeper's `GetSASLRequest`/`SetSASLResponse`):
/// an empty first token, then the mechanism's answers until it is done. Returns the
/// next free xid. A refusal (an error code, a missing or wrong server token) is
/// [`AttemptError::AuthFailed`], as ZooKeeper's Java client turns it into AUTH_FAILED.
async fn sasl_exchange(
    reader: &mut FramedRead<ReadHalf, FrameCodec>,
    writer: &mut FramedWrite<WriteHalf, FrameCodec>,
    credentials: &SaslCredentials,
    mut next_xid: i32,
) -> Result<i32, AttemptError> {
    let mut mechanism = DigestMd5Client::new(credentials);
    let mut token = Some(bytes::Bytes::new());
    while let Some(sent) = token.take() {
        let xid = next_xid;
        next_xid = following_xid(next_xid);
        let request = Request::Sasl(GetSaslRequest { token: Some(sent) });
        writer
            .send(RequestFrame::new(xid, request))
            .await
            .map_err(|e| failed("send SASL token", &e))?;
        let mut frame = loop {
            let mut frame = match reader.next().await {
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(failed("read SASL reply", &e)),
                None => {
                    return Err(AttemptError::Failed(
                        "closed during the SASL exchange".into(),
                    ));
                }
            };
            let header = ReplyHeader::decode(&mut frame)
                .map_err(|e| AttemptError::Failed(format!("decode SASL reply: {e}")))?;
            if header.xid == xid::NOTIFICATION || header.xid == xid::PING {
                continue;
            }
            if header.xid != xid {
                return Err(AttemptError::Failed(format!(
                    "SASL reply with xid {}, expected {xid}",
                    header.xid
                )));
            }
            if header.err != 0 {
                tracing::warn!(
                    err = header.err,
                    user = credentials.user(),
                    "the server refused SASL authentication (wrong user or password?)"
                );
                return Err(AttemptError::AuthFailed);
            }
            break frame;
        };
        let reply = SetSaslResponse::decode(&mut frame)
            .map_err(|e| AttemptError::Failed(format!("decode SASL reply: {e}")))?;
        token = mechanism
            .step(reply.token.as_deref())
            .map_err(|e| {
                tracing::warn!(user = credentials.user(), "SASL authentication failed: {e}");
                AttemptError::AuthFailed
            })?
            .map(bytes::Bytes::from);
    }
    tracing::debug!(user = credentials.user(), "SASL authentication succeeded");
    Ok(next_xid)
}

/// Writes queued frames, flushing once per batch of whatever is queued.
async fn write_loop(
    mut writer: FramedWrite<WriteHalf, FrameCodec>,
    mut frames: mpsc::UnboundedReceiver<RequestFrame>,
) -> String {
    while let Some(first) = frames.recv().await {
        let mut next = Some(first);
        let mut batch = 0;
        while let Some(frame) = next {
            if let Err(e) = writer.feed(frame).await {
                return format!("write failed: {e}");
            }
            batch += 1;
            next = if batch < 128 {
                frames.try_recv().ok()
            } else {
                None
            };
        }
        if let Err(e) = SinkExt::<RequestFrame>::flush(&mut writer).await {
            return format!("write failed: {e}");
        }
    }
    "the session task stopped writing".into()
}
