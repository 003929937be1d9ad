//! The on-disk format: segment file header, record framing and checksums, and the
//! serde mirrors of openraft's types that record bodies hold.
//!
//! A segment file `seg-<seq:020>.wal` is
//!
//! ```text
//! 0..8    magic  b"FKWAL\0\0\x01" (the last byte is the format version)
//! 8..16   seq    u64 LE, equal to the number in the file name
//! 16..    records, the first of which is a Checkpoint
//! ```
//!
//! and a record is
//!
//! ```text
//! 0..4    len    u32 LE, length of the body (1..=MAX_BODY_LEN)
//! 4..8    hcrc   u32 LE, crc32c(seq LE ++ offset LE ++ len LE)
//! 8..12   crc    u32 LE, crc32c(hcrc LE ++ body)
//! 12..    body   kind u8 ++ postcard payload
//! ```
//!
//! `hcrc` binds a record to its segment and byte offset, so stale or shifted bytes never
//! pass as a record, and a scan can look for valid records after a damaged one cheaply.
//! Twelve zero bytes where a header would start mean "no more records" (the unused,
//! preallocated rest of the active segment is zero-filled).

use std::collections::{BTreeMap, BTreeSet};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::impls::leader_id_adv::LeaderId;
use openraft::{BasicNode, EntryPayload, Membership};
use serde::{Deserialize, Serialize};

use super::super::types::TypeConfig;
use crate::proposal::Proposal;

pub const MAGIC: [u8; 8] = *b"FKWAL\0\0\x01";
pub const FILE_HEADER_LEN: u64 = 16;
pub const RECORD_HEADER_LEN: usize = 12;
/// The largest record body accepted (ZooKeeper's default jute.maxbuffer is 1 MiB).
pub const MAX_BODY_LEN: usize = 128 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    Checkpoint = 1,
    Entry = 2,
    Vote = 3,
    Committed = 4,
    TruncateAfter = 5,
    Purge = 6,
}

impl Kind {
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Checkpoint,
            2 => Kind::Entry,
            3 => Kind::Vote,
            4 => Kind::Committed,
            5 => Kind::TruncateAfter,
            6 => Kind::Purge,
            _ => return None,
        })
    }
}

pub fn segment_file_name(seq: u64) -> String {
    format!("seg-{seq:020}.wal")
}

pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".wal")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub fn file_header(seq: u64) -> [u8; FILE_HEADER_LEN as usize] {
    let mut h = [0u8; FILE_HEADER_LEN as usize];
    h[..8].copy_from_slice(&MAGIC);
    h[8..].copy_from_slice(&seq.to_le_bytes());
    h
}

fn header_crc(seq: u64, offset: u64, len: u32) -> u32 {
    let mut b = [0u8; 20];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    b[8..16].copy_from_slice(&offset.to_le_bytes());
    b[16..].copy_from_slice(&len.to_le_bytes());
    crc32c::crc32c(&b)
}

fn body_crc(hcrc: u32, kind: u8, payload: &[u8]) -> u32 {
    let c = crc32c::crc32c(&hcrc.to_le_bytes());
    let c = crc32c::crc32c_append(c, &[kind]);
    crc32c::crc32c_append(c, payload)
}

/// Appends one framed record for position `offset` of segment `seq` to `out`.
pub fn encode_record(seq: u64, offset: u64, kind: Kind, payload: &[u8], out: &mut Vec<u8>) {
    // Callers bound payloads by MAX_BODY_LEN, which fits in u32.
    let len = u32::try_from(payload.len() + 1).unwrap_or(u32::MAX);
    let hcrc = header_crc(seq, offset, len);
    let crc = body_crc(hcrc, kind as u8, payload);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&hcrc.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(payload);
}

pub fn record_len(payload_len: usize) -> u64 {
    (RECORD_HEADER_LEN + 1 + payload_len) as u64
}

/// What a scan finds at one position of a segment image.
#[derive(Debug)]
pub enum Parsed<'a> {
    /// A valid record: its kind, payload and total length.
    Record {
        kind: u8,
        payload: &'a [u8],
        len: u64,
    },
    /// Twelve zero bytes, or nothing at all, where a header would start.
    End,
    /// Anything else, with what is wrong.
    Invalid(String),
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(b)
}

/// Parses the record at `pos` of `buf`, which holds a segment file from its start.
pub fn parse_at(buf: &[u8], seq: u64, pos: usize) -> Parsed<'_> {
    parse_slice(&buf[pos.min(buf.len())..], seq, pos as u64)
}

/// Parses the record at the start of `rest`, which sits at `pos` of segment `seq`.
pub fn parse_slice(rest: &[u8], seq: u64, pos: u64) -> Parsed<'_> {
    if rest.len() < RECORD_HEADER_LEN {
        return if rest.iter().all(|b| *b == 0) {
            Parsed::End
        } else {
            Parsed::Invalid(format!("{} stray bytes after the last record", rest.len()))
        };
    }
    let header = &rest[..RECORD_HEADER_LEN];
    if header.iter().all(|b| *b == 0) {
        return Parsed::End;
    }
    let len = u32_at(header, 0);
    let hcrc = u32_at(header, 4);
    let crc = u32_at(header, 8);
    if header_crc(seq, pos, len) != hcrc {
        return Parsed::Invalid("record header checksum mismatch".into());
    }
    let len = len as usize;
    if len == 0 || len > MAX_BODY_LEN {
        return Parsed::Invalid(format!("record length {len} out of range"));
    }
    if rest.len() < RECORD_HEADER_LEN + len {
        return Parsed::Invalid(format!(
            "record of {len} bytes cut short at {} bytes",
            rest.len() - RECORD_HEADER_LEN
        ));
    }
    let body = &rest[RECORD_HEADER_LEN..RECORD_HEADER_LEN + len];
    if body_crc(hcrc, body[0], &body[1..]) != crc {
        return Parsed::Invalid("record body checksum mismatch".into());
    }
    Parsed::Record {
        kind: body[0],
        payload: &body[1..],
        len: (RECORD_HEADER_LEN + len) as u64,
    }
}

/// The first position at or after `from` that holds a valid record, if any.
pub fn find_valid_record(buf: &[u8], seq: u64, from: usize) -> Option<usize> {
    let mut pos = from;
    while pos + RECORD_HEADER_LEN <= buf.len() {
        // Skip zero runs a word at a time: the preallocated tail is mostly zeros.
        if pos.is_multiple_of(8)
            && pos + 8 <= buf.len()
            && buf[pos..pos + 8].iter().all(|b| *b == 0)
        {
            pos += 8;
            continue;
        }
        if let Parsed::Record { .. } = parse_at(buf, seq, pos) {
            return Some(pos);
        }
        pos += 1;
    }
    None
}

// ---- serde mirrors of openraft's types ----
//
// The log stores its own plain structs rather than openraft's serde forms, so the file
// format does not change when openraft (an alpha, pinned exactly) changes its types.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskLogId {
    pub term: u64,
    pub node_id: u64,
    pub index: u64,
}

impl DiskLogId {
    pub fn from_log_id(id: &LogIdOf<TypeConfig>) -> Self {
        DiskLogId {
            term: id.leader_id.term,
            node_id: id.leader_id.node_id,
            index: id.index,
        }
    }

    pub fn to_log_id(self) -> LogIdOf<TypeConfig> {
        LogIdOf::<TypeConfig>::new(
            LeaderId {
                term: self.term,
                node_id: self.node_id,
            },
            self.index,
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskVote {
    pub term: u64,
    pub node_id: u64,
    pub committed: bool,
}

impl DiskVote {
    pub fn from_vote(v: &VoteOf<TypeConfig>) -> Self {
        DiskVote {
            term: v.leader_id.term,
            node_id: v.leader_id.node_id,
            committed: v.committed,
        }
    }

    pub fn to_vote(self) -> VoteOf<TypeConfig> {
        VoteOf::<TypeConfig> {
            leader_id: LeaderId {
                term: self.term,
                node_id: self.node_id,
            },
            committed: self.committed,
        }
    }
}

/// The log's metadata, written as the first record of every segment so that older
/// segments can be deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub vote: Option<DiskVote>,
    pub committed: Option<DiskLogId>,
    pub purged: Option<DiskLogId>,
    /// The last log id (entry or purged) when the segment was started.
    pub last: Option<DiskLogId>,
}

#[derive(Serialize)]
enum PayloadRef<'a> {
    Blank,
    Normal(&'a Proposal),
    Membership {
        configs: &'a Vec<BTreeSet<u64>>,
        nodes: BTreeMap<u64, &'a str>,
    },
}

#[derive(Deserialize)]
enum PayloadOwned {
    Blank,
    Normal(Proposal),
    Membership {
        configs: Vec<BTreeSet<u64>>,
        nodes: BTreeMap<u64, String>,
    },
}

#[derive(Serialize)]
struct EntryRef<'a> {
    log_id: DiskLogId,
    payload: PayloadRef<'a>,
}

#[derive(Deserialize)]
struct EntryOwned {
    log_id: DiskLogId,
    payload: PayloadOwned,
}

pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, String> {
    postcard::to_allocvec(value).map_err(|e| e.to_string())
}

pub fn decode<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, String> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(value)
}

pub fn encode_entry(entry: &EntryOf<TypeConfig>) -> Result<Vec<u8>, String> {
    let payload = match &entry.payload {
        EntryPayload::Blank => PayloadRef::Blank,
        EntryPayload::Normal(p) => PayloadRef::Normal(p),
        EntryPayload::Membership(m) => PayloadRef::Membership {
            configs: m.get_joint_config(),
            nodes: m.nodes().map(|(id, n)| (*id, n.addr.as_str())).collect(),
        },
    };
    encode(&EntryRef {
        log_id: DiskLogId::from_log_id(&entry.log_id),
        payload,
    })
}

pub fn decode_entry(bytes: &[u8]) -> Result<EntryOf<TypeConfig>, String> {
    let e: EntryOwned = decode(bytes)?;
    let payload = match e.payload {
        PayloadOwned::Blank => EntryPayload::Blank,
        PayloadOwned::Normal(p) => EntryPayload::Normal(p),
        PayloadOwned::Membership { configs, nodes } => {
            let nodes: BTreeMap<u64, BasicNode> = nodes
                .into_iter()
                .map(|(id, addr)| (id, BasicNode { addr }))
                .collect();
            EntryPayload::Membership(
                Membership::new(configs, nodes).map_err(|e| format!("bad membership: {e}"))?,
            )
        }
    };
    Ok(EntryOf::<TypeConfig> {
        log_id: e.log_id.to_log_id(),
        payload,
    })
}
