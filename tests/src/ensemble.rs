//! What a multi-server test needs from a replicated ensemble, whatever the server: Apache
//! ZooKeeper ([`crate::zk_ensemble::RealZooKeeperEnsemble`]) or ferrokeeper's own. Scenario
//! code (e.g. `tests/tests/mesos_election.rs`) is written against this trait only.
//!
//! Members are numbered from 0. Every address is fixed for the ensemble's life: a member that
//! is killed and restarted serves on the same client port again (clients keep one connect
//! string, as in production).

use std::net::SocketAddr;
use std::time::Duration;

pub trait Ensemble {
    /// Number of members (running or not).
    fn size(&self) -> usize;

    /// The client port of `member`; the same before and after a restart.
    fn client_addr(&self, member: usize) -> SocketAddr;

    /// Every member's client address, comma-separated (`127.0.0.1:p1,127.0.0.1:p2,...`),
    /// no chroot.
    fn connect_string(&self) -> String {
        (0..self.size())
            .map(|m| self.client_addr(m).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILL `member`: no shutdown code runs, its connections drop, its data stays.
    fn kill9(&mut self, member: usize);

    /// Starts a killed `member` again on the same ports and the same data; returns once it
    /// is back in the ensemble and serves clients (panics with its log if it does not).
    fn restart(&mut self, member: usize);

    /// Whether `member`'s process runs.
    fn is_running(&self, member: usize) -> bool;

    /// `member`'s process id while it runs (for SIGSTOP/SIGCONT).
    fn pid(&self, member: usize) -> Option<u32>;

    /// The member that `srvr` reports as `Mode: leader`, if any (a one-member ensemble
    /// reports `standalone`, which counts as leader).
    fn leader(&self) -> Option<usize>;

    /// The server's tick: the granularity of its session expiry, which test bounds derive
    /// from (ZooKeeper's `tickTime`).
    fn tick(&self) -> Duration;

    /// "zookeeper" or "ferrokeeper", for messages.
    fn name(&self) -> &str;

    /// The end of `member`'s log, for failure messages.
    fn log_tail(&self, member: usize) -> String;
}

/// The `Mode:` line of a `srvr` answer (`leader`, `follower`, `standalone`, ...).
pub fn srvr_mode(answer: &str) -> Option<&str> {
    answer
        .lines()
        .find_map(|line| line.strip_prefix("Mode: "))
        .map(str::trim)
}
