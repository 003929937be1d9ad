//! The sync thread: group commit. It takes every request queued so far, runs one
//! fdatasync that covers all of them (their bytes were written before they were queued),
//! and only then completes them, in queue order.

use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex, mpsc};

use openraft::storage::IOFlushed;

use super::super::types::TypeConfig;
use super::SyncMode;

/// At most this many requests share one fdatasync, so completions are not delayed
/// without bound under a flood of writes.
const MAX_BATCH: usize = 4096;

/// What to do once a write is durable.
pub enum Done {
    /// openraft's append callback.
    Flushed(IOFlushed<TypeConfig>),
    /// A waiting `save_vote`, `truncate_after` or `purge`.
    Notify(tokio::sync::oneshot::Sender<io::Result<()>>),
}

impl Done {
    fn complete(self, result: io::Result<()>) {
        match self {
            Done::Flushed(cb) => cb.io_completed(result),
            Done::Notify(tx) => {
                // The waiter may have gone away (its future was dropped); nothing to do.
                let _ = tx.send(result);
            }
        }
    }
}

pub struct SyncRequest {
    /// The segment the request's bytes went to (older segments are fsynced when sealed).
    pub file: Arc<File>,
    /// How far the segment had been written when the request was queued.
    pub upto: u64,
    pub done: Done,
}

/// Where the log's writers queue their sync requests.
pub enum SyncQueue {
    /// The sync thread.
    Thread(mpsc::Sender<SyncRequest>),
    /// The simulation's sync task (see [`crate::simulation`]).
    Task(tokio::sync::mpsc::UnboundedSender<SyncRequest>),
}

impl SyncQueue {
    /// Queues `request`; gives it back if the worker has stopped.
    pub fn send(&self, request: SyncRequest) -> Result<(), SyncRequest> {
        match self {
            SyncQueue::Thread(tx) => tx.send(request).map_err(|e| e.0),
            SyncQueue::Task(tx) => tx.send(request).map_err(|e| e.0),
        }
    }
}

/// Starts the sync thread (a task under a simulation); it stops when every sender is
/// dropped.
pub fn spawn(mode: SyncMode, failed: Arc<Mutex<Option<String>>>) -> io::Result<SyncQueue> {
    if let Some(sim) = crate::simulation::current() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(run_simulated(rx, mode, sim.disk.clone(), failed));
        return Ok(SyncQueue::Task(tx));
    }
    let (tx, rx) = mpsc::channel::<SyncRequest>();
    std::thread::Builder::new()
        .name("raft-log-sync".into())
        .spawn(move || run(rx, mode, failed))?;
    Ok(SyncQueue::Thread(tx))
}

/// The sync thread's loop on the simulation's thread: a batch takes the simulated disk's
/// fsync latency, and the disk learns what became durable (a simulated crash loses the
/// rest).
async fn run_simulated(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<SyncRequest>,
    mode: SyncMode,
    disk: Arc<dyn crate::simulation::Disk>,
    failed: Arc<Mutex<Option<String>>>,
) {
    let mut batch = Vec::new();
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let earlier = failed.lock().ok().and_then(|f| f.clone());
        if mode == SyncMode::Fsync && earlier.is_none() {
            tokio::time::sleep(disk.fsync_latency()).await;
            if let Some(last) = batch.last() {
                disk.synced(&last.file, last.upto);
            }
        }
        for req in batch.drain(..) {
            req.done.complete(match &earlier {
                None => Ok(()),
                Some(why) => Err(io::Error::other(format!("raft log failed earlier: {why}"))),
            });
        }
    }
}

fn run(rx: mpsc::Receiver<SyncRequest>, mode: SyncMode, failed: Arc<Mutex<Option<String>>>) {
    let mut batch = Vec::new();
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let result = sync_batch(&batch, mode, &failed);
        for req in batch.drain(..) {
            req.done.complete(match &result {
                Ok(()) => Ok(()),
                Err(why) => Err(io::Error::other(why.clone())),
            });
        }
    }
    tracing::debug!("raft log sync thread stopped");
}

fn sync_batch(
    batch: &[SyncRequest],
    mode: SyncMode,
    failed: &Mutex<Option<String>>,
) -> Result<(), String> {
    if let Some(why) = failed
        .lock()
        .map_err(|_| "lock poisoned".to_string())?
        .as_ref()
    {
        return Err(format!("raft log failed earlier: {why}"));
    }
    if mode == SyncMode::NoSync {
        return Ok(());
    }
    // Requests are queued in write order, so the last one's file is the newest segment,
    // and one fdatasync of it covers the whole batch.
    let Some(last) = batch.last() else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let synced = last.file.sync_data();
    let metrics = crate::metrics::global();
    let took = started.elapsed();
    metrics.fsynctime.observe_duration(took);
    if took > std::time::Duration::from_secs(1) {
        tracing::warn!(?took, "fsync of the raft log took longer than 1 s");
        crate::metrics::FSYNC_OVER_THRESHOLD.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    metrics
        .sync_processor_batch_size
        .observe(batch.len() as u64);
    if let Err(e) = synced {
        crate::metrics::count(|m| &m.unrecoverable_error_count);
        // After a failed fdatasync the kernel may have dropped the dirty pages; retrying
        // could report success for lost data, so the store stops here for good.
        let why = format!("fdatasync failed: {e}");
        tracing::error!("raft log: {why}; refusing further writes");
        if let Ok(mut f) = failed.lock() {
            f.get_or_insert_with(|| why.clone());
        }
        return Err(why);
    }
    Ok(())
}

/// fsyncs a log file whose data ends at `upto` (a new, sealed or repaired segment; the
/// directory: `u64::MAX`). Under a simulation the simulated disk records it instead.
pub fn sync_whole(file: &File, upto: u64) -> io::Result<()> {
    match crate::simulation::current() {
        Some(sim) => {
            sim.disk.synced(file, upto);
            Ok(())
        }
        None => file.sync_all(),
    }
}
