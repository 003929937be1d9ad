//! Snapshot files: one checksummed blob per snapshot, written so that a crash at any
//! moment leaves either the old set of snapshots or the old set plus a complete new
//! one — never a half-written file that looks valid.
//!
//! Layout: `MAGIC` (8 bytes), payload length (u64 LE), payload, CRC-32C of the payload
//! (u32 LE). Name: `snapshot.<last log index, 20 digits>`, so names sort by age.
//! Writing goes to `<name>.tmp`, fsync, rename, fsync of the directory.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"FKSNAP\x00\x01";
const PREFIX: &str = "snapshot.";
const TMP_SUFFIX: &str = ".tmp";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error(
        "every snapshot in {dir} is damaged ({details}); refusing to start without the data they hold. \
         To recover, restore the directory from a backup or from another ensemble member"
    )]
    AllDamaged { dir: PathBuf, details: String },
}

fn io_error<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> SnapshotFileError + 'a {
    move |source| SnapshotFileError::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

/// When the snapshot file for `index` in `dir` was last written.
pub fn modified(dir: &Path, index: u64) -> Option<std::time::SystemTime> {
    std::fs::metadata(dir.join(file_name(index)))
        .and_then(|m| m.modified())
        .ok()
}

fn file_name(index: u64) -> String {
    format!("{PREFIX}{index:020}")
}

/// The snapshots in `dir` by index, newest first (temp files are ignored).
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, SnapshotFileError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(io_error(dir, "list")(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error(dir, "list"))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.ends_with(TMP_SUFFIX) {
            continue;
        }
        if let Some(index) = name
            .strip_prefix(PREFIX)
            .and_then(|i| i.parse::<u64>().ok())
        {
            found.push((index, entry.path()));
        }
    }
    found.sort_by_key(|(index, _)| std::cmp::Reverse(*index));
    Ok(found)
}

/// Writes `payload` as the snapshot at `index`, durably, and returns its path.
pub fn write(dir: &Path, index: u64, payload: &[u8]) -> Result<PathBuf, SnapshotFileError> {
    fs::create_dir_all(dir).map_err(io_error(dir, "create directory"))?;
    let path = dir.join(file_name(index));
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", file_name(index)));
    {
        let mut file = File::create(&tmp).map_err(io_error(&tmp, "create"))?;
        let mut header = Vec::with_capacity(16);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        file.write_all(&header).map_err(io_error(&tmp, "write"))?;
        file.write_all(payload).map_err(io_error(&tmp, "write"))?;
        file.write_all(&crc32c::crc32c(payload).to_le_bytes())
            .map_err(io_error(&tmp, "write"))?;
        file.sync_all().map_err(io_error(&tmp, "fsync"))?;
    }
    fs::rename(&tmp, &path).map_err(io_error(&path, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "fsync directory"))?;
    Ok(path)
}

/// Why one snapshot file cannot be used.
fn check(path: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() < 20 || &bytes[..8] != MAGIC {
        return Err("not a ferrokeeper snapshot (bad header)".into());
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[8..16]);
    let len =
        usize::try_from(u64::from_le_bytes(len)).map_err(|_| "length overflows".to_string())?;
    if bytes.len() != 16 + len + 4 {
        return Err(format!(
            "truncated: {} bytes for a {len}-byte payload",
            bytes.len()
        ));
    }
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[16 + len..]);
    if crc32c::crc32c(&bytes[16..16 + len]) != u32::from_le_bytes(crc) {
        return Err("checksum mismatch".into());
    }
    bytes.truncate(16 + len);
    bytes.drain(..16);
    Ok(bytes)
}

/// The newest snapshot whose checksum holds: `(index, payload)`. Damaged newer ones are
/// skipped with a log line; if snapshots exist but none is intact, that is an error.
pub fn read_newest(dir: &Path) -> Result<Option<(u64, Vec<u8>)>, SnapshotFileError> {
    let mut problems = Vec::new();
    for (index, path) in list(dir)? {
        match check(&path) {
            Ok(payload) => {
                if !problems.is_empty() {
                    tracing::warn!(dir = %dir.display(), "skipped damaged snapshots: {}", problems.join("; "));
                }
                return Ok(Some((index, payload)));
            }
            Err(why) => problems.push(format!("{}: {why}", path.display())),
        }
    }
    if problems.is_empty() {
        Ok(None)
    } else {
        Err(SnapshotFileError::AllDamaged {
            dir: dir.to_path_buf(),
            details: problems.join("; "),
        })
    }
}

/// Deletes all but the `keep` newest snapshots, and stale temp files.
pub fn retain(dir: &Path, keep: usize) -> Result<(), SnapshotFileError> {
    for (_, path) in list(dir)?.into_iter().skip(keep.max(1)) {
        fs::remove_file(&path).map_err(io_error(&path, "remove"))?;
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.ends_with(TMP_SUFFIX))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_valid_snapshot_wins_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_newest(dir.path()).unwrap().is_none());
        write(dir.path(), 5, b"five").unwrap();
        write(dir.path(), 12, b"twelve").unwrap();
        assert_eq!(
            read_newest(dir.path()).unwrap(),
            Some((12, b"twelve".to_vec()))
        );

        // Flip a payload byte of the newest: the older one is used.
        let newest = dir.path().join(file_name(12));
        let mut bytes = fs::read(&newest).unwrap();
        bytes[17] ^= 0xff;
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(
            read_newest(dir.path()).unwrap(),
            Some((5, b"five".to_vec()))
        );

        // Truncate the older one too: nothing intact is an error, not "no snapshot".
        let older = dir.path().join(file_name(5));
        let bytes = fs::read(&older).unwrap();
        fs::write(&older, &bytes[..bytes.len() - 1]).unwrap();
        let err = read_newest(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("checksum mismatch") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn temp_files_are_ignored_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 1..=5 {
            write(dir.path(), i, format!("s{i}").as_bytes()).unwrap();
        }
        fs::write(
            dir.path().join("snapshot.00000000000000000009.tmp"),
            b"half",
        )
        .unwrap();
        assert_eq!(read_newest(dir.path()).unwrap().unwrap().0, 5);
        retain(dir.path(), 3).unwrap();
        let left: Vec<u64> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        assert_eq!(left, vec![5, 4, 3]);
        assert!(
            !dir.path()
                .join("snapshot.00000000000000000009.tmp")
                .exists()
        );
    }
}
