//! Ensemble membership rules from `QuorumPeerConfig.parseDynamicConfig`,
//! `setupClientPort`, `setupPeerType` and `checkValidity`: which `server.N` sets are
//! valid, when the server runs standalone, and what quorum mode requires.

use std::collections::BTreeMap;

use super::error::{ConfigError, Origin};
use super::host_port::HostPort;
use super::java;
use super::server_line::{PeerType, QuorumServer};

/// Parses collected `server.N` lines (key, value, origin).
pub fn parse_servers(
    lines: &[(String, String, Origin)],
    multi_address: bool,
) -> Result<BTreeMap<u64, QuorumServer>, ConfigError> {
    let mut servers = BTreeMap::new();
    for (key, value, at) in lines {
        // QuorumMaj: the id is everything after the first '.', as a long.
        let id_text = key.split_once('.').map(|(_, id)| id).unwrap_or_default();
        let id = java::parse_long(id_text)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| ConfigError::bad_value(at, key, id_text, "a server id"))?;
        let server = QuorumServer::parse(id, value, multi_address)
            .map_err(|m| ConfigError::invalid(at, key, m))?;
        servers.insert(id, server);
    }
    Ok(servers)
}

/// Checks the participant/observer counts. `at` points at standaloneEnabled if it was
/// set, else at the file. Returns warnings.
pub fn check_membership(
    servers: &BTreeMap<u64, QuorumServer>,
    standalone_enabled: bool,
    at: &Origin,
) -> Result<Vec<String>, ConfigError> {
    let voting = servers
        .values()
        .filter(|s| s.peer_type == PeerType::Participant)
        .count();
    let observers = servers.len() - voting;
    let mut warnings = Vec::new();
    if voting == 0 {
        if !standalone_enabled {
            return Err(ConfigError::invalid(
                at,
                "standaloneEnabled",
                "standaloneEnabled = false then number of participants should be >0",
            ));
        }
        if observers > 0 {
            return Err(ConfigError::invalid(
                at,
                "server",
                "Observers w/o participants is an invalid configuration",
            ));
        }
    } else if voting == 1 && standalone_enabled {
        // Kept by ZooKeeper for HBase: a single server line means standalone.
        if observers > 0 {
            return Err(ConfigError::invalid(
                at,
                "server",
                "Observers w/o quorum is an invalid configuration",
            ));
        }
        warnings.push(
            "Invalid configuration, only one server specified (ignoring); running standalone"
                .to_owned(),
        );
    } else if voting <= 2 {
        warnings
            .push("No server failure will be tolerated. You need at least 3 servers.".to_owned());
    } else if voting % 2 == 0 {
        warnings.push("Non-optimal configuration, consider an odd number of servers.".to_owned());
    }
    Ok(warnings)
}

/// `setupClientPort`: this server's `server.N` client address wins over clientPort,
/// but the two must agree when both are given.
pub fn reconcile_client_address(
    own: Option<&QuorumServer>,
    static_addr: Option<HostPort>,
    static_at: &Origin,
) -> Result<Option<HostPort>, ConfigError> {
    let Some(line_addr) = own.and_then(|s| s.client.clone()) else {
        return Ok(static_addr);
    };
    if let Some(s) = &static_addr {
        let conflict = if s.is_any() {
            s.port != line_addr.port
        } else {
            *s != line_addr
        };
        if conflict {
            return Err(ConfigError::invalid(
                static_at,
                "clientPort",
                format!(
                    "client address for this server (id = {}) in static config file is {s} \
                     is different from client address found in dynamic file: {line_addr}",
                    own.map(|o| o.id).unwrap_or_default()
                ),
            ));
        }
    }
    Ok(Some(line_addr))
}

/// `setupPeerType`: the server list decides; returns the type and a warning on mismatch.
pub fn resolve_peer_type(
    servers: &BTreeMap<u64, QuorumServer>,
    server_id: Option<u64>,
    configured: PeerType,
) -> (PeerType, Option<String>) {
    let by_list = server_id
        .and_then(|id| servers.get(&id))
        .map_or(PeerType::Participant, |s| s.peer_type);
    if by_list == configured {
        (configured, None)
    } else {
        let w = format!(
            "Peer type from servers list ({}) doesn't match peerType ({}). Defaulting to servers list.",
            by_list.as_str(),
            configured.as_str()
        );
        (by_list, Some(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Origin {
        Origin::FileWide {
            path: "zoo.cfg".into(),
        }
    }

    fn servers(lines: &[&str]) -> BTreeMap<u64, QuorumServer> {
        let lines: Vec<(String, String, Origin)> = lines
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("server.{}", i + 1), v.to_string(), at()))
            .collect();
        parse_servers(&lines, false).expect("valid")
    }

    #[test]
    fn ids_must_be_numbers() {
        let lines = vec![("server.x".to_owned(), "a:1:2".to_owned(), at())];
        let e = parse_servers(&lines, false).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"zoo.cfg: server.x: "x" is not a server id"#)
        );
        let lines = vec![("server.1".to_owned(), "a:1".to_owned(), at())];
        assert!(
            parse_servers(&lines, false)
                .is_err_and(|e| e.to_string().starts_with("zoo.cfg: server.1: a:1 does not"))
        );
    }

    #[test]
    fn membership_rules() {
        assert!(check_membership(&servers(&[]), true, &at()).is_ok());
        assert!(check_membership(&servers(&[]), false, &at()).is_err());
        assert!(check_membership(&servers(&["a:1:2:observer"]), true, &at()).is_err());
        let w = check_membership(&servers(&["a:1:2"]), true, &at()).expect("ok");
        assert!(w[0].contains("only one server"));
        assert!(check_membership(&servers(&["a:1:2", "b:1:2:observer"]), true, &at()).is_err());
        assert!(check_membership(&servers(&["a:1:2", "b:1:2:observer"]), false, &at()).is_ok());
        let w = check_membership(&servers(&["a:1:2", "b:1:2", "c:1:2", "d:1:2"]), true, &at())
            .expect("ok");
        assert!(w[0].contains("odd"));
        let w = check_membership(&servers(&["a:1:2", "b:1:2", "c:1:2"]), true, &at()).expect("ok");
        assert!(w.is_empty());
    }

    #[test]
    fn client_address_from_server_line() {
        let s = servers(&["a:1:2;10.0.0.1:2181", "b:1:2"]);
        let own = s.get(&1);
        let got = reconcile_client_address(own, None, &at()).expect("ok");
        assert_eq!(got, Some(HostPort::new("10.0.0.1", 2181)));
        let got =
            reconcile_client_address(own, Some(HostPort::any(2181)), &at()).expect("same port");
        assert_eq!(got, Some(HostPort::new("10.0.0.1", 2181)));
        assert!(reconcile_client_address(own, Some(HostPort::any(2182)), &at()).is_err());
        assert!(
            reconcile_client_address(own, Some(HostPort::new("10.0.0.2", 2181)), &at()).is_err()
        );
        let got =
            reconcile_client_address(s.get(&2), Some(HostPort::any(2182)), &at()).expect("ok");
        assert_eq!(got, Some(HostPort::any(2182)));
    }

    #[test]
    fn peer_type_follows_list() {
        let s = servers(&["a:1:2", "b:1:2:observer"]);
        assert_eq!(
            resolve_peer_type(&s, Some(2), PeerType::Participant).0,
            PeerType::Observer
        );
        assert!(
            resolve_peer_type(&s, Some(2), PeerType::Participant)
                .1
                .is_some()
        );
        assert_eq!(
            resolve_peer_type(&s, Some(2), PeerType::Observer),
            (PeerType::Observer, None)
        );
        assert_eq!(
            resolve_peer_type(&s, Some(1), PeerType::Participant),
            (PeerType::Participant, None)
        );
    }
}
