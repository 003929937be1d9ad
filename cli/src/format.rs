//! zkCli's output formats: Stat lines, dates, ACLs, watch events and error texts.

use ferrokeeper_client::{Acl, Error, EventType, Id, KeeperState, Stat, WatchedEvent, perms};

/// `Stat` as zkCli prints it (`cZxid = 0x2` ... `numChildren = 0`).
pub fn stat(stat: &Stat) -> String {
    format!(
        "cZxid = 0x{:x}\nctime = {}\nmZxid = 0x{:x}\nmtime = {}\npZxid = 0x{:x}\n\
         cversion = {}\ndataVersion = {}\naclVersion = {}\nephemeralOwner = 0x{:x}\n\
         dataLength = {}\nnumChildren = {}",
        stat.czxid,
        java_date(stat.ctime),
        stat.mzxid,
        java_date(stat.mtime),
        stat.pzxid,
        stat.cversion,
        stat.version,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
    )
}

/// A time in milliseconds since the epoch as Java's `Date.toString()` prints it in
/// UTC: `Tue Nov 24 22:29:37 UTC 2026`.
pub fn java_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)];
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!(
        "{weekday} {month} {day:02} {:02}:{:02}:{:02} UTC {year}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Year, month (1-12) and day of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An ACL as zkCli's getAcl prints it: `'world,'anyone` then `: cdrwa`.
pub fn acl(acl: &[Acl]) -> String {
    acl.iter()
        .map(|a| format!("'{},'{}\n: {}", a.id.scheme, a.id.id, perm_string(a.perms)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Permission bits as zkCli's letters, in its order (`cdrwa`).
pub fn perm_string(bits: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| bits & bit != 0)
    .map(|(_, letter)| *letter)
    .collect()
}

/// Parses zkCli's ACL syntax: `scheme:id:perms[,scheme:id:perms...]`, the id being
/// everything between the first and the last colon. Malformed entries are reported
/// in the error, as zkCli prints them.
pub fn parse_acl(text: &str) -> Result<Vec<Acl>, String> {
    let mut out = Vec::new();
    for entry in text.split(',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        };
        if first == last {
            return Err(format!("{entry} does not have the form scheme:id:perm"));
        }
        let mut bits = 0;
        for letter in entry[last + 1..].chars() {
            bits |= match letter {
                'r' => perms::READ,
                'w' => perms::WRITE,
                'c' => perms::CREATE,
                'd' => perms::DELETE,
                'a' => perms::ADMIN,
                other => return Err(format!("Unknown perm type: {other}")),
            };
        }
        out.push(Acl {
            perms: bits,
            id: Id {
                scheme: entry[..first].to_owned(),
                id: entry[first + 1..last].to_owned(),
            },
        });
    }
    Ok(out)
}

/// A watch event as zkCli prints it (after a `WATCHER::` line).
pub fn event(event: &WatchedEvent) -> String {
    let path = if event.path.is_empty() {
        "null"
    } else {
        &event.path
    };
    format!(
        "WatchedEvent state:{} type:{} path:{}",
        keeper_state(event.keeper_state),
        event_type(event.event_type),
        path
    )
}

/// A session event (type None) as zkCli prints it.
pub fn session_event(state: KeeperState) -> String {
    format!(
        "WatchedEvent state:{} type:None path:null",
        keeper_state(state)
    )
}

fn keeper_state(state: KeeperState) -> String {
    format!("{state:?}")
}

fn event_type(kind: EventType) -> String {
    format!("{kind:?}")
}

/// What zkCli prints for a failed operation on `path` (its `CliWrapperException`
/// texts, else the `KeeperException` message).
pub fn keeper_error(err: &Error, path: &str) -> String {
    match err {
        Error::NoNode => format!("Node does not exist: {path}"),
        Error::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {path}"),
        Error::NodeExists => format!("Node already exists: {path}"),
        Error::NotEmpty => format!("Node not empty: {path}"),
        Error::NotReadOnly => format!("Not a read-only call: {path}"),
        Error::InvalidAcl => format!("Acl is not valid : {path}"),
        Error::NoAuth => format!("Insufficient permission : {path}"),
        Error::BadArguments => format!("Argument is not valid : {path}"),
        Error::BadVersion => format!("version No is not valid : {path}"),
        Error::ReconfigInProgress => "Another reconfiguration is in progress -- concurrent \
                                      reconfigs not supported (yet)"
            .to_owned(),
        Error::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date with \
                                     the leader of last commmitted config - try invoking \
                                     reconfiguration after new servers are connected and synced"
            .to_owned(),
        Error::Closed => "Not connected".to_owned(),
        other if path.is_empty() => format!("KeeperErrorCode = {}", code_message(other)),
        other => format!("KeeperErrorCode = {} for {path}", code_message(other)),
    }
}

/// ZooKeeper's `KeeperException.getCodeMessage`.
pub fn code_message(err: &Error) -> String {
    match err {
        Error::SystemError => "SystemError".into(),
        Error::RuntimeInconsistency => "RuntimeInconsistency".into(),
        Error::DataInconsistency => "DataInconsistency".into(),
        Error::ConnectionLoss => "ConnectionLoss".into(),
        Error::MarshallingError => "MarshallingError".into(),
        Error::NewConfigNoQuorum => "NewConfigNoQuorum".into(),
        Error::ReconfigInProgress => "ReconfigInProgress".into(),
        Error::Unimplemented => "Unimplemented".into(),
        Error::OperationTimeout => "OperationTimeout".into(),
        Error::BadArguments => "BadArguments".into(),
        Error::NoNode => "NoNode".into(),
        Error::NoAuth => "NoAuth".into(),
        Error::BadVersion => "BadVersion".into(),
        Error::NoChildrenForEphemerals => "NoChildrenForEphemerals".into(),
        Error::NodeExists => "NodeExists".into(),
        Error::InvalidAcl => "InvalidACL".into(),
        Error::AuthFailed => "AuthFailed".into(),
        Error::NotEmpty => "Directory not empty".into(),
        Error::SessionExpired => "Session expired".into(),
        Error::InvalidCallback => "Invalid callback".into(),
        Error::SessionMoved => "Session moved".into(),
        Error::NotReadOnly => "Not a read-only call".into(),
        Error::EphemeralOnLocalSession => "Ephemeral node on local session".into(),
        Error::NoWatcher => "No such watcher".into(),
        Error::ReconfigDisabled => "Reconfig is disabled".into(),
        Error::SessionClosedRequireSaslAuth => {
            "Session closed because client failed to authenticate".into()
        }
        Error::QuotaExceeded => "Quota has exceeded".into(),
        Error::ThrottledOp => "Op throttled due to high load".into(),
        Error::Closed => "Session closed".into(),
        Error::Tls(why) => why.clone(),
        other => format!("Unknown error {}", other.code()),
    }
}

/// `config -c`: the dynamic configuration's version, a space, then each server's client
/// address (`host:port`, comma-separated), as zkCli's `ConfigUtils.getClientConfigStr`.
/// A server line is `server.N=host:quorumPort:electionPort[:role][;[clientHost:]clientPort]`;
/// a client port alone listens on every address (0.0.0.0).
pub fn client_config(config: &str) -> String {
    let mut version = "";
    let mut clients = Vec::new();
    for line in config.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value;
        }
        if !key.starts_with("server.") {
            continue;
        }
        let client = match value.split_once(';') {
            Some((_, client)) => match client.trim().rsplit_once(':') {
                Some((host, port)) => format!("{host}:{port}"),
                None => format!("0.0.0.0:{}", client.trim()),
            },
            None => String::new(),
        };
        clients.push(client);
    }
    format!("{version} {}", clients.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_java_prints_them() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-24T22:29:37Z
        assert_eq!(java_date(1_795_559_377_000), "Tue Nov 24 22:29:37 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }

    #[test]
    fn client_config_as_zkcli_prints_it() {
        let config = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                      server.2=10.0.0.2:2888:3888:participant;2182\n\
                      server.3=10.0.0.3:2888:3888:observer\n\
                      version=100000000";
        assert_eq!(
            client_config(config),
            "100000000 0.0.0.0:2181,0.0.0.0:2182,"
        );
        // Standalone: the node is empty.
        assert_eq!(client_config(""), " ");
    }

    #[test]
    fn acls() {
        let parsed = parse_acl("world:anyone:cdrwa,digest:bob:abc=:r").expect("acl");
        assert_eq!(parsed[0].perms, perms::ALL);
        assert_eq!(parsed[1].id.id, "bob:abc=");
        assert_eq!(
            acl(&parsed),
            "'world,'anyone\n: cdrwa\n'digest,'bob:abc=\n: r"
        );
        assert!(parse_acl("world:r").is_err());
        assert!(parse_acl("world:anyone:q").is_err());
    }

    #[test]
    fn errors_as_zkcli_prints_them() {
        assert_eq!(
            keeper_error(&Error::NoNode, "/a"),
            "Node does not exist: /a"
        );
        assert_eq!(
            keeper_error(&Error::ConnectionLoss, "/a"),
            "KeeperErrorCode = ConnectionLoss for /a"
        );
    }
}
