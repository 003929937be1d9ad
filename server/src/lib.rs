//! The ferrokeeper server library.
//!
//! Module boundaries (see docs/ARCHITECTURE.md): `tree` and `state` are pure and
//! deterministic (no sockets, no Raft, no clocks); `watch` is the per-server watch
//! registry; `config` reads zoo.cfg, myid and flags.

pub mod admin;
pub mod commands;
pub mod config;
pub mod core;
pub mod dispatch;
pub mod launch;
pub mod metrics;
pub mod net;
pub mod proposal;
pub mod replication;
pub mod reply;
pub mod sasl;
pub mod server;
pub mod session;
pub mod simulation;
pub mod state;
pub mod tls;
pub mod tree;
pub mod watch;
pub mod zab;
pub mod zkfiles;
