//! The write rules, one test per rule. Where a case says "ZooKeeper 3.8.0", the same
//! request was sent to a real standalone 3.8.0 server and its answer is the one
//! asserted here.

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, ErrorCode, EventType, Id, Stat, perms};

use super::create::sequential_name;
use super::txn::{Applied, Entry, OpResult, Txn, TxnResult, WatchTrigger, WriteOp};
use super::{StateConfig, ZkState};
use crate::tree::acl::generate_digest;
use crate::tree::owner::{MAX_TTL_MS, ttl_owner};

const S1: i64 = 0x0100_0000_0000_0001;
const S2: i64 = 0x0100_0000_0000_0002;

struct H {
    zk: ZkState,
    time: i64,
}

impl H {
    fn new() -> H {
        H::with(false)
    }

    fn with(extended: bool) -> H {
        let mut h = H {
            zk: ZkState::new(StateConfig {
                extended_types_enabled: extended,
            }),
            time: 1_000,
        };
        h.apply(Txn::CreateSession {
            session_id: S1,
            timeout_ms: 30_000,
        });
        h
    }

    fn apply(&mut self, txn: Txn) -> Applied {
        self.time += 10;
        let before = self.zk.last_zxid();
        let applied = self.zk.apply(&Entry {
            time_ms: self.time,
            txn,
        });
        assert_eq!(applied.zxid, before + 1);
        assert_eq!(self.zk.last_zxid(), applied.zxid);
        applied
    }

    fn write_as(&mut self, session_id: i64, auth: &[Id], op: WriteOp) -> Applied {
        self.apply(Txn::Write {
            session_id,
            auth: auth.to_vec(),
            op,
        })
    }

    fn write(&mut self, op: WriteOp) -> TxnResult {
        self.write_as(S1, &[], op).result
    }

    fn ok_create(&mut self, path: &str, flags: i32) -> (String, Stat) {
        match self.write(create(path, flags)) {
            TxnResult::Created { path, stat } => (path, stat),
            other => panic!("create {path}: {other:?}"),
        }
    }

    fn stat(&self, path: &str) -> Stat {
        self.zk
            .tree()
            .stat(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }
}

fn create(path: &str, flags: i32) -> WriteOp {
    create_full(path, flags, 0, perms::open_acl_unsafe())
}

fn create_full(path: &str, flags: i32, ttl: i64, acl: Vec<Acl>) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl,
        flags,
        ttl,
    }
}

fn delete(path: &str, version: i32) -> WriteOp {
    WriteOp::Delete {
        path: path.into(),
        version,
    }
}

fn set(path: &str, data: &'static [u8], version: i32) -> WriteOp {
    WriteOp::SetData {
        path: path.into(),
        data: Some(Bytes::from_static(data)),
        version,
    }
}

fn check(path: &str, version: i32) -> WriteOp {
    WriteOp::Check {
        path: path.into(),
        version,
    }
}

fn acl(perms: i32, scheme: &str, id: &str) -> Acl {
    Acl {
        perms,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }
}

fn err(code: ErrorCode) -> TxnResult {
    TxnResult::Error(code)
}

/// A trigger on a node with the open ACL these tests create nodes with.
fn trigger(path: &str, event: EventType, zxid: i64) -> WatchTrigger {
    WatchTrigger {
        path: path.into(),
        event,
        zxid,
        acl: ferrokeeper_protocol::perms::open_acl_unsafe(),
    }
}

#[test]
fn every_entry_takes_one_zxid() {
    let mut h = H::new();
    assert_eq!(h.zk.last_zxid(), 1);
    h.ok_create("/a", 0);
    assert_eq!(h.write(create("/a", 0)), err(ErrorCode::NodeExists));
    assert_eq!(h.write(WriteOp::Multi(vec![])), TxnResult::Multi(vec![]));
    h.apply(Txn::CloseSession { session_id: S2 });
    h.apply(Txn::DeleteContainer {
        path: "/nope".into(),
    });
    assert_eq!(h.zk.last_zxid(), 6);
}

#[test]
fn create_stat_and_parent_counters() {
    let mut h = H::new();
    let (_, stat) = h.ok_create("/a", 0);
    let z = h.zk.last_zxid();
    assert_eq!(
        stat,
        Stat {
            czxid: z,
            mzxid: z,
            ctime: h.time,
            mtime: h.time,
            pzxid: z,
            data_length: 1,
            ..Stat::default()
        }
    );
    h.ok_create("/a/b", 0);
    let a = h.stat("/a");
    assert_eq!(
        (a.cversion, a.num_children, a.pzxid, a.mzxid),
        (1, 1, z + 1, z)
    );
    assert_eq!(h.write(delete("/a/b", -1)), TxnResult::Deleted);
    let a = h.stat("/a");
    assert_eq!((a.cversion, a.num_children, a.pzxid), (2, 0, z + 2));
}

#[test]
fn sequential_names_come_from_the_parent_create_count() {
    // ZooKeeper 3.8.0: create /s/x, delete it, create sequential /s/n- →
    // /s/n-0000000001, and /s then shows cversion 3.
    let mut h = H::new();
    h.ok_create("/s", 0);
    h.ok_create("/s/x", 0);
    h.write(delete("/s/x", -1));
    assert_eq!(h.ok_create("/s/n-", 2).0, "/s/n-0000000001");
    assert_eq!(h.stat("/s").cversion, 3);
    assert_eq!(h.ok_create("/s/", 2).0, "/s/0000000002");
    assert_eq!(h.ok_create("/s/.", 3).0, "/s/.0000000003");
    assert_eq!(sequential_name("/p-", -5), "/p--000000005");
    assert_eq!(sequential_name("/p-", i32::MIN), "/p--2147483648");
    assert_eq!(sequential_name("/p-", 42), "/p-0000000042");
}

#[test]
fn create_checks_run_in_zookeeper_order() {
    let mut h = H::new();
    h.ok_create("/a", 0);
    let empty = Vec::new();
    let cases: Vec<(WriteOp, ErrorCode)> = vec![
        (create("/", 0), ErrorCode::NodeExists),
        (create("/nope/x/", 0), ErrorCode::NoNode),
        (create("/a/", 0), ErrorCode::BadArguments),
        (create("a", 0), ErrorCode::BadArguments),
        (create("/b", 7), ErrorCode::BadArguments),
        (create("/b", -1), ErrorCode::BadArguments),
        (create("/a/..", 0), ErrorCode::BadArguments),
        (create("/zz/./", 2), ErrorCode::NoNode),
        (
            create_full("/zz/e", 0, 0, empty.clone()),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/zz/e\0", 0, 0, empty.clone()),
            ErrorCode::BadArguments,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "world", "bob")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "foo", "bar")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "auth", "")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "digest", "a:")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "ip", "::1")]),
            ErrorCode::InvalidAcl,
        ),
        (
            create_full("/b", 0, 0, vec![acl(31, "super", "")]),
            ErrorCode::InvalidAcl,
        ),
    ];
    for (op, code) in cases {
        assert_eq!(h.write(op.clone()), err(code), "{op:?}");
    }
    // Valid odd ACLs are stored as given (ZooKeeper 3.8.0).
    for a in [
        acl(31, "digest", "a:b:"),
        acl(31, "ip", "10.0.0.0/8"),
        acl(0, "world", "anyone"),
    ] {
        let r = h.write(create_full("/odd", 0, 0, vec![a.clone()]));
        assert!(matches!(r, TxnResult::Created { .. }), "{a:?}: {r:?}");
        assert_eq!(h.zk.tree().acl("/odd"), Some(&[a][..]));
        // Nobody can delete through an empty-perms parent; remove via super.
        let r = h.write_as(
            S1,
            &[Id {
                scheme: "super".into(),
                id: String::new(),
            }],
            delete("/odd", -1),
        );
        assert_eq!(r.result, TxnResult::Deleted);
    }
}

#[test]
fn create_session_and_acl_checks_come_before_path_and_existence() {
    let mut h = H::new();
    let ghost = 77;
    // Flag and TTL mode errors precede the session check; path errors follow it.
    assert_eq!(
        h.write_as(ghost, &[], create("/b", 9)).result,
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write_as(ghost, &[], create("/b", 5)).result,
        err(ErrorCode::Unimplemented)
    );
    assert_eq!(
        h.write_as(ghost, &[], create("b", 0)).result,
        err(ErrorCode::SessionExpired)
    );
    // No CREATE on the parent wins over NodeExists (ZooKeeper 3.8.0).
    h.write(create_full("/ro", 0, 0, perms::read_acl_unsafe()));
    assert_eq!(h.write(create("/ro/x", 0)), err(ErrorCode::NoAuth));
    // NodeExists wins over NoChildrenForEphemerals.
    h.ok_create("/eph", 1);
    assert_eq!(
        h.write(create("/eph/c", 0)),
        err(ErrorCode::NoChildrenForEphemerals)
    );
    assert_eq!(h.write(create("/eph", 0)), err(ErrorCode::NodeExists));
    // /zookeeper is an ordinary parent for create (ZooKeeper 3.8.0).
    assert!(matches!(
        h.write(create("/zookeeper/x", 0)),
        TxnResult::Created { .. }
    ));
}

#[test]
fn failed_writes_change_nothing_and_fire_nothing() {
    let mut h = H::new();
    h.ok_create("/a", 0);
    let before = h.zk.tree().clone();
    for op in [
        create("/a", 0),
        delete("/nope", -1),
        set("/a", b"x", 9),
        check("/a", 4),
    ] {
        let applied = h.write_as(S1, &[], op);
        assert!(matches!(applied.result, TxnResult::Error(_)));
        assert!(applied.events.is_empty());
    }
    assert_eq!(h.zk.tree(), &before);
}

#[test]
fn ttl_nodes_need_extended_types() {
    let mut h = H::new();
    assert_eq!(
        h.write(create_full("/t", 5, 100, perms::open_acl_unsafe())),
        err(ErrorCode::Unimplemented)
    );
    assert_eq!(
        h.write(create_full("/t", 6, 100, perms::open_acl_unsafe())),
        err(ErrorCode::Unimplemented)
    );

    let mut h = H::with(true);
    let open = perms::open_acl_unsafe;
    // All as ZooKeeper 3.8.0 with zookeeper.extendedTypesEnabled=true answered.
    assert_eq!(
        h.write(create_full("/t", 5, 0, open())),
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(create_full("/t", 5, MAX_TTL_MS + 1, open())),
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(create_full("/t", 0, 5, open())),
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(create_full("/t", 1, 5, open())),
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(create_full("/t", 4, 5, open())),
        err(ErrorCode::BadArguments)
    );
    assert_eq!(
        h.write(create_full("/t", 0, -1, open())),
        err(ErrorCode::BadArguments)
    );
    match h.write(create_full("/t", 5, MAX_TTL_MS, open())) {
        TxnResult::Created { stat, .. } => assert_eq!(stat.ephemeral_owner, 0),
        other => panic!("{other:?}"),
    }
    let owner =
        h.zk.tree()
            .node("/t")
            .map(|n| n.persisted_stat().ephemeral_owner);
    assert_eq!(owner, ttl_owner(MAX_TTL_MS));
    match h.write(create_full("/t-", 6, 5, open())) {
        TxnResult::Created { path, .. } => assert_eq!(path, "/t-0000000001"),
        other => panic!("{other:?}"),
    }
    // A TTL node may have children; the ephemeral-parent rule does not apply.
    assert!(matches!(
        h.write(create("/t/c", 0)),
        TxnResult::Created { .. }
    ));
    assert_eq!(h.zk.tree().ephemeral_count(), 0);
}

#[test]
fn containers_and_ephemerals_record_their_owner() {
    let mut h = H::new();
    let (_, c) = h.ok_create("/c", 4);
    assert_eq!(c.ephemeral_owner, 0);
    assert_eq!(
        h.zk.tree()
            .node("/c")
            .map(|n| n.persisted_stat().ephemeral_owner),
        Some(i64::MIN)
    );
    assert!(matches!(
        h.write(create("/c/x", 1)),
        TxnResult::Created { .. }
    ));
    let (_, e) = h.ok_create("/e", 3);
    assert_eq!(e.ephemeral_owner, S1);
    assert_eq!(
        h.zk.tree().get_ephemerals(S1, "/"),
        vec!["/c/x".to_owned(), "/e0000000001".to_owned()]
    );
    assert_eq!(h.zk.tree().ephemeral_count(), 2);
}

#[test]
fn close_session_deletes_its_ephemerals_under_one_zxid() {
    let mut h = H::new();
    h.apply(Txn::CreateSession {
        session_id: S2,
        timeout_ms: 4_000,
    });
    h.ok_create("/p", 0);
    h.ok_create("/p/e1", 1);
    h.ok_create("/p/e2", 1);
    h.write_as(S2, &[], create("/p/other", 1));
    let applied = h.apply(Txn::CloseSession { session_id: S1 });
    let z = applied.zxid;
    assert_eq!(applied.result, TxnResult::SessionClosed);
    assert_eq!(
        applied.events,
        vec![
            trigger("/p/e1", EventType::NodeDeleted, z),
            trigger("/p", EventType::NodeChildrenChanged, z),
            trigger("/p/e2", EventType::NodeDeleted, z),
            trigger("/p", EventType::NodeChildrenChanged, z),
        ]
    );
    assert_eq!(
        h.zk.tree().get_children("/p").map(|c| c.0),
        Ok(vec!["other".to_owned()])
    );
    assert_eq!(h.stat("/p").pzxid, z);
    assert!(!h.zk.sessions().contains(S1));
    assert_eq!(h.zk.sessions().get(S2).map(|s| s.timeout_ms), Some(4_000));
    assert_eq!(h.write(create("/q", 0)), err(ErrorCode::SessionExpired));
    assert_eq!(h.write(set("/p", b"x", -1)), err(ErrorCode::SessionExpired));
    // Closing again is harmless.
    let again = h.apply(Txn::CloseSession { session_id: S1 });
    assert_eq!(
        (again.result, again.events.len()),
        (TxnResult::SessionClosed, 0)
    );
}

#[test]
fn delete_rules() {
    let mut h = H::new();
    h.ok_create("/a", 0);
    h.ok_create("/a/b", 0);
    // ZooKeeper 3.8.0 answers for each.
    assert_eq!(h.write(delete("/a", -1)), err(ErrorCode::NotEmpty));
    assert_eq!(h.write(delete("/a/b", 3)), err(ErrorCode::BadVersion));
    assert_eq!(h.write(delete("/nope", -1)), err(ErrorCode::NoNode));
    assert_eq!(h.write(delete("bad", -1)), err(ErrorCode::BadArguments));
    assert_eq!(h.write(delete("/nope/", -1)), err(ErrorCode::NoNode));
    assert_eq!(h.write(delete("/a/", -1)), err(ErrorCode::NoNode));
    for special in ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"] {
        assert_eq!(
            h.write(delete(special, -1)),
            err(ErrorCode::BadArguments),
            "{special}"
        );
    }
    let applied = h.write_as(S1, &[], delete("/a/b", 0));
    assert_eq!(applied.result, TxnResult::Deleted);
    assert_eq!(
        applied.events,
        vec![
            trigger("/a/b", EventType::NodeDeleted, applied.zxid),
            trigger("/a", EventType::NodeChildrenChanged, applied.zxid),
        ]
    );
}

#[test]
fn delete_needs_delete_on_the_parent_only() {
    let mut h = H::new();
    let no_delete = vec![acl(perms::ALL & !perms::DELETE, "world", "anyone")];
    h.write(create_full("/dp", 0, 0, no_delete));
    h.write(create_full("/dp/x", 0, 0, vec![acl(0, "world", "anyone")]));
    assert_eq!(h.write(delete("/dp/x", -1)), err(ErrorCode::NoAuth));
    // NoAuth on the parent wins over NoNode (ZooKeeper 3.8.0).
    assert_eq!(h.write(delete("/dp/missing", -1)), err(ErrorCode::NoAuth));
    h.ok_create("/dq", 0);
    h.write(create_full("/dq/x", 0, 0, vec![acl(0, "world", "anyone")]));
    assert_eq!(h.write(delete("/dq/x", -1)), TxnResult::Deleted);
}

#[test]
fn set_data_rules() {
    let mut h = H::new();
    h.ok_create("/a", 0);
    let created = h.stat("/a");
    let applied = h.write_as(S1, &[], set("/a", b"hello", 0));
    let TxnResult::Stat(stat) = applied.result else {
        panic!("{:?}", applied.result)
    };
    assert_eq!(
        (stat.version, stat.mzxid, stat.mtime, stat.data_length),
        (1, applied.zxid, h.time, 5)
    );
    assert_eq!((stat.czxid, stat.ctime), (created.czxid, created.ctime));
    assert_eq!(
        applied.events,
        vec![trigger("/a", EventType::NodeDataChanged, applied.zxid)]
    );
    assert_eq!(h.write(set("/a", b"x", 0)), err(ErrorCode::BadVersion));
    assert_eq!(h.write(set("/nope", b"x", -1)), err(ErrorCode::NoNode));
    assert_eq!(h.write(set("/a/", b"x", -1)), err(ErrorCode::BadArguments));
    // Null data stays null.
    let r = h.write(WriteOp::SetData {
        path: "/a".into(),
        data: None,
        version: -1,
    });
    assert!(matches!(
        r,
        TxnResult::Stat(Stat {
            version: 2,
            data_length: 0,
            ..
        })
    ));
    assert_eq!(h.zk.tree().get_data("/a").map(|d| d.0), Ok(None));
    // No WRITE beats BadVersion; /zookeeper/config is read-only (ZooKeeper 3.8.0).
    assert_eq!(
        h.write(set("/zookeeper/config", b"x", 7)),
        err(ErrorCode::NoAuth)
    );
}

#[test]
fn set_acl_rules() {
    let mut h = H::new();
    h.ok_create("/s", 0);
    let open = perms::open_acl_unsafe();
    let set_acl = |acl: Vec<Acl>, version| WriteOp::SetAcl {
        path: "/s".into(),
        acl,
        version,
    };
    let applied = h.write_as(S1, &[], set_acl(open.clone(), 0));
    assert!(matches!(
        applied.result,
        TxnResult::Stat(Stat { aversion: 1, .. })
    ));
    assert!(applied.events.is_empty());
    assert_eq!(
        h.write(set_acl(open.clone(), 0)),
        err(ErrorCode::BadVersion)
    );
    assert_eq!(h.write(set_acl(vec![], 1)), err(ErrorCode::InvalidAcl));
    // InvalidAcl is checked before the node is looked up (ZooKeeper 3.8.0).
    assert_eq!(
        h.write(WriteOp::SetAcl {
            path: "/nope".into(),
            acl: vec![],
            version: 1
        }),
        err(ErrorCode::InvalidAcl)
    );
    h.write(set_acl(perms::read_acl_unsafe(), -1));
    assert_eq!(h.write(set_acl(open, 9)), err(ErrorCode::NoAuth));
}

#[test]
fn check_rules() {
    let mut h = H::new();
    h.ok_create("/s", 0);
    assert!(matches!(
        h.write(check("/s", 0)),
        TxnResult::Stat(Stat { version: 0, .. })
    ));
    assert_eq!(h.write(check("/s", 2)), err(ErrorCode::BadVersion));
    assert_eq!(h.write(check("/nope", 0)), err(ErrorCode::NoNode));
    assert_eq!(h.write(check("bad", 0)), err(ErrorCode::BadArguments));
    h.write(create_full(
        "/w",
        0,
        0,
        vec![acl(perms::WRITE, "world", "anyone")],
    ));
    assert_eq!(h.write(check("/w", 0)), err(ErrorCode::NoAuth));
}

#[test]
fn multi_success_shares_one_zxid_and_sees_earlier_ops() {
    let mut h = H::new();
    h.ok_create("/m", 0);
    let applied = h.write_as(
        S1,
        &[],
        WriteOp::Multi(vec![
            create("/m/a", 0),
            create("/m/a/b", 2),
            set("/m/a", b"x", 0),
            check("/m/a", 1),
            delete("/m/a/b0000000000", -1),
        ]),
    );
    let z = applied.zxid;
    let TxnResult::Multi(results) = &applied.result else {
        panic!("{:?}", applied.result)
    };
    assert!(
        matches!(&results[0], OpResult::Created { path, stat } if path == "/m/a" && stat.czxid == z)
    );
    assert!(matches!(&results[1], OpResult::Created { path, .. } if path == "/m/a/b0000000000"));
    // The same values ZooKeeper 3.8.0 returned for this multi's setData.
    assert!(matches!(
        &results[2],
        OpResult::SetData(Stat {
            version: 1,
            cversion: 1,
            num_children: 1,
            data_length: 1,
            ..
        })
    ));
    assert_eq!(results[3..], [OpResult::Checked, OpResult::Deleted]);
    use EventType::*;
    assert_eq!(
        applied.events,
        vec![
            trigger("/m/a", NodeCreated, z),
            trigger("/m", NodeChildrenChanged, z),
            trigger("/m/a/b0000000000", NodeCreated, z),
            trigger("/m/a", NodeChildrenChanged, z),
            trigger("/m/a", NodeDataChanged, z),
            trigger("/m/a/b0000000000", NodeDeleted, z),
            trigger("/m/a", NodeChildrenChanged, z),
        ]
    );
    let a = h.stat("/m/a");
    assert_eq!((a.mzxid, a.pzxid, a.cversion), (z, z, 2));
}

#[test]
fn multi_failure_is_atomic_and_shaped_like_zookeeper() {
    let mut h = H::new();
    h.ok_create("/m", 0);
    h.ok_create("/m/a", 0);
    let before = h.zk.tree().clone();
    // ZooKeeper 3.8.0 answered [0, -110, -2, -2].
    let applied = h.write_as(
        S1,
        &[],
        WriteOp::Multi(vec![
            create("/m/x", 2),
            create("/m/a", 0),
            set("/m/a", b"x", -1),
            check("/m/q", 1),
        ]),
    );
    use ErrorCode::*;
    let shape = [Ok, NodeExists, RuntimeInconsistency, RuntimeInconsistency].map(OpResult::Error);
    assert_eq!(applied.result, TxnResult::Multi(shape.to_vec()));
    assert!(applied.events.is_empty());
    assert_eq!(h.zk.tree(), &before);
    // The rolled-back sequential create did not consume a number.
    assert_eq!(h.ok_create("/m/s-", 2).0, "/m/s-0000000001");
    // ZooKeeper 3.8.0: [0, -108].
    let r = h.write(WriteOp::Multi(vec![create("/m/e", 1), create("/m/e/c", 0)]));
    assert_eq!(
        r,
        TxnResult::Multi(vec![
            OpResult::Error(Ok),
            OpResult::Error(NoChildrenForEphemerals)
        ])
    );
    assert_eq!(
        h.write(WriteOp::Multi(vec![create("/m/bf", 9)])),
        TxnResult::Multi(vec![OpResult::Error(BadArguments)])
    );
    let nested = WriteOp::Multi(vec![create("/m/n", 0), WriteOp::Multi(vec![])]);
    assert_eq!(h.write(nested), err(MarshallingError));
    let ghost = h
        .write_as(99, &[], WriteOp::Multi(vec![check("/m", -1)]))
        .result;
    assert_eq!(
        ghost,
        TxnResult::Multi(vec![OpResult::Error(SessionExpired)])
    );
}

#[test]
fn multi_sequential_and_delete_then_create() {
    let mut h = H::new();
    h.ok_create("/m", 0);
    h.ok_create("/m/a", 0);
    // ZooKeeper 3.8.0 (after one earlier child of /m): s-1, s-2, delete s-2, s-3.
    let r = h.write(WriteOp::Multi(vec![
        create("/m/s-", 2),
        create("/m/s-", 2),
        delete("/m/s-0000000002", -1),
        create("/m/s-", 2),
    ]));
    let names: Vec<_> = match r {
        TxnResult::Multi(rs) => rs
            .into_iter()
            .filter_map(|r| match r {
                OpResult::Created { path, .. } => Some(path),
                _ => None,
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        names,
        ["/m/s-0000000001", "/m/s-0000000002", "/m/s-0000000003"]
    );
    let r = h.write(WriteOp::Multi(vec![delete("/m/a", -1), create("/m/a", 0)]));
    assert!(matches!(r, TxnResult::Multi(ref rs) if rs.len() == 2 && rs[0] == OpResult::Deleted));
}

#[test]
fn auth_scheme_and_super() {
    let mut h = H::new();
    let bob = Id {
        scheme: "digest".into(),
        id: generate_digest("bob:pw"),
    };
    let ip = Id {
        scheme: "ip".into(),
        id: "127.0.0.1".into(),
    };
    let sup = Id {
        scheme: "super".into(),
        id: String::new(),
    };
    let creator = perms::creator_all_acl();
    let r = h.write_as(
        S1,
        &[ip.clone(), bob.clone()],
        create_full("/ab", 0, 0, creator.clone()),
    );
    assert!(matches!(r.result, TxnResult::Created { .. }));
    assert_eq!(
        h.zk.tree().acl("/ab"),
        Some(&[acl(31, "digest", "bob:ikIaKsbtGweaHnb/jKn7OHqbunM=")][..])
    );
    assert_eq!(
        h.write_as(S1, std::slice::from_ref(&ip), create("/ab/x", 0))
            .result,
        err(ErrorCode::NoAuth)
    );
    assert!(matches!(
        h.write_as(S1, &[bob], create("/ab/x", 0)).result,
        TxnResult::Created { .. }
    ));
    assert!(matches!(
        h.write_as(S1, std::slice::from_ref(&sup), create("/ab/y", 0))
            .result,
        TxnResult::Created { .. }
    ));
    // `auth` needs an authenticated id: ip and super do not count.
    let r = h.write_as(S1, &[ip.clone(), sup], create_full("/ab2", 0, 0, creator));
    assert_eq!(r.result, err(ErrorCode::InvalidAcl));
    // ip ACLs match the connection address.
    h.write(create_full("/ip", 0, 0, vec![acl(31, "ip", "127.0.0.0/8")]));
    assert!(matches!(
        h.write_as(S1, &[ip], create("/ip/x", 0)).result,
        TxnResult::Created { .. }
    ));
    let far = Id {
        scheme: "ip".into(),
        id: "10.0.0.1".into(),
    };
    assert_eq!(
        h.write_as(S1, &[far], create("/ip/y", 0)).result,
        err(ErrorCode::NoAuth)
    );
}

#[test]
fn delete_container_rules() {
    let mut h = H::with(true);
    h.ok_create("/c", 4);
    h.ok_create("/c/x", 0);
    h.ok_create("/e", 1);
    h.ok_create("/p", 0);
    h.write(create_full("/t", 5, 10, perms::open_acl_unsafe()));
    let dc = |h: &mut H, path: &str| h.apply(Txn::DeleteContainer { path: path.into() });
    assert_eq!(dc(&mut h, "/c").result, err(ErrorCode::NotEmpty));
    assert_eq!(dc(&mut h, "/e").result, err(ErrorCode::BadVersion));
    assert_eq!(dc(&mut h, "/p").result, err(ErrorCode::BadVersion));
    assert_eq!(dc(&mut h, "/nope").result, err(ErrorCode::NoNode));
    assert_eq!(
        dc(&mut h, "/zookeeper").result,
        err(ErrorCode::BadArguments)
    );
    assert_eq!(dc(&mut h, "/t").result, TxnResult::Deleted);
    h.write(delete("/c/x", -1));
    let applied = dc(&mut h, "/c");
    assert_eq!(applied.result, TxnResult::Deleted);
    assert_eq!(
        applied.events,
        vec![
            trigger("/c", EventType::NodeDeleted, applied.zxid),
            trigger("/", EventType::NodeChildrenChanged, applied.zxid),
        ]
    );
    assert!(h.zk.tree().containers().is_empty() && h.zk.tree().ttls().is_empty());
}

#[test]
fn container_candidates_follow_container_manager() {
    let mut h = H::with(true);
    let t0 = h.time + 10;
    h.ok_create("/used", 4);
    h.ok_create("/used/x", 0);
    h.ok_create("/fresh", 4);
    h.ok_create("/full", 4);
    h.ok_create("/full/x", 0);
    h.write(create_full("/ttl", 5, 1_000, perms::open_acl_unsafe()));
    h.write(create_full("/ttlp", 5, 1_000, perms::open_acl_unsafe()));
    h.ok_create("/ttlp/x", 0);
    h.write(delete("/used/x", -1));
    let now = t0 + 5_000;
    assert_eq!(h.zk.container_candidates(now, 0), ["/ttl", "/used"]);
    assert_eq!(
        h.zk.container_candidates(now, 1_000),
        ["/fresh", "/ttl", "/used"]
    );
    assert_eq!(h.zk.container_candidates(now, 10_000), ["/ttl", "/used"]);
    // A TTL runs from the last modification, and must be strictly exceeded.
    let ttl_mtime =
        h.zk.tree()
            .node("/ttl")
            .map(|n| n.persisted_stat().mtime)
            .unwrap_or_default();
    assert_eq!(h.zk.container_candidates(ttl_mtime + 1_000, 0), ["/used"]);
    assert_eq!(
        h.zk.container_candidates(ttl_mtime + 1_001, 0),
        ["/ttl", "/used"]
    );
}

#[test]
fn state_round_trips_through_serde() {
    let mut h = H::with(true);
    h.ok_create("/a", 0);
    h.ok_create("/a/e", 1);
    h.ok_create("/c", 4);
    h.write(create_full("/t", 5, 10, perms::open_acl_unsafe()));
    h.write(WriteOp::SetData {
        path: "/a".into(),
        data: None,
        version: -1,
    });
    // Round-trip through the snapshot encoding.
    let bytes = postcard::to_allocvec(&h.zk).unwrap_or_default();
    let back: ZkState = postcard::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, h.zk);
    let mut copy = H {
        zk: back,
        time: h.time,
    };
    let txn = Txn::CloseSession { session_id: S1 };
    assert_eq!(copy.apply(txn.clone()), h.apply(txn));
    assert_eq!(copy.zk, h.zk);
}
