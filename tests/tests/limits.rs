//! Limits that protect the server from its clients: a client that pipelines requests
//! and never reads the replies is not read from either (its replies queue only up to a
//! bound), so the server's memory stays bounded and other clients are served; the
//! `maxCnxns` total connection limit.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    CreateRequest, GetDataRequest, Request, RequestFrame, perms, write_frame,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

/// The server's resident set, KiB (Linux).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

fn create(client: &mut RawClient, path: &str, data: Bytes) {
    let frames = client
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(data),
            acl: vec![ferrokeeper_protocol::Acl {
                perms: perms::ALL,
                id: ferrokeeper_protocol::Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            flags: 0,
        }))
        .expect("create");
    let reply = frames.last().expect("reply");
    assert_eq!(reply.header.err, 0, "create {path}: {reply:?}");
}

#[test]
fn a_client_that_never_reads_cannot_grow_the_server() {
    const REQUESTS: usize = 1_000_000;
    let server = Ferrokeeper::start(&[]);
    let (mut setup, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    // Each reply carries 1 KiB: a million unread ones would be a gigabyte.
    create(&mut setup, "/big", Bytes::from(vec![b'x'; 1024]));
    let before = rss_kib(server.pid());

    // The hostile client: a session, then getData requests as fast as the socket takes
    // them, never reading. When the server stops reading, the kernel buffers fill and
    // the writes block: a write that makes no progress for 2 s ends the flood.
    let (hostile, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    let mut stream: TcpStream = hostile.into_stream();
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("write timeout");
    let mut batch = BytesMut::new();
    for xid in 0..100 {
        let request = Request::GetData(GetDataRequest {
            path: "/big".into(),
            watch: false,
        });
        write_frame(&RequestFrame::new(xid + 1, request), &mut batch);
    }
    let batch = batch.freeze();
    let mut sent = 0;
    while sent < REQUESTS {
        match stream.write_all(&batch) {
            Ok(()) => sent += 100,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break;
            }
            Err(e) => panic!("the server closed the flooding connection: {e}"),
        }
    }
    let during = rss_kib(server.pid());
    eprintln!(
        "pipelined {sent} of {REQUESTS} getData requests before the server pushed back; \
         RSS {before} KiB -> {during} KiB"
    );
    assert!(
        sent < REQUESTS,
        "the server read all {REQUESTS} requests without pushing back"
    );
    // The replies the server holds for it are bounded (a few MiB by design; generous
    // here for allocator slack), far from the ~1 GiB of a million replies.
    assert!(
        during < before + 256 * 1024,
        "RSS grew from {before} KiB to {during} KiB"
    );

    // Everyone else is still served while the flooder sits there.
    let (mut other, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    let started = Instant::now();
    let frames = other
        .call(Request::GetData(GetDataRequest {
            path: "/big".into(),
            watch: false,
        }))
        .expect("getData while flooded");
    assert_eq!(frames.last().map(|f| f.header.err), Some(0));
    create(&mut other, "/still-writable", Bytes::from_static(b"ok"));
    eprintln!(
        "another client's getData + create took {:?}",
        started.elapsed()
    );
    drop(stream);
}

#[test]
fn max_cnxns_bounds_connections_in_total() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nmaxCnxns=2\n",
            dir.path().join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let cfg = cfg.display().to_string();
    let server = Ferrokeeper::start(&["-c", &cfg]);
    let first = RawClient::connect(server.addr(), 30_000, None).expect("first");
    let second = RawClient::connect(server.addr(), 30_000, None).expect("second");
    // The third is closed at once, before its handshake is answered.
    match RawClient::connect(server.addr(), 30_000, None) {
        Ok((_, response)) => panic!("a third connection was served: {response:?}"),
        Err(e) => eprintln!("third connection refused: {e}"),
    }
    drop(first);
    // A slot frees when a connection ends; the server notices the close, so retry
    // until it has (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match RawClient::connect(server.addr(), 30_000, None) {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                // Waiting for the server to see the first connection's close.
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("no slot after a connection closed: {e}"),
        }
    }
    drop(second);
}
