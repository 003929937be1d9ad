//! Shared helpers for the process-level integration tests: start a real `ferrokeeper`
//! binary on a kernel-chosen port, learn the port from its log line, and kill it by
//! pid when the test ends.

pub mod bench;
pub mod cluster;
pub mod differential;
pub mod either;
pub mod ensemble;
pub mod follow;
pub mod history;
pub mod http;
pub mod in_process;
pub mod pki;
pub mod process;
pub mod proxy;
pub mod raw;
pub mod simulation;
pub mod zk_ensemble;
pub mod zk_files;
pub mod znode_tree;
pub mod zookeeper;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Duration;

/// The marker the server logs once it accepts clients.
const LISTENING: &str = "ferrokeeper listening on ";
/// Logged just before LISTENING when the server has a TLS client port.
const LISTENING_TLS: &str = "ferrokeeper listening for TLS clients on ";
/// Logged before LISTENING when the AdminServer is enabled.
pub const ADMIN_LISTENING: &str = "ferrokeeper admin server listening on ";
/// Logged before LISTENING when the Prometheus endpoint is configured.
pub const METRICS_LISTENING: &str = "ferrokeeper metrics listening on ";

/// A server's log lines as they arrive (the most recent ones), for tests that wait for
/// an event the server logs.
#[derive(Default)]
pub struct Log {
    lines: Mutex<std::collections::VecDeque<String>>,
    arrived: Condvar,
}

impl Log {
    const KEPT: usize = 10_000;

    pub(crate) fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == Self::KEPT {
            lines.pop_front();
        }
        lines.push_back(line);
        self.arrived.notify_all();
    }

    /// The address logged after `marker` (e.g. [`ADMIN_LISTENING`]), if it was.
    pub fn address_after(&self, marker: &str) -> Option<SocketAddr> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().rev().find_map(|line| {
            line.split(marker)
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
    }

    /// The last `n` lines, one per line.
    pub fn tail(&self, n: usize) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let skip = lines.len().saturating_sub(n);
        lines
            .iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// How many kept lines contain `needle`.
    pub fn count(&self, needle: &str) -> usize {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until more than `seen` kept lines contain `needle`; false after `within`.
    pub fn wait_for_more(&self, needle: &str, seen: usize, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if lines.iter().filter(|l| l.contains(needle)).count() > seen {
                return true;
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            lines = self
                .arrived
                .wait_timeout(lines, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// What `spawn` learns from a starting server.
struct Spawned {
    child: Child,
    addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    log: Arc<Log>,
}

/// The `ferrokeeper` binary built alongside these tests (`target/<profile>/ferrokeeper`).
pub fn ferrokeeper_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/ferrokeeper
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let bin = dir.join("ferrokeeper");
    assert!(
        bin.exists(),
        "{} not found: build the workspace binaries first (cargo build --workspace)",
        bin.display()
    );
    // `cargo test -p ferrokeeper-tests` does not rebuild the server binary: refuse to
    // test an old one rather than report results of code that is not the code.
    let built = modified(&bin);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["server/src", "protocol/src"] {
        if let Some(newer) = newest_file(&workspace.join(dir)).filter(|(t, _)| Some(*t) > built) {
            panic!(
                "{} is older than {}: rebuild it (cargo build -p ferrokeeper-server) or run the \
                 workspace's tests (bash tests/run.sh)",
                bin.display(),
                newer.1.display()
            );
        }
    }
    bin
}

/// The `ferrokeeper-cli` binary beside the `ferrokeeper` one, refused when older than
/// its sources (a test build does not rebuild another package's binary).
pub fn cli_binary() -> PathBuf {
    let bin = ferrokeeper_binary().with_file_name("ferrokeeper-cli");
    assert!(
        bin.exists(),
        "{} not found: build it first (cargo build -p ferrokeeper-cli)",
        bin.display()
    );
    let built = modified(&bin);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["cli/src", "client/src", "protocol/src"] {
        if let Some(newer) = newest_file(&workspace.join(dir)).filter(|(t, _)| Some(*t) > built) {
            panic!(
                "{} is older than {}: rebuild it (cargo build -p ferrokeeper-cli)",
                bin.display(),
                newer.1.display()
            );
        }
    }
    bin
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The most recently modified file below `dir`.
fn newest_file(dir: &Path) -> Option<(std::time::SystemTime, PathBuf)> {
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let candidate = if path.is_dir() {
            newest_file(&path)
        } else {
            modified(&path).map(|t| (t, path))
        };
        if let Some(c) = candidate
            && newest.as_ref().is_none_or(|n| c.0 > n.0)
        {
            newest = Some(c);
        }
    }
    newest
}

/// A running `ferrokeeper` process, killed on drop.
pub struct Ferrokeeper {
    child: Child,
    addr: SocketAddr,
    secure_addr: Option<SocketAddr>,
    log: Arc<Log>,
    data_dir: PathBuf,
    args: Vec<String>,
    _data: Option<tempfile::TempDir>,
}

impl Ferrokeeper {
    /// Starts a standalone server on 127.0.0.1 with a fresh data dir; `args` are extra flags.
    pub fn start(args: &[&str]) -> Ferrokeeper {
        let data = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(data.path(), args);
        server._data = Some(data);
        server
    }

    /// Starts a standalone server on 127.0.0.1 over an existing data dir (kept when the
    /// server goes, so a test can restart on it).
    pub fn start_in(data_dir: &std::path::Path, args: &[&str]) -> Ferrokeeper {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        match spawn(data_dir, 0, &args) {
            Ok(Spawned {
                child,
                addr,
                secure_addr,
                log,
            }) => Ferrokeeper {
                child,
                addr,
                secure_addr,
                log,
                data_dir: data_dir.to_owned(),
                args,
                _data: None,
            },
            Err(why) => panic!("{why}"),
        }
    }

    /// Kills the server (SIGKILL, as a crash) and starts a new one on the same port,
    /// data dir and flags. Retries for a while if the port is not free yet.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match spawn(&self.data_dir, self.addr.port(), &self.args) {
                Ok(spawned) => {
                    assert_eq!(spawned.addr, self.addr, "restarted on another address");
                    self.child = spawned.child;
                    self.secure_addr = spawned.secure_addr;
                    self.log = spawned.log;
                    return;
                }
                Err(why) if std::time::Instant::now() < deadline => {
                    eprintln!(
                        "restart on port {} failed, retrying: {why}",
                        self.addr.port()
                    );
                    // Waiting for the kernel to free the port: nothing to await.
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(why) => panic!("ferrokeeper did not restart within 30 s: {why}"),
            }
        }
    }

    /// SIGKILL, as a crash: no shutdown code runs.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS client port (`--secure-client-port`), if the server has one.
    /// The AdminServer's address (the harness binds it to 127.0.0.1, port 0).
    pub fn admin_addr(&self) -> SocketAddr {
        self.log
            .address_after(ADMIN_LISTENING)
            .expect("the server logged no admin server address")
    }

    /// The Prometheus endpoint's address, if one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.log.address_after(METRICS_LISTENING)
    }

    pub fn secure_addr(&self) -> Option<SocketAddr> {
        self.secure_addr
    }

    /// The server's log so far (and as it grows).
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// `host:port` for client connect strings.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ferrokeeper did not exit within {within:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ferrokeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `ferrokeeper` binary with the tests' log settings (`FERROKEEPER_TEST_RUST_LOG`),
/// stdin and stdout closed and its log (stderr) piped to the caller.
pub fn ferrokeeper_command() -> Command {
    let mut command = Command::new(ferrokeeper_binary());
    command
        .env(
            "RUST_LOG",
            std::env::var("FERROKEEPER_TEST_RUST_LOG")
                .unwrap_or_else(|_| "info,openraft=warn".into()),
        )
        // The AdminServer is on by default (port 8080, as ZooKeeper's): tests run many
        // servers at once, so each gets a kernel-chosen port on loopback unless its
        // zoo.cfg or flags say otherwise (-D options in JVMFLAGS rank below both).
        .env(
            "JVMFLAGS",
            "-Dzookeeper.admin.serverAddress=127.0.0.1 -Dzookeeper.admin.serverPort=0",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

/// Spawns `ferrokeeper` on 127.0.0.1:`port` (0: the kernel chooses) and waits for its
/// "listening" log line.
fn spawn(data_dir: &Path, port: u16, args: &[String]) -> Result<Spawned, String> {
    let mut child = ferrokeeper_command()
        .args(["--client-port-address", "127.0.0.1", "--client-port"])
        .arg(port.to_string())
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .spawn()
        .expect("spawn ferrokeeper");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let log = Arc::new(Log::default());
    let kept = log.clone();
    let address_after = |line: &str, marker: &str| {
        let rest = line.split(marker).nth(1)?;
        rest.split_whitespace().next()?.parse::<SocketAddr>().ok()
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sent = false;
        let mut secure = None;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = address_after(&line, LISTENING_TLS) {
                secure = Some(addr);
            } else if !sent && let Some(addr) = address_after(&line, LISTENING) {
                let _ = tx.send((addr, secure));
                sent = true;
            }
            if std::env::var_os("FERROKEEPER_TEST_LOG").is_some() {
                eprintln!("[ferrokeeper] {line}");
            }
            kept.push(line);
        }
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok((addr, secure_addr)) => Ok(Spawned {
            child,
            addr,
            secure_addr,
            log,
        }),
        Err(_) => {
            // Timed out, or the log ended because the process exited.
            let _ = child.kill();
            let status = child.wait();
            Err(format!(
                "ferrokeeper did not report its address (exit: {status:?})"
            ))
        }
    }
}

/// Sends a four-letter word and returns the whole answer.
pub fn four_letter(addr: SocketAddr, word: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(word.as_bytes()).expect("send");
    let mut out = String::new();
    stream.read_to_string(&mut out).expect("read");
    out
}
