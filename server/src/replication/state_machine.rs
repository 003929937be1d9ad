//! openraft's state machine, delegating our entries to an [`Applier`] (the server core,
//! which owns the ZooKeeper state, the watch registry and the connection outboxes, so
//! that applying an entry and queueing its watch events happen under one lock).
//!
//! Snapshots are files (see [`super::snapshot_file`]) written durably before openraft
//! learns of them: openraft purges the log behind a snapshot, so a snapshot it knows
//! about must survive any crash.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::snapshot_data::SnapshotData;
use super::snapshot_file::{self, Contents};
use super::tickets::Tickets;
use super::types::TypeConfig;
use crate::proposal::Proposal;
use crate::state::txn::TxnResult;

/// The application's side of the state machine.
pub trait Applier: Send + Sync + 'static {
    /// Applies one entry; returns its zxid and result.
    fn apply(&self, proposal: &Proposal) -> (i64, TxnResult);
    /// A consistent copy of the whole replicated state, taken quickly (it stops apply
    /// while it runs); the returned closure serializes it later, off the apply path.
    fn snapshot(&self) -> SnapshotWriter;
    /// Replaces the whole replicated state with the `len` bytes `state` reads.
    fn restore(&self, state: &mut dyn io::Read, len: u64) -> io::Result<()>;
    /// The zxid of the last change applied (what a snapshot taken now covers).
    fn last_zxid(&self) -> i64;
}

/// Serializes a state copy taken by [`Applier::snapshot`] into a writer (the snapshot
/// file, streamed: no encoded copy of the state is held in memory).
pub type SnapshotWriter = Box<dyn FnOnce(&mut dyn Write) -> io::Result<()> + Send>;

/// What a version 1 snapshot file holds: openraft's metadata and the application state
/// in one payload. Only read; version 2 files keep the two apart.
#[derive(Serialize, Deserialize)]
struct SnapshotPayload {
    meta: SnapshotMetaOf<TypeConfig>,
    state: Vec<u8>,
}

/// A snapshot read back from its file (the state is left in the file).
pub(super) struct StoredSnapshot {
    pub(super) meta: SnapshotMetaOf<TypeConfig>,
    pub(super) state: SnapshotData,
}

/// The newest intact snapshot in `dir` and its index, if there is one.
pub(super) fn read_snapshot(dir: &Path) -> io::Result<Option<(u64, StoredSnapshot)>> {
    let Some((index, contents)) = snapshot_file::read_newest(dir).map_err(io::Error::other)? else {
        return Ok(None);
    };
    let stored = match contents {
        Contents::Combined(payload) => {
            let payload: SnapshotPayload = postcard::from_bytes(&payload).map_err(invalid)?;
            StoredSnapshot {
                meta: payload.meta,
                state: SnapshotData::Memory(payload.state.into()),
            }
        }
        Contents::Split { meta, state } => StoredSnapshot {
            meta: postcard::from_bytes(&meta).map_err(invalid)?,
            state: SnapshotData::File(state),
        },
    };
    Ok(Some((index, stored)))
}

/// Writes a snapshot file durably (blocking): `meta`, then the state `state` writes.
/// Returns its path and its state, readable in place.
pub(super) fn write_snapshot(
    dir: &Path,
    meta: &SnapshotMetaOf<TypeConfig>,
    state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<(PathBuf, SnapshotData)> {
    let index = meta.last_log_id.map_or(0, |id| id.index);
    let meta_bytes = postcard::to_allocvec(meta).map_err(invalid)?;
    let (path, section) =
        snapshot_file::write(dir, index, &meta_bytes, state).map_err(io::Error::other)?;
    Ok((path, SnapshotData::File(section)))
}

/// Read buffer for copying a received snapshot into its file.
const COPY_BUFFER: usize = 1 << 20;

/// Replaces the applier's state with a snapshot's, decoding it as a stream.
fn restore(applier: &dyn Applier, data: &SnapshotData) -> io::Result<()> {
    let mut reader = data.reader();
    applier.restore(&mut reader, data.len())
}

/// Where and how snapshots are kept.
#[derive(Debug, Clone)]
pub struct SnapshotOptions {
    /// `None` keeps snapshots in memory only (tests of the log store).
    pub dir: Option<PathBuf>,
    /// `autopurge.snapRetainCount`.
    pub retain: usize,
}

/// The current snapshot: its metadata, and its state (in its file, unless there is no
/// snapshot directory), needed only to send the snapshot to a peer.
struct Current {
    meta: SnapshotMetaOf<TypeConfig>,
    data: SnapshotData,
}

struct Meta {
    last_applied: Option<LogIdOf<TypeConfig>>,
    membership: StoredMembershipOf<TypeConfig>,
    current: Option<Current>,
}

#[derive(Clone)]
pub struct StateMachine {
    applier: Arc<dyn Applier>,
    meta: Arc<Mutex<Meta>>,
    options: SnapshotOptions,
    /// Waiters for proposals' results, resolved at apply.
    tickets: Option<Arc<Tickets>>,
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

impl StateMachine {
    /// A state machine over `applier`, starting from the newest intact snapshot in
    /// `options.dir` if there is one.
    pub fn open(applier: Arc<dyn Applier>, options: SnapshotOptions) -> io::Result<Self> {
        let mut meta = Meta {
            last_applied: None,
            membership: StoredMembershipOf::<TypeConfig>::default(),
            current: None,
        };
        if let Some(dir) = &options.dir
            && let Some((index, payload)) = read_snapshot(dir)?
        {
            let started = std::time::Instant::now();
            restore(&*applier, &payload.state)?;
            tracing::info!(
                index,
                dir = %dir.display(),
                bytes = payload.state.len(),
                decode_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "loaded snapshot"
            );
            let written =
                snapshot_file::modified(dir, index).unwrap_or_else(std::time::SystemTime::now);
            crate::metrics::record_snapshot(applier.last_zxid(), written);
            meta.last_applied = payload.meta.last_log_id;
            meta.membership = payload.meta.last_membership.clone();
            meta.current = Some(Current {
                meta: payload.meta,
                data: payload.state,
            });
        }
        Ok(StateMachine {
            applier,
            meta: Arc::new(Mutex::new(meta)),
            options,
            tickets: None,
        })
    }

    pub fn with_tickets(mut self, tickets: Arc<Tickets>) -> Self {
        self.tickets = Some(tickets);
        self
    }

    /// Writes the snapshot file (off the async threads) and prunes old ones; returns
    /// its state, read from the file. Without a directory the state is kept in memory.
    async fn persist(
        &self,
        meta: &SnapshotMetaOf<TypeConfig>,
        state: impl FnOnce(&mut dyn Write) -> io::Result<()> + Send + 'static,
    ) -> io::Result<SnapshotData> {
        let dir = self.options.dir.clone();
        let meta = meta.clone();
        let retain = self.options.retain;
        crate::simulation::blocking(move || {
            let Some(dir) = dir else {
                let mut data = Vec::new();
                state(&mut data)?;
                return Ok(SnapshotData::Memory(data.into()));
            };
            let (_, data) = write_snapshot(&dir, &meta, state)?;
            snapshot_file::retain(&dir, retain).map_err(io::Error::other)?;
            Ok(data)
        })
        .await?
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    async fn build_snapshot(&mut self) -> Result<SnapshotOf<TypeConfig, SnapshotData>, io::Error> {
        let started = std::time::Instant::now();
        let zxid;
        // The state and the applied position must be taken together: the meta lock
        // stops apply only while the core hands out its copy, not while it is encoded.
        let (snapshot_meta, writer) = {
            let meta = self.meta.lock().await;
            let writer = self.applier.snapshot();
            zxid = self.applier.last_zxid();
            let snapshot_meta = SnapshotMetaOf::<TypeConfig> {
                last_log_id: meta.last_applied,
                last_membership: meta.membership.clone(),
            };
            (snapshot_meta, writer)
        };
        // With a directory the state is streamed into the file and never held whole;
        // without one (tests of the log store) it is kept in memory.
        let data = self.persist(&snapshot_meta, writer).await?;
        let bytes = data.len();
        crate::metrics::global()
            .snapshottime
            .observe_duration(started.elapsed());
        crate::metrics::record_snapshot(zxid, std::time::SystemTime::now());
        // One line per snapshot, for operators: how big and how long (copy, encode, fsync).
        tracing::info!(
            index = snapshot_meta.last_log_id.map_or(0, |id| id.index),
            bytes,
            duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "snapshot taken"
        );
        self.meta.lock().await.current = Some(Current {
            meta: snapshot_meta.clone(),
            data: data.clone(),
        });
        Ok(SnapshotOf::<TypeConfig, SnapshotData> {
            meta: snapshot_meta,
            snapshot: data,
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogIdOf<TypeConfig>>, StoredMembershipOf<TypeConfig>), io::Error> {
        let meta = self.meta.lock().await;
        Ok((meta.last_applied, meta.membership.clone()))
    }

    async fn apply<Strm>(&mut self, mut entries: Strm) -> Result<(), io::Error>
    where
        Strm: Stream<Item = Result<EntryResponder<TypeConfig>, io::Error>>
            + Unpin
            + openraft::OptionalSend,
    {
        let mut meta = self.meta.lock().await;
        while let Some((entry, responder)) = entries.try_next().await? {
            meta.last_applied = Some(entry.log_id);
            crate::metrics::count(|m| &m.commit_count);
            match &entry.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(ours) => {
                    let (_zxid, result) = self.applier.apply(ours);
                    if let (Some(ticket), Some(tickets)) = (&ours.ticket, &self.tickets) {
                        tickets.resolve(ticket, &result);
                    }
                }
                EntryPayload::Membership(membership) => {
                    meta.membership = StoredMembershipOf::<TypeConfig>::new(
                        Some(entry.log_id),
                        membership.clone(),
                    );
                }
            }
            if let Some(responder) = responder {
                responder.send(());
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn install_snapshot(
        &mut self,
        snapshot_meta: &SnapshotMetaOf<TypeConfig>,
        snapshot: Self::SnapshotData,
    ) -> Result<(), io::Error> {
        // Durable first: once installed, openraft may purge the log it replaces. The
        // received state is copied into the new file as a stream, then decoded from it.
        let received = snapshot.clone();
        let data = self
            .persist(snapshot_meta, move |w| {
                // Read in large pieces: `io::copy` alone would read 8 KiB at a time.
                let mut source = io::BufReader::with_capacity(COPY_BUFFER, received.reader());
                io::copy(&mut source, w).map(|_| ())
            })
            .await?;
        let applier = Arc::clone(&self.applier);
        let decoded = data.clone();
        crate::simulation::blocking(move || restore(&*applier, &decoded)).await??;
        let mut meta = self.meta.lock().await;
        meta.last_applied = snapshot_meta.last_log_id;
        meta.membership = snapshot_meta.last_membership.clone();
        meta.current = Some(Current {
            meta: snapshot_meta.clone(),
            data,
        });
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Self::SnapshotData>>, io::Error> {
        let meta = self.meta.lock().await;
        let Some(current) = meta.current.as_ref() else {
            return Ok(None);
        };
        // The state is a handle on the snapshot's file (or bytes shared in memory):
        // nothing is read until a peer is sent it.
        Ok(Some(SnapshotOf::<TypeConfig, SnapshotData> {
            meta: current.meta.clone(),
            snapshot: current.data.clone(),
        }))
    }
}
