//! openraft's side: [`RaftLogReader`] and [`RaftLogStorage`] over [`DurableLogStore`].

use super::*;

pub(super) fn bounds<RB: RangeBounds<u64>>(range: &RB) -> (u64, u64) {
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
