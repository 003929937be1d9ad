//! How to reach every other member on its quorum port. It starts from this server's
//! own `server.N` lines; a member added by a reconfig is reached at the address its
//! server spec (carried in the Raft membership) names. A member that leaves keeps its
//! entry (it may be added again).
//! Everything that opens peer connections reads it at connect time.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::PeerAddr;

#[derive(Clone, Default)]
pub struct AddressBook {
    inner: Arc<RwLock<BTreeMap<u64, PeerAddr>>>,
    /// What every peer connection uses (`sslQuorum`, quorum SASL), for added members.
    tls: Option<Arc<crate::tls::peer::PeerTls>>,
    sasl: Option<Arc<crate::config::QuorumSasl>>,
}

impl AddressBook {
    pub fn new(
        addrs: BTreeMap<u64, PeerAddr>,
        tls: Option<Arc<crate::tls::peer::PeerTls>>,
        sasl: Option<Arc<crate::config::QuorumSasl>>,
    ) -> Self {
        AddressBook {
            inner: Arc::new(RwLock::new(addrs)),
            tls,
            sasl,
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u64, PeerAddr>> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u64, PeerAddr>> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, id: u64) -> Option<PeerAddr> {
        self.read().get(&id).cloned()
    }

    /// Every member but this server, with its address.
    pub fn all(&self) -> Vec<(u64, PeerAddr)> {
        self.read().iter().map(|(id, a)| (*id, a.clone())).collect()
    }

    /// Points `id` at `addr` (`host:port`), with the TLS and SASL settings every peer
    /// connection shares.
    pub fn set(&self, id: u64, addr: String) {
        let mut book = self.write();
        if book.get(&id).is_some_and(|a| a.addr == addr) {
            return;
        }
        tracing::info!(member = id, %addr, "peer address");
        book.insert(
            id,
            PeerAddr {
                addr,
                tls: self.tls.clone(),
                sasl: self.sasl.clone(),
            },
        );
    }
}
