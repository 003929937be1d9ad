//! Mesos-style group membership and leader election (Mesos's `zookeeper::Group`,
//! `LeaderContender` and `LeaderDetector`).
//!
//! Members are EPHEMERAL_SEQUENTIAL children of the group node named
//! `<label>_NNNNNNNNNN`, or `NNNNNNNNNN` without a label. Every child whose name,
//! split on `_`, ends in a number is a member, whatever its label; other children
//! (such as Mesos's `log_replicas`) are ignored. The leader is the member with the
//! lowest sequence number. Everyone watches the group's children.
//!
//! A [`Group`] runs one background task per group that owns the group's session: it
//! lists the children (with a child watch) after every change and every reconnect, and
//! publishes the member set. When the session expires, or stays disconnected for a whole
//! session timeout (Mesos's local expiry), every membership of that session is lost,
//! watchers see an empty group, and a group made from [`Sessions::new`] starts a new
//! session.

mod detector;
mod membership;
mod task;

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::recipes::Lost;
use crate::recipes::util::{
    check_dir, child_path, create_parents, node_name, until_lost, wait_connected,
};
use crate::{
    Acl, Client, ClientBuilder, CreateMode, Error, Result, SessionState, Watch, open_acl_unsafe,
};

pub use detector::{Leader, LeaderDetector};
pub use membership::Membership;
use task::run;

/// The first wait before trying again to connect or to list the group; doubles up to
/// [`RETRY_MAX`] (Mesos waits 2 s doubling to 60 s; a coordination recipe wants to be
/// back sooner).
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How many times a join is tried again after a lost connection or session.
const JOIN_RETRIES: usize = 10;

/// Where a [`Group`] gets its sessions.
#[derive(Debug, Clone)]
pub struct Sessions {
    kind: SessionsKind,
}

#[derive(Debug, Clone)]
enum SessionsKind {
    /// A new session from `builder` at the start and after each expiry.
    Builder {
        builder: ClientBuilder,
        connect_string: String,
    },
    /// This session only: the group ends with it.
    Fixed(Client),
}

impl Sessions {
    /// Sessions made by `builder.connect(connect_string)`: one now, a new one after
    /// each expiry (and after each local timeout). Connection failures are retried
    /// with a backoff.
    pub fn new(builder: ClientBuilder, connect_string: &str) -> Sessions {
        Sessions {
            kind: SessionsKind::Builder {
                builder,
                connect_string: connect_string.to_owned(),
            },
        }
    }

    /// As [`Sessions::new`] with default client options.
    pub fn connect_string(connect_string: &str) -> Sessions {
        Sessions::new(ClientBuilder::default(), connect_string)
    }

    /// This client's session only. When it expires (or stays disconnected for its
    /// timeout, in which case the group closes the client) the group ends.
    pub fn fixed(client: Client) -> Sessions {
        Sessions {
            kind: SessionsKind::Fixed(client),
        }
    }
}

impl From<Client> for Sessions {
    fn from(client: Client) -> Sessions {
        Sessions::fixed(client)
    }
}

/// A member of a group, as parsed from its node name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Member {
    sequence: i32,
    name: String,
    label: Option<String>,
}

impl Member {
    /// Mesos's parsing (`group.cpp`): split on `_`, dropping empty tokens; the label is
    /// the first token when there are several; the sequence is the last token, which
    /// must be a 32-bit integer.
    pub fn parse(name: &str) -> Option<Member> {
        let tokens: Vec<&str> = name.split('_').filter(|t| !t.is_empty()).collect();
        let sequence = tokens.last()?.parse::<i32>().ok()?;
        let label = (tokens.len() > 1).then(|| tokens[0].to_owned());
        Some(Member {
            sequence,
            name: name.to_owned(),
            label,
        })
    }

    /// The sequence number: the member's identity within its group.
    pub fn sequence(&self) -> i32 {
        self.sequence
    }

    /// The label (`json.info` for a Mesos master), if any.
    pub fn label(&self) -> Option<&str> {
        self.label.as_deref()
    }

    /// The node's name (not its path).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What the group task publishes.
#[derive(Debug, Clone, Default)]
struct View {
    /// The members of the last listing, sorted by sequence (`None` until the first).
    members: Option<Arc<Vec<Member>>>,
    /// Whether the group's session is connected now.
    connected: bool,
    /// The session the listing was made with (0 between sessions).
    session_id: i64,
    /// The group was closed: nothing more will be published.
    closed: bool,
}

#[derive(Debug)]
struct Owned {
    /// The listing generation when the membership was registered: only listings
    /// started after it can show that its node is gone.
    registered: u64,
    lost: watch::Sender<Option<Lost>>,
}

#[derive(Debug, Default)]
struct State {
    client: Option<Client>,
    generation: u64,
    /// Memberships held by this process, by (session id, sequence).
    owned: HashMap<(i64, i32), Owned>,
}

#[derive(Debug)]
struct GroupState {
    path: String,
    acl: Vec<Acl>,
    view: watch::Sender<View>,
    state: Mutex<State>,
    shutdown: CancellationToken,
}

impl GroupState {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn client(&self) -> Option<Client> {
        self.lock().client.clone()
    }

    fn next_generation(&self) -> u64 {
        let mut state = self.lock();
        state.generation += 1;
        state.generation
    }

    /// Publishes a listing made with `session` that started at `generation`.
    fn apply(&self, generation: u64, session: i64, children: &[String]) {
        let mut members: Vec<Member> = children.iter().filter_map(|c| Member::parse(c)).collect();
        members.sort();
        {
            let mut state = self.lock();
            state.owned.retain(|(owner, sequence), owned| {
                let gone = *owner == session
                    && owned.registered < generation
                    && !members.iter().any(|m| m.sequence == *sequence);
                if gone {
                    tracing::info!(group = self.path, sequence, "membership lost: node deleted");
                    owned.lost.send_replace(Some(Lost::NodeDeleted));
                }
                !gone
            });
        }
        self.view.send_if_modified(|view| {
            if view.members.as_deref() == Some(&members) {
                false
            } else {
                view.members = Some(Arc::new(members));
                true
            }
        });
    }

    /// Every membership is lost (the session ended) and the group looks empty.
    fn end_session(&self, why: Lost) {
        {
            let mut state = self.lock();
            state.client = None;
            for (_, owned) in state.owned.drain() {
                owned.lost.send_replace(Some(why));
            }
        }
        self.view.send_modify(|view| {
            view.members = Some(Arc::new(Vec::new()));
            view.connected = false;
            view.session_id = 0;
        });
    }
}

/// Cancels the group task when the last [`Group`] handle (counting those inside
/// memberships and detectors) goes.
#[derive(Debug)]
struct TaskGuard(CancellationToken);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A Mesos-style group: members join with data (and an optional label), and everyone
/// can follow the member set ([`Group::members`]) and its leader ([`LeaderDetector`]).
///
/// Cheap to clone. The group's task (and, for [`Sessions::new`], its session) ends when
/// [`Group::close`] is called or the last handle — including those held by
/// [`Membership`]s and [`LeaderDetector`]s — is dropped.
///
/// ```no_run
/// # async fn demo() -> ferrokeeper_client::Result<()> {
/// use futures::StreamExt;
/// use ferrokeeper_client::recipes::{Group, LeaderDetector, Sessions};
///
/// let group = Group::new(Sessions::connect_string("127.0.0.1:2181"), "/mesos")?;
/// let me = group.join(br#"{"id":"m1"}"#, Some("json.info")).await?;
/// let mut detector = LeaderDetector::new(&group);
/// while let Some(leader) = detector.next().await {
///     match leader {
///         Some(leader) if leader.member == *me.member() => tracing::info!("elected"),
///         Some(leader) => tracing::info!(leader = leader.member.name(), "following"),
///         None => tracing::info!("no leader"),
///     }
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Group {
    inner: Arc<GroupState>,
    _task: Arc<TaskGuard>,
}

impl Group {
    /// Starts following the group at `path` (created, with its ancestors, as
    /// persistent nodes if missing) with sessions from `sessions`; member nodes get
    /// the open ACL. Must be called within a tokio runtime.
    pub fn new(sessions: impl Into<Sessions>, path: &str) -> Result<Group> {
        Group::with_acl(sessions, path, &open_acl_unsafe())
    }

    /// As [`Group::new`], creating the group's nodes and its members' with `acl`
    /// (Mesos uses `[READ world:anyone, ALL auth]` with digest credentials).
    pub fn with_acl(sessions: impl Into<Sessions>, path: &str, acl: &[Acl]) -> Result<Group> {
        let path = check_dir(path)?;
        let (view, _) = watch::channel(View::default());
        let shutdown = CancellationToken::new();
        let inner = Arc::new(GroupState {
            path,
            acl: acl.to_vec(),
            view,
            state: Mutex::new(State::default()),
            shutdown: shutdown.clone(),
        });
        tokio::spawn(run(inner.clone(), sessions.into()));
        Ok(Group {
            inner,
            _task: Arc::new(TaskGuard(shutdown)),
        })
    }

    /// The group node's path.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The group's current session, if it has one now.
    pub fn client(&self) -> Option<Client> {
        self.inner.client()
    }

    /// The members of the last listing, sorted by sequence (`None` before the first).
    pub fn members_now(&self) -> Option<Vec<Member>> {
        self.inner.view.borrow().members.as_deref().cloned()
    }

    /// The member set: the current one as soon as it is known, then every change.
    /// An expired (or locally timed-out) session shows as an empty set, as in Mesos.
    /// Ends when the group is closed.
    ///
    /// ```no_run
    /// # async fn demo() -> ferrokeeper_client::Result<()> {
    /// use futures::StreamExt;
    /// use ferrokeeper_client::recipes::{Group, Sessions};
    ///
    /// let group = Group::new(Sessions::connect_string("127.0.0.1:2181"), "/workers")?;
    /// let _me = group.join(b"worker-1", Some("worker")).await?;
    /// let mut members = group.members();
    /// while let Some(set) = members.next().await {
    ///     let names: Vec<&str> = set.iter().map(|m| m.name()).collect();
    ///     tracing::info!(?names, "members changed");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn members(&self) -> MemberStream {
        let rx = self.inner.view.subscribe();
        let stream = futures::stream::unfold((rx, None), |(mut rx, last)| async move {
            loop {
                let (members, closed) = {
                    let view = rx.borrow_and_update();
                    (view.members.clone(), view.closed)
                };
                if let Some(members) = members
                    && last.as_ref() != Some(&members)
                {
                    let set = members.as_ref().clone();
                    return Some((set, (rx, Some(members))));
                }
                if closed || rx.changed().await.is_err() {
                    return None;
                }
            }
        });
        MemberStream {
            inner: stream.boxed(),
        }
    }

    /// The data of `member` (read now).
    pub async fn data(&self, member: &Member) -> Result<Bytes> {
        let client = self.inner.client().ok_or(Error::ConnectionLoss)?;
        let (data, _) = client
            .get_data(&child_path(&self.inner.path, member.name()))
            .await?;
        Ok(data)
    }

    /// Joins the group: creates `<path>/<label>_` (or `<path>/` without a label) as
    /// EPHEMERAL_SEQUENTIAL with `data`. Waits for a session if the group has none
    /// now. A label must be non-empty without `/` or `_` ([`Error::BadArguments`]).
    ///
    /// A create whose reply was lost with the connection is recovered: once the
    /// session is back, the session's own ephemerals in the group (getEphemerals) are
    /// checked for a member that no membership holds with this label and data, and
    /// that node is adopted instead of creating a second one.
    pub async fn join(&self, data: &[u8], label: Option<&str>) -> Result<Membership> {
        if let Some(label) = label
            && (label.is_empty() || label.contains(['/', '_']))
        {
            return Err(Error::BadArguments);
        }
        let inner = &self.inner;
        let prefix = match label {
            Some(label) => child_path(&inner.path, &format!("{label}_")),
            None if inner.path == "/" => "/".to_owned(),
            None => format!("{}/", inner.path),
        };
        let mut last_error = Error::ConnectionLoss;
        for _ in 0..JOIN_RETRIES {
            let client = self.wait_client().await?;
            let session = client.session_id();
            match client
                .create(&prefix, data, &inner.acl, CreateMode::EphemeralSequential)
                .await
            {
                Ok((created, _)) => return self.register(session, &created),
                Err(Error::NoNode) => {
                    create_parents(&client, &inner.path, &inner.acl, CreateMode::Persistent)
                        .await?;
                }
                Err(Error::ConnectionLoss) => {
                    if wait_connected(&client).await.is_ok()
                        && let Some(found) = self.find_lost_create(&client, &prefix, data).await?
                    {
                        tracing::debug!(
                            path = found,
                            "adopted a member whose create reply was lost"
                        );
                        return self.register(session, &found);
                    }
                    last_error = Error::ConnectionLoss;
                }
                // The session ended: the group gets a new one (unless it is closed).
                Err(e @ (Error::SessionExpired | Error::Closed | Error::AuthFailed)) => {
                    last_error = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error)
    }

    /// The group's session, waiting for one if there is none now.
    async fn wait_client(&self) -> Result<Client> {
        let mut rx = self.inner.view.subscribe();
        loop {
            if let Some(client) = self.inner.client()
                && !client.state().is_terminal()
            {
                return Ok(client);
            }
            if rx.borrow_and_update().closed {
                return Err(Error::Closed);
            }
            if rx.changed().await.is_err() {
                return Err(Error::Closed);
            }
        }
    }

    /// An ephemeral of this session under the group, created with `prefix` and `data`,
    /// that no membership holds.
    async fn find_lost_create(
        &self,
        client: &Client,
        prefix: &str,
        data: &[u8],
    ) -> Result<Option<String>> {
        let session = client.session_id();
        let dir = format!("{}/", self.inner.path.trim_end_matches('/'));
        for path in client.get_ephemerals(&dir).await? {
            let Some(rest) = path.strip_prefix(&dir) else {
                continue;
            };
            if rest.contains('/') || !path.starts_with(prefix) {
                continue;
            }
            let Some(member) = Member::parse(rest) else {
                continue;
            };
            if self
                .inner
                .lock()
                .owned
                .contains_key(&(session, member.sequence))
            {
                continue;
            }
            match client.get_data(&path).await {
                Ok((found, _)) if found[..] == *data => return Ok(Some(path)),
                Ok(_) | Err(Error::NoNode) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    fn register(&self, session: i64, created: &str) -> Result<Membership> {
        let member = Member::parse(node_name(created)).ok_or(Error::MarshallingError)?;
        let (tx, rx) = watch::channel(None);
        {
            let mut state = self.inner.lock();
            let current = state.client.as_ref().map(Client::session_id);
            if current == Some(session) {
                let registered = state.generation;
                state.owned.insert(
                    (session, member.sequence),
                    Owned {
                        registered,
                        lost: tx,
                    },
                );
            } else {
                // The session ended while the reply was on its way.
                tx.send_replace(Some(Lost::SessionExpired));
            }
        }
        tracing::info!(group = self.inner.path, member = member.name, "joined");
        Ok(Membership {
            group: self.clone(),
            path: child_path(&self.inner.path, &member.name),
            member,
            session,
            lost: rx,
            done: false,
        })
    }

    /// Ends the group: its task stops, its memberships are lost ([`Lost::Closed`]) and,
    /// for [`Sessions::new`], its session is closed (so its nodes go at once). Member
    /// streams and detectors end.
    pub async fn close(&self) {
        self.inner.shutdown.cancel();
        let mut rx = self.inner.view.subscribe();
        while !rx.borrow_and_update().closed {
            if rx.changed().await.is_err() {
                break;
            }
        }
    }
}

/// A stream of member sets; see [`Group::members`].
pub struct MemberStream {
    inner: BoxStream<'static, Vec<Member>>,
}

impl std::fmt::Debug for MemberStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberStream").finish_non_exhaustive()
    }
}

impl Stream for MemberStream {
    type Item = Vec<Member>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Vec<Member>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesos_member_names() {
        let m = Member::parse("json.info_0000000012").expect("member");
        assert_eq!((m.sequence(), m.label()), (12, Some("json.info")));
        let m = Member::parse("0000000003").expect("member");
        assert_eq!((m.sequence(), m.label()), (3, None));
        assert_eq!(Member::parse("log_replicas"), None);
        assert_eq!(Member::parse("_c_1234-lock-0000000001"), None);
        assert_eq!(
            Member::parse("a_b_0000000007").and_then(|m| m.label.clone()),
            Some("a".into())
        );
        assert_eq!(Member::parse("x_99999999999"), None, "beyond int32");
        let mut v = [
            Member::parse("info_0000000005").expect("m"),
            Member::parse("0000000002").expect("m"),
        ];
        v.sort();
        assert_eq!(v[0].sequence(), 2);
    }
}
