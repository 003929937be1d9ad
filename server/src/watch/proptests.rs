//! The registry against a deliberately naive model: a set of (watcher, path, kind)
//! triples scanned in full for every operation, with the rules written per kind.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use ferrokeeper_protocol::{EventType, WatcherType};
use proptest::prelude::*;

use super::*;
use crate::state::txn::WatchTrigger;

/// Includes `/ab` next to `/a` so prefix-but-not-ancestor mistakes show up.
const PATHS: &[&str] = &["/", "/a", "/a/b", "/a/b/c", "/ab", "/b"];
const KINDS: &[WatchKind] = &[
    WatchKind::Data,
    WatchKind::Child,
    WatchKind::Persistent,
    WatchKind::PersistentRecursive,
];
const EVENTS: &[EventType] = &[
    EventType::NodeCreated,
    EventType::NodeDeleted,
    EventType::NodeDataChanged,
    EventType::NodeChildrenChanged,
    EventType::None,
];
const TYPES: &[WatcherType] = &[WatcherType::Children, WatcherType::Data, WatcherType::Any];

type Model = BTreeSet<(u32, String, WatchKind)>;
/// Watchers that armed a non-child watch since their last RemoveWatcher (wchs/wchc keep them).
type Seen = BTreeSet<u32>;

#[derive(Debug, Clone)]
enum Op {
    Add(u32, usize, WatchKind),
    Trigger(usize, EventType),
    RemoveWatcher(u32),
    Check(usize, WatcherType, u32),
    Remove(usize, WatcherType, u32),
    /// watcher, relative zxid, and one path-index list per setWatches2 list.
    Reset(u32, i64, [Vec<usize>; 5]),
}

fn op() -> impl Strategy<Value = Op> {
    let w = 0u32..4;
    let p = 0..PATHS.len();
    let list = || proptest::collection::vec(0..PATHS.len(), 0..3);
    prop_oneof![
        4 => (w.clone(), p.clone(), proptest::sample::select(KINDS)).prop_map(|(w, p, k)| Op::Add(w, p, k)),
        4 => (p.clone(), proptest::sample::select(EVENTS)).prop_map(|(p, e)| Op::Trigger(p, e)),
        1 => w.clone().prop_map(Op::RemoveWatcher),
        1 => (p.clone(), proptest::sample::select(TYPES), w.clone()).prop_map(|(p, t, w)| Op::Check(p, t, w)),
        1 => (p, proptest::sample::select(TYPES), w.clone()).prop_map(|(p, t, w)| Op::Remove(p, t, w)),
        1 => (w, 0i64..4, [list(), list(), list(), list(), list()]).prop_map(|(w, z, l)| Op::Reset(w, z, l)),
    ]
}

/// The tree for setWatches: per path, `None` (missing) or (mzxid, pzxid).
fn tree() -> impl Strategy<Value = Vec<Option<(i64, i64)>>> {
    proptest::collection::vec(proptest::option::of((0i64..4, 0i64..4)), PATHS.len())
}

fn strict_ancestor(anc: &str, path: &str) -> bool {
    anc != path
        && (anc == "/"
            || path
                .strip_prefix(anc)
                .is_some_and(|rest| rest.starts_with('/')))
}

fn model_trigger(model: &mut Model, path: &str, event: EventType) -> Vec<(u32, WatchEvent)> {
    use EventType::*;
    let node_event = matches!(event, NodeCreated | NodeDeleted | NodeDataChanged);
    let mut fired = BTreeSet::new();
    let mut consumed = Vec::new();
    for entry @ (w, p, k) in model.iter() {
        let hit = if p == path {
            match k {
                WatchKind::Data => node_event,
                WatchKind::Child => matches!(event, NodeChildrenChanged | NodeDeleted),
                WatchKind::Persistent => node_event || event == NodeChildrenChanged,
                WatchKind::PersistentRecursive => node_event,
            }
        } else {
            *k == WatchKind::PersistentRecursive && node_event && strict_ancestor(p, path)
        };
        if hit {
            fired.insert(*w);
            if matches!(k, WatchKind::Data | WatchKind::Child) {
                consumed.push(entry.clone());
            }
        }
    }
    for e in consumed {
        model.remove(&e);
    }
    fired
        .into_iter()
        .map(|w| (w, WatchEvent::new(event, path)))
        .collect()
}

fn covers(ty: WatcherType, k: WatchKind) -> bool {
    match ty {
        WatcherType::Data => k == WatchKind::Data,
        WatcherType::Children => k == WatchKind::Child,
        WatcherType::Any => true,
    }
}

fn model_matching(
    model: &Model,
    path: &str,
    ty: WatcherType,
    w: u32,
) -> Vec<(u32, String, WatchKind)> {
    model
        .iter()
        .filter(|(mw, p, k)| *mw == w && p == path && covers(ty, *k))
        .cloned()
        .collect()
}

fn model_reset(
    model: &mut Model,
    seen: &mut Seen,
    w: u32,
    rel: i64,
    lists: &[Vec<usize>; 5],
    tree: &[Option<(i64, i64)>],
) -> Vec<WatchEvent> {
    let mut out = Vec::new();
    let mut arm = |p: usize, k| {
        if k != WatchKind::Child {
            seen.insert(w);
        }
        model.insert((w, PATHS[p].to_string(), k));
    };
    for &p in &lists[0] {
        match tree[p] {
            None => out.push(WatchEvent::new(EventType::NodeDeleted, PATHS[p])),
            Some((m, _)) if m > rel => {
                out.push(WatchEvent::new(EventType::NodeDataChanged, PATHS[p]))
            }
            Some(_) => arm(p, WatchKind::Data),
        }
    }
    for &p in &lists[1] {
        match tree[p] {
            Some(_) => out.push(WatchEvent::new(EventType::NodeCreated, PATHS[p])),
            None => arm(p, WatchKind::Data),
        }
    }
    for &p in &lists[2] {
        match tree[p] {
            None => out.push(WatchEvent::new(EventType::NodeDeleted, PATHS[p])),
            Some((_, pz)) if pz > rel => {
                out.push(WatchEvent::new(EventType::NodeChildrenChanged, PATHS[p]))
            }
            Some(_) => arm(p, WatchKind::Child),
        }
    }
    for &p in &lists[3] {
        arm(p, WatchKind::Persistent);
    }
    for &p in &lists[4] {
        arm(p, WatchKind::PersistentRecursive);
    }
    out
}

/// Reports and internal indexes agree with the model.
fn check_state(reg: &WatchRegistry<u32>, model: &Model, seen: &Seen) -> Result<(), TestCaseError> {
    let in_data = |k: &WatchKind| *k != WatchKind::Child;
    let in_child = |k: &WatchKind| *k != WatchKind::Data;
    let data_pairs: BTreeSet<(u32, &str)> = model
        .iter()
        .filter(|(_, _, k)| in_data(k))
        .map(|(w, p, _)| (*w, p.as_str()))
        .collect();
    let child_pairs: HashSet<(u32, &str)> = model
        .iter()
        .filter(|(_, _, k)| in_child(k))
        .map(|(w, p, _)| (*w, p.as_str()))
        .collect();
    prop_assert_eq!(reg.watch_count(), data_pairs.len() + child_pairs.len());

    let mut by_w: BTreeMap<u32, Vec<String>> = seen.iter().map(|w| (*w, Vec::new())).collect();
    let mut by_p: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (w, p) in &data_pairs {
        by_w.entry(*w).or_default().push(p.to_string());
        by_p.entry(p.to_string()).or_default().push(*w);
    }
    for ws in by_p.values_mut() {
        ws.sort_unstable();
    }
    let summary = WatchSummary {
        connections: by_w.len(),
        paths: by_p.len(),
        total: data_pairs.len(),
    };
    prop_assert_eq!(reg.summary(), summary);
    prop_assert_eq!(reg.by_watcher(), by_w);
    prop_assert_eq!(reg.by_path(), by_p);

    let recursive = model
        .iter()
        .filter(|(_, _, k)| *k == WatchKind::PersistentRecursive)
        .count();
    prop_assert_eq!(reg.recursive, recursive);
    let reverse: BTreeSet<(u32, String)> = model.iter().map(|(w, p, _)| (*w, p.clone())).collect();
    let actual: BTreeSet<(u32, String)> = reg
        .by_watcher
        .iter()
        .flat_map(|(w, ps)| ps.iter().map(|p| (*w, p.clone())))
        .collect();
    prop_assert_eq!(actual, reverse);
    for (w, p, _) in model {
        let kinds: Vec<WatchKind> = model
            .iter()
            .filter(|(mw, mp, _)| mw == w && mp == p)
            .map(|(_, _, k)| *k)
            .collect();
        prop_assert_eq!(reg.kinds(p, *w), kinds);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn registry_matches_model(ops in proptest::collection::vec(op(), 1..60), tree in tree()) {
        let mut reg = WatchRegistry::<u32>::new();
        let mut model = Model::new();
        let mut seen = Seen::new();
        let lookup = |path: &str| {
            let i = PATHS.iter().position(|p| *p == path)?;
            tree[i].map(|(mzxid, pzxid)| NodeZxids { mzxid, pzxid })
        };
        for op in ops {
            match op {
                Op::Add(w, p, k) => {
                    reg.add(PATHS[p], w, k);
                    model.insert((w, PATHS[p].to_string(), k));
                    if k != WatchKind::Child {
                        seen.insert(w);
                    }
                }
                Op::Trigger(p, event) => {
                    let got = reg.trigger(&WatchTrigger { path: PATHS[p].into(), event, zxid: 1, acl: Vec::new() });
                    prop_assert_eq!(got, model_trigger(&mut model, PATHS[p], event));
                }
                Op::RemoveWatcher(w) => {
                    reg.remove_watcher(w);
                    model.retain(|(mw, _, _)| *mw != w);
                    seen.remove(&w);
                }
                Op::Check(p, ty, w) => {
                    let want = !model_matching(&model, PATHS[p], ty, w).is_empty();
                    prop_assert_eq!(reg.check_watches(PATHS[p], ty, w).is_ok(), want);
                }
                Op::Remove(p, ty, w) => {
                    let gone = model_matching(&model, PATHS[p], ty, w);
                    prop_assert_eq!(reg.remove_watches(PATHS[p], ty, w).is_ok(), !gone.is_empty());
                    for e in gone {
                        model.remove(&e);
                    }
                }
                Op::Reset(w, rel, lists) => {
                    let names: Vec<Vec<String>> = lists
                        .iter()
                        .map(|l| l.iter().map(|&p| PATHS[p].to_string()).collect())
                        .collect();
                    let req = ResetWatches {
                        relative_zxid: rel,
                        data: &names[0],
                        exist: &names[1],
                        child: &names[2],
                        persistent: &names[3],
                        persistent_recursive: &names[4],
                    };
                    let (got, _) = reg.set_watches(&req, w, &lookup);
                    prop_assert_eq!(got, model_reset(&mut model, &mut seen, w, rel, &lists, &tree));
                }
            }
            check_state(&reg, &model, &seen)?;
        }
    }
}
