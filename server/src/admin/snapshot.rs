//! ZooKeeper 3.9's `snapshot` command: a snapshot of this server's state, streamed in
//! ZooKeeper's own snapshot format (the one `ferrokeeper import` and ZooKeeper read), with
//! the `last_zxid` and `snapshot_size` headers. It needs ALL on `/` (checked first), may be
//! turned off (`admin.snapshot.enabled`) and runs at most once per
//! `admin.rateLimiterIntervalInMS`, as in ZooKeeper.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::net::Shared;

/// At most one snapshot per interval (ZooKeeper's `RateLimiter(1, interval)`).
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    last: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(interval: Duration) -> RateLimiter {
        RateLimiter {
            interval,
            last: Mutex::new(None),
        }
    }

    pub fn allow(&self) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if last.is_some_and(|t| now.duration_since(t) < self.interval) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// Where the snapshot is written before it is streamed: beside our own snapshots, in a
/// directory of its own (removed again once the file is open).
pub(super) fn scratch_dir(shared: &Shared) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    shared
        .settings
        .snapshot_dir
        .with_file_name(format!("admin-snapshot-{nanos}"))
}

/// Takes the snapshot; `Ok((zxid, size, file))` with the file already unlinked (it lives
/// while open).
async fn take(shared: &Shared) -> Result<(i64, u64, tokio::fs::File), String> {
    let state = shared.core.with_state(|zk, _| zk.clone());
    let dir = scratch_dir(shared);
    let written = tokio::task::spawn_blocking(move || {
        let path = crate::zkfiles::snapshot::write(&dir, &state).map_err(|e| e.to_string())?;
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let size = file.metadata().map_err(|e| e.to_string())?.len();
        let _ = std::fs::remove_dir_all(&dir);
        Ok::<_, String>((state.last_zxid(), size, file))
    })
    .await
    .map_err(|e| e.to_string())??;
    let (zxid, size, file) = written;
    Ok((zxid, size, tokio::fs::File::from_std(file)))
}

/// Answers the `snapshot` command; the caller has checked permissions.
pub async fn answer(
    shared: &Shared,
    enabled: bool,
    limiter: &RateLimiter,
    streaming: bool,
    json: impl Fn(StatusCode, Option<String>) -> Response,
) -> Response {
    if !enabled {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            Some("Snapshot command is disabled".into()),
        );
    }
    if !limiter.allow() {
        return json(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Snapshot request was rate limited".into()),
        );
    }
    let started = Instant::now();
    let (zxid, size, file) = match take(shared).await {
        Ok(taken) => taken,
        Err(e) => {
            tracing::warn!("admin snapshot failed: {e}");
            return json(StatusCode::INTERNAL_SERVER_ERROR, Some(e));
        }
    };
    tracing::info!(
        zxid = format!("0x{zxid:x}"),
        bytes = size,
        duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        streaming,
        "admin snapshot taken"
    );
    let mut response = if streaming {
        let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/octet-stream")],
            body,
        )
            .into_response()
    } else {
        json(StatusCode::OK, None)
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("0x{zxid:x}")) {
        headers.insert("last_zxid", v);
    }
    headers.insert("snapshot_size", HeaderValue::from(size));
    response
}
