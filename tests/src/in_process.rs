//! Servers started inside the test process through `ferrokeeper_server::launch` (the
//! binary's own start-up, from a zoo.cfg) on kernel-chosen client ports: one standalone
//! server, or an ensemble whose members share the test's runtime. Scenarios that need
//! no process boundary (no kill -9, no signals, no log lines) run against them without
//! spawning anything, and a server's panic is the test's own.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferrokeeper_server::config::Config;
use ferrokeeper_server::launch::launch;
use ferrokeeper_server::server::Server;

/// How long a start may take before the test fails.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Parses `cfg` as the binary would, with the client port on 127.0.0.1:`client_port`
/// (0: the kernel chooses; zoo.cfg cannot say 0, the command line can) and `jvm_flags`
/// as `SERVER_JVMFLAGS`.
fn config(cfg: &Path, client_port: u16, jvm_flags: &str) -> Config {
    let flags = jvm_flags.to_owned();
    let args = [
        "--client-port-address".to_owned(),
        "127.0.0.1".to_owned(),
        "--client-port".to_owned(),
        client_port.to_string(),
        cfg.display().to_string(),
    ];
    Config::from_args(args, move |key| {
        (key == "SERVER_JVMFLAGS").then(|| flags.clone())
    })
    .expect("a valid zoo.cfg")
}

/// Launches the server `cfg` describes; returns once it serves clients.
async fn start(cfg: &Path, client_port: u16, jvm_flags: &str) -> Server {
    let config = config(cfg, client_port, jvm_flags);
    let launched = tokio::time::timeout(START_LIMIT, launch(&config))
        .await
        .expect("in-process start timed out")
        .unwrap_or_else(|e| panic!("in-process start failed: {e}"));
    launched.server
}

/// Waits (bounded) until `server` serves clients (an ensemble member: once its role is
/// leader, follower or observer).
async fn serving(server: &Server) {
    let mut role = server.shared().backend().role();
    tokio::time::timeout(START_LIMIT, role.wait_for(|r| r.serving()))
        .await
        .expect("the in-process server did not start serving")
        .expect("role channel");
}

/// The lines every in-process server's zoo.cfg starts with: the admin server and
/// metrics off (their default ports are fixed), every four-letter word allowed.
fn common_lines(tick_ms: u32, data: &Path) -> String {
    format!(
        "tickTime={tick_ms}\ninitLimit=10\nsyncLimit=5\ndataDir={}\n\
         4lw.commands.whitelist=*\nadmin.enableServer=false\n",
        data.display()
    )
}

/// One standalone server in this process.
pub struct InProcessServer {
    server: Option<Server>,
    addr: SocketAddr,
    cfg: PathBuf,
    jvm_flags: String,
    _dir: tempfile::TempDir,
}

impl InProcessServer {
    /// Starts a standalone server on a kernel-chosen port with `jvm_flags`
    /// (`-Dkey=value ...`).
    pub async fn start(jvm_flags: &str) -> InProcessServer {
        let dir = tempfile::Builder::new()
            .prefix("fk-inproc")
            .tempdir()
            .expect("temp dir");
        let data = dir.path().join("data");
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(&cfg, common_lines(2000, &data)).expect("zoo.cfg");
        let server = start(&cfg, 0, jvm_flags).await;
        let addr = server.local_addr();
        InProcessServer {
            server: Some(server),
            addr,
            cfg,
            jvm_flags: jvm_flags.to_owned(),
            _dir: dir,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server (as a clean shutdown) and starts it again on the same port and
    /// data.
    pub async fn restart(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        let server = start(&self.cfg, self.addr.port(), &self.jvm_flags).await;
        assert_eq!(server.local_addr(), self.addr, "restarted on another port");
        self.server = Some(server);
    }

    /// Stops the server cleanly.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

/// An ensemble of voters in this process, each member with its own data directory and
/// zoo.cfg; quorum ports are picked below the ephemeral range, client ports by the
/// kernel.
pub struct InProcessEnsemble {
    members: Vec<Server>,
    addrs: Vec<SocketAddr>,
    _dir: tempfile::TempDir,
}

impl InProcessEnsemble {
    /// Starts `voters` members with `jvm_flags` and returns once every one serves.
    pub async fn start(voters: usize, tick_ms: u32, jvm_flags: &str) -> InProcessEnsemble {
        let dir = tempfile::Builder::new()
            .prefix("fk-inproc-ensemble")
            .tempdir()
            .expect("temp dir");
        let ports: Vec<(u16, u16)> = (0..voters)
            .map(|_| {
                (
                    crate::zk_ensemble::pick_port(),
                    crate::zk_ensemble::pick_port(),
                )
            })
            .collect();
        let servers: String = ports
            .iter()
            .enumerate()
            .map(|(i, (quorum, election))| {
                format!("server.{}=127.0.0.1:{quorum}:{election}\n", i + 1)
            })
            .collect();
        let mut starts = Vec::new();
        for i in 0..voters {
            let id = i + 1;
            let data = dir.path().join(format!("data{id}"));
            std::fs::create_dir_all(&data).expect("data dir");
            std::fs::write(data.join("myid"), format!("{id}\n")).expect("myid");
            let cfg = dir.path().join(format!("zoo{id}.cfg"));
            std::fs::write(&cfg, common_lines(tick_ms, &data) + &servers).expect("zoo.cfg");
            let flags = jvm_flags.to_owned();
            starts.push(async move { start(&cfg, 0, &flags).await });
        }
        // Started together: a member's start may wait for the others.
        let members = futures::future::join_all(starts).await;
        for member in &members {
            serving(member).await;
        }
        let addrs = members.iter().map(Server::local_addr).collect();
        InProcessEnsemble {
            members,
            addrs,
            _dir: dir,
        }
    }

    /// Every member's client address, comma-separated.
    pub fn connect_string(&self) -> String {
        self.addrs
            .iter()
            .map(SocketAddr::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The first member's client address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Stops every member cleanly.
    pub async fn stop(self) {
        for member in self.members {
            member.stop().await;
        }
    }
}
