//! The headers that precede request, reply and multi sub-op bodies.

use crate::error_code::ErrorCode;
use crate::jute::jute_record;

jute_record! {
    /// Precedes every client request after the handshake.
    pub struct RequestHeader {
        pub xid: i32,
        /// The [`OpCode`](crate::OpCode) number.
        pub r#type: i32,
    }
}

jute_record! {
    /// Precedes every server-to-client frame after the handshake.
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        /// The [`ErrorCode`] number; when non-zero no body follows (except in multi).
        pub err: i32,
    }
}

jute_record! {
    /// Precedes each sub-op (and each sub-result) of a multi; `done` ends the list.
    pub struct MultiHeader {
        pub r#type: i32,
        pub done: bool,
        pub err: i32,
    }
}

impl ReplyHeader {
    /// The reply's result code; `None` for a number ZooKeeper 3.8 does not define.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(self.err)
    }
}
