//! Framing: every message is a 4-byte big-endian signed length and that many bytes.
//! A negative or oversize length is an error before any allocation, so a hostile peer
//! cannot make us reserve memory it never sends.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::jute::Jute;
use crate::records::{ConnectRequest, ConnectResponse};
use crate::request::RequestFrame;
use crate::response::ReplyFrame;

/// ZooKeeper's default `jute.maxbuffer`: the largest znode data or string it accepts.
pub const JUTE_MAX_BUFFER: usize = 0xfffff;

/// Room above `jute.maxbuffer` for the request header, path and other fields, so that
/// a request carrying `jute.maxbuffer` bytes of data still fits in a frame.
pub const FRAME_HEADER_ALLOWANCE: usize = 1024;

/// The default frame limit.
pub const DEFAULT_MAX_FRAME_LEN: usize = JUTE_MAX_BUFFER + FRAME_HEADER_ALLOWANCE;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame length {0} is negative")]
    NegativeLength(i32),
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLong { len: usize, max: usize },
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A `tokio_util` codec that cuts a byte stream into frame payloads ([`Bytes`], without
/// the length prefix) and writes anything [`EncodeFrame`] with its prefix.
#[derive(Debug, Clone, Copy)]
pub struct FrameCodec {
    max_len: usize,
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameCodec {
    /// A codec that refuses frames longer than `max_len` bytes (excluding the prefix).
    pub fn new(max_len: usize) -> Self {
        FrameCodec { max_len }
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }
}

impl Decoder for FrameCodec {
    type Item = Bytes;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(prefix) = src.get(..4) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
        let len = usize::try_from(len).map_err(|_| FrameError::NegativeLength(len))?;
        if len > self.max_len {
            return Err(FrameError::TooLong {
                len,
                max: self.max_len,
            });
        }
        if src.len() < 4 + len {
            src.reserve(4 + len - src.len());
            return Ok(None);
        }
        src.advance(4);
        Ok(Some(src.split_to(len).freeze()))
    }
}

/// A message that can be written as one frame payload.
pub trait EncodeFrame {
    fn encode_payload(&self, buf: &mut BytesMut);
}

impl EncodeFrame for Bytes {
    fn encode_payload(&self, buf: &mut BytesMut) {
        buf.put_slice(self);
    }
}

impl EncodeFrame for ConnectRequest {
    fn encode_payload(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

impl EncodeFrame for ConnectResponse {
    fn encode_payload(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

impl EncodeFrame for RequestFrame {
    fn encode_payload(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

impl EncodeFrame for ReplyFrame {
    fn encode_payload(&self, buf: &mut BytesMut) {
        self.encode(buf);
    }
}

/// Appends `message` to `dst` as one frame: a length placeholder, the payload, then
/// the real length patched in (as ZooKeeper's own client does).
pub fn write_frame<M: EncodeFrame + ?Sized>(message: &M, dst: &mut BytesMut) {
    let start = dst.len();
    dst.put_i32(0);
    message.encode_payload(dst);
    let len = dst.len() - start - 4;
    let len = i32::try_from(len).unwrap_or(i32::MAX);
    dst[start..start + 4].copy_from_slice(&len.to_be_bytes());
}

impl<M: EncodeFrame> Encoder<M> for FrameCodec {
    type Error = FrameError;

    fn encode(&mut self, message: M, dst: &mut BytesMut) -> Result<(), FrameError> {
        write_frame(&message, dst);
        Ok(())
    }
}
