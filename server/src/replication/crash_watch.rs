//! Noticing at once that the leader's process is gone, as a ZooKeeper follower does
//! through its closed leader connection.
//!
//! Raft alone notices only silence: a follower waits its election timeout, and its
//! first vote is refused by the other followers' leader lease (they heard the leader
//! moments before), so a kill -9 of the leader cost about two election timeouts.
//! Here, when a connection that carried the leader's AppendEntries ends, the follower
//! checks the leader's quorum port. A refused connection means no process listens
//! there (the leader's kernel, still up, answers for it): the leader is gone, not slow
//! and not cut off. Then the first follower in id order starts an election at once
//! (the next one a little later, should that fail), and a voter that finds its
//! leader's port refusing grants the vote despite its lease.
//!
//! The lease is there so that a member that was merely cut off cannot depose a leader
//! that still has its quorum; a leader whose port refuses connections has no process
//! left to lead, and nothing else depends on the lease (`sync` confirms the leader
//! with a quorum, openraft's ReadIndex). Silence (a partition, a paused process, a
//! host that died with its kernel) is still left to the election timeout and the lease.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;

use super::address_book::AddressBook;
use super::contact::Contact;
use super::types::Raft;

/// How long a probe of the leader's quorum port may take. Only a refusal counts, and a
/// dead process's kernel refuses at once; a slower answer is left to Raft's timers.
const PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// A process being killed closes its descriptors one by one: its connections may
/// close before its listening socket, whose backlog still takes a connect meanwhile.
/// So a probe that connects is tried again, this many times, this far apart.
const PROBES: u32 = 4;
const PROBE_SPACING: Duration = Duration::from_millis(25);

pub struct CrashWatch {
    me: u64,
    raft: Raft,
    addrs: AddressBook,
    contact: Arc<Contact>,
    /// openraft's heartbeat interval: the spacing of the followers' elections.
    heartbeat: Duration,
    /// How long a leader lease lasts (the longest election timeout): a vote from a
    /// follower that heard the leader longer ago than this is not refused anyway.
    lease: Duration,
    /// The leader found gone, with its term.
    gone: Mutex<Option<(u64, u64)>>,
    /// The (leader, term) whose loss this server already acted on: each of the
    /// leader's connections ends, and one election is all it takes.
    acted_on: Mutex<Option<(u64, u64)>>,
}

impl CrashWatch {
    pub fn new(
        me: u64,
        raft: Raft,
        addrs: AddressBook,
        contact: Arc<Contact>,
        config: &openraft::Config,
    ) -> CrashWatch {
        CrashWatch {
            me,
            raft,
            addrs,
            contact,
            heartbeat: Duration::from_millis(config.heartbeat_interval),
            lease: Duration::from_millis(config.election_timeout_max),
            gone: Mutex::new(None),
            acted_on: Mutex::new(None),
        }
    }

    /// A connection from `from` that carried the leader's AppendEntries has ended.
    pub fn leader_stream_ended(self: &Arc<Self>, from: u64) {
        let watch = self.clone();
        tokio::spawn(async move { watch.check(from).await });
    }

    async fn check(&self, from: u64) {
        let (term, leader, voters) = self.view();
        if leader != Some(from) || from == self.me || !self.process_gone(from, term).await {
            return;
        }
        {
            let mut acted_on = lock(&self.acted_on);
            if *acted_on == Some((from, term)) {
                return;
            }
            *acted_on = Some((from, term));
        }
        let candidates: Vec<u64> = voters.into_iter().filter(|v| *v != from).collect();
        let Some(rank) = candidates.iter().position(|v| *v == self.me) else {
            // An observer does not vote.
            return;
        };
        tracing::info!(
            leader = from,
            term,
            "the leader's quorum port refuses connections: its process is gone; electing \
             a new leader without waiting for the election timeout"
        );
        // One candidate at a time, lowest id first, so their votes do not split.
        let turn = u32::try_from(rank).unwrap_or(u32::MAX);
        tokio::time::sleep(self.heartbeat * 3 * turn).await;
        let (now_term, now_leader, _) = self.view();
        if now_term != term || now_leader != Some(from) {
            // An election is under way or over.
            return;
        }
        if let Err(e) = self.raft.trigger().elect(false).await {
            tracing::warn!("cannot start an election: {e}");
        }
    }

    /// Whether a vote request from `candidate` may pass this server's leader lease:
    /// the leader it follows is known gone (probed now if need be).
    pub async fn lease_void_for(&self, candidate: u64) -> bool {
        let (term, leader, _) = self.view();
        let Some(leader) = leader else { return false };
        if leader == self.me || leader == candidate {
            return false;
        }
        if *lock(&self.gone) == Some((leader, term)) {
            return true;
        }
        // A lease that ran out refuses nothing: no probe needed.
        let heard_lately = self
            .contact
            .last()
            .is_some_and(|(from, at)| from == leader && at.elapsed() < self.lease);
        heard_lately && self.process_gone(leader, term).await
    }

    /// Whether `leader`'s quorum port refuses connections; remembered with `term`.
    async fn process_gone(&self, leader: u64, term: u64) -> bool {
        let Some(addr) = self.addrs.get(leader) else {
            return false;
        };
        let mut refused = false;
        for probe in 0..PROBES {
            if probe > 0 {
                tokio::time::sleep(PROBE_SPACING).await;
            }
            match tokio::time::timeout(PROBE_TIMEOUT, self.connect(&addr.addr)).await {
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    refused = true;
                    break;
                }
                // Another error, or no answer in time: not a dead process on a live host.
                Ok(Err(_)) | Err(_) => break,
                Ok(Ok(())) => {}
            }
        }
        if refused {
            *lock(&self.gone) = Some((leader, term));
        }
        refused
    }

    /// Opens (and drops at once) a connection to `addr`: plain TCP, or the simulated
    /// network's.
    async fn connect(&self, addr: &str) -> std::io::Result<()> {
        if let Some(sim) = crate::simulation::current() {
            return sim.network.connect(self.me, addr).await.map(drop);
        }
        tokio::net::TcpStream::connect(addr).await.map(drop)
    }

    fn view(&self) -> (u64, Option<u64>, Vec<u64>) {
        let metrics = self.raft.metrics();
        let metrics = metrics.borrow_watched();
        let voters = metrics.membership_config.membership().voter_ids().collect();
        (metrics.current_term, metrics.current_leader, voters)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A plain value: a poisoned lock still holds a valid one.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
