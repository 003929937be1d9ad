//! ZooKeeper 3.9's notifications carry the zxid of the change that fired them
//! (ZOOKEEPER-4655); 3.8's carry −1. ferrokeeper sends the zxid by default and −1 with
//! `ferrokeeper.watchEventZxid=false`; events for changes missed while disconnected
//! (through setWatches) carry −1 either way, as in 3.9.

use bytes::Bytes;
use ferrokeeper_protocol::{
    CreateRequest, GetDataRequest, OpCode, Request, Response, SetDataRequest, SetWatches2, perms,
};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::{RawClient, err_of};

/// (zxid of a setData, zxid in the header of the notification it fired, zxid in the
/// header of a setWatches-fired notification).
fn zxids(server: &Ferrokeeper) -> (i64, i64, i64) {
    let (mut watcher, _) = RawClient::connect(server.addr(), 30_000, None).expect("watcher");
    let (mut writer, _) = RawClient::connect(server.addr(), 30_000, None).expect("writer");
    let created = writer
        .call(Request::Create(CreateRequest {
            path: "/w".into(),
            data: Some(Bytes::from_static(b"0")),
            acl: perms::open_acl_unsafe(),
            flags: 0,
        }))
        .expect("create");
    assert_eq!(err_of(&created), 0);
    let watched = watcher
        .call(Request::GetData(GetDataRequest {
            path: "/w".into(),
            watch: true,
        }))
        .expect("getData");
    assert_eq!(err_of(&watched), 0);
    let set = |writer: &mut RawClient, data: &'static [u8]| {
        let frames = writer
            .call(Request::SetData(SetDataRequest {
                path: "/w".into(),
                data: Some(Bytes::from_static(data)),
                version: -1,
            }))
            .expect("setData");
        assert_eq!(err_of(&frames), 0);
        frames.last().expect("reply").header.zxid
    };
    let changed = set(&mut writer, b"1");
    let event = watcher.read_frame(OpCode::Notification).expect("event");
    assert!(
        matches!(event.response, Response::Notification(_)),
        "{event:?}"
    );

    // A change the watcher misses, then setWatches from before it.
    set(&mut writer, b"2");
    let frames = watcher
        .call(Request::SetWatches2(SetWatches2 {
            relative_zxid: changed,
            data_watches: vec!["/w".into()],
            exist_watches: vec![],
            child_watches: vec![],
            persistent_watches: vec![],
            persistent_recursive_watches: vec![],
        }))
        .expect("setWatches2");
    let missed = frames
        .iter()
        .find(|f| matches!(f.response, Response::Notification(_)))
        .expect("an event for the missed change");
    (changed, event.header.zxid, missed.header.zxid)
}

#[test]
fn notifications_carry_their_changes_zxid_by_default() {
    let server = Ferrokeeper::start(&[]);
    let (changed, fired, missed) = zxids(&server);
    assert!(changed > 0);
    assert_eq!(fired, changed);
    assert_eq!(missed, -1);
}

#[test]
fn zookeeper_3_8s_minus_one_on_request() {
    let server = Ferrokeeper::start(&["-Dferrokeeper.watchEventZxid=false"]);
    let (_, fired, missed) = zxids(&server);
    assert_eq!((fired, missed), (-1, -1));
}
