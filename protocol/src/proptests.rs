//! Property tests: every record round-trips, and no byte sequence makes a decoder panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use crate::arbitrary::Arb;
use crate::*;

fn roundtrip<T: Jute + Arb + PartialEq>(
    value: T,
    optional_tail: bool,
) -> Result<(), TestCaseError> {
    let bytes = to_bytes(&value);
    let mut input = bytes.clone();
    let back = T::decode(&mut input).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, &value);
    prop_assert!(input.is_empty(), "{} bytes left over", input.len());
    // No record has an optional tail (the handshake's readOnly byte is the exception,
    // tested on its own), so every strict prefix must be refused, not half-read.
    if !optional_tail {
        for cut in 0..bytes.len() {
            prop_assert!(
                T::decode(&mut bytes.slice(..cut)).is_err(),
                "prefix of {} bytes accepted",
                cut
            );
        }
    }
    Ok(())
}

macro_rules! roundtrip_tests {
    ($($name:ident: $ty:ty,)*) => {
        proptest! {
            $(
                #[test]
                fn $name(value in <$ty as Arb>::arb()) {
                    roundtrip(value, false)?;
                }
            )*
        }
    };
}

roundtrip_tests! {
    id: Id,
    acl: Acl,
    stat: Stat,
    stat_persisted: StatPersisted,
    client_info: ClientInfo,
    request_header: RequestHeader,
    reply_header: ReplyHeader,
    multi_header: MultiHeader,
    create_request: CreateRequest,
    create_ttl_request: CreateTtlRequest,
    delete_request: DeleteRequest,
    exists_request: ExistsRequest,
    get_data_request: GetDataRequest,
    set_data_request: SetDataRequest,
    get_acl_request: GetAclRequest,
    set_acl_request: SetAclRequest,
    get_children_request: GetChildrenRequest,
    sync_request: SyncRequest,
    get_children2_request: GetChildren2Request,
    check_version_request: CheckVersionRequest,
    reconfig_request: ReconfigRequest,
    check_watches_request: CheckWatchesRequest,
    remove_watches_request: RemoveWatchesRequest,
    auth_packet: AuthPacket,
    set_watches: SetWatches,
    get_sasl_request: GetSaslRequest,
    set_sasl_request: SetSaslRequest,
    get_ephemerals_request: GetEphemeralsRequest,
    get_all_children_number_request: GetAllChildrenNumberRequest,
    set_watches2: SetWatches2,
    add_watch_request: AddWatchRequest,
    get_max_children_request: GetMaxChildrenRequest,
    set_max_children_request: SetMaxChildrenRequest,
    get_stat_persisted_request: GetStatPersistedRequest,
    create_response: CreateResponse,
    create2_response: Create2Response,
    exists_response: ExistsResponse,
    get_data_response: GetDataResponse,
    set_data_response: SetDataResponse,
    get_acl_response: GetAclResponse,
    set_acl_response: SetAclResponse,
    get_children_response: GetChildrenResponse,
    sync_response: SyncResponse,
    get_children2_response: GetChildren2Response,
    set_sasl_response: SetSaslResponse,
    get_ephemerals_response: GetEphemeralsResponse,
    get_all_children_number_response: GetAllChildrenNumberResponse,
    who_am_i_response: WhoAmIResponse,
    error_response: ErrorResponse,
    watcher_event: WatcherEvent,
    get_max_children_response: GetMaxChildrenResponse,
    get_stat_persisted_response: GetStatPersistedResponse,
    multi_request: MultiRequest,
    multi_response: MultiResponse,
}

/// A reply body that fits the opcode it answers, as a server would send it.
fn response_for(opcode: OpCode) -> BoxedStrategy<Response> {
    match opcode {
        OpCode::Notification => WatcherEvent::arb().prop_map(Response::Notification).boxed(),
        OpCode::Create => CreateResponse::arb().prop_map(Response::Create).boxed(),
        OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
            Create2Response::arb().prop_map(Response::Create2).boxed()
        }
        OpCode::Exists | OpCode::SetData | OpCode::SetAcl | OpCode::Check => {
            Stat::arb().prop_map(Response::Stat).boxed()
        }
        OpCode::GetData | OpCode::Reconfig => {
            GetDataResponse::arb().prop_map(Response::GetData).boxed()
        }
        OpCode::GetAcl => GetAclResponse::arb().prop_map(Response::GetAcl).boxed(),
        OpCode::GetChildren => GetChildrenResponse::arb()
            .prop_map(Response::GetChildren)
            .boxed(),
        OpCode::GetChildren2 => GetChildren2Response::arb()
            .prop_map(Response::GetChildren2)
            .boxed(),
        OpCode::Sync => SyncResponse::arb().prop_map(Response::Sync).boxed(),
        OpCode::Multi | OpCode::MultiRead => MultiResponse::arb().prop_map(Response::Multi).boxed(),
        OpCode::Sasl => SetSaslResponse::arb().prop_map(Response::Sasl).boxed(),
        OpCode::GetEphemerals => GetEphemeralsResponse::arb()
            .prop_map(Response::GetEphemerals)
            .boxed(),
        OpCode::GetAllChildrenNumber => GetAllChildrenNumberResponse::arb()
            .prop_map(Response::GetAllChildrenNumber)
            .boxed(),
        OpCode::AddWatch => ErrorResponse::arb().prop_map(Response::AddWatch).boxed(),
        OpCode::WhoAmI => WhoAmIResponse::arb().prop_map(Response::WhoAmI).boxed(),
        _ => Just(Response::Empty).boxed(),
    }
}

fn reply_frame() -> impl Strategy<Value = (OpCode, ReplyFrame)> {
    (
        proptest::sample::select(OpCode::ALL),
        any::<i32>(),
        any::<i64>(),
        any::<bool>(),
    )
        .prop_flat_map(|(opcode, xid, zxid, failed)| {
            let body = if failed {
                Just(Response::Empty).boxed()
            } else {
                response_for(opcode)
            };
            body.prop_map(move |response| {
                let err = if failed { ErrorCode::NoNode.code() } else { 0 };
                (
                    opcode,
                    ReplyFrame {
                        header: ReplyHeader { xid, zxid, err },
                        response,
                    },
                )
            })
        })
}

proptest! {
    #[test]
    fn connect_request(value in ConnectRequest::arb()) {
        roundtrip(value, true)?;
    }

    #[test]
    fn connect_response(value in ConnectResponse::arb()) {
        roundtrip(value, true)?;
    }

    #[test]
    fn request_frames_roundtrip(xid in any::<i32>(), request in Request::arb()) {
        let frame = RequestFrame::new(xid, request);
        roundtrip_frame(&frame)?;
    }

    #[test]
    fn reply_frames_roundtrip((opcode, frame) in reply_frame()) {
        let mut bytes = BytesMut::new();
        frame.encode(&mut bytes);
        let mut input = bytes.freeze();
        let back = ReplyFrame::decode(&mut input, |_| opcode).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(back, frame);
        prop_assert!(input.is_empty());
    }

    #[test]
    fn frame_codec_reassembles_split_streams(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        chunk in 1usize..17,
    ) {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        for p in &payloads {
            codec.encode(Bytes::from(p.clone()), &mut wire).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        // Feed the stream in small chunks, as TCP may deliver it.
        let mut buffer = BytesMut::new();
        let mut out = Vec::new();
        for piece in wire.chunks(chunk) {
            buffer.extend_from_slice(piece);
            while let Some(frame) = codec.decode(&mut buffer).map_err(|e| TestCaseError::fail(e.to_string()))? {
                out.push(frame.to_vec());
            }
        }
        prop_assert_eq!(out, payloads);
        prop_assert!(buffer.is_empty());
    }

    /// Random bytes into every decoder: a value or an error, never a panic.
    #[test]
    fn decoders_never_panic_on_random_bytes(raw in proptest::collection::vec(any::<u8>(), 0..256)) {
        let bytes = Bytes::from(raw);
        let _ = ConnectRequest::decode(&mut bytes.clone());
        let _ = ConnectResponse::decode(&mut bytes.clone());
        let _ = RequestFrame::decode(&mut bytes.clone());
        let _ = MultiRequest::decode(&mut bytes.clone());
        let _ = MultiResponse::decode(&mut bytes.clone());
        for &opcode in OpCode::ALL {
            let _ = ReplyFrame::decode(&mut bytes.clone(), |_| opcode);
            let _ = Request::decode_body(opcode, &mut bytes.clone());
        }
        let mut codec = FrameCodec::new(128);
        let mut buffer = BytesMut::from(&bytes[..]);
        while let Ok(Some(_)) = codec.decode(&mut buffer) {}
    }

    /// Random bytes after a valid header of every opcode reach the body decoders.
    #[test]
    fn request_bodies_never_panic(opcode in proptest::sample::select(OpCode::ALL), xid in any::<i32>(),
                                  raw in proptest::collection::vec(any::<u8>(), 0..128)) {
        let mut payload = BytesMut::new();
        RequestHeader { xid, r#type: opcode.code() }.encode(&mut payload);
        payload.extend_from_slice(&raw);
        let _ = RequestFrame::decode(&mut payload.freeze());
    }

    /// A well-formed frame cut short anywhere fails to decode instead of panicking.
    #[test]
    fn truncated_request_frames_fail_cleanly(xid in any::<i32>(), request in Request::arb(), cut in any::<prop::sample::Index>()) {
        let frame = RequestFrame::new(xid, request);
        let bytes = to_bytes(&frame);
        let cut = cut.index(bytes.len());
        let _ = RequestFrame::decode(&mut bytes.slice(..cut));
    }
}

fn roundtrip_frame(frame: &RequestFrame) -> Result<(), TestCaseError> {
    let bytes = to_bytes(frame);
    let mut input = bytes.clone();
    let back = RequestFrame::decode(&mut input).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&back, frame);
    prop_assert!(input.is_empty());
    Ok(())
}

#[test]
fn every_wire_enum_value_round_trips_through_its_code() {
    for &op in OpCode::ALL {
        assert_eq!(OpCode::from_code(op.code()), Some(op));
    }
    for &code in ErrorCode::ALL {
        assert_eq!(ErrorCode::try_from(code.code()), Ok(code));
    }
    for &mode in CreateMode::ALL {
        assert_eq!(CreateMode::from_code(mode.code()), Some(mode));
    }
    for &event in EventType::ALL {
        assert_eq!(EventType::from_code(event.code()), Some(event));
    }
    for &state in KeeperState::ALL {
        assert_eq!(KeeperState::from_code(state.code()), Some(state));
    }
    assert_eq!(OpCode::from_code(999), None);
    assert_eq!(
        ErrorCode::from_code(-126),
        None,
        "-126 is unused in ZooKeeper"
    );
    assert_eq!(CreateMode::from_code(7), None);
    assert!(ErrorCode::try_from(-126).is_err());
}
