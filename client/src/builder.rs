//! [`ClientBuilder`]: the options of a session and the first connection.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use ferrokeeper_protocol::{AuthPacket, FrameCodec};

use crate::client::Client;
use crate::connect_string::ConnectString;
use crate::connection::{self, AttemptError};
use crate::error::{Error, Result};
use crate::reconnect::{Hosts, Jitter};
use crate::session::{Config, Session};
use crate::session_state::SessionState;
use crate::shared::{SessionInfo, Shared};
use crate::tls::TlsConfig;
use ferrokeeper_protocol::sasl::SaslCredentials;

/// Options for [`Client`]; start from [`Client::builder`].
///
/// ```no_run
/// # async fn demo() -> ferrokeeper_client::Result<()> {
/// use ferrokeeper_client::Client;
/// use std::time::Duration;
///
/// let client = Client::builder()
///     .session_timeout(Duration::from_secs(10))
///     .connection_timeout(Duration::from_secs(3))
///     .digest_auth("alice", "secret")
///     .connect("zk1:2181,zk2:2181,zk3:2181/app")
///     .await?;
/// # let _ = client;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    session_timeout: Duration,
    connection_timeout: Duration,
    max_frame_len: usize,
    auths: Vec<AuthPacket>,
    read_only: bool,
    client_side_expiry: bool,
    session: Option<SessionInfo>,
    shuffle_hosts: bool,
    tls: Option<TlsConfig>,
    sasl: Option<Arc<SaslCredentials>>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Auth data are credentials: show the schemes only.
        let schemes: Vec<&str> = self.auths.iter().map(|a| a.scheme.as_str()).collect();
        f.debug_struct("ClientBuilder")
            .field("session_timeout", &self.session_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("max_frame_len", &self.max_frame_len)
            .field("auth_schemes", &schemes)
            .field("read_only", &self.read_only)
            .field("client_side_expiry", &self.client_side_expiry)
            .field("session", &self.session)
            .field("shuffle_hosts", &self.shuffle_hosts)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            session_timeout: Duration::from_secs(30),
            connection_timeout: Duration::from_secs(10),
            max_frame_len: ferrokeeper_protocol::DEFAULT_MAX_FRAME_LEN,
            auths: Vec::new(),
            read_only: false,
            client_side_expiry: false,
            session: None,
            shuffle_hosts: true,
            tls: None,
            sasl: None,
        }
    }
}

impl ClientBuilder {
    /// The session timeout to ask for (the server clamps it to its min/max; the
    /// negotiated one is [`Client::session_timeout`]). Default 30 s.
    pub fn session_timeout(mut self, timeout: Duration) -> Self {
        self.session_timeout = timeout;
        self
    }

    /// How long one connection attempt (TCP connect, handshake, auth replies) may take
    /// before the next host is tried; also how long an operation called while
    /// disconnected waits for a connection before failing with
    /// [`Error::ConnectionLoss`]. Default 10 s.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// The largest reply frame accepted (default: `jute.maxbuffer` plus headers).
    pub fn max_frame_len(mut self, len: usize) -> Self {
        self.max_frame_len = len;
        self
    }

    /// Adds an auth packet sent after every handshake, before anything else (as
    /// `addAuthInfo` in ZooKeeper's Java client). A refusal ends the session with
    /// [`SessionState::AuthFailed`].
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Self {
        self.auths.push(AuthPacket {
            r#type: 0,
            scheme: scheme.to_owned(),
            auth: Bytes::copy_from_slice(auth),
        });
        self
    }

    /// `auth("digest", "user:password")`.
    pub fn digest_auth(self, user: &str, password: &str) -> Self {
        let auth = format!("{user}:{password}");
        self.auth("digest", auth.as_bytes())
    }

    /// Connects with TLS (ZooKeeper's `zookeeper.client.secure=true`): to the servers'
    /// secure client port (`secureClientPort`), with the CAs, client certificate and
    /// hostname verification of `tls`. See [`crate::tls`].
    ///
    /// A TLS failure (a certificate the CAs do not vouch for or that does not name the
    /// server, a server that needs a client certificate and got none, a plain-text
    /// port) makes the first [`ClientBuilder::connect`] fail with [`Error::Tls`] when no
    /// host could be reached; after a connection was made, it counts as a failed
    /// reconnect attempt (logged at warn level) and the client keeps trying.
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Authenticates with SASL DIGEST-MD5 as `user` (ZooKeeper's Java client with a JAAS
    /// `Client` section holding `username` and `password`; the server's JAAS `Server`
    /// section must have `user_<user>="<password>"`). The session then has the id
    /// `sasl:<user>`, for ACLs such as `sasl:bob` (see [`Client::whoami`]).
    ///
    /// The exchange runs right after each handshake, on the first connection and on
    /// every reconnect, before auth packets, watches and any request, as the Java
    /// client does it. A refusal (wrong password, unknown user, a server without SASL, a
    /// server whose `rspauth` shows it does not know the password) fails
    /// [`ClientBuilder::connect`] with [`Error::AuthFailed`], or ends an established
    /// session in [`SessionState::AuthFailed`]; the reason is logged at warn level.
    /// Combine with [`ClientBuilder::tls`] unless the network is trusted: DIGEST-MD5
    /// protects the password, not the traffic.
    pub fn sasl_digest_md5(mut self, user: &str, password: &str) -> Self {
        self.sasl = Some(Arc::new(SaslCredentials::new(user, password)));
        self
    }

    /// Allows read-only servers (ZooKeeper's `canBeReadOnly`: the ConnectRequest says
    /// readOnly=true). A server in read-only mode (`readonlymode.enabled`, cut off from
    /// its quorum) then accepts the session: the state is [`SessionState::ReadOnly`]
    /// (ZooKeeper's `ConnectedReadOnly`), reads are served from that server's tree and
    /// writes fail with [`Error::NotReadOnly`]. Default false.
    ///
    /// While read-only, the client looks for a read-write server among the other hosts
    /// of the connect string, as ZooKeeper's Java client does: it sends the four-letter
    /// word `isro` to each (after 100 ms, then at waits doubling after each round up to
    /// 60 s) and moves to the first that answers `rw`. Moving drops the read-only
    /// connection (requests in flight fail with [`Error::ConnectionLoss`], the state
    /// goes through [`SessionState::Disconnected`]) and connects there.
    ///
    /// A session that was only ever served read-only is a *local* session of its
    /// server, which no other server knows. So, as the Java client (`seenRwServerBefore`),
    /// until the session has once been on a read-write server every reconnect asks for
    /// a new session: [`Client::session_id`] changes, watches are re-registered on the
    /// new session. A session that was on a read-write server keeps its id; a read-only
    /// ZooKeeper 3.8 server refuses to resume it ("Refusing global session
    /// reconnection in RO mode"), so it just goes on reconnecting until a read-write
    /// server takes it back. A session passed to [`ClientBuilder::session`] counts as
    /// seen read-write.
    pub fn read_only(mut self, allowed: bool) -> Self {
        self.read_only = allowed;
        self
    }

    /// Ends the session as [`SessionState::Expired`] on the client's own clock once no
    /// server has been heard from for 4/3 of the negotiated session timeout, instead
    /// of reconnecting until a server says the session expired (ZooKeeper 3.9's Java
    /// client, ZOOKEEPER-4508). Default false, as in ZooKeeper 3.8's clients.
    ///
    /// The clock starts at the last frame received (a reply, an event or a ping's
    /// answer); the read timeout (2/3 of the session timeout) has declared the
    /// connection lost well before. By 4/3 of the timeout the servers, if any could see
    /// the session, have expired it: the ephemerals are gone and the caller should
    /// start over with a new session, as after a server-reported expiry. With the option
    /// off, a client cut off from every server stays [`SessionState::Disconnected`] for
    /// as long as that lasts, and learns of the expiry only when a server answers.
    pub fn client_side_expiry(mut self, enabled: bool) -> Self {
        self.client_side_expiry = enabled;
        self
    }

    /// Resumes an existing session (from [`Client::session_info`]) instead of creating
    /// one. Connecting fails with [`Error::SessionExpired`] if it is gone.
    pub fn session(mut self, session: SessionInfo) -> Self {
        self.session = Some(session);
        self
    }

    /// Whether to try the connect string's hosts in a random order (default true, as
    /// ZooKeeper's clients do, to spread sessions). False keeps the given order, which
    /// makes tests deterministic.
    pub fn shuffle_hosts(mut self, shuffle: bool) -> Self {
        self.shuffle_hosts = shuffle;
        self
    }

    /// Connects to `connect_string` (`host:port[,host:port...][/chroot]`): tries each
    /// host once, in random order unless [`ClientBuilder::shuffle_hosts`] is off, and
    /// returns once one accepts the session and every auth packet. After that the
    /// client reconnects on its own.
    ///
    /// Fails with [`Error::BadArguments`] for an unusable connect string,
    /// [`Error::SessionExpired`] when resuming a session that is gone,
    /// [`Error::AuthFailed`] when an auth packet or the SASL exchange is refused,
    /// [`Error::Tls`] when no host could be reached and TLS failed with at least one
    /// (the first such failure), and [`Error::ConnectionLoss`] when no host answers.
    pub fn connect(
        &self,
        connect_string: &str,
    ) -> impl Future<Output = Result<Client>> + Send + use<> {
        let builder = self.clone();
        let parsed = ConnectString::parse(connect_string);
        async move { builder.establish(parsed?).await }
    }

    async fn establish(self, connect_string: ConnectString) -> Result<Client> {
        let ConnectString { mut hosts, chroot } = connect_string;
        let mut jitter = Jitter::new();
        if self.shuffle_hosts {
            jitter.shuffle(&mut hosts);
        }
        let config = Config {
            session_timeout: self.session_timeout,
            connection_timeout: self.connection_timeout,
            read_only: self.read_only,
            client_side_expiry: self.client_side_expiry,
            codec: FrameCodec::new(self.max_frame_len),
            tls: self.tls.clone(),
            sasl: self.sasl.clone(),
        };
        let (session_id, password) = match &self.session {
            Some(info) => (info.id, info.password.clone()),
            None => (0, Bytes::from_static(&[0; 16])),
        };
        let handshake = config.handshake(session_id, password, 0, self.auths.clone(), 1);
        let mut tls_failure = None;
        for (index, host) in hosts.iter().enumerate() {
            match connection::attempt(host.clone(), handshake.clone()).await {
                Ok(conn) => {
                    let info = SessionInfo {
                        id: conn.response.session_id,
                        password: conn.response.passwd.clone(),
                    };
                    let timeout = Duration::from_millis(
                        u64::try_from(conn.response.timeout).unwrap_or_default(),
                    );
                    let state = if conn.read_only() {
                        SessionState::ReadOnly
                    } else {
                        SessionState::Connected
                    };
                    tracing::debug!(host, session = ?info, ?timeout, "session established");
                    let shared = Arc::new(Shared::new(info, timeout, state));
                    let (tx, rx) = mpsc::unbounded_channel();
                    let hosts = Hosts::new(hosts.clone(), index, jitter);
                    // A session handed in was made elsewhere, presumably read-write.
                    let seen_read_write = self.session.is_some() || !conn.read_only();
                    let session = Session::new(
                        shared.clone(),
                        config,
                        rx,
                        hosts,
                        self.auths.clone(),
                        seen_read_write,
                    );
                    tokio::spawn(session.run(conn));
                    return Ok(Client::new(tx, shared, chroot));
                }
                Err(AttemptError::Failed(why)) => tracing::debug!(host, "connect failed: {why}"),
                Err(AttemptError::Tls(why)) => {
                    tracing::warn!(host, "connect failed: {why}");
                    tls_failure.get_or_insert(format!("{host}: {why}"));
                }
                Err(AttemptError::Expired) => return Err(Error::SessionExpired),
                Err(AttemptError::AuthFailed) => return Err(Error::AuthFailed),
            }
        }
        // A TLS problem is the likelier reason than a host that was down: say so.
        Err(tls_failure.map_or(Error::ConnectionLoss, Error::Tls))
    }
}
