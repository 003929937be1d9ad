//! The client against a scripted server on a loopback socket: what it does when the
//! server misbehaves (no panics; the right errors) and that it pings on its own.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokeeper_client::{Client, Error};
use ferrokeeper_protocol::{
    ConnectRequest, ConnectResponse, FrameCodec, GetDataResponse, Jute, OpCode, ReplyHeader,
    RequestFrame, Stat, xid,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

const BOUND: Duration = Duration::from_secs(10);

type Conn = Framed<TcpStream, FrameCodec>;

/// Listens once; returns the address and the accepted connection after the handshake
/// (answered with `timeout_ms`), plus the ConnectRequest the client sent.
async fn fake(timeout_ms: i32) -> (String, tokio::task::JoinHandle<(Conn, ConnectRequest)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut conn = Framed::new(stream, FrameCodec::default());
        let mut frame = conn.next().await.expect("frame").expect("read");
        assert_eq!(frame.len(), 45, "ConnectRequest with the readOnly byte");
        let request = ConnectRequest::decode(&mut frame).expect("decode");
        let response = ConnectResponse {
            protocol_version: 0,
            timeout: timeout_ms,
            session_id: 0x1234,
            passwd: Bytes::from_static(&[1; 16]),
            read_only: Some(false),
        };
        conn.send(response).await.expect("send");
        (conn, request)
    });
    (addr, task)
}

async fn next_request(conn: &mut Conn) -> RequestFrame {
    let mut frame = tokio::time::timeout(BOUND, conn.next())
        .await
        .expect("request in time")
        .expect("frame")
        .expect("read");
    RequestFrame::decode(&mut frame).expect("decode request")
}

fn reply(xid: i32, err: i32, body: &[u8]) -> Bytes {
    let mut payload = BytesMut::new();
    ReplyHeader { xid, zxid: 1, err }.encode(&mut payload);
    payload.extend_from_slice(body);
    payload.freeze()
}

async fn connect(addr: &str, session: Duration) -> Client {
    tokio::time::timeout(
        BOUND,
        Client::builder().session_timeout(session).connect(addr),
    )
    .await
    .expect("connect in time")
    .expect("connect")
}

#[tokio::test]
async fn handshake_and_session_expired() {
    let (addr, server) = fake(30_000).await;
    let client = connect(&addr, Duration::from_secs(30)).await;
    let (_conn, request) = server.await.expect("server");
    assert_eq!(request.timeout, 30_000);
    assert_eq!((request.session_id, request.read_only), (0, Some(false)));
    assert_eq!(client.session_id(), 0x1234);
    assert_eq!(client.session_timeout(), Duration::from_secs(30));

    let (addr, _server) = fake(0).await;
    let refused = Client::connect(&addr).await;
    assert_eq!(refused.err(), Some(Error::SessionExpired));
}

#[tokio::test]
async fn connect_to_nothing_is_connection_loss() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    drop(listener);
    let result = tokio::time::timeout(BOUND, Client::connect(&addr))
        .await
        .expect("in time");
    assert_eq!(result.err(), Some(Error::ConnectionLoss));
}

#[tokio::test]
async fn malformed_body_fails_one_request_only() {
    let (addr, server) = fake(30_000).await;
    let client = connect(&addr, Duration::from_secs(30)).await;
    let (mut conn, _) = server.await.expect("server");
    let first = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/a").await }
    });
    let request = next_request(&mut conn).await;
    assert_eq!(request.header.r#type, OpCode::GetData.code());
    // A getData body cut short.
    conn.send(reply(request.header.xid, 0, &[0, 0, 0, 9, 1]))
        .await
        .expect("send");
    assert_eq!(
        first.await.expect("task").err(),
        Some(Error::MarshallingError)
    );

    let second = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/a").await }
    });
    let request = next_request(&mut conn).await;
    let body = GetDataResponse {
        data: Some(Bytes::from_static(b"ok")),
        stat: Stat::default(),
    };
    let mut encoded = BytesMut::new();
    body.encode(&mut encoded);
    conn.send(reply(request.header.xid, 0, &encoded))
        .await
        .expect("send");
    let (data, _) = second.await.expect("task").expect("get_data");
    assert_eq!(&data[..], b"ok");
}

#[tokio::test]
async fn out_of_order_reply_ends_the_connection() {
    let (addr, server) = fake(30_000).await;
    let client = connect(&addr, Duration::from_secs(30)).await;
    let (mut conn, _) = server.await.expect("server");
    let (watched, watch) = {
        // Arm a watch first (exists on a missing node registers one).
        let c = client.clone();
        let task = tokio::spawn(async move { c.exists_w("/w").await });
        let request = next_request(&mut conn).await;
        conn.send(reply(request.header.xid, -101, &[]))
            .await
            .expect("send");
        let (stat, watch) = task.await.expect("task").expect("exists_w");
        (stat, watch)
    };
    assert_eq!(watched, None);
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.delete("/a", None).await }
    });
    let request = next_request(&mut conn).await;
    conn.send(reply(request.header.xid + 7, 0, &[]))
        .await
        .expect("send");
    assert_eq!(pending.await.expect("task"), Err(Error::ConnectionLoss));
    let fired = tokio::time::timeout(BOUND, watch).await.expect("in time");
    assert_eq!(fired, Err(Error::ConnectionLoss));
    assert_eq!(client.exists("/").await, Err(Error::ConnectionLoss));
    assert_eq!(client.close().await, Err(Error::ConnectionLoss));
}

#[tokio::test]
async fn garbage_and_hangup_are_connection_loss() {
    let (addr, server) = fake(30_000).await;
    let client = connect(&addr, Duration::from_secs(30)).await;
    let (conn, _) = server.await.expect("server");
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.get_children("/").await }
    });
    // A negative frame length, then hang up.
    let mut stream = conn.into_inner();
    tokio::io::AsyncWriteExt::write_all(&mut stream, &[0xff, 0xff, 0xff, 0xfe])
        .await
        .expect("write");
    drop(stream);
    let result = tokio::time::timeout(BOUND, pending)
        .await
        .expect("in time")
        .expect("task");
    assert_eq!(result, Err(Error::ConnectionLoss));
}

#[tokio::test]
async fn pings_when_idle_and_ignores_ping_replies() {
    // A 1.5 s session: a ping after 0.5 s idle.
    let (addr, server) = fake(1_500).await;
    let client = connect(&addr, Duration::from_millis(1_500)).await;
    let (mut conn, _) = server.await.expect("server");
    for _ in 0..2 {
        let ping = next_request(&mut conn).await;
        assert_eq!(ping.header.xid, xid::PING);
        assert_eq!(ping.header.r#type, OpCode::Ping.code());
        conn.send(reply(xid::PING, 0, &[])).await.expect("send");
    }
    // A notification for a path nobody watches is dropped quietly.
    let mut event = BytesMut::new();
    ReplyHeader {
        xid: xid::NOTIFICATION,
        zxid: -1,
        err: 0,
    }
    .encode(&mut event);
    ferrokeeper_protocol::WatcherEvent {
        r#type: 3,
        state: 3,
        path: "/x".into(),
    }
    .encode(&mut event);
    conn.send(event.freeze()).await.expect("send");
    let task = tokio::spawn({
        let client = client.clone();
        async move { client.delete("/a", Some(3)).await }
    });
    let mut request = next_request(&mut conn).await;
    while request.header.xid == xid::PING {
        conn.send(reply(xid::PING, 0, &[])).await.expect("send");
        request = next_request(&mut conn).await;
    }
    conn.send(reply(request.header.xid, -103, &[]))
        .await
        .expect("send");
    assert_eq!(task.await.expect("task"), Err(Error::BadVersion));
}
