//! Session lifetime on one server: expiry removes ephemerals and fires watches,
//! resuming on a new TCP connection keeps the session and re-arms its watches.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    ConnectRequest, CreateRequest, EventType, ExistsRequest, GetDataRequest, Request, Response,
    SetDataRequest, SetWatches, perms, write_frame,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

fn create(client: &mut RawClient, path: &str, flags: i32) {
    let reply = client
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"v")),
            acl: perms::open_acl_unsafe(),
            flags,
        }))
        .expect("create");
    assert_eq!(reply.last().expect("reply").header.err, 0, "create {path}");
}

fn exists(client: &mut RawClient, path: &str, watch: bool) -> bool {
    let reply = client
        .call(Request::Exists(ExistsRequest {
            path: path.into(),
            watch,
        }))
        .expect("exists");
    reply.last().expect("reply").header.err == 0
}

fn watch_data(client: &mut RawClient, path: &str) {
    let reply = client
        .call(Request::GetData(GetDataRequest {
            path: path.into(),
            watch: true,
        }))
        .expect("getData");
    assert_eq!(reply.last().expect("reply").header.err, 0);
}

fn next_event(client: &mut RawClient) -> (EventType, String) {
    client.next_event().expect("notification")
}

#[test]
fn expiry_deletes_ephemerals_and_fires_their_watches() {
    // tickTime 500 allows a 1000 ms session.
    let server = Ferrokeeper::start(&["--tick-time", "500"]);
    let (mut owner, response) = RawClient::connect(server.addr(), 1000, None).expect("owner");
    assert_eq!(response.timeout, 1000);
    create(&mut owner, "/lease", 1);
    let (mut observer, _) = RawClient::connect(server.addr(), 30_000, None).expect("observer");
    watch_data(&mut observer, "/lease");

    let (session, passwd) = (owner.session_id, owner.passwd.clone());
    owner.disconnect();
    // Losing the TCP connection does not end the session by itself.
    assert!(
        exists(&mut observer, "/lease", false),
        "ephemeral deleted before the session timed out"
    );

    let started = Instant::now();
    assert_eq!(
        next_event(&mut observer),
        (EventType::NodeDeleted, "/lease".to_owned())
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "expiry took {:?}",
        started.elapsed()
    );
    assert!(!exists(&mut observer, "/lease", false));

    // The expired session cannot be resumed: timeout 0, then close.
    let (mut late, response) =
        RawClient::connect(server.addr(), 1000, Some((session, passwd))).expect("resume attempt");
    assert_eq!(response.timeout, 0);
    assert_eq!(response.session_id, 0);
    assert!(late.closed_by_server(Duration::from_secs(10)));
}

#[test]
fn resuming_on_a_new_connection_keeps_session_ephemerals_and_watches() {
    let server = Ferrokeeper::start(&[]);
    let (mut client, first) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    create(&mut client, "/mine", 1);
    create(&mut client, "/watched", 0);
    create(&mut client, "/changed-while-away", 0);
    watch_data(&mut client, "/watched");
    watch_data(&mut client, "/changed-while-away");
    let last_zxid = client.last_zxid;
    let (session, passwd) = (client.session_id, client.passwd.clone());
    client.disconnect();

    // While the client is away, one watched node changes.
    let (mut other, _) = RawClient::connect(server.addr(), 30_000, None).expect("other");
    let reply = other
        .call(Request::SetData(SetDataRequest {
            path: "/changed-while-away".into(),
            data: Some(Bytes::from_static(b"new")),
            version: -1,
        }))
        .expect("set");
    assert_eq!(reply.last().expect("reply").header.err, 0);

    let (mut resumed, response) =
        RawClient::connect(server.addr(), 30_000, Some((session, passwd.clone()))).expect("resume");
    assert_eq!(response.session_id, first.session_id);
    assert_eq!(response.timeout, first.timeout);
    assert_eq!(response.passwd, passwd);
    assert!(
        exists(&mut resumed, "/mine", false),
        "the session's ephemeral survived the reconnect"
    );

    // Re-register watches as a client does; the change made while away fires first,
    // before the setWatches reply.
    let frames = resumed
        .call(Request::SetWatches(SetWatches {
            relative_zxid: last_zxid,
            data_watches: vec!["/watched".into(), "/changed-while-away".into()],
            exist_watches: vec![],
            child_watches: vec![],
        }))
        .expect("setWatches");
    assert_eq!(
        frames.len(),
        2,
        "one notification then the reply: {frames:?}"
    );
    assert!(matches!(&frames[0].response, Response::Notification(e)
        if e.r#type == EventType::NodeDataChanged.code() && e.path == "/changed-while-away"));
    assert_eq!(frames[1].header.xid, ferrokeeper_protocol::xid::SET_WATCHES);

    // The re-armed watch fires on the next change.
    other
        .call(Request::SetData(SetDataRequest {
            path: "/watched".into(),
            data: Some(Bytes::from_static(b"x")),
            version: -1,
        }))
        .expect("set");
    assert_eq!(
        next_event(&mut resumed),
        (EventType::NodeDataChanged, "/watched".to_owned())
    );
}

#[test]
fn a_second_connection_of_a_session_takes_it_over() {
    let server = Ferrokeeper::start(&[]);
    let (mut first, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    let session = (first.session_id, first.passwd.clone());
    let (mut second, response) =
        RawClient::connect(server.addr(), 30_000, Some(session)).expect("resume");
    assert_eq!(response.session_id, first.session_id);
    assert!(
        first.closed_by_server(Duration::from_secs(10)),
        "the old connection must be closed"
    );
    assert!(!exists(&mut second, "/nothing", false));
}

#[test]
fn wrong_password_is_answered_as_expired() {
    let server = Ferrokeeper::start(&[]);
    let (client, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    let (mut wrong, response) = RawClient::connect(
        server.addr(),
        30_000,
        Some((client.session_id, Bytes::from_static(&[1; 16]))),
    )
    .expect("attempt");
    assert_eq!((response.timeout, response.session_id), (0, 0));
    assert_eq!(response.passwd.as_ref(), &[0u8; 16]);
    assert!(wrong.closed_by_server(Duration::from_secs(10)));
}

#[test]
fn client_ahead_of_the_server_gets_no_reply() {
    let server = Ferrokeeper::start(&[]);
    let mut stream = TcpStream::connect(server.addr()).expect("connect");
    let mut frame = BytesMut::new();
    write_frame(
        &ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 1 << 40,
            timeout: 30_000,
            session_id: 0,
            passwd: Bytes::from_static(&[0; 16]),
            read_only: Some(false),
        },
        &mut frame,
    );
    stream.write_all(&frame).expect("send");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert_eq!(
        stream.read(&mut buf).expect("a close, not a timeout"),
        0,
        "no bytes may come back"
    );
}

#[test]
fn session_timeout_is_negotiated_within_the_bounds() {
    // tickTime 2000: bounds 4000..=40000, as ZooKeeper.
    let server = Ferrokeeper::start(&["--tick-time", "2000"]);
    assert_eq!(
        RawClient::connect(server.addr(), 1000, None)
            .expect("low")
            .1
            .timeout,
        4000
    );
    assert_eq!(
        RawClient::connect(server.addr(), 10_000_000, None)
            .expect("high")
            .1
            .timeout,
        40_000
    );
    assert_eq!(
        RawClient::connect(server.addr(), 12_345, None)
            .expect("mid")
            .1
            .timeout,
        12_345
    );
}

/// A pre-3.5 client (Mesos bundles the 3.4.8 C client) sends no readOnly byte and must
/// get none back: the ConnectResponse is 36 bytes, as ZooKeeper 3.8 answers it, for a
/// new session and a resumed one; a 3.5+ client's has the byte (37 bytes).
#[test]
fn a_pre_3_5_handshake_gets_no_read_only_byte() {
    use ferrokeeper_protocol::Jute;
    use ferrokeeper_tests::zookeeper::RealZooKeeper;

    /// (length of the ConnectResponse payload, its session id) for one handshake.
    fn handshake(
        addr: std::net::SocketAddr,
        session: Option<(i64, Bytes)>,
        read_only: Option<bool>,
    ) -> (usize, i64) {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let (session_id, passwd) = session.unwrap_or((0, Bytes::from_static(&[0; 16])));
        let mut frame = BytesMut::new();
        write_frame(
            &ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: 0,
                timeout: 30_000,
                session_id,
                passwd,
                read_only,
            },
            &mut frame,
        );
        stream.write_all(&frame).expect("send");
        let mut len = [0u8; 4];
        stream.read_exact(&mut len).expect("length");
        let len = usize::try_from(i32::from_be_bytes(len)).expect("positive length");
        let mut payload = vec![0u8; len];
        stream.read_exact(&mut payload).expect("payload");
        let response = ferrokeeper_protocol::ConnectResponse::decode(&mut Bytes::from(payload))
            .expect("decodes");
        (len, response.session_id)
    }

    let zk = RealZooKeeper::start(&[], &[]);
    let fk = Ferrokeeper::start(&[]);
    for addr in [zk.addr(), fk.addr()] {
        let (len, id) = handshake(addr, None, None);
        assert_eq!(len, 36, "{addr}: a new session for a 3.4 client");
        let (client, _) = RawClient::connect(addr, 30_000, None).expect("a session");
        let (len, resumed) =
            handshake(addr, Some((client.session_id, client.passwd.clone())), None);
        assert_eq!((len, resumed), (36, client.session_id), "{addr}: resumed");
        assert_ne!(id, 0);
        assert_eq!(
            handshake(addr, None, Some(false)).0,
            37,
            "{addr}: a 3.5+ client"
        );
    }
}
