//! Requests served from this server's state: reads, watch management, ping, sync.
//! Each runs under the core lock and queues its reply before releasing it.

use ferrokeeper_protocol::{
    AddWatchMode, ClientInfo, ErrorCode, ErrorResponse, GetAclResponse,
    GetAllChildrenNumberResponse, GetChildren2Response, GetChildrenResponse, GetDataResponse,
    GetEphemeralsResponse, Id, MultiOp, MultiResponse, MultiResult, ReplyFrame, ReplyHeader,
    Request, Response, SetSaslResponse, SetWatches2, SyncResponse, WatcherType, WhoAmIResponse,
    perms, xid,
};

use super::{Core, CoreState};
use crate::proposal::ConnId;
use crate::tree::acl;
use crate::watch::{NodeZxids, ResetWatches, WatchKind, WatchRegistry};

/// Who is asking.
#[derive(Debug, Clone)]
pub struct ReadContext {
    pub conn: ConnId,
    pub session: i64,
    /// The connection's authenticated ids (always including `ip:<addr>`).
    pub auth: Vec<Id>,
}

type Reply = Result<Response, ErrorCode>;

fn check(inner: &CoreState, path: &str, perm: i32, auth: &[Id]) -> Result<(), ErrorCode> {
    let node_acl = inner.zk.tree().acl(path).ok_or(ErrorCode::NoNode)?;
    if acl::check(node_acl, perm, auth) {
        Ok(())
    } else {
        Err(ErrorCode::NoAuth)
    }
}

/// Arms a watch for `conn`; past its limit of watched paths the request fails with
/// QuotaExceeded (the clearest code ZooKeeper's clients know for "too many"), logged.
fn arm(inner: &mut CoreState, path: &str, conn: ConnId, kind: WatchKind) -> Result<(), ErrorCode> {
    inner.watches.try_add(path, conn, kind).map_err(|_| {
        tracing::warn!(
            conn,
            path,
            "a connection at its limit of watched paths; watch refused"
        );
        ErrorCode::QuotaExceeded
    })
}

fn get_data(inner: &mut CoreState, ctx: &ReadContext, path: &str, watch: bool) -> Reply {
    let node = lookup_path(path);
    check(inner, node, perms::READ, &ctx.auth)?;
    let (data, stat) = inner.zk.tree().get_data(node)?;
    if watch {
        arm(inner, path, ctx.conn, WatchKind::Data)?;
    }
    Ok(Response::GetData(GetDataResponse { data, stat }))
}

fn get_children(
    inner: &mut CoreState,
    ctx: &ReadContext,
    path: &str,
    watch: bool,
) -> Result<(Vec<String>, ferrokeeper_protocol::Stat), ErrorCode> {
    let node = lookup_path(path);
    check(inner, node, perms::READ, &ctx.auth)?;
    let (children, stat) = inner.zk.tree().get_children(node)?;
    if watch {
        arm(inner, path, ctx.conn, WatchKind::Child)?;
    }
    Ok((children, stat))
}

fn exists(inner: &mut CoreState, ctx: &ReadContext, path: &str, watch: bool) -> Reply {
    // A missing node arms the watch (it fires on create); an existing one needs READ
    // first, as in ZooKeeper 3.8.4+, and a denied exists arms nothing.
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    let node = lookup_path(path);
    let stat = match inner.zk.tree().stat(node) {
        Ok(stat) => stat,
        Err(code) => {
            if watch {
                arm(inner, path, ctx.conn, WatchKind::Data)?;
            }
            return Err(code);
        }
    };
    check(inner, node, perms::READ, &ctx.auth)?;
    if watch {
        arm(inner, path, ctx.conn, WatchKind::Data)?;
    }
    Ok(Response::Stat(stat))
}

fn get_acl(inner: &CoreState, ctx: &ReadContext, path: &str) -> Reply {
    let path = lookup_path(path);
    let node_acl = inner.zk.tree().acl(path).ok_or(ErrorCode::NoNode)?;
    let can_admin = acl::check(node_acl, perms::ADMIN, &ctx.auth);
    if !can_admin && !acl::check(node_acl, perms::READ, &ctx.auth) {
        return Err(ErrorCode::NoAuth);
    }
    let (mut list, stat) = inner.zk.tree().get_acl(path)?;
    if !can_admin {
        // ZOOKEEPER-1392: without ADMIN, digest hashes are hidden.
        list = acl::mask_digests(&list);
    }
    Ok(Response::GetAcl(GetAclResponse { acl: list, stat }))
}

fn who_am_i(auth: &[Id]) -> Response {
    let client_info = auth
        .iter()
        .filter(|id| id.scheme != "super")
        .map(|id| ClientInfo {
            auth_scheme: id.scheme.clone(),
            // Only the user name of a digest id is reported, never the hash.
            user: if id.scheme == "digest" {
                id.id.split(':').next().unwrap_or_default().to_owned()
            } else {
                id.id.clone()
            },
        })
        .collect();
    Response::WhoAmI(WhoAmIResponse { client_info })
}

fn multi_read(inner: &mut CoreState, ctx: &ReadContext, ops: &[MultiOp]) -> Response {
    // Not atomic: every op stands alone.
    let results = ops
        .iter()
        .map(|op| match op {
            MultiOp::GetData(r) => match get_data(inner, ctx, &r.path, false) {
                Ok(Response::GetData(d)) => MultiResult::GetData(d),
                Ok(_) => MultiResult::Error(ErrorCode::SystemError.code()),
                Err(code) => MultiResult::Error(code.code()),
            },
            MultiOp::GetChildren(r) => match get_children(inner, ctx, &r.path, false) {
                Ok((children, _)) => MultiResult::GetChildren(GetChildrenResponse { children }),
                Err(code) => MultiResult::Error(code.code()),
            },
            _ => MultiResult::Error(ErrorCode::MarshallingError.code()),
        })
        .collect();
    Response::Multi(MultiResponse { results })
}

/// ZooKeeper fails on an unknown watcher type or a path that is not absolute deep in
/// its watch manager, which surfaces as MarshallingError.
fn watcher_type(code: i32, path: &str) -> Result<WatcherType, ErrorCode> {
    if !path.starts_with('/') {
        return Err(ErrorCode::MarshallingError);
    }
    WatcherType::from_code(code).ok_or(ErrorCode::MarshallingError)
}

/// ZooKeeper keeps the root under "" too, so reads of "" see the root.
fn lookup_path(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

fn answer(inner: &mut CoreState, ctx: &ReadContext, request: Request) -> Reply {
    match request {
        Request::Exists(r) => exists(inner, ctx, &r.path, r.watch),
        Request::GetData(r) => get_data(inner, ctx, &r.path, r.watch),
        Request::GetChildren(r) => get_children(inner, ctx, &r.path, r.watch)
            .map(|(children, _)| Response::GetChildren(GetChildrenResponse { children })),
        Request::GetChildren2(r) => {
            get_children(inner, ctx, &r.path, r.watch).map(|(children, stat)| {
                Response::GetChildren2(GetChildren2Response { children, stat })
            })
        }
        Request::GetAcl(r) => get_acl(inner, ctx, &r.path),
        Request::GetAllChildrenNumber(r) => {
            let node = lookup_path(&r.path);
            check(inner, node, perms::READ, &ctx.auth)?;
            let total_number = if r.path.is_empty() {
                // ZooKeeper counts keys starting with "/" for "": every node but the
                // root's "" entry, one more than for "/".
                i32::try_from(inner.zk.tree().node_count().saturating_sub(1)).unwrap_or(i32::MAX)
            } else {
                inner.zk.tree().get_all_children_number(node)?
            };
            Ok(Response::GetAllChildrenNumber(
                GetAllChildrenNumberResponse { total_number },
            ))
        }
        Request::GetEphemerals(r) => Ok(Response::GetEphemerals(GetEphemeralsResponse {
            ephemerals: inner.zk.tree().get_ephemerals(ctx.session, &r.prefix_path),
        })),
        Request::WhoAmI => Ok(who_am_i(&ctx.auth)),
        // One server: every write this session made has been applied before we get here.
        Request::Sync(r) => Ok(Response::Sync(SyncResponse { path: r.path })),
        Request::MultiRead(r) => Ok(multi_read(inner, ctx, &r.ops)),
        Request::CheckWatches(r) => {
            let kind = watcher_type(r.r#type, &r.path)?;
            inner
                .watches
                .check_watches(&r.path, kind, ctx.conn)
                .map_err(ErrorCode::from)?;
            Ok(Response::Empty)
        }
        Request::RemoveWatches(r) => {
            // Unlike checkWatches, ZooKeeper's removeWatches takes a relative path.
            let kind = WatcherType::from_code(r.r#type).ok_or(ErrorCode::MarshallingError)?;
            inner
                .watches
                .remove_watches(&r.path, kind, ctx.conn)
                .map_err(ErrorCode::from)?;
            Ok(Response::Empty)
        }
        Request::AddWatch(r) => {
            let mode = AddWatchMode::from_code(r.mode).ok_or(ErrorCode::MarshallingError)?;
            arm(inner, &r.path, ctx.conn, WatchKind::from(mode))?;
            Ok(Response::AddWatch(ErrorResponse { err: 0 }))
        }
        Request::Ping => Ok(Response::Empty),
        // No SASL provider is configured: ZooKeeper then answers OK with a null token.
        Request::Sasl(_) => Ok(Response::Sasl(SetSaslResponse { token: None })),
        _ => Err(ErrorCode::Unimplemented),
    }
}

impl Core {
    /// Answers a read-side request for `ctx.conn`.
    pub fn read(&self, ctx: &ReadContext, request_xid: i32, request: Request) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        // ZooKeeper answers SASL outside its request pipeline, with zxid 0.
        let zxid = if matches!(request, Request::Sasl(_)) {
            0
        } else {
            inner.zk.last_zxid()
        };
        let is_ping = matches!(request, Request::Ping);
        let result = match request {
            Request::SetWatches(r) => {
                // The same rules as setWatches2, with no persistent watches.
                let all = SetWatches2 {
                    relative_zxid: r.relative_zxid,
                    data_watches: r.data_watches,
                    exist_watches: r.exist_watches,
                    child_watches: r.child_watches,
                    ..Default::default()
                };
                self.reset_watches(inner, ctx.conn, all)
                    .map(|()| Response::Empty)
            }
            Request::SetWatches2(r) => self
                .reset_watches(inner, ctx.conn, r)
                .map(|()| Response::Empty),
            other => answer(inner, ctx, other),
        };
        // Pings are answered on the ping xid whatever the client sent.
        let request_xid = if is_ping { xid::PING } else { request_xid };
        let frame = match result {
            Ok(response) => ReplyFrame {
                header: ReplyHeader {
                    xid: request_xid,
                    zxid,
                    err: 0,
                },
                response,
            },
            Err(code) => crate::reply::error_reply(request_xid, zxid, code),
        };
        if let Some(entry) = inner.conns.get_mut(&ctx.conn) {
            entry.reply(&frame, &self.stats);
        }
    }

    /// Re-arms a reconnecting client's watches; what changed meanwhile fires now,
    /// before the setWatches reply.
    /// Past the connection's limit of watched paths the rest is not armed and the
    /// reply is QuotaExceeded.
    fn reset_watches(
        &self,
        inner: &mut CoreState,
        conn: ConnId,
        request: SetWatches2,
    ) -> Result<(), ErrorCode> {
        let CoreState {
            zk, watches, conns, ..
        } = inner;
        let (events, armed) = reset(watches, zk.tree(), conn, request);
        if let Some(entry) = conns.get_mut(&conn) {
            for event in events {
                // Events for changes missed while away carry no zxid (ZooKeeper 3.9 too).
                entry.notify(event, -1, &self.stats);
            }
        }
        armed.map_err(|_| {
            tracing::warn!(
                conn,
                "setWatches beyond the connection's limit of watched paths"
            );
            ErrorCode::QuotaExceeded
        })
    }
}

fn reset(
    watches: &mut WatchRegistry<ConnId>,
    tree: &crate::tree::DataTree,
    conn: ConnId,
    request: SetWatches2,
) -> (
    Vec<ferrokeeper_protocol::WatcherEvent>,
    Result<(), crate::watch::TooManyWatches>,
) {
    let lookup = |path: &str| {
        tree.node(path).map(|node| NodeZxids {
            mzxid: node.persisted_stat().mzxid,
            pzxid: node.persisted_stat().pzxid,
        })
    };
    let (events, armed) = watches.set_watches(&ResetWatches::from(&request), conn, &lookup);
    (events.into_iter().map(Into::into).collect(), armed)
}
