//! Reloading certificates without a restart: the store files are checked for changes
//! every few seconds (a rename over a file, as Kubernetes does with secrets, is seen as
//! well as a rewrite), and the configuration is rebuilt from them. A change that does
//! not load (a half-written file, a wrong password) is logged and the previous
//! configuration stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::build::TlsError;

/// Calls `rebuild` whenever one of `files` changes, until `stop`. `what` names the
/// configuration in log lines.
pub async fn on_change(
    files: &[PathBuf],
    every: Duration,
    stop: CancellationToken,
    what: &str,
    mut rebuild: impl FnMut() -> Result<(), TlsError>,
) {
    let mut seen = stamps(files);
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = stop.cancelled() => return,
        }
        let now = stamps(files);
        if now == seen {
            continue;
        }
        seen = now;
        match rebuild() {
            Ok(()) => tracing::info!("{what}: reloaded the key and trust stores"),
            Err(e) => {
                tracing::error!(
                    "{what}: changed stores do not load; keeping the previous ones: {e}"
                )
            }
        }
    }
}

/// What tells a changed file: modification time and length (a rename over the file, as
/// Kubernetes does with secrets, changes both or at least the time).
fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files.iter().map(|f| stamp(f)).collect()
}

fn stamp(file: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(file).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}
