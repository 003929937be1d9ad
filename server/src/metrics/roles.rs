//! Elections as ZooKeeper counts them, read off the role this server reports: each loss
//! of a leader or quorum is a `looking_count`, the time until it serves again is an
//! `election_time`, and the moment it became leader gives `leader_uptime`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::replication::Role;

fn leader_since() -> &'static Mutex<Option<Instant>> {
    static SINCE: Mutex<Option<Instant>> = Mutex::new(None);
    &SINCE
}

/// How long this server has led, if it leads (`leader_uptime`).
pub fn leader_uptime() -> Option<Duration> {
    leader_since()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .map(|since| since.elapsed())
}

/// Follows `role` until `stop`, recording elections and leadership. A server starts
/// looking when it starts, as ZooKeeper's peers do.
pub async fn track_roles(mut role: watch::Receiver<Role>, stop: CancellationToken) {
    let metrics = super::global();
    let mut looking_since = Some(Instant::now());
    loop {
        let now = *role.borrow_and_update();
        match now {
            Role::NotServing => {
                if looking_since.is_none() {
                    metrics
                        .looking_count
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    looking_since = Some(Instant::now());
                }
            }
            _ => {
                if let Some(since) = looking_since.take() {
                    metrics.election_time.observe_duration(since.elapsed());
                }
            }
        }
        {
            let mut since = leader_since().lock().unwrap_or_else(|p| p.into_inner());
            match (now == Role::Leader, since.is_some()) {
                (true, false) => *since = Some(Instant::now()),
                (false, true) => *since = None,
                _ => {}
            }
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = role.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}
