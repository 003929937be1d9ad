//! A follower's writes travel to the leader through one task and one connection, in
//! the order they were submitted, so a session's writes stay in order (openraft does
//! not forward by itself). A batch that cannot be handed to a leader is reported
//! lost: the server then closes the connections still waiting for a write, and their
//! clients see a connection loss, exactly what a ZooKeeper client expects when its
//! server loses the leader.

use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use tokio::sync::{mpsc, watch};

use super::address_book::AddressBook;
use super::peer_client::PeerConn;
use super::peer_wire::{PeerRequest, PeerResponse};
use super::types::Raft;
use crate::proposal::Proposal;

/// The most proposals sent in one forward request.
const BATCH: usize = 512;

pub struct ForwarderTask {
    pub me: u64,
    pub raft: Raft,
    pub addrs: AddressBook,
    /// Bumped whenever proposals may have been dropped.
    pub lost: watch::Sender<u64>,
    /// How long to wait for a leader, and for the leader's answer.
    pub patience: Duration,
}

impl ForwarderTask {
    pub async fn run(self, mut rx: mpsc::UnboundedReceiver<Proposal>) {
        let mut conn: Option<PeerConn> = None;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(more) => batch.push(more),
                    Err(_) => break,
                }
            }
            let sent = batch.len() as u64;
            let delivered = self.deliver(&mut conn, batch).await;
            crate::metrics::FORWARD_QUEUE_DEPTH
                .fetch_sub(sent, std::sync::atomic::Ordering::Relaxed);
            if let Err(why) = delivered {
                tracing::warn!("writes could not reach a leader: {why}");
                self.lost.send_modify(|n| *n += 1);
            }
        }
    }

    async fn leader(&self) -> Option<u64> {
        let mut metrics = self.raft.metrics();
        let wait = async {
            loop {
                if let Some(leader) = metrics.borrow_watched().current_leader {
                    return leader;
                }
                if metrics.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(self.patience, wait).await.ok()
    }

    async fn deliver(
        &self,
        conn: &mut Option<PeerConn>,
        batch: Vec<Proposal>,
    ) -> Result<(), String> {
        let Some(leader) = self.leader().await else {
            return Err(format!("no leader within {:?}", self.patience));
        };
        if leader == self.me {
            for proposal in batch {
                crate::metrics::count(|m| &m.proposal_count);
                self.raft
                    .client_write_ff(proposal, None)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            return Ok(());
        }
        if conn.as_ref().is_none_or(|c| c.target() != leader) {
            let addr = self
                .addrs
                .get(leader)
                .ok_or_else(|| format!("leader {leader} is not in this server's configuration"))?;
            *conn = Some(PeerConn::new(self.me, leader, addr));
        }
        let Some(conn) = conn.as_mut() else {
            return Err("no connection".into());
        };
        match conn
            .call(&PeerRequest::Forward(batch), self.patience)
            .await
            .map_err(|e| e.to_string())?
        {
            PeerResponse::Forwarded(Ok(())) => Ok(()),
            PeerResponse::Forwarded(Err(refused)) => Err(refused.to_string()),
            other => Err(format!("unexpected answer {other:?}")),
        }
    }
}
