//! A fault-injecting TCP proxy for partition tests: plain std threads (no async runtime), so
//! synchronous and `#[tokio::test]` tests can both use it, in front of client ports as well as
//! in front of a replication (quorum) port.
//!
//! [`FaultProxy::start`] listens on `127.0.0.1:0` and forwards every accepted connection to
//! one target, byte for byte in both directions (half-closes are passed on). Faults apply to
//! every connection at once:
//!
//! - [`FaultProxy::blackhole`]: existing and new connections stay open, but every byte, both
//!   ways, is read and silently dropped (a silent network partition: nobody sees a reset, the
//!   peers only notice through their own timeouts). New connections are accepted but not
//!   forwarded: the target never sees them.
//! - [`FaultProxy::reset`]: every current connection is closed now and new ones are closed at
//!   once (a crashed or firewalled-with-reject peer).
//! - [`FaultProxy::heal`]: forward again. Connections that lived through a black hole are
//!   closed, because bytes were lost in them and the stream is broken; new ones are forwarded.
//!
//! Bytes the proxy had already read when `blackhole()` is called may still be delivered (they
//! were in flight); nothing read afterwards is.
//!
//! Each connection costs two threads (one per direction, blocking reads, no polling) and one
//! listener costs one; everything is closed and joined on drop.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the proxy waits for the target to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Per-direction copy buffer.
const BUFFER: usize = 16 * 1024;
/// Stack of the per-connection threads (they only copy bytes).
const STACK: usize = 128 * 1024;
/// How long drop waits for the connection threads to finish.
const DRAIN: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Forward,
    Blackhole,
    Reset,
}

/// A TCP proxy with injectable faults; closes every connection and stops on drop.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    /// Changes only through [`FaultProxy::redirect`] (a DNS or VIP switch).
    target: Mutex<SocketAddr>,
    state: Mutex<State>,
    /// Signalled whenever a connection thread ends.
    ended: Condvar,
}

struct State {
    mode: Mode,
    conns: HashMap<u64, Arc<Conn>>,
    next_id: u64,
    /// Connection threads still running.
    threads: usize,
    /// Set on drop: the acceptor stops, new connections are refused.
    stopping: bool,
    /// Connections accepted so far (for tests and diagnostics).
    accepted: u64,
}

struct Conn {
    client: TcpStream,
    /// Set once the target accepted (never for connections born in a black hole).
    upstream: Mutex<Option<TcpStream>>,
    /// Lived through a black hole: drop everything, close on heal.
    tainted: AtomicBool,
    closed: AtomicBool,
    /// Threads of this connection still running; the last one unregisters it.
    running: AtomicUsize,
}

impl Conn {
    /// Shuts both sockets down; blocked reads in the connection's threads return.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let _ = self.client.shutdown(Shutdown::Both);
        if let Some(up) = lock(&self.upstream).as_ref() {
            let _ = up.shutdown(Shutdown::Both);
        }
    }
}

/// Locks, ignoring poisoning (a panicking test thread must not wedge the proxy's cleanup).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultProxy {
    /// Starts forwarding `127.0.0.1:<new port>` to `target`.
    pub fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy on 127.0.0.1:0");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared {
            target: Mutex::new(target),
            state: Mutex::new(State {
                mode: Mode::Forward,
                conns: HashMap::new(),
                next_id: 0,
                threads: 0,
                stopping: false,
                accepted: 0,
            }),
            ended: Condvar::new(),
        });
        let accept_shared = Arc::clone(&shared);
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy-accept-{}", addr.port()))
            .spawn(move || accept_loop(listener, accept_shared))
            .expect("spawn proxy acceptor");
        FaultProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        *lock(&self.shared.target)
    }

    /// Sends new connections to `target` from now on, as a DNS or VIP switch does;
    /// connections already open stay where they are.
    pub fn redirect(&self, target: SocketAddr) {
        *lock(&self.shared.target) = target;
    }

    /// Existing and new connections stay open, but every byte, both ways, is dropped.
    pub fn blackhole(&self) {
        let mut state = lock(&self.shared.state);
        state.mode = Mode::Blackhole;
        for conn in state.conns.values() {
            conn.tainted.store(true, Ordering::SeqCst);
        }
    }

    /// Closes every current connection now, and new ones at once.
    pub fn reset(&self) {
        let mut state = lock(&self.shared.state);
        state.mode = Mode::Reset;
        for conn in state.conns.values() {
            conn.close();
        }
    }

    /// Forwards again; connections that were black-holed are closed.
    pub fn heal(&self) {
        let mut state = lock(&self.shared.state);
        state.mode = Mode::Forward;
        for conn in state.conns.values() {
            if conn.tainted.load(Ordering::SeqCst) {
                conn.close();
            }
        }
    }

    /// Connections currently open through the proxy.
    pub fn connections(&self) -> usize {
        lock(&self.shared.state).conns.len()
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> u64 {
        lock(&self.shared.state).accepted
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        {
            let mut state = lock(&self.shared.state);
            state.stopping = true;
            for conn in state.conns.values() {
                conn.close();
            }
        }
        // Wake the blocked accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let deadline = Instant::now() + DRAIN;
        let mut state = lock(&self.shared.state);
        while state.threads > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .shared
                .ended
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for incoming in listener.incoming() {
        let client = match incoming {
            Ok(stream) => stream,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                if lock(&shared.state).stopping {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let mut state = lock(&shared.state);
        if state.stopping {
            return;
        }
        state.accepted += 1;
        if state.mode == Mode::Reset {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let _ = client.set_nodelay(true);
        let conn = Arc::new(Conn {
            client,
            upstream: Mutex::new(None),
            tainted: AtomicBool::new(state.mode == Mode::Blackhole),
            closed: AtomicBool::new(false),
            running: AtomicUsize::new(1),
        });
        let id = state.next_id;
        state.next_id += 1;
        state.conns.insert(id, Arc::clone(&conn));
        state.threads += 1;
        let thread_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("proxy-conn".into())
            .stack_size(STACK)
            .spawn(move || serve(thread_shared, id, conn));
        if spawned.is_err() {
            // No thread: undo the registration and drop the connection.
            state.threads -= 1;
            if let Some(conn) = state.conns.remove(&id) {
                conn.close();
            }
        }
    }
}

/// The first thread of a connection: connects to the target (unless born in a black hole),
/// starts the target-to-client copier and copies client-to-target itself.
fn serve(shared: Arc<Shared>, id: u64, conn: Arc<Conn>) {
    let upstream = if conn.tainted.load(Ordering::SeqCst) {
        None
    } else {
        let target = *lock(&shared.target);
        TcpStream::connect_timeout(&target, CONNECT_TIMEOUT).ok()
    };
    match upstream.and_then(|up| register_upstream(&shared, &conn, up)) {
        Some((up_read, up_write)) => {
            let started = match conn.client.try_clone() {
                Ok(client_write) => {
                    let back_shared = Arc::clone(&shared);
                    let back_conn = Arc::clone(&conn);
                    conn.running.fetch_add(1, Ordering::SeqCst);
                    lock(&shared.state).threads += 1;
                    let spawned = std::thread::Builder::new()
                        .name("proxy-back".into())
                        .stack_size(STACK)
                        .spawn(move || {
                            copy(&back_conn, up_read, client_write);
                            finish(&back_shared, id, &back_conn);
                        });
                    if spawned.is_err() {
                        conn.running.fetch_sub(1, Ordering::SeqCst);
                        lock(&shared.state).threads -= 1;
                    }
                    spawned.is_ok()
                }
                Err(_) => false,
            };
            match (started, conn.client.try_clone()) {
                (true, Ok(client_read)) => copy(&conn, client_read, up_write),
                _ => conn.close(),
            }
        }
        None if conn.tainted.load(Ordering::SeqCst) => {
            // Born in (or turned into) a black hole before the target was reached: swallow
            // whatever the client sends until it, heal() or drop closes the connection.
            match conn.client.try_clone() {
                Ok(client_read) => drain(client_read),
                Err(_) => conn.close(),
            }
        }
        // The target refused (or the proxy was reset meanwhile): close the client.
        None => conn.close(),
    }
    finish(&shared, id, &conn);
}

/// Attaches the target connection to `conn`, under the state lock so that a concurrent
/// reset(), heal() or drop either sees it (and closes it) or has already closed `conn`.
/// Returns the read and write halves, or `None` (upstream closed) if `conn` is closed.
fn register_upstream(
    shared: &Shared,
    conn: &Conn,
    up: TcpStream,
) -> Option<(TcpStream, TcpStream)> {
    let _ = up.set_nodelay(true);
    let halves = up.try_clone().ok().zip(up.try_clone().ok());
    let _state = lock(&shared.state);
    if conn.closed.load(Ordering::SeqCst) || halves.is_none() {
        let _ = up.shutdown(Shutdown::Both);
        return None;
    }
    *lock(&conn.upstream) = Some(up);
    halves
}

/// Reads and discards until EOF or error.
fn drain(mut src: TcpStream) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        match src.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Copies `src` to `dst` until EOF or error; drops the bytes once the connection is tainted.
/// An EOF is passed on as a half-close while forwarding; an error closes the connection.
fn copy(conn: &Conn, mut src: TcpStream, mut dst: TcpStream) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        match src.read(&mut buf) {
            Ok(0) => {
                if !conn.tainted.load(Ordering::SeqCst) {
                    let _ = dst.shutdown(Shutdown::Write);
                }
                return;
            }
            Ok(n) => {
                if conn.tainted.load(Ordering::SeqCst) {
                    continue;
                }
                if dst.write_all(&buf[..n]).is_err() {
                    conn.close();
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => {
                conn.close();
                return;
            }
        }
    }
}

/// One thread of `conn` is done; the last one closes and unregisters the connection.
fn finish(shared: &Shared, id: u64, conn: &Conn) {
    let last = conn.running.fetch_sub(1, Ordering::SeqCst) == 1;
    let mut state = lock(&shared.state);
    if last {
        conn.close();
        state.conns.remove(&id);
    }
    state.threads -= 1;
    shared.ended.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server counting its accepted connections; stops with the test process.
    fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&count);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                seen.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => {
                                let _ = stream.shutdown(Shutdown::Write);
                                return;
                            }
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        (addr, count)
    }

    fn connect(proxy: &FaultProxy) -> TcpStream {
        let s = TcpStream::connect(proxy.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn echo(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
        s.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        got
    }

    /// The stream sees EOF or a reset within the read timeout.
    fn closed(s: &mut TcpStream) -> bool {
        let mut buf = [0u8; 16];
        match s.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        }
    }

    /// Nothing arrives for `quiet` (a timed observation: silence has no event to await).
    fn silent_for(s: &mut TcpStream, quiet: Duration) -> bool {
        s.set_read_timeout(Some(quiet)).unwrap();
        let mut buf = [0u8; 16];
        let silent = match s.read(&mut buf) {
            Err(e) => matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
            Ok(_) => false,
        };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        silent
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "{what} within 5 s");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn forwards_many_connections_both_ways_with_half_close() {
        let (target, _) = echo_server();
        let proxy = FaultProxy::start(target);
        let clients: Vec<_> = (0..20)
            .map(|i| {
                let addr = proxy.addr();
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    let big: Vec<u8> = (0..200_000u32).map(|b| (b * 7 + i) as u8).collect();
                    let writer = {
                        let mut w = s.try_clone().unwrap();
                        let big = big.clone();
                        std::thread::spawn(move || {
                            w.write_all(&big).unwrap();
                            w.shutdown(Shutdown::Write).unwrap();
                        })
                    };
                    let mut back = Vec::new();
                    s.read_to_end(&mut back).unwrap();
                    writer.join().unwrap();
                    assert_eq!(back, big, "echo through the proxy");
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(proxy.accepted(), 20);
        wait_until("all connections closed", || proxy.connections() == 0);
    }

    #[test]
    fn blackhole_drops_bytes_keeps_connections_and_heal_breaks_them() {
        let (target, seen) = echo_server();
        let proxy = FaultProxy::start(target);
        let mut old = connect(&proxy);
        assert_eq!(echo(&mut old, b"hello"), b"hello");
        assert_eq!(seen.load(Ordering::SeqCst), 1);

        proxy.blackhole();
        old.write_all(b"lost").unwrap();
        assert!(
            silent_for(&mut old, Duration::from_millis(300)),
            "no echo in a black hole"
        );
        let mut born = connect(&proxy);
        born.write_all(b"also lost").unwrap();
        assert!(
            silent_for(&mut born, Duration::from_millis(300)),
            "new connection stays silent"
        );
        wait_until("the proxy registered the new connection", || {
            proxy.connections() == 2
        });
        assert_eq!(
            seen.load(Ordering::SeqCst),
            1,
            "the target never sees new connections"
        );

        proxy.heal();
        assert!(closed(&mut old), "black-holed connection closed on heal");
        assert!(
            closed(&mut born),
            "connection born in the black hole closed on heal"
        );
        let mut fresh = connect(&proxy);
        assert_eq!(echo(&mut fresh, b"back"), b"back");
        assert_eq!(seen.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn reset_closes_now_and_refuses_until_healed() {
        let (target, _) = echo_server();
        let proxy = FaultProxy::start(target);
        let mut a = connect(&proxy);
        let mut b = connect(&proxy);
        assert_eq!(echo(&mut a, b"a"), b"a");
        assert_eq!(echo(&mut b, b"b"), b"b");
        proxy.reset();
        assert!(closed(&mut a));
        assert!(closed(&mut b));
        let mut c = connect(&proxy);
        assert!(closed(&mut c), "new connections are closed at once");
        wait_until("no connection left", || proxy.connections() == 0);
        proxy.heal();
        let mut d = connect(&proxy);
        assert_eq!(echo(&mut d, b"d"), b"d");
    }

    #[test]
    fn unreachable_target_closes_the_client() {
        // A port that was just free: connecting to it is refused.
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let proxy = FaultProxy::start(dead);
        let mut s = connect(&proxy);
        assert!(closed(&mut s));
    }

    #[test]
    fn drop_closes_everything() {
        let (target, _) = echo_server();
        let proxy = FaultProxy::start(target);
        let mut a = connect(&proxy);
        assert_eq!(echo(&mut a, b"x"), b"x");
        proxy.blackhole();
        let mut b = connect(&proxy);
        wait_until("registered", || proxy.connections() == 2);
        let addr = proxy.addr();
        drop(proxy);
        assert!(closed(&mut a));
        assert!(closed(&mut b));
        assert!(TcpStream::connect(addr).is_err(), "listener closed");
    }
}
