//! The simulated network between the members: every quorum connection is a pair of
//! in-memory pipes with a relay task per direction that delivers each chunk after a
//! seeded delay, in order (as TCP does). Faults:
//! - a **partition** between two members stalls their connections (bytes wait until it
//!   heals, as TCP retransmits) and makes new connections hang; a one-way cut stalls
//!   only one direction;
//! - **loss** resets a connection instead of delivering a chunk (what a lost segment
//!   becomes once TCP gives up);
//! - a **crashed** member's connections are reset and its port refuses connections.
//!
//! Messages on different connections overtake each other freely, since every chunk
//! draws its own delay.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrokeeper_server::replication::PeerIo;
use ferrokeeper_server::simulation::{BoxFuture, Network};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// How many bytes one pipe holds before its writer waits.
const PIPE_BYTES: usize = 1 << 20;

/// The address a member's quorum port has in the simulation.
pub fn address(id: u64) -> String {
    format!("sim-{id}:2888")
}

fn member_of(addr: &str) -> Option<u64> {
    addr.strip_prefix("sim-")?.split(':').next()?.parse().ok()
}

/// What the fault schedule can change.
#[derive(Debug, Clone)]
pub struct LinkFaults {
    /// Per-chunk delay range, µs.
    pub delay_us: (u64, u64),
    /// Chance that a chunk resets its connection instead.
    pub loss: f64,
}

impl Default for LinkFaults {
    fn default() -> Self {
        LinkFaults {
            delay_us: (100, 2_000),
            loss: 0.0,
        }
    }
}

struct State {
    rng: SmallRng,
    listeners: BTreeMap<u64, mpsc::UnboundedSender<Box<dyn PeerIo>>>,
    /// (from, to): bytes from `from` do not reach `to`.
    cut: BTreeSet<(u64, u64)>,
    faults: LinkFaults,
    /// Every live connection: its two ends and how to reset it.
    connections: Vec<(u64, u64, CancellationToken)>,
}

#[derive(Clone)]
pub struct SimNetwork {
    state: Arc<Mutex<State>>,
    /// Bumped on every partition change, so stalled relays look again.
    topology: Arc<watch::Sender<u64>>,
}

impl SimNetwork {
    pub fn new(seed: u64) -> SimNetwork {
        SimNetwork {
            state: Arc::new(Mutex::new(State {
                rng: SmallRng::seed_from_u64(seed),
                listeners: BTreeMap::new(),
                cut: BTreeSet::new(),
                faults: LinkFaults::default(),
                connections: Vec::new(),
            })),
            topology: Arc::new(watch::channel(0).0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.topology.send_modify(|v| *v += 1);
    }

    /// Member `id` crashed: its port is gone and its connections are reset.
    pub fn crash(&self, id: u64) {
        let mut state = self.lock();
        state.listeners.remove(&id);
        state.connections.retain(|(a, b, kill)| {
            let hit = *a == id || *b == id;
            if hit {
                kill.cancel();
            }
            !hit
        });
    }

    /// Cuts `a` off from `b` (both ways).
    pub fn cut(&self, a: u64, b: u64) {
        {
            let mut state = self.lock();
            state.cut.insert((a, b));
            state.cut.insert((b, a));
        }
        self.changed();
    }

    /// Bytes from `from` stop reaching `to`; the other way still works.
    pub fn cut_one_way(&self, from: u64, to: u64) {
        self.lock().cut.insert((from, to));
        self.changed();
    }

    pub fn heal_all(&self) {
        self.lock().cut.clear();
        self.changed();
    }

    pub fn set_faults(&self, faults: LinkFaults) {
        self.lock().faults = faults;
    }

    fn is_cut(&self, from: u64, to: u64) -> bool {
        self.lock().cut.contains(&(from, to))
    }

    fn delay(&self) -> (Duration, bool) {
        let mut state = self.lock();
        let (lo, hi) = state.faults.delay_us;
        let loss = state.faults.loss;
        let delay = Duration::from_micros(state.rng.random_range(lo..=hi.max(lo)));
        let lost = loss > 0.0 && state.rng.random_bool(loss);
        (delay, lost)
    }

    /// Waits until bytes from `from` reach `to` (both ways, with `both`: a connect
    /// needs its handshake answered).
    async fn reachable(&self, from: u64, to: u64, both: bool) {
        let mut topology = self.topology.subscribe();
        while self.is_cut(from, to) || both && self.is_cut(to, from) {
            if topology.changed().await.is_err() {
                return;
            }
        }
    }

    /// Copies `from` into `to`, chunk by chunk, each after its delay.
    async fn relay(
        self,
        (src, dst): (u64, u64),
        mut from: tokio::io::ReadHalf<tokio::io::DuplexStream>,
        mut to: tokio::io::WriteHalf<tokio::io::DuplexStream>,
        kill: CancellationToken,
    ) {
        let mut buf = vec![0u8; 64 * 1024];
        let work = async {
            loop {
                let n = match from.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = to.shutdown().await;
                        return;
                    }
                    Ok(n) => n,
                };
                self.reachable(src, dst, false).await;
                let (delay, lost) = self.delay();
                tokio::time::sleep(delay).await;
                if lost {
                    return;
                }
                self.reachable(src, dst, false).await;
                if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        };
        tokio::select! {
            () = work => {}
            () = kill.cancelled() => {}
        }
        // Either direction ending resets the whole connection, as a TCP reset would.
        kill.cancel();
    }
}

impl Network for SimNetwork {
    fn listen(&self, me: u64) -> mpsc::UnboundedReceiver<Box<dyn PeerIo>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().listeners.insert(me, tx);
        rx
    }

    fn connect(&self, from: u64, addr: &str) -> BoxFuture<'static, io::Result<Box<dyn PeerIo>>> {
        let net = self.clone();
        let to = member_of(addr);
        Box::pin(async move {
            let to = to.ok_or_else(|| io::Error::other("not a simulated address"))?;
            let (delay, _) = net.delay();
            tokio::time::sleep(delay).await;
            // A connect across a partition hangs (the caller's timeout ends it).
            net.reachable(from, to, true).await;
            let kill = CancellationToken::new();
            let (near, far) = tokio::io::duplex(PIPE_BYTES);
            let (accepted, accepted_far) = tokio::io::duplex(PIPE_BYTES);
            {
                let mut state = net.lock();
                let Some(listener) = state.listeners.get(&to) else {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        format!("member {to} is down"),
                    ));
                };
                if listener.send(Box::new(accepted)).is_err() {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionRefused,
                        format!("member {to} is down"),
                    ));
                }
                state.connections.retain(|(_, _, k)| !k.is_cancelled());
                state.connections.push((from, to, kill.clone()));
            }
            let (far_read, far_write) = tokio::io::split(far);
            let (accepted_read, accepted_write) = tokio::io::split(accepted_far);
            tokio::spawn(
                net.clone()
                    .relay((from, to), far_read, accepted_write, kill.clone()),
            );
            tokio::spawn(net.relay((to, from), accepted_read, far_write, kill));
            Ok(Box::new(near) as Box<dyn PeerIo>)
        })
    }
}
