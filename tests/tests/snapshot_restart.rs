//! A tree of 100k nodes survives a restart through a snapshot: every node's data,
//! stat (incl. ephemeral owner) and ACL are the same afterwards.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{
    Acl, CreateRequest, GetAclRequest, GetDataRequest, Id, ReplyFrame, Request, RequestFrame,
    Response, SetDataRequest, Stat, perms, write_frame,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

const NODES: usize = 100_000;
const BATCH: usize = 1000;

/// Sends `requests` pipelined in batches and returns the replies in order.
fn pipeline(client: &mut RawClient, requests: Vec<Request>) -> Vec<ReplyFrame> {
    let mut replies = Vec::with_capacity(requests.len());
    let mut xid = 10;
    for chunk in requests.chunks(BATCH) {
        let mut buf = BytesMut::new();
        let mut ops = Vec::with_capacity(chunk.len());
        for request in chunk {
            xid += 1;
            ops.push(request.opcode());
            write_frame(&RequestFrame::new(xid, request.clone()), &mut buf);
        }
        client.stream().write_all(&buf).expect("send batch");
        for op in ops {
            let reply = client.read_frame(op).expect("reply");
            assert_eq!(reply.header.err, 0, "{op} failed: {reply:?}");
            replies.push(reply);
        }
    }
    replies
}

fn acl_for(i: usize) -> Vec<Acl> {
    match i % 3 {
        0 => perms::open_acl_unsafe(),
        1 => perms::read_acl_unsafe(),
        _ => vec![Acl {
            perms: perms::ALL,
            id: Id {
                scheme: "ip".into(),
                id: "127.0.0.1".into(),
            },
        }],
    }
}

fn path_of(i: usize) -> String {
    format!("/big/d{}/n{i}", i % 100)
}

/// Every node under /big: data, stat and ACL.
fn dump(
    client: &mut RawClient,
    paths: &[String],
) -> BTreeMap<String, (Option<Bytes>, Stat, Vec<Acl>)> {
    let mut requests = Vec::with_capacity(paths.len() * 2);
    for path in paths {
        requests.push(Request::GetData(GetDataRequest {
            path: path.clone(),
            watch: false,
        }));
        requests.push(Request::GetAcl(GetAclRequest { path: path.clone() }));
    }
    let replies = pipeline(client, requests);
    let mut out = BTreeMap::new();
    for (path, pair) in paths.iter().zip(replies.chunks(2)) {
        let (Response::GetData(data), Response::GetAcl(acl)) =
            (&pair[0].response, &pair[1].response)
        else {
            panic!("unexpected replies for {path}: {pair:?}");
        };
        out.insert(
            path.clone(),
            (data.data.clone(), data.stat.clone(), acl.acl.clone()),
        );
    }
    out
}

#[test]
fn a_100k_node_tree_is_restored_node_by_node() {
    let data = tempfile::tempdir().expect("data dir");
    let args = ["-Dzookeeper.snapCount=20000", "--tick-time", "2000"];
    let server = Ferrokeeper::start_in(data.path(), &args);
    let (mut client, _) = RawClient::connect(server.addr(), 40_000, None).expect("connect");
    let session = (client.session_id, client.passwd.clone());

    let mut setup = vec![Request::Create(CreateRequest {
        path: "/big".into(),
        data: None,
        acl: perms::open_acl_unsafe(),
        flags: 0,
    })];
    for d in 0..100 {
        setup.push(Request::Create(CreateRequest {
            path: format!("/big/d{d}"),
            data: Some(Bytes::from(format!("dir {d}"))),
            acl: perms::open_acl_unsafe(),
            flags: 0,
        }));
    }
    pipeline(&mut client, setup);
    let creates: Vec<Request> = (0..NODES)
        .map(|i| {
            Request::Create(CreateRequest {
                path: path_of(i),
                // Null, empty and sized data all round-trip.
                data: match i % 5 {
                    0 => None,
                    1 => Some(Bytes::new()),
                    _ => Some(Bytes::from(vec![(i % 251) as u8; i % 300])),
                },
                acl: acl_for(i),
                // Every 10th node is an ephemeral of our (surviving) session.
                flags: if i % 10 == 0 { 1 } else { 0 },
            })
        })
        .collect();
    pipeline(&mut client, creates);
    // Some versions above zero.
    let sets: Vec<Request> = (0..NODES)
        .step_by(7)
        .filter(|i| i % 3 == 0)
        .map(|i| {
            Request::SetData(SetDataRequest {
                path: path_of(i),
                data: Some(Bytes::from(format!("set {i}"))),
                version: -1,
            })
        })
        .collect();
    pipeline(&mut client, sets);

    let mut paths: Vec<String> = (0..100).map(|d| format!("/big/d{d}")).collect();
    paths.extend((0..NODES).map(path_of));
    let before = dump(&mut client, &paths);
    assert_eq!(before.len(), NODES + 100);
    drop(client);

    let snapshots = data.path().join("ferrokeeper").join("snapshots");
    let mut server = server;
    let status = server.terminate(std::time::Duration::from_secs(60));
    assert!(status.success(), "{status:?}");
    assert!(
        std::fs::read_dir(&snapshots)
            .map(|d| d.count())
            .unwrap_or(0)
            > 0,
        "a snapshot was written"
    );

    let restarted = Ferrokeeper::start_in(data.path(), &args);
    let (mut client, response) =
        RawClient::connect(restarted.addr(), 40_000, Some(session.clone())).expect("resume");
    assert_eq!(
        response.session_id, session.0,
        "the session survived the restart"
    );
    let after = dump(&mut client, &paths);
    let mut differences = before
        .iter()
        .filter(|(path, node)| after.get(*path) != Some(*node))
        .map(|(path, node)| format!("{path}: before {node:?}, after {:?}", after.get(path)));
    if let Some(first) = differences.next() {
        panic!(
            "restored tree differs ({} nodes), first: {first}",
            1 + differences.count()
        );
    }
    assert!(
        after
            .values()
            .any(|(_, stat, _)| stat.ephemeral_owner == session.0)
    );
}
