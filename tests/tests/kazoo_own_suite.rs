//! kazoo's own tests for SASL (digest) and TLS clients, run unchanged by its own test
//! harness (kazoo.testing) against ferrokeeper: the harness starts "ZooKeeper" with
//! `java ... QuorumPeerMain zoo.cfg`, and `tests/clients/java_shim/java` runs
//! ferrokeeper with that zoo.cfg (secure client port with JKS stores made by pyjks,
//! the SASL provider, a JAAS file) and those `-D` options instead.

use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::ferrokeeper_binary;
use ferrokeeper_tests::process::{clients_dir, require_python, run};

/// A port such that it and the next `5 × servers − 1` are free now: kazoo's harness
/// gives each server five consecutive ports from its offset. Candidates come from below
/// the kernel's ephemeral range (`pick_port`), where busy client sockets do not crowd
/// the blocks.
fn free_port_block(servers: usize) -> u16 {
    let span = 5 * servers as u16;
    for _ in 0..500 {
        let base = ferrokeeper_tests::zk_ensemble::pick_port();
        if base > 65_000 - span {
            continue;
        }
        let all_free = (0..span).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no block of {span} free ports");
}

/// `python3 -m pytest` over kazoo's own tests, its harness starting ferrokeeper (one
/// server) through the `java` shim; `options` go before the test names.
fn pytest_kazoo(
    options: &[&str],
    tests: &[&str],
    what: &str,
) -> ferrokeeper_tests::process::Finished {
    pytest_kazoo_cluster(1, options, tests, what)
}

/// As [`pytest_kazoo`], with `servers` servers in the harness's cluster.
fn pytest_kazoo_cluster(
    servers: usize,
    options: &[&str],
    tests: &[&str],
    what: &str,
) -> ferrokeeper_tests::process::Finished {
    pytest_kazoo_against(Against::Ferrokeeper, servers, options, tests, what)
}

/// Which server kazoo's harness starts.
enum Against {
    /// ferrokeeper, through the `java` shim.
    Ferrokeeper,
    /// Debian's ZooKeeper 3.8 jars on the real `java`.
    ZooKeeper,
}

fn pytest_kazoo_against(
    against: Against,
    servers: usize,
    options: &[&str],
    tests: &[&str],
    what: &str,
) -> ferrokeeper_tests::process::Finished {
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new("python3");
    match against {
        Against::Ferrokeeper => {
            // The harness looks for zookeeper-*.jar to build a class path the shim
            // ignores.
            std::fs::write(home.path().join("zookeeper-3.8.0.jar"), b"").expect("jar");
            let path = format!(
                "{}:{}",
                clients_dir().join("java_shim").display(),
                std::env::var("PATH").unwrap_or_default()
            );
            command
                .env("PATH", path)
                .env("FERROKEEPER_BIN", ferrokeeper_binary())
                .env("ZOOKEEPER_PATH", home.path());
        }
        Against::ZooKeeper => {
            use ferrokeeper_tests::zookeeper::{NETTY_CODEC_JAR, SLF4J_SIMPLE_JAR, ZOOKEEPER_JAR};
            ferrokeeper_tests::process::require(
                std::path::Path::new(ZOOKEEPER_JAR).exists(),
                "ZooKeeper",
            );
            command.env(
                "ZOOKEEPER_CLASSPATH",
                format!("{ZOOKEEPER_JAR}:{SLF4J_SIMPLE_JAR}:{NETTY_CODEC_JAR}"),
            );
        }
    }
    run(
        command
            .args(["-m", "pytest", "-v", "-p", "no:cacheprovider"])
            .args(["-W", "ignore::DeprecationWarning", "--pyargs"])
            .args(options)
            .args(tests)
            .current_dir(home.path())
            .env("ZOOKEEPER_VERSION", "3.8.0")
            .env("ZOOKEEPER_CLUSTER_SIZE", servers.to_string())
            .env(
                "ZOOKEEPER_PORT_OFFSET",
                free_port_block(servers).to_string(),
            ),
        None,
        what,
        Duration::from_secs(300),
    )
}

/// Whether python3 can import `module` (kazoo's eventlet and gevent tests skip
/// themselves without it).
fn python_has(module: &str) -> bool {
    Command::new("timeout")
        .args(["30", "python3", "-c", &format!("import {module}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// kazoo's test_request_queuing_session_{recovered,expired}: SIGTERM the only server,
/// expect SUSPENDED within 5 s, queue a create, restart the server on the same dataDir,
/// expect the create to complete on the resumed session (or SessionExpired after a
/// mangled password). The harness warns when the server exits non-zero on SIGTERM;
/// that counts as a failure here.
#[test]
fn request_queuing_tests_pass() {
    require_python(
        "kazoo, pytest, jks, OpenSSL",
        "kazoo pytest pyjks pyOpenSSL",
    );
    let mut classes = vec![("kazoo.tests.test_client::TestClient", "TestClient")];
    if python_has("eventlet") {
        classes.push((
            "kazoo.tests.test_eventlet_handler::TestEventletClient",
            "TestEventletClient",
        ));
    } else {
        eprintln!("eventlet is not installed: its variants are not run");
    }
    if python_has("gevent") {
        classes.push((
            "kazoo.tests.test_gevent_handler::TestGeventClient",
            "TestGeventClient",
        ));
    } else {
        eprintln!("gevent is not installed: its variants are not run");
    }
    let tests: Vec<String> = classes
        .iter()
        .flat_map(|(module, _)| {
            ["recovered", "expired"]
                .map(|end| format!("{module}::test_request_queuing_session_{end}"))
        })
        .collect();
    let args: Vec<&str> = tests.iter().map(String::as_str).collect();
    // -rA: a summary line per test ("PASSED path::Class::test"); log_cli: the
    // harness's own warnings (a server that exits non-zero) on stdout.
    let options = ["-rA", "-o", "log_cli=true", "-o", "log_cli_level=WARNING"];
    let out = pytest_kazoo(&options, &args, "kazoo's test_request_queuing_*");
    for (_, class) in &classes {
        for end in ["recovered", "expired"] {
            let test = format!("{class}::test_request_queuing_session_{end}");
            assert!(
                out.stdout
                    .lines()
                    .any(|l| l.starts_with("PASSED ") && l.ends_with(&test)),
                "{class}::test_request_queuing_session_{end} did not pass:\n{}",
                out.dump()
            );
        }
    }
    assert!(
        !out.stdout.contains("non-zero return code"),
        "the server exited non-zero on SIGTERM:\n{}",
        out.dump()
    );
}

#[test]
fn sasl_and_tls_tests_pass() {
    require_python(
        "kazoo, puresasl, pytest, jks, OpenSSL",
        "kazoo pure-sasl pytest pyjks pyOpenSSL",
    );
    let out = pytest_kazoo(
        &[],
        &[
            "kazoo.tests.test_sasl",
            "kazoo.tests.test_client::TestSSLClient",
        ],
        "kazoo's test_sasl and TestSSLClient",
    );
    let passed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(" PASSED"))
        .collect();
    // The digest tests (legacy and current API) and the TLS client test; the GSSAPI
    // tests skip themselves without a Kerberos KDC, as they do against ZooKeeper.
    for test in [
        "TestLegacySASLDigestAuthentication::test_connect_sasl_auth",
        "TestSASLDigestAuthentication::test_connect_sasl_auth",
        "TestSSLClient::test_create",
    ] {
        assert!(
            passed.iter().any(|l| l.contains(test)),
            "{test} did not pass:\n{}",
            out.dump()
        );
    }
    // test_invalid_sasl_auth expects KazooClient.start() to raise AuthFailedError. kazoo
    // raises it only if its connection thread has stopped when start() looks; otherwise
    // start() raises its own time-out although the client did get AuthFailed (seen once
    // in seven full runs). So the test counts when it passed, or when it failed with
    // that time-out while kazoo logged the server's AuthFailed ("AUTH_FAILED closing").
    for class in [
        "TestLegacySASLDigestAuthentication",
        "TestSASLDigestAuthentication",
    ] {
        let test = format!("{class}::test_invalid_sasl_auth");
        if passed.iter().any(|l| l.contains(&test)) {
            continue;
        }
        let header = format!("{class}.test_invalid_sasl_auth _");
        let section = out
            .stdout
            .split_once(&header)
            .map(|(_, rest)| rest.split_once("\n____").map_or(rest, |(s, _)| s))
            .unwrap_or_default();
        assert!(
            section.contains("KazooTimeoutError") && section.contains("AUTH_FAILED closing"),
            "{test} failed otherwise than by kazoo's start() race:\n{}",
            out.dump()
        );
        eprintln!("{test}: refused with AuthFailed; kazoo's start() timed out (its own race)");
    }
    let failed = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAILED "))
        .count();
    let raced = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAILED ") && l.contains("test_invalid_sasl_auth"))
        .count();
    assert_eq!(failed, raced, "other kazoo tests failed:\n{}", out.dump());
}

/// kazoo's TestReadOnlyMode::test_read_only against three ferrokeeper servers (the
/// harness turns on `-Dreadonlymode.enabled=true` and local sessions): two servers
/// stop, the client reconnects read-only to the third (CONNECTED_RO), reads, and a write
/// fails with NotReadOnlyCallError.
#[test]
fn read_only_mode_test_passes() {
    require_python("kazoo, pytest", "kazoo pytest");
    let test = "kazoo.tests.test_connection::TestReadOnlyMode::test_read_only";
    let out = pytest_kazoo_cluster(3, &["-rA"], &[test], "kazoo's TestReadOnlyMode");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("PASSED ") && l.ends_with("TestReadOnlyMode::test_read_only")),
        "TestReadOnlyMode::test_read_only did not pass:\n{}",
        out.dump()
    );
}

/// kazoo's TestReconfig against three ferrokeeper servers (the harness sets
/// `reconfigEnabled=true` and a super digest): adding and removing an observer by
/// reconfig, a version check against a configuration number in the future, a reconfig
/// without the super user (NoAuth), and a malformed server string (BadArguments).
#[test]
fn reconfig_tests_pass() {
    require_python("kazoo, pytest", "kazoo pytest");
    let out = pytest_kazoo_cluster(
        3,
        &["-rA"],
        &["kazoo.tests.test_client::TestReconfig"],
        "kazoo's TestReconfig",
    );
    for test in [
        "test_no_super_auth",
        "test_add_remove_observer",
        "test_bad_input",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("PASSED ") && l.ends_with(&format!("TestReconfig::{test}"))),
            "TestReconfig::{test} did not pass:\n{}",
            out.dump()
        );
    }
}

/// The same two kazoo suites (TestReconfig, TestReadOnlyMode::test_read_only) against
/// three real ZooKeeper 3.8 servers started by kazoo's harness, so the expectations
/// the ferrokeeper runs meet are ZooKeeper's.
#[test]
fn reconfig_and_read_only_tests_pass_against_zookeeper() {
    require_python("kazoo, pytest", "kazoo pytest");
    let out = pytest_kazoo_against(
        Against::ZooKeeper,
        3,
        &["-rA"],
        &[
            "kazoo.tests.test_client::TestReconfig",
            "kazoo.tests.test_connection::TestReadOnlyMode::test_read_only",
        ],
        "kazoo's TestReconfig and TestReadOnlyMode against ZooKeeper",
    );
    for test in [
        "TestReconfig::test_no_super_auth",
        "TestReconfig::test_add_remove_observer",
        "TestReconfig::test_bad_input",
        "TestReadOnlyMode::test_read_only",
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("PASSED ") && l.ends_with(test)),
            "{test} did not pass against ZooKeeper:\n{}",
            out.dump()
        );
    }
}
