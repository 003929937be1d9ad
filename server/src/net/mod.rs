//! The client port: accepting connections, four-letter words, and serving sessions.

pub mod auth;
pub mod classify;
mod connection;
mod four_letter;
mod listener;
pub mod replies;

use std::path::PathBuf;
use std::sync::Arc;

pub use four_letter::VERSION;
pub use listener::serve_clients;

use crate::core::Core;
use crate::replication::Replica;

/// What the client port needs to know of the configuration.
#[derive(Debug, Clone)]
pub struct NetSettings {
    pub max_frame_len: usize,
    pub min_session_timeout_ms: i32,
    pub max_session_timeout_ms: i32,
    /// Per client IP; 0 = unlimited.
    pub max_client_cnxns: usize,
    pub four_letter_whitelist: crate::config::FourLetterWhitelist,
    pub auth: auth::AuthSettings,
    /// The `conf` answer, as ZooKeeper prints it.
    pub conf_text: String,
    pub data_dir: PathBuf,
    pub client_port: u16,
}

/// Everything a connection task shares.
pub struct Shared {
    pub core: Arc<Core>,
    pub replica: Replica,
    pub settings: NetSettings,
    pub started: std::time::Instant,
    /// Fired when the server stops: connections finish their in-flight writes and close.
    pub shutdown: tokio_util::sync::CancellationToken,
}
