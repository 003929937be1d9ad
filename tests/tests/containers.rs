//! The container/TTL reaper: empty containers that once had children and expired TTL
//! nodes are deleted by the server, through the log.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest, Request, perms,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

fn ok(frames: Vec<ferrokeeper_protocol::ReplyFrame>, what: &str) {
    assert_eq!(frames.last().expect("reply").header.err, 0, "{what}");
}

fn exists(client: &mut RawClient, path: &str) -> bool {
    let frames = client
        .call(Request::Exists(ExistsRequest {
            path: path.into(),
            watch: false,
        }))
        .expect("exists");
    frames.last().expect("reply").header.err == 0
}

/// Polls until `path` is gone; panics after `limit`.
fn wait_gone(client: &mut RawClient, path: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    while exists(client, path) {
        assert!(
            started.elapsed() < limit,
            "{path} still exists after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    started.elapsed()
}

fn create(path: &str, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: perms::open_acl_unsafe(),
        flags,
    }
}

#[test]
fn empty_used_containers_and_expired_ttl_nodes_are_reaped() {
    let server = Ferrokeeper::start(&[
        "-Dzookeeper.extendedTypesEnabled=true",
        "-Dznode.container.checkIntervalMs=100",
    ]);
    let (mut client, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");

    // A container that never had a child stays.
    ok(
        client
            .call(Request::CreateContainer(create("/unused", 4)))
            .expect("create"),
        "unused container",
    );
    // A container whose last child goes is deleted.
    ok(
        client
            .call(Request::CreateContainer(create("/box", 4)))
            .expect("create"),
        "container",
    );
    ok(
        client
            .call(Request::Create(create("/box/item", 0)))
            .expect("create"),
        "child",
    );
    ok(
        client
            .call(Request::Delete(DeleteRequest {
                path: "/box/item".into(),
                version: -1,
            }))
            .expect("delete"),
        "delete child",
    );
    wait_gone(&mut client, "/box", Duration::from_secs(10));

    // A TTL node unmodified for its TTL and childless is deleted.
    ok(
        client
            .call(Request::CreateTtl(CreateTtlRequest {
                path: "/lease".into(),
                data: None,
                acl: perms::open_acl_unsafe(),
                flags: 5,
                ttl: 300,
            }))
            .expect("createTTL"),
        "ttl node",
    );
    assert!(exists(&mut client, "/lease"), "a fresh TTL node exists");
    wait_gone(&mut client, "/lease", Duration::from_secs(10));

    // By now several reaper passes have run: the never-used container is still there.
    assert!(exists(&mut client, "/unused"));
}
