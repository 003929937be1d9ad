//! Curator's protected ephemeral-sequential nodes: `<dir>/_c_<uuid>-<name>NNNNNNNNNN`.
//!
//! A create whose reply is lost with the connection may or may not have happened. The
//! uuid in the name lets the creator find its node after reconnecting (in a listing
//! of the parent) instead of creating a second one that would then hold a place in
//! the queue forever (for as long as the session lives).

use crate::recipes::util::{child_path, create_parents, new_uuid, sequence_suffix, wait_connected};
use crate::{Acl, Client, CreateMode, Error, Result};

/// How many times a create is tried again after losing its connection (each retry
/// first waits for the reconnect, which is itself bounded by the connection timeout).
const RETRIES: usize = 10;

/// A protected name's prefix and the node created with it.
#[derive(Debug, Clone)]
pub(crate) struct ProtectedNode {
    /// `_c_<uuid>-`: identifies the node among its siblings.
    pub(crate) tag: String,
    /// The full path of the created node.
    pub(crate) path: String,
}

/// The children of `dir` that are `name` nodes (protected or not), sorted by sequence.
pub(crate) fn sorted_nodes(children: Vec<String>, name: &str) -> Vec<String> {
    let mut nodes: Vec<(i64, String)> = children
        .into_iter()
        .filter(|c| c.contains(name))
        .filter_map(|c| sequence_suffix(&c).map(|s| (s, c)))
        .collect();
    nodes.sort();
    nodes.into_iter().map(|(_, c)| c).collect()
}

/// Creates `<dir>/_c_<uuid>-<name>` as EPHEMERAL_SEQUENTIAL (with `dir` and its
/// missing ancestors as containers, as Curator's `creatingParentContainersIfNeeded`).
pub(crate) async fn create_protected(
    client: &Client,
    dir: &str,
    name: &str,
    data: &[u8],
    acl: &[Acl],
) -> Result<ProtectedNode> {
    let tag = format!("_c_{}-", new_uuid());
    let path = child_path(dir, &format!("{tag}{name}"));
    let mut retries = 0;
    loop {
        match client
            .create(&path, data, acl, CreateMode::EphemeralSequential)
            .await
        {
            Ok((created, _)) => return Ok(ProtectedNode { tag, path: created }),
            Err(Error::NoNode) if retries < RETRIES => {
                retries += 1;
                create_parents(client, dir, acl, CreateMode::Container).await?;
            }
            Err(Error::ConnectionLoss) if retries < RETRIES => {
                retries += 1;
                wait_connected(client).await?;
                match find_tagged(client, dir, &tag).await {
                    Ok(Some(found)) => {
                        tracing::debug!(path = found, "adopted a node whose create reply was lost");
                        return Ok(ProtectedNode { tag, path: found });
                    }
                    // Not created (or the parent is gone): create it now.
                    Ok(None) | Err(Error::NoNode) => {}
                    Err(Error::ConnectionLoss) => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// The path of the child of `dir` whose name starts with `tag`, if any.
pub(crate) async fn find_tagged(client: &Client, dir: &str, tag: &str) -> Result<Option<String>> {
    let children = client.get_children(dir).await?;
    Ok(children
        .into_iter()
        .find(|c| c.starts_with(tag))
        .map(|c| child_path(dir, &c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorting_ignores_other_nodes() {
        let children = vec![
            "_c_b-lock-0000000003".to_owned(),
            "other".to_owned(),
            "_c_a-lock-0000000001".to_owned(),
            "lock-0000000002".to_owned(),
            "_c_z-latch-0000000000".to_owned(),
        ];
        assert_eq!(
            sorted_nodes(children, "lock-"),
            [
                "_c_a-lock-0000000001",
                "lock-0000000002",
                "_c_b-lock-0000000003"
            ]
        );
    }
}
