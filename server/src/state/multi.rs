//! multi (opcode 14): every op under the entry's one zxid, each seeing the earlier
//! ops' effects; on the first failure everything is undone and the results take
//! ZooKeeper's failed-multi shape.

use ferrokeeper_protocol::ErrorCode;

use super::ZkState;
use super::changes::Changes;
use super::txn::{OpResult, TxnResult, WriteOp};
use super::writes::{Ctx, Done};

impl ZkState {
    pub(super) fn multi(
        &mut self,
        ctx: &Ctx<'_>,
        ops: &[WriteOp],
        changes: &mut Changes,
    ) -> TxnResult {
        if ops.iter().any(|op| matches!(op, WriteOp::Multi(_))) {
            return TxnResult::Error(ErrorCode::MarshallingError);
        }
        let mut results = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            match self.write_op(ctx, op, changes) {
                Ok(done) => results.push(op_result(done)),
                Err(code) => {
                    changes.rollback(&mut self.tree);
                    return TxnResult::Multi(failed_shape(ops.len(), i, code));
                }
            }
        }
        TxnResult::Multi(results)
    }
}

fn op_result(done: Done) -> OpResult {
    match done {
        Done::Created { path, stat } => OpResult::Created { path, stat },
        Done::Deleted => OpResult::Deleted,
        Done::SetData(stat) => OpResult::SetData(stat),
        Done::SetAcl(stat) => OpResult::SetAcl(stat),
        Done::Checked(_) => OpResult::Checked,
    }
}

/// Ok (0) for the ops before the failing one, its code, RuntimeInconsistency (−2) after.
fn failed_shape(len: usize, failed_at: usize, code: ErrorCode) -> Vec<OpResult> {
    (0..len)
        .map(|i| {
            OpResult::Error(match i.cmp(&failed_at) {
                std::cmp::Ordering::Less => ErrorCode::Ok,
                std::cmp::Ordering::Equal => code,
                std::cmp::Ordering::Greater => ErrorCode::RuntimeInconsistency,
            })
        })
        .collect()
}
