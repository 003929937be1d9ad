//! One outgoing connection to a peer's quorum port, opened on first use and again
//! after any failure. Calls are sequential: the next request goes only after the
//! previous response came back.

use std::time::Duration;

use tokio::net::TcpStream;

use super::peer_wire::{self, Hello, PeerFramed, PeerRequest, PeerResponse, WireError};

#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot connect to server {target} at {addr}: {why}")]
    Connect {
        target: u64,
        addr: String,
        why: String,
    },
    #[error("server {target}: {source}")]
    Wire { target: u64, source: WireError },
    #[error("server {target} did not answer within {after:?}")]
    Timeout { target: u64, after: Duration },
}

pub struct PeerConn {
    me: u64,
    target: u64,
    addr: String,
    stream: Option<PeerFramed>,
}

/// How long opening a connection may take; a peer that is down refuses at once, so
/// this only matters for a black-holed one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl PeerConn {
    pub fn new(me: u64, target: u64, addr: String) -> Self {
        PeerConn {
            me,
            target,
            addr,
            stream: None,
        }
    }

    pub fn target(&self) -> u64 {
        self.target
    }

    async fn connect(&mut self) -> Result<&mut PeerFramed, CallError> {
        if self.stream.is_none() {
            let fail = |why: String| CallError::Connect {
                target: self.target,
                addr: self.addr.clone(),
                why,
            };
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&self.addr))
                .await
                .map_err(|_| fail("timed out".into()))?
                .map_err(|e| fail(e.to_string()))?;
            let mut framed = peer_wire::framed(stream);
            let hello = Hello {
                protocol: peer_wire::PROTOCOL.to_owned(),
                from: self.me,
                to: self.target,
            };
            peer_wire::send(&mut framed, &hello)
                .await
                .map_err(|e| fail(e.to_string()))?;
            self.stream = Some(framed);
        }
        // Just set when it was empty.
        self.stream.as_mut().ok_or_else(|| CallError::Connect {
            target: self.target,
            addr: self.addr.clone(),
            why: "no connection".into(),
        })
    }

    /// Sends `request` and waits up to `ttl` for the answer. Any failure drops the
    /// connection, so a late answer can never be taken for the next call's.
    pub async fn call(
        &mut self,
        request: &PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, CallError> {
        let target = self.target;
        let result = tokio::time::timeout(ttl, async {
            let stream = self.connect().await?;
            peer_wire::send(stream, request)
                .await
                .map_err(|source| CallError::Wire { target, source })?;
            peer_wire::receive::<PeerResponse>(stream)
                .await
                .map_err(|source| CallError::Wire { target, source })
        })
        .await
        .unwrap_or(Err(CallError::Timeout { target, after: ttl }));
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}
