//! The TLS client port: kazoo and Python's ssl module against ferrokeeper and against a
//! real ZooKeeper 3.8 configured the same way (`secureClientPort`, JKS stores, client
//! certificates needed), printing the same lines; every store format ZooKeeper reads;
//! certificate reload; and stores that do not load stopping start-up.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::pki::{PASSWORD, Pki};
use ferrokeeper_tests::process::{
    assert_lines, clients_dir, on_path, require, require_python, run,
};
use ferrokeeper_tests::zookeeper::{NETTY_CODEC_JAR, RealZooKeeper, free_port};
use ferrokeeper_tests::{Ferrokeeper, ferrokeeper_command};

/// What tls_scenarios.py printed against ZooKeeper 3.8.0 (checked by
/// `same_as_zookeeper` on every run).
const EXPECTED: &str = "\
connect over TLS -> CONNECTED
create /secure for the client's subject -> /secure
get /secure over TLS -> b'v'
auth ACL expands to -> ['x509:CN=client,O=ferrokeeper tests']
get /secure in plain text -> NoAuthError
ruok over TLS -> imok
ruok over TLS without a certificate -> refused
ruok over TLS from another CA -> refused
ruok with a version 1 certificate -> imok
ruok with a version 1 certificate from another CA -> refused
ruok in plain text on the TLS port -> refused";

fn require_kazoo() {
    require_python("kazoo", "kazoo");
}

/// Runs the scenarios and compares them with EXPECTED.
fn scenarios(what: &str, plain: &str, tls: &str, pki: &Pki) {
    let out = run(
        Command::new("python3")
            .arg(clients_dir().join("tls_scenarios.py"))
            .args([plain, tls])
            .arg(&pki.dir),
        None,
        &format!("tls scenarios against {what}"),
        Duration::from_secs(120),
    );
    let expected: Vec<String> = EXPECTED.lines().map(str::to_owned).collect();
    let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert_lines(
        &format!("tls scenarios against {what}"),
        &expected,
        &lines,
        &out.dump(),
    );
    assert!(out.status.success(), "{what}: {}", out.dump());
}

/// zoo.cfg lines for a TLS port with the `kind` stores (jks, p12 or pem).
fn tls_lines(pki: &Pki, kind: &str) -> String {
    format!(
        "ssl.keyStore.location={}\nssl.keyStore.password={PASSWORD}\n\
         ssl.trustStore.location={}\nssl.trustStore.password={PASSWORD}\n",
        pki.path_str(&format!("server-keystore.{kind}")),
        pki.path_str(&format!("truststore.{kind}")),
    )
}

/// A real ZooKeeper 3.8 with a TLS port (Netty, the JKS stores) and its address.
fn zookeeper_with_tls(pki: &Pki) -> (RealZooKeeper, String) {
    let secure_port = free_port().to_string();
    let stores = tls_lines(pki, "jks");
    let mut cfg = vec![
        (
            "serverCnxnFactory",
            "org.apache.zookeeper.server.NettyServerCnxnFactory",
        ),
        ("secureClientPort", secure_port.as_str()),
    ];
    cfg.extend(stores.lines().filter_map(|l| l.split_once('=')));
    let zk = RealZooKeeper::start(&cfg, &[]);
    (zk, format!("127.0.0.1:{secure_port}"))
}

/// A ferrokeeper with a plain and a TLS port on 127.0.0.1, configured by `extra`.
fn start(dir: &Path, extra: &str) -> Ferrokeeper {
    let cfg = dir.join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nsecureClientPortAddress=127.0.0.1\n\
             4lw.commands.whitelist=*\n{extra}",
            dir.join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let cfg = cfg.display().to_string();
    Ferrokeeper::start(&["--secure-client-port", "0", "-c", &cfg])
}

#[test]
fn same_as_zookeeper() {
    require_kazoo();
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), &tls_lines(&pki, "jks"));
    let tls = server.secure_addr().expect("TLS port").to_string();
    scenarios("ferrokeeper", &server.connect_string(), &tls, &pki);

    let (zk, zk_tls) = zookeeper_with_tls(&pki);
    scenarios("ZooKeeper", &zk.connect_string(), &zk_tls, &pki);
}

#[test]
fn every_store_format_zookeeper_reads() {
    require_kazoo();
    let pki = Pki::new();
    for kind in ["pem", "p12"] {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = start(dir.path(), &tls_lines(&pki, kind));
        let tls = server.secure_addr().expect("TLS port").to_string();
        scenarios(
            &format!("ferrokeeper ({kind})"),
            &server.connect_string(),
            &tls,
            &pki,
        );
    }
}

/// The server certificate's serial as a TLS client sees it.
fn served_serial(addr: &str, pki: &Pki) -> String {
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let out = run(
        Command::new("openssl")
            .args(["s_client", "-connect", &format!("{host}:{port}")])
            .args(["-CAfile", &pki.path_str("ca.pem")])
            .args(["-cert", &pki.path_str("client.pem")])
            .args(["-key", &pki.path_str("client.key")]),
        Some(b""),
        "openssl s_client",
        Duration::from_secs(30),
    );
    let cert_start = out.stdout.find("-----BEGIN CERTIFICATE-----");
    let cert_end = out.stdout.find("-----END CERTIFICATE-----");
    let (Some(a), Some(b)) = (cert_start, cert_end) else {
        panic!("no server certificate:\n{}", out.dump());
    };
    let pem = &out.stdout[a..b + "-----END CERTIFICATE-----".len()];
    let serial = run(
        Command::new("openssl").args(["x509", "-noout", "-serial"]),
        Some(pem.as_bytes()),
        "openssl x509",
        Duration::from_secs(30),
    );
    serial.stdout.trim().to_owned()
}

#[test]
fn new_certificates_are_served_without_a_restart() {
    require(on_path("openssl"), "openssl");
    let pki = Pki::new();
    let dir = tempfile::tempdir().expect("temp dir");
    // The key store is a copy the test replaces, as a certificate manager would.
    let store = dir.path().join("server.pem");
    std::fs::copy(pki.path("server-keystore.pem"), &store).expect("copy");
    let extra = format!(
        "ssl.keyStore.location={}\nssl.trustStore.location={}\n",
        store.display(),
        pki.path_str("truststore.pem")
    );
    let server = start(dir.path(), &extra);
    let tls = server.secure_addr().expect("TLS port").to_string();
    let before = served_serial(&tls, &pki);

    pki.leaf(
        "renewed",
        "ca",
        "/CN=localhost",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
    );
    let reloaded = "client TLS: reloaded";
    let seen = server.log().count(reloaded);
    // Written beside and renamed over, so the server never reads half a file.
    let next = dir.path().join("server.pem.new");
    let renewed = [
        std::fs::read_to_string(pki.path("renewed.key")).expect("key"),
        std::fs::read_to_string(pki.path("renewed.pem")).expect("cert"),
    ]
    .concat();
    std::fs::write(&next, renewed).expect("write");
    std::fs::rename(&next, &store).expect("rename");
    assert!(
        server
            .log()
            .wait_for_more(reloaded, seen, Duration::from_secs(30)),
        "the server did not reload its key store"
    );
    let after = served_serial(&tls, &pki);
    assert_ne!(before, after, "still serving the old certificate");
    let expected = run(
        Command::new("openssl")
            .args(["x509", "-noout", "-serial", "-in"])
            .arg(pki.path("renewed.pem")),
        None,
        "openssl x509",
        Duration::from_secs(30),
    );
    assert_eq!(after, expected.stdout.trim());

    // A broken replacement is refused and the renewed certificate stays.
    let failed = "changed stores do not load";
    let seen = server.log().count(failed);
    std::fs::write(&next, "not a key store").expect("write");
    std::fs::rename(&next, &store).expect("rename");
    assert!(
        server
            .log()
            .wait_for_more(failed, seen, Duration::from_secs(30)),
        "the server did not report the broken key store"
    );
    assert_eq!(served_serial(&tls, &pki), after);
}

/// Starts ferrokeeper with `extra` and returns what it printed when it refused.
fn refusal(extra: &str) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = dir.path().join("zoo.cfg");
    std::fs::write(
        &cfg,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort=0\nsecureClientPort=0\n{extra}",
            dir.path().join("data").display()
        ),
    )
    .expect("zoo.cfg");
    let out = run(
        ferrokeeper_command().arg("-c").arg(&cfg).args([
            "--client-port",
            "0",
            "--secure-client-port",
            "0",
        ]),
        None,
        "ferrokeeper",
        Duration::from_secs(30),
    );
    assert!(
        !out.status.success(),
        "started with {extra}:\n{}",
        out.dump()
    );
    out.stderr
}

#[test]
fn stores_that_do_not_load_stop_start_up() {
    let pki = Pki::new();
    let wrong = format!(
        "ssl.keyStore.location={}\nssl.keyStore.password=wrong\nssl.clientAuth=none\n",
        pki.path_str("server-keystore.jks")
    );
    let e = refusal(&wrong);
    assert!(
        e.contains("zoo.cfg:5: ssl.keyStore.location") && e.contains("password"),
        "{e}"
    );
    let missing = "ssl.keyStore.location=/nonexistent/keystore.jks\nssl.clientAuth=none\n";
    let e = refusal(missing);
    assert!(
        e.contains("ssl.keyStore.location") && e.contains("/nonexistent/keystore.jks"),
        "{e}"
    );
    let suites = format!(
        "{}ssl.ciphersuites=TLS_RSA_WITH_AES_128_CBC_SHA\n",
        tls_lines(&pki, "jks")
    );
    let e = refusal(&suites);
    assert!(e.contains("ssl.ciphersuites"), "{e}");
}

/// zkCli.sh (the Java client, Netty, JKS stores as `zookeeper.ssl.*` system properties)
/// against the TLS port: the lines it printed for a create, a get and whoami.
fn zkcli_over_tls(addr: &str, pki: &Pki) -> Vec<String> {
    const ZKCLI: &str = "/usr/share/zookeeper/bin/zkCli.sh";
    require(Path::new(ZKCLI).is_file(), "zkCli.sh (Debian zookeeper)");
    // Debian's zkEnv.sh class path lacks Netty's codec and resolver modules, which the
    // Netty client socket needs; a later -cp replaces the script's.
    let flags = format!(
        "-cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:{NETTY_CODEC_JAR}:\
         /usr/share/java/netty-resolver.jar \
         -Dzookeeper.client.secure=true \
         -Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty \
         -Dzookeeper.ssl.keyStore.location={} -Dzookeeper.ssl.keyStore.password={PASSWORD} \
         -Dzookeeper.ssl.trustStore.location={} -Dzookeeper.ssl.trustStore.password={PASSWORD}",
        pki.path_str("client-keystore.jks"),
        pki.path_str("truststore.jks"),
    );
    let script = "create /zkcli-tls over-tls\nget /zkcli-tls\nwhoami\nquit\n";
    let out = run(
        Command::new("bash")
            .args([
                "-c",
                "exec \"$0\" \"$@\" 2>&1",
                ZKCLI,
                "-waitforconnection",
                "-server",
                addr,
            ])
            .env("CLIENT_JVMFLAGS", flags),
        Some(script.as_bytes()),
        "zkCli.sh over TLS",
        Duration::from_secs(120),
    );
    let keep = ["Created ", "over-tls", "Auth scheme", "ip:", "x509:"];
    out.stdout
        .lines()
        .map(str::trim)
        .filter(|l| keep.iter().any(|k| l.starts_with(k)))
        .map(str::to_owned)
        .collect()
}

#[test]
fn zkcli_with_java_key_stores_same_as_zookeeper() {
    require(on_path("java"), "java (Debian default-jre-headless)");
    let pki = Pki::new();
    pki.stores("client", "ca");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = start(dir.path(), &tls_lines(&pki, "jks"));
    let tls = server.secure_addr().expect("TLS port").to_string();
    let ours = zkcli_over_tls(&tls, &pki);

    let (zk, zk_tls) = zookeeper_with_tls(&pki);
    let theirs = zkcli_over_tls(&zk_tls, &pki);
    assert_eq!(
        ours, theirs,
        "zkCli over TLS differs (left ferrokeeper, right ZooKeeper)"
    );
    assert!(
        ours.iter()
            .any(|l| l == "x509: CN=client,O=ferrokeeper tests"),
        "{ours:?}"
    );
    drop(zk);
}
