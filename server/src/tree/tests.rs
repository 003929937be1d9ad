//! DataTree reads and raw mutations; the request-level rules are tested in `state`.

use bytes::Bytes;
use ferrokeeper_protocol::{ErrorCode, Stat, perms};

use super::owner::{CONTAINER_OWNER, ttl_owner};
use super::*;

fn zero_stat(cversion: i32, num_children: i32, aversion: i32) -> Stat {
    Stat {
        cversion,
        num_children,
        aversion,
        ..Stat::default()
    }
}

#[test]
fn fresh_tree_matches_zookeeper_3_8() {
    // `stat` and `getAcl` from zkCli against a fresh ZooKeeper 3.8.0, and its
    // `srvr`/`mntr` (Node count 5, zk_approximate_data_size 44).
    let t = DataTree::new();
    assert_eq!(t.stat("/"), Ok(zero_stat(-1, 1, 0)));
    assert_eq!(t.stat("/zookeeper"), Ok(zero_stat(-2, 2, 0)));
    assert_eq!(t.stat("/zookeeper/quota"), Ok(zero_stat(0, 0, 0)));
    assert_eq!(t.stat("/zookeeper/config"), Ok(zero_stat(0, 0, -1)));
    assert_eq!(t.get_acl("/").map(|a| a.0), Ok(perms::open_acl_unsafe()));
    assert_eq!(
        t.get_acl("/zookeeper/quota").map(|a| a.0),
        Ok(perms::open_acl_unsafe())
    );
    assert_eq!(
        t.get_acl("/zookeeper/config").map(|a| a.0),
        Ok(perms::read_acl_unsafe())
    );
    assert_eq!(
        t.get_data("/zookeeper/config").map(|d| d.0),
        Ok(Some(Bytes::new()))
    );
    assert_eq!(
        t.get_children("/zookeeper").map(|c| c.0),
        Ok(vec!["config".to_owned(), "quota".to_owned()])
    );
    assert_eq!(t.node_count(), 5);
    assert_eq!(t.approximate_data_size(), 44);
    assert_eq!(t.get_all_children_number("/"), Ok(3));
    assert_eq!(t.get_all_children_number("/zookeeper"), Ok(2));
    assert_eq!(t.ephemeral_count(), 0);
}

#[test]
fn missing_nodes_are_no_node() {
    let t = DataTree::new();
    assert_eq!(t.stat("/x"), Err(ErrorCode::NoNode));
    assert_eq!(t.get_data("/x").map(|_| ()), Err(ErrorCode::NoNode));
    assert_eq!(t.get_children("/x").map(|_| ()), Err(ErrorCode::NoNode));
    assert_eq!(t.get_acl("/x").map(|_| ()), Err(ErrorCode::NoNode));
    assert_eq!(t.get_all_children_number("/x"), Err(ErrorCode::NoNode));
    assert_eq!(
        t.get_all_children_number("/zookeeper/"),
        Err(ErrorCode::NoNode)
    );
}

fn create(
    t: &mut DataTree,
    path: &str,
    data: Option<&'static [u8]>,
    owner: i64,
    zxid: i64,
) -> Stat {
    let data = data.map(Bytes::from_static);
    match t.create(
        path,
        data,
        perms::open_acl_unsafe(),
        owner,
        zxid,
        1000 + zxid,
    ) {
        Ok((stat, _)) => stat,
        Err(e) => panic!("create {path}: {e}"),
    }
}

#[test]
fn create_sets_stats_and_parent_counters() {
    let mut t = DataTree::new();
    let s = create(&mut t, "/a", Some(b"xyz"), 0, 5);
    assert_eq!(
        s,
        Stat {
            czxid: 5,
            mzxid: 5,
            ctime: 1005,
            mtime: 1005,
            pzxid: 5,
            data_length: 3,
            ..Stat::default()
        }
    );
    create(&mut t, "/a/b", None, 0, 6);
    let a = t.stat("/a").unwrap_or_default();
    assert_eq!((a.cversion, a.num_children, a.pzxid, a.mzxid), (1, 1, 6, 5));
    assert_eq!(t.node("/a").map(|n| n.persisted_stat().cversion), Some(1));
    // Null data stays null and has length 0.
    assert_eq!(
        t.get_data("/a/b").map(|d| (d.0, d.1.data_length)),
        Ok((None, 0))
    );
    let undo = t.delete("/a/b", 7);
    assert!(undo.is_ok());
    let a = t.stat("/a").unwrap_or_default();
    // Persisted cversion counts creates only; clients see creates + deletes.
    assert_eq!((a.cversion, a.num_children, a.pzxid), (2, 0, 7));
    assert_eq!(t.node("/a").map(|n| n.persisted_stat().cversion), Some(1));
}

#[test]
fn cversion_sticks_at_i32_max() {
    let mut t = DataTree::new();
    create(&mut t, "/p", None, 0, 2);
    if let Some(n) = t.node_mut("/p") {
        n.stat.cversion = i32::MAX;
    }
    create(&mut t, "/p/x", None, 0, 3);
    let p = t
        .node("/p")
        .map(|n| n.persisted_stat().clone())
        .unwrap_or_default();
    assert_eq!((p.cversion, p.pzxid), (i32::MAX, 2));
}

#[test]
fn owners_are_indexed_and_hidden_from_clients() {
    let mut t = DataTree::with_extended_types(true);
    let ttl = ttl_owner(500).unwrap_or_default();
    assert_eq!(create(&mut t, "/e", None, 77, 2).ephemeral_owner, 77);
    assert_eq!(
        create(&mut t, "/c", None, CONTAINER_OWNER, 3).ephemeral_owner,
        0
    );
    assert_eq!(create(&mut t, "/t", None, ttl, 4).ephemeral_owner, 0);
    assert_eq!(t.ephemeral_count(), 1);
    assert_eq!(t.get_ephemerals(77, ""), vec!["/e".to_owned()]);
    assert_eq!(t.containers().iter().collect::<Vec<_>>(), vec!["/c"]);
    assert_eq!(t.ttls().iter().collect::<Vec<_>>(), vec!["/t"]);
    assert_eq!(t.owner_kind("/t"), Some(OwnerKind::Ttl(500)));
    for p in ["/e", "/c", "/t"] {
        assert!(t.delete(p, 9).is_ok());
    }
    assert_eq!(t.ephemeral_count(), 0);
    assert!(t.containers().is_empty() && t.ttls().is_empty());
    assert_eq!(t, {
        let mut fresh = DataTree::with_extended_types(true);
        for (p, z) in [("/e", 2), ("/c", 3), ("/t", 4)] {
            create(&mut fresh, p, None, 0, z);
        }
        for p in ["/e", "/c", "/t"] {
            assert!(fresh.delete(p, 9).is_ok());
        }
        fresh
    });
}

#[test]
fn get_ephemerals_uses_a_plain_string_prefix() {
    let mut t = DataTree::new();
    create(&mut t, "/app", None, 0, 2);
    create(&mut t, "/app/e1", None, 9, 3);
    create(&mut t, "/apple", None, 9, 4);
    create(&mut t, "/b", None, 9, 5);
    create(&mut t, "/other", None, 8, 6);
    let all = vec!["/app/e1".to_owned(), "/apple".to_owned(), "/b".to_owned()];
    assert_eq!(t.get_ephemerals(9, ""), all);
    assert_eq!(t.get_ephemerals(9, " / "), all);
    assert_eq!(
        t.get_ephemerals(9, "/app"),
        vec!["/app/e1".to_owned(), "/apple".to_owned()]
    );
    assert_eq!(t.get_ephemerals(9, "/app/"), vec!["/app/e1".to_owned()]);
    assert_eq!(t.get_ephemerals(1, "/"), Vec::<String>::new());
}

#[test]
fn all_children_number_counts_descendants_by_prefix() {
    let mut t = DataTree::new();
    for (i, p) in ["/a", "/a/b", "/a/b/c", "/ab", "/a/d"].iter().enumerate() {
        create(&mut t, p, None, 0, i as i64 + 2);
    }
    assert_eq!(t.get_all_children_number("/a"), Ok(3));
    assert_eq!(t.get_all_children_number("/a/b"), Ok(1));
    assert_eq!(t.get_all_children_number("/ab"), Ok(0));
    assert_eq!(t.get_all_children_number("/"), Ok(8));
}

#[test]
fn data_size_follows_zookeeper_accounting() {
    let mut t = DataTree::new();
    create(&mut t, "/é", Some(b"12345"), 0, 2);
    assert_eq!(t.approximate_data_size(), 44 + 2 + 5);
    assert!(t.set_data("/é", None, 1, 3, 0).is_ok());
    assert_eq!(t.approximate_data_size(), 44 + 2);
    assert!(t.delete("/é", 4).is_ok());
    assert_eq!(t.approximate_data_size(), 44);
}

#[test]
fn undo_restores_everything() {
    let mut t = DataTree::with_extended_types(true);
    create(&mut t, "/a", Some(b"v"), 0, 2);
    create(&mut t, "/a/e", None, 5, 3);
    let before = t.clone();
    let mut undos = Vec::new();
    let mut step = |r: Result<super::Undo, ErrorCode>| match r {
        Ok(u) => undos.push(u),
        Err(e) => panic!("{e}"),
    };
    step(
        t.create(
            "/a/n",
            None,
            perms::open_acl_unsafe(),
            CONTAINER_OWNER,
            4,
            0,
        )
        .map(|r| r.1),
    );
    step(
        t.set_data("/a", Some(Bytes::from_static(b"longer")), 1, 4, 9)
            .map(|r| r.1),
    );
    step(t.set_acl("/a", perms::read_acl_unsafe(), 1).map(|r| r.1));
    step(t.delete("/a/e", 4));
    step(t.delete("/a/n", 4));
    assert_ne!(t, before);
    for u in undos.into_iter().rev() {
        t.undo(u);
    }
    assert_eq!(t, before);
}

#[test]
fn stored_data_does_not_pin_the_buffer_it_was_decoded_from() {
    // A request's data is a slice of the connection's read buffer.
    let buffer = Bytes::from(vec![7u8; 64 * 1024]);
    let inside = |d: &Bytes| buffer.as_ptr_range().contains(&d.as_ptr());
    let mut t = DataTree::new();
    t.create(
        "/a",
        Some(buffer.slice(100..200)),
        perms::open_acl_unsafe(),
        0,
        1,
        1,
    )
    .unwrap();
    let created = t.node("/a").unwrap().data().unwrap().clone();
    assert_eq!(created.as_ref(), &[7u8; 100][..]);
    assert!(!inside(&created));
    t.set_data("/a", Some(buffer.slice(300..350)), 1, 2, 2)
        .unwrap();
    let set = t.node("/a").unwrap().data().unwrap().clone();
    assert_eq!(set.len(), 50);
    assert!(!inside(&set));
}
