//! The `ferrokeeper-client` crate against a real `ferrokeeper` and a real ZooKeeper 3.8:
//! one suite, run against each server.

use std::future::Future;
use std::time::Duration;

use ferrokeeper_client::{Client, CreateMode, Error, EventType, KeeperState, open_acl_unsafe};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::zookeeper::RealZooKeeper;

/// The bound on any single step of the suite.
const STEP: Duration = Duration::from_secs(20);

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STEP, fut).await {
        Ok(value) => value,
        Err(_) => panic!("{what} did not complete within {STEP:?}"),
    }
}

async fn connect(addr: &str) -> Client {
    bounded(
        "connect",
        Client::builder()
            .session_timeout(Duration::from_secs(10))
            .connection_timeout(Duration::from_secs(10))
            .connect(addr),
    )
    .await
    .expect("connect")
}

async fn crud_and_errors(addr: &str) {
    let c = connect(addr).await;
    assert!(c.session_id() != 0);
    assert!(c.session_timeout() > Duration::ZERO);
    let acl = open_acl_unsafe();

    let (path, stat) = c
        .create("/crud", b"one", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(path, "/crud");
    assert_eq!((stat.version, stat.data_length), (0, 3));

    assert_eq!(
        c.create("/crud", b"", &acl, CreateMode::Persistent).await,
        Err(Error::NodeExists)
    );
    assert_eq!(
        c.create("/missing/child", b"", &acl, CreateMode::Persistent)
            .await,
        Err(Error::NoNode)
    );

    let (data, got) = c.get_data("/crud").await.expect("get_data");
    assert_eq!(&data[..], b"one");
    assert_eq!(got, stat);
    assert_eq!(c.get_data("/nope").await, Err(Error::NoNode));

    let set = c
        .set_data("/crud", b"two", Some(0))
        .await
        .expect("set_data v0");
    assert_eq!(set.version, 1);
    assert_eq!(
        c.set_data("/crud", b"three", Some(0)).await,
        Err(Error::BadVersion)
    );
    assert_eq!(c.set_data("/nope", b"", None).await, Err(Error::NoNode));
    let set = c.set_data("/crud", b"", None).await.expect("set_data any");
    assert_eq!((set.version, set.data_length), (2, 0));

    assert_eq!(c.exists("/nope").await, Ok(None));
    let exists = c.exists("/crud").await.expect("exists").expect("present");
    assert_eq!(exists.version, 2);

    c.create("/crud/kid", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create kid");
    assert_eq!(c.delete("/crud", None).await, Err(Error::NotEmpty));
    assert_eq!(c.delete("/crud/kid", Some(7)).await, Err(Error::BadVersion));
    assert_eq!(c.delete("/nope", None).await, Err(Error::NoNode));
    c.delete("/crud/kid", Some(0)).await.expect("delete kid");
    c.delete("/crud", Some(2)).await.expect("delete");
    assert_eq!(c.exists("/crud").await, Ok(None));

    // NoAuth: a node only its creator's (digest-less world) identity may not write.
    c.create(
        "/readonly",
        b"",
        &ferrokeeper_client::read_acl_unsafe(),
        CreateMode::Persistent,
    )
    .await
    .expect("create read-only node");
    assert_eq!(
        c.set_data("/readonly", b"x", None).await,
        Err(Error::NoAuth)
    );
    assert_eq!(c.get_data("/readonly").await.map(|(d, _)| d.len()), Ok(0));

    // Sequential names.
    let (seq, _) = c
        .create("/seq-", b"", &acl, CreateMode::PersistentSequential)
        .await
        .expect("sequential");
    assert!(
        seq.starts_with("/seq-") && seq.len() == "/seq-".len() + 10,
        "{seq}"
    );

    // Client-side rejection of a path that is not one.
    assert_eq!(c.exists("relative").await, Err(Error::BadArguments));

    c.close().await.expect("close");
}

async fn children(addr: &str) {
    let c = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/kids", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(c.get_children("/kids").await, Ok(vec![]));
    for name in ["a", "b", "c"] {
        c.create(&format!("/kids/{name}"), b"", &acl, CreateMode::Persistent)
            .await
            .expect("create child");
    }
    let mut names = c.get_children("/kids").await.expect("children");
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(c.get_children("/nope").await, Err(Error::NoNode));
    c.close().await.expect("close");
}

async fn data_watch(addr: &str) {
    let c = connect(addr).await;
    let other = connect(addr).await;
    c.create(
        "/watched",
        b"v1",
        &open_acl_unsafe(),
        CreateMode::Persistent,
    )
    .await
    .expect("create");
    let (data, stat, watch) = c.get_data_w("/watched").await.expect("get_data_w");
    assert_eq!(&data[..], b"v1");
    other
        .set_data("/watched", b"v2", Some(stat.version))
        .await
        .expect("set from the other client");
    let event = bounded("data watch", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(event.keeper_state, KeeperState::SyncConnected);
    assert_eq!(event.path, "/watched");

    // A data watch also fires on delete.
    let (_, _, watch) = c.get_data_w("/watched").await.expect("get_data_w");
    other.delete("/watched", None).await.expect("delete");
    let event = bounded("data watch on delete", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDeleted);

    // getData on a missing node fails and leaves no watch.
    assert!(matches!(c.get_data_w("/watched").await, Err(Error::NoNode)));
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn child_watch(addr: &str) {
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/parent", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let (kids, watch) = c.get_children_w("/parent").await.expect("get_children_w");
    assert!(kids.is_empty());
    // A data change on the parent must not fire a child watch; the create after it does.
    other
        .set_data("/parent", b"x", None)
        .await
        .expect("set parent");
    other
        .create("/parent/kid", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create kid");
    let event = bounded("child watch", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
    assert_eq!(event.path, "/parent");
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn exists_watch(addr: &str) {
    let c = connect(addr).await;
    let other = connect(addr).await;
    let (stat, watch) = c.exists_w("/later").await.expect("exists_w");
    assert_eq!(stat, None);
    other
        .create("/later", b"", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create");
    let event = bounded("exists watch", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeCreated);
    assert_eq!(event.path, "/later");

    let (stat, watch) = c.exists_w("/later").await.expect("exists_w");
    assert!(stat.is_some());
    other.set_data("/later", b"y", None).await.expect("set");
    let event = bounded("exists watch on change", watch)
        .await
        .expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn many_in_flight(addr: &str) {
    let c = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/many", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let creates: Vec<_> = (0..50u8)
        .map(|i| {
            let c = c.clone();
            let acl = acl.clone();
            tokio::spawn(async move {
                c.create(
                    &format!("/many/n{i:02}"),
                    &[i],
                    &acl,
                    CreateMode::Persistent,
                )
                .await
            })
        })
        .collect();
    for (i, task) in creates.into_iter().enumerate() {
        let result = bounded("create in flight", task).await.expect("task");
        let (path, stat) = result.expect("create in flight");
        assert_eq!(path, format!("/many/n{i:02}"));
        assert_eq!(stat.data_length, 1);
    }
    // Concurrent reads, each matched to its own reply.
    let reads: Vec<_> = (0..50u8)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move { c.get_data(&format!("/many/n{i:02}")).await })
        })
        .collect();
    for (i, task) in (0..50u8).zip(reads) {
        let read = bounded("read in flight", task).await.expect("task");
        assert_eq!(&read.expect("read").0[..], &[i]);
    }
    let mut names = c.get_children("/many").await.expect("children");
    names.sort();
    let expected: Vec<String> = (0..50).map(|i| format!("n{i:02}")).collect();
    assert_eq!(names, expected);
    c.close().await.expect("close");
}

async fn close_removes_ephemeral(addr: &str) {
    let owner = connect(addr).await;
    let observer = connect(addr).await;
    let (_, stat) = owner
        .create("/eph", b"", &open_acl_unsafe(), CreateMode::Ephemeral)
        .await
        .expect("create ephemeral");
    assert_eq!(
        stat.ephemeral_owner,
        owner.session_id(),
        "owned by the creating session"
    );
    let (_, watch) = observer.exists_w("/eph").await.expect("exists_w");
    bounded("close", owner.close()).await.expect("close");
    // closeSession is answered after the ephemeral is gone.
    assert_eq!(observer.exists("/eph").await, Ok(None));
    let event = bounded("ephemeral delete watch", watch)
        .await
        .expect("event");
    assert_eq!(event.event_type, EventType::NodeDeleted);
    // The closed client refuses further work; closing again is harmless.
    assert_eq!(owner.exists("/").await, Err(Error::Closed));
    assert_eq!(owner.close().await, Ok(()));
    observer.close().await.expect("close");
}

async fn suite(addr: &str) {
    crud_and_errors(addr).await;
    children(addr).await;
    data_watch(addr).await;
    child_watch(addr).await;
    exists_watch(addr).await;
    many_in_flight(addr).await;
    close_removes_ephemeral(addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_suite_against_ferrokeeper() {
    let server = Ferrokeeper::start(&[]);
    suite(&server.connect_string()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_suite_against_zookeeper() {
    let server = tokio::task::spawn_blocking(|| RealZooKeeper::start(&[], &[]))
        .await
        .expect("start ZooKeeper");
    suite(&server.connect_string()).await;
}
