//! The client handle, its builder, and the typed operations.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::Framed;

use ferrokeeper_protocol::{
    Acl, ConnectRequest, ConnectResponse, CreateMode, CreateRequest, DeleteRequest, ExistsRequest,
    FrameCodec, GetChildrenRequest, GetDataRequest, Jute, Request, Response, SetDataRequest, Stat,
};

use crate::conn::{self, Command, Shared, WatchKind, WatchRegistration};
use crate::error::{Error, Result};
use crate::watch::Watch;

/// Requests that may wait in the queue before callers wait for room.
const QUEUE_DEPTH: usize = 1024;

/// Options for [`Client`]; start from [`Client::builder`].
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    session_timeout: Duration,
    connection_timeout: Duration,
    max_frame_len: usize,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            session_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(10),
            max_frame_len: ferrokeeper_protocol::DEFAULT_MAX_FRAME_LEN,
        }
    }
}

impl ClientBuilder {
    /// The session timeout to ask for (the server clamps it to its min/max; the
    /// negotiated one is [`Client::session_timeout`]). Default 30 s.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long one host may take to accept the TCP connection and answer the
    /// handshake before the next host is tried. Default 10 s.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// The largest reply frame accepted (default: `jute.maxbuffer` plus headers).
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// Connects to the first host of `connect_string` (`host:port[,host:port...]`) that
    /// accepts a session, trying them in order. Fails with [`Error::BadArguments`] for
    /// an unusable connect string (including a chroot suffix, not supported yet),
    /// [`Error::SessionExpired`] if the server refuses the session and
    /// [`Error::ConnectionLoss`] when no host answers.
    pub async fn connect(&self, connect_string: &str) -> Result<Client> {
        let hosts = parse_connect_string(connect_string)?;
        let timeout_ms = i32::try_from(self.session_timeout.as_millis()).unwrap_or(i32::MAX);
        let codec = FrameCodec::new(self.max_frame_len);
        let mut last = Error::ConnectionLoss;
        for host in &hosts {
            let attempt =
                tokio::time::timeout(self.connection_timeout, handshake(host, timeout_ms, codec))
                    .await;
            match attempt {
                Ok(Ok((stream, response))) => {
                    let session_timeout =
                        Duration::from_millis(u64::try_from(response.timeout).unwrap_or(0));
                    let shared = Arc::new(Shared::new(response.session_id, session_timeout));
                    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
                    tokio::spawn(conn::run(stream, rx, shared.clone(), codec));
                    tracing::debug!(
                        host,
                        session = format_args!("{:#x}", response.session_id),
                        ?session_timeout,
                        "session established"
                    );
                    return Ok(Client { tx, shared });
                }
                Ok(Err(e)) => {
                    tracing::debug!(host, "connect failed: {e}");
                    last = e;
                }
                Err(_) => {
                    tracing::debug!(host, "connect timed out");
                    last = Error::ConnectionLoss;
                }
            }
        }
        Err(last)
    }
}

fn parse_connect_string(connect_string: &str) -> Result<Vec<String>> {
    if connect_string.contains('/') {
        // A chroot suffix: not supported in this slice.
        return Err(Error::BadArguments);
    }
    let hosts: Vec<String> = connect_string
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|h| {
            if h.contains(':') {
                h.to_owned()
            } else {
                format!("{h}:2181")
            }
        })
        .collect();
    if hosts.is_empty() {
        return Err(Error::BadArguments);
    }
    Ok(hosts)
}

/// TCP connect and the session handshake (a 45-byte ConnectRequest, readOnly false).
async fn handshake(
    host: &str,
    timeout_ms: i32,
    codec: FrameCodec,
) -> Result<(TcpStream, ConnectResponse)> {
    let stream = TcpStream::connect(host).await.map_err(|e| {
        tracing::debug!(host, "tcp connect: {e}");
        Error::ConnectionLoss
    })?;
    let _ = stream.set_nodelay(true);
    let mut framed = Framed::new(stream, codec);
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout: timeout_ms,
        session_id: 0,
        passwd: Bytes::from_static(&[0; 16]),
        read_only: Some(false),
    };
    framed
        .send(request)
        .await
        .map_err(|_| Error::ConnectionLoss)?;
    let mut frame = match framed.next().await {
        Some(Ok(frame)) => frame,
        _ => return Err(Error::ConnectionLoss),
    };
    let response = ConnectResponse::decode(&mut frame).map_err(|_| Error::MarshallingError)?;
    if response.timeout <= 0 {
        return Err(Error::SessionExpired);
    }
    let parts = framed.into_parts();
    if !parts.read_buf.is_empty() {
        // Nothing may follow the handshake before we ask for it.
        return Err(Error::MarshallingError);
    }
    Ok((parts.io, response))
}

/// A ZooKeeper session over one connection, served by a background task. Cheap to
/// clone: clones share the session. When every clone is dropped the connection is
/// closed without closeSession (the server expires the session after its timeout);
/// call [`Client::close`] to end it at once.
#[derive(Debug, Clone)]
pub struct Client {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

impl Client {
    /// Connects with default options; see [`ClientBuilder::connect`].
    pub async fn connect(connect_string: &str) -> Result<Client> {
        ClientBuilder::default().connect(connect_string).await
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> i64 {
        self.shared.session_id
    }

    /// The negotiated session timeout.
    pub fn session_timeout(&self) -> Duration {
        self.shared.session_timeout
    }

    async fn submit(&self, request: Request, watch: Option<WatchRegistration>) -> Result<Response> {
        if self.shared.is_closing() && !matches!(request, Request::CloseSession) {
            return Err(Error::Closed);
        }
        let (reply, rx) = oneshot::channel();
        let command = Command {
            request,
            reply,
            watch,
        };
        if self.tx.send(command).await.is_err() {
            return Err(self.shared.dead_error());
        }
        match rx.await {
            Ok(result) => result,
            Err(_) => Err(self.shared.dead_error()),
        }
    }

    /// Sends a watched request; the watch is armed only if the reply allows it.
    async fn submit_watched(
        &self,
        request: Request,
        kind: WatchKind,
        path: &str,
    ) -> Result<(Response, Watch)> {
        let (tx, rx) = oneshot::channel();
        let registration = WatchRegistration {
            kind,
            path: path.to_owned(),
            tx,
        };
        let response = self.submit(request, Some(registration)).await;
        let watch = Watch::new(rx, self.shared.clone());
        match response {
            Ok(response) => Ok((response, watch)),
            Err(Error::NoNode) if kind == WatchKind::Exists => Ok((Response::Empty, watch)),
            Err(e) => Err(e),
        }
    }

    /// Creates `path` (create2): returns the actual path (with the sequence suffix for
    /// a sequential mode) and the new node's Stat.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> Result<(String, Option<Stat>)> {
        check_path(path)?;
        let request = Request::Create2(CreateRequest {
            path: path.to_owned(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: acl.to_vec(),
            flags: mode.code(),
        });
        match self.submit(request, None).await? {
            Response::Create2(r) => Ok((r.path, Some(r.stat))),
            Response::Create(r) => Ok((r.path, None)),
            _ => Err(Error::MarshallingError),
        }
    }

    /// Deletes `path` if its version is `version` (`None`: any version).
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        check_path(path)?;
        let request = Request::Delete(DeleteRequest {
            path: path.to_owned(),
            version: version.unwrap_or(-1),
        });
        self.submit(request, None).await.map(drop)
    }

    /// The Stat of `path`, or `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        check_path(path)?;
        match self.submit(exists_request(path, false), None).await {
            Ok(response) => stat_of(response).map(Some),
            Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// As [`Client::exists`], leaving a watch that fires on NodeCreated (if the node
    /// is missing), NodeDataChanged or NodeDeleted.
    pub async fn exists_w(&self, path: &str) -> Result<(Option<Stat>, Watch)> {
        check_path(path)?;
        let (response, watch) = self
            .submit_watched(exists_request(path, true), WatchKind::Exists, path)
            .await?;
        match response {
            Response::Empty => Ok((None, watch)),
            other => Ok((Some(stat_of(other)?), watch)),
        }
    }

    /// The data and Stat of `path` (a node stored with null data reads as empty).
    pub async fn get_data(&self, path: &str) -> Result<(Bytes, Stat)> {
        check_path(path)?;
        data_of(self.submit(get_data_request(path, false), None).await?)
    }

    /// As [`Client::get_data`], leaving a watch that fires on NodeDataChanged or
    /// NodeDeleted.
    pub async fn get_data_w(&self, path: &str) -> Result<(Bytes, Stat, Watch)> {
        check_path(path)?;
        let (response, watch) = self
            .submit_watched(get_data_request(path, true), WatchKind::Data, path)
            .await?;
        let (data, stat) = data_of(response)?;
        Ok((data, stat, watch))
    }

    /// Sets the data of `path` if its version is `version` (`None`: any version);
    /// returns the new Stat.
    pub async fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        check_path(path)?;
        let request = Request::SetData(SetDataRequest {
            path: path.to_owned(),
            data: Some(Bytes::copy_from_slice(data)),
            version: version.unwrap_or(-1),
        });
        stat_of(self.submit(request, None).await?)
    }

    /// The names of `path`'s children, in the server's order.
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        check_path(path)?;
        children_of(self.submit(get_children_request(path, false), None).await?)
    }

    /// As [`Client::get_children`], leaving a watch that fires on NodeChildrenChanged
    /// or NodeDeleted.
    pub async fn get_children_w(&self, path: &str) -> Result<(Vec<String>, Watch)> {
        check_path(path)?;
        let (response, watch) = self
            .submit_watched(get_children_request(path, true), WatchKind::Child, path)
            .await?;
        Ok((children_of(response)?, watch))
    }

    /// Ends the session (closeSession): its ephemeral nodes go at once. Later
    /// operations, on this handle or its clones, fail with [`Error::Closed`].
    /// Closing an already closed client succeeds.
    pub async fn close(&self) -> Result<()> {
        if !self.shared.begin_close() {
            return if self.shared.is_closing() {
                Ok(())
            } else {
                Err(self.shared.dead_error())
            };
        }
        let wait = self.shared.session_timeout.max(Duration::from_secs(1));
        match tokio::time::timeout(wait, self.submit(Request::CloseSession, None)).await {
            Ok(Ok(_)) | Ok(Err(Error::Closed)) => Ok(()),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::OperationTimeout),
        }
    }
}

/// Rejects what is certainly not a ZooKeeper path before it is sent.
fn check_path(path: &str) -> Result<()> {
    if !path.starts_with('/') || path.contains('\0') {
        return Err(Error::BadArguments);
    }
    Ok(())
}

fn exists_request(path: &str, watch: bool) -> Request {
    Request::Exists(ExistsRequest {
        path: path.to_owned(),
        watch,
    })
}

fn get_data_request(path: &str, watch: bool) -> Request {
    Request::GetData(GetDataRequest {
        path: path.to_owned(),
        watch,
    })
}

fn get_children_request(path: &str, watch: bool) -> Request {
    Request::GetChildren(GetChildrenRequest {
        path: path.to_owned(),
        watch,
    })
}

fn stat_of(response: Response) -> Result<Stat> {
    match response {
        Response::Stat(stat) => Ok(stat),
        _ => Err(Error::MarshallingError),
    }
}

fn data_of(response: Response) -> Result<(Bytes, Stat)> {
    match response {
        Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
        _ => Err(Error::MarshallingError),
    }
}

fn children_of(response: Response) -> Result<Vec<String>> {
    match response {
        Response::GetChildren(r) => Ok(r.children),
        _ => Err(Error::MarshallingError),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings() {
        assert_eq!(
            parse_connect_string("a:1, b:2,c").ok(),
            Some(vec!["a:1".into(), "b:2".into(), "c:2181".into()])
        );
        assert_eq!(parse_connect_string(""), Err(Error::BadArguments));
        assert_eq!(parse_connect_string("a:1/chroot"), Err(Error::BadArguments));
    }

    #[test]
    fn connect_request_is_45_bytes() {
        let request = ConnectRequest {
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
            ..ConnectRequest::default()
        };
        assert_eq!(ferrokeeper_protocol::to_bytes(&request).len(), 45);
    }
}
