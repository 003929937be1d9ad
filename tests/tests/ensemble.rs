//! Replicated ensembles of real `ferrokeeper` processes on loopback, formed from
//! generated zoo.cfg + myid files: election, write forwarding, failover, catch-up from
//! the log and from a snapshot, partitions, session moves and expiry, observers.
//!
//! Clients are [`RawClient`]s: they never reconnect by themselves, so each test says
//! exactly when a session moves and to which server. Every acknowledged write is read
//! back at the end of the failure tests. Timings are printed, never asserted tightly
//! (shared machines): bounds are generous multiples of the election timeout.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    EventType, GetChildrenRequest, GetDataRequest, Request, Response, SetDataRequest, SetWatches2,
    SyncRequest,
};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble, try_four_letter};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::{RawClient, create, err_of, exists};

const EPHEMERAL: i32 = 1;

fn connect(addr: SocketAddr, timeout_ms: i32) -> RawClient {
    RawClient::connect(addr, timeout_ms, None)
        .expect("connect")
        .0
}

/// Resumes `session` on the first member (in `order`) that accepts it.
fn resume(
    ensemble: &FerrokeeperEnsemble,
    order: &[usize],
    session: (i64, Bytes),
    last_zxid: i64,
    within: Duration,
) -> (RawClient, usize) {
    let deadline = Instant::now() + within;
    loop {
        for member in order.iter().copied().filter(|m| ensemble.is_running(*m)) {
            if let Ok((client, response)) = RawClient::connect_seen(
                ensemble.client_addr(member),
                10_000,
                Some(session.clone()),
                last_zxid,
            ) {
                assert_eq!(
                    response.session_id,
                    session.0,
                    "server.{} answered the resume as expired",
                    member + 1
                );
                return (client, member);
            }
        }
        assert!(
            Instant::now() < deadline,
            "no server took the session back within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sync(client: &mut RawClient) {
    let frames = client
        .call(Request::Sync(SyncRequest { path: "/".into() }))
        .expect("sync");
    assert_eq!(err_of(&frames), 0, "sync");
}

fn children(client: &mut RawClient, path: &str) -> BTreeSet<String> {
    let frames = client
        .call(Request::GetChildren(GetChildrenRequest {
            path: path.into(),
            watch: false,
        }))
        .expect("getChildren");
    match &frames.last().expect("reply").response {
        Response::GetChildren(r) => r.children.iter().cloned().collect(),
        other => panic!("getChildren {path}: {other:?}"),
    }
}

fn next_event(client: &mut RawClient) -> (EventType, String) {
    client.next_event().expect("notification")
}

/// Waits until `member` keeps fewer than `entries` Raft log entries (its Prometheus
/// gauge `ferrokeeper_raft_log_entries`).
fn wait_log_purged_below(
    ensemble: &FerrokeeperEnsemble,
    member: usize,
    entries: u64,
    within: Duration,
) {
    let metrics = ensemble
        .log(member)
        .address_after(ferrokeeper_tests::METRICS_LISTENING)
        .expect("the metrics endpoint's address is logged");
    let deadline = Instant::now() + within;
    let mut kept = None;
    while Instant::now() < deadline {
        let reply = ferrokeeper_tests::http::get(metrics, "/metrics", &[]);
        kept = reply.body.lines().find_map(|line| {
            line.strip_prefix("ferrokeeper_raft_log_entries ")
                .and_then(|v| v.trim().parse::<f64>().ok())
        });
        if kept.is_some_and(|k| k < entries as f64) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "member {member} still keeps {kept:?} log entries after {within:?}; log:\n{}",
        ensemble.log_tail(member)
    );
}

fn mntr_value(answer: &str, key: &str) -> Option<String> {
    answer
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}\t")).map(str::to_owned))
}

/// Creates `path` and waits for its acknowledgement, riding out a leader change: on a
/// loaded machine an election can happen while the test is about something else, and
/// the leader then closes connections whose writes may be lost. The session resumes
/// on whichever running member takes it and the create is sent again (`NodeExists` on a
/// retry means the first attempt took effect). Each such hiccup prints what the
/// members logged, so a flake says why.
fn create_acked(
    ensemble: &FerrokeeperEnsemble,
    client: &mut RawClient,
    path: &str,
    within: Duration,
) {
    let mut retried = false;
    loop {
        match create(client, path, 0) {
            Ok(0) => return,
            Ok(-110) if retried => return,
            Ok(err) => panic!("create {path}: error {err}"),
            Err(why) => {
                for member in (0..3).filter(|m| ensemble.is_running(*m)) {
                    eprintln!(
                        "create {path}: {why}; server.{} logged:\n{}",
                        member + 1,
                        ensemble.log_tail(member)
                    );
                }
                let session = (client.session_id, client.passwd.clone());
                let order: Vec<usize> = (0..3).collect();
                *client = resume(ensemble, &order, session, client.last_zxid, within).0;
                retried = true;
            }
        }
    }
}

/// Whether a member other than `except` logged `needle`.
fn others_logged(ensemble: &FerrokeeperEnsemble, except: usize, needle: &str) -> bool {
    (0..3)
        .filter(|m| *m != except)
        .any(|m| ensemble.log_count(m, needle) > 0)
}

/// Everything under `/acked` as seen by `member` after a sync.
fn acked_on(ensemble: &FerrokeeperEnsemble, member: usize) -> BTreeSet<String> {
    let mut client = connect(ensemble.client_addr(member), 10_000);
    sync(&mut client);
    children(&mut client, "/acked")
}

/// Writes `/acked/<prefix>-<i>` until `stop` says so, through whichever server takes
/// the session, and returns the names whose create was acknowledged.
fn write_until(
    ensemble: &FerrokeeperEnsemble,
    client: &mut Option<RawClient>,
    session: &mut (i64, Bytes),
    prefix: &str,
    mut stop: impl FnMut(usize) -> bool,
) -> Vec<String> {
    let mut acked = Vec::new();
    let mut i = 0;
    let all: Vec<usize> = (0..ensemble.size()).collect();
    while !stop(acked.len()) {
        let name = format!("{prefix}-{i:05}");
        let c = match client.as_mut() {
            Some(c) => c,
            None => {
                let (c, _) = resume(ensemble, &all, session.clone(), 0, Duration::from_secs(30));
                client.insert(c)
            }
        };
        match create(c, &format!("/acked/{name}"), 0) {
            Ok(0) => {
                acked.push(name);
                i += 1;
            }
            // A retried create whose first attempt landed.
            Ok(-110) => {
                acked.push(name);
                i += 1;
            }
            Ok(code) => panic!("create {name}: error {code}"),
            Err(_) => {
                // Connection lost: the write may or may not have happened; retry the
                // same name on another connection of the same session.
                *client = None;
            }
        }
    }
    let _ = session;
    acked
}

#[test]
fn three_servers_elect_one_leader_and_replicate() {
    let ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let leader = ensemble.leader().expect("a leader");
    let modes: Vec<String> = (0..3).map(|m| ensemble.mode(m).expect("mode")).collect();
    assert_eq!(
        modes.iter().filter(|m| *m == "leader").count(),
        1,
        "{modes:?}"
    );
    assert_eq!(
        modes.iter().filter(|m| *m == "follower").count(),
        2,
        "{modes:?}"
    );
    let mntr = try_four_letter(ensemble.client_addr(leader), "mntr").expect("mntr");
    assert_eq!(
        mntr_value(&mntr, "zk_server_state").as_deref(),
        Some("leader")
    );
    assert_eq!(mntr_value(&mntr, "zk_learners").as_deref(), Some("2"));
    let follower = (0..3).find(|m| *m != leader).expect("a follower");
    let fmntr = try_four_letter(ensemble.client_addr(follower), "mntr").expect("mntr");
    assert_eq!(
        mntr_value(&fmntr, "zk_server_state").as_deref(),
        Some("follower")
    );
    assert_eq!(mntr_value(&fmntr, "zk_learners"), None, "leader-only key");

    // A write on each server; each is visible to its own session at once (the reply
    // comes after the local apply) and to every server after a sync.
    let mut clients: Vec<RawClient> = (0..3)
        .map(|m| connect(ensemble.client_addr(m), 10_000))
        .collect();
    for (m, client) in clients.iter_mut().enumerate() {
        assert_eq!(create(client, &format!("/from-{m}"), 0).expect("create"), 0);
        assert!(
            exists(client, &format!("/from-{m}")).is_some(),
            "read your write on server.{}",
            m + 1
        );
    }
    for client in &mut clients {
        sync(client);
        let names = children(client, "/");
        for m in 0..3 {
            assert!(names.contains(&format!("from-{m}")), "{names:?}");
        }
    }

    // An ephemeral made through a follower belongs to that session everywhere.
    let session = clients[follower].session_id;
    assert_eq!(
        create(&mut clients[follower], "/eph", EPHEMERAL).expect("create"),
        0
    );
    sync(&mut clients[leader]);
    let stat = exists(&mut clients[leader], "/eph").expect("ephemeral on the leader");
    assert_eq!(stat.ephemeral_owner, session);

    // A watch set on one server fires for a change made through another.
    let watcher = (follower + 1) % 3;
    let frames = clients[watcher]
        .call(Request::GetData(GetDataRequest {
            path: "/from-0".into(),
            watch: true,
        }))
        .expect("getData");
    assert_eq!(err_of(&frames), 0);
    let changer = (watcher + 1) % 3;
    let frames = clients[changer]
        .call(Request::SetData(SetDataRequest {
            path: "/from-0".into(),
            data: Some(Bytes::from_static(b"changed")),
            version: -1,
        }))
        .expect("setData");
    assert_eq!(err_of(&frames), 0);
    assert_eq!(
        next_event(&mut clients[watcher]),
        (EventType::NodeDataChanged, "/from-0".to_owned())
    );
}

#[test]
fn leader_kill9_fails_over_without_losing_writes_or_sessions() {
    let mut ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let leader = ensemble.leader().expect("a leader");
    let follower = (0..3).find(|m| *m != leader).expect("a follower");
    let mut setup = connect(ensemble.client_addr(follower), 10_000);
    assert_eq!(create(&mut setup, "/acked", 0).expect("create"), 0);

    // A session on a follower with an ephemeral, and a writer session.
    let mut holder = connect(ensemble.client_addr(follower), 10_000);
    assert_eq!(
        create(&mut holder, "/holder", EPHEMERAL).expect("create"),
        0
    );
    let holder_session = (holder.session_id, holder.passwd.clone());
    let writer = connect(ensemble.client_addr(follower), 10_000);
    let mut session = (writer.session_id, writer.passwd.clone());
    let mut client = Some(writer);

    let mut acked = write_until(&ensemble, &mut client, &mut session, "before", |n| n >= 50);
    ensemble.kill9(leader);
    let killed = Instant::now();
    let mut first_write = None;
    acked.extend(write_until(
        &ensemble,
        &mut client,
        &mut session,
        "after",
        |n| {
            if n == 1 && first_write.is_none() {
                first_write = Some(killed.elapsed());
            }
            n >= 50
        },
    ));
    let failover = first_write.expect("a write after the kill");
    let new_leader = ensemble.wait_leader(Duration::from_secs(30));
    assert_ne!(new_leader, leader);
    eprintln!("leader kill -9 -> first acknowledged write: {failover:?}");
    // The followers noticed the dead process at once (its closed connections, its
    // refusing quorum port) instead of waiting for their election timeout.
    assert!(
        others_logged(&ensemble, leader, "its process is gone"),
        "no follower noticed the leader's process was gone; logs:\n{}\n{}",
        ensemble.log_tail((leader + 1) % 3),
        ensemble.log_tail((leader + 2) % 3)
    );
    assert!(
        failover < Duration::from_secs(15),
        "failover took {failover:?}"
    );

    // The follower's session lives on: resumed (the follower dropped its clients
    // while there was no leader), with its ephemeral.
    drop(holder);
    let others: Vec<usize> = (0..3).filter(|m| *m != leader).collect();
    let (mut holder, _) = resume(
        &ensemble,
        &others,
        holder_session,
        0,
        Duration::from_secs(20),
    );
    assert!(
        exists(&mut holder, "/holder").is_some(),
        "the ephemeral survived the failover"
    );

    // The old leader comes back as a follower and catches up.
    ensemble.restart(leader);
    ensemble.wait_all_serving(Duration::from_secs(30));
    assert_ne!(ensemble.mode(leader).as_deref(), Some("leader"));
    let expected: BTreeSet<String> = acked.into_iter().collect();
    for member in 0..3 {
        let seen = acked_on(&ensemble, member);
        let missing: Vec<&String> = expected.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "server.{} lost acknowledged writes {missing:?}",
            member + 1
        );
    }
}

const BIG_ZNODES: usize = 5;
const BIG_ZNODE_BYTES: usize = 1_000_000;

#[test]
fn a_restarted_follower_catches_up_from_the_log_and_from_a_snapshot() {
    let mut options = ClusterOptions::new(3);
    // A snapshot every 40 entries, keeping 40 behind it: 300 writes purge the log
    // far past what a follower that was down has.
    options.snap_count = Some(40);
    // With one follower down the leader's quorum is the other one alone; on a loaded
    // machine (snapshots every 40 writes, other tests beside) a 2.5 s syncLimit can
    // lapse and the leader stop serving, which is not what this test is about.
    options.sync_limit = 20;
    // The leader's Prometheus gauges say how much log it keeps.
    options.extra = vec![
        (
            "metricsProvider.className".into(),
            "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider".into(),
        ),
        ("metricsProvider.httpHost".into(), "127.0.0.1".into()),
        ("metricsProvider.httpPort".into(), "0".into()),
    ];
    let mut ensemble = FerrokeeperEnsemble::start(options);
    let leader = ensemble.leader().expect("a leader");
    let follower = (0..3).find(|m| *m != leader).expect("a follower");
    let mut client = connect(ensemble.client_addr(leader), 10_000);
    let patience = Duration::from_secs(30);
    create_acked(&ensemble, &mut client, "/acked", patience);

    // Down for a few writes: back from the log.
    ensemble.kill9(follower);
    for i in 0..10 {
        create_acked(&ensemble, &mut client, &format!("/acked/log-{i}"), patience);
    }
    ensemble.restart(follower);
    assert_eq!(acked_on(&ensemble, follower).len(), 10);

    // Down for many writes: the leader purged that log, so it sends a snapshot.
    ensemble.kill9(follower);
    // Five znodes of a million bytes make that snapshot longer than one 4 MiB transfer
    // chunk, so it is sent, received and installed in pieces.
    for i in 0..BIG_ZNODES {
        let frames = client
            .call(ferrokeeper_protocol::Request::Create(
                ferrokeeper_protocol::CreateRequest {
                    path: format!("/big-{i}"),
                    data: Some(Bytes::from(vec![b'x'; BIG_ZNODE_BYTES])),
                    acl: ferrokeeper_protocol::perms::open_acl_unsafe(),
                    flags: 0,
                },
            ))
            .expect("create a large znode");
        assert_eq!(err_of(&frames), 0, "create /big-{i}");
    }
    for i in 0..300 {
        create_acked(
            &ensemble,
            &mut client,
            &format!("/acked/snap-{i}"),
            patience,
        );
    }
    // openraft purges the leader's log behind a snapshot only while no replication to
    // the dead follower is in flight, which is between its retries (about every half
    // second): on a fast machine the 300 writes can end before it did. Restarted
    // before, the follower would catch up from the log.
    wait_log_purged_below(&ensemble, leader, 300, patience);
    ensemble.restart(follower);
    assert_eq!(acked_on(&ensemble, follower).len(), 310);
    assert!(
        ensemble
            .log_tail(follower)
            .contains("installing a snapshot from the leader"),
        "the follower should have caught up by snapshot; log:\n{}",
        ensemble.log_tail(follower)
    );
    let mut on_follower = connect(ensemble.client_addr(follower), 10_000);
    sync(&mut on_follower);
    for i in 0..BIG_ZNODES {
        let stat = exists(&mut on_follower, &format!("/big-{i}")).expect("a large znode");
        assert_eq!(stat.data_length as usize, BIG_ZNODE_BYTES, "/big-{i}");
    }
    // And it keeps up afterwards.
    create_acked(&ensemble, &mut client, "/acked/later", patience);
    assert!(acked_on(&ensemble, follower).contains("later"));
}

#[test]
fn a_cut_off_leader_stops_serving_and_the_majority_carries_on() {
    let mut options = ClusterOptions::new(3);
    options.partitionable = true;
    let ensemble = FerrokeeperEnsemble::start(options);
    let old = ensemble.leader().expect("a leader");
    let mut stranded = connect(ensemble.client_addr(old), 10_000);
    assert_eq!(create(&mut stranded, "/acked", 0).expect("create"), 0);
    assert_eq!(
        create(&mut stranded, "/stranded", EPHEMERAL).expect("create"),
        0
    );
    let stranded_session = (stranded.session_id, stranded.passwd.clone());
    let stranded_zxid = stranded.last_zxid;

    ensemble.partition(&[old]);
    let cut = Instant::now();
    // The majority elects a new leader and takes writes.
    let majority: Vec<usize> = (0..3).filter(|m| *m != old).collect();
    let new_leader = loop {
        if let Some(l) = majority
            .iter()
            .copied()
            .find(|m| ensemble.mode(*m).as_deref() == Some("leader"))
        {
            break l;
        }
        assert!(
            cut.elapsed() < Duration::from_secs(30),
            "no new leader in the majority"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut writer = connect(ensemble.client_addr(new_leader), 10_000);
    assert_eq!(
        create(&mut writer, "/acked/majority", 0).expect("create"),
        0
    );
    eprintln!(
        "leader cut off -> new leader serving a write: {:?}",
        cut.elapsed()
    );

    // The cut-off server stops serving: its clients are dropped, new ones refused, and
    // the write its client sent is never acknowledged.
    let refused = create(&mut stranded, "/acked/minority", 0);
    assert!(
        !matches!(refused, Ok(0)),
        "a server without a quorum acknowledged a write"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while ensemble.mode(old).as_deref() != Some("not serving") {
        assert!(Instant::now() < deadline, "the cut-off leader still serves");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        RawClient::connect(ensemble.client_addr(old), 10_000, None).is_err(),
        "a server without a quorum accepted a session"
    );
    // Its client moves to the majority with its session and ephemeral.
    let (mut moved, _) = resume(
        &ensemble,
        &majority,
        stranded_session,
        stranded_zxid,
        Duration::from_secs(20),
    );
    assert!(
        exists(&mut moved, "/stranded").is_some(),
        "the moved session lost its ephemeral"
    );

    ensemble.heal();
    ensemble.wait_all_serving(Duration::from_secs(30));
    assert_ne!(
        ensemble.mode(old).as_deref(),
        Some("leader"),
        "pre-vote keeps the new leader"
    );
    let seen = acked_on(&ensemble, old);
    assert!(seen.contains("majority"), "{seen:?}");
    assert!(!seen.contains("minority"), "{seen:?}");
}

#[test]
fn ephemerals_of_a_killed_servers_client_go_after_the_session_timeout() {
    let mut ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let leader = ensemble.leader().expect("a leader");
    let follower = (0..3).find(|m| *m != leader).expect("a follower");
    let other = (0..3)
        .find(|m| *m != leader && *m != follower)
        .expect("another");
    let timeout_ms = 4_000;
    let mut client = connect(ensemble.client_addr(follower), timeout_ms);
    let negotiated = Duration::from_millis(u64::try_from(client.timeout).expect("timeout"));
    assert_eq!(
        create(&mut client, "/gone-later", EPHEMERAL).expect("create"),
        0
    );
    let mut observer = connect(ensemble.client_addr(other), 10_000);
    sync(&mut observer);
    assert!(exists(&mut observer, "/gone-later").is_some());

    ensemble.kill9(follower);
    let killed = Instant::now();
    // Not before the timeout: still there at half of it.
    std::thread::sleep(negotiated / 2);
    sync(&mut observer);
    assert!(
        exists(&mut observer, "/gone-later").is_some(),
        "removed before the session timeout"
    );
    // And not never: gone within the timeout plus a few ticks of expiry granularity.
    let bound = negotiated + ensemble.tick() * 4 + Duration::from_secs(5);
    loop {
        sync(&mut observer);
        if exists(&mut observer, "/gone-later").is_none() {
            break;
        }
        assert!(
            killed.elapsed() < bound,
            "still there {:?} after the kill",
            killed.elapsed()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = killed.elapsed();
    eprintln!("ephemeral removed {gone:?} after its server was killed (timeout {negotiated:?})");
    assert!(
        gone >= negotiated.mul_f32(0.9),
        "removed after {gone:?}, timeout {negotiated:?}"
    );
}

#[test]
fn a_moved_session_keeps_ephemerals_and_watches_and_leaves_its_old_server() {
    let ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let (a, b) = (0, 1);
    let mut first = connect(ensemble.client_addr(a), 10_000);
    assert_eq!(create(&mut first, "/mine", EPHEMERAL).expect("create"), 0);
    assert_eq!(create(&mut first, "/watched", 0).expect("create"), 0);
    let frames = first
        .call(Request::GetData(GetDataRequest {
            path: "/watched".into(),
            watch: true,
        }))
        .expect("getData");
    assert_eq!(err_of(&frames), 0);
    let last_zxid = first.last_zxid;

    // The client moves to server b while server a is alive. Server b may not have
    // applied the client's last zxid yet; then it closes without an answer (as
    // ZooKeeper does) and the client tries again.
    let session = (first.session_id, first.passwd.clone());
    let (mut moved, _) = resume(
        &ensemble,
        &[b],
        session.clone(),
        last_zxid,
        Duration::from_secs(10),
    );
    assert!(
        first.closed_by_server(Duration::from_secs(10)),
        "server a kept the moved session's old connection"
    );
    assert!(exists(&mut moved, "/mine").is_some());
    let frames = moved
        .call(Request::SetWatches2(SetWatches2 {
            relative_zxid: last_zxid,
            data_watches: vec!["/watched".into()],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec![],
            persistent_recursive_watches: vec![],
        }))
        .expect("setWatches2");
    assert_eq!(err_of(&frames), 0);
    let mut changer = connect(ensemble.client_addr(2), 10_000);
    let frames = changer
        .call(Request::SetData(SetDataRequest {
            path: "/watched".into(),
            data: Some(Bytes::from_static(b"x")),
            version: -1,
        }))
        .expect("setData");
    assert_eq!(err_of(&frames), 0);
    assert_eq!(
        next_event(&mut moved),
        (EventType::NodeDataChanged, "/watched".to_owned())
    );
}

#[test]
fn five_servers_survive_two_failures_but_not_three() {
    let mut ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(5));
    let leader = ensemble.leader().expect("a leader");
    let follower = (0..5).find(|m| *m != leader).expect("a follower");
    ensemble.kill9(leader);
    ensemble.kill9(follower);
    let alive: Vec<usize> = (0..5).filter(|m| ensemble.is_running(*m)).collect();
    let new_leader = ensemble.wait_leader(Duration::from_secs(30));
    assert!(alive.contains(&new_leader));
    let mut client = connect(ensemble.client_addr(new_leader), 10_000);
    assert_eq!(create(&mut client, "/two-down", 0).expect("create"), 0);

    // A third failure leaves two of five: no quorum, nobody serves.
    let third = alive
        .iter()
        .copied()
        .find(|m| *m != new_leader)
        .expect("third");
    ensemble.kill9(third);
    let survivors: Vec<usize> = (0..5).filter(|m| ensemble.is_running(*m)).collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    while survivors
        .iter()
        .any(|m| ensemble.mode(*m).as_deref() != Some("not serving"))
    {
        assert!(Instant::now() < deadline, "a minority kept serving");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back to three: serving again, with the data.
    ensemble.restart(third);
    ensemble.wait_all_serving(Duration::from_secs(30));
    let mut client = connect(ensemble.client_addr(third), 10_000);
    sync(&mut client);
    assert!(exists(&mut client, "/two-down").is_some());
}

#[test]
fn an_observer_serves_and_forwards_but_does_not_vote() {
    let mut options = ClusterOptions::new(3);
    options.observers = 1;
    let mut ensemble = FerrokeeperEnsemble::start(options);
    let observer = 3;
    assert_eq!(ensemble.mode(observer).as_deref(), Some("observer"));
    let mut client = connect(ensemble.client_addr(observer), 10_000);
    assert_eq!(create(&mut client, "/via-observer", 0).expect("create"), 0);
    let leader = ensemble.leader().expect("a leader");
    let mut on_leader = connect(ensemble.client_addr(leader), 10_000);
    assert!(exists(&mut on_leader, "/via-observer").is_some());
    let mntr = try_four_letter(ensemble.client_addr(leader), "mntr").expect("mntr");
    assert_eq!(mntr_value(&mntr, "zk_learners").as_deref(), Some("3"));

    // Every member holds the membership in /zookeeper/config as `conf` prints it (the
    // format is ZooKeeper's: see the config tests), with ZooKeeper's data version -1.
    for member in 0..4 {
        let addr = ensemble.client_addr(member);
        let conf = try_four_letter(addr, "conf").expect("conf");
        let membership = conf
            .split_once("membership: \n")
            .map(|(_, m)| m.to_owned())
            .expect("a membership section");
        assert!(membership.contains(":observer"), "{membership}");
        let frames = connect(addr, 10_000)
            .call(Request::GetData(GetDataRequest {
                path: "/zookeeper/config".into(),
                watch: true,
            }))
            .expect("getData");
        match &frames.last().expect("reply").response {
            Response::GetData(d) => {
                let data = d.data.as_deref().unwrap_or_default();
                assert_eq!(
                    String::from_utf8_lossy(data),
                    membership,
                    "server.{}",
                    member + 1
                );
                assert_eq!(d.stat.version, -1);
            }
            other => panic!("getData /zookeeper/config: {other:?}"),
        }
    }

    // Two voters down: the observer does not make a quorum, so nobody serves writes.
    let voters: Vec<usize> = (0..3).filter(|m| *m != leader).collect();
    ensemble.kill9(voters[0]);
    ensemble.kill9(voters[1]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while ensemble.mode(observer).as_deref() != Some("not serving")
        || ensemble.mode(leader).as_deref() != Some("not serving")
    {
        assert!(Instant::now() < deadline, "the observer counted as a voter");
        std::thread::sleep(Duration::from_millis(50));
    }
}
