//! `host:port` values (clientPortAddress, the client part of server lines, admin
//! address). Hosts are kept as written; resolving names is the network layer's job so
//! that loading a config never blocks on DNS.

use std::fmt;

use super::java;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    /// IP literal or host name, without IPv6 brackets. `0.0.0.0` means all interfaces.
    pub host: String,
    pub port: u16,
}

impl HostPort {
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        HostPort {
            host: host.into(),
            port,
        }
    }

    /// All interfaces, as Java's `new InetSocketAddress(port)`.
    pub fn any(port: u16) -> Self {
        HostPort::new("0.0.0.0", port)
    }

    /// Whether the host is a wildcard address.
    pub fn is_any(&self) -> bool {
        matches!(self.host.as_str(), "0.0.0.0" | "::" | "0:0:0:0:0:0:0:0")
    }

    /// `host:port` suitable for `ToSocketAddrs` (IPv6 in brackets).
    pub fn to_addr_string(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for HostPort {
    /// Like ZooKeeper's `delimitedHostString`: brackets only around IPv6 literals.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", bracketed(&self.host), self.port)
    }
}

pub(crate) fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// `ConfigUtils.getHostAndPort`: splits on `:` but understands `[v6]:a:b`.
pub(crate) fn host_and_ports(s: &str) -> Result<Vec<String>, String> {
    let Some(rest) = s.strip_prefix('[') else {
        return Ok(java::split(s, ':').into_iter().map(str::to_owned).collect());
    };
    let Some(close) = rest.find(']') else {
        return Err(format!("{s} starts with '[' but has no matching ']:'"));
    };
    let host = &rest[..close];
    let after = &rest[close + 1..];
    match after.len() {
        0 => Ok(vec![host.to_owned()]),
        1 => Err(format!("{s} doesn't have a port after colon")),
        // Java skips the character after ']' without checking that it is ':'.
        _ => {
            let mut parts = vec![host.to_owned()];
            let tail = after.get(1..).unwrap_or_default();
            parts.extend(java::split(tail, ':').into_iter().map(str::to_owned));
            Ok(parts)
        }
    }
}

/// A port as `Integer.parseInt` + `InetSocketAddress` accept it: 0..=65535.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    java::parse_int(s).and_then(|p| u16::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_hosts_and_ports() {
        assert_eq!(
            host_and_ports("h:1:2").ok(),
            Some(vec!["h".into(), "1".into(), "2".into()])
        );
        assert_eq!(
            host_and_ports("[::1]:1:2").ok(),
            Some(vec!["::1".into(), "1".into(), "2".into()])
        );
        assert_eq!(host_and_ports("[::1]").ok(), Some(vec!["::1".into()]));
        assert!(host_and_ports("[::1").is_err());
        assert!(host_and_ports("[::1]:").is_err());
    }

    #[test]
    fn display_and_ports() {
        assert_eq!(HostPort::new("::1", 2181).to_string(), "[::1]:2181");
        assert_eq!(HostPort::any(2181).to_string(), "0.0.0.0:2181");
        assert!(HostPort::any(1).is_any());
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("-1"), None);
    }
}
