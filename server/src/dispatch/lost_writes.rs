//! The lost-write policy, in one place.
//!
//! Consensus may drop a write it accepted but did not commit: a new leader truncates
//! what the old one had not replicated, and a follower's forwarded batch may never
//! reach a leader. ZooKeeper's answer is a connection loss, after which the client
//! decides (it may read to learn the outcome); a silently dropped write must never
//! leave a client waiting forever nor let a later write of the same session overtake
//! it. Replication raises one signal, [`Replica::writes_lost`] (bumped by the role
//! monitor on a leadership change and by the forwarder when a batch cannot reach a
//! leader); everything that follows from it is decided here:
//!
//! 1. [`close_waiting_writers`]: every connection with writes unanswered when the
//!    signal is raised is closed.
//! 2. [`admit`]: a connection may not send a write under another leadership (or,
//!    following ZooKeeper, another link generation) while earlier ones are
//!    unanswered; it ends instead.
//! 3. [`propose_and_wait`]: the server's own writes that wait for their result
//!    (sessions, expiry, the container reaper, a restore) fail at once instead of
//!    waiting out their timeout.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::DispatchError;
use crate::core::Core;
use crate::proposal::Proposal;
use crate::replication::Replica;
use crate::state::txn::TxnResult;

/// Rule 2: whether a connection may send a write under `now`'s leadership, having
/// sent its last one under `then`'s and with writes still `waiting` for an answer.
pub fn admit(
    waiting: bool,
    then: (u64, Option<u64>),
    now: (u64, Option<u64>),
) -> Result<(), DispatchError> {
    if waiting && then != now {
        return Err(DispatchError::Unavailable(
            "the leader changed while writes were in flight".into(),
        ));
    }
    Ok(())
}

/// Rule 1, as a task for the server's life: closes the connections still waiting for
/// a write whenever writes may have been lost.
pub async fn close_waiting_writers(core: Arc<Core>, replica: Replica, stop: CancellationToken) {
    let mut lost = replica.writes_lost();
    loop {
        tokio::select! {
            changed = lost.changed() => if changed.is_err() { return },
            () = stop.cancelled() => return,
        }
        core.close_waiting_writers();
    }
}

/// Rule 3: proposes `proposal` and waits (at most [`Replica::apply_patience`]) until
/// this server has applied it; fails as soon as writes may have been lost.
pub async fn propose_and_wait(
    replica: &Replica,
    mut proposal: Proposal,
) -> Result<TxnResult, DispatchError> {
    let (ticket, rx) = replica.ticket(&mut proposal);
    // Subscribed before submitting: a loss announced from here on may be this write's.
    let mut lost = replica.writes_lost();
    let result = async {
        replica
            .submit(proposal)
            .await
            .map_err(|e| DispatchError::Unavailable(e.to_string()))?;
        let applied = tokio::time::timeout(replica.apply_patience(), rx);
        tokio::select! {
            applied = applied => applied
                .map_err(|_| DispatchError::Unavailable("the write was not applied in time".into()))?
                .map_err(|_| DispatchError::Unavailable("the write was dropped".into())),
            _ = lost.changed() => Err(DispatchError::Unavailable(
                "the leader changed before the write was applied".into(),
            )),
        }
    }
    .await;
    if result.is_err() {
        replica.forget_ticket(&ticket);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_may_not_overtake_writes_a_leader_change_may_have_dropped() {
        let (old, new) = ((3, Some(1)), (4, Some(2)));
        assert!(admit(true, old, new).is_err());
        // Nothing in flight: nothing to overtake.
        assert!(admit(false, old, new).is_ok());
        // Same leadership: the log keeps the connection's order.
        assert!(admit(true, old, old).is_ok());
        // The same leader in a new term may have truncated too.
        assert!(admit(true, (3, Some(1)), (4, Some(1))).is_err());
    }
}
