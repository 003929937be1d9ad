//! Accepts client connections, enforces `maxClientCnxns` per IP, and tells four-letter
//! words apart from ZooKeeper sessions by the first four bytes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_protocol::FourLetterWord;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::TaskTracker;

use super::Shared;

/// Connections per client IP, released when a connection ends.
#[derive(Default)]
struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

struct Slot {
    per_ip: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if max != 0 && *count >= max {
            return None;
        }
        *count += 1;
        Some(Slot {
            per_ip: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.per_ip.counts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Serves the client port until `shared.shutdown` fires; connection tasks go to
/// `connections` so the server can wait for them to finish.
pub async fn serve_clients(shared: Arc<Shared>, listener: TcpListener, connections: TaskTracker) {
    let shutdown = shared.shutdown.clone();
    let per_ip = Arc::new(PerIp::default());
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
        let Some(slot) = per_ip.acquire(peer.ip(), shared.settings.max_client_cnxns) else {
            tracing::warn!(%peer, limit = shared.settings.max_client_cnxns, "too many connections from this address; closing");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        connections.spawn(async move {
            let _slot = slot;
            accept_one(shared, stream, peer).await;
        });
    }
}

async fn accept_one(shared: Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let mut first = [0u8; 4];
    let limit = Duration::from_millis(shared.settings.max_session_timeout_ms.max(1000) as u64);
    let read = tokio::time::timeout(limit, stream.read_exact(&mut first));
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
        super::four_letter::answer(&shared, stream, word).await;
        return;
    }
    if !shared.backend().role().borrow().serving() {
        // As ZooKeeper's "not running" server: close, and the client tries another.
        tracing::debug!(%peer, "not serving clients now; closing");
        return;
    }
    super::connection::serve(shared, stream, peer, first).await;
}
