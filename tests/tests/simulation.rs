//! The deterministic simulation (`ferrokeeper_tests::simulation`) in CI: a few hundred
//! seeds in shards (so both cores share them), replay checked to be exact, and the
//! checks shown able to fail. `FERROKEEPER_SIM_SEEDS` sets the seeds per shard (a long
//! campaign: `cargo run -p ferrokeeper-tests --bin simulate -- --seeds 5000`).

use ferrokeeper_tests::simulation::{self, Options};

/// Seeds per shard unless `FERROKEEPER_SIM_SEEDS` says otherwise.
const SEEDS_PER_SHARD: u64 = 40;

fn seeds_per_shard() -> u64 {
    std::env::var("FERROKEEPER_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SEEDS_PER_SHARD)
}

/// Runs shard `shard`'s seeds; fails with every failing seed and its replay command.
fn shard(shard: u64) {
    let n = seeds_per_shard();
    let failures: Vec<String> = (shard * n..(shard + 1) * n)
        .filter_map(|seed| simulation::run(seed).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {n} seeds failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn seeds_shard_0() {
    shard(0);
}

#[test]
fn seeds_shard_1() {
    shard(1);
}

#[test]
fn seeds_shard_2() {
    shard(2);
}

#[test]
fn seeds_shard_3() {
    shard(3);
}

#[test]
fn seeds_shard_4() {
    shard(4);
}

/// A seed replays exactly: the same faults, the same operations and results, the same
/// final state.
#[test]
fn a_seed_replays_exactly() {
    for seed in [7, 1_000_003] {
        let first = simulation::run(seed).unwrap_or_else(|e| panic!("{e}"));
        let again = simulation::run(seed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, again, "seed {seed} did not replay exactly");
        assert!(
            first.acknowledged > 100,
            "seed {seed} did too little: {first:?}"
        );
        assert!(!first.faults.is_empty(), "seed {seed} injected no fault");
    }
    let other = simulation::run(8).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(
        simulation::run(7).map(|r| r.fingerprint).ok(),
        Some(other.fingerprint),
        "two seeds ran alike: the seed does not reach the run"
    );
}

/// With a disk that loses what it had synced, acknowledged writes get lost, and the
/// checks say so: the simulation can fail.
#[test]
fn a_lying_disk_is_caught() {
    let caught = (0..40).find_map(|seed| {
        simulation::run_with(seed, Options { lying_disk: true })
            .err()
            .map(|e| (seed, e))
    });
    let (seed, why) = caught.expect("40 seeds on a disk that loses synced writes all passed");
    eprintln!("seed {seed} caught the lying disk: {why}");
}
