//! The client crate's tree cache (`ferrokeeper_client::recipes::TreeCache`) against a
//! real `ferrokeeper` and a real ZooKeeper 3.8 (which sends no zxid with watch events,
//! so every event is read back): one suite of scenarios, each run against a fresh
//! server of each kind (the `against_ferrokeeper` and `against_zookeeper` modules at
//! the end).
//!
//! The cache's client reaches the server through a [`FaultProxy`], whose `reset` cuts
//! its connection; changes are made meanwhile by another client, so "changed while
//! disconnected" is not left to timing.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_client::recipes::{CachedNode, Lost, TreeCache, TreeCacheEvent, TreeCacheEvents};
use ferrokeeper_client::{Client, ClientBuilder, CreateMode, Error, SessionState, open_acl_unsafe};
use ferrokeeper_tests::either::TestServer as Server;
use ferrokeeper_tests::proxy::FaultProxy;
use futures::StreamExt;

/// The bound on any single step of the suite.
const STEP: Duration = Duration::from_secs(30);

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    ferrokeeper_tests::either::bounded(what, STEP, fut).await
}

fn builder() -> ClientBuilder {
    Client::builder()
        .session_timeout(Duration::from_secs(10))
        .connection_timeout(Duration::from_secs(10))
}

async fn connect(addr: &str) -> Client {
    bounded("connect", builder().connect(addr))
        .await
        .expect("connect")
}

/// An event as (kind, path, data, version), to compare with what is expected.
fn brief(event: &TreeCacheEvent) -> (&'static str, String, String, i32) {
    let text = |n: &CachedNode| String::from_utf8_lossy(&n.data).into_owned();
    match event {
        TreeCacheEvent::Created { path, node } => {
            ("created", path.clone(), text(node), node.stat.version)
        }
        TreeCacheEvent::Updated { path, node, .. } => {
            ("updated", path.clone(), text(node), node.stat.version)
        }
        TreeCacheEvent::Deleted { path, node } => {
            ("deleted", path.clone(), text(node), node.stat.version)
        }
        TreeCacheEvent::Initialized => ("initialized", String::new(), String::new(), 0),
        TreeCacheEvent::Lost(lost) => ("lost", format!("{lost:?}"), String::new(), 0),
        other => panic!("unexpected event {other:?}"),
    }
}

fn ev(
    kind: &'static str,
    path: &str,
    data: &str,
    version: i32,
) -> (&'static str, String, String, i32) {
    (kind, path.to_owned(), data.to_owned(), version)
}

async fn next(events: &mut TreeCacheEvents) -> (&'static str, String, String, i32) {
    let event = bounded("tree cache event", events.next())
        .await
        .expect("the event stream ended early");
    brief(&event)
}

/// Cuts `client` off through `proxy` and waits until it knows.
async fn cut(proxy: &FaultProxy, states: &mut ferrokeeper_client::StateStream) {
    proxy.reset();
    loop {
        match bounded("disconnect", states.next()).await {
            Some(SessionState::Disconnected) => return,
            Some(_) => {}
            None => panic!("the session ended"),
        }
    }
}

async fn until_connected(states: &mut ferrokeeper_client::StateStream) {
    loop {
        match bounded("reconnect", states.next()).await {
            Some(state) if state.is_connected() => return,
            Some(_) => {}
            None => panic!("the session ended"),
        }
    }
}

/// The initial load, then each kind of change in order, then changes made while the
/// cache's client was cut off (reported after the reconnect), then expiry.
async fn event_stream(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let c = connect(&proxy.addr().to_string()).await;
    let w = connect(addr).await;
    let acl = open_acl_unsafe();
    for (path, data) in [("/tc", "r"), ("/tc/a", "1")] {
        w.create(path, data.as_bytes(), &acl, CreateMode::Persistent)
            .await
            .expect("create");
    }
    assert_eq!(TreeCache::start(&c, "tc").err(), Some(Error::BadArguments));
    let (cache, mut events) = TreeCache::start(&c, "/tc").expect("start");
    bounded("initial load", cache.initialized())
        .await
        .expect("initialized");
    assert!(cache.is_initialized());
    assert_eq!(next(&mut events).await, ev("created", "/tc", "r", 0));
    assert_eq!(next(&mut events).await, ev("created", "/tc/a", "1", 0));
    assert_eq!(next(&mut events).await, ev("initialized", "", "", 0));
    assert_eq!(cache.children("/tc"), ["a"]);

    // One change at a time, each awaited: with ZooKeeper 3.8 the cache reads every
    // node back, and a read after two quick changes would see only the second.
    w.set_data("/tc/a", b"2", None).await.expect("set");
    assert_eq!(next(&mut events).await, ev("updated", "/tc/a", "2", 1));
    w.create("/tc/b", b"x", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(next(&mut events).await, ev("created", "/tc/b", "x", 0));
    w.create("/tc/b/c", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(next(&mut events).await, ev("created", "/tc/b/c", "", 0));
    w.delete("/tc/b/c", None).await.expect("delete");
    assert_eq!(next(&mut events).await, ev("deleted", "/tc/b/c", "", 0));
    w.delete("/tc/a", None).await.expect("delete");
    assert_eq!(next(&mut events).await, ev("deleted", "/tc/a", "2", 1));
    // A node outside the subtree (a string prefix of it) is not cached.
    w.create("/tcx", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    w.set_data("/tc", b"r2", None).await.expect("set");
    assert_eq!(next(&mut events).await, ev("updated", "/tc", "r2", 1));
    assert_eq!(cache.get("/tcx"), None);
    assert_eq!(cache.children("/tc"), ["b"]);
    assert_eq!(
        cache.get("/tc/b").map(|n| n.data),
        Some(Bytes::from_static(b"x"))
    );

    // Changed while the cache's client is cut off: reported after the reconnect, by
    // the reload (deletions first, then the rest parents first).
    let mut states = c.state_stream();
    cut(&proxy, &mut states).await;
    w.set_data("/tc/b", b"y", None).await.expect("set");
    w.create("/tc/d", b"new", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    w.delete("/tc/b", None).await.expect("delete");
    w.create("/tc/b", b"again", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    proxy.heal();
    until_connected(&mut states).await;
    assert_eq!(next(&mut events).await, ev("deleted", "/tc/b", "x", 0));
    assert_eq!(next(&mut events).await, ev("created", "/tc/b", "again", 0));
    assert_eq!(next(&mut events).await, ev("created", "/tc/d", "new", 0));
    assert_eq!(cache.children("/tc"), ["b", "d"]);

    // Expiry: the stream says so and ends; the view stays as last known.
    proxy.reset();
    loop {
        match bounded("disconnect", states.next()).await {
            Some(SessionState::Disconnected) => break,
            Some(_) => {}
            None => panic!("the session ended"),
        }
    }
    let thief = bounded("connect", builder().session(c.session_info()).connect(addr))
        .await
        .expect("resume the session elsewhere");
    thief.close().await.expect("close the session");
    proxy.heal();
    assert_eq!(next(&mut events).await, ev("lost", "SessionExpired", "", 0));
    assert_eq!(bounded("end of events", events.next()).await, None);
    assert_eq!(cache.lost(), Some(Lost::SessionExpired));
    assert_eq!(cache.children("/tc"), ["b", "d"]);
    drop(cache);
    w.close().await.expect("close");
}

/// A small LCG (Knuth's MMIX constants): the test's randomness, from a fixed seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// The paths the random writer works on: a tree three levels deep under `/cc`.
fn random_path(rng: &mut Lcg) -> String {
    let mut path = "/cc".to_owned();
    for _ in 0..=rng.below(3) {
        path.push('/');
        path.push(char::from(b'a' + rng.below(3) as u8));
    }
    path
}

/// One random change: create (parent permitting), set, or delete (if childless).
async fn random_change(client: &Client, rng: &mut Lcg, n: u64) {
    let path = random_path(rng);
    let data = format!("v{n}");
    let result = match rng.below(3) {
        0 => client
            .create(
                &path,
                data.as_bytes(),
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .map(drop),
        1 => client
            .set_data(&path, data.as_bytes(), None)
            .await
            .map(drop),
        _ => client.delete(&path, None).await,
    };
    match result {
        Ok(()) | Err(Error::NoNode | Error::NodeExists | Error::NotEmpty) => {}
        Err(e) => panic!("change of {path}: {e}"),
    }
}

/// What the comparison looks at: data, version and the zxids of every node.
type Tree = BTreeMap<String, (Bytes, i32, i64, i64)>;

fn tree_of(nodes: &BTreeMap<String, CachedNode>) -> Tree {
    nodes
        .iter()
        .map(|(p, n)| {
            (
                p.clone(),
                (n.data.clone(), n.stat.version, n.stat.czxid, n.stat.mzxid),
            )
        })
        .collect()
}

/// The server's subtree under `root`, read directly.
async fn server_tree(client: &Client, root: &str) -> Tree {
    let mut tree = Tree::new();
    let mut todo = vec![root.to_owned()];
    while let Some(path) = todo.pop() {
        let (data, stat) = match client.get_data(&path).await {
            Ok(read) => read,
            Err(Error::NoNode) => continue,
            Err(e) => panic!("read {path}: {e}"),
        };
        tree.insert(path.clone(), (data, stat.version, stat.czxid, stat.mzxid));
        match client.get_children(&path).await {
            Ok(children) => todo.extend(children.iter().map(|c| format!("{path}/{c}"))),
            Err(Error::NoNode) => {}
            Err(e) => panic!("list {path}: {e}"),
        }
    }
    tree
}

/// The view an event stream describes, replayed from nothing; checks that each event
/// fits what came before it (no creation of a node held, no update or deletion of one
/// not held, updates only forward in mzxid).
fn replay(into: &mut BTreeMap<String, CachedNode>, event: TreeCacheEvent) {
    match event {
        TreeCacheEvent::Created { path, node } => {
            assert!(
                into.insert(path.clone(), node).is_none(),
                "created twice: {path}"
            );
        }
        TreeCacheEvent::Updated { path, old, node } => {
            assert!(node.stat.mzxid > old.stat.mzxid, "update backwards: {path}");
            let held = into.insert(path.clone(), node);
            assert_eq!(held, Some(old), "update of a node not held as such: {path}");
        }
        TreeCacheEvent::Deleted { path, node } => {
            assert_eq!(into.remove(&path), Some(node), "deleted unheld: {path}");
        }
        TreeCacheEvent::Initialized => {}
        other => panic!("unexpected event {other:?}"),
    }
}

/// A seeded random sequence of creates, sets and deletes under the cache's root from
/// another client, while the cache's connection is cut again and again (with more
/// changes made during each cut); afterwards the cache's view (and the view its
/// events describe) equals the server's subtree.
async fn consistency(server: &mut Server) {
    const CHANGES: u64 = 600;
    const CUTS: usize = 8;
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let c = connect(&proxy.addr().to_string()).await;
    let w = connect(addr).await;
    w.create("/cc", b"root", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create");
    let mut seeded = Lcg(0x5eed);
    for n in 0..100 {
        random_change(&w, &mut seeded, n).await;
    }
    let mut states = c.state_stream();
    let (cache, mut events) = TreeCache::start(&c, "/cc").expect("start");

    // The writer runs on its own client while this task cuts the cache's connection.
    let writer = {
        let w = w.clone();
        tokio::spawn(async move {
            let mut rng = Lcg(0x1234_5678);
            for n in 0..CHANGES {
                random_change(&w, &mut rng, 1000 + n).await;
            }
        })
    };
    let mut pace = Lcg(42);
    let mut during = Lcg(0xcafe);
    for cut_no in 0..CUTS {
        // Pacing only (where in the writer's sequence the cut lands), not a wait for
        // anything: every wait below is on an event. The first cut comes at once, while
        // the cache arms its watch and loads.
        if cut_no > 0 {
            tokio::time::sleep(Duration::from_millis(20 + pace.below(150))).await;
        }
        cut(&proxy, &mut states).await;
        for n in 0..5 {
            random_change(&w, &mut during, 10_000 * (cut_no as u64 + 1) + n).await;
        }
        proxy.heal();
        until_connected(&mut states).await;
    }
    bounded("writer", writer).await.expect("writer");
    bounded("initial load", cache.initialized())
        .await
        .expect("initialized");

    // The writer has stopped: wait (bounded) for the cache to catch up, draining its
    // events into a replayed view meanwhile.
    let expected = server_tree(&w, "/cc").await;
    assert!(
        expected.len() > 10,
        "the random changes built a tree: {expected:?}"
    );
    let mut replayed = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + STEP;
    let mut count = 0usize;
    loop {
        while let Ok(Some(event)) = tokio::time::timeout(Duration::ZERO, events.next()).await {
            count += 1;
            replay(&mut replayed, event);
        }
        if tree_of(&cache.snapshot()) == expected && tree_of(&replayed) == expected {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cache did not converge:\n cache {:?}\n server {expected:?}",
            tree_of(&cache.snapshot())
        );
        // The next event, or a moment (the view may already be right while its events
        // are still being sent).
        if let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_millis(100), events.next()).await
        {
            count += 1;
            replay(&mut replayed, event);
        }
    }
    assert!(
        count > expected.len(),
        "events after the initial load: {count}"
    );
    assert!(
        proxy.accepted() > CUTS as u64,
        "every cut made the client reconnect"
    );
    assert_eq!(cache.lost(), None);
    drop(cache);
    w.close().await.expect("close");
    c.close().await.expect("close");
}

ferrokeeper_tests::against_both_servers!(event_stream, consistency);
