//! A loopback TCP proxy that a test can cut and restore, to take one client off the
//! network while the server and other clients go on (a partition, deterministically).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Default)]
struct State {
    /// While false, new connections are accepted and closed at once.
    open: bool,
    /// The copy tasks of live connections; aborting one closes both sockets.
    links: Vec<JoinHandle<()>>,
}

/// Forwards every connection to `upstream` until cut; stops (closing everything) on drop.
pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    acceptor: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Proxy {
    /// Listens on 127.0.0.1 (a kernel-chosen port), open.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let state = Arc::new(Mutex::new(State {
            open: true,
            links: Vec::new(),
        }));
        let acceptor = tokio::spawn({
            let state = state.clone();
            async move {
                while let Ok((mut downstream, _)) = listener.accept().await {
                    let mut guard = lock(&state);
                    if !guard.open {
                        drop(downstream);
                        continue;
                    }
                    guard.links.retain(|link| !link.is_finished());
                    guard.links.push(tokio::spawn(async move {
                        let Ok(mut up) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = tokio::io::copy_bidirectional(&mut downstream, &mut up).await;
                    }));
                }
            }
        });
        Proxy {
            addr,
            state,
            acceptor,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` for client connect strings.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// Closes every proxied connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        let mut guard = lock(&self.state);
        guard.open = false;
        for link in guard.links.drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        lock(&self.state).open = true;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}
