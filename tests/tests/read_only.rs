//! Read-only mode (`-Dreadonlymode.enabled=true`, issue 14), the same scenario against a
//! real ZooKeeper 3.8 ensemble and a ferrokeeper ensemble of three: with two members
//! killed, the third serves clients that connect with `canBeReadOnly` — the
//! ConnectResponse says read-only, reads are answered from its tree, writes and syncs
//! NotReadOnly, `isro` says `ro` and `srvr` `Mode: read-only` — and refuses the others;
//! a session made before the partition is refused there (ZooKeeper 3.8: "Refusing global
//! session reconnection in RO mode") but a read-only one resumes; when the quorum is back
//! the read-only connections are closed and the old session goes on read-write.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateRequest, ErrorCode, GetDataRequest, Request, Response, SetDataRequest, SyncRequest, perms,
};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::cluster::{try_four_letter, wait_isro};
use ferrokeeper_tests::ensemble::{Ensemble, srvr_mode};
use ferrokeeper_tests::raw::{RawClient, err_of};
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

const TICK_MS: u64 = 500;
const TIMEOUT_MS: i32 = 10_000;
const RO_FLAG: &str = "readonlymode.enabled";

fn get(client: &mut RawClient, path: &str) -> (i32, Option<Bytes>) {
    let frames = client
        .call(Request::GetData(GetDataRequest {
            path: path.into(),
            watch: false,
        }))
        .expect("getData");
    let data = match &frames.last().expect("reply").response {
        Response::GetData(d) => d.data.clone(),
        _ => None,
    };
    (err_of(&frames), data)
}

fn create(client: &mut RawClient, path: &str) -> i32 {
    err_of(
        &client
            .call(Request::Create(CreateRequest {
                path: path.into(),
                data: Some(Bytes::from_static(b"v")),
                acl: perms::open_acl_unsafe(),
                flags: 0,
            }))
            .expect("create"),
    )
}

/// What the scenario saw, compared between the two servers.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    mode: Option<String>,
    refused_without_can_be_read_only: bool,
    connect_read_only: Option<bool>,
    read: (i32, Option<Bytes>),
    writes: Vec<i32>,
    global_refused: bool,
    ro_resumed: bool,
    resumed_read_only: Option<bool>,
    closed_when_quorum_back: bool,
    session_kept_read_write: bool,
}

fn scenario(e: &mut impl Ensemble) -> Seen {
    let addr = e.client_addr(0);
    let (mut rw, _) = RawClient::connect(addr, TIMEOUT_MS, None).expect("connect");
    assert_eq!(create(&mut rw, "/ro"), 0);
    // An ephemeral makes the session a global one on ZooKeeper with local sessions on.
    let eph = rw
        .call(Request::Create(CreateRequest {
            path: "/owner".into(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 1,
        }))
        .expect("create ephemeral");
    assert_eq!(err_of(&eph), 0);
    // Every member has /ro before the partition (a sync-ed read on each would do too,
    // but member 0 is the one that stays: its own write is applied there).
    let session = (rw.session_id, rw.passwd.clone());
    let last_zxid = rw.last_zxid;
    rw.disconnect();

    e.kill9(1);
    e.kill9(2);
    wait_isro(addr, "ro", Duration::from_secs(30));
    let mode = try_four_letter(addr, "srvr").and_then(|a| srvr_mode(&a).map(str::to_owned));

    let refused_without_can_be_read_only =
        RawClient::connect_with(addr, TIMEOUT_MS, None, 0, Some(false)).is_err();
    let (mut ro, response) =
        RawClient::connect_with(addr, TIMEOUT_MS, None, 0, Some(true)).expect("read-only connect");
    assert_ne!(response.session_id, 0);
    let read = get(&mut ro, "/ro");
    let sync = err_of(
        &ro.call(Request::Sync(SyncRequest { path: "/ro".into() }))
            .expect("sync"),
    );
    let set = err_of(
        &ro.call(Request::SetData(SetDataRequest {
            path: "/ro".into(),
            data: Some(Bytes::from_static(b"w")),
            version: -1,
        }))
        .expect("setData"),
    );
    let writes = vec![create(&mut ro, "/x"), set, sync];

    let global_refused = RawClient::connect_with(
        addr,
        TIMEOUT_MS,
        Some(session.clone()),
        last_zxid,
        Some(true),
    )
    .is_err();
    // The read-only session itself resumes on another connection (the first is closed).
    let ro_session = (ro.session_id, ro.passwd.clone());
    let (mut ro, resumed) =
        RawClient::connect_with(addr, TIMEOUT_MS, Some(ro_session.clone()), 0, Some(true))
            .expect("resume the read-only session");
    let ro_resumed = resumed.session_id == ro_session.0 && resumed.timeout > 0;
    assert_eq!(get(&mut ro, "/ro").0, 0);

    e.restart(1);
    e.restart(2);
    wait_isro(addr, "rw", Duration::from_secs(60));
    let closed_when_quorum_back = ro.closed_by_server(Duration::from_secs(20));
    let session_kept_read_write = resume_and_write(addr, &session, last_zxid);
    Seen {
        mode,
        refused_without_can_be_read_only,
        connect_read_only: response.read_only,
        read,
        writes,
        global_refused,
        ro_resumed,
        resumed_read_only: resumed.read_only,
        closed_when_quorum_back,
        session_kept_read_write,
    }
}

/// Resumes `session` read-write and creates a node with it. A member that just got its
/// quorum back may still drop a connection while the restarted members join (a client
/// sees a connection loss then, with either server): such a loss is retried, with the
/// same session, for a bounded time. False if the session was answered as expired.
fn resume_and_write(addr: SocketAddr, session: &(i64, Bytes), last_zxid: i64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = RawClient::connect_seen(addr, TIMEOUT_MS, Some(session.clone()), last_zxid)
            .and_then(|(mut c, response)| {
                if response.session_id != session.0 || response.timeout <= 0 {
                    return Ok(false);
                }
                let frames = c.call(Request::Create(CreateRequest {
                    path: "/after".into(),
                    data: None,
                    acl: perms::open_acl_unsafe(),
                    flags: 0,
                }))?;
                let err = err_of(&frames);
                Ok(err == 0 || err == ErrorCode::NodeExists.code())
            });
        match attempt {
            Ok(kept) => return kept,
            Err(e) => assert!(Instant::now() < deadline, "no read-write service: {e}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn expected() -> Seen {
    let not_ro = ErrorCode::NotReadOnly.code();
    Seen {
        mode: Some("read-only".into()),
        refused_without_can_be_read_only: true,
        connect_read_only: Some(true),
        read: (0, Some(Bytes::from_static(b"v"))),
        writes: vec![not_ro, not_ro, not_ro],
        global_refused: true,
        ro_resumed: true,
        resumed_read_only: Some(true),
        closed_when_quorum_back: true,
        session_kept_read_write: true,
    }
}

#[test]
fn read_only_mode_on_zookeeper() {
    let flag = format!("-D{RO_FLAG}");
    // ZooKeeper 3.8's read-only server makes new sessions only as local sessions: without
    // localSessionsEnabled it answers such a connect with a bare NotReadOnly reply header
    // that no client can parse (kazoo's own read-only test turns local sessions on too).
    // ferrokeeper makes them either way (README: "Intended differences").
    let mut zk = RealZooKeeperEnsemble::start(
        3,
        TICK_MS,
        &[
            (flag.as_str(), "true"),
            ("localSessionsEnabled", "true"),
            ("localSessionsUpgradingEnabled", "true"),
        ],
    );
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&mut zk)))
        .unwrap_or_else(|e| {
            eprintln!("member 0's log:\n{}", zk.log_tail(0));
            std::panic::resume_unwind(e)
        });
    assert_eq!(seen, expected(), "ZooKeeper 3.8");
}

#[test]
fn read_only_mode_on_ferrokeeper() {
    let mut options = ClusterOptions::new(3);
    options.tick_ms = TICK_MS as u32;
    for member in 0..3 {
        options.member_env.push((
            member,
            "SERVER_JVMFLAGS".into(),
            format!("-D{RO_FLAG}=true"),
        ));
    }
    let mut fk = FerrokeeperEnsemble::start(options);
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| scenario(&mut fk)))
        .unwrap_or_else(|e| {
            eprintln!("server.1's log:\n{}", fk.log_tail(0));
            std::panic::resume_unwind(e)
        });
    assert_eq!(seen, expected(), "ferrokeeper; log:\n{}", fk.log_tail(0));
    assert!(
        fk.log(0).count("serving read-only clients") > 0,
        "{}",
        fk.log_tail(0)
    );
}

#[test]
fn without_read_only_mode_a_member_without_quorum_refuses_everyone() {
    let mut fk = FerrokeeperEnsemble::start({
        let mut o = ClusterOptions::new(3);
        o.tick_ms = TICK_MS as u32;
        o
    });
    let addr = fk.client_addr(0);
    fk.kill9(1);
    fk.kill9(2);
    // isro answers "null" once the member has stopped serving (ZooKeeper's answer while
    // its server object is down), and stays so: read-only mode is off.
    wait_isro(addr, "null", Duration::from_secs(30));
    assert!(RawClient::connect_with(addr, TIMEOUT_MS, None, 0, Some(true)).is_err());
    assert_eq!(
        try_four_letter(addr, "isro").as_deref().map(str::trim),
        Some("null")
    );
}
