//! One test per rule of the registry.

use ferrokeeper_protocol::{
    ErrorCode, EventType, KeeperState, SetWatches, SetWatches2, WatcherEvent, WatcherType,
};

use super::*;
use crate::state::txn::WatchTrigger;
use EventType::{NodeChildrenChanged, NodeCreated, NodeDataChanged, NodeDeleted};
use WatchKind::{Child, Data, Persistent, PersistentRecursive};

type Reg = WatchRegistry<u32>;

fn fire(reg: &mut Reg, path: &str, event: EventType) -> Vec<(u32, WatchEvent)> {
    reg.trigger(&WatchTrigger {
        path: path.into(),
        event,
        zxid: 7,
        acl: Vec::new(),
    })
}

fn ev(w: u32, event: EventType, path: &str) -> (u32, WatchEvent) {
    (w, WatchEvent::new(event, path))
}

/// The triggers ZooKeeper's DataTree emits for a create of `path` under `parent`.
fn create(reg: &mut Reg, path: &str, parent: &str) -> Vec<(u32, WatchEvent)> {
    let mut out = fire(reg, path, NodeCreated);
    out.extend(fire(reg, parent, NodeChildrenChanged));
    out
}

#[test]
fn one_shot_data_watch_fires_once() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    assert_eq!(
        fire(&mut reg, "/a", NodeDataChanged),
        vec![ev(1, NodeDataChanged, "/a")]
    );
    assert_eq!(fire(&mut reg, "/a", NodeDataChanged), vec![]);
    assert!(reg.is_empty());
    assert!(reg.by_watcher.is_empty(), "reverse index cleaned");
}

#[test]
fn one_shot_child_watch_fires_once_and_ignores_data_events() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Child);
    assert_eq!(fire(&mut reg, "/a", NodeDataChanged), vec![]);
    assert_eq!(fire(&mut reg, "/a", NodeCreated), vec![]);
    assert_eq!(
        fire(&mut reg, "/a", NodeChildrenChanged),
        vec![ev(1, NodeChildrenChanged, "/a")]
    );
    assert_eq!(fire(&mut reg, "/a", NodeChildrenChanged), vec![]);
    assert!(reg.is_empty());
}

#[test]
fn data_watch_ignores_children_changed() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    assert_eq!(fire(&mut reg, "/a", NodeChildrenChanged), vec![]);
    assert_eq!(reg.kinds("/a", 1), vec![Data]);
}

#[test]
fn exists_on_missing_node_then_create_fires_node_created() {
    let mut reg = Reg::new();
    reg.add("/a/b", 1, Data); // exists("/a/b", watch) on a missing node
    reg.add("/a", 2, Child);
    let out = create(&mut reg, "/a/b", "/a");
    assert_eq!(
        out,
        vec![ev(1, NodeCreated, "/a/b"), ev(2, NodeChildrenChanged, "/a")]
    );
    assert!(reg.is_empty());
}

#[test]
fn delete_fires_data_and_child_watchers_on_the_path() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/a", 2, Child);
    reg.add("/a", 3, Data);
    reg.add("/a", 3, Child);
    let out = fire(&mut reg, "/a", NodeDeleted);
    assert_eq!(
        out,
        vec![
            ev(1, NodeDeleted, "/a"),
            ev(2, NodeDeleted, "/a"),
            ev(3, NodeDeleted, "/a")
        ],
        "one event per watcher even with both kinds"
    );
    assert!(reg.is_empty());
}

#[test]
fn other_paths_and_client_only_event_types_fire_nothing() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/a", 1, Persistent);
    assert_eq!(fire(&mut reg, "/ab", NodeDeleted), vec![]);
    assert_eq!(
        fire(&mut reg, "/a/b", NodeDeleted),
        vec![],
        "plain persistent is not recursive"
    );
    assert_eq!(fire(&mut reg, "/", NodeDeleted), vec![]);
    for e in [
        EventType::None,
        EventType::DataWatchRemoved,
        EventType::PersistentWatchRemoved,
    ] {
        assert_eq!(fire(&mut reg, "/a", e), vec![]);
    }
    assert_eq!(reg.kinds("/a", 1), vec![Data, Persistent]);
}

#[test]
fn persistent_keeps_firing_every_event_type() {
    let mut reg = Reg::new();
    reg.add("/p", 1, Persistent);
    for e in [
        NodeCreated,
        NodeDataChanged,
        NodeChildrenChanged,
        NodeDeleted,
        NodeCreated,
    ] {
        assert_eq!(fire(&mut reg, "/p", e), vec![ev(1, e, "/p")]);
    }
    assert_eq!(reg.kinds("/p", 1), vec![Persistent]);
}

#[test]
fn recursive_matches_descendants_created_later_with_their_own_path() {
    let mut reg = Reg::new();
    reg.add("/w", 1, PersistentRecursive);
    let out = create(&mut reg, "/w/a", "/w");
    assert_eq!(
        out,
        vec![ev(1, NodeCreated, "/w/a")],
        "no NodeChildrenChanged on /w"
    );
    let out = create(&mut reg, "/w/a/b", "/w/a");
    assert_eq!(out, vec![ev(1, NodeCreated, "/w/a/b")]);
    assert_eq!(
        fire(&mut reg, "/w/a/b", NodeDataChanged),
        vec![ev(1, NodeDataChanged, "/w/a/b")]
    );
    assert_eq!(
        fire(&mut reg, "/w/a/b", NodeDeleted),
        vec![ev(1, NodeDeleted, "/w/a/b")]
    );
    assert_eq!(
        fire(&mut reg, "/w", NodeDataChanged),
        vec![ev(1, NodeDataChanged, "/w")]
    );
    assert_eq!(
        fire(&mut reg, "/w", NodeChildrenChanged),
        vec![],
        "not even on its own path"
    );
    assert_eq!(
        fire(&mut reg, "/wx", NodeCreated),
        vec![],
        "a sibling sharing a prefix"
    );
    assert_eq!(fire(&mut reg, "/", NodeDataChanged), vec![]);
    assert_eq!(reg.kinds("/w", 1), vec![PersistentRecursive]);
}

#[test]
fn recursive_on_root_covers_everything() {
    let mut reg = Reg::new();
    reg.add("/", 4, PersistentRecursive);
    assert_eq!(
        fire(&mut reg, "/x/y/z", NodeCreated),
        vec![ev(4, NodeCreated, "/x/y/z")]
    );
    assert_eq!(
        fire(&mut reg, "/", NodeDataChanged),
        vec![ev(4, NodeDataChanged, "/")]
    );
}

#[test]
fn recursive_does_not_consume_one_shots_on_ancestors() {
    let mut reg = Reg::new();
    reg.add("/a", 1, PersistentRecursive);
    reg.add("/a", 1, Data);
    reg.add("/a", 2, Data);
    assert_eq!(
        fire(&mut reg, "/a/b", NodeDataChanged),
        vec![ev(1, NodeDataChanged, "/a/b")]
    );
    assert_eq!(reg.kinds("/a", 1), vec![Data, PersistentRecursive]);
    assert_eq!(reg.kinds("/a", 2), vec![Data]);
}

#[test]
fn dedupe_child_watch_and_persistent_on_same_path() {
    let mut reg = Reg::new();
    reg.add("/p", 1, Child);
    reg.add("/p", 1, Persistent);
    assert_eq!(
        fire(&mut reg, "/p", NodeChildrenChanged),
        vec![ev(1, NodeChildrenChanged, "/p")]
    );
    assert_eq!(
        reg.kinds("/p", 1),
        vec![Persistent],
        "the one-shot was consumed"
    );
    assert_eq!(
        fire(&mut reg, "/p", NodeChildrenChanged),
        vec![ev(1, NodeChildrenChanged, "/p")]
    );
}

#[test]
fn dedupe_across_kinds_and_ancestor_levels() {
    let mut reg = Reg::new();
    reg.add("/", 1, PersistentRecursive);
    reg.add("/a", 1, PersistentRecursive);
    reg.add("/a/b", 1, Data);
    reg.add("/a/b", 1, Child);
    reg.add("/a/b", 1, Persistent);
    reg.add("/a", 2, PersistentRecursive);
    let out = fire(&mut reg, "/a/b", NodeDeleted);
    assert_eq!(
        out,
        vec![ev(1, NodeDeleted, "/a/b"), ev(2, NodeDeleted, "/a/b")]
    );
    assert_eq!(reg.kinds("/a/b", 1), vec![Persistent]);
}

#[test]
fn output_is_sorted_by_watcher() {
    let mut reg = Reg::new();
    for w in [9, 3, 7] {
        reg.add("/a/b", w, Data);
    }
    reg.add("/a", 5, PersistentRecursive);
    reg.add("/", 1, PersistentRecursive);
    let out = fire(&mut reg, "/a/b", NodeCreated);
    let ws: Vec<u32> = out.iter().map(|(w, _)| *w).collect();
    assert_eq!(ws, vec![1, 3, 5, 7, 9]);
}

#[test]
fn adding_the_same_kind_twice_is_one_watch() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/a", 1, Data);
    assert_eq!(reg.watch_count(), 1);
    assert_eq!(fire(&mut reg, "/a", NodeDataChanged).len(), 1);
    assert_eq!(fire(&mut reg, "/a", NodeDataChanged).len(), 0);
}

#[test]
fn remove_watcher_drops_everything_of_that_watcher_only() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/a", 2, Data);
    reg.add("/b", 1, Child);
    reg.add("/c", 1, PersistentRecursive);
    reg.remove_watcher(1);
    reg.remove_watcher(1); // idempotent
    reg.remove_watcher(42); // unknown
    assert_eq!(reg.recursive, 0, "recursive count follows removals");
    assert_eq!(fire(&mut reg, "/c/d", NodeCreated), vec![]);
    assert_eq!(fire(&mut reg, "/b", NodeChildrenChanged), vec![]);
    assert_eq!(
        fire(&mut reg, "/a", NodeDataChanged),
        vec![ev(2, NodeDataChanged, "/a")]
    );
    assert!(reg.is_empty());
    assert!(reg.by_watcher.is_empty());
}

#[test]
fn recursive_count_skips_ancestor_walk_when_zero() {
    let mut reg = Reg::new();
    reg.add("/a", 1, PersistentRecursive);
    assert_eq!(reg.recursive, 1);
    reg.add("/a", 1, PersistentRecursive);
    reg.add("/a", 1, Data);
    assert_eq!(reg.recursive, 1);
    assert_eq!(reg.remove_watches("/a", WatcherType::Data, 1), Ok(()));
    assert_eq!(reg.recursive, 1);
    assert_eq!(reg.remove_watches("/a", WatcherType::Any, 1), Ok(()));
    assert_eq!(reg.recursive, 0);
    assert!(reg.is_empty());
}

#[test]
fn check_and_remove_watches_per_type() {
    let mut reg = Reg::new();
    reg.add("/d", 1, Data);
    reg.add("/c", 1, Child);
    let nw = Err(NoWatcher);
    assert_eq!(reg.check_watches("/d", WatcherType::Data, 1), Ok(()));
    assert_eq!(reg.check_watches("/d", WatcherType::Any, 1), Ok(()));
    assert_eq!(reg.check_watches("/d", WatcherType::Children, 1), nw);
    assert_eq!(
        reg.check_watches("/d", WatcherType::Data, 2),
        nw,
        "another watcher's"
    );
    assert_eq!(reg.check_watches("/c", WatcherType::Children, 1), Ok(()));
    assert_eq!(reg.check_watches("/c", WatcherType::Data, 1), nw);
    assert_eq!(reg.check_watches("/x", WatcherType::Any, 1), nw);

    assert_eq!(reg.remove_watches("/d", WatcherType::Children, 1), nw);
    assert_eq!(reg.remove_watches("/d", WatcherType::Data, 1), Ok(()));
    assert_eq!(
        reg.remove_watches("/d", WatcherType::Data, 1),
        nw,
        "already gone"
    );
    assert_eq!(reg.remove_watches("/c", WatcherType::Any, 1), Ok(()));
    assert!(reg.is_empty());
    assert_eq!(ErrorCode::from(NoWatcher), ErrorCode::NoWatcher);
}

#[test]
fn remove_watches_any_removes_both_one_shots() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/a", 1, Child);
    assert_eq!(reg.remove_watches("/a", WatcherType::Children, 1), Ok(()));
    assert_eq!(reg.kinds("/a", 1), vec![Data]);
    reg.add("/a", 1, Child);
    assert_eq!(reg.remove_watches("/a", WatcherType::Any, 1), Ok(()));
    assert!(reg.is_empty());
}

#[test]
fn persistent_watches_are_reached_only_by_any() {
    let mut reg = Reg::new();
    reg.add("/p", 1, Persistent);
    reg.add("/r", 1, PersistentRecursive);
    for (path, ty) in [
        ("/p", WatcherType::Data),
        ("/p", WatcherType::Children),
        ("/r", WatcherType::Data),
    ] {
        assert_eq!(reg.check_watches(path, ty, 1), Err(NoWatcher));
        assert_eq!(reg.remove_watches(path, ty, 1), Err(NoWatcher));
    }
    assert_eq!(reg.check_watches("/p", WatcherType::Any, 1), Ok(()));
    assert_eq!(
        reg.check_watches("/r/x", WatcherType::Any, 1),
        Err(NoWatcher),
        "exact path only"
    );
    assert_eq!(reg.remove_watches("/p", WatcherType::Any, 1), Ok(()));
    assert_eq!(reg.remove_watches("/r", WatcherType::Any, 1), Ok(()));
    assert!(reg.is_empty());
    assert_eq!(fire(&mut reg, "/r/x", NodeCreated), vec![]);
}

fn tree(path: &str) -> Option<NodeZxids> {
    // /old: unchanged since zxid 10; /data: data changed at 20; /kids: child added at 20.
    match path {
        "/old" => Some(NodeZxids {
            mzxid: 5,
            pzxid: 10,
        }),
        "/data" => Some(NodeZxids {
            mzxid: 20,
            pzxid: 5,
        }),
        "/kids" => Some(NodeZxids {
            mzxid: 5,
            pzxid: 20,
        }),
        _ => None,
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn set_watches_data_list() {
    let mut reg = Reg::new();
    let data = strings(&["/gone", "/data", "/old", "/kids"]);
    let req = ResetWatches {
        relative_zxid: 10,
        data: &data,
        ..Default::default()
    };
    let (out, _) = reg.set_watches(&req, 1, &tree);
    assert_eq!(
        out,
        vec![
            WatchEvent::new(NodeDeleted, "/gone"),
            WatchEvent::new(NodeDataChanged, "/data")
        ]
    );
    assert_eq!(reg.kinds("/old", 1), vec![Data]);
    assert_eq!(
        reg.kinds("/kids", 1),
        vec![Data],
        "pzxid does not matter to a data watch"
    );
    assert_eq!(reg.kinds("/gone", 1), vec![]);
    assert_eq!(reg.kinds("/data", 1), vec![]);
}

#[test]
fn set_watches_exist_list() {
    let mut reg = Reg::new();
    let exist = strings(&["/old", "/gone"]);
    let req = ResetWatches {
        relative_zxid: 10,
        exist: &exist,
        ..Default::default()
    };
    let (out, _) = reg.set_watches(&req, 1, &tree);
    assert_eq!(
        out,
        vec![WatchEvent::new(NodeCreated, "/old")],
        "exists now, whatever its zxids"
    );
    assert_eq!(reg.kinds("/gone", 1), vec![Data], "armed as a data watch");
    assert_eq!(reg.kinds("/old", 1), vec![]);
    assert_eq!(
        fire(&mut reg, "/gone", NodeCreated),
        vec![ev(1, NodeCreated, "/gone")]
    );
}

#[test]
fn set_watches_child_list() {
    let mut reg = Reg::new();
    let child = strings(&["/gone", "/kids", "/old", "/data"]);
    let req = ResetWatches {
        relative_zxid: 10,
        child: &child,
        ..Default::default()
    };
    let (out, _) = reg.set_watches(&req, 1, &tree);
    assert_eq!(
        out,
        vec![
            WatchEvent::new(NodeDeleted, "/gone"),
            WatchEvent::new(NodeChildrenChanged, "/kids")
        ]
    );
    assert_eq!(reg.kinds("/old", 1), vec![Child]);
    assert_eq!(
        reg.kinds("/data", 1),
        vec![Child],
        "mzxid does not matter to a child watch"
    );
}

#[test]
fn set_watches_order_is_data_then_exist_then_child_and_persistent_always_armed() {
    let mut reg = Reg::new();
    let msg = SetWatches2 {
        relative_zxid: 10,
        data_watches: strings(&["/gone"]),
        exist_watches: strings(&["/old"]),
        child_watches: strings(&["/kids"]),
        persistent_watches: strings(&["/gone", "/data"]),
        persistent_recursive_watches: strings(&["/nothing"]),
    };
    let (out, _) = reg.set_watches(&ResetWatches::from(&msg), 3, &tree);
    assert_eq!(
        out,
        vec![
            WatchEvent::new(NodeDeleted, "/gone"),
            WatchEvent::new(NodeCreated, "/old"),
            WatchEvent::new(NodeChildrenChanged, "/kids"),
        ]
    );
    assert_eq!(reg.kinds("/gone", 3), vec![Persistent]);
    assert_eq!(reg.kinds("/data", 3), vec![Persistent]);
    assert_eq!(reg.kinds("/nothing", 3), vec![PersistentRecursive]);
    assert_eq!(
        fire(&mut reg, "/nothing/x", NodeCreated),
        vec![ev(3, NodeCreated, "/nothing/x")]
    );
}

#[test]
fn set_watches_v1_has_no_persistent_lists() {
    let msg = SetWatches {
        relative_zxid: 30,
        data_watches: strings(&["/data"]),
        exist_watches: vec![],
        child_watches: strings(&["/kids"]),
    };
    let req = ResetWatches::from(&msg);
    assert!(req.persistent.is_empty() && req.persistent_recursive.is_empty());
    let mut reg = Reg::new();
    assert_eq!(
        reg.set_watches(&req, 1, &tree).0,
        vec![],
        "nothing newer than 30"
    );
    assert_eq!(reg.kinds("/data", 1), vec![Data]);
    assert_eq!(reg.kinds("/kids", 1), vec![Child]);
}

#[test]
fn summary_counts_the_data_table_like_zookeeper() {
    let mut reg = Reg::new();
    assert_eq!(
        reg.summary().to_string(),
        "0 connections watching 0 paths\nTotal watches:0"
    );
    reg.add("/a", 1, Data);
    reg.add("/a", 2, Data);
    reg.add("/a", 2, Persistent);
    reg.add("/b", 2, PersistentRecursive);
    reg.add("/c", 3, Child); // child table only: invisible to wchs/wchc/wchp
    let s = reg.summary();
    assert_eq!(
        s,
        WatchSummary {
            connections: 2,
            paths: 2,
            total: 3
        }
    );
    assert_eq!(
        s.to_string(),
        "2 connections watching 2 paths\nTotal watches:3"
    );
    // data table: (/a,1) (/a,2) (/b,2); child table: (/a,2) (/b,2) (/c,3)
    assert_eq!(reg.watch_count(), 6);
}

#[test]
fn per_watcher_and_per_path_reports_are_sorted() {
    let mut reg = Reg::new();
    for (p, w) in [("/z", 2), ("/a", 2), ("/m", 1), ("/a", 1)] {
        reg.add(p, w, Data);
    }
    reg.add("/kids", 1, Child);
    let by_w: Vec<(u32, Vec<String>)> = reg.by_watcher().into_iter().collect();
    assert_eq!(
        by_w,
        vec![(1, strings(&["/a", "/m"])), (2, strings(&["/a", "/z"]))]
    );
    let by_p: Vec<(String, Vec<u32>)> = reg.by_path().into_iter().collect();
    assert_eq!(
        by_p,
        vec![
            ("/a".into(), vec![1, 2]),
            ("/m".into(), vec![1]),
            ("/z".into(), vec![2])
        ]
    );
    fire(&mut reg, "/a", NodeDataChanged);
    assert_eq!(
        reg.summary(),
        WatchSummary {
            connections: 2,
            paths: 2,
            total: 2
        }
    );
}

#[test]
fn reports_keep_a_connection_until_it_disconnects_like_zookeeper() {
    let mut reg = Reg::new();
    reg.add("/a", 1, Data);
    reg.add("/c", 2, Child);
    fire(&mut reg, "/a", NodeDataChanged);
    fire(&mut reg, "/c", NodeChildrenChanged);
    // Observed on 3.8.0: "1 connections watching 0 paths", wchc lists the session alone.
    assert_eq!(
        reg.summary().to_string(),
        "1 connections watching 0 paths\nTotal watches:0"
    );
    assert_eq!(
        reg.by_watcher().into_iter().collect::<Vec<_>>(),
        vec![(1, vec![])]
    );
    assert!(reg.by_path().is_empty());
    assert!(reg.is_empty());
    reg.remove_watcher(1);
    assert_eq!(reg.summary(), WatchSummary::default());
    assert!(reg.by_watcher().is_empty());
}

#[test]
fn wire_event_is_sync_connected() {
    let wire = WatcherEvent::from(WatchEvent::new(NodeChildrenChanged, "/x"));
    assert_eq!(wire.r#type, 4);
    assert_eq!(wire.state, KeeperState::SyncConnected.code());
    assert_eq!(wire.path, "/x");
}

#[test]
fn add_watch_mode_maps_to_kind() {
    use ferrokeeper_protocol::AddWatchMode;
    assert_eq!(WatchKind::from(AddWatchMode::Persistent), Persistent);
    assert_eq!(
        WatchKind::from(AddWatchMode::PersistentRecursive),
        PersistentRecursive
    );
}

#[test]
fn parent_walk() {
    use super::registry::parent;
    assert_eq!(parent("/a/b"), Some("/a"));
    assert_eq!(parent("/a"), Some("/"));
    assert_eq!(parent("/"), None);
    assert_eq!(parent("bad"), None);
}

#[test]
fn a_watcher_watches_at_most_its_limit_of_paths() {
    let mut reg = Reg::with_limit(2);
    assert_eq!(reg.try_add("/a", 1, Data), Ok(()));
    assert_eq!(reg.try_add("/b", 1, Child), Ok(()));
    // Another kind on a watched path costs nothing; a third path is refused.
    assert_eq!(reg.try_add("/a", 1, Child), Ok(()));
    assert_eq!(reg.try_add("/c", 1, Data), Err(TooManyWatches));
    assert!(reg.kinds("/c", 1).is_empty(), "nothing armed");
    // Other watchers have their own count; a fired one-shot watch frees its path.
    assert_eq!(reg.try_add("/c", 2, Data), Ok(()));
    reg.remove_watches("/b", WatcherType::Any, 1)
        .expect("watched");
    assert_eq!(reg.try_add("/c", 1, Data), Ok(()));
    // setWatches arms up to the limit and says what it could not.
    let mut reg = Reg::with_limit(1);
    let data = strings(&["/old", "/kids"]);
    let req = ResetWatches {
        relative_zxid: 30,
        data: &data,
        ..Default::default()
    };
    let (_, armed) = reg.set_watches(&req, 1, &tree);
    assert_eq!(armed, Err(TooManyWatches));
    assert_eq!(reg.kinds("/old", 1), vec![Data]);
    assert!(reg.kinds("/kids", 1).is_empty());
}
