//! No config file: built-in defaults, flags, `--help`, positional forms.

use std::path::PathBuf;

use super::{err_text, load};
use crate::config::{ConfigError, FourLetterWhitelist, HostPort, PeerType};

#[test]
fn no_arguments_gives_a_standalone_server_on_2181() {
    let c = load(&[], &[]).expect("defaults load");
    assert!(c.is_standalone());
    assert_eq!(c.config_file, None);
    assert_eq!(c.client_address, Some(HostPort::any(2181)));
    assert_eq!(c.secure_client_address, None);
    assert_eq!(c.data_dir, PathBuf::from("./ferrokeeper-data"));
    assert_eq!(c.data_log_dir, c.data_dir);
    assert_eq!(c.tick_time, 3000);
    assert_eq!(c.min_session_timeout, 6000);
    assert_eq!(c.max_session_timeout, 60000);
    assert_eq!(c.max_client_cnxns, 60);
    assert_eq!(c.client_port_listen_backlog, -1);
    assert_eq!(c.init_limit, 0);
    assert_eq!(c.sync_limit, 0);
    assert_eq!(c.autopurge.snap_retain_count, 3);
    assert_eq!(c.autopurge.purge_interval_hours, 0);
    assert!(c.standalone_enabled);
    assert!(!c.reconfig_enabled);
    assert!(c.servers.is_empty());
    assert_eq!(c.peer_type, PeerType::Participant);
    assert_eq!(c.four_letter_words, FourLetterWhitelist::default());
    assert_eq!(c.admin.port, 8080);
    assert!(c.admin.enabled);
    assert_eq!(c.admin.command_url, "/commands");
    assert_eq!(c.snap_count, 100_000);
    assert!(c.force_sync);
    assert_eq!(c.pre_alloc_size_kb, 65536);
    assert_eq!(c.global_outstanding_limit, 1000);
    assert_eq!(c.max_cnxns, 0);
    assert_eq!(c.jute_max_buffer, 0xfffff);
    assert_eq!(c.containers.check_interval_ms, 60000);
    assert_eq!(c.containers.max_per_minute, 10000);
    assert_eq!(c.containers.max_never_used_interval_ms, 0);
    assert_eq!(c.super_digest, None);
    assert!(!c.extended_types_enabled && !c.read_only_mode_enabled);
    assert_eq!(
        c.metrics.class_name,
        "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
    );
    assert_eq!(c.effective_server_id(), 0);
    assert_eq!(c.log_level, None);
}

#[test]
fn flags_override_defaults() {
    let c = load(
        &[
            "--client-port",
            "2999",
            "--client-port-address",
            "127.0.0.1",
            "--data-dir",
            "/tmp/fk-nonexistent-d",
            "--data-log-dir",
            "/tmp/fk-nonexistent-l",
            "--tick-time",
            "100",
            "--max-client-cnxns",
            "7",
            "--4lw-whitelist",
            "ruok stat",
            "--admin-port",
            "9999",
            "--myid",
            "5",
            "--log-level",
            "debug",
        ],
        &[],
    )
    .expect("loads");
    assert_eq!(c.client_address, Some(HostPort::new("127.0.0.1", 2999)));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/fk-nonexistent-d"));
    assert_eq!(c.data_log_dir, PathBuf::from("/tmp/fk-nonexistent-l"));
    assert_eq!(c.tick_time, 100);
    assert_eq!((c.min_session_timeout, c.max_session_timeout), (200, 2000));
    assert_eq!(c.max_client_cnxns, 7);
    assert!(c.four_letter_words.is_enabled("stat") && c.four_letter_words.is_enabled("ruok"));
    assert_eq!(c.admin.port, 9999);
    assert_eq!(c.server_id, Some(5));
    assert_eq!(c.log_level.as_deref(), Some("debug"));
}

#[test]
fn session_timeout_flags_and_min_above_max() {
    let c = load(
        &[
            "--min-session-timeout",
            "1000",
            "--max-session-timeout",
            "2000",
        ],
        &[],
    )
    .expect("ok");
    assert_eq!((c.min_session_timeout, c.max_session_timeout), (1000, 2000));
    let e = err_text(load(&["--min-session-timeout", "90000"], &[]));
    assert_eq!(
        e,
        "argument --min-session-timeout: minSessionTimeout: minSessionTimeout (90000) must not be larger than maxSessionTimeout (60000)"
    );
}

#[test]
fn help_and_version_are_clap_outcomes() {
    for arg in ["--help", "-h", "--version", "-V"] {
        let e = load(&[arg], &[]).err();
        assert!(matches!(e, Some(ConfigError::Cli(_))), "{arg}");
        assert!(e.is_some_and(|e| e.is_help_or_version()), "{arg}");
    }
    let e = load(&["--no-such-flag"], &[]).err();
    assert!(matches!(&e, Some(ConfigError::Cli(_))));
    assert!(!e.is_some_and(|e| e.is_help_or_version()));
}

#[test]
fn zookeeper_server_main_positional_form() {
    let c = load(&["2555", "/tmp/fk-nonexistent-p", "500", "9"], &[]).expect("loads");
    assert!(c.is_standalone());
    assert_eq!(c.client_address, Some(HostPort::any(2555)));
    assert_eq!(c.data_dir, PathBuf::from("/tmp/fk-nonexistent-p"));
    assert_eq!(c.data_log_dir, c.data_dir);
    assert_eq!(c.tick_time, 500);
    assert_eq!(c.max_client_cnxns, 9);
    assert_eq!(
        err_text(load(&["x", "/d"], &[])),
        r#"argument PORT: clientPort: "x" is not a port"#
    );
    assert!(err_text(load(&["1", "2", "3", "4", "5"], &[])).contains("got 5 arguments"));
}

#[test]
fn missing_config_file_is_reported() {
    let e = err_text(load(&["/nonexistent/zoo.cfg"], &[]));
    assert!(e.starts_with("/nonexistent/zoo.cfg: cannot read"), "{e}");
}
