//! Sorts a decoded request into what the server does with it: a replicated write, a
//! local read, or session/connection housekeeping.

use ferrokeeper_protocol::{CreateMode, ErrorCode, MultiOp, OpCode, Request};

use crate::state::txn::WriteOp;

/// What a request asks of the server.
#[derive(Debug)]
pub enum Action {
    /// Goes through the log. `kinds` records each op's opcode so the reply can be
    /// shaped as the client asked (create vs create2 in a multi).
    Write {
        op: WriteOp,
        kinds: Vec<OpCode>,
    },
    /// The server's own container delete (opcode 20), accepted from clients as ZooKeeper does.
    DeleteContainer {
        path: String,
    },
    /// Served from the local state after the connection's earlier writes have applied.
    Read(Request),
    CloseSession,
    /// Refused with this code before reaching the log (e.g. a multi mixing reads and writes).
    Reject(ErrorCode),
}

fn create(
    path: &str,
    data: &Option<bytes::Bytes>,
    acl: &[ferrokeeper_protocol::Acl],
    flags: i32,
    ttl: i64,
) -> WriteOp {
    WriteOp::Create {
        path: path.to_owned(),
        data: data.clone(),
        acl: acl.to_vec(),
        flags,
        ttl,
    }
}

/// ZooKeeper decides a node's container-ness by opcode, not flag: create (1) and
/// create2 (15) with the container flag make a plain persistent node.
fn plain_create_flags(flags: i32) -> i32 {
    if flags == CreateMode::Container.code() {
        CreateMode::Persistent.code()
    } else {
        flags
    }
}

/// How ZooKeeper reports a multi sub-op's success: a create result depends on the
/// kind of node made (a plain node gives `Create{path}`, a container or TTL node
/// `Create2{path, stat}`), not on the opcode used.
fn multi_result_kind(op: &MultiOp) -> OpCode {
    let container_or_ttl =
        |flags: i32| CreateMode::from_code(flags).is_some_and(|m| m.is_container() || m.is_ttl());
    match op {
        MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r)
            if container_or_ttl(r.flags) =>
        {
            OpCode::Create2
        }
        MultiOp::CreateTtl(r) if container_or_ttl(r.flags) => OpCode::Create2,
        MultiOp::Create(_)
        | MultiOp::Create2(_)
        | MultiOp::CreateContainer(_)
        | MultiOp::CreateTtl(_) => OpCode::Create,
        other => other.opcode(),
    }
}

/// Inside a multi ZooKeeper rebuilds every create from its flags alone: the container
/// flag makes a container whatever the opcode, and a TTL only counts with a TTL mode.
fn multi_op(op: &MultiOp) -> Result<WriteOp, ErrorCode> {
    Ok(match op {
        MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
            create(&r.path, &r.data, &r.acl, r.flags, 0)
        }
        MultiOp::CreateTtl(r) => {
            let ttl_mode = CreateMode::from_code(r.flags).is_some_and(CreateMode::is_ttl);
            create(
                &r.path,
                &r.data,
                &r.acl,
                r.flags,
                if ttl_mode { r.ttl } else { 0 },
            )
        }
        MultiOp::Delete(r) => WriteOp::Delete {
            path: r.path.clone(),
            version: r.version,
        },
        MultiOp::SetData(r) => WriteOp::SetData {
            path: r.path.clone(),
            data: r.data.clone(),
            version: r.version,
        },
        MultiOp::Check(r) => WriteOp::Check {
            path: r.path.clone(),
            version: r.version,
        },
        MultiOp::GetData(_) | MultiOp::GetChildren(_) => return Err(ErrorCode::MarshallingError),
    })
}

pub fn classify(request: Request) -> Action {
    let opcode = request.opcode();
    let single = |op| Action::Write {
        op,
        kinds: vec![opcode],
    };
    match request {
        Request::Create(r) | Request::Create2(r) => single(create(
            &r.path,
            &r.data,
            &r.acl,
            plain_create_flags(r.flags),
            0,
        )),
        Request::CreateContainer(r) => single(create(&r.path, &r.data, &r.acl, r.flags, 0)),
        Request::CreateTtl(r) => single(create(&r.path, &r.data, &r.acl, r.flags, r.ttl)),
        Request::Delete(r) => single(WriteOp::Delete {
            path: r.path,
            version: r.version,
        }),
        Request::SetData(r) => single(WriteOp::SetData {
            path: r.path,
            data: r.data,
            version: r.version,
        }),
        Request::SetAcl(r) => single(WriteOp::SetAcl {
            path: r.path,
            acl: r.acl,
            version: r.version,
        }),
        Request::Check(r) => single(WriteOp::Check {
            path: r.path,
            version: r.version,
        }),
        Request::Multi(multi) => {
            // ZooKeeper refuses a multi that mixes reads into writes with an error txn.
            let ops: Result<Vec<WriteOp>, ErrorCode> = multi.ops.iter().map(multi_op).collect();
            match ops {
                Ok(ops) => Action::Write {
                    kinds: multi.ops.iter().map(multi_result_kind).collect(),
                    op: WriteOp::Multi(ops),
                },
                Err(code) => Action::Write {
                    kinds: vec![OpCode::Multi],
                    op: WriteOp::Fail { code: code.code() },
                },
            }
        }
        // Reconfiguration is disabled (as ZooKeeper's default); ZooKeeper still logs
        // an error txn for it.
        Request::Reconfig(_) => Action::Write {
            kinds: vec![OpCode::Reconfig],
            op: WriteOp::Fail {
                code: ErrorCode::ReconfigDisabled.code(),
            },
        },
        Request::MultiRead(ref multi) if multi.ops.iter().any(|op| !op.is_read()) => {
            Action::Reject(ErrorCode::MarshallingError)
        }
        Request::DeleteContainer(r) => Action::DeleteContainer { path: r.path },
        Request::CloseSession => Action::CloseSession,
        other => Action::Read(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokeeper_protocol::*;

    fn create_req(flags: i32) -> CreateRequest {
        CreateRequest {
            path: "/a".into(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags,
        }
    }

    #[test]
    fn container_flag_only_counts_with_the_container_opcode() {
        for request in [
            Request::Create(create_req(4)),
            Request::Create2(create_req(4)),
        ] {
            match classify(request) {
                Action::Write {
                    op: WriteOp::Create { flags, .. },
                    ..
                } => assert_eq!(flags, 0),
                other => panic!("{other:?}"),
            }
        }
        match classify(Request::CreateContainer(create_req(4))) {
            Action::Write {
                op: WriteOp::Create { flags, .. },
                kinds,
            } => {
                assert_eq!(flags, 4);
                assert_eq!(kinds, vec![OpCode::CreateContainer]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inside_a_multi_the_flags_decide() {
        let ttl = CreateTtlRequest {
            path: "/t".into(),
            data: None,
            acl: perms::open_acl_unsafe(),
            flags: 0,
            ttl: 500,
        };
        let multi = MultiRequest {
            ops: vec![MultiOp::Create(create_req(4)), MultiOp::CreateTtl(ttl)],
        };
        match classify(Request::Multi(multi)) {
            Action::Write {
                op: WriteOp::Multi(ops),
                ..
            } => {
                assert!(
                    matches!(ops[0], WriteOp::Create { flags: 4, .. }),
                    "container flag kept"
                );
                assert!(
                    matches!(ops[1], WriteOp::Create { ttl: 0, .. }),
                    "TTL dropped for a non-TTL mode"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mixed_multis_are_rejected() {
        let mixed = MultiRequest {
            ops: vec![
                MultiOp::Create(create_req(0)),
                MultiOp::GetData(GetDataRequest {
                    path: "/a".into(),
                    watch: false,
                }),
            ],
        };
        assert!(matches!(
            classify(Request::Multi(mixed.clone())),
            Action::Write {
                op: WriteOp::Fail { code: -5 },
                ..
            }
        ));
        assert!(matches!(
            classify(Request::MultiRead(mixed)),
            Action::Reject(ErrorCode::MarshallingError)
        ));
    }

    #[test]
    fn multi_keeps_each_ops_kind_for_the_reply() {
        let multi = MultiRequest {
            ops: vec![
                MultiOp::Create(create_req(0)),
                MultiOp::Create2(create_req(0)),
                MultiOp::Check(CheckVersionRequest {
                    path: "/a".into(),
                    version: 0,
                }),
            ],
        };
        match classify(Request::Multi(multi)) {
            Action::Write {
                kinds,
                op: WriteOp::Multi(ops),
            } => {
                // Plain nodes report `Create{path}` whatever the opcode, as ZooKeeper.
                assert_eq!(kinds, vec![OpCode::Create, OpCode::Create, OpCode::Check]);
                assert_eq!(ops.len(), 3);
            }
            other => panic!("{other:?}"),
        }
    }
}
