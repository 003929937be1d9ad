//! The deterministic simulation of a ferrokeeper ensemble (3 or 5 members).
//!
//! One seed decides everything: the ensemble's size, the network's delays and losses,
//! the disk's fsync latencies and what a crash keeps, openraft's election timeouts,
//! tokio's scheduling choices (`select!`), the clients' operations and the fault
//! schedule (crashes and restarts, partitions both ways and one way, lossy links,
//! slow disks, wall-clock jumps). Everything runs on one thread, on tokio's paused clock, through the seams of
//! `ferrokeeper_server::simulation`, so a seed replays exactly: a failure prints the
//! seed and the command that replays it.
//!
//! A run: start the members, create the registers, run the clients for a while under
//! faults, heal everything and restart every member, wait until every member has
//! applied the whole log, read every register from every member, then check (see
//! [`checks`]).

pub mod checks;
pub mod cluster;
pub mod disk;
pub mod network;
pub mod watches;
pub mod workload;

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_protocol::perms::open_acl_unsafe;
use ferrokeeper_server::simulation::{self as seams, Context};
use ferrokeeper_server::state::txn::{Txn, TxnResult, WriteOp};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use cluster::Cluster;
use disk::SimDisk;
use network::{LinkFaults, SimNetwork};
use workload::{Client, History, KEYS, WORKLOAD};

/// How long the healed ensemble may take to catch up (simulated time).
const CONVERGE_LIMIT: Duration = Duration::from_secs(120);
/// A run that has not ended after this much simulated time is a failure (a hang).
const RUN_LIMIT: Duration = Duration::from_secs(600);

/// What a passing run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub seed: u64,
    pub members: u64,
    pub faults: Vec<String>,
    pub acknowledged: u64,
    pub refused: u64,
    pub unknown: u64,
    pub sessions_expired: u64,
    /// Register operations checked for linearizability.
    pub register_ops: usize,
    /// Sessions whose replies were checked for monotonic zxids and FIFO writes, and
    /// the replies.
    pub sessions_checked: usize,
    pub session_ops: usize,
    /// Watches set and events delivered to the watchers.
    pub watches_set: u64,
    pub watch_events: u64,
    pub last_zxid: i64,
    /// Final synced reads that had to be tried again (a leader change right after
    /// healing): legal, but worth a look when a campaign shows many.
    pub final_read_retries: u64,
    /// A digest of the histories and the final state: equal for two runs of one seed.
    pub fingerprint: u64,
}

/// The one-line command that replays `seed`.
pub fn replay_command(seed: u64) -> String {
    format!("cargo run -p ferrokeeper-tests --bin simulate -- --seed {seed}")
}

/// How a run is set up beyond its seed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// A broken disk that loses synced bytes too, when a member crashes: acknowledged
    /// writes can then be lost, and the checks must notice (the test of the checks).
    pub lying_disk: bool,
}

/// A current-thread runtime on a paused clock whose scheduling choices (`select!`)
/// follow `seed`.
#[cfg(tokio_unstable)]
fn seeded_runtime(seed: u64) -> Result<tokio::runtime::Runtime, String> {
    let mut rng_seed = [0u8; 32];
    rng_seed[..8].copy_from_slice(&seed.to_le_bytes());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .rng_seed(tokio::runtime::RngSeed::from_bytes(&rng_seed))
        .build()
        .map_err(|e| format!("runtime: {e}"))
}

/// tokio seeds its scheduler only with `--cfg tokio_unstable`, which the workspace's
/// `.cargo/config.toml` sets; a `RUSTFLAGS` variable replaces it. Without it a run
/// could not replay, so none runs.
#[cfg(not(tokio_unstable))]
fn seeded_runtime(_seed: u64) -> Result<tokio::runtime::Runtime, String> {
    Err(
        "the simulation needs --cfg tokio_unstable (set by .cargo/config.toml; a \
         RUSTFLAGS variable overrides that file: add the flag to it)"
            .into(),
    )
}

/// Runs the simulation for `seed`; `Err` names what went wrong and how to replay it.
pub fn run(seed: u64) -> Result<Report, String> {
    run_with(seed, Options::default())
}

pub fn run_with(seed: u64, options: Options) -> Result<Report, String> {
    let runtime = seeded_runtime(seed)?;
    let mut master = SmallRng::seed_from_u64(seed);
    let network = SimNetwork::new(master.random());
    let disk = SimDisk::new(master.random(), options.lying_disk);
    let openraft_rng = Arc::new(Mutex::new(SmallRng::seed_from_u64(master.random())));
    let wall_offset = Arc::new(AtomicI64::new(0));
    // A fixed epoch (2026-01-01) plus the simulated clock plus any jumps.
    let epoch_ms = 1_767_225_600_000_i64;
    let result = runtime.block_on(async {
        let start = Instant::now();
        let wall = wall_offset.clone();
        seams::install(Context {
            network: Arc::new(network.clone()),
            disk: Arc::new(disk.clone()),
            random: Arc::new(move || {
                openraft_rng
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .random()
            }),
            wall_ms: Arc::new(move || {
                epoch_ms
                    + i64::try_from(start.elapsed().as_millis()).unwrap_or(0)
                    + wall.load(Ordering::Relaxed)
            }),
        });
        let outcome = tokio::time::timeout(
            RUN_LIMIT,
            simulate(seed, master, network, disk, wall_offset, start),
        )
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "the run did not end within {RUN_LIMIT:?} (simulated)"
            ))
        });
        seams::uninstall();
        outcome
    });
    // Whatever is still scheduled (lingering member tasks) goes with the runtime.
    drop(runtime);
    result.map_err(|e| format!("seed {seed}: {e}\n  replay: {}", replay_command(seed)))
}

async fn simulate(
    seed: u64,
    mut rng: SmallRng,
    network: SimNetwork,
    disk: SimDisk,
    wall_offset: Arc<AtomicI64>,
    start: Instant,
) -> Result<Report, String> {
    let members = if rng.random_bool(0.7) { 3 } else { 5 };
    let snapshot_every = rng.random_range(20..200);
    let cluster = Arc::new(
        Cluster::new(members, network.clone(), disk.clone(), snapshot_every)
            .map_err(|e| format!("directories: {e}"))?,
    );
    for id in 1..=members {
        cluster.start(id).await?;
    }
    setup(&cluster).await?;

    let history: workload::Shared = Arc::new(Mutex::new(History {
        keys: vec![Vec::new(); KEYS],
        ..History::default()
    }));
    let until = Instant::now() + WORKLOAD;
    let clients = rng.random_range(3..=5);
    let mut tasks = Vec::new();
    for index in 0..clients {
        let client = Client::new(
            index,
            cluster.clone(),
            history.clone(),
            rng.random(),
            start,
            until,
        );
        tasks.push(tokio::spawn(client.run()));
    }
    let watch_log: watches::Shared = Arc::default();
    let begin = until - WORKLOAD;
    let watchers: Vec<_> = (1..=members)
        .map(|id| {
            let watcher =
                watches::Watcher::new(id, cluster.clone(), watch_log.clone(), rng.random(), begin);
            tokio::spawn(watcher.run())
        })
        .collect();
    let faults = inject_faults(&cluster, &mut rng, &wall_offset, until).await?;
    for task in tasks {
        task.await.map_err(|e| format!("a client failed: {e}"))?;
    }
    let mut finished = Vec::new();
    for watcher in watchers {
        finished.push(
            watcher
                .await
                .map_err(|e| format!("a watcher failed: {e}"))?,
        );
    }

    // Heal: the network whole, every member up, the disks fast.
    network.heal_all();
    network.set_faults(LinkFaults::default());
    disk.set_latency_us((200, 3_000));
    for id in 1..=members {
        if cluster.running(id).is_none() {
            cluster.start(id).await?;
        }
    }
    converge(&cluster).await?;

    // Every member's synced view of every register ends the histories.
    let mut final_read_retries = 0;
    {
        for id in 1..=members {
            let running = cluster
                .running(id)
                .ok_or("a member is down after healing")?;
            for key in 0..KEYS {
                let call = workload::now_ns(start);
                let (reply, retries) = final_read(&running, key)
                    .await
                    .ok_or_else(|| format!("member {id} cannot sync after healing"))?;
                final_read_retries += retries;
                let returned = workload::now_ns(start);
                workload::lock(&history).keys[key].push(crate::history::linearizable::Operation {
                    client: 1_000 + id,
                    call,
                    returned: Some((returned, reply)),
                    input: crate::history::register::Call::Read,
                });
            }
        }
    }
    // The leader's duties (session expiry) may still be writing: take every member's
    // state at one instant at which all have applied the same entries.
    let mut snapshot_taken = None;
    for _ in 0..200 {
        let taken: Vec<(u64, u64, ferrokeeper_server::state::ZkState, String)> = (1..=members)
            .filter_map(|id| {
                let running = cluster.running(id)?;
                let f = running.replica.raft_facts();
                let facts = format!(
                    "member {id}: applied {} snapshot {} purged {}",
                    f.applied_index, f.snapshot_index, f.purged_index
                );
                let state = running.core.with_state(|zk, _| zk.clone());
                Some((id, f.applied_index, state, facts))
            })
            .collect();
        if taken.windows(2).all(|w| w[0].1 == w[1].1) {
            snapshot_taken = Some(taken);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken = snapshot_taken.ok_or("the members never held the same applied index")?;
    for watcher in finished {
        watcher.finish();
    }
    let watch_log = watch_log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let facts: Vec<String> = taken.iter().map(|t| t.3.clone()).collect();
    let states: Vec<(u64, ferrokeeper_server::state::ZkState)> = taken
        .into_iter()
        .map(|(id, _, state, _)| (id, state))
        .collect();
    cluster.stop_all().await;

    let history = std::mem::take(&mut *workload::lock(&history));
    let (_, state) = states.first().ok_or("no state")?;
    checks::identical(&states)
        .map_err(|e| format!("{e}\n  {}\n  faults: {faults:?}", facts.join("; ")))?;
    checks::registers(&history)?;
    checks::sequential_names(&history, state)?;
    checks::ephemerals(&history, state)?;
    for (session, ops) in &history.sessions {
        crate::history::session::check(*session, ops)?;
    }
    if let Some(first) = watch_log.violations.first() {
        return Err(format!(
            "watches: {first} ({} violations in all)",
            watch_log.violations.len()
        ));
    }

    let mut hasher = DefaultHasher::new();
    format!("{:?}", history.keys).hash(&mut hasher);
    history.sequential.hash(&mut hasher);
    history.ephemerals.hash(&mut hasher);
    format!("{state:?}").hash(&mut hasher);
    faults.hash(&mut hasher);
    (watch_log.registrations, watch_log.events).hash(&mut hasher);
    Ok(Report {
        seed,
        members,
        faults,
        acknowledged: history.acknowledged,
        refused: history.refused,
        unknown: history.unknown,
        sessions_expired: history.sessions_expired,
        register_ops: history.keys.iter().map(Vec::len).sum(),
        sessions_checked: history.sessions.len(),
        session_ops: history.sessions.iter().map(|(_, ops)| ops.len()).sum(),
        watches_set: watch_log.registrations,
        watch_events: watch_log.events,
        last_zxid: state.last_zxid(),
        final_read_retries,
        fingerprint: hasher.finish(),
    })
}

/// Waits for a leader, then creates the registers and the parents (retrying through
/// early elections).
async fn setup(cluster: &Cluster) -> Result<(), String> {
    let mut paths: Vec<(String, Option<bytes::Bytes>)> = (0..KEYS)
        .map(|k| {
            (
                workload::key_path(k),
                Some(bytes::Bytes::copy_from_slice(&0u64.to_be_bytes())),
            )
        })
        .collect();
    paths.push((workload::SEQUENTIAL_PARENT.into(), None));
    paths.push((workload::EPHEMERAL_PARENT.into(), None));
    let deadline = Instant::now() + Duration::from_secs(60);
    // Writes need a session: the setup's own (the leader expires it afterwards).
    const SETUP_SESSION: i64 = 1;
    loop {
        if Instant::now() > deadline {
            return Err("could not open the setup session".into());
        }
        let Some(running) = cluster.leader().and_then(|id| cluster.running(id)) else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let txn = Txn::CreateSession {
            session_id: SETUP_SESSION,
            timeout_ms: 4_000,
        };
        match workload::write(&running, SETUP_SESSION, txn).await {
            Some(TxnResult::SessionCreated) => break,
            Some(other) => return Err(format!("opening the setup session: {other:?}")),
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    for (path, data) in paths {
        loop {
            if Instant::now() > deadline {
                return Err(format!("could not create {path} before the faults began"));
            }
            let Some(running) = cluster.leader().and_then(|id| cluster.running(id)) else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            let op = WriteOp::Create {
                path: path.clone(),
                data: data.clone(),
                acl: open_acl_unsafe(),
                flags: 0,
                ttl: 0,
            };
            let txn = Txn::Write {
                session_id: SETUP_SESSION,
                auth: Vec::new(),
                op,
            };
            match workload::write(&running, SETUP_SESSION, txn).await {
                Some(
                    TxnResult::Created { .. }
                    | TxnResult::Error(ferrokeeper_protocol::ErrorCode::NodeExists),
                ) => break,
                Some(other) => return Err(format!("creating {path}: {other:?}")),
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

/// The fault schedule: one fault at a time, each followed by its repair, until `until`.
/// Returns what it did, for the report.
async fn inject_faults(
    cluster: &Cluster,
    rng: &mut SmallRng,
    wall_offset: &AtomicI64,
    until: Instant,
) -> Result<Vec<String>, String> {
    let mut done = Vec::new();
    let ids: Vec<u64> = cluster.members.keys().copied().collect();
    let pick = |rng: &mut SmallRng| ids[rng.random_range(0..ids.len())];
    // The leader (any member while there is none), or any member.
    let victim = |rng: &mut SmallRng, leader: bool| {
        let leading = if leader { cluster.leader() } else { None };
        leading.unwrap_or_else(|| pick(rng))
    };
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..1_500))).await;
        let lasting = Duration::from_millis(rng.random_range(200..5_000));
        match rng.random_range(0..10) {
            // A member (the leader, half the time) crashes and comes back.
            kind @ (0 | 1) => {
                let victim = victim(rng, kind == 0);
                let torn = cluster.crash(victim).await?;
                done.push(format!(
                    "crash {victim} (torn files {torn}) for {lasting:?}"
                ));
                tokio::time::sleep(lasting).await;
                cluster.start(victim).await?;
            }
            // A majority crashes at once (no quorum), then comes back.
            2 => {
                let quorum = ids.len() / 2 + 1;
                let mut victims = ids.clone();
                while victims.len() > quorum {
                    victims.remove(rng.random_range(0..victims.len()));
                }
                for v in &victims {
                    cluster.crash(*v).await?;
                }
                done.push(format!("crash {victims:?} for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                for v in &victims {
                    cluster.start(*v).await?;
                }
            }
            // A member (the leader, half the time) is cut off from the rest.
            kind @ (3 | 4) => {
                let victim = victim(rng, kind == 3);
                for other in ids.iter().filter(|o| **o != victim) {
                    cluster.network.cut(victim, *other);
                }
                done.push(format!("isolate {victim} for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                cluster.network.heal_all();
            }
            // The ensemble splits in two at random.
            5 => {
                let mut side: Vec<u64> = ids.clone();
                side.retain(|_| rng.random_bool(0.5));
                for a in &side {
                    for b in ids.iter().filter(|b| !side.contains(b)) {
                        cluster.network.cut(*a, *b);
                    }
                }
                done.push(format!("split {side:?} from the rest for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                cluster.network.heal_all();
            }
            // Lossy, slow links.
            6 => {
                let loss = rng.random_range(0.005..0.05);
                cluster.network.set_faults(LinkFaults {
                    delay_us: (500, 30_000),
                    loss,
                });
                done.push(format!("lossy links ({loss:.3}) for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                cluster.network.set_faults(LinkFaults::default());
            }
            // Slow disks.
            7 => {
                cluster.disk.set_latency_us((20_000, 200_000));
                done.push(format!("slow disks for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                cluster.disk.set_latency_us((200, 3_000));
            }
            // The leader can hear but not speak (or, half the time, any member).
            8 => {
                let leader_first = rng.random_bool(0.5);
                let victim = victim(rng, leader_first);
                for other in ids.iter().filter(|o| **o != victim) {
                    cluster.network.cut_one_way(victim, *other);
                }
                done.push(format!("{victim} cannot send for {lasting:?}"));
                tokio::time::sleep(lasting).await;
                cluster.network.heal_all();
            }
            // The wall clock jumps (NTP, a VM resumed): forwards or back.
            _ => {
                let jump = rng.random_range(-120_000..120_000);
                wall_offset.fetch_add(jump, Ordering::Relaxed);
                done.push(format!("wall clock jumps {jump} ms"));
            }
        }
    }
    Ok(done)
}

/// Waits until a leader serves and every member has applied everything it logged.
/// A synced read at the end, and how many times it was tried again. A leader change
/// right after healing is legal (a sync then fails once, as a client's would); a
/// member that cannot sync for `FINAL_READ_PATIENCE` of simulated time is a failure.
async fn final_read(
    running: &cluster::Running,
    key: usize,
) -> Option<(crate::history::register::Reply, u64)> {
    let deadline = Instant::now() + FINAL_READ_PATIENCE;
    let mut retries = 0;
    loop {
        if let Some((reply, _)) = workload::read(running, key).await {
            return Some((reply, retries));
        }
        if Instant::now() > deadline {
            return None;
        }
        retries += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const FINAL_READ_PATIENCE: Duration = Duration::from_secs(10);

async fn converge(cluster: &Cluster) -> Result<(), String> {
    let deadline = Instant::now() + CONVERGE_LIMIT;
    loop {
        if let Some(leader) = cluster.leader().and_then(|id| cluster.running(id)) {
            let target = leader.replica.raft_facts();
            let all = cluster.running_ids().into_iter().all(|id| {
                cluster.running(id).is_some_and(|r| {
                    let facts = r.replica.raft_facts();
                    facts.applied_index == target.last_log_index
                        && facts.last_log_index == target.last_log_index
                })
            });
            if all && target.committed_index == target.last_log_index {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            let facts: Vec<_> = cluster
                .running_ids()
                .into_iter()
                .filter_map(|id| Some((id, cluster.running(id)?.replica.raft_facts())))
                .collect();
            return Err(format!(
                "the healed ensemble did not converge within {CONVERGE_LIMIT:?}: {facts:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
