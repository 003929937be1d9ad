//! Byte-level edge cases named by ZooKeeper's behaviour, through the public API.

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::*;
use tokio_util::codec::Decoder;

fn hex(s: &str) -> Bytes {
    let clean: String = s.split_whitespace().collect();
    Bytes::from(
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).expect("hex"))
            .collect::<Vec<_>>(),
    )
}

#[test]
fn handshake_read_only_byte_is_optional_and_mirrored() {
    let with = ConnectRequest {
        timeout: 30000,
        passwd: Bytes::from(vec![0; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    let without = ConnectRequest {
        read_only: None,
        ..with.clone()
    };
    assert_eq!(to_bytes(&with).len(), 45);
    assert_eq!(to_bytes(&without).len(), 44);
    assert_eq!(
        ConnectRequest::decode(&mut to_bytes(&with))
            .unwrap()
            .read_only,
        Some(false)
    );
    assert_eq!(
        ConnectRequest::decode(&mut to_bytes(&without))
            .unwrap()
            .read_only,
        None
    );

    let response = ConnectResponse {
        timeout: 30000,
        session_id: 0x0100_0005_250e_0000,
        passwd: Bytes::from(vec![7; 16]),
        read_only: Some(false),
        ..Default::default()
    };
    assert_eq!(to_bytes(&response).len(), 37);
    assert_eq!(
        to_bytes(&ConnectResponse {
            read_only: None,
            ..response
        })
        .len(),
        36
    );
}

#[test]
fn null_lengths_decode_as_null_or_empty() {
    // SetDataRequest { path "/a", data null, version -1 }
    let mut body = hex("00000002 2f61 ffffffff ffffffff");
    let request = SetDataRequest::decode(&mut body).unwrap();
    assert_eq!(request.data, None);
    assert_eq!(request.version, -1);
    // A null ustring where null has no meaning reads as "".
    assert_eq!(SyncRequest::decode(&mut hex("ffffffff")).unwrap().path, "");
    // Any other negative length is an error naming the field.
    let err = SyncRequest::decode(&mut hex("fffffffe")).unwrap_err();
    assert_eq!((err.record(), err.field()), ("SyncRequest", "path"));
    assert_eq!(err.kind(), &DecodeErrorKind::InvalidLength(-2));
}

#[test]
fn huge_vector_count_is_refused_without_allocating() {
    // GetChildrenResponse claiming 2^31-1 children in a 4-byte body.
    let err = GetChildrenResponse::decode(&mut hex("7fffffff")).unwrap_err();
    assert!(
        matches!(err.kind(), DecodeErrorKind::UnexpectedEof { .. }),
        "{err}"
    );
    assert_eq!(err.record(), "GetChildrenResponse");
}

#[test]
fn decode_error_names_innermost_and_outer_records() {
    // GetACLResponse with one ACL whose Id.scheme is cut short.
    let err = GetAclResponse::decode(&mut hex("00000001 0000001f 00000005 776f")).unwrap_err();
    assert_eq!((err.record(), err.field()), ("Id", "scheme"));
    let text = err.to_string();
    assert!(
        text.contains("Id.scheme in Acl.id in GetAclResponse.acl"),
        "{text}"
    );
}

#[test]
fn unknown_opcode_is_distinguished_from_garbage() {
    let mut frame = hex("00000001 000003e7"); // xid 1, opcode 999
    let err = RequestFrame::decode(&mut frame).unwrap_err();
    assert!(err.is_unknown_opcode(), "{err}");
    // Opcodes that exist but that a client never sends are unknown as requests too.
    for opcode in [0, -1, -10] {
        let mut frame = BytesMut::new();
        RequestHeader {
            xid: 1,
            r#type: opcode,
        }
        .encode(&mut frame);
        assert!(
            RequestFrame::decode(&mut frame.freeze())
                .unwrap_err()
                .is_unknown_opcode()
        );
    }
    // A known opcode with a broken body is not "unknown".
    let err = RequestFrame::decode(&mut hex("00000001 00000004 0000")).unwrap_err();
    assert!(!err.is_unknown_opcode());
}

#[test]
fn failed_multi_has_zookeepers_result_shape() {
    // ZooKeeper's answer to [create, check(bad version), delete] where check failed:
    // every result has type -1; 0 before, -103 at, -2 after the failing op.
    let response = MultiResponse {
        results: vec![
            MultiResult::Error(0),
            MultiResult::Error(ErrorCode::BadVersion.code()),
            MultiResult::Error(ErrorCode::RuntimeInconsistency.code()),
        ],
    };
    let expected = hex("ffffffff 00 00000000 00000000
         ffffffff 00 ffffff99 ffffff99
         ffffffff 00 fffffffe fffffffe
         ffffffff 01 ffffffff");
    assert_eq!(to_bytes(&response), expected);
    assert_eq!(
        MultiResponse::decode(&mut expected.clone()).unwrap(),
        response
    );
}

#[test]
fn multi_request_ends_with_done_header() {
    let request = MultiRequest {
        ops: vec![MultiOp::Check(CheckVersionRequest {
            path: "/a".into(),
            version: 3,
        })],
    };
    assert_eq!(
        to_bytes(&request),
        hex("0000000d 00 ffffffff 00000002 2f61 00000003 ffffffff 01 ffffffff")
    );
    // An op type that may not appear in a multi is an error, not a panic.
    let err = MultiRequest::decode(&mut hex("00000003 00 ffffffff 00000002 2f61 00")).unwrap_err();
    assert_eq!(err.kind(), &DecodeErrorKind::UnknownValue(3));
}

#[test]
fn frame_codec_refuses_negative_and_oversize_lengths() {
    let mut codec = FrameCodec::default();
    let mut negative = BytesMut::from(&hex("ffffffff 00")[..]);
    assert!(matches!(
        codec.decode(&mut negative),
        Err(FrameError::NegativeLength(-1))
    ));

    let mut huge = BytesMut::from(&hex("7fffffff")[..]);
    assert!(matches!(
        codec.decode(&mut huge),
        Err(FrameError::TooLong { .. })
    ));
    assert!(
        huge.capacity() < 1 << 20,
        "no allocation for an oversize claim"
    );

    // Exactly the limit is accepted once the bytes are there.
    let mut codec = FrameCodec::new(3);
    let mut exact = BytesMut::from(&hex("00000003 616263 00000004")[..]);
    assert_eq!(
        codec.decode(&mut exact).unwrap().unwrap(),
        Bytes::from_static(b"abc")
    );
    assert!(matches!(
        codec.decode(&mut exact),
        Err(FrameError::TooLong { len: 4, max: 3 })
    ));
    assert_eq!(DEFAULT_MAX_FRAME_LEN, 0xfffff + 1024);
}

#[test]
fn half_sent_frame_waits_for_more_bytes() {
    let mut codec = FrameCodec::default();
    let mut partial = BytesMut::from(&hex("00000008 0000")[..]);
    assert_eq!(codec.decode(&mut partial).unwrap(), None);
    partial.extend_from_slice(&hex("000000000000"));
    assert_eq!(
        codec.decode(&mut partial).unwrap().map(|b| b.len()),
        Some(8)
    );
}

#[test]
fn four_letter_words_are_recognised_from_the_first_four_bytes() {
    assert_eq!(FourLetterWord::detect(*b"ruok"), Some(FourLetterWord::Ruok));
    assert_eq!(FourLetterWord::detect(*b"mntr"), Some(FourLetterWord::Mntr));
    assert_eq!(
        FourLetterWord::detect([0xff, 0xf4, 0xff, 0xfd]),
        Some(FourLetterWord::TelnetClose)
    );
    // A handshake's length prefix (44 or 45) is not a command.
    assert_eq!(FourLetterWord::detect(45i32.to_be_bytes()), None);
    assert_eq!(FourLetterWord::detect(*b"RUOK"), None);
    for &(word, name) in FourLetterWord::NAMED {
        assert_eq!(FourLetterWord::from_name(name), Some(word));
        assert_eq!(word.name(), name);
    }
    assert_eq!(FourLetterWord::NAMED.len(), 20);
}

#[test]
fn add_watch_reply_carries_a_four_byte_body() {
    let frame = ReplyFrame {
        header: ReplyHeader {
            xid: 5,
            zxid: 9,
            err: 0,
        },
        response: Response::AddWatch(ErrorResponse { err: 0 }),
    };
    let mut bytes = BytesMut::new();
    frame.encode(&mut bytes);
    assert_eq!(bytes.len(), 16 + 4);
}

#[test]
fn error_reply_has_no_body_even_for_body_bearing_opcodes() {
    let mut bytes = hex("00000003 0000000000000010 ffffff9b"); // xid 3, NoNode
    let frame = ReplyFrame::decode(&mut bytes, |_| OpCode::Exists).unwrap();
    assert_eq!(frame.response, Response::Empty);
    assert_eq!(frame.header.error_code(), Some(ErrorCode::NoNode));
}
