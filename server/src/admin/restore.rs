//! ZooKeeper 3.9's `restore` (`POST <commandURL>/restore`, the body a snapshot as the
//! `snapshot` command streams it, in ZooKeeper's format). ZooKeeper swaps the
//! receiving server's database; ferrokeeper proposes the restored state as one Raft log
//! entry (`Txn::Restore`), so every member adopts it at the same point of the log and
//! none diverges. The zxid goes on from that entry (it never moves backwards), every
//! restored session gets a fresh timeout, and every client is disconnected (its watches
//! and reads were of the old state).
//!
//! The state travels in one log entry, so it is bounded: [`MAX_RESTORE_BYTES`] of
//! encoded state (a larger data set is restored offline with `ferrokeeper import`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::StatusCode;
use bytes::Bytes;

use crate::dispatch::Backend;
use crate::net::Shared;
use crate::proposal::Proposal;
use crate::state::txn::{Entry, Txn, TxnResult};
use crate::state::{SessionTable, ZkState};

/// The most snapshot bytes taken, and the most encoded state proposed: one log entry
/// must fit in a peer frame (64 MiB) with room to spare.
pub const MAX_RESTORE_BYTES: usize = 48 << 20;

/// What the restore answered: an HTTP status, and the zxid it took effect at or why not.
pub type Outcome = (StatusCode, Result<i64, String>);

pub async fn run(shared: &Arc<Shared>, body: Body) -> Outcome {
    let bytes = match axum::body::to_bytes(body, MAX_RESTORE_BYTES).await {
        Ok(bytes) if bytes.is_empty() => {
            return (
                StatusCode::BAD_REQUEST,
                Err("no snapshot in the request body".into()),
            );
        }
        Ok(bytes) => bytes,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Err(format!(
                    "cannot take the snapshot ({e}); at most {MAX_RESTORE_BYTES} bytes are \
                     restored online, use `ferrokeeper import` for more"
                )),
            );
        }
    };
    let replica = match shared.backend() {
        Backend::Raft(replica) => replica,
        Backend::Zab(_) => {
            return (
                StatusCode::NOT_IMPLEMENTED,
                Err("a server following ZooKeeper takes its data from ZooKeeper".into()),
            );
        }
    };
    let config = shared.core.with_state(|zk, _| zk.config());
    let dir = super::snapshot::scratch_dir(shared);
    let decoded = tokio::task::spawn_blocking(move || decode(&dir, &bytes, config))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    let state = match decoded {
        Ok(state) if state.len() <= MAX_RESTORE_BYTES => state,
        Ok(state) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                Err(format!(
                    "the restored state takes {} bytes, over {MAX_RESTORE_BYTES}; use \
                     `ferrokeeper import`",
                    state.len()
                )),
            );
        }
        Err(e) => return (StatusCode::BAD_REQUEST, Err(format!("not a snapshot: {e}"))),
    };
    let proposal = Proposal {
        reply_to: None,
        ticket: None,
        entry: Entry {
            time_ms: crate::core::now_ms(),
            txn: Txn::Restore { state },
        },
    };
    match crate::dispatch::lost_writes::propose_and_wait(&replica, proposal).await {
        Ok(TxnResult::Restored) => (StatusCode::OK, Ok(shared.core.last_zxid())),
        Ok(other) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Err(format!("the restore was not applied: {other:?}")),
        ),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Err(e.to_string())),
    }
}

/// Reads the snapshot (through a scratch file, as the importer reads files) and encodes
/// the state it holds.
fn decode(
    dir: &std::path::Path,
    bytes: &[u8],
    config: crate::state::StateConfig,
) -> Result<Bytes, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let path = dir.join("snapshot.0");
    let result = (|| {
        std::fs::write(&path, bytes).map_err(|e| e.to_string())?;
        let file = crate::zkfiles::layout::ZkFile {
            path: path.clone(),
            zxid: 0,
        };
        let loaded =
            crate::zkfiles::snapshot::read(&file, config.extended_types_enabled, &mut |_, _| {})
                .map_err(|e| e.to_string())?;
        let mut sessions = SessionTable::default();
        for (id, timeout) in loaded.sessions {
            sessions.insert(id, timeout);
        }
        let state = ZkState::from_parts(config, loaded.tree, sessions, loaded.zxid);
        postcard::to_allocvec(&state)
            .map(Bytes::from)
            .map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_dir_all(dir);
    result
}
