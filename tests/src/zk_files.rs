//! ZooKeeper's own data files (`<dir>/version-2/snapshot.<hex zxid>[.gz|.snappy]` and
//! `log.<hex first zxid>`), read just far enough for tests to find them and to damage a
//! transaction log at a chosen record.
//!
//! Txn log layout (big-endian): a 16-byte header (int magic `ZKLG`, int version 2, long
//! dbid), then records `long adler32(payload), int len, payload[len], byte 'B'`, where the
//! payload starts with the TxnHeader (long clientId, int cxid, long zxid, long time, int
//! type). The file is preallocated with zeros, so a record of length 0 ends the log.

use std::path::{Path, PathBuf};

/// `ZKLG`, the first int of every txn log.
pub const LOG_MAGIC: u32 = 0x5a4b_4c47;
/// Bytes before the first record of a txn log.
pub const LOG_HEADER_LEN: usize = 16;

/// `<dir>/version-2`.
pub fn version_2(dir: &Path) -> PathBuf {
    dir.join("version-2")
}

/// The zxid a data file's name carries (`snapshot.1a`, `snapshot.1a.gz`, `log.1`), if
/// the name has the form `<prefix>.<hex>[.<suffix>]`.
pub fn zxid_of_name(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('.')?;
    let hex = rest.split('.').next()?;
    i64::from_str_radix(hex, 16).ok()
}

/// The files `<dir>/version-2/<prefix>.*` (prefix `snapshot` or `log`), by zxid.
pub fn data_files(dir: &Path, prefix: &str) -> Vec<(i64, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(version_2(dir)) else {
        return Vec::new();
    };
    let mut files: Vec<(i64, PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            zxid_of_name(&name, prefix).map(|zxid| (zxid, entry.path()))
        })
        .collect();
    files.sort();
    files
}

/// The file name of `path` as text.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every regular file below `dir` (none if it does not exist).
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Adler-32 (`java.util.zip.Adler32`), the checksum of txn log records and snapshots.
pub fn adler32(bytes: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in bytes.chunks(5552) {
        for &byte in chunk {
            a += u32::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// One record of a txn log, located in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxnRecord {
    /// Where the record (its checksum) starts.
    pub offset: usize,
    /// The payload's length.
    pub len: usize,
    /// One past the record's trailing 'B'.
    pub end: usize,
    pub checksum: u64,
    /// From the TxnHeader.
    pub client_id: i64,
    pub zxid: i64,
    pub txn_type: i32,
}

impl TxnRecord {
    /// Where the payload starts (after the checksum and the length).
    pub fn payload_start(&self) -> usize {
        self.offset + 12
    }

    /// Whether the stored checksum matches the payload in `bytes`.
    pub fn checksum_ok(&self, bytes: &[u8]) -> bool {
        let payload = &bytes[self.payload_start()..self.payload_start() + self.len];
        u64::from(adler32(payload)) == self.checksum
    }
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

fn be_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_be_bytes(word)
}

/// The complete records of a txn log's bytes, up to the first zero length (the end of
/// what was written) or the end of the bytes. Panics on a wrong magic or a record cut
/// short: this reads logs a real ZooKeeper wrote, before a test damages them.
pub fn txn_records(bytes: &[u8]) -> Vec<TxnRecord> {
    assert!(
        bytes.len() >= LOG_HEADER_LEN,
        "txn log shorter than its header"
    );
    assert_eq!(be_u32(bytes, 0), LOG_MAGIC, "not a ZooKeeper txn log");
    let mut records = Vec::new();
    let mut at = LOG_HEADER_LEN;
    while at + 12 <= bytes.len() {
        let checksum = be_u64(bytes, at);
        let len = be_u32(bytes, at + 8) as usize;
        if len == 0 {
            break;
        }
        let payload = at + 12;
        let end = payload + len + 1;
        assert!(
            end <= bytes.len() && len >= 32,
            "txn log record at offset {at} is cut short"
        );
        assert_eq!(
            bytes[end - 1],
            b'B',
            "txn log record at offset {at} lacks its end marker"
        );
        records.push(TxnRecord {
            offset: at,
            len,
            end,
            checksum,
            client_id: be_u64(bytes, payload) as i64,
            zxid: be_u64(bytes, payload + 12) as i64,
            txn_type: be_u32(bytes, payload + 28) as i32,
        });
        at = end;
    }
    records
}

/// Reads a txn log file and returns its bytes and records.
pub fn read_txn_log(path: &Path) -> (Vec<u8>, Vec<TxnRecord>) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("read txn log {}: {e}", path.display()));
    let records = txn_records(&bytes);
    (bytes, records)
}
