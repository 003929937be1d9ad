//! TLS between ensemble members (`sslQuorum=true`, `ssl.quorum.*`): an ensemble forms
//! and replicates over it; a member whose certificate another CA issued, or one that
//! does not name its server line's host, never joins; `portUnification` lets plain and
//! TLS members form one ensemble (the rolling upgrade step).

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::pki::{PASSWORD, Pki};

fn quorum_tls(pki: &Pki, key_store: &str) -> Vec<(String, String)> {
    [
        ("sslQuorum", "true".to_owned()),
        ("ssl.quorum.keyStore.location", key_store.to_owned()),
        (
            "ssl.quorum.trustStore.location",
            pki.path_str("truststore.jks"),
        ),
        ("ssl.quorum.trustStore.password", PASSWORD.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

fn member_lines(member: usize, lines: Vec<(String, String)>) -> Vec<(usize, String, String)> {
    lines.into_iter().map(|(k, v)| (member, k, v)).collect()
}

#[test]
fn an_ensemble_forms_over_tls_and_strangers_never_join() {
    let pki = Pki::new();
    let peer = pki.pem_key_store("peer", "ca").display().to_string();
    let stranger = pki
        .pem_key_store("peer-other-ca", "other-ca")
        .display()
        .to_string();
    let elsewhere = pki
        .pem_key_store("peer-elsewhere", "ca")
        .display()
        .to_string();

    // Members 1 and 2 have good certificates; member 3 one from another CA.
    let mut options = ClusterOptions::new(3);
    options.extra = quorum_tls(&pki, &peer);
    options.member_extra = member_lines(2, vec![("ssl.quorum.keyStore.location".into(), stranger)]);
    let cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));
    cluster.assert_replicates(0, 1, "/quorum-tls");
    // The others refuse its handshake, so it never hears from a leader.
    cluster.assert_kept_out(2, "refusing a peer whose TLS handshake failed");
    drop(cluster);

    // Member 3's certificate is the right CA's, but for another host.
    let mut options = ClusterOptions::new(3);
    options.extra = quorum_tls(&pki, &peer);
    options.member_extra =
        member_lines(2, vec![("ssl.quorum.keyStore.location".into(), elsewhere)]);
    let cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));
    cluster.assert_replicates(1, 0, "/hostnames");
    cluster.assert_kept_out(2, "does not name the host of the server it claims to be");
}

#[test]
fn rolling_upgrade_with_port_unification() {
    let pki = Pki::new();
    let peer = pki.pem_key_store("peer", "ca").display().to_string();
    // Step 2 of ZooKeeper's rolling upgrade: every member accepts both; member 1 already
    // connects with TLS, the others still in plain text. One ensemble all the same.
    let mut options = ClusterOptions::new(3);
    let mut lines = quorum_tls(&pki, &peer);
    lines[0].1 = "false".into();
    lines.push(("portUnification".into(), "true".into()));
    options.extra = lines;
    options.member_extra = member_lines(0, vec![("sslQuorum".into(), "true".into())]);
    let cluster = FerrokeeperEnsemble::start(options);
    cluster.assert_replicates(0, 2, "/unified");
    cluster.assert_replicates(2, 0, "/unified-back");
}
