//! The one error type of decoding: it names the record and field that failed, so a
//! log line about a bad frame says where the bytes went wrong.

use std::fmt;

/// What went wrong while reading bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    #[error("unexpected end of input: needed {needed} bytes, {remaining} left")]
    UnexpectedEof { needed: usize, remaining: usize },
    #[error("invalid length {0}")]
    InvalidLength(i32),
    #[error("length {len} exceeds the limit of {max}")]
    TooLong { len: usize, max: usize },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("unknown value {0}")]
    UnknownValue(i32),
    #[error("{0}")]
    Invalid(&'static str),
}

/// A decoding failure with its location: the innermost record and field, plus the
/// chain of enclosing records (outermost last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    record: &'static str,
    field: &'static str,
    outer: Vec<(&'static str, &'static str)>,
}

impl DecodeError {
    /// An error not yet placed in a record; [`DecodeError::within`] places it.
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError {
            kind,
            record: "",
            field: "",
            outer: Vec::new(),
        }
    }

    /// Records that the failure happened while reading `field` of `record`.
    /// The first call names the innermost location; later calls add enclosing ones.
    pub fn within(mut self, record: &'static str, field: &'static str) -> Self {
        if self.record.is_empty() {
            self.record = record;
            self.field = field;
        } else {
            self.outer.push((record, field));
        }
        self
    }

    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// The innermost record that failed to decode ("" when the error came from a bare value).
    pub fn record(&self) -> &'static str {
        self.record
    }

    /// The field of [`DecodeError::record`] that failed.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// True when the bytes were well-formed but named an opcode this crate does not know.
    /// ZooKeeper answers that with `Unimplemented` rather than treating it as garbage.
    pub fn is_unknown_opcode(&self) -> bool {
        matches!(self.kind, DecodeErrorKind::UnknownValue(_))
            && self.record == "RequestHeader"
            && self.field == "type"
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.record.is_empty() {
            return write!(f, "decoding failed: {}", self.kind);
        }
        write!(f, "decoding {}.{}", self.record, self.field)?;
        for (record, field) in &self.outer {
            write!(f, " in {record}.{field}")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeErrorKind> for DecodeError {
    fn from(kind: DecodeErrorKind) -> Self {
        DecodeError::new(kind)
    }
}
