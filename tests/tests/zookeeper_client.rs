//! The independent `zookeeper-client` crate (kezhuw) against a real `ferrokeeper`
//! process: every basic operation, its errors, watches and multi.

use std::time::Duration;

use ferrokeeper_tests::{Ferrokeeper, four_letter};
use zookeeper_client as zk;

const LIMIT: Duration = Duration::from_secs(10);

async fn connect(server: &Ferrokeeper) -> zk::Client {
    tokio::time::timeout(LIMIT, zk::Client::connect(&server.connect_string()))
        .await
        .expect("connect in time")
        .expect("connect")
}

fn persistent() -> zk::CreateOptions<'static> {
    zk::CreateMode::Persistent.with_acls(zk::Acls::anyone_all())
}

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what} took longer than {LIMIT:?}"))
}

#[tokio::test]
async fn create_get_set_delete_with_versions_and_errors() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;

    let (stat, _) = client
        .create("/a", b"one", &persistent())
        .await
        .expect("create");
    assert_eq!(stat.version, 0);
    assert_eq!(stat.data_length, 3);
    assert_eq!(stat.czxid, stat.mzxid);
    assert_eq!(
        client.create("/a", b"", &persistent()).await.unwrap_err(),
        zk::Error::NodeExists
    );
    assert_eq!(
        client
            .create("/missing/b", b"", &persistent())
            .await
            .unwrap_err(),
        zk::Error::NoNode
    );

    let (data, stat) = client.get_data("/a").await.expect("get");
    assert_eq!(data, b"one");
    let updated = client
        .set_data("/a", b"two", Some(stat.version))
        .await
        .expect("set");
    assert_eq!(updated.version, 1);
    assert!(updated.mzxid > stat.mzxid);
    assert_eq!(
        client.set_data("/a", b"three", Some(0)).await.unwrap_err(),
        zk::Error::BadVersion
    );
    assert_eq!(client.get_data("/a").await.expect("get").0, b"two");

    client
        .create("/a/child", b"", &persistent())
        .await
        .expect("child");
    assert_eq!(
        client.delete("/a", None).await.unwrap_err(),
        zk::Error::NotEmpty
    );
    assert_eq!(
        client.delete("/a/child", Some(5)).await.unwrap_err(),
        zk::Error::BadVersion
    );
    client
        .delete("/a/child", Some(0))
        .await
        .expect("delete child");
    client.delete("/a", None).await.expect("delete");
    assert_eq!(client.check_stat("/a").await.expect("exists"), None);
    assert_eq!(
        client.delete("/a", None).await.unwrap_err(),
        zk::Error::NoNode
    );
}

#[tokio::test]
async fn sequential_names_and_parent_cversion() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;
    client
        .create("/q", b"", &persistent())
        .await
        .expect("parent");
    let seq = zk::CreateMode::PersistentSequential.with_acls(zk::Acls::anyone_all());
    client
        .create("/q/x", b"", &persistent())
        .await
        .expect("plain child");
    client
        .delete("/q/x", None)
        .await
        .expect("delete plain child");
    let (_, n1) = client.create("/q/n-", b"", &seq).await.expect("seq 1");
    let (_, n2) = client.create("/q/n-", b"", &seq).await.expect("seq 2");
    // The counter is the parent's number of creates so far (deletes do not lower it).
    assert_eq!(n1.into_i64(), 1);
    assert_eq!(n2.into_i64(), 2);
    let (mut children, stat) = client.get_children("/q").await.expect("children");
    children.sort();
    assert_eq!(children, vec!["n-0000000001", "n-0000000002"]);
    // Client-visible cversion counts creates and deletes: 3 creates + 1 delete.
    assert_eq!(stat.cversion, 4);
    assert_eq!(stat.num_children, 2);
}

#[tokio::test]
async fn data_and_child_watches_fire_once_in_order() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;
    let other = connect(&server).await;

    // exists on a missing node arms a watch that fires on create.
    let created = client
        .check_and_watch_stat("/w")
        .await
        .expect("exists watch");
    assert!(matches!(created, (None, _)));
    other
        .create("/w", b"x", &persistent())
        .await
        .expect("create");
    let event = within("NodeCreated", created.1.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeCreated);
    assert_eq!(event.path, "/w");

    let (_, _, data_watch) = client.get_and_watch_data("/w").await.expect("data watch");
    let (_, _, child_watch) = client
        .get_and_watch_children("/w")
        .await
        .expect("child watch");
    other.set_data("/w", b"y", None).await.expect("set");
    let event = within("NodeDataChanged", data_watch.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDataChanged);

    other
        .create("/w/c", b"", &persistent())
        .await
        .expect("child");
    let event = within("NodeChildrenChanged", child_watch.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeChildrenChanged);
    assert_eq!(event.path, "/w");

    let (_, _, deleted) = client
        .get_and_watch_data("/w/c")
        .await
        .expect("watch child data");
    other.delete("/w/c", None).await.expect("delete");
    let event = within("NodeDeleted", deleted.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
}

#[tokio::test]
async fn persistent_recursive_watch_sees_descendants_but_no_child_events() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;
    client.create("/r", b"", &persistent()).await.expect("root");
    let mut watcher = client
        .watch("/r", zk::AddWatchMode::PersistentRecursive)
        .await
        .expect("addWatch");
    client.create("/r/a", b"", &persistent()).await.expect("a");
    client
        .create("/r/a/b", b"", &persistent())
        .await
        .expect("b");
    client.set_data("/r/a/b", b"v", None).await.expect("set");
    client.delete("/r/a/b", None).await.expect("delete");
    let mut seen = Vec::new();
    for _ in 0..4 {
        let event = within("recursive event", watcher.changed()).await;
        seen.push((event.event_type, event.path));
    }
    assert_eq!(
        seen,
        vec![
            (zk::EventType::NodeCreated, "/r/a".to_owned()),
            (zk::EventType::NodeCreated, "/r/a/b".to_owned()),
            (zk::EventType::NodeDataChanged, "/r/a/b".to_owned()),
            (zk::EventType::NodeDeleted, "/r/a/b".to_owned()),
        ]
    );
}

#[tokio::test]
async fn multi_is_atomic_and_reports_the_failing_op() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;
    let mut writer = client.new_multi_writer();
    writer.add_create("/m", b"", &persistent()).expect("op");
    writer.add_create("/m/1", b"a", &persistent()).expect("op");
    writer.add_set_data("/m/1", b"b", Some(0)).expect("op");
    // A child's creation changes the parent's cversion, not its data version.
    writer.add_check_version("/m", 0).expect("op");
    let results = writer.commit().await.expect("multi succeeds");
    assert_eq!(results.len(), 4);
    assert!(matches!(&results[1], zk::MultiWriteResult::Create { path, .. } if path == "/m/1"));

    let mut failing = client.new_multi_writer();
    failing.add_create("/m/2", b"", &persistent()).expect("op");
    failing.add_check_version("/m", 42).expect("op");
    failing.add_delete("/m/1", None).expect("op");
    match failing.commit().await {
        Err(zk::MultiWriteError::OperationFailed { index, source }) => {
            assert_eq!(index, 1);
            assert_eq!(source, zk::Error::BadVersion);
        }
        other => panic!("expected the check to fail: {other:?}"),
    }
    // Nothing of the failed multi was applied.
    assert_eq!(client.check_stat("/m/2").await.expect("exists"), None);
    assert!(client.check_stat("/m/1").await.expect("exists").is_some());
}

#[tokio::test]
async fn ephemerals_belong_to_their_session() {
    let server = Ferrokeeper::start(&[]);
    let owner = connect(&server).await;
    let observer = connect(&server).await;
    let eph = zk::CreateMode::Ephemeral.with_acls(zk::Acls::anyone_all());
    owner.create("/e", b"", &eph).await.expect("ephemeral");
    assert_eq!(
        owner
            .create("/e/child", b"", &persistent())
            .await
            .unwrap_err(),
        zk::Error::NoChildrenForEphemerals
    );
    let stat = observer
        .check_stat("/e")
        .await
        .expect("exists")
        .expect("present");
    assert_eq!(stat.ephemeral_owner, owner.session_id().0);
    assert_eq!(
        owner.list_ephemerals("/").await.expect("getEphemerals"),
        vec!["/e".to_owned()]
    );

    let (_, _, gone) = observer.get_and_watch_data("/e").await.expect("watch");
    drop(owner); // closes the session
    let event = within("ephemeral deleted on close", gone.changed()).await;
    assert_eq!(event.event_type, zk::EventType::NodeDeleted);
    assert_eq!(observer.check_stat("/e").await.expect("exists"), None);
}

#[tokio::test]
async fn digest_acls_deny_and_allow() {
    let server = Ferrokeeper::start(&[]);
    let bob = tokio::time::timeout(
        LIMIT,
        zk::Client::connector()
            .with_auth("digest", b"bob:secret")
            .connect(&server.connect_string()),
    )
    .await
    .expect("in time")
    .expect("connect");
    let creator_only = zk::CreateMode::Persistent.with_acls(zk::Acls::creator_all());
    bob.create("/private", b"s", &creator_only)
        .await
        .expect("create");
    let (acl, _) = bob.get_acl("/private").await.expect("acl");
    assert_eq!(acl.len(), 1);
    assert_eq!(acl[0].scheme(), "digest");
    assert!(acl[0].id().starts_with("bob:"), "{:?}", acl[0]);
    assert_eq!(bob.get_data("/private").await.expect("read").0, b"s");

    let anonymous = connect(&server).await;
    assert_eq!(
        anonymous.get_data("/private").await.unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        anonymous
            .set_data("/private", b"x", None)
            .await
            .unwrap_err(),
        zk::Error::NoAuth
    );
    assert_eq!(
        anonymous.get_acl("/private").await.unwrap_err(),
        zk::Error::NoAuth
    );

    let users = bob.list_auth_users().await.expect("whoami");
    assert!(
        users
            .iter()
            .any(|u| u.scheme() == "digest" && u.user() == "bob"),
        "{users:?}"
    );
    assert!(users.iter().any(|u| u.scheme() == "ip"), "{users:?}");
}

#[tokio::test]
async fn descendants_count_sync_and_config_node() {
    let server = Ferrokeeper::start(&[]);
    let client = connect(&server).await;
    client.create("/c", b"", &persistent()).await.expect("c");
    client.create("/c/1", b"", &persistent()).await.expect("c1");
    client
        .create("/c/1/2", b"", &persistent())
        .await
        .expect("c12");
    assert_eq!(
        client.count_descendants_number("/c").await.expect("count"),
        2
    );
    client.sync("/c").await.expect("sync");
    let (config, _) = client.get_config().await.expect("/zookeeper/config exists");
    assert!(config.is_empty(), "standalone config is empty");
    let mut root = client.list_children("/").await.expect("ls /");
    root.sort();
    assert_eq!(root, vec!["c", "zookeeper"]);
}

#[tokio::test]
async fn four_letter_words_answer_in_zookeepers_shapes() {
    let server = Ferrokeeper::start(&["--4lw-whitelist", "*"]);
    assert_eq!(four_letter(server.addr(), "ruok"), "imok");
    let srvr = four_letter(server.addr(), "srvr");
    let first = srvr.lines().next().expect("version line");
    assert!(
        first.starts_with("Zookeeper version: 3.8.4-ferrokeeper-"),
        "{srvr}"
    );
    assert!(first.ends_with(" GMT"), "{srvr}");
    assert!(srvr.contains("\nMode: standalone\n"), "{srvr}");
    // ZooKeeper counts the root twice ("" and "/"): a fresh server reports 5.
    assert!(srvr.contains("\nNode count: 5\n"), "{srvr}");
    let envi = four_letter(server.addr(), "envi");
    assert!(
        envi.contains("zookeeper.version=3.8.4-ferrokeeper-"),
        "{envi}"
    );
    assert!(four_letter(server.addr(), "mntr").contains("zk_server_state\tstandalone\n"));
    assert_eq!(four_letter(server.addr(), "isro"), "rw");

    // dirs and conf report the real sizes of the log and snapshot directories (the
    // log's first segment is preallocated, so it is never empty).
    let dirs = four_letter(server.addr(), "dirs");
    let log_size: u64 = dirs
        .lines()
        .find_map(|l| l.strip_prefix("logdir_size: "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{dirs}"));
    assert!(log_size > 0, "{dirs}");
    let conf = four_letter(server.addr(), "conf");
    assert!(
        conf.contains(&format!("dataLogSize={log_size}\n")),
        "{conf}"
    );

    // The trace mask starts at ZooKeeper's default and stmk changes it.
    assert_eq!(four_letter(server.addr(), "gtmk"), "306");
    let mut stmk = b"stmk".to_vec();
    stmk.extend_from_slice(&7i64.to_be_bytes());
    assert_eq!(four_letter_bytes(server.addr(), &stmk), "7");
    assert_eq!(four_letter(server.addr(), "gtmk"), "7");
}

fn four_letter_bytes(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.write_all(bytes).expect("send");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("read");
    out
}

#[tokio::test]
async fn default_whitelist_allows_only_srvr() {
    let server = Ferrokeeper::start(&[]);
    assert!(four_letter(server.addr(), "srvr").starts_with("Zookeeper version: "));
    assert_eq!(
        four_letter(server.addr(), "ruok"),
        "ruok is not executed because it is not in the whitelist.\n"
    );
}
