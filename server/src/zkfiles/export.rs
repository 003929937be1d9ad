//! `ferrokeeper export`: this server's data (its newest snapshot plus the log after
//! it, as a restart would apply it) written as a ZooKeeper snapshot that ZooKeeper 3.8
//! and 3.9 start from, with the tree digest ZooKeeper verifies on load. The way back
//! for an operator who tried ferrokeeper.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::error::{ZkFilesError, io_err};
use super::layout::{VERSION_DIR, ZkDataFiles};
use super::snapshot;
use crate::replication::offline;
use crate::state::{StateConfig, ZkState};

pub struct ExportRequest {
    /// Where ZooKeeper will find its data (`dataDir`; the snapshot goes in `version-2/`).
    pub zk_data_dir: PathBuf,
    /// This server's snapshots and Raft log.
    pub snapshot_dir: PathBuf,
    pub log_dir: PathBuf,
    /// Used only when this server has no snapshot yet.
    pub extended_types: bool,
}

#[derive(Debug)]
pub struct ExportSummary {
    pub written: PathBuf,
    pub znodes: usize,
    pub sessions: usize,
    pub last_zxid: i64,
    /// Log entries applied on top of this server's snapshot.
    pub entries: usize,
    pub seconds: f64,
}

fn refused(msg: impl Into<String>) -> ZkFilesError {
    ZkFilesError::Refused(msg.into())
}

pub fn export(req: &ExportRequest) -> Result<ExportSummary, ZkFilesError> {
    let started = Instant::now();
    let existing = ZkDataFiles::find(&req.zk_data_dir, &req.zk_data_dir)?;
    if !existing.is_empty() {
        return Err(refused(format!(
            "{}/{VERSION_DIR} already holds ZooKeeper data ({}); ZooKeeper would replay \
             those logs on top of the export. Move {VERSION_DIR} aside or export into an \
             empty directory; nothing was written",
            req.zk_data_dir.display(),
            existing.describe(3)
        )));
    }
    let stored = offline::read_stored(&req.log_dir, &req.snapshot_dir).map_err(|e| {
        refused(format!(
            "cannot read ferrokeeper's data in {} and {}: {e} (a running server holds the \
             log's lock: stop it first)",
            req.snapshot_dir.display(),
            req.log_dir.display()
        ))
    })?;
    if stored.snapshot.is_none() && stored.proposals.is_empty() {
        return Err(refused(format!(
            "no ferrokeeper data in {} or {}",
            req.snapshot_dir.display(),
            req.log_dir.display()
        )));
    }
    let mut state = match stored.snapshot {
        // Decoded, the file's bytes are dropped before the tree is written out.
        Some(bytes) => postcard::from_bytes::<ZkState>(&bytes)
            .map_err(|e| refused(format!("ferrokeeper's snapshot does not decode: {e}")))?,
        None => ZkState::new(StateConfig {
            extended_types_enabled: req.extended_types,
        }),
    };
    for proposal in &stored.proposals {
        state.apply(&proposal.entry);
    }
    let dir = req.zk_data_dir.join(VERSION_DIR);
    let written = snapshot::write(&dir, &state)?;
    write_epochs(&dir, state.last_zxid())?;
    Ok(ExportSummary {
        written,
        znodes: state.tree().node_count(),
        sessions: state.sessions().len(),
        last_zxid: state.last_zxid(),
        entries: stored.proposals.len(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A ZooKeeper ensemble member refuses to start when its `currentEpoch` is older than
/// its last zxid's epoch; files from an older run are raised, never lowered.
fn write_epochs(dir: &Path, last_zxid: i64) -> Result<(), ZkFilesError> {
    let epoch = last_zxid >> 32;
    for name in ["acceptedEpoch", "currentEpoch"] {
        let path = dir.join(name);
        let current = fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok());
        if current.is_some_and(|c| c >= epoch) {
            continue;
        }
        let tmp = dir.join(format!(".{name}.tmp"));
        fs::write(&tmp, epoch.to_string()).map_err(io_err(&tmp, "write"))?;
        fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(io_err(&tmp, "fsync"))?;
        fs::rename(&tmp, &path).map_err(io_err(&path, "rename"))?;
    }
    Ok(())
}
