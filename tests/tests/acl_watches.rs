//! ZooKeeper 3.8.4+ (CVE-2024-23944): a watcher without READ on a node learns nothing
//! of its changes, and a denied exists arms no watch.

use bytes::Bytes;
use ferrokeeper_protocol::{
    Acl, AuthPacket, CreateRequest, ErrorCode, ExistsRequest, Id, Request, Response,
    SetDataRequest, perms,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

fn err_of(frames: &[ferrokeeper_protocol::ReplyFrame]) -> i32 {
    frames.last().expect("reply").header.err
}

fn notifications(frames: &[ferrokeeper_protocol::ReplyFrame]) -> usize {
    frames
        .iter()
        .filter(|f| matches!(f.response, Response::Notification(_)))
        .count()
}

fn bob(server: &Ferrokeeper) -> RawClient {
    let (mut bob, _) = RawClient::connect(server.addr(), 30_000, None).expect("bob");
    let reply = bob
        .call(Request::Auth(AuthPacket {
            r#type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"bob:secret"),
        }))
        .expect("auth");
    assert_eq!(err_of(&reply), 0);
    bob
}

fn exists(
    client: &mut RawClient,
    path: &str,
    watch: bool,
) -> Vec<ferrokeeper_protocol::ReplyFrame> {
    client
        .call(Request::Exists(ExistsRequest {
            path: path.into(),
            watch,
        }))
        .expect("exists")
}

#[test]
fn events_on_unreadable_nodes_are_not_delivered() {
    let server = Ferrokeeper::start(&[]);
    let mut bob = bob(&server);
    let (mut eve, _) = RawClient::connect(server.addr(), 30_000, None).expect("eve");

    // Eve arms an exists watch on a node that does not exist yet (allowed).
    assert_eq!(
        err_of(&exists(&mut eve, "/secret", true)),
        ErrorCode::NoNode.code()
    );
    // Bob creates it readable only by himself.
    let created = bob
        .call(Request::Create(CreateRequest {
            path: "/secret".into(),
            data: Some(Bytes::from_static(b"s")),
            acl: vec![Acl {
                perms: perms::ALL,
                id: Id {
                    scheme: "auth".into(),
                    id: String::new(),
                },
            }],
            flags: 0,
        }))
        .expect("create");
    assert_eq!(err_of(&created), 0);

    // Any event for Eve would be queued before the reply to her next request.
    let probe = exists(&mut eve, "/elsewhere", false);
    assert_eq!(
        notifications(&probe),
        0,
        "NodeCreated leaked to a watcher without READ: {probe:?}"
    );

    // A denied exists on an existing node arms nothing either.
    assert_eq!(
        err_of(&exists(&mut eve, "/secret", true)),
        ErrorCode::NoAuth.code()
    );
    let set = bob
        .call(Request::SetData(SetDataRequest {
            path: "/secret".into(),
            data: Some(Bytes::from_static(b"t")),
            version: -1,
        }))
        .expect("set");
    assert_eq!(err_of(&set), 0);
    let probe = exists(&mut eve, "/elsewhere", false);
    assert_eq!(
        notifications(&probe),
        0,
        "NodeDataChanged leaked: {probe:?}"
    );

    // Bob, who can read it, does get his events.
    let frames = bob
        .call(Request::Exists(ExistsRequest {
            path: "/secret".into(),
            watch: true,
        }))
        .expect("bob exists");
    assert_eq!(err_of(&frames), 0);
    let set = bob
        .call(Request::SetData(SetDataRequest {
            path: "/secret".into(),
            data: Some(Bytes::from_static(b"u")),
            version: -1,
        }))
        .expect("set");
    assert_eq!(
        notifications(&set),
        1,
        "the reader's own event precedes the reply: {set:?}"
    );
}
