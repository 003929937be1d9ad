//! The body of the `conf` four-letter word, byte for byte as ZooKeeper 3.8.0 prints it
//! (checked against a running 3.8.0, standalone and a 3-member ensemble).

use std::path::Path;

use super::model::Config;

/// Values `conf` reports that are not configuration: they come from the running server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfRuntime {
    /// Port actually bound for clients (differs from the config when it asked for 0).
    pub client_port: Option<u16>,
    /// Bytes in the snapshot directory / the txn-log directory (as `dirs` reports).
    pub data_dir_size: u64,
    pub data_log_size: u64,
}

/// `File.getAbsolutePath()` of `<dir>/version-2`, where ZooKeeper keeps its files.
fn version_2(dir: &Path) -> String {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.join("version-2").display().to_string()
}

impl Config {
    /// `key=value` lines of `conf`, in ZooKeeper's order. In quorum mode the quorum
    /// keys follow, then `membership: ` and the `server.N=` / `version=` lines.
    pub fn summary_lines(&self, rt: &ConfRuntime) -> Vec<String> {
        let port = |p: Option<u16>| p.map_or(-1, i32::from);
        let mut lines = vec![
            format!(
                "clientPort={}",
                port(
                    rt.client_port
                        .or(self.client_address.as_ref().map(|a| a.port))
                )
            ),
            format!(
                "secureClientPort={}",
                port(self.secure_client_address.as_ref().map(|a| a.port))
            ),
            format!("dataDir={}", version_2(&self.data_dir)),
            format!("dataDirSize={}", rt.data_dir_size),
            format!("dataLogDir={}", version_2(&self.data_log_dir)),
            format!("dataLogSize={}", rt.data_log_size),
            format!("tickTime={}", self.tick_time),
            format!("maxClientCnxns={}", self.max_client_cnxns),
            format!("minSessionTimeout={}", self.min_session_timeout),
            format!("maxSessionTimeout={}", self.max_session_timeout),
            format!(
                "clientPortListenBacklog={}",
                self.client_port_listen_backlog
            ),
            format!("serverId={}", self.effective_server_id()),
        ];
        if !self.is_distributed() {
            return lines;
        }
        let own = self.this_server();
        let ports = |f: fn(&super::server_line::QuorumAddress) -> u16| {
            own.map(|s| {
                s.addresses
                    .iter()
                    .map(|a| f(a).to_string())
                    .collect::<Vec<_>>()
                    .join("|")
            })
            .unwrap_or_default()
        };
        lines.push(format!("initLimit={}", self.init_limit));
        lines.push(format!("syncLimit={}", self.sync_limit));
        lines.push(format!("electionAlg={}", self.election_alg));
        lines.push(format!("electionPort={}", ports(|a| a.election_port)));
        lines.push(format!("quorumPort={}", ports(|a| a.quorum_port)));
        lines.push(format!("peerType={}", self.peer_type as u8));
        lines.push("membership: ".to_owned());
        lines.extend(self.membership_lines());
        lines
    }

    /// The `server.N=` lines and `version=<hex>`, as `conf` prints the membership and
    /// ZooKeeper keeps it in `/zookeeper/config`.
    fn membership_lines(&self) -> Vec<String> {
        let mut lines: Vec<String> = self
            .servers
            .values()
            .map(|s| format!("server.{}={s}", s.id))
            .collect();
        lines.push(format!("version={:x}", self.config_version));
        lines
    }

    /// What a server of this ensemble holds in `/zookeeper/config` (ZooKeeper's
    /// `QuorumVerifier.toString()`: the membership lines, no final newline); `None` for
    /// a standalone server, whose node stays empty.
    pub fn config_znode(&self) -> Option<String> {
        self.is_distributed()
            .then(|| self.membership_lines().join("\n"))
    }

    /// The exact `conf` reply. Standalone ends every line with '\n'; in quorum mode the
    /// final `version=` line has none (ZooKeeper prints the membership with `print`).
    pub fn conf_4lw(&self, rt: &ConfRuntime) -> String {
        let mut text = self.summary_lines(rt).join("\n");
        if !self.is_distributed() {
            text.push('\n');
        }
        text
    }
}
