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

mod format;
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
use std::sync::{Arc, Mutex, RwLock, mpsc};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::{LogState, RaftLogReader};

use super::types::TypeConfig;
use format::{Checkpoint, DiskLogId, DiskVote, Kind, Parsed};
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

/// Where an entry's record is.
#[derive(Debug, Clone, Copy)]
struct Loc {
    log_id: LogIdOf<TypeConfig>,
    seq: u64,
    offset: u64,
    len: u64,
}

/// The log's logical content; replay at open and live writes both change it through
/// [`LogContent::apply`].
#[derive(Debug, Default)]
struct LogContent {
    vote: Option<VoteOf<TypeConfig>>,
    committed: Option<LogIdOf<TypeConfig>>,
    purged: Option<LogIdOf<TypeConfig>>,
    index: BTreeMap<u64, Loc>,
    /// Only while replaying: the oldest remaining segment starts after this log id, so
    /// entries between `purged` and it lived in deleted segments. Replay must show them
    /// purged, or the log has a hole.
    phantom: Option<LogIdOf<TypeConfig>>,
}

impl LogContent {
    fn last(&self) -> Option<LogIdOf<TypeConfig>> {
        self.index
            .values()
            .next_back()
            .map(|l| l.log_id)
            .or(self.phantom)
            .or(self.purged)
    }

    fn purged_next(&self) -> u64 {
        self.purged.map_or(0, |p| p.index + 1)
    }

    fn checkpoint(&self, seq: u64) -> Checkpoint {
        Checkpoint {
            seq,
            vote: self.vote.as_ref().map(DiskVote::from_vote),
            committed: self.committed.as_ref().map(DiskLogId::from_log_id),
            purged: self.purged.as_ref().map(DiskLogId::from_log_id),
            last: self.last().as_ref().map(DiskLogId::from_log_id),
        }
    }

    fn from_checkpoint(cp: &Checkpoint) -> Self {
        let purged = cp.purged.map(DiskLogId::to_log_id);
        let last = cp.last.map(DiskLogId::to_log_id);
        LogContent {
            vote: cp.vote.map(DiskVote::to_vote),
            committed: cp.committed.map(DiskLogId::to_log_id),
            purged,
            index: BTreeMap::new(),
            phantom: last.filter(|l| purged.is_none_or(|p| p.index < l.index)),
        }
    }

    /// Why an entry at `index` cannot be appended now, if it cannot: appends must leave no
    /// hole and must not reach into the purged prefix.
    fn check_append(&self, index: u64, next: Option<u64>) -> Result<(), String> {
        if let Some(p) = &self.purged
            && index <= p.index
        {
            return Err(format!(
                "entry {index} is at or below the purged log id {}",
                p.index
            ));
        }
        if let Some(ph) = &self.phantom
            && index <= ph.index
            && index != self.purged_next()
        {
            return Err(format!(
                "entry {index} overwrites entries of deleted segments (up to {})",
                ph.index
            ));
        }
        match next {
            Some(n) if index > n => Err(format!("entry {index} leaves a hole after {}", n - 1)),
            _ => Ok(()),
        }
    }

    fn next_index(&self) -> Option<u64> {
        self.last().map(|l| l.index + 1)
    }

    fn apply(&mut self, op: &RecordEffect) {
        match op {
            RecordEffect::Entry(loc) => {
                let index = loc.log_id.index;
                // Appending over existing entries replaces them and everything after.
                self.index.split_off(&index);
                self.index.insert(index, *loc);
                if self.phantom.is_some_and(|ph| index <= ph.index) {
                    self.phantom = None;
                }
            }
            RecordEffect::Vote(v) => self.vote = Some(*v),
            RecordEffect::Committed(c) => self.committed = *c,
            RecordEffect::TruncateAfter(id) => {
                let from = id.map_or(0, |id| id.index + 1);
                self.index.split_off(&from);
                if let Some(ph) = self.phantom
                    && from <= ph.index
                {
                    self.phantom = id.filter(|id| id.index >= self.purged_next());
                }
            }
            RecordEffect::Purge(id) => {
                self.index = self.index.split_off(&(id.index + 1));
                if self.purged.is_none_or(|p| p < *id) {
                    self.purged = Some(*id);
                }
                if self.phantom.is_some_and(|ph| ph.index <= id.index) {
                    self.phantom = None;
                }
            }
        }
    }
}

/// A record's effect on [`LogContent`].
enum RecordEffect {
    Entry(Loc),
    Vote(VoteOf<TypeConfig>),
    Committed(Option<LogIdOf<TypeConfig>>),
    TruncateAfter(Option<LogIdOf<TypeConfig>>),
    Purge(LogIdOf<TypeConfig>),
}

/// A record to write: its kind, its encoded payload, and its effect (entries get their
/// location when written).
struct Op {
    kind: Kind,
    payload: Vec<u8>,
    effect: Effect,
}

enum Effect {
    Entry(LogIdOf<TypeConfig>),
    Other(RecordEffect),
}

struct Segment {
    path: PathBuf,
    file: Arc<File>,
    /// For a sealed segment, the last log index when it was sealed: every live entry in it
    /// is at or below that index. `None` while active.
    sealed_last: Option<Option<u64>>,
}

/// The log's model and its segment files: what every read and append works on.
struct LogFiles {
    dir: PathBuf,
    opts: LogOptions,
    content: LogContent,
    segments: BTreeMap<u64, Segment>,
    active_seq: u64,
    /// Where the next record of the active segment goes.
    write_offset: u64,
    /// The end of the active segment's checkpoint record.
    active_start: u64,
    sync_tx: mpsc::Sender<SyncRequest>,
}

/// What clones of the store share: the files behind a lock, and the first I/O failure.
struct StoreState {
    core: RwLock<LogFiles>,
    /// Set once a write or fdatasync failed; the store then refuses all further I/O.
    failed: Arc<Mutex<Option<String>>>,
    _lock: File,
}

/// The durable Raft log store; cheap to clone (clones share the log).
#[derive(Clone)]
pub struct DurableLogStore {
    shared: Arc<StoreState>,
}

fn sync_dir(dir: &Path) -> Result<(), LogStoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err("fsync directory", dir))
}

fn open_rw(path: &Path) -> Result<File, LogStoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))
}

/// Grows `file` to `size` with allocated, zero-filled blocks, so appends do not change
/// the file size (which would cost fdatasync a metadata journal commit).
fn preallocate(file: &File, path: &Path, size: u64) -> Result<(), LogStoreError> {
    let len = file.metadata().map_err(io_err("stat", path))?.len();
    if len >= size {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), len, size - len) {
        Ok(()) => Ok(()),
        Err(e) => {
            // Some file systems cannot preallocate; the log works without it.
            tracing::debug!(path = %path.display(), "raft log: fallocate failed ({e}); not preallocating");
            Ok(())
        }
    }
}

/// Creates segment `seq` holding its header and `checkpoint`, durably.
fn create_segment(
    dir: &Path,
    seq: u64,
    checkpoint: &Checkpoint,
    size: u64,
) -> Result<(Segment, u64), LogStoreError> {
    let path = dir.join(format::segment_file_name(seq));
    let tmp = dir.join(format!("{}.tmp", format::segment_file_name(seq)));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io_err("create", &tmp))?;
    let payload = format::encode(checkpoint).map_err(LogStoreError::Invalid)?;
    let mut buf = format::file_header(seq).to_vec();
    format::encode_record(
        seq,
        format::FILE_HEADER_LEN,
        Kind::Checkpoint,
        &payload,
        &mut buf,
    );
    file.write_all_at(&buf, 0).map_err(io_err("write", &tmp))?;
    preallocate(&file, &tmp, size)?;
    file.sync_all().map_err(io_err("fsync", &tmp))?;
    std::fs::rename(&tmp, &path).map_err(io_err("rename", &tmp))?;
    sync_dir(dir)?;
    tracing::info!(path = %path.display(), "raft log: new segment");
    let end = buf.len() as u64;
    Ok((
        Segment {
            path,
            file: Arc::new(file),
            sealed_last: None,
        },
        end,
    ))
}

impl LogFiles {
    /// Writes `ops` in order, rolling to a new segment when the active one is full, and
    /// applies their effects. The caller checked that they are valid.
    fn write(&mut self, ops: Vec<Op>) -> Result<(), LogStoreError> {
        let mut buf = Vec::new();
        let mut buf_start = self.write_offset;
        for op in ops {
            let rlen = format::record_len(op.payload.len());
            if self.write_offset + rlen > self.opts.segment_size
                && self.write_offset > self.active_start
            {
                self.flush_buf(&buf, buf_start)?;
                buf.clear();
                self.roll()?;
                buf_start = self.write_offset;
            }
            let offset = self.write_offset;
            format::encode_record(self.active_seq, offset, op.kind, &op.payload, &mut buf);
            self.write_offset += rlen;
            let applied = match op.effect {
                Effect::Entry(log_id) => RecordEffect::Entry(Loc {
                    log_id,
                    seq: self.active_seq,
                    offset,
                    len: rlen,
                }),
                Effect::Other(a) => a,
            };
            self.content.apply(&applied);
        }
        self.flush_buf(&buf, buf_start)
    }

    fn active(&self) -> Result<&Segment, LogStoreError> {
        self.segments
            .get(&self.active_seq)
            .ok_or_else(|| LogStoreError::Failed("active segment missing".into()))
    }

    fn flush_buf(&self, buf: &[u8], at: u64) -> Result<(), LogStoreError> {
        if buf.is_empty() {
            return Ok(());
        }
        let seg = self.active()?;
        seg.file
            .write_all_at(buf, at)
            .map_err(io_err("write", &seg.path))
    }

    /// Seals the active segment (trim to its data, fsync) and starts the next one.
    fn roll(&mut self) -> Result<(), LogStoreError> {
        let last = self.content.last().map(|l| l.index);
        let seg = self.active()?;
        seg.file
            .set_len(self.write_offset)
            .map_err(io_err("trim", &seg.path))?;
        seg.file.sync_all().map_err(io_err("fsync", &seg.path))?;
        if let Some(seg) = self.segments.get_mut(&self.active_seq) {
            seg.sealed_last = Some(last);
        }
        let seq = self.active_seq + 1;
        let (seg, end) = create_segment(
            &self.dir,
            seq,
            &self.content.checkpoint(seq),
            self.opts.segment_size,
        )?;
        self.segments.insert(seq, seg);
        self.active_seq = seq;
        self.write_offset = end;
        self.active_start = end;
        Ok(())
    }

    /// Queues a fdatasync of everything written so far; `done` runs after it.
    fn request_sync(&self, done: Done) -> Result<(), LogStoreError> {
        let file = self.active()?.file.clone();
        self.sync_tx
            .send(SyncRequest { file, done })
            .map_err(|_| LogStoreError::Failed("the sync thread has stopped".into()))
    }

    /// Deletes sealed segments all of whose entries are at or below `purged`.
    fn remove_purged_segments(&mut self, purged: u64) -> Result<(), LogStoreError> {
        let doomed: Vec<u64> = self
            .segments
            .iter()
            .filter(
                |(_, s)| matches!(s.sealed_last, Some(last) if last.is_none_or(|l| l <= purged)),
            )
            .map(|(seq, _)| *seq)
            .collect();
        if doomed.is_empty() {
            return Ok(());
        }
        for seq in doomed {
            if let Some(seg) = self.segments.remove(&seq) {
                std::fs::remove_file(&seg.path).map_err(io_err("remove", &seg.path))?;
                tracing::info!(path = %seg.path.display(), "raft log: removed purged segment");
            }
        }
        sync_dir(&self.dir)
    }
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
                _lock: lock,
            }),
        })
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

/// What [`recover`] rebuilt from the files.
struct Recovered {
    content: LogContent,
    segments: BTreeMap<u64, Segment>,
    active_seq: u64,
    write_offset: u64,
    active_start: u64,
}

fn recover(dir: &Path, opts: &LogOptions) -> Result<Recovered, LogStoreError> {
    let mut seqs = Vec::new();
    for dent in std::fs::read_dir(dir).map_err(io_err("list", dir))? {
        let dent = dent.map_err(io_err("list", dir))?;
        let name = dent.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = format::parse_segment_file_name(name) {
            seqs.push(seq);
        } else if name.starts_with("seg-") && name.ends_with(".wal.tmp") {
            // A segment whose creation did not finish; it never held an acknowledged write.
            let path = dent.path();
            tracing::info!(path = %path.display(), "raft log: removing unfinished segment");
            std::fs::remove_file(&path).map_err(io_err("remove", &path))?;
        }
    }
    seqs.sort_unstable();

    if seqs.is_empty() {
        let (seg, end) = create_segment(
            dir,
            1,
            &Checkpoint {
                seq: 1,
                ..Checkpoint::default()
            },
            opts.segment_size,
        )?;
        return Ok(Recovered {
            content: LogContent::default(),
            segments: BTreeMap::from([(1, seg)]),
            active_seq: 1,
            write_offset: end,
            active_start: end,
        });
    }
    for w in seqs.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(LogStoreError::Corrupt {
                path: dir.join(format::segment_file_name(w[0] + 1)),
                offset: 0,
                detail: "segment file missing".into(),
            });
        }
    }

    let mut content = LogContent::default();
    let mut segments = BTreeMap::new();
    let mut write_offset = 0;
    let mut active_start = 0;
    let n = seqs.len();
    for (i, &seq) in seqs.iter().enumerate() {
        let is_last = i + 1 == n;
        let path = dir.join(format::segment_file_name(seq));
        let buf = std::fs::read(&path).map_err(io_err("read", &path))?;
        let corrupt = |offset: u64, detail: String| LogStoreError::Corrupt {
            path: path.clone(),
            offset,
            detail,
        };
        if buf.len() < format::FILE_HEADER_LEN as usize || buf[..8] != format::MAGIC {
            return Err(corrupt(
                0,
                "not a ferrokeeper log segment (bad magic)".into(),
            ));
        }
        if buf[..16] != format::file_header(seq) {
            return Err(corrupt(
                8,
                "segment header names another sequence number".into(),
            ));
        }
        let mut pos = format::FILE_HEADER_LEN as usize;
        let mut seen_checkpoint = false;
        let mut seg_start = 0;
        loop {
            let bad = match format::parse_at(&buf, seq, pos) {
                Parsed::Record { kind, payload, len } => {
                    let kind = Kind::from_u8(kind).ok_or_else(|| {
                        corrupt(pos as u64, format!("unknown record kind {kind}"))
                    })?;
                    if !seen_checkpoint {
                        if kind != Kind::Checkpoint {
                            return Err(corrupt(
                                pos as u64,
                                "segment does not start with a checkpoint".into(),
                            ));
                        }
                        let cp: Checkpoint = format::decode(payload)
                            .map_err(|e| corrupt(pos as u64, format!("bad checkpoint: {e}")))?;
                        if i == 0 {
                            content = LogContent::from_checkpoint(&cp);
                        } else {
                            let expected = content.checkpoint(seq);
                            if cp != expected {
                                return Err(corrupt(
                                    pos as u64,
                                    format!(
                                        "checkpoint {cp:?} disagrees with the previous segment's \
                                         end state {expected:?}"
                                    ),
                                ));
                            }
                        }
                        seen_checkpoint = true;
                        seg_start = pos as u64 + len;
                    } else {
                        let applied = replay_record(&content, kind, payload, seq, pos as u64, len)
                            .map_err(|e| corrupt(pos as u64, e))?;
                        content.apply(&applied);
                    }
                    pos += len as usize;
                    continue;
                }
                Parsed::End => None,
                Parsed::Invalid(why) => Some(why),
            };
            if !seen_checkpoint {
                return Err(corrupt(
                    pos as u64,
                    format!(
                        "no valid checkpoint record: {}",
                        bad.unwrap_or_else(|| "zeros".into())
                    ),
                ));
            }
            if let Some(q) = format::find_valid_record(&buf, seq, pos + 1) {
                return Err(corrupt(
                    pos as u64,
                    format!(
                        "{}, but a valid record follows at offset {q}",
                        bad.unwrap_or_else(|| "zeroed record header".into())
                    ),
                ));
            }
            let garbage = buf[pos.min(buf.len())..].iter().any(|b| *b != 0);
            if garbage || bad.is_some() {
                if !is_last {
                    return Err(corrupt(
                        pos as u64,
                        format!(
                            "{} in a sealed segment",
                            bad.unwrap_or_else(|| "stray bytes after the last record".into())
                        ),
                    ));
                }
                tracing::warn!(
                    path = %path.display(),
                    offset = pos,
                    discarded_bytes = buf.len() - pos,
                    reason = bad.as_deref().unwrap_or("stray bytes"),
                    "raft log: torn tail (crash during an append); cutting it off"
                );
                let file = open_rw(&path)?;
                file.set_len(pos as u64)
                    .map_err(io_err("truncate", &path))?;
                preallocate(&file, &path, opts.segment_size)?;
                file.sync_all().map_err(io_err("fsync", &path))?;
            }
            break;
        }
        if let Some(prev) = seqs
            .get(i.wrapping_sub(1))
            .and_then(|p| segments.get_mut(p))
        {
            let prev: &mut Segment = prev;
            // The previous segment's live entries all sit at or below this checkpoint's
            // last log id, which is where the log stood when it was sealed.
            prev.sealed_last = Some(last_index_at_start(&buf, seq));
        }
        let file = open_rw(&path)?;
        if is_last {
            preallocate(&file, &path, opts.segment_size)?;
            write_offset = pos as u64;
            active_start = seg_start;
        }
        segments.insert(
            seq,
            Segment {
                path: path.clone(),
                file: Arc::new(file),
                sealed_last: None,
            },
        );
    }
    if let Some(ph) = content.phantom {
        return Err(LogStoreError::Corrupt {
            path: dir.join(format::segment_file_name(seqs[0])),
            offset: format::FILE_HEADER_LEN,
            detail: format!(
                "the oldest segment starts after entry {} but the log is purged only up to \
                 {:?}: earlier segments are missing",
                ph.index,
                content.purged.map(|p| p.index)
            ),
        });
    }
    Ok(Recovered {
        content,
        segments,
        active_seq: seqs[n - 1],
        write_offset,
        active_start,
    })
}

/// The checkpoint's last log index of a segment image already validated by [`recover`].
fn last_index_at_start(buf: &[u8], seq: u64) -> Option<u64> {
    match format::parse_at(buf, seq, format::FILE_HEADER_LEN as usize) {
        Parsed::Record { payload, .. } => format::decode::<Checkpoint>(payload)
            .ok()
            .and_then(|cp| cp.last.map(|l| l.index)),
        _ => None,
    }
}

/// The effect of one replayed record, checked like a live write would be.
fn replay_record(
    content: &LogContent,
    kind: Kind,
    payload: &[u8],
    seq: u64,
    offset: u64,
    len: u64,
) -> Result<RecordEffect, String> {
    Ok(match kind {
        Kind::Checkpoint => return Err("checkpoint record inside a segment".into()),
        Kind::Entry => {
            // An entry's body starts with its log id.
            let (id, _): (DiskLogId, _) =
                postcard::take_from_bytes(payload).map_err(|e| format!("bad entry: {e}"))?;
            content.check_append(id.index, content.next_index())?;
            RecordEffect::Entry(Loc {
                log_id: id.to_log_id(),
                seq,
                offset,
                len,
            })
        }
        Kind::Vote => RecordEffect::Vote(
            format::decode::<DiskVote>(payload)
                .map_err(|e| format!("bad vote: {e}"))?
                .to_vote(),
        ),
        Kind::Committed => RecordEffect::Committed(
            format::decode::<Option<DiskLogId>>(payload)
                .map_err(|e| format!("bad committed: {e}"))?
                .map(DiskLogId::to_log_id),
        ),
        Kind::TruncateAfter => RecordEffect::TruncateAfter(
            format::decode::<Option<DiskLogId>>(payload)
                .map_err(|e| format!("bad truncate: {e}"))?
                .map(DiskLogId::to_log_id),
        ),
        Kind::Purge => RecordEffect::Purge(
            format::decode::<DiskLogId>(payload)
                .map_err(|e| format!("bad purge: {e}"))?
                .to_log_id(),
        ),
    })
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

fn bounds<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(s) => *s,
        Bound::Excluded(s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(e) => e.saturating_add(1),
        Bound::Excluded(e) => *e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for DurableLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug>(
        &mut self,
        range: RB,
    ) -> Result<Vec<EntryOf<TypeConfig>>, io::Error> {
        let (start, end) = bounds(&range);
        self.read_entries(start, end)
    }

    async fn read_vote(&mut self) -> Result<Option<VoteOf<TypeConfig>>, io::Error> {
        Ok(self.core_read()?.content.vote)
    }
}

impl RaftLogStorage<TypeConfig> for DurableLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, io::Error> {
        let core = self.core_read()?;
        Ok(LogState {
            last_purged_log_id: core.content.purged,
            last_log_id: core.content.last(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &VoteOf<TypeConfig>) -> Result<(), io::Error> {
        let op = encode_op(
            Kind::Vote,
            &DiskVote::from_vote(vote),
            RecordEffect::Vote(*vote),
        )?;
        self.submit_durable(op).await
    }

    async fn save_committed(
        &mut self,
        committed: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        // Not waited for: it becomes durable with the next sync, and a stale committed
        // only means re-applying less at start-up.
        let op = encode_op(
            Kind::Committed,
            &committed.as_ref().map(DiskLogId::from_log_id),
            RecordEffect::Committed(committed),
        )?;
        Ok(self.submit(vec![op], None)?)
    }

    async fn read_committed(&mut self) -> Result<Option<LogIdOf<TypeConfig>>, io::Error> {
        Ok(self.core_read()?.content.committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: IOFlushed<TypeConfig>,
    ) -> Result<(), io::Error>
    where
        I: IntoIterator<Item = EntryOf<TypeConfig>> + openraft::OptionalSend,
        I::IntoIter: openraft::OptionalSend,
    {
        let mut ops = Vec::new();
        for entry in entries {
            let payload = format::encode_entry(&entry)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            if payload.len() + 1 > format::MAX_BODY_LEN {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("raft log entry of {} bytes is too large", payload.len()),
                ));
            }
            ops.push(Op {
                kind: Kind::Entry,
                payload,
                effect: Effect::Entry(entry.log_id()),
            });
        }
        self.check_failed()?;
        let mut core = self.core_write()?;
        let mut next = core.content.next_index();
        for op in &ops {
            if let Effect::Entry(id) = &op.effect {
                core.content
                    .check_append(id.index, next)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                next = Some(id.index + 1);
            }
        }
        if let Err(e) = core.write(ops) {
            self.fail(&e);
            return Err(e.into());
        }
        core.request_sync(Done::Flushed(callback))?;
        Ok(())
    }

    async fn truncate_after(
        &mut self,
        last_log_id: Option<LogIdOf<TypeConfig>>,
    ) -> Result<(), io::Error> {
        let op = encode_op(
            Kind::TruncateAfter,
            &last_log_id.as_ref().map(DiskLogId::from_log_id),
            RecordEffect::TruncateAfter(last_log_id),
        )?;
        self.submit_durable(op).await
    }

    async fn purge(&mut self, log_id: LogIdOf<TypeConfig>) -> Result<(), io::Error> {
        let op = encode_op(
            Kind::Purge,
            &DiskLogId::from_log_id(&log_id),
            RecordEffect::Purge(log_id),
        )?;
        // The purge record must be durable before any segment disappears.
        self.submit_durable(op).await?;
        let mut core = self.core_write()?;
        if let Err(e) = core.remove_purged_segments(log_id.index) {
            self.fail(&e);
            return Err(e.into());
        }
        Ok(())
    }
}
