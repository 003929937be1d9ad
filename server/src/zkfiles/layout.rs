//! Where ZooKeeper keeps its files and how it names them: `<dataDir>/version-2/` holds
//! `snapshot.<zxid in hex>[.gz|.snappy]`, `<dataLogDir>/version-2/` holds
//! `log.<first zxid in hex>` (`FileTxnSnapLog`, `Util.getZxidFromName`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::{ZkFilesError, io_err};

/// ZooKeeper's subdirectory for format version 2 (every version since 3.0).
pub const VERSION_DIR: &str = "version-2";

/// How a snapshot file is compressed, by its name's extension (`SnapStream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Snappy,
}

/// A ZooKeeper data file and the zxid its name carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZkFile {
    pub path: PathBuf,
    pub zxid: i64,
}

impl ZkFile {
    /// The snapshot's compression, from the last extension as ZooKeeper reads it.
    pub fn compression(&self) -> Compression {
        let name = self
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match name.rsplit('.').next() {
            Some(ext) if ext.eq_ignore_ascii_case("gz") => Compression::Gzip,
            Some(ext) if ext.eq_ignore_ascii_case("snappy") => Compression::Snappy,
            _ => Compression::None,
        }
    }
}

/// `Util.getZxidFromName`: the hex number after `prefix.`; `None` if it is not one.
fn zxid_from_name(name: &str, prefix: &str) -> Option<i64> {
    let mut parts = name.split('.');
    if parts.next()? != prefix {
        return None;
    }
    // Java's Long.parseLong(hex, 16) takes an optional sign; ZooKeeper never writes one.
    let hex = parts.next()?;
    i64::from_str_radix(hex, 16)
        .ok()
        .filter(|_| !hex.starts_with('+'))
}

/// Files named `prefix.<hex>` in `dir`, by zxid ascending; a missing dir has none.
fn list(dir: &Path, prefix: &str) -> Result<Vec<ZkFile>, ZkFilesError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, "list")(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(dir, "list"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(zxid) = zxid_from_name(name, prefix)
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            files.push(ZkFile {
                path: entry.path(),
                zxid,
            });
        }
    }
    files.sort_by(|a, b| a.zxid.cmp(&b.zxid).then_with(|| a.path.cmp(&b.path)));
    Ok(files)
}

/// A ZooKeeper data directory's files.
#[derive(Debug, Clone, Default)]
pub struct ZkDataFiles {
    /// Oldest first.
    pub snapshots: Vec<ZkFile>,
    /// Oldest first.
    pub logs: Vec<ZkFile>,
}

impl ZkDataFiles {
    /// Looks in `data_dir/version-2` for snapshots and `log_dir/version-2` for logs.
    pub fn find(data_dir: &Path, log_dir: &Path) -> Result<ZkDataFiles, ZkFilesError> {
        Ok(ZkDataFiles {
            snapshots: list(&data_dir.join(VERSION_DIR), "snapshot")?,
            logs: list(&log_dir.join(VERSION_DIR), "log")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty() && self.logs.is_empty()
    }

    /// Every file, for messages: the first few paths and how many more.
    pub fn describe(&self, most: usize) -> String {
        let all: Vec<String> = self
            .snapshots
            .iter()
            .chain(&self.logs)
            .map(|f| f.path.display().to_string())
            .collect();
        let shown = all
            .iter()
            .take(most)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        if all.len() > most {
            format!("{shown} and {} more", all.len() - most)
        } else {
            shown
        }
    }
}

/// ZooKeeper's snapshot file name for `zxid` (`Util.makeSnapshotName`, uncompressed).
pub fn snapshot_name(zxid: i64) -> String {
    format!("snapshot.{zxid:x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_zookeeper_parses_them() {
        assert_eq!(zxid_from_name("snapshot.1a", "snapshot"), Some(0x1a));
        assert_eq!(
            zxid_from_name("snapshot.100000003.gz", "snapshot"),
            Some(0x1_0000_0003)
        );
        assert_eq!(zxid_from_name("log.0", "log"), Some(0));
        assert_eq!(zxid_from_name("log.zz", "log"), None);
        assert_eq!(zxid_from_name("logx.1", "log"), None);
        assert_eq!(zxid_from_name("snapshot", "snapshot"), None);
        assert_eq!(snapshot_name(0x1_0000_0003), "snapshot.100000003");
    }

    #[test]
    fn finds_files_oldest_first_with_compression() {
        let dir = tempfile::tempdir().unwrap();
        let v2 = dir.path().join(VERSION_DIR);
        fs::create_dir_all(&v2).unwrap();
        for name in [
            "snapshot.20.gz",
            "snapshot.3",
            "snapshot.10.snappy",
            "log.1",
            "log.b",
            "myid",
            "acceptedEpoch",
        ] {
            fs::write(v2.join(name), b"x").unwrap();
        }
        let found = ZkDataFiles::find(dir.path(), dir.path()).unwrap();
        let zxids: Vec<i64> = found.snapshots.iter().map(|f| f.zxid).collect();
        assert_eq!(zxids, vec![3, 0x10, 0x20]);
        let kinds: Vec<Compression> = found.snapshots.iter().map(ZkFile::compression).collect();
        assert_eq!(
            kinds,
            vec![Compression::None, Compression::Snappy, Compression::Gzip]
        );
        assert_eq!(
            found.logs.iter().map(|f| f.zxid).collect::<Vec<_>>(),
            vec![1, 0xb]
        );
        assert!(found.describe(2).ends_with("and 3 more"));
        let none = ZkDataFiles::find(&dir.path().join("nope"), &dir.path().join("nope")).unwrap();
        assert!(none.is_empty());
    }
}
