//! Session activity reports: a non-leader tells the leader (the only server that
//! expires sessions) which sessions its clients used, and learns whether the leader
//! still has its quorum.

use super::*;

/// A non-leader reports its sessions' activity to the leader every half tick, so the
/// leader (the only server that expires sessions) keeps them alive; the answer tells
/// whether the leader still has its quorum.
pub(super) async fn report_activity(
    me: u64,
    raft: Raft,
    hooks: Arc<dyn PeerHooks>,
    contact: Arc<Contact>,
    addrs: AddressBook,
    every: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut conn: Option<PeerConn> = None;
    let mut metrics = raft.metrics();
    let mut reported_to = None;
    loop {
        // A new leader hears from us at once: its answer lets this server serve again.
        let leader_changed = async {
            loop {
                let leader = metrics.borrow_watched().current_leader;
                if leader != reported_to {
                    return;
                }
                if metrics.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::select! {
            _ = ticker.tick() => {}
            () = leader_changed => {}
            () = stop.cancelled() => return,
        }
        let touched = hooks.take_touched_sessions();
        reported_to = raft.metrics().borrow_watched().current_leader;
        let leader = raft.metrics().borrow_watched().current_leader;
        let Some(leader) = leader.filter(|l| *l != me) else {
            continue;
        };
        // Sent even when empty: the answer says whether the leader has its quorum.
        let Some(addr) = addrs.get(leader) else {
            continue;
        };
        if conn.as_ref().is_none_or(|c| c.target() != leader) {
            conn = Some(PeerConn::new(me, leader, addr));
        }
        let Some(conn) = conn.as_mut() else {
            continue;
        };
        match conn
            .call(
                &PeerRequest::Activity(touched),
                every.max(Duration::from_secs(1)),
            )
            .await
        {
            Ok(PeerResponse::Leader { serving: true }) => contact.leader_serving(leader),
            Ok(_) => {}
            Err(e) => tracing::debug!("cannot report session activity to the leader: {e}"),
        }
    }
}
