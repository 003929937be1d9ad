//! A snapshot's state bytes, wherever they are: openraft's `SnapshotData`.
//!
//! At a million znodes the state is a couple of hundred megabytes. Held whole, it cost
//! a restart two extra reads of the newest snapshot file (openraft asks for the current
//! snapshot twice while it starts, and drops both copies), raised the restarted
//! server's peak RSS by the file's size, and was held in memory on both sides of a
//! snapshot sent to a follower. So the state is a *section of an open file*, read in
//! place when it is needed: decoded as a stream, sent chunk by chunk, copied into a new
//! snapshot file as a stream. Only a server without a snapshot directory (tests of the
//! log store) keeps it in memory.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use bytes::Bytes;

/// A byte range of an open file. Cheap to clone; it stays readable through its handle
/// after retention deletes the file's name.
#[derive(Debug, Clone)]
pub struct Section {
    file: Arc<File>,
    offset: u64,
    len: u64,
}

impl Section {
    pub fn new(file: File, offset: u64, len: u64) -> Section {
        Section::shared(Arc::new(file), offset, len)
    }

    pub fn shared(file: Arc<File>, offset: u64, len: u64) -> Section {
        Section { file, offset, len }
    }

    /// Fills `buf` from `at` bytes into the section.
    fn read_exact_at(&self, at: u64, buf: &mut [u8]) -> io::Result<()> {
        let end = at.checked_add(buf.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the end of a snapshot section",
            ));
        }
        self.file.read_exact_at(buf, self.offset + at)
    }
}

/// A snapshot's state bytes.
#[derive(Debug, Clone)]
pub enum SnapshotData {
    /// Kept in memory: only without a snapshot directory.
    Memory(Bytes),
    /// In a file: a snapshot file's state, or a snapshot received from the leader.
    File(Section),
}

impl Default for SnapshotData {
    fn default() -> Self {
        SnapshotData::Memory(Bytes::new())
    }
}

impl SnapshotData {
    pub fn len(&self) -> u64 {
        match self {
            SnapshotData::Memory(bytes) => bytes.len() as u64,
            SnapshotData::File(section) => section.len,
        }
    }

    /// Up to `max` bytes from `offset` (fewer only at the end).
    pub fn chunk(&self, offset: u64, max: usize) -> io::Result<Vec<u8>> {
        let left = self.len().saturating_sub(offset);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(max);
        if n == 0 {
            return Ok(Vec::new());
        }
        match self {
            SnapshotData::Memory(bytes) => {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                Ok(bytes.get(start..start + n).unwrap_or_default().to_vec())
            }
            SnapshotData::File(section) => {
                let mut buf = vec![0; n];
                section.read_exact_at(offset, &mut buf)?;
                Ok(buf)
            }
        }
    }

    /// Reads the bytes from the start, as a stream (buffered by the caller as it needs).
    pub fn reader(&self) -> SnapshotReader {
        SnapshotReader {
            data: self.clone(),
            at: 0,
        }
    }

    /// The whole state in memory (the offline export, and version 1 files).
    pub fn to_vec(&self) -> io::Result<Vec<u8>> {
        let mut all = Vec::new();
        self.reader().read_to_end(&mut all)?;
        Ok(all)
    }
}

/// [`SnapshotData::reader`].
pub struct SnapshotReader {
    data: SnapshotData,
    at: u64,
}

impl Read for SnapshotReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.data.len().saturating_sub(self.at);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if n == 0 {
            return Ok(0);
        }
        match &self.data {
            SnapshotData::Memory(bytes) => {
                let start = usize::try_from(self.at).map_err(io::Error::other)?;
                buf[..n].copy_from_slice(&bytes[start..start + n]);
            }
            SnapshotData::File(section) => section.read_exact_at(self.at, &mut buf[..n])?,
        }
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_file_section_reads_only_its_range() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"headSTATEtail").unwrap();
        let data = SnapshotData::File(Section::new(file, 4, 5));
        assert_eq!(data.len(), 5);
        assert_eq!(data.to_vec().unwrap(), b"STATE");
        assert_eq!(data.chunk(1, 2).unwrap(), b"TA");
        assert_eq!(data.chunk(3, 100).unwrap(), b"TE");
        assert!(data.chunk(9, 100).unwrap().is_empty());
        let mut small = [0u8; 3];
        let mut reader = data.reader();
        assert_eq!(reader.read(&mut small).unwrap(), 3);
        assert_eq!(&small, b"STA");
    }

    #[test]
    fn memory_and_file_read_the_same() {
        let memory = SnapshotData::Memory(Bytes::from_static(b"0123456789"));
        assert_eq!(memory.chunk(8, 4).unwrap(), b"89");
        assert_eq!(memory.to_vec().unwrap(), b"0123456789");
        assert!(memory.chunk(20, 4).unwrap().is_empty());
    }
}
