//! Feeds arbitrary bytes through the path a server takes with untrusted input: the frame
//! codec, then the handshake for the first frame and the request decoder for the rest.
//! Besides "never panics" it checks that whatever decodes re-encodes and decodes to the
//! same value.
#![no_main]

use bytes::BytesMut;
use ferrokeeper_protocol::{ConnectRequest, FrameCodec, Jute, RequestFrame, to_bytes};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut codec = FrameCodec::new(64 * 1024);
    let mut stream = BytesMut::from(data);
    let mut first = true;
    while let Ok(Some(frame)) = codec.decode(&mut stream) {
        if std::mem::take(&mut first) {
            if let Ok(connect) = ConnectRequest::decode(&mut frame.clone()) {
                let again = ConnectRequest::decode(&mut to_bytes(&connect)).expect("re-decode connect");
                assert_eq!(again, connect);
            }
        } else if let Ok(request) = RequestFrame::decode(&mut frame.clone()) {
            let again = RequestFrame::decode(&mut to_bytes(&request)).expect("re-decode request");
            assert_eq!(again, request);
        }
    }
});
