//! What a simulation run must satisfy once the faults are over and every member has
//! caught up: the histories' checkers, nothing acknowledged lost, ephemerals tied to
//! their sessions, and identical replicas.

use ferrokeeper_server::state::ZkState;

use super::workload::{EPHEMERAL_PARENT, History, KEYS, key_path};
use crate::history::linearizable;
use crate::history::register::{Register, Znode};
use crate::history::sequential;

/// Every register's history is linearizable (its final synced reads included).
pub fn registers(history: &History) -> Result<(), String> {
    let model = Register {
        initial: Some(Znode {
            value: 0,
            version: 0,
        }),
    };
    for key in 0..KEYS {
        linearizable::check(&model, &history.keys[key])
            .map_err(|v| format!("register {}: {v}", key_path(key)))?;
    }
    Ok(())
}

/// Sequential names are never reused and follow creation order, and every
/// acknowledged one is in `state`.
pub fn sequential_names(history: &History, state: &ZkState) -> Result<(), String> {
    sequential::check(&history.sequential)?;
    for (zxid, name) in &history.sequential {
        if state.tree().node(name).is_none() {
            return Err(format!(
                "acknowledged sequential create {name} (zxid 0x{zxid:x}) is lost"
            ));
        }
    }
    Ok(())
}

/// An ephemeral exists exactly while its session does: none is owned by a session
/// that is gone, and every acknowledged one whose session lives is there.
pub fn ephemerals(history: &History, state: &ZkState) -> Result<(), String> {
    let sessions = state.sessions();
    for (path, node) in state.tree().iter() {
        let owner = node.persisted_stat().ephemeral_owner;
        if owner != 0 && !sessions.contains(owner) {
            return Err(format!(
                "{path} outlived its session 0x{owner:x}, which is closed"
            ));
        }
    }
    for (session, path) in &history.ephemerals {
        if sessions.contains(*session) && state.tree().node(path).is_none() {
            return Err(format!(
                "acknowledged ephemeral {path} is gone while its session 0x{session:x} lives"
            ));
        }
    }
    if state.tree().node(EPHEMERAL_PARENT).is_none() {
        return Err(format!("{EPHEMERAL_PARENT} is gone"));
    }
    Ok(())
}

/// Every member holds the same state.
pub fn identical(states: &[(u64, ZkState)]) -> Result<(), String> {
    let Some((first_id, first)) = states.first() else {
        return Err("no member to compare".into());
    };
    for (id, state) in &states[1..] {
        if state != first {
            let count = |s: &ZkState| s.tree().node_count();
            return Err(format!(
                "members {first_id} and {id} differ: zxid 0x{:x} vs 0x{:x}, {} vs {} znodes, \
                 {} vs {} sessions",
                first.last_zxid(),
                state.last_zxid(),
                count(first),
                count(state),
                first.sessions().len(),
                state.sessions().len()
            ));
        }
    }
    Ok(())
}

/// Each check fed a doctored outcome it must reject.
#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use ferrokeeper_protocol::perms::open_acl_unsafe;
    use ferrokeeper_server::state::txn::{Entry, Txn, WriteOp};
    use ferrokeeper_server::state::{StateConfig, ZkState};

    use super::*;

    fn create(state: &mut ZkState, session: i64, path: &str, flags: i32) {
        state.apply(&Entry {
            time_ms: 0,
            txn: Txn::Write {
                session_id: session,
                auth: Vec::new(),
                op: WriteOp::Create {
                    path: path.into(),
                    data: Some(Bytes::from_static(b"x")),
                    acl: open_acl_unsafe(),
                    flags,
                    ttl: 0,
                },
            },
        });
    }

    fn session(state: &mut ZkState, id: i64) {
        state.apply(&Entry {
            time_ms: 0,
            txn: Txn::CreateSession {
                session_id: id,
                timeout_ms: 4_000,
            },
        });
    }

    fn base() -> ZkState {
        let mut state = ZkState::new(StateConfig::default());
        session(&mut state, 1);
        create(&mut state, 1, EPHEMERAL_PARENT, 0);
        create(&mut state, 1, "/seq", 0);
        state
    }

    #[test]
    fn identical_rejects_a_differing_member() {
        let a = base();
        let mut b = base();
        assert!(identical(&[(1, a.clone()), (2, b.clone())]).is_ok());
        create(&mut b, 1, "/extra", 0);
        let err = identical(&[(1, a), (2, b)]).expect_err("the states differ");
        assert!(err.contains("members 1 and 2 differ"), "{err}");
    }

    #[test]
    fn ephemerals_reject_an_orphan_and_a_lost_one() {
        let mut state = base();
        session(&mut state, 7);
        create(&mut state, 7, "/eph/a", 1);
        let acked = History {
            ephemerals: vec![(7, "/eph/a".into())],
            ..History::default()
        };
        assert!(ephemerals(&acked, &state).is_ok());
        // Doctored: session 7 is gone from the table while its node stays.
        let mut json = serde_json::to_value(&state).expect("a state encodes");
        let table = json["sessions"]["sessions"]
            .as_object_mut()
            .expect("the session table is a map");
        assert!(table.remove("7").is_some(), "session 7 in {table:?}");
        let orphaned: ZkState = serde_json::from_value(json).expect("a state decodes");
        let err = ephemerals(&History::default(), &orphaned).expect_err("an orphan");
        assert!(err.contains("/eph/a outlived its session 0x7"), "{err}");
        // Doctored: an acknowledged ephemeral of a live session is missing.
        let lost = History {
            ephemerals: vec![(1, "/eph/never-there".into())],
            ..History::default()
        };
        let err = ephemerals(&lost, &state).expect_err("a lost ephemeral");
        assert!(err.contains("/eph/never-there"), "{err}");
    }

    #[test]
    fn sequential_names_reject_a_lost_and_a_reused_name() {
        let mut state = base();
        create(&mut state, 1, "/seq/n-", 2);
        let name = "/seq/n-0000000000".to_string();
        let ok = History {
            sequential: vec![(5, name.clone())],
            ..History::default()
        };
        assert!(sequential_names(&ok, &state).is_ok());
        let lost = History {
            sequential: vec![(5, name.clone()), (6, "/seq/n-0000000001".into())],
            ..History::default()
        };
        let err = sequential_names(&lost, &state).expect_err("a lost create");
        assert!(err.contains("is lost"), "{err}");
        let reused = History {
            sequential: vec![(5, name.clone()), (6, name)],
            ..History::default()
        };
        assert!(sequential_names(&reused, &state).is_err());
    }
}
