//! The `ferrokeeper` binary: read the configuration as ZooKeeper does, start the
//! server, and stop cleanly on SIGTERM/SIGINT.

use std::process::ExitCode;

use ferrokeeper_server::config::{Config, ConfigError, LogFormat};
use ferrokeeper_server::launch::{Launched, launch};
use tracing_subscriber::EnvFilter;

/// mimalloc rather than glibc's malloc: measured side by side (bench/run.sh, same
/// machine, docs/BENCHMARKS.md), gets +43 % (probably because a reply's buffer is
/// allocated by the task that read the request and freed by the connection's writer,
/// often on the other worker thread; not profiled further) and a restart at a million
/// znodes 22 % faster (the decode is mostly allocation); RSS with a million znodes the
/// same, 13 % more per idle session.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(level: Option<&str>) {
    init_logging_as(level, LogFormat::Text);
}

/// Sets up the log on stderr. The filter: `RUST_LOG` wins, then `level` (`--log-level`,
/// else `zookeeper.root.logger`'s level), then info; openraft's own info lines are
/// consensus chatter an operator does not need, and its warnings about each failed
/// heartbeat and replication call (many a second with a peer down) are left out: the
/// peer transport already says once when a peer connection goes down and comes back. `Json`: one object per line with
/// `timestamp`, `level`, `message`, the event's fields and `target`.
fn init_logging_as(level: Option<&str>, format: LogFormat) {
    use std::io::IsTerminal;
    let default = format!(
        "{},openraft=warn,openraft::core::heartbeat=error,openraft::replication=error,\
         openraft::engine::handler::replication_handler=error",
        level.unwrap_or("info")
    );
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&default))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().flatten_event(true).with_ansi(false).init(),
    }
}

async fn run(config: Config) -> Result<(), String> {
    // Listened for from here on: a SIGTERM during start-up (replaying a long log, say)
    // stops the server cleanly once it is up instead of killing it half-started.
    let mut signals = StopSignals::listen();
    // A stop request while starting (a member waiting for its ensemble, say) ends the
    // start-up: nothing has been served or acknowledged yet, and what is on disk is
    // durable, so leaving now loses nothing.
    let Launched { server, mode } = tokio::select! {
        launched = launch(&config) => launched?,
        () = signals.wait() => {
            tracing::info!("stop requested while starting; exiting");
            return Ok(());
        }
    };
    // The TLS line first: tests (and scripts) take "listening on" as "ready".
    if let Some(secure) = server.secure_addr() {
        tracing::info!("ferrokeeper listening for TLS clients on {secure}");
    }
    tracing::info!(data_dir = %config.data_dir.display(), "ferrokeeper listening on {} ({mode})", server.local_addr());

    signals.wait().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

/// SIGTERM and SIGINT, the stop requests. Once listened for, they no longer kill the
/// process (their default action); one that arrived before [`StopSignals::wait`] makes
/// it return at once.
struct StopSignals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listen = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(e) => {
                    tracing::warn!("cannot listen for {name}: {e}");
                    None
                }
            };
            StopSignals {
                term: listen(SignalKind::terminate(), "SIGTERM"),
                int: listen(SignalKind::interrupt(), "SIGINT"),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            if self.term.is_none() && self.int.is_none() {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
            tokio::select! {
                () = next(&mut self.term) => {}
                () = next(&mut self.int) => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn main() -> ExitCode {
    if let Some(code) =
        ferrokeeper_server::commands::run_subcommand(std::env::args().skip(1), init_logging)
    {
        return code;
    }
    let config = match Config::from_args(std::env::args().skip(1), |key| std::env::var(key).ok()) {
        Ok(config) => config,
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("ferrokeeper: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging_as(config.log_level.as_deref(), config.log_format);
    config.log_diagnostics();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ferrokeeper: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ferrokeeper: {e}");
            ExitCode::from(1)
        }
    }
}
