//! Opening the log: every segment scanned, its records replayed into a [`LogContent`],
//! a torn tail cut off, and any other damage refused (see the module docs).

use super::*;

/// What [`recover`] rebuilt from the files.
pub(super) struct Recovered {
    pub(super) content: LogContent,
    pub(super) segments: BTreeMap<u64, Segment>,
    pub(super) active_seq: u64,
    pub(super) write_offset: u64,
    pub(super) active_start: u64,
}

pub(super) fn recover(dir: &Path, opts: &LogOptions) -> Result<Recovered, LogStoreError> {
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
                super::sync::sync_whole(&file, pos as u64).map_err(io_err("fsync", &path))?;
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
pub(super) fn last_index_at_start(buf: &[u8], seq: u64) -> Option<u64> {
    match format::parse_at(buf, seq, format::FILE_HEADER_LEN as usize) {
        Parsed::Record { payload, .. } => format::decode::<Checkpoint>(payload)
            .ok()
            .and_then(|cp| cp.last.map(|l| l.index)),
        _ => None,
    }
}

/// The effect of one replayed record, checked like a live write would be.
pub(super) fn replay_record(
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
