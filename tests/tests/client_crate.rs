//! The `ferrokeeper-client` crate against a real `ferrokeeper` and a real ZooKeeper 3.8:
//! one suite of scenarios, each run against a fresh server of each kind (the
//! `against_ferrokeeper` and `against_zookeeper` modules at the end).
//!
//! Both servers run with `zookeeper.extendedTypesEnabled=true` (TTL nodes). Scenarios
//! that take a client off the network do it with a [`FaultProxy`] between that client and
//! the server, so "changed while disconnected" is not left to timing.

use std::future::Future;
use std::time::Duration;

use ferrokeeper_client::{
    AddWatchMode, CONFIG_NODE, Client, ClientBuilder, CreateMode, EnsembleConfig, Error, EventType,
    KeeperState, MultiError, OpResult, PersistentWatch, ReadResult, SessionState, WatcherType,
    creator_all_acl, open_acl_unsafe, perms,
};
use ferrokeeper_tests::proxy::FaultProxy;
use futures::StreamExt;

/// The bound on any single step of the suite.
const STEP: Duration = Duration::from_secs(20);

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

use ferrokeeper_tests::either::TestServer as Server;

/// The next event of a persistent watch, as (type, state, path).
async fn next_event(watch: &mut PersistentWatch) -> (EventType, KeeperState, String) {
    let event = bounded("persistent watch event", watch.next())
        .await
        .expect("the stream ended early");
    (event.event_type, event.keeper_state, event.path)
}

/// A node event as [`next_event`] reports it.
fn node(event_type: EventType, path: &str) -> (EventType, KeeperState, String) {
    (event_type, KeeperState::SyncConnected, path.to_owned())
}

/// A session event as [`next_event`] reports it.
fn session(state: KeeperState) -> (EventType, KeeperState, String) {
    (EventType::None, state, String::new())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

async fn crud_and_errors(server: &mut Server) {
    let addr = &server.connect_string();
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

async fn children(server: &mut Server) {
    let addr = &server.connect_string();
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

async fn data_watch(server: &mut Server) {
    let addr = &server.connect_string();
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
    let set = other
        .set_data("/watched", b"v2", Some(stat.version))
        .await
        .expect("set from the other client");
    let event = bounded("data watch", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(event.keeper_state, KeeperState::SyncConnected);
    assert_eq!(event.path, "/watched");
    // ferrokeeper sends the change's zxid (as ZooKeeper 3.9 does); 3.8 sends none.
    let want = server.is_ferrokeeper().then_some(set.mzxid);
    assert_eq!(event.zxid, want);

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

async fn child_watch(server: &mut Server) {
    let addr = &server.connect_string();
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

async fn exists_watch(server: &mut Server) {
    let addr = &server.connect_string();
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

async fn many_in_flight(server: &mut Server) {
    let addr = &server.connect_string();
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

async fn close_removes_ephemeral(server: &mut Server) {
    let addr = &server.connect_string();
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
    // Another session may be on another member of an ensemble: it syncs before it
    // reads what the owner did (ZooKeeper guarantees no more across sessions).
    observer.sync("/eph").await.expect("sync");
    let (_, watch) = observer.exists_w("/eph").await.expect("exists_w");
    bounded("close", owner.close()).await.expect("close");
    assert_eq!(owner.state(), SessionState::Closed);
    // closeSession is answered after the ephemeral is gone.
    observer.sync("/eph").await.expect("sync");
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

async fn create_modes(server: &mut Server) {
    let c = connect(&server.connect_string()).await;
    let acl = open_acl_unsafe();
    let (path, stat) = c
        .create("/es-", b"", &acl, CreateMode::EphemeralSequential)
        .await
        .expect("ephemeral sequential");
    assert!(
        path.starts_with("/es-") && path.len() == "/es-".len() + 10,
        "{path}"
    );
    assert_eq!(stat.ephemeral_owner, c.session_id());

    c.create("/eph", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("ephemeral");
    assert_eq!(
        c.create("/eph/kid", b"", &acl, CreateMode::Persistent)
            .await,
        Err(Error::NoChildrenForEphemerals)
    );

    let (path, stat) = c
        .create("/ctr", b"c", &acl, CreateMode::Container)
        .await
        .expect("container");
    assert_eq!(path, "/ctr");
    assert_eq!((stat.ephemeral_owner, stat.data_length), (0, 1));
    c.create("/ctr/kid", b"", &acl, CreateMode::Persistent)
        .await
        .expect("child of a container");
    assert_eq!(c.get_children("/ctr").await, Ok(vec!["kid".to_owned()]));

    let ttl = Duration::from_secs(60);
    let (path, stat) = c
        .create_ttl("/ttl", b"t", &acl, CreateMode::PersistentWithTtl, ttl)
        .await
        .expect("TTL node");
    assert_eq!(path, "/ttl");
    assert_eq!(stat.ephemeral_owner, 0, "TTL nodes show no owner");
    assert_eq!(c.get_data("/ttl").await.map(|(d, _)| d), Ok("t".into()));
    let (path, _) = c
        .create_ttl(
            "/ttls-",
            b"",
            &acl,
            CreateMode::PersistentSequentialWithTtl,
            ttl,
        )
        .await
        .expect("sequential TTL node");
    assert!(
        path.starts_with("/ttls-") && path.len() == "/ttls-".len() + 10,
        "{path}"
    );

    // Refused by the client before anything is sent.
    assert_eq!(
        c.create("/x", b"", &acl, CreateMode::PersistentWithTtl)
            .await,
        Err(Error::BadArguments)
    );
    assert_eq!(
        c.create_ttl("/x", b"", &acl, CreateMode::Persistent, ttl)
            .await,
        Err(Error::BadArguments)
    );
    assert_eq!(
        c.create_ttl(
            "/x",
            b"",
            &acl,
            CreateMode::PersistentWithTtl,
            Duration::ZERO
        )
        .await,
        Err(Error::BadArguments)
    );
    // Refused by the server.
    assert_eq!(
        c.create("/noacl", b"", &[], CreateMode::Persistent).await,
        Err(Error::InvalidAcl)
    );
    // Paths are checked after the parent: an invalid name under an existing parent.
    assert_eq!(
        c.create("/ctr/.", b"", &acl, CreateMode::Persistent).await,
        Err(Error::BadArguments)
    );
    assert_eq!(
        c.create("/missing//x", b"", &acl, CreateMode::Persistent)
            .await,
        Err(Error::NoNode)
    );
    assert_eq!(
        c.create("/", b"", &acl, CreateMode::Persistent).await,
        Err(Error::NodeExists)
    );
    c.close().await.expect("close");
}

async fn children2_and_counts(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();
    for path in ["/p2", "/p2/a", "/p2/b", "/p2/b/c"] {
        c.create(path, b"", &acl, CreateMode::Persistent)
            .await
            .expect("create");
    }
    let (kids, stat) = c.get_children2("/p2").await.expect("get_children2");
    assert_eq!(sorted(kids), ["a", "b"]);
    assert_eq!((stat.num_children, stat.cversion), (2, 2));
    assert_eq!(c.get_children2("/nope").await, Err(Error::NoNode));
    assert_eq!(c.get_all_children_number("/p2").await, Ok(3));
    assert_eq!(c.get_all_children_number("/p2/b/c").await, Ok(0));
    assert_eq!(c.get_all_children_number("/nope").await, Err(Error::NoNode));

    let (_, _, watch) = c.get_children2_w("/p2").await.expect("get_children2_w");
    other.delete("/p2/a", None).await.expect("delete");
    let event = bounded("child watch", watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeChildrenChanged, "/p2")
    );
    assert_eq!(c.get_all_children_number("/p2").await, Ok(2));
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn acl_and_auth(server: &mut Server) {
    let addr = &server.connect_string();
    let alice = bounded(
        "connect",
        builder().digest_auth("alice", "pw").connect(addr),
    )
    .await
    .expect("connect as alice");
    let anon = connect(addr).await;

    alice
        .create("/secret", b"s", &creator_all_acl(), CreateMode::Persistent)
        .await
        .expect("create a protected node");
    // Each session may be on another member of an ensemble: one syncs before it reads
    // what another wrote (ZooKeeper guarantees no more across sessions).
    anon.sync("/secret").await.expect("sync");
    assert_eq!(anon.get_data("/secret").await.err(), Some(Error::NoAuth));
    assert_eq!(
        anon.set_data("/secret", b"x", None).await.err(),
        Some(Error::NoAuth)
    );
    assert_eq!(anon.get_acl("/secret").await.err(), Some(Error::NoAuth));
    assert_eq!(
        anon.create(
            "/secret/kid",
            b"",
            &open_acl_unsafe(),
            CreateMode::Persistent
        )
        .await,
        Err(Error::NoAuth)
    );

    let (acl, stat) = alice.get_acl("/secret").await.expect("get_acl");
    assert_eq!(acl.len(), 1, "{acl:?}");
    assert_eq!(
        (acl[0].perms, acl[0].id.scheme.as_str()),
        (perms::ALL, "digest")
    );
    // user:base64(sha1(user:password)), 28 characters of base64.
    assert!(
        acl[0].id.id.starts_with("alice:") && acl[0].id.id.len() == "alice:".len() + 28,
        "{acl:?}"
    );
    assert_eq!(stat.aversion, 0);
    assert_eq!(alice.get_acl("/nope").await.err(), Some(Error::NoNode));

    let mut shared_acl = acl.clone();
    shared_acl.extend(ferrokeeper_client::read_acl_unsafe());
    assert_eq!(
        alice.set_acl("/secret", &shared_acl, Some(7)).await,
        Err(Error::BadVersion)
    );
    let stat = alice
        .set_acl("/secret", &shared_acl, Some(0))
        .await
        .expect("set_acl");
    assert_eq!(stat.aversion, 1);
    assert_eq!(
        alice.get_acl("/secret").await.map(|(a, _)| a),
        Ok(shared_acl)
    );
    // Alice's setACL may not have reached anon's server yet (another session, maybe
    // another member of an ensemble): sync first, as ZooKeeper requires.
    anon.sync("/secret").await.expect("sync");
    assert_eq!(
        anon.get_data("/secret").await.map(|(d, _)| d),
        Ok("s".into())
    );
    assert_eq!(
        anon.set_data("/secret", b"x", None).await.err(),
        Some(Error::NoAuth)
    );
    assert_eq!(
        anon.set_acl("/secret", &open_acl_unsafe(), None).await,
        Err(Error::NoAuth),
        "setACL needs ADMIN"
    );
    assert_eq!(
        alice.set_acl("/secret", &[], None).await,
        Err(Error::InvalidAcl)
    );
    assert_eq!(
        anon.create("/mine", b"", &creator_all_acl(), CreateMode::Persistent)
            .await,
        Err(Error::InvalidAcl),
        "the auth scheme needs an authenticated id"
    );

    let who = alice.whoami().await.expect("whoami");
    let who: Vec<(String, String)> = who.into_iter().map(|i| (i.auth_scheme, i.user)).collect();
    assert!(who.contains(&("digest".into(), "alice".into())), "{who:?}");
    assert!(who.contains(&("ip".into(), "127.0.0.1".into())), "{who:?}");
    let who = anon.whoami().await.expect("whoami");
    assert_eq!(who.len(), 1, "{who:?}");
    assert_eq!(
        (who[0].auth_scheme.as_str(), who[0].user.as_str()),
        ("ip", "127.0.0.1")
    );

    // addAuth on a live session.
    alice
        .create(
            "/secret2",
            b"s2",
            &creator_all_acl(),
            CreateMode::Persistent,
        )
        .await
        .expect("create");
    anon.sync("/secret2").await.expect("sync");
    assert_eq!(anon.get_data("/secret2").await.err(), Some(Error::NoAuth));
    anon.add_auth("digest", b"alice:pw")
        .await
        .expect("add_auth");
    assert_eq!(
        anon.get_data("/secret2").await.map(|(d, _)| d),
        Ok("s2".into())
    );
    let who = anon.whoami().await.expect("whoami");
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{who:?}"
    );

    // A refused auth ends the session.
    let bad = connect(addr).await;
    let mut states = bad.state_stream();
    assert_eq!(
        bounded("add_auth", bad.add_auth("nosuch", b"x")).await,
        Err(Error::AuthFailed)
    );
    assert_eq!(
        bounded("states", (&mut states).collect::<Vec<_>>()).await,
        [SessionState::Connected, SessionState::AuthFailed]
    );
    assert_eq!(bad.exists("/").await, Err(Error::AuthFailed));
    let refused = bounded("connect", builder().auth("nosuch", b"x").connect(addr)).await;
    assert_eq!(refused.err(), Some(Error::AuthFailed));

    anon.close().await.expect("close");
    alice.close().await.expect("close");
}

async fn sync_and_ephemerals(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/e2", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    for path in ["/e1", "/e1x", "/e2/x"] {
        c.create(path, b"", &acl, CreateMode::Ephemeral)
            .await
            .expect("create ephemeral");
    }
    other
        .create("/o", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    other.set_data("/e2", b"new", None).await.expect("set");
    c.sync("/e2").await.expect("sync");
    assert_eq!(c.get_data("/e2").await.map(|(d, _)| d), Ok("new".into()));
    assert_eq!(c.sync("relative").await, Err(Error::BadArguments));

    let all = c.get_ephemerals("/").await.expect("get_ephemerals");
    assert_eq!(sorted(all), ["/e1", "/e1x", "/e2/x"], "only this session's");
    let some = c.get_ephemerals("/e1").await.expect("get_ephemerals");
    assert_eq!(
        sorted(some),
        ["/e1", "/e1x"],
        "a string prefix, as ZooKeeper"
    );
    assert_eq!(c.get_ephemerals("/e2").await, Ok(vec!["/e2/x".to_owned()]));
    assert_eq!(c.get_ephemerals("/none").await, Ok(vec![]));
    assert_eq!(other.get_ephemerals("/").await, Ok(vec!["/o".to_owned()]));
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn multi_ops(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/m", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    c.create("/m/old", b"o", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let (_, watch) = other.exists_w("/m/a").await.expect("exists_w");

    let results = c
        .multi()
        .create("/m/a", b"a", &acl, CreateMode::Persistent)
        .create("/m/s-", b"", &acl, CreateMode::PersistentSequential)
        .set_data("/m/a", b"a2", Some(0))
        .check("/m/a", 1)
        .delete("/m/old", Some(0))
        .commit()
        .await
        .expect("multi");
    assert_eq!(results.len(), 5);
    // ZooKeeper 3.8 answers a plain create in a multi with the path only.
    assert_eq!(
        results[0],
        OpResult::Create {
            path: "/m/a".into(),
            stat: None
        }
    );
    let OpResult::Create { path, .. } = &results[1] else {
        panic!("{results:?}");
    };
    assert!(
        path.starts_with("/m/s-") && path.len() == "/m/s-".len() + 10,
        "{path}"
    );
    let OpResult::SetData { stat: set } = &results[2] else {
        panic!("{results:?}");
    };
    assert_eq!(set.version, 1);
    let created = c.exists("/m/a").await.expect("exists").expect("created");
    assert_eq!(set.mzxid, created.czxid, "one zxid for the whole multi");
    assert_eq!(results[3..], [OpResult::Check, OpResult::Delete]);
    assert_eq!(c.get_data("/m/a").await.map(|(d, _)| d), Ok("a2".into()));
    assert_eq!(c.exists("/m/old").await, Ok(None));
    // A watch fires for a change made by a multi.
    let event = bounded("watch fired by a multi", watch)
        .await
        .expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, "/m/a")
    );

    let failed = c
        .multi()
        .create("/m/b", b"", &acl, CreateMode::Persistent)
        .check("/m/a", 99)
        .set_data("/m/a", b"zz", None)
        .commit()
        .await;
    assert_eq!(
        failed,
        Err(MultiError::OpFailed {
            index: 1,
            error: Error::BadVersion,
            results: vec![
                Ok(()),
                Err(Error::BadVersion),
                Err(Error::RuntimeInconsistency)
            ],
        })
    );
    assert_eq!(c.exists("/m/b").await, Ok(None), "nothing applied");
    assert_eq!(c.get_data("/m/a").await.map(|(d, _)| d), Ok("a2".into()));
    let failed = c
        .multi()
        .delete("/m/nope", None)
        .create("/m/c", b"", &acl, CreateMode::Persistent)
        .commit()
        .await;
    assert_eq!(
        failed,
        Err(MultiError::OpFailed {
            index: 0,
            error: Error::NoNode,
            results: vec![Err(Error::NoNode), Err(Error::RuntimeInconsistency)],
        })
    );
    let failed = failed.map_err(Error::from);
    assert_eq!(failed, Err(Error::NoNode), "converts into the op's error");
    assert_eq!(c.multi().commit().await, Ok(vec![]));
    assert_eq!(
        c.multi().delete("relative", None).commit().await,
        Err(MultiError::Request(Error::BadArguments))
    );

    let results = c
        .multi()
        .create("/m/ctr", b"", &acl, CreateMode::Container)
        .create_ttl(
            "/m/ttl",
            b"",
            &acl,
            CreateMode::PersistentWithTtl,
            Duration::from_secs(60),
        )
        .commit()
        .await
        .expect("container and TTL in a multi");
    let paths: Vec<&str> = results
        .iter()
        .map(|r| match r {
            OpResult::Create { path, .. } => path.as_str(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(paths, ["/m/ctr", "/m/ttl"]);

    let read = c
        .multi_read()
        .get_data("/m/a")
        .get_children("/m")
        .get_data("/m/nope")
        .get_children("/m/nope")
        .execute()
        .await
        .expect("multi_read");
    assert_eq!(read.len(), 4);
    let ReadResult::Data { data, stat } = &read[0] else {
        panic!("{read:?}");
    };
    assert_eq!((&data[..], stat.version), (&b"a2"[..], 1));
    let ReadResult::Children(children) = &read[1] else {
        panic!("{read:?}");
    };
    assert_eq!(sorted(children.clone()).len(), 4, "{children:?}");
    assert!(children.contains(&"a".to_owned()) && children.contains(&"ctr".to_owned()));
    assert_eq!(
        read[2..],
        [
            ReadResult::Error(Error::NoNode),
            ReadResult::Error(Error::NoNode)
        ]
    );
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn chroot(server: &mut Server) {
    let addr = &server.connect_string();
    let root = connect(addr).await;
    let acl = open_acl_unsafe();
    root.create("/chr", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let c = connect(&format!("{addr}/chr")).await;
    assert_eq!(c.chroot_path(), Some("/chr"));

    let (path, _) = c
        .create("/a", b"1", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(path, "/a");
    // The two sessions may be on different members of an ensemble.
    root.sync("/chr/a").await.expect("sync");
    assert_eq!(
        root.get_data("/chr/a").await.map(|(d, _)| d),
        Ok("1".into())
    );
    let (seq, _) = c
        .create("/s-", b"", &acl, CreateMode::EphemeralSequential)
        .await
        .expect("sequential");
    assert!(
        seq.starts_with("/s-") && seq.len() == "/s-".len() + 10,
        "{seq}"
    );
    assert!(
        c.exists("/").await.expect("exists").is_some(),
        "/ is the chroot"
    );
    let kids = c.get_children("/").await.expect("children");
    assert_eq!(sorted(kids), ["a".to_owned(), seq[1..].to_owned()]);
    assert_eq!(c.get_all_children_number("/").await, Ok(2));
    c.sync("/a").await.expect("sync");
    assert_eq!(c.get_ephemerals("/").await, Ok(vec![seq.clone()]));

    // Watch events come back with the chroot removed.
    let (_, _, data_watch) = c.get_data_w("/a").await.expect("get_data_w");
    let (_, child_watch) = c.get_children_w("/").await.expect("get_children_w");
    let (_, exists_watch) = c.exists_w("/b").await.expect("exists_w");
    // On its own session: ZooKeeper 3.8 (ZOOKEEPER-4466) lets a recursive watch
    // replace a one-shot child watch of the same connection on the same path.
    let c2 = connect(&format!("{addr}/chr")).await;
    let mut recursive = c2
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .expect("add_watch");
    root.set_data("/chr/a", b"2", None).await.expect("set");
    root.create("/chr/b", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    root.create("/chr/b/c", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let event = bounded("data watch", data_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/a")
    );
    let event = bounded("child watch", child_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeChildrenChanged, "/")
    );
    let event = bounded("exists watch", exists_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, "/b")
    );
    assert_eq!(
        next_event(&mut recursive).await,
        node(EventType::NodeDataChanged, "/a")
    );
    assert_eq!(
        next_event(&mut recursive).await,
        node(EventType::NodeCreated, "/b")
    );
    assert_eq!(
        next_event(&mut recursive).await,
        node(EventType::NodeCreated, "/b/c")
    );

    // multi results too.
    let results = c
        .multi()
        .create("/m-", b"", &acl, CreateMode::PersistentSequential)
        .commit()
        .await
        .expect("multi");
    let OpResult::Create { path, .. } = &results[0] else {
        panic!("{results:?}");
    };
    assert!(
        path.starts_with("/m-") && path.len() == "/m-".len() + 10,
        "{path}"
    );

    // A chroot handle on the root client's own session: ephemerals outside the chroot
    // (even one matching it as a string prefix) are left out.
    let rooted = root.chroot("/chr").expect("chroot");
    assert_eq!(rooted.session_id(), root.session_id());
    root.create("/chr/e", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    root.create("/chrome", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    assert_eq!(rooted.get_ephemerals("/").await, Ok(vec!["/e".to_owned()]));
    assert_eq!(
        root.get_ephemerals("/chr").await.map(sorted),
        Ok(vec!["/chr/e".to_owned(), "/chrome".to_owned()])
    );
    let nested = rooted.chroot("/b").expect("nested chroot");
    assert_eq!(nested.chroot_path(), Some("/chr/b"));
    assert_eq!(nested.get_children("/").await, Ok(vec!["c".to_owned()]));
    assert_eq!(root.chroot("bad").err(), Some(Error::BadArguments));

    // A chroot that does not exist: the server says NoNode.
    let lost = connect(&format!("{addr}/absent")).await;
    assert_eq!(
        lost.create("/x", b"", &acl, CreateMode::Persistent).await,
        Err(Error::NoNode)
    );
    lost.close().await.expect("close");
    c2.close().await.expect("close");
    c.close().await.expect("close");
    root.close().await.expect("close");
}

async fn persistent_watches(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();

    // A persistent watch on a node that does not exist yet.
    let mut watch = c
        .add_watch("/pw", AddWatchMode::Persistent)
        .await
        .expect("add_watch");
    assert_eq!(
        (watch.path(), watch.mode()),
        ("/pw", AddWatchMode::Persistent)
    );
    other
        .create("/pw", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    other.set_data("/pw", b"x", None).await.expect("set");
    other
        .create("/pw/k", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    other.delete("/pw/k", None).await.expect("delete");
    other.delete("/pw", None).await.expect("delete");
    other
        .create("/pw", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    for expected in [
        node(EventType::NodeCreated, "/pw"),
        node(EventType::NodeDataChanged, "/pw"),
        node(EventType::NodeChildrenChanged, "/pw"),
        node(EventType::NodeChildrenChanged, "/pw"),
        node(EventType::NodeDeleted, "/pw"),
        node(EventType::NodeCreated, "/pw"),
    ] {
        assert_eq!(next_event(&mut watch).await, expected);
    }

    let mut tree = c
        .add_watch("/rw", AddWatchMode::PersistentRecursive)
        .await
        .expect("add_watch");
    for path in ["/rw", "/rw/a", "/rw/a/b"] {
        other
            .create(path, b"", &acl, CreateMode::Persistent)
            .await
            .expect("create");
    }
    other.set_data("/rw/a/b", b"x", None).await.expect("set");
    other.delete("/rw/a/b", None).await.expect("delete");
    other.set_data("/rw", b"y", None).await.expect("set");
    other
        .create("/rwx", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    other.set_data("/rw", b"z", None).await.expect("set");
    // No NodeChildrenChanged, and nothing for /rwx (outside the subtree).
    for expected in [
        node(EventType::NodeCreated, "/rw"),
        node(EventType::NodeCreated, "/rw/a"),
        node(EventType::NodeCreated, "/rw/a/b"),
        node(EventType::NodeDataChanged, "/rw/a/b"),
        node(EventType::NodeDeleted, "/rw/a/b"),
        node(EventType::NodeDataChanged, "/rw"),
        node(EventType::NodeDataChanged, "/rw"),
    ] {
        assert_eq!(next_event(&mut tree).await, expected);
    }
    // The persistent watch saw none of that.
    other.set_data("/pw", b"sentinel", None).await.expect("set");
    assert_eq!(
        next_event(&mut watch).await,
        node(EventType::NodeDataChanged, "/pw")
    );

    // Dropping the stream removes the watch on the server.
    assert_eq!(c.check_watches("/pw", WatcherType::Any).await, Ok(()));
    drop(watch);
    assert_eq!(
        c.check_watches("/pw", WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
    // remove_watches ends the stream with PersistentWatchRemoved.
    assert_eq!(c.check_watches("/rw", WatcherType::Any).await, Ok(()));
    c.remove_watches("/rw", WatcherType::Any)
        .await
        .expect("remove_watches");
    assert_eq!(
        next_event(&mut tree).await,
        node(EventType::PersistentWatchRemoved, "/rw")
    );
    assert_eq!(bounded("end", tree.next()).await, None);
    assert_eq!(
        c.check_watches("/rw", WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
    assert_eq!(
        c.remove_watches("/rw", WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
    other.close().await.expect("close");
    c.close().await.expect("close");
}

async fn one_shot_watch_removal(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    c.create("/ow", b"", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create");

    let (_, _, watch) = c.get_data_w("/ow").await.expect("get_data_w");
    assert_eq!(c.check_watches("/ow", WatcherType::Data).await, Ok(()));
    assert_eq!(
        c.check_watches("/ow", WatcherType::Children).await,
        Err(Error::NoWatcher)
    );
    assert_eq!(
        c.remove_watches("/ow", WatcherType::Children).await,
        Err(Error::NoWatcher)
    );
    c.remove_watches("/ow", WatcherType::Data)
        .await
        .expect("remove");
    let event = bounded("removed watch", watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::DataWatchRemoved, "/ow")
    );
    assert_eq!(
        c.check_watches("/ow", WatcherType::Data).await,
        Err(Error::NoWatcher)
    );

    let (_, watch) = c.get_children_w("/ow").await.expect("get_children_w");
    c.remove_watches("/ow", WatcherType::Children)
        .await
        .expect("remove");
    let event = bounded("removed watch", watch).await.expect("event");
    assert_eq!(event.event_type, EventType::ChildWatchRemoved);

    // Dropping the only watch on a path removes it on the server ...
    let (_, watch) = c.exists_w("/ow-missing").await.expect("exists_w");
    assert_eq!(
        c.check_watches("/ow-missing", WatcherType::Any).await,
        Ok(())
    );
    drop(watch);
    assert_eq!(
        c.check_watches("/ow-missing", WatcherType::Any).await,
        Err(Error::NoWatcher)
    );
    // ... but not while another handle still wants it.
    let (_, _, first) = c.get_data_w("/ow").await.expect("get_data_w");
    let (_, _, second) = c.get_data_w("/ow").await.expect("get_data_w");
    drop(first);
    assert_eq!(c.check_watches("/ow", WatcherType::Data).await, Ok(()));
    other.set_data("/ow", b"x", None).await.expect("set");
    let event = bounded("second watch", second).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    other.close().await.expect("close");
    c.close().await.expect("close");
}

/// One-shot and persistent watches on the same path of one session. ZooKeeper 3.8
/// keeps one watch mode per path and connection (ZOOKEEPER-4466): armed there, the
/// one-shot watch would turn the persistent one into a one-shot. The client serves
/// such one-shot watches from the persistent watch instead, so both keep working.
async fn mixed_watch_kinds_on_one_path(server: &mut Server) {
    let addr = &server.connect_string();
    let c = connect(addr).await;
    let other = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/mix", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let mut persistent = c
        .add_watch("/mix", AddWatchMode::Persistent)
        .await
        .expect("add_watch");
    let (_, _, data) = c.get_data_w("/mix").await.expect("get_data_w");
    let (_, exists) = c.exists_w("/mix").await.expect("exists_w");
    let (_, children) = c.get_children_w("/mix").await.expect("get_children_w");
    other.set_data("/mix", b"1", None).await.expect("set");
    assert_eq!(
        next_event(&mut persistent).await,
        node(EventType::NodeDataChanged, "/mix")
    );
    for watch in [data, exists] {
        let event = bounded("one-shot watch", watch).await.expect("event");
        assert_eq!(event.event_type, EventType::NodeDataChanged);
    }
    other
        .create("/mix/k", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(
        next_event(&mut persistent).await,
        node(EventType::NodeChildrenChanged, "/mix")
    );
    let event = bounded("child watch", children).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeChildrenChanged);
    // The persistent watch is still persistent.
    other.set_data("/mix", b"2", None).await.expect("set");
    other.delete("/mix/k", None).await.expect("delete");
    assert_eq!(
        next_event(&mut persistent).await,
        node(EventType::NodeDataChanged, "/mix")
    );
    assert_eq!(
        next_event(&mut persistent).await,
        node(EventType::NodeChildrenChanged, "/mix")
    );

    c.create("/rmix", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    let mut tree = c
        .add_watch("/rmix", AddWatchMode::PersistentRecursive)
        .await
        .expect("add_watch");
    let (_, _, data) = c.get_data_w("/rmix").await.expect("get_data_w");
    other.set_data("/rmix", b"1", None).await.expect("set");
    let event = bounded("data watch", data).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    other.set_data("/rmix", b"2", None).await.expect("set");
    other
        .create("/rmix/a", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    for expected in [
        node(EventType::NodeDataChanged, "/rmix"),
        node(EventType::NodeDataChanged, "/rmix"),
        node(EventType::NodeCreated, "/rmix/a"),
    ] {
        assert_eq!(next_event(&mut tree).await, expected);
    }
    other.close().await.expect("close");
    c.close().await.expect("close");
}

/// Expiry made deterministic: the watcher is cut off by a proxy while a second client
/// takes over its session (id + password) and closes it; back on the network, the
/// watcher's reconnect is refused with timeout 0.
async fn session_expiry(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let c = connect(&proxy.addr().to_string()).await;
    let observer = connect(addr).await;
    let acl = open_acl_unsafe();
    c.create("/ex-eph", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    let (_, watch) = c.exists_w("/ex-w").await.expect("exists_w");
    let mut persistent = c
        .add_watch("/ex-p", AddWatchMode::Persistent)
        .await
        .expect("add_watch");
    let mut states = c.state_stream();
    assert_eq!(states.next().await, Some(SessionState::Connected));

    proxy.reset();
    assert_eq!(
        bounded("disconnect", states.next()).await,
        Some(SessionState::Disconnected)
    );
    let waiting = c.get_data("/");
    let info = c.session_info();
    let thief = bounded("connect", builder().session(info.clone()).connect(addr))
        .await
        .expect("resume the session elsewhere");
    assert_eq!(thief.session_id(), c.session_id());
    thief.close().await.expect("close the session");
    // The observer may be on another member of an ensemble than the thief.
    observer.sync("/ex-eph").await.expect("sync");
    assert_eq!(
        observer.exists("/ex-eph").await,
        Ok(None),
        "the session is gone"
    );
    assert_eq!(
        bounded("resume", builder().session(info).connect(addr))
            .await
            .err(),
        Some(Error::SessionExpired)
    );

    proxy.heal();
    assert_eq!(
        bounded("expiry", (&mut states).collect::<Vec<_>>()).await,
        [SessionState::Expired],
        "the state stream ends after Expired"
    );
    assert_eq!(
        bounded("waiting read", waiting).await,
        Err(Error::SessionExpired)
    );
    assert_eq!(bounded("watch", watch).await, Err(Error::SessionExpired));
    assert_eq!(
        next_event(&mut persistent).await,
        session(KeeperState::Disconnected)
    );
    assert_eq!(
        next_event(&mut persistent).await,
        session(KeeperState::Expired)
    );
    assert_eq!(bounded("end", persistent.next()).await, None);
    assert_eq!(c.exists("/").await, Err(Error::SessionExpired));
    assert_eq!(c.state(), SessionState::Expired);
    assert_eq!(c.close().await, Ok(()));
    observer.close().await.expect("close");
}

/// getConfig on a standalone server: `/zookeeper/config` is there and empty, read at
/// that absolute path from a chrooted handle too.
async fn get_config_standalone(server: &mut Server) {
    let c = connect(&server.connect_string()).await;
    let (data, stat) = bounded("getConfig", c.get_config())
        .await
        .expect("getConfig");
    assert!(data.is_empty(), "{data:?}");
    assert_eq!(stat.data_length, 0);
    assert_eq!(
        EnsembleConfig::parse(&data).expect("parse"),
        EnsembleConfig::default()
    );
    c.create("/cfg", b"", &open_acl_unsafe(), CreateMode::Persistent)
        .await
        .expect("create");
    let chrooted = c.chroot("/cfg").expect("chroot");
    let (again, again_stat, watch) = bounded("getConfig with a watch", chrooted.get_config_w())
        .await
        .expect("getConfig from a chroot");
    assert_eq!((again, again_stat), (data, stat));
    // The watch is on the server's /zookeeper/config, its event path untranslated.
    c.remove_watches(CONFIG_NODE, WatcherType::Data)
        .await
        .expect("remove the config watch");
    let event = bounded("config watch removed", watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::DataWatchRemoved, CONFIG_NODE)
    );
    c.close().await.expect("close");
}

/// ZOOKEEPER-4508's client-side expiry: two clients cut off by the same black hole (the
/// proxy accepts connections but nothing gets through, so reconnect attempts hang
/// rather than fail). The one with `client_side_expiry` ends Expired on its own, well
/// after the cut (about the session timeout); the other stays Disconnected through twice
/// the timeout, and learns of the expiry from the server once the network heals.
async fn client_side_expiry(server: &mut Server) {
    let proxy = FaultProxy::start(server.addr());
    let through = proxy.addr().to_string();
    let short = Client::builder()
        .session_timeout(Duration::from_secs(4))
        .connection_timeout(Duration::from_secs(2));
    let expiring = bounded(
        "connect",
        short.clone().client_side_expiry(true).connect(&through),
    )
    .await
    .expect("connect");
    let waiting = bounded("connect", short.connect(&through))
        .await
        .expect("connect");
    let timeout = expiring.session_timeout().max(waiting.session_timeout());
    let mut expiring_states = expiring.state_stream();
    let mut waiting_states = waiting.state_stream();
    let (_, watch) = expiring.exists_w("/gone").await.expect("exists_w");

    let cut = std::time::Instant::now();
    proxy.blackhole();
    let seen = ferrokeeper_tests::either::bounded(
        "client-side expiry",
        timeout * 3 + STEP,
        (&mut expiring_states).collect::<Vec<_>>(),
    )
    .await;
    let after = cut.elapsed();
    assert_eq!(
        seen,
        [
            SessionState::Connected,
            SessionState::Disconnected,
            SessionState::Expired
        ]
    );
    // Nothing was heard for 4/3 of the timeout, and the last ping's answer came about
    // a third of the timeout before the cut at most: not at the disconnect (2/3 of the
    // timeout), well after. The bound leaves room for a late timer on a busy machine.
    assert!(after >= timeout / 2, "expired {after:?} after the cut");
    assert_eq!(expiring.get_data("/").await, Err(Error::SessionExpired));
    assert_eq!(bounded("watch", watch).await, Err(Error::SessionExpired));

    // The same black hole, twice the timeout: the other client is only disconnected.
    let window = (timeout * 2).saturating_sub(cut.elapsed());
    let mut other_seen = vec![];
    let _ = tokio::time::timeout(window, async {
        while let Some(state) = waiting_states.next().await {
            other_seen.push(state);
        }
    })
    .await;
    assert_eq!(
        other_seen,
        [SessionState::Connected, SessionState::Disconnected]
    );
    proxy.heal();
    assert_eq!(
        bounded("expiry from the server", waiting_states.next()).await,
        Some(SessionState::Expired)
    );
}

/// The server is killed and restarted on the same port and data while one client is
/// cut off: the session, its ephemerals and its auth survive, and every watch is
/// re-armed. Changes made while it was away fire its one-shot watches exactly once;
/// its persistent watches (which ZooKeeper re-arms without catching up) see only later
/// changes.
async fn reconnect_after_restart(server: &mut Server) {
    let addr = &server.connect_string();
    let proxy = FaultProxy::start(server.addr());
    let a = bounded(
        "connect",
        builder()
            .session_timeout(Duration::from_secs(20))
            .connection_timeout(Duration::from_secs(30))
            .digest_auth("alice", "pw")
            .connect(&proxy.addr().to_string()),
    )
    .await
    .expect("connect");
    let b = bounded(
        "connect",
        builder()
            .connection_timeout(Duration::from_secs(30))
            .connect(addr),
    )
    .await
    .expect("connect");
    let acl = open_acl_unsafe();
    for path in ["/rs", "/rs/kids", "/rs/p", "/rs/quiet"] {
        a.create(path, b"", &acl, CreateMode::Persistent)
            .await
            .expect("create");
    }
    a.create("/rs/data", b"v0", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    a.create("/rs/eph", b"", &acl, CreateMode::Ephemeral)
        .await
        .expect("create");
    a.create(
        "/rs/secret",
        b"s",
        &creator_all_acl(),
        CreateMode::Persistent,
    )
    .await
    .expect("create");
    let (_, _, data_watch) = a.get_data_w("/rs/data").await.expect("get_data_w");
    let (_, exists_watch) = a.exists_w("/rs/later").await.expect("exists_w");
    let (_, child_watch) = a.get_children_w("/rs/kids").await.expect("get_children_w");
    let (_, _, quiet_watch) = a.get_data_w("/rs/quiet").await.expect("get_data_w");
    let mut persistent = a
        .add_watch("/rs/p", AddWatchMode::Persistent)
        .await
        .expect("add_watch");
    let mut tree = a
        .add_watch("/rs/tree", AddWatchMode::PersistentRecursive)
        .await
        .expect("add_watch");
    let session_id = a.session_id();
    let mut states = a.state_stream();
    assert_eq!(states.next().await, Some(SessionState::Connected));

    proxy.reset();
    assert_eq!(
        bounded("disconnect", states.next()).await,
        Some(SessionState::Disconnected)
    );
    // Changed while `a` is away.
    b.set_data("/rs/data", b"v1", None).await.expect("set");
    b.create("/rs/kids/k1", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    b.set_data("/rs/p", b"missed", None).await.expect("set");
    // Issued while disconnected: waits for the reconnect.
    let waiting = a.get_data("/rs/data");

    server.restart();
    b.create("/rs/later", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create after the restart");
    proxy.heal();
    assert_eq!(
        bounded("reconnect", states.next()).await,
        Some(SessionState::Connected)
    );
    assert_eq!(a.session_id(), session_id, "the same session");
    assert_eq!(
        bounded("waiting read", waiting).await.map(|(d, _)| d),
        Ok("v1".into())
    );

    // SetWatches2 fired the watches whose nodes changed meanwhile...
    let event = bounded("data watch", data_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/rs/data")
    );
    let event = bounded("exists watch", exists_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, "/rs/later")
    );
    let event = bounded("child watch", child_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeChildrenChanged, "/rs/kids")
    );
    // ... and re-armed the others: the quiet one has not fired (this read's reply
    // comes after everything SetWatches2 caused).
    let (_, _, data_again) = a.get_data_w("/rs/data").await.expect("re-arm");
    let mut quiet_watch = std::pin::pin!(quiet_watch);
    assert!(
        futures::poll!(&mut quiet_watch).is_pending(),
        "fired without a change"
    );
    let mut data_again = std::pin::pin!(data_again);
    assert!(
        futures::poll!(&mut data_again).is_pending(),
        "a second event for one change"
    );
    b.set_data("/rs/quiet", b"now", None).await.expect("set");
    b.set_data("/rs/data", b"v2", None).await.expect("set");
    let event = bounded("quiet watch", quiet_watch).await.expect("event");
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDataChanged, "/rs/quiet")
    );
    let event = bounded("data watch", data_again).await.expect("event");
    assert_eq!(event.event_type, EventType::NodeDataChanged);

    // Persistent watches: the session events, then only changes after the reconnect
    // (the one made while away is not replayed).
    b.create("/rs/p/kid", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(
        next_event(&mut persistent).await,
        session(KeeperState::Disconnected)
    );
    assert_eq!(
        next_event(&mut persistent).await,
        session(KeeperState::SyncConnected)
    );
    assert_eq!(
        next_event(&mut persistent).await,
        node(EventType::NodeChildrenChanged, "/rs/p")
    );
    b.create("/rs/tree", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    b.create("/rs/tree/a", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create");
    assert_eq!(
        next_event(&mut tree).await,
        session(KeeperState::Disconnected)
    );
    assert_eq!(
        next_event(&mut tree).await,
        session(KeeperState::SyncConnected)
    );
    assert_eq!(
        next_event(&mut tree).await,
        node(EventType::NodeCreated, "/rs/tree")
    );
    assert_eq!(
        next_event(&mut tree).await,
        node(EventType::NodeCreated, "/rs/tree/a")
    );

    // The ephemeral survived with its owner; the auth was applied again.
    let eph = b
        .exists("/rs/eph")
        .await
        .expect("exists")
        .expect("ephemeral kept");
    assert_eq!(eph.ephemeral_owner, session_id);
    assert_eq!(
        a.get_data("/rs/secret").await.map(|(d, _)| d),
        Ok("s".into())
    );
    let who = a.whoami().await.expect("whoami");
    assert!(
        who.iter()
            .any(|i| i.auth_scheme == "digest" && i.user == "alice"),
        "{who:?}"
    );

    a.close().await.expect("close");
    assert_eq!(b.exists("/rs/eph").await, Ok(None));
    b.close().await.expect("close");
}

/// Calls the suite macro `$suite` with every scenario that runs against one server or
/// an ensemble alike, and then `$extra` (the scenarios about one server: a restart of
/// it, and a standalone server's empty configuration).
macro_rules! scenarios {
    ($($suite:ident)::+ $(, $extra:ident)*) => {
        $($suite)::+!(
            crud_and_errors,
            children,
            data_watch,
            child_watch,
            exists_watch,
            many_in_flight,
            close_removes_ephemeral,
            create_modes,
            children2_and_counts,
            acl_and_auth,
            sync_and_ephemerals,
            multi_ops,
            chroot,
            persistent_watches,
            one_shot_watch_removal,
            mixed_watch_kinds_on_one_path,
            session_expiry,
            client_side_expiry,
            $($extra),*
        );
    };
}

// A fresh ferrokeeper and a fresh ZooKeeper 3.8 per scenario.
scenarios!(
    ferrokeeper_tests::against_both_servers,
    reconnect_after_restart,
    get_config_standalone
);
// 3-member ensembles of each (clients given every member).
scenarios!(ferrokeeper_tests::against_both_ensembles);
// ferrokeeper inside the test process, one server and three members.
scenarios!(
    ferrokeeper_tests::against_in_process,
    reconnect_after_restart,
    get_config_standalone
);
scenarios!(ferrokeeper_tests::against_in_process_ensemble);
