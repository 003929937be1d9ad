//! The typed server reply: which body follows a [`ReplyHeader`] depends on the opcode
//! of the request it answers, so decoding takes that opcode.

use bytes::{BufMut, Bytes};

use crate::error::DecodeError;
use crate::jute::Jute;
use crate::multi::MultiResponse;
use crate::opcode::OpCode;
use crate::records::*;

/// A reply body, or a watch notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// No body: an error reply, or delete, ping, auth, setWatches(2), check/removeWatches,
    /// closeSession.
    Empty,
    Create(CreateResponse),
    /// create2, createContainer, createTTL.
    Create2(Create2Response),
    /// exists, setData, setACL and a standalone check all reply with a bare Stat.
    Stat(Stat),
    /// getData and reconfig.
    GetData(GetDataResponse),
    GetAcl(GetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(SyncResponse),
    /// multi and multiRead.
    Multi(MultiResponse),
    Sasl(SetSaslResponse),
    GetEphemerals(GetEphemeralsResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// ZooKeeper answers addWatch with a 4-byte `ErrorResponse{0}` body.
    AddWatch(ErrorResponse),
    WhoAmI(WhoAmIResponse),
    /// xid −1.
    Notification(WatcherEvent),
}

impl Response {
    /// Decodes the body after `header`, for a request of type `opcode` (use
    /// [`OpCode::Notification`] for xid −1). A non-zero `err` means no body.
    pub fn decode(
        opcode: OpCode,
        header: &ReplyHeader,
        body: &mut Bytes,
    ) -> Result<Self, DecodeError> {
        if header.err != 0 {
            return Ok(Response::Empty);
        }
        Ok(match opcode {
            OpCode::Notification => Response::Notification(Jute::decode(body)?),
            OpCode::Create => Response::Create(Jute::decode(body)?),
            OpCode::Create2 | OpCode::CreateContainer | OpCode::CreateTtl => {
                Response::Create2(Jute::decode(body)?)
            }
            OpCode::Exists | OpCode::SetData | OpCode::SetAcl | OpCode::Check => {
                Response::Stat(Stat::decode(body).map_err(|e| e.within("Response", "stat"))?)
            }
            OpCode::GetData | OpCode::Reconfig => Response::GetData(Jute::decode(body)?),
            OpCode::GetAcl => Response::GetAcl(Jute::decode(body)?),
            OpCode::GetChildren => Response::GetChildren(Jute::decode(body)?),
            OpCode::GetChildren2 => Response::GetChildren2(Jute::decode(body)?),
            OpCode::Sync => Response::Sync(Jute::decode(body)?),
            OpCode::Multi | OpCode::MultiRead => Response::Multi(Jute::decode(body)?),
            OpCode::Sasl => Response::Sasl(Jute::decode(body)?),
            OpCode::GetEphemerals => Response::GetEphemerals(Jute::decode(body)?),
            OpCode::GetAllChildrenNumber => Response::GetAllChildrenNumber(Jute::decode(body)?),
            OpCode::AddWatch => Response::AddWatch(Jute::decode(body)?),
            OpCode::WhoAmI => Response::WhoAmI(Jute::decode(body)?),
            OpCode::Delete
            | OpCode::Ping
            | OpCode::Auth
            | OpCode::SetWatches
            | OpCode::SetWatches2
            | OpCode::CheckWatches
            | OpCode::RemoveWatches
            | OpCode::DeleteContainer
            | OpCode::CloseSession
            | OpCode::CreateSession
            | OpCode::Error => Response::Empty,
        })
    }

    pub fn encode<B: BufMut>(&self, buf: &mut B) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(buf),
            Response::Create2(r) => r.encode(buf),
            Response::Stat(r) => r.encode(buf),
            Response::GetData(r) => r.encode(buf),
            Response::GetAcl(r) => r.encode(buf),
            Response::GetChildren(r) => r.encode(buf),
            Response::GetChildren2(r) => r.encode(buf),
            Response::Sync(r) => r.encode(buf),
            Response::Multi(r) => r.encode(buf),
            Response::Sasl(r) => r.encode(buf),
            Response::GetEphemerals(r) => r.encode(buf),
            Response::GetAllChildrenNumber(r) => r.encode(buf),
            Response::AddWatch(r) => r.encode(buf),
            Response::WhoAmI(r) => r.encode(buf),
            Response::Notification(r) => r.encode(buf),
        }
    }
}

/// A reply frame's payload: header and typed body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyFrame {
    pub header: ReplyHeader,
    pub response: Response,
}

impl ReplyFrame {
    /// Decodes a whole reply payload; `opcode_for_xid` names the request a reply answers
    /// (the caller's pending queue knows it; xid −1 is a notification).
    pub fn decode(
        buf: &mut Bytes,
        opcode_for_xid: impl FnOnce(i32) -> OpCode,
    ) -> Result<Self, DecodeError> {
        let header = ReplyHeader::decode(buf)?;
        let response = Response::decode(opcode_for_xid(header.xid), &header, buf)?;
        Ok(ReplyFrame { header, response })
    }

    pub fn encode<B: BufMut>(&self, buf: &mut B) {
        self.header.encode(buf);
        self.response.encode(buf);
    }
}
