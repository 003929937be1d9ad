//! `server.N=host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`
//! lines, parsed as ZooKeeper's `QuorumPeer.QuorumServer` does, including the
//! `|`-joined multi-address form and IPv6 `[addr]` literals.

use std::fmt;

use super::host_port::{HostPort, bracketed, host_and_ports, parse_port};
use super::java;

/// Voting member or observer; the numeric value is ZooKeeper's `LearnerType` ordinal,
/// printed by the `conf` four-letter word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PeerType {
    #[default]
    Participant = 0,
    Observer = 1,
}

impl PeerType {
    /// `participant` / `observer`, any case, surrounding whitespace ignored.
    pub fn parse(s: &str) -> Option<PeerType> {
        match java::trim(s).to_ascii_lowercase().as_str() {
            "participant" => Some(PeerType::Participant),
            "observer" => Some(PeerType::Observer),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PeerType::Participant => "participant",
            PeerType::Observer => "observer",
        }
    }
}

/// One quorum/election address pair of a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumAddress {
    pub host: String,
    /// Followers connect to the leader here.
    pub quorum_port: u16,
    /// Leader election listens here.
    pub election_port: u16,
}

/// One `server.N` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumServer {
    pub id: u64,
    /// At least one; several only with the multi-address feature.
    pub addresses: Vec<QuorumAddress>,
    pub peer_type: PeerType,
    /// Client address given after `;` (a bare port means `0.0.0.0`).
    pub client: Option<HostPort>,
}

const WRONG_FORMAT: &str = " does not have the form server_config or server_config;client_config \
     where server_config is the pipe separated list of host:port:port or host:port:port:type \
     and client_config is port or host:port";

impl QuorumServer {
    /// Parses the value of `server.<id>`. `multi_address` is the
    /// `zookeeper.multiAddress.enabled` system property, without which ZooKeeper refuses
    /// `|`-joined addresses. Returns ZooKeeper's message on error.
    pub fn parse(id: u64, value: &str, multi_address: bool) -> Result<QuorumServer, String> {
        // ZooKeeper does not trim server values and then fails on "3888 " as a port;
        // we trim, since trailing blanks are invisible in an editor.
        let value = java::trim(value);
        let halves = java::split(value, ';');
        if halves.len() > 2 {
            return Err(format!("{value}{WRONG_FORMAT}"));
        }
        let client = match halves.get(1) {
            Some(client) => Some(parse_client(client, value)?),
            None => None,
        };
        let server_part = halves.first().copied().unwrap_or_default();
        let alternatives = java::split(server_part, '|');
        if alternatives.len() > 1 && !multi_address {
            return Err(format!(
                "Multiple address feature is disabled, but multiple addresses were specified for sid {id} \
                 (enable it with -Dzookeeper.multiAddress.enabled=true; the zoo.cfg key \
                 multiAddress.enabled does not, in ZooKeeper either)"
            ));
        }
        let mut addresses = Vec::new();
        let mut peer_type = None;
        for alt in alternatives {
            let parts = host_and_ports(alt)?;
            if !(3..=4).contains(&parts.len()) {
                return Err(format!("{value}{WRONG_FORMAT}"));
            }
            let host = parts[0].clone();
            let quorum_port = parse_port(&parts[1])
                .ok_or_else(|| format!("Address unresolved: {host}:{}", parts[1]))?;
            let election_port = parse_port(&parts[2])
                .ok_or_else(|| format!("Address unresolved: {host}:{}", parts[2]))?;
            if quorum_port == election_port {
                return Err(format!(
                    "Client and election port must be different! Please update the configuration file on server.{id}"
                ));
            }
            if let Some(t) = parts.get(3) {
                let t = PeerType::parse(t).ok_or_else(|| format!("Unrecognised peertype: {t}"))?;
                if peer_type.is_some_and(|p| p != t) {
                    return Err("Multiple addresses should have similar roles".to_owned());
                }
                peer_type = Some(t);
            }
            addresses.push(QuorumAddress {
                host,
                quorum_port,
                election_port,
            });
        }
        if addresses.is_empty() {
            return Err(format!("{value}{WRONG_FORMAT}"));
        }
        Ok(QuorumServer {
            id,
            addresses,
            peer_type: peer_type.unwrap_or_default(),
            client,
        })
    }
}

fn parse_client(client: &str, whole: &str) -> Result<HostPort, String> {
    let parts = host_and_ports(client)?;
    if parts.len() > 2 {
        return Err(format!("{whole}{WRONG_FORMAT}"));
    }
    let host = if parts.len() == 2 {
        parts[0].as_str()
    } else {
        "0.0.0.0"
    };
    let port_text = parts.last().map(String::as_str).unwrap_or_default();
    let port =
        parse_port(port_text).ok_or_else(|| format!("Address unresolved: {host}:{port_text}"))?;
    Ok(HostPort::new(host, port))
}

impl fmt::Display for QuorumServer {
    /// ZooKeeper's `QuorumServer.toString`, used in `/zookeeper/config` and `conf`:
    /// the type is always spelled out and the client address is printed only when the
    /// line itself had one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut addrs: Vec<&QuorumAddress> = self.addresses.iter().collect();
        addrs.sort_by(|a, b| a.host.cmp(&b.host));
        let joined: Vec<String> = addrs
            .iter()
            .map(|a| {
                format!(
                    "{}:{}:{}",
                    bracketed(&a.host),
                    a.quorum_port,
                    a.election_port
                )
            })
            .collect();
        write!(f, "{}:{}", joined.join("|"), self.peer_type.as_str())?;
        if let Some(c) = &self.client {
            write!(f, ";{c}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> QuorumServer {
        QuorumServer::parse(1, v, true).expect("valid server line")
    }

    fn addr(h: &str, q: u16, e: u16) -> QuorumAddress {
        QuorumAddress {
            host: h.into(),
            quorum_port: q,
            election_port: e,
        }
    }

    #[test]
    fn plain_participant() {
        let s = ok("zk1:2888:3888");
        assert_eq!(s.addresses, vec![addr("zk1", 2888, 3888)]);
        assert_eq!(s.peer_type, PeerType::Participant);
        assert_eq!(s.client, None);
        assert_eq!(s.to_string(), "zk1:2888:3888:participant");
    }

    #[test]
    fn observer_and_types() {
        assert_eq!(ok("zk1:2888:3888:observer").peer_type, PeerType::Observer);
        assert_eq!(ok("zk1:2888:3888:OBSERVER").peer_type, PeerType::Observer);
        assert_eq!(
            ok("zk1:2888:3888:participant").peer_type,
            PeerType::Participant
        );
        let e = QuorumServer::parse(1, "zk1:2888:3888:voter", false);
        assert_eq!(e, Err("Unrecognised peertype: voter".into()));
    }

    #[test]
    fn client_port_forms() {
        assert_eq!(
            ok("zk1:2888:3888;2181").client,
            Some(HostPort::new("0.0.0.0", 2181))
        );
        assert_eq!(
            ok("zk1:2888:3888;10.0.0.1:2181").client,
            Some(HostPort::new("10.0.0.1", 2181))
        );
        let s = ok("zk1:2888:3888:observer;[::1]:2181");
        assert_eq!(s.peer_type, PeerType::Observer);
        assert_eq!(s.client, Some(HostPort::new("::1", 2181)));
        assert_eq!(s.to_string(), "zk1:2888:3888:observer;[::1]:2181");
        // A trailing ';' is dropped by Java's split: no client part.
        assert_eq!(ok("zk1:2888:3888;").client, None);
        assert!(QuorumServer::parse(1, "zk1:2888:3888;a:b:c", false).is_err());
        assert!(QuorumServer::parse(1, "zk1:2888:3888;1;2", false).is_err());
    }

    #[test]
    fn ipv6_and_multi_address() {
        assert_eq!(
            ok("[fe80::1]:2888:3888").addresses,
            vec![addr("fe80::1", 2888, 3888)]
        );
        let s = ok("b:2888:3888|a:2889:3889");
        assert_eq!(s.addresses.len(), 2);
        assert_eq!(s.to_string(), "a:2889:3889|b:2888:3888:participant");
        let e = QuorumServer::parse(1, "b:2888:3888|a:2889:3889", false);
        assert!(e.is_err_and(|m| m.starts_with("Multiple address feature is disabled")));
        let e = QuorumServer::parse(1, "a:1:2:observer|b:1:2:participant", true);
        assert!(e.is_err());
    }

    #[test]
    fn bad_lines() {
        for bad in [
            "zk1",
            "zk1:2888",
            "zk1:2888:3888:observer:x",
            "zk1:x:3888",
            "zk1:2888:70000",
            "",
        ] {
            assert!(
                QuorumServer::parse(1, bad, false).is_err(),
                "{bad:?} must fail"
            );
        }
        let e = QuorumServer::parse(3, "zk1:2888:2888", false);
        assert!(e.is_err_and(|m| m.contains("server.3")));
        // Trailing blanks are forgiven (ZooKeeper would fail on "3888  ").
        assert_eq!(
            ok("zk1:2888:3888  ").addresses,
            vec![addr("zk1", 2888, 3888)]
        );
    }
}
