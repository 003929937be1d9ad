//! Jute, ZooKeeper's binary record encoding: big-endian fixed-width integers, length-
//! prefixed buffers, strings and vectors where a length of −1 means null, and records
//! as their fields concatenated in declaration order.
//!
//! Decoding reads from [`Bytes`] so that buffers are split off without copying. A
//! length is never trusted for an allocation: it is checked against the bytes present.

use bytes::{Buf, BufMut, Bytes};

use crate::error::{DecodeError, DecodeErrorKind};

/// A value with a jute encoding.
pub trait Jute: Sized {
    fn encode<B: BufMut>(&self, buf: &mut B);
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError>;
}

/// Encodes `value` into a fresh buffer; handy for tests and small messages.
pub fn to_bytes<T: Jute>(value: &T) -> Bytes {
    let mut buf = Vec::new();
    value.encode(&mut buf);
    Bytes::from(buf)
}

fn need(buf: &Bytes, needed: usize) -> Result<(), DecodeError> {
    if buf.remaining() < needed {
        return Err(DecodeErrorKind::UnexpectedEof {
            needed,
            remaining: buf.remaining(),
        }
        .into());
    }
    Ok(())
}

/// Reads a length prefix: `None` for null (−1), an error for any other negative value
/// or for a length longer than what is left in the buffer.
fn read_len(buf: &mut Bytes) -> Result<Option<usize>, DecodeError> {
    let len = i32::decode(buf)?;
    match len {
        -1 => Ok(None),
        len if len < 0 => Err(DecodeErrorKind::InvalidLength(len).into()),
        len => Ok(Some(len as usize)),
    }
}

fn write_len<B: BufMut>(buf: &mut B, len: usize) {
    // Jute lengths are i32; anything larger cannot be framed (the frame limit is far
    // below 2 GiB), so saturating keeps the encoder total without a panic path.
    buf.put_i32(i32::try_from(len).unwrap_or(i32::MAX));
}

fn read_bytes(buf: &mut Bytes, len: usize) -> Result<Bytes, DecodeError> {
    need(buf, len)?;
    Ok(buf.split_to(len))
}

fn read_string(buf: &mut Bytes, len: usize) -> Result<String, DecodeError> {
    let raw = read_bytes(buf, len)?;
    String::from_utf8(raw.to_vec()).map_err(|_| DecodeErrorKind::InvalidUtf8.into())
}

impl Jute for i32 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i32(*self);
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        need(buf, 4)?;
        Ok(buf.get_i32())
    }
}

impl Jute for i64 {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_i64(*self);
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        need(buf, 8)?;
        Ok(buf.get_i64())
    }
}

/// Java's `readBoolean` takes any non-zero byte as true; so do we.
impl Jute for bool {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        buf.put_u8(u8::from(*self));
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        need(buf, 1)?;
        Ok(buf.get_u8() != 0)
    }
}

/// `ustring` where null carries no meaning: null decodes as the empty string.
impl Jute for String {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_len(buf, self.len());
        buf.put_slice(self.as_bytes());
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(String::new()),
            Some(len) => read_string(buf, len),
        }
    }
}

/// `ustring` where null is distinct from empty (e.g. reconfig's server lists).
impl Jute for Option<String> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            None => buf.put_i32(-1),
            Some(s) => s.encode(buf),
        }
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(None),
            Some(len) => read_string(buf, len).map(Some),
        }
    }
}

/// `buffer` where null carries no meaning: null decodes as empty.
impl Jute for Bytes {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_len(buf, self.len());
        buf.put_slice(self);
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(Bytes::new()),
            Some(len) => read_bytes(buf, len),
        }
    }
}

/// `buffer` where null is distinct from empty (znode data: ZooKeeper keeps and returns
/// a null as null).
impl Jute for Option<Bytes> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            None => buf.put_i32(-1),
            Some(b) => b.encode(buf),
        }
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(None),
            Some(len) => read_bytes(buf, len).map(Some),
        }
    }
}

fn read_vec<T: Jute>(buf: &mut Bytes, count: usize) -> Result<Vec<T>, DecodeError> {
    // Every element takes at least one byte, so the bytes left bound a sane capacity.
    let mut items = Vec::with_capacity(count.min(buf.remaining()));
    for _ in 0..count {
        items.push(T::decode(buf)?);
    }
    Ok(items)
}

/// `vector<T>` where null carries no meaning: null decodes as empty.
impl<T: Jute> Jute for Vec<T> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        write_len(buf, self.len());
        for item in self {
            item.encode(buf);
        }
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(Vec::new()),
            Some(count) => read_vec(buf, count),
        }
    }
}

/// `vector<T>` where null is distinct from empty.
impl<T: Jute> Jute for Option<Vec<T>> {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            None => buf.put_i32(-1),
            Some(v) => v.encode(buf),
        }
    }
    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        match read_len(buf)? {
            None => Ok(None),
            Some(count) => read_vec(buf, count).map(Some),
        }
    }
}

/// Declares a jute record: the struct, its [`Jute`] impl (fields in declaration order,
/// errors naming record and field) and, for tests, a proptest strategy.
macro_rules! jute_record {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
        #[cfg_attr(feature = "serde", derive(::serde::Serialize, ::serde::Deserialize))]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }

        impl $crate::jute::Jute for $name {
            fn encode<B: ::bytes::BufMut>(&self, buf: &mut B) {
                $( $crate::jute::Jute::encode(&self.$field, buf); )*
                let _ = buf;
            }

            fn decode(buf: &mut ::bytes::Bytes) -> Result<Self, $crate::error::DecodeError> {
                let _ = &buf;
                Ok($name {
                    $( $field: <$ty as $crate::jute::Jute>::decode(buf)
                        .map_err(|e| e.within(stringify!($name), stringify!($field)))?, )*
                })
            }
        }

        #[cfg(any(test, feature = "arbitrary"))]
        impl $crate::arbitrary::Arb for $name {
            fn arb() -> ::proptest::strategy::BoxedStrategy<Self> {
                use ::proptest::strategy::Strategy;
                ( $( <$ty as $crate::arbitrary::Arb>::arb(), )* )
                    .prop_map(|( $($field,)* )| $name { $($field),* })
                    .boxed()
            }
        }
    };
}
pub(crate) use jute_record;
