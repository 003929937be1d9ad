//! The importer and exporter against each other and against hand-made ZooKeeper
//! files; the byte-for-byte checks against a real ZooKeeper are in
//! `tests/tests/zk_import.rs`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use bytes::Bytes;
use ferrokeeper_protocol::{
    Acl, CloseSessionTxn, CreateTxn, DeleteTxn, ErrorTxn, Id, Jute, SetDataTxn, TxnBody, TxnDigest,
    TxnEntry, TxnHeader, perms, to_bytes, txn_type,
};

use super::digest::tree_digest;
use super::layout::VERSION_DIR;
use super::txn_log::LOG_MAGIC;
use super::*;
use crate::replication::offline;
use crate::state::txn::{Entry, Txn, WriteOp};
use crate::state::{StateConfig, ZkState};

fn write(zk: &mut ZkState, session: i64, time: i64, op: WriteOp) {
    zk.apply(&Entry {
        time_ms: time,
        txn: Txn::Write {
            session_id: session,
            auth: vec![],
            op,
        },
    });
}

fn create(path: &str, data: Option<&'static [u8]>, flags: i32, ttl: i64, acl: Vec<Acl>) -> WriteOp {
    WriteOp::Create {
        path: path.into(),
        data: data.map(Bytes::from_static),
        acl,
        flags,
        ttl,
    }
}

fn digest_acl() -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: "digest".into(),
            id: "bob:0SG9/Rw/2ZtUiG6f6vGzjHc3xRI=".into(),
        },
    }]
}

/// A state with every kind of node: persistent, null data, sequential, ephemeral of a
/// live session, container, TTL, distinct ACLs, a setData, a setACL and a delete.
const S: i64 = 0x0100_0000_0000_0007;

fn sample_state() -> ZkState {
    let mut zk = ZkState::new(StateConfig {
        extended_types_enabled: true,
    });
    zk.apply(&Entry {
        time_ms: 1000,
        txn: Txn::CreateSession {
            session_id: S,
            timeout_ms: 30_000,
        },
    });
    let open = perms::open_acl_unsafe();
    write(
        &mut zk,
        S,
        1001,
        create("/app", Some(b"cfg"), 0, 0, open.clone()),
    );
    write(
        &mut zk,
        S,
        1002,
        create("/app/null", None, 0, 0, open.clone()),
    );
    write(
        &mut zk,
        S,
        1003,
        create("/app/seq-", Some(b"1"), 2, 0, open.clone()),
    );
    write(
        &mut zk,
        S,
        1004,
        create("/app/seq-", Some(b"2"), 2, 0, open.clone()),
    );
    write(
        &mut zk,
        S,
        1005,
        create("/app/eph", Some(b"e"), 1, 0, perms::read_acl_unsafe()),
    );
    write(&mut zk, S, 1006, create("/box", None, 4, 0, open.clone()));
    write(
        &mut zk,
        S,
        1007,
        create("/box/item", Some(b"i"), 0, 0, open.clone()),
    );
    write(
        &mut zk,
        S,
        1008,
        create("/ttl", Some(b"t"), 5, 60_000, open.clone()),
    );
    write(
        &mut zk,
        S,
        1009,
        create("/secret", Some(b"s"), 0, 0, digest_acl()),
    );
    write(
        &mut zk,
        S,
        1010,
        WriteOp::SetData {
            path: "/app".into(),
            data: Some(Bytes::from_static(b"cfg2")),
            version: -1,
        },
    );
    write(
        &mut zk,
        S,
        1011,
        WriteOp::SetAcl {
            path: "/app/null".into(),
            acl: perms::read_acl_unsafe(),
            version: -1,
        },
    );
    write(
        &mut zk,
        S,
        1012,
        WriteOp::Delete {
            path: "/app/seq-0000000002".into(),
            version: -1,
        },
    );
    // Every write above succeeded: the sample is not vacuous.
    for path in [
        "/app/null",
        "/app/seq-0000000001",
        "/app/eph",
        "/box/item",
        "/ttl",
        "/secret",
    ] {
        assert!(zk.tree().node(path).is_some(), "{path}");
    }
    assert!(zk.tree().node("/app/seq-0000000002").is_none());
    assert_eq!(
        zk.tree().node("/app").unwrap().data().map(|d| &d[..]),
        Some(&b"cfg2"[..])
    );
    zk
}

fn request(dir: &Path, zk_dir: &Path) -> ImportRequest {
    ImportRequest {
        zk_data_dir: zk_dir.to_path_buf(),
        zk_data_log_dir: None,
        trust_empty_snapshot: false,
        skip_digest_check: false,
        extended_types: true,
        snapshot_dir: dir.join("ferrokeeper/snapshots"),
        log_dir: dir.join("ferrokeeper/log"),
        voters: BTreeSet::from([1]),
        interactive: false,
    }
}

fn imported(dir: &Path) -> ZkState {
    let stored = offline::read_stored(
        &dir.join("ferrokeeper/log"),
        &dir.join("ferrokeeper/snapshots"),
    )
    .expect("read the imported data");
    assert!(stored.proposals.is_empty());
    postcard::from_bytes(&stored.snapshot.expect("a snapshot")).expect("decode")
}

#[test]
fn an_exported_snapshot_imports_to_the_same_state() {
    let original = sample_state();
    let zk_dir = tempfile::tempdir().unwrap();
    let path = snapshot::write(&zk_dir.path().join(VERSION_DIR), &original).unwrap();
    assert_eq!(
        path.file_name().unwrap().to_str().unwrap(),
        format!("snapshot.{:x}", original.last_zxid())
    );
    let target = tempfile::tempdir().unwrap();
    let summary = import(&request(target.path(), zk_dir.path())).unwrap();
    assert_eq!(
        summary.digest,
        DigestCheck::Matched {
            zxid: original.last_zxid(),
            digest: tree_digest(original.tree())
        }
    );
    assert_eq!(summary.sessions, 1);
    assert_eq!(summary.ephemerals, 1);
    assert_eq!(imported(target.path()), original);

    // A second import refuses to overwrite what the first wrote.
    let again = import(&request(target.path(), zk_dir.path())).unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");
}

#[test]
fn gzip_snapshots_read_as_plain_ones() {
    let original = sample_state();
    let plain_dir = tempfile::tempdir().unwrap();
    let plain = snapshot::write(&plain_dir.path().join(VERSION_DIR), &original).unwrap();
    let zk_dir = tempfile::tempdir().unwrap();
    let v2 = zk_dir.path().join(VERSION_DIR);
    fs::create_dir_all(&v2).unwrap();
    let gz = fs::File::create(v2.join(format!("snapshot.{:x}.gz", original.last_zxid()))).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &fs::read(plain).unwrap()).unwrap();
    enc.finish().unwrap();
    let target = tempfile::tempdir().unwrap();
    import(&request(target.path(), zk_dir.path())).unwrap();
    assert_eq!(imported(target.path()), original);
}

#[test]
fn a_damaged_snapshot_is_skipped_for_an_older_one_only_if_the_logs_cover_the_gap() {
    let zk_dir = tempfile::tempdir().unwrap();
    let v2 = zk_dir.path().join(VERSION_DIR);
    let older = ZkState::new(StateConfig::default());
    snapshot::write(&v2, &older).unwrap();
    let newer = sample_state();
    let newest = snapshot::write(&v2, &newer).unwrap();
    let mut bytes = fs::read(&newest).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    fs::write(&newest, bytes).unwrap();
    let target = tempfile::tempdir().unwrap();
    // No logs: the older snapshot is all there is, and it is taken (as ZooKeeper
    // would), with the damage reported.
    let summary = import(&request(target.path(), zk_dir.path())).unwrap();
    assert_eq!(summary.skipped_snapshots.len(), 1);
    assert!(
        summary.skipped_snapshots[0].contains("damaged"),
        "{:?}",
        summary.skipped_snapshots
    );
    assert_eq!(summary.last_zxid, 0);
}

#[test]
fn nothing_to_import_and_logs_without_a_snapshot_are_refused() {
    let empty = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let err = import(&request(target.path(), empty.path())).unwrap_err();
    assert!(err.to_string().contains("no ZooKeeper data found"), "{err}");

    let zk_dir = tempfile::tempdir().unwrap();
    let v2 = zk_dir.path().join(VERSION_DIR);
    fs::create_dir_all(&v2).unwrap();
    let txns = [entry(
        1,
        0x1_0000_0001,
        TxnBody::Create(create_txn("/a", -1)),
    )];
    fs::write(v2.join("log.100000001"), log_file(&txns)).unwrap();
    let err = import(&request(target.path(), zk_dir.path())).unwrap_err();
    assert!(err.to_string().contains("no snapshot"), "{err}");
    assert!(
        !offline::has_data(
            &target.path().join("ferrokeeper/log"),
            &target.path().join("ferrokeeper/snapshots")
        )
        .unwrap()
    );

    let mut trusting = request(target.path(), zk_dir.path());
    trusting.trust_empty_snapshot = true;
    let summary = import(&trusting).unwrap();
    assert_eq!(summary.txns, 1);
    assert!(imported(target.path()).tree().node("/a").is_some());
}

fn create_txn(path: &str, parent_cversion: i32) -> CreateTxn {
    CreateTxn {
        path: path.into(),
        data: Some(Bytes::from_static(b"d")),
        acl: perms::open_acl_unsafe(),
        ephemeral: false,
        parent_cversion,
    }
}

fn entry(kind: i32, zxid: i64, body: TxnBody) -> (TxnHeader, Vec<u8>) {
    let header = TxnHeader {
        client_id: 0x55,
        cxid: 1,
        zxid,
        time: 2000 + zxid,
        txn_type: kind,
    };
    let record = match body {
        TxnBody::Create(c) => to_bytes(&c),
        TxnBody::Delete(d) => to_bytes(&d),
        TxnBody::SetData(s) => to_bytes(&s),
        TxnBody::Error(e) => to_bytes(&e),
        TxnBody::CloseSession(Some(c)) => to_bytes(&c),
        other => panic!("not used here: {other:?}"),
    };
    (header, record.to_vec())
}

/// A txn log as ZooKeeper writes one, with a digest after each txn when given.
fn log_file(txns: &[(TxnHeader, Vec<u8>)]) -> Vec<u8> {
    let mut out = LOG_MAGIC.to_be_bytes().to_vec();
    out.extend_from_slice(&2i32.to_be_bytes());
    out.extend_from_slice(&0i64.to_be_bytes());
    for (header, record) in txns {
        let mut body = Vec::new();
        header.encode(&mut body);
        body.extend_from_slice(record);
        let mut adler = adler2::Adler32::new();
        adler.write_slice(&body);
        out.extend_from_slice(&i64::from(adler.checksum()).to_be_bytes());
        out.extend_from_slice(&(body.len() as i32).to_be_bytes());
        out.extend_from_slice(&body);
        out.push(b'B');
    }
    out.resize(out.len() + 512, 0);
    out
}

#[test]
fn missing_txns_within_an_epoch_are_refused_and_nothing_is_written() {
    let zk_dir = tempfile::tempdir().unwrap();
    let v2 = zk_dir.path().join(VERSION_DIR);
    let base = ZkState::new(StateConfig::default());
    snapshot::write(&v2, &base).unwrap();
    let first = [entry(1, 1, TxnBody::Create(create_txn("/a", -1)))];
    let third = [entry(1, 3, TxnBody::Create(create_txn("/c", -1)))];
    fs::write(v2.join("log.1"), log_file(&first)).unwrap();
    fs::write(v2.join("log.3"), log_file(&third)).unwrap();
    let target = tempfile::tempdir().unwrap();
    let err = import(&request(target.path(), zk_dir.path())).unwrap_err();
    assert!(err.to_string().contains("0x2 to 0x2 are missing"), "{err}");
    assert!(!target.path().join("ferrokeeper/snapshots").exists());
}

#[test]
fn the_digest_logged_with_the_last_txn_is_checked() {
    let zk_dir = tempfile::tempdir().unwrap();
    let v2 = zk_dir.path().join(VERSION_DIR);
    let base = ZkState::new(StateConfig::default());
    snapshot::write(&v2, &base).unwrap();
    // What the tree will look like after the txn, to compute ZooKeeper's digest.
    let mut expected = base.clone();
    let (header, record) = entry(1, 1, TxnBody::Create(create_txn("/a", -1)));
    let decoded = TxnEntry::decode({
        let mut b = Vec::new();
        header.encode(&mut b);
        b.extend_from_slice(&record);
        Bytes::from(b)
    })
    .unwrap();
    expected.apply_zk(&decoded).unwrap();
    let good = tree_digest(expected.tree());
    for (digest, ok) in [(good, true), (good ^ 1, false)] {
        let mut with_digest = record.clone();
        TxnDigest {
            version: 2,
            tree_digest: digest,
        }
        .encode(&mut with_digest);
        fs::write(v2.join("log.1"), log_file(&[(header.clone(), with_digest)])).unwrap();
        let target = tempfile::tempdir().unwrap();
        let result = import(&request(target.path(), zk_dir.path()));
        if ok {
            assert!(matches!(
                result.unwrap().digest,
                DigestCheck::Matched { zxid: 1, .. }
            ));
        } else {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("digest"), "{err}");
            let mut skipping = request(target.path(), zk_dir.path());
            skipping.skip_digest_check = true;
            assert!(matches!(
                import(&skipping).unwrap().digest,
                DigestCheck::Skipped { .. }
            ));
        }
    }
}

fn replayed() -> ZkState {
    ZkState::new(StateConfig::default())
}

fn apply(r: &mut ZkState, kind: i32, zxid: i64, client: i64, body: TxnBody) {
    r.apply_zk(&TxnEntry {
        header: TxnHeader {
            client_id: client,
            cxid: 0,
            zxid,
            time: zxid * 10,
            txn_type: kind,
        },
        body,
        digest: None,
    })
    .unwrap();
}

#[test]
fn replay_is_as_lenient_as_zookeeper_on_a_fuzzy_snapshot() {
    let mut r = replayed();
    apply(
        &mut r,
        txn_type::CREATE,
        1,
        0,
        TxnBody::Create(create_txn("/a", 1)),
    );
    // The same create again (already in a fuzzy snapshot): the node keeps its stat,
    // takes the txn's ACL, and the parent's cversion moves to the txn's value.
    let mut again = create_txn("/a", 5);
    again.acl = perms::read_acl_unsafe();
    apply(&mut r, txn_type::CREATE, 2, 0, TxnBody::Create(again));
    let a = r.tree().node("/a").unwrap();
    assert_eq!(a.persisted_stat().czxid, 1);
    assert_eq!(a.acl(), perms::read_acl_unsafe().as_slice());
    let root = r.tree().node("/").unwrap().persisted_stat().clone();
    assert_eq!((root.cversion, root.pzxid), (5, 2));
    // A create2 meeting an existing node does not move the parent.
    apply(
        &mut r,
        txn_type::CREATE2,
        3,
        0,
        TxnBody::Create(create_txn("/a", 9)),
    );
    assert_eq!(r.tree().node("/").unwrap().persisted_stat().cversion, 5);
    // Deleting a node that is already gone still moves the parent's pzxid.
    apply(
        &mut r,
        txn_type::DELETE,
        4,
        0,
        TxnBody::Delete(DeleteTxn {
            path: "/gone".into(),
        }),
    );
    assert_eq!(r.tree().node("/").unwrap().persisted_stat().pzxid, 4);
    // setData takes the txn's version as the new one.
    apply(
        &mut r,
        txn_type::SET_DATA,
        5,
        0,
        TxnBody::SetData(SetDataTxn {
            path: "/a".into(),
            data: None,
            version: 7,
        }),
    );
    let a = r.tree().node("/a").unwrap().persisted_stat().clone();
    assert_eq!((a.version, a.mzxid, a.mtime), (7, 5, 50));
    assert_eq!(r.last_zxid(), 5);
}

#[test]
fn a_multi_with_an_error_applies_nothing_and_close_session_deletes_ephemerals() {
    let mut r = replayed();
    apply(
        &mut r,
        txn_type::MULTI,
        1,
        0,
        TxnBody::Multi(vec![
            (txn_type::CREATE, TxnBody::Create(create_txn("/x", -1))),
            (txn_type::ERROR, TxnBody::Error(ErrorTxn { err: -110 })),
        ]),
    );
    assert!(r.tree().node("/x").is_none());
    apply(
        &mut r,
        txn_type::MULTI,
        2,
        0,
        TxnBody::Multi(vec![
            (txn_type::CREATE, TxnBody::Create(create_txn("/x", -1))),
            (txn_type::CREATE, TxnBody::Create(create_txn("/y", -1))),
        ]),
    );
    assert!(r.tree().node("/x").is_some() && r.tree().node("/y").is_some());

    let session = 0x77;
    apply(
        &mut r,
        txn_type::CREATE_SESSION,
        3,
        session,
        TxnBody::CreateSession(ferrokeeper_protocol::CreateSessionTxn { time_out: 4000 }),
    );
    for (zxid, path) in [(4, "/x/e1"), (5, "/x/e2")] {
        let mut c = create_txn(path, -1);
        c.ephemeral = true;
        apply(&mut r, txn_type::CREATE, zxid, session, TxnBody::Create(c));
    }
    assert_eq!(r.sessions().get(session).map(|s| s.timeout_ms), Some(4000));
    assert_eq!(r.tree().ephemeral_paths(session).len(), 2);
    // The txn lists only one path; the other ephemeral goes too.
    apply(
        &mut r,
        txn_type::CLOSE_SESSION,
        6,
        session,
        TxnBody::CloseSession(Some(CloseSessionTxn {
            paths2_delete: vec!["/x/e1".into()],
        })),
    );
    assert!(r.sessions().is_empty());
    assert!(r.tree().node("/x/e1").is_none() && r.tree().node("/x/e2").is_none());
    assert_eq!(r.tree().node("/x").unwrap().persisted_stat().pzxid, 6);
}

#[test]
fn startup_refuses_zookeeper_data_without_data_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    assert!(refuse_zookeeper_data(dir.path(), dir.path(), None, false).is_ok());
    let v2 = dir.path().join(VERSION_DIR);
    fs::create_dir_all(&v2).unwrap();
    fs::write(v2.join("snapshot.0"), b"x").unwrap();
    fs::write(v2.join("log.1"), b"x").unwrap();
    let cfg = dir.path().join("zoo.cfg");
    let err = refuse_zookeeper_data(dir.path(), dir.path(), Some(&cfg), false).unwrap_err();
    assert!(err.contains("snapshot.0") && err.contains("log.1"), "{err}");
    assert!(
        err.contains(&format!(
            "ferrokeeper import --zk-data-dir {} --config {}",
            dir.path().display(),
            cfg.display()
        )),
        "{err}"
    );
    assert!(refuse_zookeeper_data(dir.path(), dir.path(), Some(&cfg), true).is_ok());
}
