//! End-to-end tests of `Config::from_args`, plus a small temp-dir helper (no extra
//! dev-dependency needed).

mod defaults;
mod file;
mod jvm;
mod quorum_mode;
mod security;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Config, ConfigError};

/// A directory under the system temp dir, removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "ferrokeeper-config-{}-{tag}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `name` (creating parent dirs) and returns its path.
    pub(crate) fn write(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&p, contents).expect("write file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `from_args` with the given arguments and environment pairs.
pub(crate) fn load(args: &[&str], env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_args(args.iter().map(|s| s.to_string()), move |k| {
        env.iter()
            .find(|(name, _)| name == k)
            .map(|(_, v)| v.clone())
    })
}

/// A zoo.cfg in a fresh temp dir whose `dataDir` points into that dir.
/// `{data}` in `body` is replaced by the data directory.
pub(crate) fn cfg(tag: &str, body: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new(tag);
    let data = dir.path().join("data");
    let text = body.replace("{data}", &data.display().to_string());
    let path = dir.write("zoo.cfg", &text);
    (dir, path)
}

pub(crate) fn err_text(r: Result<Config, ConfigError>) -> String {
    match r {
        Ok(_) => "no error".to_owned(),
        Err(e) => e.to_string(),
    }
}
