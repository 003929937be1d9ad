//! The client crate's read-only sessions and getConfig against ensembles: a real
//! ZooKeeper 3.8 and ferrokeeper, three members each, read-only mode on.
//!
//! - getConfig reads `/zookeeper/config` (one `server.` line per member and a
//!   `version=` line), the same from a chrooted handle.
//! - With two members killed, a client allowed read-only sessions connects to the
//!   survivor in [`SessionState::ReadOnly`]: reads work, writes fail with NotReadOnly.
//!   When the members are back, the client moves by itself to a read-write server,
//!   with a new session (it was only ever read-only: a local session of the survivor),
//!   and its watch is re-armed there.
//! - ferrokeeper only (its ensembles can be partitioned): with the survivor kept
//!   read-only by a partition, the client finds a read-write member by `isro` probes,
//!   while the survivor still says `ro`, so the move cannot come from it.

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrokeeper_client::{
    CONFIG_NODE, Client, ClientBuilder, CreateMode, EnsembleConfig, Error, EventType, SessionState,
    StateStream, WatcherType, open_acl_unsafe,
};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble, try_four_letter, wait_isro};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;
use futures::StreamExt;

const TICK_MS: u64 = 500;
const STEP: Duration = Duration::from_secs(30);
/// From the restart of the members to the client's move: the members' rejoining, then
/// at most one probe round's wait (doubling from 100 ms while the quorum was away).
const MOVE_WITHIN: Duration = Duration::from_secs(120);

async fn bounded<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    ferrokeeper_tests::either::bounded(what, limit, fut).await
}

fn builder() -> ClientBuilder {
    Client::builder()
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(3))
        .shuffle_hosts(false)
}

fn isro(addr: SocketAddr) -> Option<String> {
    try_four_letter(addr, "isro").map(|a| a.trim().to_owned())
}

/// Waits for `state` on the stream, bounded.
async fn wait_state(states: &mut StateStream, state: SessionState, within: Duration) {
    bounded(&format!("state {state:?}"), within, async {
        loop {
            match states.next().await {
                Some(s) if s == state => return,
                Some(_) => {}
                None => panic!("the session ended before {state:?}"),
            }
        }
    })
    .await;
}

/// A write on a client that just moved: a member whose quorum just came back may still
/// drop a connection while the others join, so a ConnectionLoss is retried (bounded).
async fn write_after_move(client: &Client, path: &str, data: &[u8]) {
    let deadline = Instant::now() + STEP;
    loop {
        match client.set_data(path, data, None).await {
            Ok(_) => return,
            Err(Error::ConnectionLoss) if Instant::now() < deadline => {
                let mut states = client.state_stream();
                wait_state(&mut states, SessionState::Connected, STEP).await;
            }
            Err(e) => panic!("write after the move: {e}"),
        }
    }
}

/// getConfig on a healthy ensemble: one `server.` line per member, a version, the same
/// from a chrooted handle; its watch is on the absolute path.
async fn check_config(e: &impl Ensemble, client: &Client) {
    let (data, _stat) = bounded("getConfig", STEP, client.get_config())
        .await
        .expect("getConfig");
    let text = String::from_utf8_lossy(&data).into_owned();
    let config = EnsembleConfig::parse(&data).expect("parse the config");
    assert_eq!(config.servers.len(), e.size(), "{text}");
    assert!(config.version.is_some(), "{text}");
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("version=")),
        "{text}"
    );
    for server in config.servers.values() {
        assert_eq!(server.role(), Some("participant"), "{text}");
    }
    // Every member's client port appears in its line when the line names one.
    for (member, server) in config.servers.values().enumerate() {
        if let Some(client_address) = server.client_address() {
            let port = e.client_addr(member).port().to_string();
            assert!(client_address.ends_with(&port), "{text}");
        }
    }

    client
        .create("/app", b"", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create /app");
    let app = client.chroot("/app").expect("chroot");
    let (chrooted, _, watch) = bounded("getConfig with a watch", STEP, app.get_config_w())
        .await
        .expect("getConfig from a chroot");
    assert_eq!(
        chrooted, data,
        "the chroot does not apply to the config node"
    );
    // The watch sits on the server's /zookeeper/config: removing that path's data
    // watches from the unchrooted handle fires it, path untranslated.
    client
        .remove_watches(CONFIG_NODE, WatcherType::Data)
        .await
        .expect("remove the config watch");
    let event = bounded("config watch removed", STEP, watch)
        .await
        .expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::DataWatchRemoved, CONFIG_NODE)
    );
}

async fn kill_restart_scenario(e: &mut (impl Ensemble + Send)) {
    // The connect string lists member 0, the survivor, first; hosts are not shuffled.
    let survivor = e.client_addr(0);
    let rw = bounded("connect", STEP, builder().connect(&e.connect_string()))
        .await
        .expect("connect");
    check_config(e, &rw).await;
    rw.create("/ro", b"v", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create /ro");
    // Member 0 stays, so its own writes are on it.
    rw.close().await.expect("close");

    tokio::task::block_in_place(|| {
        e.kill9(1);
        e.kill9(2);
        wait_isro(survivor, "ro", Duration::from_secs(60));
    });

    let client = bounded(
        "read-only connect",
        STEP,
        builder().read_only(true).connect(&e.connect_string()),
    )
    .await
    .expect("a read-only session on the survivor");
    assert_eq!(client.state(), SessionState::ReadOnly);
    let ro_session = client.session_id();
    let (data, _, watch) = client.get_data_w("/ro").await.expect("read read-only");
    assert_eq!(&data[..], b"v");
    assert_eq!(
        client.set_data("/ro", b"no", None).await.err(),
        Some(Error::NotReadOnly)
    );
    assert_eq!(
        client
            .create("/x", b"", &open_acl_unsafe(), CreateMode::Persistent)
            .await
            .err(),
        Some(Error::NotReadOnly)
    );
    let mut states = client.state_stream();
    assert_eq!(states.next().await, Some(SessionState::ReadOnly));

    tokio::task::block_in_place(|| {
        e.restart(1);
        e.restart(2);
    });
    wait_state(&mut states, SessionState::Connected, MOVE_WITHIN).await;
    assert_ne!(
        client.session_id(),
        ro_session,
        "a session only ever read-only is not resumed on a read-write server"
    );
    write_after_move(&client, "/ro", b"w").await;
    let event = bounded("the watch, re-armed on the new session", STEP, watch)
        .await
        .expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/ro")
    );
    client.close().await.expect("close");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn ferrokeeper_options(partitionable: bool) -> ClusterOptions {
    let mut options = ClusterOptions::new(3);
    options.tick_ms = TICK_MS as u32;
    options.partitionable = partitionable;
    for member in 0..3 {
        options.member_env.push((
            member,
            "SERVER_JVMFLAGS".into(),
            "-Dreadonlymode.enabled=true".into(),
        ));
    }
    options
}

#[test]
fn read_only_session_moves_to_read_write_on_zookeeper() {
    // ZooKeeper 3.8 makes new sessions on a read-only server only as local sessions.
    let mut zk = RealZooKeeperEnsemble::start(
        3,
        TICK_MS,
        &[
            ("-Dreadonlymode.enabled", "true"),
            ("localSessionsEnabled", "true"),
            ("localSessionsUpgradingEnabled", "true"),
        ],
    );
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime().block_on(kill_restart_scenario(&mut zk))
    }));
    if let Err(e) = outcome {
        eprintln!("member 0's log:\n{}", zk.log_tail(0));
        std::panic::resume_unwind(e);
    }
}

#[test]
fn read_only_session_moves_to_read_write_on_ferrokeeper() {
    let mut fk = FerrokeeperEnsemble::start(ferrokeeper_options(false));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime().block_on(kill_restart_scenario(&mut fk))
    }));
    if let Err(e) = outcome {
        eprintln!("server.1's log:\n{}", fk.log_tail(0));
        std::panic::resume_unwind(e);
    }
}

/// The survivor stays read-only (partitioned from the other two, which keep their
/// quorum): only the client's own probing can take it to a read-write member.
#[test]
fn read_only_session_finds_a_read_write_member_by_probing() {
    let fk = FerrokeeperEnsemble::start(ferrokeeper_options(true));
    let survivor = fk.client_addr(0);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime().block_on(async {
            let rw = bounded("connect", STEP, builder().connect(&fk.connect_string()))
                .await
                .expect("connect");
            rw.create("/ro", b"v", &open_acl_unsafe(), CreateMode::Persistent)
                .await
                .expect("create /ro");
            rw.close().await.expect("close");

            fk.partition(&[0]);
            tokio::task::block_in_place(|| wait_isro(survivor, "ro", Duration::from_secs(60)));
            // Members 1 and 2 serve read-write, but the client tries member 0 first
            // (hosts unshuffled, member 0 first in the connect string) and gets a
            // read-only session there; only its probe can find 1 or 2.
            let client = bounded(
                "read-only connect",
                STEP,
                builder().read_only(true).connect(&fk.connect_string()),
            )
            .await
            .expect("connect");
            assert_eq!(client.state(), SessionState::ReadOnly);
            let ro_session = client.session_id();
            let mut states = client.state_stream();
            wait_state(&mut states, SessionState::Connected, STEP).await;
            assert_eq!(
                tokio::task::block_in_place(|| isro(survivor)).as_deref(),
                Some("ro"),
                "the survivor is still read-only: the client moved on its own"
            );
            assert_ne!(client.session_id(), ro_session);
            write_after_move(&client, "/ro", b"w").await;
            let (data, _) = client.get_data("/ro").await.expect("read");
            assert_eq!(&data[..], b"w");
            client.close().await.expect("close");
        })
    }));
    if let Err(e) = outcome {
        eprintln!("server.1's log:\n{}", fk.log_tail(0));
        std::panic::resume_unwind(e);
    }
}
