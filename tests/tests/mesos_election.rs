//! The Mesos election acceptance test (issue 6): Apache Mesos's leader election, as Mesos's
//! own ZooKeeper code does it, on a replicated 3-server ensemble, through the scenarios of
//! `/work/shared/reference/mesos-zk.md` §3, each observer held to Mesos's bounds.
//!
//! No real Mesos can run here (mesos-zk.md §5), so `tests/clients/c/mesos_sim.c` re-implements
//! Mesos's `Group` + `LeaderContender` + `LeaderDetector` + master/agent reactions with the
//! ZooKeeper C client Mesos links. One process is one actor: a master (two sessions, contender
//! and detector), an agent or a scheduler (one detector session). Each actor prints a line per
//! event; the test reads them as they come (their arrival time is the measurement).
//!
//! The scenarios run against the [`Ensemble`] trait: one `#[test]` runs them on a real 3-server
//! ZooKeeper 3.8 ensemble (which proves the test), one on a 3-server ferrokeeper ensemble.
//!
//! Scenarios, in order on one ensemble: 1 initial election; 2 graceful leader exit; 3 hard
//! leader kill; 4 the old masters rejoin as followers; 5 leader session expiry; 6 agent session
//! expiry; 7 leader network cut; 8 an ensemble server killed under the clients (the busiest
//! follower, then the leader); 8c watches re-armed on reconnection (SetWatches); 9 digest auth
//! and ACLs. Not covered: §3.10 (replicated-log groups) and a quorum loss longer than T (with
//! several masters Mesos's outcome there depends on which lingering old node expires first).
//!
//! Timing. Actors request the session timeout T (Mesos's default, 10 s; override with
//! `MESOS_ACCEPT_SESSION_MS`) from a 3-server ensemble with `tickTime` 1 s. Every
//! bound derives from T, the tick and Mesos's test bound of 15 s (`TEST_AWAIT_TIMEOUT`):
//! hard-kill failover T + 2·tick + 15 s, a silently cut leader exits within 5/3·T + 15 s,
//! clients of a killed ensemble server reconnect within T and nothing changes for T + 5 s.
//!
//! Every master's two sessions go through its own [`FaultProxy`] per ensemble member, so any
//! master can be cut from the network (scenario 7). Agents and the scheduler connect directly.
//!
//! `MESOS_ACCEPT_VERBOSE=1` prints every actor line as it arrives (otherwise only elections,
//! detections and exits).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::process::{compile_c_client, run};
use ferrokeeper_tests::proxy::FaultProxy;
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;
use sha1::Digest;

/// Mesos's `TEST_AWAIT_TIMEOUT`: the bound of every "observer reports X" step.
const AWAIT: Duration = Duration::from_secs(15);
/// ZooKeeper's `tickTime` for the real ensemble.
const ZK_TICK_MS: u64 = 1000;
/// The group path Mesos is started with (`zk://.../mesos`).
const ZNODE: &str = "/mesos";
/// The group of the digest-auth scenario (`zk://user:pass@.../mesos-auth`).
const AUTH_ZNODE: &str = "/mesos-auth";
const CREDENTIALS: &str = "mesos:s3cret";
const WRONG_CREDENTIALS: &str = "mesos:wrong";
/// Lines that mean a leadership view or a session changed.
const CHANGES: &[&str] = &[
    "DETECTED",
    "ELECTED",
    "REELECTED",
    "LOST_CANDIDACY",
    "EXIT",
    "EXPIRED",
    "TIMEDOUT",
    "ABORT",
];

/// The session timeout T every actor requests (Mesos's default: 10 s).
fn session_timeout() -> Duration {
    let ms = std::env::var("MESOS_ACCEPT_SESSION_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000u64);
    Duration::from_millis(ms)
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn verbose() -> bool {
    std::env::var_os("MESOS_ACCEPT_VERBOSE").is_some()
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

// ---- actors ---------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Master,
    Agent,
    Scheduler,
}

impl Role {
    fn arg(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
            Role::Scheduler => "scheduler",
        }
    }
}

#[derive(Clone)]
struct Line {
    at: Instant,
    text: String,
}

impl Line {
    fn kind(&self) -> &str {
        self.text.split(' ').next().unwrap_or("")
    }

    /// The tokens between the kind and the trailing timestamp.
    fn args(&self) -> Vec<&str> {
        let tokens: Vec<&str> = self.text.split(' ').collect();
        if tokens.len() < 2 {
            return Vec::new();
        }
        tokens[1..tokens.len() - 1].to_vec()
    }

    fn arg(&self, i: usize) -> &str {
        self.args().get(i).copied().unwrap_or("")
    }
}

#[derive(Default)]
struct Output {
    lines: Vec<Line>,
    eof: bool,
}

/// One mesos_sim process; killed (SIGKILL, by pid) on drop.
struct Actor {
    name: String,
    role: Role,
    child: Child,
    out: Arc<(Mutex<Output>, Condvar)>,
    stderr: Arc<Mutex<String>>,
    /// Masters: one proxy per ensemble member, in member order.
    proxies: Vec<FaultProxy>,
    started: Instant,
}

impl Actor {
    #[allow(clippy::too_many_arguments)] // one per mesos_sim argument, plus the proxies
    fn spawn(
        sim: &Path,
        role: Role,
        name: &str,
        servers: &str,
        znode: &str,
        t: Duration,
        auth: Option<&str>,
        proxies: Vec<FaultProxy>,
    ) -> Actor {
        let mut cmd = Command::new(sim);
        cmd.args([role.arg(), name, servers, znode, &t.as_millis().to_string()]);
        if let Some(auth) = auth {
            cmd.arg(auth);
        }
        let started = Instant::now();
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", sim.display()));
        let out = Arc::new((Mutex::new(Output::default()), Condvar::new()));
        let stdout = child.stdout.take().expect("stdout");
        let reader_out = Arc::clone(&out);
        let who = name.to_owned();
        std::thread::spawn(move || {
            for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                let line = Line {
                    at: Instant::now(),
                    text,
                };
                let shown = matches!(
                    line.kind(),
                    "DETECTED" | "ELECTED" | "EXIT" | "LOST_CANDIDACY" | "TIMEDOUT" | "EXPIRED"
                );
                if verbose() || shown {
                    eprintln!(
                        "[{:8.3}] {who:>7}: {}",
                        line.at.duration_since(epoch()).as_secs_f64(),
                        line.text
                    );
                }
                let (lock, cond) = &*reader_out;
                lock.lock().expect("output lock").lines.push(line);
                cond.notify_all();
            }
            let (lock, cond) = &*reader_out;
            lock.lock().expect("output lock").eof = true;
            cond.notify_all();
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut s = sink.lock().expect("stderr lock");
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
                if s.len() > 64 * 1024 {
                    let cut = s.len() - 32 * 1024;
                    let cut = (cut..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
                    s.drain(..cut);
                }
            }
        });
        Actor {
            name: name.to_owned(),
            role,
            child,
            out,
            stderr,
            proxies,
            started,
        }
    }

    /// Lines so far (the cursor for "since now").
    fn mark(&self) -> usize {
        self.out.0.lock().expect("output lock").lines.len()
    }

    fn lines_since(&self, from: usize) -> Vec<Line> {
        let out = self.out.0.lock().expect("output lock");
        out.lines.get(from..).unwrap_or_default().to_vec()
    }

    /// The first line at or after `from` that `pred` accepts, waiting until `deadline`.
    fn wait(
        &self,
        from: usize,
        deadline: Instant,
        pred: impl Fn(&Line) -> bool,
    ) -> Result<(usize, Line), String> {
        let (lock, cond) = &*self.out;
        let mut out = lock.lock().expect("output lock");
        let mut seen = from;
        loop {
            while seen < out.lines.len() {
                if pred(&out.lines[seen]) {
                    return Ok((seen, out.lines[seen].clone()));
                }
                seen += 1;
            }
            if out.eof {
                return Err(format!("{} exited without it", self.name));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("{} did not print it in time", self.name));
            }
            out = cond.wait_timeout(out, left).expect("output lock").0;
        }
    }

    fn wait_kind(&self, from: usize, deadline: Instant, kind: &str) -> Result<Line, String> {
        self.wait(from, deadline, |l| l.kind() == kind)
            .map(|(_, l)| l)
    }

    /// The last line of `kind` whose first argument is `group`.
    fn last(&self, kind: &str, group: &str) -> Option<Line> {
        let out = self.out.0.lock().expect("output lock");
        out.lines
            .iter()
            .rev()
            .find(|l| l.kind() == kind && l.arg(0) == group)
            .cloned()
    }

    /// `(session id hex, password hex)` of the group's current session.
    fn session(&self, group: &str) -> (String, String) {
        let line = self
            .last("SESSION", group)
            .unwrap_or_else(|| panic!("{} has no {group} session", self.name));
        (line.arg(1).to_owned(), line.arg(2).to_owned())
    }

    fn groups(&self) -> &'static [&'static str] {
        match self.role {
            Role::Master => &["contender", "detector"],
            _ => &["detector"],
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to end after it printed EXIT (it `_exit`s right after).
    fn reap(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.running() {
            assert!(
                Instant::now() < deadline,
                "{} printed EXIT but did not exit within {limit:?}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    fn tail(&self, n: usize) -> String {
        let out = self.out.0.lock().expect("output lock");
        let start = out.lines.len().saturating_sub(n);
        let mut s: String = out.lines[start..]
            .iter()
            .map(|l| {
                format!(
                    "  [{:8.3}] {}\n",
                    l.at.duration_since(epoch()).as_secs_f64(),
                    l.text
                )
            })
            .collect();
        let err = self.stderr.lock().expect("stderr lock");
        if !err.trim().is_empty() {
            let from = err.len().saturating_sub(2000);
            let from = (from..err.len())
                .find(|&i| err.is_char_boundary(i))
                .unwrap_or(0);
            s.push_str(&format!("  stderr: {}\n", &err[from..]));
        }
        s
    }
}

impl Drop for Actor {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// ---- the world: an ensemble, its actors, the measurements -----------------------------------

struct World<'a> {
    e: &'a mut dyn Ensemble,
    sim: PathBuf,
    t: Duration,
    tick: Duration,
    masters: Vec<Actor>,
    others: Vec<Actor>,
    /// Actors that exited, kept for the failure dump.
    gone: Vec<Actor>,
    report: Vec<String>,
}

type Marks = HashMap<String, usize>;

impl World<'_> {
    fn note(&mut self, text: String) {
        eprintln!("==> {text}");
        self.report.push(text);
    }

    /// Panics with `what`, every actor's recent lines and the ensemble's log tails.
    fn fail(&self, what: &str) -> ! {
        let mut dump = String::new();
        for a in self.masters.iter().chain(&self.others).chain(&self.gone) {
            dump.push_str(&format!(
                "--- {} ({:?}, pid {}) ---\n",
                a.name,
                a.role,
                a.pid()
            ));
            dump.push_str(&a.tail(30));
        }
        for m in 0..self.e.size() {
            dump.push_str(&format!(
                "--- {} member {m} (running: {}) ---\n{}\n",
                self.e.name(),
                self.e.is_running(m),
                self.e.log_tail(m)
            ));
        }
        panic!(
            "{} Mesos acceptance: {what}\n\nmeasured so far:\n  {}\n\n{dump}",
            self.e.name(),
            self.report.join("\n  ")
        );
    }

    fn observers(&self) -> impl Iterator<Item = &Actor> {
        self.masters.iter().chain(&self.others)
    }

    fn marks(&self) -> Marks {
        self.observers()
            .map(|a| (a.name.clone(), a.mark()))
            .collect()
    }

    fn master(&self, name: &str) -> &Actor {
        self.masters
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| self.fail(&format!("no live master {name}")))
    }

    fn take_master(&mut self, name: &str) -> Actor {
        let i = self
            .masters
            .iter()
            .position(|a| a.name == name)
            .unwrap_or_else(|| self.fail(&format!("no live master {name}")));
        self.masters.remove(i)
    }

    /// Starts master `name` behind fresh proxies (one per member) and waits for its JOINED.
    fn start_master(&mut self, name: &str, znode: &str, auth: Option<&str>) -> (String, Duration) {
        let proxies: Vec<FaultProxy> = (0..self.e.size())
            .map(|m| FaultProxy::start(self.e.client_addr(m)))
            .collect();
        let servers = proxies
            .iter()
            .map(|p| p.addr().to_string())
            .collect::<Vec<_>>()
            .join(",");
        let actor = Actor::spawn(
            &self.sim,
            Role::Master,
            name,
            &servers,
            znode,
            self.t,
            auth,
            proxies,
        );
        let joined = actor.wait_kind(0, actor.started + AWAIT, "JOINED");
        self.masters.push(actor);
        match joined {
            Ok(line) => {
                let took = line.at - self.master(name).started;
                (line.arg(0).to_owned(), took)
            }
            Err(e) => self.fail(&format!("master {name} did not join within {AWAIT:?}: {e}")),
        }
    }

    fn start_observer(&mut self, role: Role, name: &str) {
        let servers = self.e.connect_string();
        let actor = Actor::spawn(&self.sim, role, name, &servers, ZNODE, self.t, None, vec![]);
        self.others.push(actor);
    }

    /// Every observer not in `skip` reports `expected` as its first detection after its
    /// mark, within `bound` of `t0`; returns each one's delay from `t0`.
    fn await_leader(
        &self,
        marks: &Marks,
        expected: &str,
        t0: Instant,
        bound: Duration,
        skip: &[&str],
    ) -> Vec<(String, Duration)> {
        let mut took = Vec::new();
        for a in self
            .observers()
            .filter(|a| !skip.contains(&a.name.as_str()))
        {
            let from = marks.get(&a.name).copied().unwrap_or(0);
            match a.wait_kind(from, t0 + bound, "DETECTED") {
                Ok(line) if line.arg(1) == expected => took.push((a.name.clone(), line.at - t0)),
                Ok(line) => self.fail(&format!(
                    "{} reported {} ({}) where {expected} was expected",
                    a.name,
                    line.arg(1),
                    line.arg(0)
                )),
                Err(e) => self.fail(&format!(
                    "{} did not report {expected} within {bound:?}: {e}",
                    a.name
                )),
            }
        }
        took
    }

    /// No observer outside `skip` printed a line of `kinds` since its mark.
    fn assert_no_change(&self, marks: &Marks, skip: &[&str], kinds: &[&str], what: &str) {
        for a in self
            .observers()
            .filter(|a| !skip.contains(&a.name.as_str()))
        {
            let from = marks.get(&a.name).copied().unwrap_or(0);
            if let Some(line) = a
                .lines_since(from)
                .into_iter()
                .find(|l| kinds.contains(&l.kind()))
            {
                self.fail(&format!("{what}: {} printed `{}`", a.name, line.text));
            }
        }
    }

    /// `name` considers itself elected (an ELECTED line after its mark, within 15 s of
    /// `t0`), and no other live master printed ELECTED since its own mark.
    fn assert_elected(&self, name: &str, since: &Marks, t0: Instant) -> Duration {
        let a = self.master(name);
        let from = since.get(name).copied().unwrap_or(0);
        let line = a
            .wait_kind(from, t0 + AWAIT, "ELECTED")
            .unwrap_or_else(|e| self.fail(&format!("{name} did not consider itself elected: {e}")));
        for other in self.masters.iter().filter(|m| m.name != name) {
            let from = since.get(&other.name).copied().unwrap_or(0);
            if let Some(dup) = other
                .lines_since(from)
                .into_iter()
                .find(|l| l.kind() == "ELECTED")
            {
                self.fail(&format!(
                    "{} also considers itself elected: {}",
                    other.name, dup.text
                ));
            }
        }
        line.at - t0
    }

    /// Waits until every observer's detector cache lists `seq` (the child watch fired and
    /// the group re-read the children), so "nothing changed" can be checked soundly.
    fn await_membership(&self, marks: &Marks, seq: &str, skip: &[&str]) {
        for a in self
            .observers()
            .filter(|a| !skip.contains(&a.name.as_str()))
        {
            let from = marks.get(&a.name).copied().unwrap_or(0);
            if let Err(e) = a.wait(from, Instant::now() + AWAIT, |l| {
                l.kind() == "MEMBERS" && l.arg(0) == "detector" && l.arg(1).contains(seq)
            }) {
                self.fail(&format!("{} never saw member {seq}: {e}", a.name));
            }
        }
    }

    /// Expires `group`'s session of `victim` the portable way: a second handle with the
    /// victim's id and password connects, then closes. On ZooKeeper >= 3.5 the victim can
    /// win the session back in between, so this repeats until the victim reports EXPIRED (or
    /// EXITs: a leading master whose detector sees the new leader before its contender sees
    /// EXPIRED concedes first). Returns when the successful attempt started, and that line.
    fn expire(&self, victim: &Actor, group: &str) -> (Instant, Line) {
        let (id, password) = victim.session(group);
        let servers = self.e.connect_string();
        for attempt in 1..=10 {
            let from = victim.mark();
            let started = Instant::now();
            let out = run(
                Command::new(&self.sim).args([
                    "expire",
                    &servers,
                    &id,
                    &password,
                    &self.t.as_millis().to_string(),
                ]),
                None,
                "mesos_sim expire",
                2 * self.t + Duration::from_secs(10),
            );
            if !out.status.success() {
                self.fail(&format!("the expirer failed\n{}", out.dump()));
            }
            // The victim learns of the expiry when it reconnects: at once, or after a round
            // over all servers (recv_timeout / 60 pause). Half a session timeout is ample.
            match victim.wait(from, Instant::now() + self.t / 2, |l| {
                (l.kind() == "EXPIRED" && l.arg(0) == group) || l.kind() == "EXIT"
            }) {
                Ok((_, line)) => return (started, line),
                Err(_) => eprintln!(
                    "==> expiring {} {group} session {id}: attempt {attempt} lost the race \
                     ({})",
                    victim.name,
                    out.stdout.trim().replace('\n', "; ")
                ),
            }
        }
        self.fail(&format!(
            "{}'s {group} session never expired in 10 attempts",
            victim.name
        ))
    }

    /// Which member each session of each live actor is connected to.
    fn sessions_by_member(&self) -> Vec<Vec<(String, String, String)>> {
        let mut by = vec![Vec::new(); self.e.size()];
        for a in self.observers() {
            for group in a.groups() {
                let Some(line) = a.last("CONNECTED", group) else {
                    continue;
                };
                // "?:0" when the connection dropped again before the line was printed; the
                // session is then not attributed to any member.
                let Ok(addr) = line.arg(1).parse::<SocketAddr>() else {
                    continue;
                };
                let member = if a.proxies.is_empty() {
                    (0..self.e.size()).find(|&m| self.e.client_addr(m) == addr)
                } else {
                    a.proxies.iter().position(|p| p.addr() == addr)
                };
                match member {
                    Some(m) => by[m].push((a.name.clone(), group.to_string(), line.arg(2).into())),
                    None => self.fail(&format!("{}: unknown server in `{}`", a.name, line.text)),
                }
            }
        }
        by
    }

    fn inspect(&self, znode: &str, auth: Option<&str>) -> Vec<String> {
        let mut cmd = Command::new(&self.sim);
        cmd.args(["inspect", &self.e.connect_string(), znode]);
        if let Some(auth) = auth {
            cmd.arg(auth);
        }
        let out = run(&mut cmd, None, "mesos_sim inspect", Duration::from_secs(30));
        if !out.status.success() {
            self.fail(&format!("inspect {znode} failed\n{}", out.dump()));
        }
        // Drop the trailing timestamps.
        out.stdout
            .lines()
            .map(|l| l.rsplit_once(' ').map(|(s, _)| s).unwrap_or(l).to_owned())
            .collect()
    }
}

// ---- the scenarios ------------------------------------------------------------------------

/// mesos-zk.md §3 against `e`: 3 masters, 2 agents, 1 scheduler, every observer held to
/// Mesos's bounds. `sim` is the compiled mesos_sim, `t` the session timeout every actor
/// requests (it must lie within the servers' [min, max] session timeout). Returns the
/// measurements, one line each.
fn run_scenarios(e: &mut dyn Ensemble, sim: &Path, t: Duration) -> Vec<String> {
    let tick = e.tick();
    let mut w = World {
        e,
        sim: sim.to_owned(),
        t,
        tick,
        masters: Vec::new(),
        others: Vec::new(),
        gone: Vec::new(),
        report: Vec::new(),
    };
    w.note(format!(
        "{}: {} members, session timeout T = {}, tick = {}",
        w.e.name(),
        w.e.size(),
        secs(t),
        secs(tick)
    ));
    scenario_1_initial_election(&mut w);
    scenario_2_graceful_leader_exit(&mut w);
    scenario_3_hard_leader_kill(&mut w);
    scenario_4_old_masters_rejoin(&mut w);
    scenario_5_leader_session_expiry(&mut w);
    scenario_6_agent_session_expiry(&mut w);
    scenario_7_leader_network_cut(&mut w);
    scenario_8_ensemble_server_killed(&mut w, Victim::BusiestFollower);
    scenario_8_ensemble_server_killed(&mut w, Victim::Leader);
    scenario_8_watches_rearmed_after_reconnect(&mut w);
    scenario_9_digest_auth(&mut w);
    for a in w.observers() {
        if let Some(line) = a
            .lines_since(0)
            .into_iter()
            .find(|l| l.text.contains("FATAL") || l.kind() == "ABORT")
        {
            w.fail(&format!("{} printed `{}`", a.name, line.text));
        }
    }
    std::mem::take(&mut w.report)
}

fn list(took: &[(String, Duration)]) -> String {
    took.iter()
        .map(|(n, d)| format!("{n} {}", secs(*d)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn max(took: &[(String, Duration)]) -> Duration {
    took.iter().map(|(_, d)| *d).max().unwrap_or_default()
}

/// Scenario 1: m1, m2, m3 join in order, then agent1, agent2, sched: every detector reports m1,
/// only m1 is elected; the nodes are EPHEMERAL `json.info_<s1<s2<s3>` with JSON MasterInfo.
fn scenario_1_initial_election(w: &mut World) {
    let mut seqs = Vec::new();
    for name in ["m1", "m2", "m3"] {
        let (seq, took) = w.start_master(name, ZNODE, None);
        w.note(format!("1. {name} joined as {seq} in {}", secs(took)));
        seqs.push(seq);
    }
    if !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
        w.fail(&format!("sequences not increasing: {seqs:?}"));
    }
    w.start_observer(Role::Agent, "agent1");
    w.start_observer(Role::Agent, "agent2");
    w.start_observer(Role::Scheduler, "sched");
    let mut took = Vec::new();
    for a in w.observers() {
        match a.wait_kind(0, a.started + AWAIT, "DETECTED") {
            Ok(line) if line.arg(1) == "m1" && line.arg(0) == seqs[0] => {
                took.push((a.name.clone(), line.at - a.started))
            }
            Ok(line) => w.fail(&format!("{} first detected `{}`", a.name, line.text)),
            Err(e) => w.fail(&format!(
                "{} detected nothing within {AWAIT:?}: {e}",
                a.name
            )),
        }
    }
    // Every bound below derives from T: the servers must grant it as requested.
    for a in w.observers() {
        for group in a.groups() {
            let line = a
                .last("SESSION", group)
                .unwrap_or_else(|| w.fail(&format!("{} has no {group} session", a.name)));
            if line.arg(3) != w.t.as_millis().to_string() {
                w.fail(&format!(
                    "{} {group}: negotiated session timeout {} ms, requested {} ms",
                    a.name,
                    line.arg(3),
                    w.t.as_millis()
                ));
            }
        }
    }
    let m1_start = w.master("m1").started;
    let elected = w.assert_elected("m1", &Marks::new(), m1_start);
    for name in ["m2", "m3"] {
        if let Some(line) = w
            .master(name)
            .lines_since(0)
            .iter()
            .find(|l| l.kind() == "ELECTED")
        {
            w.fail(&format!(
                "{name} also considers itself elected: {}",
                line.text
            ));
        }
    }
    w.note(format!(
        "1. initial election: m1 elected {} after its start; detection after each actor's \
         start: {} (bound {})",
        secs(elected),
        list(&took),
        secs(AWAIT)
    ));

    let nodes: Vec<String> = w
        .inspect(ZNODE, None)
        .into_iter()
        .filter(|l| l.starts_with("NODE "))
        .collect();
    if nodes.len() != 3 {
        w.fail(&format!("expected 3 member nodes, found {nodes:?}"));
    }
    for ((node, name), seq) in nodes.iter().zip(["m1", "m2", "m3"]).zip(&seqs) {
        let parts: Vec<&str> = node.splitn(4, ' ').collect();
        let (owner, _) = w.master(name).session("contender");
        let json = parts.get(3).copied().unwrap_or("");
        if parts.get(1) != Some(&format!("json.info_{seq}").as_str())
            || parts.get(2) != Some(&owner.as_str())
            || !json.starts_with('{')
            || !json.ends_with('}')
            || !json.contains(&format!("\"hostname\":\"{name}\""))
        {
            w.fail(&format!(
                "node of {name}: expected json.info_{seq}, ephemeral owner {owner} (its \
                 contender session), JSON MasterInfo; got `{node}`"
            ));
        }
    }
}

/// Scenario 2: The leader stops gracefully (zookeeper_close): every observer reports m2 at once.
fn scenario_2_graceful_leader_exit(w: &mut World) {
    let marks = w.marks();
    let t0 = Instant::now();
    let mut m1 = w.take_master("m1");
    m1.sigterm();
    if let Err(e) = m1.wait(0, t0 + AWAIT, |l| l.text.starts_with("EXIT sigterm")) {
        w.gone.push(m1);
        w.fail(&format!("m1 did not stop on SIGTERM: {e}"));
    }
    m1.reap(Duration::from_secs(5));
    w.gone.push(m1);
    let took = w.await_leader(&marks, "m2", t0, AWAIT, &[]);
    let elected = w.assert_elected("m2", &marks, t0);
    w.note(format!(
        "2. graceful leader exit: m2 elected after {}; observers: {} (bound {})",
        secs(elected),
        list(&took),
        secs(AWAIT)
    ));
}

/// Scenario 3: The leader is killed with SIGKILL: its session expires on the server within T + tick
/// of its last heartbeat; every observer reports m3 within T + 2·tick + 15 s.
fn scenario_3_hard_leader_kill(w: &mut World) {
    let marks = w.marks();
    let bound = w.t + 2 * w.tick + AWAIT;
    let t0 = Instant::now();
    let mut m2 = w.take_master("m2");
    m2.kill9();
    w.gone.push(m2);
    let took = w.await_leader(&marks, "m3", t0, bound, &[]);
    let elected = w.assert_elected("m3", &marks, t0);
    w.note(format!(
        "3. hard leader kill: m3 elected after {}; observers: {} (expected about T..T+tick = \
         {}..{}; bound {})",
        secs(elected),
        list(&took),
        secs(w.t),
        secs(w.t + w.tick),
        secs(bound)
    ));
}

/// Scenario 4: The old masters come back: each joins with a higher sequence and stays a follower;
/// nobody reports a change (no None either).
fn scenario_4_old_masters_rejoin(w: &mut World) {
    for name in ["m1", "m2"] {
        let marks = w.marks();
        let (seq, joined) = w.start_master(name, ZNODE, None);
        let a = w.master(name);
        let detected = match a.wait_kind(0, a.started + AWAIT, "DETECTED") {
            Ok(line) if line.arg(1) == "m3" => line.at - a.started,
            Ok(line) => w.fail(&format!("restarted {name} first detected `{}`", line.text)),
            Err(e) => w.fail(&format!("restarted {name} detected nothing: {e}")),
        };
        w.await_membership(&marks, &seq, &[name]);
        w.assert_no_change(&marks, &[name], CHANGES, &format!("{name} rejoining"));
        if let Some(line) = a
            .lines_since(0)
            .into_iter()
            .find(|l| l.kind() == "ELECTED" || l.text.starts_with("DETECTED none"))
        {
            w.fail(&format!("restarted {name} printed `{}`", line.text));
        }
        w.note(format!(
            "4. {name} restarted: joined as {seq} in {}, detected m3 in {}, no other \
             observer changed",
            secs(joined),
            secs(detected)
        ));
    }
}

/// Scenario 5: The leader's contender session is expired on the server: the leader EXITs (lost
/// candidacy, or conceded), every other observer reports the next master (m1).
fn scenario_5_leader_session_expiry(w: &mut World) {
    let marks = w.marks();
    let (attempt, expired) = w.expire(w.master("m3"), "contender");
    let exit = match w
        .master("m3")
        .wait_kind(marks["m3"], expired.at + AWAIT, "EXIT")
    {
        Ok(line) => line,
        Err(e) => w.fail(&format!("m3 did not exit after its session expired: {e}")),
    };
    if !(exit.text.contains("Lost candidacy as a leader")
        || exit.text.contains("Conceded leadership"))
    {
        w.fail(&format!("m3 exited for another reason: {}", exit.text));
    }
    let mut m3 = w.take_master("m3");
    m3.reap(Duration::from_secs(5));
    w.gone.push(m3);
    let took = w.await_leader(&marks, "m1", attempt, AWAIT, &[]);
    let elected = w.assert_elected("m1", &marks, attempt);
    w.note(format!(
        "5. leader session expiry: m3 noticed (`{}`) after {} and exited after {} (`{}`); m1 \
         elected after {}; observers: {} (bound {})",
        expired.kind(),
        secs(expired.at - attempt),
        secs(exit.at - attempt),
        exit.args().join(" "),
        secs(elected),
        list(&took),
        secs(AWAIT)
    ));
    let (seq, _) = w.start_master("m3", ZNODE, None);
    let a = w.master("m3");
    match a.wait_kind(0, a.started + AWAIT, "DETECTED") {
        Ok(line) if line.arg(1) == "m1" => {}
        Ok(line) => w.fail(&format!("restarted m3 first detected `{}`", line.text)),
        Err(e) => w.fail(&format!("restarted m3 detected nothing: {e}")),
    }
    w.note(format!("5. m3 restarted as follower {seq}"));
}

/// Scenario 6: An agent's session is expired: it reports None, then the same leader again; nobody
/// else changes.
fn scenario_6_agent_session_expiry(w: &mut World) {
    let marks = w.marks();
    let agent = w
        .others
        .iter()
        .find(|a| a.name == "agent1")
        .expect("agent1");
    let (attempt, expired) = w.expire(agent, "detector");
    let from = marks["agent1"];
    let none = match agent.wait_kind(from, expired.at + AWAIT, "DETECTED") {
        Ok(line) if line.arg(0) == "none" => line,
        Ok(line) => w.fail(&format!("agent1 reported `{}` before None", line.text)),
        Err(e) => w.fail(&format!("agent1 did not report None: {e}")),
    };
    let back = match agent.wait(from, expired.at + AWAIT, |l| {
        l.kind() == "DETECTED" && l.arg(0) != "none"
    }) {
        Ok((_, line)) if line.arg(1) == "m1" => line,
        Ok((_, line)) => w.fail(&format!("agent1 re-detected `{}`, not m1", line.text)),
        Err(e) => w.fail(&format!("agent1 did not re-detect the leader: {e}")),
    };
    let changes: Vec<Line> = agent
        .lines_since(from)
        .into_iter()
        .filter(|l| l.kind() == "DETECTED")
        .collect();
    if changes.len() != 2 {
        w.fail(&format!(
            "agent1 should report exactly None then m1, got {:?}",
            changes.iter().map(|l| &l.text).collect::<Vec<_>>()
        ));
    }
    w.assert_no_change(&marks, &["agent1"], CHANGES, "agent1's session expiry");
    w.note(format!(
        "6. agent session expiry: agent1 EXPIRED after {}, None after {}, m1 again after {} \
         (bound {}); nobody else changed",
        secs(expired.at - attempt),
        secs(none.at - attempt),
        secs(back.at - attempt),
        secs(AWAIT)
    ));
}

/// Scenario 7: The leader (m1) is cut off the network (both sessions black-holed): the others
/// report the next master (m2) within T + 2·tick + 15 s; m1 times out locally and EXITs within
/// 5/3·T + 15 s. Healed and restarted, m1 rejoins as a follower.
fn scenario_7_leader_network_cut(w: &mut World) {
    let marks = w.marks();
    let followers_bound = w.t + 2 * w.tick + AWAIT;
    let exit_bound = w.t * 5 / 3 + AWAIT;
    let t0 = Instant::now();
    for p in &w.master("m1").proxies {
        p.blackhole();
    }
    let took = w.await_leader(&marks, "m2", t0, followers_bound, &["m1"]);
    let elected = w.assert_elected("m2", &marks, t0);
    let m1 = w.master("m1");
    let exit = match m1.wait_kind(marks["m1"], t0 + exit_bound, "EXIT") {
        Ok(line) => line,
        Err(e) => w.fail(&format!(
            "cut-off m1 did not exit within {exit_bound:?}: {e}"
        )),
    };
    let timedout = m1
        .lines_since(marks["m1"])
        .into_iter()
        .find(|l| l.kind() == "TIMEDOUT");
    let Some(timedout) = timedout else {
        w.fail(&format!(
            "m1 exited (`{}`) without a local session timeout",
            exit.text
        ));
    };
    let mut m1 = w.take_master("m1");
    m1.reap(Duration::from_secs(5));
    for p in &m1.proxies {
        p.heal();
    }
    w.gone.push(m1);
    w.note(format!(
        "7. leader network cut: m2 elected after {}; observers: {} (expected 2/3·T..T+tick \
         = {}..{}; bound {}); m1 timed out locally after {} and exited after {} (`{}`; \
         expected <= 5/3·T = {}; bound {})",
        secs(elected),
        list(&took),
        secs(w.t * 2 / 3),
        secs(w.t + w.tick),
        secs(followers_bound),
        secs(timedout.at - t0),
        secs(exit.at - t0),
        exit.args().join(" "),
        secs(w.t * 5 / 3),
        secs(exit_bound)
    ));
    let marks = w.marks();
    let (seq, _) = w.start_master("m1", ZNODE, None);
    let a = w.master("m1");
    match a.wait_kind(0, a.started + AWAIT, "DETECTED") {
        Ok(line) if line.arg(1) == "m2" => {}
        Ok(line) => w.fail(&format!("restarted m1 first detected `{}`", line.text)),
        Err(e) => w.fail(&format!("restarted m1 detected nothing: {e}")),
    }
    w.await_membership(&marks, &seq, &["m1"]);
    w.assert_no_change(&marks, &["m1"], CHANGES, "m1 rejoining after the cut");
    w.note(format!(
        "7. m1 healed and restarted: follower {seq}, nobody changed"
    ));
}

#[derive(Clone, Copy, Debug)]
enum Victim {
    /// The follower most client sessions are connected to.
    BusiestFollower,
    /// The ensemble's leader.
    Leader,
}

/// Scenario 8: An ensemble server dies under the clients: its clients reconnect to another server
/// within T with the same session; no observer changes for T + 5 s; the server restarts on the same
/// ports and still nothing changes.
fn scenario_8_ensemble_server_killed(w: &mut World, victim: Victim) {
    let by_member = w.sessions_by_member();
    let leader =
        w.e.leader()
            .unwrap_or_else(|| w.fail("the ensemble reports no leader"));
    let member = match victim {
        Victim::BusiestFollower => (0..w.e.size())
            .filter(|&m| m != leader)
            .max_by_key(|&m| by_member[m].len())
            .expect("a follower"),
        Victim::Leader => leader,
    };
    let moved = by_member[member].clone();
    let marks = w.marks();
    let t0 = Instant::now();
    w.e.kill9(member);
    let mut reconnected = Vec::new();
    for (actor, group, id) in &moved {
        let a = w
            .observers()
            .find(|a| &a.name == actor)
            .expect("live actor");
        match a.wait(marks[actor], t0 + w.t, |l| {
            l.kind() == "CONNECTED" && l.arg(0) == group && l.arg(2) == id
        }) {
            Ok((_, line)) if line.arg(3) == "reconnect" => {
                reconnected.push((format!("{actor}/{group}"), line.at - t0))
            }
            Ok((_, line)) => w.fail(&format!("{actor} {group} connected anew: {}", line.text)),
            Err(e) => w.fail(&format!(
                "{actor} {group} (session {id}) did not reconnect within T = {}: {e}",
                secs(w.t)
            )),
        }
    }
    // A timed observation: nothing may change while the connect timers could fire.
    let quiet_until = t0 + w.t + Duration::from_secs(5);
    std::thread::sleep(quiet_until.saturating_duration_since(Instant::now()));
    let mut kinds = CHANGES.to_vec();
    kinds.push("SESSION");
    w.assert_no_change(
        &marks,
        &[],
        &kinds,
        &format!("ensemble member {member} killed"),
    );
    let restart = Instant::now();
    w.e.restart(member);
    let restarted = restart.elapsed();
    w.assert_no_change(
        &marks,
        &[],
        &kinds,
        &format!("ensemble member {member} restarted"),
    );
    w.note(format!(
        "8. {} member {member} killed ({victim:?}; {} sessions on it): reconnected with the \
         same session after {} (max {}, bound T = {}); no observer change for T+5 s = {}; \
         member back in {}, still no change",
        w.e.name(),
        moved.len(),
        list(&reconnected),
        secs(max(&reconnected)),
        secs(w.t),
        secs(w.t + Duration::from_secs(5)),
        secs(restarted)
    ));
}

/// Scenario 8c: Watches survive a reconnection (SetWatches): follower master m3 loses both
/// connections (its proxies reset them) while a new master m4 joins; once healed, m3's sessions
/// reconnect with the same ids and their child watches fire at once, because the children changed
/// while they were away. Nobody changes leadership.
fn scenario_8_watches_rearmed_after_reconnect(w: &mut World) {
    let marks = w.marks();
    let t0 = Instant::now();
    for p in &w.master("m3").proxies {
        p.reset();
    }
    let m3 = w.master("m3");
    for group in ["contender", "detector"] {
        if let Err(e) = m3.wait(marks["m3"], t0 + AWAIT, |l| {
            l.kind() == "CONNECTING" && l.arg(0) == group
        }) {
            w.fail(&format!(
                "m3 {group} did not notice its reset connection: {e}"
            ));
        }
    }
    let (seq, _) = w.start_master("m4", ZNODE, None);
    w.await_membership(&marks, &seq, &["m3", "m4"]);
    let healed = Instant::now();
    for p in &w.master("m3").proxies {
        p.heal();
    }
    let m3 = w.master("m3");
    let mut fired = Vec::new();
    for group in ["contender", "detector"] {
        let (id, _) = m3.session(group);
        let reconnect = m3.wait(marks["m3"], t0 + w.t, |l| {
            l.kind() == "CONNECTED"
                && l.arg(0) == group
                && l.arg(2) == id
                && l.arg(3) == "reconnect"
        });
        let (at, _) = reconnect.unwrap_or_else(|e| {
            w.fail(&format!(
                "m3 {group} did not reconnect with session {id} within T: {e}"
            ))
        });
        match m3.wait(at, t0 + w.t, |l| {
            l.kind() == "MEMBERS" && l.arg(0) == group && l.arg(1).contains(&seq)
        }) {
            Ok((_, line)) => fired.push((format!("m3/{group}"), line.at - healed)),
            Err(e) => w.fail(&format!(
                "m3 {group}: the child watch did not fire on reconnection (SetWatches) for \
                 {seq}, which joined while it was away: {e}"
            )),
        }
    }
    let mut kinds = CHANGES.to_vec();
    kinds.push("SESSION");
    w.assert_no_change(&marks, &["m4"], &kinds, "m3 reconnecting");
    let mut m4 = w.take_master("m4");
    m4.sigterm();
    if let Err(e) = m4.wait(0, Instant::now() + AWAIT, |l| {
        l.text.starts_with("EXIT sigterm")
    }) {
        w.gone.push(m4);
        w.fail(&format!("m4 did not stop on SIGTERM: {e}"));
    }
    m4.reap(Duration::from_secs(5));
    w.gone.push(m4);
    w.note(format!(
        "8c. m3 cut by connection resets while m4 joined as {seq}: reconnected with the same \
         sessions, child watches fired after heal: {} (SetWatches); nobody changed",
        list(&fired)
    ));
}

/// Scenario 9: Digest auth: nodes carry [READ world:anyone, ALL digest:user:hash]; a client without
/// credentials still detects; a master with the wrong password cannot join (NoAuth).
fn scenario_9_digest_auth(w: &mut World) {
    let marks = w.marks();
    let (seq, _) = w.start_master("a1", AUTH_ZNODE, Some(CREDENTIALS));
    let a1_start = w.master("a1").started;
    w.assert_elected("a1", &marks, a1_start);
    let servers = w.e.connect_string();
    let agent = Actor::spawn(
        &w.sim,
        Role::Agent,
        "agent-noauth",
        &servers,
        AUTH_ZNODE,
        w.t,
        None,
        vec![],
    );
    let detected = agent.wait_kind(0, agent.started + AWAIT, "DETECTED");
    w.others.push(agent);
    match detected {
        Ok(line) if line.arg(1) == "a1" => {}
        Ok(line) => w.fail(&format!(
            "agent without credentials detected `{}`",
            line.text
        )),
        Err(e) => w.fail(&format!("agent without credentials detected nothing: {e}")),
    }
    let proxies = Vec::new();
    let intruder = Actor::spawn(
        &w.sim,
        Role::Master,
        "a2-wrong",
        &servers,
        AUTH_ZNODE,
        w.t,
        Some(WRONG_CREDENTIALS),
        proxies,
    );
    let exit = intruder.wait_kind(0, intruder.started + AWAIT, "EXIT");
    w.gone.push(intruder);
    match exit {
        Ok(line)
            if line.text.contains("Failed to contend")
                && line.text.contains("not authenticated") => {}
        Ok(line) => w.fail(&format!("wrong-password master: `{}`", line.text)),
        Err(e) => w.fail(&format!("wrong-password master did not fail to join: {e}")),
    }
    let digest = base64::engine::general_purpose::STANDARD
        .encode(sha1::Sha1::digest(CREDENTIALS.as_bytes()));
    let user = CREDENTIALS.split(':').next().unwrap_or_default();
    let member = format!("{AUTH_ZNODE}/json.info_{seq}");
    let acls: Vec<String> = w
        .inspect(AUTH_ZNODE, Some(CREDENTIALS))
        .into_iter()
        .filter(|l| l.starts_with("ACL "))
        .collect();
    let expected = vec![
        format!("ACL {AUTH_ZNODE} 1 world anyone"),
        format!("ACL {AUTH_ZNODE} 31 digest {user}:{digest}"),
        format!("ACL {member} 1 world anyone"),
        format!("ACL {member} 31 digest {user}:{digest}"),
    ];
    if acls != expected {
        w.fail(&format!("ACLs: expected {expected:#?}\ngot {acls:#?}"));
    }
    w.note(format!(
        "9. digest auth: a1 elected, agent without credentials detected it, wrong password \
         refused (NoAuth), ACLs [READ world:anyone, ALL digest:{user}:{digest}]"
    ));
}

// ---- the servers ---------------------------------------------------------------------------

/// Compiles mesos_sim while `start` brings the ensemble up, then runs every scenario on it
/// and prints the measurements. The ensemble lives on the calling thread, so a panic anywhere
/// drops (kills) it.
fn accept<E: Ensemble>(start: impl FnOnce() -> E) {
    let started = epoch();
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_owned();
    let compiling = std::thread::spawn(move || compile_c_client("mesos_sim", &out));
    let mut ensemble = start();
    let sim = compiling.join().expect("compiling mesos_sim.c");
    eprintln!(
        "==> {}-server {} ensemble up after {} (leader: member {:?})",
        ensemble.size(),
        ensemble.name(),
        secs(started.elapsed()),
        ensemble.leader()
    );
    let report = run_scenarios(&mut ensemble, &sim, session_timeout());
    eprintln!(
        "\nMesos acceptance against {} passed in {}:\n  {}",
        ensemble.name(),
        secs(started.elapsed()),
        report.join("\n  ")
    );
}

/// Real Apache ZooKeeper 3.8 (Debian), 3 servers, tickTime 1 s.
#[test]
fn mesos_election_on_real_zookeeper() {
    accept(|| RealZooKeeperEnsemble::start(3, ZK_TICK_MS, &[]));
}

/// ferrokeeper, 3 servers from generated zoo.cfg files, tickTime 1 s.
#[test]
fn mesos_election_on_ferrokeeper() {
    accept(|| {
        let mut options = ClusterOptions::new(3);
        options.tick_ms = u32::try_from(ZK_TICK_MS).expect("tick");
        FerrokeeperEnsemble::start(options)
    });
}
