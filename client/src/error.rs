//! The client's error type: ZooKeeper's `KeeperException.Code`s plus client states.

use ferrokeeper_protocol::ErrorCode;

/// The result of every client operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

macro_rules! codes {
    ( $( $(#[$doc:meta])* $variant:ident => $msg:literal, )* ) => {
        /// Why an operation failed. The variants named after ZooKeeper's
        /// `KeeperException.Code` carry the same meaning (and [`Error::code`] gives the
        /// same number); [`Error::Closed`], [`Error::Tls`] and [`Error::Other`] are this
        /// crate's own.
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[non_exhaustive]
        pub enum Error {
            $( $(#[$doc])* #[error($msg)] $variant, )*
            /// The client was closed with [`Client::close`](crate::Client::close).
            #[error("the client is closed")]
            Closed,
            /// Connecting failed because of TLS: what went wrong, with the host (see
            /// [`ClientBuilder::tls`](crate::ClientBuilder::tls)).
            #[error("{0}")]
            Tls(String),
            /// A code ZooKeeper 3.8 does not define.
            #[error("unknown ZooKeeper error code {0}")]
            Other(i32),
        }

        impl Error {
            /// The error for a non-zero `ReplyHeader.err`.
            pub fn from_code(code: i32) -> Error {
                match ErrorCode::from_code(code) {
                    $( Some(ErrorCode::$variant) => Error::$variant, )*
                    _ => Error::Other(code),
                }
            }

            /// ZooKeeper's number for this error (`Closed` has none and answers
            /// `SessionExpired`'s, as a closed session is gone for good; `Tls` answers
            /// `ConnectionLoss`'s, as no connection could be made).
            pub fn code(&self) -> i32 {
                match self {
                    $( Error::$variant => ErrorCode::$variant.code(), )*
                    Error::Closed => ErrorCode::SessionExpired.code(),
                    Error::Tls(_) => ErrorCode::ConnectionLoss.code(),
                    Error::Other(code) => *code,
                }
            }
        }
    };
}

codes! {
    SystemError => "system error",
    RuntimeInconsistency => "runtime inconsistency",
    DataInconsistency => "data inconsistency",
    /// The connection to the server was lost (or could not be made).
    ConnectionLoss => "connection loss",
    /// The server sent something that could not be decoded.
    MarshallingError => "marshalling error",
    Unimplemented => "unimplemented",
    /// The operation did not complete in time.
    OperationTimeout => "operation timeout",
    BadArguments => "bad arguments",
    UnknownSession => "unknown session",
    NewConfigNoQuorum => "new config has no quorum",
    ReconfigInProgress => "reconfig in progress",
    NoNode => "no node",
    NoAuth => "not authenticated",
    BadVersion => "bad version",
    NoChildrenForEphemerals => "ephemeral nodes may not have children",
    NodeExists => "node exists",
    NotEmpty => "node has children",
    SessionExpired => "session expired",
    InvalidCallback => "invalid callback",
    InvalidAcl => "invalid ACL",
    AuthFailed => "authentication failed",
    SessionMoved => "session moved",
    NotReadOnly => "not a read-only call",
    EphemeralOnLocalSession => "ephemeral on local session",
    NoWatcher => "no watcher",
    RequestTimeout => "request timeout",
    ReconfigDisabled => "reconfig disabled",
    SessionClosedRequireSaslAuth => "session closed: SASL authentication required",
    QuotaExceeded => "quota exceeded",
    ThrottledOp => "operation throttled",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in ErrorCode::ALL {
            if code.is_ok() || *code == ErrorCode::ApiError {
                continue;
            }
            let err = Error::from_code(code.code());
            assert_ne!(err, Error::Other(code.code()), "{code}");
            assert_eq!(err.code(), code.code());
        }
        assert_eq!(Error::from_code(-101), Error::NoNode);
        assert_eq!(Error::from_code(-9999), Error::Other(-9999));
        assert_eq!(Error::from_code(-100), Error::Other(-100));
    }
}
