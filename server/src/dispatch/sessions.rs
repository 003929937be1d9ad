//! Sessions as the ensemble sees them: a new one is replicated before the client hears
//! of it, and a resumed one is judged as the leader would judge it.

use ferrokeeper_protocol::Id;

use super::{Backend, DispatchError};
use crate::core::{Core, now_ms};
use crate::proposal::Proposal;
use crate::state::txn::{Entry, Txn};

/// Creates session `session_id` with `timeout_ms`: through our log (returns once
/// applied here), or on the ZooKeeper ensemble this server follows.
pub async fn create(
    backend: &Backend,
    session_id: i64,
    timeout_ms: i32,
    ids: &[Id],
) -> Result<(), DispatchError> {
    match backend {
        Backend::Raft(replica) => {
            let proposal = Proposal {
                reply_to: None,
                ticket: None,
                entry: Entry {
                    time_ms: now_ms(),
                    txn: Txn::CreateSession {
                        session_id,
                        timeout_ms,
                    },
                },
            };
            super::lost_writes::propose_and_wait(replica, proposal)
                .await
                .map(|_| ())
        }
        Backend::Zab(link) => link
            .create_session(session_id, timeout_ms, ids)
            .await
            .map_err(DispatchError::Unavailable),
    }
}

/// The timeout of a session a client resumes here, if the session lives: `timeout_ms`
/// (the client's, clamped) where ZooKeeper's leader says so, else this server's record
/// once it has applied everything the leader committed (ZooKeeper's follower asks its
/// leader, REVALIDATE; a Raft member may lag the leader, and a session created, closed
/// or expired through another member must be judged by the leader's view). `None`:
/// expired or unknown.
pub async fn resumable(
    core: &Core,
    backend: &Backend,
    session_id: i64,
    timeout_ms: i32,
) -> Result<Option<i32>, DispatchError> {
    match backend {
        Backend::Raft(replica) => {
            if replica.is_ensemble() {
                replica
                    .sync()
                    .await
                    .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
            }
            Ok(core.session_timeout(session_id))
        }
        Backend::Zab(link) => {
            let valid = link
                .revalidate(session_id, timeout_ms)
                .await
                .map_err(DispatchError::Unavailable)?;
            Ok(valid.then_some(timeout_ms))
        }
    }
}
