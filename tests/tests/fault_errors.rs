//! What a leader fault costs the clients, side by side: five sessions of the client
//! crate write (creates and compare-and-set updates) against a 3-server ferrokeeper
//! ensemble and a 3-server Apache ZooKeeper 3.8 ensemble at the README's tickTime; the
//! leader is killed with SIGKILL (or paused with SIGSTOP), and the operations that
//! failed before every session wrote again are counted. The counts are printed (the machines are shared, so no
//! ratio is asserted); asserted are that every session keeps its session and writes
//! again, and a generous bound of four failures per session and kill on ferrokeeper.
//! (Before a member judged resumed sessions behind the leader's commits, the sessions
//! failed 27 to 79 times per kill: each resumed on a member still pointing at the dead
//! leader and had its write refused at once, again and again until the election.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ferrokeeper_client::{Client, CreateMode, Error, open_acl_unsafe};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

const TICK_MS: u32 = 2000;
const SESSIONS: usize = 5;
const ROUNDS: usize = 3;

/// What happens to the leader.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// SIGKILL, then a restart once every session wrote again.
    Kill,
    /// SIGSTOP, then SIGCONT once every session wrote again (a long GC pause, a frozen
    /// VM): the old leader comes back behind a new one.
    Pause,
}

fn signal(e: &dyn Ensemble, member: usize, signal: &str) {
    let pid = e.pid(member).expect("the member runs");
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}

/// The leader, waiting (bounded) while there is none.
async fn leader(e: &dyn Ensemble) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(leader) = tokio::task::block_in_place(|| e.leader()) {
            return leader;
        }
        assert!(Instant::now() < deadline, "{}: no leader", e.name());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One session's counts.
#[derive(Default)]
struct Counts {
    done: AtomicUsize,
    failed: AtomicUsize,
    expired: AtomicBool,
}

/// A session that creates its own nodes and bumps a counter node by compare-and-set,
/// one operation at a time, until `stop`.
async fn work(client: Client, id: usize, counts: Arc<Counts>, stop: Arc<AtomicBool>) {
    let acl = open_acl_unsafe();
    let counter = format!("/fe/counter-{id}");
    let mut n = 0u64;
    while !stop.load(Ordering::SeqCst) {
        let result = if n.is_multiple_of(2) {
            client
                .create(
                    &format!("/fe/s{id}-"),
                    b"x",
                    &acl,
                    CreateMode::PersistentSequential,
                )
                .await
                .map(|_| ())
        } else {
            match client.get_data(&counter).await {
                Ok((_, stat)) => client
                    .set_data(&counter, &n.to_be_bytes(), Some(stat.version))
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            }
        };
        match result {
            // A compare-and-set that lost to its own retried write is not a failure.
            Ok(()) | Err(Error::BadVersion) => {
                counts.done.fetch_add(1, Ordering::SeqCst);
            }
            Err(Error::SessionExpired) => {
                counts.expired.store(true, Ordering::SeqCst);
                return;
            }
            Err(_) => {
                counts.failed.fetch_add(1, Ordering::SeqCst);
            }
        }
        n += 1;
    }
    let _ = client.close().await;
}

/// Waits until every session has done `more` operations beyond `from` (bounded).
async fn progress(all: &[Arc<Counts>], from: &[usize], more: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if all
            .iter()
            .zip(from)
            .all(|(c, f)| c.done.load(Ordering::SeqCst) >= f + more)
        {
            return;
        }
        assert!(
            all.iter().all(|c| !c.expired.load(Ordering::SeqCst)),
            "{what}: a session expired"
        );
        assert!(Instant::now() < deadline, "{what}: no progress within 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Hits the leader with `fault` `rounds` times; returns the failed operations of all
/// sessions in each round.
async fn failed_per_fault(e: &mut dyn Ensemble, fault: Fault, rounds: usize) -> Vec<usize> {
    let connect_string = e.connect_string();
    let setup = Client::builder()
        .session_timeout(Duration::from_secs(30))
        .connect(&connect_string)
        .await
        .expect("connect");
    let acl = open_acl_unsafe();
    setup
        .create("/fe", b"", &acl, CreateMode::Persistent)
        .await
        .expect("create /fe");
    for id in 0..SESSIONS {
        setup
            .create(
                &format!("/fe/counter-{id}"),
                b"",
                &acl,
                CreateMode::Persistent,
            )
            .await
            .expect("create a counter");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let mut all = Vec::new();
    let mut tasks = Vec::new();
    for id in 0..SESSIONS {
        let client = Client::builder()
            .session_timeout(Duration::from_secs(30))
            .connect(&connect_string)
            .await
            .expect("connect");
        let counts = Arc::new(Counts::default());
        all.push(counts.clone());
        tasks.push(tokio::spawn(work(client, id, counts, stop.clone())));
    }
    let mut per_round = Vec::new();
    for _ in 0..rounds {
        let now: Vec<usize> = all.iter().map(|c| c.done.load(Ordering::SeqCst)).collect();
        progress(&all, &now, 20, e.name()).await;
        let before: usize = all.iter().map(|c| c.failed.load(Ordering::SeqCst)).sum();
        let done: Vec<usize> = all.iter().map(|c| c.done.load(Ordering::SeqCst)).collect();
        let leader = leader(e).await;
        match fault {
            Fault::Kill => tokio::task::block_in_place(|| e.kill9(leader)),
            Fault::Pause => signal(e, leader, "-STOP"),
        }
        progress(&all, &done, 5, e.name()).await;
        let after: usize = all.iter().map(|c| c.failed.load(Ordering::SeqCst)).sum();
        per_round.push(after - before);
        match fault {
            Fault::Kill => tokio::task::block_in_place(|| e.restart(leader)),
            Fault::Pause => signal(e, leader, "-CONT"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("a session's task ends")
            .expect("task");
    }
    let _ = setup.close().await;
    per_round
}

/// Runs `fault` on a ferrokeeper ensemble, then on a ZooKeeper one; prints both.
async fn side_by_side(fault: Fault, rounds: usize) -> (Vec<usize>, Vec<usize>) {
    let mut ferrokeeper = tokio::task::spawn_blocking(|| {
        let mut options = ClusterOptions::new(3);
        options.tick_ms = TICK_MS;
        FerrokeeperEnsemble::start(options)
    })
    .await
    .expect("start ferrokeeper");
    let ours = failed_per_fault(&mut ferrokeeper, fault, rounds).await;
    drop(ferrokeeper);
    let mut zookeeper =
        tokio::task::spawn_blocking(|| RealZooKeeperEnsemble::start(3, u64::from(TICK_MS), &[]))
            .await
            .expect("start ZooKeeper");
    let theirs = failed_per_fault(&mut zookeeper, fault, rounds).await;
    drop(zookeeper);
    eprintln!(
        "failed operations per leader fault ({fault:?}), {SESSIONS} sessions, tickTime \
         {TICK_MS} ms, {rounds} rounds:\n  ferrokeeper {ours:?}\n  zookeeper   {theirs:?}"
    );
    (ours, theirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_operations_per_leader_kill_ferrokeeper_and_zookeeper() {
    let (ours, theirs) = side_by_side(Fault::Kill, ROUNDS).await;
    for failed in &ours {
        assert!(
            *failed <= 4 * SESSIONS,
            "{failed} failed operations for one leader kill (ferrokeeper {ours:?}, \
             zookeeper {theirs:?})"
        );
    }
}

/// The same with the leader paused (SIGSTOP) instead of killed. Printed only: a paused
/// leader's sessions wait for their read timeout in both servers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_operations_per_paused_leader_ferrokeeper_and_zookeeper() {
    side_by_side(Fault::Pause, 2).await;
}
