//! Small helpers the recipes share.

use futures::StreamExt;
use tokio::sync::watch;

use super::Lost;

use crate::{Acl, Client, CreateMode, Error, Result};

/// Waits until `client` is connected (at once if it is); fails with the session's
/// error once it reaches a terminal state.
pub(crate) async fn wait_connected(client: &Client) -> Result<()> {
    let mut states = client.state_stream();
    while let Some(state) = states.next().await {
        if state.is_connected() {
            return Ok(());
        }
        if state.is_terminal() {
            return Err(state.error());
        }
    }
    Err(client.state().error())
}

/// Resolves with the loss `lost` reports (at once if it has); a dropped sender counts as
/// [`Lost::Closed`]. What every holder's `until_lost` is made of.
pub(crate) async fn until_lost(mut lost: watch::Receiver<Option<Lost>>) -> Lost {
    loop {
        if let Some(lost) = *lost.borrow_and_update() {
            return lost;
        }
        if lost.changed().await.is_err() {
            return Lost::Closed;
        }
    }
}

/// Creates `path` and every missing ancestor with `mode` (persistent or container),
/// accepting nodes that exist already.
pub(crate) async fn create_parents(
    client: &Client,
    path: &str,
    acl: &[Acl],
    mode: CreateMode,
) -> Result<()> {
    if path == "/" {
        return Ok(());
    }
    let mut at = 0;
    while at < path.len() {
        let end = path[at + 1..].find('/').map_or(path.len(), |i| at + 1 + i);
        match client.create(&path[..end], b"", acl, mode).await {
            Ok(_) | Err(Error::NodeExists) => {}
            Err(e) => return Err(e),
        }
        at = end;
    }
    Ok(())
}

/// `dir/name` (`/name` under the root).
pub(crate) fn child_path(dir: &str, name: &str) -> String {
    if dir == "/" {
        format!("/{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component of `path`.
pub(crate) fn node_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Checks a recipe's base path: absolute, no trailing slash (except `/` itself).
pub(crate) fn check_dir(path: &str) -> Result<String> {
    if !path.starts_with('/') || (path.len() > 1 && path.ends_with('/')) || path.contains("//") {
        return Err(Error::BadArguments);
    }
    Ok(path.to_owned())
}

/// The sequence number ZooKeeper appended to a sequential node's name (its last ten
/// characters, `%010d`).
pub(crate) fn sequence_suffix(name: &str) -> Option<i64> {
    let start = name.len().checked_sub(10)?;
    let digits = name.get(start..)?;
    if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// A random RFC 4122 version-4 UUID, as Curator puts in protected node names.
pub(crate) fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        assert_eq!(sequence_suffix("lock-0000000012"), Some(12));
        assert_eq!(sequence_suffix("0000000000"), Some(0));
        assert_eq!(sequence_suffix("lock-00000012"), None);
        assert_eq!(sequence_suffix("x"), None);
        assert_eq!(sequence_suffix("_c_é-lock-000000001x"), None);
        assert_eq!(child_path("/", "a"), "/a");
        assert_eq!(child_path("/a", "b"), "/a/b");
        assert_eq!(node_name("/a/b"), "b");
        assert!(check_dir("/a/b").is_ok());
        assert!(check_dir("/").is_ok());
        assert!(check_dir("a").is_err());
        assert!(check_dir("/a/").is_err());
        assert_ne!(new_uuid(), new_uuid());
    }
}
