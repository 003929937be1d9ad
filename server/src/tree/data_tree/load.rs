//! Decoding the node map of a stored tree (a snapshot) on two threads.
//!
//! A restart spends nearly all of its time here: at a million znodes, decoding the
//! znodes (their paths, data, ACLs and children's names) and inserting them one by one
//! into the persistent ordered map (imbl has no bulk build from sorted input) took
//! about equal shares of 750 ms. So this thread decodes while a second one builds the
//! map and the children sets, passing znodes over in batches. The result is the same
//! map, built from the same sorted entries; small maps are built on this thread.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc;

use bytes::Bytes;
use ferrokeeper_protocol::StatPersisted;
use imbl::OrdMap;
use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::super::node::Node;
use super::super::shared_acl::SharedAcl;

/// Below this many znodes the map is built here: a thread is not worth starting.
const THREADED_FROM: usize = 50_000;
/// Znodes per batch handed to the builder.
const BATCH: usize = 4096;
/// Batches in flight: bounds what waits in the channel.
const BATCHES_IN_FLIGHT: usize = 8;

/// A znode as stored, its children still a list (as [`Node`] serializes them).
#[derive(Deserialize)]
struct StoredNode {
    data: Option<Bytes>,
    acl: SharedAcl,
    stat: StatPersisted,
    children: Vec<String>,
}

impl StoredNode {
    fn into_node(self) -> Arc<Node> {
        Arc::new(Node {
            data: self.data,
            acl: self.acl,
            stat: self.stat,
            children: self.children.into_iter().collect(),
        })
    }
}

type Entry = (String, StoredNode);

fn build(map: &mut OrdMap<String, Arc<Node>>, batch: Vec<Entry>) {
    for (path, node) in batch {
        map.insert(path, node.into_node());
    }
}

/// `deserialize_with` for the tree's `nodes`.
pub(super) fn nodes<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<OrdMap<String, Arc<Node>>, D::Error> {
    deserializer.deserialize_map(NodesVisitor)
}

struct NodesVisitor;

impl<'de> Visitor<'de> for NodesVisitor {
    type Value = OrdMap<String, Arc<Node>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of znodes by path")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        if access.size_hint().unwrap_or(0) < THREADED_FROM {
            let mut map = OrdMap::new();
            while let Some((path, node)) = access.next_entry::<String, StoredNode>()? {
                map.insert(path, node.into_node());
            }
            return Ok(map);
        }
        std::thread::scope(|scope| {
            let (batches, received) = mpsc::sync_channel::<Vec<Entry>>(BATCHES_IN_FLIGHT);
            let builder = std::thread::Builder::new()
                .name("snapshot-load".into())
                .spawn_scoped(scope, move || {
                    let mut map = OrdMap::new();
                    for batch in received {
                        build(&mut map, batch);
                    }
                    map
                })
                .map_err(|e| A::Error::custom(format!("cannot start a thread: {e}")))?;
            let mut batch = Vec::with_capacity(BATCH);
            // On a decoding error the sender is dropped, the builder stops at the end
            // of what it was sent, and the error is returned after it is joined.
            let decoded = (|| {
                while let Some(entry) = access.next_entry::<String, StoredNode>()? {
                    batch.push(entry);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if batches.send(full).is_err() {
                            break;
                        }
                    }
                }
                Ok::<(), A::Error>(())
            })();
            if decoded.is_ok() && !batch.is_empty() {
                let _ = batches.send(batch);
            }
            drop(batches);
            let built = builder
                .join()
                .map_err(|_| A::Error::custom("the snapshot loading thread panicked"));
            decoded?;
            built
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::DataTree;
    use ferrokeeper_protocol::perms;

    /// A tree large enough to be built on the second thread decodes to the tree that
    /// was stored, and so does a small one.
    #[test]
    fn a_stored_tree_loads_back_the_same_on_one_thread_or_two() {
        for count in [10usize, THREADED_FROM + BATCH + 17] {
            let mut tree = DataTree::new();
            tree.create("/p", None, perms::open_acl_unsafe(), 0, 1, 1)
                .unwrap();
            for i in 0..count {
                let data = Bytes::from(format!("value {i}"));
                tree.create(
                    &format!("/p/n{i:07}"),
                    Some(data),
                    perms::open_acl_unsafe(),
                    0,
                    i as i64 + 2,
                    7,
                )
                .unwrap();
            }
            let bytes = postcard::to_allocvec(&tree).unwrap();
            let back: DataTree = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, tree, "{count} znodes");
            assert_eq!(back.node("/p").unwrap().children().len(), count);
        }
    }

    /// A stored tree cut short is an error whichever thread builds it.
    #[test]
    fn a_truncated_tree_is_an_error() {
        let mut tree = DataTree::new();
        for i in 0..THREADED_FROM + 10 {
            tree.create(&format!("/n{i}"), None, perms::open_acl_unsafe(), 0, 1, 1)
                .unwrap();
        }
        let bytes = postcard::to_allocvec(&tree).unwrap();
        let cut = &bytes[..bytes.len() / 2];
        assert!(postcard::from_bytes::<DataTree>(cut).is_err());
    }
}
