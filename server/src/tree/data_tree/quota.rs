//! Quota usage, kept as `DataTree.java` keeps it: the tree knows which paths have a
//! quota (a `zookeeper_limits` node exists for them) and, on every create, delete and
//! data change under one, adds the change to that quota's `zookeeper_stats` node.
//! Only the deepest quota above a path counts it (ZooKeeper's `PathTrie.findMaxPrefix`),
//! and the stats node's data changes without its stat (no version, mzxid or watch).
//!
//! Creating a stats node recounts its subtree; a loaded tree recounts every quota
//! (`setupQuota`), so usage is right after a restart whatever an older server wrote.

use bytes::Bytes;
use ferrokeeper_protocol::ErrorCode;
use std::sync::Arc;

use super::{DataTree, node_size};
use crate::tree::quota::{
    BYTE_HARD_LIMIT, BYTES, COUNT, COUNT_HARD_LIMIT, LIMIT_NODE, QUOTA_ZNODE, QuotaNode,
    StatsTrack, limit_path, stat_path,
};

/// A write that goes over a quota's limit: the quota's path, what it limits, the usage
/// the write would reach and the limit. `hard` limits refuse the write when quotas are
/// enforced; soft ones are only reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaBreach {
    pub root: String,
    pub what: &'static str,
    pub usage: i64,
    pub limit: i64,
    pub hard: bool,
}

impl std::fmt::Display for QuotaBreach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // ZooKeeper's words: "Quota exceeded: /a [current count=3, hardCountLimit=2]".
        let (kind, limit) = match (self.what, self.hard) {
            (COUNT, true) => ("count", "hardCountLimit"),
            (COUNT, false) => ("count", "softCountLimit"),
            (_, true) => ("bytes", "hardByteLimit"),
            (_, false) => ("bytes", "softByteLimit"),
        };
        write!(
            f,
            "Quota exceeded: {} [current {kind}={}, {limit}={}]",
            self.root, self.usage, self.limit
        )
    }
}

impl DataTree {
    /// The deepest path at or above `path` with a quota (never `/`).
    pub fn quota_root_of(&self, path: &str) -> Option<&str> {
        if self.quota_roots.is_empty() {
            return None;
        }
        let mut at = path;
        while at.len() > 1 {
            if let Some(root) = self.quota_roots.get(at) {
                return Some(root.as_str());
            }
            at = match at.rfind('/') {
                Some(0) | None => return None,
                Some(i) => &at[..i],
            };
        }
        None
    }

    /// `ZooKeeperServer.checkQuota`: whether adding `count` nodes and `bytes` bytes
    /// under `path` goes over its quota. A hard limit over is `Err(QuotaExceeded)` with
    /// the breach; a soft one is `Ok(Some(breach))`. Checked against the usage before
    /// the write, limits and usage that do not parse are no limit (ZooKeeper would fail
    /// the request with an internal error instead).
    pub fn check_quota(
        &self,
        path: &str,
        bytes: i64,
        count: i64,
    ) -> Result<Option<QuotaBreach>, (ErrorCode, QuotaBreach)> {
        let Some(root) = self.quota_root_of(path) else {
            return Ok(None);
        };
        let Some(limits) = self.stats_track(&limit_path(root)) else {
            return Ok(None);
        };
        let check_count =
            count != 0 && (limits.get(COUNT) > -1 || limits.get(COUNT_HARD_LIMIT) > -1);
        let check_bytes =
            bytes != 0 && (limits.get(BYTES) > -1 || limits.get(BYTE_HARD_LIMIT) > -1);
        if !check_count && !check_bytes {
            return Ok(None);
        }
        let Some(usage) = self.stats_track(&stat_path(root)) else {
            return Ok(None);
        };
        let mut soft = None;
        for (check, what, diff, hard_key) in [
            (check_count, COUNT, count, COUNT_HARD_LIMIT),
            (check_bytes, BYTES, bytes, BYTE_HARD_LIMIT),
        ] {
            if !check {
                continue;
            }
            let after = usage.get(what).saturating_add(diff);
            let hard = limits.get(hard_key) > -1;
            let limit = if hard {
                limits.get(hard_key)
            } else {
                limits.get(what)
            };
            if after > limit {
                let breach = QuotaBreach {
                    root: root.to_owned(),
                    what,
                    usage: after,
                    limit,
                    hard,
                };
                if hard {
                    return Err((ErrorCode::QuotaExceeded, breach));
                }
                soft.get_or_insert(breach);
            }
        }
        Ok(soft)
    }

    /// `QuotaMetricsUtils`: per top-level namespace (the first component of a quota's
    /// path), the sum of its quotas' count and byte limits (the hard limit where set,
    /// else the soft one) and of their usage: `(namespace, [count limit, byte limit,
    /// count usage, byte usage])`.
    pub fn quota_figures(&self) -> std::collections::BTreeMap<String, [i64; 4]> {
        let mut out = std::collections::BTreeMap::new();
        for root in &self.quota_roots {
            let Some(namespace) = root.split('/').find(|c| !c.is_empty()) else {
                continue;
            };
            let entry: &mut [i64; 4] = out.entry(namespace.to_owned()).or_default();
            if let Some(limits) = self.stats_track(&limit_path(root)) {
                let pick = |hard: &str, soft: &str| {
                    let h = limits.get(hard);
                    if h > -1 { h } else { limits.get(soft) }
                };
                entry[0] += pick(COUNT_HARD_LIMIT, COUNT);
                entry[1] += pick(BYTE_HARD_LIMIT, BYTES);
            }
            if let Some(usage) = self.stats_track(&stat_path(root)) {
                entry[2] += usage.get(COUNT);
                entry[3] += usage.get(BYTES);
            }
        }
        out
    }

    fn stats_track(&self, path: &str) -> Option<StatsTrack> {
        let node = self.nodes.get(path)?;
        StatsTrack::parse(node.data.as_deref().unwrap_or_default())
    }

    /// After a node was added at `path` holding `bytes` bytes. `recount`: a new stats
    /// node recounts its subtree (not when an undo puts an old one back).
    pub(super) fn quota_added(&mut self, path: &str, bytes: i64, recount: bool) {
        match QuotaNode::of(path) {
            Some(QuotaNode::Limits(root)) => {
                self.quota_roots.insert(root.to_owned());
            }
            Some(QuotaNode::Stats(root)) if recount => self.recount_quota(root),
            _ => {}
        }
        self.quota_usage_changed(path, bytes, 1);
    }

    /// After the node at `path`, which held `bytes` bytes, was removed.
    pub(super) fn quota_removed(&mut self, path: &str, bytes: i64) {
        if let Some(QuotaNode::Limits(root)) = QuotaNode::of(path) {
            self.quota_roots.remove(root);
        }
        self.quota_usage_changed(path, -bytes, -1);
    }

    /// `updateQuotaStat`: adds to the usage of the quota above `path`, if any.
    pub(super) fn quota_usage_changed(&mut self, path: &str, bytes: i64, count: i64) {
        let Some(root) = self.quota_root_of(path) else {
            return;
        };
        let stats = stat_path(root);
        let Some(mut usage) = self.stats_track(&stats) else {
            // ZooKeeper logs a missing stats node and goes on; unparsable text would
            // throw in its apply. Usage is left as it is either way.
            return;
        };
        usage.set(COUNT, usage.get(COUNT).saturating_add(count));
        usage.set(BYTES, usage.get(BYTES).saturating_add(bytes));
        self.put_stats(&stats, usage);
    }

    /// `updateQuotaForPath`: counts the nodes and data bytes of `root`'s subtree (itself
    /// included) into its stats node.
    fn recount_quota(&mut self, root: &str) {
        let descendants = format!("{root}/");
        let (count, bytes) = self
            .nodes
            .get(root)
            .into_iter()
            .chain(
                self.nodes
                    .range(descendants.clone()..)
                    .take_while(|(p, _)| p.starts_with(&descendants))
                    .map(|(_, n)| n),
            )
            .fold((0i64, 0i64), |(c, b), n| (c + 1, b + n.data_len() as i64));
        let mut usage = StatsTrack::default();
        usage.set(COUNT, count);
        usage.set(BYTES, bytes);
        self.put_stats(&stat_path(root), usage);
    }

    fn put_stats(&mut self, stats: &str, usage: StatsTrack) {
        if let Some(node) = self.nodes.get_mut(stats).map(Arc::make_mut) {
            let data = Some(Bytes::from(usage.encode()));
            self.data_size +=
                node_size(stats, data.as_ref()) - node_size(stats, node.data.as_ref());
            node.data = data;
        }
    }

    /// `setupQuota`: finds every quota (a `zookeeper_limits` leaf under
    /// `/zookeeper/quota`) and recounts its usage. Run on every loaded tree.
    pub(super) fn setup_quota(&mut self) {
        let prefix = format!("{QUOTA_ZNODE}/");
        let roots: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter(|(p, n)| n.children.is_empty() && p.ends_with(&format!("/{LIMIT_NODE}")))
            .filter_map(|(p, _)| match QuotaNode::of(p) {
                Some(QuotaNode::Limits(root)) => Some(root.to_owned()),
                _ => None,
            })
            .collect();
        self.quota_roots = roots.iter().cloned().collect();
        for root in &roots {
            self.recount_quota(root);
        }
    }
}
