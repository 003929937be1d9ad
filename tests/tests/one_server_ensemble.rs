//! A one-server ensemble (`standaloneEnabled=false` with a single `server.1` line, the
//! usual start of reconfig-based and Kubernetes deployments) is its own quorum: it leads
//! and keeps serving. It used to stop serving after `syncLimit` ticks, because no
//! follower ever acknowledged it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{CreateMode, CreateRequest, Request, perms};
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zk_ensemble::pick_port;
use ferrokeeper_tests::{Ferrokeeper, four_letter};

const TICK_MS: u64 = 100;
const SYNC_LIMIT: u64 = 2;

fn create(addr: std::net::SocketAddr, path: &str) -> i32 {
    let (mut c, _) = RawClient::connect(addr, 10_000, None).expect("connect");
    let frames = c
        .call(Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::from_static(b"x")),
            acl: perms::open_acl_unsafe(),
            flags: CreateMode::Persistent.code(),
        }))
        .expect("create");
    frames.last().expect("a reply").header.err
}

#[test]
fn a_one_server_ensemble_leads_and_keeps_serving() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("myid"), "1\n").expect("myid");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime={TICK_MS}\ninitLimit=5\nsyncLimit={SYNC_LIMIT}\ndataDir={}\n\
             standaloneEnabled=false\n4lw.commands.whitelist=*\n\
             server.1=127.0.0.1:{}:{}\n",
            dir.path().display(),
            pick_port(),
            pick_port()
        ),
    )
    .expect("zoo.cfg");
    let server = Ferrokeeper::start_in(dir.path(), &["--config", cfg.to_str().expect("utf-8")]);
    let addr = server.addr();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !four_letter(addr, "srvr").contains("Mode: leader") {
        assert!(
            Instant::now() < deadline,
            "no leader: {}",
            four_letter(addr, "srvr")
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(create(addr, "/first"), 0);
    // Ten times the window after which a leader without acknowledgements stops serving:
    // watching it pass is the assertion.
    std::thread::sleep(Duration::from_millis(10 * SYNC_LIMIT * TICK_MS));
    let srvr = four_letter(addr, "srvr");
    assert!(srvr.contains("Mode: leader"), "{srvr}");
    assert_eq!(create(addr, "/later"), 0);
}
