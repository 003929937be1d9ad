//! The group's background task: it owns the group's session (a new one after each
//! expiry when the group makes its own), lists the members after every change and
//! reconnect, and ends every membership of a session that ended.

use super::*;

/// How a session of the group task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    Shutdown,
    LocalTimeout,
    Session(SessionState),
}

pub(super) async fn run(inner: Arc<GroupState>, sessions: Sessions) {
    let mut fixed = match &sessions.kind {
        SessionsKind::Fixed(client) => Some(client.clone()),
        SessionsKind::Builder { .. } => None,
    };
    let mut backoff = RETRY_MIN;
    loop {
        let client = match &sessions.kind {
            SessionsKind::Fixed(_) => match fixed.take() {
                Some(client) => client,
                None => break,
            },
            SessionsKind::Builder {
                builder,
                connect_string,
            } => {
                let attempt = tokio::select! {
                    _ = inner.shutdown.cancelled() => break,
                    attempt = builder.connect(connect_string) => attempt,
                };
                match attempt {
                    Ok(client) => {
                        backoff = RETRY_MIN;
                        client
                    }
                    Err(e) => {
                        tracing::warn!(group = inner.path, error = %e, "cannot start a session; retrying in {backoff:?}");
                        tokio::select! {
                            _ = inner.shutdown.cancelled() => break,
                            _ = tokio::time::sleep(backoff) => {}
                        }
                        backoff = (backoff * 2).min(RETRY_MAX);
                        continue;
                    }
                }
            }
        };
        let owned_session = matches!(sessions.kind, SessionsKind::Builder { .. });
        inner.lock().client = Some(client.clone());
        let end = session_loop(&inner, &client).await;
        tracing::info!(
            group = inner.path,
            session = format_args!("{:#x}", client.session_id()),
            ?end,
            "group session ended"
        );
        let lost = match end {
            End::Shutdown => Lost::Closed,
            End::LocalTimeout => Lost::SessionTimedOut,
            End::Session(state) => Lost::from_state(state),
        };
        inner.end_session(lost);
        match end {
            // A session disconnected for its whole timeout is expired on the server;
            // close it here too so that it cannot come back with stale memberships.
            End::LocalTimeout => {
                let _ = client.close().await;
            }
            End::Shutdown => {
                if owned_session {
                    let _ = client.close().await;
                }
                break;
            }
            End::Session(_) => {}
        }
        if !owned_session {
            break;
        }
    }
    inner.end_session(Lost::Closed);
    inner.view.send_modify(|view| view.closed = true);
}

/// Follows the group with one session until it ends.
pub(super) async fn session_loop(inner: &GroupState, client: &Client) -> End {
    let mut states = client.state_stream();
    let mut connected = false;
    let mut deadline: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    let mut retry_wait = RETRY_MIN;
    let mut watch: Option<Watch> = None;
    let mut need_list = true;
    let session = client.session_id();
    inner.view.send_modify(|view| view.session_id = session);
    loop {
        if need_list && connected && retry_at.is_none() {
            need_list = false;
            let generation = inner.next_generation();
            match list(inner, client).await {
                Ok((children, child_watch)) => {
                    watch = Some(child_watch);
                    retry_wait = RETRY_MIN;
                    inner.apply(generation, session, &children);
                }
                // The state stream reports the disconnection (or the end): list again
                // once connected.
                Err(
                    Error::ConnectionLoss
                    | Error::SessionExpired
                    | Error::Closed
                    | Error::AuthFailed,
                ) => {
                    need_list = true;
                    connected = false;
                }
                Err(e) => {
                    tracing::warn!(group = inner.path, error = %e, "cannot list the group; retrying in {retry_wait:?}");
                    need_list = true;
                    retry_at = Some(Instant::now() + retry_wait);
                    retry_wait = (retry_wait * 2).min(RETRY_MAX);
                }
            }
            continue;
        }
        let now = Instant::now();
        tokio::select! {
            _ = inner.shutdown.cancelled() => return End::Shutdown,
            _ = async {
                match watch.as_mut() {
                    Some(child_watch) => {
                        let _ = child_watch.await;
                    }
                    None => std::future::pending().await,
                }
            } => {
                watch = None;
                need_list = true;
            }
            state = states.next() => match state {
                Some(state) if state.is_connected() => {
                    connected = true;
                    deadline = None;
                    // As Mesos after a reconnect: look again (the watch was re-armed,
                    // but a listing is cheap and catches up at once).
                    need_list = true;
                    inner.view.send_if_modified(|view| !std::mem::replace(&mut view.connected, true));
                }
                Some(SessionState::Disconnected) => {
                    connected = false;
                    deadline = Some(Instant::now() + client.session_timeout());
                    inner.view.send_if_modified(|view| std::mem::replace(&mut view.connected, false));
                }
                Some(state) if state.is_terminal() => return End::Session(state),
                Some(_) => {}
                None => return End::Session(client.state()),
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or(now)), if deadline.is_some() => {
                tracing::warn!(group = inner.path, "disconnected for the whole session timeout: the session is gone");
                return End::LocalTimeout;
            }
            _ = tokio::time::sleep_until(retry_at.unwrap_or(now)), if retry_at.is_some() => {
                retry_at = None;
            }
        }
    }
}

/// Lists the group with a child watch, creating its node first if it is missing.
pub(super) async fn list(inner: &GroupState, client: &Client) -> Result<(Vec<String>, Watch)> {
    match client.get_children_w(&inner.path).await {
        Err(Error::NoNode) => {
            create_parents(client, &inner.path, &inner.acl, CreateMode::Persistent).await?;
            client.get_children_w(&inner.path).await
        }
        other => other,
    }
}
