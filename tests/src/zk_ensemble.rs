//! A real replicated Apache ZooKeeper 3.8 ensemble (Debian's package): n JVMs of
//! `org.apache.zookeeper.server.quorum.QuorumPeerMain` on loopback, for the scenarios that
//! `tests/tests/mesos_election.rs` later runs against ferrokeeper's own ensemble.
//!
//! Every member has its own directory (`zoo.cfg`, `data/myid`, `server.log`) in one temp dir.
//! `zoo.cfg` lists all members as `server.N=127.0.0.1:<quorum>:<election>;127.0.0.1:<client>`
//! (ids 1..=n for members 0..n), with `4lw.commands.whitelist=*` and the admin server off.
//! Ports are picked once, below the kernel's ephemeral range (so that no outgoing connection
//! can sit on a member's port while it is down), and kept across restarts. Every JVM is
//! killed by pid on drop, also when a test panics.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ensemble::{Ensemble, srvr_mode};
use crate::zookeeper::{java_command, missing, try_four_letter};

/// How long the whole ensemble may take to elect a leader and serve.
const START_DEADLINE: Duration = Duration::from_secs(90);
/// How long a restarted member may take to rejoin and serve.
const RESTART_DEADLINE: Duration = Duration::from_secs(60);
/// Start attempts (new ports each) when a port was taken in the meantime.
const ATTEMPTS: usize = 3;
/// Polling interval of `srvr` while JVMs start (there is no event to wait on).
const POLL: Duration = Duration::from_millis(100);

/// JVM properties of every member: a short cap on the leader-election back-off (ZooKeeper's
/// default grows to 60 s while peers are still starting), so start-up and re-election take
/// seconds on a loaded machine.
const PROPS: &[(&str, &str)] = &[("zookeeper.fastleader.maxNotificationInterval", "1000")];

struct Member {
    client: SocketAddr,
    /// Where the leader listens for its learners (followers do not listen there).
    quorum: SocketAddr,
    /// The AdminServer, when `extra_cfg` turns it on (`admin.enableServer=true`).
    admin: Option<SocketAddr>,
    dir: PathBuf,
    child: Option<Child>,
}

/// A running ZooKeeper ensemble; every member is killed on drop.
pub struct RealZooKeeperEnsemble {
    members: Vec<Member>,
    tick: Duration,
    /// JVM system properties beyond `PROPS` (`extra_cfg` keys written `-Dname`).
    jvm_props: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

/// Ports handed out by this process (they are closed again until a JVM binds them).
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// The low end of the kernel's ephemeral port range.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse().ok()))
        .unwrap_or(32768)
}

/// A free loopback port, outside the ephemeral range when there is room below it.
pub fn pick_port() -> u16 {
    let low = ephemeral_low();
    let mut taken = TAKEN.lock().unwrap_or_else(|p| p.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    if low > 12_000 {
        let span = u64::from(low - 11_000);
        for _ in 0..1000 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or_default(),
            );
            let port = 10_000 + (h.finish() % span) as u16;
            if !taken.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
                taken.insert(port);
                return port;
            }
        }
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port();
    taken.insert(port);
    port
}

impl RealZooKeeperEnsemble {
    /// Starts `n` members with `tickTime=tick_ms` (`initLimit=10`, `syncLimit=5`) and
    /// `extra_cfg` appended to every `zoo.cfg` (overriding the defaults); returns once one
    /// member is leader and all others are followers answering `srvr`. With
    /// `admin.enableServer=true` among them, each member's AdminServer gets its own port
    /// on 127.0.0.1 ([`RealZooKeeperEnsemble::admin_addr`]). A key written `-Dname` is a
    /// JVM system property instead (for settings ZooKeeper reads only from properties,
    /// such as `readonlymode.enabled`).
    pub fn start(n: usize, tick_ms: u64, extra_cfg: &[(&str, &str)]) -> RealZooKeeperEnsemble {
        assert!(n >= 1, "an ensemble has at least one member");
        if let Some(why) = missing() {
            panic!("real ZooKeeper unavailable: {why}");
        }
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Self::try_start(n, tick_ms, extra_cfg) {
                Ok(ensemble) => return ensemble,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "the ZooKeeper ensemble did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_start(
        n: usize,
        tick_ms: u64,
        extra_cfg: &[(&str, &str)],
    ) -> Result<RealZooKeeperEnsemble, String> {
        let root = tempfile::Builder::new()
            .prefix("zkensemble")
            .tempdir()
            .expect("temp dir");
        let ports: Vec<[u16; 3]> = (0..n)
            .map(|_| [pick_port(), pick_port(), pick_port()])
            .collect();
        let servers: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, [quorum, election, client])| {
                format!(
                    "server.{}=127.0.0.1:{quorum}:{election};127.0.0.1:{client}",
                    i + 1
                )
            })
            .collect();
        let admin = extra_cfg.contains(&("admin.enableServer", "true"));
        let mut members = Vec::new();
        for (i, [quorum, _, client]) in ports.iter().enumerate() {
            let admin_port = admin.then(pick_port);
            let dir = root.path().join(format!("member{i}"));
            let data = dir.join("data");
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{}\n", i + 1)).expect("myid");
            let mut lines = vec![
                ("tickTime".to_owned(), tick_ms.to_string()),
                ("initLimit".to_owned(), "10".to_owned()),
                ("syncLimit".to_owned(), "5".to_owned()),
                ("dataDir".to_owned(), data.display().to_string()),
                ("maxClientCnxns".to_owned(), "0".to_owned()),
                ("admin.enableServer".to_owned(), "false".to_owned()),
                ("4lw.commands.whitelist".to_owned(), "*".to_owned()),
            ];
            for (key, value) in extra_cfg.iter().filter(|(k, _)| !k.starts_with("-D")) {
                lines.retain(|(k, _)| k != key);
                lines.push(((*key).to_owned(), (*value).to_owned()));
            }
            if let Some(port) = admin_port {
                lines.push(("admin.serverAddress".to_owned(), "127.0.0.1".to_owned()));
                lines.push(("admin.serverPort".to_owned(), port.to_string()));
            }
            let mut text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            for server in &servers {
                text.push_str(server);
                text.push('\n');
            }
            std::fs::write(dir.join("zoo.cfg"), text).expect("write zoo.cfg");
            members.push(Member {
                client: SocketAddr::from(([127, 0, 0, 1], *client)),
                quorum: SocketAddr::from(([127, 0, 0, 1], *quorum)),
                admin: admin_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p))),
                dir,
                child: None,
            });
        }
        let mut ensemble = RealZooKeeperEnsemble {
            members,
            tick: Duration::from_millis(tick_ms),
            jvm_props: extra_cfg
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix("-D")?.to_owned(), (*v).to_owned())))
                .collect(),
            _dir: root,
        };
        // All JVMs at once: start-up time is mostly JVM warm-up, which overlaps.
        for member in 0..n {
            ensemble.spawn(member)?;
        }
        let all: Vec<usize> = (0..n).collect();
        ensemble.wait_serving(&all, START_DEADLINE)?;
        if ensemble.leader().is_none() {
            return Err(format!(
                "no leader once all members served\n{}",
                ensemble.logs()
            ));
        }
        Ok(ensemble)
    }

    fn spawn(&mut self, member: usize) -> Result<(), String> {
        let props: Vec<(&str, &str)> = PROPS
            .iter()
            .copied()
            .chain(self.jvm_props.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .collect();
        let m = &mut self.members[member];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(m.dir.join("server.log"))
            .map_err(|e| format!("server.log: {e}"))?;
        let err = log.try_clone().map_err(|e| format!("log handle: {e}"))?;
        let child = java_command(&props)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(m.dir.join("zoo.cfg"))
            .current_dir(&m.dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("spawn java: {e}"))?;
        m.child = Some(child);
        Ok(())
    }

    /// Waits until every member of `which` answers `srvr` as leader or follower.
    fn wait_serving(&mut self, which: &[usize], limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let single = self.members.len() == 1;
        loop {
            let mut pending = Vec::new();
            for &member in which {
                let m = &mut self.members[member];
                if let Some(child) = m.child.as_mut()
                    && let Ok(Some(status)) = child.try_wait()
                {
                    m.child = None;
                    return Err(format!(
                        "member {member} exited during start-up ({status}); log:\n{}",
                        self.log_tail(member)
                    ));
                }
                let mode = try_four_letter(m.client, "srvr")
                    .and_then(|a| srvr_mode(&a).map(str::to_owned));
                let ok = match mode.as_deref() {
                    Some("leader") | Some("follower") => true,
                    Some("standalone") => single,
                    _ => false,
                };
                if !ok {
                    pending.push(member);
                }
            }
            if pending.is_empty() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "members {pending:?} did not serve within {limit:?}\n{}",
                    self.logs()
                ));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Every member's log tail.
    fn logs(&self) -> String {
        (0..self.members.len())
            .map(|m| format!("--- member {m} ---\n{}", self.log_tail(m)))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The quorum address of `member` (its `server.N` line's first port).
    pub fn quorum_addr(&self, member: usize) -> SocketAddr {
        self.members[member].quorum
    }

    /// The AdminServer of `member`, if the ensemble was started with it.
    pub fn admin_addr(&self, member: usize) -> Option<SocketAddr> {
        self.members[member].admin
    }

    /// The pid of a running member.
    pub fn pid(&self, member: usize) -> Option<u32> {
        self.members[member].child.as_ref().map(Child::id)
    }
}

impl Ensemble for RealZooKeeperEnsemble {
    fn size(&self) -> usize {
        self.members.len()
    }

    fn client_addr(&self, member: usize) -> SocketAddr {
        self.members[member].client
    }

    fn kill9(&mut self, member: usize) {
        let mut child = self.members[member]
            .child
            .take()
            .unwrap_or_else(|| panic!("zookeeper member {member} is not running"));
        let _ = child.kill();
        let _ = child.wait();
    }

    fn restart(&mut self, member: usize) {
        assert!(
            !self.is_running(member),
            "zookeeper member {member} still runs"
        );
        let mut failures = Vec::new();
        // A second attempt covers a port briefly held by something else.
        for _ in 0..2 {
            let result = self
                .spawn(member)
                .and_then(|()| self.wait_serving(&[member], RESTART_DEADLINE));
            match result {
                Ok(()) => return,
                Err(why) => {
                    if let Some(mut child) = self.members[member].child.take() {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    failures.push(why);
                }
            }
        }
        panic!(
            "zookeeper member {member} did not come back:\n{}",
            failures.join("\n---\n")
        );
    }

    fn pid(&self, member: usize) -> Option<u32> {
        RealZooKeeperEnsemble::pid(self, member)
    }

    fn is_running(&self, member: usize) -> bool {
        self.members[member].child.is_some()
    }

    fn leader(&self) -> Option<usize> {
        let single = self.members.len() == 1;
        (0..self.members.len()).find(|&m| {
            self.is_running(m)
                && try_four_letter(self.members[m].client, "srvr").is_some_and(|a| {
                    matches!(srvr_mode(&a), Some("leader"))
                        || (single && matches!(srvr_mode(&a), Some("standalone")))
                })
        })
    }

    fn tick(&self) -> Duration {
        self.tick
    }

    fn name(&self) -> &str {
        "zookeeper"
    }

    fn log_tail(&self, member: usize) -> String {
        let text = std::fs::read_to_string(self.members[member].dir.join("server.log"))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for RealZooKeeperEnsemble {
    fn drop(&mut self) {
        for m in &mut self.members {
            if let Some(mut child) = m.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
