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
//! # The API in one page
//!
//! - [`Client`]: one session, cheap to clone. Every operation (`create`, `create_ttl`,
//!   `delete`, `exists`, `get_data`, `set_data`, `get_children`, `get_children2`,
//!   `get_acl`, `set_acl`, `sync`, `get_ephemerals`, `get_all_children_number`,
//!   `whoami`, `get_config`, `add_auth`, `add_watch`, `remove_watches`, `check_watches`,
//!   `close`)
//!   queues its request when it is *called* and returns a `'static` future: requests
//!   reach the server in call order, whatever order their futures are polled in, and
//!   can be spawned without borrowing the client. Dropping a future does not withdraw
//!   its request.
//! - Reads ending in `_w` also return a one-shot [`Watch`] (a future);
//!   [`Client::add_watch`] returns a [`PersistentWatch`] (a stream) for persistent and
//!   persistent-recursive watches.
//! - [`Client::multi`] builds an atomic [`MultiWriter`]; a failed multi is
//!   [`MultiError::OpFailed`] with the failing op and every op's result.
//!   [`Client::multi_read`] builds a [`MultiReader`] (reads that succeed or fail each
//!   on their own).
//! - [`Client::state_stream`] reports every [`SessionState`] change.
//! - Errors are one [`Error`] enum with ZooKeeper's codes plus [`Error::Closed`].
//!
//! # How it works
//!
//! [`ClientBuilder::connect`] parses `host:port,...[/chroot]`, shuffles the hosts
//! (unless [`ClientBuilder::shuffle_hosts`] is off), tries each once and returns when
//! one has accepted the session (TLS first if configured, then ConnectRequest with
//! readOnly as configured), completed the SASL exchange if configured, and answered
//! every auth packet. It then spawns one session task that owns everything:
//! the connection, the requests in flight, the watch registry and reconnection.
//! Handles talk to it through an unbounded queue.
//!
//! **Requests.** The task gives each request the next xid and hands it to a writer task
//! (batched, one flush per batch), and matches replies to requests in FIFO order, so
//! any number may be in flight. A ping (xid −2) goes out after readTimeout/2 without
//! sending (at most every 10 s), readTimeout being ⅔ of the negotiated session
//! timeout; nothing received for readTimeout counts as a lost connection. Each
//! request runs in a `zookeeper_request` tracing span (op, path; xid and result logged
//! at trace/debug level) inside the task's `zookeeper_session` span.
//!
//! **Connection loss.** On EOF, a read or write error, the read timeout or an
//! out-of-order reply, every request in flight fails with [`Error::ConnectionLoss`] (it
//! may or may not have been applied, as in ZooKeeper), the state becomes
//! [`SessionState::Disconnected`] and the task reconnects: to the next host of the
//! list (the lost one last), after a random wait below 50 ms that doubles with each
//! failed attempt up to 1 s. The ConnectRequest carries the session id, password and
//! last zxid seen. After the handshake the SASL exchange runs again (if configured),
//! then every auth packet (from the builder and from [`Client::add_auth`]) is sent again and must be accepted before anything else, then
//! SetWatches2 (relative zxid = last zxid seen; several packets beyond 128 KiB of
//! paths, as the Java client) re-registers the armed watches: the server fires at once
//! those whose node changed meanwhile. Operations called while disconnected wait for
//! the next connection, each for at most the connection timeout
//! ([`ClientBuilder::connection_timeout`]), then fail with [`Error::ConnectionLoss`].
//! By default the client keeps trying for as long as it lives, as ZooKeeper 3.8's Java
//! and C clients do, since only a server can tell for sure that a session expired.
//! [`ClientBuilder::client_side_expiry`] turns on ZooKeeper 3.9's client-side deadline
//! (ZOOKEEPER-4508): with no frame from any server for 4/3 of the negotiated session
//! timeout, the session ends as [`SessionState::Expired`] on the client's own clock.
//!
//! **Read-only servers.** With [`ClientBuilder::read_only`], a server cut off from its
//! quorum (in read-only mode) may take the session: the state is
//! [`SessionState::ReadOnly`], reads work, writes fail with [`Error::NotReadOnly`].
//! Meanwhile the client probes the other hosts with the four-letter word `isro`
//! (after 100 ms, then at waits doubling to 60 s) and moves to the first read-write
//! one, as the Java client does. A session that has only ever been read-only is a
//! local session of its server: reconnecting, it asks for a new session (the session
//! id changes; watches are re-registered on it).
//!
//! **Terminal states.** A handshake answered with timeout ≤ 0 means the session is
//! gone: [`SessionState::Expired`]. A refused auth packet or SASL exchange (the server
//! then hangs up) is [`SessionState::AuthFailed`], as in the Java client. [`Client::close`] ends in
//! [`SessionState::Closed`], and so does dropping every handle (without closeSession:
//! the server expires the session). In a terminal state every request in flight or
//! waiting fails with the state's error ([`Error::SessionExpired`],
//! [`Error::AuthFailed`], [`Error::Closed`]), one-shot watches fail with it, persistent
//! watches yield the state as their last event, the state stream yields it and ends,
//! and every later operation fails at once with the same error. Recovering from expiry
//! (a new session, re-creating ephemerals) is the caller's job.
//!
//! **Watches.** The registry keeps, per server path, every local watch and its kind
//! (data, exist, child, persistent, persistent-recursive), as ZooKeeper's
//! `ZKWatchManager`. A watch counts as armed only once its request's reply says so
//! (exists arms an exist watch on NoNode and a data watch otherwise). A notification
//! fires every armed local watch it concerns, once: one-shot watches of the matching
//! lists go, persistent ones on the path stay, and recursive ones on the path or an
//! ancestor get every event but NodeChildrenChanged. One-shot watches survive
//! reconnects. Persistent streams also get `Disconnected` and `SyncConnected` session
//! events (type [`EventType::None`]), because ZooKeeper re-arms persistent watches
//! without replaying what changed while disconnected.
//!
//! **Dropping a watch handle** removes that watch locally at once. When it was the last
//! local watch of any kind on its path (counting watches whose request is still in
//! flight), the client also sends removeWatches(Any) for the path, so the server stops
//! sending its events; later requests are queued behind it, so a new watch on the same
//! path is not caught by the removal. While other local watches remain on the path,
//! nothing is sent: ZooKeeper 3.8 keeps one entry per path and connection, so removing
//! one kind could remove the others, and any event the server still sends for the
//! dropped watch is dropped by the client. [`Client::remove_watches`] removes all
//! local watches of a type on a path, after the server removed its own.
//!
//! **Chroot.** A chroot from the connect string (or [`Client::chroot`]) is added to
//! every path sent and removed from every path received: created paths (sequential
//! names included), multi results, watch events of every kind, getEphemerals results
//! (which also drop nodes outside the chroot that only match it as a string prefix).
//!
//! Nothing the server sends can panic the client: a malformed reply body fails that
//! request with [`Error::MarshallingError`]; a malformed header, a reply out of order or
//! an oversize frame ends the connection (and the client reconnects); notifications of
//! unknown types, for paths nobody watches, or with undecodable bodies are logged
//! (`tracing`) and dropped.
//!
//! # Known server behaviour worth knowing
//!
//! - ZooKeeper 3.8 keeps a single watch mode per path and connection (ZOOKEEPER-4466,
//!   fixed in 3.9; ferrokeeper keeps the kinds apart). Armed there, a one-shot watch
//!   would turn a persistent watch on the same path into a one-shot one, so when an
//!   armed persistent watch (or, for data and exists watches, a recursive one) already
//!   covers a path, the client sends the read with watch=false and fires the one-shot
//!   watch from the persistent watch's events. The other order is not covered: a
//!   one-shot *child* watch armed before a recursive watch on the same path never fires
//!   on ZooKeeper 3.8 (the recursive watch replaces it). Use another path or session.
//! - A plain create inside a multi is answered with the path only, so
//!   [`OpResult::Create`]'s `stat` is `None` there (container and TTL creates have it).
//! - A create followed by a delete while disconnected is not seen by an exists watch
//!   (ZooKeeper documents this gap of SetWatches).
//!
//! # Recipes
//!
//! [`recipes`] builds coordination on this API: [`recipes::LeaderLatch`] (Curator-style
//! election: each participant watches only its predecessor), [`recipes::Group`] with
//! [`recipes::LeaderDetector`] (Mesos-style groups: `<group>/<label>_NNNNNNNNNN`
//! members, the lowest sequence leads, a member-set stream for group membership, a new
//! session after each expiry), [`recipes::Lock`] (a mutex with a guard that reports
//! a lost lock) and [`recipes::TreeCache`] (Curator's `CuratorCache`: a subtree held in
//! memory, kept current by a persistent recursive watch, with an event stream of its
//! changes in zxid order, and read again after every reconnect). Electing a leader
//! takes three lines:
//!
//! ```no_run
//! # async fn demo() -> ferrokeeper_client::Result<()> {
//! # let client = ferrokeeper_client::Client::connect("127.0.0.1:2181").await?;
//! use ferrokeeper_client::recipes::LeaderLatch;
//! let latch = LeaderLatch::start(&client, "/app/leader", b"me").await?;
//! latch.await_leadership().await?;
//! # Ok(())
//! # }
//! ```
//!
//! The [`recipes`] module docs say what each recipe does on connection loss (a create
//! whose reply was lost is found again, not repeated), while disconnected (leadership
//! is suspended) and on expiry. Runnable programs: `cargo run -p ferrokeeper-client
//! --example leader_election -- 127.0.0.1:2181` (also `mesos_election`, `lock`,
//! `group_membership`). The `ferrokeeper-cli` crate is a zkCli-like shell on this
//! client.
//!
//! # Security: TLS and SASL
//!
//! [`ClientBuilder::tls`] connects with TLS to the servers' `secureClientPort`, with a
//! [`tls::TlsConfig`] built from PEM files: the CA certificates to trust, optionally a
//! client certificate and key (the session is then `x509:<subject>` for ACLs), and
//! hostname verification, on by default as in ZooKeeper's Java client.
//! [`ClientBuilder::sasl_digest_md5`] authenticates with SASL DIGEST-MD5 (the session
//! is then `sasl:<user>`), right after every handshake, before anything else.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ferrokeeper_client::tls::TlsConfig;
//! use ferrokeeper_client::{Acl, Client, CreateMode, Id, perms};
//!
//! let tls = TlsConfig::builder()
//!     .ca_file("ca.pem")
//!     .client_cert_files("client.pem", "client.key")
//!     .build()?; // reads the files now: a missing or bad one is an error here
//! let client = Client::builder()
//!     .tls(tls)
//!     .sasl_digest_md5("bob", "bobpw")
//!     .connect("zk1.example.com:2281")
//!     .await?;
//! let only_bob = [Acl { perms: perms::ALL, id: Id { scheme: "sasl".into(), id: "bob".into() } }];
//! client.create("/bobs", b"", &only_bob, CreateMode::Persistent).await?;
//! # Ok(())
//! # }
//! ```
//!
//! A TLS failure at the first connect is [`Error::Tls`] (saying what went wrong: an
//! unknown CA, a wrong name, a server that wants a client certificate...); a refused
//! SASL exchange is [`Error::AuthFailed`], with the reason logged. See [`tls`] for what
//! is supported (PEM only, X.509 version 3 server certificates).
//!
//! # Not in this crate (yet)
//!
//! SASL mechanisms other than DIGEST-MD5 (GSSAPI/Kerberos); Java key stores (JKS,
//! PKCS#12) for TLS; `updateServerList` (the connect string is fixed for a handle's
//! life; after a [`Client::reconfig`] that adds servers, build a new handle to use
//! them).

mod builder;
mod chroot;
mod client;
mod connect_string;
mod connection;
mod ensemble_config;
mod error;
mod multi;
mod read_write_probe;
pub mod recipes;
mod reconnect;
mod registry;
mod session;
mod session_state;
mod shared;
pub mod tls;
mod watch;

pub use builder::ClientBuilder;
pub use client::Client;
pub use ensemble_config::{CONFIG_NODE, EnsembleConfig, ServerSpec};
pub use error::{Error, Result};
pub use ferrokeeper_protocol::perms::{self, creator_all_acl, open_acl_unsafe, read_acl_unsafe};
pub use ferrokeeper_protocol::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Stat, WatcherType,
};
pub use multi::{MultiError, MultiReader, MultiWriter, OpResult, ReadResult};
pub use session_state::{SessionState, StateStream};
pub use shared::SessionInfo;
pub use watch::{PersistentWatch, Watch, WatchedEvent};

/// The README's examples, compiled with the doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
