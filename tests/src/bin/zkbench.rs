//! `zkbench`: a pipelined ZooKeeper load generator over the raw protocol, used by
//! `bench/run.sh` to run the same workload against real ZooKeeper and ferrokeeper.
//! Every measuring subcommand prints one JSON line on stdout. See `docs/BENCHMARKS.md`.

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand, ValueEnum};
use ferrokeeper_tests::bench::hold::{self, HoldConfig};
use ferrokeeper_tests::bench::load::{self, PopulateConfig, ProbeOutcome, RunConfig, Workload};
use ferrokeeper_tests::bench::report;
use ferrokeeper_tests::bench::{fanout, sessions};
use hdrhistogram::Histogram;

#[derive(Parser)]
#[command(
    name = "zkbench",
    about = "Pipelined ZooKeeper load generator (loopback only)"
)]
struct Cli {
    /// Tokio worker threads (1 = a single-threaded runtime, which leaves the other core
    /// of a 2-core machine to the server).
    #[arg(long, default_value_t = 1, global = true)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum WorkloadArg {
    Create,
    Set,
    Get,
}

#[derive(Subcommand)]
enum Command {
    /// Run one timed workload and print a JSON line.
    Run {
        /// One server, or an ensemble's servers separated by commas (sessions are spread
        /// over them).
        #[arg(long, value_delimiter = ',', required = true)]
        addr: Vec<SocketAddr>,
        #[arg(long, value_enum)]
        workload: WorkloadArg,
        /// Label for the JSON line (bench/run.sh uses `zookeeper` and `ferrokeeper`).
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long, default_value_t = 1)]
        round: u32,
        #[arg(long, default_value_t = 4)]
        sessions: usize,
        /// Requests each session keeps in flight.
        #[arg(long, default_value_t = 16)]
        inflight: usize,
        /// Seconds measured.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Seconds of load before measuring (JIT, caches).
        #[arg(long, default_value_t = 2.0)]
        warmup: f64,
        /// Data bytes per create/set (default: 100 for create, 1024 for set).
        #[arg(long)]
        data_size: Option<usize>,
        /// Parent of the created nodes (create).
        #[arg(long, default_value = "/zkbench-create")]
        create_parent: String,
        /// Parent of the nodes that set and get use (created with 1 KiB if missing).
        #[arg(long, default_value = "/zkbench-kv")]
        kv_parent: String,
        #[arg(long, default_value_t = 1000)]
        keys: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Connect with TLS, trusting this CA (PEM); needs --tls-cert and --tls-key.
        #[arg(long, requires_all = ["tls_cert", "tls_key"])]
        tls_ca: Option<std::path::PathBuf>,
        /// The client certificate (PEM) presented over TLS.
        #[arg(long)]
        tls_cert: Option<std::path::PathBuf>,
        /// Its private key (PEM).
        #[arg(long)]
        tls_key: Option<std::path::PathBuf>,
    },
    /// Create N znodes as fast as possible, then the known znode; print a JSON line.
    Populate {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long, default_value_t = 1_000_000)]
        count: u64,
        /// Children per intermediate parent.
        #[arg(long, default_value_t = 1000)]
        fanout: u64,
        #[arg(long, default_value_t = 4)]
        sessions: usize,
        #[arg(long, default_value_t = 64)]
        inflight: usize,
        #[arg(long, default_value_t = 100)]
        data_size: usize,
        #[arg(long, default_value = "/zkbench-pop")]
        root: String,
        #[arg(long, default_value = "/zkbench-known")]
        known: String,
        #[arg(long, default_value_t = 37)]
        known_size: usize,
    },
    /// Open sessions that each create ephemeral znodes, print a JSON line, then keep the
    /// sessions alive (pings) until killed; exits 1 when the server goes away.
    Ephemerals {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value_t = 3)]
        sessions: usize,
        /// Ephemerals per session.
        #[arg(long, default_value_t = 10)]
        per_session: usize,
        #[arg(long, default_value = "/zkbench-eph")]
        parent: String,
        /// Prefix of the ephemerals' names (to run several holders under one parent).
        #[arg(long, default_value = "h")]
        tag: String,
        /// Session timeout asked for, ms.
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: i32,
        #[arg(long, default_value_t = 20)]
        data_size: usize,
    },
    /// Poll until the known znode reads back; print a JSON line (exit 0 read, 3 missing,
    /// 4 timeout).
    Probe {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long, default_value = "restart")]
        phase: String,
        #[arg(long, default_value = "/zkbench-known")]
        path: String,
        /// Expected data length (omit to accept any data).
        #[arg(long)]
        expect_size: Option<usize>,
        /// When the server was started, ns since the Unix epoch (`date +%s%N`).
        #[arg(long)]
        since_ns: u128,
        #[arg(long, default_value_t = 300.0)]
        timeout: f64,
        /// How long the node may stay missing after the server first answers.
        #[arg(long, default_value_t = 5.0)]
        grace: f64,
        /// Shutdown time measured by the caller, copied into the JSON line.
        #[arg(long)]
        shutdown_ms: Option<f64>,
    },
    /// Watch fan-out: `watchers` sessions watch one znode, which is changed `changes`
    /// times; prints notification latencies as a JSON line.
    Fanout {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long, default_value_t = 1000)]
        watchers: usize,
        #[arg(long, default_value_t = 20)]
        changes: usize,
        #[arg(long, default_value = "/zkbench-fanout")]
        path: String,
    },
    /// Many sessions held at once: connect rate, memory per session (with `--pid`), and
    /// how many still answer after the hold; prints a JSON line.
    Sessions {
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Handshakes in flight at once.
        #[arg(long, default_value_t = 64)]
        parallel: usize,
        /// Seconds the sessions are held (pinging) before they are asked again.
        #[arg(long, default_value_t = 30.0)]
        hold: f64,
        #[arg(long, default_value_t = 30_000)]
        timeout_ms: i32,
        /// The server's pid, to read its RSS before and after the sessions open.
        #[arg(long)]
        pid: Option<u32>,
    },
    /// Print VmRSS/VmHWM of a process as a JSON line.
    Rss {
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value = "server")]
        server: String,
        #[arg(long)]
        phase: String,
    },
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
    /// Turn the JSON lines of a run into markdown tables.
    Report {
        /// File of JSON lines.
        input: std::path::PathBuf,
    },
}

fn secs(value: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value).map_err(|e| format!("--{what}: {e}"))
}

fn quantile(hist: &Histogram<u64>, q: f64) -> u64 {
    if hist.is_empty() {
        0
    } else {
        hist.value_at_quantile(q)
    }
}

/// A JSON string literal.
fn js(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn error_field(first_error: Option<&str>) -> String {
    first_error.map_or_else(|| "null".to_owned(), js)
}

async fn execute(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Run {
            addr,
            workload,
            server,
            round,
            sessions,
            inflight,
            duration,
            warmup,
            data_size,
            create_parent,
            kv_parent,
            keys,
            seed,
            tls_ca,
            tls_cert,
            tls_key,
        } => {
            if let (Some(ca), Some(cert), Some(key)) = (&tls_ca, &tls_cert, &tls_key) {
                ferrokeeper_tests::bench::wire::use_tls(ca, cert, key)
                    .map_err(|e| format!("TLS: {e}"))?;
            }
            let workload = match workload {
                WorkloadArg::Create => Workload::Create,
                WorkloadArg::Set => Workload::Set,
                WorkloadArg::Get => Workload::Get,
            };
            let data_size = data_size.unwrap_or(match workload {
                Workload::Create => 100,
                Workload::Set | Workload::Get => 1024,
            });
            let cfg = RunConfig {
                addrs: addr,
                workload,
                sessions: sessions.max(1),
                inflight: inflight.max(1),
                warmup: secs(warmup, "warmup")?,
                duration: secs(duration, "duration")?,
                data_size,
                create_parent,
                kv_parent,
                keys,
                seed,
            };
            let outcome = load::run(&cfg)
                .await
                .map_err(|e| format!("{} run against {:?}: {e}", workload.name(), cfg.addrs))?;
            let hist = &outcome.stats.hist;
            let window = outcome.window.as_secs_f64();
            println!(
                "{{\"kind\":\"run\",\"server\":{},\"round\":{round},\"workload\":\"{}\",\
                 \"sessions\":{},\"inflight\":{},\"data_bytes\":{data_size},\
                 \"duration_s\":{duration},\"warmup_s\":{warmup},\"ops\":{},\
                 \"ops_per_s\":{:.1},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{},\
                 \"max_us\":{},\"latency_samples\":{},\"errors\":{},\"first_error\":{}}}",
                js(&server),
                workload.name(),
                cfg.sessions,
                cfg.inflight,
                outcome.stats.ops_in_window,
                outcome.stats.ops_in_window as f64 / window,
                quantile(hist, 0.50),
                quantile(hist, 0.99),
                quantile(hist, 0.999),
                hist.max(),
                hist.len(),
                outcome.stats.errors,
                error_field(outcome.stats.first_error.as_deref()),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Populate {
            addr,
            server,
            count,
            fanout,
            sessions,
            inflight,
            data_size,
            root,
            known,
            known_size,
        } => {
            let cfg = PopulateConfig {
                addr,
                count,
                fanout,
                sessions: sessions.max(1),
                inflight: inflight.max(1),
                data_size,
                root,
                known,
                known_data: Bytes::from(vec![b'k'; known_size]),
            };
            let outcome = load::populate(&cfg)
                .await
                .map_err(|e| format!("populate {addr}: {e}"))?;
            let secs = outcome.elapsed.as_secs_f64();
            let hist = &outcome.stats.hist;
            println!(
                "{{\"kind\":\"populate\",\"server\":{},\"count\":{count},\"fanout\":{fanout},\
                 \"sessions\":{},\"inflight\":{},\"data_bytes\":{data_size},\"seconds\":{secs:.3},\
                 \"ops_per_s\":{:.1},\"p50_us\":{},\"p99_us\":{},\"max_us\":{},\"replies\":{},\
                 \"errors\":{},\"first_error\":{}}}",
                js(&server),
                cfg.sessions,
                cfg.inflight,
                if secs > 0.0 {
                    outcome.stats.replies as f64 / secs
                } else {
                    0.0
                },
                quantile(hist, 0.50),
                quantile(hist, 0.99),
                hist.max(),
                outcome.stats.replies,
                outcome.stats.errors,
                error_field(outcome.stats.first_error.as_deref()),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Ephemerals {
            addr,
            sessions,
            per_session,
            parent,
            tag,
            timeout_ms,
            data_size,
        } => {
            let cfg = HoldConfig {
                addr,
                sessions: sessions.max(1),
                per_session,
                parent,
                tag,
                timeout_ms,
                data_size,
            };
            let open = hold::open(&cfg)
                .await
                .map_err(|e| format!("ephemerals on {addr}: {e}"))?;
            let ids: Vec<String> = open
                .iter()
                .map(|s| js(&format!("0x{:x}", s.session_id)))
                .collect();
            println!(
                "{{\"kind\":\"ephemerals\",\"sessions\":{},\"ephemerals\":{},\"parent\":{},\
                 \"timeout_ms\":{timeout_ms},\"session_ids\":[{}]}}",
                open.len(),
                open.len() * cfg.per_session,
                js(&cfg.parent),
                ids.join(","),
            );
            let err = hold::keep_alive(open, timeout_ms).await;
            Err(format!("ephemerals on {addr}: sessions lost: {err}"))
        }
        Command::Probe {
            addr,
            server,
            phase,
            path,
            expect_size,
            since_ns,
            timeout,
            grace,
            shutdown_ms,
        } => {
            let result = load::probe(
                addr,
                &path,
                expect_size,
                since_ns,
                secs(timeout, "timeout")?,
                secs(grace, "grace")?,
            )
            .await;
            let opt = |v: Option<f64>| v.map_or_else(|| "null".to_owned(), |v| format!("{v:.1}"));
            println!(
                "{{\"kind\":\"probe\",\"server\":{},\"phase\":{},\"path\":{},\"outcome\":\"{}\",\
                 \"first_response_ms\":{},\"read_ms\":{},\"shutdown_ms\":{},\"connect_attempts\":{}}}",
                js(&server),
                js(&phase),
                js(&path),
                result.outcome.name(),
                opt(result.first_response_ms),
                opt(result.read_ms),
                opt(shutdown_ms),
                result.connect_attempts,
            );
            Ok(ExitCode::from(match result.outcome {
                ProbeOutcome::Read => 0,
                ProbeOutcome::Missing => 3,
                ProbeOutcome::Timeout => 4,
            }))
        }
        Command::Fanout {
            addr,
            server,
            watchers,
            changes,
            path,
        } => {
            let cfg = fanout::FanoutConfig {
                addr,
                watchers: watchers.max(1),
                changes: changes.max(1),
                path,
            };
            let outcome = fanout::run(&cfg)
                .await
                .map_err(|e| format!("fanout on {addr}: {e}"))?;
            let hist = &outcome.latencies;
            println!(
                "{{\"kind\":\"fanout\",\"server\":{},\"watchers\":{},\"changes\":{},\
                 \"notifications\":{},\"setup_s\":{:.3},\"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
                js(&server),
                cfg.watchers,
                cfg.changes,
                outcome.notifications,
                outcome.setup_s,
                quantile(hist, 0.50),
                quantile(hist, 0.99),
                hist.max(),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Sessions {
            addr,
            server,
            count,
            parallel,
            hold,
            timeout_ms,
            pid,
        } => {
            let cfg = sessions::SessionsConfig {
                addr,
                count,
                parallel,
                hold: secs(hold, "hold")?,
                timeout_ms,
                pid,
            };
            let outcome = sessions::run(&cfg)
                .await
                .map_err(|e| format!("sessions on {addr}: {e}"))?;
            let opt = |v: Option<u64>| v.map_or_else(|| "null".to_owned(), |v| v.to_string());
            println!(
                "{{\"kind\":\"sessions\",\"server\":{},\"count\":{count},\"opened\":{},\
                 \"connect_s\":{:.3},\"alive\":{},\"rss_before_kb\":{},\"rss_after_kb\":{},\
                 \"first_error\":{}}}",
                js(&server),
                outcome.opened,
                outcome.connect_s,
                outcome.alive,
                opt(outcome.rss_before_kb),
                opt(outcome.rss_after_kb),
                error_field(outcome.first_error.as_deref()),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Rss { pid, server, phase } => {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
            let field = |name: &str| {
                status
                    .lines()
                    .find_map(|line| line.strip_prefix(name))
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|kb| kb.parse::<u64>().ok())
                    .map_or_else(|| "null".to_owned(), |kb| kb.to_string())
            };
            println!(
                "{{\"kind\":\"rss\",\"server\":{},\"phase\":{},\"pid\":{pid},\"vmrss_kb\":{},\"vmhwm_kb\":{}}}",
                js(&server),
                js(&phase),
                field("VmRSS:"),
                field("VmHWM:"),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::FreePort => {
            let listener =
                TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
            let port = listener
                .local_addr()
                .map_err(|e| format!("local addr: {e}"))?
                .port();
            println!("{port}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Report { input } => {
            let text =
                std::fs::read_to_string(&input).map_err(|e| format!("{}: {e}", input.display()))?;
            print!("{}", report::markdown(&text));
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("zkbench: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("zkbench: {e}");
            ExitCode::FAILURE
        }
    }
}
