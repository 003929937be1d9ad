//! The configuration facts the AdminServer's commands report, fixed at start-up.

use serde_json::{Map, Value};

use crate::config::Config;

/// One `server.N` line as `voting_view` and `zabstate` show it.
#[derive(Debug, Clone)]
pub struct ServerView {
    pub id: u64,
    pub server_addresses: Vec<String>,
    pub election_addresses: Vec<String>,
    /// `host:port` after `;`, or empty.
    pub client_address: String,
    pub observer: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AdminContext {
    /// `configuration`, except `client_port` (taken from the bound port).
    pub configuration: Map<String, Value>,
    /// The configuration file as read (`initial_configuration`).
    pub initial_configuration: String,
    /// `system_properties`, secrets masked.
    pub system_properties: Vec<(String, String)>,
    pub servers: Vec<ServerView>,
    pub my_id: u64,
}

impl AdminContext {
    /// `environment`: ZooKeeper's keys that have a meaning outside a JVM.
    pub fn environment(&self) -> Vec<(String, String)> {
        let mut out = vec![
            (
                "zookeeper.version".to_owned(),
                crate::net::monitor::version_with_build(),
            ),
            (
                "host.name".to_owned(),
                std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
            ),
            ("os.name".to_owned(), os_name().to_owned()),
            ("os.arch".to_owned(), os_arch().to_owned()),
        ];
        if let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
            out.push(("os.version".to_owned(), release.trim().to_owned()));
        }
        for (key, var) in [("user.name", "USER"), ("user.home", "HOME")] {
            if let Ok(v) = std::env::var(var) {
                out.push((key.to_owned(), v));
            }
        }
        if let Ok(dir) = std::env::current_dir() {
            out.push(("user.dir".to_owned(), dir.display().to_string()));
        }
        out
    }
}

/// Java's `os.name` spelling.
fn os_name() -> &'static str {
    match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        other => other,
    }
}

/// Java's `os.arch` spelling.
fn os_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "aarch64",
        other => other,
    }
}

/// System properties whose values are secrets: never shown over HTTP.
fn is_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "superdigest"]
        .iter()
        .any(|s| lower.contains(s))
}

impl AdminContext {
    pub fn from_config(config: &Config) -> AdminContext {
        let mut configuration = Map::new();
        let mut put = |k: &str, v: Value| {
            configuration.insert(k.to_owned(), v);
        };
        put(
            "data_dir",
            config.snapshot_dir().display().to_string().into(),
        );
        put(
            "data_log_dir",
            config.raft_log_dir().display().to_string().into(),
        );
        put("tick_time", config.tick_time.into());
        put("max_client_cnxns", config.max_client_cnxns.into());
        put("min_session_timeout", config.min_session_timeout.into());
        put("max_session_timeout", config.max_session_timeout.into());
        // ZooKeeper reports 0 for a standalone server without myid.
        put("server_id", config.server_id.unwrap_or(0).into());
        put(
            "client_port_listen_backlog",
            config.client_port_listen_backlog.into(),
        );
        let initial_configuration = config
            .config_file
            .as_ref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        let mut system_properties: Vec<(String, String)> = config
            .system_properties
            .iter()
            .map(|(name, prop)| {
                let value = if is_secret(name) {
                    "******".to_owned()
                } else {
                    prop.value.clone()
                };
                (name.to_owned(), value)
            })
            .collect();
        system_properties.sort();
        let servers = config
            .servers
            .values()
            .map(|s| ServerView {
                id: s.id,
                server_addresses: s
                    .addresses
                    .iter()
                    .map(|a| format!("{}:{}", a.host, a.quorum_port))
                    .collect(),
                election_addresses: s
                    .addresses
                    .iter()
                    .map(|a| format!("{}:{}", a.host, a.election_port))
                    .collect(),
                client_address: s
                    .client
                    .as_ref()
                    .map(|c| format!("{}:{}", c.host, c.port))
                    .unwrap_or_default(),
                observer: s.peer_type == crate::config::PeerType::Observer,
            })
            .collect();
        AdminContext {
            configuration,
            initial_configuration,
            system_properties,
            servers,
            my_id: config.server_id.unwrap_or(0),
        }
    }
}
