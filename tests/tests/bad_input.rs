//! Bad input affects only the connection that sent it: the server closes that one
//! connection and keeps serving everybody else.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::BytesMut;
use ferrokeeper_protocol::{
    CreateRequest, ErrorCode, GetDataRequest, OpCode, Request, RequestFrame, RequestHeader, perms,
    write_frame,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

const WAIT: Duration = Duration::from_secs(10);

/// True when the peer closed the connection (EOF or reset) within `WAIT`.
fn closed(stream: &mut TcpStream) -> bool {
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0u8; 256];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue, // a reply before the close, e.g. an error code
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A fresh client can still create and read a node: the server is healthy.
fn assert_server_healthy(addr: SocketAddr, path: &str) {
    let (mut client, response) = RawClient::connect(addr, 30_000, None).expect("connect");
    assert!(response.timeout > 0, "session refused: {response:?}");
    let reply = client
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(bytes::Bytes::from_static(b"ok")),
            acl: perms::open_acl_unsafe(),
            flags: 0,
        }))
        .expect("create");
    assert_eq!(
        reply.last().expect("reply").header.err,
        0,
        "create {path} failed"
    );
}

fn raw_connection(addr: SocketAddr) -> (RawClient, TcpStream) {
    let (client, _) = RawClient::connect(addr, 30_000, None).expect("connect");
    let mut client = client;
    let stream = client.stream().try_clone().expect("clone");
    (client, stream)
}

#[test]
fn negative_frame_length_closes_only_that_connection() {
    let server = Ferrokeeper::start(&[]);
    let (_client, mut stream) = raw_connection(server.addr());
    stream.write_all(&(-5i32).to_be_bytes()).expect("send");
    assert!(
        closed(&mut stream),
        "server kept a connection that sent a negative length"
    );
    assert_server_healthy(server.addr(), "/after-negative");
}

#[test]
fn oversize_frame_length_closes_without_allocating() {
    let server = Ferrokeeper::start(&[]);
    // Before the handshake and after it.
    let mut fresh = TcpStream::connect(server.addr()).expect("connect");
    fresh
        .write_all(&0x7fff_fff0i32.to_be_bytes())
        .expect("send");
    assert!(closed(&mut fresh));
    let (_client, mut stream) = raw_connection(server.addr());
    stream
        .write_all(&(2 * 1024 * 1024i32).to_be_bytes())
        .expect("send");
    assert!(closed(&mut stream));
    assert_server_healthy(server.addr(), "/after-oversize");
}

#[test]
fn malformed_request_body_closes_the_connection() {
    let server = Ferrokeeper::start(&[]);
    let (_client, mut stream) = raw_connection(server.addr());
    // A getData header whose path claims 1000 bytes but carries 3.
    let mut frame = BytesMut::new();
    let header = RequestHeader {
        xid: 1,
        r#type: OpCode::GetData.code(),
    };
    let body = [
        header.xid.to_be_bytes(),
        header.r#type.to_be_bytes(),
        1000i32.to_be_bytes(),
    ]
    .concat();
    frame.extend_from_slice(&((body.len() + 3) as i32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame.extend_from_slice(b"/ab");
    stream.write_all(&frame).expect("send");
    assert!(closed(&mut stream));
    assert_server_healthy(server.addr(), "/after-malformed");
}

#[test]
fn unknown_opcode_gets_unimplemented_then_close() {
    let server = Ferrokeeper::start(&[]);
    let (mut client, mut stream) = raw_connection(server.addr());
    let mut frame = BytesMut::new();
    frame.extend_from_slice(&8i32.to_be_bytes());
    frame.extend_from_slice(&7i32.to_be_bytes());
    frame.extend_from_slice(&999i32.to_be_bytes());
    stream.write_all(&frame).expect("send");
    let reply = client
        .read_frame(OpCode::Error)
        .expect("a reply before the close");
    assert_eq!(reply.header.xid, 7);
    assert_eq!(reply.header.err, ErrorCode::Unimplemented.code());
    assert!(closed(&mut stream));
    assert_server_healthy(server.addr(), "/after-unknown-opcode");
}

#[test]
fn garbage_before_the_handshake_is_refused() {
    let server = Ferrokeeper::start(&[]);
    // A getData request where a ConnectRequest belongs: too short to be one.
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    let mut frame = BytesMut::new();
    write_frame(
        &RequestFrame::new(
            1,
            Request::GetData(GetDataRequest {
                path: "/".into(),
                watch: false,
            }),
        ),
        &mut frame,
    );
    stream.write_all(&frame).expect("send");
    assert!(closed(&mut stream));
    assert_server_healthy(server.addr(), "/after-garbage");
}

#[test]
fn half_sent_frames_and_many_idle_connections_do_not_block_others() {
    let server = Ferrokeeper::start(&["--max-client-cnxns", "0"]);
    let mut idle = Vec::new();
    for i in 0..1000 {
        let mut stream = TcpStream::connect(server.addr()).expect("idle connection");
        match i % 3 {
            // Half a length prefix, then silence.
            0 => stream.write_all(&[0, 0]).expect("send"),
            // A length prefix and part of a handshake, then silence.
            1 => stream.write_all(&[0, 0, 0, 45, 0, 0, 0]).expect("send"),
            // Nothing at all.
            _ => {}
        }
        idle.push(stream);
    }
    assert_server_healthy(server.addr(), "/with-1000-idle");
    drop(idle);
    assert_server_healthy(server.addr(), "/after-idle");
}

#[test]
fn max_client_cnxns_limits_connections_per_address() {
    let server = Ferrokeeper::start(&["--max-client-cnxns", "3"]);
    let held: Vec<RawClient> = (0..3)
        .map(|_| {
            RawClient::connect(server.addr(), 30_000, None)
                .expect("within the limit")
                .0
        })
        .collect();
    let mut over = TcpStream::connect(server.addr()).expect("tcp connect");
    assert!(
        closed(&mut over),
        "the fourth connection from one address must be closed"
    );
    drop(held);
    // Slots are released when connections end; poll until one is free again.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        match RawClient::connect(server.addr(), 30_000, None) {
            Ok((_, response)) if response.timeout > 0 => break,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => panic!("no connection slot freed: {:?}", other.map(|(_, r)| r)),
        }
    }
}
