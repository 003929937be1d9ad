//! The `ferrokeeper` binary's subcommands besides serving: `import` and `export` of
//! ZooKeeper's data files. Operators script these names, so they are fixed.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError};
use crate::zkfiles::{self, DigestCheck, ExportRequest, ImportRequest};

#[derive(Debug, Parser)]
#[command(name = "ferrokeeper", about = "ferrokeeper's data tools")]
struct Tools {
    #[command(subcommand)]
    command: Tool,
}

#[derive(Debug, Subcommand)]
enum Tool {
    /// Import a ZooKeeper data directory (its newest snapshot and every txn logged after
    /// it) into this server's empty data directory, with the server stopped.
    Import {
        /// ZooKeeper's dataDir (the one holding version-2/snapshot.*)
        #[arg(long, value_name = "DIR")]
        zk_data_dir: PathBuf,
        /// ZooKeeper's dataLogDir, when its txn logs are kept apart from its snapshots
        #[arg(long, value_name = "DIR")]
        zk_data_log_dir: Option<PathBuf>,
        /// This server's zoo.cfg: where to write, and the ensemble's members
        #[arg(short = 'c', long, value_name = "FILE")]
        config: PathBuf,
        /// Replay txn logs onto an empty tree when there is no snapshot (data from
        /// ZooKeeper before 3.5.3, as zookeeper.snapshot.trust.empty)
        #[arg(long)]
        trust_empty_snapshot: bool,
        /// Import even if the rebuilt tree's digest differs from the one ZooKeeper logged
        #[arg(long)]
        skip_digest_check: bool,
    },
    /// Make a server that follows a ZooKeeper ensemble (ferrokeeper.follow=zookeeper) take
    /// over: it keeps following while ZooKeeper has a leader, and becomes the primary
    /// once no ZooKeeper server runs (or none has led for initLimit ticks). With
    /// ferrokeeper.ensemble, run it on every listed server: they form an ensemble.
    /// Returns when this server serves as the primary (standalone, leader or follower).
    Promote {
        /// The following server's zoo.cfg (run this on its host)
        #[arg(short = 'c', long, value_name = "FILE")]
        config: PathBuf,
        /// How long to wait for the take-over, in seconds
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// Write this server's data as a ZooKeeper snapshot (DIR/version-2/snapshot.<zxid>)
    /// that ZooKeeper 3.8 and 3.9 start from, with the server stopped.
    Export {
        /// ZooKeeper's dataDir to write into; its version-2 must hold no snapshot or log
        #[arg(long, value_name = "DIR")]
        zk_data_dir: PathBuf,
        /// This server's zoo.cfg: where its data is
        #[arg(short = 'c', long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// Runs `import` or `export` when the first argument names one; `None` otherwise (the
/// arguments are then a server's). `init_logging` sets up the log output.
pub fn run_subcommand(
    args: impl IntoIterator<Item = String>,
    init_logging: fn(Option<&str>),
) -> Option<ExitCode> {
    let args: Vec<String> = args.into_iter().collect();
    if !matches!(
        args.first().map(String::as_str),
        Some("import" | "export" | "promote")
    ) {
        return None;
    }
    let tools = match Tools::try_parse_from(std::iter::once("ferrokeeper".to_owned()).chain(args)) {
        Ok(tools) => tools,
        Err(e) => e.exit(),
    };
    init_logging(None);
    let result = match tools.command {
        Tool::Import {
            zk_data_dir,
            zk_data_log_dir,
            config,
            trust_empty_snapshot,
            skip_digest_check,
        } => load(&config).and_then(|config| {
            run_import(
                &config,
                zk_data_dir,
                zk_data_log_dir,
                trust_empty_snapshot,
                skip_digest_check,
            )
        }),
        Tool::Export {
            zk_data_dir,
            config,
        } => load(&config).and_then(|config| run_export(&config, zk_data_dir)),
        Tool::Promote { config, timeout } => load(&config)
            .and_then(|config| run_promote(&config, std::time::Duration::from_secs(timeout))),
    };
    Some(match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ferrokeeper: {e}");
            ExitCode::from(1)
        }
    })
}

fn load(path: &std::path::Path) -> Result<Config, String> {
    let args = vec!["--config".to_owned(), path.display().to_string()];
    Config::from_args(args, |key| std::env::var(key).ok()).map_err(|e| match e {
        ConfigError::Cli(e) => e.to_string(),
        e => e.to_string(),
    })
}

fn run_import(
    config: &Config,
    zk_data_dir: PathBuf,
    zk_data_log_dir: Option<PathBuf>,
    trust_empty_snapshot: bool,
    skip_digest_check: bool,
) -> Result<(), String> {
    let request = ImportRequest {
        zk_data_dir,
        zk_data_log_dir,
        trust_empty_snapshot,
        skip_digest_check,
        extended_types: config.extended_types_enabled,
        snapshot_dir: config.snapshot_dir(),
        log_dir: config.raft_log_dir(),
        voters: config.raft_voters(),
        interactive: std::io::stderr().is_terminal(),
    };
    let s = zkfiles::import(&request).map_err(|e| e.to_string())?;
    let from = s.snapshot.as_ref().map_or_else(
        || "an empty tree".to_owned(),
        |p| format!("{} ({} znodes)", p.display(), s.snapshot_znodes),
    );
    tracing::info!(
        "imported from {from} and {} txns of {} log files: {} znodes, {} sessions, {} \
         ephemerals; last zxid 0x{:x}; in {:.1} s",
        s.txns,
        s.log_files,
        s.znodes,
        s.sessions,
        s.ephemerals,
        s.last_zxid,
        s.seconds
    );
    match s.digest {
        DigestCheck::Matched { zxid, digest } => tracing::info!(
            "tree digest 0x{digest:x} equals the one ZooKeeper recorded at zxid 0x{zxid:x}"
        ),
        DigestCheck::Unavailable => tracing::warn!(
            "ZooKeeper recorded no tree digest at the last zxid (ZooKeeper before 3.6, or \
             zookeeper.digest.enabled=false), so the result could not be checked against it"
        ),
        DigestCheck::Skipped { expected, actual } => tracing::warn!(
            "tree digest 0x{actual:x} differs from ZooKeeper's 0x{expected:x}; imported \
             anyway (--skip-digest-check)"
        ),
    }
    if s.orphans_removed > 0 {
        tracing::info!(
            "{} ephemerals of sessions ZooKeeper no longer had were deleted, as ZooKeeper \
             deletes them when it loads its data",
            s.orphans_removed
        );
    }
    for t in &s.torn {
        tracing::warn!(
            "cut a torn tail: {} from offset {} ({} non-zero bytes)",
            t.file,
            t.offset,
            t.nonzero_bytes
        );
    }
    tracing::info!(
        "wrote {}; start the server with this zoo.cfg to serve it. Members of an ensemble \
         must each import the same ZooKeeper data (last zxid 0x{:x} on every one)",
        s.written.display(),
        s.last_zxid
    );
    Ok(())
}

fn run_export(config: &Config, zk_data_dir: PathBuf) -> Result<(), String> {
    let request = ExportRequest {
        zk_data_dir,
        snapshot_dir: config.snapshot_dir(),
        log_dir: config.raft_log_dir(),
        extended_types: config.extended_types_enabled,
    };
    let s = zkfiles::export(&request).map_err(|e| e.to_string())?;
    tracing::info!(
        "exported {} znodes and {} sessions at zxid 0x{:x} ({} log entries after the last \
         snapshot) to {} in {:.1} s",
        s.znodes,
        s.sessions,
        s.last_zxid,
        s.entries,
        s.written.display(),
        s.seconds
    );
    Ok(())
}

/// Leaves the promotion request where the following server looks for it, then waits
/// until `srvr` on its client port says it serves as the primary.
fn run_promote(config: &Config, timeout: std::time::Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    if !config.follow_zookeeper {
        return Err(format!(
            "{} does not set ferrokeeper.follow=zookeeper: there is nothing to promote",
            config
                .config_file
                .as_ref()
                .map_or_else(|| "the configuration".into(), |p| p.display().to_string())
        ));
    }
    let address = config
        .client_address
        .as_ref()
        .ok_or("no clientPort is configured, so the server cannot be asked how it is")?;
    let host = match address.host.as_str() {
        "" | "0.0.0.0" | "::" | "[::]" => "127.0.0.1".to_owned(),
        h => h.to_owned(),
    };
    let target = format!("{host}:{}", address.port);
    // `Mode:` of the server's `srvr` answer; "not serving" when it answers without
    // one (a follower that has no ZooKeeper leader); `None` when nothing answers.
    let srvr = || -> Option<String> {
        use std::net::ToSocketAddrs;
        let addr = target.to_socket_addrs().ok()?.next()?;
        let mut s =
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .ok()?;
        s.write_all(b"srvr").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        Some(
            out.lines()
                .find_map(|l| l.strip_prefix("Mode: ").map(str::to_owned))
                .unwrap_or_else(|| "not serving".to_owned()),
        )
    };
    if srvr().is_none() {
        return Err(format!("no ferrokeeper server answers on {target}"));
    }
    let dir = config.data_dir.join("ferrokeeper");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let request = dir.join(crate::server::PROMOTE_REQUEST);
    std::fs::write(&request, b"promote\n").map_err(|e| format!("{}: {e}", request.display()))?;
    tracing::info!(
        "promotion requested ({}); the server takes over once every ZooKeeper server has \
         stopped (no leader for initLimit ticks), and keeps following until then",
        request.display()
    );
    let deadline = std::time::Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let mode = srvr().unwrap_or_else(|| "not answering".into());
        if matches!(mode.as_str(), "standalone" | "leader" | "follower") {
            tracing::info!("promoted: {target} serves as the primary ({mode})");
            return Ok(());
        }
        if mode != last {
            tracing::info!("server on {target}: {mode}");
            last = mode;
        }
        if std::time::Instant::now() > deadline {
            return Err(format!(
                "not promoted within {timeout:?} (the server is {last}); the request stays \
                 armed: the server takes over once ZooKeeper has no leader"
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
