//! Logging quota breaches as ZooKeeper does: a warning naming the quota, the usage the
//! write would reach and the limit, at most once a second (ZooKeeper's `RateLogger`),
//! so a client hammering a full quota cannot flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tree::QuotaBreach;

const INTERVAL: Duration = Duration::from_secs(1);

/// When the last line was written, and how many breaches went unlogged since.
static LAST: Mutex<Option<(Instant, u64)>> = Mutex::new(None);

pub(super) fn log(breaches: &[QuotaBreach]) {
    let Some(first) = breaches.first() else {
        return;
    };
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    match *last {
        Some((at, ref mut suppressed)) if now.duration_since(at) < INTERVAL => {
            *suppressed += breaches.len() as u64;
        }
        _ => {
            let suppressed = last.map_or(0, |(_, n)| n) + breaches.len() as u64 - 1;
            tracing::warn!(suppressed, "{first}");
            *last = Some((now, 0));
        }
    }
}
