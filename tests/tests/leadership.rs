//! Leadership transfer with ClickHouse Keeper's four-letter words: `rqld` on a follower
//! makes it the leader, `ydld` on the leader hands leadership to the most caught-up
//! follower. A client writes sequentially through it all and a second session holds an
//! ephemeral: every acknowledged write is there afterwards and neither session expires.
//! An observer asking to lead is refused; the words obey the whitelist (`*` does not
//! enable them). Times are printed, and only a generous bound is asserted.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrokeeper_protocol::{GetChildrenRequest, Request, Response, SyncRequest};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble, try_four_letter};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::{RawClient, create, err_of, exists};

const EPHEMERAL: i32 = 1;
const SENT: &str = "Sent leadership request to leader.";
const FAILED: &str = "Failed to send leadership request to leader.";
const YIELD_SENT: &str = "Sent yield leadership request to leader.";
/// Generous: a transfer takes about one round trip plus an election on an idle machine.
const BOUND: Duration = Duration::from_secs(10);

/// A session writing `/acked/<n>` one at a time; when its connection goes it resumes
/// on whichever member takes it, and asserts the session was not expired.
fn writer(
    members: Vec<SocketAddr>,
    stop: Arc<AtomicBool>,
    acked_count: Arc<AtomicUsize>,
) -> (BTreeSet<String>, usize) {
    let (mut client, _) = RawClient::connect(members[0], 30_000, None).expect("connect");
    let mut resumes = 0;
    assert_eq!(create(&mut client, "/acked", 0).expect("create /acked"), 0);
    let session = (client.session_id, client.passwd.clone());
    let mut last_zxid = client.last_zxid;
    let mut client = Some(client);
    let mut acked = BTreeSet::new();
    let mut next = 0usize;
    let deadline = Instant::now() + Duration::from_secs(120);
    while !stop.load(Ordering::Relaxed) {
        assert!(Instant::now() < deadline, "the writer ran for too long");
        if client.is_none() {
            for addr in &members {
                if let Ok((c, response)) =
                    RawClient::connect_seen(*addr, 30_000, Some(session.clone()), last_zxid)
                {
                    assert_eq!(
                        response.session_id, session.0,
                        "the writer's session was expired (answered on {addr})"
                    );
                    client = Some(c);
                    resumes += 1;
                    break;
                }
            }
        }
        let Some(c) = client.as_mut() else {
            // No member took the session: try again shortly (nothing to wait on).
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let name = format!("{next:06}");
        match create(c, &format!("/acked/{name}"), 0) {
            Ok(0) => {
                last_zxid = last_zxid.max(c.last_zxid);
                acked.insert(name);
                acked_count.fetch_add(1, Ordering::Relaxed);
                next += 1;
            }
            // The write may or may not have happened: use a new name.
            _ => {
                client = None;
                next += 1;
            }
        }
    }
    (acked, resumes)
}

fn wait_until(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if done() {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{what} did not happen within {within:?}"
        );
        // The servers are other processes: poll their four-letter words.
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn rqld_and_ydld_move_leadership_without_losing_writes_or_sessions() {
    let mut options = ClusterOptions::new(3);
    options.observers = 1;
    // After the generated `4lw.commands.whitelist=*` line, so this one wins: `*` alone
    // does not enable the leadership words.
    options.extra = vec![("4lw.commands.whitelist".into(), "*,rqld,ydld".into())];
    let ensemble = FerrokeeperEnsemble::start(options);
    let leader = ensemble.wait_leader(Duration::from_secs(60));
    let target = (0..3).find(|m| *m != leader).expect("a follower");
    let observer = 3;
    let addrs: Vec<SocketAddr> = (0..4).map(|m| ensemble.client_addr(m)).collect();

    // An observer cannot lead: refused with the reason, nothing moves.
    let refused = try_four_letter(addrs[observer], "rqld").expect("rqld answer");
    assert!(
        refused.starts_with(FAILED) && refused.contains("observer"),
        "{refused:?}"
    );
    assert_eq!(ensemble.mode(leader).as_deref(), Some("leader"));

    // A session on the leader holding an ephemeral.
    let (mut holder, _) = RawClient::connect(addrs[leader], 30_000, None).expect("connect");
    assert_eq!(create(&mut holder, "/eph", EPHEMERAL).expect("create"), 0);
    let holder_session = (holder.session_id, holder.passwd.clone());

    // A writer on the leader, writing sequentially from now until the end.
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicUsize::new(0));
    let mut order = vec![addrs[leader]];
    order.extend((0..3).filter(|m| *m != leader).map(|m| addrs[m]));
    let writing = {
        let (stop, count) = (stop.clone(), count.clone());
        std::thread::spawn(move || writer(order, stop, count))
    };
    wait_until("20 acknowledged writes", Duration::from_secs(30), || {
        count.load(Ordering::Relaxed) >= 20
    });

    // rqld on a follower: it becomes the leader.
    let before = count.load(Ordering::Relaxed);
    let asked = Instant::now();
    let answer = try_four_letter(addrs[target], "rqld").expect("rqld answer");
    let answered = asked.elapsed();
    assert_eq!(answer, SENT);
    let took = wait_until("server.N Mode: leader after rqld", BOUND, || {
        ensemble.mode(target).as_deref() == Some("leader")
    }) + answered;
    let writes_during = count.load(Ordering::Relaxed) - before;
    eprintln!(
        "rqld on server.{}: answered after {answered:?}, srvr says leader after {took:?}; \
         {writes_during} writes acknowledged meanwhile",
        target + 1
    );
    // Writes go on under the new leader.
    let resumed = count.load(Ordering::Relaxed);
    let writes_back = wait_until("20 more writes after rqld", BOUND, || {
        count.load(Ordering::Relaxed) >= resumed + 20
    });
    eprintln!("20 more writes acknowledged {writes_back:?} after that");

    // ydld on the new leader: leadership moves to another voter.
    let asked = Instant::now();
    let answer = try_four_letter(addrs[target], "ydld").expect("ydld answer");
    assert_eq!(answer, YIELD_SENT);
    let mut next_leader = None;
    let took = wait_until("another leader after ydld", BOUND, || {
        next_leader = (0..3).find(|m| ensemble.mode(*m).as_deref() == Some("leader"));
        next_leader.is_some_and(|l| l != target)
    });
    eprintln!(
        "ydld on server.{}: server.{} leads after {:?} (answered within it)",
        target + 1,
        next_leader.map_or(0, |l| l + 1),
        asked.elapsed().max(took)
    );
    // ydld on a non-leader does nothing, as in ClickHouse Keeper.
    assert_eq!(
        try_four_letter(addrs[target], "ydld").as_deref(),
        Some(YIELD_SENT)
    );
    let resumed = count.load(Ordering::Relaxed);
    wait_until("20 more writes after ydld", BOUND, || {
        count.load(Ordering::Relaxed) >= resumed + 20
    });
    stop.store(true, Ordering::Relaxed);
    let (acked, resumes) = writing.join().expect("writer thread");

    // Every acknowledged write is there. (Right after a leader change a member may still
    // refuse clients for a moment, until it hears from the new leader.)
    let mut reader = None;
    wait_until("a member accepting a session", BOUND, || {
        reader = RawClient::connect(addrs[observer], 30_000, None)
            .ok()
            .map(|(c, _)| c);
        reader.is_some()
    });
    let mut reader = reader.expect("connected");
    let synced = reader
        .call(Request::Sync(SyncRequest { path: "/".into() }))
        .expect("sync");
    assert_eq!(err_of(&synced), 0);
    let frames = reader
        .call(Request::GetChildren(GetChildrenRequest {
            path: "/acked".into(),
            watch: false,
        }))
        .expect("children");
    let present: BTreeSet<String> = match &frames.last().expect("reply").response {
        Response::GetChildren(r) => r.children.iter().cloned().collect(),
        other => panic!("children of /acked: {other:?}"),
    };
    let missing: Vec<&String> = acked.difference(&present).collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    eprintln!(
        "{} acknowledged writes, all present; the writer resumed its session {resumes} times",
        acked.len()
    );

    // The holder's session is alive (resumes with its id) and still owns its ephemeral.
    let stat = exists(&mut reader, "/eph").expect("the ephemeral is still there");
    assert_eq!(stat.ephemeral_owner, holder_session.0);
    drop(holder);
    let mut resumed = None;
    wait_until("the holder's session resumed", BOUND, || {
        resumed = RawClient::connect_seen(
            addrs[observer],
            30_000,
            Some(holder_session.clone()),
            stat.czxid,
        )
        .ok();
        resumed.is_some()
    });
    let (_, response) = resumed.expect("resumed");
    assert_eq!(
        response.session_id, holder_session.0,
        "the holder's session was expired"
    );
}

#[test]
fn leadership_words_need_naming_in_the_whitelist_and_a_standalone_server_keeps_leading() {
    // `*` enables every ZooKeeper word but not these.
    let star = Ferrokeeper::start(&["--4lw-whitelist", "*"]);
    let answer = try_four_letter(star.addr(), "rqld").expect("answer");
    assert_eq!(
        answer,
        "rqld is not executed because it is not in the whitelist.\n"
    );
    drop(star);
    let named = Ferrokeeper::start(&["--4lw-whitelist", "srvr,rqld,ydld"]);
    // The only voter already leads.
    assert_eq!(try_four_letter(named.addr(), "rqld").as_deref(), Some(SENT));
    // ...and has nobody to yield to.
    let answer = try_four_letter(named.addr(), "ydld").expect("answer");
    assert!(
        answer.starts_with("Failed to send yield leadership request to leader.")
            && answer.contains("no other voter"),
        "{answer:?}"
    );
}

/// `ferrokeeper.priority.<id>` (ClickHouse Keeper's server priority): the member with the
/// highest priority leads whenever it is up and caught up, whoever wins an election.
#[test]
fn the_member_with_the_highest_priority_leads_when_it_can() {
    let mut options = ClusterOptions::new(3);
    options
        .extra
        .push(("ferrokeeper.priority.3".to_owned(), "5".to_owned()));
    let mut cluster = FerrokeeperEnsemble::start(options);
    let leads = |cluster: &FerrokeeperEnsemble, member: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while cluster.mode(member).as_deref() != Some("leader") {
            assert!(
                Instant::now() < deadline,
                "server.{} (the highest priority) does not lead: modes {:?}",
                member + 1,
                (0..3).map(|m| cluster.mode(m)).collect::<Vec<_>>()
            );
            // Polling srvr: there is no event to wait on from outside the processes.
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    leads(&cluster, 2);
    // Without it, another member leads; back and caught up, it leads again.
    cluster.kill9(2);
    let other = cluster.wait_leader(Duration::from_secs(30));
    assert_ne!(other, 2);
    cluster.restart(2);
    leads(&cluster, 2);
}
