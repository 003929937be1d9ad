//! The handshake records. In ZooKeeper 3.8 the `readOnly` flag is not part of the jute
//! record: a 3.x client appends it by hand, an old client does not, and the server
//! answers in kind. `read_only: None` means "absent on the wire" in both directions.

use bytes::{Buf, BufMut, Bytes};

use crate::error::DecodeError;
use crate::jute::Jute;

/// The first frame a client sends (it has no [`RequestHeader`](crate::RequestHeader)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout: i32,
    /// 0 for a new session.
    pub session_id: i64,
    pub passwd: Bytes,
    /// `Some` when the client sent the trailing byte (45-byte body), `None` for a
    /// 44-byte body. The response should mirror its presence.
    pub read_only: Option<bool>,
}

/// The server's answer to a [`ConnectRequest`]. `timeout <= 0` tells the client its
/// session is expired or its password wrong.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout: i32,
    pub session_id: i64,
    pub passwd: Bytes,
    pub read_only: Option<bool>,
}

fn field<T: Jute>(
    buf: &mut Bytes,
    record: &'static str,
    name: &'static str,
) -> Result<T, DecodeError> {
    T::decode(buf).map_err(|e| e.within(record, name))
}

/// The optional trailing flag: read when a byte is left, as ZooKeeper does.
fn trailing_read_only(buf: &mut Bytes) -> Option<bool> {
    buf.has_remaining().then(|| buf.get_u8() != 0)
}

impl Jute for ConnectRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.last_zxid_seen.encode(buf);
        self.timeout.encode(buf);
        self.session_id.encode(buf);
        self.passwd.encode(buf);
        if let Some(read_only) = self.read_only {
            read_only.encode(buf);
        }
    }

    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        const R: &str = "ConnectRequest";
        Ok(ConnectRequest {
            protocol_version: field(buf, R, "protocol_version")?,
            last_zxid_seen: field(buf, R, "last_zxid_seen")?,
            timeout: field(buf, R, "timeout")?,
            session_id: field(buf, R, "session_id")?,
            passwd: field(buf, R, "passwd")?,
            read_only: trailing_read_only(buf),
        })
    }
}

impl Jute for ConnectResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.protocol_version.encode(buf);
        self.timeout.encode(buf);
        self.session_id.encode(buf);
        self.passwd.encode(buf);
        if let Some(read_only) = self.read_only {
            read_only.encode(buf);
        }
    }

    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        const R: &str = "ConnectResponse";
        Ok(ConnectResponse {
            protocol_version: field(buf, R, "protocol_version")?,
            timeout: field(buf, R, "timeout")?,
            session_id: field(buf, R, "session_id")?,
            passwd: field(buf, R, "passwd")?,
            read_only: trailing_read_only(buf),
        })
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arbitrary::Arb;
    use proptest::prelude::*;

    impl Arb for ConnectRequest {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i64>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(
                    |(protocol_version, last_zxid_seen, timeout, session_id, passwd, read_only)| {
                        ConnectRequest {
                            protocol_version,
                            last_zxid_seen,
                            timeout,
                            session_id,
                            passwd,
                            read_only,
                        }
                    },
                )
                .boxed()
        }
    }

    impl Arb for ConnectResponse {
        fn arb() -> BoxedStrategy<Self> {
            (
                any::<i32>(),
                any::<i32>(),
                any::<i64>(),
                Bytes::arb(),
                proptest::option::of(any::<bool>()),
            )
                .prop_map(
                    |(protocol_version, timeout, session_id, passwd, read_only)| ConnectResponse {
                        protocol_version,
                        timeout,
                        session_id,
                        passwd,
                        read_only,
                    },
                )
                .boxed()
        }
    }
}
