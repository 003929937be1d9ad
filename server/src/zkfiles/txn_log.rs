//! ZooKeeper's txn log files (`FileTxnLog`): a `FileHeader` (magic `ZKLG`, version 2),
//! then records of `long adler32, int length, bytes, byte 'B'`, then the zeros the file
//! was preallocated with (a record of length 0 ends the log).
//!
//! A record that does not check out, with no valid record after it, is a torn tail (a
//! crash during a write that was never acknowledged): it and everything after it is
//! cut, with a warning that names the file and offset, as ZooKeeper does. One with a
//! valid record after it is damage, and stops the import. ZooKeeper starts a new file
//! after a restart, so a torn tail may end any file, not only the last; that no txn is
//! missing between files is checked by zxid.

use std::fs;
use std::path::Path;

use bytes::Bytes;
use ferrokeeper_protocol::TxnEntry;

use super::error::{ZkFilesError, io_err};
use super::layout::ZkFile;

pub const LOG_MAGIC: i32 = 0x5a4b_4c47; // "ZKLG"
const HEADER_LEN: usize = 16;
const RECORD_OVERHEAD: usize = 8 + 4 + 1;
const END_OF_RECORD: u8 = b'B';

/// The log files replay must read to continue after `snapshot_zxid`
/// (`FileTxnLog.FileTxnIterator.init`): every file starting after it, and the newest
/// one starting at or before it.
pub fn files_after(logs: &[ZkFile], snapshot_zxid: i64) -> Vec<ZkFile> {
    let first = logs
        .iter()
        .rposition(|f| f.zxid <= snapshot_zxid)
        .unwrap_or(0);
    logs[first..].to_vec()
}

/// A torn tail that was cut, for the import's report.
#[derive(Debug, Clone)]
pub struct TornTail {
    pub file: String,
    pub offset: u64,
    /// Bytes from `offset` to the end of the file that were not zero.
    pub nonzero_bytes: usize,
}

/// What reading one file gives: its txns in order, and a torn tail if one was cut.
pub struct LogContents {
    pub txns: Vec<TxnEntry>,
    pub torn: Option<TornTail>,
}

/// Why the record at an offset cannot be used, or `None` if it is a good record of
/// `len` bytes.
fn check_record(bytes: &[u8], at: usize) -> Result<(i64, usize), &'static str> {
    let Some(head) = bytes.get(at..at + 12) else {
        return Err("record header cut short");
    };
    let crc = i64::from_be_bytes(head[..8].try_into().map_err(|_| "header")?);
    let len = i32::from_be_bytes(head[8..12].try_into().map_err(|_| "header")?);
    if len < 0 {
        return Err("negative record length");
    }
    let len = len as usize;
    let Some(end) = at.checked_add(RECORD_OVERHEAD + len) else {
        return Err("record length overflows");
    };
    if end > bytes.len() {
        return Err("record runs past the end of the file");
    }
    if bytes[end - 1] != END_OF_RECORD {
        return Err("record does not end with 'B'");
    }
    let body = &bytes[at + 12..end - 1];
    let mut adler = adler2::Adler32::new();
    adler.write_slice(body);
    if i64::from(adler.checksum()) != crc {
        return Err("checksum mismatch");
    }
    Ok((crc, len))
}

/// Reads every txn of one log file.
pub fn read_file(file: &ZkFile) -> Result<LogContents, ZkFilesError> {
    let path = &file.path;
    let bytes = fs::read(path).map_err(io_err(path, "read"))?;
    parse(path, &bytes)
}

fn parse(path: &Path, bytes: &[u8]) -> Result<LogContents, ZkFilesError> {
    let name = path.display().to_string();
    if bytes.len() < HEADER_LEN {
        // Created but never written (ZooKeeper writes the header with the first txn).
        let nonzero = bytes.iter().filter(|b| **b != 0).count();
        return Ok(LogContents {
            txns: Vec::new(),
            torn: (!bytes.is_empty()).then_some(TornTail {
                file: name,
                offset: 0,
                nonzero_bytes: nonzero,
            }),
        });
    }
    let magic = i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if magic != LOG_MAGIC {
        return Err(ZkFilesError::damaged(
            path,
            0,
            format!("not a ZooKeeper txn log (magic 0x{magic:08x})"),
        ));
    }
    let mut txns = Vec::new();
    let mut at = HEADER_LEN;
    loop {
        // The end: no room for a header, or a zero length (preallocated space).
        let len_field = bytes.get(at + 8..at + 12);
        match len_field {
            None => {
                let rest = &bytes[at..];
                let torn = rest.iter().any(|b| *b != 0).then(|| TornTail {
                    file: name.clone(),
                    offset: at as u64,
                    nonzero_bytes: rest.iter().filter(|b| **b != 0).count(),
                });
                return Ok(LogContents { txns, torn });
            }
            Some(len) if len == [0, 0, 0, 0] => {
                let rest = &bytes[at..];
                // A zero length right after a header with a checksum is a record
                // written only in part; plain zeros are the preallocated space.
                let torn = rest[..8].iter().any(|b| *b != 0).then(|| TornTail {
                    file: name.clone(),
                    offset: at as u64,
                    nonzero_bytes: rest.iter().filter(|b| **b != 0).count(),
                });
                return Ok(LogContents { txns, torn });
            }
            Some(_) => {}
        }
        match check_record(bytes, at) {
            Ok((_, len)) => {
                let body = Bytes::copy_from_slice(&bytes[at + 12..at + 12 + len]);
                let entry = TxnEntry::decode(body).map_err(|e| {
                    ZkFilesError::damaged(path, at as u64, format!("txn does not decode: {e}"))
                })?;
                txns.push(entry);
                at += RECORD_OVERHEAD + len;
            }
            Err(why) => {
                // Damage, not a torn write, if a valid record follows this one.
                let claimed = i32::from_be_bytes([
                    bytes[at + 8],
                    bytes[at + 9],
                    bytes[at + 10],
                    bytes[at + 11],
                ]);
                let next = usize::try_from(claimed)
                    .ok()
                    .and_then(|l| at.checked_add(RECORD_OVERHEAD + l));
                if let Some(next) = next
                    && check_record(bytes, next).is_ok_and(|(_, l)| l > 0)
                {
                    return Err(ZkFilesError::damaged(
                        path,
                        at as u64,
                        format!("{why} in a record followed by valid ones"),
                    ));
                }
                let rest = &bytes[at..];
                return Ok(LogContents {
                    txns,
                    torn: Some(TornTail {
                        file: name,
                        offset: at as u64,
                        nonzero_bytes: rest.iter().filter(|b| **b != 0).count(),
                    }),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokeeper_protocol::{DeleteTxn, Jute, TxnBody, TxnHeader, to_bytes};

    fn record(zxid: i64) -> Vec<u8> {
        let mut body = Vec::new();
        TxnHeader {
            client_id: 1,
            cxid: 1,
            zxid,
            time: 5,
            txn_type: 2,
        }
        .encode(&mut body);
        body.extend_from_slice(&to_bytes(&DeleteTxn {
            path: format!("/n{zxid}"),
        }));
        let mut adler = adler2::Adler32::new();
        adler.write_slice(&body);
        let mut out = i64::from(adler.checksum()).to_be_bytes().to_vec();
        out.extend_from_slice(&(body.len() as i32).to_be_bytes());
        out.extend_from_slice(&body);
        out.push(b'B');
        out
    }

    fn log(records: &[Vec<u8>], padding: usize) -> Vec<u8> {
        let mut out = LOG_MAGIC.to_be_bytes().to_vec();
        out.extend_from_slice(&2i32.to_be_bytes());
        out.extend_from_slice(&0i64.to_be_bytes());
        for r in records {
            out.extend_from_slice(r);
        }
        out.resize(out.len() + padding, 0);
        out
    }

    fn zxids(c: &LogContents) -> Vec<i64> {
        c.txns.iter().map(|t| t.header.zxid).collect()
    }

    #[test]
    fn reads_records_up_to_the_preallocated_zeros() {
        let bytes = log(&[record(1), record(2), record(3)], 4096);
        let c = parse(Path::new("log.1"), &bytes).unwrap();
        assert_eq!(zxids(&c), vec![1, 2, 3]);
        assert!(c.torn.is_none());
        assert!(matches!(&c.txns[0].body, TxnBody::Delete(d) if d.path == "/n1"));
    }

    #[test]
    fn a_torn_tail_is_cut_at_every_offset_of_the_last_record() {
        let good = log(&[record(1), record(2)], 0);
        let third = record(3);
        for cut in 1..third.len() {
            // Truncated mid-record, and the same with the rest zero-filled.
            let mut truncated = good.clone();
            truncated.extend_from_slice(&third[..cut]);
            let mut zeroed = truncated.clone();
            zeroed.resize(good.len() + third.len() + 100, 0);
            // A cut inside the checksum's zero high bytes wrote nothing that differs
            // from the preallocated zeros: there is nothing to report then.
            let wrote = third[..cut].iter().any(|b| *b != 0);
            for bytes in [truncated, zeroed] {
                let c = parse(Path::new("log.1"), &bytes).unwrap();
                assert_eq!(zxids(&c), vec![1, 2], "cut at {cut}");
                assert_eq!(c.torn.is_some(), wrote, "cut at {cut}");
            }
        }
    }

    #[test]
    fn a_bad_checksum_before_good_records_is_damage_with_its_offset() {
        let mut bytes = log(&[record(1), record(2), record(3)], 100);
        let second = HEADER_LEN + record(1).len();
        bytes[second + 20] ^= 0x40;
        match parse(Path::new("log.1"), &bytes) {
            Err(ZkFilesError::Damaged { offset, what, .. }) => {
                assert_eq!(offset, second as u64);
                assert!(what.contains("checksum"), "{what}");
            }
            other => panic!("expected damage, got {:?}", other.map(|c| zxids(&c))),
        }
        // The same flip in the last record is a torn tail.
        let mut bytes = log(&[record(1), record(2), record(3)], 100);
        let third = HEADER_LEN + record(1).len() + record(2).len();
        bytes[third + 20] ^= 0x40;
        let c = parse(Path::new("log.1"), &bytes).unwrap();
        assert_eq!(zxids(&c), vec![1, 2]);
        assert_eq!(c.torn.map(|t| t.offset), Some(third as u64));
    }

    #[test]
    fn not_a_log_and_empty_files() {
        assert!(parse(Path::new("log.1"), b"ZKSN0000000000000000").is_err());
        let c = parse(Path::new("log.1"), &[]).unwrap();
        assert!(c.txns.is_empty() && c.torn.is_none());
        let c = parse(Path::new("log.1"), &log(&[], 1000)).unwrap();
        assert!(c.txns.is_empty() && c.torn.is_none());
    }

    #[test]
    fn replay_reads_from_the_file_holding_the_snapshot_zxid() {
        let f = |z| ZkFile {
            path: format!("log.{z:x}").into(),
            zxid: z,
        };
        let logs = vec![f(1), f(10), f(20)];
        let pick = |z| {
            files_after(&logs, z)
                .iter()
                .map(|f| f.zxid)
                .collect::<Vec<_>>()
        };
        assert_eq!(pick(15), vec![10, 20]);
        assert_eq!(pick(10), vec![10, 20]);
        assert_eq!(pick(0), vec![1, 10, 20]);
        assert_eq!(pick(30), vec![20]);
    }
}
