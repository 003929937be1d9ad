//! Settings ZooKeeper reads from JVM system properties rather than from zoo.cfg keys.
//! Each reads the property name ZooKeeper 3.8 reads, with its default.

use super::error::{ConfigError, Origin};
use super::four_letter::FourLetterWhitelist;
use super::model::{AdminServer, Containers, DEFAULT_JUTE_MAX_BUFFER};
use super::sysprops::SystemProperties;

/// Everything derived from the system properties.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    pub four_letter_words: FourLetterWhitelist,
    pub admin: AdminServer,
    pub snap_count: u32,
    pub snap_size_limit_kb: i64,
    pub force_sync: bool,
    pub pre_alloc_size_kb: u64,
    pub global_outstanding_limit: i32,
    pub max_cnxns: u32,
    pub super_digest: Option<String>,
    pub extended_types_enabled: bool,
    pub read_only_mode_enabled: bool,
    pub enforce_quota: bool,
    /// `-Dferrokeeper.watchEventZxid` (zoo.cfg's `ferrokeeper.watchEventZxid` wins).
    pub watch_event_zxid: bool,
    pub containers: Containers,
    pub jute_max_buffer: u32,
    pub multi_address_enabled: bool,
    pub warnings: Vec<String>,
}

/// A value that must not be negative (ports, counts, sizes).
fn non_negative<T: TryFrom<i64>>(
    props: &SystemProperties,
    name: &str,
    v: i64,
) -> Result<T, ConfigError> {
    T::try_from(v).map_err(|_| {
        let (at, key) = match props.entry(name) {
            Some(p) => (p.origin.clone(), p.written_as.clone()),
            None => (Origin::Default, name.to_owned()),
        };
        ConfigError::invalid(&at, &key, format!("{v} is out of range"))
    })
}

pub fn derive(props: &SystemProperties) -> Result<Derived, ConfigError> {
    let mut warnings = Vec::new();
    // FourLetterCommands compares with equals("true"); QuorumPeer uses getBoolean.
    let read_only_mode_enabled = props.boolean("readonlymode.enabled", false)?;
    let whitelist = props.get("zookeeper.4lw.commands.whitelist");
    let (four_letter_words, unknown) =
        FourLetterWhitelist::parse(whitelist, read_only_mode_enabled);
    if !unknown.is_empty() {
        warnings.push(format!(
            "4lw.commands.whitelist: unknown commands {}",
            unknown.join(", ")
        ));
    }

    // ZooKeeper 3.9 can serve the AdminServer over HTTPS; serving it in plain text
    // where HTTPS is asked for would fail open.
    for key in [
        "zookeeper.admin.portUnification",
        "zookeeper.admin.forceHttps",
        "zookeeper.admin.needClientAuth",
    ] {
        if props.boolean(key, false)? {
            return Err(props.refuse(
                key,
                "the AdminServer over HTTPS is not supported by ferrokeeper yet; it serves \
                 plain HTTP only (bind it to a private address with admin.serverAddress)"
                    .to_owned(),
            ));
        }
    }
    let command_url = props
        .string("zookeeper.admin.commandURL")
        .unwrap_or_else(|| "/commands".to_owned());
    // The URL becomes a route: it must be a plain path, and not one of the probes'.
    let plain_path = command_url.starts_with('/')
        && command_url
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
    if !plain_path || ["/ready", "/live"].contains(&command_url.trim_end_matches('/')) {
        return Err(props.refuse(
            "zookeeper.admin.commandURL",
            format!(
                "{command_url:?} must be a path starting with / (letters, digits, - _ . ~), \
                 other than /ready and /live"
            ),
        ));
    }
    let admin = AdminServer {
        // AdminServerFactory: enabled unless the property is "false".
        enabled: props.boolean("zookeeper.admin.enableServer", true)?,
        address: props
            .string("zookeeper.admin.serverAddress")
            .unwrap_or_else(|| "0.0.0.0".to_owned()),
        port: non_negative(
            props,
            "zookeeper.admin.serverPort",
            props.long("zookeeper.admin.serverPort", 8080)?,
        )?,
        command_url,
        idle_timeout_ms: non_negative(
            props,
            "zookeeper.admin.idleTimeout",
            props.long("zookeeper.admin.idleTimeout", 30000)?,
        )?,
        snapshot_enabled: props.boolean("zookeeper.admin.snapshot.enabled", true)?,
        restore_enabled: props.boolean("zookeeper.admin.restore.enabled", true)?,
        rate_limit_interval_ms: u64::from(non_negative::<u32>(
            props,
            "zookeeper.admin.rateLimiterIntervalInMS",
            props.long("zookeeper.admin.rateLimiterIntervalInMS", 300_000)?,
        )?),
    };

    // ZooKeeperServer.getSnapCount: values below 2 are raised to 2.
    let mut snap_count = props.int("zookeeper.snapCount", 100_000)?;
    if snap_count < 2 {
        warnings.push(format!("snapCount {snap_count} is below 2; using 2"));
        snap_count = 2;
    }
    // ServerCnxnFactory.initMaxCnxns: negative means the default, 0 (unlimited).
    let mut max_cnxns = props.int("zookeeper.maxCnxns", 0)?;
    if max_cnxns < 0 {
        warnings.push(format!(
            "maxCnxns {max_cnxns} is negative; using 0 (unlimited)"
        ));
        max_cnxns = 0;
    }
    let containers = Containers {
        check_interval_ms: non_negative(
            props,
            "znode.container.checkIntervalMs",
            props.long("znode.container.checkIntervalMs", 60_000)?,
        )?,
        max_per_minute: non_negative(
            props,
            "znode.container.maxPerMinute",
            props.long("znode.container.maxPerMinute", 10_000)?,
        )?,
        max_never_used_interval_ms: non_negative(
            props,
            "znode.container.maxNeverUsedIntervalMs",
            props.long("znode.container.maxNeverUsedIntervalMs", 0)?,
        )?,
    };
    let jute = props.int("jute.maxbuffer", DEFAULT_JUTE_MAX_BUFFER as i32)?;

    Ok(Derived {
        four_letter_words,
        admin,
        snap_count: snap_count.unsigned_abs(),
        snap_size_limit_kb: props.long("zookeeper.snapSizeLimitInKb", 4_194_304)?,
        force_sync: props.yes_no("zookeeper.forceSync", true)?,
        pre_alloc_size_kb: non_negative(
            props,
            "zookeeper.preAllocSize",
            props.long("zookeeper.preAllocSize", 65536)?,
        )?,
        global_outstanding_limit: props.int("zookeeper.globalOutstandingLimit", 1000)?,
        max_cnxns: max_cnxns.unsigned_abs(),
        super_digest: props.string("zookeeper.DigestAuthenticationProvider.superDigest"),
        extended_types_enabled: props.boolean("zookeeper.extendedTypesEnabled", false)?,
        read_only_mode_enabled,
        enforce_quota: props.boolean("zookeeper.enforceQuota", false)?,
        watch_event_zxid: props.boolean("ferrokeeper.watchEventZxid", true)?,
        containers,
        jute_max_buffer: non_negative(props, "jute.maxbuffer", i64::from(jute))?,
        multi_address_enabled: props.boolean("zookeeper.multiAddress.enabled", false)?,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Derived, ConfigError> {
        let mut p = SystemProperties::default();
        for (k, v) in pairs {
            p.set(k, v, Origin::CommandLine, k);
        }
        derive(&p)
    }

    #[test]
    fn defaults_match_zookeeper() {
        let d = with(&[]).expect("defaults");
        assert_eq!(d.four_letter_words, FourLetterWhitelist::default());
        assert_eq!(
            d.admin,
            AdminServer {
                enabled: true,
                address: "0.0.0.0".into(),
                port: 8080,
                command_url: "/commands".into(),
                idle_timeout_ms: 30000,
                snapshot_enabled: true,
                rate_limit_interval_ms: 300_000,
                restore_enabled: true,
            }
        );
        assert_eq!(d.snap_count, 100_000);
        assert_eq!(d.snap_size_limit_kb, 4_194_304);
        assert!(d.force_sync);
        assert_eq!(d.pre_alloc_size_kb, 65536);
        assert_eq!(d.global_outstanding_limit, 1000);
        assert_eq!(d.max_cnxns, 0);
        assert_eq!(d.super_digest, None);
        assert!(!d.extended_types_enabled && !d.read_only_mode_enabled && !d.enforce_quota);
        assert_eq!(
            d.containers,
            Containers {
                check_interval_ms: 60_000,
                max_per_minute: 10_000,
                max_never_used_interval_ms: 0
            }
        );
        assert_eq!(d.jute_max_buffer, 0xfffff);
        assert!(!d.multi_address_enabled);
    }

    #[test]
    fn properties_are_read() {
        let d = with(&[
            (
                "zookeeper.DigestAuthenticationProvider.superDigest",
                "super:abc=",
            ),
            ("zookeeper.extendedTypesEnabled", "true"),
            ("readonlymode.enabled", "true"),
            ("znode.container.checkIntervalMs", "1000"),
            ("znode.container.maxPerMinute", "5"),
            ("znode.container.maxNeverUsedIntervalMs", "20000"),
            ("jute.maxbuffer", "0x400000"),
            ("zookeeper.4lw.commands.whitelist", "ruok,stat"),
            ("zookeeper.admin.enableServer", "false"),
            ("zookeeper.admin.serverPort", "9090"),
            ("zookeeper.snapCount", "1"),
            ("zookeeper.forceSync", "no"),
            ("zookeeper.maxCnxns", "-3"),
        ])
        .expect("valid");
        assert_eq!(d.super_digest.as_deref(), Some("super:abc="));
        assert!(d.extended_types_enabled && d.read_only_mode_enabled && !d.enforce_quota);
        for bad in ["commands", "/cmd/{name}", "/ready"] {
            let refused =
                with(&[("zookeeper.admin.commandURL", bad)]).expect_err("not a route we serve");
            assert!(refused.to_string().contains("commandURL"), "{refused}");
        }
        let enforced = with(&[("zookeeper.enforceQuota", "true")]).expect("honoured");
        assert!(enforced.enforce_quota);
        assert_eq!(d.containers.check_interval_ms, 1000);
        assert_eq!(d.containers.max_per_minute, 5);
        assert_eq!(d.containers.max_never_used_interval_ms, 20000);
        assert_eq!(d.jute_max_buffer, 0x400000);
        assert!(d.four_letter_words.is_enabled("stat") && d.four_letter_words.is_enabled("isro"));
        assert!(!d.admin.enabled);
        assert_eq!(d.admin.port, 9090);
        assert_eq!(d.snap_count, 2);
        assert!(!d.force_sync);
        assert_eq!(d.max_cnxns, 0);
        assert_eq!(d.warnings.len(), 2);
    }

    #[test]
    fn bad_property_values_are_errors() {
        let e = with(&[("jute.maxbuffer", "big")])
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some(r#"command line: jute.maxbuffer: "big" is not a number"#)
        );
        assert!(with(&[("jute.maxbuffer", "-1")]).is_err());
        assert!(with(&[("zookeeper.admin.serverPort", "70000")]).is_err());
        assert!(with(&[("readonlymode.enabled", "yes")]).is_err());
    }
}
