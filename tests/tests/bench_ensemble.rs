//! Side-by-side throughput of a 3-server ferrokeeper ensemble and a 3-server Apache
//! ZooKeeper 3.8 ensemble (Debian's) on this machine: the same pipelined workloads
//! (`bench::load`), sessions spread over the three servers, forceSync on for both.
//! Ignored by default (it measures, it does not check); `bash bench/ensemble.sh` runs it
//! in release mode and prints the table. Ensembles run one after the other, never at
//! the same time.

use std::time::Duration;

use ferrokeeper_tests::bench::load::{self, RunConfig, Workload};
use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble;
use ferrokeeper_tests::zk_ensemble::RealZooKeeperEnsemble;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Row {
    workload: &'static str,
    ops_per_s: Vec<f64>,
    p99_us: Vec<u64>,
}

fn median<T: PartialOrd + Copy>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn measure(e: &dyn Ensemble, rounds: usize) -> Vec<Row> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let addrs: Vec<_> = (0..e.size()).map(|m| e.client_addr(m)).collect();
    let duration = Duration::from_secs_f64(env_or("BENCH_DURATION", 10.0));
    let mut rows = Vec::new();
    for workload in [Workload::Create, Workload::Set, Workload::Get] {
        let mut row = Row {
            workload: workload.name(),
            ops_per_s: Vec::new(),
            p99_us: Vec::new(),
        };
        for round in 0..rounds {
            let cfg = RunConfig {
                addrs: addrs.clone(),
                workload,
                sessions: env_or("BENCH_SESSIONS", 6),
                inflight: env_or("BENCH_INFLIGHT", 16),
                warmup: Duration::from_secs(2),
                duration,
                data_size: if workload == Workload::Create {
                    100
                } else {
                    1024
                },
                create_parent: format!("/bench-create-{round}"),
                kv_parent: "/bench-kv".into(),
                keys: 1000,
                seed: 42 + round as u64,
            };
            let outcome = runtime.block_on(load::run(&cfg)).expect("workload");
            assert_eq!(
                outcome.stats.errors,
                0,
                "{}: errors during {}",
                e.name(),
                workload.name()
            );
            let ops = outcome.stats.ops_in_window as f64 / outcome.window.as_secs_f64();
            let hist = &outcome.stats.hist;
            eprintln!(
                "{} {} round {}: {ops:.0} ops/s, p99 {} us",
                e.name(),
                workload.name(),
                round + 1,
                hist.value_at_quantile(0.99)
            );
            row.ops_per_s.push(ops);
            row.p99_us.push(hist.value_at_quantile(0.99));
        }
        rows.push(row);
    }
    rows
}

#[test]
#[ignore = "a benchmark: run with bash bench/ensemble.sh"]
fn ensemble_throughput_against_zookeeper() {
    let rounds = env_or("BENCH_ROUNDS", 3usize);
    let tick = 2000;
    let mut options = ClusterOptions::new(3);
    options.tick_ms = tick;
    let ours = {
        let ensemble = FerrokeeperEnsemble::start(options);
        measure(&ensemble, rounds)
    };
    let theirs = {
        let ensemble = RealZooKeeperEnsemble::start(3, u64::from(tick), &[]);
        measure(&ensemble, rounds)
    };
    println!(
        "| workload | ferrokeeper ops/s | ZooKeeper ops/s | ratio | p99 µs ferrokeeper / ZooKeeper |"
    );
    println!("|---|---|---|---|---|");
    for (a, b) in ours.iter().zip(&theirs) {
        let (fa, fb) = (median(&a.ops_per_s), median(&b.ops_per_s));
        println!(
            "| {} | {fa:.0} | {fb:.0} | **{:.2}** | {} / {} |",
            a.workload,
            fa / fb,
            median(&a.p99_us),
            median(&b.p99_us)
        );
    }
}
