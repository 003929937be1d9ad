//! Leadership transfer: before maintenance an operator hands leadership to a named
//! voter, or to the most caught-up one, so a planned restart of the leader costs its
//! clients no election timeout (ClickHouse Keeper's `rqld`/`ydld`; ZooKeeper has no
//! equivalent).
//!
//! Only the leader can hand leadership over (openraft's `trigger().transfer_leader`:
//! the leader stops proposing and tells the voters; the target, once it holds the
//! leader's last log entry, starts an election the others grant at once). A follower
//! forwards the request to the leader over the quorum port
//! ([`super::peer_wire::PeerRequest::TransferLeadership`]). Either way the call returns
//! once the target is the leader as this server sees it, or fails after a bound.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use serde::{Deserialize, Serialize};

use super::types::Raft;

/// A member's `myid`.
pub type ServerId = u64;

/// Why leadership was not handed over. Travels between servers (a follower forwards
/// the request), so it carries text rather than source errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum TransferError {
    #[error("server {0} is not a member of this ensemble")]
    Unknown(ServerId),
    #[error("server {0} is an observer (a non-voting learner) and cannot lead")]
    NotVoter(ServerId),
    #[error("there is no other voter to hand leadership to (or none has caught up)")]
    NoCandidate,
    #[error("this server follows a ZooKeeper ensemble; its leader is ZooKeeper's")]
    NotRaft,
    #[error("no leader is known now; try again once the ensemble has one")]
    NoLeader,
    #[error("server {me} is not the leader (leader: {leader:?})")]
    NotLeader {
        me: ServerId,
        leader: Option<ServerId>,
    },
    #[error("cannot reach the leader {leader}: {why}")]
    Unreachable { leader: ServerId, why: String },
    #[error("server {to} did not become leader within {waited_ms} ms (leader now: {leader:?})")]
    Timeout {
        to: ServerId,
        waited_ms: u64,
        leader: Option<ServerId>,
    },
    #[error("server {instead} became leader instead of server {to}")]
    Superseded { to: ServerId, instead: ServerId },
    #[error("replication has stopped: {0}")]
    Stopped(String),
}

/// Whether `to` may lead: a voter of the current membership. A learner of the
/// membership or an observer of the configuration is refused as such; anything else
/// is unknown.
pub fn check_target(
    to: ServerId,
    voters: &BTreeSet<ServerId>,
    learners: &BTreeSet<ServerId>,
    observers: &BTreeSet<ServerId>,
) -> Result<(), TransferError> {
    if voters.contains(&to) {
        Ok(())
    } else if learners.contains(&to) || observers.contains(&to) {
        Err(TransferError::NotVoter(to))
    } else {
        Err(TransferError::Unknown(to))
    }
}

/// The voter other than `me` with the highest matched log index in the leader's
/// replication metrics (the lowest id among equals, so the choice is stable). A voter
/// that has matched nothing yet (down since this leader's election) is never chosen:
/// handing over to it would only depose the leader until the next election.
pub fn most_caught_up(
    me: ServerId,
    voters: &BTreeSet<ServerId>,
    matched: &BTreeMap<ServerId, Option<u64>>,
) -> Option<ServerId> {
    voters
        .iter()
        .filter(|v| **v != me)
        .filter_map(|v| Some((matched.get(v).copied().flatten()?, *v)))
        // Highest index first; on a tie the lower id wins (Reverse on the id).
        .max_by_key(|(index, id)| (*index, std::cmp::Reverse(*id)))
        .map(|(_, id)| id)
}

/// What a transfer needs; held by the [`super::Replica`] (requests made here) and the
/// peer service (requests forwarded by followers).
#[derive(Clone)]
pub struct Transfers {
    pub me: ServerId,
    pub raft: Raft,
    /// The configured observers (they may not have been added as learners yet).
    pub observers: BTreeSet<ServerId>,
    /// How long the target may take to become leader.
    pub patience: Duration,
}

impl Transfers {
    /// The membership's voters and learners now.
    fn members(&self) -> (BTreeSet<ServerId>, BTreeSet<ServerId>) {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow_watched();
        let membership = metrics.membership_config.membership();
        (
            membership.voter_ids().collect(),
            membership.learner_ids().collect(),
        )
    }

    /// Refuses a target that is not a voter.
    pub fn check(&self, to: ServerId) -> Result<(), TransferError> {
        let (voters, learners) = self.members();
        check_target(to, &voters, &learners, &self.observers)
    }

    /// On the leader: hands leadership to `to` (or the most caught-up voter) and waits
    /// until it leads.
    pub async fn hand_over(&self, to: Option<ServerId>) -> Result<ServerId, TransferError> {
        let metrics = self.raft.metrics().borrow_watched().clone();
        if metrics.current_leader != Some(self.me) {
            return Err(TransferError::NotLeader {
                me: self.me,
                leader: metrics.current_leader,
            });
        }
        let target = match to {
            Some(to) if to == self.me => return Ok(self.me),
            Some(to) => {
                self.check(to)?;
                to
            }
            None => {
                let voters: BTreeSet<ServerId> =
                    metrics.membership_config.membership().voter_ids().collect();
                let matched: BTreeMap<ServerId, Option<u64>> = metrics
                    .replication
                    .as_ref()
                    .map(|r| {
                        r.iter()
                            .map(|(id, log)| (*id, log.as_ref().map(|l| l.index)))
                            .collect()
                    })
                    .unwrap_or_default();
                most_caught_up(self.me, &voters, &matched).ok_or(TransferError::NoCandidate)?
            }
        };
        tracing::info!(
            term = metrics.current_term,
            from = self.me,
            to = target,
            "handing leadership over"
        );
        self.raft
            .trigger()
            .transfer_leader(target)
            .await
            .map_err(|e| TransferError::Stopped(e.to_string()))?;
        self.await_leader(target).await
    }

    /// Waits (bounded) until this server sees `target` as the leader; fails early when
    /// another server takes over.
    pub async fn await_leader(&self, target: ServerId) -> Result<ServerId, TransferError> {
        let mut metrics = self.raft.metrics();
        let start_term = metrics.borrow_watched().current_term;
        let wait = async {
            loop {
                let (leader, term, target_leads) = {
                    let m = metrics.borrow_watched();
                    // The target itself counts only once it is in the Leader state.
                    let leads = m.current_leader == Some(target)
                        && (target != self.me || m.state == openraft::ServerState::Leader);
                    (m.current_leader, m.current_term, leads)
                };
                if target_leads {
                    return Ok(target);
                }
                if let Some(other) = leader
                    && other != target
                    && term > start_term
                {
                    return Err(TransferError::Superseded {
                        to: target,
                        instead: other,
                    });
                }
                if metrics.changed().await.is_err() {
                    return Err(TransferError::Stopped("the Raft core stopped".into()));
                }
            }
        };
        match tokio::time::timeout(self.patience, wait).await {
            Ok(result) => result,
            Err(_) => Err(TransferError::Timeout {
                to: target,
                waited_ms: u64::try_from(self.patience.as_millis()).unwrap_or(u64::MAX),
                leader: self.raft.metrics().borrow_watched().current_leader,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u64]) -> BTreeSet<u64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn only_voters_may_lead() {
        let voters = set(&[1, 2, 3]);
        let learners = set(&[4]);
        let observers = set(&[4, 5]);
        assert_eq!(check_target(2, &voters, &learners, &observers), Ok(()));
        assert_eq!(
            check_target(4, &voters, &learners, &observers),
            Err(TransferError::NotVoter(4))
        );
        // Configured as an observer, not yet added as a learner.
        assert_eq!(
            check_target(5, &voters, &learners, &observers),
            Err(TransferError::NotVoter(5))
        );
        assert_eq!(
            check_target(9, &voters, &learners, &observers),
            Err(TransferError::Unknown(9))
        );
    }

    #[test]
    fn the_most_caught_up_voter_is_chosen() {
        let voters = set(&[1, 2, 3]);
        let matched = BTreeMap::from([(1, Some(50)), (2, Some(40)), (3, Some(45)), (4, Some(99))]);
        // 4 is a learner (not among the voters) even though it is furthest ahead.
        assert_eq!(most_caught_up(1, &voters, &matched), Some(3));
        // Ties go to the lower id; a voter with nothing matched is never chosen.
        let tied = BTreeMap::from([(2, Some(40)), (3, Some(40))]);
        assert_eq!(most_caught_up(1, &voters, &tied), Some(2));
        let none = BTreeMap::from([(2, None), (3, Some(1))]);
        assert_eq!(most_caught_up(1, &voters, &none), Some(3));
        let all_down = BTreeMap::from([(2, None)]);
        assert_eq!(most_caught_up(1, &voters, &all_down), None);
        // The leader alone: nobody to hand over to.
        assert_eq!(most_caught_up(1, &set(&[1]), &matched), None);
    }
}
