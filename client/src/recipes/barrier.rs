//! A barrier, as Curator's `DistributedBarrier`: while its node exists, everyone who
//! waits on it waits; removing the node lets them all through. The node is plain and
//! persistent, so a barrier outlives the session that set it (as Curator's does), and
//! Curator applications and this recipe can share one.

use super::util::{check_dir, create_parents, wait_connected};
use crate::{Client, CreateMode, Error, Result, open_acl_unsafe};

/// A barrier at one znode.
#[derive(Debug, Clone)]
pub struct Barrier {
    client: Client,
    path: String,
}

impl Barrier {
    /// The barrier at `path` (nothing is created until [`Barrier::set`]).
    pub fn new(client: &Client, path: &str) -> Result<Barrier> {
        let path = check_dir(path)?;
        if path == "/" {
            return Err(Error::BadArguments);
        }
        Ok(Barrier {
            client: client.clone(),
            path,
        })
    }

    /// Raises the barrier: creates its node (and missing parents). Raising a raised
    /// barrier is not an error.
    pub async fn set(&self) -> Result<()> {
        create_parents(
            &self.client,
            &self.path,
            &open_acl_unsafe(),
            CreateMode::Persistent,
        )
        .await
    }

    /// Lowers the barrier: deletes its node, whoever set it. Lowering a lowered barrier
    /// is not an error.
    pub async fn remove(&self) -> Result<()> {
        match self.client.delete(&self.path, None).await {
            Ok(()) | Err(Error::NoNode) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits until the barrier is down (at once if it is not set). A connection loss is
    /// waited out (the watch is re-armed on the same session); the session's end is an
    /// error. Wrap it in `tokio::time::timeout` to give up after a while, as Curator's
    /// `waitOnBarrier(time, unit)`.
    pub async fn wait(&self) -> Result<()> {
        loop {
            match self.client.exists_w(&self.path).await {
                Ok((None, _)) => return Ok(()),
                Ok((Some(_), watch)) => match watch.await {
                    // Deleted, or changed and maybe set again: look again.
                    Ok(_) => {}
                    Err(Error::ConnectionLoss) => wait_connected(&self.client).await?,
                    Err(e) => return Err(e),
                },
                Err(Error::ConnectionLoss) => wait_connected(&self.client).await?,
                Err(e) => return Err(e),
            }
        }
    }
}
