//! The cut-over of issue 11: clients of a running 3-server ZooKeeper 3.8 ensemble — Mesos
//! masters and an agent (re-enacted with the C client Mesos links, `mesos_sim.c`), kazoo,
//! and our client crate — each with a session, an ephemeral and a watch, while three
//! ferrokeeper servers follow the ensemble as its observers (`ferrokeeper.ensemble`).
//! `ferrokeeper promote` on each, then every ZooKeeper server is killed: they form one
//! Raft ensemble, and every session survives on ferrokeeper with its ephemeral and
//! watch, and the Mesos election keeps its one leader, with no master exiting, losing
//! its candidacy or seeing another leader for T + 5 s after the cut-over. kazoo and the
//! crate list ZooKeeper's servers and ferrokeeper in their connect strings; Mesos reaches
//! ZooKeeper through addresses that a DNS or VIP switch moves to ferrokeeper.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrokeeper_client::{Client, CreateMode, open_acl_unsafe};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::ferrokeeper_command;
use ferrokeeper_tests::follow;
use ferrokeeper_tests::process::{Group, clients_dir, compile_c_client, on_path, require};
use ferrokeeper_tests::proxy::FaultProxy;
use ferrokeeper_tests::zk_ensemble::{RealZooKeeperEnsemble, pick_port};

const TICK_MS: u64 = 500;
/// The session timeout every client asks for (Mesos's default).
const T: Duration = Duration::from_secs(10);
const PATIENCE: Duration = Duration::from_secs(90);

fn wait_for(what: &str, done: impl FnMut() -> bool) {
    follow::wait_for(what, PATIENCE, done)
}

fn mode(addr: SocketAddr) -> Option<String> {
    follow::srvr_mode(addr)
}

/// A process whose stdout lines are collected as they come; its group is killed on drop.
struct Lines {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Lines {
    fn spawn(name: &str, cmd: &mut Command) -> Lines {
        Self::spawn_logging(name, cmd, Stdio::null())
    }

    /// As [`Lines::spawn`], with stderr going to `stderr`.
    fn spawn_logging(name: &str, cmd: &mut Command, stderr: Stdio) -> Lines {
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().expect("stdout");
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        });
        Lines {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn count(&self) -> usize {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn find(&self, prefix: &str) -> Option<String> {
        self.all().into_iter().find(|l| l.starts_with(prefix))
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if self.running() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Mesos's election lines that mean a master's view changed.
const CHANGES: &[&str] = &[
    "EXIT",
    "LOST_CANDIDACY",
    "EXPIRED",
    "TIMEDOUT",
    "ABORT",
    "ELECTED",
    "DETECTED",
];

#[test]
fn every_client_keeps_its_session_across_the_cut_over_and_mesos_keeps_its_leader() {
    require(on_path("python3"), "python3 with kazoo");
    // Three ferrokeeper servers follow ZooKeeper (server.4-6) and take over together.
    let observers: Vec<(u64, String)> = (4..=6)
        .map(|i| {
            (
                i,
                format!("127.0.0.1:{}:{}:observer", pick_port(), pick_port()),
            )
        })
        .collect();
    let zk_lines: Vec<(String, String)> = observers
        .iter()
        .map(|(i, l)| (format!("server.{i}"), l.clone()))
        .collect();
    let zk_lines: Vec<(&str, &str)> = zk_lines
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut zk = RealZooKeeperEnsemble::start(3, TICK_MS, &zk_lines);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cfgs = Vec::new();
    let mut fks: Vec<SocketAddr> = Vec::new();
    let mut followers = Vec::new();
    let mut log_paths = Vec::new();
    for (k, (id, _)) in observers.iter().enumerate() {
        let home = dir.path().join(format!("fk{k}"));
        std::fs::create_dir_all(&home).expect("dir");
        let port = pick_port();
        let cfg = follow::follower_cfg(&zk, &home, *id, &observers, true, port);
        let log_path = home.join("ferrokeeper.log");
        let log = std::fs::File::create(&log_path).expect("log file");
        followers.push(Lines::spawn_logging(
            "ferrokeeper",
            ferrokeeper_command().args(["--config", &cfg]),
            Stdio::from(log),
        ));
        cfgs.push((cfg, home));
        fks.push(([127, 0, 0, 1], port).into());
        log_paths.push(log_path);
    }
    let follower_log = || {
        log_paths
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    for fk in &fks {
        wait_for("every ferrokeeper following", || {
            mode(*fk).as_deref() == Some("observer")
        });
    }
    // kazoo and the crate list ZooKeeper's servers and ferrokeeper's, as during a
    // migration.
    let hosts = (0..3)
        .map(|m| zk.client_addr(m).to_string())
        .chain(fks.iter().map(SocketAddr::to_string))
        .collect::<Vec<_>>()
        .join(",");

    // Mesos: three masters and an agent, reaching ZooKeeper's servers through names a
    // DNS or VIP switch moves to ferrokeeper at the cut-over. (Listing ferrokeeper in
    // their connect string is not enough for the C client 3.8.0: after a refused
    // connection it skips every other server, so with ZooKeeper's servers refusing it
    // may never try ferrokeeper.)
    let vips: Vec<FaultProxy> = (0..3)
        .map(|m| FaultProxy::start(zk.client_addr(m)))
        .collect();
    let vip_hosts = vips
        .iter()
        .map(|v| v.addr().to_string())
        .collect::<Vec<_>>()
        .join(",");
    let sim = compile_c_client("mesos_sim", dir.path());
    let t_ms = T.as_millis().to_string();
    let mut actors: Vec<Lines> = ["m1", "m2", "m3"]
        .into_iter()
        .map(|name| {
            Lines::spawn(
                name,
                Command::new(&sim).args(["master", name, &vip_hosts, "/mesos", &t_ms]),
            )
        })
        .collect();
    actors.push(Lines::spawn(
        "a1",
        Command::new(&sim).args(["agent", "a1", &vip_hosts, "/mesos", &t_ms]),
    ));
    wait_for("one master elected and everyone detecting it", || {
        actors
            .iter()
            .filter(|a| a.find("ELECTED").is_some())
            .count()
            == 1
            && actors.iter().all(|a| {
                a.all()
                    .iter()
                    .any(|l| l.starts_with("DETECTED") && !l.starts_with("DETECTED none"))
            })
    });
    let leader = actors
        .iter()
        .find(|a| a.find("ELECTED").is_some())
        .map(|a| a.name.clone())
        .expect("a leader");

    // kazoo: a session, an ephemeral, a DataWatch.
    let done = dir.path().join("cutover-done");
    let kazoo = Lines::spawn(
        "kazoo",
        Command::new("python3")
            .arg(clients_dir().join("kazoo_cutover.py"))
            .arg(&hosts)
            .arg(&done),
    );
    wait_for("kazoo ready", || kazoo.find("READY").is_some());

    // Our client crate: a session, an ephemeral, a one-shot data watch.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (client, watch) = rt.block_on(async {
        let client = Client::builder()
            .session_timeout(T)
            .connect(&hosts)
            .await
            .expect("connect");
        client
            .create(
                "/crate-eph",
                b"c",
                &open_acl_unsafe(),
                CreateMode::Ephemeral,
            )
            .await
            .expect("ephemeral");
        client
            .create(
                "/crate-watched",
                b"before",
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .expect("create");
        let (_, _, watch) = client.get_data_w("/crate-watched").await.expect("watch");
        (client, watch)
    });
    let crate_session = client.session_id();
    let marks: Vec<usize> = actors.iter().map(Lines::count).collect();

    // The cut-over.
    let promotes: Vec<Group> = cfgs
        .iter()
        .map(|(cfg, _)| {
            Group::spawn(
                ferrokeeper_command().args(["promote", "--config", cfg, "--timeout", "100"]),
                None,
            )
        })
        .collect();
    for (_, home) in &cfgs {
        wait_for("every promotion armed", || {
            home.join("ferrokeeper/promote").exists()
        });
    }
    for (vip, fk) in vips.iter().zip(&fks) {
        vip.redirect(*fk);
    }
    for m in 0..3 {
        zk.kill9(m);
    }
    for p in promotes {
        let out = p.finish("ferrokeeper promote", Duration::from_secs(120));
        assert!(out.status.success(), "promote failed\n{}", out.dump());
    }
    let mut modes: Vec<String> = fks.iter().filter_map(|a| mode(*a)).collect();
    modes.sort();
    assert_eq!(
        modes,
        vec!["follower", "follower", "leader"],
        "one Raft ensemble"
    );
    let promoted_at = Instant::now();

    // kazoo and the crate: same sessions, ephemerals there, watches fire.
    std::fs::write(&done, b"done").expect("done file");
    wait_for("kazoo's report", || kazoo.find("AFTER").is_some());
    assert_eq!(
        kazoo.find("AFTER").as_deref(),
        Some("AFTER same_session=True ephemeral=True lost=False"),
        "kazoo: {:?}",
        kazoo.all()
    );
    rt.block_on(async {
        let mut last = None;
        for _ in 0..300 {
            match client.exists("/crate-eph").await {
                Ok(stat) => {
                    last = Some(stat);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        let stat = last
            .expect("the crate's client reconnected")
            .expect("its ephemeral");
        assert_eq!(stat.ephemeral_owner, crate_session, "same session");
        client
            .set_data("/crate-watched", b"after", None)
            .await
            .expect("write through ferrokeeper");
        // kazoo's DataWatch waits for this node to appear.
        client
            .create(
                "/kazoo-watched",
                b"after",
                &open_acl_unsafe(),
                CreateMode::Persistent,
            )
            .await
            .expect("kazoo's watched node");
        let event = tokio::time::timeout(Duration::from_secs(30), watch)
            .await
            .expect("the watch fired in time")
            .expect("a watch event");
        assert_eq!(event.path, "/crate-watched");
    });
    wait_for("kazoo's watch", || kazoo.find("WATCH").is_some());
    assert_eq!(
        kazoo.find("WATCH").as_deref(),
        Some("WATCH after"),
        "{:?}",
        kazoo.all()
    );
    assert_eq!(client.session_id(), crate_session);

    // Mesos: nothing changed for T + 5 s after the cut-over (observing a time window is
    // the assertion here, not a synchronisation).
    let quiet_until = promoted_at + T + Duration::from_secs(5);
    while Instant::now() < quiet_until {
        std::thread::sleep(Duration::from_millis(100));
    }
    for (actor, mark) in actors.iter_mut().zip(marks) {
        let after: Vec<String> = actor.all().into_iter().skip(mark).collect();
        let changes: Vec<&String> = after
            .iter()
            .filter(|l| CHANGES.iter().any(|c| l.starts_with(c)))
            .collect();
        assert!(
            changes.is_empty(),
            "{} saw its view change across the cut-over (leader was {leader}): {changes:?}\n\
             all its lines: {:#?}\nferrokeeper's log:\n{}",
            actor.name,
            actor.all(),
            follower_log()
        );
        assert!(actor.running(), "{} exited: {:?}", actor.name, actor.all());
    }
    drop(client);
    drop(rt);
}
