//! ferrokeeper's ZAB observer (`ferrokeeper_server::zab`) against a real 3-server
//! ZooKeeper 3.8 ensemble: it joins as `server.4=…:observer`, syncs (by SNAP), follows
//! the INFORM stream, rejoins after being away (by DIFF, and by SNAP in a second ensemble
//! set up to send one), and after the leader is killed finds the new leader and syncs
//! again. At each
//! step its tree must equal what ZooKeeper serves, znode by znode (data, every Stat
//! field, ACL).
//!
//! The observer is driven in-process, with a sink that only keeps the tree; serving
//! clients from it is the server's business (not yet wired).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateMode, CreateRequest, DeleteRequest, MultiOp, MultiRequest, Request, SetDataRequest,
    TxnEntry, perms,
};
use ferrokeeper_server::state::{StateConfig, ZkState};
use ferrokeeper_server::zab::{self, FollowSink, ObserverSettings, SharedWriter};
use ferrokeeper_server::zkfiles::snapshot::SnapshotBody;
use ferrokeeper_server::zkfiles::state_from_snapshot;
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zk_ensemble::{RealZooKeeperEnsemble, pick_port};
use ferrokeeper_tests::znode_tree::{Tree, Znode, assert_same_tree, dump_tree, srvr_zxid};

const TICK_MS: u64 = 500;
/// How long the observer may take to sync or catch up (many ticks; no speed is asserted).
const CATCH_UP: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Observed {
    replayed: Option<ZkState>,
    syncs: u32,
    snaps: u32,
    serving: bool,
}

#[derive(Clone)]
struct TestSink(Arc<Mutex<Observed>>);

impl TestSink {
    fn with<T>(&self, f: impl FnOnce(&mut Observed) -> T) -> T {
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

fn fresh() -> ZkState {
    ZkState::new(StateConfig::default())
}

impl FollowSink for TestSink {
    fn last_zxid(&self) -> i64 {
        self.with(|o| o.replayed.as_ref().map_or(0, ZkState::last_zxid))
    }
    fn reset(&mut self, snapshot: SnapshotBody, zxid: i64) {
        self.with(|o| {
            o.snaps += 1;
            o.replayed = Some(state_from_snapshot(snapshot, zxid, false));
        });
    }
    fn apply(&mut self, txn: &TxnEntry) -> Result<(), String> {
        self.with(|o| {
            o.replayed
                .get_or_insert_with(fresh)
                .apply_zk(txn)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }
    fn touched_sessions(&mut self) -> Vec<(i64, i32)> {
        Vec::new()
    }
    fn synced(&mut self, _leader: u64, _zxid: i64) {
        self.with(|o| {
            o.syncs += 1;
            o.serving = true;
        });
    }
    fn lost(&mut self) {
        self.with(|o| o.serving = false);
    }
}

struct Follower {
    sink: TestSink,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_follower(zk: &RealZooKeeperEnsemble) -> Follower {
    start_follower_with(zk, TestSink(Arc::new(Mutex::new(Observed::default()))))
}

/// An observer whose data starts as `sink` holds it.
fn start_follower_with(zk: &RealZooKeeperEnsemble, sink: TestSink) -> Follower {
    let settings = ObserverSettings {
        my_id: 4,
        voters: (0..zk.size())
            .map(|m| (m as u64 + 1, zk.quorum_addr(m).to_string()))
            .collect(),
        voter_ports: Vec::new(),
        tick: Duration::from_millis(TICK_MS),
        init_limit: 10,
        sync_limit: 5,
        extended_types: false,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let mut sink = sink.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let writer: SharedWriter = Arc::new(Mutex::new(None));
            let never = AtomicBool::new(false);
            let end = zab::follow(&settings, &mut sink, &writer, &stop, &never);
            assert!(
                matches!(end, zab::ZabError::Stopped),
                "the observer stopped by itself: {end}"
            );
        })
    };
    Follower {
        sink,
        stop,
        thread: Some(thread),
    }
}

/// The observer's tree as a client would read it.
fn observed_tree(sink: &TestSink) -> Tree {
    sink.with(|o| {
        let r = o.replayed.as_ref().expect("the observer has data");
        r.tree()
            .iter()
            .map(|(path, node)| {
                (
                    path.to_owned(),
                    Znode {
                        data: node.data().cloned(),
                        stat: node.client_stat(false),
                        acl: node.acl().to_vec(),
                    },
                )
            })
            .collect()
    })
}

/// Every member sets `/zookeeper/config` itself, at its own wall time, so it differs
/// between ZooKeeper's own members too.
fn without_config(mut tree: Tree) -> Tree {
    tree.remove("/zookeeper/config");
    tree
}

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    ferrokeeper_tests::follow::wait_for(what, CATCH_UP, done)
}

fn client(addr: SocketAddr) -> RawClient {
    RawClient::connect(addr, 30_000, None)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
        .0
}

fn write(client: &mut RawClient, request: Request) {
    let frames = client.call(request).expect("request");
    let reply = frames.last().expect("a reply");
    assert_eq!(reply.header.err, 0, "write failed: {reply:?}");
}

fn create(client: &mut RawClient, path: &str, data: &[u8], mode: CreateMode) {
    write(
        client,
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: perms::open_acl_unsafe(),
            flags: mode.code(),
        }),
    );
}

/// Waits until the observer has applied everything `addr` has, then compares.
fn assert_follows(zk_addr: SocketAddr, follower: &Follower, what: &str) {
    let target = srvr_zxid(zk_addr);
    wait_for(
        &format!("{what}: the observer reaching 0x{target:x}"),
        || follower.sink.last_zxid() >= target,
    );
    let expected = without_config(dump_tree(zk_addr, &[]));
    let actual = without_config(observed_tree(&follower.sink));
    assert_same_tree(what, &expected, &actual);
}

/// How the leader brings an observer that was away for a while up to date (a new one,
/// with nothing, always gets the whole snapshot).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rejoin {
    /// The leader's committed log still holds every txn it missed: PROPOSAL/COMMIT pairs.
    Diff,
    /// The leader is set to sync every learner by snapshot: the whole snapshot again.
    Snap,
}

#[test]
fn an_observer_rejoins_by_diff_and_follows_through_a_leader_change() {
    follow_scenario(Rejoin::Diff);
}

#[test]
fn an_observer_rejoins_by_snapshot_and_follows_through_a_leader_change() {
    follow_scenario(Rejoin::Snap);
}

fn follow_scenario(rejoin: Rejoin) {
    let observer_line = format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port());
    let mut cfg = vec![("server.4", observer_line.as_str())];
    if rejoin == Rejoin::Snap {
        // Unknown zoo.cfg keys become zookeeper.* properties: the leader syncs every
        // learner by snapshot.
        cfg.push(("forceSnapshotSync", "true"));
    }
    let mut zk = RealZooKeeperEnsemble::start(3, TICK_MS, &cfg);
    let leader = zk.leader().expect("a leader");
    let other = (leader + 1) % 3;

    // Data before the observer joins: it arrives by the sync (DIFF or SNAP).
    let mut c = client(zk.client_addr(other));
    create(&mut c, "/before", b"b", CreateMode::Persistent);
    for i in 0..30 {
        create(
            &mut c,
            &format!("/before/n{i}"),
            format!("v{i}").as_bytes(),
            CreateMode::Persistent,
        );
    }
    let mut live = client(zk.client_addr(leader));
    create(&mut live, "/before/eph", b"e", CreateMode::Ephemeral);

    let follower = start_follower(&zk);
    wait_for("the observer syncing", || follower.sink.with(|o| o.serving));
    assert_follows(zk.client_addr(other), &follower, "after the sync");
    assert_eq!(
        follower.sink.with(|o| o.snaps),
        1,
        "a new observer syncs by snapshot"
    );

    // The INFORM stream: every kind of write, through two members.
    let mut c2 = client(zk.client_addr(leader));
    create(&mut c2, "/after", b"a", CreateMode::Persistent);
    create(
        &mut c2,
        "/after/seq-",
        b"1",
        CreateMode::PersistentSequential,
    );
    write(
        &mut c,
        Request::SetData(SetDataRequest {
            path: "/before/n3".into(),
            data: None,
            version: -1,
        }),
    );
    write(
        &mut c,
        Request::Delete(DeleteRequest {
            path: "/before/n4".into(),
            version: -1,
        }),
    );
    write(
        &mut c2,
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(CreateRequest {
                    path: "/after/m1".into(),
                    data: Some(Bytes::from_static(b"m")),
                    acl: perms::read_acl_unsafe(),
                    flags: 0,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/after".into(),
                    data: Some(Bytes::from_static(b"a2")),
                    version: 0,
                }),
            ],
        }),
    );
    create(&mut c2, "/after/eph", b"e", CreateMode::Ephemeral);
    let mut closing = client(zk.client_addr(other));
    create(&mut closing, "/after/eph2", b"e", CreateMode::Ephemeral);
    // Its session closes: its ephemeral goes, by a closeSession txn.
    write(&mut closing, Request::CloseSession);
    assert_follows(
        zk.client_addr(other),
        &follower,
        "following the INFORM stream",
    );
    assert!(
        follower.sink.with(|o| o.replayed.as_ref().is_some_and(|r| r
            .tree()
            .node("/after/eph2")
            .is_none()
            && r.tree().node("/after/eph").is_some())),
        "the closed session's ephemeral is gone, the open one's is there"
    );

    // Away while 20 txns happen, then back with what it had.
    let sink = follower.sink.clone();
    drop(follower);
    for i in 0..20 {
        create(&mut c, &format!("/away{i}"), b"w", CreateMode::Persistent);
    }
    let follower = start_follower_with(&zk, sink);
    wait_for("the observer syncing again", || {
        follower.sink.with(|o| o.serving && o.syncs == 2)
    });
    assert_follows(zk.client_addr(other), &follower, "after rejoining");
    let snaps = follower.sink.with(|o| o.snaps);
    match rejoin {
        Rejoin::Diff => assert_eq!(snaps, 1, "the rejoin was a DIFF"),
        Rejoin::Snap => assert_eq!(snaps, 2, "the rejoin was a SNAP"),
    }

    // The leader dies: the observer finds the new one and syncs again.
    let syncs = follower.sink.with(|o| o.syncs);
    drop(live);
    zk.kill9(leader);
    wait_for("the observer syncing with the new leader", || {
        follower.sink.with(|o| o.syncs > syncs && o.serving)
    });
    let survivor = (0..3).find(|m| *m != leader).expect("a survivor");
    let mut c3 = client(zk.client_addr(survivor));
    create(&mut c3, "/new-epoch", b"n", CreateMode::Persistent);
    for i in 0..10 {
        write(
            &mut c3,
            Request::SetData(SetDataRequest {
                path: "/new-epoch".into(),
                data: Some(Bytes::from(format!("{i}"))),
                version: -1,
            }),
        );
    }
    assert_follows(
        zk.client_addr(survivor),
        &follower,
        "after the leader change",
    );
    let epoch = follower.sink.last_zxid() >> 32;
    assert!(
        epoch >= 2,
        "the new leader's epoch is in the zxids ({epoch})"
    );
}
