//! ZooKeeper's AdminServer (HTTP, JSON commands under `admin.commandURL`), the
//! readiness and liveness probes, and the Prometheus endpoint of
//! `metricsProvider.className=…PrometheusMetricsProvider`. Each binds when the server
//! starts: a port that cannot be bound stops start-up, naming the setting.

mod auth;
mod commands;
mod context;
mod prometheus;
mod restore;
mod snapshot;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::{Map, Value};
use tokio::net::TcpListener;

use crate::net::Shared;

pub use commands::COMMANDS;
pub use context::{AdminContext, ServerView};

/// `admin.*`: where and how the AdminServer listens.
#[derive(Debug, Clone)]
pub struct AdminSettings {
    pub addr: SocketAddr,
    /// `admin.commandURL`, e.g. `/commands`.
    pub command_url: String,
    /// `admin.idleTimeout`: a connection that sends no request for this long is closed.
    pub idle_timeout: Duration,
    /// `admin.snapshot.enabled`.
    pub snapshot_enabled: bool,
    /// `admin.rateLimiterIntervalInMS`: at most one snapshot, and one restore, per
    /// interval.
    pub snapshot_interval: Duration,
    /// `admin.restore.enabled`.
    pub restore_enabled: bool,
}

/// Binds `host:port`; the error names `setting`.
async fn bind(host: &str, port: u16, setting: &str) -> Result<TcpListener, String> {
    let text = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let addr = tokio::net::lookup_host(&text)
        .await
        .map_err(|e| format!("{setting}: cannot resolve {text}: {e}"))?
        .next()
        .ok_or_else(|| format!("{setting}: {text} resolves to nothing"))?;
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("{setting}: cannot listen on {addr}: {e}"))
}

/// The HTTP endpoints a configuration asks for, bound before the server starts so a
/// taken port stops start-up.
pub struct Endpoints {
    admin: Option<(TcpListener, AdminSettings, Arc<AdminContext>)>,
    metrics: Option<TcpListener>,
}

impl Endpoints {
    pub async fn bind(config: &crate::config::Config) -> Result<Endpoints, String> {
        let admin = if config.admin.enabled {
            let listener =
                bind(&config.admin.address, config.admin.port, "admin.serverPort").await?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("admin.serverPort: {e}"))?;
            Some((
                listener,
                AdminSettings {
                    addr,
                    command_url: config.admin.command_url.clone(),
                    idle_timeout: Duration::from_millis(u64::from(
                        config.admin.idle_timeout_ms.max(1),
                    )),
                    snapshot_enabled: config.admin.snapshot_enabled,
                    snapshot_interval: Duration::from_millis(config.admin.rate_limit_interval_ms),
                    restore_enabled: config.admin.restore_enabled,
                },
                Arc::new(AdminContext::from_config(config)),
            ))
        } else {
            None
        };
        let metrics = match &config.metrics_endpoint {
            Some(e) => Some(bind(&e.host, e.port, "metricsProvider.httpPort").await?),
            None => None,
        };
        Ok(Endpoints { admin, metrics })
    }

    /// Starts serving; logs where (tests and scripts read the port from these lines).
    pub fn serve(self, shared: &Arc<Shared>) {
        if let Some((listener, settings, ctx)) = self.admin {
            tracing::info!(
                "ferrokeeper admin server listening on {} (commands under {})",
                settings.addr,
                settings.command_url
            );
            tokio::spawn(serve_admin(listener, shared.clone(), ctx, settings));
        }
        if let Some(listener) = self.metrics {
            if let Ok(addr) = listener.local_addr() {
                tracing::info!("ferrokeeper metrics listening on {addr} (/metrics)");
            }
            tokio::spawn(serve_metrics(listener, shared.clone()));
        }
    }
}

#[derive(Clone)]
struct AdminState {
    shared: Arc<Shared>,
    ctx: Arc<AdminContext>,
    command_url: String,
    snapshot_enabled: bool,
    snapshots: Arc<snapshot::RateLimiter>,
    restore_enabled: bool,
    restores: Arc<snapshot::RateLimiter>,
}

/// Serves the AdminServer on `listener` until the server shuts down.
pub async fn serve_admin(
    listener: TcpListener,
    shared: Arc<Shared>,
    ctx: Arc<AdminContext>,
    settings: AdminSettings,
) {
    let base = settings.command_url.trim_end_matches('/').to_owned();
    let state = AdminState {
        shared: shared.clone(),
        ctx,
        command_url: base.clone(),
        snapshot_enabled: settings.snapshot_enabled,
        snapshots: Arc::new(snapshot::RateLimiter::new(settings.snapshot_interval)),
        restore_enabled: settings.restore_enabled,
        restores: Arc::new(snapshot::RateLimiter::new(settings.snapshot_interval)),
    };
    let mut router = Router::new()
        .route("/ready", get(ready))
        .route("/live", get(live))
        .route(
            &format!("{base}/{{name}}"),
            get(run_command).post(run_post_command),
        );
    router = router.route(
        if base.is_empty() { "/" } else { &base },
        get(list_commands),
    );
    if !base.is_empty() {
        router = router.route(&format!("{base}/"), get(list_commands));
    }
    serve(
        listener,
        router.with_state(state),
        settings.idle_timeout,
        &shared,
    )
    .await;
}

/// Serves `/metrics` on `listener` until the server shuts down.
pub async fn serve_metrics(listener: TcpListener, shared: Arc<Shared>) {
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(shared.clone());
    serve(listener, router, Duration::from_secs(30), &shared).await;
}

/// HTTP connections served at once per endpoint. The ports may face the network (as
/// ZooKeeper's, they bind 0.0.0.0 by default): without a bound, a client opening
/// connections could grow the server's memory (a task and buffers each). Probes and
/// scrapers need a handful.
const MAX_HTTP_CONNECTIONS: usize = 64;

/// Accepts HTTP/1 connections for `router`; a connection idle for `idle` is closed, and
/// one beyond [`MAX_HTTP_CONNECTIONS`] is closed at once.
async fn serve(listener: TcpListener, router: Router, idle: Duration, shared: &Shared) {
    let shutdown = shared.shutdown.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HTTP_CONNECTIONS));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("admin accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Debug, not warn: a flood must not flood the log too.
            tracing::debug!(%peer, "too many HTTP connections; closing");
            continue;
        };
        let service = TowerToHyperService::new(
            router
                .clone()
                .layer(axum::Extension(ConnectInfo(peer)))
                .into_service(),
        );
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                // Also bounds the wait for the next request on a kept-alive connection.
                .header_read_timeout(idle)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, "admin connection: {e}");
                    }
                }
                () = shutdown.cancelled() => conn.as_mut().graceful_shutdown(),
            }
        });
    }
}

fn json_response(status: StatusCode, body: &Map<String, Value>) -> Response {
    let text = serde_json::to_string_pretty(body).unwrap_or_else(|_| "{}".into());
    (status, [(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// `GET <commandURL>`: links to every command, as ZooKeeper's Jetty server lists them.
async fn list_commands(State(state): State<AdminState>) -> Html<String> {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.names[0]).collect();
    names.push(LEADERSHIP_COMMAND);
    names.push(SNAPSHOT_NAMES[0]);
    names.sort_unstable();
    Html(
        names
            .into_iter()
            .map(|n| format!("<a href=\"{}/{n}\">{n}</a>\n<br/>\n", state.command_url))
            .collect(),
    )
}

async fn run_command(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    axum::Extension(ConnectInfo(peer)): axum::Extension<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
) -> Response {
    let respond =
        |command: &str, status: StatusCode, result: Result<Map<String, Value>, String>| {
            let (mut body, error) = match result {
                Ok(fields) => (fields, Value::Null),
                Err(e) => (Map::new(), Value::String(e)),
            };
            body.insert("command".into(), command.into());
            body.insert("error".into(), error);
            json_response(status, &body)
        };
    if name == LEADERSHIP_COMMAND {
        return transfer_leadership(&state, &headers, peer, &params).await;
    }
    if SNAPSHOT_NAMES.contains(&name.as_str()) || RESTORE_NAMES.contains(&name.as_str()) {
        return snapshot_or_restore(&state, &name, &headers, peer, &params).await;
    }
    let Some(command) = commands::find(&name) else {
        return respond(
            &name,
            StatusCode::OK,
            Err(format!("Unknown command: {name}")),
        );
    };
    let primary = command.names[0];
    // A read-only server is a running server, as ZooKeeper's read-only one is.
    let serving = state.shared.serving_clients();
    if command.server_required && !serving {
        return respond(
            primary,
            StatusCode::OK,
            Err("This ZooKeeper instance is not currently serving requests".into()),
        );
    }
    // Permissions first, before the command does anything (CVE-2025-58457).
    if command.needs_auth
        && let Err(refused) = auth::require_admin(&state.shared, &headers, peer.ip())
    {
        tracing::warn!(command = primary, %peer, "admin command refused: {}", refused.message);
        return respond(primary, refused.status, Err(refused.message.into()));
    }
    if command.needs_auth {
        tracing::info!(command = primary, %peer, "admin command");
    }
    let call = commands::Call {
        shared: &state.shared,
        ctx: &state.ctx,
        params: &params,
    };
    respond(primary, StatusCode::OK, (command.run)(&call))
}

/// ferrokeeper's own command (not ZooKeeper's): hand the leadership to voter `to`, or
/// without `to` to the most caught-up voter, before maintenance. Needs ALL on `/`.
pub const LEADERSHIP_COMMAND: &str = "transfer_leadership";

async fn transfer_leadership(
    state: &AdminState,
    headers: &HeaderMap,
    peer: SocketAddr,
    params: &HashMap<String, String>,
) -> Response {
    let answer = |status: StatusCode, fields: Map<String, Value>, error: Value| {
        let mut body = fields;
        body.insert("command".into(), LEADERSHIP_COMMAND.into());
        body.insert("error".into(), error);
        json_response(status, &body)
    };
    if let Err(refused) = auth::require_admin(&state.shared, headers, peer.ip()) {
        tracing::warn!(%peer, "leadership transfer refused: {}", refused.message);
        return answer(refused.status, Map::new(), refused.message.into());
    }
    let to = match params.get("to").map(|v| v.parse::<u64>()) {
        None => None,
        Some(Ok(id)) => Some(id),
        Some(Err(_)) => {
            return answer(
                StatusCode::OK,
                Map::new(),
                "to must be a server id (the N of server.N)".into(),
            );
        }
    };
    tracing::info!(%peer, ?to, "admin command: transfer_leadership");
    match state.shared.backend().transfer_leadership(to).await {
        Ok(leader) => {
            let mut fields = Map::new();
            fields.insert("leader_id".into(), leader.into());
            answer(StatusCode::OK, fields, Value::Null)
        }
        Err(e) => answer(StatusCode::OK, Map::new(), e.to_string().into()),
    }
}

/// ZooKeeper 3.9's `snapshot` and `restore` commands with their aliases.
const SNAPSHOT_NAMES: [&str; 2] = ["snapshot", "snap"];
const RESTORE_NAMES: [&str; 2] = ["restore", "rest"];

async fn snapshot_or_restore(
    state: &AdminState,
    name: &str,
    headers: &HeaderMap,
    peer: SocketAddr,
    params: &HashMap<String, String>,
) -> Response {
    let primary = if SNAPSHOT_NAMES.contains(&name) {
        "snapshot"
    } else {
        "restore"
    };
    let json = |status: StatusCode, error: Option<String>| {
        let mut body = Map::new();
        body.insert("command".into(), primary.into());
        body.insert("error".into(), error.map_or(Value::Null, Value::String));
        json_response(status, &body)
    };
    // Permissions before anything else (CVE-2025-58457).
    if let Err(refused) = auth::require_admin(&state.shared, headers, peer.ip()) {
        tracing::warn!(command = primary, %peer, "admin command refused: {}", refused.message);
        return json(refused.status, Some(refused.message.into()));
    }
    if primary == "restore" {
        // ZooKeeper's restore is a POST command: the snapshot is the request body.
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            Some("restore takes the snapshot as the body of a POST request".into()),
        );
    }
    if !state.shared.backend().role().borrow().serving() {
        return json(
            StatusCode::OK,
            Some("This ZooKeeper instance is not currently serving requests".into()),
        );
    }
    // ZooKeeper streams unless told `streaming=false`.
    let streaming = params
        .get("streaming")
        .is_none_or(|v| !v.eq_ignore_ascii_case("false"));
    tracing::info!(%peer, streaming, "admin command: snapshot");
    snapshot::answer(
        &state.shared,
        state.snapshot_enabled,
        &state.snapshots,
        streaming,
        json,
    )
    .await
}

/// POST commands: ZooKeeper 3.9's `restore` (alias `rest`), the snapshot in the body.
async fn run_post_command(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    axum::Extension(ConnectInfo(peer)): axum::Extension<ConnectInfo<SocketAddr>>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let json =
        |command: &str, status: StatusCode, fields: Map<String, Value>, error: Option<String>| {
            let mut out = fields;
            out.insert("command".into(), command.into());
            out.insert("error".into(), error.map_or(Value::Null, Value::String));
            json_response(status, &out)
        };
    if !RESTORE_NAMES.contains(&name.as_str()) {
        return json(
            &name,
            StatusCode::METHOD_NOT_ALLOWED,
            Map::new(),
            Some(format!("Command {name} does not take a POST request")),
        );
    }
    // Permissions before anything else (CVE-2025-58457).
    if let Err(refused) = auth::require_admin(&state.shared, &headers, peer.ip()) {
        tracing::warn!(command = "restore", %peer, "admin command refused: {}", refused.message);
        return json(
            "restore",
            refused.status,
            Map::new(),
            Some(refused.message.into()),
        );
    }
    if !state.restore_enabled {
        tracing::warn!("Restore command is disabled");
        return json(
            "restore",
            StatusCode::SERVICE_UNAVAILABLE,
            Map::new(),
            Some("restore is disabled (admin.restore.enabled=false)".into()),
        );
    }
    if !state.shared.backend().role().borrow().serving() {
        return json(
            "restore",
            StatusCode::OK,
            Map::new(),
            Some("This ZooKeeper instance is not currently serving requests".into()),
        );
    }
    if !state.restores.allow() {
        tracing::warn!("Restore request was rate limited");
        return json(
            "restore",
            StatusCode::TOO_MANY_REQUESTS,
            Map::new(),
            Some("rate limited: at most one restore per admin.rateLimiterIntervalInMS".into()),
        );
    }
    tracing::info!(%peer, "admin command: restore");
    match restore::run(&state.shared, body).await {
        (status, Ok(zxid)) => {
            let mut fields = Map::new();
            fields.insert("last_zxid".into(), zxid.into());
            json("restore", status, fields, None)
        }
        (status, Err(e)) => {
            tracing::warn!("restore failed: {e}");
            json("restore", status, Map::new(), Some(e))
        }
    }
}

/// Readiness: 200 while this server serves clients (standalone, or in touch with a
/// quorum and caught up with its leader), 503 otherwise.
async fn ready(State(state): State<AdminState>) -> Response {
    let role = *state.shared.backend().role().borrow();
    if role.serving() {
        (StatusCode::OK, format!("ready: {}\n", role.mode())).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", role.mode()),
        )
            .into_response()
    }
}

/// Liveness: the process answers HTTP.
async fn live() -> &'static str {
    "live\n"
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    let report = crate::net::monitor::report(&shared);
    match prometheus::render(&report) {
        Ok((text, content_type)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
