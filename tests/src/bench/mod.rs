//! The `zkbench` load generator (binary `src/bin/zkbench.rs`, driven by `bench/run.sh`):
//! a pipelined raw-protocol client, so ZooKeeper and ferrokeeper see the same bytes,
//! and the markdown report. See `docs/BENCHMARKS.md`.

pub mod fanout;
pub mod hold;
pub mod load;
pub mod report;
pub mod sessions;
pub mod wire;
