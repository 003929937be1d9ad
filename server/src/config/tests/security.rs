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

/// Loads BASE + `extra` and returns its warnings (panics if it does not load).
fn warnings(extra: &str) -> Vec<String> {
    let (_dir, path) = cfg("security", &format!("{BASE}{extra}"));
    let path = path.display().to_string();
    match load(&[path.as_str()], &[]) {
        Ok(c) => c.warnings().map(str::to_owned).collect(),
        Err(e) => panic!("{extra}: {e}"),
    }
}

#[test]
fn client_tls_that_cannot_be_honoured_is_refused_with_key_and_line() {
    for (extra, key) in [
        // A TLS port without the server's certificate.
        ("secureClientPort=2281\n", "ssl.keyStore.location"),
        // Client certificates asked for (need is the default) with nothing to check
        // them against.
        (
            "secureClientPort=2281\nssl.keyStore.location=/k.pem\n",
            "ssl.trustStore.location",
        ),
        (
            "secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=none\n\
             ssl.ocsp=true\n",
            "zoo.cfg:7: ssl.ocsp",
        ),
        (
            "secureClientPort=2281\nssl.keyStore.location=/k.pem\nssl.clientAuth=none\n\
             ssl.enabledProtocols=TLSv1.1\n",
            "zoo.cfg:7: ssl.enabledProtocols",
        ),
    ] {
        let e = outcome(extra, &[], &[]);
        assert!(e.contains(key), "{extra}: {e}");
    }
    // From the command line and SERVER_JVMFLAGS the origin is named too.
    let e = outcome(
        "secureClientPort=2281\n",
        &[
            "-Dzookeeper.ssl.keyStore.location=/k",
            "-Dzookeeper.ssl.clientAuth=none",
            "-Dzookeeper.ssl.crl=true",
        ],
        &[],
    );
    assert!(e.contains("command line: zookeeper.ssl.crl"), "{e}");
    let e = outcome(
        "secureClientPort=2281\nssl.keyStore.location=/k\n",
        &[],
        &[("SERVER_JVMFLAGS", "-Dzookeeper.ssl.clientAuth=sometimes")],
    );
    assert!(
        e.contains("SERVER_JVMFLAGS") && e.contains("ssl.clientAuth"),
        "{e}"
    );
}

#[test]
fn client_tls_settings_load() {
    let extra = "secureClientPort=2281\nsecureClientPortAddress=127.0.0.1\n\
                 ssl.keyStore.location=/k.jks\nssl.keyStore.password=pw\n\
                 ssl.trustStore.location=/t.jks\nssl.clientAuth=want\n\
                 authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider\n";
    let (_dir, path) = cfg("security", &format!("{BASE}{extra}"));
    let path = path.display().to_string();
    let c = load(&[path.as_str()], &[]).unwrap_or_else(|e| panic!("{e}"));
    let tls = c.client_tls.as_ref().map(|t| t.client_auth);
    assert_eq!(tls, Some(crate::config::ClientAuth::Want));
    assert_eq!(c.secure_client_address.map(|a| a.port), Some(2281));
}

#[test]
fn tls_keys_nothing_reads_are_warned_about() {
    let w = warnings("ssl.keyStore.location=/etc/zk/keystore.jks\n");
    assert!(
        w.iter().any(|w| w.ends_with(
            "zoo.cfg:4: ssl.keyStore.location: TLS settings have no effect \
                 without secureClientPort (or client.portUnification=true), as in ZooKeeper"
        )),
        "{w:?}"
    );
    assert_eq!(w.len(), 1, "nothing else, no 'unknown key': {w:?}");
    let w = warnings("ssl.quorum.trustStore.location=/x\n");
    assert!(
        w.iter()
            .any(|w| w.contains("ssl.quorum.trustStore.location: quorum TLS")),
        "{w:?}"
    );
}

#[test]
fn quorum_tls_needs_its_stores() {
    for line in ["sslQuorum=true\n", "portUnification=true\n"] {
        let e = outcome(line, &[], &[]);
        assert!(
            e.contains("zoo.cfg:4:") && e.contains("ssl.quorum.keyStore.location must be set"),
            "{line}: {e}"
        );
    }
    let e = outcome(
        "sslQuorum=true\nssl.quorum.keyStore.location=/k\nssl.quorum.trustStore.location=/t\n\
         ssl.quorum.hostnameVerification=true\nssl.quorum.clientHostnameVerification=false\n",
        &[],
        &[],
    );
    assert!(
        e.contains("zoo.cfg:8: ssl.quorum.clientHostnameVerification"),
        "{e}"
    );
    let e = outcome(
        "sslQuorum=true\nssl.quorum.keyStore.location=/k\nssl.quorum.trustStore.location=/t\n\
         ssl.quorum.clientAuth=none\n",
        &[],
        &[],
    );
    assert!(e.contains("zoo.cfg:7: ssl.quorum.clientAuth"), "{e}");
    let (_dir, path) = cfg(
        "security",
        &format!(
            "{BASE}sslQuorum=true\nssl.quorum.keyStore.location=/k\n\
             ssl.quorum.trustStore.location=/t\nsslQuorumReloadCertFiles=true\n"
        ),
    );
    let path = path.display().to_string();
    let c = load(&[path.as_str()], &[]).unwrap_or_else(|e| panic!("{e}"));
    let tls = c.quorum_tls.expect("quorum TLS");
    assert!(tls.connect_with_tls && !tls.accept_plain && tls.hostname_verification && tls.reload);
    // Turned off, they ask for nothing.
    assert_eq!(
        outcome("sslQuorum=false\nportUnification=false\n", &[], &[]),
        "no error"
    );
}

#[test]
fn quorum_sasl_custom_providers_and_unenforceable_auth_are_refused() {
    for (line, key, what) in [
        (
            "authProvider.1=com.example.CustomAuthenticationProvider\n",
            "authProvider.1",
            "not custom ones",
        ),
        (
            "quorum.auth.enableSasl=true\n",
            "quorum.auth.enableSasl",
            "needs a JAAS file",
        ),
        (
            "quorum.auth.learnerRequireSasl=true\n",
            "quorum.auth.learnerRequireSasl",
            "enableSasl is off",
        ),
        (
            "quorum.auth.serverRequireSasl=true\n",
            "quorum.auth.serverRequireSasl",
            "enableSasl is off",
        ),
        (
            "enforce.auth.enabled=true\n",
            "enforce.auth.enabled",
            "enforce.auth.schemes must name",
        ),
        (
            "sessionRequireClientSASLAuth=true\n",
            "sessionRequireClientSASLAuth",
            "no JAAS server section",
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
        e.contains("command line: java.security.auth.login.config")
            && e.contains("/etc/zk/jaas.conf"),
        "{e}"
    );
    let e = outcome(
        "enforce.auth.enabled=true\nenforce.auth.schemes=digest,kerberos\n",
        &[],
        &[],
    );
    assert!(
        e.contains("zoo.cfg:5: enforce.auth.schemes") && e.contains("\"kerberos\""),
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
                    authProvider.3=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n\
                    enforce.auth.schemes=digest\n\
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
