//! Sessions that own ephemeral znodes and stay alive until the process is killed, so a
//! server's data directory holds live sessions and their ephemerals when the server is
//! killed (`zkbench ephemerals`, used by `bench/import.sh`).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use ferrokeeper_protocol::perms::open_acl_unsafe;
use ferrokeeper_protocol::{CreateMode, CreateRequest, ErrorCode, Request, xid};

use super::wire::{Session, connect};

pub struct HoldConfig {
    pub addr: SocketAddr,
    pub sessions: usize,
    /// Ephemerals each session creates.
    pub per_session: usize,
    /// Persistent parent of the ephemerals (created if missing).
    pub parent: String,
    /// Distinguishes the names of several holders under one parent.
    pub tag: String,
    pub timeout_ms: i32,
    pub data_size: usize,
}

const WITHIN: Duration = Duration::from_secs(10);

fn create(path: String, data: Bytes, mode: CreateMode) -> Request {
    Request::Create(CreateRequest {
        path,
        data: Some(data),
        acl: open_acl_unsafe(),
        flags: mode.code(),
    })
}

fn check(err: i32, ok: &[i32], what: &str) -> io::Result<()> {
    if ok.contains(&err) {
        Ok(())
    } else {
        Err(io::Error::other(format!("{what}: error code {err}")))
    }
}

/// Opens the sessions and creates their ephemerals; returns the sessions (ids in
/// `session_id`). The caller keeps them alive with [`keep_alive`].
pub async fn open(cfg: &HoldConfig) -> io::Result<Vec<Session>> {
    let data = super::load::payload(cfg.data_size);
    let mut sessions = Vec::with_capacity(cfg.sessions);
    for s in 0..cfg.sessions {
        let mut session = connect(cfg.addr, cfg.timeout_ms, WITHIN).await?;
        if s == 0 {
            let header = session
                .call(
                    1,
                    create(cfg.parent.clone(), Bytes::new(), CreateMode::Persistent),
                    WITHIN,
                )
                .await?;
            check(
                header.err,
                &[0, ErrorCode::NodeExists.code()],
                &format!("create {}", cfg.parent),
            )?;
        }
        for e in 0..cfg.per_session {
            let path = format!("{}/{}-s{s}-e{e}", cfg.parent, cfg.tag);
            let xid = 2 + i32::try_from(e).unwrap_or(i32::MAX - 2);
            let header = session
                .call(
                    xid,
                    create(path.clone(), data.clone(), CreateMode::Ephemeral),
                    WITHIN,
                )
                .await?;
            check(header.err, &[0], &format!("create -e {path}"))?;
        }
        sessions.push(session);
    }
    Ok(sessions)
}

/// Pings every session a third of the timeout apart, forever; returns the first error
/// (the server went away).
pub async fn keep_alive(mut sessions: Vec<Session>, timeout_ms: i32) -> io::Error {
    let every = Duration::from_millis(u64::try_from(timeout_ms / 3).unwrap_or(1000).max(100));
    loop {
        tokio::time::sleep(every).await;
        for session in &mut sessions {
            match session.call(xid::PING, Request::Ping, WITHIN).await {
                Ok(header) if header.err == 0 => {}
                Ok(header) => return io::Error::other(format!("ping: error code {}", header.err)),
                Err(e) => return e,
            }
        }
    }
}
