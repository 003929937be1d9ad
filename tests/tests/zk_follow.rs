//! `ferrokeeper.follow=zookeeper`: a ferrokeeper server joins a running 3-server
//! ZooKeeper 3.8 ensemble as `server.4=…:observer` and serves clients with ZooKeeper's
//! semantics: reads from its own copy (equal to ZooKeeper's, znode by znode), writes,
//! new sessions and syncs through ZooKeeper's leader, watches fired by writes made
//! through ZooKeeper, a session kept across the ZooKeeper leader's kill -9 (under a
//! steady write load through ZooKeeper, every acknowledged write then readable through
//! ferrokeeper), and a
//! session created on ZooKeeper resumed on ferrokeeper with its ephemeral.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateMode, CreateRequest, EventType, GetDataRequest, MultiOp, MultiRequest, Request, Response,
    SetDataRequest, SyncRequest, perms,
};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::follow;
use ferrokeeper_tests::process::{self, Group};
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zk_ensemble::{RealZooKeeperEnsemble, pick_port};
use ferrokeeper_tests::znode_tree::{Tree, assert_same_tree, dump_tree, srvr_zxid};
use ferrokeeper_tests::{Ferrokeeper, ferrokeeper_command};

const TICK_MS: u64 = 500;
/// Bounds on waiting for the follower (many ticks; no speed is asserted).
const PATIENCE: Duration = Duration::from_secs(60);

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    follow::wait_for(what, PATIENCE, done)
}

fn mode(addr: SocketAddr) -> Option<String> {
    follow::srvr_mode(addr)
}

/// ferrokeeper's zoo.cfg as the ensemble's only following observer, `server.4`.
fn follower_cfg(
    zk: &RealZooKeeperEnsemble,
    dir: &Path,
    observer_line: &str,
    client_port: u16,
) -> String {
    follow::follower_cfg(
        zk,
        dir,
        4,
        &[(4, observer_line.to_owned())],
        false,
        client_port,
    )
}

/// Starts ferrokeeper as the ensemble's observer and waits until it serves.
fn start_follower(zk: &RealZooKeeperEnsemble, dir: &Path, observer_line: &str) -> Ferrokeeper {
    let path = follower_cfg(zk, dir, observer_line, pick_port());
    let server = Ferrokeeper::start_in(dir, &["--config", &path]);
    let addr = server.addr();
    wait_for("ferrokeeper serving as an observer", || {
        mode(addr).as_deref() == Some("observer")
    });
    server
}

fn client(addr: SocketAddr) -> RawClient {
    RawClient::connect(addr, 30_000, None)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"))
        .0
}

fn call(client: &mut RawClient, request: Request) -> ferrokeeper_protocol::ReplyFrame {
    client
        .call(request)
        .expect("request")
        .pop()
        .expect("a reply")
}

fn create(client: &mut RawClient, path: &str, data: &[u8], mode: CreateMode) -> i32 {
    call(
        client,
        Request::Create(CreateRequest {
            path: path.into(),
            data: Some(Bytes::copy_from_slice(data)),
            acl: perms::open_acl_unsafe(),
            flags: mode.code(),
        }),
    )
    .header
    .err
}

fn get(client: &mut RawClient, path: &str, watch: bool) -> Option<Bytes> {
    let reply = call(
        client,
        Request::GetData(GetDataRequest {
            path: path.into(),
            watch,
        }),
    );
    match reply.response {
        Response::GetData(r) => r.data,
        _ => None,
    }
}

/// ZooKeeper's members set `/zookeeper/config` each at its own time.
fn comparable(mut tree: Tree) -> Tree {
    tree.remove("/zookeeper/config");
    tree
}

fn assert_same_as_zookeeper(zk: SocketAddr, fk: SocketAddr, what: &str) {
    let target = srvr_zxid(zk);
    wait_for(&format!("{what}: ferrokeeper at 0x{target:x}"), || {
        srvr_zxid(fk) >= target
    });
    assert_same_tree(
        what,
        &comparable(dump_tree(zk, &[])),
        &comparable(dump_tree(fk, &[])),
    );
}

#[test]
fn a_follower_serves_zookeepers_data_and_forwards_writes_sessions_and_syncs() {
    let observer_line = format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port());
    let mut zk = RealZooKeeperEnsemble::start(3, TICK_MS, &[("server.4", observer_line.as_str())]);
    let leader = zk.leader().expect("a leader");
    let member = (leader + 1) % 3;
    let zk_addr = zk.client_addr(member);

    let mut z = client(zk_addr);
    assert_eq!(create(&mut z, "/app", b"v1", CreateMode::Persistent), 0);
    for i in 0..20 {
        create(
            &mut z,
            &format!("/app/n{i}"),
            b"x",
            CreateMode::PersistentSequential,
        );
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let fk = start_follower(&zk, dir.path(), &observer_line);
    assert_same_as_zookeeper(zk_addr, fk.addr(), "after the sync");

    // Writes through ferrokeeper are ZooKeeper's: replies, errors, multi, ephemerals.
    let mut f = client(fk.addr());
    assert_eq!(create(&mut f, "/via-fk", b"f", CreateMode::Persistent), 0);
    assert_eq!(
        create(&mut f, "/via-fk", b"f", CreateMode::Persistent),
        -110,
        "NodeExists"
    );
    assert_eq!(
        create(&mut f, "/via-fk/eph", b"e", CreateMode::Ephemeral),
        0
    );
    let multi = call(
        &mut f,
        Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::Create(CreateRequest {
                    path: "/via-fk/m".into(),
                    data: None,
                    acl: perms::open_acl_unsafe(),
                    flags: 0,
                }),
                MultiOp::SetData(SetDataRequest {
                    path: "/app".into(),
                    data: Some(Bytes::from_static(b"v2")),
                    version: 0,
                }),
            ],
        }),
    );
    assert_eq!(multi.header.err, 0, "{multi:?}");
    // ZooKeeper's member applies the commit on its own time: sync first.
    call(
        &mut z,
        Request::Sync(SyncRequest {
            path: "/app".into(),
        }),
    );
    assert_eq!(
        get(&mut z, "/app", false).as_deref(),
        Some(&b"v2"[..]),
        "ZooKeeper applied the multi"
    );
    assert_same_as_zookeeper(zk_addr, fk.addr(), "after writes through ferrokeeper");

    // A watch set through ferrokeeper fires for a write made through ZooKeeper, and a
    // sync through ferrokeeper makes that write visible.
    assert_eq!(get(&mut f, "/app", true).as_deref(), Some(&b"v2"[..]));
    let reply = call(
        &mut z,
        Request::SetData(SetDataRequest {
            path: "/app".into(),
            data: Some(Bytes::from_static(b"v3")),
            version: -1,
        }),
    );
    assert_eq!(reply.header.err, 0);
    let (event, path) = f.next_event().expect("a watch event");
    assert_eq!((event, path.as_str()), (EventType::NodeDataChanged, "/app"));
    call(
        &mut f,
        Request::Sync(SyncRequest {
            path: "/app".into(),
        }),
    );
    assert_eq!(get(&mut f, "/app", false).as_deref(), Some(&b"v3"[..]));

    // A session created on ZooKeeper moves to ferrokeeper with its ephemeral.
    let (mut moving, hello) = RawClient::connect(zk_addr, 30_000, None).expect("connect");
    assert_eq!(
        create(&mut moving, "/moving-eph", b"", CreateMode::Ephemeral),
        0
    );
    moving.disconnect();
    let (mut moved, resumed) = RawClient::connect(
        fk.addr(),
        30_000,
        Some((hello.session_id, hello.passwd.clone())),
    )
    .expect("resume on ferrokeeper");
    assert_eq!(resumed.session_id, hello.session_id, "the same session");
    assert!(resumed.timeout > 0, "not expired");
    assert!(get(&mut moved, "/moving-eph", false).is_some());

    // ZooKeeper's leader dies: ferrokeeper syncs with the next one; its client comes
    // back with the same session and ephemeral.
    let session = (f.session_id, f.passwd.clone());
    // A steady write load through ZooKeeper's other members, across the leader's death.
    assert_eq!(create(&mut z, "/load", b"", CreateMode::Persistent), 0);
    let survivors: Vec<SocketAddr> = (0..3)
        .filter(|m| *m != leader)
        .map(|m| zk.client_addr(m))
        .collect();
    let load = Load::start(survivors);
    wait_for("some load acknowledged", || load.acked().len() >= 20);
    zk.kill9(leader);
    wait_for("ferrokeeper serving again after the leader's death", || {
        mode(fk.addr()).as_deref() == Some("observer")
            && RawClient::connect(fk.addr(), 30_000, Some(session.clone()))
                .is_ok_and(|(_, r)| r.timeout > 0)
    });
    let (mut back, r) =
        RawClient::connect(fk.addr(), 30_000, Some(session.clone())).expect("reconnect");
    assert_eq!(r.session_id, session.0);
    assert!(
        get(&mut back, "/via-fk/eph", false).is_some(),
        "the ephemeral survived"
    );
    let survivor = (0..3).find(|m| *m != leader).expect("a survivor");
    assert_eq!(
        create(&mut back, "/after-failover", b"a", CreateMode::Persistent),
        0
    );
    let before = load.acked().len();
    wait_for("load acknowledged by the new leader", || {
        load.acked().len() >= before + 20
    });
    let acked = load.stop();
    assert_same_as_zookeeper(
        zk.client_addr(survivor),
        fk.addr(),
        "after the leader's death",
    );
    // Every write ZooKeeper acknowledged is readable through ferrokeeper.
    let mut reader = client(fk.addr());
    let missing: Vec<&String> = acked
        .iter()
        .filter(|p| get(&mut reader, p, false).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes are not on ferrokeeper: {missing:?}",
        missing.len(),
        acked.len()
    );
}

/// Creates `/load/n<i>` through ZooKeeper's servers every 5 ms, reconnecting to the next
/// one when a connection fails; remembers the creates ZooKeeper acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(servers: Vec<SocketAddr>) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let mut conn: Option<RawClient> = None;
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut c = match conn.take() {
                        Some(c) => c,
                        None => {
                            let server = servers[(i as usize) % servers.len()];
                            match RawClient::connect(server, 30_000, None) {
                                Ok((c, _)) => c,
                                Err(_) => {
                                    i += 1;
                                    std::thread::sleep(Duration::from_millis(50));
                                    continue;
                                }
                            }
                        }
                    };
                    let _ = c.stream().set_read_timeout(Some(Duration::from_secs(5)));
                    let path = format!("/load/n{i}");
                    i += 1;
                    let request = Request::Create(CreateRequest {
                        path: path.clone(),
                        data: Some(Bytes::from_static(b"l")),
                        acl: perms::open_acl_unsafe(),
                        flags: 0,
                    });
                    // A lost connection leaves the outcome unknown: not counted, and
                    // the next create goes through a new connection.
                    if let Ok(Some(reply)) = c.call(request).map(|mut f| f.pop()) {
                        if reply.header.err == 0 {
                            acked.lock().unwrap_or_else(|p| p.into_inner()).push(path);
                        }
                        conn = Some(c);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Load {
            stop,
            acked,
            thread: Some(thread),
        }
    }

    fn acked(&self) -> Vec<String> {
        self.acked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn stop(mut self) -> Vec<String> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.acked()
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long `ferrokeeper promote` may take: ZooKeeper's leaderless grace (initLimit
/// ticks) and a sync, with room for a loaded machine.
const PROMOTE_LIMIT: Duration = Duration::from_secs(120);

/// A 3-voter ZooKeeper with ferrokeeper as its `server.4`, serving as an observer.
struct SoleFollower {
    zk: RealZooKeeperEnsemble,
    dir: tempfile::TempDir,
    cfg: String,
    process: Group,
    addr: SocketAddr,
}

impl SoleFollower {
    fn start() -> SoleFollower {
        let observer_line = format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port());
        let zk = RealZooKeeperEnsemble::start(3, TICK_MS, &[("server.4", observer_line.as_str())]);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = pick_port();
        let cfg = follower_cfg(&zk, dir.path(), &observer_line, port);
        // Run as an operator would: the zoo.cfg's own client port, which promote asks.
        let process = Group::spawn(ferrokeeper_command().args(["--config", &cfg]), None);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        wait_for("ferrokeeper serving as an observer", || {
            mode(addr).as_deref() == Some("observer")
        });
        SoleFollower {
            zk,
            dir,
            cfg,
            process,
            addr,
        }
    }
}

#[test]
fn promote_takes_over_once_zookeeper_stops_with_every_session_kept() {
    let SoleFollower {
        mut zk,
        dir,
        cfg,
        process: _follower,
        addr: fk,
    } = SoleFollower::start();

    // A session on ZooKeeper and one on ferrokeeper, each with an ephemeral.
    let zk_addr = zk.client_addr(0);
    let (mut on_zk, zk_session) = RawClient::connect(zk_addr, 30_000, None).expect("connect");
    assert_eq!(create(&mut on_zk, "/zk-eph", b"", CreateMode::Ephemeral), 0);
    let (mut on_fk, fk_session) = RawClient::connect(fk, 30_000, None).expect("connect");
    assert_eq!(create(&mut on_fk, "/fk-eph", b"", CreateMode::Ephemeral), 0);

    let promote = Group::spawn(
        ferrokeeper_command().args(["promote", "--config", &cfg, "--timeout", "100"]),
        None,
    );
    // Armed but ZooKeeper still leads: ferrokeeper keeps following, and its writes are
    // still ZooKeeper's (never two primaries).
    wait_for("the request being seen", || {
        dir.path().join("ferrokeeper/promote").exists()
    });
    assert_eq!(
        create(&mut on_fk, "/while-armed", b"", CreateMode::Persistent),
        0
    );
    // A ZooKeeper member applies a commit on its own time: sync first.
    call(
        &mut on_zk,
        Request::Sync(SyncRequest {
            path: "/while-armed".into(),
        }),
    );
    assert!(
        get(&mut on_zk, "/while-armed", false).is_some(),
        "the write went to ZooKeeper"
    );
    assert_eq!(mode(fk).as_deref(), Some("observer"));
    let zk_last = srvr_zxid(zk_addr);

    for m in 0..3 {
        zk.kill9(m);
    }
    let out = promote.finish("ferrokeeper promote", PROMOTE_LIMIT);
    assert!(out.status.success(), "promote failed\n{}", out.dump());
    assert_eq!(mode(fk).as_deref(), Some("standalone"));

    // Both sessions continue on ferrokeeper with their ephemerals.
    on_zk.disconnect();
    on_fk.disconnect();
    for (what, hello, eph) in [
        ("the session from ZooKeeper", &zk_session, "/zk-eph"),
        ("the session from ferrokeeper", &fk_session, "/fk-eph"),
    ] {
        let (mut c, r) =
            RawClient::connect(fk, 30_000, Some((hello.session_id, hello.passwd.clone())))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.session_id, hello.session_id, "{what}");
        assert!(r.timeout > 0, "{what} not expired");
        assert!(get(&mut c, eph, false).is_some(), "{what}: its ephemeral");
    }
    // The primary now: a write gets the next zxid after ZooKeeper's.
    let mut c = client(fk);
    assert_eq!(
        create(&mut c, "/after-promotion", b"p", CreateMode::Persistent),
        0
    );
    assert!(srvr_zxid(fk) > zk_last);
    drop(_follower);

    // Restarted with the same zoo.cfg, it refuses to follow again.
    let again = process::run(
        ferrokeeper_command().args(["--config", &cfg]),
        None,
        "ferrokeeper restarted with the follow config",
        Duration::from_secs(30),
    );
    assert!(!again.status.success(), "{}", again.dump());
    assert!(
        again.stderr.contains("ferrokeeper.follow"),
        "{}",
        again.dump()
    );
}

#[test]
fn three_followers_take_over_together_as_an_ensemble() {
    // Three ferrokeeper servers, each its own observer of ZooKeeper (server.4-6), whose
    // quorum ports become their Raft ports once promoted.
    let observers: Vec<(u64, String)> = (4..=6)
        .map(|i| {
            (
                i,
                format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port()),
            )
        })
        .collect();
    let zk_cfg: Vec<(String, String)> = observers
        .iter()
        .map(|(i, l)| (format!("server.{i}"), l.clone()))
        .collect();
    let zk_cfg_refs: Vec<(&str, &str)> = zk_cfg
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut zk = RealZooKeeperEnsemble::start(3, TICK_MS, &zk_cfg_refs);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let ports: Vec<u16> = (0..3).map(|_| pick_port()).collect();
    let cfgs: Vec<String> = (0..3)
        .map(|k| {
            follow::follower_cfg(
                &zk,
                dirs[k].path(),
                4 + k as u64,
                &observers,
                true,
                ports[k],
            )
        })
        .collect();
    let _servers: Vec<Group> = cfgs
        .iter()
        .map(|cfg| Group::spawn(ferrokeeper_command().args(["--config", cfg]), None))
        .collect();
    let addrs: Vec<SocketAddr> = ports.iter().map(|p| ([127, 0, 0, 1], *p).into()).collect();
    for addr in &addrs {
        wait_for("every ferrokeeper following", || {
            mode(*addr).as_deref() == Some("observer")
        });
    }

    let (mut on_zk, zk_hello) =
        RawClient::connect(zk.client_addr(0), 30_000, None).expect("connect");
    assert_eq!(create(&mut on_zk, "/zk-eph", b"", CreateMode::Ephemeral), 0);
    let (mut on_fk, fk_hello) = RawClient::connect(addrs[1], 30_000, None).expect("connect");
    assert_eq!(create(&mut on_fk, "/fk-eph", b"", CreateMode::Ephemeral), 0);
    assert_eq!(create(&mut on_fk, "/data", b"d", CreateMode::Persistent), 0);
    let zk_last = srvr_zxid(zk.client_addr(0));
    for addr in &addrs {
        wait_for("every follower at ZooKeeper's zxid", || {
            srvr_zxid(*addr) >= zk_last
        });
    }

    let promotes: Vec<Group> = cfgs
        .iter()
        .map(|cfg| {
            Group::spawn(
                ferrokeeper_command().args(["promote", "--config", cfg, "--timeout", "100"]),
                None,
            )
        })
        .collect();
    for dir in &dirs {
        wait_for("every promotion armed", || {
            dir.path().join("ferrokeeper/promote").exists()
        });
    }
    for m in 0..3 {
        zk.kill9(m);
    }
    for p in promotes {
        let out = p.finish("ferrokeeper promote", PROMOTE_LIMIT);
        assert!(out.status.success(), "promote failed\n{}", out.dump());
    }
    let mut modes: Vec<String> = addrs.iter().filter_map(|a| mode(*a)).collect();
    modes.sort();
    assert_eq!(
        modes,
        vec!["follower", "follower", "leader"],
        "one Raft ensemble"
    );

    // Sessions resume on members other than the ones they came through.
    on_zk.disconnect();
    on_fk.disconnect();
    for (what, hello, eph, addr) in [
        ("the session from ZooKeeper", &zk_hello, "/zk-eph", addrs[2]),
        (
            "the session from a follower",
            &fk_hello,
            "/fk-eph",
            addrs[0],
        ),
    ] {
        let (mut c, r) =
            RawClient::connect(addr, 30_000, Some((hello.session_id, hello.passwd.clone())))
                .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(r.session_id, hello.session_id, "{what}");
        assert!(r.timeout > 0, "{what} not expired");
        assert!(get(&mut c, eph, false).is_some(), "{what}: its ephemeral");
    }
    // Writes replicate between the members now.
    let mut w = client(addrs[0]);
    assert_eq!(
        create(&mut w, "/replicated", b"r", CreateMode::Persistent),
        0
    );
    for addr in &addrs {
        let mut r = client(*addr);
        call(&mut r, Request::Sync(SyncRequest { path: "/".into() }));
        assert_eq!(
            get(&mut r, "/replicated", false).as_deref(),
            Some(&b"r"[..])
        );
        assert_eq!(get(&mut r, "/data", false).as_deref(), Some(&b"d"[..]));
    }
    assert!(srvr_zxid(addrs[0]) > zk_last);
}

#[test]
fn promote_after_zookeeper_is_already_gone() {
    let SoleFollower {
        mut zk,
        dir: _dir,
        cfg,
        process: _follower,
        addr: fk,
    } = SoleFollower::start();
    let (mut c, hello) = RawClient::connect(fk, 30_000, None).expect("connect");
    assert_eq!(create(&mut c, "/eph", b"", CreateMode::Ephemeral), 0);
    c.disconnect();

    // ZooKeeper goes first: the follower stops serving and waits for a leader...
    for m in 0..3 {
        zk.kill9(m);
    }
    wait_for("the follower no longer serving", || mode(fk).is_none());
    // ...until asked to take over, which it then does at once.
    let out = process::run(
        ferrokeeper_command().args(["promote", "--config", &cfg, "--timeout", "100"]),
        None,
        "ferrokeeper promote",
        PROMOTE_LIMIT,
    );
    assert!(out.status.success(), "promote failed\n{}", out.dump());
    let (mut back, r) =
        RawClient::connect(fk, 30_000, Some((hello.session_id, hello.passwd.clone())))
            .expect("resume");
    assert_eq!(r.session_id, hello.session_id);
    assert!(get(&mut back, "/eph", false).is_some());
}
