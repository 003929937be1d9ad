//! The simulated disk under each member's Raft log. The log's files are real files in
//! a temporary directory, but no fsync reaches the OS: the log reports each fsync here
//! (how far the file was durable), and a simulated crash then keeps only that, plus a
//! random part of what followed (a write may reach the platter without its fsync), and
//! zeroes the rest: unsynced writes lost, the tail torn at any byte.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_server::simulation::Disk;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

struct State {
    rng: SmallRng,
    /// (device, inode) → bytes known durable (`u64::MAX`: the whole file).
    synced: BTreeMap<(u64, u64), u64>,
    /// fsync latency range, µs.
    latency_us: (u64, u64),
    /// Loses synced bytes too (see `Options::lying_disk`).
    lies: bool,
}

#[derive(Clone)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
}

fn key(meta: &std::fs::Metadata) -> (u64, u64) {
    (meta.dev(), meta.ino())
}

impl SimDisk {
    pub fn new(seed: u64, lies: bool) -> SimDisk {
        SimDisk {
            state: Arc::new(Mutex::new(State {
                rng: SmallRng::seed_from_u64(seed),
                synced: BTreeMap::new(),
                latency_us: (200, 3_000),
                lies,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slow disk for a while (or a normal one again).
    pub fn set_latency_us(&self, range: (u64, u64)) {
        self.lock().latency_us = range;
    }

    /// A crash of the member whose log is in `dir`: every file keeps what was synced
    /// and a random part of what followed; the rest reads as zeros. Returns how many
    /// files lost bytes.
    pub fn crash(&self, dir: &Path) -> std::io::Result<usize> {
        let mut names: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        let mut torn = 0;
        for path in names {
            let file = std::fs::OpenOptions::new().write(true).open(&path)?;
            let meta = file.metadata()?;
            let len = meta.len();
            let mut state = self.lock();
            // A file the log never reported is left alone (the lock file, say).
            let Some(&synced) = state.synced.get(&key(&meta)) else {
                continue;
            };
            // The lying disk forgets up to 64 KiB of what it had promised was durable.
            let synced = if state.lies {
                let forgotten = state.rng.random_range(0..=64 * 1024);
                synced.min(len).saturating_sub(forgotten)
            } else {
                synced
            };
            if synced >= len {
                continue;
            }
            let kept = state.rng.random_range(0..=(len - synced).min(8 * 1024));
            let cut = synced + kept;
            drop(state);
            if cut < len {
                // Shrinking and growing back zero-fills, like a preallocated extent
                // whose writes never landed.
                file.set_len(cut)?;
                file.set_len(len)?;
                torn += 1;
            }
        }
        Ok(torn)
    }
}

impl Disk for SimDisk {
    fn fsync_latency(&self) -> Duration {
        let mut state = self.lock();
        let (lo, hi) = state.latency_us;
        Duration::from_micros(state.rng.random_range(lo..=hi.max(lo)))
    }

    fn synced(&self, file: &File, upto: u64) {
        let Ok(meta) = file.metadata() else {
            return;
        };
        let mut state = self.lock();
        let entry = state.synced.entry(key(&meta)).or_insert(0);
        // Durable bytes stay durable (overwriting them later does not undo that).
        *entry = (*entry).max(upto.min(meta.len()));
    }
}
