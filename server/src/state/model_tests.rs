//! `ZkState` against a deliberately naive model: random entries go to both, and
//! every observable (result codes, created names, events, every node's data,
//! versions, zxids, owner, children) must agree after every step. The model
//! implements a failed multi by throwing away a cloned copy, so it also checks the
//! real undo log. Paths and ACLs are limited (ACLs are always open) so that the
//! model can stay obviously right; ACLs and path syntax have their own unit tests.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use ferrokeeper_protocol::{ErrorCode, EventType, perms};
use proptest::prelude::*;

use super::txn::{Entry, OpResult, Txn, TxnResult, WriteOp};
use super::{StateConfig, ZkState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Persistent,
    Session(i64),
    Container,
    Ttl,
}

#[derive(Debug, Clone)]
struct MNode {
    data: Option<Vec<u8>>,
    version: i32,
    owner: Owner,
    creates: i32,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
}

/// An op's observable outcome: the created path (if any) or the error.
type Outcome = Result<Option<String>, ErrorCode>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum MResult {
    Single(Outcome),
    Multi(Vec<Outcome>),
    Session,
}

#[derive(Debug, Clone)]
struct Model {
    nodes: BTreeMap<String, MNode>,
    sessions: BTreeSet<i64>,
    extended: bool,
    zxid: i64,
    events: Vec<(String, EventType)>,
}

const SPECIAL: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

fn parent_of(path: &str) -> Option<&str> {
    let i = path.rfind('/')?;
    Some(if i == 0 { "/" } else { &path[..i] })
}

/// Enough of PathUtils for the paths generated here.
fn valid(path: &str) -> bool {
    path == "/" || (path.starts_with('/') && !path.ends_with('/') && !path.contains("//"))
}

impl Model {
    fn new(extended: bool) -> Model {
        let zero = MNode {
            data: Some(Vec::new()),
            version: 0,
            owner: Owner::Persistent,
            creates: 0,
            czxid: 0,
            mzxid: 0,
            pzxid: 0,
        };
        Model {
            nodes: SPECIAL
                .iter()
                .map(|p| ((*p).to_owned(), zero.clone()))
                .collect(),
            sessions: BTreeSet::new(),
            extended,
            zxid: 0,
            events: Vec::new(),
        }
    }

    fn children(&self, path: &str) -> Vec<String> {
        self.nodes
            .keys()
            .filter(|p| p.as_str() != "/" && parent_of(p) == Some(path))
            .map(|p| p[p.rfind('/').map_or(0, |i| i + 1)..].to_owned())
            .collect()
    }

    fn apply(&mut self, txn: &Txn) -> MResult {
        self.zxid += 1;
        self.events.clear();
        match txn {
            Txn::CreateSession { session_id, .. } => {
                self.sessions.insert(*session_id);
                MResult::Session
            }
            Txn::CloseSession { session_id } => {
                let doomed: Vec<String> = self
                    .nodes
                    .iter()
                    .filter(|(_, n)| n.owner == Owner::Session(*session_id))
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in doomed {
                    self.remove(&p);
                }
                self.sessions.remove(session_id);
                MResult::Session
            }
            Txn::DeleteContainer { path } => MResult::Single(self.delete_container(path)),
            // Never generated: reconfig is not part of the model.
            Txn::SetConfig { .. } | Txn::Restore { .. } => MResult::Session,
            // The model has no quotas (generated paths never make one).
            Txn::Write { session_id, op, .. } | Txn::WriteEnforcingQuota { session_id, op, .. } => {
                match op {
                    WriteOp::Multi(ops) => {
                        let mut scratch = self.clone();
                        let mut out = Vec::new();
                        for (i, op) in ops.iter().enumerate() {
                            match scratch.op(*session_id, op) {
                                Ok(created) => out.push(Ok(created)),
                                Err(code) => {
                                    self.events.clear();
                                    let mut shape = vec![Err(ErrorCode::Ok); i];
                                    shape.push(Err(code));
                                    shape.resize(ops.len(), Err(ErrorCode::RuntimeInconsistency));
                                    return MResult::Multi(shape);
                                }
                            }
                        }
                        *self = scratch;
                        MResult::Multi(out)
                    }
                    op => {
                        let r = self.op(*session_id, op);
                        if r.is_err() {
                            self.events.clear();
                        }
                        MResult::Single(r)
                    }
                }
            }
        }
    }

    fn op(&mut self, session: i64, op: &WriteOp) -> Outcome {
        let live = self.sessions.contains(&session);
        match op {
            WriteOp::Fail { code } => {
                Err(ErrorCode::from_code(*code).unwrap_or(ErrorCode::SystemError))
            }
            WriteOp::Create {
                path,
                data,
                flags,
                ttl,
                ..
            } => {
                let flags = *flags;
                if !(0..=6).contains(&flags) {
                    return Err(ErrorCode::BadArguments);
                }
                let is_ttl = flags == 5 || flags == 6;
                if is_ttl && !self.extended {
                    return Err(ErrorCode::Unimplemented);
                }
                if is_ttl && (*ttl <= 0 || *ttl > 0xFF_FFFF_FFFF) || !is_ttl && *ttl != 0 {
                    return Err(ErrorCode::BadArguments);
                }
                if !live {
                    return Err(ErrorCode::SessionExpired);
                }
                let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?.to_owned();
                let p = self.nodes.get(&parent).ok_or(ErrorCode::NoNode)?;
                let full = if matches!(flags, 2 | 3 | 6) {
                    format!("{path}{:010}", p.creates)
                } else {
                    path.clone()
                };
                if !valid(&full) {
                    return Err(ErrorCode::BadArguments);
                }
                if self.nodes.contains_key(&full) {
                    return Err(ErrorCode::NodeExists);
                }
                if matches!(p.owner, Owner::Session(_)) {
                    return Err(ErrorCode::NoChildrenForEphemerals);
                }
                let owner = match flags {
                    1 | 3 => Owner::Session(session),
                    4 => Owner::Container,
                    5 | 6 => Owner::Ttl,
                    _ => Owner::Persistent,
                };
                let z = self.zxid;
                if let Some(p) = self.nodes.get_mut(&parent) {
                    p.creates += 1;
                    p.pzxid = z;
                }
                let node = MNode {
                    data: data.as_ref().map(|d| d.to_vec()),
                    version: 0,
                    owner,
                    creates: 0,
                    czxid: z,
                    mzxid: z,
                    pzxid: z,
                };
                self.nodes.insert(full.clone(), node);
                self.events.push((full.clone(), EventType::NodeCreated));
                self.events.push((parent, EventType::NodeChildrenChanged));
                Ok(Some(full))
            }
            WriteOp::Delete { path, version } => {
                if !live {
                    return Err(ErrorCode::SessionExpired);
                }
                if SPECIAL.contains(&path.as_str()) {
                    return Err(ErrorCode::BadArguments);
                }
                let parent = parent_of(path).ok_or(ErrorCode::BadArguments)?;
                self.nodes.get(parent).ok_or(ErrorCode::NoNode)?;
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                if !self.children(path).is_empty() {
                    return Err(ErrorCode::NotEmpty);
                }
                self.remove(path);
                Ok(None)
            }
            WriteOp::SetData {
                path,
                data,
                version,
            } => {
                if !live {
                    return Err(ErrorCode::SessionExpired);
                }
                if !valid(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let z = self.zxid;
                let n = self.nodes.get_mut(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                n.data = data.as_ref().map(|d| d.to_vec());
                n.version += 1;
                n.mzxid = z;
                self.events.push((path.clone(), EventType::NodeDataChanged));
                Ok(None)
            }
            WriteOp::Check { path, version } => {
                if !live {
                    return Err(ErrorCode::SessionExpired);
                }
                if !valid(path) {
                    return Err(ErrorCode::BadArguments);
                }
                let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
                if *version != -1 && *version != n.version {
                    return Err(ErrorCode::BadVersion);
                }
                Ok(None)
            }
            WriteOp::SetAcl { .. } | WriteOp::Multi(_) => unreachable!("not generated"),
        }
    }

    fn delete_container(&mut self, path: &str) -> Outcome {
        if SPECIAL.contains(&path) || parent_of(path).is_none() {
            return Err(ErrorCode::BadArguments);
        }
        let n = self.nodes.get(path).ok_or(ErrorCode::NoNode)?;
        if !self.children(path).is_empty() {
            return Err(ErrorCode::NotEmpty);
        }
        if !matches!(n.owner, Owner::Container | Owner::Ttl) {
            return Err(ErrorCode::BadVersion);
        }
        self.remove(path);
        Ok(None)
    }

    fn remove(&mut self, path: &str) {
        self.nodes.remove(path);
        let parent = parent_of(path).unwrap_or("/").to_owned();
        let z = self.zxid;
        if let Some(p) = self.nodes.get_mut(&parent) {
            p.pzxid = z;
        }
        self.events.push((path.to_owned(), EventType::NodeDeleted));
        self.events.push((parent, EventType::NodeChildrenChanged));
    }
}

fn outcome_of_op(r: &OpResult) -> Outcome {
    match r {
        OpResult::Created { path, .. } => Ok(Some(path.clone())),
        OpResult::Error(code) => Err(*code),
        _ => Ok(None),
    }
}

fn observe(result: &TxnResult) -> MResult {
    match result {
        TxnResult::SessionCreated | TxnResult::SessionClosed | TxnResult::Restored => {
            MResult::Session
        }
        TxnResult::Created { path, .. } => MResult::Single(Ok(Some(path.clone()))),
        TxnResult::Deleted | TxnResult::Stat(_) | TxnResult::Data { .. } => {
            MResult::Single(Ok(None))
        }
        TxnResult::Error(code) => MResult::Single(Err(*code)),
        TxnResult::Multi(rs) => MResult::Multi(rs.iter().map(outcome_of_op).collect()),
    }
}

fn assert_same_tree(zk: &ZkState, model: &Model) {
    let tree = zk.tree();
    let paths: Vec<&str> = tree.iter().map(|(p, _)| p).collect();
    let model_paths: Vec<&str> = model.nodes.keys().map(String::as_str).collect();
    assert_eq!(paths, model_paths);
    for (path, m) in &model.nodes {
        let (data, stat) = tree
            .get_data(path)
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let children = model.children(path);
        let n = i32::try_from(children.len()).unwrap_or(i32::MAX);
        assert_eq!(data.as_deref(), m.data.as_deref(), "{path} data");
        assert_eq!(stat.version, m.version, "{path} version");
        assert_eq!(
            (stat.czxid, stat.mzxid, stat.pzxid),
            (m.czxid, m.mzxid, m.pzxid),
            "{path} zxids"
        );
        assert_eq!(
            (stat.cversion, stat.num_children),
            (m.creates * 2 - n, n),
            "{path} cversion"
        );
        let owner = match m.owner {
            Owner::Session(s) => s,
            _ => 0,
        };
        assert_eq!(stat.ephemeral_owner, owner, "{path} owner");
        assert_eq!(
            tree.get_children(path).map(|c| c.0),
            Ok(children),
            "{path} children"
        );
    }
    let sessions: BTreeSet<i64> = zk.sessions().iter().map(|(id, _)| id).collect();
    assert_eq!(sessions, model.sessions);
    for s in SESSIONS {
        let mine: Vec<String> = model
            .nodes
            .iter()
            .filter(|(_, n)| n.owner == Owner::Session(s))
            .map(|(p, _)| p.clone())
            .collect();
        assert_eq!(tree.get_ephemerals(s, "/"), mine);
    }
}

const SESSIONS: [i64; 3] = [0x11, 0x22, 0x33];

fn arb_path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "/a",
        "/b",
        "/a/b",
        "/a/c",
        "/b/a",
        "/a/b/c",
        "/a/s-",
        "/b/",
        "/a/",
        "a",
        "/zookeeper",
        "/",
        "/zookeeper/quota",
    ])
    .prop_map(str::to_owned)
}

fn arb_data() -> impl Strategy<Value = Option<Bytes>> {
    prop_oneof![
        1 => Just(None),
        4 => prop::collection::vec(any::<u8>(), 0..4).prop_map(|v| Some(Bytes::from(v))),
    ]
}

fn arb_op() -> impl Strategy<Value = WriteOp> {
    let version = prop::sample::select(vec![-1, 0, 1, 2]);
    let flags = prop_oneof![8 => 0..=6i32, 1 => Just(7)];
    let ttl = prop_oneof![6 => Just(0i64), 3 => Just(100i64), 1 => Just(-1i64)];
    prop_oneof![
        4 => (arb_path(), arb_data(), flags, ttl).prop_map(|(path, data, flags, ttl)| {
            // A TTL mode without a TTL is mostly noise; give most of them one.
            let ttl = if (flags == 5 || flags == 6) && ttl == 0 { 100 } else { ttl };
            WriteOp::Create { path, data, acl: perms::open_acl_unsafe(), flags, ttl }
        }),
        2 => (arb_path(), version.clone()).prop_map(|(path, version)| WriteOp::Delete { path, version }),
        2 => (arb_path(), arb_data(), version.clone())
            .prop_map(|(path, data, version)| WriteOp::SetData { path, data, version }),
        1 => (arb_path(), version).prop_map(|(path, version)| WriteOp::Check { path, version }),
    ]
}

fn arb_txn() -> impl Strategy<Value = Txn> {
    let session = prop::sample::select(SESSIONS.to_vec());
    prop_oneof![
        2 => session.clone().prop_map(|session_id| Txn::CreateSession { session_id, timeout_ms: 5_000 }),
        1 => session.clone().prop_map(|session_id| Txn::CloseSession { session_id }),
        10 => (session.clone(), arb_op()).prop_map(|(session_id, op)| Txn::Write { session_id, auth: vec![], op }),
        3 => (session, prop::collection::vec(arb_op(), 0..5))
            .prop_map(|(session_id, ops)| Txn::Write { session_id, auth: vec![], op: WriteOp::Multi(ops) }),
        1 => arb_path().prop_map(|path| Txn::DeleteContainer { path }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn state_matches_the_model(extended in any::<bool>(), txns in prop::collection::vec(arb_txn(), 1..60)) {
        let config = StateConfig { extended_types_enabled: extended };
        let mut zk = ZkState::new(config);
        let mut twin = ZkState::new(config);
        let mut model = Model::new(extended);
        for (i, txn) in txns.iter().enumerate() {
            let entry = Entry { time_ms: 1_000 + i as i64, txn: txn.clone() };
            let before = zk.last_zxid();
            let applied = zk.apply(&entry);
            prop_assert_eq!(applied.zxid, before + 1);
            prop_assert_eq!(&twin.apply(&entry), &applied);
            let expected = model.apply(txn);
            prop_assert_eq!(observe(&applied.result), expected, "step {}: {:?}", i, txn);
            let events: Vec<(String, EventType)> =
                applied.events.iter().map(|t| (t.path.clone(), t.event)).collect();
            prop_assert_eq!(&events, &model.events, "step {} events", i);
            prop_assert!(applied.events.iter().all(|t| t.zxid == applied.zxid));
            assert_same_tree(&zk, &model);
        }
        // The snapshot encoding itself: identical bytes from identical histories.
        let a = postcard::to_allocvec(&zk).unwrap_or_default();
        let b = postcard::to_allocvec(&twin).unwrap_or_default();
        prop_assert!(!a.is_empty());
        prop_assert_eq!(&a, &b);
        let back: ZkState = postcard::from_bytes(&a).unwrap_or_else(|e| panic!("{e}"));
        prop_assert_eq!(back, zk);
    }
}
