//! The ensemble membership a server keeps in `/zookeeper/config` (what
//! [`Client::get_config`](crate::Client::get_config) reads), parsed.
//!
//! ZooKeeper writes it as its `QuorumVerifier` prints itself: one
//! `server.<id>=<host>:<quorum port>:<election port>[:<role>][;[<client host>:]<client port>]`
//! line per member, possibly `group.`/`weight.` lines (hierarchical quorums), and a last
//! `version=<hex>` line, without a final newline. A standalone server leaves the node
//! empty.

use std::collections::BTreeMap;

use crate::error::{Error, Result};

/// The node ZooKeeper keeps the dynamic configuration in (`ZooDefs.CONFIG_NODE`).
pub const CONFIG_NODE: &str = "/zookeeper/config";

/// A parsed `/zookeeper/config`.
///
/// ```
/// use ferrokeeper_client::EnsembleConfig;
/// let data = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nversion=100000000";
/// let config = EnsembleConfig::parse(data.as_bytes())?;
/// assert_eq!(config.version, Some(0x1_0000_0000));
/// let one = &config.servers[&1];
/// assert_eq!(one.role(), Some("participant"));
/// assert_eq!(one.client_address(), Some("0.0.0.0:2181"));
/// # Ok::<(), ferrokeeper_client::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnsembleConfig {
    /// Each `server.<id>=` line, by id.
    pub servers: BTreeMap<u64, ServerSpec>,
    /// The `version=` line: the zxid of the configuration (hexadecimal in the node).
    /// `None` when there is none (a standalone server's empty node).
    pub version: Option<u64>,
    /// Every other `key=value` line (`group.`, `weight.`...), in order.
    pub other: Vec<(String, String)>,
}

/// The right-hand side of one `server.<id>=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSpec {
    /// As written, e.g. `127.0.0.1:2888:3888:participant;127.0.0.1:2181`.
    pub spec: String,
}

impl ServerSpec {
    /// The part before `;`: quorum and election addresses, then the role if given.
    fn server_part(&self) -> &str {
        self.spec
            .split_once(';')
            .map_or(&self.spec, |(server, _)| server)
    }

    /// `participant` or `observer` when the line says (ZooKeeper always writes it).
    pub fn role(&self) -> Option<&str> {
        let last = self.server_part().rsplit(':').next()?;
        matches!(last, "participant" | "observer").then_some(last)
    }

    /// The client address after `;` (`host:port`, or just the port when the line has
    /// no client host), if the line has one.
    pub fn client_address(&self) -> Option<&str> {
        let (_, client) = self.spec.split_once(';')?;
        let client = client.trim();
        (!client.is_empty()).then_some(client)
    }
}

impl EnsembleConfig {
    /// Parses the data of `/zookeeper/config`. Empty data (a standalone server) gives
    /// an empty config. Fails with [`Error::MarshallingError`] on a line that is not
    /// `key=value`, a `server.` id that is not a number, or a version that is not
    /// hexadecimal.
    pub fn parse(data: &[u8]) -> Result<EnsembleConfig> {
        let text = std::str::from_utf8(data).map_err(|_| Error::MarshallingError)?;
        let mut config = EnsembleConfig::default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (key, value) = line.split_once('=').ok_or(Error::MarshallingError)?;
            let (key, value) = (key.trim(), value.trim());
            if let Some(id) = key.strip_prefix("server.") {
                let id = id.parse().map_err(|_| Error::MarshallingError)?;
                config.servers.insert(
                    id,
                    ServerSpec {
                        spec: value.to_owned(),
                    },
                );
            } else if key == "version" {
                let version =
                    u64::from_str_radix(value, 16).map_err(|_| Error::MarshallingError)?;
                config.version = Some(version);
            } else {
                config.other.push((key.to_owned(), value.to_owned()));
            }
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_three_member_config_as_zookeeper_writes_it() {
        let data = "server.1=127.0.0.1:2888:3888:participant;127.0.0.1:2181\n\
                    server.2=127.0.0.1:2889:3889:participant;127.0.0.1:2182\n\
                    server.3=127.0.0.1:2890:3890:observer;2183\n\
                    version=0";
        let config = EnsembleConfig::parse(data.as_bytes()).unwrap();
        assert_eq!(config.version, Some(0));
        assert_eq!(
            config.servers.keys().copied().collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(config.servers[&2].client_address(), Some("127.0.0.1:2182"));
        assert_eq!(config.servers[&3].role(), Some("observer"));
        assert_eq!(config.servers[&3].client_address(), Some("2183"));
        assert!(config.other.is_empty());
    }

    #[test]
    fn standalone_is_empty_and_odd_lines_are_kept_or_refused() {
        assert_eq!(
            EnsembleConfig::parse(b"").unwrap(),
            EnsembleConfig::default()
        );
        let config =
            EnsembleConfig::parse(b"server.1=h:1:2\ngroup.1=1:2:3\nweight.1=1\nversion=1a\n")
                .unwrap();
        assert_eq!(config.version, Some(0x1a));
        assert_eq!(config.servers[&1].role(), None);
        assert_eq!(config.servers[&1].client_address(), None);
        assert_eq!(config.other.len(), 2);
        for bad in [
            &b"server.x=h:1:2"[..],
            b"no equals sign",
            b"version=zz",
            b"\xff",
        ] {
            assert_eq!(EnsembleConfig::parse(bad), Err(Error::MarshallingError));
        }
    }
}
