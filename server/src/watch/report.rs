//! Reports for the four-letter words (wchs, wchc, wchp) and mntr's zk_watch_count.
//!
//! ZooKeeper 3.8 builds wchs/wchc/wchp from its data-watch table only (getData/exists
//! watches and both persistent modes; `DataTree.dumpWatches*` read `dataWatches`), so
//! a connection holding only getChildren watches does not appear there. We do the same.
//! zk_watch_count, in contrast, is the size of both tables, so a persistent watch counts
//! twice there.
//!
//! Like 3.8.0 (observed), a connection stays in wchs's count and in wchc, with no paths,
//! after all its data-table watches fired or were removed, until it disconnects.

use std::collections::BTreeMap;
use std::fmt;

use super::kinds::Kinds;
use super::registry::{WatchRegistry, WatcherKey};

/// The wchs numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WatchSummary {
    /// Connections that armed a data-table watch since they connected (see module docs).
    pub connections: usize,
    /// Paths with at least one watch in the data table.
    pub paths: usize,
    /// (path, watcher) pairs in the data table.
    pub total: usize,
}

/// ZooKeeper's exact wchs body, without a trailing newline.
impl fmt::Display for WatchSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} connections watching {} paths\nTotal watches:{}",
            self.connections, self.paths, self.total
        )
    }
}

impl<W: WatcherKey> WatchRegistry<W> {
    /// For wchs.
    pub fn summary(&self) -> WatchSummary {
        let mut summary = WatchSummary {
            connections: self.data_watchers.len(),
            ..WatchSummary::default()
        };
        for ws in self.by_path.values() {
            let n = ws
                .values()
                .filter(|k| k.intersects(Kinds::DATA_TABLE))
                .count();
            summary.total += n;
            summary.paths += usize::from(n > 0);
        }
        summary
    }

    /// For wchc: each watcher's data-table paths, watchers ascending, paths sorted; a
    /// connection whose data watches are all gone is listed with no paths.
    pub fn by_watcher(&self) -> BTreeMap<W, Vec<String>> {
        let mut out: BTreeMap<W, Vec<String>> = self
            .data_watchers
            .iter()
            .map(|w| (*w, Vec::new()))
            .collect();
        for (path, ws) in &self.by_path {
            for (w, _) in ws.iter().filter(|(_, k)| k.intersects(Kinds::DATA_TABLE)) {
                out.entry(*w).or_default().push(path.clone());
            }
        }
        for paths in out.values_mut() {
            paths.sort_unstable();
        }
        out
    }

    /// For wchp: each data-table path's watchers, paths sorted, watchers ascending.
    pub fn by_path(&self) -> BTreeMap<String, Vec<W>> {
        self.by_path
            .iter()
            .filter_map(|(path, ws)| {
                let watchers: Vec<W> = ws
                    .iter()
                    .filter(|(_, k)| k.intersects(Kinds::DATA_TABLE))
                    .map(|(w, _)| *w)
                    .collect();
                (!watchers.is_empty()).then(|| (path.clone(), watchers))
            })
            .collect()
    }

    /// mntr's zk_watch_count: data-table entries plus child-table entries.
    pub fn watch_count(&self) -> usize {
        self.by_path
            .values()
            .flat_map(|ws| ws.values())
            .map(|k| {
                usize::from(k.intersects(Kinds::DATA_TABLE))
                    + usize::from(k.intersects(Kinds::CHILD_TABLE))
            })
            .sum()
    }
}
