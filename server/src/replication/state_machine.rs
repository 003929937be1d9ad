//! openraft's state machine, delegating our entries to an [`Applier`] (the server core,
//! which owns the ZooKeeper state, the watch registry and the connection outboxes, so
//! that applying an entry and queueing its watch events happen under one lock).

use std::io::{self, Cursor};
use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use openraft::alias::{LogIdOf, SnapshotMetaOf, SnapshotOf, StoredMembershipOf};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use tokio::sync::Mutex;

use super::types::{ApplyOutcome, TypeConfig};
use crate::proposal::Proposal;
use crate::state::txn::TxnResult;

/// The application's side of the state machine.
pub trait Applier: Send + Sync + 'static {
    /// Applies one entry; returns its zxid and result.
    fn apply(&self, proposal: &Proposal) -> (i64, TxnResult);
    /// Serializes the whole replicated state.
    fn snapshot(&self) -> io::Result<Vec<u8>>;
    /// Replaces the whole replicated state.
    fn restore(&self, data: &[u8]) -> io::Result<()>;
}

struct Meta {
    last_applied: Option<LogIdOf<TypeConfig>>,
    membership: StoredMembershipOf<TypeConfig>,
    current: Option<(SnapshotMetaOf<TypeConfig>, Vec<u8>)>,
}

#[derive(Clone)]
pub struct StateMachine {
    applier: Arc<dyn Applier>,
    meta: Arc<Mutex<Meta>>,
}

impl StateMachine {
    pub fn new(applier: Arc<dyn Applier>) -> Self {
        StateMachine {
            applier,
            meta: Arc::new(Mutex::new(Meta {
                last_applied: None,
                membership: StoredMembershipOf::<TypeConfig>::default(),
                current: None,
            })),
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn build_snapshot(
        &mut self,
    ) -> Result<SnapshotOf<TypeConfig, Cursor<Vec<u8>>>, io::Error> {
        let mut meta = self.meta.lock().await;
        let data = self.applier.snapshot()?;
        let snapshot_meta = SnapshotMetaOf::<TypeConfig> {
            last_log_id: meta.last_applied,
            last_membership: meta.membership.clone(),
        };
        meta.current = Some((snapshot_meta.clone(), data.clone()));
        Ok(SnapshotOf::<TypeConfig, Cursor<Vec<u8>>> {
            meta: snapshot_meta,
            snapshot: Cursor::new(data),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = Cursor<Vec<u8>>;
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
            let outcome = match &entry.payload {
                EntryPayload::Blank => ApplyOutcome {
                    zxid: 0,
                    result: None,
                },
                EntryPayload::Normal(ours) => {
                    let (zxid, result) = self.applier.apply(ours);
                    ApplyOutcome {
                        zxid,
                        result: Some(result),
                    }
                }
                EntryPayload::Membership(membership) => {
                    meta.membership = StoredMembershipOf::<TypeConfig>::new(
                        Some(entry.log_id),
                        membership.clone(),
                    );
                    ApplyOutcome {
                        zxid: 0,
                        result: None,
                    }
                }
            };
            if let Some(responder) = responder {
                responder.send(outcome);
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
        let data = snapshot.into_inner();
        self.applier.restore(&data)?;
        let mut meta = self.meta.lock().await;
        meta.last_applied = snapshot_meta.last_log_id;
        meta.membership = snapshot_meta.last_membership.clone();
        meta.current = Some((snapshot_meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(
        &mut self,
    ) -> Result<Option<SnapshotOf<TypeConfig, Self::SnapshotData>>, io::Error> {
        let meta = self.meta.lock().await;
        Ok(meta
            .current
            .as_ref()
            .map(|(m, data)| SnapshotOf::<TypeConfig, Cursor<Vec<u8>>> {
                meta: m.clone(),
                snapshot: Cursor::new(data.clone()),
            }))
    }
}
