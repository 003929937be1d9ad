//! TLS between ensemble members (`sslQuorum=true`, `ssl.quorum.*`): an ensemble forms
//! and replicates over it; a member whose certificate another CA issued, or one that
//! does not name its server line's host, never joins; `portUnification` lets plain and
//! TLS members form one ensemble (the rolling upgrade step).

use std::time::Duration;

use ferrokeeper_tests::cluster::{ClusterOptions, FerrokeeperEnsemble};
use ferrokeeper_tests::ensemble::Ensemble as _;
use ferrokeeper_tests::pki::{PASSWORD, Pki};
use ferrokeeper_tests::raw::RawClient;

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

/// A write through member `from` is read back through member `to`.
fn replicates(cluster: &FerrokeeperEnsemble, from: usize, to: usize, path: &str) {
    let (mut writer, _) =
        RawClient::connect(cluster.client_addr(from), 30_000, None).expect("connect");
    let created = writer
        .call(ferrokeeper_protocol::Request::Create(
            ferrokeeper_protocol::CreateRequest {
                path: path.into(),
                data: Some(bytes::Bytes::from_static(b"over tls")),
                acl: vec![ferrokeeper_protocol::Acl {
                    perms: ferrokeeper_protocol::perms::ALL,
                    id: ferrokeeper_protocol::Id {
                        scheme: "world".into(),
                        id: "anyone".into(),
                    },
                }],
                flags: 0,
            },
        ))
        .expect("create");
    assert_eq!(created.last().map(|f| f.header.err), Some(0), "{created:?}");
    let (mut reader, _) =
        RawClient::connect(cluster.client_addr(to), 30_000, None).expect("connect");
    // sync, then read: the reader's server has applied the write.
    reader
        .call(ferrokeeper_protocol::Request::Sync(
            ferrokeeper_protocol::SyncRequest { path: path.into() },
        ))
        .expect("sync");
    let got = reader
        .call(ferrokeeper_protocol::Request::GetData(
            ferrokeeper_protocol::GetDataRequest {
                path: path.into(),
                watch: false,
            },
        ))
        .expect("get");
    assert_eq!(got.last().map(|f| f.header.err), Some(0), "{got:?}");
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
    replicates(&cluster, 0, 1, "/quorum-tls");
    // The others refuse its handshake, so it never hears from a leader.
    let refused = "refusing a peer whose TLS handshake failed";
    assert!(
        cluster
            .log(0)
            .wait_for_more(refused, 0, Duration::from_secs(30))
            || cluster
                .log(1)
                .wait_for_more(refused, 0, Duration::from_secs(30)),
        "no member refused the stranger's handshake"
    );
    assert_ne!(cluster.mode(2).as_deref(), Some("follower"));
    assert_ne!(cluster.mode(2).as_deref(), Some("leader"));
    drop(cluster);

    // Member 3's certificate is the right CA's, but for another host.
    let mut options = ClusterOptions::new(3);
    options.extra = quorum_tls(&pki, &peer);
    options.member_extra =
        member_lines(2, vec![("ssl.quorum.keyStore.location".into(), elsewhere)]);
    let cluster = FerrokeeperEnsemble::start_expecting(options, Some(&[0, 1]));
    replicates(&cluster, 1, 0, "/hostnames");
    let wrong_host = "does not name the host of the server it claims to be";
    assert!(
        cluster
            .log(0)
            .wait_for_more(wrong_host, 0, Duration::from_secs(30))
            || cluster
                .log(1)
                .wait_for_more(wrong_host, 0, Duration::from_secs(30)),
        "no member refused the certificate for another host"
    );
    assert_ne!(cluster.mode(2).as_deref(), Some("follower"));
    assert_ne!(cluster.mode(2).as_deref(), Some("leader"));
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
    replicates(&cluster, 0, 2, "/unified");
    replicates(&cluster, 2, 0, "/unified-back");
}
