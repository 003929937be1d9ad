//! ZooKeeper's `sync`: once it returns, this server has applied everything the leader
//! had committed when it was asked, so the connection's next read sees at least that.

use ferrokeeper_protocol::Id;

use super::{Backend, DispatchError};

/// Waits behind the leader's commits: a read-index from our Raft leader, or the sync
/// forwarded to the ZooKeeper leader this server follows (`request`: the client's
/// frame, header included).
pub async fn sync(
    backend: &Backend,
    session: i64,
    xid: i32,
    request: &bytes::Bytes,
    auth: &[Id],
) -> Result<(), DispatchError> {
    match backend {
        Backend::Raft(replica) => replica
            .sync()
            .await
            .map_err(|e| DispatchError::Unavailable(e.to_string())),
        Backend::Zab(link) => {
            let (_, body) = super::writes::split_request(request)?;
            link.sync(session, xid, body, auth)
                .await
                .map_err(DispatchError::Unavailable)
        }
    }
}
