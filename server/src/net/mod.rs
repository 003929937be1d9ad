//! The client port: accepting connections, four-letter words, and serving sessions.

pub mod auth;
pub mod classify;
mod connection;
mod four_letter;
mod listener;
pub mod monitor;
mod read_only;
mod tls_ids;

use std::path::PathBuf;
use std::sync::Arc;

pub use four_letter::VERSION;
pub use listener::{ClientPort, PerIp, serve_clients};
pub use read_only::ReadOnlyMode;

use crate::core::Core;
use crate::dispatch::Backend;

/// What the client port needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct NetSettings {
    pub max_frame_len: usize,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Per client IP; 0 = unlimited.
    pub max_client_cnxns: usize,
    /// `maxCnxns`: connections in total over both client ports; 0 = unlimited.
    pub max_cnxns: usize,
    /// `globalOutstandingLimit`: unanswered writes at which connections stop reading;
    /// 0 = unlimited.
    pub global_outstanding_limit: usize,
    pub four_letter_whitelist: crate::config::FourLetterWhitelist,
    pub auth: auth::AuthSettings,
    /// Renders the `conf` answer, as ZooKeeper prints it, for the current sizes of the
    /// snapshot and log directories.
    pub conf: ConfRenderer,
    /// Where snapshots and the log live (for `dirs` and `conf`).
    pub snapshot_dir: PathBuf,
    pub log_dir: PathBuf,
    pub client_port: u16,
    /// The client port's TLS (secure port, port unification), if configured.
    pub tls: Option<Arc<crate::tls::ClientTlsAcceptor>>,
    /// `zookeeper.enforceQuota`: this server's writes go through the log as
    /// `Txn::WriteEnforcingQuota`, so hard quota limits refuse them.
    pub enforce_quota: bool,
    /// `readonlymode.enabled`: out of touch with its quorum, the server serves
    /// `canBeReadOnly` clients read-only (see `read_only`).
    pub read_only_mode: bool,
    /// `reconfigEnabled`: reconfig requests run (else ReconfigDisabled).
    pub reconfig_enabled: bool,
}

/// Renders the `conf` four-letter word from `(snapshot dir bytes, log dir bytes)`.
#[derive(Clone)]
pub struct ConfRenderer(pub Arc<dyn Fn(u64, u64) -> String + Send + Sync>);

impl std::fmt::Debug for ConfRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfRenderer")
    }
}

/// Everything a connection task shares.
pub struct Shared {
    pub core: Arc<Core>,
    /// Where writes go; replaced once, when a following server is promoted.
    pub backend: std::sync::RwLock<Backend>,
    pub settings: NetSettings,
    pub started: std::time::Instant,
    /// Fired when the server stops: connections finish their in-flight writes and close.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Open connections per client IP, over both client ports (`maxClientCnxns`).
    pub per_ip: Arc<PerIp>,
    /// Whether read-only clients are served now, and their local sessions.
    pub read_only: ReadOnlyMode,
}

impl Shared {
    /// Where this connection's writes, new sessions and syncs go now.
    pub fn backend(&self) -> Backend {
        self.backend
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Out of touch with the quorum and serving read-only clients (read-only mode).
    pub fn serving_read_only(&self) -> bool {
        self.read_only.is_active() && !self.backend().role().borrow().serving()
    }

    /// Whether clients are served at all now: by the ensemble, or read-only.
    pub fn serving_clients(&self) -> bool {
        self.backend().role().borrow().serving() || self.read_only.is_active()
    }

    /// `srvr`'s `Mode:` and `mntr`'s `zk_server_state` (`read-only` as ZooKeeper's
    /// read-only server reports it).
    pub fn mode(&self) -> &'static str {
        if self.serving_read_only() {
            "read-only"
        } else {
            self.backend().role().borrow().mode()
        }
    }
}
