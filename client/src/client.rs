//! The client handle and its typed operations.
//!
//! Every operation queues its request when it is *called* and returns a `'static`
//! future for the reply: requests reach the server in call order whether or not, or
//! in which order, their futures are polled, and a future can be spawned without
//! borrowing the client. Dropping a future does not withdraw its request.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use ferrokeeper_protocol::{
    Acl, AddWatchMode, AddWatchRequest, AuthPacket, CheckWatchesRequest, ClientInfo, CreateMode,
    CreateRequest, CreateTtlRequest, DeleteRequest, ExistsRequest, GetAclRequest,
    GetAllChildrenNumberRequest, GetChildren2Request, GetChildrenRequest, GetDataRequest,
    GetEphemeralsRequest, Request, Response, SetAclRequest, SetDataRequest, Stat, SyncRequest,
    WatcherType,
};

use crate::builder::ClientBuilder;
use crate::chroot::Chroot;
use crate::ensemble_config::CONFIG_NODE;
use crate::error::{Error, Result};
use crate::multi::{MultiReader, MultiWriter};
use crate::registry::{Arming, Kind};
use crate::session::{Command, RequestCommand};
use crate::session_state::{SessionState, StateStream};
use crate::shared::{SessionInfo, Shared};
use crate::watch::{PersistentWatch, Sink, Watch};

/// ZooKeeper's largest TTL (`EphemeralType.MAX_VALUE`, 40 bits of milliseconds).
const MAX_TTL_MS: u128 = 0xFF_FFFF_FFFF;

/// A ZooKeeper session, kept alive across connection losses by a background task.
///
/// Cheap to clone: clones share the session (and [`Client::chroot`] gives clones that
/// also share it, under a deeper chroot). When every clone is dropped the connection is
/// closed without closeSession (the server expires the session after its timeout); call
/// [`Client::close`] to end it at once.
///
/// All paths are the client's: the connect string's chroot is added to every path sent
/// and removed from every path received.
#[derive(Debug, Clone)]
pub struct Client {
    tx: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
    chroot: Chroot,
}

/// A queued request's reply, or the error that kept it from being queued.
struct Call {
    rx: std::result::Result<oneshot::Receiver<Result<Response>>, Option<Error>>,
    shared: Arc<Shared>,
}

impl Future for Call {
    type Output = Result<Response>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match &mut this.rx {
            Err(err) => Poll::Ready(Err(err.take().unwrap_or(Error::ConnectionLoss))),
            Ok(rx) => match Pin::new(rx).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Ok(result)) => Poll::Ready(result),
                // The task ended without answering: the session is over.
                Poll::Ready(Err(_)) => Poll::Ready(Err(this.shared.gone_error())),
            },
        }
    }
}

fn request_span(request: &Request, path: &str) -> tracing::Span {
    tracing::debug_span!("zookeeper_request", op = ?request.opcode(), path)
}

impl Client {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Command>,
        shared: Arc<Shared>,
        chroot: Chroot,
    ) -> Client {
        Client { tx, shared, chroot }
    }

    /// Connects with default options; see [`ClientBuilder::connect`].
    ///
    /// ```no_run
    /// # async fn demo() -> ferrokeeper_client::Result<()> {
    /// let client = ferrokeeper_client::Client::connect("127.0.0.1:2181/app").await?;
    /// # let _ = client;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect(connect_string: &str) -> Result<Client> {
        ClientBuilder::default().connect(connect_string).await
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The session id the server assigned.
    pub fn session_id(&self) -> i64 {
        self.shared.session_info().id
    }

    /// The session id and password, to resume the session elsewhere with
    /// [`ClientBuilder::session`].
    pub fn session_info(&self) -> SessionInfo {
        self.shared.session_info()
    }

    /// The session timeout negotiated on the current (or last) connection.
    pub fn session_timeout(&self) -> Duration {
        self.shared.session_timeout()
    }

    /// The zxid of the last reply that carried one: what a reconnect sends as
    /// lastZxidSeen.
    pub fn last_zxid(&self) -> i64 {
        self.shared.last_zxid()
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.shared.state.current()
    }

    /// The current state, then every change; see [`StateStream`].
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) {
    /// use futures::StreamExt;
    /// use ferrokeeper_client::SessionState;
    ///
    /// let mut states = client.state_stream();
    /// while let Some(state) = states.next().await {
    ///     if state == SessionState::Expired {
    ///         // ephemeral nodes and watches are gone: start a new session
    ///     }
    /// }
    /// # }
    /// ```
    pub fn state_stream(&self) -> StateStream {
        self.shared.state.subscribe()
    }

    /// The chroot of this handle (`None` at the server's root).
    pub fn chroot_path(&self) -> Option<&str> {
        self.chroot.as_str()
    }

    /// A handle on the same session whose paths are below `path` (relative to this
    /// handle's own chroot). Watches and results are translated per handle.
    pub fn chroot(&self, path: &str) -> Result<Client> {
        let sub = Chroot::parse(path)?;
        Ok(Client {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
            chroot: self.chroot.join(&sub),
        })
    }

    fn server_path(&self, path: &str) -> Result<String> {
        self.chroot.checked(path)
    }

    /// Queues a session-task command (unless the session refuses work or `command`
    /// could not be built) and resolves with the answer the task sends on `rx`.
    fn queue<T: Send + 'static>(
        &self,
        command: Result<Command>,
        rx: oneshot::Receiver<Result<T>>,
    ) -> impl Future<Output = Result<T>> + Send + use<T> {
        let sent = match (self.shared.refusal(), command) {
            (Some(err), _) | (None, Err(err)) => Err(err),
            (None, Ok(command)) => self.tx.send(command).map_err(|_| self.shared.gone_error()),
        };
        let shared = self.shared.clone();
        async move {
            sent?;
            rx.await.unwrap_or_else(|_| Err(shared.gone_error()))
        }
    }

    /// Queues a request (now, not when the result is polled).
    fn call(&self, request: Request, arming: Option<Arming>, span: tracing::Span) -> Call {
        let shared = self.shared.clone();
        if let Some(err) = self.shared.refusal() {
            return Call {
                rx: Err(Some(err)),
                shared,
            };
        }
        let (reply, rx) = oneshot::channel();
        let command = Command::Request(RequestCommand {
            request,
            reply,
            arming,
            registered: None,
            span,
        });
        match self.tx.send(command) {
            Ok(()) => Call { rx: Ok(rx), shared },
            Err(_) => Call {
                rx: Err(Some(self.shared.gone_error())),
                shared,
            },
        }
    }

    /// Queues a request on `path` (mapped through the chroot by `make`).
    fn path_call(
        &self,
        path: &str,
        make: impl FnOnce(String) -> Request,
        watch: Option<(Kind, Sink, u64)>,
    ) -> (Call, tracing::Span) {
        let server_path = match self.server_path(path) {
            Ok(p) => p,
            Err(e) => {
                let call = Call {
                    rx: Err(Some(e)),
                    shared: self.shared.clone(),
                };
                return (call, tracing::Span::none());
            }
        };
        let arming = watch.map(|(kind, sink, id)| Arming {
            id,
            server_path: server_path.clone(),
            kind,
            sink,
            chroot: self.chroot.clone(),
        });
        let request = make(server_path);
        let span = request_span(&request, path);
        (self.call(request, arming, span.clone()), span)
    }

    fn one_shot(&self) -> (Watch, Sink, u64) {
        let id = self.shared.new_watch_id();
        let (watch, sink) = Watch::new(id, self.tx.downgrade(), self.shared.clone());
        (watch, sink, id)
    }

    /// Creates `path` with a non-TTL `mode` (create2, or createContainer for
    /// [`CreateMode::Container`]). Returns the created path (with the sequence suffix
    /// for sequential modes) and the new node's Stat.
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// use ferrokeeper_client::{CreateMode, open_acl_unsafe};
    /// let (path, stat) = client
    ///     .create("/queue/item-", b"job", &open_acl_unsafe(), CreateMode::PersistentSequential)
    ///     .await?;
    /// assert!(path.starts_with("/queue/item-"));
    /// # let _ = stat;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// A TTL mode fails with [`Error::BadArguments`]: use [`Client::create_ttl`].
    pub fn create(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + use<> {
        let refused = mode.is_ttl().then_some(Error::BadArguments);
        let data = Bytes::copy_from_slice(data);
        let acl = acl.to_vec();
        let (call, span) = self.path_call(
            path,
            |path| {
                let request = CreateRequest {
                    path,
                    data: Some(data),
                    acl,
                    flags: mode.code(),
                };
                if mode.is_container() {
                    Request::CreateContainer(request)
                } else {
                    Request::Create2(request)
                }
            },
            None,
        );
        let chroot = self.chroot.clone();
        async move {
            if let Some(err) = refused {
                return Err(err);
            }
            created(call.await?, &chroot)
        }
        .instrument(span)
    }

    /// Creates `path` with a TTL mode ([`CreateMode::PersistentWithTtl`] or
    /// [`CreateMode::PersistentSequentialWithTtl`]; createTTL): the server may delete
    /// it once it has had no children for `ttl` since its last change. Servers refuse
    /// with [`Error::Unimplemented`] unless `zookeeper.extendedTypesEnabled=true`.
    /// A non-TTL mode or a TTL outside 1 ms ..= 2⁴⁰−1 ms fails with
    /// [`Error::BadArguments`].
    pub fn create_ttl(
        &self,
        path: &str,
        data: &[u8],
        acl: &[Acl],
        mode: CreateMode,
        ttl: Duration,
    ) -> impl Future<Output = Result<(String, Stat)>> + Send + use<> {
        let ttl_ms = ttl.as_millis();
        let refused =
            (!mode.is_ttl() || ttl_ms == 0 || ttl_ms > MAX_TTL_MS).then_some(Error::BadArguments);
        let data = Bytes::copy_from_slice(data);
        let acl = acl.to_vec();
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::CreateTtl(CreateTtlRequest {
                    path,
                    data: Some(data),
                    acl,
                    flags: mode.code(),
                    ttl: i64::try_from(ttl_ms).unwrap_or(i64::MAX),
                })
            },
            None,
        );
        let chroot = self.chroot.clone();
        async move {
            if let Some(err) = refused {
                return Err(err);
            }
            created(call.await?, &chroot)
        }
        .instrument(span)
    }

    /// Deletes `path` if its version is `version` (`None`: any version).
    pub fn delete(
        &self,
        path: &str,
        version: Option<i32>,
    ) -> impl Future<Output = Result<()>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::Delete(DeleteRequest {
                    path,
                    version: version.unwrap_or(-1),
                })
            },
            None,
        );
        async move { call.await.map(drop) }.instrument(span)
    }

    /// The Stat of `path`, or `None` if it does not exist.
    pub fn exists(&self, path: &str) -> impl Future<Output = Result<Option<Stat>>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| Request::Exists(ExistsRequest { path, watch: false }),
            None,
        );
        async move {
            match call.await {
                Ok(response) => stat_of(response).map(Some),
                Err(Error::NoNode) => Ok(None),
                Err(e) => Err(e),
            }
        }
        .instrument(span)
    }

    /// As [`Client::exists`], leaving a [`Watch`] that fires on NodeCreated (if the
    /// node is missing), NodeDataChanged or NodeDeleted.
    pub fn exists_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Option<Stat>, Watch)>> + Send + use<> {
        let (watch, sink, id) = self.one_shot();
        let (call, span) = self.path_call(
            path,
            |path| Request::Exists(ExistsRequest { path, watch: true }),
            Some((Kind::Exist, sink, id)),
        );
        async move {
            match call.await {
                Ok(response) => Ok((Some(stat_of(response)?), watch)),
                Err(Error::NoNode) => Ok((None, watch)),
                Err(e) => Err(e),
            }
        }
        .instrument(span)
    }

    /// The data and Stat of `path` (a node stored with null data reads as empty).
    pub fn get_data(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| Request::GetData(GetDataRequest { path, watch: false }),
            None,
        );
        async move { data_of(call.await?) }.instrument(span)
    }

    /// As [`Client::get_data`], leaving a [`Watch`] that fires on NodeDataChanged or
    /// NodeDeleted. No watch is left when the read fails.
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// let (data, stat, watch) = client.get_data_w("/config").await?;
    /// let event = watch.await?; // NodeDataChanged or NodeDeleted on /config
    /// # let _ = (data, stat, event);
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_data_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Bytes, Stat, Watch)>> + Send + use<> {
        let (watch, sink, id) = self.one_shot();
        let (call, span) = self.path_call(
            path,
            |path| Request::GetData(GetDataRequest { path, watch: true }),
            Some((Kind::Data, sink, id)),
        );
        async move {
            let (data, stat) = data_of(call.await?)?;
            Ok((data, stat, watch))
        }
        .instrument(span)
    }

    /// The ensemble's configuration: the data and Stat of `/zookeeper/config`, as
    /// ZooKeeper's Java client's `getConfig` reads it, at that absolute path whatever
    /// this handle's chroot. A member of an ensemble holds one
    /// `server.<id>=<host>:<quorum port>:<election port>:<role>;<client address>` line
    /// per member and a last `version=<hex>` line; a standalone server leaves it empty.
    /// [`EnsembleConfig::parse`](crate::EnsembleConfig::parse) reads the lines.
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// use ferrokeeper_client::EnsembleConfig;
    /// let (data, _stat) = client.get_config().await?;
    /// for (id, server) in EnsembleConfig::parse(&data)?.servers {
    ///     println!("server {id} serves clients on {:?}", server.client_address());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn get_config(&self) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + use<> {
        let (call, span) = self.config_call(None);
        async move { data_of(call.await?) }.instrument(span)
    }

    /// As [`Client::get_config`], leaving a [`Watch`] that fires when the configuration
    /// changes (a reconfig). Its event's path is `/zookeeper/config`, not translated by
    /// the chroot (the node lies outside any chroot).
    pub fn get_config_w(
        &self,
    ) -> impl Future<Output = Result<(Bytes, Stat, Watch)>> + Send + use<> {
        let (watch, sink, id) = self.one_shot();
        let (call, span) = self.config_call(Some((sink, id)));
        async move {
            let (data, stat) = data_of(call.await?)?;
            Ok((data, stat, watch))
        }
        .instrument(span)
    }

    /// Changes the ensemble's membership (ZooKeeper's `reconfig`; the server needs
    /// `reconfigEnabled=true`, and the session WRITE on `/zookeeper/config`, which by
    /// default only the super user has). Either incremental — `joining` servers
    /// (`server.<id>=<host>:<quorum port>:<election port>[:<role>];<client address>`,
    /// comma-separated) and `leaving` server ids — or the whole new membership in
    /// `new_members` (the others `None`). `from_config`: the configuration version the
    /// change applies to (`Error::BadVersion` if another came first), `None` for any.
    /// Returns the new configuration as [`Client::get_config`] does.
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// let (data, _stat) = client
    ///     .reconfig(Some("server.4=10.0.0.4:2888:3888;2181"), Some("2"), None, None)
    ///     .await?;
    /// println!("{}", String::from_utf8_lossy(&data));
    /// # Ok(())
    /// # }
    /// ```
    pub fn reconfig(
        &self,
        joining: Option<&str>,
        leaving: Option<&str>,
        new_members: Option<&str>,
        from_config: Option<i64>,
    ) -> impl Future<Output = Result<(Bytes, Stat)>> + Send + use<> {
        let request = Request::Reconfig(ferrokeeper_protocol::ReconfigRequest {
            joining_servers: joining.map(str::to_owned),
            leaving_servers: leaving.map(str::to_owned),
            new_members: new_members.map(str::to_owned),
            cur_config_id: from_config.unwrap_or(-1),
        });
        let span = request_span(&request, CONFIG_NODE);
        let call = self.call(request, None, span.clone());
        async move { data_of(call.await?) }.instrument(span)
    }

    /// getData on the config node, never under the chroot (also for the watch, so
    /// that its event keeps the node's own path).
    fn config_call(&self, watch: Option<(Sink, u64)>) -> (Call, tracing::Span) {
        let request = Request::GetData(GetDataRequest {
            path: CONFIG_NODE.to_owned(),
            watch: watch.is_some(),
        });
        let arming = watch.map(|(sink, id)| Arming {
            id,
            server_path: CONFIG_NODE.to_owned(),
            kind: Kind::Data,
            sink,
            chroot: Chroot::default(),
        });
        let span = request_span(&request, CONFIG_NODE);
        (self.call(request, arming, span.clone()), span)
    }

    /// Sets the data of `path` if its version is `version` (`None`: any version);
    /// returns the new Stat.
    pub fn set_data(
        &self,
        path: &str,
        data: &[u8],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + use<> {
        let data = Bytes::copy_from_slice(data);
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::SetData(SetDataRequest {
                    path,
                    data: Some(data),
                    version: version.unwrap_or(-1),
                })
            },
            None,
        );
        async move { stat_of(call.await?) }.instrument(span)
    }

    /// The names of `path`'s children, in the server's order.
    pub fn get_children(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| Request::GetChildren(GetChildrenRequest { path, watch: false }),
            None,
        );
        async move { children_of(call.await?) }.instrument(span)
    }

    /// As [`Client::get_children`], leaving a [`Watch`] that fires on
    /// NodeChildrenChanged or NodeDeleted.
    pub fn get_children_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Watch)>> + Send + use<> {
        let (watch, sink, id) = self.one_shot();
        let (call, span) = self.path_call(
            path,
            |path| Request::GetChildren(GetChildrenRequest { path, watch: true }),
            Some((Kind::Child, sink, id)),
        );
        async move { Ok((children_of(call.await?)?, watch)) }.instrument(span)
    }

    /// The children of `path` and its Stat (getChildren2).
    pub fn get_children2(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat)>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| Request::GetChildren2(GetChildren2Request { path, watch: false }),
            None,
        );
        async move { children2_of(call.await?) }.instrument(span)
    }

    /// As [`Client::get_children2`], leaving a child [`Watch`].
    pub fn get_children2_w(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<String>, Stat, Watch)>> + Send + use<> {
        let (watch, sink, id) = self.one_shot();
        let (call, span) = self.path_call(
            path,
            |path| Request::GetChildren2(GetChildren2Request { path, watch: true }),
            Some((Kind::Child, sink, id)),
        );
        async move {
            let (children, stat) = children2_of(call.await?)?;
            Ok((children, stat, watch))
        }
        .instrument(span)
    }

    /// The ACL of `path` and its Stat. Without ADMIN on the node, servers mask digest
    /// ids (ZOOKEEPER-1392).
    pub fn get_acl(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<(Vec<Acl>, Stat)>> + Send + use<> {
        let (call, span) =
            self.path_call(path, |path| Request::GetAcl(GetAclRequest { path }), None);
        async move {
            match call.await? {
                Response::GetAcl(r) => Ok((r.acl, r.stat)),
                _ => Err(Error::MarshallingError),
            }
        }
        .instrument(span)
    }

    /// Replaces the ACL of `path` if its ACL version (`aversion`) is `version`
    /// (`None`: any); returns the new Stat.
    pub fn set_acl(
        &self,
        path: &str,
        acl: &[Acl],
        version: Option<i32>,
    ) -> impl Future<Output = Result<Stat>> + Send + use<> {
        let acl = acl.to_vec();
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::SetAcl(SetAclRequest {
                    path,
                    acl,
                    version: version.unwrap_or(-1),
                })
            },
            None,
        );
        async move { stat_of(call.await?) }.instrument(span)
    }

    /// Waits until the server this client is connected to has caught up with the
    /// leader (for `path`): a read after it sees every write committed before it.
    pub fn sync(&self, path: &str) -> impl Future<Output = Result<()>> + Send + use<> {
        let (call, span) = self.path_call(path, |path| Request::Sync(SyncRequest { path }), None);
        async move {
            match call.await? {
                Response::Sync(_) => Ok(()),
                _ => Err(Error::MarshallingError),
            }
        }
        .instrument(span)
    }

    /// The ephemeral nodes this session owns whose paths start with `prefix` (a string
    /// prefix, as on the server: `/a` also matches `/ab`). With a chroot, only nodes
    /// inside it are returned, chroot removed.
    pub fn get_ephemerals(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>>> + Send + use<> {
        let (call, span) = self.path_call(
            prefix,
            |prefix_path| Request::GetEphemerals(GetEphemeralsRequest { prefix_path }),
            None,
        );
        let chroot = self.chroot.clone();
        async move {
            match call.await? {
                Response::GetEphemerals(r) => Ok(r
                    .ephemerals
                    .iter()
                    .filter_map(|p| chroot.client_path(p))
                    .collect()),
                _ => Err(Error::MarshallingError),
            }
        }
        .instrument(span)
    }

    /// The number of nodes below `path` (all descendants, not counting `path`).
    pub fn get_all_children_number(
        &self,
        path: &str,
    ) -> impl Future<Output = Result<i32>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| Request::GetAllChildrenNumber(GetAllChildrenNumberRequest { path }),
            None,
        );
        async move {
            match call.await? {
                Response::GetAllChildrenNumber(r) => Ok(r.total_number),
                _ => Err(Error::MarshallingError),
            }
        }
        .instrument(span)
    }

    /// The identities the server holds for this connection (whoAmI), e.g.
    /// `digest:alice` and `ip:127.0.0.1`.
    pub fn whoami(&self) -> impl Future<Output = Result<Vec<ClientInfo>>> + Send + use<> {
        let request = Request::WhoAmI;
        let span = request_span(&request, "");
        let call = self.call(request, None, span.clone());
        async move {
            match call.await? {
                Response::WhoAmI(r) => Ok(r.client_info),
                _ => Err(Error::MarshallingError),
            }
        }
        .instrument(span)
    }

    /// Adds an identity to the session (addAuth), e.g. `("digest", b"alice:secret")`.
    /// It is remembered and sent again after every reconnect. A refusal (unknown
    /// scheme, bad credentials) ends the session with
    /// [`SessionState::AuthFailed`], as in ZooKeeper's Java client.
    pub fn add_auth(
        &self,
        scheme: &str,
        auth: &[u8],
    ) -> impl Future<Output = Result<()>> + Send + use<> {
        let packet = AuthPacket {
            r#type: 0,
            scheme: scheme.to_owned(),
            auth: Bytes::copy_from_slice(auth),
        };
        let (reply, rx) = oneshot::channel();
        self.queue(Ok(Command::Auth { packet, reply }), rx)
    }

    /// Adds a persistent (or, with [`AddWatchMode::PersistentRecursive`], recursive)
    /// watch on `path` and returns its events as a stream; see [`PersistentWatch`].
    ///
    /// ```no_run
    /// # async fn demo(client: ferrokeeper_client::Client) -> ferrokeeper_client::Result<()> {
    /// use futures::StreamExt;
    /// use ferrokeeper_client::AddWatchMode;
    ///
    /// let mut events = client.add_watch("/services", AddWatchMode::PersistentRecursive).await?;
    /// while let Some(event) = events.next().await {
    ///     if event.is_session_event() {
    ///         continue; // Disconnected / SyncConnected: re-read if missed changes matter
    ///     }
    ///     tracing::info!(kind = ?event.event_type, path = event.path, "changed");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn add_watch(
        &self,
        path: &str,
        mode: AddWatchMode,
    ) -> impl Future<Output = Result<PersistentWatch>> + Send + use<> {
        let id = self.shared.new_watch_id();
        let (watch, sink) = PersistentWatch::new(id, path, mode, self.tx.downgrade());
        let kind = match mode {
            AddWatchMode::Persistent => Kind::Persistent,
            AddWatchMode::PersistentRecursive => Kind::PersistentRecursive,
        };
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::AddWatch(AddWatchRequest {
                    path,
                    mode: mode.code(),
                })
            },
            Some((kind, sink, id)),
        );
        async move {
            call.await?;
            Ok(watch)
        }
        .instrument(span)
    }

    /// Removes every watch of `watcher_type` this client holds on `path`, on the server
    /// and locally (ZooKeeper's `removeAllWatches`): `Data` covers getData and exists
    /// watches, `Children` child watches, `Any` those and the persistent and recursive
    /// watches. Removed one-shot [`Watch`]es resolve with `DataWatchRemoved` or
    /// `ChildWatchRemoved`, persistent streams yield `PersistentWatchRemoved` and end.
    /// Fails with [`Error::NoWatcher`] when the client holds no such watch.
    pub fn remove_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<()>> + Send + use<> {
        let (reply, rx) = oneshot::channel();
        let command = self.server_path(path).map(|path| Command::RemoveWatches {
            path,
            watcher_type,
            reply,
        });
        self.queue(command, rx)
    }

    /// Asks the server whether this connection holds a watch of `watcher_type` on
    /// `path` (checkWatches): `Ok` if so, [`Error::NoWatcher`] if not.
    pub fn check_watches(
        &self,
        path: &str,
        watcher_type: WatcherType,
    ) -> impl Future<Output = Result<()>> + Send + use<> {
        let (call, span) = self.path_call(
            path,
            |path| {
                Request::CheckWatches(CheckWatchesRequest {
                    path,
                    r#type: watcher_type.code(),
                })
            },
            None,
        );
        async move { call.await.map(drop) }.instrument(span)
    }

    /// A builder for an atomic multi (create, delete, set_data, check).
    pub fn multi(&self) -> MultiWriter {
        MultiWriter::new(self.clone())
    }

    /// A builder for a multiRead (get_data, get_children; not atomic).
    pub fn multi_read(&self) -> MultiReader {
        MultiReader::new(self.clone())
    }

    pub(crate) fn chroot_ref(&self) -> &Chroot {
        &self.chroot
    }

    pub(crate) fn submit(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response>> + Send + use<> {
        let span = request_span(&request, "");
        self.call(request, None, span.clone()).instrument(span)
    }

    /// Ends the session (closeSession): its ephemeral nodes go at once, its watches
    /// end with [`Error::Closed`]. Later operations, on this handle or its clones,
    /// fail with [`Error::Closed`]. Closing a client whose session already ended
    /// (closed, expired, auth failed) succeeds and changes nothing. While disconnected
    /// the client closes at once, and the server expires the session by itself.
    pub fn close(&self) -> impl Future<Output = Result<()>> + Send + use<> {
        let first = self.shared.begin_close();
        let (reply, rx) = oneshot::channel();
        let sent = first
            && !self.shared.state.current().is_terminal()
            && self.tx.send(Command::Close { reply }).is_ok();
        let shared = self.shared.clone();
        let mut states = (!sent).then(|| shared.state.subscribe());
        async move {
            if sent {
                return rx.await.unwrap_or(Ok(()));
            }
            // Another close is under way (or the session already ended): wait for it.
            if let Some(states) = &mut states {
                use futures::StreamExt;
                while let Some(state) = states.next().await {
                    if state.is_terminal() {
                        break;
                    }
                }
            }
            Ok(())
        }
    }
}

fn created(response: Response, chroot: &Chroot) -> Result<(String, Stat)> {
    match response {
        Response::Create2(r) => Ok((chroot.client_path_lossy(&r.path), r.stat)),
        _ => Err(Error::MarshallingError),
    }
}

fn stat_of(response: Response) -> Result<Stat> {
    match response {
        Response::Stat(stat) => Ok(stat),
        _ => Err(Error::MarshallingError),
    }
}

fn data_of(response: Response) -> Result<(Bytes, Stat)> {
    match response {
        Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
        _ => Err(Error::MarshallingError),
    }
}

fn children_of(response: Response) -> Result<Vec<String>> {
    match response {
        Response::GetChildren(r) => Ok(r.children),
        _ => Err(Error::MarshallingError),
    }
}

fn children2_of(response: Response) -> Result<(Vec<String>, Stat)> {
    match response {
        Response::GetChildren2(r) => Ok((r.children, r.stat)),
        _ => Err(Error::MarshallingError),
    }
}
