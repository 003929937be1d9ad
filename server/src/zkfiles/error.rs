//! What can go wrong reading or writing ZooKeeper's files: every error names the file,
//! and damage names the byte offset too, so an operator can look at it.

use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ZkFilesError {
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    /// The file's bytes are not what ZooKeeper writes. `offset` is in the file as
    /// stored (for a compressed snapshot: in the decompressed stream).
    #[error("{path} is damaged at offset {offset}: {what}")]
    Damaged {
        path: PathBuf,
        offset: u64,
        what: String,
    },
    /// A problem with the data as a whole (no snapshot, missing txns, a digest that does
    /// not match), with what to do about it.
    #[error("{0}")]
    Refused(String),
}

impl ZkFilesError {
    pub(crate) fn damaged(path: &Path, offset: u64, what: impl Into<String>) -> Self {
        ZkFilesError::Damaged {
            path: path.to_path_buf(),
            offset,
            what: what.into(),
        }
    }
}

/// `map_err` helper for I/O on one file.
pub(crate) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> ZkFilesError + 'a {
    move |source| ZkFilesError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}
