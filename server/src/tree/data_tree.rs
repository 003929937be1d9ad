//! The data tree: every znode by full path, plus the indexes ZooKeeper keeps beside
//! it (ephemerals by session, containers, TTL nodes) and its size counter.
//!
//! Nodes live in an ordered map rather than a hash map: iteration order is then part
//! of the value, so two replicas that applied the same log serialize to identical
//! snapshots, and subtree questions (`getAllChildrenNumber`) are range scans. The maps
//! and sets are persistent (`imbl`): a copy shares structure with the live tree, so
//! the copy a snapshot takes costs O(1) under the lock instead of stalling writes for
//! a deep clone, and the live tree copies only the paths it changes afterwards.
//!
//! Mutations here do no checking beyond what `DataTree.java` itself does: the
//! request checks (versions, ACLs, modes) live in `state`, which calls these.

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, ErrorCode, Stat, StatPersisted, perms};
use serde::{Deserialize, Serialize};

use super::node::{Node, new_stat, own_copy};
use super::owner::OwnerKind;
use super::path::{java_len, split_parent};
use super::shared_acl::SharedAcl;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredTree")]
pub struct DataTree {
    nodes: OrdMap<String, Arc<Node>>,
    /// Session id → its ephemeral nodes (ZooKeeper's `ephemerals`).
    ephemerals: OrdMap<i64, OrdSet<String>>,
    containers: OrdSet<String>,
    ttls: OrdSet<String>,
    /// ZooKeeper's `approximateDataSize`, maintained incrementally as it does.
    data_size: i64,
    /// Whether TTL owner values are recognised (`zookeeper.extendedTypesEnabled`).
    extended_types: bool,
    /// Paths with a quota (ZooKeeper's `pTrie`): derived from the `zookeeper_limits`
    /// nodes, so not stored; rebuilt when a tree is loaded.
    #[serde(skip)]
    quota_roots: OrdSet<String>,
}

/// A `DataTree` as stored in snapshots: every field but the derived ones, in order.
#[derive(Deserialize)]
struct StoredTree {
    #[serde(deserialize_with = "load::nodes")]
    nodes: OrdMap<String, Arc<Node>>,
    ephemerals: OrdMap<i64, OrdSet<String>>,
    containers: OrdSet<String>,
    ttls: OrdSet<String>,
    data_size: i64,
    extended_types: bool,
}

impl From<StoredTree> for DataTree {
    fn from(s: StoredTree) -> DataTree {
        let mut tree = DataTree {
            nodes: s.nodes,
            ephemerals: s.ephemerals,
            containers: s.containers,
            ttls: s.ttls,
            data_size: s.data_size,
            extended_types: s.extended_types,
            quota_roots: OrdSet::new(),
        };
        tree.setup_quota();
        tree
    }
}

/// How to reverse one mutation; a failed multi replays these backwards.
#[derive(Debug, Clone)]
pub(crate) enum Undo {
    Created {
        path: String,
        parent: String,
        parent_cversion: i32,
        parent_pzxid: i64,
    },
    Deleted {
        path: String,
        parent: String,
        node: Box<Node>,
        parent_pzxid: i64,
    },
    DataSet {
        path: String,
        data: Option<Bytes>,
        stat: StatPersisted,
    },
    AclSet {
        path: String,
        acl: SharedAcl,
        aversion: i32,
    },
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// A fresh tree as ZooKeeper 3.8 starts: `/`, `/zookeeper`, `/zookeeper/quota`
    /// and `/zookeeper/config`, all with empty (non-null) data and zeroed stats;
    /// `/zookeeper/config` is world-readable only, with aclVersion −1.
    pub fn new() -> DataTree {
        DataTree::with_extended_types(false)
    }

    pub fn with_extended_types(extended_types: bool) -> DataTree {
        let open = perms::open_acl_unsafe();
        let zeroed = StatPersisted::default();
        let mut nodes = OrdMap::new();
        let mut add = |path: &str, acl: Vec<Acl>, stat: StatPersisted, children: &[&str]| {
            let mut node = Node::new(Some(Bytes::new()), acl, stat);
            node.children = children.iter().map(|c| (*c).to_owned()).collect();
            nodes.insert(path.to_owned(), Arc::new(node));
        };
        add("/", open.clone(), zeroed.clone(), &["zookeeper"]);
        add(
            "/zookeeper",
            open.clone(),
            zeroed.clone(),
            &["config", "quota"],
        );
        add("/zookeeper/quota", open, zeroed.clone(), &[]);
        // Set through setACL(READ_ACL_UNSAFE, version -1) at startup, hence aversion −1.
        let config_stat = StatPersisted {
            aversion: -1,
            ..zeroed
        };
        add(
            "/zookeeper/config",
            perms::read_acl_unsafe(),
            config_stat,
            &[],
        );
        let mut tree = DataTree {
            nodes,
            ephemerals: OrdMap::new(),
            containers: OrdSet::new(),
            ttls: OrdSet::new(),
            data_size: 0,
            extended_types,
            quota_roots: OrdSet::new(),
        };
        // ZooKeeper stores the root under both "" and "/", and counts both.
        tree.data_size = tree
            .nodes
            .iter()
            .map(|(path, node)| node_size(path, node.data.as_ref()))
            .sum::<i64>()
            + node_size("", tree.nodes.get("/").and_then(|n| n.data.as_ref()));
        tree
    }

    pub fn extended_types(&self) -> bool {
        self.extended_types
    }

    // ---- reads ---------------------------------------------------------------

    pub fn node(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path).map(|n| &**n)
    }

    #[cfg(test)]
    pub(crate) fn node_mut(&mut self, path: &str) -> Option<&mut Node> {
        self.nodes.get_mut(path).map(Arc::make_mut)
    }

    fn get(&self, path: &str) -> Result<&Node, ErrorCode> {
        self.nodes.get(path).map(|n| &**n).ok_or(ErrorCode::NoNode)
    }

    /// The kind of node `path` is, by its owner value.
    pub fn owner_kind(&self, path: &str) -> Option<OwnerKind> {
        self.nodes
            .get(path)
            .map(|n| OwnerKind::of(n.stat.ephemeral_owner, self.extended_types))
    }

    /// exists / the stat of getData and friends.
    pub fn stat(&self, path: &str) -> Result<Stat, ErrorCode> {
        Ok(self.get(path)?.client_stat(self.extended_types))
    }

    pub fn get_data(&self, path: &str) -> Result<(Option<Bytes>, Stat), ErrorCode> {
        let node = self.get(path)?;
        Ok((node.data.clone(), node.client_stat(self.extended_types)))
    }

    /// Children's names, sorted (ZooKeeper's order is unspecified).
    pub fn get_children(&self, path: &str) -> Result<(Vec<String>, Stat), ErrorCode> {
        let node = self.get(path)?;
        let children = node.children.iter().cloned().collect();
        Ok((children, node.client_stat(self.extended_types)))
    }

    /// The node's ACL unmasked; see [`super::acl::mask_digests`] for readers without ADMIN.
    pub fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat), ErrorCode> {
        let node = self.get(path)?;
        Ok((node.acl.to_vec(), node.client_stat(self.extended_types)))
    }

    /// The ACL to check a request against; `None` if there is no such node.
    pub fn acl(&self, path: &str) -> Option<&[Acl]> {
        self.nodes.get(path).map(|n| &*n.acl)
    }

    /// `getAllChildrenNumber`: every node whose path starts with `path + "/"`; for `/`
    /// every node but the root (so `/zookeeper` and its children count).
    pub fn get_all_children_number(&self, path: &str) -> Result<i32, ErrorCode> {
        self.get(path)?;
        let count = if path == "/" {
            self.nodes.len() - 1
        } else {
            let prefix = format!("{path}/");
            self.nodes
                .range(prefix.clone()..)
                .take_while(|(p, _)| p.starts_with(&prefix))
                .count()
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }

    /// `getEphemerals`: the session's ephemeral paths starting with `prefix` (a plain
    /// string prefix); a blank prefix or `/` means all. Sorted.
    pub fn get_ephemerals(&self, session_id: i64, prefix: &str) -> Vec<String> {
        // Java's String.trim() strips every char up to U+0020.
        let trimmed = prefix.trim_matches(|c: char| c <= ' ');
        let all = trimmed.is_empty() || trimmed == "/";
        self.session_ephemerals(session_id)
            .filter(|p| all || p.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    pub fn session_ephemerals(&self, session_id: i64) -> impl Iterator<Item = &str> {
        self.ephemerals
            .get(&session_id)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Sessions that own at least one ephemeral node.
    pub fn sessions_with_ephemerals(&self) -> impl Iterator<Item = i64> + '_ {
        self.ephemerals.keys().copied()
    }

    /// ZooKeeper's node count (`srvr` "Node count", `zk_znode_count`): it stores the
    /// root twice, so a fresh tree of 4 nodes reports 5.
    pub fn node_count(&self) -> usize {
        self.nodes.len() + 1
    }

    /// `zk_approximate_data_size`: Σ path length (UTF-16 units) + data length; 44 on
    /// a fresh tree.
    pub fn approximate_data_size(&self) -> i64 {
        self.data_size
    }

    /// `zk_ephemerals_count`: session ephemerals (not containers or TTL nodes).
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(OrdSet::len).sum()
    }

    pub fn containers(&self) -> &OrdSet<String> {
        &self.containers
    }

    pub fn ttls(&self) -> &OrdSet<String> {
        &self.ttls
    }

    /// Every node, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.nodes.iter().map(|(p, n)| (p.as_str(), &**n))
    }

    // ---- mutations (DataTree.java's, checks done by the caller) ----------------

    /// `createNode`: adds the node, bumps the parent's create count and pzxid.
    pub(crate) fn create(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        owner: i64,
        zxid: i64,
        time: i64,
    ) -> Result<(Stat, Undo), ErrorCode> {
        let (parent_path, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        if self.nodes.contains_key(path) {
            return Err(ErrorCode::NodeExists);
        }
        let parent = self
            .nodes
            .get_mut(parent_path)
            .map(Arc::make_mut)
            .ok_or(ErrorCode::NoNode)?;
        let undo = Undo::Created {
            path: path.to_owned(),
            parent: parent_path.to_owned(),
            parent_cversion: parent.stat.cversion,
            parent_pzxid: parent.stat.pzxid,
        };
        advance_cversion(&mut parent.stat, -1, zxid);
        parent.children.insert(name.to_owned());
        let node = Node::new(data, acl, new_stat(zxid, time, owner));
        let stat = node.client_stat(self.extended_types);
        let bytes = node.data_len() as i64;
        self.insert_indexed(path, node);
        self.quota_added(path, bytes, true);
        Ok((stat, undo))
    }

    /// `deleteNode`: removes a node (the caller checked it has no children).
    pub(crate) fn delete(&mut self, path: &str, zxid: i64) -> Result<Undo, ErrorCode> {
        let (parent_path, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        if !self.nodes.contains_key(path) {
            return Err(ErrorCode::NoNode);
        }
        let parent = self
            .nodes
            .get_mut(parent_path)
            .map(Arc::make_mut)
            .ok_or(ErrorCode::NoNode)?;
        let parent_pzxid = parent.stat.pzxid;
        parent.children.remove(name);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.remove_indexed(path).ok_or(ErrorCode::NoNode)?;
        self.quota_removed(path, node.data_len() as i64);
        Ok(Undo::Deleted {
            path: path.to_owned(),
            parent: parent_path.to_owned(),
            node: Box::new(node),
            parent_pzxid,
        })
    }

    pub(crate) fn set_data(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(Stat, Undo), ErrorCode> {
        let extended = self.extended_types;
        let node = self
            .nodes
            .get_mut(path)
            .map(Arc::make_mut)
            .ok_or(ErrorCode::NoNode)?;
        let old_size = node_size(path, node.data.as_ref());
        let undo = Undo::DataSet {
            path: path.to_owned(),
            data: std::mem::replace(&mut node.data, own_copy(data)),
            stat: node.stat.clone(),
        };
        node.stat.mtime = time;
        node.stat.mzxid = zxid;
        node.stat.version = version;
        let stat = node.client_stat(extended);
        let new_size = node_size(path, node.data.as_ref());
        self.data_size += new_size - old_size;
        self.quota_usage_changed(path, new_size - old_size, 0);
        Ok((stat, undo))
    }

    pub(crate) fn set_acl(
        &mut self,
        path: &str,
        acl: Vec<Acl>,
        aversion: i32,
    ) -> Result<(Stat, Undo), ErrorCode> {
        let extended = self.extended_types;
        let node = self
            .nodes
            .get_mut(path)
            .map(Arc::make_mut)
            .ok_or(ErrorCode::NoNode)?;
        let undo = Undo::AclSet {
            path: path.to_owned(),
            acl: std::mem::replace(&mut node.acl, acl.into()),
            aversion: node.stat.aversion,
        };
        node.stat.aversion = aversion;
        Ok((node.client_stat(extended), undo))
    }

    /// Puts this server's membership into `/zookeeper/config`, as ZooKeeper does at
    /// start-up (outside any txn: every member writes the same text, data version −1).
    pub(crate) fn set_config_data(&mut self, data: Bytes) {
        const CONFIG: &str = "/zookeeper/config";
        if let Some(node) = self.nodes.get_mut(CONFIG).map(Arc::make_mut) {
            let data = Some(data);
            self.data_size +=
                node_size(CONFIG, data.as_ref()) - node_size(CONFIG, node.data.as_ref());
            node.data = data;
            node.stat.version = -1;
        }
    }

    /// Reverses one mutation. Undos must be applied newest first.
    pub(crate) fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Created {
                path,
                parent,
                parent_cversion,
                parent_pzxid,
            } => {
                if let Some(node) = self.remove_indexed(&path) {
                    self.quota_removed(&path, node.data_len() as i64);
                }
                if let Some(p) = self.nodes.get_mut(&parent).map(Arc::make_mut) {
                    if let Some((_, name)) = split_parent(&path) {
                        p.children.remove(name);
                    }
                    p.stat.cversion = parent_cversion;
                    p.stat.pzxid = parent_pzxid;
                }
            }
            Undo::Deleted {
                path,
                parent,
                node,
                parent_pzxid,
            } => {
                if let Some(p) = self.nodes.get_mut(&parent).map(Arc::make_mut) {
                    if let Some((_, name)) = split_parent(&path) {
                        p.children.insert(name.to_owned());
                    }
                    p.stat.pzxid = parent_pzxid;
                }
                let bytes = node.data_len() as i64;
                self.insert_indexed(&path, *node);
                self.quota_added(&path, bytes, false);
            }
            Undo::DataSet { path, data, stat } => {
                if let Some(node) = self.nodes.get_mut(&path).map(Arc::make_mut) {
                    let delta =
                        node_size(&path, data.as_ref()) - node_size(&path, node.data.as_ref());
                    node.data = data;
                    node.stat = stat;
                    self.data_size += delta;
                    self.quota_usage_changed(&path, delta, 0);
                }
            }
            Undo::AclSet {
                path,
                acl,
                aversion,
            } => {
                if let Some(node) = self.nodes.get_mut(&path).map(Arc::make_mut) {
                    node.acl = acl;
                    node.stat.aversion = aversion;
                }
            }
        }
    }

    fn insert_indexed(&mut self, path: &str, node: Node) {
        self.data_size += node_size(path, node.data.as_ref());
        match OwnerKind::of(node.stat.ephemeral_owner, self.extended_types) {
            OwnerKind::Container => {
                self.containers.insert(path.to_owned());
            }
            OwnerKind::Ttl(_) => {
                self.ttls.insert(path.to_owned());
            }
            OwnerKind::Persistent => {}
            OwnerKind::Ephemeral(_) | OwnerKind::Unknown => {
                self.ephemerals
                    .entry(node.stat.ephemeral_owner)
                    .or_default()
                    .insert(path.to_owned());
            }
        }
        self.nodes.insert(path.to_owned(), Arc::new(node));
    }

    fn remove_indexed(&mut self, path: &str) -> Option<Node> {
        let node = Arc::unwrap_or_clone(self.nodes.remove(path)?);
        self.data_size -= node_size(path, node.data.as_ref());
        let owner = node.stat.ephemeral_owner;
        match OwnerKind::of(owner, self.extended_types) {
            OwnerKind::Container => {
                self.containers.remove(path);
            }
            OwnerKind::Ttl(_) => {
                self.ttls.remove(path);
            }
            OwnerKind::Persistent => {}
            OwnerKind::Ephemeral(_) | OwnerKind::Unknown => {
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(path);
                    // Empty sets would make two equal trees serialize differently.
                    if set.is_empty() {
                        self.ephemerals.remove(&owner);
                    }
                }
            }
        }
        Some(node)
    }
}

/// Moves a node's cversion to `cversion` (-1: one past its own), and its pzxid with
/// it. ZooKeeper only moves cversion forward, so at i32::MAX it sticks (and so does
/// pzxid) instead of wrapping.
fn advance_cversion(stat: &mut StatPersisted, cversion: i32, zxid: i64) {
    let cversion = if cversion == -1 {
        stat.cversion.wrapping_add(1)
    } else {
        cversion
    };
    if cversion > stat.cversion {
        stat.cversion = cversion;
        stat.pzxid = zxid;
    }
}

fn node_size(path: &str, data: Option<&Bytes>) -> i64 {
    java_len(path) + data.map_or(0, |d| d.len() as i64)
}

mod load;
mod quota;
mod zk_replay;

pub use quota::QuotaBreach;
