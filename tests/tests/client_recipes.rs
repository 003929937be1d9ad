//! The client crate's recipes (`ferrokeeper_client::recipes`) under contention, against
//! a real `ferrokeeper` and a real ZooKeeper 3.8: one suite of scenarios, each run
//! against a fresh server of each kind (the `against_ferrokeeper` and
//! `against_zookeeper` modules at the end), as `client_crate.rs`.
//!
//! Every scenario uses several clients (sessions). Elections are checked by an
//! [`Election`] monitor: at every leadership change of any contender it counts the
//! contenders that consider themselves leader at that moment, and records a violation
//! if more than one does. Clients are cut off with a [`FaultProxy`]: `blackhole` for a
//! silent partition (the server expires the session after its timeout), `reset` plus a
//! close of the session from another connection for a prompt expiry.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_client::recipes::{
    Group, LeaderDetector, LeaderLatch, Lock, Lost, Member, Membership, Sessions,
};
use ferrokeeper_client::{Client, ClientBuilder, CreateMode, Error, open_acl_unsafe};
use ferrokeeper_tests::proxy::FaultProxy;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

/// The bound on any single step of the suite.
const STEP: Duration = Duration::from_secs(30);
/// The session timeout of clients that get cut off, so that the server expires them
/// quickly. A cut-off leader notices after ⅔ of it and the server expires it after all
/// of it: the 2 s between are the margin of the one-leader check on a loaded machine.
const SHORT_SESSION: Duration = Duration::from_secs(6);

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    ferrokeeper_tests::either::bounded(what, STEP, fut).await
}

fn builder() -> ClientBuilder {
    Client::builder()
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(5))
}

/// A client with a short session, for those that get cut off.
fn short_builder() -> ClientBuilder {
    Client::builder()
        .session_timeout(SHORT_SESSION)
        .connection_timeout(Duration::from_secs(2))
}

async fn connect(addr: &str) -> Client {
    bounded("connect", builder().connect(addr))
        .await
        .expect("connect")
}

use ferrokeeper_tests::either::TestServer as Server;

/// Ends `client`'s session from another connection while `proxy` keeps `client` away
/// (reset), so that the server expires it for `client` at once.
async fn expire_behind(proxy: &FaultProxy, client: &Client, addr: &str) {
    proxy.reset();
    let thief = bounded(
        "connect with the victim's session",
        builder().session(client.session_info()).connect(addr),
    )
    .await
    .expect("resume the session elsewhere");
    assert_eq!(thief.session_id(), client.session_id());
    thief.close().await.expect("close the session");
}

/// What the election monitor needs from a contender.
trait Contender: Send + 'static {
    fn is_leader(&self) -> bool;
    fn leadership_stream(&self) -> BoxStream<'static, bool>;
}

impl Contender for LeaderLatch {
    fn is_leader(&self) -> bool {
        LeaderLatch::is_leader(self)
    }
    fn leadership_stream(&self) -> BoxStream<'static, bool> {
        self.leadership().boxed()
    }
}

impl Contender for Membership {
    fn is_leader(&self) -> bool {
        Membership::is_leader(self)
    }
    fn leadership_stream(&self) -> BoxStream<'static, bool> {
        self.leadership().boxed()
    }
}

/// Watches every contender's leadership; at each change, checks that at most one
/// contender leads.
struct Election<T: Contender> {
    members: Arc<Mutex<Vec<Option<T>>>>,
    tx: mpsc::UnboundedSender<(usize, bool)>,
    seen: mpsc::UnboundedReceiver<(usize, bool)>,
    checks: Arc<AtomicUsize>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl<T: Contender> Election<T> {
    fn new() -> Election<T> {
        let members: Arc<Mutex<Vec<Option<T>>>> = Arc::new(Mutex::new(Vec::new()));
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, bool)>();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let checks = Arc::new(AtomicUsize::new(0));
        let violations = Arc::new(Mutex::new(Vec::new()));
        let (m, c, v) = (members.clone(), checks.clone(), violations.clone());
        tokio::spawn(async move {
            while let Some((index, leader)) = rx.recv().await {
                let leaders: Vec<usize> = m
                    .lock()
                    .expect("monitor lock")
                    .iter()
                    .enumerate()
                    .filter(|(_, member)| member.as_ref().is_some_and(|m| m.is_leader()))
                    .map(|(i, _)| i)
                    .collect();
                c.fetch_add(1, Ordering::SeqCst);
                if leaders.len() > 1 {
                    v.lock().expect("monitor lock").push(format!(
                        "after contender {index} reported leader={leader}: leaders {leaders:?}"
                    ));
                }
                let _ = seen_tx.send((index, leader));
            }
        });
        Election {
            members,
            tx,
            seen,
            checks,
            violations,
        }
    }

    /// Adds a contender; returns its index.
    fn add(&self, member: T) -> usize {
        let mut stream = member.leadership_stream();
        let index = {
            let mut members = self.members.lock().expect("monitor lock");
            members.push(Some(member));
            members.len() - 1
        };
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(leader) = stream.next().await {
                if tx.send((index, leader)).is_err() {
                    break;
                }
            }
        });
        index
    }

    /// Takes a contender out (to close it); it no longer counts.
    fn take(&self, index: usize) -> T {
        self.members.lock().expect("monitor lock")[index]
            .take()
            .expect("contender present")
    }

    fn is_leader(&self, index: usize) -> bool {
        self.members.lock().expect("monitor lock")[index]
            .as_ref()
            .is_some_and(|m| m.is_leader())
    }

    /// Waits until contender `index` reports that it leads (and still does).
    async fn until_leader(&mut self, index: usize) {
        bounded(&format!("contender {index} leads"), async {
            loop {
                match self.seen.recv().await {
                    Some((i, true)) if i == index && self.is_leader(index) => return,
                    Some(_) => {}
                    None => panic!("the monitor ended"),
                }
            }
        })
        .await;
        let count = self.members.lock().expect("monitor lock").len();
        let leaders: Vec<usize> = (0..count).filter(|i| self.is_leader(*i)).collect();
        assert_eq!(leaders, [index], "exactly one leader");
    }

    /// Asserts that no check found two leaders and that checks happened; returns
    /// how many.
    fn verdict(&self) -> usize {
        let violations = self.violations.lock().expect("monitor lock").clone();
        assert!(violations.is_empty(), "two leaders at once: {violations:?}");
        let checks = self.checks.load(Ordering::SeqCst);
        assert!(checks > 0, "no leadership change was checked");
        checks
    }
}

/// Curator-style latches: three participants with their own sessions; the first leads;
/// failover when the leader is cut off (its session expires on the server) and when a
/// leader closes its latch; the expired participant comes back with a new session and
/// queues behind.
async fn latch_election(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let c1 = bounded(
        "connect",
        short_builder().connect(&proxy.addr().to_string()),
    )
    .await
    .expect("connect");
    let c2 = connect(addr).await;
    let c3 = connect(addr).await;
    let mut election = Election::new();

    let l1 = LeaderLatch::start(&c1, "/election/latch", b"c1")
        .await
        .expect("latch 1");
    let node1 = l1.node_path();
    assert!(node1.starts_with("/election/latch/_c_"), "{node1}");
    assert!(node1.contains("-latch-"), "{node1}");
    let i1 = election.add(l1);
    election.until_leader(i1).await;
    let l2 = LeaderLatch::start(&c2, "/election/latch", b"c2")
        .await
        .expect("latch 2");
    let l3 = LeaderLatch::start(&c3, "/election/latch", b"c3")
        .await
        .expect("latch 3");
    assert!(!l2.is_leader() && !l3.is_leader());
    let participants = l3.participants().await.expect("participants");
    let ids: Vec<(&[u8], bool)> = participants
        .iter()
        .map(|p| (&p.id[..], p.is_leader))
        .collect();
    assert_eq!(
        ids,
        [(&b"c1"[..], true), (&b"c2"[..], false), (&b"c3"[..], false)]
    );
    let i2 = election.add(l2);
    let i3 = election.add(l3);

    // The leader is cut off: it suspends its leadership when it notices (⅔ of its
    // session timeout), the server expires its session (the full timeout) and the
    // next participant takes over.
    proxy.blackhole();
    election.until_leader(i2).await;
    assert!(!election.is_leader(i1));
    proxy.heal();
    let l1 = election.take(i1);
    assert_eq!(
        bounded("the cut-off latch ends", l1.await_leadership()).await,
        Err(Error::SessionExpired)
    );
    assert_eq!(l1.lost(), Some(Lost::SessionExpired));
    assert_eq!(
        bounded("until lost", l1.until_lost()).await,
        Lost::SessionExpired
    );
    assert!(!l1.is_leader());
    l1.close().await.expect("close an expired latch");
    assert_eq!(
        c2.exists(&node1).await,
        Ok(None),
        "the expired node is gone"
    );

    // It comes back with a new session, behind the others.
    let c1 = connect(addr).await;
    let l1 = LeaderLatch::start(&c1, "/election/latch", b"c1-again")
        .await
        .expect("latch 1 again");
    assert!(!l1.is_leader());
    let i4 = election.add(l1);

    // Graceful failovers.
    let l2 = election.take(i2);
    assert!(l2.is_leader());
    l2.close().await.expect("close latch 2");
    election.until_leader(i3).await;
    let l3 = election.take(i3);
    l3.close().await.expect("close latch 3");
    election.until_leader(i4).await;
    let leader = election.members.lock().expect("monitor lock")[i4]
        .as_ref()
        .map(|l| l.node_path());
    let l4 = election.take(i4);
    let participants = l4.participants().await.expect("participants");
    assert_eq!(participants.len(), 1);
    assert_eq!(&participants[0].id[..], b"c1-again");
    assert_eq!(
        Some(format!("/election/latch/{}", participants[0].node)),
        leader
    );
    l4.close().await.expect("close latch 4");
    // c2 may be on another member of an ensemble than c1, which closed the latch.
    c2.sync("/election/latch").await.expect("sync");
    assert_eq!(
        c2.get_children("/election/latch").await.map(|c| c.len()),
        Ok(0)
    );
    let checks = election.verdict();
    assert!(checks >= 8, "only {checks} leadership changes checked");
    for c in [c1, c2, c3] {
        c.close().await.expect("close");
    }
}

/// Mesos-style election: three groups (each its own session, as three Mesos masters)
/// join `/mesos` as `json.info_NNNNNNNNNN`; an observer's detector follows the leader.
/// The leader's group is cut off: it loses candidacy (local timeout), the others fail
/// over when the server expires its session, and the group starts a new session by
/// itself and re-joins behind. Then graceful failovers (cancel, group close).
async fn mesos_election(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let g1 = Group::new(
        Sessions::new(short_builder(), &proxy.addr().to_string()),
        "/mesos",
    )
    .expect("group 1");
    let g2 = Group::new(Sessions::new(builder(), addr), "/mesos").expect("group 2");
    let g3 = Group::new(Sessions::new(builder(), addr), "/mesos").expect("group 3");
    let observer = Group::new(Sessions::new(builder(), addr), "/mesos").expect("observer");
    let mut detector = LeaderDetector::new(&observer);
    let mut election = Election::new();

    let m1 = bounded("join 1", g1.join(br#"{"id":"m1"}"#, Some("json.info")))
        .await
        .expect("join 1");
    let i1 = election.add(m1);
    election.until_leader(i1).await;
    let m2 = bounded("join 2", g2.join(br#"{"id":"m2"}"#, Some("json.info")))
        .await
        .expect("join 2");
    let m3 = bounded("join 3", g3.join(br#"{"id":"m3"}"#, Some("json.info")))
        .await
        .expect("join 3");
    let (s1, member1) = {
        let members = election.members.lock().expect("monitor lock");
        let m1 = members[i1].as_ref().expect("m1");
        (m1.member().sequence(), m1.member().clone())
    };
    assert!(s1 < m2.member().sequence() && m2.member().sequence() < m3.member().sequence());
    assert_eq!(member1.label(), Some("json.info"));
    assert!(
        member1.name().starts_with("json.info_") && member1.name().len() == "json.info_".len() + 10,
        "{}",
        member1.name()
    );
    let m2_member = m2.member().clone();
    let m3_member = m3.member().clone();
    let i2 = election.add(m2);
    let i3 = election.add(m3);
    let leader = bounded("detect", detector.next())
        .await
        .expect("detector")
        .expect("a leader");
    assert_eq!(leader.member, member1);
    assert_eq!(&leader.data[..], br#"{"id":"m1"}"#);

    // A child that is not a member is ignored (Mesos's log_replicas).
    let admin = connect(addr).await;
    admin
        .create(
            "/mesos/log_replicas",
            b"",
            &open_acl_unsafe(),
            CreateMode::Persistent,
        )
        .await
        .expect("create log_replicas");

    // Cut off the leader's group.
    proxy.blackhole();
    election.until_leader(i2).await;
    let leader = bounded("detect", detector.next())
        .await
        .expect("detector")
        .expect("a leader");
    assert_eq!(leader.member, m2_member);
    let lost = {
        let members = election.members.lock().expect("monitor lock");
        let m1 = members[i1].as_ref().expect("m1");
        m1.lost()
    };
    let m1 = election.take(i1);
    let lost = match lost {
        Some(lost) => lost,
        None => bounded("candidacy lost", m1.until_lost()).await,
    };
    assert!(
        matches!(lost, Lost::SessionTimedOut | Lost::SessionExpired),
        "{lost:?}"
    );
    assert!(!m1.is_leader());
    drop(m1);
    proxy.heal();
    // The group has started a new session by itself: re-join behind the others.
    let m1 = bounded("re-join", g1.join(br#"{"id":"m1"}"#, Some("json.info")))
        .await
        .expect("re-join");
    assert!(m1.member().sequence() > m3_member.sequence());
    let m1_member = m1.member().clone();
    let i4 = election.add(m1);
    let members = bounded("members", async {
        let mut stream = observer.members();
        loop {
            let members = stream.next().await.expect("stream");
            if members.len() == 3 {
                return members;
            }
        }
    })
    .await;
    assert_eq!(
        members,
        [m2_member.clone(), m3_member.clone(), m1_member.clone()]
    );

    // Graceful: the leader withdraws, then the next one's group is closed.
    let m2 = election.take(i2);
    assert_eq!(m2.cancel().await, Ok(true));
    election.until_leader(i3).await;
    let leader = bounded("detect", detector.next())
        .await
        .expect("detector")
        .expect("a leader");
    assert_eq!(leader.member, m3_member);
    let m3 = election.take(i3);
    bounded("close group 3", g3.close()).await;
    assert_eq!(m3.lost(), Some(Lost::Closed));
    election.until_leader(i4).await;
    let leader = bounded("detect", detector.next())
        .await
        .expect("detector")
        .expect("a leader");
    assert_eq!(leader.member, m1_member);
    assert_eq!(&leader.data[..], br#"{"id":"m1"}"#);

    let checks = election.verdict();
    assert!(checks >= 8, "only {checks} leadership changes checked");
    drop(election);
    for group in [g1, g2, observer] {
        bounded("close group", group.close()).await;
    }
    // The admin session may be on another member of an ensemble than the groups'.
    admin.sync("/mesos").await.expect("sync");
    assert_eq!(
        admin.get_children("/mesos").await,
        Ok(vec!["log_replicas".to_owned()])
    );
    admin.close().await.expect("close");
}

/// Group membership: an observer's member stream sees every join and leave, whether
/// cancelled, by a closed session or by a dropped membership.
async fn group_membership(server: &mut Server) {
    let addr = &server.connect_string();
    let observer = Group::new(Sessions::new(builder(), addr), "/workers").expect("observer");
    let mut stream = observer.members();
    let names = |members: &[Member]| -> Vec<String> {
        members.iter().map(|m| m.name().to_owned()).collect()
    };
    let first = bounded("first member set", stream.next())
        .await
        .expect("stream");
    assert!(first.is_empty(), "{first:?}");

    let groups: Vec<Group> = (0..3)
        .map(|_| Group::new(Sessions::new(builder(), addr), "/workers").expect("group"))
        .collect();
    let mut expected: Vec<Member> = Vec::new();
    let mut memberships = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let label = if i == 2 { None } else { Some("worker") };
        let m = bounded("join", group.join(format!("w{i}").as_bytes(), label))
            .await
            .expect("join");
        let previous = expected.clone();
        expected.push(m.member().clone());
        await_members(&mut stream, &previous, &expected).await;
        memberships.push(m);
    }
    assert_eq!(expected[2].label(), None);
    assert!(expected[2].name().len() == 10, "{}", expected[2].name());
    assert_eq!(
        bounded("data", observer.data(&expected[1])).await,
        Ok("w1".into())
    );

    // Leave by cancelling.
    let m1 = memberships.remove(1);
    assert_eq!(m1.cancel().await, Ok(true));
    let previous = expected.clone();
    expected.remove(1);
    await_members(&mut stream, &previous, &expected).await;

    // Leave by closing the session (group 2's: the unlabelled member).
    let m2 = memberships.pop().expect("m2");
    bounded("close", groups[2].close()).await;
    assert_eq!(bounded("cancelled", m2.until_lost()).await, Lost::Closed);
    let previous = expected.clone();
    expected.pop();
    await_members(&mut stream, &previous, &expected).await;

    // Leave by dropping the membership.
    let m0 = memberships.pop().expect("m0");
    drop(m0);
    await_members(&mut stream, &expected.clone(), &[]).await;
    assert!(names(&observer.members_now().expect("listed")).is_empty());

    // A member's node deleted by someone else: its membership reports it.
    let m = bounded("join", groups[0].join(b"again", Some("worker")))
        .await
        .expect("join");
    await_members(&mut stream, &[], std::slice::from_ref(m.member())).await;
    let admin = connect(addr).await;
    admin.delete(m.path(), None).await.expect("delete");
    assert_eq!(
        bounded("cancelled", m.until_lost()).await,
        Lost::NodeDeleted
    );
    await_members(&mut stream, std::slice::from_ref(m.member()), &[]).await;

    // Bad labels are refused.
    assert_eq!(
        groups[0].join(b"", Some("a_b")).await.err(),
        Some(Error::BadArguments)
    );
    for group in groups.iter().chain([&observer]) {
        bounded("close group", group.close()).await;
    }
    assert_eq!(bounded("stream ends", stream.next()).await, None);
    admin.close().await.expect("close");
}

/// Reads the member stream until it shows `expected`; every set before must be
/// `previous` (nothing else in between).
async fn await_members(
    stream: &mut ferrokeeper_client::recipes::MemberStream,
    previous: &[Member],
    expected: &[Member],
) {
    bounded("member set", async {
        loop {
            let set = stream.next().await.expect("the member stream ended");
            if set == expected {
                return;
            }
            assert_eq!(
                set, previous,
                "unexpected member set (expecting {expected:?})"
            );
        }
    })
    .await;
}

/// Mutual exclusion: four clients increment a shared counter under the lock with an
/// unversioned read-then-write, so any overlap would lose an update; an in-process
/// holder count also checks that no two guards coexist. Then try_lock's timeout and
/// release by drop.
async fn lock_contention(server: &mut Server) {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 5;
    let addr = server.connect_string();
    let admin = connect(&addr).await;
    admin
        .create("/counter", b"0", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create counter");
    let holders = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = connect(&addr).await;
        let (holders, overlaps) = (holders.clone(), overlaps.clone());
        tasks.push(tokio::spawn(async move {
            let lock = Lock::new(&client, "/locks/counter").expect("lock");
            for _ in 0..ROUNDS {
                let guard = lock.lock().await.expect("lock");
                if holders.fetch_add(1, Ordering::SeqCst) != 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let (data, _) = client.get_data("/counter").await.expect("read");
                let n: u64 = std::str::from_utf8(&data)
                    .expect("utf-8")
                    .parse()
                    .expect("number");
                // Let the others run while we hold it.
                tokio::task::yield_now().await;
                client
                    .set_data("/counter", (n + 1).to_string().as_bytes(), None)
                    .await
                    .expect("write");
                assert_eq!(guard.lost(), None);
                holders.fetch_sub(1, Ordering::SeqCst);
                guard.unlock().await.expect("unlock");
            }
            client.close().await.expect("close");
        }));
    }
    for task in tasks {
        bounded("contender", task).await.expect("contender task");
    }
    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two holders at once");
    // The admin session may be on another member of an ensemble than the contenders'.
    admin.sync("/counter").await.expect("sync");
    let (data, stat) = admin.get_data("/counter").await.expect("read");
    assert_eq!(&data[..], (CLIENTS * ROUNDS).to_string().as_bytes());
    assert_eq!(stat.version as usize, CLIENTS * ROUNDS);
    assert_eq!(
        admin.get_children("/locks/counter").await,
        Ok(Vec::new()),
        "every lock node deleted"
    );

    // try_lock gives up while another holds the lock, and leaves no node behind.
    let a = connect(&addr).await;
    let b = connect(&addr).await;
    let lock_a = Lock::new(&a, "/locks/t").expect("lock");
    let lock_b = Lock::new(&b, "/locks/t").expect("lock");
    let held = bounded("lock", lock_a.lock()).await.expect("lock");
    assert!(held.path().starts_with("/locks/t/_c_") && held.path().contains("-lock-"));
    let none = bounded("try_lock", lock_b.try_lock(Duration::from_millis(300)))
        .await
        .expect("try_lock");
    assert!(none.is_none(), "acquired a held lock");
    // `b` deleted its abandoned node, perhaps through another member than `a`'s: sync
    // before reading it from `a` (a full CI run once saw 2 contenders here).
    a.sync("/locks/t").await.expect("sync");
    assert_eq!(
        lock_a.contenders().await.map(|c| c.len()),
        Ok(1),
        "the abandoned node is deleted"
    );
    // A waiter gets it when the holder's guard is dropped.
    let waiter = tokio::spawn(async move {
        let guard = lock_b.lock().await.expect("lock");
        let path = guard.path().to_owned();
        (guard, path)
    });
    // The waiter's node is queued behind the holder's before the holder lets go.
    bounded("waiter queued", async {
        while lock_a.contenders().await.map(|c| c.len()) != Ok(2) {
            let (_, watch) = a.get_children_w("/locks/t").await.expect("children");
            if lock_a.contenders().await.map(|c| c.len()) == Ok(2) {
                break;
            }
            let _ = watch.await;
        }
    })
    .await;
    drop(held);
    let (guard_b, path_b) = bounded("waiter", waiter).await.expect("waiter");
    assert_eq!(lock_a.contenders().await.map(|c| c.len()), Ok(1));
    assert!(
        lock_a
            .try_lock(Duration::from_millis(100))
            .await
            .expect("try")
            .is_none()
    );
    guard_b.unlock().await.expect("unlock");
    // `a` may be on another member of an ensemble than `b`: sync before reading b's
    // delete (ZooKeeper orders a session only against its own writes).
    a.sync(&path_b).await.expect("sync");
    assert_eq!(a.exists(&path_b).await, Ok(None));
    let again = bounded("try_lock", lock_a.try_lock(Duration::from_secs(5)))
        .await
        .expect("try_lock");
    assert!(again.is_some(), "a free lock is acquired at once");
    drop(again);
    for c in [a, b, admin] {
        c.close().await.expect("close");
    }
}

/// The holder's session expires: its guard reports the loss and the waiting contender
/// gets the lock.
async fn lock_session_expiry(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let holder = bounded("connect", builder().connect(&proxy.addr().to_string()))
        .await
        .expect("connect");
    let other = connect(addr).await;
    let guard = bounded("lock", Lock::new(&holder, "/locks/x").expect("lock").lock())
        .await
        .expect("lock");
    assert_eq!(guard.lost(), None);
    let lock = Lock::new(&other, "/locks/x").expect("lock");
    let waiter = tokio::spawn(async move { lock.lock().await });
    // Wait until the waiter is queued.
    bounded("waiter queued", async {
        loop {
            let (children, watch) = other.get_children_w("/locks/x").await.expect("children");
            if children.len() == 2 {
                break;
            }
            let _ = watch.await;
        }
    })
    .await;

    expire_behind(&proxy, &holder, addr).await;
    let acquired = bounded("the waiter acquires", waiter)
        .await
        .expect("task")
        .expect("lock");
    proxy.heal();
    assert_eq!(
        bounded("lost", guard.until_lost()).await,
        Lost::SessionExpired
    );
    assert_eq!(guard.lost(), Some(Lost::SessionExpired));
    guard
        .unlock()
        .await
        .expect("unlocking a lost lock is a no-op");
    assert_eq!(acquired.lost(), None);
    assert_eq!(other.get_children("/locks/x").await.map(|c| c.len()), Ok(1));
    acquired.unlock().await.expect("unlock");
    other.close().await.expect("close");
}

/// A latch whose session is closed from elsewhere while the client is kept away:
/// the others take over at once (prompt expiry, no waiting for the timeout).
async fn latch_prompt_expiry(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let c1 = bounded("connect", builder().connect(&proxy.addr().to_string()))
        .await
        .expect("connect");
    let clients = [connect(addr).await, connect(addr).await];
    let mut election = Election::new();
    let l1 = LeaderLatch::start(&c1, "/election/prompt", b"1")
        .await
        .expect("latch");
    let i1 = election.add(l1);
    election.until_leader(i1).await;
    let mut others = Vec::new();
    for (n, c) in clients.iter().enumerate() {
        let latch = LeaderLatch::start(c, "/election/prompt", n.to_string().as_bytes())
            .await
            .expect("latch");
        others.push(election.add(latch));
    }
    expire_behind(&proxy, &c1, addr).await;
    election.until_leader(others[0]).await;
    proxy.heal();
    let l1 = election.take(i1);
    assert_eq!(
        bounded("latch over", l1.await_leadership()).await,
        Err(Error::SessionExpired)
    );
    election.verdict();
    drop(election);
    for c in clients {
        c.close().await.expect("close");
    }
}

/// A proxy that drops the connection instead of passing on the reply to the first
/// create request whose path contains the armed marker: the server has applied the
/// create, the client sees a connection loss and reconnects (through the proxy, which
/// then forwards everything) to the same session. What a recipe must survive without
/// leaving a second node behind.
struct LoseCreateReply {
    addr: std::net::SocketAddr,
    marker: Arc<Mutex<Option<String>>>,
    dropped: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl LoseCreateReply {
    async fn start(target: std::net::SocketAddr) -> LoseCreateReply {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let marker: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let dropped = Arc::new(AtomicUsize::new(0));
        let (m, d) = (marker.clone(), dropped.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(Self::relay(client, server, m.clone(), d.clone()));
            }
        });
        LoseCreateReply {
            addr,
            marker,
            dropped,
            _task: task,
        }
    }

    /// Drops the reply to the next create of a path containing `marker`.
    fn arm(&self, marker: &str) {
        *self.marker.lock().expect("marker") = Some(marker.to_owned());
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }

    async fn relay(
        client: tokio::net::TcpStream,
        server: tokio::net::TcpStream,
        marker: Arc<Mutex<Option<String>>>,
        dropped: Arc<AtomicUsize>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut client_rx, mut client_tx) = client.into_split();
        let (mut server_rx, mut server_tx) = server.into_split();
        let doomed: Arc<Mutex<Option<i32>>> = Arc::new(Mutex::new(None));
        let doomed_up = doomed.clone();
        let up = async move {
            let mut first = true;
            loop {
                let mut len = [0u8; 4];
                if client_rx.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                if client_rx.read_exact(&mut body).await.is_err() {
                    return;
                }
                if !first && body.len() >= 12 {
                    let xid = i32::from_be_bytes(body[0..4].try_into().expect("4 bytes"));
                    let op = i32::from_be_bytes(body[4..8].try_into().expect("4 bytes"));
                    let path_len = i32::from_be_bytes(body[8..12].try_into().expect("4 bytes"));
                    let path = usize::try_from(path_len)
                        .ok()
                        .and_then(|n| body.get(12..12 + n))
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                        .unwrap_or_default();
                    // create, create2, createContainer, createTTL
                    if [1, 15, 19, 21].contains(&op) {
                        let mut armed = marker.lock().expect("marker");
                        if armed.as_deref().is_some_and(|m| path.contains(m)) {
                            *armed = None;
                            *doomed_up.lock().expect("doomed") = Some(xid);
                        }
                    }
                }
                first = false;
                if server_tx.write_all(&len).await.is_err()
                    || server_tx.write_all(&body).await.is_err()
                {
                    return;
                }
            }
        };
        let down = async move {
            let mut first = true;
            loop {
                let mut len = [0u8; 4];
                if server_rx.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                if server_rx.read_exact(&mut body).await.is_err() {
                    return;
                }
                if !first && body.len() >= 4 {
                    let xid = i32::from_be_bytes(body[0..4].try_into().expect("4 bytes"));
                    if *doomed.lock().expect("doomed") == Some(xid) {
                        dropped.fetch_add(1, Ordering::SeqCst);
                        // Hang up on the client: its reply is lost.
                        return;
                    }
                }
                first = false;
                if client_tx.write_all(&len).await.is_err()
                    || client_tx.write_all(&body).await.is_err()
                {
                    return;
                }
            }
        };
        // Either direction ending closes both.
        tokio::select! {
            _ = up => {}
            _ = down => {}
        }
    }
}

/// A create whose reply is lost with the connection, in every recipe: the latch and the
/// lock find their protected node again, the group finds its member among the
/// session's ephemerals; no second node is created.
async fn lost_create_replies(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = LoseCreateReply::start(server.addr()).await;
    let client = connect(&proxy.addr.to_string()).await;
    let observer = connect(addr).await;
    let session = client.session_id();
    let mut states = client.state_stream();
    assert_eq!(
        states.next().await,
        Some(ferrokeeper_client::SessionState::Connected)
    );

    proxy.arm("latch-");
    let latch = bounded("latch", LeaderLatch::start(&client, "/lost/latch", b"id"))
        .await
        .expect("latch");
    assert_eq!(proxy.dropped(), 1, "the create reply was not dropped");
    assert_eq!(
        bounded("disconnected", states.next()).await,
        Some(ferrokeeper_client::SessionState::Disconnected)
    );
    assert_eq!(client.session_id(), session, "the same session");
    // The observer may be on another member of an ensemble: it syncs before each read
    // of the client's writes.
    observer.sync("/lost/latch").await.expect("sync");
    let nodes = observer
        .get_children("/lost/latch")
        .await
        .expect("children");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(latch.node_path(), format!("/lost/latch/{}", nodes[0]));
    bounded("leadership", latch.await_leadership())
        .await
        .expect("leader");

    proxy.arm("lock-");
    let lock = Lock::new(&client, "/lost/lock").expect("lock");
    let guard = bounded("lock", lock.lock()).await.expect("lock");
    assert_eq!(proxy.dropped(), 2, "the create reply was not dropped");
    observer.sync("/lost/lock").await.expect("sync");
    let nodes = observer.get_children("/lost/lock").await.expect("children");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(guard.path(), format!("/lost/lock/{}", nodes[0]));
    assert_eq!(guard.lost(), None);

    observer
        .create(
            "/lost/group",
            b"",
            &open_acl_unsafe(),
            CreateMode::Persistent,
        )
        .await
        .expect("create the group");
    let group = Group::new(Sessions::fixed(client.clone()), "/lost/group").expect("group");
    proxy.arm("/lost/group/member_");
    let membership = bounded("join", group.join(b"data", Some("member")))
        .await
        .expect("join");
    assert_eq!(proxy.dropped(), 3, "the create reply was not dropped");
    observer.sync("/lost/group").await.expect("sync");
    let nodes = observer
        .get_children("/lost/group")
        .await
        .expect("children");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    assert_eq!(membership.member().name(), nodes[0]);
    assert_eq!(membership.lost(), None);
    let (_, stat) = observer.get_data(membership.path()).await.expect("member");
    assert_eq!(stat.ephemeral_owner, session);

    let mut ephemerals = observer
        .get_children("/lost/latch")
        .await
        .expect("children");
    ephemerals.extend(observer.get_children("/lost/lock").await.expect("children"));
    assert_eq!(ephemerals.len(), 2);
    guard.unlock().await.expect("unlock");
    latch.close().await.expect("close");
    assert_eq!(membership.cancel().await, Ok(true));
    group.close().await;
    client.close().await.expect("close");
    observer.close().await.expect("close");
}

/// Lock-checked writes: a multi from `checked_multi` commits while the lock is held,
/// and once the lock's node is gone (the lock lost) it fails at op 0 and writes nothing.
async fn lock_checked_writes(server: &mut Server) {
    let addr = server.connect_string();
    let client = connect(&addr).await;
    let other = connect(&addr).await;
    let guard = bounded(
        "lock",
        Lock::new(&client, "/locks/checked").expect("lock").lock(),
    )
    .await
    .expect("lock");
    let mut writes = guard.checked_multi();
    writes.create(
        "/checked-1",
        b"",
        &open_acl_unsafe(),
        CreateMode::Persistent,
    );
    let results = bounded("checked multi", writes.commit())
        .await
        .expect("commit while held");
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(client.exists("/checked-1").await.expect("exists").is_some());

    // Someone removes the lock's node: the lock is lost, and so is the right to write.
    other
        .delete(guard.path(), None)
        .await
        .expect("delete the lock node");
    let mut writes = guard.checked_multi();
    writes.create(
        "/checked-2",
        b"",
        &open_acl_unsafe(),
        CreateMode::Persistent,
    );
    match bounded("checked multi", writes.commit()).await {
        Err(ferrokeeper_client::MultiError::OpFailed {
            index: 0,
            error: Error::NoNode,
            ..
        }) => {}
        other => panic!("a lock-checked multi after the loss: {other:?}"),
    }
    assert!(client.exists("/checked-2").await.expect("exists").is_none());
    bounded("lost", guard.until_lost()).await;
    guard.unlock().await.expect("unlock");
    other.close().await.expect("close");
    client.close().await.expect("close");
}

/// The barrier: waiters on a raised barrier are released only once it is removed (by
/// another session), waiting on a lowered one returns at once, and setting or removing
/// twice is harmless. The node is Curator's: plain and persistent.
async fn barrier_releases_waiters(server: &mut Server) {
    use ferrokeeper_client::recipes::Barrier;
    use std::sync::atomic::AtomicBool;
    let addr = server.connect_string();
    let setter = connect(&addr).await;
    let barrier = Barrier::new(&setter, "/barriers/start").expect("barrier");
    bounded("wait on a lowered barrier", barrier.wait())
        .await
        .expect("not set: through at once");
    barrier.set().await.expect("set");
    barrier.set().await.expect("set again");
    let (_, stat) = setter
        .get_data("/barriers/start")
        .await
        .expect("the barrier's node");
    assert_eq!(stat.ephemeral_owner, 0, "a persistent node");

    let removed = Arc::new(AtomicBool::new(false));
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let client = connect(&addr).await;
        // The waiter's own session sees the raised barrier before it starts waiting
        // (on an ensemble it may be on another member than the setter).
        client.sync("/barriers/start").await.expect("sync");
        let removed = removed.clone();
        waiters.push(tokio::spawn(async move {
            let barrier = Barrier::new(&client, "/barriers/start").expect("barrier");
            barrier.wait().await.expect("wait");
            assert!(
                removed.load(Ordering::SeqCst),
                "a waiter went through a raised barrier"
            );
            client.close().await.expect("close");
        }));
    }
    let remover = connect(&addr).await;
    removed.store(true, Ordering::SeqCst);
    Barrier::new(&remover, "/barriers/start")
        .expect("barrier")
        .remove()
        .await
        .expect("remove");
    for waiter in waiters {
        bounded("a released waiter", waiter)
            .await
            .expect("waiter task");
    }
    barrier.remove().await.expect("remove again");
    assert_eq!(
        Barrier::new(&setter, "relative").err(),
        Some(Error::BadArguments)
    );
    remover.close().await.expect("close");
    setter.close().await.expect("close");
}

/// The counter: concurrent adds from several clients are all counted, and the node
/// holds Curator's DistributedAtomicLong format (8 bytes, big-endian).
async fn counter_adds_from_many_clients(server: &mut Server) {
    use ferrokeeper_client::recipes::Counter;
    const CLIENTS: usize = 4;
    const ADDS: usize = 25;
    let addr = server.connect_string();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = connect(&addr).await;
        tasks.push(tokio::spawn(async move {
            let counter = Counter::new(&client, "/counters/hits").expect("counter");
            for _ in 0..ADDS {
                counter.add(1).await.expect("add");
            }
            client.close().await.expect("close");
        }));
    }
    for task in tasks {
        bounded("adder", task).await.expect("adder task");
    }
    let client = connect(&addr).await;
    // On an ensemble this session may be on a member still applying the last adds.
    client.sync("/counters/hits").await.expect("sync");
    let counter = Counter::new(&client, "/counters/hits").expect("counter");
    assert_eq!(counter.get().await.expect("get"), (CLIENTS * ADDS) as i64);
    let (data, _) = client.get_data("/counters/hits").await.expect("read");
    assert_eq!(&data[..], &((CLIENTS * ADDS) as i64).to_be_bytes());
    assert_eq!(counter.add(-100).await.expect("add"), 0);
    assert_eq!(counter.set(-7).await.expect("set"), -7);
    assert_eq!(
        Counter::new(&client, "/counters/none")
            .expect("counter")
            .get()
            .await
            .expect("get"),
        0
    );
    client.close().await.expect("close");
}

// Each recipe against a fresh ferrokeeper and ZooKeeper 3.8, and against 3-member
// ensembles of both (clients given every member).
ferrokeeper_tests::against_servers_and_ensembles!(
    barrier_releases_waiters,
    counter_adds_from_many_clients,
    lock_checked_writes,
    latch_election,
    latch_prompt_expiry,
    mesos_election,
    group_membership,
    lock_contention,
    lock_session_expiry,
    lost_create_replies,
);
