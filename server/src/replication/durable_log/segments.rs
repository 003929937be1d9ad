//! The segment files: records written to the active segment, rolled into a new one
//! when full (trimmed, fsynced, sealed), and old ones removed after a purge.

use super::*;

/// A record to write: its kind, its encoded payload, and its effect (entries get their
/// location when written).
pub(super) struct Op {
    pub(super) kind: Kind,
    pub(super) payload: Vec<u8>,
    pub(super) effect: Effect,
}

pub(super) enum Effect {
    Entry(LogIdOf<TypeConfig>),
    Other(RecordEffect),
}

pub(super) struct Segment {
    pub(super) path: PathBuf,
    pub(super) file: Arc<File>,
    /// For a sealed segment, the last log index when it was sealed: every live entry in it
    /// is at or below that index. `None` while active.
    pub(super) sealed_last: Option<Option<u64>>,
}

/// The log's model and its segment files: what every read and append works on.
pub(super) struct LogFiles {
    pub(super) dir: PathBuf,
    pub(super) opts: LogOptions,
    pub(super) content: LogContent,
    pub(super) segments: BTreeMap<u64, Segment>,
    pub(super) active_seq: u64,
    /// Where the next record of the active segment goes.
    pub(super) write_offset: u64,
    /// The end of the active segment's checkpoint record.
    pub(super) active_start: u64,
    pub(super) sync_tx: super::sync::SyncQueue,
}

pub(super) fn sync_dir(dir: &Path) -> Result<(), LogStoreError> {
    File::open(dir)
        .and_then(|d| super::sync::sync_whole(&d, u64::MAX))
        .map_err(io_err("fsync directory", dir))
}

pub(super) fn open_rw(path: &Path) -> Result<File, LogStoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_err("open", path))
}

/// Grows `file` to `size` with allocated, zero-filled blocks, so appends do not change
/// the file size (which would cost fdatasync a metadata journal commit).
pub(super) fn preallocate(file: &File, path: &Path, size: u64) -> Result<(), LogStoreError> {
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
pub(super) fn create_segment(
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
    super::sync::sync_whole(&file, buf.len() as u64).map_err(io_err("fsync", &tmp))?;
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
    pub(super) fn write(&mut self, ops: Vec<Op>) -> Result<(), LogStoreError> {
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

    pub(super) fn active(&self) -> Result<&Segment, LogStoreError> {
        self.segments
            .get(&self.active_seq)
            .ok_or_else(|| LogStoreError::Failed("active segment missing".into()))
    }

    pub(super) fn flush_buf(&self, buf: &[u8], at: u64) -> Result<(), LogStoreError> {
        if buf.is_empty() {
            return Ok(());
        }
        let seg = self.active()?;
        seg.file
            .write_all_at(buf, at)
            .map_err(io_err("write", &seg.path))
    }

    /// Seals the active segment (trim to its data, fsync) and starts the next one.
    pub(super) fn roll(&mut self) -> Result<(), LogStoreError> {
        let last = self.content.last().map(|l| l.index);
        let seg = self.active()?;
        seg.file
            .set_len(self.write_offset)
            .map_err(io_err("trim", &seg.path))?;
        super::sync::sync_whole(&seg.file, self.write_offset)
            .map_err(io_err("fsync", &seg.path))?;
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
    pub(super) fn request_sync(&self, done: Done) -> Result<(), LogStoreError> {
        let file = self.active()?.file.clone();
        self.sync_tx
            .send(SyncRequest {
                file,
                upto: self.write_offset,
                done,
            })
            .map_err(|_| LogStoreError::Failed("the sync thread has stopped".into()))
    }

    /// Deletes sealed segments all of whose entries are at or below `purged`.
    pub(super) fn remove_purged_segments(&mut self, purged: u64) -> Result<(), LogStoreError> {
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
