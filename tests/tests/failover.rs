//! Failover time, measured side by side: a 3-server ferrokeeper ensemble and a 3-server
//! Apache ZooKeeper 3.8 ensemble (Debian's), same tickTime, same client. The leader is
//! killed with SIGKILL while a session writes; the time from the kill to the first
//! acknowledged write is printed for each round. Only a generous bound is asserted (the
//! machines are shared), plus that no acknowledged write is lost.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateRequest, GetChildrenRequest, Request, Response, SyncRequest, perms,
};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::raw::RawClient;
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

/// The tick both ensembles run at; `FERROKEEPER_FAILOVER_TICK_MS` measures another
/// (the README's 2000, say).
const TICK_MS: u32 = 500;
const ROUNDS_ENV: &str = "FERROKEEPER_FAILOVER_ROUNDS";

fn tick_ms() -> u32 {
    std::env::var("FERROKEEPER_FAILOVER_TICK_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(TICK_MS)
}

const ROUNDS: usize = 3;

/// A session that writes `/acked/<n>` and, when its connection goes, resumes on
/// whichever member takes it.
struct Writer {
    client: Option<RawClient>,
    session: (i64, Bytes),
    last_zxid: i64,
    next: usize,
    acked: BTreeSet<String>,
}

impl Writer {
    fn new(e: &dyn Ensemble) -> Writer {
        let (mut client, _) = RawClient::connect(e.client_addr(0), 10_000, None).expect("connect");
        let frames = client
            .call(Request::Create(CreateRequest {
                path: "/acked".into(),
                data: None,
                acl: perms::open_acl_unsafe(),
                flags: 0,
            }))
            .expect("create /acked");
        assert_eq!(frames.last().expect("reply").header.err, 0);
        Writer {
            session: (client.session_id, client.passwd.clone()),
            last_zxid: client.last_zxid,
            client: Some(client),
            next: 0,
            acked: BTreeSet::new(),
        }
    }

    /// One create; true when acknowledged.
    fn write(&mut self, e: &dyn Ensemble) -> bool {
        if self.client.is_none() {
            for member in (0..e.size()).filter(|m| e.is_running(*m)) {
                if let Ok((client, response)) = RawClient::connect_seen(
                    e.client_addr(member),
                    10_000,
                    Some(self.session.clone()),
                    self.last_zxid,
                ) {
                    assert_eq!(
                        response.session_id,
                        self.session.0,
                        "session lost on {}",
                        e.name()
                    );
                    self.client = Some(client);
                    break;
                }
            }
        }
        let Some(client) = self.client.as_mut() else {
            std::thread::sleep(Duration::from_millis(20));
            return false;
        };
        let name = format!("{:06}", self.next);
        let reply = client.call(Request::Create(CreateRequest {
            path: format!("/acked/{name}"),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 0,
        }));
        match reply.as_ref().map(|f| f.last().expect("reply").header.err) {
            // -110: an earlier attempt of this create landed before its connection went.
            Ok(0) | Ok(-110) => {
                self.last_zxid = client.last_zxid;
                self.acked.insert(name);
                self.next += 1;
                true
            }
            Ok(code) => panic!("create on {}: error {code}", e.name()),
            Err(_) => {
                self.client = None;
                false
            }
        }
    }
}

/// Everything under `/acked` as `member` sees it after a sync. A member restarted a
/// moment ago may still close new connections (while it is not serving yet, or when a
/// snapshot from the leader replaces its state): it is asked again, for up to 30 s.
fn acked_on(e: &dyn Ensemble, member: usize) -> BTreeSet<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match try_acked_on(e, member) {
            Ok(seen) => return seen,
            Err(why) => {
                assert!(
                    Instant::now() < deadline,
                    "{} member {member} did not answer within 30 s: {why}; log:\n{}",
                    e.name(),
                    e.log_tail(member)
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

fn try_acked_on(e: &dyn Ensemble, member: usize) -> std::io::Result<BTreeSet<String>> {
    let (mut client, _) = RawClient::connect(e.client_addr(member), 10_000, None)?;
    client.call(Request::Sync(SyncRequest { path: "/".into() }))?;
    let frames = client.call(Request::GetChildren(GetChildrenRequest {
        path: "/acked".into(),
        watch: false,
    }))?;
    match &frames.last().expect("reply").response {
        Response::GetChildren(r) => Ok(r.children.iter().cloned().collect()),
        other => panic!("getChildren: {other:?}"),
    }
}

fn wait_leader(e: &dyn Ensemble) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(leader) = e.leader() {
            return leader;
        }
        assert!(Instant::now() < deadline, "{}: no leader", e.name());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills the leader `ROUNDS` times; returns each kill-to-first-write time.
fn failovers(e: &mut dyn Ensemble) -> Vec<Duration> {
    let mut writer = Writer::new(e);
    let mut times = Vec::new();
    let rounds = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ROUNDS);
    for _ in 0..rounds {
        while writer.acked.len() < (times.len() + 1) * 20 {
            writer.write(e);
        }
        let leader = wait_leader(e);
        e.kill9(leader);
        let killed = Instant::now();
        while !writer.write(e) {
            assert!(
                killed.elapsed() < Duration::from_secs(60),
                "{}: no write within 60 s of the leader's kill",
                e.name()
            );
        }
        times.push(killed.elapsed());
        e.restart(leader);
    }
    for member in 0..e.size() {
        let seen = acked_on(e, member);
        let missing: Vec<&String> = writer.acked.difference(&seen).collect();
        assert!(
            missing.is_empty(),
            "{} member {member} lost {missing:?}",
            e.name()
        );
    }
    times
}

#[test]
fn leader_kill_failover_ferrokeeper_and_zookeeper() {
    let tick = tick_ms();
    let mut options = ClusterOptions::new(3);
    options.tick_ms = tick;
    let mut ferrokeeper = FerrokeeperEnsemble::start(options);
    let ours = failovers(&mut ferrokeeper);
    drop(ferrokeeper);
    let mut zookeeper = RealZooKeeperEnsemble::start(3, u64::from(tick), &[]);
    let theirs = failovers(&mut zookeeper);
    drop(zookeeper);
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    eprintln!(
        "leader kill -9 -> first acknowledged write, tickTime {tick} ms, {} rounds:\n  \
         ferrokeeper {ours:?} (median {:?})\n  zookeeper   {theirs:?} (median {:?})",
        ours.len(),
        median(&ours),
        median(&theirs)
    );
    for t in ours.iter().chain(&theirs) {
        assert!(*t < Duration::from_secs(30), "a failover took {t:?}");
    }
}
