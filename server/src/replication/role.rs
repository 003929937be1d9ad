//! What this server is to its clients right now, derived from openraft's metrics and
//! the time it last heard from a leader (followers) or from a quorum (the leader).

/// This server's part in the ensemble, as `srvr` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// One server, no `server.N` lines: always serving once started.
    Standalone,
    Leader,
    Follower,
    Observer,
    /// Not in touch with a leader or a quorum: clients are refused.
    NotServing,
}

impl Role {
    pub fn serving(self) -> bool {
        !matches!(self, Role::NotServing)
    }

    /// The `Mode:` of `srvr`/`stat` and `zk_server_state` of `mntr`.
    pub fn mode(self) -> &'static str {
        match self {
            Role::Standalone => "standalone",
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Observer => "observer",
            Role::NotServing => "not serving",
        }
    }

    pub fn is_leader(self) -> bool {
        matches!(self, Role::Leader | Role::Standalone)
    }
}

/// The leader's view of its followers for `mntr`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowerCounts {
    /// Voting followers and observers replicated to.
    pub learners: usize,
    /// Voting followers that have everything up to the leader's commit index.
    pub synced_followers: usize,
    /// Observers that have everything up to the leader's commit index.
    pub synced_observers: usize,
}
