//! The cache's map of the subtree and the rules that keep it from going backwards.
//!
//! Every change goes through [`View::found`] (a read found the node) or
//! [`View::missing`] (a read, or a delete event with its zxid, says it is gone), and
//! each returns the events it caused. Reads are applied in the order they were
//! queued, which is the order the server answered them, so a later read is never
//! older than an earlier one; the zxid checks guard the remaining cases (a read that
//! raced a delete and re-create, a delete event older than the node held).

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::Stat;

/// A node as the cache holds it: its data and its Stat when it was last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNode {
    pub data: Bytes,
    /// The Stat of the last read. Its data fields (`czxid`, `mzxid`, `version`,
    /// `data_length`, ...) follow every change; its child fields (`num_children`,
    /// `cversion`, `pzxid`) do not, because a recursive watch reports no child
    /// changes: use [`TreeCache::children`](super::TreeCache::children) instead.
    pub stat: Stat,
}

/// A change to the cache's view, or a milestone of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TreeCacheEvent {
    /// A node appeared (or, before [`TreeCacheEvent::Initialized`], was loaded).
    Created { path: String, node: CachedNode },
    /// A node's data changed (a newer `mzxid`); `node` is what the cache holds now.
    Updated {
        path: String,
        old: CachedNode,
        node: CachedNode,
    },
    /// A node went; `node` is the last the cache held of it.
    Deleted { path: String, node: CachedNode },
    /// The initial load is complete: the view holds the whole subtree.
    Initialized,
    /// The cache stopped following the subtree because its session ended; the last
    /// event of the stream. The view stays as it was.
    Lost(super::Lost),
}

/// The subtree under a root, by path.
#[derive(Debug, Default)]
pub(crate) struct View {
    root: String,
    nodes: BTreeMap<String, CachedNode>,
}

impl View {
    pub(crate) fn new(root: &str) -> View {
        View {
            root: root.to_owned(),
            nodes: BTreeMap::new(),
        }
    }

    pub(crate) fn nodes(&self) -> &BTreeMap<String, CachedNode> {
        &self.nodes
    }

    pub(crate) fn get(&self, path: &str) -> Option<&CachedNode> {
        self.nodes.get(path)
    }

    /// Whether `path` is the root or below it.
    pub(crate) fn covers(&self, path: &str) -> bool {
        is_within(&self.root, path)
    }

    /// The names of `path`'s children in the view, sorted.
    pub(crate) fn children(&self, path: &str) -> Vec<String> {
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        self.nodes
            .range::<str, _>((
                std::ops::Bound::Excluded(prefix.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(&prefix))
            .filter_map(|p| {
                let rest = &p[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect()
    }

    /// Whether the change of `path` at `zxid` is already reflected: the node held was
    /// last modified at or after it.
    pub(crate) fn has_change(&self, path: &str, zxid: i64) -> bool {
        self.nodes.get(path).is_some_and(|n| n.stat.mzxid >= zxid)
    }

    /// Whether a delete of `path` at `zxid` is older than the node held (created
    /// after it), so that it must not remove it.
    pub(crate) fn created_after(&self, path: &str, zxid: i64) -> bool {
        self.nodes.get(path).is_some_and(|n| n.stat.czxid > zxid)
    }

    /// A read found `path` as `node`.
    pub(crate) fn found(&mut self, path: &str, node: CachedNode, out: &mut Vec<TreeCacheEvent>) {
        if !self.covers(path) {
            return;
        }
        let Some(old) = self.nodes.get(path) else {
            self.nodes.insert(path.to_owned(), node.clone());
            out.push(TreeCacheEvent::Created {
                path: path.to_owned(),
                node,
            });
            return;
        };
        let (old_stat, new_stat) = (&old.stat, &node.stat);
        if new_stat.czxid < old_stat.czxid
            || (new_stat.czxid == old_stat.czxid && new_stat.mzxid < old_stat.mzxid)
        {
            // An older incarnation or an older version than the one held.
            return;
        }
        if new_stat.czxid > old_stat.czxid {
            // Deleted and created again since the read held: the old incarnation and
            // whatever was below it (created before the new one) are gone.
            self.remove_below(path, Some(new_stat.czxid - 1), out);
            self.nodes.insert(path.to_owned(), node.clone());
            out.push(TreeCacheEvent::Created {
                path: path.to_owned(),
                node,
            });
            return;
        }
        if new_stat.mzxid > old_stat.mzxid {
            let old = old.clone();
            self.nodes.insert(path.to_owned(), node.clone());
            out.push(TreeCacheEvent::Updated {
                path: path.to_owned(),
                old,
                node,
            });
        }
        // Same data: nothing to report. A fresher Stat with only newer child fields is
        // not kept either, so that the view is exactly what the events describe.
    }

    /// `path` is gone: as a read answered NoNode (`before` is `None`: everything
    /// held there and below was read earlier, so it is all gone), or as a delete event
    /// at zxid `before` (only what was created before it goes).
    pub(crate) fn missing(
        &mut self,
        path: &str,
        before: Option<i64>,
        out: &mut Vec<TreeCacheEvent>,
    ) {
        if self.covers(path) {
            self.remove_below(path, before, out);
        }
    }

    /// Removes `path` and its descendants created at or before `before` (all of them
    /// for `None`), deepest first.
    fn remove_below(&mut self, path: &str, before: Option<i64>, out: &mut Vec<TreeCacheEvent>) {
        let gone: Vec<String> = self
            .nodes
            .range::<str, _>((std::ops::Bound::Included(path), std::ops::Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(path))
            .filter(|p| is_within(path, p))
            .filter(|p| before.is_none_or(|z| self.nodes[p.as_str()].stat.czxid <= z))
            .cloned()
            .collect();
        // Reverse path order puts children before their parents.
        for p in gone.into_iter().rev() {
            if let Some(node) = self.nodes.remove(&p) {
                out.push(TreeCacheEvent::Deleted { path: p, node });
            }
        }
    }

    /// Replaces the view by a complete read of the subtree (`walked`, read after
    /// everything the view holds), reporting the differences: deletions first
    /// (deepest first), then creations and updates (parents first).
    pub(crate) fn resync(
        &mut self,
        walked: BTreeMap<String, CachedNode>,
        out: &mut Vec<TreeCacheEvent>,
    ) {
        let gone: Vec<String> = self
            .nodes
            .keys()
            .filter(|p| !walked.contains_key(p.as_str()))
            .cloned()
            .collect();
        for p in gone.into_iter().rev() {
            if let Some(node) = self.nodes.remove(&p) {
                out.push(TreeCacheEvent::Deleted { path: p, node });
            }
        }
        for (path, node) in walked {
            self.found(&path, node, out);
        }
    }
}

/// Whether `path` is `root` or below it.
fn is_within(root: &str, path: &str) -> bool {
    if root == "/" {
        return path.starts_with('/');
    }
    path.strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(data: &str, czxid: i64, mzxid: i64, version: i32) -> CachedNode {
        CachedNode {
            data: Bytes::copy_from_slice(data.as_bytes()),
            stat: Stat {
                czxid,
                mzxid,
                version,
                pzxid: czxid,
                ..Stat::default()
            },
        }
    }

    fn paths(out: &[TreeCacheEvent]) -> Vec<String> {
        out.iter()
            .map(|e| match e {
                TreeCacheEvent::Created { path, .. } => format!("+{path}"),
                TreeCacheEvent::Updated { path, .. } => format!("~{path}"),
                TreeCacheEvent::Deleted { path, .. } => format!("-{path}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn reads_never_go_backwards() {
        let mut view = View::new("/r");
        let mut out = Vec::new();
        view.found("/r", node("a", 1, 1, 0), &mut out);
        view.found("/r", node("b", 1, 5, 1), &mut out);
        // An older read of the same incarnation, and a read of an older one.
        view.found("/r", node("a", 1, 1, 0), &mut out);
        view.found("/r", node("x", 0, 0, 0), &mut out);
        // The same version again.
        view.found("/r", node("b", 1, 5, 1), &mut out);
        assert_eq!(paths(&out), ["+/r", "~/r"]);
        assert_eq!(view.get("/r"), Some(&node("b", 1, 5, 1)));
        // Outside the root: ignored.
        view.found("/rx", node("a", 2, 2, 0), &mut out);
        view.found("/", node("a", 2, 2, 0), &mut out);
        assert_eq!(out.len(), 2);
        assert!(view.has_change("/r", 5) && !view.has_change("/r", 6));
    }

    #[test]
    fn a_new_incarnation_replaces_the_old_subtree() {
        let mut view = View::new("/");
        let mut out = Vec::new();
        view.found("/a", node("", 1, 1, 0), &mut out);
        view.found("/a/b", node("", 2, 2, 0), &mut out);
        view.found("/a/b/c", node("", 3, 3, 0), &mut out);
        view.found("/a-b", node("", 4, 4, 0), &mut out);
        out.clear();
        view.found("/a/b", node("new", 10, 10, 0), &mut out);
        assert_eq!(paths(&out), ["-/a/b/c", "-/a/b", "+/a/b"]);
        assert_eq!(view.children("/a"), ["b"]);
        assert_eq!(view.children("/"), ["a", "a-b"]);
    }

    #[test]
    fn deletes_respect_their_zxid() {
        let mut view = View::new("/");
        let mut out = Vec::new();
        view.found("/a", node("", 1, 1, 0), &mut out);
        view.found("/a/b", node("", 7, 7, 0), &mut out);
        out.clear();
        // A delete at zxid 5 is older than /a/b (created at 7): it stays.
        assert!(view.created_after("/a/b", 5));
        view.missing("/a", Some(5), &mut out);
        assert_eq!(paths(&out), ["-/a"]);
        assert!(view.get("/a/b").is_some());
        out.clear();
        view.missing("/a", None, &mut out);
        assert_eq!(paths(&out), ["-/a/b"]);
        assert!(view.nodes().is_empty());
    }

    #[test]
    fn resync_reports_the_differences() {
        let mut view = View::new("/r");
        let mut out = Vec::new();
        view.found("/r", node("", 1, 1, 0), &mut out);
        view.found("/r/a", node("", 2, 2, 0), &mut out);
        view.found("/r/a/x", node("", 3, 3, 0), &mut out);
        view.found("/r/b", node("", 4, 4, 0), &mut out);
        out.clear();
        let walked: BTreeMap<String, CachedNode> = [
            ("/r".to_owned(), node("", 1, 1, 0)),
            ("/r/b".to_owned(), node("v", 4, 9, 1)),
            ("/r/c".to_owned(), node("", 8, 8, 0)),
        ]
        .into_iter()
        .collect();
        view.resync(walked, &mut out);
        assert_eq!(paths(&out), ["-/r/a/x", "-/r/a", "~/r/b", "+/r/c"]);
        assert_eq!(view.children("/r"), ["b", "c"]);
        assert!(is_within("/", "/x") && is_within("/a", "/a/b") && !is_within("/a", "/ab"));
    }
}
