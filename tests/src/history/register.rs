//! One znode as a sequential model: its value (an opaque token; the histories write
//! unique values) and version, or absent. The operations are the client's on one path.

use super::linearizable::Model;

/// What one operation on the znode asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Create(u64),
    /// `setData` with version −1.
    Set(u64),
    /// `setData` with an expected version.
    CompareAndSet {
        expected: i32,
        value: u64,
    },
    /// `delete` with an expected version (−1: any).
    Delete {
        expected: i32,
    },
    /// `getData`/`exists`.
    Read,
}

/// What it returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Created,
    NodeExists,
    /// A set or compare-and-set that succeeded, with the znode's new version.
    Set {
        version: i32,
    },
    BadVersion,
    Deleted,
    NoNode,
    /// A read of a present znode.
    Value {
        value: u64,
        version: i32,
    },
}

/// The znode: `None` while absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Znode {
    pub value: u64,
    pub version: i32,
}

/// The model, starting from `initial`.
pub struct Register {
    pub initial: Option<Znode>,
}

impl Model for Register {
    type State = Option<Znode>;
    type Input = Call;
    type Output = Reply;

    fn init(&self) -> Option<Znode> {
        self.initial
    }

    fn step(
        &self,
        state: &Option<Znode>,
        call: &Call,
        reply: Option<&Reply>,
    ) -> Option<Option<Znode>> {
        // The one reply the model gives, and the state after it.
        let (expected, next) = match (call, state) {
            (Call::Create(value), None) => (
                Reply::Created,
                Some(Znode {
                    value: *value,
                    version: 0,
                }),
            ),
            (Call::Create(_), Some(_)) => (Reply::NodeExists, *state),
            (
                Call::Set(_) | Call::CompareAndSet { .. } | Call::Delete { .. } | Call::Read,
                None,
            ) => (Reply::NoNode, None),
            (Call::Set(value), Some(z)) => set(*value, z),
            (Call::CompareAndSet { expected, value }, Some(z)) => {
                if *expected == z.version {
                    set(*value, z)
                } else {
                    (Reply::BadVersion, *state)
                }
            }
            (Call::Delete { expected }, Some(z)) => {
                if *expected == -1 || *expected == z.version {
                    (Reply::Deleted, None)
                } else {
                    (Reply::BadVersion, *state)
                }
            }
            (Call::Read, Some(z)) => (
                Reply::Value {
                    value: z.value,
                    version: z.version,
                },
                *state,
            ),
        };
        match reply {
            None => Some(next),
            Some(reply) if *reply == expected => Some(next),
            Some(_) => None,
        }
    }
}

fn set(value: u64, z: &Znode) -> (Reply, Option<Znode>) {
    let version = z.version.wrapping_add(1);
    (Reply::Set { version }, Some(Znode { value, version }))
}

#[cfg(test)]
mod tests {
    use super::super::linearizable::{Operation, check};
    use super::*;

    fn op(client: u64, call: u64, ret: u64, input: Call, reply: Reply) -> Operation<Call, Reply> {
        Operation {
            client,
            call,
            returned: Some((ret, reply)),
            input,
        }
    }

    fn cas(expected: i32, value: u64) -> Call {
        Call::CompareAndSet { expected, value }
    }

    fn seen(value: u64, version: i32) -> Reply {
        Reply::Value { value, version }
    }

    fn start() -> Register {
        Register {
            initial: Some(Znode {
                value: 0,
                version: 0,
            }),
        }
    }

    #[test]
    fn contended_compare_and_set_with_one_winner_passes() {
        let h = [
            op(1, 0, 10, cas(0, 1), Reply::Set { version: 1 }),
            op(2, 1, 9, cas(0, 2), Reply::BadVersion),
            op(3, 11, 12, Call::Read, seen(1, 1)),
        ];
        assert!(check(&start(), &h).is_ok());
    }

    #[test]
    fn two_compare_and_sets_from_one_version_both_succeeding_is_caught() {
        let h = [
            op(1, 0, 10, cas(0, 1), Reply::Set { version: 1 }),
            op(2, 1, 9, cas(0, 2), Reply::Set { version: 1 }),
        ];
        assert!(check(&start(), &h).is_err());
    }

    #[test]
    fn an_acknowledged_write_that_a_later_read_misses_is_caught() {
        // A lost write: acknowledged, then a read after it sees the value before it.
        let h = [
            op(1, 0, 1, Call::Set(5), Reply::Set { version: 1 }),
            op(2, 2, 3, Call::Read, seen(0, 0)),
        ];
        assert!(check(&start(), &h).is_err());
    }

    #[test]
    fn a_compare_and_set_whose_outcome_is_unknown_may_have_applied() {
        let lost = Operation {
            client: 1,
            call: 0,
            returned: None,
            input: cas(0, 9),
        };
        let applied = [lost.clone(), op(2, 5, 6, Call::Read, seen(9, 1))];
        assert!(check(&start(), &applied).is_ok());
        let not = [lost.clone(), op(2, 5, 6, Call::Read, seen(0, 0))];
        assert!(check(&start(), &not).is_ok());
        // A value nobody wrote is caught.
        let invented = [lost, op(2, 5, 6, Call::Read, seen(8, 1))];
        assert!(check(&start(), &invented).is_err());
    }

    #[test]
    fn create_and_delete_follow_existence() {
        let absent = Register { initial: None };
        let h = [
            op(1, 0, 1, Call::Create(3), Reply::Created),
            op(2, 2, 3, Call::Create(4), Reply::NodeExists),
            op(1, 4, 5, Call::Delete { expected: 0 }, Reply::Deleted),
            op(2, 6, 7, Call::Read, Reply::NoNode),
        ];
        assert!(check(&absent, &h).is_ok());
        let wrong = [
            op(1, 0, 1, Call::Create(3), Reply::Created),
            op(2, 2, 3, Call::Create(4), Reply::Created),
        ];
        assert!(check(&absent, &wrong).is_err());
    }
}
