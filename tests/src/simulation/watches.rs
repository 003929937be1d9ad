//! Watchers: on every member, a connection registered with the member's `Core` (as a
//! client connection is, with an outbox of encoded frames) sets exists-watches on the
//! registers in use and reads every frame the member sends it, in order. Checked on
//! that order, per connection:
//! - an event comes only for an armed watch, so once per registration;
//! - a read that shows a register changed since its watch was set comes after that
//!   watch's event (an event is delivered before the data it announces);
//! - at the end, once every member has applied everything, a watch still armed is on a
//!   register that did not change (no event was lost).
//!
//! A member's crash ends its connection (ZooKeeper's client would re-arm its watches
//! with setWatches on reconnecting); the watcher then starts a new one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Buf;
use ferrokeeper_protocol::{ExistsRequest, OpCode, ReplyFrame, Request, Response};
use ferrokeeper_server::core::{
    Core, Limits, Outbox, OutboxReceiver, Outgoing, ReadContext, Transport,
};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::time::Instant;

use super::cluster::Cluster;
use super::workload::{KEY_WINDOW, KEYS, KEYS_AT_ONCE, WORKLOAD, key_path};

/// What the watchers saw, for the report and the checks.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchLog {
    pub registrations: u64,
    pub events: u64,
    pub violations: Vec<String>,
}

pub type Shared = Arc<Mutex<WatchLog>>;

fn lock(log: &Shared) -> std::sync::MutexGuard<'_, WatchLog> {
    log.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connection ids far above the ones a member hands out itself.
const CONN_BASE: u64 = 1 << 40;

/// One watching connection on one member's `Core`.
struct Connection {
    core: Arc<Core>,
    conn: u64,
    rx: OutboxReceiver,
    next_xid: i32,
    /// Armed watches: path → the register's mzxid when the watch was set (`None`:
    /// absent).
    armed: BTreeMap<String, Option<i64>>,
}

impl Connection {
    fn open(core: Arc<Core>, conn: u64) -> Connection {
        Connection::open_with_outbox(core, conn).0
    }

    /// Also returns the connection's outbox (the tests queue doctored frames on it).
    fn open_with_outbox(core: Arc<Core>, conn: u64) -> (Connection, Outbox) {
        let (outbox, rx) = ferrokeeper_server::core::outbox(Limits::for_max_frame(1 << 20));
        let peer = "127.0.0.1:1".parse().expect("an address");
        core.attach(
            conn,
            0,
            outbox.clone(),
            (peer, Transport::default()),
            Vec::new(),
        );
        let connection = Connection {
            core,
            conn,
            rx,
            next_xid: 0,
            armed: BTreeMap::new(),
        };
        (connection, outbox)
    }

    /// `exists` with a watch on `path`, then every frame queued so far.
    fn exists(&mut self, path: &str, log: &Shared) -> Result<(), ()> {
        self.next_xid += 1;
        let ctx = ReadContext {
            conn: self.conn,
            session: 0,
            auth: Vec::new(),
        };
        let request = Request::Exists(ExistsRequest {
            path: path.to_owned(),
            watch: true,
        });
        self.core.read(&ctx, self.next_xid, request);
        lock(log).registrations += 1;
        self.drain(Some(path), log)
    }

    /// Reads every queued frame in order; `Err` when the member closed the connection.
    fn drain(&mut self, asked: Option<&str>, log: &Shared) -> Result<(), ()> {
        while let Some(item) = self.rx.try_recv() {
            let Outgoing::Frame(mut bytes) = item else {
                return Err(());
            };
            if bytes.len() < 4 {
                lock(log)
                    .violations
                    .push("a frame shorter than its length".into());
                return Err(());
            }
            bytes.advance(4);
            let frame = ReplyFrame::decode(&mut bytes, |xid| {
                if xid == ferrokeeper_protocol::xid::NOTIFICATION {
                    OpCode::Notification
                } else {
                    OpCode::Exists
                }
            });
            let frame = match frame {
                Ok(frame) => frame,
                Err(e) => {
                    lock(log)
                        .violations
                        .push(format!("an undecodable frame: {e}"));
                    return Err(());
                }
            };
            match frame.response {
                Response::Notification(event) => {
                    let mut log = lock(log);
                    log.events += 1;
                    if self.armed.remove(&event.path).is_none() {
                        log.violations.push(format!(
                            "member connection {}: event {} on {} with no watch armed \
                             (delivered twice?)",
                            self.conn, event.r#type, event.path
                        ));
                    }
                }
                response => {
                    let Some(path) = asked else {
                        lock(log)
                            .violations
                            .push(format!("a reply nobody asked for: {response:?}"));
                        continue;
                    };
                    let now = match response {
                        Response::Stat(stat) => Some(stat.mzxid),
                        _ => None,
                    };
                    if let Some(registered) = self.armed.get(path)
                        && *registered != now
                    {
                        lock(log).violations.push(format!(
                            "member connection {}: a read of {path} showed mzxid {now:?}, \
                             changed since its watch was set at {registered:?}, before \
                             the watch's event",
                            self.conn
                        ));
                    }
                    self.armed.insert(path.to_owned(), now);
                }
            }
        }
        Ok(())
    }

    /// At the end: every armed watch is on a register that still reads as when it was
    /// set.
    fn check_quiet(&mut self, log: &Shared) {
        if self.drain(None, log).is_err() {
            return;
        }
        for (path, registered) in &self.armed {
            let now = self
                .core
                .with_state(|zk, _| zk.tree().stat(path).ok().map(|s| s.mzxid));
            if now != *registered {
                lock(log).violations.push(format!(
                    "member connection {}: the watch on {path} set at mzxid {registered:?} \
                     never fired, and {path} is now at {now:?}",
                    self.conn
                ));
            }
        }
    }
}

/// Watches through member `member` until `until`, then keeps its connection for the
/// final check, which [`Watcher::finish`] runs.
pub struct Watcher {
    member: u64,
    cluster: Arc<Cluster>,
    log: Shared,
    rng: SmallRng,
    begin: Instant,
    connection: Option<Connection>,
    opened: u64,
}

impl Watcher {
    pub fn new(member: u64, cluster: Arc<Cluster>, log: Shared, seed: u64, begin: Instant) -> Self {
        Watcher {
            member,
            cluster,
            log,
            rng: SmallRng::seed_from_u64(seed),
            begin,
            connection: None,
            opened: 0,
        }
    }

    /// The connection to the member's current `Core` (a new one after a restart).
    fn connection(&mut self) -> Option<&mut Connection> {
        let running = self.cluster.running(self.member)?;
        let stale = self
            .connection
            .as_ref()
            .is_some_and(|c| !Arc::ptr_eq(&c.core, &running.core));
        if stale || self.connection.is_none() {
            if let Some(old) = self.connection.take() {
                old.core.detach(old.conn);
            }
            self.opened += 1;
            let conn = CONN_BASE + self.member * 1_000_000 + self.opened;
            self.connection = Some(Connection::open(running.core, conn));
        }
        self.connection.as_mut()
    }

    pub async fn run(mut self) -> Watcher {
        let until = self.begin + WORKLOAD;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(self.rng.random_range(20..200))).await;
            let window = self.begin.elapsed().as_secs() / KEY_WINDOW.as_secs();
            let window = usize::try_from(window).unwrap_or(usize::MAX);
            let first = window.min(KEYS / KEYS_AT_ONCE - 1) * KEYS_AT_ONCE;
            let key = first + self.rng.random_range(0..KEYS_AT_ONCE);
            let log = self.log.clone();
            let Some(connection) = self.connection() else {
                continue;
            };
            if connection.exists(&key_path(key), &log).is_err() {
                // Closed by the member: start over on a new connection.
                self.connection = None;
            }
        }
        self
    }

    /// The final check, once every member has applied everything.
    pub fn finish(mut self) {
        let log = self.log.clone();
        let current = self.cluster.running(self.member);
        if let (Some(connection), Some(running)) = (self.connection.as_mut(), current)
            && Arc::ptr_eq(&connection.core, &running.core)
        {
            connection.check_quiet(&log);
        }
    }
}

/// The watch checks fed real and doctored frames.
#[cfg(test)]
mod tests {
    use bytes::{Bytes, BytesMut};
    use ferrokeeper_protocol::perms::open_acl_unsafe;
    use ferrokeeper_protocol::{ReplyHeader, Stat, WatcherEvent, write_frame};
    use ferrokeeper_server::proposal::Proposal;
    use ferrokeeper_server::replication::Applier;
    use ferrokeeper_server::state::StateConfig;
    use ferrokeeper_server::state::txn::{Entry, Txn, WriteOp};

    use super::*;

    fn apply(core: &Core, txn: Txn) {
        core.apply(&Proposal {
            reply_to: None,
            ticket: None,
            entry: Entry { time_ms: 0, txn },
        });
    }

    fn write(core: &Core, op: WriteOp) {
        apply(
            core,
            Txn::Write {
                session_id: 1,
                auth: Vec::new(),
                op,
            },
        );
    }

    /// A core holding /k0, and a watching connection on it.
    fn setup() -> (Arc<Core>, Connection, Outbox, Shared) {
        let core = Arc::new(Core::new(1, StateConfig::default()));
        apply(
            &core,
            Txn::CreateSession {
                session_id: 1,
                timeout_ms: 4_000,
            },
        );
        write(
            &core,
            WriteOp::Create {
                path: "/k0".into(),
                data: Some(Bytes::from_static(b"a")),
                acl: open_acl_unsafe(),
                flags: 0,
                ttl: 0,
            },
        );
        let (connection, outbox) = Connection::open_with_outbox(core.clone(), CONN_BASE);
        (core, connection, outbox, Shared::default())
    }

    fn set(core: &Core) {
        write(
            core,
            WriteOp::SetData {
                path: "/k0".into(),
                data: Some(Bytes::from_static(b"b")),
                version: -1,
            },
        );
    }

    fn frame(header: ReplyHeader, response: Response) -> Bytes {
        let mut buf = BytesMut::new();
        write_frame(&ReplyFrame { header, response }, &mut buf);
        buf.freeze()
    }

    #[test]
    fn a_real_change_fires_once_and_passes() {
        let (core, mut connection, _outbox, log) = setup();
        connection.exists("/k0", &log).expect("open");
        set(&core);
        connection.exists("/k0", &log).expect("open");
        connection.check_quiet(&log);
        let log = lock(&log).clone();
        assert_eq!(log.events, 1, "{log:?}");
        assert!(log.violations.is_empty(), "{log:?}");
    }

    #[test]
    fn an_event_without_a_watch_is_caught() {
        let (_core, mut connection, outbox, log) = setup();
        let event = WatcherEvent {
            r#type: 3,
            state: 3,
            path: "/k0".into(),
        };
        let header = ReplyHeader {
            xid: ferrokeeper_protocol::xid::NOTIFICATION,
            zxid: 9,
            err: 0,
        };
        outbox.send(Outgoing::Frame(frame(
            header,
            Response::Notification(event),
        )));
        connection.drain(None, &log).expect("open");
        let log = lock(&log).clone();
        assert!(
            log.violations
                .iter()
                .any(|v| v.contains("with no watch armed")),
            "{log:?}"
        );
    }

    #[test]
    fn new_data_before_its_event_is_caught() {
        let (_core, mut connection, outbox, log) = setup();
        connection.exists("/k0", &log).expect("open");
        // Doctored: a reply showing a newer mzxid, with no event before it.
        let stat = Stat {
            mzxid: 99,
            ..Stat::default()
        };
        let header = ReplyHeader {
            xid: 2,
            zxid: 99,
            err: 0,
        };
        outbox.send(Outgoing::Frame(frame(header, Response::Stat(stat))));
        connection.drain(Some("/k0"), &log).expect("open");
        let log = lock(&log).clone();
        assert!(
            log.violations
                .iter()
                .any(|v| v.contains("before the watch's event")),
            "{log:?}"
        );
    }

    #[test]
    fn a_lost_event_is_caught_at_the_end() {
        let (core, mut connection, _outbox, log) = setup();
        connection.exists("/k0", &log).expect("open");
        set(&core);
        // Doctored: the event is taken off the connection unseen.
        let _ = connection.rx.try_recv();
        connection.check_quiet(&log);
        let log = lock(&log).clone();
        assert!(
            log.violations.iter().any(|v| v.contains("never fired")),
            "{log:?}"
        );
    }

    /// The server's side of the rule the watchers found broken: a snapshot installed
    /// over a member's state closes its connections, so clients re-arm their watches.
    #[test]
    fn a_snapshot_install_closes_the_connection() {
        let (core, mut connection, _outbox, log) = setup();
        connection.exists("/k0", &log).expect("open");
        let other = Core::new(2, StateConfig::default());
        let mut bytes = Vec::new();
        (other.snapshot())(&mut bytes).expect("a snapshot");
        core.restore(&mut bytes.as_slice(), bytes.len() as u64)
            .expect("restored");
        assert!(
            connection.drain(None, &log).is_err(),
            "the connection stayed open over a replaced state"
        );
    }
}
