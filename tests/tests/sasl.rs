//! Client SASL (DIGEST-MD5) through kazoo and pure-sasl, against ferrokeeper and a real
//! ZooKeeper 3.8 given the same JAAS file and settings, which must print the same
//! lines: the `sasl` id and ACLs, the super user, wrong passwords and unknown users,
//! and `sessionRequireClientSASLAuth`.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ferrokeeper_tests::Ferrokeeper;
use ferrokeeper_tests::process::{assert_lines, clients_dir, require_python, run};
use ferrokeeper_tests::zookeeper::RealZooKeeper;

const JAAS: &str = "\
Server {
    org.apache.zookeeper.server.auth.DigestLoginModule required
    user_bob=\"bobpw\"
    user_admin=\"adminpw\";
};
";

/// What sasl_scenarios.py printed against ZooKeeper 3.8.0 (checked on every run).
const BASIC: &str = "\
bob connects -> CONNECTED
bob creates /sasl for sasl:bob -> /sasl
bob reads /sasl -> b'v'
auth ACL expands to -> ['sasl:bob']
anonymous reads /sasl -> NoAuthError
admin (super user) reads /sasl -> b'v'
bob with a wrong password -> AuthFailedError
an unknown user -> AuthFailedError";

const REQUIRED: &str = "\
bob with SASL required -> True
anonymous with SASL required -> SessionClosedRequireSaslError";

fn require_clients() {
    require_python("kazoo, puresasl", "kazoo pure-sasl");
}

fn scenario(what: &str, hosts: &str, name: &str, expected: &str) {
    let out = run(
        Command::new("python3")
            .arg(clients_dir().join("sasl_scenarios.py"))
            .args([hosts, name]),
        None,
        &format!("sasl {name} against {what}"),
        Duration::from_secs(180),
    );
    let expected: Vec<String> = expected.lines().map(str::to_owned).collect();
    let lines: Vec<String> = out.stdout.lines().map(str::to_owned).collect();
    assert_lines(
        &format!("sasl {name} against {what}"),
        &expected,
        &lines,
        &out.dump(),
    );
    assert!(out.status.success(), "{what}: {}", out.dump());
    eprintln!(
        "sasl {name} against {what}: {} lines in {:?}",
        lines.len(),
        out.elapsed
    );
}

/// Runs scenario `name` against ferrokeeper and ZooKeeper, both with the JAAS file,
/// `admin` as the SASL super user, and `cfg` as extra zoo.cfg lines.
fn both(name: &str, cfg: &[(&str, &str)], expected: &str) {
    require_clients();
    let dir = tempfile::tempdir().expect("temp dir");
    let jaas = dir.path().join("jaas.conf");
    std::fs::write(&jaas, JAAS).expect("jaas");
    let jaas_prop = format!("-Djava.security.auth.login.config={}", jaas.display());
    let cfg_file = write_cfg(dir.path(), cfg);
    let server = Ferrokeeper::start(&["-c", &cfg_file, &jaas_prop, "-Dzookeeper.superUser=admin"]);
    scenario("ferrokeeper", &server.connect_string(), name, expected);
    drop(server);

    let jaas_path = jaas.display().to_string();
    let zk = RealZooKeeper::start(
        cfg,
        &[
            ("java.security.auth.login.config", &jaas_path),
            ("zookeeper.superUser", "admin"),
        ],
    );
    scenario("ZooKeeper", &zk.connect_string(), name, expected);
}

fn write_cfg(dir: &Path, cfg: &[(&str, &str)]) -> String {
    let path = dir.join("zoo.cfg");
    let mut text = format!("tickTime=2000\ndataDir={}\n", dir.join("data").display());
    for (k, v) in cfg {
        text.push_str(&format!("{k}={v}\n"));
    }
    std::fs::write(&path, text).expect("zoo.cfg");
    path.display().to_string()
}

const SASL_PROVIDER: (&str, &str) = (
    "authProvider.1",
    "org.apache.zookeeper.server.auth.SASLAuthenticationProvider",
);

#[test]
fn same_as_zookeeper() {
    both("basic", &[SASL_PROVIDER], BASIC);
}

#[test]
fn required_sasl_same_as_zookeeper() {
    both(
        "required",
        &[SASL_PROVIDER, ("sessionRequireClientSASLAuth", "true")],
        REQUIRED,
    );
}
