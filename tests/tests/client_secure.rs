//! The `ferrokeeper-client` crate and the `ferrokeeper-cli` binary against a secured
//! ferrokeeper and a secured real ZooKeeper 3.8, configured the same way (a TLS client
//! port with the JKS stores of [`Pki`] and client certificates needed, a plain port,
//! SASL DIGEST-MD5 users from a JAAS `Server` section), with the same assertions:
//! TLS with and without a client certificate, a server certificate the client must
//! refuse (another CA, another name, X.509 version 1), SASL with the right and a wrong
//! password, SASL over TLS, reconnects (TLS and SASL again on the new connection; a
//! password changed meanwhile ends the session in AuthFailed), and the CLI's
//! `--secure`/`--tls-*`/`--sasl-*` options.
//!
//! The CLI runs as the binary cargo built beside the `ferrokeeper` binary (`cargo
//! build -p ferrokeeper-cli`, which `tests/run.sh` does).

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use ferrokeeper_client::tls::{TlsConfig, TlsConfigBuilder};
use ferrokeeper_client::{Acl, Client, ClientBuilder, CreateMode, Error, Id, SessionState, perms};
use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::cli_binary;
use ferrokeeper_tests::pki::{CLIENT_SUBJECT, PASSWORD, Pki};
use ferrokeeper_tests::process::{Finished, run};
use ferrokeeper_tests::proxy::FaultProxy;
use ferrokeeper_tests::zookeeper::{RealZooKeeper, free_port};
use futures::StreamExt;

/// The bound on any single step.
const STEP: Duration = Duration::from_secs(30);
/// The bound on one CLI run.
const CLI_LIMIT: Duration = Duration::from_secs(60);

const JAAS: &str = "\
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob=\"bobpw\"
    user_admin=\"adminpw\";
};
";

const SASL_PROVIDER: (&str, &str) = (
    "authProvider.1",
    "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
);

async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    ferrokeeper_tests::either::bounded(what, STEP, fut).await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn builder() -> ClientBuilder {
    Client::builder()
        .session_timeout(Duration::from_secs(20))
        .connection_timeout(Duration::from_secs(10))
}

/// Trusts the test CA, no client certificate.
fn trusting(pki: &Pki) -> TlsConfigBuilder {
    TlsConfig::builder().ca_file(pki.path("ca.pem"))
}

/// Trusts the test CA and presents the client certificate.
fn with_client_cert(pki: &Pki) -> TlsConfigBuilder {
    trusting(pki).client_cert_files(pki.path("client.pem"), pki.path("client.key"))
}

fn tls(config: TlsConfigBuilder) -> ClientBuilder {
    builder().tls(config.build().expect("TLS config"))
}

fn acl(scheme: &str, id: &str) -> Vec<Acl> {
    vec![Acl {
        perms: perms::ALL,
        id: Id {
            scheme: scheme.into(),
            id: id.into(),
        },
    }]
}

async fn ids(client: &Client) -> Vec<(String, String)> {
    let mut ids: Vec<(String, String)> = bounded("whoami", client.whoami())
        .await
        .expect("whoami")
        .into_iter()
        .map(|info| (info.auth_scheme, info.user))
        .collect();
    ids.sort();
    ids
}

fn id(scheme: &str, user: &str) -> (String, String) {
    (scheme.to_owned(), user.to_owned())
}

/// Connecting must fail (not time out) with `expected`'s kind of error; returns it.
async fn refused(what: &str, builder: ClientBuilder, addr: &str) -> Error {
    let started = Instant::now();
    let err = bounded(what, builder.connect(addr))
        .await
        .err()
        .unwrap_or_else(|| panic!("{what}: connected"));
    let took = started.elapsed();
    eprintln!("{what}: {err} (after {took:?})");
    // Well under the connection timeout: refused, not timed out.
    assert!(took < Duration::from_secs(8), "{what}: took {took:?}");
    err
}

#[track_caller]
fn assert_tls(what: &str, err: &Error, needle: &str) {
    match err {
        Error::Tls(why) => assert!(why.contains(needle), "{what}: {why:?} lacks {needle:?}"),
        other => panic!("{what}: expected a TLS error, got {other:?}"),
    }
}

/// A server with a plain port, a TLS port and SASL users, killed on drop.
enum Server {
    Ferrokeeper(Ferrokeeper),
    ZooKeeper(RealZooKeeper),
}

struct Secured {
    what: &'static str,
    server: Server,
    plain: String,
    tls: String,
    pki: Pki,
    dir: tempfile::TempDir,
}

/// zoo.cfg lines for a TLS port with `key_store` and the test CA's trust store.
fn tls_lines(pki: &Pki, key_store: &[(String, String)]) -> Vec<(String, String)> {
    let mut lines = key_store.to_vec();
    lines.extend([
        (
            "ssl.trustStore.location".to_owned(),
            pki.path_str("truststore.jks"),
        ),
        ("ssl.trustStore.password".to_owned(), PASSWORD.to_owned()),
    ]);
    lines
}

fn jks_key_store(pki: &Pki) -> Vec<(String, String)> {
    vec![
        (
            "ssl.keyStore.location".to_owned(),
            pki.path_str("server-keystore.jks"),
        ),
        ("ssl.keyStore.password".to_owned(), PASSWORD.to_owned()),
    ]
}

/// Waits until `addr` accepts TCP connections: ZooKeeper answers `srvr` on its plain
/// port (which [`RealZooKeeper::start`] waits for) a moment before its TLS port is
/// bound.
fn wait_listening(addr: &str, zk: &RealZooKeeper) {
    let addr: std::net::SocketAddr = addr.parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(
            Instant::now() < deadline,
            "ZooKeeper's TLS port {addr} is not listening; log:\n{}",
            zk.log_tail()
        );
        // Polling: nothing tells when the port is bound.
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Secured {
    /// Starts `kind` ("ferrokeeper" or "ZooKeeper") with a TLS port, `cfg` and, with
    /// `sasl`, the JAAS users and the SASL provider.
    fn start(kind: &'static str, pki: Pki, cfg: Vec<(String, String)>, sasl: bool) -> Secured {
        let dir = tempfile::tempdir().expect("temp dir");
        let jaas = dir.path().join("jaas.conf");
        std::fs::write(&jaas, JAAS).expect("jaas");
        let jaas = jaas.display().to_string();
        let mut cfg = cfg;
        if sasl {
            cfg.push((SASL_PROVIDER.0.to_owned(), SASL_PROVIDER.1.to_owned()));
        }
        let (server, plain, tls) = if kind == "ferrokeeper" {
            let file = dir.path().join("zoo.cfg");
            let mut text = format!(
                "tickTime=2000\ndataDir={}\nsecureClientPortAddress=127.0.0.1\n",
                dir.path().join("data").display()
            );
            for (k, v) in &cfg {
                text.push_str(&format!("{k}={v}\n"));
            }
            std::fs::write(&file, text).expect("zoo.cfg");
            let file = file.display().to_string();
            let jaas_prop = format!("-Djava.security.auth.login.config={jaas}");
            let mut args = vec!["--secure-client-port", "0", "-c", &file];
            if sasl {
                args.push(&jaas_prop);
            }
            let server = Ferrokeeper::start(&args);
            let tls = server.secure_addr().expect("TLS port").to_string();
            let plain = server.connect_string();
            (Server::Ferrokeeper(server), plain, tls)
        } else {
            let port = free_port().to_string();
            let mut lines: Vec<(&str, &str)> = vec![
                (
                    "serverCnxnFactory",
                    "org.apache.zookeeper.server.NettyServerCnxnFactory",
                ),
                ("secureClientPort", &port),
            ];
            lines.extend(cfg.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let props: Vec<(&str, &str)> = if sasl {
                vec![("java.security.auth.login.config", &jaas)]
            } else {
                Vec::new()
            };
            let zk = RealZooKeeper::start(&lines, &props);
            let plain = zk.connect_string();
            let tls = format!("127.0.0.1:{port}");
            wait_listening(&tls, &zk);
            (Server::ZooKeeper(zk), plain, tls)
        };
        Secured {
            what: kind,
            server,
            plain,
            tls,
            pki,
            dir,
        }
    }

    /// TLS (JKS stores, client certificates needed) and SASL.
    fn full(kind: &'static str) -> Secured {
        let pki = Pki::new();
        let cfg = tls_lines(&pki, &jks_key_store(&pki));
        Secured::start(kind, pki, cfg, true)
    }

    /// Kills the server and starts it again on the same plain port, data and files
    /// (ferrokeeper's TLS port changes). Needs a multi-threaded runtime.
    fn restart(&mut self) {
        tokio::task::block_in_place(|| match &mut self.server {
            Server::Ferrokeeper(s) => s.restart(),
            Server::ZooKeeper(s) => s.restart(),
        });
    }

    /// A server certificate of X.509 version 1 (PEM key store), no SASL.
    fn version_1(kind: &'static str) -> Secured {
        let pki = Pki::new();
        let store = pki.path("v1server-keystore.pem");
        let pem = ["v1client.key", "v1client.pem", "ca.pem"]
            .map(|f| std::fs::read_to_string(pki.path(f)).expect("pem"))
            .concat();
        std::fs::write(&store, pem).expect("key store");
        let key_store = vec![
            (
                "ssl.keyStore.location".to_owned(),
                store.display().to_string(),
            ),
            ("ssl.keyStore.type".to_owned(), "PEM".to_owned()),
        ];
        let cfg = tls_lines(&pki, &key_store);
        Secured::start(kind, pki, cfg, false)
    }
}

/// TLS with a client certificate: the session is `x509:<subject>`, which an ACL can
/// name; the plain port's anonymous session cannot read; after a reconnect (through a
/// proxy that drops every connection) the new TLS connection has the id again.
async fn tls_with_client_certificate(s: &Secured) {
    let c = bounded("TLS connect", tls(with_client_cert(&s.pki)).connect(&s.tls))
        .await
        .expect("TLS connect");
    let (path, _) = c
        .create(
            "/tls",
            b"v",
            &acl("x509", CLIENT_SUBJECT),
            CreateMode::Persistent,
        )
        .await
        .expect("create with the x509 ACL");
    assert_eq!(path, "/tls");
    assert_eq!(
        c.get_data("/tls").await.map(|(d, _)| d),
        Ok("v".into()),
        "{}",
        s.what
    );
    assert!(
        ids(&c).await.contains(&id("x509", CLIENT_SUBJECT)),
        "{}: {:?}",
        s.what,
        ids(&c).await
    );
    if let Server::Ferrokeeper(server) = &s.server {
        // The AdminServer lists the TLS session apart and counts it as mutual TLS.
        let plain = bounded("plain connect", builder().connect(&s.plain))
            .await
            .expect("plain connect");
        let admin = server.admin_addr();
        let cons = tokio::task::spawn_blocking(move || {
            (
                ferrokeeper_tests::http::get(admin, "/commands/connections", &[]).json(),
                ferrokeeper_tests::http::get(admin, "/commands/server_stats", &[]).json(),
            )
        })
        .await
        .expect("admin");
        let count = |key: &str| cons.0[key].as_array().map_or(0, Vec::len);
        assert_eq!(
            (count("connections"), count("secure_connections")),
            (1, 1),
            "{}",
            cons.0
        );
        let stats = &cons.1["server_stats"];
        assert_eq!(
            (
                stats["non_mtlslocal_conn_count"].as_u64(),
                stats["non_mtlsremote_conn_count"].as_u64()
            ),
            (Some(1), Some(0)),
            "only the plain loopback session lacks a client certificate: {stats}"
        );
        plain.close().await.expect("close");
    }
    c.close().await.expect("close");

    let anonymous = bounded("plain connect", builder().connect(&s.plain))
        .await
        .expect("plain connect");
    assert_eq!(anonymous.get_data("/tls").await, Err(Error::NoAuth));
    anonymous.close().await.expect("close");

    let proxy = FaultProxy::start(s.tls.parse().expect("addr"));
    let c = bounded(
        "TLS connect through the proxy",
        tls(with_client_cert(&s.pki)).connect(&proxy.addr().to_string()),
    )
    .await
    .expect("TLS connect through the proxy");
    let mut states = c.state_stream();
    assert_eq!(states.next().await, Some(SessionState::Connected));
    proxy.reset();
    assert_eq!(
        bounded("disconnect", states.next()).await,
        Some(SessionState::Disconnected)
    );
    proxy.heal();
    assert_eq!(
        bounded("reconnect", states.next()).await,
        Some(SessionState::Connected)
    );
    assert_eq!(
        c.get_data("/tls").await.map(|(d, _)| d),
        Ok("v".into()),
        "{}: x509 id after the reconnect",
        s.what
    );
    c.close().await.expect("close");
}

/// A server that needs a client certificate refuses a client without one, and the
/// client says it was TLS.
async fn tls_without_client_certificate(s: &Secured) {
    let err = refused(
        &format!("{}: TLS without a client certificate", s.what),
        tls(trusting(&s.pki)),
        &s.tls,
    )
    .await;
    assert_tls(s.what, &err, "TLS");
}

/// Server certificates the client must refuse: from a CA it does not trust, or not
/// naming the server; and the name check turned off.
async fn tls_refuses_bad_server_certificates(s: &Secured) {
    let foreign = TlsConfig::builder()
        .ca_file(s.pki.path("other-ca.pem"))
        .client_cert_files(s.pki.path("client.pem"), s.pki.path("client.key"));
    let err = refused(
        &format!("{}: a server certificate from another CA", s.what),
        tls(foreign),
        &s.tls,
    )
    .await;
    assert_tls(s.what, &err, "UnknownIssuer");

    let misnamed = with_client_cert(&s.pki).server_name("zk.example.com");
    let err = refused(
        &format!("{}: a server certificate for another name", s.what),
        tls(misnamed.clone()),
        &s.tls,
    )
    .await;
    assert_tls(s.what, &err, "not valid for name");

    let c = bounded(
        "TLS connect without hostname verification",
        tls(misnamed.hostname_verification(false)).connect(&s.tls),
    )
    .await
    .expect("TLS connect without hostname verification");
    assert!(ids(&c).await.contains(&id("x509", CLIENT_SUBJECT)));
    c.close().await.expect("close");

    let err = refused(
        &format!("{}: TLS to the plain port", s.what),
        tls(with_client_cert(&s.pki)),
        &s.plain,
    )
    .await;
    assert_tls(s.what, &err, "TLS port");

    // By name: the certificate says DNS:localhost.
    let port = s.tls.rsplit_once(':').expect("port").1;
    let c = bounded(
        "TLS connect to localhost",
        tls(with_client_cert(&s.pki)).connect(&format!("localhost:{port}")),
    )
    .await
    .expect("TLS connect to localhost");
    c.close().await.expect("close");
}

/// SASL DIGEST-MD5: the `sasl:bob` id, ACLs, a reconnect (SASL runs again before the
/// next request), wrong passwords and unknown users refused at connect.
async fn sasl_digest_md5(s: &Secured) {
    let bob = || builder().sasl_digest_md5("bob", "bobpw");
    let c = bounded("SASL connect", bob().connect(&s.plain))
        .await
        .expect("SASL connect");
    assert!(
        ids(&c).await.contains(&id("sasl", "bob")),
        "{}: {:?}",
        s.what,
        ids(&c).await
    );
    let (path, _) = c
        .create("/sasl", b"v", &acl("sasl", "bob"), CreateMode::Persistent)
        .await
        .expect("create with the sasl ACL");
    assert_eq!(path, "/sasl");
    assert_eq!(c.get_data("/sasl").await.map(|(d, _)| d), Ok("v".into()));
    c.close().await.expect("close");

    let anonymous = bounded("plain connect", builder().connect(&s.plain))
        .await
        .expect("plain connect");
    assert_eq!(anonymous.get_data("/sasl").await, Err(Error::NoAuth));
    anonymous.close().await.expect("close");

    let proxy = FaultProxy::start(s.plain.parse().expect("addr"));
    let c = bounded(
        "SASL connect through the proxy",
        bob().connect(&proxy.addr().to_string()),
    )
    .await
    .expect("SASL connect through the proxy");
    let mut states = c.state_stream();
    assert_eq!(states.next().await, Some(SessionState::Connected));
    proxy.reset();
    assert_eq!(
        bounded("disconnect", states.next()).await,
        Some(SessionState::Disconnected)
    );
    // Queued while disconnected: it must go after the new connection's SASL exchange.
    let read = c.get_data("/sasl");
    proxy.heal();
    assert_eq!(
        bounded("reconnect", states.next()).await,
        Some(SessionState::Connected)
    );
    assert_eq!(
        bounded("read after the reconnect", read)
            .await
            .map(|(d, _)| d),
        Ok("v".into()),
        "{}: sasl id after the reconnect",
        s.what
    );
    c.close().await.expect("close");

    // An unknown user with a password of its own: ZooKeeper 3.8 accepts an unknown
    // user who gives the password of the user its (shared) callback handler last
    // looked up, which ferrokeeper does not copy.
    for (user, password) in [("bob", "wrong"), ("mallory", "malpw")] {
        let err = refused(
            &format!("{}: SASL as {user}/{password}", s.what),
            builder().sasl_digest_md5(user, password),
            &s.plain,
        )
        .await;
        assert_eq!(err, Error::AuthFailed, "{}: {user}/{password}", s.what);
    }
}

/// SASL over TLS: both ids.
async fn sasl_over_tls(s: &Secured) {
    let c = bounded(
        "TLS and SASL connect",
        tls(with_client_cert(&s.pki))
            .sasl_digest_md5("bob", "bobpw")
            .connect(&s.tls),
    )
    .await
    .expect("TLS and SASL connect");
    let who = ids(&c).await;
    assert!(
        who.contains(&id("sasl", "bob")) && who.contains(&id("x509", CLIENT_SUBJECT)),
        "{}: {who:?}",
        s.what
    );
    assert_eq!(c.get_data("/sasl").await.map(|(d, _)| d), Ok("v".into()));
    c.close().await.expect("close");
}

/// SASL runs again on every reconnect, and a refusal then ends the session in
/// AuthFailed: the server restarts with another password for bob.
async fn sasl_refused_on_reconnect(s: &mut Secured) {
    let c = bounded(
        "SASL connect",
        builder().sasl_digest_md5("bob", "bobpw").connect(&s.plain),
    )
    .await
    .expect("SASL connect");
    let mut states = c.state_stream();
    assert_eq!(states.next().await, Some(SessionState::Connected));
    std::fs::write(
        s.dir.path().join("jaas.conf"),
        JAAS.replace("bobpw", "changed"),
    )
    .expect("jaas");
    s.restart();
    assert_eq!(
        bounded("disconnect", states.next()).await,
        Some(SessionState::Disconnected),
        "{}",
        s.what
    );
    assert_eq!(
        bounded("auth failure on reconnect", states.next()).await,
        Some(SessionState::AuthFailed),
        "{}",
        s.what
    );
    assert_eq!(bounded("state stream end", states.next()).await, None);
    assert_eq!(c.get_data("/sasl").await, Err(Error::AuthFailed));
    assert_eq!(c.state(), SessionState::AuthFailed);
}

async fn client_scenarios(s: &Secured) {
    tls_with_client_certificate(s).await;
    tls_without_client_certificate(s).await;
    tls_refuses_bad_server_certificates(s).await;
    sasl_digest_md5(s).await;
    sasl_over_tls(s).await;
}

/// One-shot `ferrokeeper-cli --server <server> <options> <command>`.
fn cli(server: &str, options: &[&str], command: &str, env: &[(&str, &str)]) -> Finished {
    let mut cmd = Command::new(cli_binary());
    cmd.args(["--server", server])
        .args(options)
        .args(command.split_whitespace())
        .env_remove("FERROKEEPER_SASL_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(
        &mut cmd,
        None,
        &format!("ferrokeeper-cli {command}"),
        CLI_LIMIT,
    )
}

#[track_caller]
fn cli_ok(out: &Finished, stdout: &[&str]) {
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        out.status.success() && stdout.iter().all(|l| lines.contains(l)),
        "expected success with {stdout:?}\n{}",
        out.dump()
    );
}

#[track_caller]
fn cli_fails(out: &Finished, stderr: &str) {
    assert!(
        out.status.code() == Some(1) && out.stderr.contains(stderr),
        "expected exit 1 with {stderr:?}\n{}",
        out.dump()
    );
    assert!(
        out.elapsed < Duration::from_secs(10),
        "took {:?}",
        out.elapsed
    );
}

/// The CLI with TLS and a client certificate, and with SASL.
fn cli_scenarios(s: &Secured) {
    let ca = s.pki.path_str("ca.pem");
    let cert = s.pki.path_str("client.pem");
    let key = s.pki.path_str("client.key");
    let secure = [
        "--secure",
        "--tls-ca",
        &ca,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ];
    cli_ok(
        &cli(&s.tls, &secure, "create /cli-tls v", &[]),
        &["Created /cli-tls"],
    );
    cli_ok(&cli(&s.tls, &secure, "get /cli-tls", &[]), &["v"]);
    cli_ok(
        &cli(&s.tls, &secure, "whoami", &[]),
        &[&format!("x509: {CLIENT_SUBJECT}")],
    );
    cli_fails(
        &cli(&s.tls, &["--secure", "--tls-ca", &ca], "ls /", &[]),
        "Unable to connect to",
    );

    let good = s.dir.path().join("bob.pw");
    std::fs::write(&good, "bobpw\n").expect("password file");
    let wrong = s.dir.path().join("wrong.pw");
    std::fs::write(&wrong, "nope\n").expect("password file");
    let good = good.display().to_string();
    let wrong = wrong.display().to_string();
    let sasl = ["--sasl-user", "bob", "--sasl-password-file", &good];
    cli_ok(
        &cli(&s.plain, &sasl, "create /cli-sasl v sasl:bob:cdrwa", &[]),
        &["Created /cli-sasl"],
    );
    cli_ok(&cli(&s.plain, &sasl, "get /cli-sasl", &[]), &["v"]);
    cli_ok(
        &cli(
            &s.plain,
            &["--sasl-user", "bob"],
            "whoami",
            &[("FERROKEEPER_SASL_PASSWORD", "bobpw")],
        ),
        &["sasl: bob"],
    );
    cli_fails(
        &cli(
            &s.plain,
            &["--sasl-user", "bob", "--sasl-password-file", &wrong],
            "get /cli-sasl",
            &[],
        ),
        "AuthFailed",
    );
}

/// Every scenario on one server (the restart last).
fn tls_and_sasl(kind: &'static str) {
    let mut s = Secured::full(kind);
    let runtime = runtime();
    runtime.block_on(client_scenarios(&s));
    cli_scenarios(&s);
    runtime.block_on(sasl_refused_on_reconnect(&mut s));
}

#[test]
fn ferrokeeper_tls_and_sasl() {
    tls_and_sasl("ferrokeeper");
}

#[test]
fn zookeeper_tls_and_sasl() {
    tls_and_sasl("ZooKeeper");
}

/// A version 1 server certificate is refused (WebPKI needs version 3), with a message
/// that says so; SASL against a server without SASL fails as an auth failure.
async fn version_1_server_certificate(s: &Secured) {
    let err = refused(
        &format!("{}: a version 1 server certificate", s.what),
        tls(with_client_cert(&s.pki)),
        &s.tls,
    )
    .await;
    assert_tls(s.what, &err, "version 1");
    let err = refused(
        &format!("{}: SASL against a server without SASL", s.what),
        builder().sasl_digest_md5("bob", "bobpw"),
        &s.plain,
    )
    .await;
    assert_eq!(err, Error::AuthFailed, "{}", s.what);
}

#[test]
fn ferrokeeper_version_1_server_certificate() {
    let s = Secured::version_1("ferrokeeper");
    runtime().block_on(version_1_server_certificate(&s));
}

#[test]
fn zookeeper_version_1_server_certificate() {
    let s = Secured::version_1("ZooKeeper");
    runtime().block_on(version_1_server_certificate(&s));
}
