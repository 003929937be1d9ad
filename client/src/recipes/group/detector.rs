//! Following a group's leader, as Mesos's `LeaderDetector`.

use super::*;

/// A group's leader: the member with the lowest sequence, and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    pub member: Member,
    pub data: Bytes,
}

/// Follows a group's leader, as Mesos's `LeaderDetector`: [`LeaderDetector::next`]
/// reports the leader when it differs from the last one reported (`None`: no leader,
/// e.g. an empty group or an expired session), with its data read at that time. A
/// member whose node is gone before its data could be read is reported as `None`, as
/// in Mesos. Changes of the leader's data alone are not reported.
#[derive(Debug)]
pub struct LeaderDetector {
    group: Group,
    view: watch::Receiver<View>,
    /// The leader the last report was about (`Some(None)`: no leader).
    evaluated: Option<Option<Member>>,
    /// What was last reported (`Some(None)`: no leader).
    reported: Option<Option<Member>>,
}

impl LeaderDetector {
    pub fn new(group: &Group) -> LeaderDetector {
        LeaderDetector {
            group: group.clone(),
            view: group.inner.view.subscribe(),
            evaluated: None,
            reported: None,
        }
    }

    /// The next leader change; the first call reports the current leader as soon as
    /// the group has been listed. `None` once the group is closed.
    pub async fn next(&mut self) -> Option<Option<Leader>> {
        loop {
            let (leader, closed) = {
                let view = self.view.borrow_and_update();
                (
                    view.members.as_ref().map(|m| m.first().cloned()),
                    view.closed,
                )
            };
            if closed {
                if matches!(self.reported, Some(Some(_))) {
                    self.reported = Some(None);
                    return Some(None);
                }
                return None;
            }
            if let Some(leader) = leader
                && self.evaluated.as_ref() != Some(&leader)
            {
                match self.read(&leader).await {
                    Ok(report) => {
                        self.evaluated = Some(leader);
                        let member = report.as_ref().map(|l| l.member.clone());
                        if self.reported.as_ref() != Some(&member) {
                            self.reported = Some(member);
                            return Some(report);
                        }
                        continue;
                    }
                    Err(e) => {
                        // Not readable now (no session, connection lost): look again
                        // after the next change or in a moment.
                        tracing::debug!(group = self.group.path(), error = %e, "cannot read the leader's data");
                        tokio::select! {
                            changed = self.view.changed() => if changed.is_err() { return None },
                            _ = tokio::time::sleep(RETRY_MAX / 10) => {}
                        }
                        continue;
                    }
                }
            }
            if self.view.changed().await.is_err() {
                return None;
            }
        }
    }

    async fn read(&self, leader: &Option<Member>) -> Result<Option<Leader>> {
        let Some(member) = leader else {
            return Ok(None);
        };
        match self.group.data(member).await {
            Ok(data) => Ok(Some(Leader {
                member: member.clone(),
                data,
            })),
            Err(Error::NoNode) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The detector as a stream of leader changes.
    pub fn into_stream(self) -> impl Stream<Item = Option<Leader>> + Send + 'static {
        futures::stream::unfold(self, |mut detector| async move {
            let next = detector.next().await?;
            Some((next, detector))
        })
    }
}
