//! `host1:port1,host2:port2/chroot`, as ZooKeeper's clients take it.

use crate::chroot::Chroot;
use crate::error::{Error, Result};

/// ZooKeeper's client port when a host names none.
const DEFAULT_PORT: u16 = 2181;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConnectString {
    /// `host:port` strings, in the order given.
    pub(crate) hosts: Vec<String>,
    pub(crate) chroot: Chroot,
}

impl ConnectString {
    /// Parses a connect string. The chroot starts at the first `/`; a host without a
    /// port gets 2181; IPv6 addresses go in brackets (`[::1]:2181`).
    pub(crate) fn parse(connect_string: &str) -> Result<ConnectString> {
        let (hosts, chroot) = match connect_string.find('/') {
            Some(at) => connect_string.split_at(at),
            None => (connect_string, ""),
        };
        let chroot = Chroot::parse(chroot)?;
        let hosts: Vec<String> = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(with_port)
            .collect::<Result<_>>()?;
        if hosts.is_empty() {
            return Err(Error::BadArguments);
        }
        Ok(ConnectString { hosts, chroot })
    }
}

fn with_port(host: &str) -> Result<String> {
    let has_port = if let Some(rest) = host.strip_prefix('[') {
        let (_, after) = rest.split_once(']').ok_or(Error::BadArguments)?;
        after.starts_with(':')
    } else {
        if host.matches(':').count() > 1 {
            // An unbracketed IPv6 address: ambiguous, as in ZooKeeper.
            return Err(Error::BadArguments);
        }
        host.contains(':')
    };
    if has_port {
        let port = host.rsplit(':').next().unwrap_or_default();
        port.parse::<u16>().map_err(|_| Error::BadArguments)?;
        Ok(host.to_owned())
    } else {
        Ok(format!("{host}:{DEFAULT_PORT}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(s: &str) -> Result<Vec<String>> {
        ConnectString::parse(s).map(|c| c.hosts)
    }

    #[test]
    fn connect_strings() {
        assert_eq!(
            hosts("a:1, b:2,c").unwrap(),
            ["a:1", "b:2", "c:2181"].map(String::from)
        );
        assert_eq!(
            hosts("[::1]:7,[::1]").unwrap(),
            ["[::1]:7", "[::1]:2181"].map(String::from)
        );
        assert_eq!(hosts(""), Err(Error::BadArguments));
        assert_eq!(hosts("/app"), Err(Error::BadArguments));
        assert_eq!(hosts("a:x"), Err(Error::BadArguments));
        assert_eq!(hosts("::1"), Err(Error::BadArguments));

        let parsed = ConnectString::parse("a:1,b:2/app/x").unwrap();
        assert_eq!(parsed.hosts, ["a:1", "b:2"]);
        assert_eq!(parsed.chroot.as_str(), Some("/app/x"));
        assert_eq!(ConnectString::parse("a:1/").unwrap().chroot.as_str(), None);
        assert_eq!(
            ConnectString::parse("a:1/app/"),
            Err(Error::BadArguments),
            "a chroot may not end in /"
        );
    }
}
