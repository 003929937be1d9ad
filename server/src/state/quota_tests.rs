//! Quota usage and enforcement through `apply`, as ZooKeeper 3.8's `DataTree` and
//! `ZooKeeperServer.checkQuota` do them (the process test `tests/quotas.rs` compares
//! the same sequences with a real ZooKeeper).

use bytes::Bytes;
use ferrokeeper_protocol::{ErrorCode, perms};

use super::txn::{Applied, Entry, Txn, TxnResult, WriteOp};
use super::{StateConfig, ZkState};

const S1: i64 = 0x0100_0000_0000_0001;

struct H {
    zk: ZkState,
    enforce: bool,
}

impl H {
    fn new(enforce: bool) -> H {
        let mut h = H {
            zk: ZkState::new(StateConfig::default()),
            enforce,
        };
        h.apply(Txn::CreateSession {
            session_id: S1,
            timeout_ms: 30_000,
        });
        h
    }

    fn apply(&mut self, txn: Txn) -> Applied {
        self.zk.apply(&Entry { time_ms: 1, txn })
    }

    fn write(&mut self, op: WriteOp) -> Applied {
        let (session_id, auth) = (S1, vec![]);
        self.apply(if self.enforce {
            Txn::WriteEnforcingQuota {
                session_id,
                auth,
                op,
            }
        } else {
            Txn::Write {
                session_id,
                auth,
                op,
            }
        })
    }

    fn create(&mut self, path: &str, data: &str) -> TxnResult {
        self.write(create(path, data)).result
    }

    fn data(&self, path: &str) -> String {
        let (data, _) = self.zk.tree().get_data(path).expect("node exists");
        String::from_utf8(data.unwrap_or_default().to_vec()).expect("utf-8")
    }

    /// What zkCli's `setquota` does: the path's quota parents, then limits, then stats.
    fn set_quota(&mut self, path: &str, limits: &str) {
        let mut at = String::from("/zookeeper/quota");
        for part in path.split('/').filter(|p| !p.is_empty()) {
            at = format!("{at}/{part}");
            self.create(&at, "");
        }
        ok(self.create(&format!("{at}/zookeeper_limits"), limits));
        ok(self.create(&format!("{at}/zookeeper_stats"), "count=0,bytes=0"));
    }

    fn usage(&self, path: &str) -> String {
        self.data(&format!("/zookeeper/quota{path}/zookeeper_stats"))
    }
}

fn create(path: &str, data: &str) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: Some(Bytes::from(data.to_owned())),
        acl: perms::open_acl_unsafe(),
        flags: 0,
        ttl: 0,
    }
}

fn set(path: &str, data: &str) -> WriteOp {
    WriteOp::SetData {
        path: path.into(),
        data: Some(Bytes::from(data.to_owned())),
        version: -1,
    }
}

fn ok(r: TxnResult) {
    assert!(matches!(r, TxnResult::Created { .. }), "{r:?}");
}

#[test]
fn usage_counts_the_subtree_when_the_quota_is_set_and_follows_every_write() {
    let mut h = H::new(false);
    ok(h.create("/a", "12345"));
    ok(h.create("/a/b", "xy"));
    ok(h.create("/ab", "not under /a"));
    h.set_quota("/a", "count=10,bytes=-1");
    assert_eq!(h.usage("/a"), "count=2,bytes=7");

    ok(h.create("/a/b/c", "abc"));
    assert_eq!(h.usage("/a"), "count=3,bytes=10");
    h.write(set("/a/b", "a longer value"));
    assert_eq!(h.usage("/a"), "count=3,bytes=22");
    h.write(WriteOp::Delete {
        path: "/a/b/c".into(),
        version: -1,
    });
    assert_eq!(h.usage("/a"), "count=2,bytes=19");
    // The stats node changes without a new version, as ZooKeeper's does.
    let stats =
        h.zk.tree()
            .stat("/zookeeper/quota/a/zookeeper_stats")
            .expect("stat");
    assert_eq!(stats.version, 0);
    assert_eq!(stats.data_length, "count=2,bytes=19".len() as i32);
}

#[test]
fn the_deepest_quota_counts_and_ephemerals_leave_with_their_session() {
    let mut h = H::new(false);
    ok(h.create("/a", ""));
    ok(h.create("/a/b", ""));
    h.set_quota("/a", "count=10,bytes=-1");
    h.set_quota("/a/b", "count=10,bytes=-1");
    assert_eq!(h.usage("/a"), "count=2,bytes=0");
    let eph = WriteOp::Create {
        path: "/a/b/e".into(),
        data: Some(Bytes::from_static(b"1234")),
        acl: perms::open_acl_unsafe(),
        flags: 1,
        ttl: 0,
    };
    assert!(matches!(h.write(eph).result, TxnResult::Created { .. }));
    assert_eq!(h.usage("/a/b"), "count=2,bytes=4");
    assert_eq!(h.usage("/a"), "count=2,bytes=0");
    h.apply(Txn::CloseSession { session_id: S1 });
    assert_eq!(h.usage("/a/b"), "count=1,bytes=0");
}

#[test]
fn a_failed_multi_leaves_usage_as_it_was() {
    let mut h = H::new(false);
    ok(h.create("/a", ""));
    h.set_quota("/a", "count=10,bytes=-1");
    let before = h.usage("/a");
    let r = h.write(WriteOp::Multi(vec![
        create("/a/x", "data"),
        set("/a", "more"),
        create("/missing/y", ""),
    ]));
    assert!(matches!(r.result, TxnResult::Multi(_)));
    assert_eq!(h.usage("/a"), before);
    assert!(h.zk.tree().node("/a/x").is_none());
}

#[test]
fn removing_the_limits_node_stops_the_counting() {
    let mut h = H::new(false);
    ok(h.create("/a", ""));
    h.set_quota("/a", "count=10,bytes=-1");
    h.write(WriteOp::Delete {
        path: "/zookeeper/quota/a/zookeeper_limits".into(),
        version: -1,
    });
    ok(h.create("/a/x", "data"));
    assert_eq!(h.usage("/a"), "count=1,bytes=0");
    assert_eq!(h.zk.tree().quota_root_of("/a/x"), None);
}

#[test]
fn hard_limits_refuse_writes_only_when_enforced() {
    for enforce in [false, true] {
        let mut h = H::new(enforce);
        ok(h.create("/a", ""));
        h.set_quota("/a", "count=-1,bytes=-1=;byteHardLimit=10;countHardLimit=2");
        ok(h.create("/a/one", "12345"));
        let over_count = h.write(create("/a/two", ""));
        let over_bytes = h.write(set("/a/one", "12345678901"));
        if enforce {
            assert_eq!(
                over_count.result,
                TxnResult::Error(ErrorCode::QuotaExceeded)
            );
            assert_eq!(
                over_bytes.result,
                TxnResult::Error(ErrorCode::QuotaExceeded)
            );
            assert_eq!(
                over_count.quota_breaches[0].to_string(),
                "Quota exceeded: /a [current count=3, hardCountLimit=2]"
            );
            assert_eq!(h.usage("/a"), "count=2,bytes=5");
            // Within the limit, and a write that does not grow usage, go through.
            assert!(matches!(
                h.write(set("/a/one", "1234567890")).result,
                TxnResult::Stat(_)
            ));
        } else {
            assert!(matches!(over_count.result, TxnResult::Created { .. }));
            assert!(over_count.quota_breaches.is_empty());
            assert!(matches!(over_bytes.result, TxnResult::Stat(_)));
        }
    }
}

#[test]
fn soft_limits_are_reported_and_let_the_write_through() {
    let mut h = H::new(true);
    ok(h.create("/a", ""));
    h.set_quota("/a", "count=1,bytes=-1");
    let r = h.write(create("/a/x", ""));
    assert!(matches!(r.result, TxnResult::Created { .. }));
    assert_eq!(
        r.quota_breaches[0].to_string(),
        "Quota exceeded: /a [current count=2, softCountLimit=1]"
    );
}

#[test]
fn a_loaded_state_rebuilds_its_quotas() {
    let mut h = H::new(true);
    ok(h.create("/a", "1"));
    h.set_quota("/a", "count=-1,bytes=-1=;countHardLimit=1");
    let bytes = postcard::to_allocvec(&h.zk).expect("encodes");
    let mut loaded: ZkState = postcard::from_bytes(&bytes).expect("decodes");
    assert_eq!(loaded, h.zk);
    let r = loaded.apply(&Entry {
        time_ms: 2,
        txn: Txn::WriteEnforcingQuota {
            session_id: S1,
            auth: vec![],
            op: create("/a/x", ""),
        },
    });
    assert_eq!(r.result, TxnResult::Error(ErrorCode::QuotaExceeded));
}
