//! One logged txn, typed: ZooKeeper's `SerializeUtils.deserializeTxn`, with the
//! variations older and newer servers write (a pre-3.3 create without the parent's
//! cversion, a closeSession with or without its list of ephemerals, an optional tree
//! digest after the record).

use bytes::{Buf, Bytes};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::jute::Jute;
use crate::records::{
    CheckVersionTxn, CloseSessionTxn, CreateContainerTxn, CreateSessionTxn, CreateTtlTxn,
    CreateTxn, CreateTxnV0, DeleteTxn, ErrorTxn, MultiTxn, SetAclTxn, SetDataTxn, TxnDigest,
    TxnHeader,
};

/// Txn type codes (the opcodes of the requests that make them).
pub mod txn_type {
    pub const CREATE: i32 = 1;
    pub const DELETE: i32 = 2;
    pub const SET_DATA: i32 = 5;
    pub const SET_ACL: i32 = 7;
    pub const CHECK: i32 = 13;
    pub const MULTI: i32 = 14;
    pub const CREATE2: i32 = 15;
    pub const RECONFIG: i32 = 16;
    pub const CREATE_CONTAINER: i32 = 19;
    pub const DELETE_CONTAINER: i32 = 20;
    pub const CREATE_TTL: i32 = 21;
    pub const CREATE_SESSION: i32 = -10;
    pub const CLOSE_SESSION: i32 = -11;
    pub const ERROR: i32 = -1;
}

/// A txn's record, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnBody {
    /// create and create2 (a pre-3.3 create has `parent_cversion` −1).
    Create(CreateTxn),
    CreateTtl(CreateTtlTxn),
    CreateContainer(CreateContainerTxn),
    /// delete and deleteContainer.
    Delete(DeleteTxn),
    /// setData and reconfig.
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    /// `None` when the server did not log the session's ephemerals (before 3.6, or
    /// with `zookeeper.closeSessionTxn.enabled=false`).
    CloseSession(Option<CloseSessionTxn>),
    Error(ErrorTxn),
    /// The ops of a multi, each with its own type.
    Multi(Vec<(i32, TxnBody)>),
}

/// A whole logged txn: header, record, and the digest when one was logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnEntry {
    pub header: TxnHeader,
    pub body: TxnBody,
    pub digest: Option<TxnDigest>,
}

const DIGEST_LEN: usize = 12;

impl TxnEntry {
    /// Decodes the bytes of one log record (what ZooKeeper's CRC covers).
    pub fn decode(mut bytes: Bytes) -> Result<TxnEntry, DecodeError> {
        let header = TxnHeader::decode(&mut bytes)?;
        let body = if header.txn_type == txn_type::CLOSE_SESSION {
            decode_close_session(&mut bytes)?
        } else {
            TxnBody::decode(header.txn_type, &mut bytes)?
        };
        let digest = match bytes.remaining() {
            0 => None,
            DIGEST_LEN => Some(TxnDigest::decode(&mut bytes)?),
            _ => {
                return Err(DecodeError::new(DecodeErrorKind::Invalid(
                    "unexpected bytes after the txn record",
                ))
                .within("TxnEntry", "digest"));
            }
        };
        Ok(TxnEntry {
            header,
            body,
            digest,
        })
    }
}

/// A closeSession's body is optional and so is the digest after it; the lengths tell
/// them apart (ZooKeeper itself goes by a setting instead).
fn decode_close_session(bytes: &mut Bytes) -> Result<TxnBody, DecodeError> {
    let mut probe = bytes.clone();
    if let Ok(record) = CloseSessionTxn::decode(&mut probe)
        && matches!(probe.remaining(), 0 | DIGEST_LEN)
    {
        *bytes = probe;
        return Ok(TxnBody::CloseSession(Some(record)));
    }
    if matches!(bytes.remaining(), 0 | DIGEST_LEN) {
        return Ok(TxnBody::CloseSession(None));
    }
    Err(
        DecodeError::new(DecodeErrorKind::Invalid("malformed closeSession txn"))
            .within("CloseSessionTxn", "paths2Delete"),
    )
}

impl TxnBody {
    /// Decodes the record of a txn of type `kind`.
    pub fn decode(kind: i32, bytes: &mut Bytes) -> Result<TxnBody, DecodeError> {
        use crate::txn_entry::txn_type as t;
        Ok(match kind {
            t::CREATE | t::CREATE2 => {
                let mut probe = bytes.clone();
                match CreateTxn::decode(&mut probe) {
                    Ok(record) => {
                        *bytes = probe;
                        TxnBody::Create(record)
                    }
                    Err(e)
                        if kind == t::CREATE
                            && matches!(e.kind(), DecodeErrorKind::UnexpectedEof { .. }) =>
                    {
                        let v0 = CreateTxnV0::decode(bytes)?;
                        TxnBody::Create(CreateTxn {
                            path: v0.path,
                            data: v0.data,
                            acl: v0.acl,
                            ephemeral: v0.ephemeral,
                            parent_cversion: -1,
                        })
                    }
                    Err(e) => return Err(e),
                }
            }
            t::CREATE_TTL => TxnBody::CreateTtl(CreateTtlTxn::decode(bytes)?),
            t::CREATE_CONTAINER => TxnBody::CreateContainer(CreateContainerTxn::decode(bytes)?),
            t::DELETE | t::DELETE_CONTAINER => TxnBody::Delete(DeleteTxn::decode(bytes)?),
            t::SET_DATA | t::RECONFIG => TxnBody::SetData(SetDataTxn::decode(bytes)?),
            t::SET_ACL => TxnBody::SetAcl(SetAclTxn::decode(bytes)?),
            t::CHECK => TxnBody::Check(CheckVersionTxn::decode(bytes)?),
            t::CREATE_SESSION => TxnBody::CreateSession(CreateSessionTxn::decode(bytes)?),
            t::CLOSE_SESSION => TxnBody::CloseSession(Some(CloseSessionTxn::decode(bytes)?)),
            t::ERROR => TxnBody::Error(ErrorTxn::decode(bytes)?),
            t::MULTI => {
                let multi = MultiTxn::decode(bytes)?;
                let mut ops = Vec::with_capacity(multi.txns.len());
                for op in multi.txns {
                    if op.txn_type == t::MULTI {
                        return Err(DecodeError::new(DecodeErrorKind::UnknownValue(op.txn_type))
                            .within("Txn", "type"));
                    }
                    let mut data = op.data;
                    let body = TxnBody::decode(op.txn_type, &mut data)
                        .map_err(|e| e.within("MultiTxn", "txns"))?;
                    ops.push((op.txn_type, body));
                }
                TxnBody::Multi(ops)
            }
            other => {
                return Err(DecodeError::new(DecodeErrorKind::UnknownValue(other))
                    .within("TxnHeader", "type"));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Acl, Id, Txn};
    use crate::to_bytes;
    use bytes::BufMut;

    fn header(txn_type: i32) -> TxnHeader {
        TxnHeader {
            client_id: 0x100,
            cxid: 3,
            zxid: 0x1_0000_0005,
            time: 1_700_000_000_000,
            txn_type,
        }
    }

    fn entry(txn_type: i32, body: &[u8], digest: Option<TxnDigest>) -> Bytes {
        let mut buf = Vec::new();
        header(txn_type).encode(&mut buf);
        buf.put_slice(body);
        if let Some(d) = digest {
            d.encode(&mut buf);
        }
        Bytes::from(buf)
    }

    fn create() -> CreateTxn {
        CreateTxn {
            path: "/a".into(),
            data: Some(Bytes::from_static(b"x")),
            acl: vec![Acl {
                perms: 31,
                id: Id {
                    scheme: "world".into(),
                    id: "anyone".into(),
                },
            }],
            ephemeral: true,
            parent_cversion: 4,
        }
    }

    #[test]
    fn create_with_and_without_digest() {
        let digest = TxnDigest {
            version: 2,
            tree_digest: 77,
        };
        for d in [None, Some(digest)] {
            let e = TxnEntry::decode(entry(1, &to_bytes(&create()), d.clone())).unwrap();
            assert_eq!(e.body, TxnBody::Create(create()));
            assert_eq!(e.digest, d);
            assert_eq!(e.header, header(1));
        }
    }

    #[test]
    fn v0_create_gets_parent_cversion_minus_one() {
        let c = create();
        let v0 = CreateTxnV0 {
            path: c.path.clone(),
            data: c.data.clone(),
            acl: c.acl.clone(),
            ephemeral: c.ephemeral,
        };
        let e = TxnEntry::decode(entry(1, &to_bytes(&v0), None)).unwrap();
        assert_eq!(
            e.body,
            TxnBody::Create(CreateTxn {
                parent_cversion: -1,
                ..c
            })
        );
    }

    #[test]
    fn close_session_variants() {
        let digest = TxnDigest {
            version: 2,
            tree_digest: -5,
        };
        let paths = CloseSessionTxn {
            paths2_delete: vec!["/e1".into(), "/e2".into()],
        };
        let cases = [
            (Vec::new(), None, TxnBody::CloseSession(None)),
            (
                Vec::new(),
                Some(digest.clone()),
                TxnBody::CloseSession(None),
            ),
            (
                to_bytes(&paths).to_vec(),
                None,
                TxnBody::CloseSession(Some(paths.clone())),
            ),
            (
                to_bytes(&paths).to_vec(),
                Some(digest.clone()),
                TxnBody::CloseSession(Some(paths.clone())),
            ),
        ];
        for (body, d, want) in cases {
            let e = TxnEntry::decode(entry(-11, &body, d.clone())).unwrap();
            assert_eq!(e.body, want);
            assert_eq!(e.digest, d);
        }
    }

    #[test]
    fn multi_decodes_each_op_and_refuses_garbage() {
        let multi = MultiTxn {
            txns: vec![
                Txn {
                    txn_type: 1,
                    data: to_bytes(&create()),
                },
                Txn {
                    txn_type: -1,
                    data: to_bytes(&ErrorTxn { err: -101 }),
                },
            ],
        };
        let e = TxnEntry::decode(entry(14, &to_bytes(&multi), None)).unwrap();
        assert_eq!(
            e.body,
            TxnBody::Multi(vec![
                (1, TxnBody::Create(create())),
                (-1, TxnBody::Error(ErrorTxn { err: -101 })),
            ])
        );
        // Unknown type, and stray bytes after the record.
        assert!(TxnEntry::decode(entry(99, &[], None)).is_err());
        assert!(TxnEntry::decode(entry(2, &[0, 0, 0, 1, b'/', 7], None)).is_err());
        // Every strict prefix of a valid entry fails cleanly.
        let whole = entry(14, &to_bytes(&multi), None);
        for cut in 0..whole.len() {
            let _ = TxnEntry::decode(whole.slice(..cut));
        }
    }
}
