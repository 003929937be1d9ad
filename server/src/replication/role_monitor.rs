//! The role monitor: watches openraft's metrics and publishes this server's [`Role`];
//! on a leader change it announces possibly lost writes, on becoming leader it refreshes
//! sessions and adds the observers as learners, and it learns the addresses a reconfig
//! adds.

use super::*;

/// Watches openraft's metrics and publishes this server's [`Role`]; on a leader
/// change, announces possibly lost writes; on becoming leader, refreshes sessions and
/// adds the observers as learners.
pub(super) struct RoleMonitor {
    pub(super) me: u64,
    pub(super) raft: Raft,
    pub(super) contact: Arc<Contact>,
    pub(super) hooks: Arc<dyn PeerHooks>,
    pub(super) observers: BTreeSet<u64>,
    pub(super) quorum_timeout: Duration,
    pub(super) role: watch::Sender<Role>,
    pub(super) lost: watch::Sender<u64>,
    /// An attempt to add observers as learners is under way.
    pub(super) adding: Arc<AtomicBool>,
    /// Learns the addresses of members a reconfig added.
    pub(super) addrs: AddressBook,
}

impl RoleMonitor {
    pub(super) async fn run(self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(Duration::from_millis(20));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen_leader: Option<(u64, Option<u64>)> = None;
        let mut seen_members: Option<Members> = None;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                () = stop.cancelled() => return,
            }
            let metrics = self.raft.metrics().borrow_watched().clone();
            let leadership = (metrics.current_term, metrics.current_leader);
            if seen_leader != Some(leadership) {
                if seen_leader.is_some() {
                    // Entries not yet committed may be dropped by a new leader.
                    self.lost.send_modify(|n| *n += 1);
                }
                log_leadership(self.me, &metrics);
                if metrics.current_leader == Some(self.me) {
                    self.hooks.became_leader();
                }
                seen_leader = Some(leadership);
            }
            let members = Members::of(&metrics);
            if seen_members.as_ref() != Some(&members) {
                members.log_changes_from(seen_members.as_ref());
                self.learn_addresses(&members);
                seen_members = Some(members);
            }
            // Until every configured observer is a learner (an attempt can fail, e.g.
            // while the first membership is not committed yet). Once a reconfig has
            // named the members, the membership alone says who observes.
            let reconfigured = seen_members.as_ref().is_some_and(Members::reconfigured);
            if metrics.current_leader == Some(self.me)
                && !self.adding.load(Ordering::Relaxed)
                && !reconfigured
            {
                self.add_observers(&metrics);
            }
            let role = self.role_now(&metrics);
            let was = *self.role.borrow();
            if was != role {
                tracing::info!(mode = role.mode(), "serving state changed");
                // A leader that lost its quorum stays openraft's leader (same term) and
                // may regain it without an election; while it did not serve, no client
                // could reach a serving server, so the deadlines it kept are void. As
                // in ZooKeeper (a leader without a quorum stops leading and the next
                // one starts every session afresh), refresh every session before the
                // role that lets the expiry loop run is published.
                if role.is_leader() && !was.is_leader() {
                    self.hooks.became_leader();
                }
                self.role.send_replace(role);
            }
        }
    }

    fn role_now(&self, metrics: &openraft::RaftMetrics<TypeConfig>) -> Role {
        use openraft::ServerState;
        let fresh = |age: Duration| age < self.quorum_timeout;
        match metrics.state {
            ServerState::Leader => {
                let acked = metrics.last_quorum_acked.map(|t| {
                    use openraft::Instant as _;
                    t.into_inner().elapsed()
                });
                // A one-voter ensemble (standaloneEnabled=false with one server.N line)
                // is its own quorum: no follower acknowledges it, and it serves anyway.
                let alone = metrics
                    .membership_config
                    .membership()
                    .voter_ids()
                    .eq(std::iter::once(self.me));
                if alone || acked.is_some_and(fresh) {
                    Role::Leader
                } else {
                    Role::NotServing
                }
            }
            ServerState::Follower | ServerState::Learner => {
                let in_touch = matches!(
                    (self.contact.last(), metrics.current_leader),
                    (Some((heard, at)), Some(leader)) if heard == leader && fresh(at.elapsed())
                );
                let leader_serving = matches!(
                    (self.contact.last_leader_serving(), metrics.current_leader),
                    (Some((said, at)), Some(leader)) if said == leader && fresh(at.elapsed())
                );
                let in_touch = in_touch && leader_serving;
                // Start serving only once caught up with what the leader said is
                // committed; then apply may trail commit by a little under load.
                let applied = metrics.last_applied.map(|l| l.index);
                let committed = metrics.local_committed.map(|l| l.index);
                let caught_up = applied >= committed
                    || matches!(*self.role.borrow(), Role::Follower | Role::Observer);
                let voter = metrics
                    .membership_config
                    .membership()
                    .voter_ids()
                    .any(|v| v == self.me);
                if in_touch && caught_up {
                    if !voter || self.observers.contains(&self.me) {
                        Role::Observer
                    } else {
                        Role::Follower
                    }
                } else {
                    Role::NotServing
                }
            }
            _ => Role::NotServing,
        }
    }

    /// Points the address book at the members a reconfig named (their spec's first
    /// quorum address). Nothing is removed: a member that left may be added again, and
    /// a stale entry only costs a refused connection.
    fn learn_addresses(&self, members: &Members) {
        if !members.reconfigured() {
            return;
        }
        for (id, spec) in &members.specs {
            if *id == self.me {
                continue;
            }
            let quorum = crate::config::QuorumServer::parse(*id, spec, true)
                .ok()
                .and_then(|s| s.addresses.first().cloned());
            if let Some(a) = quorum {
                self.addrs.set(
                    *id,
                    crate::config::HostPort::new(a.host, a.quorum_port).to_addr_string(),
                );
            }
        }
    }

    fn add_observers(&self, metrics: &openraft::RaftMetrics<TypeConfig>) {
        let known: BTreeSet<u64> = metrics
            .membership_config
            .membership()
            .nodes()
            .map(|(id, _)| *id)
            .collect();
        for observer in self.observers.iter().filter(|o| !known.contains(o)) {
            let raft = self.raft.clone();
            let observer = *observer;
            tokio::spawn(async move {
                tracing::info!(observer, "adding an observer as a learner");
                if let Err(e) = raft
                    .add_learner(observer, BasicNode::default(), false)
                    .await
                {
                    tracing::warn!(observer, "cannot add the observer: {e}");
                }
            });
        }
    }
}

/// One line per change of leadership as this server sees it: an election won, or the
/// leader it now follows, with the term.
fn log_leadership(me: u64, metrics: &openraft::RaftMetrics<TypeConfig>) {
    let term = metrics.current_term;
    match metrics.current_leader {
        Some(leader) if leader == me => {
            tracing::info!(term, leader, "became leader (election won)");
        }
        Some(leader) => tracing::info!(term, leader, "following leader {leader}"),
        None => tracing::info!(term, "no leader (an election is under way)"),
    }
}

/// The Raft membership: voters, and learners (observers), and the server spec each
/// member's node record carries (empty until a reconfig names it).
#[derive(Debug, PartialEq, Eq)]
struct Members {
    voters: BTreeSet<u64>,
    learners: BTreeSet<u64>,
    specs: BTreeMap<u64, String>,
}

impl Members {
    fn of(metrics: &openraft::RaftMetrics<TypeConfig>) -> Self {
        let membership = metrics.membership_config.membership();
        Members {
            voters: membership.voter_ids().collect(),
            learners: membership.learner_ids().collect(),
            specs: membership
                .nodes()
                .map(|(id, node)| {
                    (
                        *id,
                        reconfig::node_spec(node).unwrap_or_default().to_owned(),
                    )
                })
                .collect(),
        }
    }

    /// Whether a reconfig has set the members (their node records carry specs).
    fn reconfigured(&self) -> bool {
        self.specs.values().any(|spec| !spec.is_empty())
    }

    /// The whole membership the first time, then one line per member added or removed.
    fn log_changes_from(&self, before: Option<&Members>) {
        let Some(before) = before else {
            tracing::info!(voters = ?self.voters, learners = ?self.learners, "membership");
            return;
        };
        let changes = [
            (&self.voters, &before.voters, "voter"),
            (&self.learners, &before.learners, "learner"),
        ];
        for (now, then, kind) in changes {
            for member in now.difference(then) {
                tracing::info!(member, kind, "member joined: {kind} {member} added");
            }
            for member in then.difference(now) {
                tracing::info!(member, kind, "member left: {kind} {member} removed");
            }
        }
    }
}
