//! Accepts client connections on the plain and the TLS client port, enforces
//! `maxClientCnxns` per IP across both, completes TLS handshakes, and tells four-letter
//! words apart from ZooKeeper sessions by the first four bytes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_protocol::{FourLetterWord, Id};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use super::Shared;
use super::connection::{BoxRead, BoxWrite};

/// Connections per client IP and in total, across the client ports (`maxClientCnxns`,
/// `maxCnxns`), released when a connection ends.
#[derive(Default)]
pub struct PerIp {
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    per_ip: HashMap<IpAddr, usize>,
    total: usize,
}

/// Why a connection was not admitted.
enum Refusal {
    PerIp,
    Total,
}

struct Slot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        max: usize,
        max_total: usize,
    ) -> Result<Slot, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if max_total != 0 && counts.total >= max_total {
            return Err(Refusal::Total);
        }
        let count = counts.per_ip.entry(ip).or_insert(0);
        if max != 0 && *count >= max {
            return Err(Refusal::PerIp);
        }
        *count += 1;
        counts.total += 1;
        Ok(Slot {
            per_ip: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_ip.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(count) = counts.per_ip.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// Which of ZooKeeper's two client ports a listener is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPort {
    /// `clientPort`: plain text, or either with `client.portUnification`.
    Plain,
    /// `secureClientPort`: TLS only.
    Secure,
}

/// Serves a client port until `shared.shutdown` fires; connection tasks go to
/// `connections` so the server can wait for them to finish.
pub async fn serve_clients(
    shared: Arc<Shared>,
    listener: TcpListener,
    connections: TaskTracker,
    port: ClientPort,
) {
    let shutdown = shared.shutdown.clone();
    let per_ip = Arc::clone(&shared.per_ip);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let settings = &shared.settings;
        crate::metrics::count(|m| &m.connection_request_count);
        let slot = match per_ip.acquire(peer.ip(), settings.max_client_cnxns, settings.max_cnxns) {
            Ok(slot) => slot,
            Err(refusal) => {
                crate::metrics::count(|m| &m.connection_rejected);
                refused(refusal, peer, settings);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let _slot = slot;
            accept_one(shared, stream, peer, port).await;
        });
    }
}

fn refused(refusal: Refusal, peer: SocketAddr, settings: &super::NetSettings) {
    match refusal {
        Refusal::PerIp => {
            tracing::warn!(%peer, limit = settings.max_client_cnxns, "too many connections from this address; closing");
        }
        Refusal::Total => {
            tracing::warn!(%peer, limit = settings.max_cnxns, "too many connections (maxCnxns); closing");
        }
    }
}

/// The first byte of a TLS handshake record; a ZooKeeper frame or four-letter word
/// never starts with it.
const TLS_HANDSHAKE: u8 = 0x16;

/// Whether a connection on a unified port starts a TLS handshake: its first byte, or
/// plain text when the client says nothing within the detection timeout (as Netty's
/// unification handler).
async fn starts_tls(stream: &TcpStream, timeout_ms: u64) -> Option<bool> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(Duration::from_millis(timeout_ms), stream.peek(&mut first)).await {
        Ok(Ok(0)) | Ok(Err(_)) => None,
        Ok(Ok(_)) => Some(first[0] == TLS_HANDSHAKE),
        Err(_) => Some(false),
    }
}

async fn accept_one(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, port: ClientPort) {
    let limit = Duration::from_millis(shared.settings.max_session_timeout_ms.max(1000) as u64);
    let tls = match (&shared.settings.tls, port) {
        (Some(tls), ClientPort::Secure) => Some(tls.clone()),
        (Some(tls), ClientPort::Plain) if tls.settings().port_unification => {
            match starts_tls(&stream, tls.settings().handshake_detection_timeout_ms).await {
                None => return,
                Some(true) => Some(tls.clone()),
                Some(false) => None,
            }
        }
        (None, ClientPort::Secure) => {
            // Unreachable by construction (no secure listener without TLS settings);
            // never serve plain text on the secure port.
            tracing::error!(%peer, "secure client port without TLS settings; closing");
            return;
        }
        _ => None,
    };
    let Some(tls) = tls else {
        let (reader, writer) = stream.into_split();
        serve_stream(shared, (Box::pin(reader), Box::pin(writer)), peer, None).await;
        return;
    };
    // Boxed, as the handshake below: a TLS handshake's state is large and short-lived.
    let handshake = Box::pin(tokio::time::timeout(limit, tls.acceptor().accept(stream)));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::info!(%peer, "TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::info!(%peer, "no TLS handshake within the session timeout; closing");
                return;
            }
        },
        () = shared.shutdown.cancelled() => return,
    };
    let ids = {
        let (_, connection) = stream.get_ref();
        match super::tls_ids::certificate_ids(connection.peer_certificates(), tls.settings()) {
            Ok(ids) => ids,
            Err(why) => {
                tracing::warn!(%peer, "client certificate refused: {why}");
                return;
            }
        }
    };
    let (reader, writer) = tokio::io::split(stream);
    serve_stream(
        shared,
        (Box::pin(reader), Box::pin(writer)),
        peer,
        Some(ids),
    )
    .await;
}

/// Tells a four-letter word from a session by the first four bytes and serves it.
async fn serve_stream(
    shared: Arc<Shared>,
    (mut reader, writer): (BoxRead, BoxWrite),
    peer: SocketAddr,
    tls_ids: Option<Vec<Id>>,
) {
    let mut first = [0u8; 4];
    let limit = Duration::from_millis(shared.settings.max_session_timeout_ms.max(1000) as u64);
    let read = tokio::time::timeout(limit, reader.read_exact(&mut first));
    tokio::select! {
        read = read => match read {
            Ok(Ok(_)) => {}
            Ok(Err(_)) => return,
            Err(_) => {
                tracing::info!(%peer, "no request within the session timeout; closing");
                return;
            }
        },
        () = shared.shutdown.cancelled() => return,
    }
    if let Some(word) = FourLetterWord::detect(first) {
        super::four_letter::answer(&shared, (reader, writer), peer, word).await;
        return;
    }
    if !shared.serving_clients() {
        // As ZooKeeper's "not running" server: close, and the client tries another.
        tracing::debug!(%peer, "not serving clients now; closing");
        return;
    }
    super::connection::serve(shared, (reader, writer), peer, first, tls_ids).await;
}
