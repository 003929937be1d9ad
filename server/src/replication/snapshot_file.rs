//! Snapshot files: one checksummed file per snapshot, written so that a crash at any
//! moment leaves either the old set of snapshots or the old set plus a complete new
//! one — never a half-written file that looks valid.
//!
//! Layout (version 2): `MAGIC_V2` (8 bytes), metadata length and state length (u64 LE
//! each), the metadata, the state, and a CRC-32C (u32 LE) of metadata and state followed
//! by the two lengths. The state is streamed into the file as it is encoded, so taking a
//! snapshot holds no encoded copy of the tree in memory (at a million znodes that copy,
//! and the copies made of it, raised the peak RSS by half); the state length is written
//! into the header once known. Version 1 files (`MAGIC_V1`, payload length, one payload
//! holding metadata and state together, CRC-32C of the payload) are still read.
//! Name: `snapshot.<last log index, 20 digits>`, so names sort by age. Writing goes to
//! `<name>.tmp`, fsync, rename, fsync of the directory.
//!
//! Reading checks the checksum in a streaming pass and hands out the state as a
//! [`Section`] of the open file, not as a copy in memory: the caller decodes it as a
//! stream (see [`super::snapshot_data`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::snapshot_data::Section;

const MAGIC_V1: &[u8; 8] = b"FKSNAP\x00\x01";
const MAGIC_V2: &[u8; 8] = b"FKSNAP\x00\x02";
const HEADER_V2: usize = 24;
const PREFIX: &str = "snapshot.";
const TMP_SUFFIX: &str = ".tmp";
/// Write buffer for the streamed state: the encoder writes a few bytes at a time.
const WRITE_BUFFER: usize = 1 << 20;
/// Read buffer of the checksum pass.
const CHECK_BUFFER: usize = 1 << 20;

/// What an intact snapshot file holds.
#[derive(Debug)]
pub enum Contents {
    /// Version 1: one payload with metadata and state together, as the state machine
    /// encoded them.
    Combined(Vec<u8>),
    /// Version 2: the metadata, and the state left in the file.
    Split { meta: Vec<u8>, state: Section },
}

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

/// Counts and checksums what passes through to the file.
struct Tracked<W> {
    inner: W,
    crc: u32,
    len: u64,
}

impl<W: Write> Write for Tracked<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes the snapshot at `index` durably: `meta`, then the state as `state` writes it.
/// Returns the file's path and its state, readable in place.
pub fn write(
    dir: &Path,
    index: u64,
    meta: &[u8],
    state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(PathBuf, Section), SnapshotFileError> {
    fs::create_dir_all(dir).map_err(io_error(dir, "create directory"))?;
    let path = dir.join(file_name(index));
    let tmp = dir.join(format!("{}{TMP_SUFFIX}", file_name(index)));
    let (file, state_len) = write_v2(&tmp, meta, state).map_err(io_error(&tmp, "write"))?;
    fs::rename(&tmp, &path).map_err(io_error(&path, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error(dir, "fsync directory"))?;
    let section = Section::new(file, (HEADER_V2 + meta.len()) as u64, state_len);
    Ok((path, section))
}

/// Returns the file, open for reading too, and the state's length.
fn write_v2(
    tmp: &Path,
    meta: &[u8],
    state: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<(File, u64)> {
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(tmp)?;
    // The state length is not known yet: the header is written again at the end.
    file.write_all(&[0; HEADER_V2])?;
    // Buffered before the checksum, so it runs over large chunks, not the encoder's
    // many small writes.
    let mut out = BufWriter::with_capacity(
        WRITE_BUFFER,
        Tracked {
            inner: file,
            crc: 0,
            len: 0,
        },
    );
    out.write_all(meta)?;
    state(&mut out)?;
    let tracked = out.into_inner().map_err(|e| e.into_error())?;
    let state_len = tracked.len - meta.len() as u64;
    let lengths = lengths(meta.len() as u64, state_len);
    let crc = crc32c::crc32c_append(tracked.crc, &lengths);
    let mut file = tracked.inner;
    file.write_all(&crc.to_le_bytes())?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(MAGIC_V2)?;
    file.write_all(&lengths)?;
    file.sync_all()?;
    Ok((file, state_len))
}

fn lengths(meta: u64, state: u64) -> [u8; 16] {
    let mut both = [0; 16];
    both[..8].copy_from_slice(&meta.to_le_bytes());
    both[8..].copy_from_slice(&state.to_le_bytes());
    both
}

fn u64_at(bytes: &[u8], at: usize) -> Option<u64> {
    let raw: [u8; 8] = bytes.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(raw))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(raw))
}

/// Why one snapshot file cannot be used.
fn check(path: &Path) -> Result<Contents, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let size = file
        .metadata()
        .map_err(|e| format!("cannot read its size: {e}"))?
        .len();
    let mut magic = [0; 8];
    file.read_exact_at(&mut magic, 0)
        .map_err(|_| "not a ferrokeeper snapshot (bad header)".to_string())?;
    match &magic {
        m if m == MAGIC_V1 => {
            let mut bytes = Vec::new();
            (&file)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("cannot read: {e}"))?;
            check_v1(bytes).map(Contents::Combined)
        }
        m if m == MAGIC_V2 => check_v2(file, size),
        _ => Err("not a ferrokeeper snapshot (bad header)".into()),
    }
}

fn check_v1(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let len = u64_at(&bytes, 8).ok_or("truncated header")?;
    let len = usize::try_from(len).map_err(|_| "length overflows".to_string())?;
    if len.checked_add(20) != Some(bytes.len()) {
        return Err(format!(
            "truncated: {} bytes for a {len}-byte payload",
            bytes.len()
        ));
    }
    let crc = u32_at(&bytes, 16 + len).ok_or("truncated")?;
    if crc32c::crc32c(&bytes[16..16 + len]) != crc {
        return Err("checksum mismatch".into());
    }
    bytes.truncate(16 + len);
    bytes.drain(..16);
    Ok(bytes)
}

/// Checks the lengths and the checksum reading the file once, in pieces; the state is
/// left in the file.
fn check_v2(file: File, size: u64) -> Result<Contents, String> {
    let mut header = [0; HEADER_V2];
    file.read_exact_at(&mut header, 0)
        .map_err(|_| "truncated header".to_string())?;
    let (Some(meta_len), Some(state_len)) = (u64_at(&header, 8), u64_at(&header, 16)) else {
        return Err("truncated header".into());
    };
    let body_end = meta_len
        .checked_add(state_len)
        .and_then(|body| body.checked_add(HEADER_V2 as u64))
        .ok_or("length overflows")?;
    if body_end.checked_add(4) != Some(size) {
        return Err(format!(
            "truncated: {size} bytes for {meta_len} bytes of metadata and {state_len} of state"
        ));
    }
    let meta_size = usize::try_from(meta_len).map_err(|_| "length overflows".to_string())?;
    let read = |buf: &mut [u8], at: u64| {
        file.read_exact_at(buf, at)
            .map_err(|e| format!("cannot read: {e}"))
    };
    let mut meta = vec![0; meta_size];
    read(&mut meta, HEADER_V2 as u64)?;
    let mut crc = crc32c::crc32c(&meta);
    let mut buf = vec![0; CHECK_BUFFER];
    let mut at = HEADER_V2 as u64 + meta_len;
    while at < body_end {
        let n = usize::try_from(body_end - at).map_or(CHECK_BUFFER, |n| n.min(CHECK_BUFFER));
        read(&mut buf[..n], at)?;
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        at += n as u64;
    }
    let mut stored = [0; 4];
    read(&mut stored, body_end)?;
    let crc = crc32c::crc32c_append(crc, &lengths(meta_len, state_len));
    if crc != u32::from_le_bytes(stored) {
        return Err("checksum mismatch".into());
    }
    Ok(Contents::Split {
        meta,
        state: Section::new(file, HEADER_V2 as u64 + meta_len, state_len),
    })
}

/// The newest snapshot whose checksum holds: `(index, contents)`. Damaged newer ones are
/// skipped with a log line; if snapshots exist but none is intact, that is an error.
pub fn read_newest(dir: &Path) -> Result<Option<(u64, Contents)>, SnapshotFileError> {
    let mut problems = Vec::new();
    for (index, path) in list(dir)? {
        match check(&path) {
            Ok(contents) => {
                if !problems.is_empty() {
                    tracing::warn!(dir = %dir.display(), "skipped damaged snapshots: {}", problems.join("; "));
                }
                return Ok(Some((index, contents)));
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

    fn put(dir: &Path, index: u64, meta: &[u8], state: &[u8]) {
        write(dir, index, meta, |w| w.write_all(state)).unwrap();
    }

    /// What a found snapshot holds, in memory, to compare.
    fn held(found: Option<(u64, Contents)>) -> Option<(u64, Vec<u8>, Vec<u8>)> {
        found.map(|(index, contents)| match contents {
            Contents::Split { meta, state } => (
                index,
                meta,
                super::super::snapshot_data::SnapshotData::File(state)
                    .to_vec()
                    .unwrap(),
            ),
            Contents::Combined(payload) => (index, Vec::new(), payload),
        })
    }

    fn split(index: u64, meta: &[u8], state: &[u8]) -> Option<(u64, Vec<u8>, Vec<u8>)> {
        Some((index, meta.to_vec(), state.to_vec()))
    }

    #[test]
    fn newest_valid_snapshot_wins_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_newest(dir.path()).unwrap().is_none());
        put(dir.path(), 5, b"m5", b"five");
        put(dir.path(), 12, b"m12", b"twelve");
        assert_eq!(
            held(read_newest(dir.path()).unwrap()),
            split(12, b"m12", b"twelve")
        );

        // Flip a state byte of the newest: the older one is used.
        let newest = dir.path().join(file_name(12));
        let mut bytes = fs::read(&newest).unwrap();
        bytes[HEADER_V2 + 4] ^= 0xff;
        fs::write(&newest, &bytes).unwrap();
        assert_eq!(
            held(read_newest(dir.path()).unwrap()),
            split(5, b"m5", b"five")
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
    fn the_lengths_in_the_header_are_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), 3, b"meta", b"state");
        let path = dir.path().join(file_name(3));
        let mut bytes = fs::read(&path).unwrap();
        // Move one byte from the state to the metadata: same total, other split.
        bytes[8] += 1;
        bytes[16] -= 1;
        fs::write(&path, &bytes).unwrap();
        let err = read_newest(dir.path()).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn a_version_1_file_is_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let payload = b"combined payload";
        let mut file = MAGIC_V1.to_vec();
        file.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        file.extend_from_slice(payload);
        file.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        fs::write(dir.path().join(file_name(7)), &file).unwrap();
        assert_eq!(
            held(read_newest(dir.path()).unwrap()),
            split(7, b"", payload)
        );
        file[20] ^= 1;
        fs::write(dir.path().join(file_name(7)), &file).unwrap();
        assert!(read_newest(dir.path()).is_err());
    }

    #[test]
    fn a_failed_state_writer_leaves_no_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        put(dir.path(), 1, b"m", b"one");
        let failed = write(dir.path(), 2, b"m", |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("encoder failed"))
        });
        assert!(failed.is_err());
        assert_eq!(
            held(read_newest(dir.path()).unwrap()),
            split(1, b"m", b"one")
        );
    }

    #[test]
    fn temp_files_are_ignored_and_retention_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for i in 1..=5 {
            put(dir.path(), i, b"m", format!("s{i}").as_bytes());
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
