//! An async ZooKeeper 3.8 client for tokio, built on `ferrokeeper-protocol`.
//!
//! ```no_run
//! # async fn demo() -> ferrokeeper_client::Result<()> {
//! use ferrokeeper_client::{Client, CreateMode, open_acl_unsafe};
//! use std::time::Duration;
//!
//! let client = Client::builder()
//!     .session_timeout(Duration::from_secs(10))
//!     .connect("127.0.0.1:2181")
//!     .await?;
//! client.create("/app", b"v1", &open_acl_unsafe(), CreateMode::Persistent).await?;
//! let (data, stat, watch) = client.get_data_w("/app").await?;
//! client.set_data("/app", b"v2", Some(stat.version)).await?;
//! let event = watch.await?; // NodeDataChanged on /app
//! # let _ = (data, event);
//! client.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # How it works
//!
//! [`Client::connect`] performs the session handshake (a 45-byte ConnectRequest,
//! readOnly false) with the first host of the connect string that answers, then spawns
//! one task that owns the TCP connection. Inside it a writer sends queued requests
//! (batched, one flush per batch; a ping with xid −2 after a third of the negotiated
//! session timeout without sending, i.e. readTimeout/2 as in ZooKeeper's client) and a
//! reader matches replies to requests in FIFO order by xid, so any number of requests
//! may be in flight. Notifications (xid −1) fire one-shot [`Watch`]es: data and exists
//! watches on NodeCreated, NodeDataChanged and NodeDeleted, child watches on
//! NodeChildrenChanged and NodeDeleted. If nothing arrives for readTimeout (two thirds
//! of the session timeout), the connection counts as lost.
//!
//! Nothing the server sends can panic the client: a malformed reply body fails that
//! request with [`Error::MarshallingError`]; a malformed header, a reply out of order or
//! an oversize frame ends the connection ([`Error::ConnectionLoss`]).
//!
//! # Not in this slice
//!
//! Reconnecting (to the same or another host) and re-arming watches with SetWatches2:
//! a lost connection fails every waiting request and watch with
//! [`Error::ConnectionLoss`] and the client stays unusable. Also missing: chroot
//! suffixes in the connect string, authentication (addAuth, SASL), multi/multiRead,
//! ACL operations (getACL/setACL), sync, persistent and recursive watches
//! (addWatch), removeWatches, TTL and container creation with their own calls, read-only
//! mode, recipes, and a CLI.

mod builder;
mod chroot;
mod client;
mod connect_string;
mod connection;
mod error;
mod multi;
mod reconnect;
mod registry;
mod session;
mod session_state;
mod shared;
mod watch;

pub use builder::ClientBuilder;
pub use client::Client;
pub use error::{Error, Result};
pub use ferrokeeper_protocol::perms::{self, creator_all_acl, open_acl_unsafe, read_acl_unsafe};
pub use ferrokeeper_protocol::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Stat, WatcherType,
};
pub use multi::{MultiError, MultiReader, MultiWriter, OpResult, ReadResult};
pub use session_state::{SessionState, StateStream};
pub use shared::SessionInfo;
pub use watch::{PersistentWatch, Watch, WatchedEvent};
