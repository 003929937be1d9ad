//! A replicated ferrokeeper ensemble of real processes on loopback, started from
//! generated `zoo.cfg` + `myid` files exactly as an operator would write them.
//!
//! With [`ClusterOptions::partitionable`], every member reaches every other member's
//! quorum port through its own [`FaultProxy`] (one per ordered pair), so a test can cut
//! any set of members off from the rest; each member's own `server.N` line keeps its
//! real port, the others point at the proxies. Every process is killed by pid on drop.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::ensemble::{Ensemble, srvr_mode};
use crate::proxy::FaultProxy;
use crate::raw::RawClient;

#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub voters: usize,
    pub observers: usize,
    pub tick_ms: u32,
    /// `syncLimit` in ticks.
    pub sync_limit: u32,
    pub snap_count: Option<u32>,
    /// Route peer traffic through fault-injecting proxies.
    pub partitionable: bool,
    /// Extra zoo.cfg lines.
    pub extra: Vec<(String, String)>,
    /// Extra zoo.cfg lines of one member (by index), after `extra` (so they win).
    pub member_extra: Vec<(usize, String, String)>,
    /// Environment variables of one member (by index), e.g. `SERVER_JVMFLAGS`.
    pub member_env: Vec<(usize, String, String)>,
}

impl ClusterOptions {
    pub fn new(voters: usize) -> Self {
        ClusterOptions {
            voters,
            observers: 0,
            tick_ms: 500,
            sync_limit: 5,
            snap_count: None,
            partitionable: false,
            extra: Vec::new(),
            member_extra: Vec::new(),
            member_env: Vec::new(),
        }
    }
}

struct Member {
    id: u64,
    client_port: u16,
    cfg: PathBuf,
    child: Option<Child>,
    log: Arc<crate::Log>,
    env: Vec<(String, String)>,
}

pub struct FerrokeeperEnsemble {
    _dir: tempfile::TempDir,
    members: Vec<Member>,
    /// `(from, to)` member indices → the proxy `from` uses to reach `to`.
    proxies: BTreeMap<(usize, usize), FaultProxy>,
    tick: Duration,
}

/// Distinct free loopback ports, below the kernel's ephemeral range where possible, so
/// that no client socket takes a dead member's port before it restarts.
fn free_ports(n: usize) -> Vec<u16> {
    (0..n).map(|_| crate::zk_ensemble::pick_port()).collect()
}

/// Polls `isro` on `addr` until it answers `want` (a server's mode has no event to
/// await), bounded by `within`.
pub fn wait_isro(addr: SocketAddr, want: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let answer = try_four_letter(addr, "isro");
        if answer.as_deref().map(str::trim) == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "isro did not become {want:?} within {within:?} (last: {answer:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends a four-letter word; `None` if the server does not answer.
pub fn try_four_letter(addr: SocketAddr, word: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// The serving modes a member reports once it is part of a working ensemble.
fn serving_mode(mode: Option<&str>) -> bool {
    matches!(mode, Some("leader" | "follower" | "observer"))
}

impl FerrokeeperEnsemble {
    /// How many of the lines kept from `member`'s log contain `needle`.
    pub fn log_count(&self, member: usize, needle: &str) -> usize {
        self.members[member].log.count(needle)
    }

    /// Starts every member at once and returns when all serve, one of them as leader.
    pub fn start(options: ClusterOptions) -> FerrokeeperEnsemble {
        Self::start_expecting(options, None)
    }

    /// Starts the members and waits until those in `serving` serve (all: `None`).
    pub fn start_expecting(
        options: ClusterOptions,
        serving: Option<&[usize]>,
    ) -> FerrokeeperEnsemble {
        let n = options.voters + options.observers;
        let dir = tempfile::Builder::new()
            .prefix("fk-ensemble")
            .tempdir()
            .expect("temp dir");
        let ports = free_ports(3 * n);
        let client = |i: usize| ports[3 * i];
        let quorum = |i: usize| ports[3 * i + 1];
        let election = |i: usize| ports[3 * i + 2];
        let mut proxies = BTreeMap::new();
        if options.partitionable {
            for from in 0..n {
                for to in (0..n).filter(|to| *to != from) {
                    let target = SocketAddr::from(([127, 0, 0, 1], quorum(to)));
                    proxies.insert((from, to), FaultProxy::start(target));
                }
            }
        }
        let mut members = Vec::new();
        for i in 0..n {
            let id = i as u64 + 1;
            let data = dir.path().join(format!("data{id}"));
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
            let mut text = format!(
                "tickTime={}\ninitLimit=10\nsyncLimit={}\ndataDir={}\nclientPort={}\n\
                 clientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
                options.tick_ms,
                options.sync_limit,
                data.display(),
                client(i)
            );
            if let Some(snap) = options.snap_count {
                text.push_str(&format!("snapCount={snap}\n"));
            }
            for (k, v) in &options.extra {
                text.push_str(&format!("{k}={v}\n"));
            }
            for (_, k, v) in options.member_extra.iter().filter(|(m, _, _)| *m == i) {
                text.push_str(&format!("{k}={v}\n"));
            }
            for j in 0..n {
                let port = match proxies.get(&(i, j)) {
                    Some(proxy) => proxy.addr().port(),
                    None => quorum(j),
                };
                let kind = if j >= options.voters { ":observer" } else { "" };
                text.push_str(&format!(
                    "server.{}=127.0.0.1:{port}:{}{kind}\n",
                    j + 1,
                    election(j)
                ));
            }
            let cfg = dir.path().join(format!("zoo{id}.cfg"));
            std::fs::write(&cfg, text).expect("write zoo.cfg");
            members.push(Member {
                id,
                client_port: client(i),
                cfg,
                child: None,
                log: Arc::new(crate::Log::default()),
                env: options
                    .member_env
                    .iter()
                    .filter(|(m, _, _)| *m == i)
                    .map(|(_, k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
        let mut ensemble = FerrokeeperEnsemble {
            _dir: dir,
            members,
            proxies,
            tick: Duration::from_millis(u64::from(options.tick_ms)),
        };
        for i in 0..n {
            ensemble.spawn(i);
        }
        match serving {
            None => ensemble.wait_all_serving(Duration::from_secs(60)),
            Some(members) => {
                for member in members {
                    ensemble.wait_serving(*member, Duration::from_secs(60));
                }
            }
        }
        ensemble
    }

    /// A create through member `from` is read back, after a sync, through member `to`.
    pub fn assert_replicates(&self, from: usize, to: usize, path: &str) {
        let (mut writer, _) =
            RawClient::connect(self.client_addr(from), 30_000, None).expect("connect");
        let created = writer
            .call(ferrokeeper_protocol::Request::Create(
                ferrokeeper_protocol::CreateRequest {
                    path: path.into(),
                    data: Some(bytes::Bytes::from_static(b"over tls")),
                    acl: vec![ferrokeeper_protocol::Acl {
                        perms: ferrokeeper_protocol::perms::ALL,
                        id: ferrokeeper_protocol::Id {
                            scheme: "world".into(),
                            id: "anyone".into(),
                        },
                    }],
                    flags: 0,
                },
            ))
            .expect("create");
        assert_eq!(created.last().map(|f| f.header.err), Some(0), "{created:?}");
        let (mut reader, _) =
            RawClient::connect(self.client_addr(to), 30_000, None).expect("connect");
        // sync, then read: the reader's server has applied the write.
        reader
            .call(ferrokeeper_protocol::Request::Sync(
                ferrokeeper_protocol::SyncRequest { path: path.into() },
            ))
            .expect("sync");
        let got = reader
            .call(ferrokeeper_protocol::Request::GetData(
                ferrokeeper_protocol::GetDataRequest {
                    path: path.into(),
                    watch: false,
                },
            ))
            .expect("get");
        assert_eq!(got.last().map(|f| f.header.err), Some(0), "{got:?}");
    }

    /// Member `outsider` is kept out of the ensemble: another member logs `refusal`
    /// (bounded wait), and `outsider` is neither leader nor follower.
    pub fn assert_kept_out(&self, outsider: usize, refusal: &str) {
        let within = Duration::from_secs(30);
        let refused = (0..self.members.len())
            .filter(|m| *m != outsider)
            .any(|m| self.log(m).wait_for_more(refusal, 0, within));
        assert!(refused, "no member logged {refusal:?}");
        let mode = self.mode(outsider);
        assert!(
            !matches!(mode.as_deref(), Some("leader" | "follower")),
            "server.{} joined (mode {mode:?})",
            outsider + 1
        );
    }

    /// A member's log as it grows.
    pub fn log(&self, member: usize) -> &crate::Log {
        &self.members[member].log
    }

    fn spawn(&mut self, i: usize) {
        let member = &mut self.members[i];
        let mut child = crate::ferrokeeper_command()
            .envs(member.env.iter().map(|(k, v)| (k, v)))
            .arg(&member.cfg)
            .spawn()
            .expect("spawn ferrokeeper");
        let stderr = child.stderr.take().expect("stderr");
        let log = member.log.clone();
        let id = member.id;
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if std::env::var_os("FERROKEEPER_TEST_LOG").is_some() {
                    eprintln!("[server.{id}] {line}");
                }
                log.push(line);
            }
        });
        member.child = Some(child);
    }

    pub fn mode(&self, member: usize) -> Option<String> {
        let answer = try_four_letter(self.client_addr(member), "srvr")?;
        if answer.contains("not currently serving") {
            return Some("not serving".into());
        }
        srvr_mode(&answer).map(str::to_owned)
    }

    /// Waits until `member` serves clients (as leader, follower or observer).
    pub fn wait_serving(&self, member: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if serving_mode(self.mode(member).as_deref()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server.{} does not serve within {within:?} (mode {:?}); log:\n{}",
                member + 1,
                self.mode(member),
                self.log_tail(member)
            );
            // No event to wait on from outside the process: poll srvr.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until every running member serves and exactly one leads.
    pub fn wait_all_serving(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let modes: Vec<Option<String>> = (0..self.size())
                .map(|m| self.is_running(m).then(|| self.mode(m)).flatten())
                .collect();
            let running_ok = (0..self.size())
                .filter(|m| self.is_running(*m))
                .all(|m| serving_mode(modes[m].as_deref()));
            let leaders = modes
                .iter()
                .filter(|m| m.as_deref() == Some("leader"))
                .count();
            if running_ok && leaders == 1 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the ensemble did not settle within {within:?}: modes {modes:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until some member reports `leader`; returns it.
    pub fn wait_leader(&self, within: Duration) -> usize {
        let deadline = Instant::now() + within;
        loop {
            if let Some(leader) = self.leader() {
                return leader;
            }
            assert!(Instant::now() < deadline, "no leader within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Black-holes all quorum traffic between `side` and every other member.
    pub fn partition(&self, side: &[usize]) {
        assert!(!self.proxies.is_empty(), "start with partitionable = true");
        for ((from, to), proxy) in &self.proxies {
            if side.contains(from) != side.contains(to) {
                proxy.blackhole();
            }
        }
    }

    /// Restores every quorum link.
    pub fn heal(&self) {
        for proxy in self.proxies.values() {
            proxy.heal();
        }
    }

    /// Waits (bounded) for `member`'s process to exit by itself; panics with its log
    /// if it still runs after `within`.
    pub fn wait_exit(&mut self, member: usize, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        let m = &mut self.members[member];
        let Some(child) = m.child.as_mut() else {
            panic!("server.{} is not running", m.id);
        };
        loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                m.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server.{} still runs after {within:?}:\n{}",
                m.id,
                m.log.tail(30)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sets an environment variable for `member`'s next start.
    pub fn set_env(&mut self, member: usize, key: &str, value: &str) {
        let env = &mut self.members[member].env;
        env.retain(|(k, _)| k != key);
        env.push((key.to_owned(), value.to_owned()));
    }

    /// Starts a stopped `member` again without waiting for it to serve (a server that
    /// is not a member yet, say, which serves only once a reconfig adds it).
    pub fn start_member(&mut self, member: usize) {
        self.kill9_member(member);
        self.spawn(member);
    }

    fn kill9_member(&mut self, member: usize) {
        if let Some(mut child) = self.members[member].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `member`'s data directory (beside its zoo.cfg, `data<id>`).
    pub fn data_dir(&self, member: usize) -> std::path::PathBuf {
        let m = &self.members[member];
        m.cfg
            .parent()
            .map(|dir| dir.join(format!("data{}", m.id)))
            .unwrap_or_default()
    }

    /// The zoo.cfg `member` runs from (a reconfig rewrites it, as ZooKeeper does).
    pub fn config_path(&self, member: usize) -> std::path::PathBuf {
        self.members[member].cfg.clone()
    }

    pub fn pid(&self, member: usize) -> Option<u32> {
        self.members[member].child.as_ref().map(Child::id)
    }

    /// SIGTERM, waiting (bounded) for the exit.
    pub fn terminate(&mut self, member: usize) {
        if let Some(mut child) = self.members[member].child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Ensemble for FerrokeeperEnsemble {
    fn size(&self) -> usize {
        self.members.len()
    }

    fn client_addr(&self, member: usize) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.members[member].client_port))
    }

    fn kill9(&mut self, member: usize) {
        if let Some(mut child) = self.members[member].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn restart(&mut self, member: usize) {
        self.kill9(member);
        self.spawn(member);
        self.wait_serving(member, Duration::from_secs(60));
    }

    fn pid(&self, member: usize) -> Option<u32> {
        FerrokeeperEnsemble::pid(self, member)
    }

    fn is_running(&self, member: usize) -> bool {
        self.members[member].child.is_some()
    }

    fn leader(&self) -> Option<usize> {
        (0..self.size())
            .filter(|m| self.is_running(*m))
            .find(|m| self.mode(*m).as_deref() == Some("leader"))
    }

    fn tick(&self) -> Duration {
        self.tick
    }

    fn name(&self) -> &str {
        "ferrokeeper"
    }

    fn log_tail(&self, member: usize) -> String {
        self.members[member].log.tail(60)
    }
}

impl Drop for FerrokeeperEnsemble {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
