//! This server's Raft data read and written with the server stopped: what `ferrokeeper
//! import` seeds and `ferrokeeper export` reads. openraft's types stay in here; callers
//! see application state bytes and [`Proposal`]s.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use openraft::alias::{LogIdOf, SnapshotMetaOf, StoredMembershipOf};
use openraft::storage::{RaftLogReader, RaftLogStorage};
use openraft::vote::RaftLeaderIdExt;
use openraft::{EntryPayload, Membership};

use super::durable_log::{DurableLogStore, SyncMode};
use super::state_machine::{read_snapshot, write_snapshot};
use super::types::TypeConfig;
use crate::proposal::Proposal;

/// The log index of a snapshot seeded with ZooKeeper's state at `zxid`: it grows with
/// the zxid, so members seeded at different points of ZooKeeper's history (observers
/// that had received more or less of it) elect the most advanced one, whose snapshot
/// the others then install; members seeded at the same zxid hold identical snapshots.
fn seed_index(zxid: i64) -> u64 {
    u64::try_from(zxid).unwrap_or(0).saturating_add(1)
}

/// Whether `log_dir` holds Raft log segments or `snapshot_dir` holds snapshots: this
/// server has data of its own. Nothing is created or locked.
pub fn has_data(log_dir: &Path, snapshot_dir: &Path) -> io::Result<bool> {
    let segment = |n: &str| n.starts_with("seg-") && n.ends_with(".wal");
    // Temp files end in `.tmp` and do not count.
    let snapshot = |n: &str| {
        n.strip_prefix("snapshot.")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()))
    };
    Ok(any_file(log_dir, segment)? || any_file(snapshot_dir, snapshot)?)
}

fn any_file(dir: &Path, wanted: impl Fn(&str) -> bool) -> io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    for entry in entries {
        if wanted(&entry?.file_name().to_string_lossy()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Writes `state` (ZooKeeper's data at `zxid`) as the snapshot a new member starts
/// from: the first position of a Raft log whose voters are `voters`, committed by
/// nobody in particular. Every member seeded with the same state and voters holds an
/// identical snapshot, so they form an ensemble as members initialised empty do.
pub fn seed_snapshot(
    snapshot_dir: &Path,
    voters: &BTreeSet<u64>,
    zxid: i64,
    state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let index = seed_index(zxid);
    let leader = voters.iter().next().copied().unwrap_or(1);
    let committed =
        <openraft::alias::LeaderIdOf<TypeConfig> as RaftLeaderIdExt>::new_committed(0, leader);
    let log_id = LogIdOf::<TypeConfig>::new(committed, index);
    let membership = Membership::<u64, openraft::BasicNode>::new_with_defaults(
        vec![voters.clone()],
        BTreeSet::<u64>::new(),
    );
    let meta = SnapshotMetaOf::<TypeConfig> {
        last_log_id: Some(log_id),
        last_membership: StoredMembershipOf::<TypeConfig>::new(Some(log_id), membership),
    };
    write_snapshot(snapshot_dir, &meta, state).map(|(path, _)| path)
}

/// What a stopped server holds: its newest snapshot's state, and the writes after it.
pub struct StoredState {
    /// The application state of the newest intact snapshot; `None` without one.
    pub snapshot: Option<Vec<u8>>,
    /// Every log entry after the snapshot that a restart would apply, in order.
    pub proposals: Vec<Proposal>,
    /// The index of the last entry included.
    pub last_index: u64,
}

/// Reads what this server would serve after a restart. A single-voter membership (a
/// standalone server) commits its whole log when it starts; a member of an ensemble
/// applies only what it knows to be committed. Refuses while the server runs (the
/// log's lock is held).
pub fn read_stored(log_dir: &Path, snapshot_dir: &Path) -> io::Result<StoredState> {
    let (snapshot, mut last_index, mut membership) = match read_snapshot(snapshot_dir)? {
        Some((_, payload)) => (
            Some(payload.state.to_vec()?),
            payload.meta.last_log_id.map_or(0, |id| id.index),
            Some(payload.meta.last_membership.membership().clone()),
        ),
        None => (None, 0, None),
    };
    if !log_dir.exists() {
        return Ok(StoredState {
            snapshot,
            proposals: Vec::new(),
            last_index,
        });
    }
    let mut log = DurableLogStore::open(log_dir, SyncMode::NoSync).map_err(io::Error::other)?;
    futures::executor::block_on(async {
        let state = log.get_log_state().await?;
        let committed = log.read_committed().await?.map_or(0, |id| id.index);
        let end = state.last_log_id.map_or(0, |id| id.index);
        let entries = log.try_get_log_entries(last_index + 1..=end).await?;
        let mut proposals = Vec::new();
        let mut pending = Vec::new();
        for entry in entries {
            if let EntryPayload::Membership(m) = &entry.payload {
                membership = Some(m.clone());
            }
            pending.push(entry);
        }
        let single_voter = membership
            .as_ref()
            .is_some_and(|m| m.voter_ids().count() == 1);
        let upto = if single_voter {
            end
        } else {
            committed.max(last_index)
        };
        for entry in pending {
            if entry.log_id.index > upto {
                break;
            }
            last_index = entry.log_id.index;
            if let EntryPayload::Normal(p) = entry.payload {
                proposals.push(p);
            }
        }
        Ok(StoredState {
            snapshot,
            proposals,
            last_index,
        })
    })
}
