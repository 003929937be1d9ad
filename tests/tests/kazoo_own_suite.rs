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

/// A port such that it and the next four are free now: kazoo's harness gives one
/// server five consecutive ports from its offset.
fn free_port_block() -> u16 {
    for _ in 0..100 {
        let first = TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = first.local_addr().expect("addr").port();
        if base > 65_000 {
            continue;
        }
        let rest: Vec<_> = (1..5)
            .map_while(|i| TcpListener::bind(("127.0.0.1", base + i)).ok())
            .collect();
        if rest.len() == 4 {
            return base;
        }
    }
    panic!("no block of five free ports");
}

#[test]
fn sasl_and_tls_tests_pass() {
    require_python(
        "kazoo, puresasl, pytest, jks, OpenSSL",
        "kazoo pure-sasl pytest pyjks pyOpenSSL",
    );
    // The harness looks for zookeeper-*.jar to build a class path the shim ignores.
    let home = tempfile::tempdir().expect("temp dir");
    std::fs::write(home.path().join("zookeeper-3.8.0.jar"), b"").expect("jar");
    let path = format!(
        "{}:{}",
        clients_dir().join("java_shim").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = run(
        Command::new("python3")
            .args(["-m", "pytest", "-v", "-p", "no:cacheprovider"])
            .args(["-W", "ignore::DeprecationWarning", "--pyargs"])
            .args([
                "kazoo.tests.test_sasl",
                "kazoo.tests.test_client::TestSSLClient",
            ])
            .current_dir(home.path())
            .env("PATH", path)
            .env("FERROKEEPER_BIN", ferrokeeper_binary())
            .env("ZOOKEEPER_PATH", home.path())
            .env("ZOOKEEPER_VERSION", "3.8.0")
            .env("ZOOKEEPER_CLUSTER_SIZE", "1")
            .env("ZOOKEEPER_PORT_OFFSET", free_port_block().to_string()),
        None,
        "kazoo's test_sasl and TestSSLClient",
        Duration::from_secs(300),
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
        "TestLegacySASLDigestAuthentication::test_invalid_sasl_auth",
        "TestSASLDigestAuthentication::test_connect_sasl_auth",
        "TestSASLDigestAuthentication::test_invalid_sasl_auth",
        "TestSSLClient::test_create",
    ] {
        assert!(
            passed.iter().any(|l| l.contains(test)),
            "{test} did not pass:\n{}",
            out.dump()
        );
    }
    assert!(out.status.success(), "{}", out.dump());
}
