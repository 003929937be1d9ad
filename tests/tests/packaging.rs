//! `packaging/`: the zkServer.sh-compatible wrapper against a real ferrokeeper (and its
//! `status` against ZooKeeper's own zkServer.sh on a real ZooKeeper), the container
//! entrypoint against the official and Bitnami images' variables (with a stub
//! `ferrokeeper` that records its arguments, and once with the real one), the
//! Kubernetes manifests (parsed, and the zoo.cfg/myid each StatefulSet member gets),
//! and the systemd unit.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ferrokeeper_tests::process::{self, Finished, Group};
use ferrokeeper_tests::zookeeper::{self, RealZooKeeper, free_port, try_four_letter};

/// Limit for one run of a script (they return within seconds; `stop` waits up to 60 s
/// for a server that does not exit).
const SCRIPT_LIMIT: Duration = Duration::from_secs(90);
/// How long a started server may take to answer `srvr`.
const SERVE_DEADLINE: Duration = Duration::from_secs(30);

fn packaging() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging")
}

fn wrapper() -> PathBuf {
    packaging().join("bin/zkServer.sh")
}

fn entrypoint() -> PathBuf {
    packaging().join("docker/entrypoint.sh")
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Polls `srvr` on `addr` until its Mode line appears; the line, or None at the deadline.
fn wait_mode(addr: SocketAddr, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(line) = try_four_letter(addr, "srvr").and_then(|a| {
            a.lines()
                .find(|l| l.starts_with("Mode: "))
                .map(str::to_owned)
        }) {
            return Some(line);
        }
        if Instant::now() > deadline {
            return None;
        }
        // Polling interval while the server starts (there is no event to wait on).
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn pid_alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by whoever inherited it) has exited.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------
// The container entrypoint.
// ---------------------------------------------------------------------------------

/// A temp dir with a stub `ferrokeeper` on PATH that writes its arguments, one per
/// line, to `args` (so nothing real is started), and the entrypoint's directories.
struct EntryDir {
    dir: tempfile::TempDir,
}

impl EntryDir {
    fn new() -> EntryDir {
        let dir = tempfile::Builder::new()
            .prefix("entrypoint")
            .tempdir()
            .expect("temp dir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("bin dir");
        let stub = bin.join("ferrokeeper");
        std::fs::write(
            &stub,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\n",
                dir.path().join("args").display()
            ),
        )
        .expect("write stub");
        let mut perm = std::fs::metadata(&stub).expect("stub").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        std::fs::set_permissions(&stub, perm).expect("chmod stub");
        EntryDir { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn p(&self, rel: &str) -> String {
        self.path(rel).display().to_string()
    }

    /// Runs the entrypoint with exactly `env` (plus PATH with the stub first).
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> Finished {
        let mut cmd = Command::new("bash");
        cmd.arg(entrypoint()).args(args).env_clear().env(
            "PATH",
            format!("{}:/usr/bin:/bin", self.path("bin").display()),
        );
        for (k, v) in env {
            cmd.env(k, v);
        }
        process::run(&mut cmd, None, "entrypoint.sh", SCRIPT_LIMIT)
    }

    /// The stub's recorded arguments, if it ran.
    fn stub_args(&self) -> Option<Vec<String>> {
        std::fs::read_to_string(self.path("args"))
            .ok()
            .map(|s| lines(&s))
    }
}

/// Runs the entrypoint and checks it wrote `cfg` and `myid` and exec'd
/// `ferrokeeper <conf>/zoo.cfg` (plus `extra_args`).
fn check_entrypoint(
    d: &EntryDir,
    env: &[(&str, &str)],
    conf_dir: &str,
    data_dir: &str,
    cfg: &str,
    myid: &str,
    extra_args: &[&str],
) {
    let out = d.run(env, &[]);
    assert!(out.status.success(), "entrypoint failed: {}", out.dump());
    let cfg_path = Path::new(conf_dir).join("zoo.cfg");
    process::assert_lines(
        "zoo.cfg",
        &lines(cfg),
        &lines(&read(&cfg_path)),
        &format!("env {env:?}"),
    );
    assert_eq!(
        read(&Path::new(data_dir).join("myid")),
        format!("{myid}\n"),
        "myid for env {env:?}"
    );
    let mut expected = vec![cfg_path.display().to_string()];
    expected.extend(extra_args.iter().map(|s| (*s).to_owned()));
    assert_eq!(d.stub_args(), Some(expected), "ferrokeeper's arguments");
}

// The expected files below are derived from reading the official image's
// docker-entrypoint.sh and Dockerfile (github.com/31z4/zookeeper-docker, 3.8.3 to
// 3.9.5: the zoo.cfg lines are identical in all of them) and, for Bitnami, from
// libzookeeper.sh and zookeeper-env.sh (bitnami/containers, bitnami/zookeeper/3.9):
// the official script is not on this machine and the tests fetch nothing.

#[test]
fn official_image_variables_write_what_the_official_entrypoint_writes() {
    // Only the directories set: every other value is the official Dockerfile's
    // default, and ZOO_SERVERS defaults to a single local server.
    let d = EntryDir::new();
    let (conf, data, log) = (d.p("conf"), d.p("data"), d.p("datalog"));
    let env = [
        ("ZOO_CONF_DIR", conf.as_str()),
        ("ZOO_DATA_DIR", data.as_str()),
        ("ZOO_DATA_LOG_DIR", log.as_str()),
        // Kubernetes' service links for a Service named "zoo": not settings, ignored.
        ("ZOO_SERVICE_HOST", "10.0.0.7"),
        ("ZOO_SERVICE_PORT_CLIENT", "2181"),
        ("ZOO_PORT", "tcp://10.0.0.7:2181"),
        ("ZOO_PORT_2181_TCP_ADDR", "10.0.0.7"),
    ];
    let cfg = format!(
        "dataDir={data}\ndataLogDir={log}\ntickTime=2000\ninitLimit=5\nsyncLimit=2\n\
         autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=60\n\
         standaloneEnabled=true\nadmin.enableServer=true\nserver.1=localhost:2888:3888;2181\n"
    );
    check_entrypoint(&d, &env, &conf, &data, &cfg, "1", &[]);

    // Every variable of the official image set.
    let d = EntryDir::new();
    let (conf, data, log) = (d.p("c"), d.p("d"), d.p("l"));
    let env = [
        ("ZOO_CONF_DIR", conf.as_str()),
        ("ZOO_DATA_DIR", data.as_str()),
        ("ZOO_DATA_LOG_DIR", log.as_str()),
        ("ZOO_MY_ID", "3"),
        (
            "ZOO_SERVERS",
            "server.1=zoo1:2888:3888;2181 server.2=zoo2:2888:3888;2181 \
             server.3=zoo3:2888:3888:observer;0.0.0.0:2181",
        ),
        ("ZOO_TICK_TIME", "500"),
        ("ZOO_INIT_LIMIT", "20"),
        ("ZOO_SYNC_LIMIT", "4"),
        ("ZOO_MAX_CLIENT_CNXNS", "0"),
        ("ZOO_STANDALONE_ENABLED", "false"),
        ("ZOO_ADMINSERVER_ENABLED", "false"),
        ("ZOO_AUTOPURGE_PURGEINTERVAL", "24"),
        ("ZOO_AUTOPURGE_SNAPRETAINCOUNT", "5"),
        ("ZOO_4LW_COMMANDS_WHITELIST", "*"),
        (
            "ZOO_CFG_EXTRA",
            "quorumListenOnAllIPs=true metricsProvider.httpPort=7001",
        ),
        ("ZOO_LOG_LEVEL", "WARN"),
    ];
    let cfg = format!(
        "dataDir={data}\ndataLogDir={log}\ntickTime=500\ninitLimit=20\nsyncLimit=4\n\
         autopurge.snapRetainCount=5\nautopurge.purgeInterval=24\nmaxClientCnxns=0\n\
         standaloneEnabled=false\nadmin.enableServer=false\n\
         server.1=zoo1:2888:3888;2181\nserver.2=zoo2:2888:3888;2181\n\
         server.3=zoo3:2888:3888:observer;0.0.0.0:2181\n4lw.commands.whitelist=*\n\
         quorumListenOnAllIPs=true\nmetricsProvider.httpPort=7001\n"
    );
    // ZOO_LOG_LEVEL (the official 3.8.3 image's) becomes ferrokeeper's --log-level.
    check_entrypoint(&d, &env, &conf, &data, &cfg, "3", &["--log-level", "warn"]);
}

#[test]
fn bitnami_image_variables_write_bitnamis_settings() {
    // Bitnami's defaults, one server (standalone: Bitnami writes no server lines).
    let d = EntryDir::new();
    let (conf, data) = (d.p("conf"), d.p("data"));
    let env = [
        ("ZOO_CONF_DIR", conf.as_str()),
        ("ZOO_DATA_DIR", data.as_str()),
        ("ZOO_SERVER_ID", "1"),
        ("ALLOW_EMPTY_PASSWORD", "yes"),
    ];
    let common = |data: &str, port: &str| {
        format!(
            "tickTime=2000\ninitLimit=10\nsyncLimit=5\nsnapCount=100000\ndataDir={data}\n\
             clientPort={port}\nmaxCnxns=0\nmaxClientCnxns=60\nreconfigEnabled=false\n\
             quorumListenOnAllIPs=false\nautopurge.purgeInterval=0\n\
             autopurge.snapRetainCount=3\n"
        )
    };
    let cfg = format!(
        "{}4lw.commands.whitelist=srvr, mntr\nmaxSessionTimeout=40000\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort=8080\nadmin.enableServer=false\n",
        common(&data, "2181")
    );
    check_entrypoint(&d, &env, &conf, &data, &cfg, "1", &[]);

    // Comma-separated host:2888:3888 entries: numbered in order, with the client port.
    let d = EntryDir::new();
    let (conf, data) = (d.p("conf"), d.p("data"));
    let env = [
        ("ZOO_CONF_DIR", conf.as_str()),
        ("ZOO_DATA_DIR", data.as_str()),
        ("ZOO_SERVER_ID", "2"),
        (
            "ZOO_SERVERS",
            "zk-0:2888:3888,zk-1:2888:3888,zk-2:2888:3888",
        ),
        ("ZOO_PORT_NUMBER", "2191"),
        ("ZOO_TICK_TIME", "1000"),
        ("ZOO_INIT_LIMIT", "7"),
        ("ZOO_SYNC_LIMIT", "3"),
        ("ZOO_4LW_COMMANDS_WHITELIST", "srvr,ruok"),
        ("ZOO_ENABLE_ADMIN_SERVER", "yes"),
        ("ZOO_ADMIN_SERVER_PORT_NUMBER", "8081"),
    ];
    let cfg = format!(
        "tickTime=1000\ninitLimit=7\nsyncLimit=3\nsnapCount=100000\ndataDir={data}\n\
         clientPort=2191\nmaxCnxns=0\nmaxClientCnxns=60\nreconfigEnabled=false\n\
         quorumListenOnAllIPs=false\nautopurge.purgeInterval=0\nautopurge.snapRetainCount=3\n\
         4lw.commands.whitelist=srvr,ruok\nmaxSessionTimeout=40000\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort=8081\nadmin.enableServer=true\n\
         server.1=zk-0:2888:3888;2191\nserver.2=zk-1:2888:3888;2191\n\
         server.3=zk-2:2888:3888;2191\n"
    );
    check_entrypoint(&d, &env, &conf, &data, &cfg, "2", &[]);

    // host:2888:3888::id entries name their ids (an observer among them); the form
    // alone (no Bitnami-only variable) selects Bitnami's variables.
    let d = EntryDir::new();
    let (conf, data) = (d.p("conf"), d.p("data"));
    let env = [
        ("ZOO_CONF_DIR", conf.as_str()),
        ("ZOO_DATA_DIR", data.as_str()),
        (
            "ZOO_SERVERS",
            "a:2888:3888::4, b:2888:3888::7, c:2888:3888:observer::9",
        ),
    ];
    let cfg = format!(
        "{}4lw.commands.whitelist=srvr, mntr\nmaxSessionTimeout=40000\n\
         admin.serverAddress=127.0.0.1\nadmin.serverPort=8080\nadmin.enableServer=false\n\
         server.4=a:2888:3888;2181\nserver.7=b:2888:3888;2181\n\
         server.9=c:2888:3888:observer;2181\n",
        common(&data, "2181")
    );
    check_entrypoint(&d, &env, &conf, &data, &cfg, "1", &[]);
}

#[test]
fn entrypoint_leaves_existing_files_untouched() {
    for env_style in ["official", "bitnami"] {
        let d = EntryDir::new();
        let (conf, data) = (d.p("conf"), d.p("data"));
        std::fs::create_dir_all(&conf).expect("conf");
        std::fs::create_dir_all(&data).expect("data");
        let cfg_text = "# mine\ntickTime=1234\ndataDir=/somewhere\nclientPort=2999\n";
        std::fs::write(d.path("conf/zoo.cfg"), cfg_text).expect("zoo.cfg");
        std::fs::write(d.path("data/myid"), "42").expect("myid");
        let id = if env_style == "official" {
            ("ZOO_MY_ID", "7")
        } else {
            ("ZOO_SERVER_ID", "7")
        };
        let env = [
            ("ZOO_CONF_DIR", conf.as_str()),
            ("ZOO_DATA_DIR", data.as_str()),
            id,
            ("ZOO_TICK_TIME", "999"),
        ];
        let out = d.run(&env, &[]);
        assert!(out.status.success(), "{env_style}: {}", out.dump());
        assert_eq!(
            read(&d.path("conf/zoo.cfg")),
            cfg_text,
            "{env_style} zoo.cfg"
        );
        assert_eq!(read(&d.path("data/myid")), "42", "{env_style} myid");
        assert_eq!(
            d.stub_args(),
            Some(vec![d.p("conf/zoo.cfg")]),
            "{env_style}: ferrokeeper still starts on the existing zoo.cfg"
        );
    }
}

#[test]
fn entrypoint_refuses_what_it_cannot_honour_naming_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("ZOO_SOMETHING_NEW", "1")], "ZOO_SOMETHING_NEW"),
        // Bitnami features ferrokeeper's entrypoint does not set up.
        (
            &[("ZOO_SERVER_ID", "1"), ("ZOO_ENABLE_AUTH", "yes")],
            "ZOO_ENABLE_AUTH",
        ),
        (
            &[("ZOO_SERVER_ID", "1"), ("ZOO_TLS_CLIENT_ENABLE", "true")],
            "ZOO_TLS_CLIENT_ENABLE",
        ),
        (
            &[("ZOO_SERVER_ID", "1"), ("ZOO_PRE_ALLOC_SIZE", "65536")],
            "ZOO_PRE_ALLOC_SIZE",
        ),
        (
            &[("ZOO_SERVER_ID", "1"), ("ZOO_SERVERS_FILE", "/run/servers")],
            "ZOO_SERVERS_FILE",
        ),
        // The two images' variables mixed.
        (
            &[("ZOO_MY_ID", "1"), ("ZOO_SERVER_ID", "1")],
            "ZOO_SERVER_ID",
        ),
        (
            &[
                ("ZOO_CFG_EXTRA", "a=b"),
                ("ZOO_SERVERS", "h1:2888:3888,h2:2888:3888"),
            ],
            "ZOO_SERVERS",
        ),
        // Malformed values.
        (
            &[("ZOO_SERVERS", "server.1=a:2888:3888;2181 b:2888:3888")],
            "ZOO_SERVERS",
        ),
        (&[("ZOO_SERVERS", "a:2888,b:2888:3888")], "ZOO_SERVERS"),
        (&[("ZOO_LOG_LEVEL", "VERBOSE")], "ZOO_LOG_LEVEL"),
        (&[("ZOO_LOG_APPENDER", "ROLLINGFILE")], "ZOO_LOG_APPENDER"),
        (
            &[("ZOO_SERVER_ID", "1"), ("ZOO_PEER_TYPE", "voter")],
            "ZOO_PEER_TYPE",
        ),
        (
            &[
                ("ZOO_MY_ID_FROM_HOSTNAME", "true"),
                ("HOSTNAME", "zookeeper"),
            ],
            "ZOO_MY_ID_FROM_HOSTNAME",
        ),
        (
            &[
                ("ZOO_MY_ID_FROM_HOSTNAME", "true"),
                ("HOSTNAME", "zk-1"),
                ("ZOO_MY_ID", "2"),
            ],
            "ZOO_MY_ID_FROM_HOSTNAME",
        ),
    ];
    for (vars, named) in cases {
        let d = EntryDir::new();
        let (conf, data, log) = (d.p("conf"), d.p("data"), d.p("datalog"));
        let mut env = vec![
            ("ZOO_CONF_DIR", conf.as_str()),
            ("ZOO_DATA_DIR", data.as_str()),
            ("ZOO_DATA_LOG_DIR", log.as_str()),
        ];
        env.extend_from_slice(vars);
        let out = d.run(&env, &[]);
        assert!(!out.status.success(), "{vars:?} accepted: {}", out.dump());
        assert!(
            out.stderr.contains(named),
            "{vars:?}: the message does not name {named}: {}",
            out.dump()
        );
        assert_eq!(d.stub_args(), None, "{vars:?}: ferrokeeper was started");
        assert!(
            !d.path("conf/zoo.cfg").exists(),
            "{vars:?}: zoo.cfg written anyway"
        );
    }
}

#[test]
fn entrypoint_config_starts_a_real_ferrokeeper() {
    // What the official entrypoint writes for a single server, started for real: the
    // client port comes from the server.1 line (`;addr:port`), as in ZooKeeper.
    let bin = ferrokeeper_tests::ferrokeeper_binary();
    let mut failures = Vec::new();
    for _ in 0..5 {
        let d = EntryDir::new();
        let (conf, data, log) = (d.p("conf"), d.p("data"), d.p("datalog"));
        let port = free_port();
        let servers = format!(
            "server.1=127.0.0.1:{}:{};127.0.0.1:{port}",
            free_port(),
            free_port()
        );
        let mut cmd = Command::new("bash");
        cmd.arg(entrypoint())
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("FERROKEEPER_BIN", &bin)
            .env("ZOO_CONF_DIR", &conf)
            .env("ZOO_DATA_DIR", &data)
            .env("ZOO_DATA_LOG_DIR", &log)
            .env("ZOO_SERVERS", &servers)
            // The AdminServer's default port 8080 is fixed: keep it off here.
            .env("ZOO_ADMINSERVER_ENABLED", "false");
        let group = Group::spawn(&mut cmd, None);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        match wait_mode(addr, SERVE_DEADLINE) {
            Some(mode) => {
                assert_eq!(mode, "Mode: standalone");
                assert_eq!(read(&d.path("data/myid")), "1\n");
                // zkServer.sh status finds the client port as ZooKeeper's script
                // does when zoo.cfg has no clientPort: from myid's server.N line.
                let out = process::run(
                    Command::new("bash")
                        .arg(wrapper())
                        .arg("status")
                        .env_clear()
                        .env("PATH", "/usr/bin:/bin")
                        .env("ZOOCFGDIR", &conf)
                        .env("ZOO_LOG_DIR", "/nonexistent/never-created"),
                    None,
                    "zkServer.sh status",
                    SCRIPT_LIMIT,
                );
                assert_eq!(out.status.code(), Some(0), "{}", out.dump());
                assert_eq!(
                    lines(&out.stdout),
                    vec![
                        format!(
                            "Client port found: {port}. Client address: 127.0.0.1. \
                             Client SSL: false."
                        ),
                        "Mode: standalone".to_owned()
                    ]
                );
                return;
            }
            None => {
                // Most likely a port taken between free_port() and the bind: retry.
                let out = group.finish("entrypoint + ferrokeeper", Duration::from_secs(1));
                failures.push(out.dump());
            }
        }
    }
    panic!(
        "ferrokeeper never served on the entrypoint's zoo.cfg:\n{}",
        failures.join("\n---\n")
    );
}

// ---------------------------------------------------------------------------------
// zkServer.sh
// ---------------------------------------------------------------------------------

/// A conf dir, data dir and log dir for the wrapper, a zoo.cfg on a free port, and the
/// server's pid killed on drop if a test left it running.
struct WrapperDir {
    dir: tempfile::TempDir,
    port: u16,
    pid_file: PathBuf,
}

impl WrapperDir {
    fn new() -> WrapperDir {
        let dir = tempfile::Builder::new()
            .prefix("zkserver-sh")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("conf")).expect("conf");
        let mut w = WrapperDir {
            pid_file: dir.path().join("data/zookeeper_server.pid"),
            dir,
            port: 0,
        };
        w.new_port();
        w
    }

    /// Writes zoo.cfg (and other.cfg, the same) for a new free port.
    fn new_port(&mut self) {
        self.port = free_port();
        let cfg = format!(
            "tickTime=500\ndataDir={}\nclientPort={}\nclientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n",
            self.dir.path().join("data").display(),
            self.port
        );
        std::fs::write(self.dir.path().join("conf/zoo.cfg"), &cfg).expect("zoo.cfg");
        std::fs::write(self.dir.path().join("conf/other.cfg"), &cfg).expect("other.cfg");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(wrapper())
            .args(args)
            .env("FERROKEEPER_BIN", ferrokeeper_tests::ferrokeeper_binary())
            .env("ZOOCFGDIR", self.path("conf"))
            .env("ZOO_LOG_DIR", self.path("logs"))
            .env("USER", "tester")
            .env("HOSTNAME", "testhost")
            .env_remove("ZOOPIDFILE")
            .env_remove("ZOOCFG")
            .env_remove("JMXPORT")
            .env_remove("ZOO_LOG_FILE");
        cmd
    }

    fn run(&self, args: &[&str]) -> Finished {
        process::run(
            &mut self.command(args),
            None,
            &format!("zkServer.sh {args:?}"),
            SCRIPT_LIMIT,
        )
    }

    /// `start`, retrying on a new port if another process took this one meanwhile.
    fn start(&mut self, args: &[&str]) -> Finished {
        let mut outs = Vec::new();
        for _ in 0..5 {
            let out = self.run(args);
            if out.status.success() {
                return out;
            }
            let log =
                std::fs::read_to_string(self.path("logs/zookeeper-tester-server-testhost.out"))
                    .unwrap_or_default();
            outs.push(format!("{}\n--- .out ---\n{log}", out.dump()));
            if !log.to_lowercase().contains("address already in use") {
                break;
            }
            self.new_port();
        }
        panic!("zkServer.sh start failed:\n{}", outs.join("\n---\n"));
    }

    fn pid(&self, pid_file: &Path) -> u32 {
        read(pid_file)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("pid file {}: {e}", pid_file.display()))
    }

    fn status_expected(&self) -> Vec<String> {
        vec![
            format!(
                "Client port found: {}. Client address: 127.0.0.1. Client SSL: false.",
                self.port
            ),
            "Mode: standalone".to_owned(),
        ]
    }
}

impl Drop for WrapperDir {
    fn drop(&mut self) {
        // A server a failed test left behind: killed by the pid the wrapper recorded,
        // only if that process is still a ferrokeeper.
        for file in [self.pid_file.clone(), self.path("run/fk.pid")] {
            if let Some(pid) = std::fs::read_to_string(&file)
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok())
                && std::fs::read(format!("/proc/{pid}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("ferrokeeper"))
                    .unwrap_or(false)
            {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }
}

#[test]
fn zkserver_sh_start_status_stop_restart() {
    let mut w = WrapperDir::new();

    let out = w.run(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "status before start: {}",
        out.dump()
    );
    assert_eq!(
        lines(&out.stdout).last().map(String::as_str),
        Some("Error contacting service. It is probably not running.")
    );

    let out = w.start(&["start"]);
    assert_eq!(
        out.stdout,
        "Starting zookeeper ... STARTED\n",
        "{}",
        out.dump()
    );
    assert!(
        out.stderr.contains(&format!(
            "Using config: {}",
            w.path("conf/zoo.cfg").display()
        )),
        "{}",
        out.dump()
    );
    // The pid file where ZooKeeper puts it, naming the running server.
    let pid = w.pid(&w.pid_file);
    assert!(pid_alive(pid), "pid {pid} from the pid file does not run");
    // stderr went to ZooKeeper's .out file in ZOO_LOG_DIR.
    let daemon_out = read(&w.path("logs/zookeeper-tester-server-testhost.out"));
    assert!(
        daemon_out.contains("ferrokeeper listening on"),
        "{daemon_out}"
    );

    let out = w.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(lines(&out.stdout), w.status_expected(), "{}", out.dump());

    // A second start finds it running.
    let out = w.run(&["start"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert_eq!(
        out.stdout,
        format!("Starting zookeeper ... already running as process {pid}.\n")
    );

    // restart: a new process on the same config, serving again.
    let out = w.run(&["restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(
        lines(&out.stdout),
        vec![
            "Stopping zookeeper ... STOPPED".to_owned(),
            "Starting zookeeper ... STARTED".to_owned()
        ],
        "{}",
        out.dump()
    );
    assert!(!pid_alive(pid), "old server {pid} still runs after restart");
    let pid2 = w.pid(&w.pid_file);
    assert_ne!(pid, pid2);
    let out = w.run(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(lines(&out.stdout), w.status_expected());

    // stop waits until the process is gone and removes the pid file.
    let out = w.run(&["stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(out.stdout, "Stopping zookeeper ... STOPPED\n");
    assert!(!pid_alive(pid2), "server {pid2} still runs after stop");
    assert!(!w.pid_file.exists(), "pid file left after stop");

    let out = w.run(&["status"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "status after stop: {}",
        out.dump()
    );
    let out = w.run(&["stop"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(
        out.stdout,
        format!(
            "Stopping zookeeper ... no zookeeper to stop (could not find file {})\n",
            w.pid_file.display()
        )
    );
}

#[test]
fn zkserver_sh_pid_file_config_argument_print_cmd_and_foreground() {
    let mut w = WrapperDir::new();
    let bin = ferrokeeper_tests::ferrokeeper_binary();

    // print-cmd: the command `start` runs.
    let out = w.run(&["print-cmd"]);
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(
        out.stdout,
        format!(
            "\"{}\" \"{}\" > \"{}\" 2>&1 < /dev/null\n",
            bin.display(),
            w.path("conf/zoo.cfg").display(),
            w.path("logs/zookeeper-tester-server-testhost.out")
                .display()
        )
    );

    // `--config <dir> start other.cfg` with ZOOPIDFILE: the pid file goes there.
    let pid_file = w.path("run/fk.pid");
    let conf = w.path("conf").display().to_string();
    let args = ["--config", conf.as_str(), "start", "other.cfg"];
    let mut outs = Vec::new();
    let mut started = false;
    for _ in 0..5 {
        let out = process::run(
            w.command(&args)
                .env_remove("ZOOCFGDIR")
                .env("ZOOPIDFILE", &pid_file),
            None,
            "zkServer.sh --config start other.cfg",
            SCRIPT_LIMIT,
        );
        if out.status.success() {
            assert!(
                out.stderr.contains(&format!(
                    "Using config: {}",
                    w.path("conf/other.cfg").display()
                )),
                "{}",
                out.dump()
            );
            started = true;
            break;
        }
        outs.push(out.dump());
        w.new_port();
    }
    assert!(started, "start other.cfg failed:\n{}", outs.join("\n---\n"));
    let pid = w.pid(&pid_file);
    assert!(pid_alive(pid));
    assert!(
        !w.pid_file.exists(),
        "pid file in dataDir despite ZOOPIDFILE"
    );
    let out = process::run(
        w.command(&["status", "other.cfg"])
            .env("ZOOPIDFILE", &pid_file),
        None,
        "status other.cfg",
        SCRIPT_LIMIT,
    );
    assert_eq!(out.status.code(), Some(0), "{}", out.dump());
    assert_eq!(lines(&out.stdout), w.status_expected());
    let out = process::run(
        w.command(&["stop", "other.cfg"])
            .env("ZOOPIDFILE", &pid_file),
        None,
        "stop other.cfg",
        SCRIPT_LIMIT,
    );
    assert_eq!(
        out.stdout,
        "Stopping zookeeper ... STOPPED\n",
        "{}",
        out.dump()
    );
    assert!(!pid_alive(pid));
    assert!(!pid_file.exists());

    // start-foreground execs the server in place of the script: no pid file, and
    // the script's pid is the server's.
    let mut outs = Vec::new();
    for _ in 0..5 {
        let group = Group::spawn(&mut w.command(&["start-foreground"]), None);
        let addr = SocketAddr::from(([127, 0, 0, 1], w.port));
        if wait_mode(addr, SERVE_DEADLINE).as_deref() == Some("Mode: standalone") {
            let out = w.run(&["status"]);
            assert_eq!(lines(&out.stdout), w.status_expected(), "{}", out.dump());
            assert!(!w.pid_file.exists(), "start-foreground wrote a pid file");
            let stopped = w.run(&["stop"]);
            assert!(stopped.stdout.contains("no zookeeper to stop"));
            // Dropping the group kills the foreground server by its pid.
            drop(group);
            return;
        }
        outs.push(
            group
                .finish("start-foreground", Duration::from_secs(1))
                .dump(),
        );
        w.new_port();
    }
    panic!("start-foreground never served:\n{}", outs.join("\n---\n"));
}

#[test]
fn zkserver_sh_failures_are_reported() {
    let w = WrapperDir::new();
    // A config ferrokeeper refuses: FAILED TO START, exit 1, no pid file left.
    std::fs::write(
        w.path("conf/bad.cfg"),
        format!(
            "tickTime=-5\ndataDir={}\nclientPort={}\n",
            w.path("data").display(),
            w.port
        ),
    )
    .expect("bad.cfg");
    let out = w.run(&["start", "bad.cfg"]);
    assert_eq!(out.status.code(), Some(1), "{}", out.dump());
    assert_eq!(out.stdout, "Starting zookeeper ... FAILED TO START\n");
    assert!(out.stderr.contains("tickTime"), "{}", out.dump());
    assert!(!w.pid_file.exists());

    // JVM-only settings that would change behaviour are refused by name.
    for (var, value) in [
        ("JMXPORT", "9999"),
        ("ZOO_LOG_FILE", "zk.log"),
        ("ZOO_DATADIR_AUTOCREATE_DISABLE", "1"),
    ] {
        let out = process::run(
            w.command(&["start"]).env(var, value),
            None,
            var,
            SCRIPT_LIMIT,
        );
        assert_eq!(out.status.code(), Some(1), "{var}: {}", out.dump());
        assert!(out.stderr.contains(var), "{var}: {}", out.dump());
        assert!(!w.pid_file.exists(), "{var}: started anyway");
    }

    let out = w.run(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stderr.contains("Usage: "), "{}", out.dump());
}

#[test]
fn zkserver_sh_status_reports_leader_and_followers() {
    let mut failures = Vec::new();
    for _ in 0..3 {
        // Three members on one host, each with its own conf, data and log dirs.
        let mut members: Vec<WrapperDir> = (0..3).map(|_| WrapperDir::new()).collect();
        let mut ports: Vec<u16> = members.iter().map(|m| m.port).collect();
        while ports.len() < 9 {
            let p = free_port();
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != ports.len() {
            continue;
        }
        let servers: String = (0..3)
            .map(|i| {
                format!(
                    "server.{}=127.0.0.1:{}:{}\n",
                    i + 1,
                    ports[3 + i],
                    ports[6 + i]
                )
            })
            .collect();
        for (i, m) in members.iter_mut().enumerate() {
            std::fs::create_dir_all(m.path("data")).expect("data");
            std::fs::write(m.path("data/myid"), format!("{}\n", i + 1)).expect("myid");
            std::fs::write(
                m.path("conf/zoo.cfg"),
                format!(
                    "tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={}\n\
                     clientPortAddress=127.0.0.1\nadmin.enableServer=false\n{servers}",
                    m.path("data").display(),
                    m.port
                ),
            )
            .expect("zoo.cfg");
        }
        let started: Vec<Finished> = members.iter().map(|m| m.run(&["start"])).collect();
        if let Some(bad) = started.iter().find(|o| !o.status.success()) {
            failures.push(bad.dump());
            continue;
        }
        // The ensemble elects a leader; every member's status then names its role.
        let deadline = Instant::now() + Duration::from_secs(60);
        let modes = loop {
            let outs: Vec<Finished> = members.iter().map(|m| m.run(&["status"])).collect();
            let mut modes: Vec<String> = outs
                .iter()
                .filter(|o| o.status.success())
                .filter_map(|o| o.stdout.lines().last().map(str::to_owned))
                .collect();
            modes.sort();
            if modes == ["Mode: follower", "Mode: follower", "Mode: leader"] {
                break Some(outs);
            }
            if Instant::now() > deadline {
                failures.push(
                    outs.iter()
                        .map(Finished::dump)
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                break None;
            }
            // Polling interval while the members elect (there is no event to wait on).
            std::thread::sleep(Duration::from_millis(200));
        };
        let Some(outs) = modes else { continue };
        for (m, out) in members.iter().zip(&outs) {
            assert_eq!(
                lines(&out.stdout)[0],
                format!(
                    "Client port found: {}. Client address: 127.0.0.1. Client SSL: false.",
                    m.port
                )
            );
        }
        for m in &members {
            let out = m.run(&["stop"]);
            assert_eq!(
                out.stdout,
                "Stopping zookeeper ... STOPPED\n",
                "{}",
                out.dump()
            );
        }
        return;
    }
    panic!(
        "no ensemble reported a leader and two followers:\n{}",
        failures.join("\n---\n")
    );
}

/// Debian's ZooKeeper start script, the reference for `status`.
const ZK_SERVER_SH: &str = "/usr/share/zookeeper/bin/zkServer.sh";

#[test]
fn zkserver_sh_status_matches_zookeepers_own() {
    if let Some(why) = zookeeper::missing() {
        panic!("real ZooKeeper unavailable: {why}");
    }
    process::require(Path::new(ZK_SERVER_SH).exists(), ZK_SERVER_SH);
    let zk = RealZooKeeper::start(&[], &[]);
    let zk_dir = tempfile::tempdir().expect("temp dir");
    // ZooKeeper's status reads only clientPort/clientPortAddress from the config.
    let zk_cfg = |port: u16| {
        let path = zk_dir.path().join(format!("zoo-{port}.cfg"));
        std::fs::write(
            &path,
            format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n",
                zk_dir.path().join("data").display()
            ),
        )
        .expect("zk cfg");
        path
    };
    let zk_status = |cfg: &Path| {
        process::run(
            Command::new(ZK_SERVER_SH).arg("status").arg(cfg),
            None,
            "ZooKeeper's zkServer.sh status",
            SCRIPT_LIMIT,
        )
    };
    // Port numbers differ; everything else must not.
    let shape = |out: &Finished, port: u16| {
        (
            out.status.code(),
            lines(&out.stdout.replace(&port.to_string(), "PORT")),
        )
    };

    let mut w = WrapperDir::new();
    w.start(&["start"]);
    let ours = w.run(&["status"]);
    let theirs = zk_status(&zk_cfg(zk.addr().port()));
    assert_eq!(
        shape(&ours, w.port),
        shape(&theirs, zk.addr().port()),
        "running server:\nours: {}\nZooKeeper's: {}",
        ours.dump(),
        theirs.dump()
    );
    w.run(&["stop"]);

    // Nothing listening.
    let ours = w.run(&["status"]);
    let idle = free_port();
    let theirs = zk_status(&zk_cfg(idle));
    assert_eq!(
        shape(&ours, w.port),
        shape(&theirs, idle),
        "no server:\nours: {}\nZooKeeper's: {}",
        ours.dump(),
        theirs.dump()
    );
}

// ---------------------------------------------------------------------------------
// Kubernetes and systemd.
// ---------------------------------------------------------------------------------

/// Every YAML document of the manifests, as JSON (parsed by PyYAML's safe loader).
fn manifests() -> Vec<serde_json::Value> {
    process::require_python("yaml", "PyYAML==6.0.3");
    let script = "import glob, json, sys, yaml\n\
                  docs = []\n\
                  for f in sorted(glob.glob(sys.argv[1] + '/*.yaml')):\n    \
                      docs += [d for d in yaml.safe_load_all(open(f)) if d is not None]\n\
                  print(json.dumps(docs))\n";
    let out = process::run(
        Command::new("python3")
            .args(["-c", script])
            .arg(packaging().join("k8s")),
        None,
        "python3 yaml",
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "YAML parse: {}", out.dump());
    let docs: Vec<serde_json::Value> = serde_json::from_str(&out.stdout).expect("json");
    docs
}

fn of_kind<'a>(docs: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

#[test]
fn k8s_manifests_parse_and_each_member_gets_its_zoo_cfg() {
    let docs = manifests();
    let services = of_kind(&docs, "Service");
    assert_eq!(services.len(), 2, "{services:?}");
    let headless = services
        .iter()
        .find(|s| s["spec"]["clusterIP"] == "None")
        .expect("a headless Service");
    assert_eq!(headless["spec"]["publishNotReadyAddresses"], true);
    assert!(
        services
            .iter()
            .any(|s| s["spec"]["clusterIP"].is_null() && s["spec"]["ports"][0]["port"] == 2181),
        "a client Service on 2181"
    );
    let pdb = of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(pdb.len(), 1);
    assert_eq!(pdb[0]["spec"]["maxUnavailable"], 1);
    let sts = of_kind(&docs, "StatefulSet");
    assert_eq!(sts.len(), 1);
    let sts = sts[0];
    assert_eq!(sts["spec"]["replicas"], 3);
    assert_eq!(sts["spec"]["serviceName"], headless["metadata"]["name"]);
    let name = sts["metadata"]["name"].as_str().expect("name").to_owned();
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    for (probe, path) in [("livenessProbe", "/live"), ("readinessProbe", "/ready")] {
        assert_eq!(container[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "admin", "{probe}");
    }
    assert!(
        container["ports"]
            .as_array()
            .expect("ports")
            .iter()
            .any(|p| p["name"] == "admin" && p["containerPort"] == 8080)
    );
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            (
                e["name"].as_str().expect("env name").to_owned(),
                e["value"].as_str().expect("env value").to_owned(),
            )
        })
        .collect();
    // The data volume holds both directories (the Raft log must outlive the pod).
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    let data_mount = mounts
        .iter()
        .find(|m| m["name"] == "data")
        .and_then(|m| m["mountPath"].as_str())
        .expect("data mount");
    assert!(env["ZOO_DATA_DIR"].starts_with(data_mount));
    assert!(env["ZOO_DATA_LOG_DIR"].starts_with(data_mount));

    let servers = (0..3)
        .map(|i| {
            format!(
                "server.{}={name}-{i}.{name}-headless:2888:3888;2181\n",
                i + 1
            )
        })
        .collect::<String>();
    for ordinal in 0..3 {
        // The manifest's env, with the pod's directories moved into a temp dir and the
        // hostname Kubernetes gives pod N.
        let d = EntryDir::new();
        let moved = |v: &str| d.p(v.trim_start_matches('/'));
        let (conf, data, log) = (
            moved(&env["ZOO_CONF_DIR"]),
            moved(&env["ZOO_DATA_DIR"]),
            moved(&env["ZOO_DATA_LOG_DIR"]),
        );
        let host = format!("{name}-{ordinal}");
        let mut vars: Vec<(&str, &str)> = env
            .iter()
            .map(|(k, v)| match k.as_str() {
                "ZOO_CONF_DIR" => (k.as_str(), conf.as_str()),
                "ZOO_DATA_DIR" => (k.as_str(), data.as_str()),
                "ZOO_DATA_LOG_DIR" => (k.as_str(), log.as_str()),
                _ => (k.as_str(), v.as_str()),
            })
            .collect();
        vars.push(("HOSTNAME", &host));
        let cfg = format!(
            "dataDir={data}\ndataLogDir={log}\ntickTime=2000\ninitLimit=5\nsyncLimit=2\n\
             autopurge.snapRetainCount=3\nautopurge.purgeInterval=0\nmaxClientCnxns=60\n\
             standaloneEnabled=true\nadmin.enableServer=true\n{servers}\
             4lw.commands.whitelist=srvr,ruok,mntr,conf\nquorumListenOnAllIPs=true\n\
             admin.serverPort=8080\n"
        );
        check_entrypoint(
            &d,
            &vars,
            &conf,
            &data,
            &cfg,
            &(ordinal + 1).to_string(),
            &[],
        );
    }
}

#[test]
fn systemd_unit_runs_ferrokeeper_on_debians_zoo_cfg() {
    let unit_path = packaging().join("systemd/ferrokeeper.service");
    let unit = read(&unit_path);
    let mut section = String::new();
    let mut keys: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_owned();
        } else if let Some((k, v)) = line.split_once('=') {
            keys.entry((section.clone(), k.to_owned()))
                .or_default()
                .push(v.to_owned());
        }
    }
    let get = |k: &str| {
        keys.get(&("[Service]".to_owned(), k.to_owned()))
            .map(|v| v.join(" "))
            .unwrap_or_default()
    };
    // `ferrokeeper <zoo.cfg>`: the form zkServer.sh's start uses (see print-cmd).
    assert_eq!(
        get("ExecStart"),
        "/usr/bin/ferrokeeper /etc/zookeeper/conf/zoo.cfg"
    );
    assert_eq!(get("Type"), "simple");
    assert_eq!(get("User"), "zookeeper");
    assert_eq!(get("Restart"), "on-failure");
    assert!(get("LimitNOFILE").parse::<u64>().is_ok_and(|n| n >= 65536));

    // The same argument shape starts a real server (the unit's path swapped for a temp
    // config): one positional argument, a ZooKeeper config file.
    let dir = tempfile::tempdir().expect("temp dir");
    let mut outs = Vec::new();
    let mut served = false;
    for _ in 0..5 {
        let port = free_port();
        let cfg = dir.path().join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "dataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 admin.enableServer=false\n",
                dir.path().join("data").display()
            ),
        )
        .expect("zoo.cfg");
        let group = Group::spawn(
            Command::new(ferrokeeper_tests::ferrokeeper_binary()).arg(&cfg),
            None,
        );
        if wait_mode(SocketAddr::from(([127, 0, 0, 1], port)), SERVE_DEADLINE).is_some() {
            served = true;
            break;
        }
        outs.push(
            group
                .finish("ferrokeeper zoo.cfg", Duration::from_secs(1))
                .dump(),
        );
    }
    assert!(
        served,
        "ferrokeeper <cfg> never served:\n{}",
        outs.join("\n---\n")
    );

    // systemd's own check, in a scratch root holding the unit, systemd's units and an
    // executable at the unit's ExecStart path (verify checks that it exists).
    if !process::on_path("systemd-analyze") {
        eprintln!("systemd-analyze not installed: the unit was not verified by systemd");
        return;
    }
    let root = tempfile::tempdir().expect("root");
    let units = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&units).expect("units dir");
    let copied = process::run(
        Command::new("cp")
            .args(["-r", "/usr/lib/systemd/system"])
            .arg(&units),
        None,
        "cp units",
        Duration::from_secs(60),
    );
    assert!(copied.status.success(), "{}", copied.dump());
    std::fs::create_dir_all(root.path().join("etc/systemd/system")).expect("etc");
    std::fs::copy(
        &unit_path,
        root.path().join("etc/systemd/system/ferrokeeper.service"),
    )
    .expect("copy unit");
    std::fs::create_dir_all(root.path().join("usr/bin")).expect("usr/bin");
    std::fs::copy("/bin/true", root.path().join("usr/bin/ferrokeeper")).expect("stub");
    let out = process::run(
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(format!("--root={}", root.path().display()))
            .arg("ferrokeeper.service"),
        None,
        "systemd-analyze verify",
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "{}", out.dump());
    // Unknown or misspelt keys are only warnings: none may appear.
    assert_eq!(out.stderr.trim(), "", "{}", out.dump());
}
