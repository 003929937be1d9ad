//! One process's membership in a group, and whether it leads.

use super::*;

/// This process's membership in a [`Group`]: its node exists while the membership
/// holds. Dropping it cancels it (deletes the node), as destroying a Mesos contender.
#[derive(Debug)]
pub struct Membership {
    pub(super) group: Group,
    pub(super) member: Member,
    pub(super) path: String,
    pub(super) session: i64,
    pub(super) lost: watch::Receiver<Option<Lost>>,
    pub(super) done: bool,
}

impl Membership {
    pub fn member(&self) -> &Member {
        &self.member
    }

    /// The member node's full path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The session that owns the node.
    pub fn session_id(&self) -> i64 {
        self.session
    }

    /// Why the membership ended, if it has.
    pub fn lost(&self) -> Option<Lost> {
        *self.lost.borrow()
    }

    /// Resolves when the membership ends: its node vanished, its session expired or
    /// timed out locally, or the group was closed (Mesos's "lost candidacy").
    pub async fn until_lost(&self) -> Lost {
        until_lost(self.lost.clone()).await
    }

    /// Whether this member leads now: it holds the lowest sequence in the group's last
    /// listing, its membership holds, and the group's session is connected (leadership
    /// is suspended while disconnected, see the [module docs](crate::recipes)).
    pub fn is_leader(&self) -> bool {
        if self.lost.borrow().is_some() {
            return false;
        }
        let view = self.group.inner.view.borrow();
        is_first(&view, self.session, self.member.sequence)
    }

    /// Whether this member leads: the current answer of [`Membership::is_leader`], then
    /// every change. Ends (after `false`) when the membership ends.
    pub fn leadership(&self) -> impl Stream<Item = bool> + Send + 'static + use<> {
        let view = self.group.inner.view.subscribe();
        let lost = self.lost.clone();
        let (session, sequence) = (self.session, self.member.sequence);
        futures::stream::unfold(
            (view, lost, None::<bool>, false),
            move |(mut view, mut lost, last, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    let gone = lost.borrow_and_update().is_some();
                    let leader = !gone && is_first(&view.borrow_and_update(), session, sequence);
                    if gone || last != Some(leader) {
                        if gone && last == Some(false) {
                            return None;
                        }
                        return Some((leader, (view, lost, Some(leader), gone)));
                    }
                    tokio::select! {
                        changed = view.changed() => if changed.is_err() { return Some((false, (view, lost, Some(false), true))) },
                        changed = lost.changed() => if changed.is_err() { return Some((false, (view, lost, Some(false), true))) },
                    }
                }
            },
        )
    }

    /// Leaves the group: deletes the node. `Ok(false)` if the membership had already
    /// ended (its node is gone, or it belongs to a session that is over).
    pub async fn cancel(mut self) -> Result<bool> {
        self.done = true;
        let Some(client) = self.release() else {
            return Ok(false);
        };
        match client.delete(&self.path, None).await {
            Ok(()) => Ok(true),
            Err(Error::NoNode) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Marks the membership cancelled; the client to delete its node with, if its
    /// session is still the group's.
    fn release(&self) -> Option<Client> {
        let mut state = self.group.inner.lock();
        let owned = state.owned.remove(&(self.session, self.member.sequence))?;
        owned.lost.send_replace(Some(Lost::Cancelled));
        state
            .client
            .clone()
            .filter(|c| c.session_id() == self.session)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        if !self.done
            && let Some(client) = self.release()
        {
            // Queued now; the reply is not awaited.
            drop(client.delete(&self.path, None));
        }
    }
}

pub(super) fn is_first(view: &View, session: i64, sequence: i32) -> bool {
    view.connected
        && view.session_id == session
        && view
            .members
            .as_ref()
            .and_then(|m| m.first())
            .is_some_and(|m| m.sequence == sequence)
}
