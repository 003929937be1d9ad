//! One outgoing connection to a peer's quorum port, opened on first use and again
//! after any failure. Calls are sequential: the next request goes only after the
//! previous response came back.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;

use super::peer_wire::{
    self, Hello, HelloReply, PeerFramed, PeerIo, PeerRequest, PeerResponse, SaslRefused, WireError,
};
use crate::tls::peer::PeerTls;

/// Where a peer's quorum port is, and how to talk to it.
#[derive(Debug, Clone)]
pub struct PeerAddr {
    /// `host:port` from its `server.N` line.
    pub addr: String,
    /// `sslQuorum`: the connection is TLS, and the peer's certificate must name `host`.
    pub tls: Option<Arc<PeerTls>>,
    /// `quorum.auth.enableSasl`: this server authenticates itself after the Hello.
    pub sasl: Option<Arc<crate::config::QuorumSasl>>,
}

impl PeerAddr {
    /// The host part of `addr` (brackets of an IPv6 literal removed).
    pub fn host(&self) -> &str {
        let host = self
            .addr
            .rsplit_once(':')
            .map_or(self.addr.as_str(), |(host, _)| host);
        host.trim_start_matches('[').trim_end_matches(']')
    }
}

impl std::fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.addr)
    }
}

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
    addr: PeerAddr,
    stream: Option<PeerFramed>,
}

/// How long opening a connection may take; a peer that is down refuses at once, so
/// this only matters for a black-holed one.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A call at least this patient whose connect did not finish says the peer is down.
const LINK_DOWN_AFTER: Duration = Duration::from_millis(500);

impl PeerConn {
    pub fn new(me: u64, target: u64, addr: PeerAddr) -> Self {
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

    /// Opens a connection: TCP, TLS if configured, the Hello, quorum SASL if configured.
    async fn open(&self) -> Result<(PeerFramed, u32), CallError> {
        let fail = |why: String| CallError::Connect {
            target: self.target,
            addr: self.addr.addr.clone(),
            why,
        };
        let simulated =
            crate::simulation::current().map(|sim| sim.network.connect(self.me, &self.addr.addr));
        let open = async {
            if let Some(connect) = simulated {
                // The simulated network carries plain frames: no TLS in a simulation.
                return connect.await.map_err(|e| fail(e.to_string()));
            }
            let stream = TcpStream::connect(&self.addr.addr)
                .await
                .map_err(|e| fail(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            let stream: Box<dyn PeerIo> = match &self.addr.tls {
                Some(tls) if tls.connects_with_tls() => {
                    let name = rustls::pki_types::ServerName::try_from(self.addr.host().to_owned())
                        .map_err(|e| fail(format!("not a host name for TLS: {e}")))?;
                    let stream = tls
                        .connector()
                        .connect(name, stream)
                        .await
                        .map_err(|e| fail(format!("TLS handshake: {e}")))?;
                    Box::new(stream)
                }
                _ => Box::new(stream),
            };
            Ok(stream)
        };
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .map_err(|_| fail("timed out".into()))??;
        let mut framed = peer_wire::framed(stream);
        let local = peer_wire::local_versions().map_err(fail)?;
        let hello = Hello {
            protocol: peer_wire::PROTOCOL.to_owned(),
            from: self.me,
            to: self.target,
            versions: local,
        };
        peer_wire::send(&mut framed, &hello)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let reply = tokio::time::timeout(CONNECT_TIMEOUT, peer_wire::receive(&mut framed))
            .await
            .map_err(|_| fail("no answer to the Hello".into()))?;
        let version = match reply {
            Ok(HelloReply::Speak(version)) => version,
            Ok(HelloReply::Refused(theirs)) => {
                return Err(fail(format!(
                    "it speaks quorum protocol versions {theirs}, this server {local}, with \
                     none in common; upgrade through a release that speaks both"
                )));
            }
            Err(WireError::Closed) => {
                return Err(fail(
                    "it closed the connection after the Hello: it refused this server (its \
                     log says why), or it is a ferrokeeper release that speaks only version 1 \
                     of the quorum protocol"
                        .into(),
                ));
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        if let Some(sasl) = &self.addr.sasl {
            let exchange = authenticate(&mut framed, sasl);
            tokio::time::timeout(CONNECT_TIMEOUT, exchange)
                .await
                .map_err(|_| fail("quorum SASL timed out".into()))?
                .map_err(|why| fail(format!("quorum SASL: {why}")))?;
        }
        Ok((framed, version))
    }

    async fn connect(&mut self) -> Result<&mut PeerFramed, CallError> {
        if self.stream.is_none() {
            let opened = self.open().await;
            let outcome = opened.as_ref().map(|(_, version)| *version);
            links::record(self.me, self.target, &self.addr.addr, outcome);
            // Every version spoken so far (only 2) carries the same messages; a release
            // that adds some keeps the agreed version with the stream to choose them.
            let (stream, _version) = opened?;
            self.stream = Some(stream);
        }
        // Just set when it was empty.
        self.stream.as_mut().ok_or_else(|| CallError::Connect {
            target: self.target,
            addr: self.addr.addr.clone(),
            why: "no connection".into(),
        })
    }

    /// As [`PeerConn::call`], for a request that may safely be sent twice (a read). A
    /// connection kept open since an earlier call may have been reset by the peer
    /// meanwhile (it restarted, the network broke), which shows only when it is used;
    /// then the request goes once more on a new connection instead of failing the
    /// caller on a healthy ensemble.
    pub async fn call_idempotent(
        &mut self,
        request: &PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, CallError> {
        let reused = self.stream.is_some();
        match self.call(request, ttl).await {
            Err(CallError::Wire { .. }) if reused => self.call(request, ttl).await,
            other => other,
        }
    }

    /// Sends `request` and waits up to `ttl` for the answer. Any failure drops the
    /// connection, so a late answer can never be taken for the next call's.
    pub async fn call(
        &mut self,
        request: &PeerRequest,
        ttl: Duration,
    ) -> Result<PeerResponse, CallError> {
        let target = self.target;
        let connecting = self.stream.is_none();
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
        // A black-holed peer never refuses: a connect still pending when a patient call
        // gives up counts as the link being down (short RPC deadlines prove nothing).
        if let Err(e @ CallError::Timeout { .. }) = &result
            && connecting
            && self.stream.is_none()
            && ttl >= LINK_DOWN_AFTER
        {
            links::record(self.me, target, &self.addr.addr, Err(e));
        }
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}

/// Whether this server can reach each peer, so the log says when a peer connection
/// comes up or goes down once per change, not per connection or request (each purpose
/// has its own connection to a peer). Keyed by (this server, peer): tests may run
/// several servers in one process.
mod links {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::CallError;

    static UP: Mutex<BTreeMap<(u64, u64), bool>> = Mutex::new(BTreeMap::new());

    /// Notes the outcome of opening a connection to `peer`; logs a change.
    pub fn record(me: u64, peer: u64, addr: &str, outcome: Result<u32, &CallError>) {
        let up = outcome.is_ok();
        let changed = {
            let mut links = UP.lock().unwrap_or_else(|p| p.into_inner());
            links.insert((me, peer), up) != Some(up)
        };
        if !changed {
            return;
        }
        match outcome {
            Ok(version) => {
                tracing::info!(peer, addr, protocol_version = version, "peer connection up")
            }
            Err(e) => tracing::info!(peer, addr, "peer connection down: {e}"),
        }
    }
}

/// Quorum SASL as the connecting server (ZooKeeper's QuorumLearner): DIGEST-MD5 with
/// the learner section's credentials, which also checks that the peer knows them. A
/// peer with quorum SASL off is accepted unless `quorum.auth.learnerRequireSasl`.
async fn authenticate(
    framed: &mut PeerFramed,
    sasl: &crate::config::QuorumSasl,
) -> Result<(), String> {
    use ferrokeeper_protocol::sasl::{DigestMd5Client, SaslCredentials};
    let (user, password) = &sasl.learner;
    let credentials = SaslCredentials::new(user, password);
    let mut exchange = DigestMd5Client::new(&credentials);
    let mut token = Vec::new();
    loop {
        peer_wire::send(framed, &PeerRequest::Sasl(token))
            .await
            .map_err(|e| e.to_string())?;
        let reply = match peer_wire::receive::<PeerResponse>(framed)
            .await
            .map_err(|e| e.to_string())?
        {
            PeerResponse::Sasl(Ok(reply)) => reply,
            PeerResponse::Sasl(Err(SaslRefused::Off)) if !sasl.learner_require => {
                tracing::warn!("a peer has quorum SASL off; talking to it unauthenticated");
                return Ok(());
            }
            PeerResponse::Sasl(Err(why)) => return Err(why.to_string()),
            other => return Err(format!("unexpected answer {other:?}")),
        };
        match exchange
            .step(Some(&reply.token))
            .map_err(|e| e.to_string())?
        {
            Some(next) if !reply.done => token = next,
            None if reply.done => return Ok(()),
            _ => return Err("the peer ended the exchange out of step".into()),
        }
    }
}
