//! `-D` options, JVMFLAGS/SERVER_JVMFLAGS, ignored JVM flags, and precedence.

use super::{cfg, err_text, load};
use crate::config::Origin;

#[test]
fn system_properties_from_command_line() {
    let c = load(
        &[
            "-Dzookeeper.DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=",
            "-Dzookeeper.extendedTypesEnabled=true",
            "-Dreadonlymode.enabled=true",
            "-Dznode.container.checkIntervalMs=1000",
            "-Dznode.container.maxPerMinute=50",
            "-Dznode.container.maxNeverUsedIntervalMs=30000",
            "-Djute.maxbuffer=4194304",
            "-Dzookeeper.4lw.commands.whitelist=*",
        ],
        &[],
    )
    .expect("loads");
    assert_eq!(
        c.super_digest.as_deref(),
        Some("super:D/InIHSb7yEEbrWz8b9l71RjZJU=")
    );
    assert!(c.extended_types_enabled);
    assert!(c.read_only_mode_enabled);
    assert_eq!(c.containers.check_interval_ms, 1000);
    assert_eq!(c.containers.max_per_minute, 50);
    assert_eq!(c.containers.max_never_used_interval_ms, 30000);
    assert_eq!(c.jute_max_buffer, 4_194_304);
    assert!(c.four_letter_words.is_enabled("mntr"));
}

#[test]
fn jvm_only_flags_are_ignored_with_debug_notes() {
    let c = load(
        &[
            "-Xmx512m",
            "-XX:+UseG1GC",
            "-server",
            "-cp",
            "/x.jar",
            "--client-port",
            "2600",
        ],
        &[],
    )
    .expect("loads");
    assert_eq!(c.client_address.map(|a| a.port), Some(2600));
    let debug: Vec<&str> = c
        .diagnostics
        .iter()
        .filter(|d| d.level == tracing::Level::DEBUG)
        .map(|d| d.message.as_str())
        .collect();
    for flag in ["-Xmx512m", "-XX:+UseG1GC", "-server", "-cp /x.jar"] {
        assert!(
            debug.iter().any(|m| m.contains(flag)),
            "{flag} not noted: {debug:?}"
        );
    }
}

#[test]
fn environment_variables_are_read() {
    let env = [
        (
            "SERVER_JVMFLAGS",
            "-Xmx1g -Dzookeeper.snapCount=10 -Djute.maxbuffer=1000",
        ),
        ("JVMFLAGS", "-Djute.maxbuffer=2000 -XX:+UseZGC"),
    ];
    let c = load(&[], &env).expect("loads");
    assert_eq!(c.snap_count, 10);
    // JVMFLAGS comes after SERVER_JVMFLAGS on zkServer.sh's java line, so it wins.
    assert_eq!(c.jute_max_buffer, 2000);
    let origin = c
        .system_properties
        .entry("jute.maxbuffer")
        .map(|p| p.origin.clone());
    assert_eq!(origin, Some(Origin::Env("JVMFLAGS".into())));
}

#[test]
fn bad_property_value_names_its_source() {
    let e = err_text(load(&[], &[("JVMFLAGS", "-Djute.maxbuffer=huge")]));
    assert_eq!(
        e,
        r#"environment JVMFLAGS: jute.maxbuffer: "huge" is not a number"#
    );
    let e = err_text(load(&["-Dzookeeper.extendedTypesEnabled=on"], &[]));
    assert_eq!(
        e,
        r#"command line: zookeeper.extendedTypesEnabled: "on" is not true or false"#
    );
}

#[test]
fn jute_maxbuffer_is_only_a_bare_property() {
    let (_d, path) = cfg("jute", "dataDir={data}\njute.maxbuffer=5000\n");
    let p = path.display().to_string();
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(
        c.jute_max_buffer, 0xfffff,
        "zoo.cfg cannot set it, as in ZooKeeper"
    );
    assert!(
        c.warnings()
            .any(|w| w.contains("jute.maxbuffer") && w.contains("no effect"))
    );
    let c = load(&[&p, "-Djute.maxbuffer=5000"], &[]).expect("loads");
    assert_eq!(c.jute_max_buffer, 5000);
    // The prefixed form from -D has no effect either.
    let c = load(&["-Dzookeeper.jute.maxbuffer=5000"], &[]).expect("loads");
    assert_eq!(c.jute_max_buffer, 0xfffff);
}

#[test]
fn zoo_cfg_keys_act_as_zookeeper_properties() {
    let (_d, path) = cfg(
        "as-props",
        "dataDir={data}\n4lw.commands.whitelist=ruok\nsnapCount=20\nforceSync=no\nextendedTypesEnabled=true\n",
    );
    let c = load(&[&path.display().to_string()], &[]).expect("loads");
    assert!(c.four_letter_words.is_enabled("ruok"));
    assert_eq!(c.snap_count, 20);
    assert!(!c.force_sync);
    assert!(c.extended_types_enabled);
    assert_eq!(
        c.system_properties.get("zookeeper.extendedTypesEnabled"),
        Some("true")
    );
}

#[test]
fn precedence_flag_over_file_over_define_over_env_over_default() {
    let (_d, path) = cfg(
        "precedence",
        "dataDir={data}\n4lw.commands.whitelist=conf\nsnapCount=1000\nadmin.serverPort=1111\n",
    );
    let p = path.display().to_string();
    let whitelisted = |c: &crate::config::Config| -> Vec<String> {
        c.four_letter_words.commands().map(str::to_owned).collect()
    };

    // file > default
    let c = load(&[&p], &[]).expect("loads");
    assert_eq!(whitelisted(&c), vec!["conf", "srvr"]);
    assert_eq!(c.snap_count, 1000);
    assert_eq!(c.admin.port, 1111);

    // file > env and -D: ZooKeeper applies zoo.cfg keys over the JVM's properties.
    let env = [(
        "JVMFLAGS",
        "-Dzookeeper.4lw.commands.whitelist=dump -Dzookeeper.snapCount=2000 -Dzookeeper.extendedTypesEnabled=true",
    )];
    let c = load(&[&p, "-Dzookeeper.snapCount=3000"], &env).expect("loads");
    assert_eq!(whitelisted(&c), vec!["conf", "srvr"]);
    assert_eq!(c.snap_count, 1000);
    // ...but a property the file does not set comes through.
    assert!(c.extended_types_enabled);

    // command-line -D > env, for keys the file does not set
    let c = load(&[&p, "-Dzookeeper.extendedTypesEnabled=false"], &env).expect("loads");
    assert!(!c.extended_types_enabled);

    // flag > file
    let c = load(
        &[
            &p,
            "-Dzookeeper.4lw.commands.whitelist=envi",
            "--4lw-whitelist",
            "ruok",
            "-Dzookeeper.admin.serverPort=2222",
            "--admin-port",
            "3333",
        ],
        &env,
    )
    .expect("loads");
    assert_eq!(whitelisted(&c), vec!["ruok", "srvr"]);
    assert_eq!(c.admin.port, 3333);

    // For typed keys: flag > file > default.
    let (_d, path) = cfg(
        "precedence-typed",
        "dataDir={data}\ntickTime=2000\nclientPort=2181\n",
    );
    let p = path.display().to_string();
    let c = load(&[&p, "--tick-time", "500", "--client-port", "2999"], &[]).expect("loads");
    assert_eq!(c.tick_time, 500);
    assert_eq!(
        (c.min_session_timeout, c.max_session_timeout),
        (1000, 10000)
    );
    assert_eq!(c.client_address.map(|a| a.port), Some(2999));
}
