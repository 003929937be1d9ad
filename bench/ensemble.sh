#!/usr/bin/env bash
# Side-by-side throughput of a 3-server ferrokeeper ensemble and a 3-server ZooKeeper 3.8
# ensemble (Debian's package) on this machine: creates, sets and gets from sessions spread
# over the three servers, medians of BENCH_ROUNDS rounds (default 3) of BENCH_DURATION
# seconds (default 10). Prints a markdown table with ratios (ferrokeeper / ZooKeeper).
#
#   bash bench/ensemble.sh
#
# Every server process is killed by pid when the run ends (tests/src/cluster.rs,
# tests/src/zk_ensemble.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p ferrokeeper-server
cargo test --release --locked -p ferrokeeper-tests --test bench_ensemble -- \
    --ignored --nocapture --test-threads 1
