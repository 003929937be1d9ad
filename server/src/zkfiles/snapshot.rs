//! ZooKeeper's snapshot file (`FileSnap`, `SnapStream`, `DataTree.serialize`):
//!
//! 1. `FileHeader` (magic `ZKSN`, version 2, dbid −1);
//! 2. the sessions: a count, then (id, timeout) pairs;
//! 3. the ACL cache: a count, then (index, ACL list) pairs; nodes refer to their ACL
//!    by index, −1 meaning OPEN_ACL_UNSAFE;
//! 4. the nodes, parents first: path (the root as `""`), data, ACL index, persisted
//!    stat; the path `"/"` ends the list;
//! 5. a seal: the Adler-32 of everything before it, then the string `"/"`;
//! 6. optionally (3.6+) the tree digest at a zxid, and another seal;
//! 7. optionally (3.9+) the last processed zxid, and another seal.
//!
//! The whole stream may be gzip or snappy-java compressed (by the file's extension);
//! the checksum covers the uncompressed bytes.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ferrokeeper_protocol::{Acl, perms};

use super::digest::{DIGEST_VERSION, tree_digest};
use super::error::{ZkFilesError, io_err};
use super::jute_stream::{JuteReader, JuteWriter, ReadFail};
use super::layout::{Compression, ZkFile, snapshot_name};
use super::snappy::SnappyJavaReader;
use crate::state::ZkState;
use crate::tree::DataTree;

pub const SNAP_MAGIC: i32 = 0x5a4b_534e; // "ZKSN"
const FORMAT_VERSION: i32 = 2;
const OPEN_UNSAFE_ACL: i64 = -1;

/// The tree digest a snapshot records, at the zxid it was computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZxidDigest {
    pub zxid: i64,
    pub version: i32,
    pub digest: i64,
}

/// A snapshot read into memory.
pub struct LoadedSnapshot {
    pub tree: DataTree,
    /// Session id → timeout, in file order.
    pub sessions: Vec<(i64, i32)>,
    /// The zxid replay starts after: the file name's, as `FileSnap.deserialize` uses
    /// (ZooKeeper 3.9 also records one inside, for its admin restore command).
    pub zxid: i64,
    pub digest: Option<ZxidDigest>,
    pub znodes: u64,
}

/// Counts the bytes read from the file itself, for progress through a compressed one.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Reads a snapshot. `progress` is called now and then with (file bytes read, znodes).
pub fn read(
    file: &ZkFile,
    extended_types: bool,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<LoadedSnapshot, ZkFilesError> {
    let path = &file.path;
    let raw = File::open(path).map_err(io_err(path, "open"))?;
    let read_bytes = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: raw,
        read: read_bytes.clone(),
    };
    let stream: Box<dyn BufRead> = match file.compression() {
        Compression::None => Box::new(BufReader::with_capacity(1 << 20, counting)),
        Compression::Gzip => Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(BufReader::new(counting)),
        )),
        Compression::Snappy => Box::new(BufReader::with_capacity(
            1 << 20,
            SnappyJavaReader::new(BufReader::new(counting)),
        )),
    };
    let mut r = JuteReader::new(stream);
    let at = |r: &JuteReader<Box<dyn BufRead>>, fail: ReadFail| -> ZkFilesError {
        match fail {
            ReadFail::Io(e) if e.kind() != io::ErrorKind::InvalidData => io_err(path, "read")(e),
            fail => ZkFilesError::damaged(path, r.offset(), fail.to_string()),
        }
    };

    let magic = r.i32().map_err(|e| at(&r, e))?;
    if magic != SNAP_MAGIC {
        return Err(ZkFilesError::damaged(
            path,
            0,
            format!("not a ZooKeeper snapshot (magic 0x{magic:08x})"),
        ));
    }
    let _version = r.i32().map_err(|e| at(&r, e))?;
    let _dbid = r.i64().map_err(|e| at(&r, e))?;

    let mut report = |n: u64| progress(read_bytes.load(Ordering::Relaxed), n);
    let body = read_body(&mut r, extended_types, &mut report).map_err(|e| at(&r, e))?;
    check_seal(&mut r).map_err(|e| at(&r, e))?;

    // The optional trailers: absent in older snapshots, so the end of the stream is fine.
    let mut digest = None;
    if !r.at_end().map_err(|e| at(&r, e))? {
        let d_zxid = r.i64().map_err(|e| at(&r, e))?;
        let version = r.i32().map_err(|e| at(&r, e))?;
        let value = if version < 2 {
            let hex = r.string().map_err(|e| at(&r, e))?;
            i64::from_str_radix(&hex, 16).unwrap_or(0)
        } else {
            r.i64().map_err(|e| at(&r, e))?
        };
        check_seal(&mut r).map_err(|e| at(&r, e))?;
        if d_zxid > 0 {
            digest = Some(ZxidDigest {
                zxid: d_zxid,
                version,
                digest: value,
            });
        }
        if !r.at_end().map_err(|e| at(&r, e))? {
            let _last_processed = r.i64().map_err(|e| at(&r, e))?;
            check_seal(&mut r).map_err(|e| at(&r, e))?;
        }
    }
    progress(read_bytes.load(Ordering::Relaxed), body.znodes);
    Ok(LoadedSnapshot {
        tree: body.tree,
        sessions: body.sessions,
        zxid: file.zxid,
        digest,
        znodes: body.znodes,
    })
}

/// What `SerializeUtils.serializeSnapshot` writes: the sessions and the tree (a
/// snapshot file wraps it in a header and seals; a leader streams it bare to a learner
/// that syncs by SNAP).
pub struct SnapshotBody {
    pub tree: DataTree,
    /// Session id → timeout, in stream order.
    pub sessions: Vec<(i64, i32)>,
    pub znodes: u64,
}

/// Reads a snapshot body; `progress` is called now and then with the znodes so far.
pub(crate) fn read_body<R: Read>(
    r: &mut JuteReader<R>,
    extended_types: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<SnapshotBody, ReadFail> {
    let count = r.i32()?;
    let mut sessions = Vec::new();
    for _ in 0..count.max(0) {
        let id = r.i64()?;
        let timeout = r.i32()?;
        sessions.push((id, timeout));
    }

    let acl_count = r.i32()?;
    let mut acls: HashMap<i64, Vec<Acl>> = HashMap::new();
    for _ in 0..acl_count.max(0) {
        let index = r.i64()?;
        let list = r.acl_list()?;
        acls.insert(index, list);
    }
    let open = perms::open_acl_unsafe();

    let mut tree = DataTree::empty(extended_types);
    let mut znodes = 0u64;
    loop {
        let node_path = r.string()?;
        if node_path == "/" {
            break;
        }
        let data = r.buffer()?;
        let acl_index = r.i64()?;
        let stat = r.stat()?;
        let acl = if acl_index == OPEN_UNSAFE_ACL {
            open.clone()
        } else {
            acls.get(&acl_index).cloned().ok_or_else(|| {
                ReadFail::Bad(format!(
                    "node {node_path} refers to ACL {acl_index}, which the snapshot does not hold"
                ))
            })?
        };
        tree.load_node(&node_path, data, acl, stat)
            .map_err(ReadFail::Bad)?;
        znodes += 1;
        if znodes.is_multiple_of(16384) {
            progress(znodes);
        }
    }
    tree.finish_load().map_err(ReadFail::Bad)?;
    Ok(SnapshotBody {
        tree,
        sessions,
        znodes,
    })
}

/// `SnapStream.checkSealIntegrity`: the checksum of everything so far, then `"/"`.
fn check_seal<R: Read>(r: &mut JuteReader<R>) -> Result<(), ReadFail> {
    let expected = r.checksum();
    let stored = r.i64()?;
    let slash = r.string()?;
    if stored != expected {
        return Err(ReadFail::Bad(format!(
            "checksum mismatch (stored 0x{stored:x}, computed 0x{expected:x})"
        )));
    }
    if slash != "/" {
        return Err(ReadFail::Bad(format!("bad seal marker {slash:?}")));
    }
    Ok(())
}

fn seal<W: Write>(w: &mut JuteWriter<W>) -> io::Result<()> {
    let sum = w.checksum();
    w.i64(sum)?;
    w.string("/")
}

/// Writes `state` as `dir/snapshot.<last zxid in hex>`, uncompressed, with the tree
/// digest ZooKeeper checks on load. Written under a name ZooKeeper ignores, synced,
/// then renamed, so the directory never holds a partial snapshot ZooKeeper would read.
pub fn write(dir: &Path, state: &ZkState) -> Result<PathBuf, ZkFilesError> {
    fs::create_dir_all(dir).map_err(io_err(dir, "create directory"))?;
    let final_path = dir.join(snapshot_name(state.last_zxid()));
    let tmp = dir.join(".ferrokeeper-export.tmp");
    let file = File::create(&tmp).map_err(io_err(&tmp, "create"))?;
    let mut w = JuteWriter::new(BufWriter::with_capacity(1 << 20, file));
    encode(&mut w, state).map_err(io_err(&tmp, "write"))?;
    let file = w
        .into_inner()
        .into_inner()
        .map_err(|e| io_err(&tmp, "write")(e.into_error()))?;
    file.sync_all().map_err(io_err(&tmp, "fsync"))?;
    drop(file);
    fs::rename(&tmp, &final_path).map_err(io_err(&final_path, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "fsync directory"))?;
    Ok(final_path)
}

fn encode<W: Write>(w: &mut JuteWriter<W>, state: &ZkState) -> io::Result<()> {
    w.i32(SNAP_MAGIC)?;
    w.i32(FORMAT_VERSION)?;
    w.i64(-1)?;
    let sessions = state.sessions();
    w.i32(i32::try_from(sessions.len()).unwrap_or(i32::MAX))?;
    for (id, session) in sessions.iter() {
        w.i64(id)?;
        w.i32(session.timeout_ms)?;
    }
    // The ACL cache: one index per distinct list, in order of first use.
    let tree = state.tree();
    let mut index: HashMap<&[Acl], i64> = HashMap::new();
    let mut lists: Vec<&[Acl]> = Vec::new();
    for (_, node) in tree.iter() {
        let acl = node.acl();
        if !index.contains_key(acl) {
            lists.push(acl);
            index.insert(acl, lists.len() as i64);
        }
    }
    w.i32(i32::try_from(lists.len()).unwrap_or(i32::MAX))?;
    for (i, acl) in lists.iter().enumerate() {
        w.i64(i as i64 + 1)?;
        w.acl_list(acl)?;
    }
    // Path order puts every parent before its children, as ZooKeeper needs.
    for (path, node) in tree.iter() {
        w.string(if path == "/" { "" } else { path })?;
        w.buffer(node.data().map(|d| &d[..]))?;
        w.i64(index.get(node.acl()).copied().unwrap_or(OPEN_UNSAFE_ACL))?;
        w.stat(node.persisted_stat())?;
    }
    w.string("/")?;
    seal(w)?;
    w.i64(state.last_zxid())?;
    w.i32(DIGEST_VERSION)?;
    w.i64(tree_digest(tree))?;
    seal(w)
}
