//! Building a tree from ZooKeeper's own files: loading a snapshot's nodes and replaying
//! its txn log with `DataTree.java`'s exact semantics, including the leniency it needs
//! for "fuzzy" snapshots (taken while txns were applied, so a replayed txn may find its
//! effect already there). Used by the importer and by a server following ZooKeeper (which
//! applies ZooKeeper's txns as they come); the server's own writes go through the
//! checked mutations in `data_tree.rs`.

use bytes::Bytes;
use ferrokeeper_protocol::{Acl, ErrorCode, Stat, StatPersisted};
use imbl::{OrdMap, OrdSet};
use std::sync::Arc;

use super::{DataTree, Undo, advance_cversion, node_size};
use crate::tree::node::{Node, new_stat};
use crate::tree::path::split_parent;

impl DataTree {
    /// A tree with no nodes at all, not even `/`: what a snapshot is loaded into.
    pub(crate) fn empty(extended_types: bool) -> DataTree {
        DataTree {
            nodes: OrdMap::new(),
            ephemerals: OrdMap::new(),
            containers: OrdSet::new(),
            ttls: OrdSet::new(),
            data_size: 0,
            extended_types,
            quota_roots: OrdSet::new(),
        }
    }

    /// Adds one node read from a snapshot, whose parent must already be there (a
    /// snapshot lists parents first). ZooKeeper names the root `""`.
    pub(crate) fn load_node(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        stat: StatPersisted,
    ) -> Result<(), String> {
        let path = if path.is_empty() { "/" } else { path };
        if self.nodes.contains_key(path) {
            return Err(format!("node {path} appears twice"));
        }
        if path != "/" {
            let (parent, name) = split_parent(path).ok_or_else(|| format!("bad path {path:?}"))?;
            let parent_node = self
                .nodes
                .get_mut(parent)
                .map(Arc::make_mut)
                .ok_or_else(|| format!("node {path} comes before its parent {parent}"))?;
            parent_node.children.insert(name.to_owned());
        }
        self.insert_indexed(path, Node::new(data, acl, stat));
        Ok(())
    }

    /// Completes a load: checks the root is there and counts it a second time in the
    /// data size, as ZooKeeper (which stores it under `""` and `/`) does.
    pub(crate) fn finish_load(&mut self) -> Result<(), String> {
        let root = self.nodes.get("/").ok_or("the snapshot has no root node")?;
        self.data_size += node_size("", root.data.as_ref());
        self.setup_quota();
        Ok(())
    }

    /// `DataTree.createNode` as replay runs it: the parent's cversion becomes
    /// `parent_cversion` (−1: one more) only if that is higher; an existing node keeps
    /// everything but takes the txn's ACL, and the result is `NodeExists`. Returns the
    /// new node's stat and how to undo the create.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn zk_create(
        &mut self,
        path: &str,
        data: Option<Bytes>,
        acl: Vec<Acl>,
        owner: i64,
        parent_cversion: i32,
        zxid: i64,
        time: i64,
    ) -> Result<(Stat, Undo), ErrorCode> {
        let (parent_path, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
        if !self.nodes.contains_key(parent_path) {
            return Err(ErrorCode::NoNode);
        }
        if let Some(existing) = self.nodes.get_mut(path).map(Arc::make_mut) {
            existing.acl = acl.into();
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
        advance_cversion(&mut parent.stat, parent_cversion, zxid);
        parent.children.insert(name.to_owned());
        let node = Node::new(data, acl, new_stat(zxid, time, owner));
        let stat = node.client_stat(self.extended_types);
        let bytes = node.data_len() as i64;
        self.insert_indexed(path, node);
        self.quota_added(path, bytes, true);
        Ok((stat, undo))
    }

    /// `DataTree.deleteNode` as replay runs it: the parent's pzxid moves forward even
    /// when the node is already gone. Returns how to undo the delete.
    pub(crate) fn zk_delete(&mut self, path: &str, zxid: i64) -> Result<Undo, ErrorCode> {
        let (parent_path, name) = split_parent(path).ok_or(ErrorCode::BadArguments)?;
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

    /// `DataTree.setCversionPzxid`: after a replayed create met an existing node.
    pub(crate) fn zk_set_cversion_pzxid(
        &mut self,
        path: &str,
        cversion: i32,
        zxid: i64,
    ) -> Result<(), ErrorCode> {
        let node = self
            .nodes
            .get_mut(path)
            .map(Arc::make_mut)
            .ok_or(ErrorCode::NoNode)?;
        advance_cversion(&mut node.stat, cversion, zxid);
        Ok(())
    }

    /// The session's ephemeral paths, in path order.
    pub(crate) fn ephemeral_paths(&self, session_id: i64) -> Vec<String> {
        self.session_ephemerals(session_id)
            .map(str::to_owned)
            .collect()
    }
}
