//! Sessions outlive a loss of quorum (issue 14): while no server serves, no session can
//! be expired, and once a quorum is back every session starts with a fresh timeout, as
//! in ZooKeeper (a leader without its quorum stops leading; a new leader gives every
//! session a fresh timeout).
//!
//! The sequence is go-zookeeper's `TestNoQuorum`: the client's server is killed (the
//! client moves), then the server it moved to (no quorum; the last server refuses the
//! client), then the first one comes back. The timing is fixed by construction: the
//! client stays away for longer than its session timeout while there is no quorum,
//! and only then is the quorum restored. Which server is killed second is chosen, so
//! both outcomes of that test's coin toss run every time:
//! - the second server killed is a follower: the remaining server is the leader, which
//!   loses its quorum and later regains it *in the same term* (no new election);
//! - the second server killed is the leader: the remaining follower and the restarted
//!   server elect a new leader.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{Request, SyncRequest};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::{RawClient, create, err_of, exists};

const EPHEMERAL: i32 = 1;
const SESSION_TIMEOUT_MS: i32 = 4_000;

/// Resumes `session` on the first member of `order` that takes the connection;
/// panics if a server answers the resume as expired.
fn resume(
    ensemble: &FerrokeeperEnsemble,
    order: &[usize],
    session: &(i64, Bytes),
    last_zxid: i64,
    within: Duration,
) -> (RawClient, usize) {
    let deadline = Instant::now() + within;
    loop {
        for member in order.iter().copied().filter(|m| ensemble.is_running(*m)) {
            if let Ok((client, response)) = RawClient::connect_seen(
                ensemble.client_addr(member),
                SESSION_TIMEOUT_MS,
                Some(session.clone()),
                last_zxid,
            ) {
                assert_eq!(
                    (response.session_id, response.timeout > 0),
                    (session.0, true),
                    "server.{} answered the resume of 0x{:x} as expired; logs:\n{}",
                    member + 1,
                    session.0,
                    (0..ensemble.size())
                        .map(|m| format!("--- server.{}\n{}", m + 1, ensemble.log_tail(m)))
                        .collect::<String>()
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

fn wait_mode(ensemble: &FerrokeeperEnsemble, member: usize, mode: &str, within: Duration) {
    let deadline = Instant::now() + within;
    while ensemble.mode(member).as_deref() != Some(mode) {
        assert!(
            Instant::now() < deadline,
            "server.{} is not {mode:?} within {within:?} (mode {:?})",
            member + 1,
            ensemble.mode(member)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn refuses(addr: SocketAddr, session: &(i64, Bytes), last_zxid: i64) -> bool {
    RawClient::connect_seen(addr, SESSION_TIMEOUT_MS, Some(session.clone()), last_zxid).is_err()
}

fn session_survives_quorum_loss(second_killed_leads: bool) {
    let mut ensemble = FerrokeeperEnsemble::start(ClusterOptions::new(3));
    let first = ensemble.leader().expect("a leader");

    // A session with an ephemeral on the first server.
    let (mut client, _) =
        RawClient::connect(ensemble.client_addr(first), SESSION_TIMEOUT_MS, None).expect("connect");
    let negotiated = Duration::from_millis(u64::try_from(client.timeout).expect("timeout"));
    assert_eq!(create(&mut client, "/held", EPHEMERAL).expect("create"), 0);
    let session = (client.session_id, client.passwd.clone());
    let zxid = client.last_zxid;
    client.disconnect();

    // Its server dies; a new leader is elected and the client moves.
    ensemble.kill9(first);
    let new_leader = ensemble.wait_leader(Duration::from_secs(30));
    let follower = (0..3)
        .find(|m| *m != first && *m != new_leader)
        .expect("a follower");
    let (second, remaining) = if second_killed_leads {
        (new_leader, follower)
    } else {
        (follower, new_leader)
    };
    let (moved, _) = resume(
        &ensemble,
        &[second],
        &session,
        zxid,
        Duration::from_secs(30),
    );
    moved.disconnect();

    // The server it moved to dies too: no quorum. The remaining server stops serving
    // and refuses the client, which keeps trying for longer than its session timeout.
    ensemble.kill9(second);
    let lost = Instant::now();
    wait_mode(&ensemble, remaining, "not serving", Duration::from_secs(30));
    assert!(
        refuses(ensemble.client_addr(remaining), &session, zxid),
        "a server without a quorum took the session"
    );
    let away = negotiated + ensemble.tick() * 4;
    // No event to wait for: the point is that time passes without a quorum.
    std::thread::sleep(away.saturating_sub(lost.elapsed()));
    assert!(
        refuses(ensemble.client_addr(remaining), &session, zxid),
        "a server without a quorum took the session"
    );

    // The first server comes back: quorum again.
    ensemble.restart(first);
    ensemble.wait_all_serving(Duration::from_secs(30));
    if !second_killed_leads {
        assert_eq!(
            ensemble.leader(),
            Some(remaining),
            "expected the leader to regain its quorum without an election"
        );
    }

    // Let the leader's expiry loop (every half tick) run a few times with the quorum
    // back before the client returns, so that a session wrongly expired now is closed
    // by the time it resumes (not raced by the resume).
    std::thread::sleep(ensemble.tick() * 3);

    // The client resumes its session, on either server, with its ephemeral.
    let (mut back, on) = resume(
        &ensemble,
        &[remaining, first],
        &session,
        zxid,
        Duration::from_secs(30),
    );
    let frames = back
        .call(Request::Sync(SyncRequest { path: "/".into() }))
        .expect("sync");
    assert_eq!(err_of(&frames), 0, "sync");
    assert!(
        exists(&mut back, "/held").is_some(),
        "the session's ephemeral is gone (resumed on server.{})",
        on + 1
    );
    for member in [first, remaining] {
        assert_eq!(
            ensemble.log(member).count("session expired"),
            0,
            "server.{} expired a session:\n{}",
            member + 1,
            ensemble.log_tail(member)
        );
    }
}

#[test]
fn a_leader_regaining_its_quorum_gives_sessions_a_fresh_timeout() {
    session_survives_quorum_loss(false);
}

#[test]
fn a_leader_elected_after_quorum_loss_gives_sessions_a_fresh_timeout() {
    session_survives_quorum_loss(true);
}
