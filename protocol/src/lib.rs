//! The ZooKeeper 3.8 client wire protocol, byte for byte: jute encoding, every record
//! a client and server exchange, opcodes, error codes, create modes, watch types, and a
//! length-prefixed frame codec. No I/O and no runtime: servers and clients bring their own.
//!
//! The layers, bottom up:
//! - [`Jute`]: encode/decode of one value; every record in [`records`] implements it.
//! - [`RequestFrame`] / [`ReplyFrame`]: a header plus a typed [`Request`] or [`Response`].
//! - [`FrameCodec`]: cuts a byte stream into frame payloads and writes them back.
//!
//! ```
//! use bytes::Bytes;
//! use ferrokeeper_protocol::{Jute, OpCode, Request, RequestFrame, GetDataRequest};
//!
//! let frame = RequestFrame::new(7, Request::GetData(GetDataRequest { path: "/a".into(), watch: true }));
//! let mut bytes = ferrokeeper_protocol::to_bytes(&frame);
//! let back = RequestFrame::decode(&mut bytes).unwrap();
//! assert_eq!(back.request.opcode(), OpCode::GetData);
//! assert_eq!(back, frame);
//! ```

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
mod create_mode;
mod error;
mod error_code;
mod four_letter;
mod frame;
mod jute;
mod multi;
mod opcode;
pub mod perms;
pub mod records;
mod request;
mod response;
pub mod sasl;
mod txn_entry;
mod watch_types;
mod wire_enum;

#[cfg(test)]
mod proptests;

pub use create_mode::CreateMode;
pub use error::{DecodeError, DecodeErrorKind};
pub use error_code::ErrorCode;
pub use four_letter::FourLetterWord;
pub use frame::{
    DEFAULT_MAX_FRAME_LEN, EncodeFrame, FRAME_HEADER_ALLOWANCE, FrameCodec, FrameError,
    JUTE_MAX_BUFFER, write_frame,
};
pub use jute::{Jute, to_bytes};
pub use multi::{MultiOp, MultiRequest, MultiResponse, MultiResult};
pub use opcode::OpCode;
pub use records::*;
pub use request::{DeleteContainerRequest, Request, RequestFrame, xid};
pub use response::{ReplyFrame, Response};
pub use txn_entry::{TxnBody, TxnEntry, txn_type};
pub use watch_types::{AddWatchMode, EventType, KeeperState, WatcherType};
