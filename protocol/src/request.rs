//! The typed client request: an [`OpCode`] and its body decoded into one enum, so a
//! server never handles raw bytes after the codec.

use bytes::{Buf, BufMut, Bytes};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::jute::Jute;
use crate::multi::MultiRequest;
use crate::opcode::OpCode;
use crate::records::*;

/// Special request xids.
pub mod xid {
    /// A watch notification (server to client).
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}

/// deleteContainer (20): its body is the path's bare UTF-8 bytes, with no length prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeleteContainerRequest {
    pub path: String,
}

impl Jute for DeleteContainerRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_slice(self.path.as_bytes());
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let raw = buf.split_to(buf.remaining());
        let path = String::from_utf8(raw.to_vec()).map_err(|_| {
            DecodeError::new(DecodeErrorKind::InvalidUtf8).within("DeleteContainerRequest", "path")
        })?;
        Ok(DeleteContainerRequest { path })
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl crate::arbitrary::Arb for DeleteContainerRequest {
    fn arb() -> proptest::strategy::BoxedStrategy<Self> {
        use proptest::strategy::Strategy;
        <String as crate::arbitrary::Arb>::arb()
            .prop_map(|path| DeleteContainerRequest { path })
            .boxed()
    }
}

macro_rules! requests {
    (
        records { $( $variant:ident($record:ty) = $op:ident, )* }
        bodiless { $( $unit:ident = $uop:ident, )* }
    ) => {
        /// A decoded client request (everything after the handshake).
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Request {
            $( $variant($record), )*
            $( $unit, )*
        }

        impl Request {
            pub fn opcode(&self) -> OpCode {
                match self {
                    $( Request::$variant(_) => OpCode::$op, )*
                    $( Request::$unit => OpCode::$uop, )*
                }
            }

            /// Decodes the body that follows a [`RequestHeader`] of type `opcode`.
            /// Opcodes a client cannot send give an `UnknownValue` error.
            pub fn decode_body(opcode: OpCode, body: &mut Bytes) -> Result<Self, DecodeError> {
                match opcode {
                    $( OpCode::$op => Ok(Request::$variant(<$record as Jute>::decode(body)?)), )*
                    $( OpCode::$uop => Ok(Request::$unit), )*
                    #[allow(unreachable_patterns)]
                    other => Err(DecodeError::new(DecodeErrorKind::UnknownValue(other.code()))
                        .within("RequestHeader", "type")),
                }
            }

            /// Encodes the body only (no header).
            pub fn encode_body<B: BufMut>(&self, buf: &mut B) {
                match self {
                    $( Request::$variant(r) => r.encode(buf), )*
                    $( Request::$unit => {} )*
                }
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl crate::arbitrary::Arb for Request {
            fn arb() -> proptest::strategy::BoxedStrategy<Self> {
                use proptest::prelude::*;
                let strategies: Vec<BoxedStrategy<Request>> = vec![
                    $( <$record as crate::arbitrary::Arb>::arb().prop_map(Request::$variant).boxed(), )*
                    $( Just(Request::$unit).boxed(), )*
                ];
                proptest::strategy::Union::new(strategies).boxed()
            }
        }
    };
}

requests! {
    records {
        Create(CreateRequest) = Create,
        Delete(DeleteRequest) = Delete,
        Exists(ExistsRequest) = Exists,
        GetData(GetDataRequest) = GetData,
        SetData(SetDataRequest) = SetData,
        GetAcl(GetAclRequest) = GetAcl,
        SetAcl(SetAclRequest) = SetAcl,
        GetChildren(GetChildrenRequest) = GetChildren,
        Sync(SyncRequest) = Sync,
        GetChildren2(GetChildren2Request) = GetChildren2,
        Check(CheckVersionRequest) = Check,
        Multi(MultiRequest) = Multi,
        Create2(CreateRequest) = Create2,
        Reconfig(ReconfigRequest) = Reconfig,
        CheckWatches(CheckWatchesRequest) = CheckWatches,
        RemoveWatches(RemoveWatchesRequest) = RemoveWatches,
        CreateContainer(CreateRequest) = CreateContainer,
        DeleteContainer(DeleteContainerRequest) = DeleteContainer,
        CreateTtl(CreateTtlRequest) = CreateTtl,
        MultiRead(MultiRequest) = MultiRead,
        Auth(AuthPacket) = Auth,
        SetWatches(SetWatches) = SetWatches,
        Sasl(GetSaslRequest) = Sasl,
        GetEphemerals(GetEphemeralsRequest) = GetEphemerals,
        GetAllChildrenNumber(GetAllChildrenNumberRequest) = GetAllChildrenNumber,
        SetWatches2(SetWatches2) = SetWatches2,
        AddWatch(AddWatchRequest) = AddWatch,
    }
    bodiless {
        Ping = Ping,
        WhoAmI = WhoAmI,
        CloseSession = CloseSession,
    }
}

/// A request frame's payload: header and typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFrame {
    pub header: RequestHeader,
    pub request: Request,
}

impl RequestFrame {
    /// A frame for `request` with the header's type taken from the request.
    pub fn new(xid: i32, request: Request) -> Self {
        RequestFrame {
            header: RequestHeader {
                xid,
                r#type: request.opcode().code(),
            },
            request,
        }
    }
}

impl Jute for RequestFrame {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        self.header.encode(buf);
        self.request.encode_body(buf);
    }

    /// Decodes a whole request payload. An opcode ZooKeeper does not define, or one a
    /// client may not send, fails with [`DecodeError::is_unknown_opcode`] true, so a
    /// server can answer `Unimplemented` as ZooKeeper does. Bytes after the body are
    /// ignored, as ZooKeeper ignores them.
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let header = RequestHeader::decode(buf)?;
        let opcode = OpCode::from_code(header.r#type).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::UnknownValue(header.r#type))
                .within("RequestHeader", "type")
        })?;
        let request = Request::decode_body(opcode, buf)?;
        Ok(RequestFrame { header, request })
    }
}
