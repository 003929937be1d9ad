//! Proposals whose proposer waits for the result (session creation, the server's own
//! expiry and reaper writes). The proposal carries a [`Ticket`]; whichever server
//! applies it, only the proposer's own process finds the ticket in its table, so the
//! result reaches the waiter on leader and follower alike.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::oneshot;

use crate::proposal::Ticket;
use crate::state::txn::TxnResult;

pub struct Tickets {
    server: u64,
    incarnation: i64,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, oneshot::Sender<TxnResult>>>,
}

impl Tickets {
    pub fn new(server: u64, incarnation: i64) -> Self {
        Tickets {
            server,
            incarnation,
            next: AtomicU64::new(1),
            waiting: Mutex::new(HashMap::new()),
        }
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<TxnResult>>> {
        // Nothing panics under this lock; a poisoned map is still a valid map.
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn issue(&self) -> (Ticket, oneshot::Receiver<TxnResult>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiting().insert(id, tx);
        let ticket = Ticket {
            server: self.server,
            incarnation: self.incarnation,
            id,
        };
        (ticket, rx)
    }

    /// Called for every applied proposal.
    pub fn resolve(&self, ticket: &Ticket, result: &TxnResult) {
        if ticket.server != self.server || ticket.incarnation != self.incarnation {
            return;
        }
        if let Some(tx) = self.waiting().remove(&ticket.id) {
            let _ = tx.send(result.clone());
        }
    }

    pub fn forget(&self, ticket: &Ticket) {
        self.waiting().remove(&ticket.id);
    }
}
