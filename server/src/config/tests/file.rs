//! zoo.cfg through `from_args`: every key, errors with lines, unknown keys, `conf`.

use super::{cfg, err_text, load};
use crate::config::{ConfRuntime, HostPort};

fn arg(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn reads_every_supported_key() {
    let (dir, path) = cfg(
        "all-keys",
        "# a typical zoo.cfg\n\
         tickTime=2000\n\
         initLimit=10\n\
         syncLimit=5\n\
         dataDir={data}\n\
         dataLogDir={data}-log\n\
         clientPort=21810\n\
         clientPortAddress=127.0.0.1\n\
         maxClientCnxns=100\n\
         minSessionTimeout=5000\n\
         maxSessionTimeout=50000\n\
         autopurge.snapRetainCount=10\n\
         autopurge.purgeInterval=1\n\
         4lw.commands.whitelist=stat, ruok, conf, isro\n\
         admin.enableServer=false\n\
         admin.serverAddress=127.0.0.1\n\
         admin.serverPort=8081\n\
         admin.commandURL=/cmds\n\
         standaloneEnabled=true\n\
         reconfigEnabled=true\n\
         snapCount=5000\n\
         forceSync=no\n\
         preAllocSize=1024\n\
         globalOutstandingLimit=500\n\
         maxCnxns=1000\n\
         extendedTypesEnabled=true\n\
         metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n\
         metricsProvider.httpPort=7000\n\
         clientPortListenBacklog=50\n",
    );
    let c = load(&[&arg(&path)], &[]).expect("loads");
    assert_eq!(c.config_file.as_deref(), Some(path.as_path()));
    assert_eq!(c.tick_time, 2000);
    assert_eq!((c.init_limit, c.sync_limit), (10, 5));
    assert_eq!(c.data_dir, dir.path().join("data"));
    assert_eq!(c.data_log_dir, dir.path().join("data-log"));
    assert_eq!(c.client_address, Some(HostPort::new("127.0.0.1", 21810)));
    // secureClientPort (TLS) needs its stores: see tests/security.rs.
    assert_eq!(c.secure_client_address, None);
    assert_eq!(c.max_client_cnxns, 100);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (5000, 50000)
    );
    assert_eq!(c.autopurge.snap_retain_count, 10);
    assert_eq!(c.autopurge.purge_interval_hours, 1);
    let enabled: Vec<&str> = c.four_letter_words.commands().collect();
    assert_eq!(enabled, vec!["conf", "isro", "ruok", "srvr", "stat"]);
    assert!(!c.admin.enabled);
    assert_eq!(c.admin.address, "127.0.0.1");
    assert_eq!(c.admin.port, 8081);
    assert_eq!(c.admin.command_url, "/cmds");
    assert!(c.reconfig_enabled);
    assert_eq!(c.snap_count, 5000);
    assert!(!c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 1024);
    assert_eq!(c.global_outstanding_limit, 500);
    assert_eq!(c.max_cnxns, 1000);
    assert!(c.extended_types_enabled);
    assert!(c.metrics.class_name.ends_with("PrometheusMetricsProvider"));
    assert_eq!(
        c.metrics.properties.get("httpPort").map(String::as_str),
        Some("7000")
    );
    assert_eq!(c.client_port_listen_backlog, 50);
    assert!(c.is_standalone());
    // Keys ZooKeeper turns into system properties are visible as such.
    assert_eq!(c.system_properties.get("zookeeper.snapCount"), Some("5000"));
    assert_eq!(
        c.system_properties.get("zookeeper.4lw.commands.whitelist"),
        Some("stat, ruok, conf, isro")
    );
}

#[test]
fn file_defaults_follow_zookeeper() {
    let (_dir, path) = cfg("file-defaults", "dataDir={data}\nclientPort=2181\n");
    let c = load(&[&arg(&path)], &[]).expect("loads");
    assert_eq!(c.tick_time, 3000);
    assert_eq!(c.data_log_dir, c.data_dir);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (6000, 60000)
    );
    assert_eq!(c.max_client_cnxns, 60);
    let (_dir, path) = cfg(
        "file-tick",
        "dataDir={data}\ntickTime=2000\nminSessionTimeout=-1\n",
    );
    let c = load(&["--config", &arg(&path)], &[]).expect("loads");
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (4000, 40000)
    );
}

#[test]
fn config_without_client_port_opens_none() {
    // ZooKeeper 3.8 starts without a client listener in this case (verified).
    let (_dir, path) = cfg("no-port", "dataDir={data}\n");
    let c = load(&[&arg(&path)], &[]).expect("loads");
    assert_eq!(c.client_address, None);
    assert!(c.warnings().any(|w| w.contains("no clientPort")));
    let c = load(&[&arg(&path), "--client-port", "2500"], &[]).expect("flag supplies it");
    assert_eq!(c.client_address, Some(HostPort::any(2500)));
}

#[test]
fn errors_name_file_line_and_key() {
    let (_d, path) = cfg("bad-tick", "dataDir={data}\n# comment\n\ntickTime=abc\n");
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!(r#"{p}:4: tickTime: "abc" is not a number"#)
    );

    let (_d, path) = cfg("no-datadir", "clientPort=2181\n");
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!("{p}: dataDir: dataDir is not set")
    );
    // ... unless a flag provides it.
    assert!(load(&[&p, "--data-dir", "/tmp/fk-nonexistent-x"], &[]).is_ok());

    let (_d, path) = cfg(
        "addr-no-port",
        "dataDir={data}\nclientPortAddress=127.0.0.1\n",
    );
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!("{p}:2: clientPortAddress: clientPortAddress is set but clientPort is not set")
    );

    let (_d, path) = cfg(
        "min-max",
        "dataDir={data}\nminSessionTimeout=50000\nmaxSessionTimeout=40000\n",
    );
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!(
            "{p}:2: minSessionTimeout: minSessionTimeout (50000) must not be larger than maxSessionTimeout (40000)"
        )
    );
    // min above the derived default max (20 x tickTime) is also an error.
    let (_d, path) = cfg(
        "min-default-max",
        "dataDir={data}\ntickTime=1000\nminSessionTimeout=30000\n",
    );
    assert!(err_text(load(&[&arg(&path)], &[])).contains("must not be larger"));

    let (_d, path) = cfg("escape", "dataDir={data}\nk=\\uZZZZ\n");
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!("{p}:2: k: malformed \\uxxxx escape")
    );

    let (_d, path) = cfg("forcesync", "dataDir={data}\nforceSync=false\n");
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!(r#"{p}:2: forceSync: "false" is not yes or no"#)
    );

    let (_d, path) = cfg("snapcount", "dataDir={data}\n\nsnapCount=many\n");
    let p = arg(&path);
    assert_eq!(
        err_text(load(&[&p], &[])),
        format!(r#"{p}:3: snapCount: "many" is not a number"#)
    );
}

#[test]
fn unknown_keys_warn_and_become_properties() {
    let (_d, path) = cfg("unknown", "dataDir={data}\nmyCustomSetting = hello  \n");
    let c = load(&[&arg(&path)], &[]).expect("accepted");
    assert_eq!(
        c.system_properties.get("zookeeper.myCustomSetting"),
        Some("hello")
    );
    let w: Vec<&str> = c.warnings().collect();
    assert!(
        w.iter().any(|m| m.contains(
            ":2: myCustomSetting: unknown key; kept as system property zookeeper.myCustomSetting"
        )),
        "{w:?}"
    );
}

#[test]
fn properties_syntax_in_a_real_file() {
    let (dir, path) = cfg(
        "syntax",
        "! bang comment\n   tickTime : 2000\nclientPort 2182\ndataDir = {data}\\\n    -cont\n\
         4lw.commands.whitelist=ruok,\\\n  stat\n",
    );
    let c = load(&[&arg(&path)], &[]).expect("loads");
    assert_eq!(c.tick_time, 2000);
    assert_eq!(c.client_address, Some(HostPort::any(2182)));
    assert_eq!(c.data_dir, dir.path().join("data-cont"));
    assert!(c.four_letter_words.is_enabled("stat"));
}

#[test]
fn conf_output_standalone_matches_zookeeper() {
    let (dir, path) = cfg("conf", "tickTime=2000\ndataDir={data}\nclientPort=21811\n");
    let c = load(&[&arg(&path)], &[]).expect("loads");
    let rt = ConfRuntime {
        client_port: None,
        data_dir_size: 457,
        data_log_size: 457,
    };
    let d = dir
        .path()
        .join("data")
        .join("version-2")
        .display()
        .to_string();
    let expected = format!(
        "clientPort=21811\nsecureClientPort=-1\ndataDir={d}\ndataDirSize=457\ndataLogDir={d}\n\
         dataLogSize=457\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n\
         maxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"
    );
    assert_eq!(c.conf_4lw(&rt), expected);
}

#[test]
fn quota_enforcement_is_read_from_zoo_cfg() {
    let (_dir, path) = cfg(
        "quota",
        "dataDir={data}\nclientPort=21810\nenforceQuota=true\n",
    );
    let c = load(&[&arg(&path)], &[]).expect("loads");
    assert!(c.enforce_quota);
}
