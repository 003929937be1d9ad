//! A minimal blocking ZooKeeper client over the protocol crate, for tests that need
//! control no real client gives: dropping a TCP connection without closing the
//! session, resuming a session on a new connection, sending exact frames.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    ConnectRequest, ConnectResponse, EncodeFrame, Jute, OpCode, ReplyFrame, Request, RequestFrame,
    write_frame,
};

pub struct RawClient {
    stream: TcpStream,
    next_xid: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    pub timeout: i32,
    pub last_zxid: i64,
}

fn read_payload(stream: &mut TcpStream) -> std::io::Result<Bytes> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = i32::from_be_bytes(len);
    let len = usize::try_from(len).map_err(|_| std::io::Error::other("negative frame length"))?;
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf)?;
    Ok(Bytes::from(buf))
}

fn send(stream: &mut TcpStream, message: &impl EncodeFrame) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    write_frame(message, &mut buf);
    stream.write_all(&buf)
}

impl RawClient {
    /// Connects and opens a new session (`session` = None) or resumes one.
    pub fn connect(
        addr: SocketAddr,
        timeout_ms: i32,
        session: Option<(i64, Bytes)>,
    ) -> std::io::Result<(RawClient, ConnectResponse)> {
        Self::connect_seen(addr, timeout_ms, session, 0)
    }

    /// As [`RawClient::connect`], telling the server the last zxid this client saw (a
    /// server behind it closes the connection without a reply).
    pub fn connect_seen(
        addr: SocketAddr,
        timeout_ms: i32,
        session: Option<(i64, Bytes)>,
        last_zxid_seen: i64,
    ) -> std::io::Result<(RawClient, ConnectResponse)> {
        Self::connect_with(addr, timeout_ms, session, last_zxid_seen, Some(false))
    }

    /// As [`RawClient::connect_seen`], with the ConnectRequest's `readOnly` byte
    /// (`canBeReadOnly`; `None` leaves it out, as a pre-3.4 client does).
    pub fn connect_with(
        addr: SocketAddr,
        timeout_ms: i32,
        session: Option<(i64, Bytes)>,
        last_zxid_seen: i64,
        read_only: Option<bool>,
    ) -> std::io::Result<(RawClient, ConnectResponse)> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let (session_id, passwd) = session.unwrap_or((0, Bytes::from_static(&[0; 16])));
        send(
            &mut stream,
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen,
                timeout: timeout_ms,
                session_id,
                passwd,
                read_only,
            },
        )?;
        let response = ConnectResponse::decode(&mut read_payload(&mut stream)?)
            .map_err(std::io::Error::other)?;
        let client = RawClient {
            stream,
            next_xid: 1,
            session_id: response.session_id,
            passwd: response.passwd.clone(),
            timeout: response.timeout,
            last_zxid: last_zxid_seen,
        };
        Ok((client, response))
    }

    /// Sends `request` and returns frames up to and including its reply (watch
    /// notifications that arrive first come before it in the list).
    pub fn call(&mut self, request: Request) -> std::io::Result<Vec<ReplyFrame>> {
        let xid = match request.opcode() {
            OpCode::Ping => ferrokeeper_protocol::xid::PING,
            OpCode::Auth => ferrokeeper_protocol::xid::AUTH,
            OpCode::SetWatches | OpCode::SetWatches2 => ferrokeeper_protocol::xid::SET_WATCHES,
            _ => {
                self.next_xid += 1;
                self.next_xid
            }
        };
        let opcode = request.opcode();
        send(&mut self.stream, &RequestFrame::new(xid, request))?;
        let mut frames = Vec::new();
        loop {
            let frame = self.read_frame(opcode)?;
            let done = frame.header.xid == xid;
            if frame.header.zxid > 0 {
                self.last_zxid = self.last_zxid.max(frame.header.zxid);
            }
            frames.push(frame);
            if done {
                return Ok(frames);
            }
        }
    }

    /// Reads one frame; `opcode` types a reply that is not a notification.
    pub fn read_frame(&mut self, opcode: OpCode) -> std::io::Result<ReplyFrame> {
        let mut payload = read_payload(&mut self.stream)?;
        ReplyFrame::decode(&mut payload, |xid| {
            if xid == ferrokeeper_protocol::xid::NOTIFICATION {
                OpCode::Notification
            } else {
                opcode
            }
        })
        .map_err(std::io::Error::other)
    }

    /// Waits for one notification (reads nothing else) and returns its type and path.
    pub fn next_event(&mut self) -> std::io::Result<(ferrokeeper_protocol::EventType, String)> {
        let frame = self.read_frame(OpCode::Notification)?;
        match frame.response {
            ferrokeeper_protocol::Response::Notification(event) => {
                let kind =
                    ferrokeeper_protocol::EventType::from_code(event.r#type).ok_or_else(|| {
                        std::io::Error::other(format!("unknown event type {}", event.r#type))
                    })?;
                Ok((kind, event.path))
            }
            other => Err(std::io::Error::other(format!(
                "expected a notification, got {other:?}"
            ))),
        }
    }

    /// Drops the TCP connection without closing the session.
    pub fn disconnect(self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// True once the server has closed the connection (reads EOF within `wait`).
    pub fn closed_by_server(&mut self, wait: Duration) -> bool {
        let _ = self.stream.set_read_timeout(Some(wait));
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }

    /// The connection itself, for tests that write raw bytes from here on.
    pub fn into_stream(self) -> TcpStream {
        self.stream
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }
}

/// The error code of the last reply of `frames` (0: success).
pub fn err_of(frames: &[ferrokeeper_protocol::ReplyFrame]) -> i32 {
    frames.last().expect("a reply").header.err
}

/// Creates `path` with data `v`, an open ACL and `flags`; returns the error code.
pub fn create(client: &mut RawClient, path: &str, flags: i32) -> std::io::Result<i32> {
    let frames = client.call(ferrokeeper_protocol::Request::Create(
        ferrokeeper_protocol::CreateRequest {
            path: path.into(),
            data: Some(bytes::Bytes::from_static(b"v")),
            acl: ferrokeeper_protocol::perms::open_acl_unsafe(),
            flags,
        },
    ))?;
    Ok(err_of(&frames))
}

/// The Stat of `path`, or `None` if it does not exist (no watch).
pub fn exists(client: &mut RawClient, path: &str) -> Option<ferrokeeper_protocol::Stat> {
    let frames = client
        .call(ferrokeeper_protocol::Request::Exists(
            ferrokeeper_protocol::ExistsRequest {
                path: path.into(),
                watch: false,
            },
        ))
        .expect("exists");
    match &frames.last().expect("reply").response {
        ferrokeeper_protocol::Response::Stat(stat) => Some(stat.clone()),
        _ => None,
    }
}
