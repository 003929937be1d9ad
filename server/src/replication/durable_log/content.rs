//! The log's logical content (vote, committed, purged, where each entry is), which
//! replay at open and live writes both change through [`LogContent::apply`].

use super::*;

/// Where an entry's record is.
#[derive(Debug, Clone, Copy)]
pub(super) struct Loc {
    pub(super) log_id: LogIdOf<TypeConfig>,
    pub(super) seq: u64,
    pub(super) offset: u64,
    pub(super) len: u64,
}

/// The log's logical content; replay at open and live writes both change it through
/// [`LogContent::apply`].
#[derive(Debug, Default)]
pub(super) struct LogContent {
    pub(super) vote: Option<VoteOf<TypeConfig>>,
    pub(super) committed: Option<LogIdOf<TypeConfig>>,
    pub(super) purged: Option<LogIdOf<TypeConfig>>,
    pub(super) index: BTreeMap<u64, Loc>,
    /// Only while replaying: the oldest remaining segment starts after this log id, so
    /// entries between `purged` and it lived in deleted segments. Replay must show them
    /// purged, or the log has a hole.
    pub(super) phantom: Option<LogIdOf<TypeConfig>>,
}

impl LogContent {
    pub(super) fn last(&self) -> Option<LogIdOf<TypeConfig>> {
        self.index
            .values()
            .next_back()
            .map(|l| l.log_id)
            .or(self.phantom)
            .or(self.purged)
    }

    pub(super) fn purged_next(&self) -> u64 {
        self.purged.map_or(0, |p| p.index + 1)
    }

    pub(super) fn checkpoint(&self, seq: u64) -> Checkpoint {
        Checkpoint {
            seq,
            vote: self.vote.as_ref().map(DiskVote::from_vote),
            committed: self.committed.as_ref().map(DiskLogId::from_log_id),
            purged: self.purged.as_ref().map(DiskLogId::from_log_id),
            last: self.last().as_ref().map(DiskLogId::from_log_id),
        }
    }

    pub(super) fn from_checkpoint(cp: &Checkpoint) -> Self {
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
    pub(super) fn check_append(&self, index: u64, next: Option<u64>) -> Result<(), String> {
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

    pub(super) fn next_index(&self) -> Option<u64> {
        self.last().map(|l| l.index + 1)
    }

    pub(super) fn apply(&mut self, op: &RecordEffect) {
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
pub(super) enum RecordEffect {
    Entry(Loc),
    Vote(VoteOf<TypeConfig>),
    Committed(Option<LogIdOf<TypeConfig>>),
    TruncateAfter(Option<LogIdOf<TypeConfig>>),
    Purge(LogIdOf<TypeConfig>),
}
