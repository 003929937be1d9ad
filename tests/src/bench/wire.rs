//! One raw ZooKeeper session over tokio: handshake, then frames written and read as
//! bytes. The load generator matches replies to requests by order (ZooKeeper answers a
//! session's requests in the order they were sent), so it only decodes reply headers.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use ferrokeeper_protocol::{
    ConnectRequest, ConnectResponse, Jute, ReplyHeader, Request, RequestFrame, write_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connection's read side, plain or TLS.
pub type ReadHalf = Box<dyn AsyncRead + Unpin + Send>;
/// A connection's write side, plain or TLS.
pub type WriteHalf = Box<dyn AsyncWrite + Unpin + Send>;

/// TLS for every connection this process opens (`zkbench run --tls-ca ...`), to measure
/// what TLS costs each server.
static TLS: std::sync::OnceLock<tokio_rustls::TlsConnector> = std::sync::OnceLock::new();

/// Makes every later `connect` use TLS with the CA `ca` and the client certificate
/// `cert`/`key` (PEM files).
pub fn use_tls(
    ca: &std::path::Path,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> io::Result<()> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str, e: &dyn std::fmt::Display| io::Error::other(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| bad("CA file", &e))? {
        roots
            .add(cert.map_err(|e| bad("CA file", &e))?)
            .map_err(|e| bad("CA certificate", &e))?;
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad("certificate file", &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("certificate file", &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad("key file", &e))?;
    #[allow(deprecated)] // ring, as the server: builds with the C compiler alone
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS versions", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad("client certificate", &e))?;
    TLS.set(tokio_rustls::TlsConnector::from(std::sync::Arc::new(
        config,
    )))
    .map_err(|_| io::Error::other("TLS configured twice"))
}

/// Largest reply frame accepted (the benchmark never reads more than a few KiB).
const MAX_FRAME: usize = 4 << 20;
/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;

/// Cuts length-prefixed frames out of the read half of a connection.
pub struct FrameReader {
    rd: ReadHalf,
    buf: BytesMut,
}

impl FrameReader {
    fn new(rd: ReadHalf) -> FrameReader {
        FrameReader {
            rd,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The next frame's payload (without its length prefix).
    pub async fn next_frame(&mut self) -> io::Result<Bytes> {
        loop {
            if self.buf.len() >= 4 {
                let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
                let len = usize::try_from(len)
                    .ok()
                    .filter(|len| *len <= MAX_FRAME)
                    .ok_or_else(|| io::Error::other(format!("bad reply frame length {len}")))?;
                if self.buf.len() >= 4 + len {
                    self.buf.advance(4);
                    return Ok(self.buf.split_to(len).freeze());
                }
                self.buf.reserve(4 + len - self.buf.len());
            }
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            if self.rd.read_buf(&mut self.buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                ));
            }
        }
    }

    /// The next reply's header (the body is skipped).
    pub async fn next_header(&mut self) -> io::Result<ReplyHeader> {
        let mut frame = self.next_frame().await?;
        ReplyHeader::decode(&mut frame).map_err(io::Error::other)
    }
}

/// An open session: the two halves of its connection.
pub struct Session {
    pub reader: FrameReader,
    pub writer: WriteHalf,
    pub session_id: i64,
}

/// Connects to `addr` (loopback only) and opens a new session within `within`.
pub async fn connect(
    addr: SocketAddr,
    session_timeout_ms: i32,
    within: Duration,
) -> io::Result<Session> {
    if !addr.ip().is_loopback() {
        return Err(io::Error::other(format!(
            "{addr} is not a loopback address; zkbench only talks to local servers"
        )));
    }
    let open = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (rd, mut writer): (ReadHalf, WriteHalf) = match TLS.get() {
            Some(tls) => {
                let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
                let stream = tls.connect(name, stream).await?;
                let (rd, wr) = tokio::io::split(stream);
                (Box::new(rd), Box::new(wr))
            }
            None => {
                let (rd, wr) = stream.into_split();
                (Box::new(rd), Box::new(wr))
            }
        };
        let mut buf = BytesMut::new();
        write_frame(
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout: session_timeout_ms,
                session_id: 0,
                passwd: Bytes::from_static(&[0; 16]),
                read_only: Some(false),
            },
            &mut buf,
        );
        writer.write_all(&buf).await?;
        let mut reader = FrameReader::new(rd);
        let mut frame = reader.next_frame().await?;
        let response = ConnectResponse::decode(&mut frame).map_err(io::Error::other)?;
        if response.timeout <= 0 || response.session_id == 0 {
            return Err(io::Error::other("server refused the session"));
        }
        Ok(Session {
            reader,
            writer,
            session_id: response.session_id,
        })
    };
    tokio::time::timeout(within, open)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "connect/handshake timed out"))?
}

impl Session {
    /// Sends one request and waits (bounded) for its reply header.
    pub async fn call(
        &mut self,
        xid: i32,
        request: Request,
        within: Duration,
    ) -> io::Result<ReplyHeader> {
        let mut buf = BytesMut::new();
        write_frame(&RequestFrame::new(xid, request), &mut buf);
        let exchange = async {
            self.writer.write_all(&buf).await?;
            loop {
                let header = self.reader.next_header().await?;
                if header.xid == xid {
                    return Ok(header);
                }
                if header.xid != ferrokeeper_protocol::xid::NOTIFICATION {
                    return Err(io::Error::other(format!(
                        "reply xid {} while waiting for {xid}",
                        header.xid
                    )));
                }
            }
        };
        tokio::time::timeout(within, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "request timed out"))?
    }

    /// Closes the session (best effort, bounded).
    pub async fn close(mut self, xid: i32) {
        let _ = self
            .call(xid, Request::CloseSession, Duration::from_secs(5))
            .await;
    }
}
