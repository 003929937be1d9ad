//! Frames captured from a real ZooKeeper 3.8 server and its own clients (see
//! `fixtures/README.md`) must decode, and re-encode to the identical bytes.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::*;
use tokio_util::codec::Decoder;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    ToClient,
}

struct Fixture {
    name: String,
    connections: Vec<Vec<(Direction, Bytes)>>,
}

fn unhex(text: &str, context: &str) -> Bytes {
    assert!(text.len().is_multiple_of(2), "{context}: odd hex length");
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&text[i..i + 2], 16).unwrap_or_else(|_| panic!("{context}: bad hex"))
        })
        .collect::<Vec<u8>>();
    Bytes::from(bytes)
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

fn load_fixtures() -> Vec<Fixture> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures directory")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "frames"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse_fixture(p)).collect()
}

fn parse_fixture(path: &Path) -> Fixture {
    let name = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(path).expect("read fixture");
    let mut connections: Vec<Vec<(Direction, Bytes)>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let context = format!("{name}:{}", n + 1);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("= connection") {
            connections.push(Vec::new());
            continue;
        }
        let (direction, hex) = match line.split_at(1) {
            (">", rest) => (Direction::ToServer, rest.trim()),
            ("<", rest) => (Direction::ToClient, rest.trim()),
            _ => panic!("{context}: unexpected line {line:?}"),
        };
        let frame = unhex(hex, &context);
        connections
            .last_mut()
            .unwrap_or_else(|| panic!("{context}: frame before '= connection'"))
            .push((direction, frame));
    }
    Fixture { name, connections }
}

/// What the fixtures exercised, to check they cover what they must.
#[derive(Default)]
struct Coverage {
    handshake_lengths: BTreeSet<usize>,
    response_handshake_lengths: BTreeSet<usize>,
    opcodes: BTreeSet<i32>,
    create_flags: BTreeSet<(i32, i32)>,
    notifications: BTreeSet<i32>,
    error_replies: BTreeSet<i32>,
    failed_multi: bool,
    successful_multi: bool,
    watch_getdata: bool,
    frames: usize,
}

fn payload_of(frame: &Bytes, context: &str) -> Bytes {
    assert!(frame.len() >= 4, "{context}: frame shorter than its prefix");
    let len = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    assert_eq!(len as usize, frame.len() - 4, "{context}: length prefix");
    frame.slice(4..)
}

fn reencoded_reply(frame: &ReplyFrame) -> Bytes {
    let mut out = BytesMut::new();
    frame.encode(&mut out);
    out.freeze()
}

fn note_request(request: &Request, coverage: &mut Coverage) {
    coverage.opcodes.insert(request.opcode().code());
    match request {
        Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
            coverage
                .create_flags
                .insert((request.opcode().code(), r.flags));
        }
        Request::CreateTtl(r) => {
            coverage
                .create_flags
                .insert((request.opcode().code(), r.flags));
        }
        Request::GetData(r) if r.watch => coverage.watch_getdata = true,
        _ => {}
    }
}

fn note_reply(frame: &ReplyFrame, coverage: &mut Coverage) {
    if frame.header.err != 0 {
        coverage.error_replies.insert(frame.header.err);
    }
    match &frame.response {
        Response::Notification(event) => {
            coverage.notifications.insert(event.r#type);
        }
        Response::Multi(multi) => {
            if multi
                .results
                .iter()
                .any(|r| matches!(r, MultiResult::Error(e) if *e != 0))
            {
                coverage.failed_multi = true;
            } else if !multi.results.is_empty() {
                coverage.successful_multi = true;
            }
        }
        _ => {}
    }
}

/// Replays one connection: the handshake, then requests and replies matched by xid.
fn check_connection(
    name: &str,
    index: usize,
    frames: &[(Direction, Bytes)],
    coverage: &mut Coverage,
) {
    let mut client_read_only: Option<Option<bool>> = None;
    let mut server_handshake_done = false;
    let mut pending: HashMap<i32, OpCode> = HashMap::new();

    for (i, (direction, frame)) in frames.iter().enumerate() {
        let context = format!("{name} connection {} frame {}", index + 1, i + 1);
        let payload = payload_of(frame, &context);
        coverage.frames += 1;
        match direction {
            Direction::ToServer if client_read_only.is_none() => {
                let request = ConnectRequest::decode(&mut payload.clone())
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(
                    to_bytes(&request),
                    payload,
                    "{context}: ConnectRequest re-encoding"
                );
                coverage.handshake_lengths.insert(payload.len());
                client_read_only = Some(request.read_only);
            }
            Direction::ToServer => {
                match RequestFrame::decode(&mut payload.clone()) {
                    Ok(request) => {
                        assert_eq!(
                            to_bytes(&request),
                            payload,
                            "{context}: {:?} re-encoding",
                            request.request.opcode()
                        );
                        note_request(&request.request, coverage);
                        pending.insert(request.header.xid, request.request.opcode());
                    }
                    Err(e) if e.is_unknown_opcode() => {
                        // A hand-crafted unknown opcode: ZooKeeper answers Unimplemented.
                        let header = RequestHeader::decode(&mut payload.clone()).expect("header");
                        pending.insert(header.xid, OpCode::Error);
                    }
                    Err(e) => panic!("{context}: {e}"),
                }
            }
            Direction::ToClient if !server_handshake_done => {
                let response = ConnectResponse::decode(&mut payload.clone())
                    .unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(
                    to_bytes(&response),
                    payload,
                    "{context}: ConnectResponse re-encoding"
                );
                let sent =
                    client_read_only.unwrap_or_else(|| panic!("{context}: reply before handshake"));
                assert_eq!(
                    response.read_only.is_some(),
                    sent.is_some(),
                    "{context}: ZooKeeper 3.8 mirrors the readOnly byte's presence"
                );
                coverage.response_handshake_lengths.insert(payload.len());
                server_handshake_done = true;
            }
            Direction::ToClient => {
                let frame = ReplyFrame::decode(&mut payload.clone(), |xid| match xid {
                    xid::NOTIFICATION => OpCode::Notification,
                    xid::PING => OpCode::Ping,
                    xid::AUTH => OpCode::Auth,
                    xid::SET_WATCHES => OpCode::SetWatches,
                    xid => *pending
                        .get(&xid)
                        .unwrap_or_else(|| panic!("{context}: reply to unknown xid {xid}")),
                })
                .unwrap_or_else(|e| panic!("{context}: {e}"));
                assert_eq!(
                    reencoded_reply(&frame),
                    payload,
                    "{context}: reply re-encoding"
                );
                note_reply(&frame, coverage);
            }
        }
    }
}

#[test]
fn golden_frames_decode_and_reencode_byte_for_byte() {
    let fixtures = load_fixtures();
    assert!(
        fixtures.len() >= 5,
        "expected the captured fixtures, found {}",
        fixtures.len()
    );
    let mut coverage = Coverage::default();
    for fixture in &fixtures {
        assert!(
            !fixture.connections.is_empty(),
            "{}: no connections",
            fixture.name
        );
        for (i, connection) in fixture.connections.iter().enumerate() {
            check_connection(&fixture.name, i, connection, &mut coverage);
        }
    }

    // The fixtures must exercise what the protocol has to get right.
    assert!(
        coverage.handshake_lengths.is_superset(&[44, 45].into()),
        "{:?}",
        coverage.handshake_lengths
    );
    assert!(
        coverage
            .response_handshake_lengths
            .is_superset(&[36, 37].into())
    );
    for op in [
        OpCode::Create,
        OpCode::Create2,
        OpCode::CreateContainer,
        OpCode::CreateTtl,
        OpCode::GetData,
        OpCode::SetData,
        OpCode::Delete,
        OpCode::Exists,
        OpCode::GetChildren,
        OpCode::Multi,
        OpCode::SetWatches2,
        OpCode::Auth,
        OpCode::Ping,
        OpCode::CloseSession,
    ] {
        assert!(
            coverage.opcodes.contains(&op.code()),
            "no {op} request in the fixtures"
        );
    }
    for mode in [
        CreateMode::Persistent,
        CreateMode::Ephemeral,
        CreateMode::PersistentSequential,
        CreateMode::EphemeralSequential,
        CreateMode::Container,
        CreateMode::PersistentWithTtl,
    ] {
        assert!(
            coverage.create_flags.iter().any(|(_, f)| *f == mode.code()),
            "no create with mode {mode}"
        );
    }
    assert!(coverage.watch_getdata, "no getData with watch");
    assert!(!coverage.notifications.is_empty(), "no watch notification");
    assert!(
        coverage.successful_multi && coverage.failed_multi,
        "need a successful and a failed multi"
    );
    for code in [
        ErrorCode::NoNode,
        ErrorCode::NodeExists,
        ErrorCode::AuthFailed,
    ] {
        assert!(
            coverage.error_replies.contains(&code.code()),
            "no {code} reply"
        );
    }
    eprintln!(
        "{} fixtures, {} frames, opcodes {:?}, notifications {:?}, errors {:?}",
        fixtures.len(),
        coverage.frames,
        coverage.opcodes,
        coverage.notifications,
        coverage.error_replies
    );
}

/// Every truncation of a real frame is refused cleanly (the handshake, whose last
/// byte is optional, and deleteContainer, a bare path, may legitimately decode).
#[test]
fn truncated_golden_frames_fail_without_panicking() {
    for fixture in load_fixtures() {
        for connection in &fixture.connections {
            let mut client_frames = connection
                .iter()
                .filter(|(d, _)| *d == Direction::ToServer)
                .skip(1);
            let server_frames = connection
                .iter()
                .filter(|(d, _)| *d == Direction::ToClient)
                .skip(1);
            for (_, frame) in client_frames.by_ref() {
                let payload = frame.slice(4..);
                for cut in 0..payload.len() {
                    let decoded = RequestFrame::decode(&mut payload.slice(..cut));
                    let bare_path =
                        matches!(&decoded, Ok(f) if f.request.opcode() == OpCode::DeleteContainer);
                    assert!(
                        decoded.is_err() || bare_path,
                        "{}: request cut at {cut} decoded",
                        fixture.name
                    );
                }
            }
            for (_, frame) in server_frames {
                let payload = frame.slice(4..);
                for cut in 0..payload.len() {
                    for &opcode in OpCode::ALL {
                        let _ = ReplyFrame::decode(&mut payload.slice(..cut), |_| opcode);
                    }
                }
            }
        }
    }
}

/// The frame codec cuts each direction's captured byte stream back into its frames,
/// however TCP splits it.
#[test]
fn frame_codec_splits_captured_streams() {
    for fixture in load_fixtures() {
        for connection in &fixture.connections {
            for direction in [Direction::ToServer, Direction::ToClient] {
                let frames: Vec<&Bytes> = connection
                    .iter()
                    .filter(|(d, _)| *d == direction)
                    .map(|(_, f)| f)
                    .collect();
                let stream: Vec<u8> = frames.iter().flat_map(|f| f.iter().copied()).collect();
                for chunk in [1, 3, 7, 4096] {
                    let mut codec = FrameCodec::default();
                    let mut buffer = BytesMut::new();
                    let mut out = Vec::new();
                    for piece in stream.chunks(chunk) {
                        buffer.extend_from_slice(piece);
                        while let Some(payload) = codec.decode(&mut buffer).expect("valid stream") {
                            out.push(payload);
                        }
                    }
                    let expected: Vec<Bytes> = frames.iter().map(|f| f.slice(4..)).collect();
                    assert_eq!(out, expected, "{}: chunk {chunk}", fixture.name);
                }
            }
        }
    }
}
