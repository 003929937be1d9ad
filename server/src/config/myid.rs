//! `dataDir/myid`: the server's id in the ensemble, an ASCII integer on the first line.
//! ZooKeeper reads it whenever the file exists (even in standalone mode, where a
//! non-numeric file still stops start-up) and requires it only in quorum mode.

use std::path::{Path, PathBuf};

use super::error::ConfigError;
use super::java;

/// The myid file path for a data directory.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("myid")
}

/// Reads `dataDir/myid`. `Ok(None)` when there is no such regular file.
pub fn read(data_dir: &Path) -> Result<Option<u64>, ConfigError> {
    let path = path(data_dir);
    if !path.is_file() {
        return Ok(None);
    }
    let bytes = std::fs::read(&path).map_err(|e| ConfigError::Myid {
        path: path.clone(),
        message: format!("cannot read: {e}"),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    // Only the first line counts (Java's readLine); we also forgive surrounding blanks.
    let first = text.split(['\n', '\r']).next().unwrap_or_default();
    let id = java::trim(first);
    java::parse_long(id)
        .and_then(|v| u64::try_from(v).ok())
        .map(Some)
        .ok_or_else(|| ConfigError::Myid {
            path,
            message: format!("serverid {id:?} is not a number"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::TempDir;

    #[test]
    fn reads_first_line() {
        let dir = TempDir::new("myid-ok");
        assert_eq!(read(dir.path()).ok(), Some(None));
        dir.write("myid", "3\n");
        assert_eq!(read(dir.path()).ok(), Some(Some(3)));
        dir.write("myid", " 12 \r\nignored");
        assert_eq!(read(dir.path()).ok(), Some(Some(12)));
    }

    #[test]
    fn bad_content_names_the_file() {
        let dir = TempDir::new("myid-bad");
        for bad in ["abc", "", "-1", "1.5"] {
            dir.write("myid", bad);
            let err = read(dir.path())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                err.contains(&path(dir.path()).display().to_string()),
                "{err}"
            );
            assert!(err.contains("is not a number"), "{err}");
        }
    }
}
