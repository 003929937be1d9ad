//! server.N lines, myid, standalone detection and `conf` in quorum mode.

use super::{TempDir, cfg, err_text, load};
use crate::config::{ConfRuntime, HostPort, PeerType};

const THREE: &str = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={data}\nclientPort=21821\n\
                     server.1=127.0.0.1:2891:3891\n\
                     server.2=127.0.0.1:2892:3892;127.0.0.1:21822\n\
                     server.3=127.0.0.1:2893:3893:observer\n";

fn with_myid(tag: &str, body: &str, myid: Option<&str>) -> (TempDir, String) {
    let (dir, path) = cfg(tag, body);
    if let Some(id) = myid {
        dir.write("data/myid", id);
    }
    (dir, path.display().to_string())
}

#[test]
fn ensemble_with_observer() {
    let (dir, p) = with_myid("three", THREE, Some("1\n"));
    let c = load(&[&p], &[]).expect("loads");
    assert!(c.is_distributed());
    assert_eq!(c.server_id, Some(1));
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.voting_members().count(), 2);
    assert_eq!(c.observers().map(|s| s.id).collect::<Vec<_>>(), vec![3]);
    assert_eq!(
        c.servers[&2].client,
        Some(HostPort::new("127.0.0.1", 21822))
    );
    assert_eq!(c.client_address, Some(HostPort::any(21821)));
    assert_eq!(c.peer_type, PeerType::Participant);
    assert!(
        c.warnings()
            .any(|w| w.contains("No server failure will be tolerated"))
    );

    // Byte-for-byte what ZooKeeper 3.8.0 answered for this ensemble (server 1).
    let rt = ConfRuntime {
        client_port: None,
        data_dir_size: 604,
        data_log_size: 604,
    };
    let d = dir
        .path()
        .join("data")
        .join("version-2")
        .display()
        .to_string();
    let expected = format!(
        "clientPort=21821\nsecureClientPort=-1\ndataDir={d}\ndataDirSize=604\ndataLogDir={d}\n\
         dataLogSize=604\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
         maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=1\ninitLimit=5\nsyncLimit=2\n\
         electionAlg=3\nelectionPort=3891\nquorumPort=2891\npeerType=0\nmembership: \n\
         server.1=127.0.0.1:2891:3891:participant\n\
         server.2=127.0.0.1:2892:3892:participant;127.0.0.1:21822\n\
         server.3=127.0.0.1:2893:3893:observer\nversion=0"
    );
    assert_eq!(c.conf_4lw(&rt), expected);
}

#[test]
fn own_server_line_decides_client_address_and_role() {
    let (_d, p) = with_myid(
        "own-line",
        &THREE.replace("clientPort=21821\n", ""),
        Some("2"),
    );
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(c.client_address, Some(HostPort::new("127.0.0.1", 21822)));

    let (_d, p) = with_myid(
        "observer",
        &format!("{THREE}peerType=participant\n"),
        Some("3"),
    );
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(c.peer_type, PeerType::Observer);
    assert!(
        c.warnings()
            .any(|w| w.contains("Peer type from servers list"))
    );

    let (_d, p) = with_myid(
        "conflict",
        &THREE.replace("clientPort=21821", "clientPort=21899"),
        Some("2"),
    );
    assert!(err_text(load(&[&p], &[])).contains("is different from client address"));
}

#[test]
fn myid_handling() {
    let (_d, p) = with_myid("no-myid", THREE, None);
    let e = err_text(load(&[&p], &[]));
    assert!(e.contains("data/myid: myid file is missing"), "{e}");
    // --myid replaces the file.
    let c = load(&[&p, "--myid", "3"], &[]).expect("loads");
    assert_eq!(c.server_id, Some(3));
    assert_eq!(c.peer_type, PeerType::Observer);

    let (_d, p) = with_myid("bad-myid", THREE, Some("one"));
    let e = err_text(load(&[&p], &[]));
    assert!(
        e.contains("data/myid: serverid \"one\" is not a number"),
        "{e}"
    );

    let (_d, p) = with_myid("stranger", THREE, Some("9"));
    assert!(err_text(load(&[&p], &[])).contains("My id 9 not in the peer list"));

    // ZooKeeper reads myid even in standalone mode, and a bad one stops it there too.
    let (_d, p) = with_myid("standalone-bad-myid", "dataDir={data}\n", Some("x"));
    assert!(err_text(load(&[&p], &[])).contains("is not a number"));
    let (_d, p) = with_myid("standalone-myid", "dataDir={data}\n", Some("4"));
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(c.server_id, Some(4));
    assert_eq!(c.effective_server_id(), 0, "conf reports 0 in standalone");

    let (_d, p) = with_myid(
        "extended",
        &format!("{THREE}server.300=h:1:2\n"),
        Some("300"),
    );
    assert!(load(&[&p], &[]).is_ok());
    let e = err_text(load(&[&p, "-Dzookeeper.extendedTypesEnabled=true"], &[]));
    assert!(e.contains("Server ID is too large"), "{e}");
}

#[test]
fn standalone_detection_follows_zookeeper() {
    // One participant: standalone (ZooKeeper logs an error and ignores the line).
    let (_d, p) = with_myid("single", "dataDir={data}\nserver.1=h:1:2\n", None);
    let c = load(&[&p], &[]).expect("loads");
    assert!(c.is_standalone());
    assert!(c.warnings().any(|w| w.contains("only one server")));

    // ... unless standaloneEnabled=false: a one-member quorum.
    let body =
        "dataDir={data}\ninitLimit=5\nsyncLimit=2\nstandaloneEnabled=false\nserver.1=h:1:2\n";
    let (_d, p) = with_myid("single-quorum", body, Some("1"));
    assert!(load(&[&p], &[]).expect("loads").is_distributed());

    // standaloneEnabled=false needs at least one participant.
    let (_d, p) = with_myid(
        "no-participants",
        "dataDir={data}\nstandaloneEnabled=false\n",
        None,
    );
    let e = err_text(load(&[&p], &[]));
    assert!(e.ends_with(":2: standaloneEnabled: standaloneEnabled = false then number of participants should be >0"), "{e}");

    // Observers need a quorum.
    let (_d, p) = with_myid(
        "obs-only",
        "dataDir={data}\nserver.1=h:1:2:observer\n",
        None,
    );
    assert!(err_text(load(&[&p], &[])).contains("Observers w/o participants"));
    let (_d, p) = with_myid(
        "obs-one",
        "dataDir={data}\nserver.1=h:1:2\nserver.2=h:3:4:observer\n",
        None,
    );
    assert!(err_text(load(&[&p], &[])).contains("Observers w/o quorum"));

    // No config file at all: always standalone.
    assert!(load(&[], &[]).expect("defaults").is_standalone());
}

#[test]
fn quorum_requires_limits() {
    let (_d, p) = with_myid("no-init", &THREE.replace("initLimit=5\n", ""), Some("1"));
    assert!(err_text(load(&[&p], &[])).ends_with(": initLimit: initLimit is not set"));
    let (_d, p) = with_myid(
        "no-sync",
        &THREE.replace("syncLimit=2\n", "syncLimit=0\n"),
        Some("1"),
    );
    assert!(err_text(load(&[&p], &[])).contains(":3: syncLimit: syncLimit is not set"));
}

#[test]
fn server_line_errors_name_the_line() {
    let body = "dataDir={data}\nserver.1=h:1:2\nserver.2=h:2888\n";
    let (_d, p) = with_myid("bad-line", body, None);
    let e = err_text(load(&[&p], &[]));
    assert!(
        e.contains(":3: server.2: h:2888 does not have the form"),
        "{e}"
    );

    let body = "dataDir={data}\nmultiAddress.enabled=true\nserver.1=a:1:2|b:1:2\nserver.2=c:1:2\n";
    let (_d, p) = with_myid("multi", body, Some("1"));
    let e = err_text(load(&[&p], &[]));
    assert!(
        e.contains("Multiple address feature is disabled"),
        "zoo.cfg key does not enable it: {e}"
    );
    let body = format!("{body}initLimit=1\nsyncLimit=1\n");
    let (_d, p) = with_myid("multi-on", &body, Some("1"));
    let c = load(&[&p, "-Dzookeeper.multiAddress.enabled=true"], &[]).expect("loads");
    assert_eq!(c.servers[&1].addresses.len(), 2);
}

#[test]
fn dynamic_config_file() {
    let dir = TempDir::new("dyn-main");
    let data = dir.path().join("data");
    dir.write("data/myid", "2");
    let dynamic = dir.write(
        "zoo.cfg.dynamic.100000000",
        "server.1=a:1:2\nserver.2=b:1:2;2181\nserver.3=c:1:2\n",
    );
    let text = format!(
        "dataDir={}\ninitLimit=5\nsyncLimit=2\ndynamicConfigFile={}\n",
        data.display(),
        dynamic.display()
    );
    let path = dir.write("zoo.cfg", &text);
    let c = load(&[&path.display().to_string()], &[]).expect("loads");
    assert!(c.is_distributed());
    assert_eq!(c.servers.len(), 3);
    assert_eq!(c.config_version, 0x1_0000_0000);
    assert_eq!(c.client_address, Some(HostPort::any(2181)));
}

#[test]
fn following_zookeeper_needs_this_server_to_be_its_observer() {
    let follow = format!("{THREE}peerType=observer\nferrokeeper.follow=zookeeper\n");
    let (_dir, p) = with_myid("follow", &follow, Some("3\n"));
    let c = load(&[&p], &[]).expect("an observer may follow");
    assert!(c.follow_zookeeper);
    assert_eq!(c.peer_type, PeerType::Observer);

    // As a participant (myid 1), it cannot be ZooKeeper's observer.
    let (_dir, p) = with_myid("follow-voter", &follow, Some("1\n"));
    let e = err_text(load(&[&p], &[]));
    assert!(
        e.contains("ferrokeeper.follow") && e.contains("observer"),
        "{e}"
    );

    // Anything but zookeeper is refused, naming key and line.
    let other = format!("{THREE}peerType=observer\nferrokeeper.follow=etcd\n");
    let (_dir, p) = with_myid("follow-etcd", &other, Some("3\n"));
    let e = err_text(load(&[&p], &[]));
    assert!(e.contains("zoo.cfg:10: ferrokeeper.follow"), "{e}");

    let (_dir, p) = with_myid("no-follow", THREE, Some("1\n"));
    assert!(!load(&[&p], &[]).expect("loads").follow_zookeeper);
}

#[test]
fn a_group_of_followers_names_its_members_among_the_observers() {
    let base = "tickTime=2000\ninitLimit=5\nsyncLimit=2\ndataDir={data}\nclientPort=21821\n\
                server.1=127.0.0.1:2891:3891\nserver.2=127.0.0.1:2892:3892\n\
                server.3=127.0.0.1:2893:3893\nserver.4=127.0.0.1:2894:3894:observer\n\
                server.5=127.0.0.1:2895:3895:observer\npeerType=observer\n\
                ferrokeeper.follow=zookeeper\n";
    let (_dir, p) = with_myid(
        "group",
        &format!("{base}ferrokeeper.ensemble=4, 5\n"),
        Some("4\n"),
    );
    assert_eq!(load(&[&p], &[]).expect("loads").follow_ensemble, vec![4, 5]);

    // Quotas are enforced by ZooKeeper's leader, not by a follower of it.
    let (_dir, p) = with_myid(
        "group-quota",
        &format!("{base}enforceQuota=true\n"),
        Some("4\n"),
    );
    let e = err_text(load(&[&p], &[]));
    assert!(e.contains("zookeeper.enforceQuota"), "{e}");

    for (bad, why) in [
        ("ferrokeeper.ensemble=5\n", "own id"),
        ("ferrokeeper.ensemble=4,3\n", "server 3"),
        ("ferrokeeper.ensemble=4,x\n", "comma-separated"),
    ] {
        let (_dir, p) = with_myid("group-bad", &format!("{base}{bad}"), Some("4\n"));
        let e = err_text(load(&[&p], &[]));
        assert!(
            e.contains("ferrokeeper.ensemble") && e.contains(why),
            "{bad}: {e}"
        );
    }
}

#[test]
fn priorities_name_voters() {
    let body = format!("{THREE}ferrokeeper.priority.2=5\nferrokeeper.priority.1=0\n");
    let (_dir, p) = with_myid("priorities", &body, Some("1\n"));
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(c.priorities, [(1, 0), (2, 5)].into());

    // An observer or an unknown id cannot lead: naming it would mean nothing.
    for (line, id) in [
        ("ferrokeeper.priority.3=2", 3),
        ("ferrokeeper.priority.9=2", 9),
    ] {
        let body = format!("{THREE}{line}\n");
        let (_dir, p) = with_myid("priorities-bad", &body, Some("1\n"));
        let e = err_text(load(&[&p], &[]));
        assert!(e.contains(&format!("ferrokeeper.priority.{id}")), "{e}");
        assert!(e.contains("not a voting member"), "{e}");
    }
    let body = format!("{THREE}ferrokeeper.priority.2=high\n");
    let (_dir, p) = with_myid("priorities-text", &body, Some("1\n"));
    assert!(err_text(load(&[&p], &[])).contains("ferrokeeper.priority.2"));
}

#[test]
fn config_znode_holds_the_membership_as_zookeeper_writes_it() {
    // What ZooKeeper 3.8.0 (Debian) held in /zookeeper/config for these ensembles
    // (zkCli `get /zookeeper/config`; no final newline, dataVersion -1).
    let (_dir, p) = with_myid("three", THREE, Some("1\n"));
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(
        c.config_znode().as_deref(),
        Some(
            "server.1=127.0.0.1:2891:3891:participant\n\
             server.2=127.0.0.1:2892:3892:participant;127.0.0.1:21822\n\
             server.3=127.0.0.1:2893:3893:observer\nversion=0"
        )
    );
    let one = "tickTime=500\ninitLimit=5\nsyncLimit=2\ndataDir={data}\nstandaloneEnabled=false\n\
               server.1=127.0.0.1:24001:24101;127.0.0.1:24201\n";
    let (_dir, p) = with_myid("one", one, Some("1\n"));
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(
        c.config_znode().as_deref(),
        Some("server.1=127.0.0.1:24001:24101:participant;127.0.0.1:24201\nversion=0")
    );
    // A standalone server's node stays empty.
    let (_dir, p) = with_myid("alone", "dataDir={data}\nclientPort=21821\n", None);
    assert_eq!(load(&[&p], &[]).expect("loads").config_znode(), None);
}
