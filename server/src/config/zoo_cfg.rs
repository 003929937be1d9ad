//! Applies zoo.cfg entries the way `QuorumPeerConfig.parseProperties` does: known keys
//! are parsed into typed settings (a bad value is an error naming key and line), and
//! every other key becomes the system property `zookeeper.<key>`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::{ConfigError, Origin};
use super::java;
use super::properties::PropertyEntry;
use super::server_line::PeerType;
use super::sysprops::SystemProperties;

/// A setting and where it was set; later sources overwrite it.
pub type Val<T> = Option<(T, Origin)>;

/// Settings that zoo.cfg and flags can set, before defaults and cross-key rules.
#[derive(Debug, Default)]
pub struct Draft {
    pub data_dir: Val<PathBuf>,
    pub data_log_dir: Val<PathBuf>,
    /// 0 means "not set", as in ZooKeeper.
    pub client_port: Val<u16>,
    pub client_port_address: Val<String>,
    pub secure_client_port: Val<u16>,
    pub secure_client_port_address: Val<String>,
    pub observer_master_port: Val<u16>,
    pub client_port_listen_backlog: Val<i32>,
    pub tick_time: Val<u32>,
    pub max_client_cnxns: Val<u32>,
    /// `None` inside means -1: "derive from tickTime".
    pub min_session_timeout: Val<Option<u32>>,
    pub max_session_timeout: Val<Option<u32>>,
    pub init_limit: Val<u32>,
    pub sync_limit: Val<u32>,
    pub connect_to_learner_master_limit: Val<u32>,
    pub election_alg: Val<u32>,
    pub quorum_listen_on_all_ips: Val<bool>,
    pub peer_type: Val<PeerType>,
    pub sync_enabled: Val<bool>,
    pub dynamic_config_file: Val<PathBuf>,
    pub snap_retain_count: Val<u32>,
    pub purge_interval: Val<u32>,
    pub standalone_enabled: Val<bool>,
    pub reconfig_enabled: Val<bool>,
    pub local_sessions_enabled: Val<bool>,
    pub local_sessions_upgrading_enabled: Val<bool>,
    /// Security keys of zoo.cfg (quorum TLS and SASL), checked by `security`.
    pub security_keys: Vec<(String, String, Origin)>,
    /// `ferrokeeper.follow=zookeeper`: observe a running ZooKeeper ensemble.
    pub follow_zookeeper: Val<bool>,
    /// `ferrokeeper.watchEventZxid`: watch notifications carry the zxid of the change
    /// (ZooKeeper 3.9) or −1 (3.8).
    pub watch_event_zxid: Val<bool>,
    /// `ferrokeeper.ensemble=4,5,6`: the ferrokeeper servers (among the observers) that
    /// follow together and form an ensemble when promoted.
    pub follow_ensemble: Val<Vec<u64>>,
    /// `ferrokeeper.priority.<id>`: leadership preference per server (ClickHouse
    /// Keeper's server priority).
    pub priorities: BTreeMap<u64, (u32, Origin)>,
    pub metrics_class_name: Val<String>,
    pub metrics_properties: BTreeMap<String, String>,
    /// Where each `metricsProvider.<name>` was set.
    pub metrics_origins: BTreeMap<String, Origin>,
    /// `server.N` values, parsed later (they depend on `-D` multiAddress).
    pub server_lines: Vec<(String, String, Origin)>,
    pub diagnostics: Vec<(tracing::Level, String)>,
}

/// System properties ZooKeeper reads without the `zookeeper.` prefix: writing them in
/// zoo.cfg creates `zookeeper.<key>`, which nothing reads. We keep that behaviour but
/// say so, because it surprises everyone.
const BARE_PROPERTIES: [&str; 5] = [
    "jute.maxbuffer",
    "readonlymode.enabled",
    "znode.container.checkIntervalMs",
    "znode.container.maxPerMinute",
    "znode.container.maxNeverUsedIntervalMs",
];

/// `zookeeper.*` properties ferrokeeper interprets; zoo.cfg keys mapping to them are
/// expected and not warned about.
pub const INTERPRETED_PROPERTIES: [&str; 20] = [
    "zookeeper.4lw.commands.whitelist",
    "zookeeper.admin.enableServer",
    "zookeeper.admin.serverAddress",
    "zookeeper.admin.serverPort",
    "zookeeper.admin.commandURL",
    "zookeeper.admin.idleTimeout",
    "zookeeper.admin.snapshot.enabled",
    "zookeeper.admin.restore.enabled",
    "zookeeper.admin.rateLimiterIntervalInMS",
    "zookeeper.snapCount",
    "zookeeper.snapSizeLimitInKb",
    "zookeeper.forceSync",
    "zookeeper.preAllocSize",
    "zookeeper.globalOutstandingLimit",
    "zookeeper.maxCnxns",
    "zookeeper.DigestAuthenticationProvider.superDigest",
    "zookeeper.extendedTypesEnabled",
    "zookeeper.enforceQuota",
    "zookeeper.multiAddress.enabled",
    "zookeeper.electionPortBindRetry",
];

/// Families of `zookeeper.*` properties decided elsewhere (TLS, SASL, auth providers).
const INTERPRETED_PREFIXES: [&str; 13] = [
    "zookeeper.ssl.",
    "zookeeper.authProvider.",
    "zookeeper.X509AuthenticationProvider.",
    "zookeeper.SASLAuthenticationProvider.",
    "zookeeper.client.portUnification",
    "zookeeper.client.certReload",
    "zookeeper.enforce.auth.",
    "zookeeper.sessionRequireClientSASLAuth",
    "zookeeper.superUser",
    "zookeeper.sasl.serverconfig",
    "zookeeper.kerberos.removeHostFromPrincipal",
    "zookeeper.kerberos.removeRealmFromPrincipal",
    "zookeeper.allowSaslFailedClients",
];

fn is_interpreted(name: &str) -> bool {
    INTERPRETED_PROPERTIES.contains(&name)
        || INTERPRETED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Known keys whose value ZooKeeper validates but ferrokeeper does not use (yet).
/// We check the value so a typo fails as it would in ZooKeeper, and note the key.
enum Unused {
    Bool,
    Int,
    Long,
    Text,
}

/// Quorum TLS and SASL keys: honoured or refused by `security::refuse_unhonoured`.
fn is_security_key(key: &str) -> bool {
    matches!(
        key,
        "sslQuorum"
            | "portUnification"
            | "sslQuorumReloadCertFiles"
            | "quorum.auth.enableSasl"
            | "quorum.auth.serverRequireSasl"
            | "quorum.auth.learnerRequireSasl"
            | "quorum.auth.learner.saslLoginContext"
            | "quorum.auth.server.saslLoginContext"
            | "quorum.auth.kerberos.servicePrincipal"
    )
}

fn unused_key(key: &str) -> Option<Unused> {
    Some(match key {
        "jvm.pause.monitor" | "multiAddress.enabled" | "multiAddress.reachabilityCheckEnabled" => {
            Unused::Bool
        }
        "quorum.cnxn.threads.size" | "multiAddress.reachabilityCheckTimeoutMs" => Unused::Int,
        "jvm.pause.info-threshold.ms"
        | "jvm.pause.warn-threshold.ms"
        | "jvm.pause.sleep.time.ms" => Unused::Long,
        "oraclePath" => Unused::Text,
        _ => return None,
    })
}

fn int(value: &str, key: &str, at: &Origin) -> Result<i32, ConfigError> {
    java::parse_int(value).ok_or_else(|| ConfigError::bad_value(at, key, value, "a number"))
}

fn non_negative(value: &str, key: &str, at: &Origin) -> Result<u32, ConfigError> {
    let v = int(value, key, at)?;
    u32::try_from(v).map_err(|_| ConfigError::invalid(at, key, format!("{v} must not be negative")))
}

fn port(value: &str, key: &str, at: &Origin) -> Result<u16, ConfigError> {
    let v = int(value, key, at)?;
    u16::try_from(v)
        .map_err(|_| ConfigError::invalid(at, key, format!("port {v} is out of range 0-65535")))
}

fn boolean(value: &str, key: &str, at: &Origin) -> Result<bool, ConfigError> {
    java::parse_bool(value).ok_or_else(|| {
        ConfigError::invalid(
            at,
            key,
            format!("invalid option {value:?}; choose 'true' or 'false'"),
        )
    })
}

fn path(value: &str, key: &str, at: &Origin) -> Result<PathBuf, ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::invalid(at, key, "empty path"));
    }
    Ok(PathBuf::from(value))
}

/// `-1` (ZooKeeper's "unset") or a non-negative number of milliseconds.
fn timeout(value: &str, key: &str, at: &Origin) -> Result<Option<u32>, ConfigError> {
    match int(value, key, at)? {
        -1 => Ok(None),
        v => u32::try_from(v)
            .map(Some)
            .map_err(|_| ConfigError::invalid(at, key, format!("{v} must not be negative"))),
    }
}

fn set<T>(slot: &mut Val<T>, v: T, at: &Origin) {
    *slot = Some((v, at.clone()));
}

/// Folds duplicate keys (the last one wins, as in `java.util.Properties`) while keeping
/// file order, so that an overwritten bad value is ignored as ZooKeeper ignores it.
pub fn last_wins(entries: Vec<PropertyEntry>) -> Vec<PropertyEntry> {
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        last.insert(java::trim(&e.key).to_owned(), i);
    }
    entries
        .into_iter()
        .enumerate()
        .filter(|(i, e)| last.get(java::trim(&e.key)) == Some(i))
        .map(|(_, e)| e)
        .collect()
}

/// Applies all entries of one zoo.cfg. `file` names the file for origins.
pub fn apply_file(
    draft: &mut Draft,
    props: &mut SystemProperties,
    file: &std::path::Path,
    entries: Vec<PropertyEntry>,
) -> Result<(), ConfigError> {
    let entries = last_wins(entries);
    let has_dynamic_file = entries
        .iter()
        .any(|e| java::trim(&e.key) == "dynamicConfigFile");
    for e in entries {
        let at = Origin::File {
            path: file.to_path_buf(),
            line: e.line,
        };
        apply_entry(
            draft,
            props,
            java::trim(&e.key),
            java::trim(&e.value),
            &at,
            has_dynamic_file,
        )?;
    }
    Ok(())
}

fn apply_entry(
    d: &mut Draft,
    props: &mut SystemProperties,
    key: &str,
    value: &str,
    at: &Origin,
    has_dynamic_file: bool,
) -> Result<(), ConfigError> {
    match key {
        "dataDir" => set(&mut d.data_dir, path(value, key, at)?, at),
        "dataLogDir" => set(&mut d.data_log_dir, path(value, key, at)?, at),
        "clientPort" => set(&mut d.client_port, port(value, key, at)?, at),
        "clientPortAddress" => set(&mut d.client_port_address, value.to_owned(), at),
        "secureClientPort" => set(&mut d.secure_client_port, port(value, key, at)?, at),
        "secureClientPortAddress" => set(&mut d.secure_client_port_address, value.to_owned(), at),
        "observerMasterPort" => {
            // ZooKeeper treats <= 0 as unset.
            let v = int(value, key, at)?;
            let p = if v <= 0 { 0 } else { port(value, key, at)? };
            set(&mut d.observer_master_port, p, at);
        }
        "clientPortListenBacklog" => {
            set(&mut d.client_port_listen_backlog, int(value, key, at)?, at)
        }
        "tickTime" => {
            let v = int(value, key, at)?;
            if v <= 0 {
                return Err(ConfigError::invalid(
                    at,
                    key,
                    format!("{v} must be a positive number of milliseconds"),
                ));
            }
            set(&mut d.tick_time, v.unsigned_abs(), at);
        }
        "maxClientCnxns" => set(&mut d.max_client_cnxns, non_negative(value, key, at)?, at),
        "minSessionTimeout" => set(&mut d.min_session_timeout, timeout(value, key, at)?, at),
        "maxSessionTimeout" => set(&mut d.max_session_timeout, timeout(value, key, at)?, at),
        "initLimit" => set(&mut d.init_limit, non_negative(value, key, at)?, at),
        "syncLimit" => set(&mut d.sync_limit, non_negative(value, key, at)?, at),
        "connectToLearnerMasterLimit" => set(
            &mut d.connect_to_learner_master_limit,
            non_negative(value, key, at)?,
            at,
        ),
        "electionAlg" => {
            if int(value, key, at)? != 3 {
                return Err(ConfigError::invalid(
                    at,
                    key,
                    "Invalid electionAlg value. Only 3 is supported.",
                ));
            }
            set(&mut d.election_alg, 3, at);
        }
        "quorumListenOnAllIPs" => set(
            &mut d.quorum_listen_on_all_ips,
            boolean(value, key, at)?,
            at,
        ),
        "peerType" => {
            let t = PeerType::parse(value).ok_or_else(|| {
                ConfigError::invalid(at, key, format!("Unrecognised peertype: {value}"))
            })?;
            set(&mut d.peer_type, t, at);
        }
        "syncEnabled" => set(&mut d.sync_enabled, boolean(value, key, at)?, at),
        "dynamicConfigFile" => set(&mut d.dynamic_config_file, path(value, key, at)?, at),
        "autopurge.snapRetainCount" => {
            let v = int(value, key, at)?;
            let v = if v < 3 {
                d.diagnostics.push((
                    tracing::Level::WARN,
                    format!("{at}: {key}: {v} is below the minimum; using 3"),
                ));
                3
            } else {
                v.unsigned_abs()
            };
            set(&mut d.snap_retain_count, v, at);
        }
        // <= 0 disables purging in ZooKeeper.
        "autopurge.purgeInterval" => set(
            &mut d.purge_interval,
            int(value, key, at)?.max(0).unsigned_abs(),
            at,
        ),
        "standaloneEnabled" => set(&mut d.standalone_enabled, boolean(value, key, at)?, at),
        "reconfigEnabled" => set(&mut d.reconfig_enabled, boolean(value, key, at)?, at),
        "localSessionsEnabled" => set(&mut d.local_sessions_enabled, boolean(value, key, at)?, at),
        "localSessionsUpgradingEnabled" => set(
            &mut d.local_sessions_upgrading_enabled,
            boolean(value, key, at)?,
            at,
        ),
        "metricsProvider.className" => set(&mut d.metrics_class_name, value.to_owned(), at),
        "ferrokeeper.follow" => {
            if value != "zookeeper" {
                return Err(ConfigError::invalid(
                    at,
                    key,
                    format!(
                        "{value:?} is not something ferrokeeper can follow (only \"zookeeper\")"
                    ),
                ));
            }
            set(&mut d.follow_zookeeper, true, at);
        }
        "ferrokeeper.watchEventZxid" => set(&mut d.watch_event_zxid, boolean(value, key, at)?, at),
        "ferrokeeper.ensemble" => {
            let ids = value
                .split(',')
                .map(|id| id.trim().parse::<u64>())
                .collect::<Result<Vec<u64>, _>>()
                .map_err(|_| {
                    ConfigError::invalid(
                        at,
                        key,
                        format!("{value:?} is not a comma-separated list of server ids"),
                    )
                })?;
            set(&mut d.follow_ensemble, ids, at);
        }
        _ if key.starts_with("ferrokeeper.priority.") => {
            let id = key
                .strip_prefix("ferrokeeper.priority.")
                .and_then(|id| id.parse::<u64>().ok());
            let priority = value.trim().parse::<u32>().ok();
            match (id, priority) {
                (Some(id), Some(priority)) => {
                    d.priorities.insert(id, (priority, at.clone()));
                }
                _ => {
                    return Err(ConfigError::invalid(
                        at,
                        key,
                        format!(
                            "{value:?}: the form is ferrokeeper.priority.<server id>=<priority, \
                             a whole number; 0 never leads while another voter can>"
                        ),
                    ));
                }
            }
        }
        _ => apply_other(d, props, key, value, at, has_dynamic_file)?,
    }
    Ok(())
}

fn apply_other(
    d: &mut Draft,
    props: &mut SystemProperties,
    key: &str,
    value: &str,
    at: &Origin,
    has_dynamic_file: bool,
) -> Result<(), ConfigError> {
    let membership =
        key.starts_with("server.") || key.starts_with("group") || key.starts_with("weight");
    if membership && has_dynamic_file {
        return Err(ConfigError::invalid(
            at,
            key,
            "must be in a separate dynamic config file",
        ));
    }
    if let Some(name) = key.strip_prefix("metricsProvider.") {
        d.metrics_properties
            .insert(name.to_owned(), value.to_owned());
        d.metrics_origins.insert(name.to_owned(), at.clone());
    } else if key.starts_with("server.") {
        d.server_lines
            .push((key.to_owned(), value.to_owned(), at.clone()));
    } else if membership {
        // Ignoring them would form majority quorums the operator did not ask for.
        return Err(ConfigError::invalid(
            at,
            key,
            "hierarchical quorums (group/weight) are not supported by ferrokeeper; remove \
             the group.N and weight.N lines (every voter then counts once)"
                .to_owned(),
        ));
    } else if is_security_key(key) {
        if !key.contains("saslLoginContext") && !key.contains("kerberos") {
            boolean(value, key, at)?;
        }
        d.security_keys
            .push((key.to_owned(), value.to_owned(), at.clone()));
    } else if let Some(kind) = unused_key(key) {
        match kind {
            Unused::Bool => drop(boolean(value, key, at)?),
            Unused::Int => drop(int(value, key, at)?),
            Unused::Long => drop(
                java::parse_long(value)
                    .ok_or_else(|| ConfigError::bad_value(at, key, value, "a number"))?,
            ),
            Unused::Text => {}
        }
        d.diagnostics.push((
            tracing::Level::INFO,
            format!("{at}: {key}: accepted; has no effect in ferrokeeper"),
        ));
    } else {
        let name = format!("zookeeper.{key}");
        if BARE_PROPERTIES.contains(&key) {
            d.diagnostics.push((
                tracing::Level::WARN,
                format!(
                    "{at}: {key}: has no effect in zoo.cfg (it becomes {name}, as in ZooKeeper); \
                     set it as -D{key}=... instead"
                ),
            ));
        } else if !is_interpreted(&name) {
            d.diagnostics.push((
                tracing::Level::WARN,
                format!("{at}: {key}: unknown key; kept as system property {name}"),
            ));
        }
        props.set(&name, value, at.clone(), key);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::properties;

    fn load(text: &str) -> Result<(Draft, SystemProperties), ConfigError> {
        let mut d = Draft::default();
        let mut p = SystemProperties::default();
        let entries = properties::parse(text)
            .map_err(|_| ConfigError::invalid(&Origin::Default, "x", "syntax"))?;
        apply_file(&mut d, &mut p, std::path::Path::new("zoo.cfg"), entries)?;
        Ok((d, p))
    }

    fn err(text: &str) -> String {
        load(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| "no error".into())
    }

    fn v<T: Clone>(slot: &Val<T>) -> Option<T> {
        slot.as_ref().map(|(v, _)| v.clone())
    }

    #[test]
    fn typed_keys() {
        let text = "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=/var/zk\ndataLogDir=/var/zklog\n\
                    clientPort=2181\nclientPortAddress=127.0.0.1\nsecureClientPort=2281\nmaxClientCnxns=0\n\
                    minSessionTimeout=-1\nmaxSessionTimeout=90000\nautopurge.snapRetainCount=5\n\
                    autopurge.purgeInterval=24\nstandaloneEnabled=false\nreconfigEnabled=TRUE\npeerType=observer\n\
                    clientPortListenBacklog=128\nlocalSessionsEnabled=true\nmetricsProvider.className=P\n\
                    metricsProvider.httpPort=7000\nelectionAlg=3\nobserverMasterPort=-1\n";
        let (d, _) = load(text).expect("loads");
        assert_eq!(v(&d.tick_time), Some(2000));
        assert_eq!(v(&d.init_limit), Some(10));
        assert_eq!(v(&d.sync_limit), Some(5));
        assert_eq!(v(&d.data_dir), Some(PathBuf::from("/var/zk")));
        assert_eq!(v(&d.data_log_dir), Some(PathBuf::from("/var/zklog")));
        assert_eq!(v(&d.client_port), Some(2181));
        assert_eq!(v(&d.client_port_address).as_deref(), Some("127.0.0.1"));
        assert_eq!(v(&d.secure_client_port), Some(2281));
        assert_eq!(v(&d.max_client_cnxns), Some(0));
        assert_eq!(v(&d.min_session_timeout), Some(None));
        assert_eq!(v(&d.max_session_timeout), Some(Some(90000)));
        assert_eq!(v(&d.snap_retain_count), Some(5));
        assert_eq!(v(&d.purge_interval), Some(24));
        assert_eq!(v(&d.standalone_enabled), Some(false));
        assert_eq!(v(&d.reconfig_enabled), Some(true));
        assert_eq!(v(&d.peer_type), Some(PeerType::Observer));
        assert_eq!(v(&d.client_port_listen_backlog), Some(128));
        assert_eq!(v(&d.local_sessions_enabled), Some(true));
        assert_eq!(v(&d.metrics_class_name).as_deref(), Some("P"));
        assert_eq!(
            d.metrics_properties.get("httpPort").map(String::as_str),
            Some("7000")
        );
        assert_eq!(v(&d.observer_master_port), Some(0));
    }

    #[test]
    fn values_are_trimmed_and_origins_kept() {
        let (d, _) = load("\n\ntickTime = 2000   \t\n").expect("loads");
        let (t, at) = d.tick_time.expect("set");
        assert_eq!(t, 2000);
        assert_eq!(at.to_string(), "zoo.cfg:3");
    }

    #[test]
    fn bad_values_name_key_and_line() {
        assert_eq!(
            err("dataDir=/d\ntickTime=abc"),
            r#"zoo.cfg:2: tickTime: "abc" is not a number"#
        );
        assert_eq!(
            err("tickTime=0"),
            "zoo.cfg:1: tickTime: 0 must be a positive number of milliseconds"
        );
        assert_eq!(
            err("clientPort=99999"),
            "zoo.cfg:1: clientPort: port 99999 is out of range 0-65535"
        );
        assert_eq!(
            err("\nclientPort=2181x"),
            r#"zoo.cfg:2: clientPort: "2181x" is not a number"#
        );
        assert_eq!(
            err("maxClientCnxns=-5"),
            "zoo.cfg:1: maxClientCnxns: -5 must not be negative"
        );
        assert_eq!(
            err("minSessionTimeout=-2"),
            "zoo.cfg:1: minSessionTimeout: -2 must not be negative"
        );
        assert_eq!(
            err("maxSessionTimeout=1e4"),
            r#"zoo.cfg:1: maxSessionTimeout: "1e4" is not a number"#
        );
        assert_eq!(
            err("initLimit=ten"),
            r#"zoo.cfg:1: initLimit: "ten" is not a number"#
        );
        assert_eq!(
            err("syncLimit="),
            r#"zoo.cfg:1: syncLimit: "" is not a number"#
        );
        assert_eq!(
            err("standaloneEnabled=yes"),
            r#"zoo.cfg:1: standaloneEnabled: invalid option "yes"; choose 'true' or 'false'"#
        );
        assert!(err("reconfigEnabled=1").starts_with("zoo.cfg:1: reconfigEnabled:"));
        assert_eq!(
            err("peerType=voter"),
            "zoo.cfg:1: peerType: Unrecognised peertype: voter"
        );
        assert_eq!(
            err("electionAlg=1"),
            "zoo.cfg:1: electionAlg: Invalid electionAlg value. Only 3 is supported."
        );
        assert_eq!(
            err("autopurge.purgeInterval=x"),
            r#"zoo.cfg:1: autopurge.purgeInterval: "x" is not a number"#
        );
        assert_eq!(err("dataDir="), "zoo.cfg:1: dataDir: empty path");
        assert_eq!(
            err("sslQuorum=maybe"),
            r#"zoo.cfg:1: sslQuorum: invalid option "maybe"; choose 'true' or 'false'"#
        );
        assert_eq!(
            err("dynamicConfigFile=/d\nserver.1=a:1:2"),
            "zoo.cfg:2: server.1: must be in a separate dynamic config file"
        );
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let (d, _) = load("tickTime=abc\ntickTime=100").expect("earlier bad value is overwritten");
        assert_eq!(v(&d.tick_time), Some(100));
    }

    #[test]
    fn snap_retain_count_minimum() {
        let (d, _) = load("autopurge.snapRetainCount=1").expect("loads");
        assert_eq!(v(&d.snap_retain_count), Some(3));
        assert!(d.diagnostics.iter().any(|(_, m)| m.contains("minimum")));
    }

    #[test]
    fn unknown_keys_become_properties_with_warning() {
        let (d, p) = load("fooBar=1\n4lw.commands.whitelist=ruok\nsnapCount=10\njute.maxbuffer=5")
            .expect("loads");
        assert_eq!(p.get("zookeeper.fooBar"), Some("1"));
        assert_eq!(p.get("zookeeper.4lw.commands.whitelist"), Some("ruok"));
        assert_eq!(p.get("zookeeper.snapCount"), Some("10"));
        assert_eq!(p.get("zookeeper.jute.maxbuffer"), Some("5"));
        assert_eq!(p.get("jute.maxbuffer"), None);
        let warnings: Vec<&str> = d.diagnostics.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            warnings
                .iter()
                .any(|m| m.contains("fooBar") && m.contains("unknown key"))
        );
        assert!(
            warnings
                .iter()
                .any(|m| m.contains("jute.maxbuffer") && m.contains("no effect"))
        );
        assert!(
            !warnings.iter().any(|m| m.contains("snapCount")),
            "interpreted keys are not warned about"
        );
        assert_eq!(
            p.entry("zookeeper.fooBar").map(|e| e.written_as.as_str()),
            Some("fooBar")
        );
    }

    #[test]
    fn server_lines_are_collected() {
        let (d, p) = load("server.1=a:1:2\nserver.2=b:1:2;2181\n").expect("loads");
        assert_eq!(d.server_lines.len(), 2);
        assert_eq!(d.server_lines[1].0, "server.2");
        assert_eq!(p.get("zookeeper.server.1"), None);
        let refused = load("server.1=a:1:2\ngroup.1=1:2\n").expect_err("refused");
        assert!(refused.to_string().contains("group.1"), "{refused}");
    }
}
