//! `ferrokeeper import`: ZooKeeper's newest valid snapshot plus every logged txn after
//! it, replayed as ZooKeeper replays them at start-up, checked against the tree digest
//! ZooKeeper logged, and written as this server's first snapshot. Nothing is written
//! until all of it has been read and checked, and the snapshot file appears whole or
//! not at all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::digest::tree_digest;
use super::error::{ZkFilesError, io_err};
use super::layout::{ZkDataFiles, ZkFile};
use super::progress::Progress;
use super::snapshot;
use super::txn_log::{self, TornTail};
use crate::replication::offline;
use crate::state::{SessionTable, StateConfig, ZkState};

/// At most this many snapshots are tried, newest first, as ZooKeeper does.
const SNAPSHOTS_TRIED: usize = 100;

pub struct ImportRequest {
    /// ZooKeeper's `dataDir` (its snapshots are in `version-2/` below it).
    pub zk_data_dir: PathBuf,
    /// ZooKeeper's `dataLogDir`, when its txn logs are kept apart.
    pub zk_data_log_dir: Option<PathBuf>,
    /// Replay the logs onto an empty tree when there is no snapshot at all
    /// (ZooKeeper's `zookeeper.snapshot.trust.empty`, for data from before 3.5.3).
    pub trust_empty_snapshot: bool,
    /// Import even when the rebuilt tree's digest differs from ZooKeeper's.
    pub skip_digest_check: bool,
    /// `zookeeper.extendedTypesEnabled` of the server that will serve the data.
    pub extended_types: bool,
    /// Where this server keeps its snapshots and its Raft log.
    pub snapshot_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The voters of the ensemble (just this server's id when standalone).
    pub voters: BTreeSet<u64>,
    /// Draw progress bars (stderr is a terminal).
    pub interactive: bool,
}

/// Whether the rebuilt tree was proven equal to ZooKeeper's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DigestCheck {
    /// Equal to the digest ZooKeeper recorded at this zxid.
    Matched { zxid: i64, digest: i64 },
    /// ZooKeeper recorded none for the last zxid (before 3.6, or digests disabled).
    Unavailable,
    /// Different, and imported anyway because the request said so.
    Skipped { expected: i64, actual: i64 },
}

#[derive(Debug)]
pub struct ImportSummary {
    /// The ZooKeeper snapshot used; `None` when the logs were replayed onto an empty tree.
    pub snapshot: Option<PathBuf>,
    pub snapshot_znodes: u64,
    pub log_files: usize,
    pub txns: u64,
    pub znodes: usize,
    pub sessions: usize,
    pub ephemerals: usize,
    /// Ephemerals of sessions ZooKeeper no longer had, deleted as ZooKeeper deletes
    /// them at start-up.
    pub orphans_removed: usize,
    pub last_zxid: i64,
    pub digest: DigestCheck,
    pub torn: Vec<TornTail>,
    pub skipped_snapshots: Vec<String>,
    pub written: PathBuf,
    pub seconds: f64,
}

fn refused(msg: impl Into<String>) -> ZkFilesError {
    ZkFilesError::Refused(msg.into())
}

pub fn import(req: &ImportRequest) -> Result<ImportSummary, ZkFilesError> {
    let started = Instant::now();
    if offline::has_data(&req.log_dir, &req.snapshot_dir)
        .map_err(io_err(&req.snapshot_dir, "look for ferrokeeper data"))?
    {
        return Err(refused(format!(
            "ferrokeeper data already exists ({} or {}); import only writes into an empty \
             data directory, so nothing was changed. Move that data aside first if it is \
             to be replaced",
            req.snapshot_dir.display(),
            req.log_dir.display()
        )));
    }
    let log_dir = req.zk_data_log_dir.as_deref().unwrap_or(&req.zk_data_dir);
    let files = ZkDataFiles::find(&req.zk_data_dir, log_dir)?;
    if files.is_empty() {
        return Err(refused(format!(
            "no ZooKeeper data found: {}/version-2 holds no snapshot.* and {}/version-2 no \
             log.* files",
            req.zk_data_dir.display(),
            log_dir.display()
        )));
    }

    let (mut state, base, skipped) = load_snapshot(req, &files)?;
    let snapshot_znodes = base.as_ref().map_or(0, |(_, n, _)| *n);
    let (txns, log_files, torn, mut last_digest) = replay_logs(req, &files.logs, &mut state)?;
    if txns == 0 {
        // Nothing replayed: the snapshot's own digest speaks for the tree when it was
        // recorded at the zxid the tree is at.
        last_digest = base
            .as_ref()
            .and_then(|(_, _, d)| *d)
            .filter(|(zxid, _)| *zxid == state.last_zxid());
    }

    let actual = tree_digest(state.tree());
    let digest = match last_digest {
        Some((zxid, expected)) if expected == actual => DigestCheck::Matched {
            zxid,
            digest: actual,
        },
        Some((zxid, expected)) if !req.skip_digest_check => {
            return Err(refused(format!(
                "the rebuilt tree's digest 0x{actual:x} differs from the 0x{expected:x} \
                 ZooKeeper recorded at zxid 0x{zxid:x}, so some znode or stat would differ \
                 from what ZooKeeper serves; nothing was written. Please report this with \
                 the data files; --skip-digest-check imports anyway"
            )));
        }
        Some((_, expected)) => DigestCheck::Skipped { expected, actual },
        None => DigestCheck::Unavailable,
    };

    // ZooKeeper deletes, when it loads its database, the ephemerals of sessions it
    // no longer has (ZooKeeperServer.loadData), at its last zxid.
    let orphans_removed = state.remove_orphan_ephemerals();
    let znodes = state.tree().node_count();
    let ephemerals = state.tree().ephemeral_count();
    let session_count = state.sessions().len();
    let last_zxid = state.last_zxid();
    // Streamed into the file: no encoded copy of the tree is held beside it.
    let written = offline::seed_snapshot(&req.snapshot_dir, &req.voters, last_zxid, |w| {
        state.encode_into(w)
    })
    .map_err(io_err(&req.snapshot_dir, "write the imported snapshot"))?;
    Ok(ImportSummary {
        snapshot: base.map(|(p, _, _)| p),
        snapshot_znodes,
        log_files,
        txns,
        znodes,
        sessions: session_count,
        ephemerals,
        orphans_removed,
        last_zxid,
        digest,
        torn,
        skipped_snapshots: skipped,
        written,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The snapshot used: its path, znodes, and the digest it recorded (zxid, digest).
type Base = Option<(PathBuf, u64, Option<(i64, i64)>)>;

/// The state a snapshot body holds, at `zxid`.
pub fn state_from_snapshot(
    snapshot: crate::zkfiles::snapshot::SnapshotBody,
    zxid: i64,
    extended_types: bool,
) -> ZkState {
    let mut sessions = SessionTable::default();
    for (id, timeout) in snapshot.sessions {
        sessions.insert(id, timeout);
    }
    ZkState::from_parts(
        StateConfig {
            extended_types_enabled: extended_types,
        },
        snapshot.tree,
        sessions,
        zxid,
    )
}

/// The newest snapshot that reads whole; damaged newer ones are skipped with a warning
/// (replay then starts earlier, and the zxid check proves the logs cover the gap).
fn load_snapshot(
    req: &ImportRequest,
    files: &ZkDataFiles,
) -> Result<(ZkState, Base, Vec<String>), ZkFilesError> {
    let mut skipped = Vec::new();
    for file in files.snapshots.iter().rev().take(SNAPSHOTS_TRIED) {
        let size = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        let mut progress = Progress::new("snapshot", "znodes", size, req.interactive);
        tracing::info!(file = %file.path.display(), "reading ZooKeeper snapshot");
        match snapshot::read(file, req.extended_types, &mut |bytes, n| {
            progress.update(bytes, n)
        }) {
            Ok(loaded) => {
                progress.finish(loaded.znodes);
                for why in &skipped {
                    tracing::warn!("skipped a damaged snapshot: {why}");
                }
                let digest = loaded.digest.map(|d| (d.zxid, d.digest));
                let znodes = loaded.znodes;
                let state = state_from_snapshot(
                    crate::zkfiles::snapshot::SnapshotBody {
                        tree: loaded.tree,
                        sessions: loaded.sessions,
                        znodes,
                    },
                    loaded.zxid,
                    req.extended_types,
                );
                return Ok((state, Some((file.path.clone(), znodes, digest)), skipped));
            }
            Err(e) => {
                progress.finish(0);
                tracing::warn!("cannot use {}: {e}", file.path.display());
                skipped.push(e.to_string());
            }
        }
    }
    if !files.snapshots.is_empty() {
        return Err(refused(format!(
            "no ZooKeeper snapshot could be read: {}",
            skipped.join("; ")
        )));
    }
    if !req.trust_empty_snapshot {
        return Err(refused(format!(
            "{}/version-2 holds txn logs but no snapshot: ZooKeeper itself refuses to start \
             on that (the logs may not go back to the beginning). If this data comes from \
             ZooKeeper before 3.5.3, which wrote no initial snapshot, --trust-empty-snapshot \
             replays the logs onto an empty tree",
            req.zk_data_dir.display()
        )));
    }
    let state = ZkState::new(StateConfig {
        extended_types_enabled: req.extended_types,
    });
    Ok((state, None, skipped))
}

type ReplayOutcome = (u64, usize, Vec<TornTail>, Option<(i64, i64)>);

fn epoch(zxid: i64) -> i64 {
    zxid >> 32
}

/// Replays every txn after the snapshot's zxid, in zxid order, checking that none is
/// missing within an epoch. Returns (txns, files read, torn tails, the digest ZooKeeper
/// logged with the last txn).
fn replay_logs(
    req: &ImportRequest,
    logs: &[ZkFile],
    state: &mut ZkState,
) -> Result<ReplayOutcome, ZkFilesError> {
    let from = state.last_zxid();
    let files = txn_log::files_after(logs, from);
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
        .sum();
    let mut progress = Progress::new("txn logs", "txns", total, req.interactive);
    let mut done_bytes = 0u64;
    let mut applied = 0u64;
    let mut torn = Vec::new();
    let mut last_digest = None;
    let mut prev = from;
    let mut prev_file: Option<&Path> = None;
    for file in &files {
        let contents = txn_log::read_file(file)?;
        if let Some(t) = contents.torn {
            tracing::warn!(
                file = %t.file,
                offset = t.offset,
                nonzero_bytes = t.nonzero_bytes,
                "torn tail of a txn log cut: the record at this offset was only partly \
                 written (a crash during a write that was never acknowledged)"
            );
            torn.push(t);
        }
        for entry in contents.txns {
            let zxid = entry.header.zxid;
            if zxid <= from {
                continue;
            }
            if zxid <= prev {
                tracing::warn!(
                    file = %file.path.display(),
                    "txn 0x{zxid:x} comes after 0x{prev:x}; replayed anyway, as ZooKeeper does"
                );
            } else if epoch(zxid) == epoch(prev) && zxid != prev + 1 {
                let after = prev_file
                    .map_or_else(|| "the snapshot".to_string(), |p| p.display().to_string());
                return Err(refused(format!(
                    "txns 0x{:x} to 0x{:x} are missing: {after} ends at 0x{prev:x} and {} \
                     continues at 0x{zxid:x}. A log file is missing or was cut short; \
                     nothing was written",
                    prev + 1,
                    zxid - 1,
                    file.path.display()
                )));
            }
            state.apply_zk(&entry).map_err(|e| {
                refused(format!(
                    "{}: txn 0x{zxid:x} cannot be replayed: {e}",
                    file.path.display()
                ))
            })?;
            last_digest = entry.digest.map(|d| (zxid, d.tree_digest));
            prev = prev.max(zxid);
            prev_file = Some(&file.path);
            applied += 1;
            if applied.is_multiple_of(4096) {
                progress.update(done_bytes, applied);
            }
        }
        done_bytes += std::fs::metadata(&file.path).map_or(0, |m| m.len());
        progress.update(done_bytes, applied);
    }
    progress.finish(applied);
    Ok((applied, files.len(), torn, last_digest))
}
