//! Leadership priority, as ClickHouse Keeper's server priority: the leader hands its
//! leadership to a voter with a higher `ferrokeeper.priority.<id>` once that voter has
//! caught up (it holds everything committed), so the preferred member leads whenever it
//! can, and a priority-0 member leads only while no other voter can. Raft elects
//! whoever wins the election first; this moves the leadership afterwards, through the
//! same transfer an operator triggers ([`super::Replica::transfer_leadership`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use openraft::async_runtime::WatchReceiver;
use tokio_util::sync::CancellationToken;

use super::Replica;

/// A voter not listed has this priority.
const DEFAULT_PRIORITY: u32 = 1;
/// Re-checked this often when nothing changes (a member caught up quietly).
const RECHECK: Duration = Duration::from_millis(500);
/// After a failed hand-over, wait this long before trying again, doubling up to
/// `MAX_BACKOFF`: a target that cannot take over must not make the leadership flap.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Priorities {
    by_id: BTreeMap<u64, u32>,
    voters: BTreeSet<u64>,
}

impl Priorities {
    pub fn new(by_id: BTreeMap<u64, u32>, voters: BTreeSet<u64>) -> Priorities {
        Priorities { by_id, voters }
    }

    fn of(&self, id: u64) -> u32 {
        self.by_id.get(&id).copied().unwrap_or(DEFAULT_PRIORITY)
    }

    /// The voter the leader `me` should hand over to: the highest priority above its
    /// own among the voters in `synced` (lowest id on a tie).
    pub fn preferred(&self, me: u64, synced: &BTreeSet<u64>) -> Option<u64> {
        let mine = self.of(me);
        self.voters
            .iter()
            .filter(|v| **v != me && synced.contains(v) && self.of(**v) > mine)
            .max_by_key(|v| (self.of(**v), std::cmp::Reverse(**v)))
            .copied()
    }
}

/// Runs on every member of an ensemble with priorities until `stop`.
pub async fn prefer(replica: Replica, priorities: Priorities, stop: CancellationToken) {
    let me = replica.id();
    let mut metrics = replica.inner.raft.metrics();
    let mut backoff = FIRST_BACKOFF;
    let mut not_before = Instant::now();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            changed = metrics.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(RECHECK) => {}
        }
        if Instant::now() < not_before {
            continue;
        }
        let target = {
            let m = metrics.borrow_watched();
            if m.current_leader != Some(me) {
                continue;
            }
            let committed = m.local_committed.map_or(0, |l| l.index);
            let synced: BTreeSet<u64> = m
                .replication
                .iter()
                .flatten()
                .filter(|(_, matched)| matched.map_or(0, |l| l.index) >= committed)
                .map(|(id, _)| *id)
                .collect();
            priorities.preferred(me, &synced)
        };
        let Some(target) = target else {
            continue;
        };
        tracing::info!(
            from = me,
            to = target,
            "handing leadership to a caught-up member with a higher priority"
        );
        match replica.transfer_leadership(Some(target)).await {
            Ok(_) => backoff = FIRST_BACKOFF,
            Err(e) => {
                tracing::warn!(to = target, "leadership hand-over by priority failed: {e}");
                not_before = Instant::now() + backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
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
    fn the_highest_caught_up_priority_is_preferred() {
        let p = Priorities::new([(3, 5), (2, 3), (1, 0)].into(), set(&[1, 2, 3]));
        assert_eq!(p.preferred(1, &set(&[2, 3])), Some(3));
        // Member 3 has not caught up: the next best above the leader's own.
        assert_eq!(p.preferred(1, &set(&[2])), Some(2));
        assert_eq!(
            p.preferred(2, &set(&[1])),
            None,
            "never to a lower priority"
        );
        assert_eq!(
            p.preferred(3, &set(&[1, 2])),
            None,
            "the preferred leader stays"
        );
    }

    #[test]
    fn unlisted_voters_have_the_default_and_ties_stay() {
        let p = Priorities::new([(1, 0)].into(), set(&[1, 2, 3]));
        assert_eq!(p.preferred(1, &set(&[2, 3])), Some(2), "priority 0 yields");
        assert_eq!(
            p.preferred(2, &set(&[1, 3])),
            None,
            "equal priorities do not move"
        );
        let observers_excluded = Priorities::new([(4, 9)].into(), set(&[1, 2, 3]));
        assert_eq!(observers_excluded.preferred(1, &set(&[2, 3, 4])), None);
    }
}
