//! The reply frame a request gets: an applied write's result shaped by the client's
//! opcode, or an error. Shared by the connection layer (refusals) and the core (results),
//! so neither imports the other for it.

use ferrokeeper_protocol::{
    Create2Response, CreateResponse, ErrorCode, GetDataResponse, MultiResponse, MultiResult,
    OpCode, ReplyFrame, ReplyHeader, Response, SetDataResponse,
};

use crate::state::txn::{OpResult, TxnResult};

fn created(kind: OpCode, path: String, stat: ferrokeeper_protocol::Stat) -> MultiResult {
    if kind == OpCode::Create {
        MultiResult::Create(CreateResponse { path })
    } else {
        MultiResult::Create2(Create2Response { path, stat })
    }
}

fn multi_result(kind: OpCode, result: OpResult) -> MultiResult {
    match result {
        OpResult::Created { path, stat } => created(kind, path, stat),
        OpResult::Deleted => MultiResult::Delete,
        OpResult::SetData(stat) | OpResult::SetAcl(stat) => {
            MultiResult::SetData(SetDataResponse { stat })
        }
        OpResult::Checked => MultiResult::Check,
        OpResult::Error(code) => MultiResult::Error(code.code()),
    }
}

/// The reply for a write with opcode `kinds[0]` (or a multi of `kinds`).
pub fn write_reply(xid: i32, zxid: i64, kinds: &[OpCode], result: TxnResult) -> ReplyFrame {
    let kind = kinds.first().copied().unwrap_or(OpCode::Error);
    let ok = |response| ReplyFrame {
        header: ReplyHeader { xid, zxid, err: 0 },
        response,
    };
    match result {
        TxnResult::Error(code) => error_reply(xid, zxid, code),
        TxnResult::Created { path, stat } => match created(kind, path, stat) {
            MultiResult::Create(r) => ok(Response::Create(r)),
            MultiResult::Create2(r) => ok(Response::Create2(r)),
            _ => ok(Response::Empty),
        },
        TxnResult::Stat(stat) => ok(Response::Stat(stat)),
        TxnResult::Multi(results) => ok(Response::Multi(MultiResponse {
            results: results
                .into_iter()
                .enumerate()
                .map(|(i, r)| multi_result(kinds.get(i).copied().unwrap_or(OpCode::Error), r))
                .collect(),
        })),
        TxnResult::Data { data, stat } => ok(Response::GetData(GetDataResponse {
            data: Some(data),
            stat,
        })),
        TxnResult::Deleted
        | TxnResult::SessionCreated
        | TxnResult::SessionClosed
        | TxnResult::Restored => ok(Response::Empty),
    }
}

pub fn error_reply(xid: i32, zxid: i64, code: ErrorCode) -> ReplyFrame {
    ReplyFrame {
        header: ReplyHeader {
            xid,
            zxid,
            err: code.code(),
        },
        response: Response::Empty,
    }
}
