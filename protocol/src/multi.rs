//! multi (14) and multiRead (22): a list of sub-ops, each behind a [`MultiHeader`], ended
//! by a header with `done = true`. Results come back the same way; a failed multi
//! reports every result as an error (0 before the failing op, its code at it, −2 after).

use bytes::{BufMut, Bytes};

use crate::error::{DecodeError, DecodeErrorKind};
use crate::jute::Jute;
use crate::opcode::OpCode;
use crate::records::*;

/// One sub-op of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    Create(CreateRequest),
    Create2(CreateRequest),
    CreateContainer(CreateRequest),
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    /// multiRead only.
    GetData(GetDataRequest),
    /// multiRead only.
    GetChildren(GetChildrenRequest),
}

impl MultiOp {
    pub fn opcode(&self) -> OpCode {
        match self {
            MultiOp::Create(_) => OpCode::Create,
            MultiOp::Create2(_) => OpCode::Create2,
            MultiOp::CreateContainer(_) => OpCode::CreateContainer,
            MultiOp::CreateTtl(_) => OpCode::CreateTtl,
            MultiOp::Delete(_) => OpCode::Delete,
            MultiOp::SetData(_) => OpCode::SetData,
            MultiOp::Check(_) => OpCode::Check,
            MultiOp::GetData(_) => OpCode::GetData,
            MultiOp::GetChildren(_) => OpCode::GetChildren,
        }
    }

    /// Reads belong in multiRead, writes in multi; ZooKeeper refuses a mix.
    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetData(_) | MultiOp::GetChildren(_))
    }

    /// The path the sub-op works on.
    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => &r.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetData(r) => &r.path,
            MultiOp::GetChildren(r) => &r.path,
        }
    }

    fn encode_body<B: BufMut>(&self, buf: &mut B) {
        match self {
            MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => r.encode(buf),
            MultiOp::CreateTtl(r) => r.encode(buf),
            MultiOp::Delete(r) => r.encode(buf),
            MultiOp::SetData(r) => r.encode(buf),
            MultiOp::Check(r) => r.encode(buf),
            MultiOp::GetData(r) => r.encode(buf),
            MultiOp::GetChildren(r) => r.encode(buf),
        }
    }

    fn decode_body(op: i32, buf: &mut Bytes) -> Result<Self, DecodeError> {
        let op = OpCode::from_code(op).ok_or(DecodeErrorKind::UnknownValue(op))?;
        Ok(match op {
            OpCode::Create => MultiOp::Create(Jute::decode(buf)?),
            OpCode::Create2 => MultiOp::Create2(Jute::decode(buf)?),
            OpCode::CreateContainer => MultiOp::CreateContainer(Jute::decode(buf)?),
            OpCode::CreateTtl => MultiOp::CreateTtl(Jute::decode(buf)?),
            OpCode::Delete => MultiOp::Delete(Jute::decode(buf)?),
            OpCode::SetData => MultiOp::SetData(Jute::decode(buf)?),
            OpCode::Check => MultiOp::Check(Jute::decode(buf)?),
            OpCode::GetData => MultiOp::GetData(Jute::decode(buf)?),
            OpCode::GetChildren => MultiOp::GetChildren(Jute::decode(buf)?),
            _ => return Err(DecodeErrorKind::UnknownValue(op.code()).into()),
        })
    }
}

/// The body of a multi or multiRead request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiRequest {
    pub ops: Vec<MultiOp>,
}

/// The header that ends a multi request or response.
const DONE: MultiHeader = MultiHeader {
    r#type: -1,
    done: true,
    err: -1,
};

impl Jute for MultiRequest {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for op in &self.ops {
            MultiHeader {
                r#type: op.opcode().code(),
                done: false,
                err: -1,
            }
            .encode(buf);
            op.encode_body(buf);
        }
        DONE.encode(buf);
    }

    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let mut ops = Vec::new();
        loop {
            let header = MultiHeader::decode(buf).map_err(|e| e.within("MultiRequest", "ops"))?;
            if header.done {
                return Ok(MultiRequest { ops });
            }
            let op = MultiOp::decode_body(header.r#type, buf)
                .map_err(|e| e.within("MultiRequest", "ops"))?;
            ops.push(op);
        }
    }
}

/// One sub-result of a multi or multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    Create(CreateResponse),
    /// The result of create2, createContainer and createTTL.
    Create2(Create2Response),
    Delete,
    SetData(SetDataResponse),
    Check,
    GetData(GetDataResponse),
    GetChildren(GetChildrenResponse),
    /// A failed op, or (in a failed multi) an op that was rolled back (0) or never ran (−2).
    Error(i32),
}

impl MultiResult {
    fn type_code(&self) -> OpCode {
        match self {
            MultiResult::Create(_) => OpCode::Create,
            MultiResult::Create2(_) => OpCode::Create2,
            MultiResult::Delete => OpCode::Delete,
            MultiResult::SetData(_) => OpCode::SetData,
            MultiResult::Check => OpCode::Check,
            MultiResult::GetData(_) => OpCode::GetData,
            MultiResult::GetChildren(_) => OpCode::GetChildren,
            MultiResult::Error(_) => OpCode::Error,
        }
    }
}

/// The body of a multi or multiRead reply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiResponse {
    pub results: Vec<MultiResult>,
}

impl Jute for MultiResponse {
    fn encode<B: BufMut>(&self, buf: &mut B) {
        for result in &self.results {
            let err = match result {
                MultiResult::Error(err) => *err,
                _ => 0,
            };
            MultiHeader {
                r#type: result.type_code().code(),
                done: false,
                err,
            }
            .encode(buf);
            match result {
                MultiResult::Create(r) => r.encode(buf),
                MultiResult::Create2(r) => r.encode(buf),
                MultiResult::Delete | MultiResult::Check => {}
                MultiResult::SetData(r) => r.encode(buf),
                MultiResult::GetData(r) => r.encode(buf),
                MultiResult::GetChildren(r) => r.encode(buf),
                MultiResult::Error(err) => ErrorResponse { err: *err }.encode(buf),
            }
        }
        DONE.encode(buf);
    }

    fn decode(buf: &mut Bytes) -> Result<Self, DecodeError> {
        let within = |e: DecodeError| e.within("MultiResponse", "results");
        let mut results = Vec::new();
        loop {
            let header = MultiHeader::decode(buf).map_err(within)?;
            if header.done {
                return Ok(MultiResponse { results });
            }
            let op = OpCode::from_code(header.r#type)
                .ok_or_else(|| within(DecodeErrorKind::UnknownValue(header.r#type).into()))?;
            let result = match op {
                OpCode::Create => MultiResult::Create(Jute::decode(buf).map_err(within)?),
                OpCode::Create2 => MultiResult::Create2(Jute::decode(buf).map_err(within)?),
                OpCode::Delete => MultiResult::Delete,
                OpCode::Check => MultiResult::Check,
                OpCode::SetData => MultiResult::SetData(Jute::decode(buf).map_err(within)?),
                OpCode::GetData => MultiResult::GetData(Jute::decode(buf).map_err(within)?),
                OpCode::GetChildren => MultiResult::GetChildren(Jute::decode(buf).map_err(within)?),
                OpCode::Error => {
                    MultiResult::Error(ErrorResponse::decode(buf).map_err(within)?.err)
                }
                other => return Err(within(DecodeErrorKind::UnknownValue(other.code()).into())),
            };
            results.push(result);
        }
    }
}

#[cfg(any(test, feature = "arbitrary"))]
mod arb {
    use super::*;
    use crate::arbitrary::Arb;
    use proptest::prelude::*;

    impl Arb for MultiOp {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateRequest::arb().prop_map(MultiOp::Create),
                CreateRequest::arb().prop_map(MultiOp::Create2),
                CreateRequest::arb().prop_map(MultiOp::CreateContainer),
                CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
                DeleteRequest::arb().prop_map(MultiOp::Delete),
                SetDataRequest::arb().prop_map(MultiOp::SetData),
                CheckVersionRequest::arb().prop_map(MultiOp::Check),
                GetDataRequest::arb().prop_map(MultiOp::GetData),
                GetChildrenRequest::arb().prop_map(MultiOp::GetChildren),
            ]
            .boxed()
        }
    }

    impl Arb for MultiRequest {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiOp>::arb()
                .prop_map(|ops| MultiRequest { ops })
                .boxed()
        }
    }

    impl Arb for MultiResult {
        fn arb() -> BoxedStrategy<Self> {
            prop_oneof![
                CreateResponse::arb().prop_map(MultiResult::Create),
                Create2Response::arb().prop_map(MultiResult::Create2),
                Just(MultiResult::Delete),
                SetDataResponse::arb().prop_map(MultiResult::SetData),
                Just(MultiResult::Check),
                GetDataResponse::arb().prop_map(MultiResult::GetData),
                GetChildrenResponse::arb().prop_map(MultiResult::GetChildren),
                any::<i32>().prop_map(MultiResult::Error),
            ]
            .boxed()
        }
    }

    impl Arb for MultiResponse {
        fn arb() -> BoxedStrategy<Self> {
            Vec::<MultiResult>::arb()
                .prop_map(|results| MultiResponse { results })
                .boxed()
        }
    }
}
