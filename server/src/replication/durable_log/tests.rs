#![allow(clippy::unwrap_used)]

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::alias::{EntryOf, LogIdOf, VoteOf};
use openraft::entry::RaftEntry;
use openraft::impls::leader_id_adv::LeaderId;
use openraft::storage::{IOFlushed, RaftLogStorage};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::type_config::TypeConfigExt;
use openraft::{BasicNode, Membership, RaftLogReader, StorageError};

use super::super::state_machine::{Applier, SnapshotOptions, SnapshotWriter, StateMachine};
use super::super::types::TypeConfig;
use super::*;
use crate::proposal::{Proposal, ReplyTo};
use crate::state::txn::{Entry, Txn, TxnResult};

struct NullApplier;

impl Applier for NullApplier {
    fn apply(&self, _: &Proposal) -> (i64, TxnResult) {
        (0, TxnResult::SessionCreated)
    }
    fn snapshot(&self) -> SnapshotWriter {
        Box::new(|_| Ok(()))
    }
    fn restore(&self, _: &mut dyn io::Read, _: u64) -> io::Result<()> {
        Ok(())
    }
    fn last_zxid(&self) -> i64 {
        0
    }
}

fn opts(segment_size: u64) -> LogOptions {
    LogOptions {
        sync: SyncMode::Fsync,
        segment_size,
    }
}

struct Builder;

impl StoreBuilder<TypeConfig, DurableLogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, DurableLogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = tempfile::tempdir().unwrap();
        // Small segments, so the suite also crosses segment boundaries.
        let store = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        let sm = StateMachine::open(
            Arc::new(NullApplier),
            SnapshotOptions {
                dir: None,
                retain: 3,
            },
        )
        .unwrap();
        Ok((dir, store, sm))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openraft_conformance_suite() {
    Suite::test_all(Builder).await.unwrap();
}

// ---- helpers ----

fn log_id(term: u64, index: u64) -> LogIdOf<TypeConfig> {
    LogIdOf::<TypeConfig>::new(LeaderId { term, node_id: 1 }, index)
}

fn vote(term: u64, node_id: u64, committed: bool) -> VoteOf<TypeConfig> {
    VoteOf::<TypeConfig> {
        leader_id: LeaderId { term, node_id },
        committed,
    }
}

fn proposal(i: u64) -> Proposal {
    Proposal {
        reply_to: Some(ReplyTo {
            server: 1,
            incarnation: 1,
            conn: i,
            xid: i as i32,
            kinds: vec![-11],
        }),
        ticket: None,
        entry: Entry {
            time_ms: 1_700_000_000_000 + i as i64,
            txn: Txn::CloseSession {
                session_id: i as i64,
            },
        },
    }
}

/// Index 0 is a membership entry, every 10th a blank one, the rest normal.
fn entry(term: u64, index: u64) -> EntryOf<TypeConfig> {
    if index == 0 {
        let nodes = std::collections::BTreeMap::from([
            (1, BasicNode::new("127.0.0.1:2888")),
            (2, BasicNode::new("127.0.0.2:2888")),
        ]);
        let m = Membership::new(vec![[1, 2].into()], nodes).unwrap();
        EntryOf::<TypeConfig>::new_membership(log_id(term, index), m)
    } else if index.is_multiple_of(10) {
        EntryOf::<TypeConfig>::new_blank(log_id(term, index))
    } else {
        EntryOf::<TypeConfig>::new_normal(log_id(term, index), proposal(index))
    }
}

async fn append(store: &mut DurableLogStore, entries: Vec<EntryOf<TypeConfig>>) {
    let (tx, rx) = TypeConfig::oneshot();
    store.append(entries, IOFlushed::signal(tx)).await.unwrap();
    rx.await.unwrap().unwrap();
}

async fn append_range(store: &mut DurableLogStore, term: u64, range: std::ops::Range<u64>) {
    append(store, range.map(|i| entry(term, i)).collect()).await;
}

async fn all_entries(store: &mut DurableLogStore) -> Vec<EntryOf<TypeConfig>> {
    store.try_get_log_entries(..).await.unwrap()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|d| d.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    v.sort();
    v
}

fn loc_of(store: &DurableLogStore, index: u64) -> Loc {
    store.shared.core.read().unwrap().content.index[&index]
}

/// Captures what `f` logs with `tracing` on this thread.
fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    #[derive(Clone)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf(Arc::new(Mutex::new(Vec::new())));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let out = tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

/// Tiny deterministic PRNG (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---- format ----

#[test]
fn entries_round_trip_through_the_disk_format() {
    for i in [0, 1, 10, 11] {
        let e = entry(3, i);
        let bytes = format::encode_entry(&e).unwrap();
        assert_eq!(format::decode_entry(&bytes).unwrap(), e);
    }
}

// ---- reopen ----

#[tokio::test]
async fn reopen_keeps_entries_vote_and_committed() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        append_range(&mut s, 1, 0..30).await;
        s.save_vote(&vote(2, 1, true)).await.unwrap();
        append_range(&mut s, 2, 30..45).await;
        s.save_committed(Some(log_id(2, 40))).await.unwrap();
        expected = all_entries(&mut s).await;
        assert_eq!(expected.len(), 45);
    }
    assert!(
        segment_files(dir.path()).len() > 2,
        "test should span segments: {:?}",
        segment_files(dir.path())
    );
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    assert_eq!(all_entries(&mut s).await, expected);
    assert_eq!(s.read_vote().await.unwrap(), Some(vote(2, 1, true)));
    assert_eq!(s.read_committed().await.unwrap(), Some(log_id(2, 40)));
    let state = s.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(2, 44)));
    assert_eq!(state.last_purged_log_id, None);
    // And it keeps working after the reopen.
    append_range(&mut s, 2, 45..50).await;
    drop(s);
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    assert_eq!(all_entries(&mut s).await.len(), 50);
}

#[tokio::test]
async fn truncate_then_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        append_range(&mut s, 1, 0..20).await;
        s.truncate_after(Some(log_id(1, 9))).await.unwrap();
        append_range(&mut s, 3, 10..15).await;
    }
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    let got = all_entries(&mut s).await;
    let want: Vec<_> = (0..10)
        .map(|i| entry(1, i))
        .chain((10..15).map(|i| entry(3, i)))
        .collect();
    assert_eq!(got, want);
    s.truncate_after(None).await.unwrap();
    drop(s);
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    assert!(all_entries(&mut s).await.is_empty());
    assert_eq!(s.get_log_state().await.unwrap().last_log_id, None);
}

#[tokio::test]
async fn appends_must_not_leave_holes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    append_range(&mut s, 1, 0..5).await;
    let (tx, _rx) = TypeConfig::oneshot();
    let err = s
        .append(vec![entry(1, 7)], IOFlushed::signal(tx))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(all_entries(&mut s).await.len(), 5);
}

#[tokio::test]
async fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _s = DurableLogStore::open(dir.path(), SyncMode::Fsync).unwrap();
    let err = DurableLogStore::open(dir.path(), SyncMode::Fsync)
        .err()
        .unwrap();
    assert!(matches!(err, LogStoreError::Locked { .. }), "{err}");
}

#[tokio::test]
async fn a_released_store_can_be_opened_again_while_old_clones_live() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = DurableLogStore::open(dir.path(), SyncMode::Fsync).unwrap();
    append(&mut first, vec![entry(1, 1)]).await;
    let mut lingering = first.clone();
    first.release();
    // The old clone refuses further I/O; a new store owns the directory.
    assert!(lingering.save_vote(&vote(2, 1, false)).await.is_err());
    let mut second = DurableLogStore::open(dir.path(), SyncMode::Fsync).unwrap();
    assert_eq!(all_entries(&mut second).await.len(), 1);
}

// ---- purge ----

#[tokio::test]
async fn purge_deletes_old_segments_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        append_range(&mut s, 1, 0..100).await;
        let before = segment_files(dir.path()).len();
        s.purge(log_id(1, 60)).await.unwrap();
        let after = segment_files(dir.path()).len();
        assert!(after < before, "{after} segments left of {before}");
        let state = s.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, Some(log_id(1, 60)));
        assert_eq!(state.last_log_id, Some(log_id(1, 99)));
    }
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    let state = s.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 60)));
    assert_eq!(state.last_log_id, Some(log_id(1, 99)));
    let got = all_entries(&mut s).await;
    assert_eq!(got, (61..100).map(|i| entry(1, i)).collect::<Vec<_>>());

    // Purging past the end (as after installing a snapshot) empties the log.
    s.purge(log_id(2, 150)).await.unwrap();
    drop(s);
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    let state = s.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(2, 150)));
    assert_eq!(state.last_log_id, Some(log_id(2, 150)));
    assert!(all_entries(&mut s).await.is_empty());
    append_range(&mut s, 2, 151..160).await;
    drop(s);
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    assert_eq!(all_entries(&mut s).await.len(), 9);
    assert!(
        segment_files(dir.path()).len() <= 2,
        "old segments left behind"
    );
}

#[tokio::test]
async fn a_missing_segment_stops_startup() {
    // A middle segment gone.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        append_range(&mut s, 1, 0..60).await;
    }
    let files = segment_files(dir.path());
    assert!(files.len() >= 3);
    std::fs::remove_file(&files[1]).unwrap();
    let err = DurableLogStore::open_with(dir.path(), opts(512))
        .err()
        .unwrap();
    assert!(matches!(err, LogStoreError::Corrupt { .. }), "{err}");

    // The oldest segment gone although nothing was purged.
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
        append_range(&mut s, 1, 0..60).await;
    }
    let files = segment_files(dir.path());
    std::fs::remove_file(&files[0]).unwrap();
    let err = DurableLogStore::open_with(dir.path(), opts(512))
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("earlier segments are missing"), "{msg}");
}

// ---- torn tails ----

/// A single-segment log of `n` entries; returns the segment file's bytes and where the
/// last record starts and ends.
async fn one_segment_log(dir: &Path, n: u64) -> (PathBuf, Vec<u8>, u64, u64) {
    let mut s = DurableLogStore::open_with(dir, opts(8192)).unwrap();
    append_range(&mut s, 1, 0..n).await;
    let loc = loc_of(&s, n - 1);
    drop(s);
    let files = segment_files(dir);
    assert_eq!(files.len(), 1);
    let bytes = std::fs::read(&files[0]).unwrap();
    (files[0].clone(), bytes, loc.offset, loc.offset + loc.len)
}

#[tokio::test]
async fn a_torn_last_record_is_cut_off_at_every_offset() {
    let src = tempfile::tempdir().unwrap();
    let (file, bytes, start, end) = one_segment_log(src.path(), 8).await;
    let name = file.file_name().unwrap().to_owned();
    for cut in start + 1..end {
        for zero_filled in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let mut torn = bytes[..cut as usize].to_vec();
            if zero_filled {
                // The preallocated file keeps its size; the unwritten part reads as zeros.
                torn.resize(bytes.len(), 0);
            }
            std::fs::write(dir.path().join(&name), &torn).unwrap();
            let (s, logs) = capture_logs(|| DurableLogStore::open_with(dir.path(), opts(8192)));
            let mut s = s.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            assert_eq!(
                all_entries(&mut s).await,
                (0..7).map(|i| entry(1, i)).collect::<Vec<_>>(),
                "cut at {cut}"
            );
            assert!(
                logs.contains("torn tail"),
                "cut at {cut}: no log line in {logs:?}"
            );
            assert!(logs.contains(&format!("offset={start}")), "{logs}");
            // The log continues where the torn record was, and that survives a reopen.
            append_range(&mut s, 2, 7..9).await;
            drop(s);
            let mut s = DurableLogStore::open_with(dir.path(), opts(8192)).unwrap();
            assert_eq!(all_entries(&mut s).await.len(), 9, "cut at {cut}");
        }
    }
}

#[tokio::test]
async fn garbage_after_the_last_record_is_cut_off() {
    let src = tempfile::tempdir().unwrap();
    let (file, bytes, _, end) = one_segment_log(src.path(), 8).await;
    let name = file.file_name().unwrap().to_owned();
    let mut rng = Rng(0x5eed);
    for len in [1usize, 7, 11, 12, 13, 100, 3000, 20_000] {
        let dir = tempfile::tempdir().unwrap();
        let mut img = bytes.clone();
        let garbage = rng.bytes(len);
        let at = end as usize;
        if img.len() < at + len {
            img.resize(at + len, 0);
        }
        img[at..at + len].copy_from_slice(&garbage);
        std::fs::write(dir.path().join(&name), &img).unwrap();
        let (s, logs) = capture_logs(|| DurableLogStore::open_with(dir.path(), opts(8192)));
        let mut s = s.unwrap_or_else(|e| panic!("{len} bytes of garbage: {e}"));
        assert_eq!(all_entries(&mut s).await.len(), 8, "{len} bytes of garbage");
        assert!(logs.contains("torn tail"), "{logs}");
        append_range(&mut s, 1, 8..10).await;
        drop(s);
        let mut s = DurableLogStore::open_with(dir.path(), opts(8192)).unwrap();
        assert_eq!(all_entries(&mut s).await.len(), 10);
    }
}

#[tokio::test]
async fn a_leftover_unfinished_segment_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut s = DurableLogStore::open_with(dir.path(), opts(8192)).unwrap();
        append_range(&mut s, 1, 0..3).await;
    }
    let tmp = dir
        .path()
        .join(format!("{}.tmp", format::segment_file_name(2)));
    std::fs::write(&tmp, b"half a segment").unwrap();
    let mut s = DurableLogStore::open_with(dir.path(), opts(8192)).unwrap();
    assert!(!tmp.exists());
    assert_eq!(all_entries(&mut s).await.len(), 3);
}

// ---- corruption in the middle ----

#[tokio::test]
async fn a_flipped_byte_in_an_early_record_stops_startup() {
    let src = tempfile::tempdir().unwrap();
    let mut s = DurableLogStore::open_with(src.path(), opts(8192)).unwrap();
    append_range(&mut s, 1, 0..8).await;
    let loc = loc_of(&s, 2);
    drop(s);
    let file = segment_files(src.path())[0].clone();
    let bytes = std::fs::read(&file).unwrap();
    // Every byte of the record: header, kind and payload.
    for at in loc.offset..loc.offset + loc.len {
        let dir = tempfile::tempdir().unwrap();
        let mut img = bytes.clone();
        img[at as usize] ^= 0x40;
        let path = dir.path().join(file.file_name().unwrap());
        std::fs::write(&path, &img).unwrap();
        let err = DurableLogStore::open_with(dir.path(), opts(8192))
            .err()
            .unwrap();
        let LogStoreError::Corrupt {
            path: p, offset, ..
        } = &err
        else {
            panic!("flip at {at}: {err}")
        };
        assert_eq!((p, *offset), (&path, loc.offset), "flip at {at}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()) && msg.contains(&loc.offset.to_string()));
        // Nothing was cut off: the file is as it was.
        assert_eq!(std::fs::read(&path).unwrap(), img);
    }
}

#[tokio::test]
async fn corruption_in_a_sealed_segment_stops_startup() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DurableLogStore::open_with(dir.path(), opts(512)).unwrap();
    append_range(&mut s, 1, 0..60).await;
    // The last entry of the first segment: no valid record follows it there.
    let first_seq = *s
        .shared
        .core
        .read()
        .unwrap()
        .segments
        .keys()
        .next()
        .unwrap();
    let loc = s
        .shared
        .core
        .read()
        .unwrap()
        .content
        .index
        .values()
        .rfind(|l| l.seq == first_seq)
        .copied()
        .unwrap();
    drop(s);
    let file = segment_files(dir.path())[0].clone();
    let mut img = std::fs::read(&file).unwrap();
    img[(loc.offset + loc.len - 1) as usize] ^= 1;
    std::fs::write(&file, &img).unwrap();
    let err = DurableLogStore::open_with(dir.path(), opts(512))
        .err()
        .unwrap();
    let LogStoreError::Corrupt { path, offset, .. } = &err else {
        panic!("{err}")
    };
    assert_eq!((path, *offset), (&file, loc.offset));
}

#[tokio::test]
async fn a_read_of_a_damaged_entry_fails_instead_of_returning_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = DurableLogStore::open_with(dir.path(), opts(8192)).unwrap();
    append_range(&mut s, 1, 0..4).await;
    let loc = loc_of(&s, 1);
    let file = segment_files(dir.path())[0].clone();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.write_all_at(&[0xff], loc.offset + loc.len - 1).unwrap();
    let err = s.try_get_log_entries(1..2).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{err}");
}

// ---- measurement (not a test; run with --ignored --nocapture) ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn measure_append_throughput() {
    let base = std::env::var("WAL_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
    let payload_entry = |i: u64| {
        // ~100 bytes encoded.
        let mut p = proposal(i);
        p.reply_to.as_mut().unwrap().kinds = vec![1; 60];
        EntryOf::<TypeConfig>::new_normal(log_id(1, i), p)
    };
    println!(
        "entry size: {} bytes encoded",
        format::encode_entry(&payload_entry(1)).unwrap().len()
    );

    // Raw fdatasync latency for a 100-byte append.
    {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let f = std::fs::File::create(dir.path().join("f")).unwrap();
        let n = 500;
        let t = Instant::now();
        for i in 0..n {
            f.write_all_at(&[7u8; 100], i * 100).unwrap();
            f.sync_data().unwrap();
        }
        println!("raw write+fdatasync: {:?} each", t.elapsed() / n as u32);
    }

    // One appender, each append waits for its fsync.
    {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let mut s = DurableLogStore::open(dir.path(), SyncMode::Fsync).unwrap();
        let n = 500;
        let t = Instant::now();
        for i in 0..n {
            append(&mut s, vec![payload_entry(i)]).await;
        }
        let el = t.elapsed();
        println!(
            "1 appender: {:.0} entries/s ({:?} per append)",
            n as f64 / el.as_secs_f64(),
            el / n as u32
        );
    }

    // 64 concurrent appenders sharing fsyncs.
    for sync in [SyncMode::Fsync, SyncMode::NoSync] {
        let dir = tempfile::tempdir_in(&base).unwrap();
        let s = DurableLogStore::open(dir.path(), sync).unwrap();
        let next = Arc::new(tokio::sync::Mutex::new(0u64));
        let per_task = 200u64;
        let t = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..64 {
            let mut s = s.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                for _ in 0..per_task {
                    let (tx, rx) = TypeConfig::oneshot();
                    {
                        let mut n = next.lock().await;
                        s.append(vec![payload_entry(*n)], IOFlushed::signal(tx))
                            .await
                            .unwrap();
                        *n += 1;
                    }
                    rx.await.unwrap().unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let el = t.elapsed();
        println!(
            "64 appenders ({sync:?}): {:.0} entries/s",
            (64 * per_task) as f64 / el.as_secs_f64()
        );
    }
    let _ = Duration::ZERO;
}
