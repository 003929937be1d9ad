//! A real Apache ZooKeeper 3.8 server (Debian's package) for differential tests.
//!
//! [`RealZooKeeper::start`] runs `org.apache.zookeeper.server.ZooKeeperServerMain` from
//! `/usr/share/java/zookeeper.jar` standalone, with its own `zoo.cfg` and data dir in a temp
//! dir, on a free loopback port. It is ready once `srvr` reports a serving server; the JVM is
//! killed by pid on drop (also when a test panics).
//!
//! Needs the Debian packages `zookeeper` (the server jar and its dependencies) and a Java
//! runtime (`default-jre-headless`, which `zookeeper` already depends on).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server jar of Debian's `zookeeper` package; its manifest names the dependencies.
pub const ZOOKEEPER_JAR: &str = "/usr/share/java/zookeeper.jar";
/// A logging backend for slf4j (Debian `libslf4j-java`, a dependency of `zookeeper`).
pub const SLF4J_SIMPLE_JAR: &str = "/usr/share/java/slf4j-simple.jar";
/// Netty's codec module (Debian's libnetty-java, a dependency of zookeeper).
pub const NETTY_CODEC_JAR: &str = "/usr/share/java/netty-codec.jar";
/// The servlet API (Debian's libservlet-api-java), which the AdminServer's Jetty needs
/// and Debian's zookeeper.jar manifest does not list.
pub const SERVLET_API_JAR: &str = "/usr/share/java/servlet-api.jar";

/// How long one start attempt may take before it is given up.
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Start attempts (a new port each) when the chosen port was taken in the meantime.
const ATTEMPTS: usize = 5;

/// A running standalone ZooKeeper, killed on drop.
pub struct RealZooKeeper {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    props: Vec<(String, String)>,
    /// zoo.cfg's dataDir (by default `<temp dir>/data`; a `dataDir` line in `cfg` moves it).
    data_dir: PathBuf,
    /// zoo.cfg's dataLogDir, if `cfg` set one.
    data_log_dir: Option<PathBuf>,
}

/// Why ZooKeeper is not usable here, or `None` when it is installed.
pub fn missing() -> Option<String> {
    if !Path::new(ZOOKEEPER_JAR).exists() {
        return Some(format!(
            "{ZOOKEEPER_JAR} not found: install the Debian package `zookeeper` \
             (apt-get install zookeeper; it brings a Java runtime)"
        ));
    }
    let java = Command::new(java_binary())
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(java, Ok(status) if status.success()) {
        return Some(
            "no working `java` on PATH: install a Java runtime (apt-get install \
             default-jre-headless)"
                .to_owned(),
        );
    }
    None
}

fn java_binary() -> PathBuf {
    match std::env::var_os("JAVA_HOME") {
        Some(home) if Path::new(&home).join("bin/java").exists() => {
            Path::new(&home).join("bin/java")
        }
        _ => PathBuf::from("java"),
    }
}

/// `java` with the ZooKeeper class path and the JVM flags every test server uses (quick
/// start-up, small footprint), plus `props` as system properties (`-Dkey=value`). The caller
/// adds the main class and its arguments.
pub(crate) fn java_command(props: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(java_binary());
    cmd.arg("-cp")
        // Debian's zookeeper.jar lists most of Netty in its manifest but not its codec
        // module, which the Netty connection factory (TLS) needs.
        .arg(format!(
            "{ZOOKEEPER_JAR}:{SLF4J_SIMPLE_JAR}:{NETTY_CODEC_JAR}:{SERVLET_API_JAR}"
        ))
        .arg("-Dorg.slf4j.simpleLogger.defaultLogLevel=info")
        .arg("-Dzookeeper.admin.enableServer=false")
        .arg("-Xshare:auto")
        .arg("-XX:+UseSerialGC")
        .arg("-XX:TieredStopAtLevel=1");
    for (key, value) in props {
        cmd.arg(format!("-D{key}={value}"));
    }
    cmd
}

/// A free loopback port below the kernel's ephemeral range where there is room: no
/// kernel-chosen port (an outgoing connection, another test server's port 0) can take
/// it while the server using it restarts, where a client reconnecting to it would
/// reach another test's server. Closed again, so it can still race with another
/// process; callers retry when ZooKeeper cannot bind it.
pub fn free_port() -> u16 {
    crate::zk_ensemble::pick_port()
}

/// Sends a four-letter word; `None` if the server is not answering yet.
pub fn try_four_letter(addr: SocketAddr, word: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(word.as_bytes()).ok()?;
    let mut out = String::new();
    stream.read_to_string(&mut out).ok()?;
    Some(out)
}

/// Starts the JVM on `dir/zoo.cfg`, appending its output to `dir/server.log`.
fn spawn_java(dir: &Path, props: &[(String, String)]) -> Result<Child, String> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("server.log");
    let props: Vec<(&str, &str)> = props
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut cmd = java_command(&props);
    cmd.arg("org.apache.zookeeper.server.ZooKeeperServerMain")
        .arg(dir.join("zoo.cfg"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log handle"))
        .stderr(log)
        .spawn()
        .map_err(|e| format!("spawn java: {e}"))
}

impl RealZooKeeper {
    /// Starts ZooKeeper with `cfg` as extra `zoo.cfg` lines (after the defaults, so they
    /// override them) and `props` as JVM system properties (`-Dkey=value`).
    ///
    /// Defaults: `tickTime=2000`, `clientPortAddress=127.0.0.1`, `maxClientCnxns=0`,
    /// `admin.enableServer=false`, `4lw.commands.whitelist=*`, `dataDir` a fresh directory
    /// in the server's temp dir. A `dataDir` line in `cfg` starts it on an existing
    /// directory instead (e.g. one `ferrokeeper export` wrote), a `dataLogDir` line puts
    /// the transaction logs elsewhere.
    pub fn start(cfg: &[(&str, &str)], props: &[(&str, &str)]) -> RealZooKeeper {
        if let Some(why) = missing() {
            panic!("real ZooKeeper unavailable: {why}");
        }
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            match Self::try_start(cfg, props) {
                Ok(zk) => return zk,
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "ZooKeeper did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// As [`RealZooKeeper::start`], with the AdminServer on (HTTP on 127.0.0.1, at
    /// `/commands`); returns the server and the AdminServer's port. ZooKeeper exits when
    /// it cannot bind that port, so each attempt takes a new free one.
    pub fn start_with_admin(cfg: &[(&str, &str)], props: &[(&str, &str)]) -> (RealZooKeeper, u16) {
        if let Some(why) = missing() {
            panic!("real ZooKeeper unavailable: {why}");
        }
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let port = free_port();
            let port_text = port.to_string();
            let mut lines = vec![
                ("admin.enableServer", "true"),
                ("admin.serverAddress", "127.0.0.1"),
                ("admin.serverPort", port_text.as_str()),
            ];
            lines.extend_from_slice(cfg);
            let started = Self::try_start(&lines, props).and_then(|mut zk| {
                zk.wait_accepting(SocketAddr::from(([127, 0, 0, 1], port)))
                    .map(|()| zk)
            });
            match started {
                Ok(zk) => return (zk, port),
                Err(why) => failures.push(why),
            }
        }
        panic!(
            "ZooKeeper with its AdminServer did not start in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    fn try_start(cfg: &[(&str, &str)], props: &[(&str, &str)]) -> Result<RealZooKeeper, String> {
        let dir = tempfile::Builder::new()
            .prefix("realzk")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let port = free_port();
        let mut lines = vec![
            ("tickTime".to_owned(), "2000".to_owned()),
            ("dataDir".to_owned(), data.display().to_string()),
            ("clientPort".to_owned(), port.to_string()),
            ("clientPortAddress".to_owned(), "127.0.0.1".to_owned()),
            ("maxClientCnxns".to_owned(), "0".to_owned()),
            ("admin.enableServer".to_owned(), "false".to_owned()),
            ("4lw.commands.whitelist".to_owned(), "*".to_owned()),
        ];
        for (key, value) in cfg {
            lines.retain(|(k, _)| k != key);
            lines.push(((*key).to_owned(), (*value).to_owned()));
        }
        let setting = |key: &str| {
            lines
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| PathBuf::from(v))
        };
        let data_dir = setting("dataDir").unwrap_or(data);
        let data_log_dir = setting("dataLogDir");
        let text: String = lines.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let cfg_path = dir.path().join("zoo.cfg");
        std::fs::write(&cfg_path, text).expect("write zoo.cfg");
        let props: Vec<(String, String)> = props
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn_java(dir.path(), &props)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // From here on the guard kills the JVM on every exit path.
        let mut zk = RealZooKeeper {
            child,
            addr,
            dir,
            props,
            data_dir,
            data_log_dir,
        };
        zk.wait_serving()?;
        // ZooKeeper answers on its plain port a moment before it binds the TLS one.
        if let Some(port) =
            setting("secureClientPort").and_then(|p| p.to_str().and_then(|p| p.parse::<u16>().ok()))
        {
            zk.wait_accepting(SocketAddr::from(([127, 0, 0, 1], port)))?;
        }
        Ok(zk)
    }

    /// Polls `addr` until it accepts connections, or fails with the log's tail.
    fn wait_accepting(&mut self, addr: SocketAddr) -> Result<(), String> {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ZooKeeper did not listen on {addr} within {START_DEADLINE:?}; log:\n{}",
                    self.log_tail()
                ));
            }
            // Polling interval while the port is bound (there is no event to wait on).
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls `srvr` until the server serves, or fails with the log's tail.
    fn wait_serving(&mut self) -> Result<(), String> {
        let addr = self.addr;
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "ZooKeeper exited during start-up ({status}) on {addr}; log:\n{}",
                    self.log_tail()
                ));
            }
            // `srvr` answers "not currently serving requests" until the database is loaded.
            if let Some(answer) = try_four_letter(addr, "srvr")
                && answer.contains("Mode: standalone")
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "ZooKeeper did not answer `srvr` on {addr} within {START_DEADLINE:?}; log:\n{}",
                    self.log_tail()
                ));
            }
            // Polling interval while the JVM starts (there is no event to wait on).
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the JVM (SIGKILL, as a crash) and starts ZooKeeper again with the same
    /// zoo.cfg (so the same port and data dir). Retries while the port is not free yet.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut failures = Vec::new();
        for _ in 0..ATTEMPTS {
            let started = spawn_java(self.dir.path(), &self.props).and_then(|child| {
                self.child = child;
                self.wait_serving()
            });
            match started {
                Ok(()) => return,
                Err(why) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    failures.push(why);
                    // Give the kernel time to release the port.
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
        }
        panic!(
            "ZooKeeper did not restart in {ATTEMPTS} attempts:\n{}",
            failures.join("\n---\n")
        );
    }

    /// SIGKILL, as a crash: the sessions that were open stay in its data. The data dir
    /// stays (for [`RealZooKeeper::restart`], or for a test to read and damage).
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// zoo.cfg's dataDir (snapshots in its `version-2`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// zoo.cfg's dataLogDir (transaction logs in its `version-2`): the dataDir unless
    /// `cfg` set one.
    pub fn data_log_dir(&self) -> &Path {
        self.data_log_dir.as_deref().unwrap_or(&self.data_dir)
    }

    /// Waits (up to `within`) until every snapshot this server's snapshot thread began is
    /// completely written: in its log, the lines of thread "Snapshot Thread" saying
    /// "Snapshotting: 0x" (`FileTxnSnapLog.save` begins) are matched by as many saying
    /// "Snapshot taken in" (`ZooKeeperServer.takeSnapshot` returns). That thread snapshots
    /// in the background when a txn log rolls, so a `kill -9` right after a burst of
    /// writes could otherwise cut a snapshot off mid-file; a test that wants only whole
    /// snapshots on disk waits here first. (Snapshots at start-up are taken on the main
    /// thread before the server serves.)
    ///
    /// ZooKeeper starts the thread before it flushes and answers the txn that rolled the
    /// log, so by the time a client has had replies to later requests the thread has
    /// normally logged its start; a thread the scheduler has not run yet is not seen.
    /// ZooKeeper and `ferrokeeper import` both skip a snapshot cut short, so a test that
    /// compares the two stays valid even then.
    pub fn wait_snapshots_written(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let text =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let thread: Vec<&str> = text
                .lines()
                .filter(|line| line.starts_with("[Snapshot Thread]"))
                .collect();
            let begun = thread
                .iter()
                .filter(|l| l.contains("Snapshotting: 0x"))
                .count();
            let done = thread
                .iter()
                .filter(|l| l.contains("Snapshot taken in"))
                .count();
            if begun == done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ZooKeeper did not finish its snapshots within {within:?} ({done} of {begun}); \
                 log:\n{}",
                self.log_tail()
            );
            // Polling the log: there is no other signal that the snapshot thread is done.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `host:port` for client connect strings.
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the server's log (for failure messages).
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for RealZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
