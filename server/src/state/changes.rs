//! What one entry has changed so far: the undo log (so a failed multi leaves no
//! trace) and the watch triggers, in the order ZooKeeper fires them.

use ferrokeeper_protocol::{Acl, EventType};

use super::txn::WatchTrigger;
use crate::tree::path::split_parent;
use crate::tree::{DataTree, QuotaBreach, Undo};

pub(super) struct Changes {
    zxid: i64,
    undo: Vec<Undo>,
    events: Vec<WatchTrigger>,
    /// Quota limits the entry's writes went over (kept through a rollback: ZooKeeper
    /// reports them before it knows whether a multi succeeds).
    breaches: Vec<QuotaBreach>,
}

impl Changes {
    pub(super) fn new(zxid: i64) -> Changes {
        Changes {
            zxid,
            undo: Vec::new(),
            events: Vec::new(),
            breaches: Vec::new(),
        }
    }

    pub(super) fn zxid(&self) -> i64 {
        self.zxid
    }

    /// NodeCreated on the node, then NodeChildrenChanged on its parent.
    pub(super) fn created(&mut self, tree: &DataTree, path: &str, undo: Undo) {
        self.undo.push(undo);
        self.event(path, EventType::NodeCreated, acl_of(tree, path));
        self.parent_event(tree, path);
    }

    /// NodeDeleted on the node, then NodeChildrenChanged on its parent. The node is
    /// gone from the tree; its ACL comes from the undo record.
    pub(super) fn deleted(&mut self, tree: &DataTree, path: &str, undo: Undo) {
        let acl = match &undo {
            Undo::Deleted { node, .. } => node.acl().to_vec(),
            _ => Vec::new(),
        };
        self.undo.push(undo);
        self.event(path, EventType::NodeDeleted, acl);
        self.parent_event(tree, path);
    }

    pub(super) fn data_changed(&mut self, tree: &DataTree, path: &str, undo: Undo) {
        self.undo.push(undo);
        self.event(path, EventType::NodeDataChanged, acl_of(tree, path));
    }

    /// setACL fires no watch.
    pub(super) fn acl_changed(&mut self, undo: Undo) {
        self.undo.push(undo);
    }

    /// Reverts everything recorded so far, newest first, and drops its events.
    pub(super) fn rollback(&mut self, tree: &mut DataTree) {
        while let Some(undo) = self.undo.pop() {
            tree.undo(undo);
        }
        self.events.clear();
    }

    pub(super) fn quota_breached(&mut self, breach: QuotaBreach) {
        self.breaches.push(breach);
    }

    /// The watch triggers and the quota breaches.
    pub(super) fn finish(self) -> (Vec<WatchTrigger>, Vec<QuotaBreach>) {
        (self.events, self.breaches)
    }

    fn parent_event(&mut self, tree: &DataTree, path: &str) {
        if let Some((parent, _)) = split_parent(path) {
            self.event(parent, EventType::NodeChildrenChanged, acl_of(tree, parent));
        }
    }

    fn event(&mut self, path: &str, event: EventType, acl: Vec<Acl>) {
        self.events.push(WatchTrigger {
            path: path.to_owned(),
            event,
            zxid: self.zxid,
            acl,
        });
    }
}

fn acl_of(tree: &DataTree, path: &str) -> Vec<Acl> {
    tree.acl(path).map(<[Acl]>::to_vec).unwrap_or_default()
}
