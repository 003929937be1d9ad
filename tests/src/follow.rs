//! Shared pieces of the tests where ferrokeeper follows a real ZooKeeper ensemble
//! (`ferrokeeper.follow=zookeeper`): its zoo.cfg, its `srvr` mode, and polling with a
//! deadline.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::ensemble::Ensemble;
use crate::zk_ensemble::{RealZooKeeperEnsemble, pick_port};

/// Polls `done` every 20 ms until it holds; panics naming `what` after `limit`.
pub fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The `Mode:` of a server's `srvr`; `None` when it does not answer or serves nothing.
pub fn srvr_mode(addr: SocketAddr) -> Option<String> {
    crate::zookeeper::try_four_letter(addr, "srvr")?
        .lines()
        .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
}

/// Writes `dir/zoo.cfg` and `dir/myid` for ferrokeeper server `id`, following `zk` as
/// one of `observers` (ids and `server.N` values, `…:observer`), on `client_port`;
/// with `together`, `ferrokeeper.ensemble` names every observer. Returns its path.
pub fn follower_cfg(
    zk: &RealZooKeeperEnsemble,
    dir: &Path,
    id: u64,
    observers: &[(u64, String)],
    together: bool,
    client_port: u16,
) -> String {
    std::fs::write(dir.join("myid"), format!("{id}\n")).expect("myid");
    let mut cfg = format!(
        "tickTime={}\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={client_port}\n\
         clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\npeerType=observer\n\
         ferrokeeper.follow=zookeeper\nmaxSessionTimeout=40000\n",
        zk.tick().as_millis(),
        dir.display()
    );
    if together {
        let ids: Vec<String> = observers.iter().map(|(i, _)| i.to_string()).collect();
        cfg.push_str(&format!("ferrokeeper.ensemble={}\n", ids.join(",")));
    }
    for m in 0..zk.size() {
        let q = zk.quorum_addr(m);
        cfg.push_str(&format!(
            "server.{}={}:{}:{}\n",
            m + 1,
            q.ip(),
            q.port(),
            pick_port()
        ));
    }
    for (i, line) in observers {
        cfg.push_str(&format!("server.{i}={line}\n"));
    }
    let path = dir.join("zoo.cfg");
    std::fs::write(&path, cfg).expect("zoo.cfg");
    path.to_str().expect("utf-8 path").to_owned()
}

/// `n` observer lines for ZooKeeper's configuration, ids `first..`, on fresh ports.
pub fn observer_lines(first: u64, n: u64) -> Vec<(u64, String)> {
    (first..first + n)
        .map(|i| {
            (
                i,
                format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port()),
            )
        })
        .collect()
}
