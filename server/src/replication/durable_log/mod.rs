//! A durable Raft log: our own segmented append-only WAL behind openraft's
//! [`RaftLogStorage`].
//!
//! Why not the `raft-log` crate (0.4.6): it does fdatasync before its flush callbacks and
//! batches them, but it pulls in five more crates (chunked-wal, codeq, fs2, …), logs via
//! `log`, treats any non-zero torn tail as fatal while reporting bare `io::Error`s, keeps a
//! payload cache of up to 1 GB, and openraft ships no example using it (there is no
//! `examples/log-wal`), so the glue for this alpha would be ours anyway. A small WAL here
//! gives us exactly the recovery rules below and a format we control.
//!
//! # Files
//! The directory holds `LOCK` (flock'd while open) and segments `seg-<seq>.wal`; see
//! [`format`] for the byte layout. Every segment starts with a checkpoint of the log's
//! metadata (vote, committed, purged, last log id), so whole old segments can be deleted
//! after a purge. The active segment is preallocated to `segment_size` (zero-filled); a
//! full segment is trimmed, fsynced and sealed before the next one is created (written as
//! `*.tmp`, fsynced, renamed, directory fsynced).
//!
//! # Durability
//! Writes go to the file (page cache) under the store's lock, so they are readable at once;
//! a dedicated sync thread then fdatasyncs and only afterwards completes openraft's
//! `IOFlushed` callbacks (group commit: every request queued while one fdatasync runs is
//! covered by the next one). `save_vote`, `truncate_after` and `purge` wait for their
//! fdatasync. Vote and log share one file stream, so they are never reordered. A failed
//! fdatasync poisons the store: every later operation fails (no retry, see "fsyncgate").
//!
//! # Recovery
//! On open every segment is scanned. A damaged record at the end of the last segment with
//! nothing valid after it is a torn tail (a crash mid-append): it is cut off and logged
//! with `warn!`. A damaged record anywhere else (in a sealed segment, or with valid records
//! after it) stops start-up with [`LogStoreError::Corrupt`] naming the file and offset.
//! To recover from that: if the other servers hold a quorum, remove this server from the
//! ensemble, move its data directory aside and re-add it empty (it is sent a snapshot);
//! if this is the only copy, `truncate -s <offset> <file>` and delete later segments,
//! which loses every entry from that offset on.

mod adapter;
mod content;
mod format;
mod recover;
mod segments;
mod sync;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::fs::{File, OpenOptions};
use std::io;
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};

use super::types::TypeConfig;
use content::*;
use format::{Checkpoint, DiskLogId, DiskVote, Kind, Parsed};
use recover::*;
use segments::*;
use sync::{Done, SyncRequest};

/// Whether appends are fdatasynced before they are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// fdatasync every batch before completing its callbacks (the default, and the only
    /// safe choice).
    Fsync,
    /// Never fdatasync appends: ZooKeeper's `forceSync=no`. **Unsafe**: an acknowledged
    /// entry or vote can be lost on power failure or kernel crash, which can break Raft's
    /// guarantees (lost committed writes, double votes). For tests and benchmarks.
    NoSync,
}

/// Tuning knobs for [`DurableLogStore::open_with`].
#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    pub sync: SyncMode,
    /// Size a segment is preallocated to and rolled at (64 MiB by default, like
    /// ZooKeeper's preallocation).
    pub segment_size: u64,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            sync: SyncMode::Fsync,
            segment_size: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogStoreError {
    #[error("raft log: cannot {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("raft log directory {path} is in use by another process (LOCK is held)")]
    Locked { path: PathBuf },
    #[error(
        "raft log corrupt: {path} at byte offset {offset}: {detail}. The server will not \
         start because committed entries may be at or after this point. To recover, remove \
         this server from the ensemble, move its data directory aside and re-add it (it \
         receives a snapshot); or, only if this is the last copy, `truncate -s {offset} {path}` \
         and delete later segment files, losing every entry from that offset on"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        detail: String,
    },
    #[error("raft log failed earlier and refuses further I/O: {0}")]
    Failed(String),
    #[error("raft log: {0}")]
    Invalid(String),
}

impl From<LogStoreError> for io::Error {
    fn from(e: LogStoreError) -> io::Error {
        let kind = match &e {
            LogStoreError::Io { source, .. } => source.kind(),
            LogStoreError::Corrupt { .. } => io::ErrorKind::InvalidData,
            LogStoreError::Invalid(_) => io::ErrorKind::InvalidInput,
            LogStoreError::Locked { .. } | LogStoreError::Failed(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> LogStoreError {
    let path = path.to_path_buf();
    move |source| LogStoreError::Io { op, path, source }
}

/// What clones of the store share: the files behind a lock, and the first I/O failure.
struct StoreState {
    core: RwLock<LogFiles>,
    /// Set once a write or fdatasync failed; the store then refuses all further I/O.
    failed: Arc<Mutex<Option<String>>>,
    /// The flock'd `LOCK` file; dropped by [`DurableLogStore::release`] or with the last
    /// clone.
    lock: Mutex<Option<File>>,
}

/// The durable Raft log store; cheap to clone (clones share the log).
#[derive(Clone)]
pub struct DurableLogStore {
    shared: Arc<StoreState>,
}

impl DurableLogStore {
    /// Opens (or creates) the log in `dir`, recovering from a torn tail.
    pub fn open(dir: &Path, sync: SyncMode) -> Result<Self, LogStoreError> {
        Self::open_with(
            dir,
            LogOptions {
                sync,
                ..LogOptions::default()
            },
        )
    }

    pub fn open_with(dir: &Path, opts: LogOptions) -> Result<Self, LogStoreError> {
        std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err("open", &lock_path))?;
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
            |_| LogStoreError::Locked {
                path: dir.to_path_buf(),
            },
        )?;

        let recovered = recover(dir, &opts)?;
        let failed = Arc::new(Mutex::new(None));
        let sync_tx = sync::spawn(opts.sync, failed.clone())
            .map_err(io_err("start the sync thread for", dir))?;
        let mut core = LogFiles {
            dir: dir.to_path_buf(),
            opts,
            content: recovered.content,
            segments: recovered.segments,
            active_seq: recovered.active_seq,
            write_offset: recovered.write_offset,
            active_start: recovered.active_start,
            sync_tx,
        };
        if let Some(p) = core.content.purged {
            core.remove_purged_segments(p.index)?;
        }
        tracing::info!(
            dir = %dir.display(),
            segments = core.segments.len(),
            last = ?core.content.last(),
            "raft log opened"
        );
        Ok(DurableLogStore {
            shared: Arc::new(StoreState {
                core: RwLock::new(core),
                failed,
                lock: Mutex::new(Some(lock)),
            }),
        })
    }

    /// Closes the store for good: every later operation on any clone fails, and the
    /// directory's lock is released now, not when the last clone goes (openraft's tasks
    /// may hold clones a little after its shutdown), so the log can be opened again in
    /// the same process at once.
    pub fn release(&self) {
        if let Ok(mut failed) = self.shared.failed.lock()
            && failed.is_none()
        {
            *failed = Some("the log store was closed".into());
        }
        if let Ok(mut lock) = self.shared.lock.lock() {
            lock.take();
        }
    }

    fn check_failed(&self) -> Result<(), LogStoreError> {
        let failed = self
            .shared
            .failed
            .lock()
            .map_err(|_| LogStoreError::Failed("lock poisoned".into()))?;
        match failed.as_ref() {
            Some(why) => Err(LogStoreError::Failed(why.clone())),
            None => Ok(()),
        }
    }

    fn fail(&self, why: &LogStoreError) {
        tracing::error!("raft log: {why}; refusing further I/O");
        if let Ok(mut f) = self.shared.failed.lock() {
            f.get_or_insert_with(|| why.to_string());
        }
    }

    fn core_read(&self) -> Result<std::sync::RwLockReadGuard<'_, LogFiles>, LogStoreError> {
        self.shared
            .core
            .read()
            .map_err(|_| LogStoreError::Failed("lock poisoned".into()))
    }

    fn core_write(&self) -> Result<std::sync::RwLockWriteGuard<'_, LogFiles>, LogStoreError> {
        self.shared
            .core
            .write()
            .map_err(|_| LogStoreError::Failed("lock poisoned".into()))
    }

    /// Writes `ops` and queues a sync; if `wait`, returns a receiver that resolves once
    /// they are durable.
    fn submit(&self, ops: Vec<Op>, done: Option<Done>) -> Result<(), LogStoreError> {
        self.check_failed()?;
        let mut core = self.core_write()?;
        if let Err(e) = core.write(ops) {
            self.fail(&e);
            return Err(e);
        }
        if let Some(done) = done {
            core.request_sync(done)?;
        }
        Ok(())
    }

    /// Writes `op` and waits until it is durable.
    async fn submit_durable(&self, op: Op) -> Result<(), io::Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(vec![op], Some(Done::Notify(tx)))?;
        rx.await
            .map_err(|_| io::Error::other("raft log sync thread stopped"))?
    }

    fn read_entries(&self, start: u64, end: u64) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        self.check_failed()?;
        if start >= end {
            return Ok(Vec::new());
        }
        let core = self.core_read()?;
        let locs: Vec<Loc> = core
            .content
            .index
            .range(start..end)
            .map(|(_, l)| *l)
            .collect();
        let mut out = Vec::with_capacity(locs.len());
        const MAX_RUN: u64 = 8 << 20;
        let mut i = 0;
        while i < locs.len() {
            // A run of entries in one segment read with one pread.
            let first = locs[i];
            let mut j = i + 1;
            while j < locs.len()
                && locs[j].seq == first.seq
                && locs[j].offset + locs[j].len - first.offset <= MAX_RUN
            {
                j += 1;
            }
            let last = locs[j - 1];
            let seg = core.segments.get(&first.seq).ok_or_else(|| {
                io::Error::other(format!("raft log: segment {} missing", first.seq))
            })?;
            let mut buf = vec![0u8; (last.offset + last.len - first.offset) as usize];
            seg.file
                .read_exact_at(&mut buf, first.offset)
                .map_err(io_err("read", &seg.path))?;
            for loc in &locs[i..j] {
                let rel = (loc.offset - first.offset) as usize;
                let corrupt = |detail: String| LogStoreError::Corrupt {
                    path: seg.path.clone(),
                    offset: loc.offset,
                    detail,
                };
                let entry = match format::parse_slice(&buf[rel..], loc.seq, loc.offset) {
                    Parsed::Record { kind, payload, .. } if kind == Kind::Entry as u8 => {
                        format::decode_entry(payload).map_err(corrupt)?
                    }
                    Parsed::Record { kind, .. } => {
                        return Err(corrupt(format!("expected an entry, found kind {kind}")).into());
                    }
                    Parsed::End => {
                        return Err(corrupt("expected an entry, found zeros".into()).into());
                    }
                    Parsed::Invalid(why) => return Err(corrupt(why).into()),
                };
                if entry.log_id != loc.log_id {
                    return Err(corrupt(format!(
                        "entry has log id {} where {} was written",
                        entry.log_id, loc.log_id
                    ))
                    .into());
                }
                out.push(entry);
            }
            i = j;
        }
        Ok(out)
    }
}

fn encode_op<T: serde::Serialize>(
    kind: Kind,
    value: &T,
    effect: RecordEffect,
) -> Result<Op, io::Error> {
    let payload =
        format::encode(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    Ok(Op {
        kind,
        payload,
        effect: Effect::Other(effect),
    })
}
