//! ZooKeeper's quota znodes: where they live and the text they hold.
//!
//! A quota on `/app` is two nodes, `/zookeeper/quota/app/zookeeper_limits` (what the
//! operator allows) and `/zookeeper/quota/app/zookeeper_stats` (what the subtree uses,
//! kept up to date by the tree on every create, delete and setData under `/app`). Both
//! hold `StatsTrack` text, e.g. `count=10,bytes=-1` or, with 3.7's hard limits,
//! `count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5`.

use std::collections::BTreeMap;

/// Parent of every quota node.
pub const QUOTA_ZNODE: &str = "/zookeeper/quota";
/// The node holding a quota's limits.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// The node holding a quota's usage.
pub const STAT_NODE: &str = "zookeeper_stats";

pub const COUNT: &str = "count";
pub const BYTES: &str = "bytes";
pub const COUNT_HARD_LIMIT: &str = "countHardLimit";
pub const BYTE_HARD_LIMIT: &str = "byteHardLimit";

/// `Quotas.limitPath`: the limits node of the quota on `root`.
pub fn limit_path(root: &str) -> String {
    format!("{QUOTA_ZNODE}{root}/{LIMIT_NODE}")
}

/// `Quotas.statPath`: the usage node of the quota on `root`.
pub fn stat_path(root: &str) -> String {
    format!("{QUOTA_ZNODE}{root}/{STAT_NODE}")
}

/// What a node under `/zookeeper/quota` is, for the tree's bookkeeping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaNode<'a> {
    /// The limits node of the quota on this path.
    Limits(&'a str),
    /// The usage node of the quota on this path.
    Stats(&'a str),
}

impl<'a> QuotaNode<'a> {
    /// `/zookeeper/quota/<root>/zookeeper_limits` or `…/zookeeper_stats`, with a
    /// non-empty `<root>`; anything else is `None`.
    pub fn of(path: &'a str) -> Option<QuotaNode<'a>> {
        let rest = path.strip_prefix(QUOTA_ZNODE)?;
        let (root, name) = rest.rsplit_once('/')?;
        if root.is_empty() || !root.starts_with('/') {
            return None;
        }
        match name {
            LIMIT_NODE => Some(QuotaNode::Limits(root)),
            STAT_NODE => Some(QuotaNode::Stats(root)),
            _ => None,
        }
    }
}

/// ZooKeeper's `StatsTrack`: `key=value` pairs separated by `,` or `;`, a missing key
/// reading as −1. Keys are kept in sorted order, as ZooKeeper writes the extra ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// Parses a node's data. Text ZooKeeper itself could not parse (a pair without
    /// `=`, a value that is not a long) is `None`.
    pub fn parse(data: &[u8]) -> Option<StatsTrack> {
        let text = std::str::from_utf8(data).ok()?;
        let mut values = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            // Java's split("=") drops trailing empty pieces, so `bytes=5=` (the marker
            // ZooKeeper adds for old parsers) is bytes 5.
            let mut parts = pair.split('=');
            let key = parts.next()?;
            let value = parts.next()?;
            let value = if value.is_empty() {
                -1
            } else {
                value.parse().ok()?
            };
            values.insert(key.to_owned(), value);
        }
        Some(StatsTrack { values })
    }

    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_owned(), value);
    }

    /// The text ZooKeeper writes: `count` and `bytes` first (for old parsers), then an
    /// `=` and every other key in order, `;`-separated.
    pub fn encode(&self) -> String {
        let mut out = format!("{COUNT}={},{BYTES}={}", self.get(COUNT), self.get(BYTES));
        let mut extra = self
            .values
            .iter()
            .filter(|(k, _)| *k != COUNT && *k != BYTES)
            .peekable();
        if extra.peek().is_some() {
            out.push('=');
            for (key, value) in extra {
                out.push_str(&format!(";{key}={value}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statstrack_reads_and_writes_zookeepers_text() {
        let s = StatsTrack::parse(b"count=10,bytes=-1").expect("parses");
        assert_eq!(
            (s.get(COUNT), s.get(BYTES), s.get(COUNT_HARD_LIMIT)),
            (10, -1, -1)
        );
        assert_eq!(s.encode(), "count=10,bytes=-1");

        let hard = "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=5";
        let s = StatsTrack::parse(hard.as_bytes()).expect("parses");
        assert_eq!((s.get(COUNT_HARD_LIMIT), s.get(BYTES)), (5, -1));
        assert_eq!(s.encode(), hard);

        assert_eq!(
            StatsTrack::parse(b"").expect("empty").encode(),
            "count=-1,bytes=-1"
        );
        assert_eq!(StatsTrack::parse(b"count"), None);
        assert_eq!(StatsTrack::parse(b"count=x"), None);
        assert_eq!(StatsTrack::parse(&[0xff]), None);
    }

    #[test]
    fn quota_nodes_are_recognised_by_path() {
        assert_eq!(
            QuotaNode::of("/zookeeper/quota/a/b/zookeeper_limits"),
            Some(QuotaNode::Limits("/a/b"))
        );
        assert_eq!(
            QuotaNode::of("/zookeeper/quota/a/zookeeper_stats"),
            Some(QuotaNode::Stats("/a"))
        );
        assert_eq!(QuotaNode::of("/zookeeper/quota/zookeeper_limits"), None);
        assert_eq!(QuotaNode::of("/zookeeper/quotax/zookeeper_limits"), None);
        assert_eq!(QuotaNode::of("/a/zookeeper_limits"), None);
        assert_eq!(limit_path("/a"), "/zookeeper/quota/a/zookeeper_limits");
        assert_eq!(stat_path("/a"), "/zookeeper/quota/a/zookeeper_stats");
    }
}
