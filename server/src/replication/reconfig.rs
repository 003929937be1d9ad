//! Dynamic reconfiguration (ZooKeeper's `reconfig`, opcode 16) on openraft's
//! membership changes. The leader decides, as ZooKeeper's leader does in its
//! `PrepRequestProcessor`: the new membership is computed from the request
//! (incremental `joining`/`leaving`, or the whole `newMembers`), checked (version,
//! syntax, voter count, ACL, a synced quorum), then made real with one joint-consensus
//! change (new voters are first added as learners and caught up; observers are
//! learners). The outcome becomes a log entry proposed with the client's origin, so the
//! server holding the client's connection answers it at apply time, like any write:
//! `Txn::SetConfig` (the new `/zookeeper/config`, versioned by its own zxid) or an
//! error txn (`WriteOp::Fail`), which takes a zxid as ZooKeeper's error txns do.
//!
//! Every member's server spec (`host:quorumPort:electionPort:type[;client]`) rides in
//! its Raft node record once a reconfig has named it, so every server can reach a
//! member added later and render the configuration; until then a member's spec is the
//! one of this server's `server.N` line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ferrokeeper_protocol::{ErrorCode, Id, perms};
use openraft::async_runtime::WatchReceiver;
use openraft::{BasicNode, ChangeMembers};
use serde::{Deserialize, Serialize};

use super::PeerHooks;
use super::address_book::AddressBook;
use super::types::Raft;
use crate::config::{PeerType, QuorumServer};
use crate::proposal::Proposal;
use crate::state::txn::{Txn, WriteOp};
use crate::tree::acl;

/// A client's reconfig, as the leader runs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconfigCall {
    /// The client's origin (for the reply); its entry is replaced by the outcome.
    pub proposal: Proposal,
    pub joining: Option<String>,
    pub leaving: Option<String>,
    pub new_members: Option<String>,
    /// `-1`, or the configuration version the client expects to change.
    pub from_config: i64,
    pub session_id: i64,
    /// The session's authenticated ids (ACL check on `/zookeeper/config`).
    pub auth: Vec<Id>,
}

/// Settings a reconfig is checked against.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReconfigRules {
    /// `standaloneEnabled` (ZooKeeper's default true): then a configuration needs at
    /// least two voters.
    pub standalone_enabled: bool,
    /// `zookeeper.multiAddress.enabled`: `|`-joined addresses in server specs.
    pub multi_address: bool,
}

pub(super) struct Reconfigurer {
    pub me: u64,
    pub raft: Raft,
    pub hooks: Arc<dyn PeerHooks>,
    pub addrs: AddressBook,
    /// Members' specs from this server's `server.N` lines.
    pub specs: BTreeMap<u64, String>,
    pub rules: ReconfigRules,
    /// How long a new voter may take to catch up, and the change to commit.
    pub patience: Duration,
    /// A follower heard from within this is synced (`syncLimit` ticks).
    pub sync_limit: Duration,
    /// One reconfig at a time (ZooKeeper: ReconfigInProgress).
    pub busy: tokio::sync::Mutex<()>,
}

impl Reconfigurer {
    /// Runs `call` on the leader and proposes its outcome; returns once proposed.
    pub async fn run(&self, call: ReconfigCall) -> Result<(), String> {
        let outcome = match self.busy.try_lock() {
            Ok(_guard) => self.decide(&call).await,
            Err(_) => Err(ErrorCode::ReconfigInProgress),
        };
        let txn = match outcome {
            Ok(members) => {
                tracing::info!(%members, "reconfig committed");
                Txn::SetConfig { members }
            }
            Err(code) => {
                tracing::info!(?code, "reconfig refused");
                Txn::Write {
                    session_id: call.session_id,
                    auth: call.auth.clone(),
                    op: WriteOp::Fail { code: code.code() },
                }
            }
        };
        let mut proposal = call.proposal;
        proposal.entry.txn = txn;
        proposal.entry.time_ms = crate::core::now_ms();
        crate::metrics::count(|m| &m.proposal_count);
        self.raft
            .client_write_ff(proposal, None)
            .await
            .map_err(|e| e.to_string())
    }

    async fn decide(&self, call: &ReconfigCall) -> Result<String, ErrorCode> {
        let (version, config_acl) = self.hooks.config_state();
        if call.from_config != -1 && call.from_config != version {
            return Err(ErrorCode::BadVersion);
        }
        let metrics = self.raft.metrics().borrow_watched().clone();
        let membership = metrics.membership_config.membership();
        if membership.get_joint_config().len() > 1 {
            return Err(ErrorCode::ReconfigInProgress);
        }
        let voters_now: BTreeSet<u64> = membership.voter_ids().collect();
        let mut current = BTreeMap::new();
        for (id, node) in membership.nodes() {
            let spec = match node_spec(node) {
                Some(spec) => spec.to_owned(),
                None => self.specs.get(id).cloned().unwrap_or_default(),
            };
            let mut server = QuorumServer::parse(*id, &spec, true).map_err(|e| {
                tracing::warn!(member = id, %spec, "reconfig: a member's spec does not parse: {e}");
                ErrorCode::BadArguments
            })?;
            server.peer_type = if voters_now.contains(id) {
                PeerType::Participant
            } else {
                PeerType::Observer
            };
            current.insert(*id, server);
        }
        let next = next_members(call, current, self.rules.multi_address).inspect_err(|_| {
            tracing::info!(?call.joining, ?call.leaving, ?call.new_members, "reconfig: malformed request");
        })?;
        let voters: BTreeSet<u64> = next
            .values()
            .filter(|s| s.peer_type == PeerType::Participant)
            .map(|s| s.id)
            .collect();
        if voters.is_empty() || (self.rules.standalone_enabled && voters.len() < 2) {
            tracing::info!(?voters, "reconfig: too few voters in the new configuration");
            return Err(ErrorCode::BadArguments);
        }
        // Before anything changes (ZooKeeper checks it last, after the quorum, but it
        // changes nothing before either).
        acl::require(&config_acl, perms::WRITE, &call.auth)?;

        let known: BTreeSet<u64> = membership.nodes().map(|(id, _)| *id).collect();
        for server in next.values().filter(|s| !known.contains(&s.id)) {
            if let Some(a) = server.addresses.first()
                && server.id != self.me
            {
                self.addrs.set(
                    server.id,
                    crate::config::HostPort::new(a.host.clone(), a.quorum_port).to_addr_string(),
                );
            }
        }
        // New voters join as learners first and must catch up (ZooKeeper: a new
        // configuration needs a connected and synced quorum).
        for server in next
            .values()
            .filter(|s| s.peer_type == PeerType::Participant && !known.contains(&s.id))
        {
            let node = BasicNode::new(server.to_string());
            let added =
                tokio::time::timeout(self.patience, self.raft.add_learner(server.id, node, true))
                    .await;
            if !matches!(added, Ok(Ok(_))) {
                tracing::warn!(member = server.id, "a new voter did not catch up");
                return Err(ErrorCode::NewConfigNoQuorum);
            }
        }
        if !self.quorum_synced(&voters) {
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        let nodes: BTreeMap<u64, BasicNode> = next
            .values()
            .map(|s| (s.id, BasicNode::new(s.to_string())))
            .collect();
        let gone: BTreeSet<u64> = known
            .difference(&next.keys().copied().collect())
            .copied()
            .collect();
        // One joint change sets the voters (new voters were added above) and every
        // member's spec; voters that leave stay learners until it commits, then go.
        let changes = ChangeMembers::Batch(vec![
            ChangeMembers::SetNodes(nodes),
            ChangeMembers::ReplaceAllVoters(voters),
        ]);
        self.change(changes).await?;
        if !gone.is_empty() {
            self.change(ChangeMembers::RemoveNodes(gone)).await?;
        }
        Ok(next
            .values()
            .map(|s| format!("server.{}={s}", s.id))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// One membership change, committed within the patience.
    async fn change(&self, changes: ChangeMembers<u64, BasicNode>) -> Result<(), ErrorCode> {
        let changed = tokio::time::timeout(
            self.patience * 2,
            self.raft.change_membership(changes, true),
        )
        .await;
        match changed {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!("reconfig: membership change failed: {e}");
                Err(ErrorCode::NewConfigNoQuorum)
            }
            Err(_) => {
                tracing::warn!("reconfig: the membership change did not commit in time");
                Err(ErrorCode::NewConfigNoQuorum)
            }
        }
    }

    /// Whether a majority of `voters` is connected and synced (ZooKeeper's
    /// `isQuorumSynced`): this leader, and followers that acknowledged its replication
    /// within the sync limit.
    fn quorum_synced(&self, voters: &BTreeSet<u64>) -> bool {
        use openraft::Instant as _;
        let metrics = self.raft.metrics().borrow_watched().clone();
        let fresh = |id: u64| {
            metrics
                .heartbeat
                .as_ref()
                .and_then(|h| h.get(&id).copied().flatten())
                .is_some_and(|at| at.into_inner().elapsed() < self.sync_limit)
        };
        let synced = voters
            .iter()
            .filter(|id| **id == self.me || fresh(**id))
            .count();
        synced * 2 > voters.len()
    }
}

/// The membership a reconfig asks for, from the current one (`PrepRequestProcessor`'s
/// rules): `newMembers` replaces everything; otherwise `leaving` ids go and `joining`
/// servers are added or replaced. A server string ZooKeeper would not parse, or a
/// joiner without its three ports (quorum, election, client), is BadArguments.
pub fn next_members(
    call: &ReconfigCall,
    current: BTreeMap<u64, QuorumServer>,
    multi_address: bool,
) -> Result<BTreeMap<u64, QuorumServer>, ErrorCode> {
    let bad = |_| ErrorCode::BadArguments;
    if let Some(members) = &call.new_members {
        // Commas or newlines, as ZooKeeper reads it.
        let mut next = BTreeMap::new();
        for line in members
            .split([',', '\n'])
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let server = server_line(line, multi_address)?;
            next.insert(server.id, server);
        }
        return Ok(next);
    }
    let mut next = current;
    if let Some(leaving) = &call.leaving {
        for id in leaving.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            next.remove(&id.parse::<u64>().map_err(bad)?);
        }
    }
    if let Some(joining) = &call.joining {
        for line in joining.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let server = server_line(line, multi_address)?;
            if server.client.is_none() {
                return Err(ErrorCode::BadArguments);
            }
            next.insert(server.id, server);
        }
    }
    Ok(next)
}

/// The server spec a member's node record carries, if a reconfig put one there (a
/// member initialised without one has openraft's default node, `localhost`).
pub(super) fn node_spec(node: &BasicNode) -> Option<&str> {
    node.addr.contains(':').then_some(node.addr.as_str())
}

/// `server.<id>=<spec>`.
fn server_line(line: &str, multi_address: bool) -> Result<QuorumServer, ErrorCode> {
    let (key, value) = line.split_once('=').ok_or(ErrorCode::BadArguments)?;
    let id = key
        .trim()
        .strip_prefix("server.")
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or(ErrorCode::BadArguments)?;
    QuorumServer::parse(id, value, multi_address).map_err(|_| ErrorCode::BadArguments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proposal::Proposal;
    use crate::state::txn::Entry;

    fn call(joining: Option<&str>, leaving: Option<&str>, new: Option<&str>) -> ReconfigCall {
        ReconfigCall {
            proposal: Proposal {
                reply_to: None,
                ticket: None,
                entry: Entry {
                    time_ms: 0,
                    txn: Txn::CloseSession { session_id: 0 },
                },
            },
            joining: joining.map(str::to_owned),
            leaving: leaving.map(str::to_owned),
            new_members: new.map(str::to_owned),
            from_config: -1,
            session_id: 1,
            auth: vec![],
        }
    }

    fn three() -> BTreeMap<u64, QuorumServer> {
        (1..=3)
            .map(|id| {
                let spec = format!(
                    "127.0.0.1:{}:{}:participant;127.0.0.1:{}",
                    2880 + id,
                    3880 + id,
                    2180 + id
                );
                (id, QuorumServer::parse(id, &spec, false).expect("spec"))
            })
            .collect()
    }

    fn render(members: &BTreeMap<u64, QuorumServer>) -> Vec<String> {
        members
            .values()
            .map(|s| format!("server.{}={s}", s.id))
            .collect()
    }

    #[test]
    fn incremental_changes_leave_and_join() {
        let joining = "server.100=0.0.0.0:1234:2345:observer;0.0.0.0:3456";
        let next = next_members(&call(Some(joining), Some("2"), None), three(), false).expect("ok");
        assert_eq!(
            render(&next),
            [
                "server.1=127.0.0.1:2881:3881:participant;127.0.0.1:2181",
                "server.3=127.0.0.1:2883:3883:participant;127.0.0.1:2183",
                joining,
            ]
        );
    }

    #[test]
    fn new_members_replace_everything() {
        let new = "server.1=127.0.0.1:2881:3881:participant;2181,server.4=h:1:2;3";
        let next = next_members(&call(None, None, Some(new)), three(), false).expect("ok");
        assert_eq!(
            render(&next),
            [
                "server.1=127.0.0.1:2881:3881:participant;0.0.0.0:2181",
                "server.4=h:1:2:participant;0.0.0.0:3",
            ]
        );
    }

    #[test]
    fn malformed_servers_are_bad_arguments() {
        for (joining, leaving) in [
            (Some("some thing"), None),
            (Some("server.5=h:1:2"), None),
            (Some("server.x=h:1:2;3"), None),
            (None, Some("two")),
        ] {
            assert_eq!(
                next_members(&call(joining, leaving, None), three(), false).err(),
                Some(ErrorCode::BadArguments),
                "{joining:?} {leaving:?}"
            );
        }
    }
}
