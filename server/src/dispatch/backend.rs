//! Where a connection's writes, new sessions and syncs go: our own Raft log, or — when
//! this server follows a ZooKeeper ensemble (`ferrokeeper.follow=zookeeper`) — that
//! ensemble's leader, as a ZooKeeper observer forwards them.

use std::sync::Arc;

use tokio::sync::watch;

use crate::replication::{FollowerCounts, Replica, Role, ServerId, TransferError};
use crate::zab::ZabLink;

#[derive(Clone)]
pub enum Backend {
    Raft(Replica),
    Zab(Arc<ZabLink>),
}

impl Backend {
    pub fn role(&self) -> watch::Receiver<Role> {
        match self {
            Backend::Raft(r) => r.role(),
            Backend::Zab(z) => z.role(),
        }
    }

    /// Leader-side learner counts (`mntr`); an observer of ZooKeeper has none.
    pub fn follower_counts(&self) -> FollowerCounts {
        match self {
            Backend::Raft(r) => r.follower_counts(),
            Backend::Zab(_) => FollowerCounts::default(),
        }
    }

    /// Raft's figures for the `ferrokeeper_` metrics; `None` while following ZooKeeper.
    pub fn raft_facts(&self) -> Option<crate::replication::RaftFacts> {
        match self {
            Backend::Raft(r) => Some(r.raft_facts()),
            Backend::Zab(_) => None,
        }
    }

    /// Tells our peers a session moved here (ZooKeeper's leader learns it by itself).
    pub fn announce_session_moved(&self, session: i64) {
        if let Backend::Raft(r) = self {
            r.announce_session_moved(session);
        }
    }

    /// What a write's fate depends on: the Raft leadership, or the link to ZooKeeper's
    /// leader. A connection with writes in flight across a change ends instead of
    /// sending more, so a session's writes stay in order.
    pub fn leadership(&self) -> (u64, Option<u64>) {
        match self {
            Backend::Raft(r) => r.leadership(),
            Backend::Zab(z) => (z.generation(), None),
        }
    }

    /// Hands the Raft leadership to voter `to`, or to the most caught-up voter; see
    /// [`Replica::transfer_leadership`]. A server following ZooKeeper has no say.
    pub async fn transfer_leadership(
        &self,
        to: Option<ServerId>,
    ) -> Result<ServerId, TransferError> {
        match self {
            Backend::Raft(r) => r.transfer_leadership(to).await,
            Backend::Zab(_) => Err(TransferError::NotRaft),
        }
    }

    /// `rqld`: this server asks to lead.
    pub async fn request_leadership(&self) -> Result<ServerId, TransferError> {
        match self {
            Backend::Raft(r) => r.transfer_leadership(Some(r.id())).await,
            Backend::Zab(_) => Err(TransferError::NotRaft),
        }
    }

    /// `ydld`: if this server leads, it hands leadership to the most caught-up voter
    /// (`Some(new leader)`); `None` when it does not lead.
    pub async fn yield_leadership(&self) -> Result<Option<ServerId>, TransferError> {
        match self {
            Backend::Raft(r) => r.yield_leadership().await,
            Backend::Zab(_) => Err(TransferError::NotRaft),
        }
    }
}
