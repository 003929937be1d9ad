//! Security settings: honoured or refused at start-up, naming the key and where it
//! was set (never accepted and ignored). One case per key family.

use super::{cfg, err_text, load};

const BASE: &str = "tickTime=2000\ndataDir={data}\nclientPort=21810\n";

/// Loads BASE + `extra` (line 4 on) with `-D` args and environment, and returns the
/// error text (or "no error").
fn outcome(extra: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let (_dir, path) = cfg("security", &format!("{BASE}{extra}"));
    let path = path.display().to_string();
    let mut all = vec![path.as_str()];
    all.extend_from_slice(args);
    err_text(load(&all, env))
}

#[test]
fn tls_settings_are_refused_with_key_and_line() {
    for (line, key) in [
        ("secureClientPort=2281\n", "secureClientPort"),
        (
            "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n",
            "secureClientPort",
        ),
        (
            "ssl.keyStore.location=/etc/zk/keystore.jks\n",
            "ssl.keyStore.location",
        ),
        ("ssl.clientAuth=need\n", "ssl.clientAuth"),
        ("sslQuorum=true\n", "sslQuorum"),
        ("portUnification=true\n", "portUnification"),
        (
            "ssl.quorum.trustStore.location=/x\n",
            "ssl.quorum.trustStore.location",
        ),
    ] {
        let e = outcome(line, &[], &[]);
        assert!(
            e.contains(&format!("zoo.cfg:4: {key}: TLS is not supported")),
            "{line}: {e}"
        );
    }
    // The same as system properties, from the command line and from SERVER_JVMFLAGS.
    let e = outcome("", &["-Dzookeeper.ssl.keyStore.location=/k"], &[]);
    assert!(
        e.contains("zookeeper.ssl.keyStore.location") && e.contains("TLS"),
        "{e}"
    );
    let e = outcome(
        "",
        &[],
        &[("SERVER_JVMFLAGS", "-Dzookeeper.ssl.trustStore.type=JKS")],
    );
    assert!(e.contains("SERVER_JVMFLAGS") && e.contains("TLS"), "{e}");
    // Turned off, they ask for nothing.
    assert_eq!(
        outcome("sslQuorum=false\nportUnification=false\n", &[], &[]),
        "no error"
    );
}

#[test]
fn sasl_and_other_auth_providers_are_refused() {
    for (line, key, what) in [
        (
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
            "authProvider.1",
            "authentication providers",
        ),
        (
            "authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n",
            "authProvider.x509",
            "authentication providers",
        ),
        (
            "quorum.auth.enableSasl=true\n",
            "quorum.auth.enableSasl",
            "SASL",
        ),
        (
            "quorum.auth.learnerRequireSasl=true\n",
            "quorum.auth.learnerRequireSasl",
            "SASL",
        ),
        (
            "quorum.auth.serverRequireSasl=true\n",
            "quorum.auth.serverRequireSasl",
            "SASL",
        ),
        (
            "enforce.auth.enabled=true\n",
            "enforce.auth.enabled",
            "SASL",
        ),
        (
            "sessionRequireClientSASLAuth=true\n",
            "sessionRequireClientSASLAuth",
            "SASL",
        ),
    ] {
        let e = outcome(line, &[], &[]);
        assert!(
            e.contains(&format!("zoo.cfg:4: {key}:")) && e.contains(what),
            "{line}: {e}"
        );
    }
    let e = outcome(
        "",
        &["-Djava.security.auth.login.config=/etc/zk/jaas.conf"],
        &[],
    );
    assert!(
        e.contains("java.security.auth.login.config") && e.contains("SASL"),
        "{e}"
    );
    let e = outcome(
        "",
        &["-Dzookeeper.DigestAuthenticationProvider.digestAlg=SHA-256"],
        &[],
    );
    assert!(e.contains("digestAlg") && e.contains("SHA1"), "{e}");
}

#[test]
fn what_ferrokeeper_honours_starts() {
    let honoured = "authProvider.1=org.apache.zookeeper.server.auth.DigestAuthenticationProvider\n\
                    authProvider.2=org.apache.zookeeper.server.auth.IPAuthenticationProvider\n\
                    quorum.auth.enableSasl=false\nenforce.auth.enabled=false\n\
                    quorum.auth.learner.saslLoginContext=QuorumLearner\n";
    assert_eq!(
        outcome(
            honoured,
            &["-Dzookeeper.DigestAuthenticationProvider.digestAlg=SHA1"],
            &[]
        ),
        "no error"
    );
}
