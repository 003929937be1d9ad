//! ZooKeeper's own data files: reading its snapshots and txn logs (`import`), writing
//! a snapshot it starts from (`export`), and refusing to start empty on a directory
//! that holds them. Formats from ZooKeeper's `FileSnap`, `FileTxnLog`, `SnapStream`,
//! `DataTree` and `zookeeper.jute`; replay follows `DataTree.processTxn` to the letter,
//! so the imported tree is the one ZooKeeper itself would load, down to every stat.

pub mod digest;
mod error;
mod export;
mod import;
pub(crate) mod jute_stream;
pub mod layout;
mod progress;
mod snappy;
pub mod snapshot;
pub mod txn_log;

use std::path::Path;

pub use error::ZkFilesError;
pub use export::{ExportRequest, ExportSummary, export};
pub use import::{DigestCheck, ImportRequest, ImportSummary, import, state_from_snapshot};
pub use layout::ZkDataFiles;

/// Refuses to start a server with no data of its own on a directory that holds
/// ZooKeeper's: it would serve an empty tree over the operator's data. The message
/// names the files and the import command.
pub fn refuse_zookeeper_data(
    data_dir: &Path,
    data_log_dir: &Path,
    config_file: Option<&Path>,
    has_own_data: bool,
) -> Result<(), String> {
    if has_own_data {
        return Ok(());
    }
    let found = ZkDataFiles::find(data_dir, data_log_dir).map_err(|e| e.to_string())?;
    if found.is_empty() {
        return Ok(());
    }
    let log_flag = if data_log_dir == data_dir {
        String::new()
    } else {
        format!(" --zk-data-log-dir {}", data_log_dir.display())
    };
    Err(format!(
        "this data directory holds ZooKeeper's data ({}) and no ferrokeeper data; \
         starting would serve an empty tree in its place. Import it first, with the \
         server stopped:\n    ferrokeeper import --zk-data-dir {}{log_flag} --config {}\n\
         (or point dataDir at an empty directory to start a new, empty server)",
        found.describe(5),
        data_dir.display(),
        config_file.map_or_else(|| "<zoo.cfg>".to_owned(), |p| p.display().to_string())
    ))
}

#[cfg(test)]
mod tests;
