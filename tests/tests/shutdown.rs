//! SIGTERM: stop accepting, answer the writes already submitted, close cleanly.

use std::io::{Read, Write};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ferrokeeper_protocol::{CreateRequest, OpCode, Request, RequestFrame, perms, write_frame};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::raw::RawClient;

#[test]
fn sigterm_answers_submitted_writes_then_closes_and_exits_zero() {
    let mut server = Ferrokeeper::start(&[]);
    let (mut client, _) = RawClient::connect(server.addr(), 30_000, None).expect("connect");
    // Pipeline a burst of creates in one write.
    let mut burst = BytesMut::new();
    for i in 0..200 {
        let request = Request::Create(CreateRequest {
            path: format!("/n{i}"),
            data: Some(Bytes::from_static(b"x")),
            acl: perms::open_acl_unsafe(),
            flags: 0,
        });
        write_frame(&RequestFrame::new(i + 1, request), &mut burst);
    }
    client.stream().write_all(&burst).expect("send burst");
    let first = client.read_frame(OpCode::Create).expect("first reply");
    assert_eq!((first.header.xid, first.header.err), (1, 0));

    let status = server.terminate(Duration::from_secs(30));
    assert!(status.success(), "exit status {status:?}");

    // Whatever was answered came in order and succeeded; then a clean EOF.
    let mut expected_xid = 2;
    loop {
        match client.read_frame(OpCode::Create) {
            Ok(frame) => {
                assert_eq!(frame.header.xid, expected_xid, "replies in order");
                assert_eq!(frame.header.err, 0);
                expected_xid += 1;
            }
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    std::io::ErrorKind::UnexpectedEof,
                    "clean close expected, got {e}"
                );
                break;
            }
        }
    }
    let mut rest = Vec::new();
    assert_eq!(client.stream().read_to_end(&mut rest).expect("eof"), 0);
}
