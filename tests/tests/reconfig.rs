//! Dynamic reconfig (opcode 16, issue 14): one scenario against a real ZooKeeper 3.8
//! ensemble and a ferrokeeper ensemble of three, both with `reconfigEnabled=true` and a
//! super digest, and the same answers asked of both: NoAuth without the super user,
//! BadArguments for a malformed server or a configuration without voters, BadVersion
//! for a stale `fromConfig`, an observer added and removed, a voter removed (the
//! ensemble goes on writing), `/zookeeper/config` and the reply carrying the new
//! configuration with `version=` the reconfig's own zxid, and a config watch firing.
//! Then, on ferrokeeper, the removed voter joins again and the ensemble grows to five
//! and shrinks back to three under a write load, losing no acknowledged write.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    AuthPacket, CreateRequest, ErrorCode, GetDataRequest, ReconfigRequest, ReplyFrame, Request,
    Response, perms,
};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::{RawClient, err_of};
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

/// `super:test`, as kazoo's harness sets it.
const SUPER_DIGEST: &str = "super:D/InIHSb7yEEbrWz8b9l71RjZJU=";
const SUPER_PROP: &str = "zookeeper.DigestAuthenticationProvider.superDigest";
const TICK_MS: u64 = 500;

fn connect(addr: SocketAddr, as_super: bool) -> RawClient {
    try_connect(addr, as_super).expect("connect")
}

fn try_connect(addr: SocketAddr, as_super: bool) -> std::io::Result<RawClient> {
    let (mut c, _) = RawClient::connect(addr, 20_000, None)?;
    if as_super {
        let reply = c.call(Request::Auth(AuthPacket {
            r#type: 0,
            scheme: "digest".into(),
            auth: Bytes::from_static(b"super:test"),
        }))?;
        assert_eq!(err_of(&reply), 0);
    }
    Ok(c)
}

fn reconfig(
    c: &mut RawClient,
    joining: Option<&str>,
    leaving: Option<&str>,
    new_members: Option<&str>,
    from_config: i64,
) -> ReplyFrame {
    c.call(Request::Reconfig(ReconfigRequest {
        joining_servers: joining.map(str::to_owned),
        leaving_servers: leaving.map(str::to_owned),
        new_members: new_members.map(str::to_owned),
        cur_config_id: from_config,
    }))
    .expect("reconfig")
    .pop()
    .expect("a reply")
}

/// The configuration text and its version (`version=` line, hex).
fn config(c: &mut RawClient, watch: bool) -> (String, i64) {
    let frames = c
        .call(Request::GetData(GetDataRequest {
            path: "/zookeeper/config".into(),
            watch,
        }))
        .expect("getData");
    match &frames.last().expect("reply").response {
        Response::GetData(d) => {
            let text = String::from_utf8_lossy(d.data.as_deref().unwrap_or_default()).into_owned();
            (text.clone(), version_of(&text))
        }
        other => panic!("getData /zookeeper/config: {other:?}"),
    }
}

fn version_of(text: &str) -> i64 {
    text.lines()
        .last()
        .and_then(|l| l.strip_prefix("version="))
        .and_then(|h| i64::from_str_radix(h, 16).ok())
        .unwrap_or_else(|| panic!("no version in {text:?}"))
}

/// The `server.N` ids of a configuration text.
fn ids(text: &str) -> BTreeSet<u64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split_once('=').and_then(|(id, _)| id.parse().ok()))
        .collect()
}

fn data_of(frame: &ReplyFrame) -> String {
    match &frame.response {
        Response::GetData(d) => {
            String::from_utf8_lossy(d.data.as_deref().unwrap_or_default()).into_owned()
        }
        other => panic!("a reconfig answers with the configuration, got {other:?}"),
    }
}

/// What one server answered, step by step (compared between ZooKeeper and ferrokeeper).
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    no_auth: i32,
    bad_server: i32,
    future_version: i32,
    observer_added: (i32, bool, bool),
    watch_fired: bool,
    observer_removed: (i32, bool),
    voter_removed: (i32, BTreeSet<u64>),
    write_after: i32,
    no_voters: i32,
}

/// Runs the scenario with the client on the leader; the voter removed is another
/// member, `removed` (so the client's server stays, as does its leadership).
fn scenario(e: &impl Ensemble, leader: usize, removed: u64) -> Seen {
    let addr = e.client_addr(leader);
    let mut plain = connect(addr, false);
    let mut admin = connect(addr, true);
    let (_, v0) = config(&mut admin, false);
    let joining = "server.100=127.0.0.1:1234:2345:observer;127.0.0.1:3456";

    let no_auth = reconfig(&mut plain, Some(joining), None, None, -1)
        .header
        .err;
    let bad_server = reconfig(&mut admin, Some("some thing"), None, None, -1)
        .header
        .err;
    let future_version = reconfig(&mut admin, Some(joining), None, None, v0 + 1)
        .header
        .err;

    let mut watcher = connect(addr, false);
    config(&mut watcher, true);
    let added = reconfig(&mut admin, Some(joining), None, None, -1);
    let text = data_of(&added);
    let observer_added = (
        added.header.err,
        text.contains(joining),
        version_of(&text) == added.header.zxid,
    );
    let event = watcher
        .read_frame(ferrokeeper_protocol::OpCode::Notification)
        .expect("config watch event");
    let watch_fired =
        matches!(&event.response, Response::Notification(n) if n.path == "/zookeeper/config");

    let unobserved = reconfig(&mut admin, None, Some("100"), None, version_of(&text));
    let observer_removed = (
        unobserved.header.err,
        data_of(&unobserved).contains("server.100="),
    );

    let dropped = reconfig(&mut admin, None, Some(&removed.to_string()), None, -1);
    let voter_removed = (dropped.header.err, ids(&data_of(&dropped)));
    let write_after = err_of(
        &admin
            .call(Request::Create(CreateRequest {
                path: "/after-reconfig".into(),
                data: None,
                acl: perms::open_acl_unsafe(),
                flags: 0,
            }))
            .expect("create"),
    );
    let all: Vec<String> = voter_removed.1.iter().map(u64::to_string).collect();
    let no_voters = reconfig(&mut admin, None, Some(&all.join(",")), None, -1)
        .header
        .err;
    Seen {
        no_auth,
        bad_server,
        future_version,
        observer_added,
        watch_fired,
        observer_removed,
        voter_removed,
        write_after,
        no_voters,
    }
}

fn expected(removed: u64) -> Seen {
    Seen {
        no_auth: ErrorCode::NoAuth.code(),
        bad_server: ErrorCode::BadArguments.code(),
        future_version: ErrorCode::BadVersion.code(),
        observer_added: (0, true, true),
        watch_fired: true,
        observer_removed: (0, false),
        voter_removed: (0, (1..=3).filter(|id| *id != removed).collect()),
        write_after: 0,
        no_voters: ErrorCode::BadArguments.code(),
    }
}

/// The leader's index, so the client talks to a member that stays.
fn leader_first<E: Ensemble>(e: &E) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(l) = e.leader() {
            return l;
        }
        assert!(Instant::now() < deadline, "no leader");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn reconfig_on_zookeeper() {
    let flag = format!("-D{SUPER_PROP}");
    let zk = RealZooKeeperEnsemble::start(
        3,
        TICK_MS,
        &[("reconfigEnabled", "true"), (flag.as_str(), SUPER_DIGEST)],
    );
    let leader = leader_first(&zk);
    let removed = ((leader + 1) % 3) as u64 + 1;
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&zk, leader, removed)
    }))
    .unwrap_or_else(|e| {
        eprintln!("member 0's log:\n{}", zk.log_tail(0));
        std::panic::resume_unwind(e)
    });
    assert_eq!(seen, expected(removed), "ZooKeeper 3.8");
}

fn ferrokeeper_options(voters: usize) -> ClusterOptions {
    let mut options = ClusterOptions::new(voters);
    options.tick_ms = TICK_MS as u32;
    options
        .extra
        .push(("reconfigEnabled".into(), "true".into()));
    for member in 0..voters {
        options.member_env.push((
            member,
            "SERVER_JVMFLAGS".into(),
            format!("-D{SUPER_PROP}={SUPER_DIGEST}"),
        ));
    }
    options
}

#[test]
fn reconfig_on_ferrokeeper() {
    let fk = FerrokeeperEnsemble::start(ferrokeeper_options(3));
    fk.wait_all_serving(Duration::from_secs(30));
    let leader = leader_first(&fk);
    let removed = ((leader + 1) % 3) as u64 + 1;
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        scenario(&fk, leader, removed)
    }))
    .unwrap_or_else(|e| {
        for m in 0..3 {
            eprintln!("server.{}'s log:\n{}", m + 1, fk.log_tail(m));
        }
        std::panic::resume_unwind(e)
    });
    assert_eq!(seen, expected(removed), "ferrokeeper");

    // The client crate's reconfig and getConfig against the same ensemble.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let addr = fk.client_addr(leader).to_string();
        let client = ferrokeeper_client::Client::builder()
            .digest_auth("super", "test")
            .connect(&addr)
            .await
            .expect("connect");
        let joining = "server.101=127.0.0.1:1236:2347:observer;127.0.0.1:3457";
        let (data, stat) = client
            .reconfig(Some(joining), None, None, None)
            .await
            .expect("reconfig");
        let text = String::from_utf8_lossy(&data).into_owned();
        assert!(text.contains(joining), "{text}");
        assert_eq!(version_of(&text), stat.mzxid);
        let (read, _) = client.get_config().await.expect("get_config");
        assert_eq!(read, data);
        let stale = client
            .reconfig(None, Some("101"), None, Some(stat.mzxid - 1))
            .await;
        assert!(
            matches!(stale, Err(ferrokeeper_client::Error::BadVersion)),
            "{stale:?}"
        );
        let (data, _) = client
            .reconfig(None, Some("101"), None, Some(stat.mzxid))
            .await
            .expect("reconfig from the current version");
        assert!(!String::from_utf8_lossy(&data).contains("server.101="));
        client.close().await.expect("close");
    });
}

/// Creates `/load/<n>` in a loop on `addr` until told to stop, reconnecting (same
/// session) after a connection loss; returns every node whose create was acknowledged.
fn write_load(
    addr: SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<String> {
    use std::sync::atomic::Ordering;
    let mut acked = Vec::new();
    let mut client: Option<RawClient> = None;
    let mut session: Option<(i64, Bytes)> = None;
    let mut n = 0u64;
    let deadline = Instant::now() + Duration::from_secs(240);
    while !stop.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the write load ran too long");
        let c = match client.as_mut() {
            Some(c) => c,
            None => match RawClient::connect(addr, 30_000, session.clone()) {
                Ok((c, response)) => {
                    assert!(response.timeout > 0, "the writer's session expired");
                    session = Some((c.session_id, c.passwd.clone()));
                    client.insert(c)
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            },
        };
        let path = format!("/load/{n}");
        match c.call(Request::Create(CreateRequest {
            path: path.clone(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 0,
        })) {
            Ok(frames) => {
                let err = err_of(&frames);
                if err == 0 || err == ErrorCode::NodeExists.code() {
                    acked.push(path);
                    n += 1;
                } else {
                    // Not serving for a moment (no quorum while the leader moves).
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            Err(_) => client = None,
        }
    }
    acked
}

/// The ensemble shrinks 5 → 3 → 1 and grows 1 → 3 → 5, then shrinks to 3 again, by
/// reconfig, while a client writes through server.1 (which stays): every reconfig
/// succeeds, `/zookeeper/config` follows, and no acknowledged write is lost. Removed
/// members keep running and rejoin from their own logs.
#[test]
fn grow_and_shrink_under_a_write_load() {
    let mut options = ferrokeeper_options(5);
    // A one-voter configuration is allowed only without standalone mode.
    options
        .extra
        .push(("standaloneEnabled".into(), "false".into()));
    let fk = FerrokeeperEnsemble::start(options);
    fk.wait_all_serving(Duration::from_secs(60));
    let addr = fk.client_addr(0);
    let mut admin = connect(addr, true);
    assert_eq!(
        err_of(
            &admin
                .call(Request::Create(CreateRequest {
                    path: "/load".into(),
                    data: None,
                    acl: perms::open_acl_unsafe(),
                    flags: 0,
                }))
                .expect("create /load")
        ),
        0
    );
    let (text, _) = config(&mut admin, false);
    let lines: std::collections::BTreeMap<u64, String> = text
        .lines()
        .filter_map(|l| {
            let (key, _) = l.split_once('=')?;
            Some((key.strip_prefix("server.")?.parse().ok()?, l.to_owned()))
        })
        .collect();
    let client_port = |id: u64| fk.client_addr(id as usize - 1).port();
    // A joiner names its client port (ZooKeeper requires it).
    let joining = |ids: &[u64]| -> String {
        ids.iter()
            .map(|id| format!("{};127.0.0.1:{}", lines[id], client_port(*id)))
            .collect::<Vec<_>>()
            .join(",")
    };

    // A client of server.5, which the first step removes: it must be able to move on.
    let mut on_five = connect(fk.client_addr(4), false);
    let eph = on_five
        .call(Request::Create(CreateRequest {
            path: "/on-five".into(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 1,
        }))
        .expect("create ephemeral");
    assert_eq!(err_of(&eph), 0);
    let five_session = (on_five.session_id, on_five.passwd.clone());
    let five_zxid = on_five.last_zxid;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        std::thread::spawn(move || write_load(addr, stop))
    };
    let steps: [(Option<String>, Option<&str>, BTreeSet<u64>); 5] = [
        (None, Some("4,5"), BTreeSet::from([1, 2, 3])),
        (None, Some("2,3"), BTreeSet::from([1])),
        (Some(joining(&[2, 3])), None, BTreeSet::from([1, 2, 3])),
        (
            Some(joining(&[4, 5])),
            None,
            BTreeSet::from([1, 2, 3, 4, 5]),
        ),
        (None, Some("2,5"), BTreeSet::from([1, 3, 4])),
    ];
    for (step, (joining, leaving, want)) in steps.into_iter().enumerate() {
        // The admin connection may be dropped while leadership moves: reconnect.
        let deadline = Instant::now() + Duration::from_secs(60);
        let reply = loop {
            let attempt = admin.call(Request::Reconfig(ReconfigRequest {
                joining_servers: joining.clone(),
                leaving_servers: leaving.map(str::to_owned),
                new_members: None,
                cur_config_id: -1,
            }));
            match attempt.map(|mut f| f.pop()) {
                Ok(Some(reply)) if reply.header.err == 0 => break reply,
                other => {
                    assert!(
                        Instant::now() < deadline,
                        "reconfig {joining:?} {leaving:?}: {other:?}\n{}",
                        (0..5)
                            .map(|m| format!("--- server.{}\n{}", m + 1, fk.log_tail(m)))
                            .collect::<String>()
                    );
                    std::thread::sleep(Duration::from_millis(200));
                    if let Ok(c) = try_connect(addr, true) {
                        admin = c;
                    }
                }
            }
        };
        assert_eq!(ids(&data_of(&reply)), want, "{joining:?} {leaving:?}");
        assert_eq!(ids(&config(&mut admin, false).0), want);
        if step == 0 {
            // server.5 left: it stops serving, so its client is dropped and resumes its
            // session, ephemeral and all, on a member.
            assert!(
                on_five.closed_by_server(Duration::from_secs(30)),
                "a removed member kept its client"
            );
            // server.1 may not serve for a moment if the removed member led.
            let deadline = Instant::now() + Duration::from_secs(30);
            let (mut moved, response) = loop {
                match RawClient::connect_seen(addr, 30_000, Some(five_session.clone()), five_zxid) {
                    Ok(resumed) => break resumed,
                    Err(e) => assert!(Instant::now() < deadline, "resume on server.1: {e}"),
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            assert_eq!(
                (response.session_id, response.timeout > 0),
                (five_session.0, true)
            );
            assert!(ferrokeeper_tests::raw::exists(&mut moved, "/on-five").is_some());
            moved.disconnect();
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let acked = writer.join().expect("writer");
    eprintln!("{} writes acknowledged during the reconfigs", acked.len());
    assert!(
        acked.len() > 10,
        "the load wrote too little: {}",
        acked.len()
    );
    // Every acknowledged write is there, read after a sync through a server that stayed.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut reader = loop {
        match try_connect(fk.client_addr(2), false) {
            Ok(c) => break c,
            Err(e) => assert!(Instant::now() < deadline, "server.3 does not serve: {e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    reader
        .call(Request::Sync(ferrokeeper_protocol::SyncRequest {
            path: "/".into(),
        }))
        .expect("sync");
    for path in &acked {
        assert!(
            ferrokeeper_tests::raw::exists(&mut reader, path).is_some(),
            "{path} was acknowledged and is gone"
        );
    }

    // Every member wrote the membership next to its zoo.cfg and points zoo.cfg at it,
    // as ZooKeeper does; a restarted member reads it back and serves.
    let (text, version) = config(&mut reader, false);
    let cfg = fk.config_path(0);
    let rewritten = std::fs::read_to_string(&cfg).expect("zoo.cfg");
    let dynamic = format!("{}.dynamic.{version:x}", cfg.display());
    assert!(
        rewritten.contains(&format!("dynamicConfigFile={dynamic}"))
            && !rewritten.contains("server."),
        "{rewritten}"
    );
    let written = std::fs::read_to_string(&dynamic).expect("dynamic file");
    assert_eq!(ids(&written), BTreeSet::from([1, 3, 4]), "{written}");
    let mut fk = fk;
    fk.restart(0);
    let mut after = connect(fk.client_addr(0), false);
    assert_eq!(config(&mut after, false), (text, version));
}

/// A server with no data joins by reconfig, as in ZooKeeper: its zoo.cfg lists the
/// current members and itself; it serves only once a reconfig adds it, catches up, and
/// then holds everything written before.
#[test]
fn a_fresh_server_joins_by_reconfig() {
    let mut fk = FerrokeeperEnsemble::start(ferrokeeper_options(3));
    fk.wait_all_serving(Duration::from_secs(30));
    let leader = leader_first(&fk);
    // The joiner is a member other than the leader: removed, wiped, started afresh.
    let joiner = (leader + 1) % 3;
    let joiner_id = joiner as u64 + 1;
    let mut admin = connect(fk.client_addr(leader), true);
    let (text, _) = config(&mut admin, false);
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("server.{joiner_id}=")))
        .expect("the joiner's line")
        .to_owned();
    // Its zoo.cfg as first written: a removed member rewrites its own to the new
    // membership (without itself), as ZooKeeper's does; a fresh server gets a new one.
    let original_cfg = std::fs::read_to_string(fk.config_path(joiner)).expect("zoo.cfg");
    let removed = reconfig(&mut admin, None, Some(&joiner_id.to_string()), None, -1);
    assert_eq!(removed.header.err, 0, "{removed:?}");
    fk.kill9(joiner);
    std::fs::write(fk.config_path(joiner), &original_cfg).expect("zoo.cfg");
    let data = fk.data_dir(joiner);
    for entry in std::fs::read_dir(&data).expect("data dir").flatten() {
        if entry.file_name() != "myid" {
            let path = entry.path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }
    for i in 0..20 {
        let frames = admin
            .call(Request::Create(CreateRequest {
                path: format!("/before-join-{i}"),
                data: None,
                acl: perms::open_acl_unsafe(),
                flags: 0,
            }))
            .expect("create");
        assert_eq!(err_of(&frames), 0);
    }
    fk.start_member(joiner);
    let joining = format!("{line};127.0.0.1:{}", fk.client_addr(joiner).port());
    let deadline = Instant::now() + Duration::from_secs(60);
    let added = loop {
        let reply = reconfig(&mut admin, Some(&joining), None, None, -1);
        if reply.header.err == 0 {
            break reply;
        }
        // NewConfigNoQuorum while the joiner is still starting: try again.
        assert!(
            Instant::now() < deadline,
            "the fresh server was never added: {reply:?}\n{}",
            fk.log_tail(joiner)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ids(&data_of(&added)), BTreeSet::from([1, 2, 3]));
    fk.wait_serving(joiner, Duration::from_secs(60));
    let mut on_joiner = connect(fk.client_addr(joiner), false);
    on_joiner
        .call(Request::Sync(ferrokeeper_protocol::SyncRequest {
            path: "/".into(),
        }))
        .expect("sync");
    for i in 0..20 {
        assert!(
            ferrokeeper_tests::raw::exists(&mut on_joiner, &format!("/before-join-{i}")).is_some(),
            "the joiner misses /before-join-{i}"
        );
    }
    let frames = on_joiner
        .call(Request::Create(CreateRequest {
            path: "/via-joiner".into(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 0,
        }))
        .expect("create via the joiner");
    assert_eq!(err_of(&frames), 0);
}
