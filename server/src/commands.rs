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
    if !matches!(args.first().map(String::as_str), Some("import" | "export")) {
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
