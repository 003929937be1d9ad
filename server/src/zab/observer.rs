//! A ZooKeeper observer's side of ZAB, as `Learner`/`Observer` speak it to ZooKeeper's
//! leader on the quorum port:
//!
//! 1. find the leader (only the leader listens on the quorum port);
//! 2. OBSERVERINFO (our id, protocol 0x10000) → LEADERINFO (the new epoch) → ACKEPOCH
//!    (our last zxid);
//! 3. sync: DIFF (PROPOSAL/COMMIT pairs and INFORMs follow), SNAP (a whole snapshot is
//!    streamed, then "BenWasHere"), or TRUNC (we are ahead: start over from nothing);
//!    NEWLEADER → ACK; UPTODATE → ACK;
//! 4. broadcast: INFORM carries each committed txn; PING is answered with the
//!    sessions that had activity here; REVALIDATE and SYNC answers come back.
//!
//! Everything learnt goes to a [`FollowSink`], in zxid order. A lost leader (closed
//! connection, or nothing for `syncLimit` ticks) ends the session: the sink hears
//! [`FollowSink::lost`], and [`follow`] finds the next leader and syncs again from
//! the sink's last zxid.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes};
use ferrokeeper_protocol::{LearnerInfo, QuorumPacket, TxnEntry, quorum_packet as qp, to_bytes};

use super::wire::{self, PacketReader, PacketWriter, ZabError};
use crate::zkfiles::snapshot::{SnapshotBody, read_body};

/// ZAB 1.0, what ZooKeeper 3.4 to 3.9 speak.
const PROTOCOL_VERSION: i32 = 0x10000;
/// The marker a leader writes after a SNAP's snapshot.
const SNAP_SIGNATURE: &str = "BenWasHere";

/// Where an observer's data goes.
pub trait FollowSink: Send {
    /// The zxid of the last txn applied (0 for nothing): where a DIFF starts.
    fn last_zxid(&self) -> i64;
    /// A SNAP sync: everything is replaced by the leader's snapshot, at `zxid`.
    fn reset(&mut self, snapshot: SnapshotBody, zxid: i64);
    /// One committed txn, in zxid order. An error ends the session (and stops
    /// following: a txn that cannot be applied will not apply on a retry either).
    fn apply(&mut self, txn: &TxnEntry) -> Result<(), String>;
    /// Sessions with client activity here since the last call, with their timeouts:
    /// the answer to a leader's PING, which keeps them alive on ZooKeeper's side.
    fn touched_sessions(&mut self) -> Vec<(i64, i32)>;
    /// Synced with the leader `leader_id` at `zxid`: clients may be served.
    fn synced(&mut self, leader_id: u64, zxid: i64);
    /// The leader is gone: serve nothing until [`FollowSink::synced`] again.
    fn lost(&mut self);
    /// The leader's answer to a REVALIDATE this server sent for `session`.
    fn revalidated(&mut self, _session: i64, _valid: bool) {}
    /// The leader's answer to the oldest sync this server forwarded: everything
    /// committed before it has been applied here.
    fn sync_done(&mut self) {}
}

/// What an observer needs to know of the ensemble.
#[derive(Debug, Clone)]
pub struct ObserverSettings {
    /// Our `myid` (the ensemble's config lists us as `server.N=…:observer`).
    pub my_id: u64,
    /// The voting members' ids and quorum addresses (`host:port`).
    pub voters: Vec<(u64, String)>,
    /// Every port a live ZooKeeper voter listens on (election ports, and the quorum
    /// port of whichever leads): when none accepts a connection, no ZooKeeper server
    /// runs, and a promoted server can take over at once.
    pub voter_ports: Vec<String>,
    pub tick: Duration,
    /// Ticks the sync may take (`initLimit`).
    pub init_limit: u32,
    /// Ticks without a packet before the leader counts as gone (`syncLimit`).
    pub sync_limit: u32,
    /// `zookeeper.extendedTypesEnabled`, for reading snapshots.
    pub extended_types: bool,
}

/// The live connection's writer, for requests the server forwards to the leader.
pub type SharedWriter = Arc<Mutex<Option<PacketWriter>>>;

/// Follows the ensemble until `stop` is set: finds the leader, syncs, applies every
/// committed txn; after a lost leader, waits a tick and starts over. Returns on `stop`,
/// when the sink refuses a txn, or — once `promote` is set — when ZooKeeper has had no
/// leader for `initLimit` ticks ([`ZabError::TakeOver`]): while it has one, a promoted
/// server keeps following, so there are never two primaries.
pub fn follow(
    settings: &ObserverSettings,
    sink: &mut dyn FollowSink,
    writer: &SharedWriter,
    stop: &AtomicBool,
    promote: &AtomicBool,
) -> ZabError {
    let mut accepted_epoch = 0i64;
    let mut leaderless_since: Option<std::time::Instant> = None;
    let grace = settings.tick * settings.init_limit.max(1);
    loop {
        if stop.load(Ordering::Relaxed) {
            return ZabError::Stopped;
        }
        let outcome = observe_once(settings, sink, writer, stop, &mut accepted_epoch);
        let mut first_without_leader = false;
        if let Err(ZabError::NoLeader(_)) = &outcome {
            first_without_leader = leaderless_since.is_none();
            let since = *leaderless_since.get_or_insert_with(std::time::Instant::now);
            if promote.load(Ordering::Relaxed) {
                let reason = if !any_voter_alive(settings) {
                    Some("no ZooKeeper server runs any more")
                } else if since.elapsed() >= grace {
                    Some("ZooKeeper has had no leader for initLimit ticks")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    sink.lost();
                    return ZabError::TakeOver(format!(
                        "{reason}; the last zxid is 0x{:x}",
                        sink.last_zxid()
                    ));
                }
            }
        } else {
            leaderless_since = None;
        }
        match outcome {
            Err(ZabError::Stopped) => return ZabError::Stopped,
            Err(e @ ZabError::Unapplicable(_)) => {
                sink.lost();
                return e;
            }
            Err(e @ ZabError::NoLeader(_)) => {
                // Repeats every tick while ZooKeeper elects (or is down): said once.
                if first_without_leader {
                    tracing::warn!("following ZooKeeper: {e}; waiting for a leader");
                }
                sink.lost();
            }
            Err(e) => {
                tracing::warn!("following ZooKeeper: {e}; looking for the leader again");
                sink.lost();
            }
            Ok(()) => sink.lost(),
        }
        if let Ok(mut w) = writer.lock() {
            *w = None;
        }
        // Armed for promotion, every moment without a leader is downtime: look again
        // sooner.
        let pause = if promote.load(Ordering::Relaxed) {
            Duration::from_millis(100)
        } else {
            settings.tick.min(Duration::from_secs(2))
        };
        std::thread::sleep(pause);
    }
}

/// Whether any ZooKeeper voter still accepts connections on any of its ports.
fn any_voter_alive(settings: &ObserverSettings) -> bool {
    let timeout = settings
        .tick
        .clamp(Duration::from_millis(100), Duration::from_secs(2));
    settings.voter_ports.iter().any(|address| {
        address.to_socket_addrs().is_ok_and(|mut addrs| {
            addrs.any(|addr| TcpStream::connect_timeout(&addr, timeout).is_ok())
        })
    })
}

/// The first voter whose quorum port accepts a connection: ZooKeeper's leader (the
/// other members do not listen there).
fn find_leader(settings: &ObserverSettings) -> Result<(u64, TcpStream), ZabError> {
    let timeout = settings
        .tick
        .clamp(Duration::from_millis(200), Duration::from_secs(5));
    for (id, address) in &settings.voters {
        let Ok(addrs) = address.to_socket_addrs() else {
            continue;
        };
        let addrs: Vec<SocketAddr> = addrs.collect();
        for addr in addrs {
            if let Ok(stream) = TcpStream::connect_timeout(&addr, timeout) {
                return Ok((*id, stream));
            }
        }
    }
    Err(ZabError::NoLeader(
        settings
            .voters
            .iter()
            .map(|(id, a)| format!("server.{id} {a}"))
            .collect::<Vec<_>>()
            .join(", "),
    ))
}

fn observe_once(
    settings: &ObserverSettings,
    sink: &mut dyn FollowSink,
    shared: &SharedWriter,
    stop: &AtomicBool,
    accepted_epoch: &mut i64,
) -> Result<(), ZabError> {
    let (leader, stream) = find_leader(settings)?;
    let (mut reader, mut writer) = wire::split(stream)?;
    let init_timeout = settings.tick * settings.init_limit.max(1);
    let sync_timeout = settings.tick * settings.sync_limit.max(1);
    reader.set_timeout(init_timeout)?;

    // Discovery: who we are, which epoch the leader leads.
    let info = LearnerInfo {
        serverid: i64::try_from(settings.my_id).unwrap_or(i64::MAX),
        protocol_version: PROTOCOL_VERSION,
        config_version: 0,
    };
    writer.write(&wire::with_data(
        qp::OBSERVERINFO,
        *accepted_epoch << 32,
        to_bytes(&info).to_vec(),
    ))?;
    let leader_info = reader.read()?;
    if leader_info.packet_type != qp::LEADERINFO {
        return Err(ZabError::Protocol(format!(
            "{} where LEADERINFO was expected (a leader before ZooKeeper 3.4?)",
            qp::name(leader_info.packet_type)
        )));
    }
    let new_epoch = leader_info.zxid >> 32;
    let current_epoch_bytes = if new_epoch > *accepted_epoch {
        let current = *accepted_epoch;
        *accepted_epoch = new_epoch;
        i32::try_from(current).unwrap_or(-1)
    } else if new_epoch == *accepted_epoch {
        -1
    } else {
        return Err(ZabError::Protocol(format!(
            "epoch {new_epoch}, older than the {accepted_epoch} it accepted before"
        )));
    };
    writer.write(&wire::with_data(
        qp::ACKEPOCH,
        sink.last_zxid(),
        current_epoch_bytes.to_be_bytes().to_vec(),
    ))?;
    let new_leader_zxid = new_epoch << 32;
    tracing::info!(leader, epoch = new_epoch, "connected to ZooKeeper's leader");

    sync(&mut reader, &mut writer, sink, settings, new_leader_zxid)?;
    reader.set_timeout(sync_timeout)?;
    writer.write(&wire::bare(qp::ACK, new_leader_zxid))?;
    tracing::info!(
        leader,
        zxid = format!("0x{:x}", sink.last_zxid()),
        "synced with ZooKeeper's leader"
    );
    sink.synced(leader, sink.last_zxid());

    // The writer is shared from here on: forwarded requests go through it too.
    {
        let mut w = shared
            .lock()
            .map_err(|_| ZabError::Protocol("a poisoned writer lock".into()))?;
        *w = Some(writer);
    }
    broadcast(&mut reader, sink, shared, stop)
}

/// One proposal seen during a DIFF, waiting for its COMMIT.
struct Pending {
    zxid: i64,
    txn: TxnEntry,
}

fn decode_txn(packet: &QuorumPacket) -> Result<TxnEntry, ZabError> {
    let data = packet.data.clone().unwrap_or_default();
    TxnEntry::decode(data).map_err(|e| {
        ZabError::Protocol(format!(
            "a {} whose txn does not decode: {e}",
            qp::name(packet.packet_type)
        ))
    })
}

fn apply(sink: &mut dyn FollowSink, txn: &TxnEntry) -> Result<(), ZabError> {
    sink.apply(txn)
        .map_err(|why| ZabError::Unapplicable(format!("0x{:x}: {why}", txn.header.zxid)))
}

/// `Learner.syncWithLeader`, for an observer that keeps no log: committed txns are
/// applied as they are known committed.
fn sync(
    reader: &mut PacketReader,
    writer: &mut PacketWriter,
    sink: &mut dyn FollowSink,
    settings: &ObserverSettings,
    new_leader_zxid: i64,
) -> Result<(), ZabError> {
    let first = reader.read()?;
    match first.packet_type {
        qp::DIFF => {}
        qp::SNAP => {
            let mut znodes = 0;
            let body = read_body(reader.jute(), settings.extended_types, &mut |n| {
                znodes = n;
            })?;
            let signature = reader.jute().string()?;
            if signature != SNAP_SIGNATURE {
                return Err(ZabError::Protocol(format!(
                    "a snapshot ending in {signature:?} instead of {SNAP_SIGNATURE:?}"
                )));
            }
            tracing::info!(
                znodes = body.znodes,
                zxid = format!("0x{:x}", first.zxid),
                "received ZooKeeper's snapshot (SNAP sync)"
            );
            sink.reset(body, first.zxid);
        }
        qp::TRUNC => {
            // We are ahead of the leader, which only happens when it lost committed
            // txns; with no log to truncate, start over from its snapshot.
            sink.reset(
                SnapshotBody {
                    tree: crate::tree::DataTree::new(),
                    sessions: Vec::new(),
                    znodes: 0,
                },
                0,
            );
            return Err(ZabError::Protocol(format!(
                "TRUNC to 0x{:x}: this server was ahead; syncing again from nothing",
                first.zxid
            )));
        }
        other => {
            return Err(ZabError::Protocol(format!(
                "{} where DIFF, SNAP or TRUNC was expected",
                qp::name(other)
            )));
        }
    }
    let mut pending: VecDeque<Pending> = VecDeque::new();
    loop {
        let packet = reader.read()?;
        match packet.packet_type {
            qp::PROPOSAL => {
                let txn = decode_txn(&packet)?;
                pending.push_back(Pending {
                    zxid: txn.header.zxid,
                    txn,
                });
            }
            qp::COMMIT | qp::COMMITANDACTIVATE => match pending.front() {
                Some(p) if p.zxid == packet.zxid => {
                    if let Some(p) = pending.pop_front() {
                        apply(sink, &p.txn)?;
                        if packet.packet_type == qp::COMMITANDACTIVATE {
                            warn_membership_changed(p.zxid);
                        }
                    }
                }
                _ => {
                    return Err(ZabError::Protocol(format!(
                        "a COMMIT of 0x{:x} that is not the next proposal",
                        packet.zxid
                    )));
                }
            },
            qp::INFORM | qp::INFORMANDACTIVATE => apply_inform(sink, &packet)?,
            qp::NEWLEADER => {
                writer.write(&wire::bare(qp::ACK, new_leader_zxid))?;
            }
            qp::UPTODATE => {
                if !pending.is_empty() {
                    tracing::debug!(
                        uncommitted = pending.len(),
                        "proposals left uncommitted at UPTODATE"
                    );
                }
                return Ok(());
            }
            qp::PING => {}
            other => {
                return Err(ZabError::Protocol(format!(
                    "{} during sync",
                    qp::name(other)
                )));
            }
        }
    }
}

/// Applies an INFORM's txn, or an INFORMANDACTIVATE's (the suggested leader's id, then
/// the txn). The reconfig txn itself replicates `/zookeeper/config`; the new
/// membership is not adopted: this server keeps following the voters its own
/// configuration names, and says so.
fn apply_inform(sink: &mut dyn FollowSink, packet: &QuorumPacket) -> Result<(), ZabError> {
    if packet.packet_type == qp::INFORM {
        return apply(sink, &decode_txn(packet)?);
    }
    let mut data: Bytes = packet.data.clone().unwrap_or_default();
    if data.remaining() < 8 {
        return Err(ZabError::Protocol("a short INFORMANDACTIVATE".into()));
    }
    let _suggested_leader = data.get_i64();
    let txn = TxnEntry::decode(data)
        .map_err(|e| ZabError::Protocol(format!("an INFORMANDACTIVATE txn: {e}")))?;
    apply(sink, &txn)?;
    warn_membership_changed(txn.header.zxid);
    Ok(())
}

fn warn_membership_changed(zxid: i64) {
    tracing::warn!(
        zxid = format!("0x{zxid:x}"),
        "ZooKeeper's membership changed (reconfig); this server keeps following the \
         server lines of its own configuration: update them before the next restart"
    );
}

/// The broadcast phase (`Observer.processPacket`).
fn broadcast(
    reader: &mut PacketReader,
    sink: &mut dyn FollowSink,
    shared: &SharedWriter,
    stop: &AtomicBool,
) -> Result<(), ZabError> {
    loop {
        if stop.load(Ordering::Relaxed) {
            reader.shutdown();
            return Err(ZabError::Stopped);
        }
        let packet = reader.read()?;
        match packet.packet_type {
            qp::PING => {
                let mut data = Vec::new();
                for (session, timeout) in sink.touched_sessions() {
                    data.extend_from_slice(&session.to_be_bytes());
                    data.extend_from_slice(&timeout.to_be_bytes());
                }
                let reply = QuorumPacket {
                    packet_type: qp::PING,
                    zxid: packet.zxid,
                    data: Some(Bytes::from(data)),
                    authinfo: packet.authinfo.clone(),
                };
                let mut w = shared
                    .lock()
                    .map_err(|_| ZabError::Protocol("a poisoned writer lock".into()))?;
                if let Some(w) = w.as_mut() {
                    w.write(&reply)?;
                }
            }
            qp::INFORM | qp::INFORMANDACTIVATE => apply_inform(sink, &packet)?,
            qp::SYNC => sink.sync_done(),
            qp::REVALIDATE => {
                // (session id, valid) as DataOutputStream writes them.
                let mut data = packet.data.clone().unwrap_or_default();
                if data.remaining() < 9 {
                    return Err(ZabError::Protocol("a short REVALIDATE".into()));
                }
                let session = data.get_i64();
                let valid = data.get_u8() != 0;
                sink.revalidated(session, valid);
            }
            qp::PROPOSAL | qp::COMMIT | qp::UPTODATE => {
                tracing::warn!(
                    kind = qp::name(packet.packet_type),
                    "unexpected from the leader after sync; ignored, as ZooKeeper's observer does"
                );
            }
            other => {
                tracing::warn!(kind = other, "unknown packet from the leader; ignored");
            }
        }
    }
}
